"""Notebook 02: layer normalization."""

import torch
import torch.nn as nn


class LayerNorm(nn.Module):
    """Normalize each token vector to mean 0 and variance 1 over its last
    dimension, then apply a learned scale and shift."""

    def __init__(self, emb_dim, eps=1e-5):
        super().__init__()
        self.eps = eps  # keeps the division finite when a vector is constant
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    # Notebook 09's fast path computes this with torch.layer_norm (beyond/nb09_fast_kv_cache.py):
    # change it here and tests/test_fast_path_follows_the_lesson.py tells you to follow there.
    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)
        # Biased variance (divide by n, not n - 1), as GPT-2 and
        # torch.nn.LayerNorm do: we normalize this vector, we do not
        # estimate the variance of a population from a sample.
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        norm_x = (x - mean) / torch.sqrt(var + self.eps)
        return self.scale * norm_x + self.shift
