"""Exercise checks for notebook 05 (shortcut connections)."""

import torch
import torch.nn as nn

from ..book.nb05_shortcuts import ExampleDeepNeuralNetwork, layer_gradients
from .base import Verdict, as_float, no_answer_yet, report

LAYER_SIZES = [3, 3, 3, 3, 3, 1]
SAMPLE_INPUT = [[1.0, 0.0, -1.0]]


def book_gradients(use_shortcut, activation=None, seed=123):
    """{weight name: mean |grad|} for the book's 5-layer net, seeded as in the book."""
    kwargs = {} if activation is None else {"activation": activation}
    with torch.random.fork_rng(devices=[]):  # leave the learner's random state alone
        torch.manual_seed(seed)
        model = ExampleDeepNeuralNetwork(LAYER_SIZES, use_shortcut, **kwargs)
    return layer_gradients(model, torch.tensor(SAMPLE_INPUT), torch.tensor([[0.0]]))


def check_first_layer_ratio(answer):
    """Exercise: how many times larger is the first layer's mean |gradient| with
    shortcuts than without? (within 1 %)"""
    if no_answer_yet(answer):
        return Verdict(False)
    with_sc = book_gradients(True)["layers.0.0.weight"]
    without = book_gradients(False)["layers.0.0.weight"]
    target = with_sc / without
    value = as_float(answer)
    ok = value is not None and abs(value - target) <= 0.01 * target
    hint = "divide layers.0.0.weight's value with shortcuts by the one without."
    if value is not None and value > 0 and abs(1 / value - target) <= 0.01 * target:
        hint = "that is the ratio the other way round: with shortcuts divided by without."
    return report(
        ok,
        f"about {target:,.0f} x: the shortcut gives the first layer a gradient three orders "
        "of magnitude larger.",
        hint,
    )


def check_relu_first_layer(answer):
    """Exercise: with shortcuts and nn.ReLU as the activation (seed 123), the
    mean |gradient| of layers.0.0.weight (within 1 %)."""
    if no_answer_yet(answer):
        return Verdict(False)
    target = book_gradients(True, activation=nn.ReLU)["layers.0.0.weight"]
    value = as_float(answer)
    ok = value is not None and abs(value - target) <= 0.01 * target
    return report(
        ok,
        f"{target:.4f}: with shortcuts the first layer keeps a healthy gradient with "
        "ReLU too.",
        "build ExampleDeepNeuralNetwork(layer_sizes, use_shortcut=True, activation=nn.ReLU) "
        "right after torch.manual_seed(123) and read layers.0.0.weight from layer_gradients.",
    )
