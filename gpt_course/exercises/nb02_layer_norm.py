"""Exercise checks for notebook 02 (layer normalization)."""

import math

import torch

from ..book.nb02_layer_norm import LayerNorm
from .base import Verdict, as_floats, no_answer_yet, report
from .code_check import Case, Mistake, check_module


def _close(a, b, tol):
    return all(math.isfinite(x) and abs(x - y) <= tol for x, y in zip(a, b)) and len(a) == len(b)


def check_biased_variance(answer):
    """Exercise 1: the variance LayerNorm uses (unbiased=False) of [1., 2., 3., 4.]."""
    if no_answer_yet(answer):
        return Verdict(False)
    values = as_floats(answer)
    if values is None or len(values) != 1:
        return report(False, "", "give one number, e.g. 0.5 (a float or a one-element tensor)")
    value = values[0]
    if _close([value], [1.25], 1e-3):
        return report(True, "Mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, "
                      "divided by n = 4 gives 1.25.", "")
    if _close([value], [5 / 3], 1e-3):
        hint = "that is the unbiased variance (divide by n - 1 = 3); LayerNorm divides by n."
    elif _close([value], [math.sqrt(1.25)], 1e-3):
        hint = "that is the standard deviation; the variance is its square."
    else:
        hint = "subtract the mean from each value, square, add up, divide by n (not n - 1)."
    return report(False, "", hint)


# Exercise 2: a constant vector through a LayerNorm whose scale is 2 and
# whose shift is [0.1, 0.2, 0.3, 0.4].
CONSTANT_SHIFT = [0.1, 0.2, 0.3, 0.4]


def check_constant_vector(answer):
    """Exercise 2: LayerNorm's output for the constant vector [7., 7., 7., 7.]."""
    if no_answer_yet(answer):
        return Verdict(False)
    values = as_floats(answer)
    if values is None or len(values) != 4:
        return report(False, "", "give the four output values as a list or a tensor")
    if any(math.isnan(v) for v in values):
        return report(False, "", "nan is what you get without eps (0 / 0); with eps the "
                      "division is 0 / sqrt(eps), which is a plain number.")
    if _close(values, CONSTANT_SHIFT, 1e-4):
        return report(True, "x - mean is 0 everywhere, 0 / sqrt(0 + eps) = 0, and "
                      "scale * 0 + shift is just the shift.", "")
    if _close(values, [0.0] * 4, 1e-4):
        hint = "the normalized vector is 0, but the module then applies scale and shift."
    else:
        hint = "what is x - mean for a constant vector? Then apply scale * ... + shift."
    return report(False, "", hint)


def check_scaled_statistics(answer):
    """Exercise 3: (mean, variance) of LayerNorm's output with scale 2 and shift 3."""
    if no_answer_yet(answer):
        return Verdict(False)
    values = as_floats(answer)
    if values is None or len(values) != 2:
        return report(False, "", "give two numbers: (mean, variance)")
    if _close(values, [3.0, 4.0], 0.01):
        return report(True, "The normalized vector has mean 0 and variance 1; "
                      "scale * x + shift has mean shift = 3 and variance scale**2 = 4.", "")
    if _close(values, [3.0, 2.0], 0.01):
        hint = "2 is the standard deviation; scaling by s multiplies the variance by s**2."
    elif _close(values, [0.0, 1.0], 0.01):
        hint = "that is before the learned scale and shift are applied."
    else:
        hint = "start from mean 0, variance 1; what do * 2 and + 3 do to each?"
    return report(False, "", hint)


# ---------------------------------------------------------------- your turn

def _layer_norm(norm, x, *, unbiased=False, eps_inside=True, use_eps=True, affine=True):
    """LayerNorm's output, written the ways learners write it (right by default)."""
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=unbiased)
    eps = norm.eps if use_eps else 0.0
    std = torch.sqrt(var + eps) if eps_inside else torch.sqrt(var) + eps
    norm_x = (x - mean) / std
    return norm.scale * norm_x + norm.shift if affine else norm_x


LAYER_NORM_MISTAKES = [
    Mistake("your variance is the unbiased one (divided by n - 1); LayerNorm divides by n: "
            "x.var(dim=-1, keepdim=True, unbiased=False).",
            lambda norm, x: _layer_norm(norm, x, unbiased=True)),
    Mistake("the scale and shift are missing: return self.scale * norm_x + self.shift.",
            lambda norm, x: _layer_norm(norm, x, affine=False)),
    Mistake("eps is added outside the square root; it belongs inside: "
            "torch.sqrt(var + self.eps).",
            lambda norm, x: _layer_norm(norm, x, eps_inside=False),
            when=lambda case: case.note == "nearly constant rows"),
    Mistake("eps is missing: without it a constant row divides 0 by 0; use "
            "torch.sqrt(var + self.eps).",
            lambda norm, x: _layer_norm(norm, x, use_eps=False),
            when=lambda case: case.note == "nearly constant rows"),
    Mistake("the mean and variance are taken over the wrong dimension: LayerNorm normalizes "
            "each token vector, over the last dimension (dim=-1).",
            lambda norm, x: norm.scale * (x - x.mean(dim=0, keepdim=True))
            / torch.sqrt(x.var(dim=0, keepdim=True, unbiased=False) + norm.eps) + norm.shift,
            when=lambda case: case.args.shape[0] > 1),
]


def _layer_norm_cases():
    gen = torch.Generator().manual_seed(2)
    return [
        Case(torch.randn(1, 3, 6, generator=gen) * 2 + 1, note="batch 1"),
        Case(torch.randn(2, 5, 6, generator=gen) * 3 - 2, note="batch 2, 5 tokens"),
        Case(torch.randn(3, 6, generator=gen), note="a plain [rows, features] batch"),
        # rows that are constant up to 1e-3: where eps decides the result
        Case(7.0 + 1e-3 * torch.randn(2, 6, generator=gen), note="nearly constant rows"),
    ]


def check_layer_norm(answer):
    """Your turn: the learner's LayerNorm class (forward written by them),
    built as cls(6), against the course's, with the same scale and shift."""
    return check_module(
        answer, name="LayerNorm", build=lambda cls: cls(6), reference=LayerNorm,
        cases=_layer_norm_cases(), mistakes=LAYER_NORM_MISTAKES,
        success="your LayerNorm gives the course's output on every input (batch 1 and 2, "
                "a plain 2-D batch, nearly constant rows): mean over the last dimension, biased "
                "variance, eps inside the square root, then scale and shift.",
        hint="compute the mean and the biased variance over dim=-1 (keepdim=True), "
             "normalize with torch.sqrt(var + self.eps), then scale and shift.",
    )
