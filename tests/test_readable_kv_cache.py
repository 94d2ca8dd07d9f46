"""The readable KV cache notebook 09 teaches (gpt_course/beyond/nb09_kv_cache.py):
the same logits as the plain model, the same greedy tokens as the book's loop,
the model's own modules, and clear errors."""

import pytest
import torch

from gpt_course import (
    GPTModel, GPTModelWithCache, MultiHeadAttention, MultiHeadAttentionWithCache,
    generate_text_cached, generate_text_simple,
)


@pytest.fixture
def tiny(tiny_cfg):
    torch.manual_seed(0)
    return GPTModel(tiny_cfg).eval()


def _ids(cfg, batch, length, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, cfg["vocab_size"], (batch, length), generator=gen)


@pytest.mark.parametrize("chunks", [(16,), (1,) * 16, (5, 1, 1, 4, 3, 2), (3, 13)])
def test_same_logits_as_the_model_fed_in_any_pieces(tiny, tiny_cfg, chunks):
    ids = _ids(tiny_cfg, 2, 16)
    with torch.no_grad():
        full = tiny(ids)
        cached_model = GPTModelWithCache(tiny)
        pieces, start = [], 0
        for n in chunks:
            pieces.append(cached_model(ids[:, start:start + n]))
            start += n
    cached = torch.cat(pieces, dim=1)
    assert cached.shape == full.shape
    assert (cached - full).abs().max().item() < 1e-5
    assert cached_model.cached_tokens == 16
    heads = tiny_cfg["n_heads"]
    head_dim = tiny_cfg["emb_dim"] // heads
    for att in cached_model.attentions:
        assert list(att.cache_k.shape) == [2, heads, 16, head_dim]
        assert list(att.cache_v.shape) == [2, heads, 16, head_dim]


def test_attention_alone_matches_multi_head_attention():
    torch.manual_seed(3)
    att = MultiHeadAttention(d_in=6, d_out=8, context_length=12, dropout=0.0, num_heads=2,
                             qkv_bias=True).eval()
    x = torch.randn(3, 11, 6)
    cached = MultiHeadAttentionWithCache(att)
    with torch.no_grad():
        out = torch.cat([cached(x[:, :4]), cached(x[:, 4:5]), cached(x[:, 5:9]),
                         cached(x[:, 9:])], dim=1)
        want = att(x)
    assert (out - want).abs().max().item() < 1e-6
    cached.reset_cache()
    assert cached.cache_k is None and cached.cache_v is None
    with torch.no_grad():
        assert torch.allclose(cached(x[:, :3]), want[:, :3], atol=1e-6)
        with pytest.raises(ValueError, match="batch size 1.*reset_cache"):
            cached(x[:1, 3:4])
        with pytest.raises(ValueError, match="exceed the context_length 12"):
            cached(torch.randn(3, 10, 6))
        assert list(cached.cache_k.shape) == [3, 2, 3, 4]  # refused calls change nothing


def test_qkv_bias_and_dropout_config(tiny_cfg):
    cfg = {**tiny_cfg, "qkv_bias": True, "drop_rate": 0.1}
    torch.manual_seed(5)
    model = GPTModel(cfg).eval()  # eval: dropout off, as in generation
    ids = _ids(cfg, 1, 9)
    with torch.no_grad():
        full = model(ids)
        cached_model = GPTModelWithCache(model)
        cached = torch.cat([cached_model(ids[:, :6]), cached_model(ids[:, 6:])], dim=1)
    assert (cached - full).abs().max().item() < 1e-5


def test_uses_the_models_own_modules_not_copies(tiny, tiny_cfg):
    cached_model = GPTModelWithCache(tiny)
    for block, att in zip(tiny.trf_blocks, cached_model.attentions):
        for name in ("W_query", "W_key", "W_value", "out_proj"):
            assert getattr(att, name) is getattr(block.att, name)
    assert cached_model.model is tiny
    # change a weight of the model: the cached path sees it at once
    ids = _ids(tiny_cfg, 1, 5)
    with torch.no_grad():
        tiny.trf_blocks[1].att.W_value.weight.mul_(-2.0)
        full = tiny(ids)
        cached = cached_model(ids)
    assert (cached - full).abs().max().item() < 1e-5
    # and the model itself is not changed by running it cached
    before = {k: v.clone() for k, v in tiny.state_dict().items()}
    generate_text_cached(tiny, ids, 5, tiny_cfg["context_length"])
    assert all(torch.equal(before[k], v) for k, v in tiny.state_dict().items())
    assert all(type(block.att) is MultiHeadAttention for block in tiny.trf_blocks)


