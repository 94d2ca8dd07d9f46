"""Exercise checks for notebook 03 (GELU vs ReLU)."""

import torch

from ..book.nb03_gelu import GELU, gelu_exact
from .base import Verdict, as_float, no_answer_yet, report


def gelu_minimum():
    """(x, GELU(x)) at GELU's minimum, found on a fine grid (exact GELU)."""
    x = torch.linspace(-3, 0, 300_001, dtype=torch.float64)
    y = gelu_exact(x)
    i = int(y.argmin())
    return float(x[i]), float(y[i])


def check_gelu_minimum(answer):
    """Exercise: where (at which x) does GELU reach its smallest value?
    Two decimals are enough."""
    if no_answer_yet(answer):
        return Verdict(False)
    value = as_float(answer)
    x_min, y_min = gelu_minimum()
    ok = value is not None and abs(value - x_min) <= 0.01
    return report(
        ok,
        f"GELU's minimum is at x = {x_min:.2f}, where GELU(x) = {y_min:.2f}: the gradient is "
        "zero there, negative to its left and positive to its right.",
        "look for the x where the gradient of GELU changes sign (or where GELU(x) is "
        "smallest on a fine grid between -3 and 0); give one number.",
    )


def gelu_gradient_at(x, exact=False):
    """d GELU / dx at x by autograd (tanh approximation, or the exact GELU)."""
    xg = torch.tensor(float(x), dtype=torch.float64, requires_grad=True)
    (gelu_exact(xg) if exact else GELU()(xg)).backward()
    return float(xg.grad)


def check_gradient_at_minus_two(answer):
    """Exercise: the gradient of GELU (the package's tanh version) at x = -2.
    ReLU's gradient there is 0; GELU's is small but not zero."""
    if no_answer_yet(answer):
        return Verdict(False)
    value = as_float(answer)
    target = gelu_gradient_at(-2.0)
    exact = gelu_gradient_at(-2.0, exact=True)  # also accepted
    ok = value is not None and min(abs(value - target), abs(value - exact)) <= 5e-4
    return report(
        ok,
        f"GELU'(-2) = {target:.4f} (exact GELU: {exact:.4f}): small and negative, but not "
        "zero, so a negative input still gets a learning signal (ReLU's gradient there is "
        "exactly 0).",
        "make x = torch.tensor(-2.0, requires_grad=True), compute GELU()(x), call "
        ".backward() and read x.grad (ReLU would give 0; GELU does not).",
    )
