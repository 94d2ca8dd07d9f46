"""Beyond the book: load GPT-2's published weights (Hugging Face format) into
the course's own `GPTModel`.

Hugging Face's `GPT2LMHeadModel` names and stores the same numbers differently:

    Hugging Face key                 course parameter              how
    wte.weight                       tok_emb.weight                as is
    wpe.weight                       pos_emb.weight                as is
    h.{i}.ln_1.weight / .bias        trf_blocks[i].norm1.scale / .shift
    h.{i}.attn.c_attn.weight         att.W_query/W_key/W_value     split in 3, transpose
    h.{i}.attn.c_attn.bias           their biases                  split in 3
    h.{i}.attn.c_proj.weight / .bias att.out_proj                  transpose
    h.{i}.ln_2.weight / .bias        norm2.scale / .shift
    h.{i}.mlp.c_fc.weight / .bias    ff.layers[0]                  transpose
    h.{i}.mlp.c_proj.weight / .bias  ff.layers[2]                  transpose
    ln_f.weight / .bias              final_norm.scale / .shift
    lm_head.weight                   out_head.weight               absent: copy of wte

Hugging Face's `Conv1D` layers keep their weight as [in, out] (the transpose
of `nn.Linear`'s [out, in]), and fuse the query, key and value projections
into one `c_attn` layer of width 3 * emb_dim. GPT-2 was trained with biases on
q, k and v, so the course config needs ``qkv_bias=True``.

Files are read with safetensors (or ``torch.load(weights_only=True)``): no
arbitrary object is ever unpickled.
"""

import hashlib
import json
import os
import re
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import torch

from ..config import validate_config

__all__ = [
    "GPT2WeightsUnavailableError",
    "config_from_hf",
    "download_gpt2_124m",
    "load_gpt2_safetensors",
    "load_gpt2_state_dict",
]

# HF buffers that are not parameters (the causal mask of old checkpoints).
_IGNORED = re.compile(r"^h\.\d+\.attn\.(bias|masked_bias)$")
_LAYER_KEY = re.compile(r"^h\.(\d+)\.")

# The official GPT-2 124M checkpoint, pinned to one revision and checked.
GPT2_124M_REPO = "openai-community/gpt2"
GPT2_124M_REVISION = "607a30d783dfa663caf39e06633721c8d4cfcd7e"
GPT2_124M_SAFETENSORS_SHA256 = (
    "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707"
)
GPT2_124M_SAFETENSORS_BYTES = 548_105_171


class GPT2WeightsUnavailableError(RuntimeError):
    """The GPT-2 weights could not be downloaded (offline, blocked, or a
    download that did not check out)."""


# ---------------------------------------------------------------- configs

_TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")


def config_from_hf(hf_config, *, dropout=False):
    """The course config dict for a Hugging Face GPT-2 config.

    `hf_config`: a dict (e.g. ``json.load`` of a ``config.json``) or a
    ``transformers.GPT2Config``. ``dropout=False`` (default) gives drop_rate
    0.0, right for inference; ``dropout=True`` takes HF's embd_pdrop,
    attn_pdrop and resid_pdrop as drop_rate_emb / _attn / _shortcut.
    Raises ValueError for a setting the course's GPTModel cannot reproduce
    (another activation, LayerNorm epsilon, MLP width or attention scaling).
    """
    if hasattr(hf_config, "to_dict"):
        hf_config = hf_config.to_dict()
    if not isinstance(hf_config, dict):
        raise ValueError(
            f"hf_config must be a dict (json.load of config.json) or a GPT2Config, "
            f"got {type(hf_config).__name__}"
        )
    model_type = hf_config.get("model_type", "gpt2")
    if model_type != "gpt2":
        raise ValueError(f"hf_config is a {model_type!r} config, not 'gpt2'")
    missing = [k for k in ("vocab_size", "n_embd", "n_head", "n_layer") if k not in hf_config]
    if "n_positions" not in hf_config and "n_ctx" not in hf_config:
        missing.append("n_positions")
    if missing:
        raise ValueError(f"hf_config is missing GPT-2 key(s) {missing}")
    emb_dim = hf_config["n_embd"]
    activation = hf_config.get("activation_function", "gelu_new")
    if activation not in _TANH_GELUS:
        raise ValueError(
            f"hf_config activation_function={activation!r}: the course's GELU is "
            f"the tanh approximation, i.e. one of {list(_TANH_GELUS)}"
        )
    eps = hf_config.get("layer_norm_epsilon", 1e-5)
    if abs(eps - 1e-5) > 1e-12:
        raise ValueError(
            f"hf_config layer_norm_epsilon={eps}: the course's LayerNorm uses 1e-5"
        )
    n_inner = hf_config.get("n_inner")
    if n_inner is not None and n_inner != 4 * emb_dim:
        raise ValueError(
            f"hf_config n_inner={n_inner}: the course's FeedForward is 4 * n_embd "
            f"= {4 * emb_dim} wide"
        )
    if not hf_config.get("scale_attn_weights", True) or hf_config.get(
        "scale_attn_by_inverse_layer_idx", False
    ):
        raise ValueError(
            "hf_config changes the attention scaling (scale_attn_weights / "
            "scale_attn_by_inverse_layer_idx): the course divides by sqrt(head_dim)"
        )
    if hf_config.get("add_cross_attention", False):
        raise ValueError("hf_config adds cross-attention, which GPTModel does not have")
    cfg = {
        "vocab_size": hf_config["vocab_size"],
        "context_length": hf_config.get("n_positions", hf_config.get("n_ctx")),
        "emb_dim": emb_dim,
        "n_heads": hf_config["n_head"],
        "n_layers": hf_config["n_layer"],
        "drop_rate": 0.0,
        "qkv_bias": True,
    }
    if dropout:
        cfg["drop_rate_emb"] = float(hf_config.get("embd_pdrop", 0.1))
        cfg["drop_rate_attn"] = float(hf_config.get("attn_pdrop", 0.1))
        cfg["drop_rate_shortcut"] = float(hf_config.get("resid_pdrop", 0.1))
        cfg["drop_rate"] = cfg["drop_rate_shortcut"]
    return validate_config(cfg)


