"""Answer checks of notebook 02 (the exercises at its end): right answers in
every form, each diagnosed wrong answer with its own hint, wrong forms turned
away."""

import math

import pytest
import torch

from gpt_course import LayerNorm
from gpt_course.exercises.nb02_layer_norm import (
    CONSTANT_SHIFT, check_biased_variance, check_constant_vector, check_scaled_statistics,
)
from test_exercises_nb01_dummy_gpt import shown_before

NO_ANSWER = "No answer yet"


@pytest.mark.parametrize("check", [check_biased_variance, check_constant_vector,
                                   check_scaled_statistics])
def test_no_answer_yet(check, capsys):
    assert not check(None)
    assert capsys.readouterr().out.startswith(NO_ANSWER)


def test_biased_variance_right(capsys):
    right = torch.tensor([1.0, 2.0, 3.0, 4.0]).var(unbiased=False)
    for answer in (right, right.item(), 1.25, torch.tensor([1.25])):
        assert check_biased_variance(answer)
        assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("answer, hint", [
    (5 / 3, "unbiased variance"),
    (torch.tensor([1.0, 2.0, 3.0, 4.0]).var(), "unbiased variance"),
    (1.25 ** 0.5, "standard deviation"),
    ((5 / 3) ** 0.5, "standard deviation"),
    (5.0, "sum of the squared deviations"),
    (2.5, "is the mean"),
    (1.0, "divide by n (not n - 1)"),
])
def test_biased_variance_wrong_with_its_hint(answer, hint, capsys):
    assert not check_biased_variance(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out


@pytest.mark.parametrize("answer", ["1.25", "1.25 ish", [1.25, 1.25], float("nan"), float("inf"),
                                    torch.tensor([1.25, 1.25]), True])
def test_biased_variance_wrong_form(answer, capsys):
    assert not check_biased_variance(answer)
    assert "give one number" in capsys.readouterr().out


def test_constant_vector_right(capsys):
    ln = LayerNorm(4)
    with torch.no_grad():
        ln.scale.fill_(2.0)
        ln.shift.copy_(torch.tensor(CONSTANT_SHIFT))
        right = ln(torch.full((4,), 7.0))
    for answer in (right, right.tolist(), CONSTANT_SHIFT, tuple(CONSTANT_SHIFT), right[None]):
        assert check_constant_vector(answer)
        assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("answer, hint", [
    ([0.0, 0.0, 0.0, 0.0], "applies scale and shift"),
    ([float("nan")] * 4, "without eps"),
    ([7.0] * 4, "subtracts the mean"),
    ([14.1, 14.2, 14.3, 14.4], "subtracts the mean"),
    ([0.2, 0.4, 0.6, 0.8], "scale * ... + shift"),
])
def test_constant_vector_wrong_with_its_hint(answer, hint, capsys):
    assert not check_constant_vector(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out


@pytest.mark.parametrize("answer", [[0.1, 0.2], 0.1, "0.1, 0.2, 0.3, 0.4",
                                    [0.1, 0.2, 0.3, "0.4"], torch.zeros(2, 4)])
def test_constant_vector_wrong_form(answer, capsys):
    assert not check_constant_vector(answer)
    assert "four output values" in capsys.readouterr().out


def test_scaled_statistics_right(capsys):
    ln = LayerNorm(768)
    with torch.no_grad():
        ln.scale.fill_(-2.0)
        ln.shift.fill_(3.0)
        torch.manual_seed(0)
        y = ln(torch.randn(768) * 5 + 1)
    computed = (y.mean().item(), y.var(unbiased=False).item())
    for answer in (computed, [3, 4], torch.tensor([3.0, 4.0])):
        assert check_scaled_statistics(answer)
        assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("answer, hint", [
    ((3.0, -4.0), "never negative"),
    ((3.0, 2.0), "multiplies the variance by s**2"),
    ((3.0, -2.0), "multiplies the variance by s**2"),
    ((-3.0, 4.0), "mirrors the normalized values"),
    ((0.0, 1.0), "before the learned scale and shift"),
    ((4.0, 3.0), "the order is (mean, variance)"),
    ((1.0, 4.0), "the shift is added after that"),
    ((3.0, float("nan")), "what do * (-2) and + 3 do"),
    ((3.0, 9.0), "what do * (-2) and + 3 do"),
])
def test_scaled_statistics_wrong_with_its_hint(answer, hint, capsys):
    assert not check_scaled_statistics(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out


@pytest.mark.parametrize("answer", [3.0, (3.0, 4.0, 0.0), "3, 4", {"mean": 3, "variance": 4}])
def test_scaled_statistics_wrong_form(answer, capsys):
    assert not check_scaled_statistics(answer)
    assert "two numbers" in capsys.readouterr().out


def test_hints_never_accept_nan_or_inf(capsys):
    for check, size in ((check_biased_variance, 1), (check_constant_vector, 4),
                        (check_scaled_statistics, 2)):
        for bad in (math.nan, math.inf, -math.inf):
            assert not check([bad] * size if size > 1 else bad)
    capsys.readouterr()


@pytest.mark.parametrize("cell_id, answers", [
    ("c02-ex1", ["1.25"]),
    # exercise 2's answer is the shift its question states: it asks for the reasoning
    ("c02-ex3", ["(3, 4)", "(3.0, 4.0)", "gamma²", "gamma**2", "γ²", "scale**2", "\\gamma^2"]),
])
def test_no_answer_is_shown_before_its_exercise(cell_id, answers):
    seen = shown_before("02_layer_norm", cell_id)
    for answer in answers:
        assert answer not in seen, f"{answer!r} is shown before {cell_id}"


def test_the_your_turn_comes_before_the_course_shows_its_layer_norm():
    """The course's LayerNorm is shown after the exercise. The call for the
    biased variance is named before it (an API the exercise needs), but no code
    cell runs the whole computation (tests/test_instructions.py checks that)."""
    seen = shown_before("02_layer_norm", "c02-yourturn")
    assert "show_source(LayerNorm)" not in seen
    assert "torch.sqrt(var + self.eps)" not in seen
