"""gpt2_weights: the one description of GPT-2's weights, checked against the
course's GPTModel (every parameter once, with its shape), against the
counting code of notebooks 04 and 07, and run both ways. The loader's and
the exporter's refusals are here too. (Against Hugging Face's own model:
tests/test_hf_parity.py.)"""

import pytest
import torch
import torch.nn as nn

from gpt_course import (
    GPT2_CONFIGS,
    DummyGPTModel,
    GPTModel,
    LayerNorm,
    config_from_hf,
    course_to_hf,
    course_to_hf_state_dict,
    gpt2_weights,
    hf_to_course,
    load_gpt2_state_dict,
    model_size,
)
from gpt_course.explorers.nb04_feed_forward import linear_layer_parameters

CONFIGS = [pytest.param({**cfg, "qkv_bias": qkv_bias}, id=f"{name}-qkv_bias={qkv_bias}")
           for name, cfg in GPT2_CONFIGS.items() for qkv_bias in (True, False)]


def course_shapes(cfg):
    """{course parameter: shape} as the table says, through hf_to_course (on meta)."""
    shapes = {}
    for weight in gpt2_weights(cfg):
        parts = hf_to_course(weight, torch.empty(weight.hf_shape, device="meta"))
        assert len(parts) == len(weight.course_names), weight.hf_name
        for name, part in zip(weight.course_names, parts):
            assert name not in shapes, f"{name} filled twice"
            shapes[name] = tuple(part.shape)
    return shapes


@pytest.mark.parametrize("cfg", CONFIGS)
def test_table_fills_every_parameter_once_with_its_shape(cfg):
    with torch.device("meta"):  # shapes only: nothing is allocated
        model = GPTModel(cfg)
    theirs = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert course_shapes(cfg) == theirs


@pytest.mark.parametrize("cfg", CONFIGS)
def test_counting_code_agrees_with_the_table(cfg):
    """model_size (notebook 07) and the feed-forward explorer (notebook 04)
    count the same parameters the table describes."""
    shapes = course_shapes(cfg)

    def count(*prefixes):
        return sum(torch.Size(s).numel() for name, s in shapes.items() if name.startswith(prefixes))

    size = model_size(cfg)
    assert size.attention_params_per_block == count("trf_blocks.0.att.")
    assert size.feed_forward_params_per_block == count("trf_blocks.0.ff.")
    assert size.layer_norm_params_per_block == count("trf_blocks.0.norm1.", "trf_blocks.0.norm2.")
    assert size.embedding_params == count("tok_emb.", "pos_emb.")
    assert size.final_norm_params == count("final_norm.")
    assert size.out_head_params == count("out_head.")
    assert size.total_params == count("")
    assert linear_layer_parameters(cfg["emb_dim"], 4) == (
        count("trf_blocks.0.ff.layers.0."), count("trf_blocks.0.ff.layers.2."))


def test_conv1d_weights_are_transposed_and_c_attn_is_query_key_value_side_by_side():
    cfg = {**GPT2_CONFIGS["gpt2-small (124M)"], "emb_dim": 8, "n_heads": 2, "n_layers": 1,
           "qkv_bias": True}
    table = {w.hf_name: w for w in gpt2_weights(cfg)}
    c_attn = table["h.0.attn.c_attn.weight"]
    w = torch.randn(8, 24)  # [in, out]: q, k, v are columns 0-7, 8-15, 16-23
    q, k, v = hf_to_course(c_attn, w)
    assert torch.equal(q, w[:, :8].T) and torch.equal(k, w[:, 8:16].T) and torch.equal(v, w[:, 16:].T)
    bias = torch.randn(24)
    assert [t.tolist() for t in hf_to_course(table["h.0.attn.c_attn.bias"], bias)] == [
        bias[:8].tolist(), bias[8:16].tolist(), bias[16:].tolist()]
    c_fc = torch.randn(8, 32)
    assert torch.equal(hf_to_course(table["h.0.mlp.c_fc.weight"], c_fc)[0], c_fc.T)
    wte = torch.randn(cfg["vocab_size"], 8)
    (as_is,) = hf_to_course(table["wte.weight"], wte)
    assert torch.equal(as_is, wte) and as_is.data_ptr() == wte.data_ptr()  # as is: not even a copy
    for weight in table.values():  # course_to_hf undoes hf_to_course, row by row
        tensor = torch.randn(weight.hf_shape)
        assert torch.equal(course_to_hf(weight, hf_to_course(weight, tensor)), tensor), weight.hf_name


