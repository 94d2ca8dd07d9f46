"""Reliability of generation (round three): caches that commit only when a step
completes, clear errors for huge or malformed arguments, one training-mode rule
for every generation path, the book's greedy pick in low precision, and
property-based tests: a correct result or a clear ValueError / TypeError naming
the argument, never anything else."""

import math
from numbers import Real

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpt_course import (
    GPT_CONFIG_124M, FeedForward, GPTModel, GPTModelWithCache, KVCache, MultiHeadAttention,
    MultiHeadAttentionWithCache, generate, generate_text_cached, generate_text_simple,
    next_token_distribution,
)
from gpt_course.checks import check_int, check_real

CFG = {**GPT_CONFIG_124M, "vocab_size": 50, "context_length": 8, "emb_dim": 16,
       "n_heads": 2, "n_layers": 3, "drop_rate": 0.0}
FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def build(cfg=CFG, seed=0):
    torch.manual_seed(seed)
    return GPTModel(cfg).eval()


MODEL = build()
PROMPT = torch.tensor([[3, 14, 15, 9]])


class Stop(Exception):
    pass


def interrupt(module, error=KeyboardInterrupt):
    """A forward hook on `module` that raises `error` (the kernel's stop button)."""
    def hook(*_):
        raise error()
    return module.register_forward_hook(hook)


# ------------------------------------------------ 1. interrupted steps


@pytest.mark.parametrize("where", ["ff", "att", "norm2"])
def test_readable_cache_interrupted_step_leaves_every_layer_as_before(where):
    model = build()
    ids = torch.randint(0, 50, (2, 7), generator=torch.Generator().manual_seed(1))
    cached = GPTModelWithCache(model)
    with torch.no_grad():
        cached(ids[:, :4])
        before = [(att.cache_k, att.cache_v) for att in cached.attentions]
        middle = {"ff": model.trf_blocks[1].ff, "att": cached.attentions[1],
                  "norm2": model.trf_blocks[1].norm2}[where]
        handle = interrupt(middle)
        with pytest.raises(KeyboardInterrupt):
            cached(ids[:, 4:6])
        handle.remove()
        assert cached.cached_tokens == 4
        for att, (k, v) in zip(cached.attentions, before):
            assert att.cache_k is k and att.cache_v is v  # every layer, not only some
        # the same call again gives the model's logits: nothing half-done is left
        got = cached(ids[:, 4:6])
        want = model(ids[:, :6])[:, 4:6]
    assert (got - want).abs().max().item() < 1e-5


def test_readable_attention_alone_commits_only_a_finished_step():
    torch.manual_seed(2)
    att = MultiHeadAttention(d_in=6, d_out=8, context_length=10, dropout=0.0,
                             num_heads=2).eval()
    cached = MultiHeadAttentionWithCache(att)
    x = torch.randn(1, 6, 6)
    with torch.no_grad():
        cached(x[:, :3])
        k, v = cached.cache_k, cached.cache_v
        handle = interrupt(att.out_proj)  # after the new keys and values are computed
        with pytest.raises(KeyboardInterrupt):
            cached(x[:, 3:5])
        handle.remove()
        assert cached.cache_k is k and cached.cache_v is v
        out = torch.cat([cached(x[:, 3:5]), cached(x[:, 5:])], dim=1)
        assert (out - att(x)[:, 3:]).abs().max().item() < 1e-6


def test_readable_cache_stopped_by_an_error_too():
    model = build()
    cached = GPTModelWithCache(model)
    with torch.no_grad():
        cached(PROMPT)
        handle = interrupt(model.trf_blocks[2].ff, Stop)
        with pytest.raises(Stop):
            cached(torch.tensor([[7]]))
        handle.remove()
        assert [att.cache_k.shape[2] for att in cached.attentions] == [4, 4, 4]
        want = model(torch.cat([PROMPT, torch.tensor([[7]])], dim=1))[:, -1]
        assert (cached(torch.tensor([[7]]))[:, -1] - want).abs().max().item() < 1e-5


