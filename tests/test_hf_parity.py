"""The course's GPTModel computes what Hugging Face's GPT2LMHeadModel computes,
once the weights are loaded with gpt_course.beyond.nb10_gpt2_weights, and the
one table of GPT-2's weights (gpt2_weights) describes Hugging Face's model
exactly. Offline: the reference model is built locally from a GPT2Config,
never from the hub. transformers is a course requirement (notebook 10 runs
this check), so it is imported, not skipped."""

import json

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model
from transformers.utils import logging as hf_logging

from gpt_course import (
    GPTModel,
    config_from_hf,
    course_to_hf_state_dict,
    generate,
    generate_text_simple,
    gpt2_weights,
    load_gpt2_safetensors,
    load_gpt2_state_dict,
)

hf_logging.set_verbosity_error()

VOCAB, CONTEXT = 1000, 64


def hf_config(**overrides):
    kwargs = dict(
        vocab_size=VOCAB, n_positions=CONTEXT, n_embd=64, n_layer=2, n_head=4,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        activation_function="gelu_new", layer_norm_epsilon=1e-5,
        initializer_range=0.2,  # wide enough that greedy text does not repeat one token
        bos_token_id=0, eos_token_id=0, pad_token_id=0,
    )
    kwargs.update(overrides)
    return GPT2Config(**kwargs)


@pytest.fixture(scope="module")
def hf_model():
    torch.manual_seed(123)
    model = GPT2LMHeadModel(hf_config()).eval()
    with torch.no_grad():  # LayerNorms start at 1 / 0: make every tensor distinct
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module")
def ids():
    torch.manual_seed(7)
    return torch.randint(0, VOCAB, (2, 24))


def hf_logits(hf_model, ids):
    with torch.no_grad():
        return hf_model(ids).logits


def course_model(hf_model, **cfg_overrides):
    cfg = {**config_from_hf(hf_model.config), **cfg_overrides}
    torch.manual_seed(0)
    return GPTModel(cfg).eval()


def assert_same_logits(model, hf_model, ids):
    with torch.no_grad():
        ours = model(ids)
    torch.testing.assert_close(ours, hf_logits(hf_model, ids), atol=1e-5, rtol=0)


def test_config_from_hf():
    cfg = config_from_hf(hf_config())
    assert cfg == {"vocab_size": VOCAB, "context_length": CONTEXT, "emb_dim": 64,
                   "n_heads": 4, "n_layers": 2, "drop_rate": 0.0, "qkv_bias": True}
    as_dict = config_from_hf(json.loads(hf_config().to_json_string()))
    assert as_dict == cfg
    with_dropout = config_from_hf(hf_config(resid_pdrop=0.1, attn_pdrop=0.2, embd_pdrop=0.3),
                                  dropout=True)
    assert (with_dropout["drop_rate_shortcut"], with_dropout["drop_rate_attn"],
            with_dropout["drop_rate_emb"]) == (0.1, 0.2, 0.3)
    with pytest.raises(ValueError, match="activation_function"):
        config_from_hf(hf_config(activation_function="relu"))
    with pytest.raises(ValueError, match="layer_norm_epsilon"):
        config_from_hf(hf_config(layer_norm_epsilon=1e-6))


def test_logits_match_hf(hf_model, ids):
    model = load_gpt2_state_dict(course_model(hf_model), hf_model.state_dict())
    assert_same_logits(model, hf_model, ids)


def test_greedy_tokens_match_hf_generate(hf_model, ids):
    model = load_gpt2_state_dict(course_model(hf_model), hf_model.state_dict())
    prompt = ids[:1, :5]
    with torch.no_grad():
        theirs = hf_model.generate(prompt, max_new_tokens=40, do_sample=False,
                                   use_cache=True, eos_token_id=None,
                                   attention_mask=torch.ones_like(prompt))
    book = generate_text_simple(model, prompt, 40, CONTEXT)
    cached = generate(model, prompt, 40)
    assert torch.equal(book, theirs)
    assert torch.equal(cached, theirs)
    assert len(set(theirs[0, 5:].tolist())) > 5  # a real test: not one token repeated


def test_save_pretrained_safetensors(hf_model, ids, tmp_path):
    hf_model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    # the directory (checks config.json too) and the file itself
    assert_same_logits(load_gpt2_safetensors(tmp_path, course_model(hf_model)), hf_model, ids)
    model = load_gpt2_safetensors(tmp_path / "model.safetensors", course_model(hf_model))
    assert_same_logits(model, hf_model, ids)


def test_prefix_stripped_and_tied_head(hf_model, ids, tmp_path):
    from safetensors.torch import save_file

    sd = {k.removeprefix("transformer."): v.clone() for k, v in hf_model.state_dict().items()
          if k != "lm_head.weight"}
    assert not any(k.startswith("transformer.") for k in sd)
    save_file(sd, tmp_path / "stripped.safetensors")
    model = load_gpt2_safetensors(tmp_path / "stripped.safetensors", course_model(hf_model))
    assert torch.equal(model.out_head.weight, model.tok_emb.weight)
    assert model.out_head.weight.data_ptr() != model.tok_emb.weight.data_ptr()  # a copy
    assert_same_logits(model, hf_model, ids)


def test_gpt2model_state_dict_and_buffers(hf_model, ids):
    # GPT2Model has no lm_head and no prefix; old checkpoints carry mask buffers.
    base = GPT2Model(hf_model.config)
    base.load_state_dict(hf_model.transformer.state_dict())
    sd = dict(base.state_dict())
    sd["h.0.attn.bias"] = torch.ones(1, 1, CONTEXT, CONTEXT)
    sd["h.0.attn.masked_bias"] = torch.tensor(-1e4)
    model = load_gpt2_state_dict(course_model(hf_model), sd)
    assert_same_logits(model, hf_model, ids)


def test_bin_file_weights_only(hf_model, ids, tmp_path):
    path = tmp_path / "pytorch_model.bin"
    torch.save(hf_model.state_dict(), path)
    model = load_gpt2_safetensors(path, course_model(hf_model))
    assert_same_logits(model, hf_model, ids)


def test_mismatched_width_names_tensor(hf_model):
    model = course_model(hf_model, emb_dim=32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError) as err:
        load_gpt2_state_dict(model, hf_model.state_dict())
    message = str(err.value)
    assert "'wte.weight'" in message
    assert "[1000, 32]" in message and "[1000, 64]" in message
    assert "'emb_dim': 64" in message
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # untouched


def test_mismatched_vocab_and_context(hf_model):
    with pytest.raises(ValueError, match=r"'wte\.weight'.*'vocab_size': 1000"):
        load_gpt2_state_dict(course_model(hf_model, vocab_size=500), hf_model.state_dict())
    with pytest.raises(ValueError, match=r"'wpe\.weight'.*'context_length': 64"):
        load_gpt2_state_dict(course_model(hf_model, context_length=32), hf_model.state_dict())


def test_mismatched_layers(hf_model):
    with pytest.raises(ValueError, match=r"missing.*h\.2\..*'n_layers': 2"):
        load_gpt2_state_dict(course_model(hf_model, n_layers=3), hf_model.state_dict())
    with pytest.raises(ValueError, match=r"no place.*h\.1\..*'n_layers': 2"):
        load_gpt2_state_dict(course_model(hf_model, n_layers=1), hf_model.state_dict())


def test_missing_key_named(hf_model):
    sd = dict(hf_model.state_dict())
    del sd["transformer.h.1.mlp.c_fc.bias"]
    with pytest.raises(ValueError, match=r"missing.*h\.1\.mlp\.c_fc\.bias"):
        load_gpt2_state_dict(course_model(hf_model), sd)


def test_qkv_bias_false_raises(hf_model):
    with pytest.raises(ValueError, match="qkv_bias"):
        load_gpt2_state_dict(course_model(hf_model, qkv_bias=False), hf_model.state_dict())


def test_config_json_catches_wrong_heads(hf_model, tmp_path):
    # n_heads changes no shape: only config.json can tell.
    hf_model.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="n_heads: model 2, checkpoint 4"):
        load_gpt2_safetensors(tmp_path, course_model(hf_model, n_heads=2))


def test_not_a_weights_file(tmp_path):
    bad = tmp_path / "weights.pkl"
    bad.write_bytes(b"not weights")
    with pytest.raises(ValueError, match="safetensors"):
        load_gpt2_safetensors(bad, GPTModel(config_from_hf(hf_config())))
    with pytest.raises(FileNotFoundError):
        load_gpt2_safetensors(tmp_path / "nope.safetensors", GPTModel(config_from_hf(hf_config())))


# ------------------------------------------------ the one table, both ways


def test_table_is_hf_state_dict_exactly(hf_model):
    """gpt2_weights lists Hugging Face's tensors: the same names, in the same
    order, with the same shapes (GPT2LMHeadModel adds the "transformer." prefix)."""
    table = gpt2_weights(config_from_hf(hf_model.config))
    theirs = {k.removeprefix("transformer."): tuple(v.shape) for k, v in hf_model.state_dict().items()}
    assert [(w.hf_name, w.hf_shape) for w in table] == list(theirs.items())


def test_table_transposes_exactly_the_conv1d_layers(hf_model):
    from transformers.pytorch_utils import Conv1D

    conv1d = {name.removeprefix("transformer.") + ".weight"
              for name, module in hf_model.named_modules() if isinstance(module, Conv1D)}
    table = gpt2_weights(config_from_hf(hf_model.config))
    assert {w.hf_name for w in table if w.transposed} == conv1d


def hf_twin(cfg, **config_overrides):
    """A GPT2LMHeadModel with the course config's shapes and its own output head."""
    return GPT2LMHeadModel(hf_config(
        vocab_size=cfg["vocab_size"], n_positions=cfg["context_length"], n_embd=cfg["emb_dim"],
        n_layer=cfg["n_layers"], n_head=cfg["n_heads"], tie_word_embeddings=False,
        **config_overrides)).eval()


@pytest.mark.parametrize("qkv_bias", [True, False])
def test_course_to_hf_state_dict_gives_hf_the_same_logits(ids, qkv_bias):
    cfg = {**config_from_hf(hf_config()), "qkv_bias": qkv_bias}
    torch.manual_seed(3)
    model = GPTModel(cfg).eval()
    with torch.no_grad():  # every tensor distinct, LayerNorms and head included
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    theirs = hf_twin(cfg)
    theirs.load_state_dict(course_to_hf_state_dict(model), strict=True)  # every key, no more
    assert_same_logits(model, theirs, ids)


def test_round_trip_through_hf_names(hf_model):
    """load(export(model)) gives back every parameter exactly."""
    torch.manual_seed(4)
    source = course_model(hf_model)
    target = load_gpt2_state_dict(course_model(hf_model), course_to_hf_state_dict(source))
    for (name, a), (_, b) in zip(source.named_parameters(), target.named_parameters()):
        assert torch.equal(a, b), name
