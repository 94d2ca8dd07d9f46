"""scripts/course.py: the README's two commands for any system (Windows without
WSL too). What can be tested here: the interpreter and path logic for a
Windows-style and a POSIX virtual environment, the commands it builds from the
same arguments as lab.sh and test.sh, the stamp it shares with setup.sh, and a
real run through this machine's .venv. It has not been run on real Windows."""

import importlib.util
import subprocess
import sys
from pathlib import Path, PureWindowsPath

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "course.py"


def _course():
    spec = importlib.util.spec_from_file_location("course", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_interpreter_of_a_windows_and_a_posix_virtual_environment():
    course = _course()
    assert course.venv_python(Path(".venv"), windows=True).parts[-3:] == (
        ".venv", "Scripts", "python.exe")
    assert course.venv_python(Path(".venv"), windows=False).parts[-3:] == (".venv", "bin", "python")
    windows = PureWindowsPath(str(course.venv_python(Path("C:/course/.venv"), windows=True)))
    assert windows.name == "python.exe" and windows.parent.name == "Scripts"


def test_the_requirements_stamp_is_the_one_setup_sh_writes():
    """A .venv set up by either command is used by the other without a reinstall."""
    course = _course()
    shell = subprocess.run(["bash", "-c", "cat requirements*.txt pyproject.toml | sha256sum"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split()[0]
    assert course.requirements_hash() == shell
    assert '.venv/.installed-$(basename "$requirements")' in \
        (REPO / "scripts" / "setup.sh").read_text(encoding="utf-8")


def test_lab_takes_the_same_arguments_as_lab_sh():
    course = _course()
    python = Path(".venv/bin/python")
    plain = course.lab_command(python, [])
    assert plain[1:4] == ["-m", "jupyter", "lab"] and "--ServerApp.ip=127.0.0.1" in plain
    assert plain[-1] == "notebooks/00_start_here.ipynb" and "--allow-root" not in plain
    zh = course.lab_command(python, ["zh", "--no-browser"], is_root=True)
    assert zh[-1] == "notebooks/zh/00_start_here.ipynb"
    assert "--no-browser" in zh and "--allow-root" in zh and "zh" not in zh


def test_test_takes_the_same_arguments_as_test_sh():
    course = _course()
    python = Path(".venv/bin/python")
    assert course.test_command(python, ["--quick"])[1:] == [
        str(course.REPO / "scripts" / "quick_check.py"), "--entry", "course.py"]
    assert course.test_command(python, ["tests", "-x"]) == [str(python), "-m", "pytest",
                                                            "tests", "-x"]
    env = course.test_environment({"PATH": "/bin"})
    assert env["HF_HUB_OFFLINE"] == "1" and env["COLUMNS"] == "80" and env["PATH"] == "/bin"


def test_no_command_prints_the_usage(capsys):
    assert _course().main([]) == 2
    assert "course.py lab" in capsys.readouterr().out


def test_a_real_run_through_this_machines_venv():
    run = subprocess.run([sys.executable, str(SCRIPT), "test", "-q", "-p", "no:cacheprovider",
                          "-o", "addopts=", "tests/test_quick_check.py",
                          "-k", "hands_quick"],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr
