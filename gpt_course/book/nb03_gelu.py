"""Notebook 03: the GELU activation."""

import math

import torch
import torch.nn as nn


class GELU(nn.Module):
    """GELU with the tanh approximation GPT-2 was trained with."""

    # Notebook 09's fast path computes this with F.gelu (beyond/nb09_fast_kv_cache.py):
    # change it here and tests/test_fast_path_follows_the_lesson.py tells you to follow there.
    def forward(self, x):
        return 0.5 * x * (1 + torch.tanh(
            math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3))
        ))


def gelu_exact(x):
    """The exact GELU, x * Phi(x), with Phi the standard normal CDF."""
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))
