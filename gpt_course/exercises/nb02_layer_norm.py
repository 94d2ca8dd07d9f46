"""Exercise checks for notebook 02 (layer normalization)."""

import math

import torch

from ..book.nb02_layer_norm import LayerNorm
from .sandbox import teacher
from .base import NotYet, answer_check, as_float, as_floats
from .code_check import Case, Mistake, check_module


def _close(values, expected, tol):
    return len(values) == len(expected) and all(
        math.isfinite(x) and abs(x - y) <= tol for x, y in zip(values, expected))


def _numbers(count):
    """A reader: exactly `count` numbers (a list, tuple or tensor), else None.
    nan is kept, so a check can say where a nan comes from."""
    def read(answer):
        values = as_floats(answer)
        return values if values is not None and len(values) == count else None
    return read


@answer_check(as_float, "give one number, e.g. 0.5 (a float or a one-element tensor)")
def check_biased_variance(value):
    """Exercise 1: the variance LayerNorm uses (unbiased=False) of [1., 2., 3., 4.]."""
    if _close([value], [5 / 3], 1e-3):
        raise NotYet("that is the unbiased variance (divide by n - 1 = 3); LayerNorm divides "
                     "by n.")
    if _close([value], [math.sqrt(1.25)], 1e-3) or _close([value], [math.sqrt(5 / 3)], 1e-3):
        raise NotYet("that is a standard deviation; the variance is its square.")
    if _close([value], [5.0], 1e-3):
        raise NotYet("5 is the sum of the squared deviations; divide it by the number of "
                     "values.")
    if _close([value], [2.5], 1e-3):
        raise NotYet("2.5 is the mean; the variance is the mean of the squared deviations "
                     "from it.")
    if not _close([value], [1.25], 1e-3):
        raise NotYet("subtract the mean from each value, square, add up, divide by n "
                     "(not n - 1).")
    return ("Mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, divided by n = 4 "
            "gives 1.25.")


# Exercise 2: a constant vector through a LayerNorm whose scale is 2 and
# whose shift is [0.1, 0.2, 0.3, 0.4].
CONSTANT_SHIFT = [0.1, 0.2, 0.3, 0.4]


@answer_check(_numbers(4), "give the four output values as a list or a tensor")
def check_constant_vector(values):
    """Exercise 2: LayerNorm's output for the constant vector [7., 7., 7., 7.]."""
    if any(math.isnan(v) for v in values):
        raise NotYet("nan is what you get without eps (0 / 0); with eps the division is "
                     "0 / sqrt(eps), which is a plain number.")
    if _close(values, [0.0] * 4, 1e-4):
        raise NotYet("the normalized vector is 0, but the module then applies scale and "
                     "shift.")
    if _close(values, [7.0] * 4, 1e-4) or _close(values, [14 + s for s in CONSTANT_SHIFT], 1e-4):
        raise NotYet("LayerNorm first subtracts the mean: what is x - mean for a constant "
                     "vector?")
    if not _close(values, CONSTANT_SHIFT, 1e-4):
        raise NotYet("what is x - mean for a constant vector? Then apply scale * ... + shift.")
    return ("x - mean is 0 everywhere, 0 / sqrt(0 + eps) = 0, and scale * 0 + shift is just "
            "the shift.")


