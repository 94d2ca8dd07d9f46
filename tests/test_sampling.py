"""generate(): greedy, temperature / top-k / top-p sampling, stop token,
batches, generation past the context, and clear errors for every bad argument."""

import sys

import pytest
import torch

from gpt_course import GPTModel, generate, generate_text_simple, next_token_distribution


@pytest.fixture
def model(tiny_cfg):
    torch.manual_seed(123)
    return GPTModel(tiny_cfg).eval()


@pytest.fixture
def ids(tiny_cfg):
    torch.manual_seed(5)
    return torch.randint(0, tiny_cfg["vocab_size"], (1, 4))


def book(model, idx, n):
    return generate_text_simple(model, idx, n, model.cfg["context_length"])


# ------------------------------------------------------------- greedy


@pytest.mark.parametrize("use_cache", [True, False])
def test_temperature_zero_is_the_book_loop(model, ids, use_cache):
    want = book(model, ids, 12)
    assert torch.equal(generate(model, ids, 12, use_cache=use_cache), want)
    assert torch.equal(generate(model, ids, 12, temperature=0.0, top_k=5, top_p=0.5,
                                use_cache=use_cache), want)


def test_top_k_one_is_greedy(model, ids):
    greedy = generate(model, ids, 12)
    assert torch.equal(generate(model, ids, 12, temperature=1.0, top_k=1, seed=3), greedy)
    assert torch.equal(generate(model, ids, 12, temperature=5.0, top_k=1, seed=4), greedy)


def test_zero_new_tokens(model, ids):
    assert torch.equal(generate(model, ids, 0), ids)
    assert torch.equal(generate(model, ids, 0, use_cache=False), ids)


# ------------------------------------------- past the context length


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("n_prompt, new", [(4, 12), (4, 13), (4, 30), (1, 40), (15, 3),
                                           (16, 1), (16, 9), (20, 6), (33, 4)])
def test_cached_past_the_context_is_the_book_loop(tiny_cfg, batch, n_prompt, new):
    """context_length 16: exactly full, one past, far past, and prompts that
    are already longer than the context (cropped like the book's loop)."""
    torch.manual_seed(123 + batch)
    model = GPTModel(tiny_cfg).eval()
    torch.manual_seed(n_prompt)
    idx = torch.randint(0, tiny_cfg["vocab_size"], (batch, n_prompt))
    want = book(model, idx, new)
    assert torch.equal(generate(model, idx, new), want)
    assert torch.equal(generate(model, idx, new, use_cache=False), want)


def test_sampling_past_the_context_cached_and_uncached_agree(model, tiny_cfg):
    torch.manual_seed(2)
    idx = torch.randint(0, tiny_cfg["vocab_size"], (2, 10))
    kw = {"temperature": 1.2, "top_k": 20, "top_p": 0.9, "seed": 11}
    a = generate(model, idx, 25, **kw)
    assert a.shape == (2, 35)
    assert torch.equal(a, generate(model, idx, 25, use_cache=False, **kw))


# ----------------------------------------------------------- sampling


def test_seed_reproducible(model, ids):
    a = generate(model, ids, 12, temperature=1.5, seed=42)
    b = generate(model, ids, 12, temperature=1.5, seed=42)
    c = generate(model, ids, 12, temperature=1.5, seed=43)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    gen = torch.Generator().manual_seed(42)
    assert torch.equal(generate(model, ids, 12, temperature=1.5, generator=gen), a)


