"""Loading GPT-2 weights, round three: nothing silently wrong, no raw error
from deep inside. A load is all or nothing (a failed one leaves every
parameter and buffer bit for bit as it was), a tied output head is never
overwritten behind the caller's back, a tensor under two spellings is an
error, and a config or file that is wrong in any way is a ValueError or
TypeError (or an OSError for a folder named like a file) that names the
field, key or file and says what to do. The property-based tests generate
configs and state dicts for a tiny model with Hypothesis."""

import json
import math
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from gpt_course import (
    GPT_CONFIG_124M,
    GPTModel,
    config_from_hf,
    course_to_hf_state_dict,
    load_gpt2_safetensors,
    load_gpt2_state_dict,
    read_hf_config,
    read_weights_file,
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tiny_cfg(n_layers=1, emb_dim=8):
    return {**GPT_CONFIG_124M, "vocab_size": 50, "context_length": 16, "emb_dim": emb_dim,
            "n_heads": 2, "n_layers": n_layers, "drop_rate": 0.0, "qkv_bias": True}


def tiny_model(cfg, seed=0, tied=False):
    torch.manual_seed(seed)
    model = GPTModel(cfg)
    if tied:
        model.out_head.weight = model.tok_emb.weight  # one Parameter, as GPT-2 ties them
    return model


def checkpoint(cfg, seed=1):
    """A GPT-2 state dict (GPT2LMHeadModel's names) with the head tied in the file."""
    sd = course_to_hf_state_dict(tiny_model(cfg, seed))
    sd["lm_head.weight"] = sd["transformer.wte.weight"].clone()
    return sd


def snapshot(model):
    """Every parameter and buffer, bit for bit, and which Parameter objects they are."""
    state = {k: (v.dtype, tuple(v.shape), v.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes()
                 if v.numel() else b"")
             for k, v in model.state_dict(keep_vars=True).items()}
    ids = {k: id(p) for k, p in model.named_parameters(remove_duplicate=False)}
    return state, ids


def assert_unchanged(model, before):
    after = snapshot(model)
    assert after[1] == before[1], "parameters were replaced"
    assert after[0].keys() == before[0].keys()
    for key in before[0]:
        assert after[0][key] == before[0][key], f"{key} changed"


def fails_cleanly(call, model, *names, kinds=(ValueError, TypeError)):
    """`call()` raises one of `kinds`, naming one of `names`, and leaves `model` as it was."""
    before = snapshot(model)
    with pytest.raises(kinds) as err:
        call()
    message = str(err.value)
    assert any(name in message for name in names), (names, message)
    assert_unchanged(model, before)
    return message


# ------------------------------------------------------------ all or nothing


def test_a_tensor_that_cannot_be_copied_leaves_the_model_as_it_was():
    """The last tensor of the table holds no data (meta) or is sparse: the
    loader used to copy everything before it and then fail inside torch."""
    cfg = tiny_cfg(n_layers=2)
    for make in (lambda t: torch.empty_like(t, device="meta"), lambda t: t.to_sparse()):
        model = tiny_model(cfg)
        sd = checkpoint(cfg)
        sd["transformer.ln_f.bias"] = make(sd["transformer.ln_f.bias"])
        fails_cleanly(lambda: load_gpt2_state_dict(model, sd), model, "ln_f.bias")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_or_inf_in_a_checkpoint_is_refused(bad):
    cfg = tiny_cfg()
    model = tiny_model(cfg)
    sd = checkpoint(cfg)
    sd["transformer.h.0.mlp.c_fc.weight"][3, 5] = bad
    message = fails_cleanly(lambda: load_gpt2_state_dict(model, sd), model, "h.0.mlp.c_fc.weight")
    assert "1 of" in message or "NaN" in message or "inf" in message


def test_values_that_overflow_the_models_dtype_are_refused():
    """float32 1e6 becomes inf in a float16 model: refused, not copied."""
    cfg = tiny_cfg()
    model = tiny_model(cfg).half()
    sd = checkpoint(cfg)
    sd["transformer.wpe.weight"][0, 0] = 1e6
    message = fails_cleanly(lambda: load_gpt2_state_dict(model, sd), model, "wpe.weight")
    assert "float16" in message


def test_a_model_without_data_is_refused():
    cfg = tiny_cfg()
    with torch.device("meta"):
        model = GPTModel(cfg)
    with pytest.raises(ValueError, match="meta"):
        load_gpt2_state_dict(model, checkpoint(cfg))


# ------------------------------------------------------------ the tied head


def test_tied_head_is_never_overwritten_silently():
    cfg = tiny_cfg()
    model = tiny_model(cfg, tied=True)
    sd = checkpoint(cfg)
    sd["lm_head.weight"] = sd["lm_head.weight"] + 1.0  # the file's head is its own
    message = fails_cleanly(lambda: load_gpt2_state_dict(model, sd), model, "lm_head.weight")
    assert "tied" in message and "untie=True" in message
    assert model.out_head.weight is model.tok_emb.weight
    # a head tied in the file too (lm_head.weight equal to wte.weight), or none: fine
    sd = checkpoint(cfg)
    for state_dict in (sd, {k: v for k, v in sd.items() if k != "lm_head.weight"}):
        model = tiny_model(cfg, tied=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing to say
            load_gpt2_state_dict(model, state_dict)
        assert model.out_head.weight is model.tok_emb.weight
        assert torch.equal(model.tok_emb.weight, sd["transformer.wte.weight"])


def test_untie_true_unties_and_says_so(tmp_path):
    cfg = tiny_cfg()
    sd = checkpoint(cfg)
    sd["lm_head.weight"] = sd["lm_head.weight"] * 2.0
    model = tiny_model(cfg, tied=True)
    with pytest.warns(UserWarning, match="untied"):
        load_gpt2_state_dict(model, sd, untie=True)
    assert model.out_head.weight is not model.tok_emb.weight
    assert torch.equal(model.out_head.weight, sd["lm_head.weight"])
    assert torch.equal(model.tok_emb.weight, sd["transformer.wte.weight"])
    save_file(sd, tmp_path / "model.safetensors")  # the file loader passes it on
    model = tiny_model(cfg, tied=True)
    with pytest.raises(ValueError, match="tied"):
        load_gpt2_safetensors(tmp_path, model)
    with pytest.warns(UserWarning, match="untied"):
        load_gpt2_safetensors(tmp_path, model, untie=True)
    assert torch.equal(model.out_head.weight, sd["lm_head.weight"])
    with pytest.raises(TypeError, match="untie"):
        load_gpt2_state_dict(tiny_model(cfg), sd, untie="yes")


# ------------------------------------------------------------ two spellings


@pytest.mark.parametrize("plain, prefixed", [
    ("wte.weight", "transformer.wte.weight"),
    ("h.0.attn.c_attn.bias", "transformer.h.0.attn.c_attn.bias"),
])
def test_one_tensor_under_two_spellings_is_an_error_naming_both(plain, prefixed):
    cfg = tiny_cfg()
    model = tiny_model(cfg)
    sd = checkpoint(cfg)
    for value in (sd[prefixed].clone(), sd[prefixed] + 1):  # the same values or not
        message = fails_cleanly(lambda: load_gpt2_state_dict(model, {**sd, plain: value}), model, plain)
        assert repr(plain) in message and repr(prefixed) in message


def test_one_tensor_in_two_shards_is_an_error_naming_both_files(tmp_path):
    cfg = tiny_cfg()
    sd = checkpoint(cfg)
    keys = list(sd)
    save_file({k: sd[k] for k in keys[:6]}, tmp_path / "a.safetensors")
    save_file({k: sd[k] + 1 for k in keys[5:]}, tmp_path / "b.safetensors")  # keys[5] twice
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        **{k: "a.safetensors" for k in keys[:6]}, **{k: "b.safetensors" for k in keys[5:]}}}))
    model = tiny_model(cfg)
    message = fails_cleanly(lambda: load_gpt2_safetensors(tmp_path, model), model, keys[5])
    assert "a.safetensors" in message and "b.safetensors" in message


