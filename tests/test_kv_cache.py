"""The KV cache computes what the model computes, only faster; it never runs on
stale weights, and refuses what it cannot reproduce at the entry point."""

import pytest
import torch
import torch.nn as nn

from gpt_course import (
    GELU, GPT_CONFIG_124M, DummyGPTModel, FeedForward, GPTModel, KVCache, LayerNorm,
    MultiHeadAttention, TransformerBlock, forward_with_cache, generate, generate_text_simple,
)
from gpt_course.beyond.nb09_fast_kv_cache import BlockWeights, ModelWeights, pack_weights


def build(cfg, seed=123, **changes):
    torch.manual_seed(seed)
    return GPTModel({**cfg, **changes}).eval()


@pytest.fixture
def model(tiny_cfg):
    return build(tiny_cfg)


def prompt(cfg, batch=2, n=6, seed=1):
    torch.manual_seed(seed)
    return torch.randint(0, cfg["vocab_size"], (batch, n))


def full_logits(model, ids):
    with torch.no_grad():
        return model(ids)


# ------------------------------------------------------ same numbers


@pytest.mark.parametrize("qkv_bias, input_major", [(False, True), (True, True), (True, False)])
def test_cached_logits_match_full_forward(tiny_cfg, qkv_bias, input_major):
    model = build(tiny_cfg, qkv_bias=qkv_bias)
    ids = prompt(tiny_cfg, n=14)
    cache = KVCache(model, batch_size=2, input_major=input_major)
    # a prompt, then one token, then a chunk: every way of feeding the cache
    pieces = [ids[:, :5], ids[:, 5:6], ids[:, 6:10], ids[:, 10:11], ids[:, 11:]]
    got = torch.cat([cache.step(p, all_logits=True) for p in pieces], 1)
    assert cache.length == 14
    torch.testing.assert_close(got, full_logits(model, ids), atol=1e-5, rtol=0)


def test_prefill_and_step(model, tiny_cfg):
    ids = prompt(tiny_cfg, n=9)
    cache = KVCache(model, batch_size=2)
    last = cache.prefill(ids[:, :6])
    assert last.shape == (2, 1, tiny_cfg["vocab_size"]) and cache.length == 6
    torch.testing.assert_close(last, full_logits(model, ids[:, :6])[:, -1:], atol=1e-5, rtol=0)
    for n in (7, 8, 9):
        step = cache.step(ids[:, n - 1:n])
        torch.testing.assert_close(step, full_logits(model, ids[:, :n])[:, -1:], atol=1e-5, rtol=0)
    again = cache.prefill(ids[:, :3])  # a new sequence forgets the old one
    assert cache.length == 3
    torch.testing.assert_close(again, full_logits(model, ids[:, :3])[:, -1:], atol=1e-5, rtol=0)


def test_forward_with_cache_is_step(model, tiny_cfg):
    ids = prompt(tiny_cfg)
    a, b = KVCache(model, batch_size=2), KVCache(model, batch_size=2)
    assert torch.equal(forward_with_cache(model, ids, a), b.step(ids))
    assert torch.equal(forward_with_cache(model, ids[:, :1], a, all_logits=True),
                       b.step(ids[:, :1], all_logits=True))


def test_weights_are_named(model):
    with torch.inference_mode():
        weights = pack_weights(model)
    assert isinstance(weights, ModelWeights) and len(weights.blocks) == 2
    block = weights.blocks[0]
    assert isinstance(block, BlockWeights)
    att = model.trf_blocks[0].att
    assert torch.equal(block.w_qkv, torch.cat([att.W_query.weight, att.W_key.weight,
                                               att.W_value.weight]))
    assert block.w_out is att.out_proj.weight and block.mask is att.mask
    assert weights.w_head.shape == model.out_head.weight.shape
    assert (weights.n_heads, weights.head_dim) == (4, 8)


def greedy_with_cache(model, ids, n, cache):
    out = ids
    logits = cache.prefill(ids)
    for step in range(n):
        next_id = logits[:, -1].argmax(-1, keepdim=True)
        out = torch.cat([out, next_id], dim=1)
        if step + 1 < n:
            logits = cache.step(next_id)
    return out


def test_greedy_tokens_identical(model, tiny_cfg):
    ids = prompt(tiny_cfg)
    book = generate_text_simple(model, ids, 10, tiny_cfg["context_length"])
    assert torch.equal(greedy_with_cache(model, ids, 10, KVCache(model, batch_size=2)), book)
    assert torch.equal(generate(model, ids, 10), book)


