"""The fast path follows the lesson.

The KV cache (gpt_course/beyond/nb09_fast_kv_cache.py) does not call the
book's LayerNorm, GELU, FeedForward and MultiHeadAttention: it re-implements
them with torch's fused ops, for speed. If the book's modules change (a
learner tries the unbiased variance, another GELU...), the fast path would
silently compute something else. This one test compares each book module
with its re-implementation, in float64 so that a real difference cannot hide
in rounding, and its failure message says where to look.
"""

import pytest
import torch

from gpt_course import GELU, GPT_CONFIG_124M, FeedForward, GPTModel, KVCache, LayerNorm
from gpt_course.beyond.nb09_fast_kv_cache import fast_feed_forward, fast_gelu, fast_layer_norm

FAST = "gpt_course/beyond/nb09_fast_kv_cache.py"


def _inputs(dim, seed):
    g = torch.Generator().manual_seed(seed)
    # ordinary activations, large ones, a near-constant row (eps matters), one token
    return [
        torch.randn(2, 5, dim, generator=g, dtype=torch.float64),
        30 * torch.randn(1, 3, dim, generator=g, dtype=torch.float64),
        1.0 + 1e-3 * torch.randn(1, 2, dim, generator=g, dtype=torch.float64),
        torch.randn(1, 1, dim, generator=g, dtype=torch.float64),
    ]


def _randomize(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5 + (p.dim() == 1))
    return module


def _layer_norm():
    for dim in (2, 7, 64, 768):
        for eps in (1e-5, 0.1):
            norm = _randomize(LayerNorm(dim, eps=eps).double(), dim)
            fast = fast_layer_norm(norm)
            for x in _inputs(dim, dim):
                yield f"emb_dim={dim}, eps={eps}, x of shape {list(x.shape)}", norm(x), fast(x)


def _gelu():
    x = torch.linspace(-12, 12, 2001, dtype=torch.float64)
    yield "x in [-12, 12]", GELU()(x), fast_gelu(x)
    for x in _inputs(16, 3):
        yield f"x of shape {list(x.shape)}", GELU()(x), fast_gelu(x)


def _feed_forward():
    for dim, input_major in ((8, True), (8, False), (64, True)):
        ff = _randomize(FeedForward({"emb_dim": dim}).double(), dim)
        fast = fast_feed_forward(ff, input_major)
        for x in _inputs(dim, dim):
            yield f"emb_dim={dim}, input_major={input_major}, x {list(x.shape)}", ff(x), fast(x)


def _whole_model():
    cfg = {**GPT_CONFIG_124M, "vocab_size": 97, "context_length": 16, "emb_dim": 32,
           "n_heads": 4, "n_layers": 2, "drop_rate": 0.0}
    for qkv_bias in (False, True):
        torch.manual_seed(5)
        model = GPTModel({**cfg, "qkv_bias": qkv_bias}).double().eval()
        ids = torch.randint(0, 97, (2, 12), generator=torch.Generator().manual_seed(1))
        cache = KVCache(model, batch_size=2)
        # a prompt, one token at a time, then a chunk: every kind of cached step
        got = torch.cat([cache.prefill(ids[:, :5]), cache.step(ids[:, 5:6], all_logits=True),
                         cache.step(ids[:, 6:7], all_logits=True),
                         cache.step(ids[:, 7:], all_logits=True)], 1)
        with torch.no_grad():
            want = model(ids)[:, 4:]
        yield f"qkv_bias={qkv_bias}, 12 tokens", want, got


PIECES = {
    "LayerNorm": (
        _layer_norm,
        f"{FAST}, fast_layer_norm: torch.layer_norm(x, shape, scale, shift, eps) re-implements "
        "gpt_course/book/nb02_layer_norm.py LayerNorm.forward (biased variance, eps inside "
        "the square root)",
    ),
    "GELU": (
        _gelu,
        f"{FAST}, fast_gelu: F.gelu(x, approximate='tanh') re-implements "
        "gpt_course/book/nb03_gelu.py GELU.forward",
    ),
    "FeedForward": (
        _feed_forward,
        f"{FAST}, fast_feed_forward: F.linear, fast_gelu, F.linear re-implements "
        "gpt_course/book/nb04_feed_forward.py FeedForward (Linear, GELU, Linear)",
    ),
    "attention, TransformerBlock, GPTModel": (
        _whole_model,
        f"{FAST}, KVCache._run: fused q/k/v + F.scaled_dot_product_attention re-implements "
        "gpt_course/book/nb06_attention.py MultiHeadAttention.forward (scores / sqrt(head_dim), "
        "causal mask, softmax, out_proj), and its loop re-implements TransformerBlock.forward "
        "(pre-LayerNorm, two shortcuts) and GPTModel.forward (embeddings, final norm, head). "
        "The whole model uses LayerNorm, GELU and FeedForward too: if their cases of this "
        "test fail as well, start with those",
    ),
}


@pytest.mark.parametrize("piece", list(PIECES))
def test_fast_path_agrees_with_the_book(piece):
    cases, where = PIECES[piece]
    for case, book, fast in cases():
        worst = (book - fast).abs().max().item()
        assert worst <= 1e-9 * max(1.0, book.abs().max().item()), (
            f"The fast path no longer computes the book's {piece}: for {case} the "
            f"book's module and the fast path differ by up to {worst:.3g}. If you changed "
            f"the book's {piece}, change its re-implementation too: {where}."
        )
