"""Beyond the book: GPT-2's published weights (Hugging Face format) in the
course's own `GPTModel`.

Hugging Face's `GPT2LMHeadModel` holds the same numbers as `GPTModel` under
other names, and stores some of them differently: its `Conv1D` layers keep
their weight as [in, out], the transpose of `nn.Linear`'s [out, in], and one
layer `c_attn` of width 3 * emb_dim holds the query, key and value
projections side by side. `gpt2_weights(cfg)` writes this down once, as a
table with one row per tensor of a checkpoint: the loader reads it forwards,
`course_to_hf_state_dict` backwards, and the tests check it against both
models. GPT-2 was trained with biases on q, k and v, so the course config
needs ``qkv_bias=True``.

Files are read with safetensors (or ``torch.load(weights_only=True)``): no
arbitrary object is ever unpickled. Downloading lives in `nb10_download`.
"""

import json
import math
import os
import pickle
import re
import warnings
from numbers import Real
from pathlib import Path, PureWindowsPath
from typing import NamedTuple

import torch
import torch.nn as nn
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from ..checks import check_bool, check_gpt_model
from ..config import validate_config

__all__ = [
    "CONFIG_MAX_BYTES",
    "GPT2Weight",
    "check_gpt2_state_dict",
    "config_from_hf",
    "course_to_hf",
    "course_to_hf_state_dict",
    "gpt2_weights",
    "hf_to_course",
    "load_gpt2_safetensors",
    "load_gpt2_state_dict",
    "read_hf_config",
    "read_torch_state_dict",
    "read_weights_file",
    "safetensors_shapes",
]


# ------------------------------------------------------------- the table


class GPT2Weight(NamedTuple):
    """One tensor of a Hugging Face GPT-2 checkpoint and where it goes in GPTModel."""

    hf_name: str         # its key in the file (a GPT2LMHeadModel adds "transformer.")
    hf_shape: tuple      # its shape in the file
    course_names: tuple  # the GPTModel parameter(s) it holds, side by side (c_attn: q, k, v)
    transposed: bool     # stored [in, out] by Conv1D: the transpose of nn.Linear's [out, in]


def gpt2_weights(cfg):
    """The one description of GPT-2's weights: every tensor of a Hugging Face
    checkpoint for the course config `cfg`, in the file's order, with the
    course parameter(s) it fills. Shapes follow from the config."""
    cfg = validate_config(cfg)
    v, ctx, d = cfg["vocab_size"], cfg["context_length"], cfg["emb_dim"]
    W = GPT2Weight
    table = [
        W("wte.weight", (v, d), ("tok_emb.weight",), False),
        W("wpe.weight", (ctx, d), ("pos_emb.weight",), False),
    ]
    for i in range(cfg["n_layers"]):
        h, b = f"h.{i}.", f"trf_blocks.{i}."
        qkv = [f"{b}att.{name}" for name in ("W_query", "W_key", "W_value")]
        block = [
            W(h + "ln_1.weight", (d,), (b + "norm1.scale",), False),
            W(h + "ln_1.bias", (d,), (b + "norm1.shift",), False),
            W(h + "attn.c_attn.weight", (d, 3 * d), tuple(p + ".weight" for p in qkv), True),
            W(h + "attn.c_attn.bias", (3 * d,), tuple(p + ".bias" for p in qkv), False),
            W(h + "attn.c_proj.weight", (d, d), (b + "att.out_proj.weight",), True),
            W(h + "attn.c_proj.bias", (d,), (b + "att.out_proj.bias",), False),
            W(h + "ln_2.weight", (d,), (b + "norm2.scale",), False),
            W(h + "ln_2.bias", (d,), (b + "norm2.shift",), False),
            W(h + "mlp.c_fc.weight", (d, 4 * d), (b + "ff.layers.0.weight",), True),
            W(h + "mlp.c_fc.bias", (4 * d,), (b + "ff.layers.0.bias",), False),
            W(h + "mlp.c_proj.weight", (4 * d, d), (b + "ff.layers.2.weight",), True),
            W(h + "mlp.c_proj.bias", (d,), (b + "ff.layers.2.bias",), False),
        ]
        if not cfg["qkv_bias"]:  # a model without q/k/v biases has no place for c_attn.bias
            block = [w for w in block if w.hf_name != h + "attn.c_attn.bias"]
        table += block
    table += [
        W("ln_f.weight", (d,), ("final_norm.scale",), False),
        W("ln_f.bias", (d,), ("final_norm.shift",), False),
        W("lm_head.weight", (v, d), ("out_head.weight",), False),  # often absent: tied to wte
    ]
    return table