def test_reset_between_prompts(model, tiny_cfg):
    first, second = prompt(tiny_cfg, seed=1), prompt(tiny_cfg, seed=2)
    cache = KVCache(model, batch_size=2)
    greedy_with_cache(model, first, 8, cache)
    cache.reset()
    assert cache.length == 0
    again = greedy_with_cache(model, second, 8, cache)
    assert torch.equal(again, greedy_with_cache(model, second, 8, KVCache(model, batch_size=2)))
    assert torch.equal(again, generate_text_simple(model, second, 8, tiny_cfg["context_length"]))


def test_model_unchanged(model, tiny_cfg):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    generate(model, prompt(tiny_cfg), 5)
    KVCache(model, batch_size=2).prefill(prompt(tiny_cfg))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(p.grad is not None for p in model.parameters())


def test_124m_config_greedy_identical():
    torch.manual_seed(123)
    model = GPTModel({**GPT_CONFIG_124M, "qkv_bias": True}).eval()
    ids = torch.tensor([[15496, 11, 314, 716]])  # "Hello, I am"
    book = generate_text_simple(model, ids, 6, 1024)
    assert torch.equal(generate(model, ids, 6), book)
    cache = KVCache(model, max_length=16)
    logits = forward_with_cache(model, book[:, :9], cache, all_logits=True)
    torch.testing.assert_close(logits, full_logits(model, book[:, :9]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("dtype, atol", [(torch.float64, 1e-10), (torch.bfloat16, 0.1)])
def test_other_dtypes(tiny_cfg, dtype, atol):
    model = build(tiny_cfg).to(dtype)
    ids = prompt(tiny_cfg, n=7)
    cache = KVCache(model, batch_size=2)
    assert cache.keys.dtype == dtype
    got = torch.cat([cache.prefill(ids[:, :4]), cache.step(ids[:, 4:], all_logits=True)], 1)
    want = full_logits(model, ids)
    torch.testing.assert_close(got, torch.cat([want[:, 3:4], want[:, 4:]], 1), atol=atol, rtol=0)
    if dtype == torch.float64:
        assert torch.equal(generate(model, ids, 8),
                           generate_text_simple(model, ids, 8, tiny_cfg["context_length"]))


# --------------------------------------- weights the cache must not miss

def _scale_data(m):
    for p in m.parameters():
        p.data.mul_(1.5)


def _assign_data(m):
    for p in m.parameters():
        p.data = p.data * -1.0


def _set_storage(m):
    w = m.out_head.weight
    with torch.no_grad():
        w.set_(torch.randn_like(w))  # the same Parameter, new storage


def _index_data(m):
    m.trf_blocks[0].att.W_query.weight.data[:, :4] = 2.0
    m.out_head.weight.data[::3] *= -1


def _copy_no_grad(m):
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p) * 0.3)


def _mul_no_grad(m):
    with torch.no_grad():
        m.trf_blocks[1].ff.layers[0].weight.mul_(-2.0)
        m.trf_blocks[0].att.W_value.weight.add_(0.2)


def _detached_view(m):
    m.out_head.weight.detach().mul_(-1.0)
    m.trf_blocks[0].ff.layers[0].weight.detach()[:5].zero_()


def _init(m):
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.2)


def _load_state_dict(m):
    m.load_state_dict(GPTModel(m.cfg).state_dict())


def _load_state_dict_assign(m):
    m.load_state_dict(GPTModel(m.cfg).state_dict(), assign=True)


def _vector_to_parameters(m):
    vec = nn.utils.parameters_to_vector(m.parameters())
    nn.utils.vector_to_parameters(torch.randn_like(vec) * 0.2, m.parameters())


