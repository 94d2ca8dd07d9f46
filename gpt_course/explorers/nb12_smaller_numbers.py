"""Notebook 12: one precision at a time (float32, bfloat16, int8), what it
saves and what it costs, all side by side.

Everything shown is measured earlier in the notebook and handed in: the bytes
one decoding step reads, the tokens/s measured and the bound the memory
bandwidth sets, and the quality against float32 (`compare_quality`) on the
trained model. Moving the slider only moves the highlight and the readout;
nothing runs a model on an update.
"""

import math
from numbers import Real

import ipywidgets as widgets

from ..beyond.nb12_smaller_numbers import PRECISIONS, Quality
from ..checks import check_real
from ..language import tr
from .base import Explorer, control_layout, control_style, fixed_subplots

SHOWN = "#4C72B0"
OTHER = "#C8C8C8"
BOUND = "#c44e52"


def _per_precision(name, values):
    """`values` as {precision: value} with exactly the three precisions."""
    if not isinstance(values, dict) or set(values) != set(PRECISIONS):
        raise ValueError(f"{name} must be a dict with a number for each of {list(PRECISIONS)}, "
                         f"got {values!r:.200}")
    return values


def precision_explorer(bytes_per_token, tokens_per_s, bandwidth, quality, *, precision="int8"):
    """A precision slider over measured numbers:

    bytes_per_token: {precision: bytes one decoding step reads}
        (`weight_bytes_per_token` of each model);
    tokens_per_s: {precision: tokens/s measured} (e.g. with `generate`);
    bandwidth: the memory read bandwidth measured, in bytes/s;
    quality: {"bf16": Quality, "int8": Quality}, each from
        `compare_quality(float32_model, that_model, ids)` (float32 is the reference);
        notebook 12 hands in the trained model's, while the speeds are the 124M model's.

    Each precision's bound is bandwidth / its bytes per token."""
    _per_precision("bytes_per_token", bytes_per_token)
    _per_precision("tokens_per_s", tokens_per_s)
    for values, name in ((bytes_per_token, "bytes_per_token"), (tokens_per_s, "tokens_per_s")):
        for key, value in values.items():
            check_real(f"{name}[{key!r}]", value, low=0, low_open=True)
    check_real("bandwidth", bandwidth, low=0, low_open=True)
    smaller = [p for p in PRECISIONS if p != "float32"]
    if not isinstance(quality, dict) or set(quality) != set(smaller):
        raise ValueError(f"quality must be a dict with a Quality (from compare_quality against "
                         f"float32) for each of {smaller}, got {quality!r:.200}")
    for key, value in quality.items():
        if not isinstance(value, Quality):
            raise TypeError(f"quality[{key!r}] must be the Quality that compare_quality returns, "
                            f"got {type(value).__name__}")
        if not all(isinstance(v, Real) and math.isfinite(v) for v in
                   (value.top1_agreement, value.max_logit_diff, value.loss, value.loss_reference)):
            raise ValueError(f"quality[{key!r}] holds a number that is not finite: {value}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")

    bound = {p: bandwidth / bytes_per_token[p] for p in PRECISIONS}
    agreement = {"float32": 1.0, **{p: quality[p].top1_agreement for p in smaller}}
    controls = {
        "precision": widgets.SelectionSlider(
            options=list(PRECISIONS), value=precision, description=tr("precision"),
            continuous_update=True, style=control_style(), layout=control_layout()),
    }
    rows = list(range(len(PRECISIONS)))[::-1]  # float32 on top

    def setup(fig):
        axes = fixed_subplots(fig, 1, 3, left=0.08, right=0.97, top=0.8, bottom=0.14, wspace=0.4)
        panels = [
            (tr("MB read per token"), [bytes_per_token[p] / 1e6 for p in PRECISIONS]),
            (tr("tokens/s: measured (bars),\nbound (red)"), [tokens_per_s[p] for p in PRECISIONS]),
            (tr("top-1 agreement with float32 (%),\ntrained model"), [100 * agreement[p] for p in PRECISIONS]),
        ]
        bars = []
        for ax, (title, values) in zip(axes, panels):
            bars.append(ax.barh(rows, values, color=OTHER, animated=True))
            ax.set_yticks(rows, list(PRECISIONS), fontsize=9)
            ax.set_title(title, fontsize=9.5)
            ax.tick_params(axis="x", labelsize=8)
            for row, value in zip(rows, values):
                ax.text(value, row, f" {value:.1f}", va="center", fontsize=8)
        axes[0].set_xlim(0, 1.3 * max(bytes_per_token.values()) / 1e6)
        axes[1].set_xlim(0, 1.15 * max(max(bound.values()), max(tokens_per_s.values())))
        for row, p in zip(rows, PRECISIONS):
            axes[1].plot([bound[p]] * 2, [row - 0.4, row + 0.4], color=BOUND, linewidth=2)
        low = max(0.0, 100 * min(agreement.values()) - 10)
        axes[2].set_xlim(low, 100 + 0.18 * (100 - low))  # room for the label of 100.0
        return {"bars": bars}

    def update(handles, precision):
        for panel in handles["bars"]:
            for bar, p in zip(panel, PRECISIONS):
                bar.set_color(SHOWN if p == precision else OTHER)
        lines = [tr("{precision}: {mb:.1f} MB read per token; bound {bound:.1f} tokens/s "
                    "({gbps:.1f} GB/s / {mb:.1f} MB); measured {speed:.1f} tokens/s, "
                    "{share:.0%} of its bound",
                    precision=precision, mb=bytes_per_token[precision] / 1e6,
                    bound=bound[precision], gbps=bandwidth / 1e9, speed=tokens_per_s[precision],
                    share=tokens_per_s[precision] / bound[precision])]
        if precision == "float32":
            lines.append(tr("float32 is the reference the other two are compared with"))
        else:
            q = quality[precision]
            lines.append(tr("quality against float32: top-1 agreement {agree:.1%}, largest logit "
                            "change {diff:.4f}, loss {loss:.4f} (float32 {ref:.4f})",
                            agree=q.top1_agreement, diff=q.max_logit_diff, loss=q.loss,
                            ref=q.loss_reference))
        return "\n".join(lines)

    return Explorer("Smaller numbers: what each precision saves and costs", controls, setup,
                    update, figsize=(9, 3.0))
