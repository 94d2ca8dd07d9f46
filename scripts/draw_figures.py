"""Draw the course's figures into images/ as small, deterministic SVG files.

Usage (from the repository root):

    .venv/bin/python scripts/draw_figures.py               # all figures -> images/*.svg
    .venv/bin/python scripts/draw_figures.py --png /tmp/f  # also PNG previews in /tmp/f
    .venv/bin/python scripts/draw_figures.py layer_norm    # only the named figure(s)
    .venv/bin/python scripts/draw_figures.py --lang zh     # Chinese -> images/zh/*.svg

The Chinese figures (中文版) are the same drawings with every label passed
through `gpt_course.language.tr`, drawn under `speaking("zh")`; the labels'
translations are in gpt_course/locale/zh/figures.json (a label without one
stays English). The layout is the English one: look at the --png previews to
see that a changed label still fits. The Chinese text needs a font with
Chinese glyphs (the course ships one, gpt_course/fonts/: see
`gpt_course.language.cjk_font`). The Chinese notebooks use
images/zh/<name>.svg wherever it exists (scripts/build_zh_notebooks.py), so
after changing a figure redraw both:

    .venv/bin/python scripts/draw_figures.py && .venv/bin/python scripts/draw_figures.py --lang zh

Every figure is drawn here with matplotlib (patches, arrows, text; the GELU/ReLU
figure is a real plot computed with numpy). Text stays text in the SVG
(svg.fonttype 'none', font DejaVu Sans) and the output carries no date, so
re-running the script gives byte-identical files for the same matplotlib version.
"""

import argparse
import contextlib
import logging
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import (  # noqa: E402
    Circle,
    FancyArrowPatch,
    FancyBboxPatch,
    Polygon,
    Rectangle,
)

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "images"
sys.path.insert(0, str(ROOT))
from gpt_course.language import cjk_font, get_language, speaking, tr  # noqa: E402

plt.rcParams.update({
    "svg.hashsalt": "gpt-course",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.monospace": ["DejaVu Sans Mono"],
    "font.size": 11,
    "axes.unicode_minus": True,
    "path.simplify": True,
})

# One colour per kind of part, the same in every figure.
FILL = {
    "data": "#FFFFFF",   # tensors / token ids
    "emb": "#D6E9F8",    # embeddings
    "norm": "#FFF1B8",   # LayerNorm
    "attn": "#FBD9B9",   # attention
    "ff": "#D4EFD0",     # feed forward / GELU
    "drop": "#E8E8E8",   # dropout
    "out": "#E4D7F5",    # output head / logits
    "block": "#F3F6FB",  # transformer block background
    "add": "#FDE2E2",    # the + of a shortcut
    "gen": "#D9F2F2",    # generation steps
}
EDGE = {
    "data": "#555555",
    "emb": "#2C6FAC",
    "norm": "#B8930B",
    "attn": "#C8651B",
    "ff": "#3A8A34",
    "drop": "#808080",
    "out": "#7048A8",
    "block": "#7A8BA6",
    "add": "#C0392B",
    "gen": "#2A8C8C",
}
INK = "#222222"
MUTED = "#666666"
ARROW = "#444444"
GRAD = "#C0392B"     # gradients / shortcuts
TAG = "#2F4F6F"      # notebook tags
MASK = "#C9C9C9"


# --------------------------------------------------------------------------- helpers
def canvas(width, height, scale=0.7):
    """A figure whose single axes spans it, in data units 0..width x 0..height."""
    fig = plt.figure(figsize=(width * scale, height * scale))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def box(ax, x, y, w, h, lines, kind="data", fontsize=11, ls=None, dashed=False,
        lw=1.4, zorder=3, rounding=0.12):
    """A rounded box centred on (x, y); `lines` is a string or a list of strings
    (the first one bold when there are several) or (text, dict-of-text-kwargs) pairs."""
    patch = FancyBboxPatch(
        (x - w / 2, y - h / 2), w, h,
        boxstyle=f"round,pad=0,rounding_size={rounding}",
        fc=FILL[kind], ec=EDGE[kind], lw=lw, zorder=zorder,
        ls="--" if dashed else "-",
    )
    ax.add_patch(patch)
    if isinstance(lines, str):
        lines = [lines]
    n = len(lines)
    if ls is None:
        ls = fontsize * 0.0205 * 1.25  # about 1.25 line heights, in data units at scale 0.7
    for i, item in enumerate(lines):
        if isinstance(item, tuple):
            text, kw = item
        else:
            text = item
            kw = {"weight": "bold"} if (i == 0 and n > 1) else {}
        kw = {"fontsize": fontsize if i == 0 else fontsize - 1.5, "color": INK, **kw}
        ax.text(x, y + (n - 1) / 2 * ls - i * ls, text, ha="center", va="center",
                zorder=zorder + 1, **kw)
    return patch


def arrow(ax, start, end, color=ARROW, lw=1.5, style="-|>", ms=13, conn=None,
          zorder=2, ls="-", shrink=0):
    a = FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=ms, color=color,
                        lw=lw, zorder=zorder, linestyle=ls, shrinkA=shrink,
                        shrinkB=shrink, connectionstyle=conn or "arc3,rad=0",
                        capstyle="butt", joinstyle="miter")
    ax.add_patch(a)
    return a


def line(ax, xs, ys, color=ARROW, lw=1.5, zorder=2, ls="-"):
    ax.plot(xs, ys, color=color, lw=lw, zorder=zorder, ls=ls, solid_capstyle="butt",
            solid_joinstyle="miter")


def plus(ax, x, y, r=0.2, zorder=4):
    ax.add_patch(Circle((x, y), r, fc=FILL["add"], ec=EDGE["add"], lw=1.4, zorder=zorder))
    ax.text(x, y, "+", ha="center", va="center", fontsize=13, weight="bold",
            color=EDGE["add"], zorder=zorder + 1)


def tag(ax, x, y, number, r=0.22, fontsize=8.5):
    """A notebook tag: a dark disc with the notebook number."""
    ax.add_patch(Circle((x, y), r, fc=TAG, ec="none", zorder=6))
    ax.text(x, y, f"{number:02d}", ha="center", va="center", fontsize=fontsize,
            color="white", weight="bold", zorder=7)