# ------------------------------------------------------------ state dicts


def _strip_prefix(state_dict):
    out = {}
    for key, value in state_dict.items():
        if key.startswith("transformer."):
            key = key[len("transformer."):]
        out[key] = value
    return out


def _suggest_config(sd):
    """What the checkpoint's shapes say about its config (n_heads cannot be
    read from shapes)."""
    parts = []
    if "wte.weight" in sd and getattr(sd["wte.weight"], "dim", lambda: 0)() == 2:
        parts.append(f"'vocab_size': {sd['wte.weight'].shape[0]}")
        parts.append(f"'emb_dim': {sd['wte.weight'].shape[1]}")
    if "wpe.weight" in sd and getattr(sd["wpe.weight"], "dim", lambda: 0)() == 2:
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


def _expected(model):
    """HF key -> (expected HF shape, [(course parameter, transform)])."""
    cfg = model.cfg
    d, v, ctx = cfg["emb_dim"], cfg["vocab_size"], cfg["context_length"]
    plan = {
        "wte.weight": ((v, d), [(model.tok_emb.weight, None)]),
        "wpe.weight": ((ctx, d), [(model.pos_emb.weight, None)]),
    }
    for i, block in enumerate(model.trf_blocks):
        att, ff = block.att, block.ff.layers
        p = f"h.{i}."
        plan.update({
            p + "ln_1.weight": ((d,), [(block.norm1.scale, None)]),
            p + "ln_1.bias": ((d,), [(block.norm1.shift, None)]),
            p + "attn.c_attn.weight": ((d, 3 * d), [
                (att.W_query.weight, ("qkvT", 0)),
                (att.W_key.weight, ("qkvT", 1)),
                (att.W_value.weight, ("qkvT", 2)),
            ]),
            p + "attn.c_attn.bias": ((3 * d,), [
                (att.W_query.bias, ("qkv", 0)),
                (att.W_key.bias, ("qkv", 1)),
                (att.W_value.bias, ("qkv", 2)),
            ]),
            p + "attn.c_proj.weight": ((d, d), [(att.out_proj.weight, "T")]),
            p + "attn.c_proj.bias": ((d,), [(att.out_proj.bias, None)]),
            p + "ln_2.weight": ((d,), [(block.norm2.scale, None)]),
            p + "ln_2.bias": ((d,), [(block.norm2.shift, None)]),
            p + "mlp.c_fc.weight": ((d, 4 * d), [(ff[0].weight, "T")]),
            p + "mlp.c_fc.bias": ((4 * d,), [(ff[0].bias, None)]),
            p + "mlp.c_proj.weight": ((4 * d, d), [(ff[2].weight, "T")]),
            p + "mlp.c_proj.bias": ((d,), [(ff[2].bias, None)]),
        })
    plan["ln_f.weight"] = ((d,), [(model.final_norm.scale, None)])
    plan["ln_f.bias"] = ((d,), [(model.final_norm.shift, None)])
    plan["lm_head.weight"] = ((v, d), [(model.out_head.weight, None)])
    return plan


