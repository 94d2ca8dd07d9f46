"""The KV cache computes what the model computes, only faster."""

import pytest
import torch

from gpt_course import GPT_CONFIG_124M, GPTModel, generate_text_simple
from gpt_course.beyond.nb09_fast_kv_cache import KVCache, forward_with_cache
from gpt_course.beyond.nb09_sampling import generate

SMALL = {**GPT_CONFIG_124M, "vocab_size": 500, "context_length": 32, "emb_dim": 64,
         "n_heads": 4, "n_layers": 3, "drop_rate": 0.1}


def small_model(qkv_bias=False, seed=123):
    torch.manual_seed(seed)
    return GPTModel({**SMALL, "qkv_bias": qkv_bias}).eval()


@pytest.fixture(scope="module")
def model():
    return small_model()


def prompt(batch=2, n=6, seed=1):
    torch.manual_seed(seed)
    return torch.randint(0, SMALL["vocab_size"], (batch, n))


@pytest.mark.parametrize("qkv_bias, input_major", [(False, True), (True, True), (True, False)])
def test_cached_logits_match_full_forward(qkv_bias, input_major):
    model = small_model(qkv_bias)
    ids = prompt(n=20)
    with torch.no_grad():
        full = model(ids)
    cache = KVCache(model, batch_size=2, input_major=input_major)
    # a prompt, then one token, then a chunk: every way of feeding the cache
    pieces = [ids[:, :7], ids[:, 7:8], ids[:, 8:13], ids[:, 13:14], ids[:, 14:]]
    got = torch.cat([forward_with_cache(model, p, cache, all_logits=True) for p in pieces], 1)
    assert cache.length == 20
    torch.testing.assert_close(got, full, atol=1e-5, rtol=0)


def test_last_logits_only(model):
    ids = prompt()
    cache = KVCache(model, batch_size=2)
    last = forward_with_cache(model, ids, cache)
    assert last.shape == (2, 1, SMALL["vocab_size"])
    with torch.no_grad():
        torch.testing.assert_close(last, model(ids)[:, -1:], atol=1e-5, rtol=0)


def greedy_with_cache(model, ids, n, cache):
    out = ids
    logits = forward_with_cache(model, ids, cache)
    for step in range(n):
        next_id = logits[:, -1].argmax(-1, keepdim=True)
        out = torch.cat([out, next_id], dim=1)
        if step + 1 < n:
            logits = forward_with_cache(model, next_id, cache)
    return out


def test_greedy_tokens_identical(model):
    ids = prompt()
    book = generate_text_simple(model, ids, 25, SMALL["context_length"])
    assert torch.equal(greedy_with_cache(model, ids, 25, KVCache(model, batch_size=2)), book)
    assert torch.equal(generate(model, ids, 25), book)


def test_reset_between_prompts(model):
    first, second = prompt(seed=1), prompt(seed=2)
    cache = KVCache(model, batch_size=2)
    greedy_with_cache(model, first, 10, cache)
    cache.reset()
    assert cache.length == 0
    again = greedy_with_cache(model, second, 10, cache)
    assert torch.equal(again, greedy_with_cache(model, second, 10, KVCache(model, batch_size=2)))
    assert torch.equal(again, generate_text_simple(model, second, 10, SMALL["context_length"]))


def test_beyond_context_length_raises(model):
    cache = KVCache(model, batch_size=1)
    forward_with_cache(model, prompt(batch=1, n=30), cache)
    forward_with_cache(model, prompt(batch=1, n=2), cache)  # exactly full: 32
    with pytest.raises(ValueError, match="context_length 32"):
        forward_with_cache(model, prompt(batch=1, n=1), cache)
    assert cache.length == 32  # the failed call changed nothing
    with pytest.raises(ValueError, match="context_length"):
        KVCache(model, max_length=33)


def test_max_length_limits_cache(model):
    cache = KVCache(model, max_length=8)
    assert cache.keys.shape == (3, 1, 4, 8, 16)
    with pytest.raises(ValueError, match="max_length 8"):
        forward_with_cache(model, prompt(batch=1, n=9), cache)


def test_wrong_batch_model_or_mode(model):
    with pytest.raises(ValueError, match="batch_size=2"):
        forward_with_cache(model, prompt(batch=2), KVCache(model, batch_size=1))
    with pytest.raises(ValueError, match="another model"):
        forward_with_cache(small_model(), prompt(), KVCache(model, batch_size=2))
    with pytest.raises(TypeError, match="KVCache"):
        forward_with_cache(model, prompt(), None)
    training = small_model().train()
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        forward_with_cache(training, prompt(), KVCache(training, batch_size=2))
    with pytest.raises(ValueError, match="vocab_size"):
        forward_with_cache(model, torch.tensor([[0, 500]]), KVCache(model))


def test_fused_weights_follow_weight_changes():
    model = small_model()
    ids = prompt()
    cache = KVCache(model, batch_size=2)
    forward_with_cache(model, ids, cache)
    with torch.no_grad():
        for block in model.trf_blocks:
            block.att.W_key.weight.mul_(3.0)
            block.ff.layers[0].weight.mul_(0.5)
        model.out_head.weight.add_(0.1)
    cache.reset()
    got = forward_with_cache(model, ids, cache, all_logits=True)
    with torch.no_grad():
        torch.testing.assert_close(got, model(ids), atol=1e-5, rtol=0)


def test_model_unchanged(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    generate(model, prompt(), 5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(p.grad is not None for p in model.parameters())


def test_124m_config_greedy_identical():
    torch.manual_seed(123)
    model = GPTModel({**GPT_CONFIG_124M, "qkv_bias": True}).eval()
    ids = torch.tensor([[15496, 11, 314, 716]])  # "Hello, I am"
    book = generate_text_simple(model, ids, 6, 1024)
    cached = generate(model, ids, 6)
    assert torch.equal(cached, book)
    cache = KVCache(model, max_length=16)
    logits = forward_with_cache(model, book[:, :9], cache, all_logits=True)
    with torch.no_grad():
        torch.testing.assert_close(logits, model(book[:, :9]), atol=1e-5, rtol=0)


def test_other_attention_class_refused():
    from gpt_course import MultiHeadAttention

    class MyAttention(MultiHeadAttention):  # may compute something else
        pass

    model = small_model()
    old = model.trf_blocks[0].att
    model.trf_blocks[0].att = MyAttention(64, 64, 32, 0.0, 4)
    model.trf_blocks[0].att.load_state_dict(old.state_dict())
    with pytest.raises(TypeError, match="use_cache=False"):
        KVCache(model)
    with pytest.raises(TypeError, match="use_cache=False"):
        generate(model, prompt(), 3)
    ids = prompt()
    assert torch.equal(generate(model, ids, 3, use_cache=False),
                       generate_text_simple(model, ids, 3, SMALL["context_length"]))