def save(fig, name, png_dir=None):
    folder = IMAGES / "zh" if get_language() == "zh" else IMAGES
    path = folder / f"{name}.svg"
    fig.savefig(path, format="svg", metadata={
        "Date": None, "Creator": "gpt-course scripts/draw_figures.py"})
    if get_language() == "zh":  # viewers lack the course's font: name the full fonts it was cut from
        svg = path.read_text(encoding="utf-8")
        path.write_text(svg.replace(f"'{COURSE_CJK_FAMILY}'", VIEWER_CJK_FAMILIES), encoding="utf-8")
    if png_dir is not None:
        fig.savefig(Path(png_dir) / f"{name}.png", format="png", dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- figures
def gpt_architecture():
    up = 1.25  # what the block's two shortcut-dropout boxes push upwards
    W, H = 14.2, 15.6 + up
    fig, ax = canvas(W, H, scale=0.62)
    cx = 5.9
    ax.text(W / 2, H - 0.45, tr("The GPT model (GPT-2 small, 124M): data flows bottom to top"),
            ha="center", va="center", fontsize=14, weight="bold", color=INK)

    def shape_label(y, text):
        ax.text(cx - 0.15, y, text, ha="right", va="center", fontsize=8.5,
                color=MUTED, style="italic")

    # token ids
    y_ids = 1.0
    box(ax, cx, y_ids, 6.8, 1.0, [
        tr("Token IDs [batch, seq_len]"),
        ("\"Every effort moves you\" \u2192 [6109, 3626, 6100, 345]", {"fontsize": 9.5}),
    ], kind="data")
    tag(ax, cx + 3.75, y_ids, 1)

    # embeddings
    y_emb = 2.85
    xt, xp = cx - 1.85, cx + 1.85
    box(ax, xt, y_emb, 3.4, 1.0, [tr("Token embedding"), "50257 \u00d7 768"], kind="emb")
    box(ax, xp, y_emb, 3.4, 1.0, [tr("Positional embedding"), "1024 \u00d7 768"], kind="emb")
    tag(ax, xp + 1.95, y_emb, 1)
    arrow(ax, (xt, y_ids + 0.5), (xt, y_emb - 0.5))
    arrow(ax, (xp, y_ids + 0.5), (xp, y_emb - 0.5))
    ax.text(xt + 0.1, (y_ids + y_emb) / 2, tr("ids"), ha="left", va="center", fontsize=8.5,
            color=MUTED, style="italic")
    ax.text(xp + 0.1, (y_ids + y_emb) / 2, tr("positions 0, 1, 2, \u2026"), ha="left",
            va="center", fontsize=8.5, color=MUTED, style="italic")

    y_add = 4.05
    plus(ax, cx, y_add)
    arrow(ax, (xt, y_emb - 0.5 + 1.0), (cx - 0.2, y_add), conn="angle,angleA=90,angleB=180,rad=0")
    arrow(ax, (xp, y_emb + 0.5), (cx + 0.2, y_add), conn="angle,angleA=90,angleB=0,rad=0")

    y_drop = 5.0
    box(ax, cx, y_drop, 3.4, 0.6, ["Dropout (drop_rate 0.1)"], kind="drop", fontsize=10.5)
    tag(ax, cx + 1.95, y_drop, 1)
    arrow(ax, (cx, y_add + 0.2), (cx, y_drop - 0.3))
    shape_label((y_add + y_drop) / 2 - 0.05, "[batch, seq_len, 768]")

    # transformer block (drawn as a stack of 12)
    b_lo, b_hi = 5.95, 11.0 + up
    bw = 6.0
    for k in (2, 1):
        d = 0.14 * k
        ax.add_patch(FancyBboxPatch((cx - bw / 2 + d, b_lo + d), bw, b_hi - b_lo,
                                    boxstyle="round,pad=0,rounding_size=0.15",
                                    fc=FILL["block"], ec=EDGE["block"], lw=1.0, zorder=1))
    ax.add_patch(FancyBboxPatch((cx - bw / 2, b_lo), bw, b_hi - b_lo,
                                boxstyle="round,pad=0,rounding_size=0.15",
                                fc=FILL["block"], ec=EDGE["block"], lw=1.6, zorder=1.5))
    arrow(ax, (cx, y_drop + 0.3), (cx, b_lo + 0.32))
    ax.text(cx - bw / 2 + 0.2, b_hi - 0.3, tr("Transformer block"), ha="left", va="center",
            fontsize=12, weight="bold", color=INK, zorder=3)
    tag(ax, cx + bw / 2 - 0.35, b_hi - 0.3, 6)
    ax.text(cx + bw / 2 + 0.55, (b_lo + b_hi) / 2 + 0.3, "\u00d7 12", ha="left",
            va="center", fontsize=20, weight="bold", color=EDGE["block"])
    ax.text(cx + bw / 2 + 0.55, (b_lo + b_hi) / 2 - 0.4, tr("n_layers = 12\nblocks stacked"),
            ha="left", va="center", fontsize=9, color=MUTED)

    y_in = b_lo + 0.32
    y_ln1, y_att, y_d1, y_p1 = 6.75, 7.55, 8.28, 8.85
    y_ln2, y_ff, y_d2, y_p2 = 9.5, 10.3, 11.03, 11.6
    sw = 4.3
    box(ax, cx, y_ln1, 2.6, 0.5, "LayerNorm 1", kind="norm", fontsize=10)
    tag(ax, cx + 1.55, y_ln1, 2, r=0.19, fontsize=7.5)
    box(ax, cx, y_att, sw, 0.62, [tr("Masked multi-head attention"),
                                  (tr("12 heads, causal mask"), {"fontsize": 8.5})],
        kind="attn", fontsize=10, ls=0.24)
    tag(ax, cx + sw / 2 + 0.3, y_att, 6, r=0.19, fontsize=7.5)
    # The shortcut dropout (drop_shortcut): on each sub-layer's output, before the +.
    box(ax, cx, y_d1, 2.0, 0.36, "Dropout", kind="drop", fontsize=9)
    plus(ax, cx, y_p1, r=0.17)
    box(ax, cx, y_ln2, 2.6, 0.5, "LayerNorm 2", kind="norm", fontsize=10)
    tag(ax, cx + 1.55, y_ln2, 2, r=0.19, fontsize=7.5)
    box(ax, cx, y_ff, sw, 0.62, [tr("Feed forward 768\u21923072\u2192768"),
                                 (tr("GELU inside"), {"fontsize": 8.5})],
        kind="ff", fontsize=10, ls=0.24)
    tag(ax, cx + sw / 2 + 0.3, y_ff + 0.12, 4, r=0.19, fontsize=7.5)
    tag(ax, cx + sw / 2 + 0.3 + 0.42, y_ff + 0.12, 3, r=0.19, fontsize=7.5)
    box(ax, cx, y_d2, 2.0, 0.36, "Dropout", kind="drop", fontsize=9)
    plus(ax, cx, y_p2, r=0.17)
    for a, b in [(y_in, y_ln1 - 0.25), (y_ln1 + 0.25, y_att - 0.31), (y_att + 0.31, y_d1 - 0.18),
                 (y_d1 + 0.18, y_p1 - 0.17), (y_p1 + 0.17, y_ln2 - 0.25),
                 (y_ln2 + 0.25, y_ff - 0.31), (y_ff + 0.31, y_d2 - 0.18),
                 (y_d2 + 0.18, y_p2 - 0.17)]:
        arrow(ax, (cx, a), (cx, b), lw=1.2, ms=10)
    # shortcuts inside the block
    xs = cx - bw / 2 + 0.45
    y_s1 = y_in + 0.12
    line(ax, [cx, xs, xs], [y_s1, y_s1, y_p1], color=GRAD, lw=1.3)
    arrow(ax, (xs, y_p1), (cx - 0.17, y_p1), color=GRAD, lw=1.3, ms=10)
    y_s2 = y_p1 + 0.3
    line(ax, [cx, xs + 0.25, xs + 0.25], [y_s2, y_s2, y_p2], color=GRAD, lw=1.3)
    arrow(ax, (xs + 0.25, y_p2), (cx - 0.17, y_p2), color=GRAD, lw=1.3, ms=10)
    ax.text(xs - 0.12, (y_s1 + y_p1) / 2, tr("shortcut"), rotation=90, ha="right", va="center",
            fontsize=8, color=GRAD)
    tag(ax, cx + 0.45, y_p1, 5, r=0.19, fontsize=7.5)
    tag(ax, cx + 0.45, y_p2, 5, r=0.19, fontsize=7.5)

    y_fn = 11.85 + up
    arrow(ax, (cx, y_p2 + 0.17), (cx, y_fn - 0.3))
    box(ax, cx, y_fn, 3.4, 0.6, tr("Final LayerNorm"), kind="norm", fontsize=10.5)
    tag(ax, cx + 1.95, y_fn, 2)

    y_head = 12.95 + up
    arrow(ax, (cx, y_fn + 0.3), (cx, y_head - 0.35))
    shape_label((y_fn + y_head) / 2 - 0.02, "[batch, seq_len, 768]")
    box(ax, cx, y_head, 4.6, 0.7, [tr("Linear output head"), (tr("768 \u2192 50257, no bias"), {})],
        kind="out", fontsize=10.5, ls=0.27)
    tag(ax, cx + 2.55, y_head, 7)

    y_log = 14.1 + up
    arrow(ax, (cx, y_head + 0.35), (cx, y_log - 0.35))
    box(ax, cx, y_log, 6.2, 0.7, ["Logits [batch, seq_len, 50257]",
                                  (tr("one score per vocabulary token per position"), {})],
        kind="out", fontsize=10.5, ls=0.27)
    tag(ax, cx + 3.35, y_log, 7)

    # next token (generation)
    xg = cx + 5.45
    arrow(ax, (cx + 3.6, y_log + 0.1), (xg - 1.25, y_log + 0.1), ls="--", lw=1.2)
    box(ax, xg, y_log + 0.1, 2.4, 0.8, [tr("next token"), ("softmax, argmax", {})],
        kind="gen", fontsize=10, dashed=True, ls=0.27)
    tag(ax, xg + 1.45, y_log + 0.1, 8)

    # GPT-2 small configuration
    xc, yc = 12.25, 3.6
    box(ax, xc, yc, 3.6, 3.5, "", kind="data", lw=1.0)
    ax.text(xc, yc + 1.33, "GPT_CONFIG_124M", ha="center", va="center", fontsize=10.5,
            weight="bold", color=INK, zorder=5)
    config = [("vocab_size", "50257"), ("context_length", "1024"), ("emb_dim", "768"),
              ("n_heads", "12"), ("n_layers", "12"), ("drop_rate", "0.1"),
              ("qkv_bias", "False")]
    for i, (key, value) in enumerate(config):
        yy = yc + 0.9 - i * 0.38
        ax.text(xc - 1.5, yy, key, ha="left", va="center", fontsize=9, family="monospace",
                color=INK, zorder=5)
        ax.text(xc + 1.5, yy, value, ha="right", va="center", fontsize=9, family="monospace",
                color=INK, zorder=5)
    tag(ax, xc - 1.55, yc + 1.72, 0, r=0.2, fontsize=7.5)

    # legend of tags and the model bracket
    line(ax, [0.55, 0.35, 0.35, 0.55], [1.6, 1.6, 14.45 + up, 14.45 + up], color=TAG, lw=1.2)
    ax.text(0.2, 8.0 + up / 2,
            tr("GPTModel (notebook 07); its skeleton DummyGPTModel: notebook 01"), rotation=90,
            ha="right", va="center", fontsize=9, color=TAG)
    ax.add_patch(Circle((10.75, 0.75), 0.2, fc=TAG, ec="none", zorder=6))
    ax.text(10.75, 0.75, "nn", ha="center", va="center", fontsize=7.5, color="white",
            weight="bold", zorder=7)
    ax.text(11.05, 0.75, tr("= the notebook that\nteaches this part"), ha="left", va="center",
            fontsize=9, color=TAG)
    return fig


def layer_norm():
    W, H = 15.0, 10.2
    fig, ax = canvas(W, H, scale=0.7)
    ax.text(W / 2, H - 0.4, tr("Layer normalization: one token's features \u2192 mean 0, "
                                "variance 1, then scale \u03b3 and shift \u03b2"),
            ha="center", va="center", fontsize=13.5, weight="bold", color=INK)

    x = np.array([2.0, -1.0, 0.5, 3.0, -0.5, 1.0])
    mu, var = x.mean(), x.var()
    xhat = (x - mu) / np.sqrt(var + 1e-5)
    gamma, beta = 1.5, 0.5
    y = gamma * xhat + beta
    panels = [
        (0.9, x, tr("input x (one token, 6 features)"),
         tr("mean {mean:.2f}, var {var:.2f}", mean=mu, var=var), "#9DB9D9"),
        (5.9, xhat, "x\u0302 = (x \u2212 \u03bc) / \u221a(\u03c3\u00b2 + \u03b5)",
         tr("mean {mean:.2f}, var {var:.2f}", mean=abs(xhat.mean()), var=xhat.var()),
         FILL["norm"]),
        (10.9, y, tr("y = \u03b3 \u00b7 x\u0302 + \u03b2 (here \u03b3 = 1.5, \u03b2 = 0.5)"),
         tr("mean {mean:.2f}, var {var:.2f}", mean=y.mean(), var=y.var()), "#B9DDB3"),
    ]
    pw, ph, py = 3.3, 3.0, 5.55
    for px, vals, title, stats, color in panels:
        iax = ax.inset_axes([px, py, pw, ph], transform=ax.transData)
        iax.bar(np.arange(6), vals, color=color, edgecolor="#555555", lw=0.8, width=0.7)
        iax.axhline(0, color="#555555", lw=0.8)
        iax.axhline(vals.mean(), color=GRAD, lw=1.2, ls="--")
        iax.set_ylim(-2.2, 3.4)
        iax.set_xlim(-0.6, 5.6)
        iax.set_xticks(range(6))
        iax.set_xticklabels([f"f{i + 1}" for i in range(6)], fontsize=8)
        iax.set_yticks([-2, -1, 0, 1, 2, 3])
        iax.tick_params(axis="y", labelsize=8)
        for s in ("top", "right"):
            iax.spines[s].set_visible(False)
        ax.text(px + pw / 2, py + ph + 0.35, title, ha="center", va="center", fontsize=10.5,
                color=INK)
        ax.text(px + pw / 2, py - 0.75, stats, ha="center", va="center", fontsize=9.5,
                color=GRAD)
    for x0, label in [(4.85, "\u2212 \u03bc\n\u00f7 \u221a(\u03c3\u00b2+\u03b5)"),
                      (9.85, "\u00d7 \u03b3\n+ \u03b2")]:
        arrow(ax, (x0 - 0.4, py + 1.3), (x0 + 0.4, py + 1.3), lw=1.8)
        ax.text(x0, py + 1.85, label, ha="center", va="center", fontsize=9,
                color=INK)
    ax.text(W / 2, 4.25, tr("\u03b3 (scale) and \u03b2 (shift) are learned, one per feature, "
                             "starting at 1 and 0. Dashed red line: the mean. \u03b5 = 1e-5 "
                             "avoids division by zero."),
            ha="center", va="center", fontsize=9, color=MUTED)

    # LayerNorm vs BatchNorm grids
    rows, cols, c = 4, 6, 0.55
    for gx, title, axis, note in [
        (1.3, tr("LayerNorm: across the features of each row"),
         "row", tr("mean and variance per row\n(one token): works with\nbatch size 1, the same "
                   "in\ntraining and inference")),
        (8.8, tr("BatchNorm: across the batch for each feature"),
         "col", tr("mean and variance per\ncolumn (one feature) over\nthe batch: depends on "
                   "the\nother samples")),
    ]:
        gy = 0.75
        ax.text(gx + 2.9, 3.6, title, ha="center", va="center", fontsize=11,
                weight="bold", color=INK)
        for r in range(rows):
            for k in range(cols):
                hl = (axis == "row" and r == 1) or (axis == "col" and k == 2)
                ax.add_patch(Rectangle((gx + k * c, gy + (rows - 1 - r) * c), c, c,
                                       fc=FILL["norm"] if hl else "#F7F7F7",
                                       ec="#888888", lw=0.8, zorder=2))
        if axis == "row":
            yy = gy + (rows - 2) * c
            ax.add_patch(Rectangle((gx, yy), cols * c, c, fc="none", ec=EDGE["norm"], lw=2.4,
                                   zorder=3))
            arrow(ax, (gx + 0.1, yy + c / 2), (gx + cols * c - 0.1, yy + c / 2),
                  color=GRAD, lw=1.6, style="<|-|>", ms=10, zorder=4)
        else:
            xx = gx + 2 * c
            ax.add_patch(Rectangle((xx, gy), c, rows * c, fc="none", ec=EDGE["norm"], lw=2.4,
                                   zorder=3))
            arrow(ax, (xx + c / 2, gy + 0.1), (xx + c / 2, gy + rows * c - 0.1),
                  color=GRAD, lw=1.6, style="<|-|>", ms=10, zorder=4)
        ax.text(gx + cols * c / 2, gy - 0.3, tr("features (emb_dim)"), ha="center", va="center",
                fontsize=9, color=MUTED)
        ax.text(gx - 0.25, gy + rows * c / 2, tr("batch"), ha="right", va="center", fontsize=9,
                color=MUTED, rotation=90)
        ax.text(gx + cols * c + 0.3, gy + rows * c / 2, note, ha="left", va="center",
                fontsize=9, color=INK, linespacing=1.35)
    return fig


def gelu_relu():
    x = np.linspace(-3, 3, 301)
    relu = np.maximum(0, x)
    gelu = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    erf = np.vectorize(math.erf)
    gelu_exact = x * 0.5 * (1 + erf(x / math.sqrt(2)))

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.4), sharey=True)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.84, bottom=0.14, wspace=0.08)
    for a in axes:
        a.axhline(0, color="#999999", lw=0.8)
        a.axvline(0, color="#999999", lw=0.8)
        a.set_xlim(-3, 3)
        a.set_ylim(-0.6, 3.1)
        a.set_xlabel("x")
        a.grid(True, color="#EEEEEE", lw=0.8)
        for s in ("top", "right"):
            a.spines[s].set_visible(False)
    a0, a1 = axes
    a0.plot(x, relu, color=EDGE["emb"], lw=2.4)
    a0.set_title("ReLU(x) = max(0, x)", fontsize=12)
    a0.set_ylabel(tr("activation"))
    a0.annotate(tr("exactly 0 for x < 0:\nno gradient flows there"), xy=(-1.6, 0),
                xytext=(-2.85, 1.1), fontsize=9.5, color=INK,
                arrowprops=dict(arrowstyle="-|>", color=ARROW, lw=1.2))
    a0.annotate(tr("sharp corner at x = 0"), xy=(0, 0), xytext=(0.45, -0.42), fontsize=9.5,
                color=INK, arrowprops=dict(arrowstyle="-|>", color=ARROW, lw=1.2))

    a1.plot(x, relu, color=EDGE["emb"], lw=1.3, ls="--", label=tr("ReLU (for comparison)"))
    a1.plot(x, gelu, color=EDGE["ff"], lw=2.4, label=tr("GELU (tanh approximation, GPT-2)"))
    a1.set_title("GELU(x) = x \u00b7 \u03a6(x)", fontsize=12)
    # (Where GELU dips lowest and its slope at a given x are notebook 03's
    # exercises: the figure leaves them for the learner to find.)
    x_note = -1.15
    g_note = 0.5 * x_note * (1 + math.tanh(math.sqrt(2 / math.pi) * (x_note + 0.044715 * x_note ** 3)))
    a1.annotate(tr("smooth and slightly\nnegative for x < 0:\nsmall, non-zero gradients\n"
                   "keep learning going"),
                xy=(x_note, g_note), xytext=(-2.95, 0.7), fontsize=9.5, color=INK,
                arrowprops=dict(arrowstyle="-|>", color=ARROW, lw=1.2))
    a1.legend(loc="upper left", fontsize=9, frameon=False)
    fig.suptitle(tr("ReLU vs GELU: GELU has no corner and lets small negative values through"),
                 fontsize=13, weight="bold", color=INK)
    err = np.abs(gelu - gelu_exact).max()
    a1.text(2.95, -0.5,
            tr("max |tanh approximation \u2212 exact| = {err:.1e} on [\u22123, 3]", err=err),
            ha="right", va="center", fontsize=8, color=MUTED)
    return fig


