"""generate(): greedy, temperature / top-k / top-p sampling, stop token,
batches, and clear errors for every bad argument."""

import pytest
import torch

from gpt_course import GPT_CONFIG_124M, GPTModel, generate_text_simple
from gpt_course.beyond.nb09_sampling import generate, next_token_distribution

CFG = {**GPT_CONFIG_124M, "vocab_size": 500, "context_length": 32, "emb_dim": 64,
       "n_heads": 4, "n_layers": 2, "drop_rate": 0.1}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(123)
    return GPTModel(CFG).eval()


@pytest.fixture(scope="module")
def ids():
    torch.manual_seed(5)
    return torch.randint(0, CFG["vocab_size"], (1, 4))


# ------------------------------------------------------------- greedy


@pytest.mark.parametrize("use_cache", [True, False])
def test_temperature_zero_is_the_book_loop(model, ids, use_cache):
    book = generate_text_simple(model, ids, 20, CFG["context_length"])
    assert torch.equal(generate(model, ids, 20, use_cache=use_cache), book)
    assert torch.equal(generate(model, ids, 20, temperature=0.0, top_k=5, top_p=0.5), book)


def test_top_k_one_is_greedy(model, ids):
    greedy = generate(model, ids, 20)
    assert torch.equal(generate(model, ids, 20, temperature=1.0, top_k=1, seed=3), greedy)
    assert torch.equal(generate(model, ids, 20, temperature=5.0, top_k=1, seed=4), greedy)


def test_zero_new_tokens(model, ids):
    assert torch.equal(generate(model, ids, 0), ids)


def test_uncached_goes_beyond_context(model, ids):
    out = generate(model, ids, 40, use_cache=False)  # 44 > 32: cropped like the book
    assert torch.equal(out, generate_text_simple(model, ids, 40, CFG["context_length"]))


# ----------------------------------------------------------- sampling


def test_seed_reproducible(model, ids):
    a = generate(model, ids, 20, temperature=1.5, seed=42)
    b = generate(model, ids, 20, temperature=1.5, seed=42)
    c = generate(model, ids, 20, temperature=1.5, seed=43)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    gen = torch.Generator().manual_seed(42)
    assert torch.equal(generate(model, ids, 20, temperature=1.5, generator=gen), a)


def test_global_rng_when_no_seed(model, ids):
    torch.manual_seed(9)
    a = generate(model, ids, 15, temperature=1.5)
    torch.manual_seed(9)
    assert torch.equal(generate(model, ids, 15, temperature=1.5), a)


def test_sampling_cached_and_uncached_agree(model, ids):
    a = generate(model, ids, 20, temperature=1.0, top_k=50, top_p=0.9, seed=1)
    b = generate(model, ids, 20, temperature=1.0, top_k=50, top_p=0.9, seed=1, use_cache=False)
    assert torch.equal(a, b)


def test_top_k_restricts_tokens(model, ids):
    with torch.no_grad():
        logits = model(ids)[:, -1]
    allowed = set(torch.topk(logits, 3).indices[0].tolist())
    for seed in range(5):
        out = generate(model, ids, 1, temperature=2.0, top_k=3, seed=seed)
        assert out[0, -1].item() in allowed


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


def test_distribution_temperature():
    logits = torch.tensor([1.0, 2.0, 3.0])
    torch.testing.assert_close(next_token_distribution(logits, 1.0), torch.softmax(logits, -1))
    torch.testing.assert_close(next_token_distribution(logits, 0.5),
                               torch.softmax(logits / 0.5, -1))
    assert torch.equal(next_token_distribution(logits, 0.0), torch.tensor([0.0, 0.0, 1.0]))
    flat = next_token_distribution(logits, 100.0)
    assert flat.max() - flat.min() < 0.01


# ---------------------------------------------------------- eos, batch


def test_eos_stops(model, ids):
    greedy = generate(model, ids, 20)
    eos = greedy[0, 4 + 6].item()  # the 7th new token
    first = (greedy[0, 4:] == eos).nonzero()[0, 0].item()
    out = generate(model, ids, 20, eos_id=eos)
    assert out.shape[1] == 4 + first + 1
    assert out[0, -1].item() == eos
    assert torch.equal(out, greedy[:, :out.shape[1]])
    assert torch.equal(generate(model, ids, 20, eos_id=eos, use_cache=False), out)


