"""Beyond the book: a key/value cache for the course's `GPTModel`, made fast.

The book's loop (`generate_text_simple`) runs the whole sequence through the
model for every new token, recomputing the keys and values of all earlier
tokens, which never change: a token only attends to itself and the past.
A KV cache keeps each layer's keys and values, so each step runs only the
*new* token through the model and attends over the stored past.

    cache = KVCache(model)                      # model.eval() first
    logits = cache.prefill(prompt_ids)          # a new sequence: [batch, 1, vocab]
    next_id = logits[:, -1].argmax(-1, keepdim=True)
    logits = cache.step(next_id)                # one position more
    logits = cache.prefill(other_prompt_ids)    # start again

The cached step computes what ``model(ids)`` computes for the new positions
(within float rounding), from the model's own weights; the model is not
changed, and dropout is not applied (the model must be in eval mode).
``forward_with_cache(model, new_ids, cache)`` is ``cache.step(new_ids)``.

Where the speed comes from, and what it costs:

* per layer, the query, key and value weights fused into one matrix (one
  matrix-vector product instead of three), and with ``input_major=True``
  (default) the fused matrix, the feed forward's first layer and the output
  head stored [in, out]: for one token, CPU matrix-vector products over those
  wide matrices stream faster that way (float32, torch 2.13: about 2x on a
  2-core AMD EPYC, 15-20% on a 2-core Xeon). These are *copies* (350 MB for
  GPT-2 124M, made in about 0.15 s; 85 MB with ``input_major=False``), made
  when a sequence begins (`prefill`, or the first `step` after making or
  resetting the cache), from the weights as they are then. Copies kept
  across sequences could silently go stale when the weights change (training,
  ``p.data``, ``load_state_dict``...), so none outlive their sequence.
  Every other weight is read from the model directly. Do not change the
  weights in the middle of a sequence: its cached keys and values were
  computed with the old ones; start a new sequence after changing them.
* the course's `LayerNorm` and `GELU` computed by torch's fused ops
  (`fast_layer_norm`, `fast_gelu`), attention by
  ``F.scaled_dot_product_attention``: the same formulas as the book's
  modules, re-implemented; tests/test_fast_path_follows_the_lesson.py checks
  that they agree, so a change to the book's modules cannot silently leave
  this path behind.
* notebook 12's int8 weights (`quantize(model, "int8")`): a Linear may be an
  `Int8Linear`; q, k and v are then fused by stacking their int8 rows and
  per-row scales (`Int8Linear.stacked`), run by torch's int8 kernel
  (`int8_linear_fast`, bfloat16 in and out), and never copied input-major
  (that kernel reads [out, in]). A bfloat16 model (`quantize(model, "bf16")`)
  runs as any model in its dtype.

The cache holds at most `context_length` positions (GPT-2 has no position
embedding beyond): going further raises ValueError instead of silently
computing garbage. `generate` (nb09_sampling) goes past the context the way
the book's loop does.
"""

from typing import Callable, NamedTuple, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..book.nb02_layer_norm import LayerNorm
from ..book.nb03_gelu import GELU
from ..book.nb04_feed_forward import FeedForward
from ..book.nb06_attention import MultiHeadAttention
from ..book.nb06_transformer_block import TransformerBlock
from ..book.nb07_gpt_model import GPTModel
from ..checks import check_bool, check_eval_mode, check_gpt_model, check_int, check_token_ids
from .nb12_smaller_numbers import Int8Linear, int8_linear_fast

__all__ = [
    "BlockWeights",
    "KVCache",
    "ModelWeights",
    "check_cacheable",
    "fast_feed_forward",
    "fast_gelu",
    "fast_layer_norm",
    "forward_with_cache",
    "pack_weights",
]

# Output rows copied at a time when re-laying a matrix out [in, out]: a
# transposed copy in pieces that fit the CPU caches runs about twice as fast
# as one big `w.t().contiguous()`.
_TRANSPOSE_ROWS = 256


# ----------------------------------------------------- what may be cached