def _optimizer_steps(m):
    opt = torch.optim.AdamW(m.parameters(), lr=0.05)
    ids = torch.randint(0, m.cfg["vocab_size"], (2, 8))
    for _ in range(3):
        loss = m(ids[:, :-1]).flatten(0, 1).logsumexp(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def _dtype_round_trip(m):
    with torch.no_grad():
        m.double()
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        m.float()


def _new_submodules(m):
    m.out_head = nn.Linear(m.cfg["emb_dim"], m.cfg["vocab_size"], bias=False)
    norm = LayerNorm(m.cfg["emb_dim"])
    with torch.no_grad():
        norm.scale.uniform_(0.5, 2.0)
    m.trf_blocks[1].norm2 = norm


def _replace_block(m):
    m.trf_blocks[0] = TransformerBlock(m.cfg).eval()


def _layer_norm_eps(m):
    m.final_norm.eps = 10.0  # not a tensor at all


CHANGES = [_scale_data, _assign_data, _set_storage, _index_data, _copy_no_grad, _mul_no_grad,
           _detached_view, _init, _load_state_dict, _load_state_dict_assign,
           _vector_to_parameters, _optimizer_steps, _dtype_round_trip, _new_submodules,
           _replace_block, _layer_norm_eps]


@pytest.mark.parametrize("change", CHANGES, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("input_major", [True, False])
def test_weight_changes_between_calls_are_seen(tiny_cfg, change, input_major):
    """Whatever way the weights change between calls, the next generate() and
    the next sequence of a cache that already exists use the new weights."""
    model = build(tiny_cfg)
    ids = prompt(tiny_cfg, n=5)
    ctx = tiny_cfg["context_length"]
    cache = KVCache(model, batch_size=2, input_major=input_major)
    made_before = KVCache(model, batch_size=2, input_major=input_major)  # never used yet
    generate(model, ids, 5)
    generate(model, ids, 20)
    cache.prefill(ids)
    old = full_logits(model, ids)

    torch.manual_seed(7)
    change(model)
    model.eval()
    new = full_logits(model, ids)
    assert not torch.allclose(old, new, atol=1e-3), "the change must change the model"
    for n in (5, 20):  # with and without input-major copies, and past the context
        assert torch.equal(generate(model, ids, n), generate_text_simple(model, ids, n, ctx))
    for c in (cache, made_before):
        got = torch.cat([c.prefill(ids[:, :3]), c.step(ids[:, 3:], all_logits=True)], 1)
        torch.testing.assert_close(got, new[:, 2:], atol=1e-5, rtol=0)
    cache.reset()
    torch.testing.assert_close(forward_with_cache(model, ids, cache, all_logits=True), new,
                               atol=1e-5, rtol=0)


def test_changes_during_a_sequence_do_not_mix_weights(tiny_cfg):
    """The documented rule: a sequence runs on the weights it began with."""
    model = build(tiny_cfg)
    ids = prompt(tiny_cfg, n=6)
    old = full_logits(model, ids)
    cache = KVCache(model, batch_size=2)
    cache.prefill(ids[:, :5])
    with torch.no_grad():
        model.out_head.weight.data.mul_(2.0)
        model.trf_blocks[0].ff.layers[0].weight.data.mul_(2.0)
    torch.testing.assert_close(cache.step(ids[:, 5:]), old[:, 5:], atol=1e-5, rtol=0)


# ------------------------------------------- refused at the entry point


def test_beyond_context_length_raises(model, tiny_cfg):
    cache = KVCache(model, batch_size=1)
    cache.prefill(prompt(tiny_cfg, batch=1, n=14))
    cache.step(prompt(tiny_cfg, batch=1, n=2))  # exactly full: 16
    with pytest.raises(ValueError, match="context_length 16"):
        cache.step(prompt(tiny_cfg, batch=1, n=1))
    assert cache.length == 16  # the failed call changed nothing


def test_max_length_limits_cache(model, tiny_cfg):
    cache = KVCache(model, max_length=8)
    assert cache.keys.shape == (2, 1, 4, 8, 8)
    with pytest.raises(ValueError, match="max_length 8"):
        cache.prefill(prompt(tiny_cfg, batch=1, n=9))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": 1.5}, TypeError, "batch_size"),
    ({"batch_size": True}, TypeError, "batch_size"),
    ({"max_length": 0}, ValueError, "max_length"),
    ({"max_length": 17}, ValueError, "context_length"),
    ({"max_length": "8"}, TypeError, "max_length"),
    ({"dtype": torch.float64}, ValueError, r"dtype.*model\.to\(torch\.float64\)"),
    ({"dtype": torch.float16}, ValueError, "dtype"),
    ({"dtype": torch.long}, ValueError, "dtype"),
    ({"dtype": "float64"}, TypeError, "dtype"),
    ({"device": "meta"}, ValueError, "device"),
    ({"device": "cuda"}, ValueError, "device"),
    ({"device": "not a device"}, ValueError, "device"),
    ({"device": 3}, TypeError, "device"),
    ({"input_major": "yes"}, TypeError, "input_major"),
    ({"input_major": 1}, TypeError, "input_major"),
])
def test_bad_cache_arguments(model, kwargs, error, match):
    with pytest.raises(error, match=match):
        KVCache(model, **kwargs)