def _transform(tensor, how, d):
    if how is None:
        return tensor
    if how == "T":
        return tensor.t()
    kind, part = how
    if kind == "qkvT":  # [d, 3d] -> the part's [d, d], then [out, in]
        return tensor[:, part * d:(part + 1) * d].t()
    return tensor[part * d:(part + 1) * d]  # "qkv": bias [3d] -> [d]


def load_gpt2_state_dict(model, state_dict):
    """Copy a Hugging Face GPT-2 state dict (GPT2LMHeadModel or GPT2Model, with
    or without the ``transformer.`` prefix) into the course's `GPTModel`.

    Everything is checked before anything is copied, so on an error the model
    is unchanged. Raises ValueError when the model's config has
    ``qkv_bias=False``, when a tensor's shape differs (naming the first such
    key, its expected and actual shape, and the config the checkpoint needs),
    or when keys are missing or unexpected. Without ``lm_head.weight`` the
    output head gets a copy of the token embedding (GPT-2 ties them).
    Returns `model`.
    """
    cfg = getattr(model, "cfg", None)
    if not isinstance(cfg, dict) or not hasattr(model, "trf_blocks"):
        raise ValueError(
            f"model must be the course's GPTModel, got {type(model).__name__}"
        )
    if not cfg.get("qkv_bias", False):
        raise ValueError(
            "the model was built with qkv_bias=False, but GPT-2 has biases in its "
            "query/key/value projections: build it with {**cfg, 'qkv_bias': True} "
            "(config_from_hf(hf_config) gives the whole config)"
        )
    if not isinstance(state_dict, dict):
        raise ValueError(
            f"state_dict must be a dict of tensors, got {type(state_dict).__name__}"
        )
    sd = {k: v for k, v in _strip_prefix(state_dict).items() if not _IGNORED.match(k)}
    for key, value in sd.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"state_dict[{key!r}] is a {type(value).__name__}, not a tensor")
    plan = _expected(model)

    # Shapes first: a width or vocabulary mismatch gives the most useful hint.
    for key, (shape, _) in plan.items():
        if key in sd and tuple(sd[key].shape) != shape:
            raise ValueError(
                f"shape mismatch for {key!r}: the model expects {list(shape)}, the "
                f"checkpoint has {list(sd[key].shape)}; {_suggest_config(sd)}"
            )
    missing = [k for k in plan if k not in sd and k != "lm_head.weight"]
    if missing:
        shown = missing[:8] + (["..."] if len(missing) > 8 else [])
        raise ValueError(
            f"the checkpoint is missing {len(missing)} key(s) the model needs: "
            f"{shown}; {_suggest_config(sd)}"
        )
    unexpected = sorted(k for k in sd if k not in plan)
    if unexpected:
        shown = unexpected[:8] + (["..."] if len(unexpected) > 8 else [])
        raise ValueError(
            f"the checkpoint has {len(unexpected)} key(s) the model has no place "
            f"for: {shown}; {_suggest_config(sd)}"
        )
    for key, value in sd.items():
        if not value.is_floating_point():
            raise ValueError(f"state_dict[{key!r}] has dtype {value.dtype}, not floating point")

    d = cfg["emb_dim"]
    with torch.no_grad():
        for key, (_, targets) in plan.items():
            source = sd.get(key)
            if source is None:  # lm_head.weight absent: tied to wte
                source = sd["wte.weight"]
            for param, how in targets:
                param.copy_(_transform(source, how, d))
    return model


# ----------------------------------------------------------------- files


def _read_weights_file(path):
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    if suffix in (".bin", ".pt", ".pth"):
        # weights_only=True: tensors and plain containers only, no arbitrary code.
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        return state
    raise ValueError(
        f"{path.name}: expected a .safetensors file (or a .bin/.pt state dict), "
        f"got {suffix or 'no suffix'}"
    )


def _resolve_weights(path):
    """A file, or a save_pretrained directory (model.safetensors, a sharded
    model.safetensors.index.json, or pytorch_model.bin)."""
    path = Path(path)
    if path.is_dir():
        index = path / "model.safetensors.index.json"
        for name in ("model.safetensors", "pytorch_model.bin"):
            if (path / name).is_file():
                return [path / name], path
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            return [path / s for s in shards], path
        raise FileNotFoundError(
            f"{path} holds no model.safetensors (or pytorch_model.bin); "
            f"download_gpt2_124m(dir) fetches GPT-2 124M"
        )
    if not path.is_file():
        raise FileNotFoundError(f"no such weights file: {path}")
    return [path], path.parent


