"""Exercise checks for notebook 05 (shortcut connections)."""

import inspect

import torch
import torch.nn as nn

from ..book.nb05_shortcuts import ExampleDeepNeuralNetwork, layer_gradients
from ..language import tr
from .sandbox import teacher
from .base import NotYet, answer_check, as_float, report
from .code_check import Case, Mistake, check_module, copy_weights

LAYER_SIZES = [3, 3, 3, 3, 3, 1]
SAMPLE_INPUT = [[1.0, 0.0, -1.0]]
FIRST_LAYER = "layers.0.0.weight"


def book_gradients(use_shortcut, activation=None, seed=123):
    """{weight name: mean |grad|} for the book's 5-layer net, seeded as in the book."""
    kwargs = {} if activation is None else {"activation": activation}
    with torch.random.fork_rng(devices=[]):  # leave the learner's random state alone
        torch.manual_seed(seed)
        model = ExampleDeepNeuralNetwork(LAYER_SIZES, use_shortcut, **kwargs)
    return layer_gradients(model, torch.tensor(SAMPLE_INPUT), torch.tensor([[0.0]]))


def _near(value, target, rel=0.01):
    return abs(value - target) <= rel * abs(target)


@answer_check(as_float, "give one number (a float, or a one-element tensor)")
def check_sigmoid_ratio(ratio):
    """Exercise 1: with nn.Sigmoid as the activation (seed 123 before each
    model), how many times larger is the first layer's mean |gradient| with
    shortcuts than without? (within 1 %)"""
    with_sc = book_gradients(True, nn.Sigmoid)[FIRST_LAYER]
    without = book_gradients(False, nn.Sigmoid)[FIRST_LAYER]
    target = with_sc / without
    gelu_ratio = book_gradients(True)[FIRST_LAYER] / book_gradients(False)[FIRST_LAYER]
    if ratio > 0 and _near(1 / ratio, target):
        raise NotYet("that is the ratio the other way round: divide the value with shortcuts "
                     "by the one without.")
    if _near(ratio, gelu_ratio):
        raise NotYet("that is the ratio for GELU, printed above; build both networks with "
                     "activation=nn.Sigmoid.")
    if not _near(ratio, target):
        raise NotYet("build ExampleDeepNeuralNetwork(layer_sizes, use_shortcut, "
                     "activation=nn.Sigmoid) twice, with and without shortcuts, each right "
                     "after torch.manual_seed(123); divide layers.0.0.weight's gradient with "
                     "shortcuts by the one without.")
    return tr("about {ratio:,.0f} x: without shortcuts the sigmoid network's first layer gets "
              "only {without:.2g} (the sigmoid's derivative is at most 0.25, so each layer back "
              "multiplies the error by a small factor), with shortcuts {with_sc:.2g}.",
              ratio=target, without=without, with_sc=with_sc)


@answer_check(as_float, "give one number (a float, or a one-element tensor)")
def check_relu_first_layer(grad):
    """Exercise 2: with shortcuts and nn.ReLU as the activation (seed 123), the
    mean |gradient| of layers.0.0.weight (within 1 %)."""
    target = book_gradients(True, activation=nn.ReLU)[FIRST_LAYER]
    if _near(grad, book_gradients(False, activation=nn.ReLU)[FIRST_LAYER]):
        raise NotYet("that is the ReLU network without shortcuts; the question asks with "
                     "use_shortcut=True.")
    if _near(grad, book_gradients(True)[FIRST_LAYER]):
        raise NotYet("that is the GELU network's value, printed above; pass activation=nn.ReLU.")
    if not _near(grad, target):
        raise NotYet("build ExampleDeepNeuralNetwork(layer_sizes, use_shortcut=True, "
                     "activation=nn.ReLU) right after torch.manual_seed(123) and read "
                     "layers.0.0.weight from layer_gradients.")
    return tr("{grad:.4f}: with shortcuts the first layer keeps a healthy gradient with "
              "ReLU too.", grad=target)


# ---------------------------------------------------------------- your turn

# The networks the check builds, each with the learner's class and the course's:
# (layer_sizes, use_shortcut). The book's; the same without shortcuts; a width
# change in the middle (4 -> 6 -> 4: shortcuts only on the 4 -> 4 layers); and
# constant width, where the last layer gets a shortcut too.
WIDTH_CHANGE = [4, 4, 6, 4, 4, 2]
CONFIGS = [
    ([3, 3, 3, 3, 3, 1], True),
    ([3, 3, 3, 3, 3, 1], False),
    (WIDTH_CHANGE, True),
    ([5, 5, 5, 5], True),
]


def _describe(index):
    sizes, shortcut = CONFIGS[index]
    return tr("layer_sizes {sizes}, use_shortcut={shortcut}", sizes=sizes, shortcut=shortcut)


class Networks(nn.Module):
    """One network of class `cls` per entry of CONFIGS, so one check (with one
    copy of the weights) covers them all; forward(x, i) runs the i-th."""

    def __init__(self, cls):
        super().__init__()
        self.nets = nn.ModuleList([cls(list(sizes), shortcut) for sizes, shortcut in CONFIGS])

    def forward(self, x, index):
        return self.nets[index](x)