def feed_forward():
    W, H = 16.0, 10.0
    fig, ax = canvas(W, H, scale=0.7)
    ax.text(W / 2, H - 0.4, tr("FeedForward: expand 768 \u2192 3072, GELU, project back to 768"),
            ha="center", va="center", fontsize=14, weight="bold", color=INK)
    yc = 6.35
    unit = 0.95  # height of 768 features
    bw = 0.55

    def vec(xc, dim, color, label, shape):
        h = unit * dim / 768
        ax.add_patch(Rectangle((xc - bw / 2, yc - h / 2), bw, h, fc=color, ec="#555555",
                               lw=1.0, zorder=3))
        n = dim // 256
        for i in range(1, n):
            yy = yc - h / 2 + i * h / n
            line(ax, [xc - bw / 2, xc + bw / 2], [yy, yy], color="#FFFFFF", lw=0.6, zorder=4)
        ax.text(xc, yc + h / 2 + 0.3, label, ha="center", va="center", fontsize=11,
                weight="bold", color=INK)
        ax.text(xc, yc - h / 2 - 0.35, shape, ha="center", va="center", fontsize=8.5,
                color=MUTED)

    def trapezoid(x0, x1, h0, h1, kind, lines):
        ax.add_patch(Polygon([(x0, yc - h0 / 2), (x1, yc - h1 / 2), (x1, yc + h1 / 2),
                              (x0, yc + h0 / 2)], closed=True, fc=FILL[kind], ec=EDGE[kind],
                             lw=1.4, zorder=2))
        for i, (t, kw) in enumerate(lines):
            ax.text((x0 + x1) / 2, yc + 0.35 - i * 0.42, t, ha="center", va="center",
                    zorder=5, **{"color": INK, **kw})

    xs = [1.3, 5.35, 9.15, 13.2]
    vec(xs[0], 768, "#9DB9D9", "768", "[batch, tokens, 768]")
    trapezoid(xs[0] + 0.4, xs[1] - 0.4, unit, 4 * unit, "ff",
              [("Linear", {"fontsize": 11, "weight": "bold"}),
               ("768 \u2192 3072", {"fontsize": 10}),
               (tr("2,362,368 params"), {"fontsize": 8.5, "color": MUTED})])
    vec(xs[1], 3072, "#B9DDB3", "3072", "[batch, tokens, 3072]")
    box(ax, (xs[1] + xs[2]) / 2, yc, 2.2, 2.0, "", kind="ff")
    ax.text((xs[1] + xs[2]) / 2, yc + 0.55, "GELU", ha="center", va="center", fontsize=11,
            weight="bold", color=INK, zorder=5)
    ax.text((xs[1] + xs[2]) / 2, yc + 0.13, tr("element-wise"), ha="center", va="center",
            fontsize=9, color=INK, zorder=5)
    arrow(ax, (xs[1] + 0.32, yc), ((xs[1] + xs[2]) / 2 - 1.12, yc))
    arrow(ax, ((xs[1] + xs[2]) / 2 + 1.12, yc), (xs[2] - 0.32, yc))
    # tiny GELU icon
    t = np.linspace(-2.5, 2.5, 41)
    g = 0.5 * t * (1 + np.tanh(math.sqrt(2 / math.pi) * (t + 0.044715 * t ** 3)))
    gx0 = (xs[1] + xs[2]) / 2
    ax.plot(gx0 + t * 0.22, yc - 0.62 + g * 0.17, color=EDGE["ff"], lw=1.6, zorder=5)
    line(ax, [gx0 - 0.6, gx0 + 0.6], [yc - 0.62, yc - 0.62], color="#999999", lw=0.6,
         zorder=4)
    vec(xs[2], 3072, "#B9DDB3", "3072", "[batch, tokens, 3072]")
    trapezoid(xs[2] + 0.4, xs[3] - 0.4, 4 * unit, unit, "ff",
              [("Linear", {"fontsize": 11, "weight": "bold"}),
               ("3072 \u2192 768", {"fontsize": 10}),
               (tr("2,360,064 params"), {"fontsize": 8.5, "color": MUTED})])
    vec(xs[3], 768, "#9DB9D9", "768", "[batch, tokens, 768]")
    ax.text(14.0, yc, tr("same\nshape\nas the\ninput"), ha="left", va="center", fontsize=9,
            color=MUTED)
    ax.text(W / 2, 3.65, tr("bar heights to scale: the hidden layer is 4 \u00d7 emb_dim wide "
                             "\u2022 total 4,722,432 parameters per block"),
            ha="center", va="center", fontsize=9.5, color=INK)

    # applied to each position independently
    ax.add_patch(FancyBboxPatch((0.4, 0.25), W - 0.8, 2.9,
                                boxstyle="round,pad=0,rounding_size=0.15",
                                fc="#FAFAFA", ec="#BBBBBB", lw=1.0, zorder=0))
    ax.text(0.7, 2.85, tr("Applied to each position on its own, with the same weights:"),
            ha="left", va="center", fontsize=10.5, weight="bold", color=INK)
    ax.text(0.7, 2.05, tr("no information moves between\ntokens here (that is attention's job)"),
            ha="left", va="center", fontsize=9, color=MUTED)
    words = ["Every", "effort", "moves", "you"]
    for i, wd in enumerate(words):
        x0 = 6.9 + i * 2.05
        ax.text(x0, 0.55, wd, ha="center", va="center", fontsize=10, color=INK)
        arrow(ax, (x0, 0.75), (x0, 1.22), lw=1.2, ms=10)
        box(ax, x0, 1.5, 1.7, 0.56, "FeedForward", kind="ff", fontsize=9)
        arrow(ax, (x0, 1.78), (x0, 2.2), lw=1.2, ms=10)
        ax.text(x0, 2.38, "768", ha="center", va="center", fontsize=8.5, color=MUTED)
    line(ax, [6.9 + 0.85, 6.9 + 3 * 2.05 - 0.85], [1.5, 1.5], color=EDGE["ff"], lw=1.0,
         ls=":")
    ax.text(6.9 + 3 * 2.05 + 1.05, 1.5, tr("shared\nweights"), ha="left", va="center", fontsize=9,
            color=EDGE["ff"])
    ax.text(0.7, 0.85, tr("input [batch, 4 tokens, 768]\n\u2192 output [batch, 4 tokens, 768]"),
            ha="left", va="center", fontsize=9, color=INK)
    return fig


