"""Answer checks of notebook 03 (the exercises at its end): right answers in
every form, each diagnosed wrong answer with its own hint, wrong forms turned
away. Neither answer is printed or drawn in the notebook before its exercise."""

import math

import pytest
import torch

from gpt_course import GELU, gelu_exact
from gpt_course.exercises.nb03_gelu_vs_relu import (
    check_gelu_gradient, check_steepest_descent, gelu_gradient, steepest_descent,
)
from test_exercises_nb01_dummy_gpt import shown_before


@pytest.mark.parametrize("check", [check_steepest_descent, check_gelu_gradient])
def test_no_answer_yet(check, capsys):
    assert not check(None)
    assert capsys.readouterr().out.startswith("No answer yet")


def test_steepest_descent_is_where_the_second_derivative_vanishes():
    # exact GELU: d2/dx2 x*Phi(x) = phi(x) * (2 - x**2), zero at -sqrt(2)
    x_exact, g_exact = steepest_descent(exact=True)
    assert x_exact == pytest.approx(-math.sqrt(2), abs=1e-4)
    phi = math.exp(-1) / math.sqrt(2 * math.pi)
    assert g_exact == pytest.approx(0.5 * (1 + math.erf(-1)) - math.sqrt(2) * phi, abs=1e-8)
    x_tanh, _ = steepest_descent()
    assert x_tanh == pytest.approx(-1.4185, abs=1e-3)


def test_steepest_descent_right(capsys):
    # the notebook's solution, as a learner runs it
    xs = torch.linspace(-3, 0, 30001, dtype=torch.float64).requires_grad_(True)
    GELU()(xs).sum().backward()
    answer = xs[xs.grad.argmin()].item()
    for right in (answer, -1.42, -1.41, -math.sqrt(2), torch.tensor(-1.42)):
        assert check_steepest_descent(right)
        assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("answer, hint", [
    (-0.75, "GELU's minimum"),
    (-0.752, "GELU's minimum"),
    (1.41, "the gradient is largest"),
    (1.42, "the gradient is largest"),
    (-0.129, "the smallest gradient itself"),
    (-0.17, "GELU's smallest value"),
    (-1.4, "give two decimals"),
    (-1.45, "give two decimals"),
    (-2.0, "take the x where it is smallest"),
    (0.0, "take the x where it is smallest"),
])
def test_steepest_descent_wrong_with_its_hint(answer, hint, capsys):
    assert not check_steepest_descent(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out


@pytest.mark.parametrize("answer", ["-1.41", [-1.41], (-1.41, -0.13), float("nan"), True])
def test_steepest_descent_wrong_form(answer, capsys):
    assert not check_steepest_descent(answer)
    assert "give one number" in capsys.readouterr().out


def test_gradient_at_minus_two_and_a_half_right(capsys):
    x = torch.tensor(-2.5, requires_grad=True)  # the notebook's solution, in float32
    GELU()(x).backward()
    for right in (x.grad.item(), x.grad, torch.tensor([-0.0380]), -0.0380, -0.03795):
        assert check_gelu_gradient(right)
        assert capsys.readouterr().out.startswith("Correct!")


def test_gradient_target_is_the_tanh_gelus():
    assert float(gelu_gradient([-2.5])[0]) == pytest.approx(-0.0379516, abs=1e-6)
    assert float(gelu_gradient([-2.5], exact=True)[0]) == pytest.approx(-0.0376111, abs=1e-6)


@pytest.mark.parametrize("answer, hint", [
    (-0.0376, "exact GELU"),
    (0.0, "ReLU's gradient"),
    (0, "ReLU's gradient"),
    (float(GELU()(torch.tensor(-2.5))), "GELU's value at -2.5"),
    (float(gelu_exact(torch.tensor(-2.5))), "GELU's value at -2.5"),
    (0.0380, "the sign"),
    (-0.0861, "read x.grad"),  # the gradient at -2, shown in the notebook's table
    (-0.039, "read x.grad"),
])
def test_gradient_wrong_with_its_hint(answer, hint, capsys):
    assert not check_gelu_gradient(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out


@pytest.mark.parametrize("answer", ["-0.0380", [-0.038, 0.0], torch.tensor([-0.038, 0.0]),
                                    float("nan"), float("-inf"), True])
def test_gradient_wrong_form(answer, capsys):
    assert not check_gelu_gradient(answer)
    assert "give one number" in capsys.readouterr().out


@pytest.mark.parametrize("cell_id, answers", [
    ("ex1", ["1.41", "1.42", "0.129", "0.1290"]),
    ("ex2", ["0.0380", "0.0379", "0.038 ", "-0.038\n"]),
])
def test_no_answer_is_shown_before_its_exercise(cell_id, answers):
    seen = shown_before("03_gelu_vs_relu", cell_id)
    for answer in answers:
        assert answer not in seen, f"{answer!r} is shown before {cell_id}"


def test_the_your_turn_comes_before_the_course_shows_its_gelu():
    seen = shown_before("03_gelu_vs_relu", "yourturn")
    assert "show_source(GELU)" not in seen and "torch.pow(x, 3)))" not in seen
