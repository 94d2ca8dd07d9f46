"""Notebook 12 (beyond the book): the same GPT with smaller numbers.

A batch-1 decoder reads every weight once per new token, and on a laptop
CPU reading is the slow part (notebook 09 measured it): fewer bytes per
weight, fewer bytes per token. Two ways, both returning a *new* model that
`generate`, `generate_text_simple` and `generate_text_cached` accept:

    small = quantize(model, "bf16")   # every number in bfloat16: 2 bytes instead of 4
    small = quantize(model, "int8")   # every Linear's weight in int8: 1 byte, plus a scale per row

bfloat16 keeps float32's range (8 exponent bits) with 8 bits of precision
instead of 24; the whole model, activations included, computes in it.

int8 stores each Linear's weight as whole numbers in [-127, 127] and one
float32 scale per output channel (per row of the [out, in] matrix): the
row's largest |weight| becomes 127 (absmax), the rest are rounded to the
nearest step of that size. Only the stored weights are int8; activations,
the embeddings and the LayerNorms stay float32 (see `quantize` for why).

`Int8Linear.forward` is the lesson, written to be read. The fast KV cache
(`KVCache`, `generate`) runs the same layer with torch's int8 weight kernel
(`int8_linear_fast`), which rounds the activations to bfloat16 on the way in
and the result on the way out; tests/test_smaller_numbers.py checks that the
two agree within that rounding.
"""

import copy
import math
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checks import check_gpt_model, check_token_ids

__all__ = [
    "BYTES_PER_NUMBER", "Int8Linear", "PRECISIONS", "Quality", "compare_quality",
    "int8_linear_fast", "model_bytes", "quantize", "quantize_per_channel",
    "weight_bytes_per_token",
]

# What one number costs in memory, by the names quantize() takes.
BYTES_PER_NUMBER = {"float32": 4, "bf16": 2, "int8": 1}
PRECISIONS = tuple(BYTES_PER_NUMBER)

INT8_MAX = 127  # symmetric: [-127, 127], so +max and -max both fit (int8 goes to -128, not +128)


# ------------------------------------------------------------- the lesson


def quantize_per_channel(w):
    """Quantize a [out, in] weight per output channel (per row), absmax:
    scales[j] = max|w[j]| / 127 and q = round(w / scales), clamped to
    [-127, 127], as int8. Returns (q [out, in] int8, scales [out] float), and
    q * scales[:, None] is the weight again, within half a step per row."""
    scales = w.abs().amax(dim=1) / INT8_MAX  # [out]: one per row, so a row of small weights keeps its detail
    # A row of zeros has scale 0; any scale turns it into q = 0, so use 1 and never divide by 0.
    scales = torch.where(scales == 0, torch.ones_like(scales), scales)
    q = torch.round(w / scales[:, None])  # to the nearest step, not towards 0
    q = q.clamp(-INT8_MAX, INT8_MAX)  # the largest is exactly 127 already; the clamp makes sure
    return q.to(torch.int8), scales


class Int8Linear(nn.Module):
    """An nn.Linear whose weight is stored as int8 plus one float scale per
    output channel: a quarter of the bytes. Built from a float nn.Linear;
    for inference (nothing here trains)."""

    def __init__(self, linear):
        super().__init__()
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"Int8Linear is built from an nn.Linear, got {type(linear).__name__}")
        self.in_features, self.out_features = linear.in_features, linear.out_features
        q, scales = quantize_per_channel(linear.weight.detach().float())
        self.register_buffer("q", q)             # [out, in] int8
        self.register_buffer("scales", scales)   # [out] float32
        bias = None if linear.bias is None else linear.bias.detach().float().clone()
        self.register_buffer("bias", bias)       # kept in float: out numbers, nothing to save

    def forward(self, x):
        # y = x W^T with W = q * scales (row j scaled by scales[j]). A row's scale
        # is the same for its whole sum, so it comes out of it: multiply the
        # out results, not the out x in weights; the product sees exact integers.
        y = F.linear(x, self.q.to(x.dtype)) * self.scales.to(x.dtype)
        return y if self.bias is None else y + self.bias.to(x.dtype)

    @classmethod
    def stacked(cls, *layers):
        """One Int8Linear computing `layers` (Int8Linears of the same
        in_features) side by side: their rows stacked. Scales are per row, so
        they stack with their rows (the fast cache fuses q, k and v so)."""
        has_bias = layers[0].bias is not None
        if any(layer.in_features != layers[0].in_features or (layer.bias is not None) != has_bias
               for layer in layers):
            raise ValueError("stacked Int8Linears need the same in_features, and all or none "
                             "with a bias")
        out_features = sum(layer.out_features for layer in layers)
        fused = cls(nn.Linear(layers[0].in_features, out_features, bias=has_bias, device="meta"))
        fused.q = torch.cat([layer.q for layer in layers])
        fused.scales = torch.cat([layer.scales for layer in layers])
        if has_bias:
            fused.bias = torch.cat([layer.bias for layer in layers])
        return fused

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 weight"