@pytest.mark.parametrize("seed", [0, 2**63 - 1, 2**63, 2**64 - 1])
def test_every_64_bit_seed_works(model, ids, seed):
    a = generate(model, ids, 6, temperature=1.5, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    assert torch.equal(generate(model, ids, 6, temperature=1.5, generator=gen), a)


def test_global_rng_when_no_seed(model, ids):
    torch.manual_seed(9)
    a = generate(model, ids, 10, temperature=1.5)
    torch.manual_seed(9)
    assert torch.equal(generate(model, ids, 10, temperature=1.5), a)


def test_sampling_cached_and_uncached_agree(model, ids):
    a = generate(model, ids, 12, temperature=1.0, top_k=50, top_p=0.9, seed=1)
    b = generate(model, ids, 12, temperature=1.0, top_k=50, top_p=0.9, seed=1, use_cache=False)
    assert torch.equal(a, b)


def test_top_k_restricts_tokens(model, ids):
    with torch.no_grad():
        logits = model(ids)[:, -1]
    allowed = set(torch.topk(logits, 3).indices[0].tolist())
    for seed in range(5):
        out = generate(model, ids, 1, temperature=2.0, top_k=3, seed=seed)
        assert out[0, -1].item() in allowed


@pytest.mark.parametrize("temperature", [1e-8, 1e-30, 1e-45, 1e-300, 5e-324])
@pytest.mark.parametrize("use_cache", [True, False])
def test_tiny_temperature_is_greedy(model, ids, temperature, use_cache):
    greedy = generate(model, ids, 10)
    assert torch.equal(generate(model, ids, 10, temperature=temperature, seed=1,
                                use_cache=use_cache), greedy)


@pytest.mark.parametrize("top_p", [1e-8, 1e-46, 1e-300, 5e-324])
def test_tiny_top_p_is_the_top_token(model, ids, top_p):
    greedy = generate(model, ids, 10)
    assert torch.equal(generate(model, ids, 10, temperature=1.0, top_p=top_p, seed=1), greedy)
    assert torch.equal(generate(model, ids, 10, temperature=3.0, top_k=7, top_p=top_p,
                                seed=2, use_cache=False), greedy)


# ------------------------------------------------ next_token_distribution


def test_distribution_top_k_support():
    torch.manual_seed(0)
    logits = torch.randn(3, 100)
    for k in (1, 5, 40):
        probs = next_token_distribution(logits, 1.0, top_k=k)
        assert ((probs > 0).sum(-1) == k).all()
        torch.testing.assert_close(probs.sum(-1), torch.ones(3))
        top = torch.topk(logits, k)
        expected = torch.softmax(top.values, -1)
        torch.testing.assert_close(probs.gather(-1, top.indices), expected)
    # ties at the k-th value still keep exactly k
    assert (next_token_distribution(torch.zeros(1, 10), 1.0, top_k=4) > 0).sum() == 4


def test_distribution_top_p_mass():
    logits = torch.log(torch.tensor([[0.05, 0.5, 0.15, 0.3]]))
    kept2 = next_token_distribution(logits, 1.0, top_p=0.75)  # 0.5 + 0.3 >= 0.75
    torch.testing.assert_close(kept2, torch.tensor([[0.0, 0.625, 0.0, 0.375]]))
    kept3 = next_token_distribution(logits, 1.0, top_p=0.85)  # needs 0.15 too
    torch.testing.assert_close(kept3, torch.tensor([[0.0, 0.5, 0.15, 0.3]]) / 0.95)
    kept1 = next_token_distribution(logits, 1.0, top_p=0.1)  # the top token always stays
    torch.testing.assert_close(kept1, torch.tensor([[0.0, 1.0, 0.0, 0.0]]))
    everything = next_token_distribution(logits, 1.0, top_p=1.0)
    torch.testing.assert_close(everything, torch.tensor([[0.05, 0.5, 0.15, 0.3]]))
    # the kept set is the smallest whose mass reaches top_p
    torch.manual_seed(1)
    probs = torch.softmax(torch.randn(200), -1)
    kept = next_token_distribution(probs.log(), 1.0, top_p=0.6) > 0
    assert probs[kept].sum() >= 0.6
    assert probs[kept].sum() - probs[kept].min() < 0.6


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_top_p_stops_when_the_mass_is_exactly_top_p(dtype):
    """Reaching top_p is enough: a token is dropped once the mass before it
    equals top_p exactly (0.5 is exact in binary, so is 0.25 * 2)."""
    three = torch.tensor([0.5, 0.3, 0.2], dtype=dtype).log()
    got = next_token_distribution(three, 1.0, top_p=0.5)
    assert torch.equal(got, torch.tensor([1.0, 0.0, 0.0], dtype=dtype))
    uniform = torch.zeros(2, 4, dtype=dtype)
    got = next_token_distribution(uniform, 1.0, top_p=0.5)
    assert ((got > 0).sum(-1) == 2).all()
    torch.testing.assert_close(got.sum(-1), torch.ones(2, dtype=dtype))
    assert set(got.flatten().tolist()) == {0.0, 0.5}
    got = next_token_distribution(torch.zeros(8, dtype=dtype), 1.0, top_p=0.75)
    assert (got > 0).sum() == 6


def test_distribution_temperature():
    logits = torch.tensor([1.0, 2.0, 3.0])
    torch.testing.assert_close(next_token_distribution(logits, 1.0), torch.softmax(logits, -1))
    torch.testing.assert_close(next_token_distribution(logits, 0.5),
                               torch.softmax(logits / 0.5, -1))
    assert torch.equal(next_token_distribution(logits, 0.0), torch.tensor([0.0, 0.0, 1.0]))
    flat = next_token_distribution(logits, 100.0)
    assert flat.max() - flat.min() < 0.01
    uniform = next_token_distribution(logits, 1e300)
    torch.testing.assert_close(uniform, torch.full((3,), 1 / 3))


TINY = [1e-3, 1e-8, 1e-30, 1e-38, 1e-45, 1e-300, sys.float_info.min, 5e-324]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("temperature", TINY)
def test_tiny_temperature_tends_to_greedy(dtype, temperature):
    """No NaN, whatever the dtype and however small the temperature: the
    limit is the top token (shared between tied top logits)."""
    torch.manual_seed(0)
    cases = [
        torch.randn(3, 50) * 4,                                 # ordinary
        torch.randn(2, 50) * 1e4,                               # large logits
        torch.tensor([[0.0, -torch.inf, 1.0, -torch.inf]]),     # masked tokens
        torch.tensor([[2.0, 2.0, -1.0, 0.5]]),                  # a tie at the top
    ]
    for logits in cases:
        logits = logits.to(dtype)
        probs = next_token_distribution(logits, temperature)
        assert not probs.isnan().any()
        torch.testing.assert_close(probs.float().sum(-1), torch.ones(logits.shape[0]))
        top = logits == logits.amax(-1, keepdim=True)
        if temperature <= 1e-30:  # well below any gap between two logits
            want = top.to(dtype) / top.sum(-1, keepdim=True)
            torch.testing.assert_close(probs, want)
        assert (probs[~top] <= probs.amax()).all()
        with_k = next_token_distribution(logits, temperature, top_k=2, top_p=0.9)
        assert not with_k.isnan().any() and with_k[top].sum() > 0


@pytest.mark.parametrize("top_p", [1e-4, 1e-7, 1e-30, 1e-46, 1e-300, 5e-324])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_tiny_top_p_keeps_the_top_token(dtype, top_p):
    torch.manual_seed(1)
    logits = (torch.randn(4, 30) * 3).to(dtype)
    for temperature in (0.7, 1.0, 2.0):
        probs = next_token_distribution(logits, temperature, top_p=top_p)
        assert not probs.isnan().any()
        want = torch.zeros_like(probs).scatter_(-1, logits.argmax(-1, keepdim=True), 1.0)
        assert torch.equal(probs, want)


@pytest.mark.parametrize("logits", [
    torch.tensor([1.0, float("nan"), 0.0]),
    torch.tensor([[1.0, 2.0], [float("nan"), 0.0]]),
    torch.tensor([1.0, float("inf"), 0.0]),
    torch.tensor([-float("inf"), -float("inf")]),
    torch.tensor([[0.0, 1.0], [-float("inf"), -float("inf")]]),
])
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_distribution_refuses_nan_and_inf(logits, temperature):
    with pytest.raises(ValueError, match="logits"):
        next_token_distribution(logits, temperature)


# ---------------------------------------------------------- eos, batch


def test_eos_stops(model, ids):
    greedy = generate(model, ids, 12)
    eos = greedy[0, 4 + 6].item()  # the 7th new token
    first = (greedy[0, 4:] == eos).nonzero()[0, 0].item()
    out = generate(model, ids, 12, eos_id=eos)
    assert out.shape[1] == 4 + first + 1
    assert out[0, -1].item() == eos
    assert torch.equal(out, greedy[:, :out.shape[1]])
    assert torch.equal(generate(model, ids, 12, eos_id=eos, use_cache=False), out)


def test_batch_prompts(model, tiny_cfg):
    torch.manual_seed(11)
    batch = torch.randint(0, tiny_cfg["vocab_size"], (3, 5))
    out = generate(model, batch, 10)
    assert out.shape == (3, 15)
    for row in range(3):
        assert torch.equal(out[row:row + 1], generate(model, batch[row:row + 1], 10))
    assert torch.equal(out, book(model, batch, 10))


def test_batch_eos_pads_finished_rows(model, tiny_cfg):
    torch.manual_seed(11)
    batch = torch.randint(0, tiny_cfg["vocab_size"], (2, 5))
    greedy = generate(model, batch, 10)
    eos = greedy[0, 5 + 2].item()  # row 0 emits it at the 3rd new token (or earlier)
    out = generate(model, batch, 10, eos_id=eos)
    row0_stop = (greedy[0, 5:] == eos).nonzero()[0, 0].item()
    assert torch.equal(out[0, :5 + row0_stop + 1], greedy[0, :5 + row0_stop + 1])
    assert (out[0, 5 + row0_stop:] == eos).all()  # padded after finishing
    hits1 = (greedy[1, 5:] == eos).nonzero()
    row1_stop = hits1[0, 0].item() if len(hits1) else 10
    n = out.shape[1] - 5
    assert n == min(10, max(row0_stop, row1_stop) + 1)
    assert torch.equal(out[1, :5 + min(n, row1_stop + 1)], greedy[1, :5 + min(n, row1_stop + 1)])


def test_int32_prompt_keeps_its_dtype(model, ids):
    out = generate(model, ids.int(), 5)
    assert out.dtype == torch.int32
    assert torch.equal(out.long(), generate(model, ids, 5))


# ---------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs, error, name", [
    ({"temperature": -0.5}, ValueError, "temperature"),
    ({"temperature": float("nan")}, ValueError, "temperature"),
    ({"temperature": float("inf")}, ValueError, "temperature"),
    ({"temperature": "hot"}, TypeError, "temperature"),
    ({"temperature": None}, TypeError, "temperature"),
    ({"temperature": True}, TypeError, "temperature"),
    ({"top_k": 0}, ValueError, "top_k"),
    ({"top_k": -3}, ValueError, "top_k"),
    ({"top_k": 2.5}, TypeError, "top_k"),
    ({"top_k": True}, TypeError, "top_k"),
    ({"top_p": 0.0}, ValueError, "top_p"),
    ({"top_p": -0.1}, ValueError, "top_p"),
    ({"top_p": 1.5}, ValueError, "top_p"),
    ({"top_p": float("nan")}, ValueError, "top_p"),
    ({"top_p": "all"}, TypeError, "top_p"),
    ({"top_p": False}, TypeError, "top_p"),
    ({"eos_id": 97}, ValueError, "eos_id"),
    ({"eos_id": -1}, ValueError, "eos_id"),
    ({"eos_id": 2.0}, TypeError, "eos_id"),
    ({"eos_id": True}, TypeError, "eos_id"),
    ({"seed": 1, "generator": torch.Generator()}, ValueError, "seed"),
    ({"seed": 1.5}, TypeError, "seed"),
    ({"seed": "42"}, TypeError, "seed"),
    ({"seed": True}, TypeError, "seed"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": 2**64}, ValueError, "seed"),
    ({"seed": 10**30}, ValueError, "seed"),
    ({"generator": 3}, TypeError, "generator"),
    ({"use_cache": "yes"}, TypeError, "use_cache"),
    ({"use_cache": 1}, TypeError, "use_cache"),
    ({"use_cache": None}, TypeError, "use_cache"),
])
def test_bad_arguments(model, ids, kwargs, error, name):
    with pytest.raises(error, match=name):
        generate(model, ids, 5, **kwargs)