def load_gpt2_safetensors(path, model):
    """Load GPT-2 weights saved by Hugging Face into the course's `GPTModel`.

    `path`: a ``model.safetensors`` file, or a directory written by
    ``save_pretrained`` (sharded safetensors and ``pytorch_model.bin`` also
    work; ``.bin``/``.pt`` files are read with ``torch.load(weights_only=True)``).
    If a ``config.json`` lies next to the weights, it is checked against the
    model's config first (the number of heads cannot be seen in the shapes).
    Returns `model`.
    """
    if not isinstance(getattr(model, "cfg", None), dict):
        raise ValueError(
            f"model must be the course's GPTModel, got {type(model).__name__} "
            f"(note the order: load_gpt2_safetensors(path, model))"
        )
    files, folder = _resolve_weights(path)
    config_path = folder / "config.json"
    if config_path.is_file():
        hf_cfg = json.loads(config_path.read_text())
        if hf_cfg.get("model_type", "gpt2") == "gpt2":
            wanted = config_from_hf(hf_cfg)
            keys = ("vocab_size", "context_length", "emb_dim", "n_heads", "n_layers")
            diff = {k: (model.cfg.get(k), wanted[k]) for k in keys if model.cfg.get(k) != wanted[k]}
            if diff:
                details = ", ".join(f"{k}: model {a}, checkpoint {b}" for k, (a, b) in diff.items())
                raise ValueError(
                    f"{config_path} does not match the model's config ({details}); "
                    f"build the model with GPTModel(config_from_hf(json.load(open("
                    f"{str(config_path)!r}))))"
                )
    state_dict = {}
    for file in files:
        state_dict.update(_read_weights_file(file))
    return load_gpt2_state_dict(model, state_dict)


# -------------------------------------------------------------- download


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url, target, timeout):
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        return Path(tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_config_file(path):
    cfg = json.loads(Path(path).read_text())
    course = config_from_hf(cfg)
    if (course["emb_dim"], course["n_layers"], course["n_heads"]) != (768, 12, 12):
        raise ValueError(f"{path} is not GPT-2 124M's config: {course}")


def _check_weights_file(path):
    if _sha256_file(path) != GPT2_124M_SAFETENSORS_SHA256:
        raise ValueError(f"{path}: sha256 differs from GPT-2 124M's model.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        if list(f.get_slice("wte.weight").get_shape()) != [50257, 768]:
            raise ValueError(f"{path}: wte.weight is not [50257, 768]")


def download_gpt2_124m(dest_dir, *, timeout=10.0):
    """Download OpenAI's GPT-2 124M weights (``model.safetensors``, 548 MB) and
    ``config.json`` from the Hugging Face hub into `dest_dir`, pinned to one
    revision and checked by sha256. Files already there and valid are kept.
    Each file is written to a temporary name, checked, then renamed, so an
    interrupted download never leaves a broken file behind.

    Returns `dest_dir` as a Path, ready for ``load_gpt2_safetensors``.
    Raises GPT2WeightsUnavailableError quickly when offline (a `timeout`-second
    connection limit; immediately when HF_HUB_OFFLINE=1 is set).
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    base = f"https://huggingface.co/{GPT2_124M_REPO}/resolve/{GPT2_124M_REVISION}/"
    manual = (
        f"download config.json and model.safetensors by hand from "
        f"https://huggingface.co/{GPT2_124M_REPO} into {dest}, then call "
        f"load_gpt2_safetensors({str(dest)!r}, model)"
    )
    jobs = [("config.json", _check_config_file), ("model.safetensors", _check_weights_file)]
    for name, check in jobs:
        target = dest / name
        if target.is_file():
            try:
                check(target)
                continue
            except ValueError:
                pass  # a stale or broken file: download it again
        if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
            raise GPT2WeightsUnavailableError(
                f"HF_HUB_OFFLINE is set, so {name} is not downloaded; {manual}"
            )
        try:
            tmp = _fetch(base + name, target, timeout)
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            raise GPT2WeightsUnavailableError(
                f"could not download {name} from huggingface.co ({err}); {manual}"
            ) from err
        try:
            check(tmp)
        except Exception as err:
            tmp.unlink(missing_ok=True)
            raise GPT2WeightsUnavailableError(
                f"the downloaded {name} did not check out ({err}); {manual}"
            ) from err
        os.replace(tmp, target)
    return dest
