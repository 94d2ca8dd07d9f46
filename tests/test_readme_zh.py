"""README.zh.md's set-up commands are ones the course takes: the entry point's
arguments (the Windows commands), the quick check, the links, the CPU build of
torch from a mirror (pinned to requirements.txt's version, and picked by pip
in the form written), a code archive without .git, and the Hugging Face mirror.
What cannot be run here is said in the README itself (the mirror's 2.13.0, real
Windows, conda); tests/test_zh_edition.py checks the two bash commands and the
links to every Chinese notebook."""

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path, PureWindowsPath

import pytest
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parent.parent
README_ZH = (REPO / "README.zh.md").read_text(encoding="utf-8")
ALIYUN = "https://mirrors.aliyun.com/pytorch-wheels/cpu/"


def _course():
    spec = importlib.util.spec_from_file_location("course", REPO / "scripts" / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _commands(prefix):
    """Every command README.zh writes that starts with `prefix`, in backticks or code blocks."""
    found = re.findall(rf"(?m)(?:`|^)({re.escape(prefix)}[^`\n#]*)", README_ZH)
    return [shlex.split(c) for c in found]


def test_the_commands_offer_the_quick_check_in_both_forms():
    for command in ("bash scripts/lab.sh", "bash scripts/test.sh --quick", "bash scripts/test.sh",
                    "python scripts/course.py lab", "python scripts/course.py test --quick",
                    "python scripts/course.py test"):
        assert f"`{command}`" in README_ZH, command


def test_every_course_py_command_is_one_the_entry_point_takes():
    course, python = _course(), Path(".venv/bin/python")
    commands = _commands("python scripts/course.py")
    assert len(commands) >= 6
    for words in commands:
        what, args = words[2], words[3:]
        assert what in ("lab", "test"), words
        if what == "lab":
            start = course.lab_command(python, args)[-1]
            assert (REPO / start).is_file() and "zh" not in course.lab_command(python, args)[:-1]
            assert (start == "notebooks/zh/00_start_here.ipynb") == (args[:1] == ["zh"]), words
        else:
            command = course.test_command(python, args)
            assert command[1].endswith("quick_check.py") if args == ["--quick"] \
                else command[1:3] == ["-m", "pytest"], words
    for words in _commands("bash scripts/"):
        assert (REPO / words[1]).is_file(), words


def test_the_windows_interpreter_is_the_one_the_entry_point_uses():
    windows = PureWindowsPath(_course().venv_python(Path(".venv"), windows=True))
    assert f"`{windows}`" in README_ZH and "`.venv/bin/python`" in README_ZH


def test_relative_links_resolve():
    targets = re.findall(r"\]\(([^)\s]+)\)", README_ZH)
    local = [t.partition("#")[0] for t in targets if not re.match(r"^[a-z]+:", t)]
    assert len(local) > 13
    missing = [t for t in local if not (REPO / t).exists()]
    assert not missing, missing


def _torch_pin():
    (pin,) = re.findall(r"(?m)^torch==(\S+)", (REPO / "requirements.txt").read_text())
    return pin


def _torch_command():
    (words,) = [w for w in _commands(".venv/bin/pip install torch==") if ALIYUN in w]
    return words


def test_the_torch_cpu_command_is_the_pinned_version_from_a_find_links_folder():
    words, pin = _torch_command(), _torch_pin()
    assert f"torch=={pin}+cpu" in words
    # the mirror is a folder of wheels (no /simple index): -f, never --index-url
    assert words[words.index(ALIYUN) - 1] in ("-f", "--find-links")
    # requirements.txt's pin accepts the CPU build, so the set-up keeps it
    assert SpecifierSet(f"=={pin}").contains(f"{pin}+cpu")
    assert not SpecifierSet(f"=={pin}+cpu").contains(pin)


def _fake_wheel(folder, version):
    dist = f"torch-{version}.dist-info"
    files = {f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
             f"{dist}/RECORD": ""}
    with zipfile.ZipFile(folder / f"torch-{version}-py3-none-any.whl", "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)


def test_pip_picks_the_cpu_build_with_the_readme_arguments(tmp_path):
    """The README's arguments, the mirror replaced by a local folder holding both
    builds (as PyPI and the mirror together would offer them), offline."""
    pin = _torch_pin()
    for version in (pin, f"{pin}+cpu"):
        _fake_wheel(tmp_path, version)
    words = _torch_command()
    args = [str(tmp_path) if w == ALIYUN else w for w in words[1:]]  # install ...
    i = args.index("-i")
    del args[i:i + 2]  # the PyPI mirror: offline here
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    report = subprocess.run(
        [sys.executable, "-m", "pip", *args, "--no-index", "--dry-run", "--ignore-installed",
         "--quiet", "--report", "-"], capture_output=True, text=True, env=env, timeout=120)
    assert report.returncode == 0, report.stderr
    (installed,) = json.loads(report.stdout)["install"]
    assert installed["metadata"]["version"] == f"{pin}+cpu"


def test_the_course_runs_from_an_archive_without_git():
    """README.zh says a `git archive` zip is enough: nothing the commands or the
    tests run calls git. (Run by hand from an unpacked archive: the quick check,
    both forms, says the course is ready.)"""
    calls_git = {".py": re.compile(r"""["']git[\s"']"""),  # ["git", ...] or "git ..."
                 ".sh": re.compile(r"^\s*git\s|\$\(git\s|\|\s*git\s", re.M)}
    paths = [*(REPO / "scripts").iterdir(), *(REPO / "gpt_course").rglob("*.py"),
             *(REPO / "tests").rglob("*.py"), REPO / "conftest.py"]
    offenders = [str(p.relative_to(REPO)) for p in paths if p.suffix in calls_git
                 and p.name != Path(__file__).name
                 and calls_git[p.suffix].search(p.read_text(encoding="utf-8"))]
    assert not offenders, offenders
    assert "git archive --format=zip --prefix=gpt-course/ -o gpt-course.zip HEAD" in README_ZH


def test_the_hugging_face_mirror_is_the_one_notebook_10_names():
    assert "HF_ENDPOINT=https://hf-mirror.com" in README_ZH
    zh = json.loads((REPO / "notebooks" / "zh" / "10_gpt2_weights.ipynb").read_text(encoding="utf-8"))
    (cell,) = [c for c in zh["cells"] if c.get("id") == "real-try"]
    assert "'HF_ENDPOINT'] = 'https://hf-mirror.com'" in "".join(cell["source"])


@pytest.mark.parametrize("wrong", ["--index-url https://mirrors.aliyun.com/pytorch-wheels/cpu/",
                                   "torch==2.12.0+cpu"])
def test_the_torch_check_fails_on_a_wrong_command(wrong, monkeypatch):
    """The check above can fail: an index-url form, or a version off the pin."""
    bad = README_ZH.replace(f"-f {ALIYUN}", wrong) if wrong.startswith("--") else \
        README_ZH.replace(f"torch=={_torch_pin()}+cpu -f", f"{wrong} -f")
    assert bad != README_ZH
    monkeypatch.setattr(sys.modules[__name__], "README_ZH", bad)
    with pytest.raises((AssertionError, ValueError)):
        test_the_torch_cpu_command_is_the_pinned_version_from_a_find_links_folder()
