"""Notebook 05's "your turn": the learner writes the shortcut forward of
ExampleDeepNeuralNetwork (the book's __init__ given).

The hidden solution and the skeleton are read from the notebook itself and
run through the real check; each classic mistake, written as a small wrong
class, gets its own hint; whatever the check is given, it says "Not yet" and
never raises."""


import pytest
import torch
import torch.nn as nn

from gpt_course import GELU
from gpt_course.exercises.nb05_shortcut_connections import CONFIGS, check_shortcut_forward
from solutions import notebook_cells, run_cell, skeleton_code, solution_code

NOTEBOOK = "05_shortcut_connections"


def test_the_check_covers_the_networks_the_brief_asks_for():
    sizes = [s for s, _ in CONFIGS]
    assert ([3, 3, 3, 3, 3, 1], True) in CONFIGS and ([3, 3, 3, 3, 3, 1], False) in CONFIGS
    # one whose width changes in the middle, and one where the last layer keeps it
    assert any(len(set(s[1:-1])) > 1 for s in sizes)
    assert any(s[-1] == s[-2] for s, shortcut in CONFIGS if shortcut)


def test_plug_in_cell_reproduces_the_books_gradients():
    """The cell after the experiment: says "not yet" while the skeleton
    raises, the package's gradients once the forward is written."""
    cells = notebook_cells(NOTEBOOK)
    use = next("".join(c["source"]) for c in cells if c.get("id") == "mine")
    setup = """
layer_sizes = [3, 3, 3, 3, 3, 1]
sample_input = torch.tensor([[1., 0., -1.]])
target = torch.tensor([[0.]])
torch.manual_seed(123)
grads_with = layer_gradients(ExampleDeepNeuralNetwork(layer_sizes, use_shortcut=True),
                             sample_input, target)
"""
    skeleton = skeleton_code(NOTEBOOK, "check_shortcut_forward")
    assert "still raises NotImplementedError" in run_cell(NOTEBOOK, setup + skeleton + "\n" + use)
    solution = solution_code(NOTEBOOK, "check_shortcut_forward")
    solved = run_cell(NOTEBOOK, setup + solution + "\n" + use)
    assert "layers.0.0.weight: yours 0.221698, the package's 0.221698" in solved
    assert "layers.4.0.weight: yours 1.32585, the package's 1.32585" in solved


# ------------------------------------------------------------ the learner's class

class Base(nn.Module):
    """The skeleton's __init__ (the book's), with the right forward."""

    def __init__(self, layer_sizes, use_shortcut):
        super().__init__()
        self.use_shortcut = use_shortcut
        self.layers = nn.ModuleList([
            nn.Sequential(nn.Linear(n_in, n_out), GELU())
            for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])
        ])

    def forward(self, x):
        for layer in self.layers:
            layer_output = layer(x)
            if self.use_shortcut and x.shape == layer_output.shape:
                x = x + layer_output
            else:
                x = layer_output
        return x


class ShapeByLastDim(Base):
    """Right too: comparing the last dimension only is the same test here."""

    def forward(self, x):
        for layer in self.layers:
            out = layer(x)
            x = x + out if self.use_shortcut and x.shape[-1] == out.shape[-1] else out
        return x


def test_right_classes_are_correct(capsys):
    for cls in (Base, ShapeByLastDim):
        assert check_shortcut_forward(cls)
        assert capsys.readouterr().out.startswith("Correct!")


# ------------------------------------------------------------ classic mistakes

class BeforeActivation(Base):
    def forward(self, x):
        for linear, activation in self.layers:
            z = linear(x)
            x = activation(x + z) if self.use_shortcut and x.shape == z.shape else activation(z)
        return x


class NoShortcut(Base):
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class IgnoresUseShortcut(Base):
    def forward(self, x):
        for layer in self.layers:
            out = layer(x)
            x = x + out if x.shape == out.shape else out
        return x


class NoShapeCheck(Base):
    def forward(self, x):
        for layer in self.layers:
            out = layer(x)
            x = x + out if self.use_shortcut else out
        return x