def _shortcut_forward(net, x, *, before_activation=False, shortcut=None, add_input=False):
    """The network's output with the course's weights, written the ways
    learners write it (right by default)."""
    use_shortcut = net.use_shortcut if shortcut is None else shortcut
    inp = x
    for layer in net.layers:
        linear, activation = layer
        pre = linear(x)
        if before_activation and use_shortcut and x.shape == pre.shape:
            x = activation(x + pre)
            continue
        out = activation(pre)
        if use_shortcut and x.shape == out.shape:
            x = (inp if add_input else x) + out
        else:
            x = out
    return x


def _mistake(**options):
    return lambda nets, x, index: _shortcut_forward(nets.nets[index], x, **options)


def _shortcut_on(case):
    return CONFIGS[case.args[1]][1]


SHORTCUT_MISTAKES = [
    Mistake("the shortcut is added before the activation (activation(x + linear(x))); it goes "
            "around the whole layer: layer_output = layer(x), then x = x + layer_output.",
            _mistake(before_activation=True), when=_shortcut_on),
    Mistake("no shortcut is added: when self.use_shortcut is True and x.shape == "
            "layer_output.shape, x becomes x + layer_output.",
            _mistake(shortcut=False), when=_shortcut_on),
    Mistake("you add the shortcut even when use_shortcut is False: check self.use_shortcut "
            "before adding.",
            _mistake(shortcut=True), when=lambda case: not _shortcut_on(case)),
    # not on WIDTH_CHANGE: there its 6 -> 4 layer tells "x.shape matches" apart
    # from "the input's shape matches", and learners write either
    Mistake("you add the network's original input at every layer; the shortcut adds each "
            "layer's own input, the x that went into this layer: x = x + layer_output.",
            _mistake(add_input=True),
            when=lambda case: _shortcut_on(case) and CONFIGS[case.args[1]][0] != WIDTH_CHANGE,
            varies=lambda case: _shortcut_on(case) and CONFIGS[case.args[1]][0] == WIDTH_CHANGE),
]

SHAPE_HINT = ("you add the shortcut where the layer changes the shape (the last layer, 3 -> 1 "
              "values: PyTorch broadcasts [n, 3] + [n, 1] to [n, 3]); add it only when "
              "self.use_shortcut and x.shape == layer_output.shape, otherwise x becomes "
              "layer_output.")
NO_ELSE_HINT = ("where there is no shortcut (use_shortcut False, or a layer that changes the "
                "shape, like the last one 3 -> 1) x must still become the layer's output: "
                "else: x = layer_output.")


def _always_add(net, x):
    """The shortcut added at every layer, whatever the shapes (broadcasting)."""
    for layer in net.layers:
        x = x + layer(x)
    return x


def _no_else(net, x):
    """The shortcut where the shapes match, and x left as it was elsewhere."""
    for layer in net.layers:
        layer_output = layer(x)
        if x.shape == layer_output.shape:
            x = x + layer_output
    return x


def _shape_hint(answer):
    """When the learner's network ends with the wrong shape because of the
    shortcut, the likely mistake; else None (check_module reports the rest).
    Probed on a small network with shortcuts on whose last layer goes 3 -> 1."""
    if not (inspect.isclass(answer) and issubclass(answer, nn.Module)):
        return None
    try:
        with torch.random.fork_rng(devices=[]):  # leave the learner's random state alone
            torch.manual_seed(0)
            ours, theirs = ExampleDeepNeuralNetwork([3, 3, 1], True), answer([3, 3, 1], True)
            x = torch.randn(2, 3)
        copy_weights(ours, theirs)
        with torch.no_grad():
            out, want = theirs(x), ours(x)
            if not isinstance(out, torch.Tensor) or out.shape == want.shape:
                return None
            for mistake, hint in ((_always_add, SHAPE_HINT), (_no_else, NO_ELSE_HINT)):
                mistaken = mistake(ours, x)
                if out.shape == mistaken.shape and torch.allclose(out.double(), mistaken.double()):
                    return hint
    except Exception:
        return None  # check_module says what went wrong
    return None


def _shortcut_cases():
    gen = torch.Generator().manual_seed(5)

    def case(index, *shape, note=None):
        x = torch.randn(*shape, CONFIGS[index][0][0], generator=gen)
        return Case((x, index), note=note or _describe(index))

    return [
        Case((torch.tensor(SAMPLE_INPUT), 0),
             note=tr("{network}, the book's input", network=_describe(0))),
        case(0, 4),
        case(1, 2),
        case(2, 3, note=tr("{network}: the width changes in the middle",
                           network=_describe(2))),
        case(3, 2, 3, note=tr("{network}: every layer keeps the width, the last one too",
                              network=_describe(3))),
    ]


@teacher
def check_shortcut_forward(answer):
    """Your turn: the learner's ExampleDeepNeuralNetwork (forward written by
    them, the book's __init__ given) against the course's, with the same
    weights, on every network of CONFIGS."""
    hint = _shape_hint(answer)
    if hint:
        return report(False, "", hint)
    return check_module(
        answer, name="ExampleDeepNeuralNetwork", build=Networks,
        reference=ExampleDeepNeuralNetwork, cases=_shortcut_cases(), mistakes=SHORTCUT_MISTAKES,
        success="your forward gives the course's output on every network: the book's (with "
                "and without shortcuts), one whose width changes in the middle and one of "
                "constant width. Each layer's input is added to its output after the "
                "activation, only where the shapes match and use_shortcut is True.",
        hint="for each layer: layer_output = layer(x); if self.use_shortcut and x.shape == "
             "layer_output.shape, x = x + layer_output, else x = layer_output; return x.",
    )
