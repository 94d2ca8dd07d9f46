"""Notebook 04 explorer: how wide is the feed forward network, and what does
its size cost in parameters?

Left: the widths of the three stages (input, hidden, output) as centred bars,
so the "expand, then project back" shape is visible. Right: the parameter
count as a function of emb_dim for the chosen expansion factor (a parabola:
doubling emb_dim quadruples the weights), with GPT-2's four sizes marked.

Counts are arithmetic (no tensors are allocated); `linear_layer_parameters`
matches the FeedForward class (a test checks it on PyTorch's meta device).
"""

import numpy as np

from ..language import tr
from .base import Explorer, fixed_subplots, int_slider

MAX_EMB_DIM = 2048
MAX_FACTOR = 8
GPT2_SIZES = {"small": 768, "medium": 1024, "large": 1280, "XL": 1600}


def linear_layer_parameters(emb_dim, factor=4):
    """The feed forward's two Linear layers' parameter counts (weights plus biases)
    as (first, second); their sum is exercises.nb04_feed_forward.feed_forward_parameters."""
    hidden = factor * emb_dim
    return emb_dim * hidden + hidden, hidden * emb_dim + emb_dim


def feed_forward_explorer(emb_dim=768, factor=4, n_layers=12):
    """Sliders for emb_dim, the expansion factor and the number of blocks
    (n_layers only changes the readout's total); returns an Explorer.
    emb_dim is 64 to 2048, factor 1 to 8, n_layers 1 to 48 (the sliders' ranges)."""
    half_width = MAX_FACTOR * MAX_EMB_DIM / 2
    dims = np.arange(0, MAX_EMB_DIM + 1, 16)

    def setup(fig):
        ax_shape, ax_params = fixed_subplots(
            fig, 1, 2, left=0.085, right=0.98, bottom=0.15, top=0.9, wspace=0.22,
            width_ratios=[1, 1.15])
        stages = [tr("input"), tr("hidden"), tr("output")]
        colours = ["tab:blue", "tab:orange", "tab:blue"]
        bars = ax_shape.barh(stages, [1, 1, 1], left=[0, 0, 0], color=colours,
                             height=0.6, animated=True)
        labels = [ax_shape.text(0, i, "", ha="center", va="center", fontsize=9,
                                animated=True, zorder=5) for i in range(3)]
        ax_shape.set_xlim(-half_width, half_width)
        ax_shape.set_ylim(2.6, -0.6)  # input at the top, output at the bottom
        ax_shape.set_xticks([])
        ax_shape.set_title(tr("width of each stage (one token)"))
        for y, text in ((0.5, "Linear 1 + GELU"), (1.5, "Linear 2")):
            ax_shape.annotate("", xy=(0, y + 0.2), xytext=(0, y - 0.2),
                              arrowprops=dict(arrowstyle="->", color="gray"))
            ax_shape.text(half_width * 0.05, y, text, fontsize=8, color="gray", va="center")
        for side in ("top", "right", "left"):
            ax_shape.spines[side].set_visible(False)

        max_params = sum(linear_layer_parameters(MAX_EMB_DIM, MAX_FACTOR)) / 1e6
        for name, d in GPT2_SIZES.items():
            p = sum(linear_layer_parameters(d, 4)) / 1e6
            ax_params.plot([d], [p], "s", color="gray", ms=5, zorder=3)
            ax_params.annotate(f"GPT-2 {name}", (d, p), textcoords="offset points",
                               xytext=(-4, 6), fontsize=7, color="gray", ha="right")
        curve, = ax_params.plot([], [], color="tab:orange", lw=2, animated=True)
        point, = ax_params.plot([], [], "o", color="tab:red", ms=8, animated=True, zorder=5)
        ax_params.set_xlim(0, MAX_EMB_DIM)
        ax_params.set_ylim(0, max_params * 1.05)
        ax_params.set_xlabel("emb_dim")
        ax_params.set_ylabel(tr("parameters per block (millions)"))
        ax_params.set_title(tr("feed forward parameters vs emb_dim"))
        ax_params.grid(True, alpha=0.3)
        return {"bars": bars, "labels": labels, "curve": curve, "point": point}

    def update(handles, emb_dim, factor, n_layers):
        hidden = factor * emb_dim
        for bar, label, width in zip(handles["bars"], handles["labels"],
                                     (emb_dim, hidden, emb_dim)):
            bar.set_x(-width / 2)
            bar.set_width(width)
            label.set_text(f"{width:,}")
            if width > 0.3 * half_width:  # room inside the bar
                label.set(x=0, ha="center", color="white", fontweight="bold")
            else:
                label.set(x=width / 2 + 0.03 * half_width, ha="left", color="black",
                          fontweight="normal")
        curve_params = [sum(linear_layer_parameters(int(d), factor)) / 1e6 for d in dims]
        handles["curve"].set_data(dims, curve_params)
        first, second = linear_layer_parameters(emb_dim, factor)
        total = first + second
        handles["point"].set_data([emb_dim], [total / 1e6])
        return "\n".join([
            tr("{d} -> {hidden:,} -> {d} (expansion x{factor})",
               d=emb_dim, hidden=hidden, factor=factor),
            tr("Linear 1: {d} x {hidden:,} weights + {hidden:,} biases = {count:,}",
               d=emb_dim, hidden=hidden, count=first),
            tr("Linear 2: {hidden:,} x {d} weights + {d} biases = {count:,}",
               d=emb_dim, hidden=hidden, count=second),
            tr("per block: {total:,} parameters; x {n_layers} blocks = {all:,}",
               total=total, n_layers=n_layers, all=total * n_layers),
        ])

    controls = {
        "emb_dim": int_slider("emb_dim", emb_dim, 64, MAX_EMB_DIM, 64, name="emb_dim"),
        "factor": int_slider(tr("expansion factor"), factor, 1, MAX_FACTOR, name="factor"),
        "n_layers": int_slider("n_layers", n_layers, 1, 48, name="n_layers"),
    }
    return Explorer("Feed forward: width and parameter count", controls, setup, update,
                    figsize=(9, 3.4))
