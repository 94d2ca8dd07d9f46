"""Beyond the book: a key/value cache for the course's `GPTModel`.

The book's loop (`generate_text_simple`) runs the whole sequence through the
model for every new token, recomputing the keys and values of all earlier
tokens, which never change: a token only attends to itself and the past.
A KV cache keeps each layer's keys and values, so each step runs only the
*new* token through the model and attends over the stored past.

`forward_with_cache(model, new_ids, cache)` computes exactly what
``model(ids)`` computes for the new positions (within float rounding), using
the model's own modules and weights; the model is not changed. Dropout is
not applied: the model must be in eval mode (``model.eval()``).

    cache = KVCache(model)
    logits = forward_with_cache(model, prompt_ids, cache)      # fills the cache
    next_id = logits[:, -1].argmax(-1, keepdim=True)
    logits = forward_with_cache(model, next_id, cache)         # one position
    cache.reset()                                              # a new prompt

The cache holds at most `context_length` positions (GPT-2 has no position
embedding beyond): going further raises ValueError instead of silently
computing garbage.
"""

import weakref

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..book.nb06_attention import MultiHeadAttention
from ..checks import check_token_ids
from ..book.nb04_feed_forward import FeedForward
from ..book.nb03_gelu import GELU
from ..book.nb02_layer_norm import LayerNorm

__all__ = ["KVCache", "forward_with_cache"]

# model -> {key: (signature of the parameters it was built from, tensors)}:
# the fused q/k/v weights and the input-major copies. Kept with the model
# (not the cache), so a new cache per prompt does not build them again;
# weak, so they go away with the model; rebuilt when a parameter changes.
_PACKED = weakref.WeakKeyDictionary()


def _signature(params):
    return tuple(None if p is None else (id(p), p._version, p.data_ptr()) for p in params)


def _packed(model, key, params, build):
    store = _PACKED.setdefault(model, {})
    signature = _signature(params)
    entry = store.get(key)
    if entry is None or entry[0] != signature:
        entry = store[key] = (signature, build(*params))
    return entry[1]


def _input_major(weight):
    """The same [out, in] matrix, stored as [in, out] (a transposed view of
    a contiguous copy). For one token, x @ W over a row-major W streams from
    memory faster on CPU than x @ W^T when the matrix is wider than tall."""
    return weight.t().contiguous().t()


def _fuse_qkv(w_q, w_k, w_v, b_q, b_k, b_v, input_major=True):
    weight = torch.cat((w_q, w_k, w_v), dim=0)  # [3d, d]
    if input_major:
        weight = _input_major(weight)
    bias = None if b_q is None else torch.cat((b_q, b_k, b_v), dim=0)
    return weight, bias


def _fuse_qkv_row_major(*params):
    return _fuse_qkv(*params, input_major=False)


class KVCache:
    """Preallocated keys and values for every layer of `model`, written in
    place: ``cache.keys`` and ``cache.values`` have shape
    [n_layers, batch_size, n_heads, max_length, head_dim]; positions
    [0, cache.length) are filled.

    `max_length` (default: the model's context_length, at most that) is the
    number of positions the cache can hold; `length` is how many it holds now.
    With the cache come, kept with the model and built on first use from its
    weights (rebuilt if they change): per layer, the query/key/value weights
    fused into one [3 * emb_dim, emb_dim] matrix (one matrix-vector product
    instead of three; 85 MB for GPT-2 124M). With ``input_major=True``
    (default) the fused matrix, the feed forward's first layer and the output
    head are stored [in, out]: for one token, CPU matrix-vector products over
    those wide matrices stream ~15-20% faster that way (float32, 2-core
    Xeon, torch 2.13). That costs memory: 350 MB in all for GPT-2 124M,
    against 85 MB with ``input_major=False``.
    """

    def __init__(self, model, batch_size=1, max_length=None, *, dtype=None, device=None,
                 input_major=True):
        cfg = _check_model(model)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        context_length = cfg["context_length"]
        if max_length is None:
            max_length = context_length
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"max_length must be a positive int, got {max_length!r}")
        if max_length > context_length:
            raise ValueError(
                f"max_length={max_length} exceeds the model's context_length "
                f"{context_length}: GPT-2 has no position embedding beyond it"
            )
        ref = model.out_head.weight
        dtype = dtype or ref.dtype
        device = device or ref.device
        n_heads = cfg["n_heads"]
        head_dim = cfg["emb_dim"] // n_heads
        shape = (cfg["n_layers"], batch_size, 2, n_heads, max_length, head_dim)
        # Keys and values side by side, so one copy stores both. Never read
        # before written (attention looks at [:length]), so not zeroed.
        self._kv = torch.empty(shape, dtype=dtype, device=device)
        self.keys = self._kv[:, :, 0]  # [layers, batch, heads, max_length, head_dim]
        self.values = self._kv[:, :, 1]
        self.batch_size = batch_size
        self.max_length = max_length
        self.length = 0
        self.input_major = bool(input_major)
        self._model_ref = weakref.ref(model)

    def reset(self):
        """Forget every cached position (for a new prompt); keeps the memory."""
        self.length = 0

    def __repr__(self):
        n_layers, batch, _, heads, max_len, head_dim = self._kv.shape
        return (
            f"KVCache(layers={n_layers}, batch_size={batch}, heads={heads}, "
            f"head_dim={head_dim}, length={self.length}/{max_len})"
        )