def _hookable_middle_ff(model):
    """Swap block 1's FeedForward for a subclass (same weights): the fast cache
    calls modules it does not know as modules, so a hook on it fires."""
    class HookableFeedForward(FeedForward):
        pass

    ff = HookableFeedForward(model.cfg)
    ff.load_state_dict(model.trf_blocks[1].ff.state_dict())
    model.trf_blocks[1].ff = ff
    return ff


@pytest.mark.parametrize("input_major", [True, False])
def test_fast_cache_interrupted_step_changes_nothing(input_major):
    model = build()
    ff = _hookable_middle_ff(model)
    ids = torch.randint(0, 50, (1, 7), generator=torch.Generator().manual_seed(3))
    cache = KVCache(model, input_major=input_major)
    cache.prefill(ids[:, :4])
    handle = interrupt(ff)
    with pytest.raises(KeyboardInterrupt):
        cache.step(ids[:, 4:6], all_logits=True)
    handle.remove()
    assert cache.length == 4
    got = cache.step(ids[:, 4:6], all_logits=True)
    with torch.no_grad():
        want = model(ids[:, :6])[:, 4:6]
    assert (got - want).abs().max().item() < 1e-5


def test_fast_cache_interrupted_prefill_refuses_to_go_on():
    model = build()
    ff = _hookable_middle_ff(model)
    first, second = torch.tensor([[1, 2, 3, 4, 5]]), torch.tensor([[9, 8, 7]])
    cache = KVCache(model)
    cache.prefill(first)
    handle = interrupt(ff)
    with pytest.raises(KeyboardInterrupt):
        cache.prefill(second)  # layer 0 has overwritten the first sequence's keys
    handle.remove()
    # going on would silently mix two sequences (or start a new one at position 0)
    with pytest.raises(ValueError, match=r"stopped halfway.*prefill"):
        cache.step(torch.tensor([[6]]))
    got = cache.prefill(second)
    with torch.no_grad():
        assert (got[:, -1] - model(second)[:, -1]).abs().max().item() < 1e-5
    assert cache.step(torch.tensor([[6]])).shape == (1, 1, 50)
    # stopped on a fresh cache: nothing was held, so nothing is lost
    fresh = KVCache(model)
    handle = interrupt(ff)
    with pytest.raises(KeyboardInterrupt):
        fresh.prefill(second)
    handle.remove()
    assert fresh.length == 0 and not fresh.broken


def test_refused_prefill_keeps_the_sequence():
    cache = KVCache(build())
    cache.prefill(PROMPT)
    with pytest.raises(ValueError, match="new_ids"):
        cache.prefill(torch.tensor([[50]]))
    assert cache.length == 4
    want = MODEL(torch.tensor([[3, 14, 15, 9, 2]]))[:, -1]
    assert (cache.step(torch.tensor([[2]]))[:, -1] - want).abs().max().item() < 1e-5


# ------------------------------------------------ 2. clear errors


@pytest.mark.parametrize("kwargs, error, words", [
    ({"num_heads": 0}, ValueError, ["num_heads", "0"]),
    ({"num_heads": -2}, ValueError, ["num_heads", "-2"]),
    ({"num_heads": 2.0}, TypeError, ["num_heads", "2.0"]),
    ({"num_heads": "2"}, TypeError, ["num_heads"]),
    ({"num_heads": True}, TypeError, ["num_heads"]),
    ({"num_heads": 3}, ValueError, ["d_out = 8", "divisible", "num_heads = 3"]),
    ({"num_heads": 16}, ValueError, ["num_heads", "16"]),
    ({"d_out": 0}, ValueError, ["d_out"]),
    ({"d_in": 4.0}, TypeError, ["d_in"]),
    ({"context_length": 10**400}, ValueError, ["context_length"]),
    ({"dropout": 1.0}, ValueError, ["dropout"]),
    ({"dropout": "0.1"}, TypeError, ["dropout"]),
    ({"qkv_bias": 1}, TypeError, ["qkv_bias"]),
])
def test_attention_arguments_are_named(kwargs, error, words):
    args = {"d_in": 4, "d_out": 8, "context_length": 6, "dropout": 0.0, "num_heads": 2,
            **kwargs}
    with pytest.raises(error) as info:
        MultiHeadAttention(**args)
    for word in words:
        assert word in str(info.value)