class BatchDimCheck(Base):
    """Compares the wrong dimension: the same as no shape check."""

    def forward(self, x):
        for layer in self.layers:
            out = layer(x)
            x = x + out if self.use_shortcut and x.shape[0] == out.shape[0] else out
        return x


class NoElse(Base):
    def forward(self, x):
        for layer in self.layers:
            out = layer(x)
            if self.use_shortcut and x.shape == out.shape:
                x = x + out
        return x


class AddsOriginalInput(Base):
    def forward(self, x):
        original = x
        for layer in self.layers:
            out = layer(x)
            x = original + out if self.use_shortcut and x.shape == out.shape else out
        return x


class AddsOriginalInputIfItFits(Base):
    def forward(self, x):
        original = x
        for layer in self.layers:
            out = layer(x)
            x = original + out if self.use_shortcut and original.shape == out.shape else out
        return x


@pytest.mark.parametrize("cls, hint", [
    (BeforeActivation, "the shortcut is added before the activation"),
    (NoShortcut, "no shortcut is added"),
    (IgnoresUseShortcut, "even when use_shortcut is False"),
    (NoShapeCheck, "where the layer changes the shape"),
    (BatchDimCheck, "where the layer changes the shape"),
    (NoElse, "x must still become the layer's output"),
    (AddsOriginalInput, "the network's original input"),
    (AddsOriginalInputIfItFits, "the network's original input"),
])
def test_each_mistake_gets_its_hint(cls, hint, capsys):
    assert not check_shortcut_forward(cls)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


def test_an_unknown_mistake_gets_the_difference_and_the_general_hint(capsys):
    class DoubleShortcut(Base):
        def forward(self, x):
            for layer in self.layers:
                out = layer(x)
                x = 2 * x + out if self.use_shortcut and x.shape == out.shape else out
            return x

    assert not check_shortcut_forward(DoubleShortcut)
    out = capsys.readouterr().out
    assert "differs from the course's" in out and "use_shortcut=True" in out
    assert "x = x + layer_output, else x = layer_output" in out


def test_the_shape_probe_leaves_the_learners_random_state_alone():
    """NoShapeCheck is answered by the probe alone, before check_module (which
    seeds the generator itself, as documented) runs."""
    torch.manual_seed(0)
    check_shortcut_forward(NoShapeCheck)
    after_probe = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(torch.rand(3), after_probe)


# ------------------------------------------------------------ crash battery

class InitRaises(Base):
    def __init__(self, layer_sizes, use_shortcut):
        raise ValueError("half-written __init__")


class ForwardRaises(Base):
    def forward(self, x):
        return self.layers[1](x.T)


class WrongShape(Base):
    def forward(self, x):
        return super().forward(x).sum()


class WrongDtype(Base):
    def forward(self, x):
        return super().forward(x).round().long()


class ReturnsNone(Base):
    def forward(self, x):
        super().forward(x)


class ReturnsNan(Base):
    def forward(self, x):
        return super().forward(x) * float("nan")


class OtherInit(nn.Module):
    def __init__(self, layer_sizes, use_shortcut):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(2, 2)])


@pytest.mark.parametrize("answer, said", [
    (None, "No answer yet"),
    (3, "pass your ExampleDeepNeuralNetwork class"),
    ("MyExampleDeepNeuralNetwork", "pass your ExampleDeepNeuralNetwork class"),
    (Base([3, 1], True), "pass the class itself"),
    (InitRaises, "building your ExampleDeepNeuralNetwork failed: ValueError: half-written"),
    (ForwardRaises, "raised RuntimeError"),
    (WrongShape, "your output has shape [], expected [1, 1]"),
    (WrongDtype, "dtype torch.int64"),
    (ReturnsNone, "returned NoneType"),
    (ReturnsNan, "NaN at index"),
    (OtherInit, "keep __init__ as the skeleton gives it"),
])
def test_crash_battery_says_not_yet(answer, said, capsys):
    verdict = check_shortcut_forward(answer)
    assert not verdict
    out = capsys.readouterr().out
    assert out.startswith("Not yet:" if said != "No answer yet" else said) and said in out, out
