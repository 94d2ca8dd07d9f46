"""How much room each your-turn check leaves between right and wrong answers.

Runs the tests that give the checks right answers written many ways (the
hidden solutions, tests/test_checks_never_lie.py, tests/test_right_formulations.py,
the right_* tests of tests/test_yourturn_*.py) and the diagnosed mistakes (the
*mistake* tests), and records, for every case a check compares, how far the
answer's output is from the float64 truth in units of the check's tolerance
(code_check.margin_log): at most 1 is accepted, above 1 is wrong. Prints, per
test file and test, the largest ratio among right answers and the smallest
"largest ratio" among the mistakes that are told by their outputs:

    .venv/bin/python scripts/check_margins.py
"""

import collections
import math
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from gpt_course.exercises import code_check  # noqa: E402

RIGHT_WORDS = ("right", "correct", "solution")
FILES = ["test_yourturn_notebooks.py", "test_checks_never_lie.py", "test_right_formulations.py"] + \
    sorted(p.name for p in (REPO / "tests").glob("test_yourturn_nb*.py"))


class Recorder:
    def __init__(self):
        self.ratios = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        code_check.margin_log = []
        yield
        if code_check.margin_log:
            self.ratios[item.nodeid] = max(code_check.margin_log)
        code_check.margin_log = None


def group(nodeid):
    """(file, exercise): the check a test exercises, told from its name."""
    path, _, name = nodeid.partition("::")
    file = Path(path).name
    params = name.partition("[")[2]
    for word in ("check_", ):
        if word in params:
            return "hidden solutions", params.split("-")[-1].rstrip("]")
    for part in ("attention", "block", "layer_norm", "gelu", "model", "dropout"):
        if part in name:
            return file, part
    return file, ""


def main():
    recorder = Recorder()
    paths = [str(REPO / "tests" / f) for f in FILES if (REPO / "tests" / f).exists()]
    pytest.main(["-q", "-p", "no:cacheprovider", "-o", "addopts=", "--no-header", "-x",
                 "--tb=no", *paths], plugins=[recorder])
    right, wrong = collections.defaultdict(list), collections.defaultdict(list)
    for nodeid, ratio in recorder.ratios.items():
        name = nodeid.partition("::")[2].lower()
        key = group(nodeid)
        if "mistake" in name:
            wrong[key].append(ratio)
        elif any(word in name for word in RIGHT_WORDS):
            right[key].append(ratio)
    print(f"\n{'tests':58s} {'right: max':>11s} {'mistakes: min':>14s}  (units of the tolerance)")
    for key in sorted(set(right) | set(wrong)):
        worst_right = max(right[key]) if right[key] else math.nan
        told = [r for r in wrong[key] if r > 1]
        closest_wrong = min(told) if told else math.nan
        print(f"{' / '.join(k for k in key if k):58s} {worst_right:11.3g} {closest_wrong:14.3g}"
              f"  ({len(right[key])} right, {len(wrong[key])} mistakes)")


if __name__ == "__main__":
    main()
