"""Notebook 10's download cell, both editions, where the weights cannot be had:
HF_HUB_OFFLINE set (as in the tests), or no hub answering (offline, or a hub
blocked, as huggingface.co is from mainland China). The cell must then print
one line that names the way out, a mirror through HF_ENDPOINT, and the
notebook must store that line. The cell is run as the notebook holds it."""

import contextlib
import io
import json
import os
import re
import socket
from pathlib import Path

import pytest

from gpt_course import GPT2WeightsUnavailableError, download_gpt2_124m

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {"en": ROOT / "notebooks" / "10_gpt2_weights.ipynb",
             "zh": ROOT / "notebooks" / "zh" / "10_gpt2_weights.ipynb"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def download_cell(lang):
    nb = json.loads(NOTEBOOKS[lang].read_text(encoding="utf-8"))
    (cell,) = [c for c in nb["cells"] if c.get("id") == "real-try"]
    return "".join(cell["source"]), cell["outputs"]


def run_cell(source):
    """Run the cell with only what it needs from the notebook's imports cell
    (the lines after the download run only when the weights are there)."""
    names = {"os": os, "Path": Path, "GPT2WeightsUnavailableError": GPT2WeightsUnavailableError,
             "download_gpt2_124m": download_gpt2_124m}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "real-try", "exec"), names)
    return out.getvalue()


@pytest.fixture
def empty_weights_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GPT2_124M_DIR", str(tmp_path / "gpt2-124m"))
    return tmp_path / "gpt2-124m"


def closed_port():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_line(printed, lang):
    lines = printed.splitlines()
    assert len(lines) == 1, printed
    (line,) = lines
    assert "HF_ENDPOINT" in line and "https://hf-mirror.com" in line, line
    assert "548 MB" in line, line
    if lang == "zh":
        assert "镜像" in line and len(CJK.findall(line)) > 30, line
    else:
        assert not CJK.search(line), line
    return line


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_offline_the_cell_names_a_mirror_and_the_notebook_stores_it(lang, empty_weights_dir,
                                                                       monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    source, outputs = download_cell(lang)
    line = check_line(run_cell(source), lang)
    stored = "".join("".join(o.get("text", "")) for o in outputs if o.get("name") == "stdout")
    assert stored == line + "\n", "re-execute the notebook: its stored line is not the cell's"
    assert not empty_weights_dir.exists()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_hub_answering_gives_the_same_line(lang, empty_weights_dir, monkeypatch):
    """Not offline by setting: the download is tried and nothing answers."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    source, _ = download_cell(lang)
    check_line(run_cell(source), lang)
    assert not empty_weights_dir.exists()  # a failed download leaves nothing behind
