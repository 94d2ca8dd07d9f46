"""The book's printed numbers (chapter 4 of Raschka's *Build a Large Language
Model (From Scratch)*), which the notebooks print and the README's "How the
numbers match the book" says a reader can check: each is asserted here."""

import torch
import torch.nn as nn

from gpt_course import (
    GPT2_CONFIGS, GPT_CONFIG_124M, DummyGPTModel, ExampleDeepNeuralNetwork,
    generate_text_simple, layer_gradients, model_size, text_to_token_ids, token_ids_to_text,
)

ATOL = 1e-4


def first_and_last_three(row):
    return torch.cat([row[:3], row[-3:]])


def test_example_batch_token_ids(example_batch):
    assert example_batch.tolist() == [[6109, 3626, 6100, 345], [6109, 1110, 6622, 257]]


def test_dummy_gpt_logits(example_batch):
    torch.manual_seed(123)
    model = DummyGPTModel(GPT_CONFIG_124M)
    logits = model(example_batch)
    assert logits.shape == (2, 4, 50257)
    expected = torch.tensor([-1.2034, 0.3201, -0.7130, -1.5548, -0.2390, -0.4667])
    torch.testing.assert_close(first_and_last_three(logits[0, 0]), expected, atol=ATOL, rtol=0)


def test_layer_norm_demo():
    torch.manual_seed(123)
    batch_example = torch.randn(2, 5)
    layer = nn.Sequential(nn.Linear(5, 6), nn.ReLU())
    out = layer(batch_example)
    expected = torch.tensor([[0.2260, 0.3470, 0.0000, 0.2216, 0.0000, 0.0000],
                             [0.2133, 0.2394, 0.0000, 0.5198, 0.3297, 0.0000]])
    torch.testing.assert_close(out, expected, atol=ATOL, rtol=0)
    torch.testing.assert_close(out.mean(dim=-1, keepdim=True), torch.tensor([[0.1324], [0.2170]]), atol=ATOL, rtol=0)
    torch.testing.assert_close(out.var(dim=-1, keepdim=True), torch.tensor([[0.0231], [0.0398]]), atol=ATOL, rtol=0)


def test_shortcut_gradients():
    sample_input = torch.tensor([[1.0, 0.0, -1.0]])
    expected = {
        False: [0.000202, 0.000120, 0.000715, 0.001399, 0.005050],
        True: [0.2217, 0.2069, 0.3290, 0.2666, 1.3259],
    }
    for use_shortcut, values in expected.items():
        torch.manual_seed(123)
        model = ExampleDeepNeuralNetwork([3, 3, 3, 3, 3, 1], use_shortcut=use_shortcut)
        grads = layer_gradients(model, sample_input, torch.tensor([[0.0]]))
        assert list(grads) == [f"layers.{i}.0.weight" for i in range(5)]
        # Relative tolerance: the no-shortcut values are ~1e-4 small.
        torch.testing.assert_close(torch.tensor(list(grads.values())), torch.tensor(values), rtol=2e-3, atol=0)


def test_gpt_model_logits(book_gpt124m):
    _, logits = book_gpt124m
    assert logits.shape == (2, 4, 50257)
    expected = torch.tensor([0.3613, 0.4222, -0.0711, 0.3483, 0.4661, -0.2838])
    torch.testing.assert_close(first_and_last_three(logits[0, 0]), expected, atol=ATOL, rtol=0)


def test_parameter_counts_and_memory(gpt124m):
    total = sum(p.numel() for p in gpt124m.parameters())
    assert total == 163_009_536
    assert total - gpt124m.out_head.weight.numel() == 124_412_160
    assert round(total * 4 / 1024**2, 2) == 621.83
    size = model_size(GPT_CONFIG_124M)
    assert (size.total_params, size.tied_params) == (163_009_536, 124_412_160)
    assert round(size.param_mib, 2) == 621.83


def test_greedy_generation(gpt124m):
    idx = text_to_token_ids("Hello, I am")
    assert idx.tolist() == [[15496, 11, 314, 716]]
    out = generate_text_simple(gpt124m, idx, max_new_tokens=6, context_size=GPT_CONFIG_124M["context_length"])
    assert out.tolist() == [[15496, 11, 314, 716, 27018, 24086, 47843, 30961, 42348, 7267]]
    assert token_ids_to_text(out) == "Hello, I am Featureiman Byeswickattribute argue"


def test_exercise_numbers():
    small = model_size(GPT_CONFIG_124M)
    assert small.feed_forward_params_per_block == 4_722_432
    assert small.attention_params_per_block == 2_360_064
    expected = {
        "gpt2-medium (355M)": (406_212_608, 1549.58),
        "gpt2-large (774M)": (838_220_800, 3197.56),
        "gpt2-xl (1558M)": (1_637_792_000, 6247.68),
    }
    for name, (params, mib) in expected.items():
        size = model_size(GPT2_CONFIGS[name])
        assert size.total_params == params
        assert round(size.param_mib, 2) == mib