def hf_to_course(weight, tensor):
    """The course tensor(s) in one checkpoint tensor: back to nn.Linear's
    [out, in] if Conv1D stored it transposed, then split into equal parts
    along the output dimension (c_attn: query, key, value)."""
    if weight.transposed:
        tensor = tensor.t()
    return tensor.chunk(len(weight.course_names), dim=0)


def course_to_hf(weight, tensors):
    """The inverse of `hf_to_course`: the course tensor(s) side by side along
    the output dimension, then transposed to [in, out] where Conv1D stores it so."""
    tensor = torch.cat(list(tensors), dim=0)
    return tensor.t() if weight.transposed else tensor


# ---------------------------------------------------------------- configs

_TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")

# GPT-2's sizes and the course config keys they become.
_HF_SIZES = {"vocab_size": "vocab_size", "n_embd": "emb_dim", "n_head": "n_heads",
             "n_layer": "n_layers"}
_MAX_SIZE = 2**31 - 1  # no GPT-2 comes near it: a larger size is a damaged config
_HF_DROPOUTS = {"embd_pdrop": "drop_rate_emb", "attn_pdrop": "drop_rate_attn",
                "resid_pdrop": "drop_rate_shortcut"}


def _show(value):
    """A value for an error message: short, and never an error itself (an int
    of thousands of digits cannot even be printed)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**15:
        return f"an int of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _hf_int(hf_config, field, course_key=None):
    """hf_config[field] if it is a size: an int (not a bool, not 8.0) in [1, _MAX_SIZE]."""
    value = hf_config[field]
    where = f"hf_config[{field!r}]" + (f" (the course's config[{course_key!r}])" if course_key else "")
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{where} must be a whole number, an int >= 1, got {_show(value)} "
            f"({type(value).__name__}); config.json must give it as an int, e.g. 768"
        )
    if value < 1:
        raise ValueError(f"{where} must be an int >= 1 (a size), got {value}")
    if value > _MAX_SIZE:
        raise ValueError(
            f"{where} = {_show(value)} is far too large for any GPT-2 (at most {_MAX_SIZE:,}): "
            f"the config is damaged; download config.json again"
        )
    return value


def _hf_flag(hf_config, field, default):
    """hf_config[field] if it is True or False (a string "false" would be true)."""
    value = hf_config.get(field, default)
    if not isinstance(value, bool):
        raise TypeError(
            f"hf_config[{field!r}] must be true or false, got {_show(value)} "
            f"({type(value).__name__})"
        )
    return value


def _hf_epsilon(hf_config):
    """Check layer_norm_epsilon: the number 1e-5, as the course's LayerNorm has it."""
    eps = hf_config.get("layer_norm_epsilon", 1e-5)
    if isinstance(eps, bool) or not isinstance(eps, Real):
        what = f"not a number but a {type(eps).__name__}"
    else:
        try:
            value = float(eps)
        except OverflowError:  # an int too large for a float
            value = math.inf if eps > 0 else -math.inf
        if math.isnan(value):
            what = "not a number (NaN)"
        elif value <= 0 or math.isinf(value):
            what = "not a positive, finite number"
        elif abs(value - 1e-5) > 1e-12:
            what = "another epsilon than the course's LayerNorm adds to the variance"
        else:
            return
    raise ValueError(
        f"hf_config layer_norm_epsilon={_show(eps)}: {what}; the course's LayerNorm uses "
        f"1e-05, the value of every GPT-2 (a damaged config.json: download it again)"
    )


def _hf_rate(hf_config, field):
    """hf_config[field] as a dropout probability in [0, 1)."""
    value = hf_config[field]
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(
            f"hf_config[{field!r}] must be a dropout probability, a number in [0, 1), "
            f"got {_show(value)} ({type(value).__name__})"
        )
    try:
        rate = float(value)
    except OverflowError:  # an int too large for a float
        rate = math.inf
    if not 0 <= rate < 1:  # NaN too
        raise ValueError(
            f"hf_config[{field!r}] must be a dropout probability, a number in [0, 1), "
            f"got {_show(value)}"
        )
    return rate