def check_cacheable(model, name="model"):
    """Return the model's config if the KV cache can reproduce `model`
    exactly: the course's GPTModel with the course's TransformerBlock and
    MultiHeadAttention (nn.Linear projections, or notebook 12's Int8Linear:
    q, k and v all the one or all the other). Anything else may compute
    something the cached step does not, so it is refused with a TypeError
    that points to ``use_cache=False`` (which runs any model)."""
    cfg = check_gpt_model(model, name)

    def refuse(what, got):
        raise TypeError(
            f"{name}{what} is a {type(got).__name__}; the KV cache reproduces the "
            f"course's GPTModel, TransformerBlock and MultiHeadAttention exactly and "
            f"nothing else (generate(..., use_cache=False) works with any model)"
        )

    # exactly the course's classes: a subclass may compute something else
    if type(model).forward is not GPTModel.forward:
        refuse("", model)
    for i, block in enumerate(model.trf_blocks):
        if type(block) is not TransformerBlock:
            refuse(f".trf_blocks[{i}]", block)
        att = block.att
        if type(att) is not MultiHeadAttention:
            refuse(f".trf_blocks[{i}].att", att)
        for part in ("W_query", "W_key", "W_value", "out_proj"):
            if type(getattr(att, part)) not in _LINEARS:
                refuse(f".trf_blocks[{i}].att.{part}", getattr(att, part))
        if len({type(att.W_query), type(att.W_key), type(att.W_value)}) != 1:
            raise TypeError(
                f"{name}.trf_blocks[{i}].att mixes nn.Linear and Int8Linear in W_query, W_key "
                f"and W_value: the KV cache fuses the three, so they must be alike (quantize "
                f"the float32 model with quantize(model, 'int8'))"
            )
    if type(model.out_head) not in _LINEARS:
        refuse(".out_head", model.out_head)
    return cfg


# The projections the fast path runs: float, or notebook 12's int8 weights.
_LINEARS = (nn.Linear, Int8Linear)


def _linear(x, weight, bias):
    """F.linear(x, weight, bias), or for an Int8Linear (its bias inside, `bias`
    None) torch's int8 kernel."""
    if isinstance(weight, Int8Linear):
        return int8_linear_fast(x, weight)
    return F.linear(x, weight, bias)


def _check_eval_mode(model):
    """ValueError if `model` would apply dropout: the cached step computes the
    eval-mode output only (`checks.check_eval_mode`, the rule of every
    generation path)."""
    check_eval_mode(model)


def _model_dtype_and_device(model):
    """The one (dtype, device) of all of `model`'s parameters; ValueError if
    they are spread over several (the model half converted)."""
    kinds = {(p.dtype, p.device) for p in model.parameters()}
    if len(kinds) != 1:
        found = ", ".join(sorted(f"{dtype} on {device}" for dtype, device in kinds))
        raise ValueError(
            f"the model's parameters are in several dtypes or devices ({found}): "
            f"convert the whole model, e.g. model.to(torch.float32)"
        )
    return kinds.pop()


# ----------------------------------------- the book's pieces, made faster


def fast_layer_norm(norm):
    """A function x -> norm(x). For the course's LayerNorm it is torch's fused
    layer_norm with the module's own parameters (the book's formula: biased
    variance, eps inside the square root); for any other module, the module."""
    if type(norm) is LayerNorm:
        scale, shift, eps = norm.scale, norm.shift, norm.eps
        shape = scale.shape
        return lambda x: torch.layer_norm(x, shape, scale, shift, eps, False)
    return norm


def fast_gelu(x):
    """The book's GELU (the tanh approximation) as torch's fused op."""
    return F.gelu(x, approximate="tanh")


def fast_feed_forward(ff, input_major=True):
    """A function x -> ff(x). For the course's FeedForward (Linear, GELU,
    Linear) it is F.linear / fast_gelu on the module's own weights, the first
    one as an input-major copy when `input_major`; else the module itself."""
    layers = getattr(ff, "layers", None)
    if (
        type(ff) is FeedForward
        and type(layers) is nn.Sequential
        and len(layers) == 3
        and type(layers[0]) is nn.Linear
        and type(layers[1]) is GELU
        and type(layers[2]) is nn.Linear
    ):
        w1, b1, w2, b2 = layers[0].weight, layers[0].bias, layers[2].weight, layers[2].bias
        if input_major:  # [4d, d]: wide, so input-major streams faster
            w1 = _input_major_copy(w1)
        return lambda x: F.linear(fast_gelu(F.linear(x, w1, b1)), w2, b2)
    if (
        type(ff) is FeedForward
        and type(layers) is nn.Sequential
        and len(layers) == 3
        and type(layers[0]) is Int8Linear
        and type(layers[1]) is GELU
        and type(layers[2]) is Int8Linear
    ):
        first, second = layers[0], layers[2]
        return lambda x: int8_linear_fast(fast_gelu(int8_linear_fast(x, first)), second)
    return ff