# ------------------------------------------------------------ configs

HF_BASE = {"model_type": "gpt2", "vocab_size": 50, "n_positions": 16, "n_embd": 8,
           "n_layer": 1, "n_head": 2}


def refused(hf, field, dropout=False):
    with pytest.raises((ValueError, TypeError)) as err:
        config_from_hf(hf, dropout=dropout)
    assert field in str(err.value), str(err.value)
    return str(err.value)


def test_layer_norm_epsilon_nan_inf_non_positive_or_not_a_number():
    for eps in (float("nan"), float("inf"), -float("inf"), 0, -1e-5, 0.0, 10**400, "1e-5",
                True, None, [1e-5]):
        message = refused({**HF_BASE, "layer_norm_epsilon": eps}, "layer_norm_epsilon")
        assert "1e-05" in message or "1e-5" in message


@pytest.mark.parametrize("field", ["vocab_size", "n_positions", "n_embd", "n_head", "n_layer"])
def test_size_fields_of_the_wrong_type_or_value_name_the_field(field):
    for value in ("8", True, 8.0, None, 0, -2, 10**30, 10**400, [8]):
        refused({**HF_BASE, field: value}, f"'{field}'")
    if field != "n_positions":
        return
    no_positions = {k: v for k, v in HF_BASE.items() if k != "n_positions"}
    for value in ("16", None, 0, 16.0):
        refused({**no_positions, "n_ctx": value}, "'n_ctx'")


