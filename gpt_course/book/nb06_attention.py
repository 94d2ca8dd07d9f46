"""Notebook 06 (recap of the previous chapter): causal multi-head attention."""

import torch
import torch.nn as nn


class MultiHeadAttention(nn.Module):
    """Causal self-attention with `num_heads` heads, each attending over
    d_out / num_heads dimensions; the heads' outputs are concatenated and mixed
    by a final linear projection."""

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        if d_out % num_heads:
            raise ValueError(
                f"d_out = {d_out} is not divisible by num_heads = {num_heads}"
            )
        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        # True above the diagonal: the future positions a token may not see.
        # Not a parameter, and rebuilt from the config, so not saved in state_dict.
        self.register_buffer(
            "mask",
            torch.triu(torch.ones(context_length, context_length, dtype=torch.bool), diagonal=1),
            persistent=False,
        )

    def forward(self, x):
        b, num_tokens, d_in = x.shape
        # [b, num_tokens, d_out] -> [b, num_heads, num_tokens, head_dim]
        queries = self.W_query(x).view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)
        keys = self.W_key(x).view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)
        values = self.W_value(x).view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)

        attn_scores = queries @ keys.transpose(2, 3)  # [b, heads, tokens, tokens]
        mask = self.mask[:num_tokens, :num_tokens]
        attn_scores.masked_fill_(mask, -torch.inf)
        # Scale by sqrt(head_dim) so the softmax does not saturate as heads widen.
        attn_weights = torch.softmax(attn_scores / self.head_dim**0.5, dim=-1)
        attn_weights = self.dropout(attn_weights)

        context = (attn_weights @ values).transpose(1, 2)  # [b, tokens, heads, head_dim]
        context = context.contiguous().view(b, num_tokens, self.d_out)
        return self.out_proj(context)
