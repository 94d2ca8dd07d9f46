"""Notebook 12's package part: quantize(model, "bf16" | "int8"), Int8Linear
(readable) and int8_linear_fast (torch's int8 kernel) agreeing, the fast KV
cache running int8 weights, and what smaller numbers cost in quality, on a
small seeded model."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpt_course import (
    BYTES_PER_NUMBER, GPT_CONFIG_124M, PRECISIONS, GPTModel, Int8Linear, KVCache, Quality,
    check_cacheable, compare_quality, generate, generate_text_cached, generate_text_simple,
    int8_linear_fast, model_bytes, quantize, quantize_per_channel, weight_bytes_per_token,
)

# emb_dim and 4 * emb_dim multiples of 64: the fast int8 kernel runs (see int8_linear_fast)
SMALL = {**GPT_CONFIG_124M, "vocab_size": 300, "context_length": 48, "emb_dim": 128,
         "n_heads": 4, "n_layers": 2, "drop_rate": 0.0}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(123)
    return GPTModel(SMALL).eval()


def state(model):
    return {k: (v.dtype, v.clone()) for k, v in model.state_dict().items()}


# ------------------------------------------------------------- per channel, by hand


def test_quantize_per_channel_is_absmax_per_row():
    w = torch.tensor([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0], [3.0, 1.5, -0.7]])
    q, scales = quantize_per_channel(w)
    assert q.dtype == torch.int8 and q.shape == w.shape and scales.shape == (3,)
    assert scales.tolist() == pytest.approx([1.0 / 127, 1.0, 3.0 / 127])  # a zero row: scale 1
    assert q.tolist() == [[64, -127, 32], [0, 0, 0], [127, 64, -30]]  # 63.5 -> 64 (half to even)
    assert not torch.isnan(scales).any()


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 6), cols=st.integers(1, 9), seed=st.integers(0, 2**31 - 1),
       magnitude=st.sampled_from([1e-6, 1e-2, 1.0, 1e3, 1e20]), zero_row=st.booleans())
def test_dequantized_weight_is_within_half_a_step(rows, cols, seed, magnitude, zero_row):
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=gen) * magnitude
    if zero_row:
        w[0] = 0
    q, scales = quantize_per_channel(w)
    assert q.dtype == torch.int8 and int(q.abs().max()) <= 127
    assert torch.isfinite(scales).all()
    back = q.double() * scales.double()[:, None]
    step = scales.double()[:, None]
    # half a step, plus the float32 rounding of w / scales
    assert ((back - w.double()).abs() <= step * (0.5 + 1e-5)).all()
    nonzero = w.abs().amax(dim=1) > 0
    # every non-zero row uses the whole range: its largest weight becomes +-127
    assert (q[nonzero].abs().amax(dim=1) == 127).all()


# ------------------------------------------------------------- Int8Linear


def test_int8_linear_is_the_dequantized_linear():
    torch.manual_seed(0)
    linear = nn.Linear(20, 7)
    layer = Int8Linear(linear)
    q, scales = quantize_per_channel(linear.weight.detach())
    assert torch.equal(layer.q, q) and torch.equal(layer.scales, scales)
    assert torch.equal(layer.bias, linear.bias.detach())
    assert {name for name, _ in layer.named_buffers()} == {"q", "scales", "bias"}
    assert list(layer.parameters()) == []
    x = torch.randn(3, 5, 20)
    exact = F.linear(x.double(), q.double() * scales.double()[:, None], linear.bias.double())
    assert torch.allclose(layer(x).double(), exact, atol=1e-5, rtol=1e-5)
    # and close to the float layer: within what half a step per weight can move it
    bound = (x.double().abs() @ (scales.double()[:, None] / 2).expand(7, 20).T)
    assert ((layer(x) - linear(x)).abs().double() <= bound + 1e-5).all()
    assert "int8" in repr(layer)


def test_int8_linear_without_bias_and_bad_input():
    layer = Int8Linear(nn.Linear(8, 3, bias=False))
    assert layer.bias is None and layer(torch.randn(2, 8)).shape == (2, 3)
    with pytest.raises(TypeError, match="built from an nn.Linear"):
        Int8Linear(nn.Conv1d(3, 3, 1))


@pytest.mark.parametrize("shape", [(2, 64), (1, 1, 128), (3, 5, 192), (7, 3072 // 16)])
def test_fast_kernel_agrees_with_the_readable_layer(shape):
    """int8_linear_fast rounds x and its output to bfloat16 (8 significant
    bits: relative error at most 2**-9 each), and sums in float32. So it may
    miss the readable float32 layer by 2**-9 of sum |x_i q_ji s_j| (the
    inputs' rounding) plus 2**-9 of |y_j| (the output's), with a factor of
    two for float32 summation order."""
    torch.manual_seed(1)
    linear = nn.Linear(shape[-1], 96)
    layer = Int8Linear(linear)
    x = torch.randn(*shape)
    readable, fast = layer(x), int8_linear_fast(x, layer)
    assert fast.dtype == readable.dtype and fast.shape == readable.shape
    weight = layer.q.double().abs() * layer.scales.double()[:, None]
    bound = 2 * 2**-9 * (x.double().abs() @ weight.T + readable.double().abs()) + 1e-6
    assert ((fast.double() - readable.double()).abs() <= bound).all()
    assert not torch.equal(fast, readable)  # it did run the kernel (bfloat16 rounding shows)


@pytest.mark.parametrize("in_features", [1, 6, 20, 100])
def test_fast_kernel_falls_back_to_the_readable_layer(in_features):
    """The int8 kernel needs whole blocks of inputs (it crashes the process on
    some other sizes): elsewhere the readable forward runs, exactly."""
    layer = Int8Linear(nn.Linear(in_features, 5))
    x = torch.randn(2, in_features)
    assert torch.equal(int8_linear_fast(x, layer), layer(x))


def test_stacked_int8_linears_compute_side_by_side():
    torch.manual_seed(2)
    layers = [Int8Linear(nn.Linear(64, n)) for n in (8, 16, 8)]
    fused = Int8Linear.stacked(*layers)
    x = torch.randn(3, 64)
    assert torch.allclose(fused(x), torch.cat([layer(x) for layer in layers], dim=-1), atol=1e-6)
    with pytest.raises(ValueError, match="same in_features"):
        Int8Linear.stacked(layers[0], Int8Linear(nn.Linear(32, 8)))


# ------------------------------------------------------------- quantize(model, ...)


def test_precisions_and_bytes():
    assert PRECISIONS == ("float32", "bf16", "int8")
    assert BYTES_PER_NUMBER == {"float32": 4, "bf16": 2, "int8": 1}
    assert torch.finfo(torch.bfloat16).bits == 16 and torch.iinfo(torch.int8).bits == 8


@pytest.mark.parametrize("precision", PRECISIONS)
def test_quantize_returns_a_new_model_and_leaves_the_original_bit_for_bit(model, precision):
    before = state(model)
    types = [type(m) for m in model.modules()]
    model.train()  # the original's mode is its own
    try:
        small = quantize(model, precision)
    finally:
        model.eval()
    assert small is not model and isinstance(small, GPTModel) and not small.training
    after = state(model)
    assert before.keys() == after.keys()
    for key, (dtype, value) in before.items():
        assert after[key][0] == dtype and torch.equal(after[key][1], value), key
    assert [type(m) for m in model.modules()] == types
    # nothing shared: changing the copy leaves the original alone
    with torch.no_grad():
        small.tok_emb.weight.zero_()
    assert torch.equal(model.tok_emb.weight, before["tok_emb.weight"][1])
    assert small.cfg == model.cfg and small.cfg is not model.cfg


def test_what_each_precision_stores(model):
    bf16, int8 = quantize(model, "bf16"), quantize(model, "int8")
    assert {p.dtype for p in bf16.parameters()} == {torch.bfloat16}
    linears = [m for m in int8.modules() if isinstance(m, nn.Linear)]
    assert linears == []  # every Linear quantized: q, k, v, out_proj, the feed forward's, the head
    n_int8 = sum(isinstance(m, Int8Linear) for m in int8.modules())
    assert n_int8 == SMALL["n_layers"] * 6 + 1
    # embeddings and LayerNorms stay float32
    assert {p.dtype for p in int8.parameters()} == {torch.float32}
    assert int8.tok_emb.weight.dtype == torch.float32 and int8.final_norm.scale.dtype == torch.float32
    f32 = model_bytes(model)
    assert model_bytes(bf16) == f32 // 2
    # the Linears' weights shrink 4x; embeddings, norms, biases and one scale per row do not
    linear_weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))
    assert f32 - model_bytes(int8) == 3 * linear_weights - 4 * sum(
        m.out_features for m in int8.modules() if isinstance(m, Int8Linear))


def test_bytes_per_token_count_one_embedding_row(model):
    per_token = weight_bytes_per_token(model)
    tables = (SMALL["vocab_size"] - 1 + SMALL["context_length"] - 1) * SMALL["emb_dim"] * 4
    assert per_token == model_bytes(model) - tables
    assert weight_bytes_per_token(quantize(model, "int8")) < per_token / 3
    tied = GPTModel(SMALL)
    tied.out_head.weight = tied.tok_emb.weight  # the head reads the whole table
    assert weight_bytes_per_token(tied) == model_bytes(tied) - (SMALL["context_length"] - 1) * SMALL["emb_dim"] * 4


def test_a_tied_model_quantizes_its_head_and_keeps_its_embedding():
    torch.manual_seed(0)
    tied = GPTModel(SMALL).eval()
    tied.out_head.weight = tied.tok_emb.weight
    small = quantize(tied, "int8")
    assert isinstance(small.out_head, Int8Linear)
    assert torch.equal(small.tok_emb.weight, tied.tok_emb.weight)
    assert torch.equal(small.out_head.q, quantize_per_channel(tied.tok_emb.weight.detach())[0])


# ------------------------------------------------------------- bad input, said clearly


class NotAModel(nn.Module):
    def forward(self, x):
        return x


@pytest.mark.parametrize("junk", [None, 3, "model", nn.Linear(3, 3), NotAModel(), {"cfg": {}}])
def test_quantize_refuses_what_is_not_a_gpt_model(junk):
    with pytest.raises(TypeError, match="must be the course's GPTModel"):
        quantize(junk, "int8")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(precision=st.one_of(st.text(max_size=12), st.integers(), st.none(), st.just(torch.int8),
                           st.just(torch.bfloat16), st.floats()))
def test_unknown_precisions_are_named(model, precision):
    if precision in PRECISIONS:
        return
    error = TypeError if not isinstance(precision, str) else ValueError
    with pytest.raises(error, match=r"precision must be one of \['float32', 'bf16', 'int8'\]"):
        quantize(model, precision)


def test_quantize_starts_from_float32_once(model):
    with pytest.raises(ValueError, match=r"float32 model, got torch.bfloat16.*model.float\(\)"):
        quantize(quantize(model, "bf16"), "int8")
    with pytest.raises(ValueError, match="quantized already"):
        quantize(quantize(model, "int8"), "int8")
    import copy
    with pytest.raises(ValueError, match="torch.float64"):
        quantize(copy.deepcopy(model).double(), "bf16")


def test_compare_quality_bad_input(model):
    with pytest.raises(ValueError, match="at least 2 tokens"):
        compare_quality(model, model, torch.tensor([[1]]))
    with pytest.raises(TypeError, match="reference must be the course's GPTModel"):
        compare_quality(None, model, torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match=r"\[0, 300\)"):
        compare_quality(model, model, torch.tensor([[1, 300]]))


def test_the_kv_cache_refuses_mixed_q_k_v(model):
    import copy
    mixed = copy.deepcopy(model)
    mixed.trf_blocks[0].att.W_key = Int8Linear(mixed.trf_blocks[0].att.W_key)
    with pytest.raises(TypeError, match="mixes nn.Linear and Int8Linear"):
        check_cacheable(mixed)
    # the book's loop runs it anyway
    assert generate(mixed, torch.tensor([[1, 2]]), 3, use_cache=False).shape == (1, 5)


# ------------------------------------------------------------- generation


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_every_generation_path_takes_the_smaller_model(model, precision):
    small = quantize(model, precision)
    idx = torch.tensor([[5, 17, 42, 7]])
    book = generate_text_simple(small, idx, 16, SMALL["context_length"])
    cached = generate_text_cached(small, idx, 16, SMALL["context_length"])
    fast = generate(small, idx, 16)
    assert book.shape == cached.shape == fast.shape == (1, 20)
    # the readable cache runs the same modules: the same tokens
    assert torch.equal(book, cached)
    # the fast cache rounds differently (bfloat16 in the int8 kernel, fused ops):
    # near-ties may swap, then the texts go apart
    assert torch.equal(fast[:, :4], idx)
    sampled = generate(small, idx, 5, temperature=1.0, top_k=20, seed=3)
    assert torch.equal(sampled, generate(small, idx, 5, temperature=1.0, top_k=20, seed=3))


def test_the_fast_cache_runs_int8_as_the_model_does(model):
    small = quantize(model, "int8")
    ids = torch.randint(0, SMALL["vocab_size"], (2, 20), generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        full = small(ids)
        cache = KVCache(small, batch_size=2)
        first = cache.prefill(ids[:, :12])
        steps = [cache.step(ids[:, t:t + 1]) for t in range(12, 20)]
    cached = torch.cat([first] + steps, dim=1)
    want = full[:, [11] + list(range(12, 20))]
    # bfloat16 rounding of every matmul's input and output (see
    # test_fast_kernel_agrees_with_the_readable_layer), through 2 blocks: logits
    # of size ~1 move by a few hundredths at most
    assert (cached - want).abs().max() < 0.05
    assert (cached.argmax(-1) == want.argmax(-1)).float().mean() >= 0.8


# ------------------------------------------------------------- quality, measured


def test_quality_numbers_are_sane_on_a_small_seeded_model(model):
    ids = torch.randint(0, SMALL["vocab_size"], (4, 40), generator=torch.Generator().manual_seed(5))
    same = compare_quality(model, quantize(model, "float32"), ids)
    assert isinstance(same, Quality) and same.positions == 4 * 39
    assert same.max_logit_diff == 0 and same.top1_agreement == 1 and same.loss == same.loss_reference
    assert same.perplexity == pytest.approx(math.exp(same.loss))
    for precision, max_diff in (("bf16", 0.1), ("int8", 0.05)):
        q = compare_quality(model, quantize(model, precision), ids)
        assert 0 < q.max_logit_diff < max_diff, (precision, q)
        # a random model's logits are nearly flat: near-ties swap, so agreement
        # is high but not perfect (a trained model's margins are wider)
        assert q.top1_agreement >= 0.85, (precision, q)
        assert abs(q.loss - q.loss_reference) < 0.01, (precision, q)
        assert q.perplexity_reference == pytest.approx(math.exp(q.loss_reference))
    assert not model.training


# ------------------------------------------------- notebook 11's trained model (#20's target)


@pytest.fixture(scope="module")
def notebook11_run():
    from gpt_course import train_notebook11_model
    before = torch.random.get_rng_state()
    # (In the torch threads the test run gives (one per worker, each on its own core):
    # more threads than cores makes this training many times slower. Notebook 11's
    # losses come out the same to the 3 decimals it prints with 1 thread or 2.)
    run = train_notebook11_model(num_epochs=3)
    assert torch.equal(torch.random.get_rng_state(), before), "the caller's random state changed"
    return run


def test_train_notebook11_model_is_notebook_11s_run(notebook11_run):
    import json
    import re
    from pathlib import Path
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "11_training_glimpse.ipynb"
    printed = "".join(
        "".join(out.get("text", "")) for cell in json.loads(notebook.read_text())["cells"]
        if cell["cell_type"] == "code" for out in cell.get("outputs", []))
    stored = [float(v) for v in re.findall(r"epoch \d: training loss [\d.]+, validation loss ([\d.]+)",
                                           printed)]
    assert len(stored) == 8
    assert [f"{v:.3f}" for v in notebook11_run.history.val_losses] == [f"{v:.3f}" for v in stored[:3]]
    assert not notebook11_run.model.training
    assert len(notebook11_run.vocab) == notebook11_run.model.tok_emb.num_embeddings
    assert len(notebook11_run.val_ids) > 1000 and len(notebook11_run.train_ids) > 10000


def test_int8_keeps_99_percent_of_the_trained_models_top_tokens(notebook11_run):
    """Issue #20's quality target: int8 weights agree with float32 on the top token at
    >= 99% of the positions of notebook 11's validation text (bf16 is reported, not held
    to it: it rounds the activations too)."""
    val = torch.tensor(notebook11_run.val_ids)
    rows = val[: len(val) // 64 * 64].view(-1, 64)
    trained = notebook11_run.model
    int8 = compare_quality(trained, quantize(trained, "int8"), rows)
    bf16 = compare_quality(trained, quantize(trained, "bf16"), rows)
    assert int8.positions == 24 * 63
    assert int8.top1_agreement >= 0.99, int8
    assert abs(int8.loss - int8.loss_reference) < 0.01 and abs(bf16.loss - bf16.loss_reference) < 0.01
    assert bf16.top1_agreement > 0.95, bf16


def test_train_notebook11_model_refuses_a_bad_epoch_count():
    from gpt_course import train_notebook11_model
    for bad in (0, -1, 2.5, "3", True):
        with pytest.raises((TypeError, ValueError), match="num_epochs"):
            train_notebook11_model(bad)