def config_from_hf(hf_config, *, dropout=False):
    """The course config dict for a Hugging Face GPT-2 config.

    `hf_config`: a dict (e.g. ``read_hf_config("config.json")``) or a
    ``transformers.GPT2Config``. ``dropout=False`` (default) gives drop_rate
    0.0, right for inference; ``dropout=True`` takes HF's embd_pdrop,
    attn_pdrop and resid_pdrop as drop_rate_emb / _attn / _shortcut.
    Raises ValueError for a setting the course's GPTModel cannot reproduce
    (another activation, LayerNorm epsilon, MLP width or attention scaling)
    or a value no GPT-2 has (a size below 1, NaN), TypeError for a value of
    the wrong type (a string, a bool or 8.0 where an int goes); each names
    the field.
    """
    check_bool("dropout", dropout)
    if hasattr(hf_config, "to_dict"):
        hf_config = hf_config.to_dict()
    if not isinstance(hf_config, dict):
        raise TypeError(
            f"hf_config must be a dict (read_hf_config('config.json')) or a GPT2Config, "
            f"got {type(hf_config).__name__}"
        )
    model_type = hf_config.get("model_type", "gpt2")
    if model_type != "gpt2":
        raise ValueError(
            f"hf_config model_type={_show(model_type)}: it is a {_show(model_type)} config, "
            f"not 'gpt2'"
        )
    missing = [k for k in _HF_SIZES if k not in hf_config]
    if "n_positions" not in hf_config and "n_ctx" not in hf_config:
        missing.append("n_positions")
    if missing:
        raise ValueError(f"hf_config is missing GPT-2 key(s) {missing}")
    sizes = {key: _hf_int(hf_config, field, key) for field, key in _HF_SIZES.items()}
    positions = "n_positions" if "n_positions" in hf_config else "n_ctx"  # n_ctx: old configs
    sizes["context_length"] = _hf_int(hf_config, positions, "context_length")
    emb_dim = sizes["emb_dim"]
    if emb_dim % sizes["n_heads"]:
        raise ValueError(
            f"hf_config n_embd={emb_dim} is not divisible by n_head={sizes['n_heads']}: each "
            f"attention head gets n_embd / n_head dimensions; the config is damaged"
        )
    activation = hf_config.get("activation_function", "gelu_new")
    if not isinstance(activation, str) or activation not in _TANH_GELUS:
        raise ValueError(
            f"hf_config activation_function={_show(activation)}: the course's GELU is "
            f"the tanh approximation, i.e. one of {list(_TANH_GELUS)}"
        )
    _hf_epsilon(hf_config)
    if hf_config.get("n_inner") is not None:
        n_inner = _hf_int(hf_config, "n_inner")
        if n_inner != 4 * emb_dim:
            raise ValueError(
                f"hf_config n_inner={n_inner}: the course's FeedForward is 4 * n_embd "
                f"= {4 * emb_dim} wide"
            )
    for field, default in (("scale_attn_weights", True), ("scale_attn_by_inverse_layer_idx", False)):
        if _hf_flag(hf_config, field, default) != default:
            raise ValueError(
                f"hf_config {field}={hf_config[field]} changes the attention scaling: "
                f"the course divides by sqrt(head_dim)"
            )
    if _hf_flag(hf_config, "add_cross_attention", False):
        raise ValueError(
            "hf_config add_cross_attention=True adds cross-attention, which GPTModel does not have"
        )
    rates = {key: _hf_rate(hf_config, field) for field, key in _HF_DROPOUTS.items()
             if field in hf_config}  # checked even unused: no GPT-2 could be built with a bad one
    cfg = {**sizes, "drop_rate": 0.0, "qkv_bias": True}
    cfg = {k: cfg[k] for k in ("vocab_size", "context_length", "emb_dim", "n_heads",
                               "n_layers", "drop_rate", "qkv_bias")}
    if dropout:
        for key in _HF_DROPOUTS.values():
            cfg[key] = rates.get(key, 0.1)
        cfg["drop_rate"] = cfg["drop_rate_shortcut"]
    return validate_config(cfg)


# ------------------------------------------------------------ state dicts

# HF buffers that are not parameters (the causal mask of old checkpoints).
_IGNORED = re.compile(r"^h\.\d+\.attn\.(bias|masked_bias)$")
_LAYER_KEY = re.compile(r"^h\.(\d+)\.")