def _input_major_copy(*weights):
    """The [out, in] matrices `weights`, stacked along `out`, as one
    [sum of out, in] matrix stored [in, out] (a transposed view of a
    contiguous copy). For one token, x @ W over a row-major W streams from
    memory faster on CPU than x @ W^T when the matrix is wider than tall."""
    rows = sum(w.shape[0] for w in weights)
    copy = weights[0].new_empty(weights[0].shape[1], rows)
    start = 0
    for weight in weights:
        for first in range(0, weight.shape[0], _TRANSPOSE_ROWS):
            piece = weight[first:first + _TRANSPOSE_ROWS]
            copy[:, start:start + piece.shape[0]].copy_(piece.t())
            start += piece.shape[0]
    return copy.t()


# --------------------------------------------- the weights a step reads


class BlockWeights(NamedTuple):
    """One TransformerBlock as a cached step reads it: plain tensors and
    functions, looked up once per sequence (module attribute lookups are
    slow in a per-token loop)."""

    norm1: Callable                   # x -> block.norm1(x)
    w_qkv: torch.Tensor               # W_query, W_key, W_value stacked: [3 * emb_dim, emb_dim]
    b_qkv: Optional[torch.Tensor]     # their biases stacked, or None (qkv_bias=False)
    w_out: torch.Tensor               # att.out_proj
    # (int8 models: w_qkv and w_out are Int8Linears, stacked for w_qkv, with
    # their biases inside; b_qkv and b_out are None)
    b_out: torch.Tensor
    mask: torch.Tensor                # att.mask: True where a position is in the future
    norm2: Callable                   # x -> block.norm2(x)
    ff: Callable                      # x -> block.ff(x)


class ModelWeights(NamedTuple):
    """The whole model as a cached step reads it."""

    tok_emb: nn.Module                # the model's own embedding modules, called
    pos_emb: nn.Module                # as GPTModel.forward calls them
    blocks: tuple                     # one BlockWeights per transformer block
    final_norm: Callable              # x -> model.final_norm(x)
    w_head: torch.Tensor              # out_head: [vocab_size, emb_dim] (or its Int8Linear)
    b_head: Optional[torch.Tensor]
    n_heads: int
    head_dim: int


def pack_weights(model, *, input_major=True):
    """Read `model` (checked with `check_cacheable`) into ModelWeights: the
    fused q/k/v matrices and, with `input_major`, the input-major copies are
    made now, from the weights as they are now; everything else refers to the
    model's own tensors and modules. Input-major copies are made for float32
    and float64 weights only: in bfloat16 and float16, torch's CPU
    matrix-vector product over that layout runs 5-10x slower, not faster
    (measured with torch 2.13 on a 2-core AMD EPYC without native bfloat16)."""
    input_major = input_major and model.tok_emb.weight.dtype in (torch.float32, torch.float64)
    blocks = []
    for block in model.trf_blocks:
        att = block.att
        projections = (att.W_query, att.W_key, att.W_value)
        if type(att.W_query) is Int8Linear:  # notebook 12: rows and their scales stacked
            blocks.append(BlockWeights(
                norm1=fast_layer_norm(block.norm1), w_qkv=Int8Linear.stacked(*projections),
                b_qkv=None, mask=att.mask, **_weight_and_bias("w_out", "b_out", att.out_proj),
                norm2=fast_layer_norm(block.norm2), ff=fast_feed_forward(block.ff, input_major),
            ))
            continue
        if input_major:
            w_qkv = _input_major_copy(*(p.weight for p in projections))
        else:  # [3d, d] row-major, as nn.Linear stores it
            w_qkv = torch.cat([p.weight for p in projections])
        b_qkv = None if att.W_query.bias is None else torch.cat([p.bias for p in projections])
        blocks.append(BlockWeights(
            norm1=fast_layer_norm(block.norm1), w_qkv=w_qkv, b_qkv=b_qkv,
            mask=att.mask, **_weight_and_bias("w_out", "b_out", att.out_proj),
            norm2=fast_layer_norm(block.norm2), ff=fast_feed_forward(block.ff, input_major),
        ))
    head = _weight_and_bias("w_head", "b_head", model.out_head)
    if input_major and type(model.out_head) is nn.Linear:  # [vocab, d]: the widest matrix of all
        head["w_head"] = _input_major_copy(head["w_head"])
    n_heads = model.cfg["n_heads"]
    return ModelWeights(
        tok_emb=model.tok_emb, pos_emb=model.pos_emb, blocks=tuple(blocks),
        final_norm=fast_layer_norm(model.final_norm), **head, n_heads=n_heads,
        head_dim=model.cfg["emb_dim"] // n_heads,
    )