@pytest.mark.parametrize("max_new_tokens, error", [(-1, ValueError), (2.0, TypeError),
                                                   (True, TypeError), ("5", TypeError),
                                                   (None, TypeError)])
def test_bad_max_new_tokens(model, ids, max_new_tokens, error):
    with pytest.raises(error, match="max_new_tokens"):
        generate(model, ids, max_new_tokens)


@pytest.mark.parametrize("idx, error", [
    (torch.zeros(1, 0, dtype=torch.long), ValueError),   # empty prompt
    (torch.zeros(0, 3, dtype=torch.long), ValueError),   # no rows
    (torch.tensor([[1.0, 2.0]]), TypeError),              # not integer ids
    (torch.tensor([[1, 2]], dtype=torch.int16), TypeError),
    (torch.tensor([[1, 2]], dtype=torch.uint8), TypeError),
    (torch.tensor([[True, False]]), TypeError),
    (torch.tensor([[1, 97]]), ValueError),                # out of vocabulary
    (torch.tensor([[-1, 2]]), ValueError),
    (torch.tensor([1, 2]), ValueError),                   # not [batch, n_tokens]
    (torch.zeros(1, 2, 2, dtype=torch.long), ValueError),
    ([[1, 2]], TypeError),
    ("Hello", TypeError),
])
@pytest.mark.parametrize("use_cache", [True, False])
def test_bad_prompt(model, idx, error, use_cache):
    with pytest.raises(error, match="idx"):
        generate(model, idx, 5, use_cache=use_cache)


