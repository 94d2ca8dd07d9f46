"""Notebook 07: a model-size calculator. Width, depth and heads in; parameters
(per part, total, with weight tying) and memory out, never allocating a model.

Sizes come from `gpt_course.book.nb07_model_size`, which counts from the config alone.
Every block of a GPTModel has the same size, so one block is counted (cached)
and multiplied by n_layers.
"""

from functools import lru_cache

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from ..config import GPT2_CONFIGS, GPT_CONFIG_124M
from ..book.nb07_model_size import MIB, model_size
from ..language import tr
from .base import Explorer, int_slider

# English names, also the keys of size_breakdown's "parts"; shown through tr.
PARTS = ("token + position embeddings", "attention (all blocks)",
         "feed forward (all blocks)", "LayerNorms", "output head")
_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#8172b3", "#c44e52")
_NAMES = {3: "1K", 4: "10K", 5: "100K", 6: "1M", 7: "10M", 8: "100M", 9: "1B", 10: "10B"}


def _log_axis(axis):
    """Powers of ten labelled 1K ... 10B: easier to read than 10^n, and plain
    text, which is much cheaper for matplotlib to lay out than math text."""
    axis.set_major_locator(LogLocator(base=10))
    axis.set_major_formatter(FuncFormatter(lambda x, _: _NAMES.get(round(np.log10(x)), "")))
    # Unlabelled minor ticks (8 per decade) cost more to lay out than the rest
    # of the figure together and add little to a log axis spanning 7 decades.
    axis.set_minor_locator(NullLocator())


@lru_cache(maxsize=512)
def _one_block(vocab_size, context_length, emb_dim, n_heads):
    cfg = {**GPT_CONFIG_124M, "vocab_size": vocab_size, "context_length": context_length,
           "emb_dim": emb_dim, "n_heads": n_heads, "n_layers": 1}
    return model_size(cfg)


def size_breakdown(vocab_size, context_length, emb_dim, n_heads, n_layers):
    """A dict of parameter counts and bytes for GPTModel with this shape, the
    same numbers `model_size` gives for the full config. Raises ValueError
    (from the config check) if emb_dim is not divisible by n_heads."""
    one = _one_block(vocab_size, context_length, emb_dim, n_heads)
    blocks = n_layers
    parts = {
        PARTS[0]: one.embedding_params,
        PARTS[1]: one.attention_params_per_block * blocks,
        PARTS[2]: one.feed_forward_params_per_block * blocks,
        PARTS[3]: one.layer_norm_params_per_block * blocks + one.final_norm_params,
        PARTS[4]: one.out_head_params,
    }
    total = sum(parts.values())
    return {
        "parts": parts,
        "total_params": total,
        "tied_params": total - one.out_head_params,
        "buffer_bytes": one.buffer_bytes * blocks,  # one causal mask per block
    }


def model_size_explorer(vocab_size=GPT_CONFIG_124M["vocab_size"],
                        context_length=GPT_CONFIG_124M["context_length"]):
    """Sliders for emb_dim, n_layers, n_heads -> parameters and memory."""
    controls = {
        "emb_dim": int_slider("emb_dim", 768, 64, 2048, 64),
        "n_layers": int_slider("n_layers", 12, 1, 64),
        "n_heads": int_slider("n_heads", 12, 1, 32),
    }
    presets = {}
    for name, cfg in GPT2_CONFIGS.items():
        presets[name.split(" ")[0]] = size_breakdown(
            vocab_size, context_length, cfg["emb_dim"], cfg["n_heads"], cfg["n_layers"]
        )["total_params"]

    def setup(fig):
        ax_parts, ax_line = fig.subplots(2, 1, height_ratios=[3, 1])
        y = np.arange(len(PARTS))[::-1]
        bars = ax_parts.barh(y, [1] * len(PARTS), color=_COLORS, animated=True)
        ax_parts.set_yticks(y, [tr(part) for part in PARTS])
        ax_parts.set_xscale("log")
        ax_parts.set_xlim(1e3, 1e10)
        _log_axis(ax_parts.xaxis)
        ax_parts.set_xlabel(tr("parameters (log scale)"))
        ax_parts.grid(axis="x", alpha=0.3)
        labels = [ax_parts.text(1, yi, "", va="center", fontsize=8, animated=True) for yi in y]
        message = ax_parts.text(
            0.5, 0.5, "", transform=ax_parts.transAxes, ha="center", va="center",
            fontsize=11, color="#c44e52", animated=True,
            bbox={"facecolor": "white", "edgecolor": "#c44e52"},
        )

        ax_line.set_xscale("log")
        ax_line.set_xlim(1e6, 1e10)
        _log_axis(ax_line.xaxis)
        ax_line.set_ylim(0, 1)
        ax_line.set_yticks([])
        ax_line.set_xlabel(tr("total parameters (untied head), GPT-2 sizes marked"))
        for i, (name, params) in enumerate(presets.items()):
            ax_line.axvline(params, color="0.6", linewidth=1)
            ax_line.text(params, 0.92 - 0.25 * (i % 2), name, fontsize=7, ha="center", va="top",
                         color="0.35", bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
        marker = ax_line.plot([1], [0.3], marker="v", markersize=12, color="#c44e52",
                              animated=True)[0]
        return {"bars": bars, "labels": labels, "message": message, "marker": marker}

    def update(handles, emb_dim, n_layers, n_heads):
        if emb_dim % n_heads:
            for artist in (*handles["bars"], *handles["labels"], handles["marker"]):
                artist.set_visible(False)
            handles["message"].set_visible(True)
            handles["message"].set_text(tr(
                "emb_dim {emb_dim} is not divisible by n_heads {n_heads}:\n"
                "each head needs emb_dim / n_heads dimensions", emb_dim=emb_dim, n_heads=n_heads
            ))
            divisors = [h for h in range(1, 33) if emb_dim % h == 0]
            return tr("emb_dim = {emb_dim} is not divisible by n_heads = {n_heads}; "
                      "n_heads that work: {divisors}",
                      emb_dim=emb_dim, n_heads=n_heads, divisors=", ".join(map(str, divisors)))
        handles["message"].set_visible(False)
        size = size_breakdown(vocab_size, context_length, emb_dim, n_heads, n_layers)
        for bar, label, params in zip(handles["bars"], handles["labels"], size["parts"].values()):
            bar.set_visible(True)
            bar.set_width(max(params, 1))
            label.set_visible(True)
            label.set_position((max(params, 1) * 1.15, label.get_position()[1]))
            label.set_text(f"{params:,}")
        handles["marker"].set_visible(True)
        handles["marker"].set_xdata([size["total_params"]])
        total, tied = size["total_params"], size["tied_params"]
        nearest = min(presets, key=lambda name: abs(np.log(presets[name] / total)))
        return tr(
            "head_dim = {head_dim}; total {total:,} parameters, "
            "{tied:,} with weight tying (nearest GPT-2 size: {nearest})\n"
            "memory: float32 {float32:,.2f} MiB, bfloat16 {bfloat16:,.2f} MiB "
            "(+ causal-mask buffers {buffers:,.2f} MiB)",
            head_dim=emb_dim // n_heads, total=total, tied=tied, nearest=nearest,
            float32=total * 4 / MIB, bfloat16=total * 2 / MIB,
            buffers=size["buffer_bytes"] / MIB,
        )

    explorer = Explorer("GPT model size calculator", controls, setup, update, figsize=(8, 4.4))
    explorer.presets = presets
    return explorer