def int8_linear_fast(x, layer):
    """`layer(x)` for an Int8Linear, computed by torch's int8-weight kernel
    (aten._weight_int8pack_mm: int8 weights read as they are, float32
    sums) where it applies: on the CPU, for in_features a multiple of 64
    (the kernel needs whole blocks; GPT-2's sizes all are). It takes and
    returns bfloat16, so x and the result are rounded to bfloat16 (8
    significant bits). Elsewhere, the readable forward."""
    q = layer.q
    if x.device.type != "cpu" or q.device.type != "cpu" or layer.in_features % 64 or x.numel() == 0:
        return layer(x)
    scales = layer.scales.to(torch.bfloat16)
    rows = x.reshape(-1, layer.in_features).to(torch.bfloat16).contiguous()
    y = torch.ops.aten._weight_int8pack_mm(rows, q, scales)
    y = y.to(x.dtype).reshape(*x.shape[:-1], layer.out_features)
    return y if layer.bias is None else y + layer.bias.to(x.dtype)


# ------------------------------------------------------------- a whole model


def _check_precision(precision):
    if not isinstance(precision, str):
        raise TypeError(f"precision must be one of {list(PRECISIONS)} (a str), got "
                        f"{type(precision).__name__}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    return precision


def quantize(model, precision):
    """A new model: `model` (the course's GPTModel, float32) with smaller
    numbers; `model` itself is not changed. Returned in eval mode (it is for
    generating).

    "bf16": every parameter and buffer in bfloat16 (model.to(torch.bfloat16)
    on a copy); activations compute in bfloat16 too.
    "int8": every nn.Linear (q, k, v, out_proj, the feed forward's two and
    the output head) becomes an Int8Linear: those hold 99.9% of the bytes a
    token reads. The embeddings stay float32: a token reads one row of each,
    768 numbers, so int8 would save memory but no time per token. LayerNorm's
    scale and shift stay float32 too: 0.03% of the weights, and every
    activation passes through them. Activations stay float32 everywhere.
    "float32": an unchanged copy (to compare against, side by side).
    """
    cfg = check_gpt_model(model)
    precision = _check_precision(precision)
    if any(isinstance(m, Int8Linear) for m in model.modules()):
        raise ValueError("model is quantized already (it holds Int8Linear layers): quantize "
                         "the float32 model it came from")
    dtypes = {t.dtype for t in model.parameters()}
    if dtypes != {torch.float32}:
        found = ", ".join(sorted(str(d) for d in dtypes)) or "no parameters"
        raise ValueError(f"quantize starts from a float32 model, got {found}: convert it "
                         f"first with model.float()")
    small = copy.deepcopy(model).eval()
    if precision == "bf16":
        small.to(torch.bfloat16)
    elif precision == "int8":
        for parent in list(small.modules()):
            for name, child in list(parent.named_children()):
                if type(child) is nn.Linear:
                    setattr(parent, name, Int8Linear(child))
    return small


def model_bytes(model):
    """Bytes the model stores: its parameters and persistent buffers (its
    state_dict; attention's causal masks are rebuilt, not stored), each
    shared tensor once."""
    seen, total = set(), 0
    for tensor in model.state_dict(keep_vars=True).values():
        if tensor is None or id(tensor) in seen:
            continue
        seen.add(id(tensor))
        total += tensor.numel() * tensor.element_size()
    return total


def weight_bytes_per_token(model):
    """Bytes of weights one decoding step reads: everything `model_bytes`
    counts, except that of the two embedding tables a token reads one row
    each. (The cached keys and values come on top.)"""
    check_gpt_model(model)
    total = model_bytes(model)
    head = getattr(model.out_head, "weight", None)
    for table in (model.tok_emb.weight, model.pos_emb.weight):
        if table is not head:  # a tied head reads the whole table
            total -= (table.shape[0] - 1) * table.shape[1] * table.element_size()
    return total


# ------------------------------------------------------------- what it costs


class Quality(NamedTuple):
    """`model` against `reference` on the same token ids: every position's
    next-token logits compared."""

    max_logit_diff: float     # the largest |logit difference|, over every position and token
    top1_agreement: float     # share of positions whose most likely next token is the same
    loss_reference: float     # cross entropy of the reference on the next tokens
    loss: float               # the same for `model`
    positions: int            # positions compared

    @property
    def perplexity_reference(self):
        return math.exp(self.loss_reference)

    @property
    def perplexity(self):
        return math.exp(self.loss)


def compare_quality(reference, model, ids):
    """Quality of `model` against `reference` (both the course's GPTModel,
    any precision) on `ids` ([batch, n_tokens], n_tokens >= 2, at most the
    context): logits of positions 0..n-2 predict tokens 1..n-1. Computed in
    eval mode; the models' modes are restored."""
    for name, m in (("reference", reference), ("model", model)):
        cfg = check_gpt_model(m, name)
    check_token_ids(ids, cfg, name="ids")
    if ids.shape[1] < 2:
        raise ValueError(f"ids must hold at least 2 tokens per row (a position and the token "
                         f"that follows it), got shape {list(ids.shape)}")
    logits = []
    for m in (reference, model):
        was_training = m.training
        m.eval()
        try:
            with torch.inference_mode():
                logits.append(m(ids[:, :-1]).float())
        finally:
            m.train(was_training)
    ref, out = logits
    targets = ids[:, 1:].flatten()
    loss_ref = F.cross_entropy(ref.flatten(0, 1), targets)
    loss = F.cross_entropy(out.flatten(0, 1), targets)
    agree = (ref.argmax(-1) == out.argmax(-1)).float().mean()
    return Quality(max_logit_diff=float((ref - out).abs().max()), top1_agreement=float(agree),
                   loss_reference=float(loss_ref), loss=float(loss), positions=targets.numel())