def shortcut_connection():
    W, H = 15.0, 13.1
    fig, ax = canvas(W, H, scale=0.62)
    ax.text(W / 2, H - 0.4, tr("Shortcut connections keep the gradient alive in a deep network"),
            ha="center", va="center", fontsize=14, weight="bold", color=INK)
    without = [0.000202, 0.000120, 0.000715, 0.001399, 0.005050]
    with_sc = [0.2217, 0.2069, 0.3290, 0.2666, 1.3259]
    sizes = [(3, 3), (3, 3), (3, 3), (3, 3), (3, 1)]
    ys = [2.3 + 1.6 * i for i in range(5)]
    lh, lw_box = 0.62, 2.7

    def grad_width(g):
        return 0.6 + 1.45 * (math.log10(g) + 4)

    for px, title, sub, sub2, grads, shortcuts in [
        (3.2, tr("Without shortcuts"), "x \u2192 F(x)",
         tr("the gradient shrinks on its way down:\nlayer 1 gets 25\u00d7 less than layer 5"),
         without, False),
        (10.6, tr("With shortcuts"), tr("x \u2192 x + F(x) (where the shapes match)"),
         tr("\u2202(x + F(x))/\u2202x = 1 + \u2202F/\u2202x:\nthe \u201c1\u201d is a direct "
            "path for the gradient"), with_sc, True),
    ]:
        ax.text(px + 0.4, H - 1.15, title, ha="center", va="center", fontsize=12.5,
                weight="bold", color=INK)
        ax.text(px + 0.4, H - 1.6, sub, ha="center", va="center", fontsize=10, color=MUTED)
        ax.text(px + 0.4, H - 2.2, sub2, ha="center", va="center", fontsize=9, color=GRAD)
        box(ax, px, 0.95, 3.2, 0.55, tr("input x = [[1., 0., \u22121.]]"), kind="data",
            fontsize=9.5)
        prev_top = 1.225
        for i, (y, (n_in, n_out), g) in enumerate(zip(ys, sizes, grads)):
            arrow(ax, (px, prev_top), (px, y - lh / 2), lw=1.3, ms=10)
            box(ax, px, y, lw_box, lh, f"Linear {n_in}\u2192{n_out} + GELU", kind="ff",
                fontsize=10)
            top = y + lh / 2
            if shortcuts and n_in == n_out:
                yp = y + 0.62
                xs = px - lw_box / 2 - 0.45
                ys0 = y - lh / 2 - 0.33
                ax.add_patch(Circle((px, ys0), 0.05, color=GRAD, zorder=5))
                line(ax, [px, xs, xs], [ys0, ys0, yp], color=GRAD, lw=1.5)
                arrow(ax, (xs, yp), (px - 0.18, yp), color=GRAD, lw=1.5, ms=10)
                arrow(ax, (px, top), (px, yp - 0.18), lw=1.3, ms=10)
                plus(ax, px, yp, r=0.18)
                top = yp + 0.18
            elif shortcuts:
                ax.text(px - lw_box / 2 - 0.15, y + 0.02,
                        tr("3 \u2192 1:\nshapes differ,\nno shortcut"),
                        ha="right", va="center", fontsize=8.5, color=MUTED)
            prev_top = top
            # gradient arrow (backward), width ~ log of mean |grad|
            gx = px + lw_box / 2 + 0.35
            arrow(ax, (gx, y + 0.32), (gx, y - 0.32), color=GRAD, lw=grad_width(g),
                  ms=8 + grad_width(g) * 1.6)
            ax.text(gx + 0.35, y + 0.12, tr("layer {n}", n=i + 1), ha="left", va="center",
                    fontsize=8.5, color=MUTED)
            ax.text(gx + 0.35, y - 0.18, f"{g:.6f}" if g < 0.01 else f"{g:.4f}", ha="left",
                    va="center", fontsize=9.5, color=GRAD, weight="bold",
                    family="monospace")
        y_out = ys[-1] + 1.2
        arrow(ax, (px, prev_top), (px, y_out - 0.25), lw=1.3, ms=10)
        box(ax, px, y_out, 2.9, 0.5, tr("output \u2192 MSE loss vs 0"), kind="out", fontsize=9.5)
    ax.text(W / 2 + 0.1, 0.25, tr("red arrows: the backward pass; width \u221d log of the mean "
                                   "|gradient| of each layer's weights (the book's values, "
                                   "seed 123)"),
            ha="center", va="center", fontsize=9, color=MUTED)
    line(ax, [7.3, 7.3], [0.6, H - 0.9], color="#DDDDDD", lw=1.0)
    return fig