def _suggest_config(sd):
    """What the checkpoint's shapes say about its config (n_heads cannot be
    read from shapes)."""
    parts = []
    if "wte.weight" in sd and sd["wte.weight"].dim() == 2:
        parts.append(f"'vocab_size': {sd['wte.weight'].shape[0]}")
        parts.append(f"'emb_dim': {sd['wte.weight'].shape[1]}")
    if "wpe.weight" in sd and sd["wpe.weight"].dim() == 2:
        parts.append(f"'context_length': {sd['wpe.weight'].shape[0]}")
    layers = {int(m.group(1)) for k in sd if (m := _LAYER_KEY.match(k))}
    if layers:
        parts.append(f"'n_layers': {max(layers) + 1}")
    parts.append("'qkv_bias': True")
    return (
        "the checkpoint looks like a config with {" + ", ".join(parts) + "} "
        "(n_heads as in its config.json; config_from_hf(config) builds the whole "
        "config)"
    )


def _shown(keys):
    return keys[:8] + (["..."] if len(keys) > 8 else [])


def _course_parameters(model, table):
    """The model's parameters by name, after checking that each one the table
    names is there, with the shape the table gives it."""
    params = dict(model.named_parameters(remove_duplicate=False))
    for weight in table:
        parts = hf_to_course(weight, torch.empty(weight.hf_shape, device="meta"))
        for name, part in zip(weight.course_names, parts):
            if name not in params:
                raise TypeError(f"model must be the course's GPTModel: it has no parameter {name!r}")
            if params[name].shape != part.shape:
                raise ValueError(
                    f"model parameter {name!r} has shape {list(params[name].shape)}, "
                    f"GPT-2's {weight.hf_name!r} gives {list(part.shape)}"
                )
    return params


def check_gpt2_state_dict(model, state_dict):
    """Check a Hugging Face GPT-2 state dict (GPT2LMHeadModel's or GPT2Model's,
    with or without the ``transformer.`` prefix) and the course model it is
    for against ``gpt2_weights(model.cfg)``; return it without the prefix and
    the old causal-mask buffers.

    Raises TypeError when `model` is not the course's GPTModel or the state
    dict is not a dict of tensors; ValueError when the model has
    ``qkv_bias=False``, when a tensor's shape differs (naming the first such
    key, its expected and actual shape, and the config the checkpoint needs),
    when keys are missing or unexpected, when one tensor is there under two
    spellings (with and without ``transformer.``), or when a tensor is not a
    dense floating-point tensor with data (sparse, meta, integer) or holds a
    NaN or an infinity.
    """
    cfg = check_gpt_model(model)
    if not cfg["qkv_bias"]:
        raise ValueError(
            "the model was built with qkv_bias=False, but GPT-2 has biases in its "
            "query/key/value projections: build it with {**cfg, 'qkv_bias': True} "
            "(config_from_hf(hf_config) gives the whole config)"
        )
    table = gpt2_weights(cfg)
    _course_parameters(model, table)  # the model's side of the table
    if not isinstance(state_dict, dict):
        raise TypeError(
            f"state_dict must be a dict of tensors, got {type(state_dict).__name__}"
        )
    sd, spelled = {}, {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"state_dict keys must be strings, got {_show(key)}")
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"state_dict[{key!r}] is a {type(value).__name__}, not a tensor")
        short = key.removeprefix("transformer.")
        if _IGNORED.match(short):
            continue
        if value.is_nested or value.layout != torch.strided:
            kind = "a nested tensor" if value.is_nested else f"a tensor of layout {value.layout}"
            raise ValueError(
                f"state_dict[{key!r}] is {kind}, not a plain (dense) tensor; "
                f"pass value.to_dense() instead"
            )
        if short in sd:
            raise ValueError(
                f"state_dict holds {short!r} twice, as {spelled[short]!r} and {key!r}: one "
                f"tensor under two spellings (with and without the 'transformer.' prefix), so "
                f"which one to load is unclear; remove one of them"
            )
        sd[short], spelled[short] = value, key
    shapes = {weight.hf_name: weight.hf_shape for weight in table}
    # Shapes first: a width or vocabulary mismatch gives the most useful hint.
    for key, shape in shapes.items():
        if key in sd and tuple(sd[key].shape) != shape:
            raise ValueError(
                f"shape mismatch for {key!r}: the model expects {list(shape)}, "
                f"the checkpoint has {list(sd[key].shape)}; {_suggest_config(sd)}"
            )
    missing = [k for k in shapes if k not in sd and k != "lm_head.weight"]
    if missing:
        raise ValueError(
            f"the checkpoint is missing {len(missing)} key(s) the model needs: "
            f"{_shown(missing)}; {_suggest_config(sd)}"
        )
    unexpected = sorted(k for k in sd if k not in shapes)
    if unexpected:
        raise ValueError(
            f"the checkpoint has {len(unexpected)} key(s) the model has no place "
            f"for: {_shown(unexpected)}; {_suggest_config(sd)}"
        )
    for key, value in sd.items():
        if not value.is_floating_point():
            raise ValueError(f"state_dict[{key!r}] has dtype {value.dtype}, not floating point")
        if value.device.type == "meta":
            raise ValueError(
                f"state_dict[{key!r}] holds no data: it is on the meta device (a shape "
                f"only); load the checkpoint's real tensors"
            )
        _check_finite(key, value)
    return sd


