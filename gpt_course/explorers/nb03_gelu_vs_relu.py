"""Notebook 03 explorer: ReLU vs GELU, their values and their gradients.

Two panels: the activations on the left, their derivatives (computed with
torch.autograd, not from hand-written formulas) on the right. A probe point
marks the value and the gradient of each function; tangent lines on the left
panel show the slope the gradient stands for. Moving only the probe keeps the
axis limits, so just the animated markers are redrawn.
"""


import torch
import torch.nn as nn
from matplotlib.ticker import MaxNLocator

from ..book.nb03_gelu import GELU, gelu_exact
from ..checks import check_int
from ..language import tr
from .base import Explorer, fixed_subplots, pad, slider

# name, function, colour, line style
FUNCTIONS = (
    ("ReLU", nn.ReLU(), "tab:blue", "-"),
    ("GELU (tanh)", GELU(), "tab:orange", "-"),
    ("GELU (exact)", gelu_exact, "black", ":"),
)


def values_and_gradients(x):
    """{name: (f(x), f'(x))} for every function, the gradient by autograd."""
    x = torch.as_tensor(x, dtype=torch.float64)
    results = {}
    for name, fn, _, _ in FUNCTIONS:
        xg = x.detach().clone().requires_grad_(True)
        y = fn(xg)
        (grad,) = torch.autograd.grad(y.sum(), xg)
        results[name] = (y.detach(), grad)
    return results


def _num(value, digits=4):
    """Round for display without printing a negative zero."""
    return f"{round(float(value), digits) + 0.0:.{digits}f}"


def _shown(name):
    """A function's name as the legend and the readout show it, in the language
    set (the names in FUNCTIONS stay the keys of the results)."""
    return tr("GELU (exact)") if name == "GELU (exact)" else name


def gelu_explorer(x_range=4.0, probe=-1.0, n_points=401):
    """ReLU and GELU side by side with a probe point; returns an Explorer.

    x_range: half-width of the plotted interval [-x_range, x_range] (1 to 8).
    probe: where value and gradient are read off (-6 to 6).
    n_points: points per curve (2 to 100,001).
    """
    check_int("n_points", n_points, low=2, high=100_001)

    def setup(fig):
        ax_value, ax_grad = fixed_subplots(
            fig, 1, 2, left=0.07, right=0.985, bottom=0.14, top=0.91, wspace=0.2)
        handles = {"ax_value": ax_value, "ax_grad": ax_grad, "x_range": None,
                   "curves": {}, "markers": {}, "tangents": {}}
        for name, _, colour, style in FUNCTIONS:
            handles["curves"][name] = (
                ax_value.plot([], [], style, color=colour, lw=1.8, label=_shown(name))[0],
                ax_grad.plot([], [], style, color=colour, lw=1.8, label=_shown(name))[0],
            )
            marker = dict(marker="o", color=colour, ms=7, ls="none", animated=True, zorder=5)
            if name == "GELU (exact)":  # hollow, so the tanh marker shows through
                marker.update(ms=10, mfc="none", mew=1.5, zorder=6)
            handles["markers"][name] = (
                ax_value.plot([], [], **marker)[0],
                ax_grad.plot([], [], **marker)[0],
            )
            if name != "GELU (exact)":  # the two GELU tangents would overlap
                handles["tangents"][name] = ax_value.plot(
                    [], [], "-", color=colour, lw=4, alpha=0.45, animated=True,
                    solid_capstyle="round", zorder=4)[0]
        handles["probe_lines"] = (
            ax_value.axvline(0, color="gray", lw=0.8, animated=True),
            ax_grad.axvline(0, color="gray", lw=0.8, animated=True),
        )
        # A given title height, axis-label place: otherwise matplotlib measures
        # every tick label to place them, half the cost of a full redraw.
        ax_value.set_title(tr("activation f(x)"), y=1.01)
        ax_grad.set_title(tr("gradient f'(x) (autograd)"), y=1.01)
        for ax in (ax_value, ax_grad):
            # A new x range redraws the axes in full; most of that time goes to
            # tick labels and grid lines, so five ticks per axis, not nine.
            ax.xaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 5, 10]))
            ax.yaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 5, 10]))
            ax.axhline(0, color="lightgray", lw=0.8, zorder=0)
            ax.set_xlabel("x")
            ax.xaxis.set_label_coords(0.5, -0.11)
            ax.yaxis.set_label_coords(-0.1, 0.5)
            ax.grid(True, alpha=0.3)
        ax_grad.set_ylim(-0.25, 1.25)
        ax_value.legend(loc="upper left", fontsize=8)
        redraw_curves(handles, x_range)
        return handles

    def redraw_curves(handles, x_range):
        handles["x_range"] = None  # until the curves are drawn: a failure redraws next time
        x = torch.linspace(-x_range, x_range, n_points, dtype=torch.float64)
        results = values_and_gradients(x)
        for name, (value, grad) in results.items():
            line_value, line_grad = handles["curves"][name]
            line_value.set_data(x.numpy(), value.numpy())
            line_grad.set_data(x.numpy(), grad.numpy())
        handles["ax_value"].set_xlim(-x_range, x_range)
        handles["ax_value"].set_ylim(-0.1 * x_range - 0.2, x_range * 1.05)
        handles["ax_grad"].set_xlim(-x_range, x_range)
        handles["x_range"] = x_range

    def update(handles, x_range, probe):
        if handles["x_range"] != x_range:
            redraw_curves(handles, x_range)  # new limits: the base class redraws all
        results = values_and_gradients(torch.tensor([probe]))
        half = 0.15 * x_range  # half-length of the tangent segments
        for name, (value, grad) in results.items():
            y, g = float(value[0]), float(grad[0])
            marker_value, marker_grad = handles["markers"][name]
            marker_value.set_data([probe], [y])
            marker_grad.set_data([probe], [g])
            if name in handles["tangents"]:
                handles["tangents"][name].set_data(
                    [probe - half, probe + half], [y - g * half, y + g * half])
        for line in handles["probe_lines"]:
            line.set_xdata([probe, probe])
        lines = [tr("probe x = {x}", x=_num(probe, 2)),
                 "{:13s}{:>9s}{:>12s}".format("", "f(x)", "f'(x)")]
        for name, (value, grad) in results.items():
            lines.append(f"{pad(_shown(name), 13)}{_num(value[0]):>9s}{_num(grad[0]):>12s}")
        if abs(probe) > x_range:
            lines.append(tr("(the probe lies outside the plotted range)"))
        return "\n".join(lines)

    controls = {
        "x_range": slider(tr("x range ±"), x_range, 1.0, 8.0, 0.5, readout_format=".1f",
                          name="x_range"),
        "probe": slider(tr("probe x"), probe, -6.0, 6.0, 0.05, name="probe"),
    }
    # A new range moves the axes, which costs a full redraw (~70 ms here, vs
    # ~20 ms for the probe): redraw once when the slider is released.
    controls["x_range"].continuous_update = False
    return Explorer("GELU vs ReLU: value and gradient at a probe point",
                    controls, setup, update, figsize=(9, 3.4))