def test_accepted_dtype_and_device(model):
    cache = KVCache(model, dtype=torch.float32, device="cpu")
    assert cache.keys.dtype == torch.float32 and cache.keys.device.type == "cpu"
    KVCache(model, device=torch.device("cpu"))


@pytest.mark.parametrize("ids, error, match", [
    (torch.tensor([[1.0, 2.0]]), TypeError, "new_ids"),
    (torch.tensor([[1, 2]], dtype=torch.int16), TypeError, "new_ids"),
    (torch.tensor([[1, 2]], dtype=torch.uint8), TypeError, "new_ids"),
    ([[1, 2]], TypeError, "new_ids"),
    (torch.tensor([1, 2]), ValueError, "new_ids"),
    (torch.zeros(1, 0, dtype=torch.long), ValueError, "new_ids"),
    (torch.tensor([[0, 97]]), ValueError, "vocab_size"),
    (torch.tensor([[-1, 0]]), ValueError, "vocab_size"),
    (torch.zeros(2, 3, dtype=torch.long), ValueError, "batch_size=2"),
    (torch.zeros(1, 17, dtype=torch.long), ValueError, "context_length"),
])
def test_bad_ids(model, ids, error, match):
    cache = KVCache(model)
    with pytest.raises(error, match=match):
        cache.prefill(ids)
    assert cache.length == 0


def test_wrong_cache_model_or_mode(model, tiny_cfg):
    ids = prompt(tiny_cfg)
    with pytest.raises(ValueError, match="another model"):
        forward_with_cache(build(tiny_cfg), ids, KVCache(model, batch_size=2))
    with pytest.raises(TypeError, match="KVCache"):
        forward_with_cache(model, ids, None)
    with pytest.raises(TypeError, match="GPTModel"):
        forward_with_cache(nn.Linear(2, 2), ids, KVCache(model, batch_size=2))
    with pytest.raises(TypeError, match="all_logits"):
        KVCache(model, batch_size=2).step(ids, all_logits="yes")
    training = build({**tiny_cfg, "drop_rate": 0.1}).train()
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        KVCache(training, batch_size=2).prefill(ids)
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        generate(training, ids, 3)
    # without dropout, training mode computes the same thing: allowed
    no_dropout = build(tiny_cfg).train()
    assert KVCache(no_dropout, batch_size=2).prefill(ids).shape == (2, 1, 97)


def test_model_converted_after_the_cache_was_made(tiny_cfg):
    model = build(tiny_cfg)
    cache = KVCache(model, batch_size=2)
    model.double()
    with pytest.raises(ValueError, match="make a new KVCache"):
        cache.prefill(prompt(tiny_cfg))
    half_converted = build(tiny_cfg)
    half_converted.out_head.double()
    with pytest.raises(ValueError, match="several dtypes"):
        KVCache(half_converted)
    with pytest.raises(ValueError, match="several dtypes"):
        generate(half_converted, prompt(tiny_cfg), 3)


class MyAttention(MultiHeadAttention):  # may compute something else
    pass


class MyBlock(TransformerBlock):
    pass


class MyGPT(GPTModel):
    def forward(self, in_idx):
        return super().forward(in_idx) * 2.0


class MyLinear(nn.Linear):
    pass


def _my_attention(m):
    old = m.trf_blocks[0].att
    m.trf_blocks[0].att = MyAttention(32, 32, 16, 0.0, 4)
    m.trf_blocks[0].att.load_state_dict(old.state_dict())


def _my_block(m):
    block = MyBlock(m.cfg).eval()
    block.load_state_dict(m.trf_blocks[1].state_dict())
    m.trf_blocks[1] = block


def _my_projection(m):
    old = m.trf_blocks[1].att.W_key
    m.trf_blocks[1].att.W_key = MyLinear(32, 32, bias=False)
    m.trf_blocks[1].att.W_key.load_state_dict(old.state_dict())


def _my_head(m):
    old = m.out_head
    m.out_head = MyLinear(32, 97, bias=False)
    m.out_head.load_state_dict(old.state_dict())


@pytest.mark.parametrize("swap", [_my_attention, _my_block, _my_projection, _my_head, None],
                         ids=["attention", "block", "projection", "head", "model"])