def test_n_embd_not_divisible_by_n_head_names_both_fields():
    message = refused({**HF_BASE, "n_embd": 10, "n_head": 4}, "n_embd")
    assert "n_head" in message and "divisible" in message


def test_other_fields_of_the_wrong_type_are_refused():
    for field, value in [("scale_attn_weights", "false"), ("scale_attn_weights", None),
                         ("scale_attn_by_inverse_layer_idx", "true"),
                         ("add_cross_attention", 1), ("n_inner", "32"), ("n_inner", 32.0),
                         ("n_inner", True), ("activation_function", None), ("model_type", None)]:
        refused({**HF_BASE, field: value}, field)


def test_dropout_fields_are_checked():
    for field in ("embd_pdrop", "attn_pdrop", "resid_pdrop"):
        for value in (None, "0.1", float("nan"), 1.0, -0.1, True, 10**400):
            refused({**HF_BASE, field: value}, field, dropout=True)
    assert config_from_hf({**HF_BASE, "embd_pdrop": 0.2}, dropout=True)["drop_rate_emb"] == 0.2


# Hypothesis: a config with some fields replaced by anything JSON (or Python) can hold.
ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70), st.integers(), st.just(10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([8.0, 16.0, 1e-5, 0.1, 0.0]),
    st.text(max_size=4), st.sampled_from(["gelu_new", "gelu", "8", "1e-5", "gpt2", "false"]),
    st.lists(st.integers(0, 9), max_size=2), st.dictionaries(st.just("a"), st.integers(), max_size=1),
)
FIELDS = ["model_type", "vocab_size", "n_positions", "n_embd", "n_head", "n_layer",
          "layer_norm_epsilon", "activation_function", "n_inner", "scale_attn_weights",
          "scale_attn_by_inverse_layer_idx", "add_cross_attention", "embd_pdrop",
          "attn_pdrop", "resid_pdrop"]


def is_size(value):
    return type(value) is int and value >= 1


def is_rate(value):
    return type(value) in (int, float) and 0 <= value < 1


@FAST
@given(changes=st.dictionaries(st.sampled_from(FIELDS), ANYTHING, min_size=1, max_size=4),
       dropout=st.booleans())
def test_any_config_gives_a_right_result_or_an_error_naming_a_changed_field(changes, dropout):
    hf = {**HF_BASE, "layer_norm_epsilon": 1e-5, "embd_pdrop": 0.1, "attn_pdrop": 0.1,
          "resid_pdrop": 0.1, **changes}
    try:
        cfg = config_from_hf(hf, dropout=dropout)
    except (ValueError, TypeError) as err:
        assert any(f"'{field}'" in str(err) or f"{field}=" in str(err) for field in changes), (
            changes, str(err))
        return
    # accepted: then every setting was one the course's GPTModel reproduces exactly
    sizes = {"vocab_size": "vocab_size", "n_positions": "context_length", "n_embd": "emb_dim",
             "n_head": "n_heads", "n_layer": "n_layers"}
    for field, key in sizes.items():
        assert is_size(hf[field]) and cfg[key] == hf[field], (field, hf[field])
    assert hf["n_embd"] % hf["n_head"] == 0
    assert hf["model_type"] == "gpt2"
    eps = hf["layer_norm_epsilon"]
    assert type(eps) in (int, float) and math.isclose(eps, 1e-5, rel_tol=1e-6), eps
    assert hf.get("activation_function", "gelu_new") in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
    assert hf.get("n_inner") is None or (is_size(hf["n_inner"]) and hf["n_inner"] == 4 * hf["n_embd"])
    assert hf.get("scale_attn_weights", True) is True
    assert hf.get("scale_attn_by_inverse_layer_idx", False) is False
    assert hf.get("add_cross_attention", False) is False
    for field in ("embd_pdrop", "attn_pdrop", "resid_pdrop"):
        assert is_rate(hf[field]), (field, hf[field])
    if dropout:
        assert cfg["drop_rate_emb"] == hf["embd_pdrop"]