def _check_finite(key, value):
    """A ValueError if the checkpoint tensor `value` holds a NaN or an infinity."""
    if value.dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        value = value.float()  # the float8 types have no isfinite
    bad = value.numel() - int(torch.isfinite(value).sum())
    if bad:
        raise ValueError(
            f"state_dict[{key!r}] holds {bad:,} of {value.numel():,} values that are NaN or "
            f"inf: the checkpoint is damaged (or was saved after training diverged); "
            f"download it again"
        )


def _check_model_can_take(params):
    """A ValueError if a model parameter cannot take a checkpoint's values."""
    for name, param in params.items():
        if param.device.type == "meta":
            raise ValueError(
                f"the model has no data: its parameter {name!r} is on the meta device; build "
                f"it on a real device, or call model.to_empty(device='cpu') first"
            )
        if param.is_inference():
            raise ValueError(
                f"the model was built under torch.inference_mode() (its parameter {name!r} "
                f"is an inference tensor, which cannot be written to); build it outside"
            )
        if not param.is_floating_point():
            raise ValueError(
                f"model parameter {name!r} has dtype {param.dtype}, not floating point: "
                f"GPT-2's weights would be rounded to whole numbers; use model.float()"
            )


def _ready_to_copy(model, parts, *, untie):
    """The model's parameters by name, and `parts` ({course name: tensor}) each
    converted to its parameter's dtype and device and checked, so that the
    copies that follow cannot fail half way. A parameter the model shares
    between two names (a head tied to the token embedding) must get the same
    values under both, or, for the head with ``untie=True``, is untied here."""
    check_bool("untie", untie)
    params = dict(model.named_parameters(remove_duplicate=False))
    _check_model_can_take(params)
    hf_names = {name: w.hf_name for w in gpt2_weights(model.cfg) for name in w.course_names}
    storages = {p.untyped_storage().data_ptr() for p in params.values()}
    ready = {}
    for name, part in parts.items():
        target = params[name]
        try:
            tensor = part.to(device=target.device, dtype=target.dtype)
        except (RuntimeError, NotImplementedError) as err:
            raise ValueError(
                f"checkpoint tensor {hf_names[name]!r} cannot be copied to the model's "
                f"{name!r} ({target.dtype} on {target.device}): {err}"
            ) from err
        if tensor.dtype != part.dtype:  # rounded to a narrower type: still finite?
            bad = tensor.numel() - int(torch.isfinite(tensor).sum())
            if bad:
                raise ValueError(
                    f"checkpoint tensor {hf_names[name]!r} does not fit the model's dtype "
                    f"{target.dtype}: {bad:,} of its values become inf in {name!r}; load it "
                    f"into a float32 model (model.float()) and convert afterwards"
                )
        if tensor.untyped_storage().data_ptr() in storages:
            tensor = tensor.clone()  # the model's own memory: copying would change it on the way
        ready[name] = tensor
    shared = {}
    for name in ready:
        shared.setdefault(id(params[name]), []).append(name)
    for names in shared.values():
        if all(torch.equal(ready[names[0]], ready[n]) for n in names[1:]):
            continue
        keys = [hf_names[n] for n in names]
        if set(names) != {"tok_emb.weight", "out_head.weight"}:
            raise ValueError(
                f"model parameters {names} are one Parameter, but the checkpoint gives them "
                f"different values ({keys}); give each its own Parameter first"
            )
        if not untie:
            raise ValueError(
                "the model's output head is tied to its token embedding (model.out_head.weight "
                "is model.tok_emb.weight, one Parameter), but the checkpoint's 'lm_head.weight' "
                "differs from its 'wte.weight': loading both would write the head's values "
                "into the embedding. Pass untie=True to give the head its own parameter, or "
                "untie it first: model.out_head.weight = torch.nn.Parameter("
                "model.tok_emb.weight.detach().clone())"
            )
        old = params["out_head.weight"]
        model.out_head.weight = params["out_head.weight"] = nn.Parameter(
            ready["out_head.weight"].clone(), requires_grad=old.requires_grad)
        warnings.warn(
            "the checkpoint's lm_head.weight differs from its wte.weight, so (untie=True) the "
            "model's output head, which was tied to the token embedding, has been untied: "
            "model.out_head.weight is now a Parameter of its own (rebuild any optimizer made "
            "before, it holds the old one)",
            UserWarning, stacklevel=3,
        )
    return params, ready