def test_attention_input_beyond_context_length():
    att = MultiHeadAttention(d_in=4, d_out=8, context_length=6, dropout=0.0, num_heads=2)
    assert att(torch.randn(2, 6, 4)).shape == (2, 6, 8)
    with pytest.raises(ValueError, match="7 tokens.*context_length 6"):
        att(torch.randn(2, 7, 4))
    with pytest.raises(ValueError, match=r"shape.*d_in=4"):
        att(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match="shape"):
        att(torch.randn(3, 4))
    with pytest.raises(TypeError, match="floating point"):
        att(torch.ones(1, 3, 4, dtype=torch.long))


@pytest.mark.parametrize("value", [10**400, -10**400, 10**5000], ids=["1e400", "-1e400", "1e5000"])
def test_huge_numbers_in_the_checks(value):
    with pytest.raises(ValueError, match="temperature"):
        check_real("temperature", value, low=0)
    with pytest.raises(ValueError, match="seed"):
        check_int("seed", value, low=0, high=2**64 - 1)
    for name in ("temperature", "top_p"):
        with pytest.raises(ValueError, match=name):
            generate(MODEL, PROMPT, 3, **{name: value})
    with pytest.raises(ValueError, match="top_k"):
        generate(MODEL, PROMPT, 3, top_k=-abs(value))


def _first_greedy_token():
    return generate(MODEL, PROMPT, 1)[0, -1].item()


@pytest.mark.parametrize("use_cache", [True, False])
@pytest.mark.parametrize("max_new_tokens", [10**12, 2**62])
def test_huge_max_new_tokens_with_a_stop_token(use_cache, max_new_tokens):
    """The output grows as tokens come: a limit of 10**12 tokens that stop at
    the first one allocates one token, not terabytes."""
    eos = _first_greedy_token()
    out = generate(MODEL, PROMPT, max_new_tokens, eos_id=eos, use_cache=use_cache)
    assert out.tolist() == [PROMPT[0].tolist() + [eos]]


@pytest.mark.parametrize("use_cache", [True, False])
def test_output_grows_past_its_first_room(use_cache, monkeypatch):
    # first room for 2 new tokens: 13 new ones reallocate the output 3 times (2, 4, 8, 13)
    monkeypatch.setattr("gpt_course.beyond.nb09_sampling._FIRST_ROOM", 2)
    want = generate_text_simple(MODEL, PROMPT, 13, CFG["context_length"])
    assert torch.equal(generate(MODEL, PROMPT, 13, use_cache=use_cache), want)
    batch = torch.tensor([[1, 2], [3, 4], [5, 6]], dtype=torch.int32)
    out = generate(MODEL, batch, 9, use_cache=use_cache)
    assert out.dtype == torch.int32
    assert torch.equal(out.long(), generate_text_simple(MODEL, batch.long(), 9, 8))


# ------------------------------------------------ 4. the promises


def _tied_after_softmax(dtype):
    """A model whose every logit is 0 except ids 5 and 9: 0.25 and 0.251953125,
    one bfloat16 step apart. Their softmax probabilities round to the same
    bfloat16 number, so the book's argmax of the softmax picks 5, the
    argmax of the logits 9."""
    model = build({**CFG, "n_layers": 1})
    with torch.no_grad():
        model.final_norm.scale.zero_()
        model.final_norm.shift.zero_()
        model.final_norm.shift[0] = 1.0
        model.out_head.weight.zero_()
        model.out_head.weight[5, 0] = 0.25
        model.out_head.weight[9, 0] = 0.251953125
    return model.to(dtype)