def _check_model(model, for_cache=True):
    cfg = getattr(model, "cfg", None)
    needed = ("tok_emb", "pos_emb", "trf_blocks", "final_norm", "out_head")
    if not isinstance(cfg, dict) or not all(hasattr(model, n) for n in needed):
        raise TypeError(
            f"model must be the course's GPTModel, got {type(model).__name__}"
        )
    if for_cache:
        for i, block in enumerate(model.trf_blocks):
            # exactly the course's class: a subclass may compute something else
            if type(getattr(block, "att", None)) is not MultiHeadAttention:
                raise TypeError(
                    f"trf_blocks[{i}].att is a {type(getattr(block, 'att', None)).__name__}; "
                    f"the KV cache reproduces the course's MultiHeadAttention only "
                    f"(generate(..., use_cache=False) works with any attention)"
                )
    return cfg


def _check_eval(model):
    if model.training and any(
        isinstance(m, nn.Dropout) and m.p > 0 for m in model.modules()
    ):
        raise ValueError(
            "the model is in training mode with dropout: the cached forward pass "
            "computes the eval-mode output, so call model.eval() first"
        )


def _layer_norm(norm):
    """A function x -> norm(x): F.layer_norm with the module's own parameters
    for the course's LayerNorm (one fused op), else the module itself."""
    if type(norm) is LayerNorm:
        shape, scale, shift, eps = norm.scale.shape, norm.scale, norm.shift, norm.eps
        return lambda x: torch.layer_norm(x, shape, scale, shift, eps, False)
    return norm


def _feed_forward(model, index, ff, input_major):
    """A function x -> ff(x), with F.linear / F.gelu for the course's FeedForward."""
    layers = getattr(ff, "layers", None)
    if (
        type(ff) is FeedForward
        and len(layers) == 3
        and type(layers[0]) is nn.Linear
        and type(layers[1]) is GELU
        and type(layers[2]) is nn.Linear
    ):
        w1, b1, w2, b2 = layers[0].weight, layers[0].bias, layers[2].weight, layers[2].bias
        if input_major:  # [4d, d]: wide, so input-major streams faster
            w1 = _packed(model, ("ff1", index), (w1,), _input_major)
        return lambda x: F.linear(F.gelu(F.linear(x, w1, b1), approximate="tanh"), w2, b2)
    return ff


