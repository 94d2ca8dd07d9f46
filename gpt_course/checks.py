"""One way to check arguments, used wherever an argument enters the package.

The policy: ``TypeError`` for the wrong kind of thing (a string where a number
goes, a list where a tensor goes), ``ValueError`` for the right kind with a
wrong value (a negative length, an id beyond the vocabulary). Every message
names the argument, shows what it got, and says what is allowed, so a mistake
never surfaces as an error from deep inside torch.

``True`` and ``False`` are never numbers here, although Python lets them be.
"""

import math
from numbers import Real

import torch
import torch.nn as nn

__all__ = ["check_bool", "check_eval_mode", "check_gpt_model", "check_int", "check_real",
           "check_token_ids"]


def _allowed(kind, low, high, low_open=False, high_open=False):
    if low is not None and high is not None:
        return f"{kind} in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{kind} {'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{kind} {'<' if high_open else '<='} {high}"
    return kind


def _short(value):
    """repr(value), its middle cut out when it is long: a huge int is shown by
    its size (Python refuses to print an int of more than 4300 digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 1000:
        digits = len(str(abs(value))) if value.bit_length() < 14_000 else "over 4300"
        return f"an int of {digits} digits"
    try:
        text = repr(value)
    except ValueError:  # e.g. a Fraction of huge ints
        return f"a {type(value).__name__} too large to print"
    return text if len(text) <= 80 else f"{text[:35]}...{text[-35:]}"


def check_int(name, value, *, low=None, high=None, why=""):
    """Return `value` if it is an int (not a bool) in [low, high], else raise.
    `why` is added to the message of a ValueError (what the bound means)."""
    allowed = _allowed("an int", low, high)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be {allowed}, got {_short(value)} ({type(value).__name__})")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {allowed}, got {_short(value)}{why}")
    return value


def check_real(name, value, *, low=None, high=None, low_open=False, high_open=False, why=""):
    """Return `value` as a float if it is a finite real number (not a bool) in
    the interval, else raise; `low_open` / `high_open` exclude the bound."""
    allowed = _allowed("a number", low, high, low_open, high_open)
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be {allowed}, got {_short(value)} ({type(value).__name__})")
    try:
        value = float(value)
    except OverflowError:  # an int or Fraction beyond float's range (about 1.8e308)
        raise ValueError(f"{name} must be {allowed}, got a number too large for a float "
                         f"({_short(value)}){why}") from None
    outside = (
        not math.isfinite(value)
        or (low is not None and (value <= low if low_open else value < low))
        or (high is not None and (value >= high if high_open else value > high))
    )
    if outside:
        raise ValueError(f"{name} must be {allowed}, got {value!r}{why}")
    return value


def check_bool(name, value):
    """Return `value` if it is True or False (not 0, 1 or "yes"), else TypeError."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {_short(value)}")
    return value


# The integer dtypes nn.Embedding takes: smaller ones fail inside torch, and
# unsigned ones cannot even hold GPT-2's vocabulary (50257 > 2**16 - 1 wraps).
_ID_DTYPES = (torch.long, torch.int)


def check_token_ids(in_idx, cfg, name="token ids", *, any_length=False):
    """Raise a clear error unless `in_idx` is a [batch, seq_len] tensor of
    int64 (or int32) ids in [0, vocab_size), no longer than context_length
    (any length with ``any_length=True``: a prompt a generation loop crops).
    Called where ids enter a model."""
    if not isinstance(in_idx, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape [batch, seq_len], got "
            f"{type(in_idx).__name__}; wrap a list with torch.tensor([...]) "
            f"(text_to_token_ids(text, tokenizer) makes one from text)"
        )
    if in_idx.dtype not in _ID_DTYPES:
        whole = "" if in_idx.is_floating_point() or in_idx.is_complex() else " holds whole numbers, but"
        raise TypeError(
            f"{name} must be integers of dtype torch.long, got dtype {in_idx.dtype}: the tensor"
            f"{whole} is not a type the embedding takes; use ids.long() if they are whole "
            f"numbers in [0, {cfg['vocab_size']})"
        )
    if in_idx.dim() != 2:
        raise ValueError(
            f"{name} must have shape [batch, seq_len], got {list(in_idx.shape)}; "
            f"for a single sequence use ids.unsqueeze(0)"
        )
    batch, seq_len = in_idx.shape
    if batch == 0 or seq_len == 0:
        raise ValueError(
            f"{name} are empty (shape {list(in_idx.shape)}): give at least one token"
        )
    if not any_length and seq_len > cfg["context_length"]:
        raise ValueError(
            f"{name}: sequence length {seq_len} exceeds context_length "
            f"{cfg['context_length']}; keep the last tokens with "
            f"ids[:, -{cfg['context_length']}:]"
        )
    if in_idx.device.type != "meta":
        low, high = int(in_idx.min()), int(in_idx.max())
        if low < 0 or high >= cfg["vocab_size"]:
            raise ValueError(
                f"{name} must be in [0, {cfg['vocab_size']}) (vocab_size), got "
                f"min {low} and max {high}"
            )
    return in_idx


def check_gpt_model(model, name="model"):
    """Return the model's config if `model` is the course's GPTModel (or built
    like it: a config dict and the book's attribute names), else TypeError."""
    cfg = getattr(model, "cfg", None)
    needed = ("tok_emb", "pos_emb", "trf_blocks", "final_norm", "out_head")
    if not isinstance(cfg, dict) or not all(hasattr(model, n) for n in needed):
        raise TypeError(
            f"{name} must be the course's GPTModel, got {type(model).__name__}"
        )
    return cfg


def check_eval_mode(model, name="model"):
    """ValueError if running `model` would apply dropout: a submodule
    nn.Dropout with p > 0 in training mode. Generation (cached or not) computes
    the eval-mode output; a model in training mode without dropout computes
    that same output, so it runs."""
    for path, module in model.named_modules():
        if isinstance(module, nn.Dropout) and module.training and module.p > 0:
            raise ValueError(
                f"{name} is in training mode with dropout ({name}.{path} has p = {module.p}): "
                f"generation computes the eval-mode output, so call model.eval() first"
            )