def test_table_without_qkv_biases_has_no_c_attn_bias(tiny_cfg):
    names = [w.hf_name for w in gpt2_weights({**tiny_cfg, "qkv_bias": False})]
    assert not any("c_attn.bias" in n for n in names)
    with_biases = [w.hf_name for w in gpt2_weights({**tiny_cfg, "qkv_bias": True})]
    assert [n for n in with_biases if "c_attn.bias" in n] == ["h.0.attn.c_attn.bias", "h.1.attn.c_attn.bias"]


def test_course_to_hf_state_dict_names_layouts_and_copies(tiny_cfg):
    torch.manual_seed(0)
    model = GPTModel({**tiny_cfg, "qkv_bias": True})
    sd = course_to_hf_state_dict(model)
    assert list(sd)[:2] == ["transformer.wte.weight", "transformer.wpe.weight"]
    assert list(sd)[-1] == "lm_head.weight"
    att = model.trf_blocks[1].att
    assert torch.equal(sd["transformer.h.1.attn.c_attn.weight"],
                       torch.cat([att.W_query.weight, att.W_key.weight, att.W_value.weight]).T)
    assert all(t.is_contiguous() and not t.requires_grad for t in sd.values())
    sd["transformer.wte.weight"].zero_()  # a copy: the model keeps its weights
    assert model.tok_emb.weight.abs().sum() > 0
    again = load_gpt2_state_dict(GPTModel({**tiny_cfg, "qkv_bias": True}), course_to_hf_state_dict(model))
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))


def test_course_to_hf_state_dict_without_qkv_biases_gives_zero_biases(tiny_cfg):
    sd = course_to_hf_state_dict(GPTModel({**tiny_cfg, "qkv_bias": False}))
    bias = sd["transformer.h.0.attn.c_attn.bias"]
    assert bias.shape == (3 * tiny_cfg["emb_dim"],) and not bias.any()


# -------------------------------------------------------------- refusals


@pytest.fixture
def gpt2_cfg(tiny_cfg):
    return {**tiny_cfg, "qkv_bias": True}


@pytest.fixture
def gpt2_sd(gpt2_cfg):
    torch.manual_seed(1)
    return course_to_hf_state_dict(GPTModel(gpt2_cfg))


@pytest.mark.parametrize("not_a_model", ["model.safetensors", None, nn.Linear(2, 2)])
def test_not_a_gpt_model_is_a_type_error(not_a_model, gpt2_sd):
    with pytest.raises(TypeError, match="must be the course's GPTModel"):
        load_gpt2_state_dict(not_a_model, gpt2_sd)
    with pytest.raises(TypeError, match="must be the course's GPTModel"):
        course_to_hf_state_dict(not_a_model)


def test_dummy_model_is_refused_before_anything_is_copied(gpt2_cfg, gpt2_sd):
    dummy = DummyGPTModel(gpt2_cfg)
    with pytest.raises(TypeError, match="no parameter 'trf_blocks.0.norm1.scale'"):
        load_gpt2_state_dict(dummy, gpt2_sd)


