"""Notebook 03's "your turn": the learner writes GELU in the tanh form.

The hidden solution and the skeleton are read from the notebook itself and
run through the real check; each classic mistake, written as a small wrong
module, gets its own hint; correct variants written other ways pass; whatever
the check is given, it says "Not yet" and never raises."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gpt_course.exercises.nb03_gelu_vs_relu import check_gelu

NOTEBOOK = "03_gelu_vs_relu"
C = math.sqrt(2 / math.pi)


def module(fn):
    """A learner's module whose forward is fn(x)."""
    return type("LearnersGELU", (nn.Module,), {"forward": lambda self, x: fn(x)})


# ------------------------------------------------ right, however it is written

@pytest.mark.parametrize("fn", [
    # the book's own line: a float32 tensor constant, torch.pow
    lambda x: 0.5 * x * (1 + torch.tanh(torch.sqrt(torch.tensor(2.0 / torch.pi))
                                        * (x + 0.044715 * torch.pow(x, 3)))),
    lambda x: x * torch.sigmoid(2 * C * (x + 0.044715 * x ** 3)),  # the same curve, as a sigmoid
    lambda x: 0.5 * x + 0.5 * x * torch.tanh((2 / math.pi) ** 0.5 * x + C * 0.044715 * x * x * x),
    lambda x: F.gelu(x, approximate="tanh"),
])
def test_correct_variants_pass(fn, capsys):
    assert check_gelu(module(fn))
    assert capsys.readouterr().out.startswith("Correct!")


def test_a_plain_function_is_accepted_too(capsys):
    def gelu(x):
        return 0.5 * x * (1 + torch.tanh(C * (x + 0.044715 * x ** 3)))

    assert check_gelu(gelu)
    assert capsys.readouterr().out.startswith("Correct!")
    assert not check_gelu(lambda x: F.gelu(x))  # a function with a mistake: diagnosed the same
    assert "exact GELU" in capsys.readouterr().out


# ------------------------------------------------------------ classic mistakes

def tanh_form(x, factor=C, cubic=0.044715, power=3, half=0.5):
    return half * x * (1 + torch.tanh(factor * (x + cubic * x ** power)))


@pytest.mark.parametrize("fn, hint", [
    (lambda x: x * 0.5 * (1 + torch.erf(x / math.sqrt(2))), "that is the exact GELU"),
    (lambda x: F.gelu(x), "that is the exact GELU"),
    (lambda x: nn.GELU()(x), "that is the exact GELU"),
    (lambda x: tanh_form(x, cubic=0.44715), "the constant in front of x**3 is 0.044715"),
    (lambda x: tanh_form(x, cubic=0.0447), "the constant in front of x**3 is 0.044715"),
    (lambda x: tanh_form(x, cubic=0.04475), "the constant in front of x**3 is 0.044715"),
    (lambda x: tanh_form(x, factor=math.sqrt(math.pi / 2)), "you used sqrt(pi / 2)"),
    (lambda x: tanh_form(x, factor=2 / math.pi), "the square root is missing"),
    (lambda x: tanh_form(x, half=1.0), "the factor 0.5 in front is missing"),
    (lambda x: x * (1 + torch.tanh(C * (x + 0.044715 * torch.pow(x, 3)))),
     "the factor 0.5 in front is missing"),
    (lambda x: tanh_form(x, power=2), "not x squared"),
    (lambda x: 0.5 * x * (1 + torch.tanh(C * x)), "term is missing inside tanh"),
    (lambda x: 0.5 * x * (1 + math.tanh(C) * (x + 0.044715 * x ** 3)),
     "tanh is applied to sqrt(2 / pi) alone"),
    (lambda x: 0.5 * x * (1 + torch.tanh(C * x + 0.044715 * x ** 3)),
     "sqrt(2 / pi) multiplies x only"),
    (lambda x: 0.5 * x * (1 + C * torch.tanh(x + 0.044715 * x ** 3)),
     "sqrt(2 / pi) is outside tanh"),
    (lambda x: 0.5 * (1 + torch.tanh(C * (x + 0.044715 * x ** 3))), "GELU multiplies it by x"),
    (lambda x: x * torch.sigmoid(1.702 * x), "sigmoid approximation"),
])
def test_each_mistake_gets_its_hint(fn, hint, capsys):
    assert not check_gelu(module(fn))
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


def test_one_wrong_digit_is_seen_although_the_curves_nearly_agree(capsys):
    x = torch.linspace(-4, 4, 161)
    assert (tanh_form(x, cubic=0.0447) - tanh_form(x)).abs().max() < 1e-5  # nearly the same
    assert not check_gelu(module(lambda x: tanh_form(x, cubic=0.0447)))
    assert "0.044715" in capsys.readouterr().out


def test_relu_gets_the_difference_and_the_general_hint(capsys):
    assert not check_gelu(nn.ReLU)
    out = capsys.readouterr().out
    assert "differs from the course's" in out and "largest difference" in out
    assert "compare with the formula piece by piece" in out


# ------------------------------------------------------------ crash battery

class InitRaises(nn.Module):
    def __init__(self):
        raise RuntimeError("half-written __init__")


class NeedsArgument(nn.Module):
    def __init__(self, approximate):
        super().__init__()


class NoForward(nn.Module):
    pass


class ForwardRaises(nn.Module):
    def forward(self, x):
        return torch.tanh(x, 3)


class WrongShape(nn.Module):
    def forward(self, x):
        return tanh_form(x).sum(dim=-1)


class WrongDtype(nn.Module):
    def forward(self, x):
        return tanh_form(x).long()


class ReturnsNone(nn.Module):
    def forward(self, x):
        tanh_form(x)


class ReturnsNan(nn.Module):
    def forward(self, x):
        return tanh_form(x) / x * x  # 0 / 0 at x = 0


class HasParameters(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Parameter(torch.tensor(C))


@pytest.mark.parametrize("answer, said", [
    (None, "No answer yet"),
    (3, "pass your GELU class"),
    ("MyGELU", "pass your GELU class"),
    (torch.tanh, "pass your GELU class"),
    (print, "pass your GELU class"),
    (module(tanh_form)(), "pass the class itself"),
    (InitRaises, "building your GELU failed: RuntimeError: half-written __init__"),
    (NeedsArgument, "building your GELU failed: TypeError"),
    (NoForward, "has no forward method"),
    (ForwardRaises, "raised TypeError"),
    (WrongShape, "expected [161]"),
    (WrongDtype, "dtype torch.int64"),
    (ReturnsNone, "returned NoneType"),
    (ReturnsNan, "NaN at index"),
    (HasParameters, "has no forward method"),
])
def test_crash_battery_says_not_yet(answer, said, capsys):
    verdict = check_gelu(answer)
    assert not verdict
    out = capsys.readouterr().out
    assert out.startswith("Not yet:" if said != "No answer yet" else said) and said in out, out
