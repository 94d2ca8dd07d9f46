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


# The check a test exercises, told from words in its file and test names (first match).
CHECKS = [
    ("layer_norm", "check_layer_norm"), ("gelu", "check_gelu"), ("feed_forward", "check_feed_forward"),
    ("shortcut", "check_shortcut_forward"), ("separate", "check_separate_dropout"),
    ("dropout", "check_separate_dropout"), ("sep_", "check_separate_dropout"),
    ("cache", "check_attention_with_cache"), ("attention", "check_multi_head_attention"),
    ("block", "check_transformer_block"), ("model", "check_gpt_model_forward"),
    ("gpt", "check_gpt_model_forward"), ("generat", "check_generate_text_simple"),
    ("loop", "check_generate_text_simple"), ("fuse", "check_fuse_c_attn"),
    ("train", "check_train_step"), ("step", "check_train_step"),
]
FILE_CHECKS = {"nb02": "check_layer_norm", "nb03": "check_gelu", "nb04": "check_feed_forward",
               "nb05": "check_shortcut_forward", "nb08": "check_generate_text_simple",
               "nb09": "check_attention_with_cache", "nb10": "check_fuse_c_attn",
               "nb11": "check_train_step"}


def group(nodeid):
    """The check a test exercises."""
    path, _, name = nodeid.partition("::")
    params = name.partition("[")[2]
    if "check_" in params:
        return "check_" + params.split("check_")[-1].split("-")[0].rstrip("]")
    for prefix, check in FILE_CHECKS.items():
        if prefix in Path(path).name:
            return check
    words = name.partition("[")[0].lower()
    for word, check in CHECKS:
        if word in words:
            return check
    return Path(path).name


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
    print(f"\n{'check':30s} {'right: max':>11s} {'mistakes: min':>14s}  (units of the tolerance)")
    for key in sorted(set(right) | set(wrong)):
        worst_right = max(right[key]) if right[key] else math.nan
        told = [r for r in wrong[key] if r > 1]
        closest_wrong = min(told) if told else math.nan
        print(f"{key:30s} {worst_right:11.3g} {closest_wrong:14.3g}"
              f"  ({len(right[key])} right, {len(wrong[key])} mistakes told by their outputs)")


if __name__ == "__main__":
    main()
