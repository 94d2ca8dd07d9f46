"""Notebook 05 explorer: how gradients fade through a deep stack of layers, and
how shortcut connections keep them alive.

The network is the book's toy net (layers of 3 units and a final 3 -> 1
layer, input [[1., 0., -1.]], target 0), built right after
torch.manual_seed(seed). Bars: mean |gradient| of each layer's weight for the
chosen setting, on a fixed log axis. Hollow diamonds: the same network with
the shortcut setting flipped, for comparison. Recomputing the gradients of such
a tiny net takes a few milliseconds.

`gradient_parts` splits each layer's weight gradient into the two things it is
the product of, the error at the layer's output and the layer's input: the
notebook's tables of why gradients shrink, and where they do not.
"""

from typing import NamedTuple

import ipywidgets as widgets
import torch
import torch.nn as nn
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..book.nb03_gelu import GELU
from ..book.nb05_shortcuts import ExampleDeepNeuralNetwork, layer_gradients
from ..checks import check_bool, check_int
from ..language import tr
from .base import Explorer, control_style, fixed_subplots, int_slider, pad

MAX_DEPTH = 12
Y_LIMITS = (1e-13, 1e3)  # room at the top for the legend
ACTIVATIONS = {"GELU": GELU, "ReLU": nn.ReLU, "Sigmoid": nn.Sigmoid}
SAMPLE_INPUT = ((1.0, 0.0, -1.0),)
COLOURS = {True: "tab:green", False: "tab:red"}


def shortcut_gradients(depth, activation="GELU", use_shortcut=True, seed=123):
    """Mean |grad| of each layer's weight (first layer first) for the book's toy
    net with `depth` layers: depth - 1 layers 3 -> 3, then one 3 -> 1."""
    check_int("depth", depth, low=2, why=" (the toy net has at least two layers)")
    check_bool("use_shortcut", use_shortcut)
    check_int("seed", seed, low=0)
    _check_activation(activation)
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(seed)
        model = ExampleDeepNeuralNetwork([3] * depth + [1], use_shortcut,
                                         activation=ACTIVATIONS[activation])
    grads = layer_gradients(model, torch.tensor(SAMPLE_INPUT), torch.tensor([[0.0]]))
    return list(grads.values())


def _check_activation(activation):
    if not isinstance(activation, str):
        raise TypeError(f"activation must be one of {sorted(ACTIVATIONS)}, got "
                        f"{type(activation).__name__}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")


class GradientParts(NamedTuple):
    """One layer's weight gradient and the two things it is made of."""
    input: float     # mean |x| of the input the layer's Linear received
    error: float     # mean |dL/dz| at the Linear's output z = W x + b
    gradient: float  # mean |dL/dW| of its weight


def gradient_parts(model, x, target=None):
    """Per layer of an ExampleDeepNeuralNetwork (first layer first), its
    weight's mean |gradient| and the two parts it is the product of: the
    error arriving at the layer's output and the layer's input
    (dL/dW = dL/dz x^T; for one sample, mean |dL/dW| is exactly
    mean |dL/dz| * mean |x|). Same loss as `layer_gradients`."""
    inputs, outputs = [], []

    def keep(linear, args, z):
        inputs.append(args[0].detach())
        z.retain_grad()  # keep dL/dz, which backward would otherwise free
        outputs.append(z)

    hooks = [layer[0].register_forward_hook(keep) for layer in model.layers]
    try:
        grads = layer_gradients(model, x, target)
    finally:
        for hook in hooks:
            hook.remove()
    return [GradientParts(inp.abs().mean().item(), z.grad.abs().mean().item(), grad)
            for inp, z, grad in zip(inputs, outputs, grads.values())]



def _bar_height(value):
    """Bars start at the bottom of the fixed log axis; zero gradients get none."""
    return max(value, Y_LIMITS[0]) - Y_LIMITS[0]


