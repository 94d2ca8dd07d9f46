"""Model configurations: the book's GPT_CONFIG_124M, the GPT-2 size presets,
and the one check every model constructor runs on a config."""

from .checks import check_bool, check_int, check_real

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
    """Return a copy of `cfg` if it is a usable model config, else raise
    (TypeError for a value of the wrong kind, ValueError for a wrong value),
    naming the key, the value and what is allowed. `required` lists the keys
    the caller needs (a FeedForward needs only "emb_dim"); unknown keys are
    always an error, because a misspelt key would otherwise be silently
    ignored. Models keep the copy, so changing the caller's dict later cannot
    change a model that was already built."""
    if not isinstance(cfg, dict):
        raise TypeError(
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
            check_int(f"config[{key!r}]", cfg[key], low=1, why=" (a size: it must be positive)")
    for key in _DROPOUT_KEYS:
        if key in cfg:
            check_real(f"config[{key!r}]", cfg[key], low=0, high=1, high_open=True,
                       why=" (a dropout probability; 1 would zero every activation)")
    if "qkv_bias" in cfg:
        check_bool("config['qkv_bias']", cfg["qkv_bias"])
    if "emb_dim" in cfg and "n_heads" in cfg and cfg["emb_dim"] % cfg["n_heads"]:
        raise ValueError(
            f"config['emb_dim'] = {cfg['emb_dim']} is not divisible by "
            f"config['n_heads'] = {cfg['n_heads']}: each head gets emb_dim / n_heads "
            f"dimensions, so pick n_heads that divides emb_dim"
        )
    return dict(cfg)


def dropout_rate(cfg, place):
    """The dropout probability for `place` ("emb", "attn" or "shortcut")."""
    return cfg.get(f"drop_rate_{place}", cfg["drop_rate"])
