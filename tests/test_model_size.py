import resource

import pytest
import torch

from gpt_course import GPT2_CONFIGS, GPT_CONFIG_124M, GPTModel, count_parameters, model_size


def test_model_size_agrees_with_a_real_model(tiny_cfg):
    model = GPTModel(tiny_cfg)
    size = model_size(tiny_cfg)
    assert size.total_params == count_parameters(model)
    block = model.trf_blocks[0]
    assert size.attention_params_per_block == count_parameters(block.att)
    assert size.feed_forward_params_per_block == count_parameters(block.ff)
    parts = (size.embedding_params + size.final_norm_params + size.out_head_params
             + size.n_layers * (size.attention_params_per_block + size.feed_forward_params_per_block
                                + size.layer_norm_params_per_block))
    assert parts == size.total_params
    assert size.buffer_bytes == sum(b.numel() * b.element_size() for b in model.buffers())


@pytest.mark.parametrize("name", list(GPT2_CONFIGS))
@pytest.mark.parametrize("qkv_bias", [False, True])
def test_model_size_agrees_with_the_model_built_on_the_meta_device(name, qkv_bias):
    cfg = {**GPT2_CONFIGS[name], "qkv_bias": qkv_bias}
    with torch.device("meta"):  # shapes only: nothing is allocated
        model = GPTModel(cfg)
    size = model_size(cfg)
    block = model.trf_blocks[0]
    assert size.total_params == count_parameters(model)
    assert size.tied_params == count_parameters(model) - model.out_head.weight.numel()
    assert size.attention_params_per_block == count_parameters(block.att)
    assert size.feed_forward_params_per_block == count_parameters(block.ff)
    assert size.layer_norm_params_per_block == count_parameters(block.norm1) + count_parameters(block.norm2)
    assert size.embedding_params == count_parameters(model.tok_emb) + count_parameters(model.pos_emb)
    assert size.buffer_bytes == sum(b.numel() * b.element_size() for b in model.buffers())


def test_model_size_checks_the_config():
    with pytest.raises(ValueError, match="divisible"):
        model_size({**GPT_CONFIG_124M, "n_heads": 7})


def test_memory_units_and_dtypes():
    fp32 = model_size(GPT_CONFIG_124M)
    bf16 = model_size(GPT_CONFIG_124M, dtype=torch.bfloat16)
    assert fp32.param_bytes == 4 * fp32.total_params
    assert bf16.param_bytes == 2 * fp32.total_params
    assert fp32.param_mib == pytest.approx(fp32.param_bytes / 2**20)
    assert fp32.param_mb == pytest.approx(fp32.param_bytes / 1e6)
    # 12 causal masks of 1024 x 1024 booleans
    assert fp32.buffer_bytes == 12 * 1024 * 1024
    assert fp32.total_mib == pytest.approx((fp32.param_bytes + fp32.buffer_bytes) / 2**20)


def test_xl_is_counted_without_allocating_it():
    # Allocating XL's weights would raise this process's peak memory by 6.5 GB.
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    size = model_size(GPT2_CONFIGS["gpt2-xl (1558M)"])
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert size.total_params == 1_637_792_000
    assert (peak_after - peak_before) * 1024 < 500 * 2**20