def load_gpt2_state_dict(model, state_dict, *, untie=False):
    """Copy a Hugging Face GPT-2 state dict into the course's `GPTModel`,
    following `gpt2_weights`: each checkpoint tensor becomes the course
    tensor(s) it holds (`hf_to_course`). Everything is checked before the
    first copy (`check_gpt2_state_dict`), so on an error the model is
    unchanged. Without ``lm_head.weight`` the output head gets a copy of the
    token embedding (GPT-2 ties them). A head tied to the token embedding
    (one Parameter) stays tied; a checkpoint whose ``lm_head.weight`` differs
    from ``wte.weight`` is then an error, unless ``untie=True`` gives the head
    its own parameter (with a warning). Returns `model`.
    """
    sd = check_gpt2_state_dict(model, state_dict)
    parts = {}  # course parameter -> the checkpoint's tensor for it
    for weight in gpt2_weights(model.cfg):
        source = sd.get(weight.hf_name)
        if source is None:  # lm_head.weight is often left out: GPT-2 ties it to wte
            source = sd["wte.weight"]
        parts.update(zip(weight.course_names, hf_to_course(weight, source)))
    params, parts = _ready_to_copy(model, parts, untie=untie)  # converted, checked
    with torch.no_grad():
        for name, part in parts.items():
            params[name].copy_(part)
    return model


def course_to_hf_state_dict(model):
    """The course model's weights under GPT2LMHeadModel's names and layouts,
    ready for its ``load_state_dict``: `gpt2_weights` read backwards (each
    course tensor through `course_to_hf`). Detached, contiguous copies."""
    cfg = check_gpt_model(model)
    table = gpt2_weights(cfg)
    params = _course_parameters(model, table)
    sd = {}
    for weight in table:
        key = weight.hf_name if weight.hf_name == "lm_head.weight" else "transformer." + weight.hf_name
        tensors = [params[name].detach() for name in weight.course_names]
        sd[key] = course_to_hf(weight, tensors).contiguous()  # torch.cat made it a copy
    if not cfg["qkv_bias"]:  # GPT-2 always has q/k/v biases: zeros compute the same as none
        like = params["tok_emb.weight"]
        for i in range(cfg["n_layers"]):
            sd[f"transformer.h.{i}.attn.c_attn.bias"] = like.new_zeros(3 * cfg["emb_dim"]).detach()
    return sd


# ----------------------------------------------------------------- files

CONFIG_MAX_BYTES = 1 << 20  # a GPT-2 config.json is under 1 KB


