"""The shortcut explorer: per-layer gradient bars for the book's toy net."""

import pytest
import torch
import torch.nn as nn

from gpt_course import ExampleDeepNeuralNetwork, layer_gradients
from gpt_course.explorers.nb05_shortcut_connections import MAX_DEPTH, Y_LIMITS, shortcut_explorer

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
