"""Exercise checks for notebook 07 (the full GPT model)."""

import math

from .base import Verdict, no_answer_yet, report

# Book, exercise 4.2: parameters (untied output head) and float32 memory in
# the book's "MB" (MiB: bytes / 1024**2).
GPT2_SIZES = {
    "medium": (406_212_608, 1549.58),
    "large": (838_220_800, 3197.56),
    "xl": (1_637_792_000, 6247.68),
}
# Tied counts (output head sharing tok_emb): a common near miss.
_TIED = {"medium": 354_749_440, "large": 773_891_840, "xl": 1_557_380_800}

# Exercise 4.3: the dropout rates the learner's model must use.
DROPOUT_RATES = {"drop_rate_emb": 0.05, "drop_rate_attn": 0.1, "drop_rate_shortcut": 0.2}


def _size_key(key):
    if not isinstance(key, str):
        return None
    key = key.lower()
    for size in ("medium", "large", "xl"):
        if size in key:
            return size
    return None


def check_gpt2_sizes(answer):
    """Exercise 4.2: {"gpt2-medium": (params, MB), "gpt2-large": ..., "gpt2-xl": ...}."""
    if no_answer_yet(answer):
        return Verdict(False)
    if not isinstance(answer, dict):
        return report(False, "", "give a dict like {'gpt2-medium': (params, mb), "
                      "'gpt2-large': (...), 'gpt2-xl': (...)}")
    given = {}
    for key, value in answer.items():
        size = _size_key(key)
        if size is None:
            continue  # e.g. gpt2-small: allowed, not checked
        try:
            params, mb = value
            given[size] = (int(params), float(mb))
        except (TypeError, ValueError):
            return report(False, "", f"the value for {key!r} should be a pair (params, mb)")
    missing = [size for size in GPT2_SIZES if size not in given]
    if missing:
        return report(False, "", f"no entry for {', '.join('gpt2-' + m for m in missing)}; "
                      "the keys of GPT2_CONFIGS work")
    for size, (params, mb) in given.items():
        want_params, want_mb = GPT2_SIZES[size]
        if params == _TIED[size]:
            return report(False, "", f"gpt2-{size}: {params:,} is the weight-tied count; the book "
                          "counts the output head separately (total_params).")
        if params != want_params:
            return report(False, "", f"gpt2-{size}: {params:,} parameters is not right; build the "
                          "config on the meta device or use model_size(cfg).total_params.")
        if math.isclose(mb, want_params * 4 / 1e6, abs_tol=0.01):
            return report(False, "", f"gpt2-{size}: {mb:.2f} is in SI megabytes (10**6 bytes); "
                          "the book divides the bytes by 1024**2 (MiB).")
        if not math.isclose(mb, want_mb, abs_tol=0.011):
            return report(False, "", f"gpt2-{size}: {mb:.2f} MB is not right; memory is "
                          "params x 4 bytes (float32), divided by 1024**2.")
    return report(True, "medium 406,212,608 / 1549.58 MB, large 838,220,800 / 3197.56 MB, "
                  "xl 1,637,792,000 / 6247.68 MB: width and depth grow, and memory "
                  "grows with the parameters.", "")


def check_separate_dropout(model):
    """Exercise 4.3: a GPTModel using DROPOUT_RATES for embedding, attention
    and shortcut dropout."""
    if no_answer_yet(model):
        return Verdict(False)
    blocks = getattr(model, "trf_blocks", None)
    if not hasattr(model, "drop_emb") or blocks is None:
        return report(False, "", "pass the model itself: GPTModel(your_config)")
    emb = DROPOUT_RATES["drop_rate_emb"]
    attn = DROPOUT_RATES["drop_rate_attn"]
    shortcut = DROPOUT_RATES["drop_rate_shortcut"]
    if model.drop_emb.p != emb:
        return report(False, "", f"model.drop_emb.p is {model.drop_emb.p}, want {emb}: set "
                      "'drop_rate_emb' in the config")
    for i, block in enumerate(blocks):
        if block.att.dropout.p != attn:
            return report(False, "", f"block {i}: att.dropout.p is {block.att.dropout.p}, want "
                          f"{attn}: set 'drop_rate_attn' in the config")
        if block.drop_shortcut.p != shortcut:
            return report(False, "", f"block {i}: drop_shortcut.p is {block.drop_shortcut.p}, "
                          f"want {shortcut}: set 'drop_rate_shortcut' in the config")
    return report(True, f"embedding dropout {emb}, attention dropout {attn} and shortcut "
                  f"dropout {shortcut} in all {len(blocks)} blocks.", "")


def check_position_params(answer):
    """Own exercise: parameters of GPT-2 small's position embedding."""
    if no_answer_yet(answer):
        return Verdict(False)
    if hasattr(answer, "item"):
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or answer != int(answer):
        return report(False, "", "give one whole number")
    answer = int(answer)
    if answer == 1024 * 768:
        return report(True, "One 768-number vector per position, 1024 positions: 786,432, "
                      "under 0.5% of the model. The token embedding is 49 times larger "
                      "(50257 rows instead of 1024).", "")
    if answer == 50257 * 768:
        hint = ("that is the token embedding (one row per vocabulary entry); positions go "
                "up to context_length.")
    elif answer in (1024, 768):
        hint = "the embedding is a matrix: one row per position, emb_dim columns."
    else:
        hint = "model.pos_emb.weight.shape gives the matrix; multiply its two sizes."
    return report(False, "", hint)