def shortcut_explorer(depth=5, activation="GELU", shortcut=False, seed=123):
    """Depth, activation, shortcuts on/off and seed; returns an Explorer.
    depth is 2 to 12 layers, seed 0 to 999 (the sliders' ranges)."""
    _check_activation(activation)
    check_bool("shortcut", shortcut)

    def setup(fig):
        ax = fixed_subplots(fig, 1, 1, left=0.09, right=0.98, bottom=0.15, top=0.9)
        positions = range(1, MAX_DEPTH + 1)
        bars = ax.bar(positions, [1.0] * MAX_DEPTH, bottom=Y_LIMITS[0], width=0.6,
                      animated=True)
        other, = ax.plot([], [], "D", ms=8, mfc="none", mec="black", mew=1.3,
                         animated=True, zorder=5)
        ax.set_yscale("log")
        ax.set_ylim(*Y_LIMITS)
        ax.set_xlim(0.4, MAX_DEPTH + 0.6)
        ax.set_xticks(list(positions))
        ax.set_xlabel(tr("layer (1 = closest to the input)"))
        ax.set_ylabel(tr("mean |gradient| of weight"))
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(
            handles=[
                Patch(color=COLOURS[True], label=tr("with shortcuts")),
                Patch(color=COLOURS[False], label=tr("without shortcuts")),
                Line2D([], [], ls="none", marker="D", mfc="none", mec="black",
                       label=tr("the other setting (shortcuts flipped)")),
            ],
            loc="upper left", fontsize=8, ncols=3,
        )
        title = ax.set_title("", animated=True)
        return {"bars": bars, "other": other, "title": title}

    def update(handles, depth, activation, shortcut, seed):
        grads = shortcut_gradients(depth, activation, shortcut, seed)
        flipped = shortcut_gradients(depth, activation, not shortcut, seed)
        for i, bar in enumerate(handles["bars"]):
            visible = i < depth
            bar.set_visible(visible)
            if visible:
                bar.set_height(_bar_height(grads[i]))
                bar.set_color(COLOURS[shortcut])
        handles["other"].set_data(
            [i + 1 for i, g in enumerate(flipped) if g > 0], [g for g in flipped if g > 0])
        title = ("{activation}, {depth} layers, shortcuts on, seed {seed}" if shortcut
                 else "{activation}, {depth} layers, shortcuts off, seed {seed}")
        handles["title"].set_text(tr(title, activation=activation, depth=depth, seed=seed))
        return _readout(grads, flipped, shortcut)

    controls = {
        "depth": int_slider(tr("layers"), depth, 2, MAX_DEPTH, name="depth"),
        "activation": widgets.ToggleButtons(
            options=list(ACTIVATIONS), value=activation, description=tr("activation"),
            style=control_style(button_width="70px")),
        "shortcut": widgets.Checkbox(value=shortcut, description=tr("shortcut connections"),
                                     style={"description_width": "initial"}),
        "seed": int_slider(tr("seed"), seed, 0, 999, name="seed"),
    }
    return Explorer("Shortcut connections: gradient per layer", controls, setup, update,
                    figsize=(9, 3.6))


def _readout(grads, flipped, shortcut):
    on, off = (grads, flipped) if shortcut else (flipped, grads)
    lines = [pad(tr("layer"), 7) + pad(tr("with shortcuts"), 16, ">")
             + pad(tr("without"), 12, ">")]
    for i, (g_on, g_off) in enumerate(zip(on, off)):
        lines.append(f"{i + 1:<7}{g_on:>16.3g}{g_off:>12.3g}")
    if on[0] > 0 and off[0] > 0:
        lines.append(tr("layer 1 gets {ratio} x the gradient with shortcuts that it gets "
                        "without", ratio=_ratio(on[0] / off[0])))
    ratio_on = _ratio(on[0] / on[-1]) if on[-1] > 0 else None
    ratio_off = _ratio(off[0] / off[-1]) if off[-1] > 0 else None
    if ratio_on and ratio_off:
        lines.append(tr("layer 1 vs the last layer: with shortcuts {on} x, without {off} x",
                        on=ratio_on, off=ratio_off))
    elif ratio_on:
        lines.append(tr("layer 1 vs the last layer: with shortcuts {on} x", on=ratio_on))
    elif ratio_off:
        lines.append(tr("layer 1 vs the last layer: without {off} x", off=ratio_off))
    if max(on) == 0 or max(off) == 0:
        lines.append(tr("a zero gradient: a ReLU layer outputs only zeros here (a 'dead' "
                        "unit), so nothing flows back through it"))
    return "\n".join(lines)


def _ratio(value):
    return f"{value:,.0f}" if value >= 10 else f"{value:.3g}"