@pytest.mark.parametrize("dtype, token", [(torch.bfloat16, 5), (torch.float32, 9)])
def test_greedy_picks_like_the_book_when_probabilities_tie(dtype, token):
    model = _tied_after_softmax(dtype)
    book = generate_text_simple(model, PROMPT, 3, CFG["context_length"])
    assert book[0, 4:].tolist() == [token] * 3
    assert torch.equal(generate(model, PROMPT, 3), book)
    assert torch.equal(generate(model, PROMPT, 3, use_cache=False), book)
    assert torch.equal(generate_text_cached(model, PROMPT, 3, CFG["context_length"]), book)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_greedy_uncached_and_readable_are_the_book(dtype):
    """In bfloat16 / float16, generate(use_cache=False) and the readable cache
    compute the book's logits for the last position bit for bit, so their
    greedy tokens are the book's. (The fast cache's fused attention rounds
    differently: see the next test.)"""
    for seed in range(3):
        model = build({**CFG, "n_layers": 2}, seed).to(dtype)
        ids = torch.randint(0, 50, (2, 3), generator=torch.Generator().manual_seed(seed))
        book = generate_text_simple(model, ids, 8, 8)  # past the context too
        assert torch.equal(generate(model, ids, 8, use_cache=False), book)
        assert torch.equal(generate_text_cached(model, ids, 8, 8), book)


@pytest.mark.parametrize("dtype, tolerance", [(torch.bfloat16, 2**-5), (torch.float16, 2**-8),
                                              (torch.float32, 1e-5)])
def test_fast_cache_logits_within_rounding_of_the_book(dtype, tolerance):
    """What the README promises for the fast cache: its logits are the
    model's within a few units in the last place of the dtype (bfloat16: at
    most 0.016 measured on logits of size about 2, so two candidates closer
    than that may swap; float32: 6e-7)."""
    for seed in range(4):
        model = build({**CFG, "vocab_size": 97, "context_length": 16}, seed).to(dtype)
        ids = torch.randint(0, 97, (2, 12), generator=torch.Generator().manual_seed(seed))
        cache = KVCache(model, batch_size=2)
        got = [cache.prefill(ids[:, :4])[:, -1]]
        got += [cache.step(ids[:, i:i + 1])[:, -1] for i in range(4, 12)]
        with torch.no_grad():
            want = model(ids)[:, 3:].float()
        assert (torch.stack(got, 1).float() - want).abs().max().item() <= tolerance


def _paths(model, ids):
    ctx = model.cfg["context_length"]
    return {
        "generate": lambda: generate(model, ids, 3),
        "generate(use_cache=False)": lambda: generate(model, ids, 3, use_cache=False),
        "generate, sampling": lambda: generate(model, ids, 3, temperature=1.0, seed=1),
        "generate_text_cached": lambda: generate_text_cached(model, ids, 3, ctx),
        "GPTModelWithCache": lambda: GPTModelWithCache(model)(ids),
        "KVCache": lambda: KVCache(model).prefill(ids),
    }


def test_one_training_mode_rule_for_every_generation_path():
    """Every path computes the eval-mode output: with dropout in training mode
    each refuses (not only the cached ones), without dropout each runs and
    gives what it gives in eval mode."""
    dropping = GPTModel({**CFG, "drop_rate": 0.1})  # built in training mode
    for name, run in _paths(dropping, PROMPT).items():
        with pytest.raises(ValueError, match=r"model\.eval\(\)"):
            run()
    # one dropout layer left in training mode in an eval model applies dropout too
    dropping.eval()
    dropping.trf_blocks[1].att.dropout.train()
    for name, run in _paths(dropping, PROMPT).items():
        with pytest.raises(ValueError, match=r"trf_blocks\.1\.att\.dropout"):
            run()
    model = build()
    want = {name: run() for name, run in _paths(model, PROMPT).items()}
    model.train()  # drop_rate 0: training mode computes the same
    for name, run in _paths(model, PROMPT).items():
        assert torch.allclose(run().float(), want[name].float(), atol=1e-6), name