def transformer_block():
    W, H = 11.0, 14.6
    fig, ax = canvas(W, H, scale=0.66)
    ax.text(W / 2, H - 0.4, tr("The transformer block (pre-LayerNorm, as in GPT-2)"),
            ha="center", va="center", fontsize=14, weight="bold", color=INK)
    cx, bw = 5.0, 4.4
    y_in, y_ln1, y_att, y_d1, y_p1 = 0.75, 2.25, 3.55, 4.8, 5.75
    y_ln2, y_ff, y_d2, y_p2, y_out = 6.85, 8.35, 9.85, 10.8, 12.35
    # block background
    # (wide enough on the right for the formulas at the shortcuts' + signs)
    ax.add_patch(FancyBboxPatch((1.2, 1.45), 8.1, 9.85, boxstyle="round,pad=0,rounding_size=0.2",
                                fc=FILL["block"], ec=EDGE["block"], lw=1.5, ls="--", zorder=0))
    ax.text(9.15, 1.75, "TransformerBlock", ha="right", va="center", fontsize=10,
            style="italic", color=EDGE["block"])

    box(ax, cx, y_in, 4.6, 0.8, [tr("Input"), ("[batch, tokens, 768]", {})], kind="data",
        fontsize=11, ls=0.3)
    box(ax, cx, y_ln1, 3.0, 0.6, "LayerNorm 1", kind="norm")
    box(ax, cx, y_att, bw, 1.0, [tr("Masked multi-head attention"),
                                 (tr("12 heads, causal mask, 768 \u2192 768"), {})],
        kind="attn", ls=0.34)
    box(ax, cx, y_d1, 3.0, 0.55, "Dropout", kind="drop", fontsize=10.5)
    plus(ax, cx, y_p1, r=0.22)
    box(ax, cx, y_ln2, 3.0, 0.6, "LayerNorm 2", kind="norm")
    box(ax, cx, y_ff, bw, 1.2, [tr("Feed forward"),
                                ("Linear 768 \u2192 3072, GELU,", {}),
                                ("Linear 3072 \u2192 768", {})],
        kind="ff", ls=0.31)
    box(ax, cx, y_d2, 3.0, 0.55, "Dropout", kind="drop", fontsize=10.5)
    plus(ax, cx, y_p2, r=0.22)
    box(ax, cx, y_out, 4.6, 0.8, [tr("Output"), ("[batch, tokens, 768]", {})], kind="data",
        fontsize=11, ls=0.3)

    steps = [(y_in + 0.4, y_ln1 - 0.3), (y_ln1 + 0.3, y_att - 0.5), (y_att + 0.5, y_d1 - 0.275),
             (y_d1 + 0.275, y_p1 - 0.22), (y_p1 + 0.22, y_ln2 - 0.3), (y_ln2 + 0.3, y_ff - 0.6),
             (y_ff + 0.6, y_d2 - 0.275), (y_d2 + 0.275, y_p2 - 0.22), (y_p2 + 0.22, y_out - 0.4)]
    for a, b in steps:
        arrow(ax, (cx, a), (cx, b))
    # the two shortcuts
    xs = 2.0
    for y0, y1, name in [(y_in + 0.4 + 0.45, y_p1, tr("shortcut 1")),
                         (y_p1 + 0.22 + 0.35, y_p2, tr("shortcut 2"))]:
        ax.add_patch(Circle((cx, y0), 0.06, color=GRAD, zorder=5))
        line(ax, [cx, xs, xs], [y0, y0, y1], color=GRAD, lw=2.0)
        arrow(ax, (xs, y1), (cx - 0.22, y1), color=GRAD, lw=2.0)
        ax.text(xs - 0.15, (y0 + y1) / 2, name, rotation=90, ha="right", va="center",
                fontsize=9.5, color=GRAD)
    ax.text(cx + 0.35, (y_p1 + 0.22 + y_ln2 - 0.3) / 2 + 0.05, "x = x + Dropout(attention(LN1(x)))",
            ha="left", va="center", fontsize=8.5, color=GRAD, family="monospace")
    ax.text(cx + 0.35, (y_p2 + 0.22 + y_out - 0.4) / 2, "x = x + Dropout(ff(LN2(x)))",
            ha="left", va="center", fontsize=8.5, color=GRAD, family="monospace")

    # notebook tags
    for y, n in [(y_ln1, 2), (y_att, 6), (y_p1, 5), (y_ln2, 2), (y_ff, 4), (y_p2, 5)]:
        tag(ax, 7.85, y, n)
    tag(ax, 7.85 + 0.5, y_ff, 3)
    ax.text(W / 2, 13.55, tr("Every box keeps the shape [batch, tokens, 768], e.g. [2, 4, 768],"
                              "\nso 12 blocks can be stacked. Discs: the notebook that teaches "
                              "each part."),
            ha="center", va="center", fontsize=9.5, color=MUTED)
    return fig