@pytest.mark.parametrize("not_a_model", [None, "gpt2", torch.nn.Linear(4, 4)])
@pytest.mark.parametrize("use_cache", [True, False])
def test_not_a_model(not_a_model, ids, use_cache):
    with pytest.raises(TypeError, match="model"):
        generate(not_a_model, ids, 3, use_cache=use_cache)


def test_training_mode_with_cache(tiny_cfg, ids):
    torch.manual_seed(123)
    training = GPTModel({**tiny_cfg, "drop_rate": 0.1})  # train mode, dropout on
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        generate(training, ids, 3)


@pytest.mark.parametrize("kwargs, error, name", [
    ({"temperature": -1.0}, ValueError, "temperature"),
    ({"temperature": "warm"}, TypeError, "temperature"),
    ({"top_k": 0}, ValueError, "top_k"),
    ({"top_k": 1.0}, TypeError, "top_k"),
    ({"top_p": 2.0}, ValueError, "top_p"),
    ({"top_p": 0.0}, ValueError, "top_p"),
    ({"top_p": [0.5]}, TypeError, "top_p"),
])
def test_distribution_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        next_token_distribution(torch.zeros(5), **kwargs)


@pytest.mark.parametrize("logits, error", [
    (torch.zeros(5, dtype=torch.long), TypeError),
    ([0.0, 1.0], TypeError),
    (None, TypeError),
    (torch.tensor(1.0), ValueError),
    (torch.zeros(2, 0), ValueError),
])
def test_distribution_bad_logits(logits, error):
    with pytest.raises(error, match="logits"):
        next_token_distribution(logits, 1.0)


