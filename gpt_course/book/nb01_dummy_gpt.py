"""Notebook 01: the skeleton of a GPT model, with placeholder parts.

The shapes are real (token ids in, one logit per vocabulary entry out); the
transformer block and the layer norm do nothing yet. Later notebooks replace
them one at a time.
"""

import torch
import torch.nn as nn

from ..checks import check_token_ids
from ..config import validate_config


class DummyGPTModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = validate_config(cfg)
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.Sequential(
            *[DummyTransformerBlock(cfg) for _ in range(cfg["n_layers"])]
        )
        self.final_norm = DummyLayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def forward(self, in_idx):
        check_token_ids(in_idx, self.cfg)
        batch_size, seq_len = in_idx.shape
        tok_embeds = self.tok_emb(in_idx)
        pos_embeds = self.pos_emb(torch.arange(seq_len, device=in_idx.device))
        x = tok_embeds + pos_embeds  # [batch, seq_len, emb_dim]
        x = self.drop_emb(x)
        x = self.trf_blocks(x)
        x = self.final_norm(x)
        logits = self.out_head(x)  # [batch, seq_len, vocab_size]
        return logits


class DummyTransformerBlock(nn.Module):
    """Placeholder: returns its input unchanged (the real one is notebook 06)."""

    def __init__(self, cfg):
        super().__init__()

    def forward(self, x):
        return x


class DummyLayerNorm(nn.Module):
    """Placeholder: returns its input unchanged (the real one is notebook 02)."""

    def __init__(self, normalized_shape, eps=1e-5):
        super().__init__()

    def forward(self, x):
        return x
