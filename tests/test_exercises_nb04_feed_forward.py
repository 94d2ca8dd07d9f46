"""Answer checks of notebook 04 (the exercises at its end): right answers in
every form, each diagnosed wrong answer with its own hint, wrong forms turned
away, and nothing a learner can pass makes a check raise."""

import pytest
import torch

from gpt_course import GPT2_CONFIGS, FeedForward, count_parameters
from gpt_course.exercises.nb04_feed_forward import (
    check_all_blocks_xl, check_medium_feed_forward, feed_forward_parameters,
)

MEDIUM = 8_393_728
XL_ALL = 983_424_000
CHECKS = [check_medium_feed_forward, check_all_blocks_xl]


@pytest.mark.parametrize("emb_dim", [4, 768, 1024, 1600])
def test_the_count_is_the_modules(emb_dim):
    with torch.device("meta"):
        module = FeedForward({"emb_dim": emb_dim})
    assert feed_forward_parameters(emb_dim) == count_parameters(module)


def test_the_answers_are_gpt2s():
    """Built from the presets (meta device: shapes only), not from the constants the checks use."""
    with torch.device("meta"):
        medium = count_parameters(FeedForward(GPT2_CONFIGS["gpt2-medium (355M)"]))
        xl = GPT2_CONFIGS["gpt2-xl (1558M)"]
        xl_all = xl["n_layers"] * count_parameters(FeedForward(xl))
    assert (medium, xl_all) == (MEDIUM, XL_ALL)


@pytest.mark.parametrize("check", CHECKS)
def test_no_answer_yet(check, capsys):
    assert not check(None)
    assert capsys.readouterr().out.startswith("No answer yet")


@pytest.mark.parametrize("check, right", [(check_medium_feed_forward, MEDIUM),
                                          (check_all_blocks_xl, XL_ALL)])
@pytest.mark.parametrize("form", [int, float, torch.tensor, lambda v: torch.tensor([v])])
def test_right_in_every_form(check, right, form, capsys):
    assert check(form(right))
    assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("answer, hint", [
    (2 * 1024 * 4096, "weight matrices only"),
    (1024 * 4096 + 4096, "first Linear (1024 -> 4096) only"),
    (4_722_432, "GPT-2 small's"),
    (24 * MEDIUM, "all 24 blocks"),
    (2 * 1024 * 1024 + 2048, "4 times wider"),
    (MEDIUM + 1, "add up both Linears"),
])
def test_medium_wrong_with_its_hint(answer, hint, capsys):
    assert not check_medium_feed_forward(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


@pytest.mark.parametrize("answer, hint", [
    (20_488_000, "one block's feed forward"),
    (12 * 20_488_000, "48 blocks, not 12"),
    (48 * 2 * 1600 * 6400, "weight matrices only"),
    (48 * 4_722_432, "GPT-2 small's emb_dim 768"),
    (XL_ALL - 1, "multiply by the 48 blocks"),
])
def test_xl_wrong_with_its_hint(answer, hint, capsys):
    assert not check_all_blocks_xl(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


# Nothing a learner can pass makes a check raise or accept it: non-whole counts,
# text that contains the number, NaN, inf, numbers too large for a float, a
# tensor of many values, the model itself.
@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("answer", [
    8393728.9, 983424000.5, "8393728", "not 983424000", float("nan"), float("inf"),
    -float("inf"), 10 ** 400, -MEDIUM, True, torch.tensor([MEDIUM, XL_ALL]),
    torch.tensor(8393728.5, dtype=torch.float64), [MEDIUM], object(), FeedForward,
    FeedForward({"emb_dim": 4}),
])
def test_wrong_answers_never_pass_never_raise(check, answer, capsys):
    assert not check(answer)
    assert capsys.readouterr().out.startswith("Not yet:")