def test_model_with_other_parameter_names_or_shapes(gpt2_cfg, gpt2_sd):
    model = GPTModel(gpt2_cfg)
    before = model.tok_emb.weight.clone()
    model.final_norm = nn.LayerNorm(gpt2_cfg["emb_dim"])  # weight/bias, not scale/shift
    with pytest.raises(TypeError, match="no parameter 'final_norm.scale'"):
        load_gpt2_state_dict(model, gpt2_sd)
    with pytest.raises(TypeError, match="no parameter 'final_norm.scale'"):
        course_to_hf_state_dict(model)
    model.final_norm = LayerNorm(gpt2_cfg["emb_dim"] + 1)
    with pytest.raises(ValueError, match=r"'final_norm.scale' has shape \[33\]"):
        load_gpt2_state_dict(model, gpt2_sd)
    with pytest.raises(ValueError, match=r"'final_norm.scale' has shape \[33\]"):
        course_to_hf_state_dict(model)
    assert torch.equal(model.tok_emb.weight, before)  # nothing was copied


def test_state_dict_of_the_wrong_kind(gpt2_cfg, gpt2_sd):
    model = GPTModel(gpt2_cfg)
    with pytest.raises(TypeError, match="dict of tensors, got list"):
        load_gpt2_state_dict(model, list(gpt2_sd.items()))
    with pytest.raises(TypeError, match="keys must be strings"):
        load_gpt2_state_dict(model, {**gpt2_sd, 3: torch.zeros(1)})
    with pytest.raises(TypeError, match=r"'transformer.ln_f.bias'\] is a list"):
        load_gpt2_state_dict(model, {**gpt2_sd, "transformer.ln_f.bias": [0.0] * 32})
    with pytest.raises(ValueError, match=r"'ln_f.bias'\] has dtype torch.int64"):
        load_gpt2_state_dict(model, {**gpt2_sd, "transformer.ln_f.bias": torch.zeros(32, dtype=torch.long)})


def test_unexpected_key_named(gpt2_cfg, gpt2_sd):
    with pytest.raises(ValueError, match=r"no place for: \['h.0.attn.extra'\]"):
        load_gpt2_state_dict(GPTModel(gpt2_cfg), {**gpt2_sd, "transformer.h.0.attn.extra": torch.zeros(1)})


def hf_dict(**overrides):
    return {"model_type": "gpt2", "vocab_size": 100, "n_positions": 16, "n_embd": 8,
            "n_layer": 1, "n_head": 2, **overrides}


def test_config_from_hf_reads_a_dict():
    assert config_from_hf(hf_dict()) == {"vocab_size": 100, "context_length": 16, "emb_dim": 8,
                                         "n_heads": 2, "n_layers": 1, "drop_rate": 0.0,
                                         "qkv_bias": True}
    del_positions = hf_dict()
    del del_positions["n_positions"]
    assert config_from_hf({**del_positions, "n_ctx": 32})["context_length"] == 32


@pytest.mark.parametrize("overrides, match", [
    ({"model_type": "llama"}, "'llama' config"),
    ({"activation_function": "relu"}, "activation_function"),
    ({"layer_norm_epsilon": 1e-6}, "layer_norm_epsilon"),
    ({"layer_norm_epsilon": "1e-5"}, "layer_norm_epsilon"),
    ({"n_inner": 16}, "n_inner=16"),
    ({"scale_attn_weights": False}, "attention scaling"),
    ({"scale_attn_by_inverse_layer_idx": True}, "attention scaling"),
    ({"add_cross_attention": True}, "cross-attention"),
    ({"n_head": 3}, "divisible"),
])
def test_config_from_hf_refuses_what_gptmodel_cannot_reproduce(overrides, match):
    with pytest.raises(ValueError, match=match):
        config_from_hf(hf_dict(**overrides))


def test_config_from_hf_refuses_missing_keys_and_other_kinds():
    incomplete = hf_dict()
    del incomplete["n_head"], incomplete["n_positions"]
    with pytest.raises(ValueError, match=r"missing GPT-2 key\(s\) \['n_head', 'n_positions'\]"):
        config_from_hf(incomplete)
    with pytest.raises(TypeError, match="got str"):
        config_from_hf('{"model_type": "gpt2"}')
    with pytest.raises(TypeError, match=r"config\['emb_dim'\]"):
        config_from_hf(hf_dict(n_embd="8"))
