"""Model configurations: the book's GPT_CONFIG_124M, the GPT-2 size presets,
and the one check every model constructor runs on a config."""

from numbers import Real

GPT_CONFIG_124M = {
    "vocab_size": 50257,     # GPT-2's BPE vocabulary (tiktoken "gpt2")
    "context_length": 1024,  # longest sequence the model can attend over
    "emb_dim": 768,          # width of every token vector
    "n_heads": 12,           # attention heads per block
    "n_layers": 12,          # transformer blocks
    "drop_rate": 0.1,        # dropout probability
    "qkv_bias": False,       # bias in the query/key/value projections
}

# GPT-2 sizes differ only in width, depth and heads (book, exercise 4.2).
_GPT2_SHAPES = {
    "gpt2-small (124M)": {"emb_dim": 768, "n_layers": 12, "n_heads": 12},
    "gpt2-medium (355M)": {"emb_dim": 1024, "n_layers": 24, "n_heads": 16},
    "gpt2-large (774M)": {"emb_dim": 1280, "n_layers": 36, "n_heads": 20},
    "gpt2-xl (1558M)": {"emb_dim": 1600, "n_layers": 48, "n_heads": 25},
}
GPT2_CONFIGS = {name: {**GPT_CONFIG_124M, **shape} for name, shape in _GPT2_SHAPES.items()}

# Optional keys: a separate dropout rate per place (book, exercise 4.3).
# Each falls back to "drop_rate" when absent.
OPTIONAL_DROPOUT_KEYS = ("drop_rate_emb", "drop_rate_attn", "drop_rate_shortcut")

_POSITIVE_INT_KEYS = ("vocab_size", "context_length", "emb_dim", "n_heads", "n_layers")
_DROPOUT_KEYS = ("drop_rate",) + OPTIONAL_DROPOUT_KEYS
REQUIRED_KEYS = tuple(GPT_CONFIG_124M)


def validate_config(cfg, required=REQUIRED_KEYS):
    """Raise ValueError naming the key, the value and what is allowed if `cfg`
    is not a usable model config. `required` lists the keys the caller needs
    (a FeedForward needs only "emb_dim"); unknown keys are always an error,
    because a misspelt key would otherwise be silently ignored."""
    if not isinstance(cfg, dict):
        raise ValueError(
            f"config must be a dict like GPT_CONFIG_124M, got {type(cfg).__name__}"
        )
    missing = [key for key in required if key not in cfg]
    if missing:
        raise ValueError(
            f"config is missing key(s) {missing}; start from a copy of "
            f"GPT_CONFIG_124M, e.g. {{**GPT_CONFIG_124M, ...}}"
        )
    allowed = set(REQUIRED_KEYS) | set(OPTIONAL_DROPOUT_KEYS)
    unknown = sorted(set(cfg) - allowed)
    if unknown:
        raise ValueError(
            f"config has unknown key(s) {unknown}; allowed keys are {sorted(allowed)}"
        )
    for key in _POSITIVE_INT_KEYS:
        if key in cfg:
            value = cfg[key]
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(
                    f"config[{key!r}] = {value!r} must be a positive int, "
                    f"got {type(value).__name__}"
                )
            if value <= 0:
                raise ValueError(f"config[{key!r}] = {value!r} must be a positive int")
    for key in _DROPOUT_KEYS:
        if key in cfg:
            value = cfg[key]
            if isinstance(value, bool) or not isinstance(value, Real):
                raise ValueError(
                    f"config[{key!r}] = {value!r} must be a number in [0, 1)"
                )
            if not 0.0 <= value < 1.0:
                raise ValueError(
                    f"config[{key!r}] = {value!r} is outside [0, 1): a dropout "
                    f"probability of 1 would zero every activation"
                )
    if "qkv_bias" in cfg and not isinstance(cfg["qkv_bias"], bool):
        raise ValueError(
            f"config['qkv_bias'] = {cfg['qkv_bias']!r} must be True or False"
        )
    if "emb_dim" in cfg and "n_heads" in cfg and cfg["emb_dim"] % cfg["n_heads"]:
        raise ValueError(
            f"config['emb_dim'] = {cfg['emb_dim']} is not divisible by "
            f"config['n_heads'] = {cfg['n_heads']}: each head gets emb_dim / n_heads "
            f"dimensions, so pick n_heads that divides emb_dim"
        )
    return cfg


def dropout_rate(cfg, place):
    """The dropout probability for `place` ("emb", "attn" or "shortcut")."""
    return cfg.get(f"drop_rate_{place}", cfg["drop_rate"])


def check_token_ids(in_idx, cfg):
    """Raise a clear error unless `in_idx` is a [batch, seq_len] integer tensor
    of ids in [0, vocab_size) no longer than context_length. Called where ids
    enter a model, so a mistake never surfaces as an index error inside torch."""
    import torch

    if not isinstance(in_idx, torch.Tensor):
        raise TypeError(
            f"token ids must be a torch.Tensor of shape [batch, seq_len], got "
            f"{type(in_idx).__name__}; wrap a list with torch.tensor([...])"
        )
    if in_idx.is_floating_point() or in_idx.is_complex() or in_idx.dtype == torch.bool:
        raise TypeError(
            f"token ids must be integers (torch.long), got dtype {in_idx.dtype}; "
            f"use ids.long() if they are whole numbers"
        )
    if in_idx.dim() != 2:
        raise ValueError(
            f"token ids must have shape [batch, seq_len], got {list(in_idx.shape)}; "
            f"for a single sequence use ids.unsqueeze(0)"
        )
    batch, seq_len = in_idx.shape
    if batch == 0 or seq_len == 0:
        raise ValueError(
            f"token ids are empty (shape {list(in_idx.shape)}): give at least one token"
        )
    if seq_len > cfg["context_length"]:
        raise ValueError(
            f"sequence length {seq_len} exceeds context_length "
            f"{cfg['context_length']}; keep the last tokens with "
            f"ids[:, -{cfg['context_length']}:]"
        )
    if in_idx.device.type != "meta":
        low, high = int(in_idx.min()), int(in_idx.max())
        if low < 0 or high >= cfg["vocab_size"]:
            raise ValueError(
                f"token ids must be in [0, {cfg['vocab_size']}) (vocab_size), got "
                f"min {low} and max {high}"
            )