# ------------------------------------------------ 5. property-based


def _ids_strategy():
    dtypes = st.sampled_from([torch.long, torch.int32, torch.int16, torch.uint8,
                              torch.float32, torch.bool])
    shapes = st.lists(st.integers(0, 10), min_size=0, max_size=3)
    values = st.integers(-60, 120) | st.sampled_from([-2**40, 2**40, 2**63 - 1, -2**63])

    @st.composite
    def tensors(draw):
        dtype, shape = draw(dtypes), draw(shapes)
        n = math.prod(shape)
        data = draw(st.lists(values, min_size=n, max_size=n))
        ids = torch.tensor(data, dtype=torch.long).reshape(shape)
        return ids if dtype == torch.long else ids.to(dtype)

    others = st.sampled_from([None, "Hello", 3, [[1, 2]], 2.5, [[]]])
    return tensors() | others


def _expect_ids(ids, vocab=50, context=None):
    """None if `ids` are valid token ids for the tiny model, else the error type."""
    if not isinstance(ids, torch.Tensor) or ids.dtype not in (torch.long, torch.int32):
        return TypeError
    if ids.dim() != 2 or ids.numel() == 0:
        return ValueError
    if context is not None and ids.shape[1] > context:
        return ValueError
    if int(ids.long().min()) < 0 or int(ids.long().max()) >= vocab:
        return ValueError
    return None


def _assert_clear(call, expected, names):
    """`call()` succeeds when `expected` is None, else raises `expected` with
    a message naming one of `names`; any other outcome fails."""
    if expected is None:
        return call()
    with pytest.raises(expected) as info:
        call()
    assert any(name in str(info.value) for name in names), str(info.value)
    return None


@FAST
@given(ids=_ids_strategy())
def test_token_ids_anywhere_give_a_result_or_a_clear_error(ids):
    clipped = ids[:, -8:] if isinstance(ids, torch.Tensor) and ids.dim() == 2 else ids
    expected = _expect_ids(ids)
    out = _assert_clear(lambda: generate(MODEL, ids, 2), expected, ["idx"])
    if out is not None:
        assert out.shape == (ids.shape[0], ids.shape[1] + 2) and out.dtype == ids.dtype
        assert torch.equal(out[:, :ids.shape[1]], ids)
        assert int(out.min()) >= 0 and int(out.max()) < 50
        assert torch.equal(out, generate(MODEL, ids, 2, use_cache=False))
        assert torch.equal(out.long(), generate_text_simple(MODEL, ids.long(), 2, 8))
        assert torch.equal(out.long(), generate_text_cached(MODEL, ids.long(), 2, 8))
    _assert_clear(lambda: generate_text_cached(MODEL, ids, 2, 8), _expect_ids(clipped), ["idx"])
    expected = _expect_ids(ids, context=8)
    logits = _assert_clear(lambda: MODEL(ids), expected, ["token ids", "context_length"])
    if logits is not None:
        assert logits.shape == (*ids.shape, 50) and bool(torch.isfinite(logits).all())
    if expected is None:
        batch = ids.shape[0]
        assert KVCache(MODEL, batch_size=batch).prefill(ids).shape == (batch, 1, 50)
    else:
        _assert_clear(lambda: KVCache(MODEL).prefill(ids), expected, ["new_ids"])
    _assert_clear(lambda: GPTModelWithCache(MODEL)(ids), expected, ["new_ids"])


NUMBERS = (st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**30, 10**30)
           | st.sampled_from([10**400, -10**400, 0, 1, 0.0, 1.0, 1e-300, 5e-324]))
