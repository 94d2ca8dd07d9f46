"""Notebook 07: the full GPT model."""

import torch
import torch.nn as nn

from ..checks import check_token_ids
from ..config import dropout_rate, validate_config
from .nb02_layer_norm import LayerNorm
from .nb06_transformer_block import TransformerBlock


class GPTModel(nn.Module):
    """Token and position embeddings, n_layers transformer blocks, a final
    LayerNorm, and a linear head that scores every vocabulary entry."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = validate_config(cfg)
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(dropout_rate(cfg, "emb"))
        self.trf_blocks = nn.Sequential(
            *[TransformerBlock(cfg) for _ in range(cfg["n_layers"])]
        )
        self.final_norm = LayerNorm(cfg["emb_dim"])
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
