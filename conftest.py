"""How the test run is shared among pytest-xdist's workers (pyproject.toml asks
for them: -n auto). Each notebook's nbval cells must run in order in one kernel,
so a notebook goes to one worker whole; each browser test is a work unit of its
own; a test module's tests stay together. The longest units start first, so
that no worker is left with a long one at the end.

Each worker, and everything it starts (kernels, JupyterLab, chromium), keeps to
a core of its own where the system allows it (Linux). Measured on this course's
2-core CI machine: notebook 11's training takes 15 s alone, 29 s with another
training on the other core when each is pinned to its core, and 550 s when they
are not (the scheduler moves threads that wait by spinning onto the core that
the other one computes on)."""

import os
import re

import pytest

try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # pytest-xdist missing: the run is simply not shared
    LoadScopeScheduling = None

BROWSER_TEST = "tests/browser/test_notebooks_in_browser.py::"
# Slowest first, from measured runs: the browser tests of the notebooks that
# train or time something, then those notebooks under nbval, then other
# browser tests and notebooks, then the slowest unit modules.
SLOW_NOTEBOOKS = ("11_", "09_", "12_", "08_", "10_")
SLOW_MODULES = ("tests/test_kv_cache.py", "tests/test_explorer_reliability.py",
                "tests/test_readable_kv_cache.py", "tests/test_generation_reliability.py",
                "tests/test_checks_never_lie.py", "tests/test_quick_check.py",
                "tests/test_exercise_framework.py", "tests/test_lab_script.py")


def _notebook_rank(text):
    name = re.search(r"(\d\d_)\w*\.ipynb", text)
    if name and name.group(1) in SLOW_NOTEBOOKS:
        return SLOW_NOTEBOOKS.index(name.group(1))
    return len(SLOW_NOTEBOOKS)


def _order(scope):
    if scope.startswith(BROWSER_TEST):
        return (0 if _notebook_rank(scope) < len(SLOW_NOTEBOOKS) else 2, _notebook_rank(scope))
    if scope.endswith(".ipynb"):
        return (1 if _notebook_rank(scope) < len(SLOW_NOTEBOOKS) else 3, _notebook_rank(scope))
    if scope in SLOW_MODULES:
        return (4, SLOW_MODULES.index(scope))
    return (5, 0)


BROWSER_RUN = re.compile(re.escape(BROWSER_TEST) + r"test_notebook_runs_in_jupyterlab\[(zh/[^\]]+\.ipynb)\]")


@pytest.hookimpl(trylast=True)  # after -m / -k have deselected what they deselect
def pytest_collection_modifyitems(config, items):
    """A Chinese notebook whose browser run is in this run is executed once, in the
    browser, instead of twice: that run compares every output with the stored one
    by nbval's own rules (tests/browser), the check strict nbval makes. Its code is
    the English notebook's (tests/test_zh_edition.py), which is executed twice.
    Without the browser run (no chromium, -m "not browser", a notebook named
    alone), nbval executes it as before."""
    in_browser = {match.group(1) for item in items if (match := BROWSER_RUN.match(item.nodeid))}
    once = [item for item in items
            if item.nodeid.split("::", 1)[0].removeprefix("notebooks/") in in_browser]
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = [item for item in items if item not in once]


def pytest_terminal_summary(terminalreporter, config):
    count = len({match.group(1) for reports in terminalreporter.stats.values() for report in reports
                 if getattr(report, "when", None) == "call"
                 and (match := BROWSER_RUN.match(report.nodeid))})
    if count:
        terminalreporter.write_line(
            f"The {count} Chinese notebook{'s' if count > 1 else ''} ran once, in the browser, their outputs compared "
            f"with the stored ones by nbval's rules (their nbval cells are the deselected ones); "
            f"the English notebooks ran twice, in nbval and in the browser.")


def pytest_configure(config):
    worker = getattr(config, "workerinput", None)  # set on pytest-xdist's workers only
    if worker is None or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    index, count = int(worker["workerid"].removeprefix("gw")), int(worker["workercount"])
    if count < 2 or len(cores) < 2:
        return
    # worker k gets every count-th core, starting at k (one core each when count == cores)
    mine = set(cores[index % len(cores)::count]) or {cores[index % len(cores)]}
    os.sched_setaffinity(0, mine)
    os.environ["OMP_NUM_THREADS"] = str(len(mine))  # for the kernels it starts
    try:
        import torch
        torch.set_num_threads(len(mine))
    except ImportError:
        pass


if LoadScopeScheduling is not None:
    class CourseScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            if nodeid.startswith(BROWSER_TEST):
                return nodeid  # one notebook in the browser: its own unit
            return nodeid.split("::", 1)[0]  # a notebook's cells, a module's tests

        def _assign_work_unit(self, node):
            if not getattr(self, "_slowest_first", False):  # once, before the first unit goes
                self._slowest_first = True
                units = sorted(self.workqueue.items(), key=lambda unit: _order(unit[0]))
                self.workqueue.clear()
                self.workqueue.update(units)
            super()._assign_work_unit(node)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(config, log):
        return CourseScheduling(config, log)