@pytest.mark.parametrize("prompt_len, new, context_size",
                         [(1, 15, 16), (4, 12, 16), (4, 30, 16), (7, 20, 5), (20, 6, 16)])
def test_same_greedy_tokens_as_the_books_loop(tiny, tiny_cfg, prompt_len, new, context_size):
    # (4, 30, 16) and (7, 20, 5) go past the context, (20, 6, 16) starts beyond it:
    # the cache starts again from the last context_size tokens, as the book's loop crops
    idx = _ids(tiny_cfg, 2, prompt_len, seed=prompt_len)
    book = generate_text_simple(tiny, idx, new, context_size)
    cached = generate_text_cached(tiny, idx, new, context_size)
    assert torch.equal(book, cached)
    assert torch.equal(generate_text_cached(tiny, idx, 0, context_size), idx)


def test_the_books_tokens_on_124m(gpt124m):
    idx = torch.tensor([[15496, 11, 314, 716]])  # "Hello, I am"
    out = generate_text_cached(gpt124m, idx, 6, 1024)
    assert out[0].tolist() == [15496, 11, 314, 716, 27018, 24086, 47843, 30961, 42348, 7267]


def test_learners_attention_class_plugs_in(tiny, tiny_cfg):
    class Subclass(MultiHeadAttentionWithCache):
        pass

    ids = _ids(tiny_cfg, 1, 6)
    cached_model = GPTModelWithCache(tiny, attention=Subclass)
    assert all(type(att) is Subclass for att in cached_model.attentions)
    with torch.no_grad():
        assert (cached_model(ids) - tiny(ids)).abs().max().item() < 1e-5
    cached_model.reset_cache()
    assert cached_model.cached_tokens == 0
    assert all(att.cache_k is None for att in cached_model.attentions)


def test_clear_errors(tiny, tiny_cfg):
    ctx = tiny_cfg["context_length"]
    idx = _ids(tiny_cfg, 1, 4)
    with pytest.raises(TypeError, match="GPTModel"):
        GPTModelWithCache(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="MultiHeadAttention"):
        MultiHeadAttentionWithCache(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="GPTModel"):
        generate_text_cached("model", idx, 3, ctx)
    with pytest.raises(TypeError, match="torch.Tensor"):
        generate_text_cached(tiny, [[1, 2, 3]], 3, ctx)
    with pytest.raises(ValueError, match="shape"):
        generate_text_cached(tiny, torch.tensor([1, 2, 3]), 3, ctx)
    with pytest.raises(TypeError, match="dtype"):
        generate_text_cached(tiny, idx.float(), 3, ctx)
    with pytest.raises(ValueError, match="vocab_size"):
        generate_text_cached(tiny, idx + tiny_cfg["vocab_size"], 3, ctx)
    with pytest.raises(ValueError, match="empty"):
        generate_text_cached(tiny, idx[:, :0], 3, ctx)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate_text_cached(tiny, idx, -1, ctx)
    with pytest.raises(TypeError, match="max_new_tokens"):
        generate_text_cached(tiny, idx, 2.0, ctx)
    with pytest.raises(ValueError, match="context_size.*context_length"):
        generate_text_cached(tiny, idx, 3, ctx + 1)
    with pytest.raises(ValueError, match="context_size"):
        generate_text_cached(tiny, idx, 3, 0)
    with pytest.raises(TypeError, match="context_size"):
        generate_text_cached(tiny, idx, 3, True)

    cached_model = GPTModelWithCache(tiny)
    with torch.no_grad():
        cached_model(_ids(tiny_cfg, 2, ctx - 1))
        with pytest.raises(ValueError, match="batch size 1.*reset_cache"):
            cached_model(idx[:, :1])
        with pytest.raises(ValueError, match="beyond context_length"):
            cached_model(_ids(tiny_cfg, 2, 2))
        assert cached_model.cached_tokens == ctx - 1  # a refused call changes nothing
        cached_model(_ids(tiny_cfg, 2, 1))  # the last position still fits
        with pytest.raises(TypeError, match="new_ids"):
            cached_model(torch.zeros(2, 1))

    # training mode: refused where it would apply dropout (as KVCache and generate do);
    # without dropout it computes the eval-mode output, so it runs
    torch.manual_seed(0)
    dropping = GPTModel({**tiny_cfg, "drop_rate": 0.1})  # built in training mode
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        GPTModelWithCache(dropping)(idx)
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        generate_text_cached(dropping, idx, 2, ctx)
    want = generate_text_cached(tiny, idx, 4, ctx)
    tiny.train()
    assert torch.equal(generate_text_cached(tiny, idx, 4, ctx), want)