def causal_attention():
    W, H = 17.0, 10.8
    fig, ax = canvas(W, H, scale=0.66)
    ax.text(W / 2, H - 0.4, tr("Causal multi-head attention: each token looks only at itself "
                                "and earlier tokens"),
            ha="center", va="center", fontsize=13.5, weight="bold", color=INK)
    words = ["Every", "effort", "moves", "you"]
    wts = [[1.00], [0.55, 0.45], [0.38, 0.30, 0.32], [0.27, 0.24, 0.23, 0.26]]
    cmap = plt.get_cmap("Blues")
    c = 1.05
    gx, gy = 2.4, 3.0  # lower-left corner of the grid
    n = 4
    ax.text(4.3, H - 1.15, tr("Attention weights of one head (after the mask)"), ha="center",
            va="center", fontsize=11.5, weight="bold", color=INK)
    ax.text(gx + n * c / 2, gy + n * c + 1.05, tr("keys: tokens being looked at"), ha="center",
            va="center", fontsize=9.5, color=MUTED)
    ax.text(gx - 1.5, gy + n * c / 2, tr("queries: the token doing the looking"), rotation=90,
            ha="center", va="center", fontsize=9.5, color=MUTED)
    for i in range(n):
        ax.text(gx - 0.12, gy + (n - 1 - i) * c + c / 2, words[i], ha="right", va="center",
                fontsize=10.5, color=INK)
        ax.text(gx + i * c + c / 2, gy + n * c + 0.3, words[i], ha="center", va="center",
                fontsize=10.5, color=INK)
        for j in range(n):
            x0, y0 = gx + j * c, gy + (n - 1 - i) * c
            if j <= i:
                v = wts[i][j]
                ax.add_patch(Rectangle((x0, y0), c, c, fc=cmap(0.15 + 0.75 * v), ec="white",
                                       lw=1.5, zorder=2))
                ax.text(x0 + c / 2, y0 + c / 2, f"{v:.2f}", ha="center", va="center",
                        fontsize=10.5, color="white" if v > 0.5 else INK, zorder=3)
            else:
                ax.add_patch(Rectangle((x0, y0), c, c, fc="#EEEEEE", ec="white", lw=1.5,
                                       zorder=2, hatch="///", edgecolor=MASK))
                ax.add_patch(Rectangle((x0, y0), c, c, fc="none", ec="white", lw=1.5, zorder=2.5))
                ax.text(x0 + c / 2, y0 + c / 2 + 0.15, "\u2212\u221e", ha="center", va="center",
                        fontsize=9, color=MUTED, zorder=3)
                ax.text(x0 + c / 2, y0 + c / 2 - 0.2, "\u2192 0", ha="center", va="center",
                        fontsize=9, color=MUTED, zorder=3)
        s = sum(wts[i])
        ax.text(gx + n * c + 0.2, gy + (n - 1 - i) * c + c / 2, f"\u03a3 = {s:.2f}", ha="left",
                va="center", fontsize=10, color=GRAD)
    ax.text(gx + n * c + 0.2 + 0.55, gy + n * c + 0.3, tr("row sum"), ha="center", va="center",
            fontsize=9, color=GRAD)
    steps = [(0.5, "1. scores = Q K\u1d40 / \u221ad_k (one score per query-key pair)"),
             (0.5, "2. mask: scores above the diagonal \u2192 \u2212\u221e (the future)"),
             (0.5, "3. softmax along each row: masked weights become 0,"),
             (0.82, "every row sums to 1 (illustrative values)")]
    for i, (x0, text) in enumerate(steps):
        ax.text(x0, 2.0 - i * 0.42, tr(text), ha="left", va="center", fontsize=9.5, color=INK)

    # right: heads split and concatenated (bottom to top)
    rx = 12.5
    line(ax, [8.55, 8.55], [0.4, H - 1.0], color="#DDDDDD", lw=1.0)
    ax.text(rx, H - 1.15, tr("12 heads: split, attend, concatenate"), ha="center", va="center",
            fontsize=11.5, weight="bold", color=INK)
    box(ax, rx, 0.7, 4.0, 0.55, "x [batch, tokens, 768]", kind="data", fontsize=10)
    y_w = 1.8
    box(ax, rx, y_w, 5.6, 0.75, ["W_query, W_key, W_value",
                                 (tr("three Linear 768 \u2192 768 \u2192 Q, K, V"), {})],
        kind="attn", fontsize=10, ls=0.28)
    arrow(ax, (rx, 0.975), (rx, y_w - 0.375))
    seg_colors = ["#F4A261", "#E9C46A", "#2A9D8F", "#8AB17D", "#E76F51", "#9C89B8"] * 2
    bar_w, bar_h = 6.0, 0.42

    def split_bar(y):
        x0 = rx - bar_w / 2
        for k in range(12):
            ax.add_patch(Rectangle((x0 + k * bar_w / 12, y - bar_h / 2), bar_w / 12, bar_h,
                                   fc=seg_colors[k], ec="white", lw=1.0, zorder=3))

    y_split = 3.35
    arrow(ax, (rx, y_w + 0.375), (rx, y_split - bar_h / 2 - 0.02))
    split_bar(y_split)
    ax.text(rx - 0.2, (y_w + 0.375 + y_split - bar_h / 2) / 2,
            tr("split: 768 = 12 heads \u00d7 64 dims\n\u2192 [batch, 12, tokens, 64]"),
            ha="right", va="center", fontsize=8.5, color=MUTED)
    # per-head mini attention grids
    y_g = 4.75
    mini = 0.22
    y_cat = 6.55
    heads = [0, 1, None, 11]  # heads 1, 2, ..., 12
    hx = [rx - 2.4, rx - 0.8, rx + 0.55, rx + 1.9]
    rng = np.random.default_rng(7)
    for k, x_c in zip(heads, hx):
        if k is None:
            ax.text(x_c, y_g + 0.35, "\u2026", ha="center", va="center", fontsize=16,
                    color=MUTED)
            continue
        raw = rng.random((4, 4)) + 0.2
        for i in range(4):
            row = raw[i, : i + 1] / raw[i, : i + 1].sum()
            for j in range(4):
                x0 = x_c - 2 * mini + j * mini
                y0 = y_g + (3 - i) * mini
                fc = cmap(0.15 + 0.75 * row[j]) if j <= i else "#E4E4E4"
                ax.add_patch(Rectangle((x0, y0), mini, mini, fc=fc, ec="white", lw=0.8,
                                       zorder=3))
        ax.add_patch(Rectangle((x_c - 2 * mini, y_g), 4 * mini, 4 * mini, fc="none",
                               ec=seg_colors[k], lw=2.0, zorder=4))
        ax.text(x_c, y_g - 0.22, tr("head {n}", n=k + 1), ha="center", va="center",
                fontsize=8.5, color=INK)
        x_from = rx - bar_w / 2 + (k + 0.5) * bar_w / 12
        arrow(ax, (x_from, y_split + bar_h / 2), (x_c, y_g - 0.4), color=seg_colors[k], lw=1.2,
              ms=9)
        arrow(ax, (x_c, y_g + 4 * mini + 0.02), (x_from, y_cat - bar_h / 2 - 0.02),
              color=seg_colors[k], lw=1.2, ms=9)
    ax.text(rx + 3.15, y_g + 0.45, tr("each head:\ncausal\nattention\non its own\n64 dims"),
            ha="left", va="center", fontsize=8.5, color=MUTED)
    split_bar(y_cat)
    y_proj = 7.75
    arrow(ax, (rx, y_cat + bar_h / 2 + 0.02), (rx, y_proj - 0.3))
    ax.text(rx - 0.2, (y_cat + bar_h / 2 + y_proj - 0.3) / 2,
            tr("concatenate the heads\n\u2192 [batch, tokens, 12 \u00d7 64 = 768]"),
            ha="right", va="center", fontsize=8.5, color=MUTED)
    box(ax, rx, y_proj, 4.6, 0.6, "out_proj: Linear 768 \u2192 768", kind="attn", fontsize=10)
    y_ctx = 8.75
    arrow(ax, (rx, y_proj + 0.3), (rx, y_ctx - 0.275))
    box(ax, rx, y_ctx, 4.6, 0.55, tr("context vectors [batch, tokens, 768]"), kind="data",
        fontsize=9.5)
    return fig