ANYTHING = NUMBERS | st.booleans() | st.none() | st.text(max_size=3) | st.just([0.5])


def _temperature_ok(t):
    return isinstance(t, Real) and not isinstance(t, bool) and _finite(t) and t >= 0


def _top_k_ok(k):
    return k is None or (isinstance(k, int) and not isinstance(k, bool) and k >= 1)


def _top_p_ok(p):
    return p is None or (isinstance(p, Real) and not isinstance(p, bool) and _finite(p)
                         and 0 < p <= 1)


def _finite(x):
    try:
        return math.isfinite(float(x))
    except OverflowError:
        return False


@FAST
@given(temperature=ANYTHING, top_k=ANYTHING, top_p=ANYTHING)
def test_sampling_arguments_give_a_result_or_a_clear_error(temperature, top_k, top_p):
    checks = [("temperature", _temperature_ok(temperature)), ("top_k", _top_k_ok(top_k)),
              ("top_p", _top_p_ok(top_p))]
    first_bad = next((name for name, ok in checks if not ok), None)
    kwargs = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
    if first_bad is None:
        out = generate(MODEL, PROMPT, 3, seed=0, **kwargs)
        assert out.shape == (1, 7) and int(out.min()) >= 0 and int(out.max()) < 50
        assert torch.equal(out, generate(MODEL, PROMPT, 3, seed=0, use_cache=False, **kwargs))
        probs = next_token_distribution(MODEL(PROMPT)[:, -1], **kwargs)
        assert abs(probs.sum().item() - 1) < 1e-5 and bool((probs >= 0).all())
        return
    for call in (lambda: generate(MODEL, PROMPT, 3, seed=0, **kwargs),
                 lambda: next_token_distribution(torch.zeros(50), **kwargs)):
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        assert first_bad in str(info.value), str(info.value)


@FAST
@given(max_new_tokens=ANYTHING | st.integers(0, 12) | st.sampled_from([10**12, 2**63, 10**100]),
       use_cache=st.booleans())
def test_max_new_tokens_gives_a_result_or_a_clear_error(max_new_tokens, use_cache):
    eos = _first_greedy_token()  # stops at once: any limit, however large, is reached fast
    ok = isinstance(max_new_tokens, int) and not isinstance(max_new_tokens, bool)
    if ok and max_new_tokens >= 0:
        out = generate(MODEL, PROMPT, max_new_tokens, eos_id=eos, use_cache=use_cache)
        assert out.tolist() == [PROMPT[0].tolist() + [eos][:max_new_tokens]]
        return
    with pytest.raises(TypeError if not ok else ValueError, match="max_new_tokens"):
        generate(MODEL, PROMPT, max_new_tokens, eos_id=eos, use_cache=use_cache)
    with pytest.raises(TypeError if not ok else ValueError, match="max_new_tokens"):
        generate_text_cached(MODEL, PROMPT, max_new_tokens, 8)


@FAST
@given(d_out=st.integers(-2, 40) | st.sampled_from([10**400, 8.0]),
       num_heads=ANYTHING | st.integers(-3, 40))
def test_attention_sizes_give_a_layer_or_a_clear_error(d_out, num_heads):
    def make():
        return MultiHeadAttention(d_in=4, d_out=d_out, context_length=6, dropout=0.0,
                                  num_heads=num_heads)
    d_ok = isinstance(d_out, int) and 1 <= d_out < 2**63
    h_ok = isinstance(num_heads, int) and not isinstance(num_heads, bool)
    if d_ok and h_ok and 1 <= num_heads <= d_out and d_out % num_heads == 0:
        att = make()
        assert att(torch.randn(2, 6, 4)).shape == (2, 6, d_out)
        return
    with pytest.raises((ValueError, TypeError)) as info:
        make()
    assert "d_out" in str(info.value) or "num_heads" in str(info.value), str(info.value)