def _weight_and_bias(weight, bias, linear):
    """{weight: the nn.Linear's weight, bias: its bias}, or for an Int8Linear
    {weight: the layer itself, bias: None} (`_linear` runs it whole)."""
    if type(linear) is Int8Linear:
        return {weight: linear, bias: None}
    return {weight: linear.weight, bias: linear.bias}


# ------------------------------------------------------------ the cache


class KVCache:
    """Preallocated keys and values for every layer of `model`, written in
    place: ``cache.keys`` and ``cache.values`` have shape
    [n_layers, batch_size, n_heads, max_length, head_dim]; positions
    [0, cache.length) are filled.

    `max_length` (default and at most: the model's context_length) is the
    number of positions the cache can hold; `length` is how many it holds now.
    `dtype` and `device` are the model's (the only values accepted: to run
    in float64, convert the model, ``model.to(torch.float64)``).
    `input_major`: see the module's docstring (speed against memory).

    A sequence begins with `prefill` (or the first `step` after making or
    resetting the cache); the weights are read then, so the cache never runs
    on a stale copy of them.
    """

    def __init__(self, model, batch_size=1, max_length=None, *, dtype=None, device=None,
                 input_major=True):
        cfg = check_cacheable(model)
        check_int("batch_size", batch_size, low=1)
        context_length = cfg["context_length"]
        if max_length is None:
            max_length = context_length
        check_int("max_length", max_length, low=1, high=context_length,
                  why=" (the model's context_length: GPT-2 has no position embedding beyond)")
        model_dtype, model_device = _model_dtype_and_device(model)
        if dtype is not None:
            if not isinstance(dtype, torch.dtype):
                raise TypeError(f"dtype must be a torch.dtype or None, got {dtype!r}")
            if dtype != model_dtype:
                raise ValueError(
                    f"dtype={dtype}: the cache stores keys and values in the model's "
                    f"dtype, {model_dtype}; to run in {dtype}, convert the model "
                    f"(model.to({dtype})) and leave dtype out"
                )
        if device is not None:
            if not isinstance(device, (str, torch.device)):
                raise TypeError(f"device must be a str, a torch.device or None, got {device!r}")
            try:
                wanted = torch.device(device)
            except RuntimeError as err:
                raise ValueError(f"device={device!r} is not a device: {err}") from None
            if wanted.index is None and wanted.type == model_device.type:
                wanted = model_device
            if wanted != model_device:
                raise ValueError(
                    f"device={device!r}: the cache lives where the model is, "
                    f"{model_device}; move the model (model.to({str(wanted)!r})) and "
                    f"leave device out"
                )
        self.input_major = check_bool("input_major", input_major)
        n_heads = cfg["n_heads"]
        head_dim = cfg["emb_dim"] // n_heads
        shape = (len(model.trf_blocks), batch_size, 2, n_heads, max_length, head_dim)
        # Keys and values side by side, so one copy stores both. Never read
        # before written (attention looks at [:length]), so not zeroed.
        self._kv = torch.empty(shape, dtype=model_dtype, device=model_device)
        self._slots = self._kv.unbind(0)  # one [batch, 2, heads, max_length, hd] per layer
        self.keys = self._kv[:, :, 0]  # [layers, batch, heads, max_length, head_dim]
        self.values = self._kv[:, :, 1]
        self.model = model
        self.batch_size = batch_size
        self.max_length = max_length
        self.length = 0
        self.weights = None  # ModelWeights of the current sequence
        # True after a prefill stopped halfway had overwritten cached positions
        # in some layers: the sequence it held is gone, and `step` refuses to go
        # on from it (it would silently begin a new sequence at position 0).
        self.broken = False

    def reset(self):
        """Forget every cached position (for a new prompt); keeps the memory.
        The next step begins a new sequence and reads the weights again."""
        self.length = 0
        self.broken = False

    def prefill(self, ids):
        """Begin a new sequence with `ids` ([batch, n_tokens]): forget the
        cached positions, read the weights, run `ids` and return the logits of
        the last position, [batch, 1, vocab_size]. A refused call (a
        ValueError / TypeError) changes nothing; a call stopped halfway (an
        error inside, KeyboardInterrupt) leaves the cache either as it was or,
        when it had begun to overwrite the previous sequence, refusing any
        `step` until the next `prefill` or `reset`."""
        return self._forward(ids, 0, False)

    def step(self, new_ids, *, all_logits=False):
        """Run the tokens `new_ids` ([batch, n_new]) that follow the
        ``length`` positions already cached, store their keys and values, and
        return the logits: [batch, n_new, vocab_size] with ``all_logits=True``,
        else only the last position's, [batch, 1, vocab_size] (all a generation
        loop needs; the output head is the largest matrix of the model).

        Raises ValueError beyond max_length (at most the model's
        context_length), for another batch size, or for a model in training
        mode with dropout; the cache is unchanged then. A step stopped halfway
        (an error inside, KeyboardInterrupt) leaves it unchanged too: keys and
        values are written only beyond ``length``, which moves on last.
        """
        if self.broken:
            raise ValueError(
                "a prefill was stopped halfway (an error or KeyboardInterrupt) after it had "
                "begun to overwrite the cached keys and values: the sequence the cache held "
                "is gone. Start again with cache.prefill(ids) (or cache.reset())"
            )
        return self._forward(new_ids, self.length, all_logits)

    def _forward(self, new_ids, start, all_logits):
        """Check, then run `new_ids` at positions start, start + 1, ...
        (0: a new sequence) and commit: `length` and `weights` change only
        once the whole pass is done."""
        cfg = self.model.cfg
        check_token_ids(new_ids, cfg, name="new_ids")
        check_bool("all_logits", all_logits)
        _check_eval_mode(self.model)
        batch, n_new = new_ids.shape
        if batch != self.batch_size:
            raise ValueError(
                f"new_ids has batch size {batch}, the cache was made for "
                f"{self.batch_size}: use KVCache(model, batch_size={batch})"
            )
        if start + n_new > self.max_length:
            raise ValueError(
                f"the cache holds {start} positions and {n_new} new token(s) "
                f"would make {start + n_new}, beyond its max_length "
                f"{self.max_length} (context_length {cfg['context_length']}): GPT-2 has "
                f"no positions beyond its context. Start again from the last tokens "
                f"(cache.prefill(ids[:, -{cfg['context_length']}:])), or use "
                f"generate(), which crops the context like the book's loop"
            )
        # a new sequence: read the weights as they are now
        weights = self._read_weights() if start == 0 else self.weights
        try:
            with torch.inference_mode():
                logits = self._run(weights, new_ids, start, all_logits)
        except BaseException:
            # positions [start, start + n_new) of some layers were written. Beyond
            # `length` nothing reads them (the next step writes them again); below
            # it, the sequence the cache held is partly overwritten.
            if start < self.length:
                self.length, self.broken = 0, True
            raise
        self.weights, self.length, self.broken = weights, start + n_new, False
        return logits

    def _read_weights(self):
        # The model may have changed since the cache was made: check it again.
        check_cacheable(self.model)
        dtype, device = _model_dtype_and_device(self.model)
        if (dtype, device) != (self._kv.dtype, self._kv.device) or len(self._slots) != len(
            self.model.trf_blocks
        ):
            raise ValueError(
                f"this cache was made for a model in {self._kv.dtype} on {self._kv.device} "
                f"with {len(self._slots)} blocks; the model is now {dtype} on {device} with "
                f"{len(self.model.trf_blocks)}: make a new KVCache(model)"
            )
        with torch.inference_mode():
            return pack_weights(self.model, input_major=self.input_major)

    def _run(self, w, new_ids, start, all_logits):
        """The cached forward pass itself (arguments checked, inference mode),
        with the ModelWeights `w`, the new tokens at positions start, ...; it
        writes their keys and values but does not move `length`."""
        n_heads, head_dim = w.n_heads, w.head_dim
        d = n_heads * head_dim
        batch, n_new = new_ids.shape
        end = start + n_new
        positions = torch.arange(start, end, device=new_ids.device)
        x = w.tok_emb(new_ids) + w.pos_emb(positions)
        linear, sdpa = _linear, F.scaled_dot_product_attention
        if n_new == 1:  # generating: one new token, which sees every cached position
            for layer, kv in zip(w.blocks, self._slots):
                # with one token, [b, 1, 3d] is already [b, 3, heads, 1, head_dim]
                qkv = linear(layer.norm1(x), layer.w_qkv, layer.b_qkv)
                qkv = qkv.view(batch, 3, n_heads, 1, head_dim)
                kv.narrow(3, start, 1).copy_(qkv[:, 1:])  # the new key and value
                keys, values = kv.narrow(3, 0, end).unbind(1)
                context = sdpa(qkv[:, 0], keys, values)  # [batch, heads, 1, head_dim]
                x = x + linear(context.reshape(batch, 1, d), layer.w_out, layer.b_out)
                x = x + layer.ff(layer.norm2(x))
        else:
            for layer, kv in zip(w.blocks, self._slots):
                # x + out_proj(softmax(q k^T / sqrt(head_dim)) v), q/k/v in one product
                qkv = linear(layer.norm1(x), layer.w_qkv, layer.b_qkv)
                qkv = qkv.view(batch, n_new, 3, n_heads, head_dim)
                # keys and values of the new tokens into their slots [b, 2, heads, new, hd]
                kv.narrow(3, start, n_new).copy_(qkv[:, :, 1:].permute(0, 2, 3, 1, 4))
                queries = qkv[:, :, 0].transpose(1, 2)  # [batch, heads, n_new, head_dim]
                keys, values = kv.narrow(3, 0, end).unbind(1)  # [batch, heads, end, hd]
                if start == 0:
                    context = sdpa(queries, keys, values, is_causal=True)
                else:  # new token j (position start + j) sees positions <= start + j
                    context = sdpa(queries, keys, values, attn_mask=~layer.mask[start:end, :end])
                context = context.transpose(1, 2).reshape(batch, n_new, d)
                x = x + linear(context, layer.w_out, layer.b_out)
                x = x + layer.ff(layer.norm2(x))
        if not all_logits:
            x = x[:, -1:]
        return linear(w.final_norm(x), w.w_head, w.b_head)

    def __repr__(self):
        n_layers, batch, _, heads, max_len, head_dim = self._kv.shape
        return (
            f"KVCache(layers={n_layers}, batch_size={batch}, heads={heads}, "
            f"head_dim={head_dim}, length={self.length}/{max_len})"
        )


def forward_with_cache(model, new_ids, cache, *, all_logits=False):
    """``cache.step(new_ids, all_logits=all_logits)``, for a cache made for
    `model`: run the tokens `new_ids` ([batch, n_new]) that follow the
    ``cache.length`` positions already in `cache` through `model`, store their
    keys and values, and return the logits (see `KVCache.step`)."""
    if not isinstance(cache, KVCache):
        raise TypeError(f"cache must be a KVCache, got {type(cache).__name__}")
    check_gpt_model(model)
    if cache.model is not model:
        raise ValueError("this KVCache was made for another model: use KVCache(model)")
    return cache.step(new_ids, all_logits=all_logits)
