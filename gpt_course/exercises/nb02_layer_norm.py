"""Exercise checks for notebook 02 (layer normalization)."""

import math

from .base import Verdict, as_floats, no_answer_yet, report


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