def test_other_classes_refused(tiny_cfg, swap):
    if swap is None:
        torch.manual_seed(123)
        model = MyGPT(tiny_cfg).eval()
    else:
        model = build(tiny_cfg)
        swap(model)
    ids = prompt(tiny_cfg)
    with pytest.raises(TypeError, match="use_cache=False"):
        KVCache(model)
    with pytest.raises(TypeError, match="use_cache=False"):
        generate(model, ids, 3)
    assert torch.equal(generate(model, ids, 3, use_cache=False),
                       generate_text_simple(model, ids, 3, tiny_cfg["context_length"]))


def test_class_swapped_after_the_cache_was_made(tiny_cfg):
    model = build(tiny_cfg)
    cache = KVCache(model, batch_size=2)
    _my_attention(model)
    with pytest.raises(TypeError, match="use_cache=False"):
        cache.prefill(prompt(tiny_cfg))


def test_not_a_gpt_model(tiny_cfg):
    for not_a_model in (None, nn.Linear(2, 2), DummyGPTModel(tiny_cfg)):
        with pytest.raises(TypeError, match="model"):
            KVCache(not_a_model)


class DoubledNorm(LayerNorm):
    def forward(self, x):
        return 2.0 * super().forward(x)


class ReLUFeedForward(FeedForward):
    def forward(self, x):
        return self.layers[2](torch.relu(self.layers[0](x)))


class SharperGELU(GELU):
    def forward(self, x):
        return super().forward(2.0 * x)


def _doubled_norms(m):
    m.trf_blocks[0].norm1 = DoubledNorm(m.cfg["emb_dim"])
    m.final_norm = DoubledNorm(m.cfg["emb_dim"])


def _relu_feed_forward(m):
    ff = ReLUFeedForward(m.cfg)
    ff.load_state_dict(m.trf_blocks[1].ff.state_dict())
    m.trf_blocks[1].ff = ff


def _sharper_gelu(m):
    m.trf_blocks[0].ff.layers[1] = SharperGELU()


def _plain_torch_modules(m):
    norm = nn.LayerNorm(m.cfg["emb_dim"])
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2.0)
    m.trf_blocks[1].norm2 = norm
    m.trf_blocks[0].ff.layers[1] = nn.GELU()  # the exact GELU


@pytest.mark.parametrize("swap", [_doubled_norms, _relu_feed_forward, _sharper_gelu,
                                  _plain_torch_modules], ids=lambda f: f.__name__.strip("_"))
def test_other_norms_and_feed_forwards_flow_into_the_cache(tiny_cfg, swap):
    """Only the book's exact LayerNorm / FeedForward are re-implemented; any
    other module (a subclass included) is called as it is."""
    model = build(tiny_cfg)
    ids = prompt(tiny_cfg, n=7)
    before = full_logits(model, ids)
    swap(model)
    model.eval()
    want = full_logits(model, ids)
    assert not torch.allclose(before, want, atol=1e-3)
    for input_major in (True, False):
        cache = KVCache(model, batch_size=2, input_major=input_major)
        got = torch.cat([cache.prefill(ids[:, :4]), cache.step(ids[:, 4:5], all_logits=True),
                         cache.step(ids[:, 5:], all_logits=True)], 1)
        torch.testing.assert_close(got, want[:, 3:], atol=1e-5, rtol=0)
    assert torch.equal(generate(model, ids, 6),
                       generate_text_simple(model, ids, 6, tiny_cfg["context_length"]))


class ScaledEmbedding(nn.Embedding):
    def forward(self, ids):
        return 3.0 * super().forward(ids)


@pytest.mark.parametrize("table", ["tok_emb", "pos_emb"])
def test_embeddings_flow_into_the_cache(tiny_cfg, table):
    """The cached step calls the model's embedding modules, as GPTModel.forward does."""
    model = build(tiny_cfg)
    old = getattr(model, table)
    new = ScaledEmbedding(old.num_embeddings, old.embedding_dim)
    new.load_state_dict(old.state_dict())
    setattr(model, table, new)
    ids = prompt(tiny_cfg, n=6)
    cache = KVCache(model, batch_size=2)
    got = torch.cat([cache.prefill(ids[:, :3]), cache.step(ids[:, 3:4], all_logits=True),
                     cache.step(ids[:, 4:], all_logits=True)], 1)
    torch.testing.assert_close(got, full_logits(model, ids)[:, 2:], atol=1e-5, rtol=0)
