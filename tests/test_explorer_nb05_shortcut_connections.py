"""The shortcut explorer: per-layer gradient bars for the book's toy net."""

import pytest
import torch
import torch.nn as nn

from gpt_course import ExampleDeepNeuralNetwork, layer_gradients
from gpt_course.explorers.nb05_shortcut_connections import (
    MAX_DEPTH, Y_LIMITS, gradient_parts, shortcut_explorer,
)

BOOK_WITHOUT = [0.000202, 0.000120, 0.000715, 0.001399, 0.005050]
BOOK_WITH = [0.2217, 0.2069, 0.3290, 0.2666, 1.3259]


def bar_values(explorer):
    return [bar.get_height() + Y_LIMITS[0] for bar in explorer.handles["bars"]
            if bar.get_visible()]


def test_default_is_the_book_experiment():
    explorer = shortcut_explorer()
    assert bar_values(explorer) == pytest.approx(BOOK_WITHOUT, abs=1e-6)
    _, flipped = explorer.handles["other"].get_data()
    assert list(flipped) == pytest.approx(BOOK_WITH, abs=1e-4)
    assert "layer 1 gets 1,099 x the gradient" in explorer.readout_text


def test_shortcut_toggle_swaps_bars_and_markers():
    explorer = shortcut_explorer()
    before = explorer.png()
    explorer.set(shortcut=True)
    assert bar_values(explorer) == pytest.approx(BOOK_WITH, abs=1e-4)
    assert explorer.png() != before


@pytest.mark.parametrize("depth", [2, 7, MAX_DEPTH])
def test_depth_shows_one_bar_per_layer(depth):
    explorer = shortcut_explorer()
    explorer.set(depth=depth, activation="Sigmoid", shortcut=True, seed=7)
    assert sum(bar.get_visible() for bar in explorer.handles["bars"]) == depth
    torch.manual_seed(7)
    model = ExampleDeepNeuralNetwork([3] * depth + [1], True, activation=nn.Sigmoid)
    expected = list(layer_gradients(model, torch.tensor([[1.0, 0.0, -1.0]])).values())
    assert bar_values(explorer) == pytest.approx(expected, rel=1e-5)
    assert len(explorer.readout_text.splitlines()) >= depth + 1


def test_axis_limits_stay_fixed():
    explorer = shortcut_explorer()
    limits = explorer.figure.axes[0].get_ylim()
    explorer.set(depth=MAX_DEPTH, activation="Sigmoid")
    assert explorer.figure.axes[0].get_ylim() == limits == Y_LIMITS


def test_dead_relu_is_explained():
    explorer = shortcut_explorer()
    explorer.set(activation="ReLU", depth=2, shortcut=True)
    assert max(bar_values(explorer)) == pytest.approx(Y_LIMITS[0])
    assert "dead" in explorer.readout_text


def test_updates_leave_the_global_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    explorer = shortcut_explorer()
    explorer.set(seed=5, depth=8)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("use_shortcut", [False, True])
def test_gradient_parts_split_each_gradient_into_error_times_input(use_shortcut):
    torch.manual_seed(123)
    model = ExampleDeepNeuralNetwork([3, 3, 3, 3, 3, 1], use_shortcut)
    x, target = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.0]])
    parts = gradient_parts(model, x, target)
    expected = list(layer_gradients(model, x, target).values())
    assert [p.gradient for p in parts] == pytest.approx(expected, rel=1e-6)
    # one sample: dL/dW = dL/dz x^T, so mean |dL/dW| = mean |dL/dz| * mean |x|
    assert [p.error * p.input for p in parts] == pytest.approx(expected, rel=1e-5)
    assert parts[0].input == pytest.approx(2 / 3)
    # it removes its hooks, and a second call sees the same numbers
    assert not any(layer[0]._forward_hooks for layer in model.layers)
    assert gradient_parts(model, x, target) == parts


def test_gradient_parts_say_what_notebook_05_says():
    """Without shortcuts the error shrinks at every step back while the
    gradient does not (layer 1's is below layer 0's, because of the inputs);
    with shortcuts the layers below the last get errors 4 to 6 times smaller
    than the last layer's."""
    x, target = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.0]])
    torch.manual_seed(123)
    without = gradient_parts(ExampleDeepNeuralNetwork([3, 3, 3, 3, 3, 1], False), x, target)
    errors = [p.error for p in without]
    assert errors == sorted(errors)
    assert all(0.16 < a / b < 0.37 for a, b in zip(errors, errors[1:]))
    assert without[0].gradient > without[1].gradient
    assert without[0].input > 3 * max(p.input for p in without[1:])
    torch.manual_seed(123)
    with_sc = gradient_parts(ExampleDeepNeuralNetwork([3, 3, 3, 3, 3, 1], True), x, target)
    assert all(3.5 < with_sc[-1].error / p.error < 6.1 for p in with_sc[:-1])
    assert max(p.gradient for p in with_sc) == with_sc[-1].gradient