@answer_check(_numbers(2), "give two numbers: (mean, variance)")
def check_scaled_statistics(values):
    """Exercise 3: (mean, variance) of LayerNorm's output with scale -2 and shift 3."""
    if _close(values, [3.0, -4.0], 0.01):
        raise NotYet("a variance is an average of squares, never negative: what does (-2)**2 "
                     "give?")
    if _close(values, [3.0, 2.0], 0.01) or _close(values, [3.0, -2.0], 0.01):
        raise NotYet("that is the scale (or the standard deviation); scaling by s multiplies "
                     "the variance by s**2.")
    if _close(values, [-3.0, 4.0], 0.01) or _close(values, [-3.0, -4.0], 0.01):
        raise NotYet("the minus sign mirrors the normalized values around their mean, which is "
                     "0 and stays 0; the mean of the output is then set by the shift alone.")
    if _close(values, [0.0, 1.0], 0.01):
        raise NotYet("that is before the learned scale and shift are applied.")
    if _close(values, [4.0, 3.0], 0.01):
        raise NotYet("the order is (mean, variance): which of the two does the shift set?")
    if _close(values, [1.0, 4.0], 0.01) or _close(values, [-6.0, 4.0], 0.01) \
            or _close(values, [5.0, 4.0], 0.01):
        raise NotYet("the scale multiplies the normalized values, whose mean is 0; the shift "
                     "is added after that.")
    if not _close(values, [3.0, 4.0], 0.01):
        raise NotYet("start from mean 0, variance 1; what do * (-2) and + 3 do to each?")
    return ("The normalized vector has mean 0 and variance 1; scale * x + shift has mean "
            "shift = 3 and variance scale**2 = (-2)**2 = 4: the sign of the scale mirrors the "
            "values but changes neither statistic.")


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
            when=lambda case: case.note in ("nearly constant rows", "constant rows")),
    Mistake("the mean and variance are taken over the wrong dimension: LayerNorm normalizes "
            "each token vector, over the last dimension (dim=-1).",
            lambda norm, x: norm.scale * (x - x.mean(dim=0, keepdim=True))
            / torch.sqrt(x.var(dim=0, keepdim=True, unbiased=False) + norm.eps) + norm.shift,
            when=lambda case: case.args.shape[0] > 1),
    Mistake("the mean and variance are taken over dim=1, which for a [batch, seq_len, emb_dim] "
            "input is the positions: LayerNorm normalizes each token vector, over the last "
            "dimension (dim=-1).",
            lambda norm, x: norm.scale * (x - x.mean(dim=1, keepdim=True))
            / torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + norm.eps) + norm.shift,
            when=lambda case: case.args.ndim == 3),
    Mistake("scale and shift are swapped: the scale multiplies, the shift is added: "
            "self.scale * norm_x + self.shift.",
            lambda norm, x: norm.shift * _layer_norm(norm, x, affine=False) + norm.scale),
]


def _layer_norm_cases():
    gen = torch.Generator().manual_seed(2)
    return [
        Case(torch.randn(1, 3, 6, generator=gen) * 2 + 1, note="batch 1"),
        Case(torch.randn(2, 5, 6, generator=gen) * 3 - 2, note="batch 2, 5 tokens"),
        Case(torch.randn(3, 6, generator=gen), note="a plain [rows, features] batch"),
        # rows that are constant up to 1e-3: where eps decides the result
        Case(7.0 + 1e-3 * torch.randn(2, 6, generator=gen), note="nearly constant rows"),
        # rows that are exactly constant: 0 / sqrt(0 + eps) = 0, not 0 / 0; tells
        # "eps missing" (NaN) from another eps (a plain number)
        Case(torch.tensor([[7.0] * 6, [-2.5] * 6]), note="constant rows"),
    ]


@teacher
def check_layer_norm(answer):
    """Your turn: the learner's LayerNorm class (forward written by them),
    built as cls(6), against the course's, with the same (random) scale and
    shift. Recognises: the unbiased variance, scale and shift forgotten or
    swapped, eps outside the square root, eps missing, the wrong dimension."""
    return check_module(
        answer, name="LayerNorm", build=lambda cls: cls(6), reference=LayerNorm,
        cases=_layer_norm_cases(), mistakes=LAYER_NORM_MISTAKES,
        success="your LayerNorm gives the course's output on every input (batch 1 and 2, "
                "a plain 2-D batch, nearly constant rows): mean over the last dimension, biased "
                "variance, eps inside the square root, then scale and shift.",
        hint="compute the mean and the biased variance over dim=-1 (keepdim=True), "
             "normalize with torch.sqrt(var + self.eps), then scale and shift.",
    )