# ------------------------------- behaviours pinned so that a change is noticed


def _batch_where_rows_finish_apart(model, tiny_cfg):
    """Prompts (2 rows) and a stop token that row 0 emits first, at its first
    new token, and row 1 only later (its first emission at index > 1)."""
    gen = torch.Generator().manual_seed(0)
    for _ in range(200):
        batch = torch.randint(0, tiny_cfg["vocab_size"], (2, 4), generator=gen)
        greedy = generate(model, batch, 12)
        eos = greedy[0, 4].item()
        hits = (greedy[1, 4:] == eos).nonzero()
        if len(hits) and hits[0, 0].item() > 1:
            return batch, greedy, eos, hits[0, 0].item()
    raise AssertionError("no such batch found")


@pytest.mark.parametrize("use_cache", [True, False])
def test_batch_runs_until_every_row_has_stopped(model, tiny_cfg, use_cache):
    """Generation ends when ALL rows have emitted the stop token, not when
    the first row does: row 1 goes on while row 0 is padded."""
    batch, greedy, eos, row1_stop = _batch_where_rows_finish_apart(model, tiny_cfg)
    out = generate(model, batch, 12, eos_id=eos, use_cache=use_cache)
    assert out.shape == (2, 4 + row1_stop + 1)  # stopping at ANY row would give 4 + 1
    assert torch.equal(out[1], greedy[1, :4 + row1_stop + 1])
    assert out[0, 4:].tolist() == [eos] * (row1_stop + 1)


def test_stop_token_in_the_prompt_does_not_stop(model, ids):
    greedy = generate(model, ids, 8)
    eos = ids[0, 0].item()
    if eos in greedy[0, 4:].tolist():  # keep the test about the prompt only
        pytest.skip("the prompt's first token is also generated")
    assert torch.equal(generate(model, ids, 8, eos_id=eos), greedy)
    assert torch.equal(generate(model, ids, 0, eos_id=eos), ids)


@pytest.mark.parametrize("use_cache", [True, False])
def test_the_prompt_is_not_changed(model, ids, use_cache):
    before = ids.clone()
    generate(model, ids, 6, use_cache=use_cache)
    generate(model, ids, 6, temperature=1.0, seed=0, use_cache=use_cache)
    assert torch.equal(ids, before)


def test_greedy_tie_picks_the_lowest_id(model, ids):
    """Two tokens with exactly the same logit: greedy picks the lower id, as
    the book's argmax does (and with temperature > 0 both stay possible)."""
    with torch.no_grad():
        model.out_head.weight[3] = 5.0  # with every final feature 1: logit 160 for ids 3 and 7
        model.out_head.weight[7] = 5.0
        model.final_norm.scale.fill_(0.0)
        model.final_norm.shift.fill_(1.0)
    assert generate(model, ids, 3)[0, 4:].tolist() == [3, 3, 3]
    assert generate(model, ids, 3, use_cache=False)[0, 4:].tolist() == [3, 3, 3]
    assert torch.equal(generate(model, ids, 3), book(model, ids, 3))
    drawn = set(generate(model, ids, 40, temperature=1.0, top_k=2, seed=0)[0, 4:].tolist())
    assert drawn == {3, 7}
