"""The GELU explorer: values and gradients at the probe, artists that move."""

import math

import pytest
import torch

from gpt_course.explorers.nb03_gelu_vs_relu import gelu_explorer, values_and_gradients


def phi(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def exact_gelu_and_grad(x):
    density = math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    return x * phi(x), phi(x) + x * density


def readout_row(text, name):
    row = next(line for line in text.splitlines() if line.startswith(name))
    return [float(v) for v in row[len(name):].split()]


@pytest.fixture
def explorer():
    return gelu_explorer()


def test_default_readout(explorer):
    text = explorer.readout_text
    assert text.startswith("probe x = -1.00")
    assert readout_row(text, "ReLU") == [0.0, 0.0]
    value, grad = exact_gelu_and_grad(-1.0)
    assert readout_row(text, "GELU (exact)") == pytest.approx([value, grad], abs=1e-4)
    # the tanh approximation differs from the exact GELU by well under 1e-3
    assert readout_row(text, "GELU (tanh)") == pytest.approx([value, grad], abs=1e-3)


@pytest.mark.parametrize("probe", [-2.5, 0.5, 1.75])
def test_probe_moves_readout_and_markers(explorer, probe):
    before = explorer.png()
    explorer.set(probe=probe)
    value, grad = exact_gelu_and_grad(probe)
    assert readout_row(explorer.readout_text, "GELU (exact)") == pytest.approx(
        [value, grad], abs=1e-4)
    relu = readout_row(explorer.readout_text, "ReLU")
    assert relu == [max(probe, 0.0), 1.0 if probe > 0 else 0.0]
    marker_value, marker_grad = explorer.handles["markers"]["GELU (exact)"]
    assert marker_value.get_xdata()[0] == probe
    assert marker_value.get_ydata()[0] == pytest.approx(value, abs=1e-6)
    assert marker_grad.get_ydata()[0] == pytest.approx(grad, abs=1e-6)
    assert explorer.png() != before


def test_probe_keeps_axis_limits(explorer):
    limits = [(ax.get_xlim(), ax.get_ylim()) for ax in explorer.figure.axes]
    explorer.set(probe=2.0)
    assert [(ax.get_xlim(), ax.get_ylim()) for ax in explorer.figure.axes] == limits


def test_range_changes_curves_and_limits(explorer):
    explorer.set(x_range=2.0)
    line = explorer.handles["curves"]["ReLU"][0]
    assert line.get_xdata()[0] == -2.0 and line.get_xdata()[-1] == 2.0
    assert explorer.figure.axes[0].get_xlim() == (-2.0, 2.0)
    explorer.set(probe=3.0)
    assert "outside the plotted range" in explorer.readout_text


def test_gradients_come_from_autograd():
    x = torch.linspace(-3, 3, 61, dtype=torch.float64)
    results = values_and_gradients(x)
    expected = torch.tensor([exact_gelu_and_grad(float(v))[1] for v in x], dtype=torch.float64)
    torch.testing.assert_close(results["GELU (exact)"][1], expected)
    torch.testing.assert_close(results["ReLU"][1], (x > 0).double())


def test_static_repr_is_stable_text(explorer):
    text = explorer._repr_mimebundle_()["text/plain"]
    assert "shown at x_range=4, probe=-1" in text
    assert "0x" not in text
