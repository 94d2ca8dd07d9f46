"""The README's two commands for any system, Windows without WSL included:

    python scripts/course.py lab [zh] [JupyterLab arguments]   open the course
    python scripts/course.py test [--quick] [pytest arguments]  run every test
                                                                (or the set-up check)

(`py scripts\\course.py ...` on Windows, `python3 scripts/course.py ...` on
macOS and Linux.) Like scripts/lab.sh and scripts/test.sh, it creates `.venv`
on the first run, installs the requirements (again only when they change),
then runs JupyterLab or pytest with the virtual environment's own Python:
`.venv/bin/python` on macOS and Linux, `.venv\\Scripts\\python.exe` on Windows.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"


def venv_python(root=VENV, windows=None):
    """The virtual environment's interpreter: Scripts\\python.exe on Windows, bin/python elsewhere."""
    windows = os.name == "nt" if windows is None else windows
    return root / "Scripts" / "python.exe" if windows else root / "bin" / "python"


def requirements_hash(repo=REPO):
    """The same hash scripts/setup.sh writes: every requirements file and pyproject.toml."""
    files = sorted(repo.glob("requirements*.txt")) + [repo / "pyproject.toml"]
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def set_up(requirements):
    """Create .venv (once) and install `requirements` and the package when they changed."""
    if sys.version_info < (3, 10):
        sys.exit(f"The course needs Python 3.10 or newer; this is {sys.version.split()[0]}. "
                 "Install a newer Python and run this command with it.")
    python = venv_python()
    if not python.exists():
        print(f"Creating .venv with Python {sys.version.split()[0]}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    # the same stamps as scripts/setup.sh: a .venv either one made serves both
    stamp = VENV / f".installed-{requirements}"
    wanted = requirements_hash()
    done = [VENV / f".installed-{name}" for name in (requirements, "requirements-test.txt")]
    if not any(p.exists() and p.read_text().strip() == wanted for p in done):
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run(pip + ["-r", str(REPO / requirements)], check=True)
        subprocess.run(pip + ["--no-deps", "-e", str(REPO)], check=True)
        stamp.write_text(wanted + "\n")
    settings = VENV / "share" / "jupyter" / "lab" / "settings"
    if not (settings / "overrides.json").exists():
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "overrides.json").write_text(
            '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}\n')
    return python


def lab_command(python, args, is_root=False):
    """JupyterLab on 127.0.0.1 with its token, opening notebook 00 (or the Chinese one)."""
    start = "notebooks/00_start_here.ipynb"
    if args[:1] == ["zh"]:
        start, args = "notebooks/zh/00_start_here.ipynb", args[1:]
    extra = ["--allow-root"] if is_root else []
    return [str(python), "-m", "jupyter", "lab", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={REPO}", "--LabApp.news_url=None", *extra, *args, start]


def test_command(python, args):
    if args[:1] == ["--quick"]:
        return [str(python), str(REPO / "scripts" / "quick_check.py"), "--entry", "course.py"]
    return [str(python), "-m", "pytest", *args]


def test_environment(env=None):
    env = dict(os.environ if env is None else env)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", COLUMNS="80",
               CUDA_VISIBLE_DEVICES="")
    return env


def main(argv):
    if not argv or argv[0] not in ("lab", "test"):
        print(__doc__.strip())
        return 2
    what, args = argv[0], argv[1:]
    os.chdir(REPO)
    if what == "lab":
        python = set_up("requirements.txt")
        is_root = hasattr(os, "geteuid") and os.geteuid() == 0
        return subprocess.call(lab_command(python, args, is_root))
    python = set_up("requirements-test.txt")
    return subprocess.call(test_command(python, args), env=test_environment())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