def _what_it_holds(path, kind):
    """A guess at what `path`, which should be a `kind`, holds instead: the
    usual results of a download or a copy that went wrong."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(256)
    text = head.lstrip().lower()
    if size == 0:
        return "it is empty (0 bytes): an interrupted download or copy; fetch it again"
    if head.startswith(b"version https://git-lfs"):
        return ("it is a Git LFS pointer, a small text file that stands in for the real "
                "one: run `git lfs pull` in its repository, or download the file itself")
    if re.match(rb"<[!?a-z]", text):
        return ("it is an HTML page: probably an error or login page saved by a failed "
                "download; download it again")
    if kind != "JSON" and text.startswith((b"{", b"[")):
        return "it is JSON text: a config or index file saved under this name?"
    if head.startswith(b"PK\x03\x04"):  # what torch.save writes
        return "it is a zip archive, as torch.save writes: a .pt/.bin file under this name?"
    return (f"its {size:,} bytes are not {kind} (corrupted, truncated, or another kind "
            f"of file); download it again")


def _not_a_folder(path, kind):
    """An IsADirectoryError naming `path` if it is a folder where a `kind` file goes."""
    if path.is_dir():
        raise IsADirectoryError(
            f"{path} is a folder, not a {kind}: pass the file itself (or, to "
            f"load_gpt2_safetensors, the save_pretrained folder that holds it)"
        )


def _read_json(path, kind, not_json="JSON"):
    """The JSON value in the file `path`, which should be a `kind`: a file
    that is not JSON ("{path} is not {not_json}: ..."), or JSON no such file
    could hold (nested thousands of levels deep, a number of thousands of
    digits), is a ValueError naming it."""
    _not_a_folder(path, kind)
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not {not_json}: {_what_it_holds(path, 'JSON')}") from err
    except RecursionError as err:
        raise ValueError(
            f"{path} is JSON nested thousands of levels deep, which no {kind} is: the file "
            f"is damaged or something else; download it again"
        ) from err
    except ValueError as err:  # Python's limit on the digits of an int
        raise ValueError(
            f"{path} holds a number of thousands of digits, which no {kind} does: the file "
            f"is damaged or something else; download it again"
        ) from err


def read_hf_config(path):
    """The settings in a Hugging Face ``config.json``, as a dict. A file that
    is not one (an HTML error page saved by a failed download, an empty or
    binary file, a folder) is an error naming it."""
    path = Path(path)
    _not_a_folder(path, "config.json file")
    if path.stat().st_size > CONFIG_MAX_BYTES:
        raise ValueError(f"{path} is {path.stat().st_size:,} bytes: far too large for a config.json")
    config = _read_json(path, "config.json file")
    if not isinstance(config, dict):
        raise ValueError(
            f"{path} holds a JSON {type(config).__name__}, not a config (an object of settings)"
        )
    return config


def safetensors_shapes(path):
    """{tensor name: shape} from a ``.safetensors`` file's header, reading no
    tensor. A file that is not one is a ValueError naming it and the likely cause."""
    path = Path(path)
    _not_a_folder(path, "weights file")
    try:
        with safe_open(str(path), framework="pt") as f:
            return {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}
    except OSError as err:  # the library's own words rarely name the file
        raise type(err)(f"cannot read {path}: {err}") from err
    except SafetensorError as err:
        raise ValueError(f"{path} is not a safetensors file: "
                         f"{_what_it_holds(path, 'in the safetensors format')}") from err


def read_torch_state_dict(path):
    """The state dict in a ``.bin`` / ``.pt`` / ``.pth`` file, read with
    ``torch.load(weights_only=True)``: tensors and plain containers only,
    never arbitrary objects. A training checkpoint's ``"state_dict"`` entry is
    taken; anything else that is not a state dict is a ValueError naming the file."""
    path = Path(path)
    _not_a_folder(path, "weights file")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as err:
        with open(path, "rb") as f:
            zipped = f.read(4) == b"PK\x03\x04"  # a real torch.save file
        if zipped and isinstance(err, pickle.UnpicklingError):
            raise ValueError(
                f"{path} holds pickled Python objects that the safe reader refuses (a whole "
                f"model saved with torch.save(model)?); save model.state_dict() instead"
            ) from err
        raise ValueError(f"{path} is not a PyTorch state dict: "
                         f"{_what_it_holds(path, 'a PyTorch file')}") from err
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a training checkpoint: the weights are inside
    if not isinstance(state, dict):
        raise ValueError(
            f"{path} holds a {type(state).__name__}, not a state dict (a dict from names "
            f"to tensors, as torch.save(model.state_dict(), path) writes)"
        )
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ValueError(
                f"{path} holds a dict, but not a state dict: its entry {key!r} is of "
                f"type {type(value).__name__}, not a tensor"
            )
    return state


def read_weights_file(path):
    """The state dict in one weights file, never unpickling anything: a
    ``.safetensors`` file (a JSON header and raw tensor bytes, nothing
    executable), or a ``.bin`` / ``.pt`` state dict. A file that holds no
    weights is a ValueError naming it and the likely cause."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        safetensors_shapes(path)  # a clear error first if it is not a safetensors file
        return load_file(str(path), device="cpu")
    if suffix in (".bin", ".pt", ".pth"):
        return read_torch_state_dict(path)  # torch.load(path, weights_only=True), checked
    raise ValueError(
        f"{path.name}: expected a .safetensors file (or a .bin/.pt state dict), "
        f"got {suffix or 'no suffix'}"
    )