def test_batch_prompts(model):
    torch.manual_seed(11)
    batch = torch.randint(0, CFG["vocab_size"], (3, 5))
    out = generate(model, batch, 12)
    assert out.shape == (3, 17)
    for row in range(3):
        assert torch.equal(out[row:row + 1], generate(model, batch[row:row + 1], 12))
    assert torch.equal(out, generate_text_simple(model, batch, 12, CFG["context_length"]))


def test_batch_eos_pads_finished_rows(model):
    torch.manual_seed(11)
    batch = torch.randint(0, CFG["vocab_size"], (2, 5))
    greedy = generate(model, batch, 15)
    eos = greedy[0, 5 + 2].item()  # row 0 emits it at the 3rd new token (or earlier)
    out = generate(model, batch, 15, eos_id=eos)
    row0_stop = (greedy[0, 5:] == eos).nonzero()[0, 0].item()
    assert torch.equal(out[0, :5 + row0_stop + 1], greedy[0, :5 + row0_stop + 1])
    assert (out[0, 5 + row0_stop:] == eos).all()  # padded after finishing
    hits1 = (greedy[1, 5:] == eos).nonzero()
    row1_stop = hits1[0, 0].item() if len(hits1) else 15
    n = out.shape[1] - 5
    assert n == min(15, max(row0_stop, row1_stop) + 1)
    assert torch.equal(out[1, :5 + min(n, row1_stop + 1)], greedy[1, :5 + min(n, row1_stop + 1)])


# ---------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs, error, name", [
    ({"temperature": -0.5}, ValueError, "temperature"),
    ({"temperature": float("nan")}, ValueError, "temperature"),
    ({"temperature": "hot"}, TypeError, "temperature"),
    ({"top_k": 0}, ValueError, "top_k"),
    ({"top_k": 2.5}, TypeError, "top_k"),
    ({"top_k": True}, TypeError, "top_k"),
    ({"top_p": 0.0}, ValueError, "top_p"),
    ({"top_p": 1.5}, ValueError, "top_p"),
    ({"top_p": "all"}, TypeError, "top_p"),
    ({"eos_id": 500}, ValueError, "eos_id"),
    ({"eos_id": -1}, ValueError, "eos_id"),
    ({"seed": 1, "generator": torch.Generator()}, ValueError, "seed"),
    ({"seed": 1.5}, TypeError, "seed"),
    ({"generator": 3}, TypeError, "generator"),
    ({"use_cache": "yes"}, TypeError, "use_cache"),
])
def test_bad_arguments(model, ids, kwargs, error, name):
    with pytest.raises(error, match=name):
        generate(model, ids, 5, **kwargs)


@pytest.mark.parametrize("max_new_tokens, error", [(-1, ValueError), (2.0, TypeError),
                                                   (True, TypeError)])
def test_bad_max_new_tokens(model, ids, max_new_tokens, error):
    with pytest.raises(error, match="max_new_tokens"):
        generate(model, ids, max_new_tokens)


@pytest.mark.parametrize("idx, error", [
    (torch.zeros(1, 0, dtype=torch.long), ValueError),   # empty prompt
    (torch.tensor([[1.0, 2.0]]), TypeError),              # not integer ids
    (torch.tensor([[1, 500]]), ValueError),               # out of vocabulary
    (torch.tensor([[-1, 2]]), ValueError),
    (torch.tensor([1, 2]), ValueError),                   # not [batch, n_tokens]
    ([[1, 2]], TypeError),
])
def test_bad_prompt(model, idx, error):
    with pytest.raises(error, match="idx"):
        generate(model, idx, 5)


def test_too_long_with_cache(model, ids):
    with pytest.raises(ValueError, match=r"max_new_tokens.*context_length 32.*use_cache=False"):
        generate(model, ids, 29)
    assert generate(model, ids, 28).shape == (1, 32)  # exactly fits


def test_training_mode_with_cache(ids):
    torch.manual_seed(123)
    training = GPTModel(CFG)  # train mode, drop_rate 0.1
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        generate(training, ids, 3)


def test_distribution_bad_arguments():
    with pytest.raises(ValueError, match="temperature"):
        next_token_distribution(torch.zeros(5), -1.0)
    with pytest.raises(ValueError, match="top_k"):
        next_token_distribution(torch.zeros(5), 1.0, top_k=0)
    with pytest.raises(ValueError, match="top_p"):
        next_token_distribution(torch.zeros(5), 1.0, top_p=2.0)
    with pytest.raises(TypeError, match="logits"):
        next_token_distribution(torch.zeros(5, dtype=torch.long), 1.0)
