"""Notebook 04: the position-wise feed forward network."""

import torch.nn as nn

from ..config import validate_config
from .nb03_gelu import GELU


class FeedForward(nn.Module):
    """Expand each token vector 4x, apply GELU, project back: the same small
    MLP applied to every position independently."""

    def __init__(self, cfg):
        super().__init__()
        validate_config(cfg, required=("emb_dim",))
        self.layers = nn.Sequential(
            nn.Linear(cfg["emb_dim"], 4 * cfg["emb_dim"]),
            GELU(),
            nn.Linear(4 * cfg["emb_dim"], cfg["emb_dim"]),
        )

    def forward(self, x):
        return self.layers(x)