def _plan(model, cache):
    """Everything a forward step needs, looked up once: per layer, its norms,
    fused q/k/v weights, cache slot and projections, as plain tensors and
    functions (module attribute lookups are slow in a per-token loop)."""
    layers = []
    for index, block in enumerate(model.trf_blocks):
        att = block.att
        qkv_params = (att.W_query.weight, att.W_key.weight, att.W_value.weight,
                      att.W_query.bias, att.W_key.bias, att.W_value.bias)
        if cache.input_major:
            w_qkv, b_qkv = _packed(model, ("qkv", index), qkv_params, _fuse_qkv)
        else:  # [3d, d] row-major, as nn.Linear stores it
            w_qkv, b_qkv = _packed(model, ("qkv-rows", index), qkv_params, _fuse_qkv_row_major)
        layers.append((
            _layer_norm(block.norm1), w_qkv, b_qkv, cache._kv[index],
            att.out_proj.weight, att.out_proj.bias, att.mask,
            _layer_norm(block.norm2), _feed_forward(model, index, block.ff, cache.input_major),
        ))
    w_head = model.out_head.weight
    if cache.input_major:  # [vocab, d]: the widest matrix of all
        w_head = _packed(model, "head", (w_head,), _input_major)
    head = (_layer_norm(model.final_norm), w_head, model.out_head.bias)
    cfg = model.cfg
    shape = (cfg["n_heads"], cfg["emb_dim"] // cfg["n_heads"], cfg["emb_dim"])
    return model.tok_emb.weight, model.pos_emb.weight, layers, head, shape


def forward_with_cache(model, new_ids, cache, *, all_logits=False):
    """Run the tokens `new_ids` ([batch, n_new]) that follow the
    ``cache.length`` positions already in `cache` through `model`, store their
    keys and values in the cache, and return the logits.

    Returns [batch, n_new, vocab_size] logits if ``all_logits=True``, else
    only the last position's, [batch, 1, vocab_size] (all a generation loop
    needs, and the output head is the largest matrix of the model).
    Raises ValueError if the cache would go beyond its max_length (at most the
    model's context_length), for a cache of another batch size or model, or
    for a model in training mode with dropout.
    """
    if not isinstance(cache, KVCache):
        raise TypeError(f"cache must be a KVCache, got {type(cache).__name__}")
    cfg = _check_model(model)
    if cache._model_ref() is not model:
        raise ValueError("this KVCache was made for another model: use KVCache(model)")
    check_token_ids(new_ids, cfg)
    _check_eval(model)
    batch, n_new = new_ids.shape
    if batch != cache.batch_size:
        raise ValueError(
            f"new_ids has batch size {batch}, the cache was made for "
            f"{cache.batch_size}: use KVCache(model, batch_size={batch})"
        )
    if cache.length + n_new > cache.max_length:
        raise ValueError(
            f"the cache holds {cache.length} positions and {n_new} new token(s) "
            f"would make {cache.length + n_new}, beyond its max_length "
            f"{cache.max_length} (context_length {cfg['context_length']}): GPT-2 has "
            f"no positions beyond its context. Start again from the last tokens "
            f"(cache.reset() and feed ids[:, -{cfg['context_length']}:]), or use the "
            f"uncached loop, which crops the context for every new token"
        )
    with torch.inference_mode():
        return _forward(_plan(model, cache), new_ids, cache, all_logits)


def _forward(plan, new_ids, cache, all_logits):
    """The cached forward pass, without the argument checks (call it in
    inference mode, with a plan from _plan)."""
    tok_emb, pos_emb, layers, head, (n_heads, head_dim, d) = plan
    batch, n_new = new_ids.shape
    start = cache.length
    end = start + n_new
    x = F.embedding(new_ids, tok_emb) + pos_emb[start:end]
    linear, sdpa = F.linear, F.scaled_dot_product_attention
    if n_new == 1:  # generating: one new token, which sees every cached position
        for norm1, w_qkv, b_qkv, kv, w_out, b_out, _, norm2, ff in layers:
            # with one token, [b, 1, 3d] is already [b, 3, heads, 1, head_dim]
            qkv = linear(norm1(x), w_qkv, b_qkv).view(batch, 3, n_heads, 1, head_dim)
            kv.narrow(3, start, 1).copy_(qkv[:, 1:])  # the new key and value
            keys, values = kv.narrow(3, 0, end).unbind(1)
            context = sdpa(qkv[:, 0], keys, values)  # [batch, heads, 1, head_dim]
            x = x + linear(context.reshape(batch, 1, d), w_out, b_out)
            x = x + ff(norm2(x))
    else:
        for norm1, w_qkv, b_qkv, kv, w_out, b_out, mask, norm2, ff in layers:
            # x + out_proj(softmax(q k^T / sqrt(head_dim)) v), q/k/v in one product
            qkv = linear(norm1(x), w_qkv, b_qkv).view(batch, n_new, 3, n_heads, head_dim)
            # keys and values of the new tokens into their slots [b, 2, heads, new, hd]
            kv.narrow(3, start, n_new).copy_(qkv[:, :, 1:].permute(0, 2, 3, 1, 4))
            queries = qkv[:, :, 0].transpose(1, 2)  # [batch, heads, n_new, head_dim]
            keys, values = kv.narrow(3, 0, end).unbind(1)  # [batch, heads, end, hd]
            if start == 0:
                context = sdpa(queries, keys, values, is_causal=True)
            else:  # new token j (position start + j) sees positions <= start + j
                context = sdpa(queries, keys, values, attn_mask=~mask[start:end, :end])
            context = context.transpose(1, 2).reshape(batch, n_new, d)
            x = x + linear(context, w_out, b_out)
            x = x + ff(norm2(x))
    cache.length = end
    final_norm, w_head, b_head = head
    if not all_logits:
        x = x[:, -1:]
    return linear(final_norm(x), w_head, b_head)
