"""Notebook 06: the transformer block."""

import torch.nn as nn

from .nb06_attention import MultiHeadAttention
from ..config import dropout_rate, validate_config
from .nb04_feed_forward import FeedForward
from .nb02_layer_norm import LayerNorm


class TransformerBlock(nn.Module):
    """Pre-LayerNorm block: x + attention(norm(x)), then x + feed_forward(norm(x)).
    Normalizing *before* each sub-layer keeps the shortcut path a clean sum,
    which is what lets gradients flow through a deep stack."""

    def __init__(self, cfg):
        super().__init__()
        validate_config(cfg)
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            context_length=cfg["context_length"],
            num_heads=cfg["n_heads"],
            dropout=dropout_rate(cfg, "attn"),
            qkv_bias=cfg["qkv_bias"],
        )
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(dropout_rate(cfg, "shortcut"))

    def forward(self, x):
        shortcut = x
        x = self.norm1(x)
        x = self.att(x)
        x = self.drop_shortcut(x)
        x = x + shortcut

        shortcut = x
        x = self.norm2(x)
        x = self.ff(x)
        x = self.drop_shortcut(x)
        x = x + shortcut
        return x