# ------------------------------------------------------------ state dicts (Hypothesis)

FAILING = ("drop", "shape", "int_dtype", "nan", "extra", "duplicate", "head_differs")


@st.composite
def mutated_checkpoints(draw):
    cfg = tiny_cfg(n_layers=draw(st.integers(1, 2)), emb_dim=draw(st.sampled_from([8, 16])))
    base = checkpoint(cfg, seed=draw(st.integers(0, 3)))
    keys = [k.removeprefix("transformer.") for k in base]
    sd = {}
    for key in keys:  # GPT2LMHeadModel's spelling or GPT2Model's, key by key
        value = base[key if key == "lm_head.weight" else "transformer." + key]
        sd[draw(st.sampled_from(["", "transformer."])) + key if key != "lm_head.weight" else key] = value
    spelled = {k.removeprefix("transformer."): k for k in sd}
    mutations = draw(st.lists(st.sampled_from(
        FAILING + ("drop_head", "half", "double", "bfloat16")), max_size=3, unique=True))
    tied = draw(st.booleans())
    bad = set()  # the keys an error may name
    for mutation in mutations:
        key = draw(st.sampled_from(keys[:-1]))  # lm_head has its own mutations
        full = spelled[key]
        if full not in sd:
            continue
        if mutation == "drop":  # every spelling: after "duplicate", one left would load
            sd.pop(key, None)
            sd.pop("transformer." + key, None)
            bad.add(key)
        elif mutation == "drop_head":
            sd.pop("lm_head.weight", None)
        elif mutation == "shape":
            t = sd[full]
            sd[full] = torch.zeros(*t.shape[:-1], t.shape[-1] + draw(st.sampled_from([-1, 1, 3])))
            bad.add(key)
        elif mutation == "int_dtype":
            sd[full] = sd[full].to(draw(st.sampled_from([torch.int64, torch.int32, torch.bool])))
            bad.add(key)
        elif mutation == "nan":
            t = sd[full].clone().float()
            t.view(-1)[draw(st.integers(0, t.numel() - 1))] = draw(st.sampled_from(
                [float("nan"), float("inf"), -float("inf")]))
            sd[full] = t
            bad.add(key)
        elif mutation == "extra":
            extra = draw(st.sampled_from(["h.0.attn.extra", f"h.{cfg['n_layers']}.ln_1.weight",
                                          "transformer.score.weight", "lm_head.bias"]))
            sd[extra] = torch.zeros(3)
            bad.add(extra.removeprefix("transformer."))
        elif mutation == "duplicate":
            other = full.removeprefix("transformer.") if full.startswith("transformer.") else "transformer." + full
            sd[other] = sd[full].clone()
            bad.add(key)
        elif mutation == "head_differs" and "lm_head.weight" in sd:
            sd["lm_head.weight"] = sd["lm_head.weight"] + 0.5
        elif mutation in ("half", "double", "bfloat16") and sd[full].is_floating_point():
            sd[full] = sd[full].to(getattr(torch, mutation))
    wte = [v for k, v in sd.items() if k.removeprefix("transformer.") == "wte.weight"]
    if tied and "lm_head.weight" in sd and len(wte) == 1 and wte[0].is_floating_point() \
            and wte[0].shape == sd["lm_head.weight"].shape \
            and not torch.equal(wte[0].float(), sd["lm_head.weight"].float()):
        bad.add("lm_head.weight")  # a head of its own for a tied model: refused without untie=True
    return cfg, sd, tied, bad


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # long reprs of tensors
@FAST
@given(case=mutated_checkpoints())
def test_any_state_dict_loads_right_or_fails_cleanly(case):
    cfg, sd, tied, bad = case
    model = tiny_model(cfg, seed=9, tied=tied)
    if bad:
        fails_cleanly(lambda: load_gpt2_state_dict(model, sd), model, *bad)
        return
    load_gpt2_state_dict(model, sd)
    # loaded: every tensor of the checkpoint is in the model, as float32
    plain = {k.removeprefix("transformer."): v for k, v in sd.items()}
    plain.setdefault("lm_head.weight", plain["wte.weight"])
    exported = {k.removeprefix("transformer."): v for k, v in course_to_hf_state_dict(model).items()}
    assert exported.keys() == plain.keys()
    for key, value in plain.items():
        assert torch.equal(exported[key], value.float()), key
    assert (model.out_head.weight is model.tok_emb.weight) == tied