def generation_loop():
    W, H = 16.0, 9.3
    fig, ax = canvas(W, H, scale=0.7)
    ax.text(W / 2, H - 0.4, tr("Greedy generation: predict one token, append it, repeat"),
            ha="center", va="center", fontsize=14, weight="bold", color=INK)
    yt, ym, yb = 7.6, 4.95, 2.3
    xa, xb, xc = 2.7, 7.9, 13.0
    box(ax, xa, yt, 4.6, 1.35, [tr("token ids [1, n]"), ("[15496, 11, 314, 716]", {}),
                               (tr("\"Hello, I am\" (n = 4 at step 1)"), {"color": MUTED})],
        kind="data", ls=0.36)
    box(ax, xb, yt, 3.9, 1.35, [tr("crop to the context"),
                               ("idx[:, -1024:]", {"family": "monospace"}),
                               (tr("keep at most the last 1024"), {"color": MUTED})],
        kind="gen", ls=0.36)
    box(ax, xc, yt, 3.9, 1.35, ["GPTModel", ("logits [1, n, 50257]", {}),
                               ("model.eval(), torch.no_grad()", {"color": MUTED})],
        kind="out", ls=0.36)
    box(ax, xc, ym, 3.9, 1.35, [tr("last position only"),
                               ("logits[:, -1, :]", {"family": "monospace"}),
                               ("\u2192 [1, 50257]", {})], kind="out", ls=0.36)
    box(ax, xc, yb, 3.9, 1.35, ["softmax", (tr("\u2192 probabilities [1, 50257]"), {}),
                               (tr("each \u2265 0, sum 1"), {"color": MUTED})], kind="gen", ls=0.36)
    box(ax, xb, yb, 3.9, 1.35, ["argmax", (tr("\u2192 next id [1, 1]"), {}),
                               ("27018 = \" Feature\"", {"color": GRAD})], kind="gen", ls=0.36)
    box(ax, xa, yb, 4.6, 1.35, [tr("append (torch.cat)"), ("[15496, 11, 314, 716, 27018]", {}),
                               ("\"Hello, I am Feature\"", {"color": MUTED})], kind="data", ls=0.36)
    lw = 2.0
    arrow(ax, (xa + 2.3, yt), (xb - 1.95, yt), lw=lw)
    arrow(ax, (xb + 1.95, yt), (xc - 1.95, yt), lw=lw)
    arrow(ax, (xc, yt - 0.675), (xc, ym + 0.675), lw=lw)
    arrow(ax, (xc, ym - 0.675), (xc, yb + 0.675), lw=lw)
    arrow(ax, (xc - 1.95, yb), (xb + 1.95, yb), lw=lw)
    arrow(ax, (xb - 1.95, yb), (xa + 2.3, yb), lw=lw)
    arrow(ax, (xa, yb + 0.675), (xa, yt - 0.675), lw=2.4, color=EDGE["gen"])
    ax.text(xa - 0.15, ym, tr("repeat\nmax_new_tokens\ntimes (here 6)"), ha="right", va="center",
            fontsize=9.5, color=EDGE["gen"], weight="bold")
    # centre: the cycle symbol and a note
    ax.add_patch(FancyArrowPatch((6.75, 5.35), (9.05, 5.35), connectionstyle="arc3,rad=-0.75",
                                 arrowstyle="-|>", mutation_scale=16, color=EDGE["gen"], lw=2.0))
    ax.add_patch(FancyArrowPatch((9.05, 4.95), (6.75, 4.95), connectionstyle="arc3,rad=-0.75",
                                 arrowstyle="-|>", mutation_scale=16, color=EDGE["gen"], lw=2.0))
    ax.text(7.9, 5.15, tr("one new\ntoken per turn"), ha="center", va="center", fontsize=9.5,
            color=EDGE["gen"])
    ax.text(xb, 3.55, tr("softmax keeps the order, so argmax(probabilities) = argmax(logits);\n"
                         "the probabilities are what sampling will need later"),
            ha="center", va="center", fontsize=8.5, color=MUTED)
    ax.text(W / 2, 0.85, tr("6 steps append 27018 \" Feature\", 24086 \"iman\", 47843 \" Bye\", "
                            "30961 \"swick\", 42348 \"attribute\", 7267 \" argue\""),
            ha="center", va="center", fontsize=9.5, color=INK)
    ax.text(W / 2, 0.35, tr("\u2192 \"Hello, I am Featureiman Byeswickattribute argue\": "
                            "gibberish, because the model is not trained yet (seed 123)"),
            ha="center", va="center",
            fontsize=9.5, color=MUTED)
    return fig


