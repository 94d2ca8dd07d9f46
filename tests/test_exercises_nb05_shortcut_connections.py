"""Answer checks of notebook 05 (the exercises at its end): right answers in
every form, each diagnosed wrong answer with its own hint, wrong forms turned
away, and nothing a learner can pass makes a check raise."""

import pytest
import torch
import torch.nn as nn

from gpt_course import ExampleDeepNeuralNetwork, layer_gradients
from gpt_course.exercises.nb05_shortcut_connections import (
    check_relu_first_layer, check_sigmoid_ratio,
)

CHECKS = [check_sigmoid_ratio, check_relu_first_layer]


def first_layer(use_shortcut, activation):
    """The notebook's way: seed, build, layer_gradients (not the checks' helper)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        model = ExampleDeepNeuralNetwork([3, 3, 3, 3, 3, 1], use_shortcut, activation=activation)
    grads = layer_gradients(model, torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.0]]))
    return grads["layers.0.0.weight"]


SIGMOID_RATIO = first_layer(True, nn.Sigmoid) / first_layer(False, nn.Sigmoid)
RELU_WITH = first_layer(True, nn.ReLU)


def test_the_answers_are_not_printed_in_the_notebook():
    """Notebook 05 prints GELU's numbers; the exercises ask for others."""
    assert SIGMOID_RATIO == pytest.approx(147.5, abs=0.1)
    assert RELU_WITH == pytest.approx(0.5558, abs=1e-4)


@pytest.mark.parametrize("check", CHECKS)
def test_no_answer_yet(check, capsys):
    assert not check(None)
    assert capsys.readouterr().out.startswith("No answer yet")


@pytest.mark.parametrize("check, right", [(check_sigmoid_ratio, SIGMOID_RATIO),
                                          (check_relu_first_layer, RELU_WITH)])
@pytest.mark.parametrize("form", [float, torch.tensor, lambda v: torch.tensor([v]),
                                  lambda v: round(v, 4) * 1.005])
def test_right_in_every_form(check, right, form, capsys):
    assert check(form(right))
    assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("answer, hint", [
    (1 / SIGMOID_RATIO, "the other way round"),
    (1099, "ratio for GELU"),
    (1098.95, "ratio for GELU"),
    (SIGMOID_RATIO * 1.02, "activation=nn.Sigmoid) twice"),
    (0.0, "activation=nn.Sigmoid) twice"),
    (-SIGMOID_RATIO, "activation=nn.Sigmoid) twice"),
])
def test_sigmoid_ratio_wrong_with_its_hint(answer, hint, capsys):
    assert not check_sigmoid_ratio(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


@pytest.mark.parametrize("answer, hint", [
    (first_layer(False, nn.ReLU), "without shortcuts"),
    (0.2217, "GELU network's value"),
    (0.6, "activation=nn.ReLU) right after torch.manual_seed(123)"),
    (0.0, "activation=nn.ReLU) right after torch.manual_seed(123)"),
])
def test_relu_wrong_with_its_hint(answer, hint, capsys):
    assert not check_relu_first_layer(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("answer", [
    "147.5", "0.5558", "not 0.5558", float("nan"), float("inf"), -float("inf"), 10 ** 400,
    True, torch.tensor([SIGMOID_RATIO, RELU_WITH]), [RELU_WITH, RELU_WITH], object(),
    ExampleDeepNeuralNetwork, ExampleDeepNeuralNetwork([3, 1], True),
])
def test_wrong_answers_never_pass_never_raise(check, answer, capsys):
    assert not check(answer)
    assert capsys.readouterr().out.startswith("Not yet:")


def test_checks_leave_the_learners_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    check_sigmoid_ratio(SIGMOID_RATIO)
    check_relu_first_layer(RELU_WITH)
    assert torch.equal(torch.rand(3), expected)
