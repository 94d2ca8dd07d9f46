"""How the test run itself is organised: the units pytest-xdist shares among cores
(conftest.py at the top of the repository), and the browser suite's comparison of
a notebook's second execution with its stored outputs."""

import copy
import importlib.util
import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, REPO / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


top = _load("conftest.py", "course_top_conftest")


def test_units_keep_a_notebook_together_and_each_browser_run_apart():
    pytest.importorskip("xdist")
    split = top.CourseScheduling._split_scope
    assert split(None, "notebooks/zh/11_training_glimpse.ipynb::Cell 3") == \
        split(None, "notebooks/zh/11_training_glimpse.ipynb::Cell 14")
    one = "tests/browser/test_notebooks_in_browser.py::test_notebook_runs_in_jupyterlab[09_x.ipynb]"
    other = one.replace("09_x", "zh/09_x")
    assert split(None, one) != split(None, other)
    assert split(None, "tests/test_kv_cache.py::test_a[1]") == split(None, "tests/test_kv_cache.py::test_b")


def test_the_slowest_units_start_first():
    browser = "tests/browser/test_notebooks_in_browser.py::test_notebook_runs_in_jupyterlab[{}]"
    units = ["tests/test_zh_edition.py", "notebooks/02_layer_norm.ipynb", "tests/test_kv_cache.py",
             browser.format("02_layer_norm.ipynb"), "notebooks/11_training_glimpse.ipynb",
             browser.format("zh/11_training_glimpse.ipynb"), browser.format("09_faster_generation.ipynb")]
    assert sorted(units, key=top._order) == [
        browser.format("zh/11_training_glimpse.ipynb"), browser.format("09_faster_generation.ipynb"),
        "notebooks/11_training_glimpse.ipynb", browser.format("02_layer_norm.ipynb"),
        "notebooks/02_layer_norm.ipynb", "tests/test_kv_cache.py", "tests/test_zh_edition.py"]
    # The slow lists name things that exist.
    for module in top.SLOW_MODULES:
        assert (REPO / module).is_file(), module
    for prefix in top.SLOW_NOTEBOOKS:
        assert list((REPO / "notebooks").glob(prefix + "*.ipynb")), prefix


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="core pinning is Linux-only")
def test_a_worker_keeps_to_its_own_cores(monkeypatch):
    cores = {0, 1, 2, 3}  # (a worker's own affinity is one core already: pretend four)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(cores))
    pinned = []
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, mask: pinned.append(set(mask)))
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    before = __import__("torch").get_num_threads()
    try:
        for k in range(2):
            config = type("Config", (), {"workerinput": {"workerid": f"gw{k}", "workercount": 2}})()
            top.pytest_configure(config)
    finally:
        __import__("torch").set_num_threads(before)
    assert pinned == [{0, 2}, {1, 3}]
    assert os.environ["OMP_NUM_THREADS"] == str(len(pinned[1]))


def test_the_browser_run_is_compared_with_the_stored_outputs():
    browser = _load("tests/browser/test_notebooks_in_browser.py", "course_browser_tests")
    path = REPO / "notebooks" / "02_layer_norm.ipynb"
    stored = [cell.get("outputs", []) for cell in json.loads(path.read_text())["cells"]
              if cell["cell_type"] == "code"]
    assert browser._differences_from_stored(path, copy.deepcopy(stored)) == []
    # A stream split in two, as a front end may hold it, is still the same output.
    split = copy.deepcopy(stored)
    k, out = next((k, out) for k, cell in enumerate(split) for out in cell
                  if out["output_type"] == "stream" and len("".join(out["text"])) > 20)
    text = "".join(out["text"])
    out["text"] = text[:10]
    split[k].insert(split[k].index(out) + 1, {**out, "text": text[10:]})
    assert browser._differences_from_stored(path, split) == []
    # One digit changed is found, and named by its cell.
    drifted = copy.deepcopy(stored)
    out = next(out for out in drifted[k] if out["output_type"] == "stream")
    out["text"] = text.replace(next(c for c in text if c.isdigit()), "#", 1)
    found = browser._differences_from_stored(path, drifted)
    assert len(found) == 1 and found[0].startswith(f"code cell {k} ")


def test_a_chinese_notebook_run_in_the_browser_is_not_run_by_nbval_too():
    class Item:
        def __init__(self, nodeid):
            self.nodeid = nodeid

    browser = "tests/browser/test_notebooks_in_browser.py::test_notebook_runs_in_jupyterlab[{}]"
    items = [Item(n) for n in (
        "notebooks/02_layer_norm.ipynb::Cell 0", "notebooks/zh/02_layer_norm.ipynb::Cell 0",
        "notebooks/zh/02_layer_norm.ipynb::Cell 1", "notebooks/zh/03_gelu_vs_relu.ipynb::Cell 0",
        browser.format("02_layer_norm.ipynb"), browser.format("zh/02_layer_norm.ipynb"),
        "tests/test_kv_cache.py::test_a")]
    deselected = []
    config = type("Config", (), {"hook": type("Hook", (), {
        "pytest_deselected": staticmethod(lambda items: deselected.extend(items))})()})()
    kept = list(items)
    top.pytest_collection_modifyitems(config, kept)
    # zh/02 runs in the browser (its outputs compared there by nbval's rules), so nbval
    # leaves it; zh/03 has no browser run here (deselected, or no chromium): nbval runs it;
    # the English notebook runs in both.
    assert [item.nodeid for item in deselected] == [
        "notebooks/zh/02_layer_norm.ipynb::Cell 0", "notebooks/zh/02_layer_norm.ipynb::Cell 1"]
    assert [item.nodeid for item in kept] == [item.nodeid for item in items if item not in deselected]
    # Without any browser run, nothing is left out.
    alone = [item for item in items if "browser" not in item.nodeid]
    deselected.clear()
    top.pytest_collection_modifyitems(config, alone)
    assert deselected == [] and len(alone) == 5