def _shard_files(index):
    """The weights files a ``model.safetensors.index.json`` names, each a
    plain file name in its folder: the index comes with the download, and a
    name like "../x" or "/etc/x" must not lead anywhere else."""
    content = _read_json(index, "safetensors index", "a safetensors index")
    if not isinstance(content, dict):
        raise ValueError(f"{index} is not a safetensors index: it holds a JSON "
                         f"{type(content).__name__}, not an object with a 'weight_map'")
    weight_map = content.get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise ValueError(f"{index} has no 'weight_map' of tensor names to files")
    for key, name in weight_map.items():
        if not isinstance(name, str):
            raise ValueError(
                f"{index} maps {_show(key)} to {_show(name)}, not to a file name: the index "
                f"is damaged; download it again"
            )
    files = []
    for name in sorted(set(weight_map.values())):
        if name in ("", ".", "..") or Path(name).name != name or PureWindowsPath(name).name != name:
            raise ValueError(
                f"{index} names the shard {name!r}, which is not a file in its folder; "
                f"refusing to read outside {index.parent}"
            )
        _not_a_folder(index.parent / name, "weights file (a shard the index names)")
        if not (index.parent / name).is_file():
            raise FileNotFoundError(f"{index} names the shard {name!r}, which is not in {index.parent}")
        files.append(index.parent / name)
    return files


def _weights_files(path):
    """A weights file, or a save_pretrained folder (model.safetensors, a
    sharded model.safetensors.index.json, or pytorch_model.bin)."""
    if path.is_file():
        return [path], path.parent
    if not path.is_dir():
        raise FileNotFoundError(f"no such weights file or folder: {path}")
    for name in ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"):
        if (path / name).exists() and not (path / name).is_file():
            raise IsADirectoryError(f"{path / name} is a folder, not a file: the download or "
                                    f"copy went wrong; fetch the file again")
    if (path / "model.safetensors").is_file():
        return [path / "model.safetensors"], path
    if (path / "model.safetensors.index.json").is_file():
        return _shard_files(path / "model.safetensors.index.json"), path
    if (path / "pytorch_model.bin").is_file():
        return [path / "pytorch_model.bin"], path
    named_like_a_file = path.suffix.lower() in (".safetensors", ".bin", ".pt", ".pth")
    raise FileNotFoundError(
        f"{path} holds no model.safetensors (or pytorch_model.bin)"
        + (" (and it is a folder, named like a weights file)" if named_like_a_file else "")
        + "; download_gpt2_124m(folder) fetches GPT-2 124M"
    )


def load_gpt2_safetensors(path, model, *, untie=False):
    """Load GPT-2 weights saved by Hugging Face into the course's `GPTModel`.

    `path`: a ``model.safetensors`` file, or a folder written by
    ``save_pretrained`` (sharded safetensors and ``pytorch_model.bin`` also
    work; ``.bin``/``.pt`` files are read with ``torch.load(weights_only=True)``).
    If a ``config.json`` lies next to the weights, it is checked against the
    model's config first (the number of heads cannot be seen in the shapes).
    ``untie``: as for `load_gpt2_state_dict`. Returns `model`.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a file or folder name, got {type(path).__name__} "
            f"(note the order: load_gpt2_safetensors(path, model))"
        )
    if not os.fspath(path):
        raise ValueError("path is empty: give the weights file or the folder that holds it")
    cfg = check_gpt_model(model, name="model (load_gpt2_safetensors(path, model))")
    check_bool("untie", untie)
    files, folder = _weights_files(Path(path))
    config_path = folder / "config.json"
    if config_path.is_file():
        hf_cfg = read_hf_config(config_path)
        if hf_cfg.get("model_type", "gpt2") == "gpt2":
            try:
                wanted = config_from_hf(hf_cfg)
            except (TypeError, ValueError) as err:
                raise type(err)(f"{config_path}: {err}") from err
            keys = ("vocab_size", "context_length", "emb_dim", "n_heads", "n_layers")
            diff = {k: (cfg[k], wanted[k]) for k in keys if cfg[k] != wanted[k]}
            if diff:
                details = ", ".join(f"{k}: model {a}, checkpoint {b}" for k, (a, b) in diff.items())
                raise ValueError(
                    f"{config_path} does not match the model's config ({details}); "
                    f"build the model with GPTModel(config_from_hf(read_hf_config("
                    f"{str(config_path)!r})))"
                )
    state_dict, found_in = {}, {}
    for file in files:
        for key, tensor in read_weights_file(file).items():
            if key in found_in:
                raise ValueError(
                    f"{key!r} is in two weights files, {found_in[key]} and {file}: which "
                    f"one to load is unclear; the download is damaged, fetch it again"
                )
            state_dict[key], found_in[key] = tensor, file
    return load_gpt2_state_dict(model, state_dict, untie=untie)
