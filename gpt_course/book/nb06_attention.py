"""Notebook 06 (recap of the previous chapter): causal multi-head attention."""

import torch
import torch.nn as nn

from ..checks import check_bool, check_int, check_real


class MultiHeadAttention(nn.Module):
    """Causal self-attention with `num_heads` heads, each attending over
    d_out / num_heads dimensions; the heads' outputs are concatenated and mixed
    by a final linear projection."""

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        _check_attention_args(d_in, d_out, context_length, dropout, num_heads, qkv_bias)
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
        _check_attention_input(self, x)  # a clear error for a wrong shape or too many tokens
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


# The argument checks, kept out of the class so that it reads as the book's.

_MAX_SIZE = 2**63 - 1


def _check_attention_args(d_in, d_out, context_length, dropout, num_heads, qkv_bias):
    """TypeError / ValueError naming the argument, before any layer is built."""
    for name, size in (("d_in", d_in), ("d_out", d_out), ("context_length", context_length)):
        check_int(name, size, low=1, high=_MAX_SIZE, why=" (a size: torch's are 64-bit)")
    check_real("dropout", dropout, low=0, high=1, high_open=True)
    check_int("num_heads", num_heads, low=1, high=d_out,
              why=" (each head gets d_out // num_heads dimensions)")
    check_bool("qkv_bias", qkv_bias)
    if d_out % num_heads:
        raise ValueError(f"d_out = {d_out} is not divisible by num_heads = {num_heads}")


def _check_attention_input(att, x):
    """ValueError / TypeError naming x unless it is [batch, num_tokens, d_in]
    floats with at most context_length tokens (the mask has no rows beyond)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"x must be a torch.Tensor [batch, num_tokens, d_in], got {type(x).__name__}")
    d_in = getattr(att.W_query, "in_features", None)  # None: a projection of another kind
    if x.dim() != 3 or (d_in is not None and x.shape[-1] != d_in):
        raise ValueError(
            f"x must have shape [batch, num_tokens, d_in={d_in}], got {list(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be floating point (embeddings), got dtype {x.dtype}")
    if x.shape[1] > att.mask.shape[0]:
        raise ValueError(
            f"x has {x.shape[1]} tokens, more than the context_length {att.mask.shape[0]} this "
            f"attention was built for (its causal mask has no rows beyond); keep the last "
            f"{att.mask.shape[0]} tokens")