def kv_cache():
    W, H = 17.0, 10.0
    fig, ax = canvas(W, H, scale=0.66)
    ax.text(W / 2, H - 0.4, tr("A KV cache: run only the new token, reuse the keys and values "
                                "of the past"),
            ha="center", va="center", fontsize=13.5, weight="bold", color=INK)
    words = ["Hello", ",", " I", " am", " Feat.", "iman", " Bye"]  # in the cells
    predicted = ["' Feature'", "'iman'", "' Bye'", "..."]  # ids 27018, 24086, 47843
    c, ch = 0.9, 0.62  # cell width, height
    n_prompt, steps = 4, 4
    computed = (FILL["attn"], EDGE["attn"])
    cached = (FILL["emb"], EDGE["emb"])

    def panel(x0, title, subtitle, use_cache):
        ax.text(x0 + 3.4, H - 1.15, title, ha="center", va="center", fontsize=11.5,
                weight="bold", color=INK)
        ax.text(x0 + 3.4, H - 1.6, subtitle, ha="center", va="center", fontsize=9,
                color=MUTED)
        top = H - 2.5
        total = 0
        for s in range(steps):
            y = top - s * (ch + 0.32)
            n = n_prompt + s
            ax.text(x0 - 0.15, y, tr("step {n}", n=s + 1), ha="right", va="center", fontsize=9.5,
                    color=INK)
            run = n if (not use_cache or s == 0) else 1
            total += run
            for j in range(n):
                fc, ec = computed if j >= n - run else cached
                ax.add_patch(FancyBboxPatch((x0 + j * c + 0.04, y - ch / 2), c - 0.08, ch,
                                            boxstyle="round,pad=0,rounding_size=0.08",
                                            fc=fc, ec=ec, lw=1.2, zorder=3))
                ax.text(x0 + j * c + c / 2, y, words[j], ha="center", va="center",
                        fontsize=8, color=INK, zorder=4)
            # the token this step predicts
            ax.add_patch(FancyArrowPatch((x0 + n * c + 0.05, y), (x0 + n * c + 0.55, y),
                                         arrowstyle="-|>", mutation_scale=10, color=ARROW,
                                         lw=1.2, zorder=2))
            ax.text(x0 + n * c + 0.62, y, predicted[s],
                    ha="left", va="center", fontsize=8, color=GRAD)
        y_sum = top - steps * (ch + 0.32) + 0.05
        terms = " + ".join(str(n_prompt + s if (not use_cache or s == 0) else 1)
                           for s in range(steps))
        ax.text(x0 + 3.4, y_sum,
                tr("{terms} = {total} positions through the model", terms=terms, total=total),
                ha="center", va="center", fontsize=9.5, color=INK)
        return y_sum

    y_sum = panel(1.3, tr("Without a cache: the book's generate_text_simple"),
                  tr("every step runs the whole sequence again"), False)
    panel(9.7, tr("With a KV cache: generate(..., use_cache=True)"),
          tr("step 1 fills the cache, then one new position per step"), True)
    line(ax, [8.55, 8.55], [y_sum - 0.3, H - 0.95], color="#DDDDDD", lw=1.0)

    # legend
    y_leg = y_sum - 0.65
    for x_l, (fc, ec), text in ((3.2, computed, tr("computed in this step")),
                                (8.3, cached, tr("keys and values read from the cache"))):
        ax.add_patch(FancyBboxPatch((x_l, y_leg - 0.18), 0.5, 0.36,
                                    boxstyle="round,pad=0,rounding_size=0.06", fc=fc, ec=ec,
                                    lw=1.2, zorder=3))
        ax.text(x_l + 0.65, y_leg, text, ha="left", va="center", fontsize=9.5, color=INK)

    # bottom: one cached attention step
    yb = 1.45
    box(ax, 2.3, yb, 3.2, 1.05, [tr("new token only"), (tr("x of ' Bye' [1, 1, 768]"), {})],
        kind="data", fontsize=10, ls=0.32)
    box(ax, 5.9, yb, 2.6, 1.05, ["W_query/key/value", ("\u2192 q, k, v", {})],
        kind="attn", fontsize=10, ls=0.32)
    arrow(ax, (3.9, yb), (4.6, yb))
    # cache strip
    xs, cw = 8.35, 0.55
    for j in range(7):
        fc, ec = cached if j < 6 else computed
        for row, (label, yy) in enumerate((("K", yb + 0.3), ("V", yb - 0.3))):
            ax.add_patch(Rectangle((xs + j * cw, yy - 0.22), cw, 0.44, fc=fc, ec=ec, lw=1.0,
                                   zorder=3))
            ax.text(xs + j * cw + cw / 2, yy, f"{label.lower()}{j + 1}", ha="center",
                    va="center", fontsize=7.5, color=INK, zorder=4)
    ax.text(xs + 3.5 * cw, yb + 0.8, tr("cache: keys and values of every layer, positions 1..7"),
            ha="center", va="center", fontsize=8.5, color=MUTED)
    arrow(ax, (7.2, yb), (xs - 0.05, yb), color=EDGE["attn"])
    ax.text((7.2 + xs) / 2, yb - 0.75, tr("store k7, v7;\nq7 goes on"), ha="center",
            va="center", fontsize=8.5, color=EDGE["attn"])
    box(ax, 14.6, yb, 3.6, 1.05, [tr("attention of q7 only"),
                                  ("softmax(q7 K\u1d40/\u221ad) V", {})],
        kind="attn", fontsize=10, ls=0.32)
    arrow(ax, (xs + 7 * cw + 0.05, yb), (12.75, yb))
    ax.text(W / 2, 0.25, tr("Causal mask: earlier positions never see later ones, so their "
                            "keys and values never change; only the newest query is needed for "
                            "the next token."),
            ha="center", va="center", fontsize=9, color=MUTED)
    return fig


FIGURES = {
    "gpt_architecture": gpt_architecture,
    "layer_norm": layer_norm,
    "gelu_relu": gelu_relu,
    "feed_forward": feed_forward,
    "shortcut_connection": shortcut_connection,
    "transformer_block": transformer_block,
    "causal_attention": causal_attention,
    "generation_loop": generation_loop,
    "kv_cache": kv_cache,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*",
                        help=f"figures to draw (default: all of {list(FIGURES)})")
    parser.add_argument("--png", metavar="DIR", help="also write PNG previews into DIR")
    parser.add_argument("--lang", choices=["en", "zh"], default="en",
                        help="zh: Chinese labels, into images/zh/ (default: en, images/)")
    args = parser.parse_args()
    names = args.names or list(FIGURES)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        parser.error(f"unknown figure(s) {unknown}; choose from {list(FIGURES)}")
    (IMAGES / "zh" if args.lang == "zh" else IMAGES).mkdir(exist_ok=True)
    if args.png:
        Path(args.png).mkdir(parents=True, exist_ok=True)
    with drawing_in(args.lang):
        for name in names:
            path = save(FIGURES[name](), name, args.png)
            print(f"{path.relative_to(ROOT)}  {path.stat().st_size / 1024:.1f} KB")


# The course's Chinese font is a subset of Noto Sans CJK SC (same glyphs, same
# metrics); an SVG's viewer draws its text with its own fonts, so the SVG names
# the full font, its Adobe twin, then the usual Chinese system fonts.
COURSE_CJK_FAMILY = "GPT Course CJK SC"
VIEWER_CJK_FAMILIES = "'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei'"


@contextlib.contextmanager
def drawing_in(code):
    """Draw in language `code`: for "zh", the labels through `tr` in Chinese and
    a font list that falls back, glyph by glyph, from DejaVu Sans to a Chinese
    font (matplotlib has no bold Chinese here, so bold Chinese stays regular)."""
    if code == "en":
        yield
        return
    path = cjk_font()
    if path is None:
        sys.exit("No font with Chinese glyphs found: gpt_course/fonts/ is missing "
                 "(see gpt_course.language.cjk_font)")
    matplotlib.font_manager.fontManager.addfont(path)
    family = matplotlib.font_manager.FontProperties(fname=path).get_name()
    # "Failed to find font weight bold for <the Chinese font>, now using 400", at every bold label
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    # After speaking(code), which sets a font list of its own. The generic sans-serif only ends
    # the SVG's font-family list, for viewers that have neither font.
    with speaking(code), plt.rc_context({"font.family": ["DejaVu Sans", family, "sans-serif"]}):
        yield


if __name__ == "__main__":
    main()