# ------------------------------------------------------------ files


def folder_with_checkpoint(tmp_path, cfg, config_overrides=None):
    save_file(checkpoint(cfg), tmp_path / "model.safetensors")
    hf = {"model_type": "gpt2", "vocab_size": cfg["vocab_size"], "n_positions": cfg["context_length"],
          "n_embd": cfg["emb_dim"], "n_layer": cfg["n_layers"], "n_head": cfg["n_heads"]}
    (tmp_path / "config.json").write_text(json.dumps({**hf, **(config_overrides or {})}))
    return tmp_path


def test_deeply_nested_or_huge_json_names_the_file(tmp_path):
    cfg = tiny_cfg()
    folder = folder_with_checkpoint(tmp_path, cfg)
    config = folder / "config.json"
    for text in ['{"a": ' + "[" * 200_000 + "]" * 200_000 + "}",
                 '{"vocab_size": 1' + "0" * 5000 + "}"]:
        config.write_text(text)
        for call in (lambda: read_hf_config(config), lambda: load_gpt2_safetensors(folder, GPTModel(cfg))):
            with pytest.raises(ValueError) as err:
                call()
            assert str(config) in str(err.value)
    config.unlink()
    index = folder / "model.safetensors.index.json"
    (folder / "model.safetensors").unlink()
    index.write_text('{"weight_map": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(ValueError) as err:
        load_gpt2_safetensors(folder, GPTModel(cfg))
    assert str(index) in str(err.value)


@pytest.mark.parametrize("overrides, field", [
    ({"layer_norm_epsilon": float("nan")}, "layer_norm_epsilon"),
    ({"layer_norm_epsilon": 10**400}, "layer_norm_epsilon"),
    ({"n_inner": "32"}, "n_inner"),
])
def test_a_bad_config_json_next_to_the_weights_names_the_file_and_the_field(tmp_path, overrides, field):
    cfg = tiny_cfg()
    folder = folder_with_checkpoint(tmp_path, cfg, overrides)
    model = tiny_model(cfg)
    message = fails_cleanly(lambda: load_gpt2_safetensors(folder, model), model, field)
    assert str(folder / "config.json") in message


def test_a_folder_named_like_a_weights_file(tmp_path):
    cfg = tiny_cfg()
    for name in ("model.safetensors", "pytorch_model.bin", "weights.pt"):
        (tmp_path / name).mkdir()
        for call in (lambda: read_weights_file(tmp_path / name),
                     lambda: load_gpt2_safetensors(tmp_path / name, GPTModel(cfg))):
            with pytest.raises(OSError) as err:
                call()
            assert str(tmp_path / name) in str(err.value) and "folder" in str(err.value)
    # the save_pretrained folder whose model.safetensors is a folder: say so
    with pytest.raises(IsADirectoryError, match="is a folder, not a file"):
        load_gpt2_safetensors(tmp_path, GPTModel(cfg))
    (tmp_path / "config.json").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder") as err:
        read_hf_config(tmp_path / "config.json")
    assert str(tmp_path / "config.json") in str(err.value)


def test_an_empty_path_is_not_the_current_folder():
    with pytest.raises(ValueError, match="empty"):
        load_gpt2_safetensors("", GPTModel(tiny_cfg()))
