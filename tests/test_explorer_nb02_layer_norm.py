"""The LayerNorm explorer: what it draws and reports follows its sliders."""

import numpy as np
import pytest

from gpt_course.explorers.nb02_layer_norm import X_LIMIT, layer_norm_explorer, token_vector


def expected_stats(values):
    values = np.asarray(values, dtype=np.float64)
    return values.mean(), values.var()  # numpy's var divides by n (biased)


def readout_numbers(explorer):
    """{'before': (mean, var), 'after': (mean, var)} parsed from the readout."""
    numbers = {}
    for line in explorer.readout_text.splitlines():
        name = line.split()[0]
        mean = float(line.split("mean")[1].split(",")[0])
        var = float(line.split("variance")[1])
        numbers[name] = (mean, var)
    return numbers


def reference_layer_norm(x, eps, gamma, beta):
    x = np.asarray(x, dtype=np.float64)
    return gamma * (x - x.mean()) / np.sqrt(x.var() + eps) + beta


def points(explorer, name):
    return explorer.handles[f"{name}_points"].get_offsets()[:, 0]


def test_default_readout_matches_an_independent_computation():
    explorer = layer_norm_explorer()
    x = 2.5 * token_vector().numpy() + 3.0  # the default input: scale 2.5, shift 3
    stats = readout_numbers(explorer)
    np.testing.assert_allclose(stats["before"], expected_stats(x), atol=1e-4)
    np.testing.assert_allclose(stats["after"], (0.0, 1.0), atol=1e-4)
    np.testing.assert_allclose(points(explorer, "before"), x, atol=1e-5)
    np.testing.assert_allclose(points(explorer, "after"),
                               reference_layer_norm(x, 1e-5, 1.0, 0.0), atol=1e-5)


def test_the_default_picture_shows_normalization_at_work():
    """Issue 11: the first picture must show LayerNorm changing something, not
    an input that is already near mean 0 and variance 1."""
    stats = readout_numbers(layer_norm_explorer())
    before_mean, before_var = stats["before"]
    assert before_mean > 2.5 and before_var > 5  # far from (0, 1) ...
    assert stats["after"] == pytest.approx((0.0, 1.0), abs=1e-4)  # ... and brought there
    explorer = layer_norm_explorer()
    # the two bands differ visibly: centres 3 apart, widths more than twice as wide
    assert explorer.handles["before_mean"].get_xdata()[0] > 2.5
    bands = explorer.handles
    assert bands["before_band"].get_width() > 2 * bands["after_band"].get_width()


def test_input_scale_and_shift_move_the_input_but_not_the_output():
    explorer = layer_norm_explorer()
    after_default = points(explorer, "after").copy()
    png_default = explorer.png()
    explorer.set(input_scale=3.0, input_shift=2.5)
    z = token_vector().numpy()
    stats = readout_numbers(explorer)
    mean, var = expected_stats(3.0 * z + 2.5)
    np.testing.assert_allclose(stats["before"], (mean, var), atol=1e-3)
    np.testing.assert_allclose(stats["after"], (0.0, 1.0), atol=1e-4)
    np.testing.assert_allclose(points(explorer, "before"), 3.0 * z + 2.5, atol=1e-5)
    np.testing.assert_allclose(points(explorer, "after"), after_default, atol=1e-4)
    # The mean line and the ±1 std band follow the input.
    assert explorer.handles["before_mean"].get_xdata()[0] == pytest.approx(mean, abs=1e-4)
    assert explorer.handles["before_band"].get_width() == pytest.approx(2 * var ** 0.5, abs=1e-4)
    assert explorer.png() != png_default


def test_gamma_and_beta_set_the_output_statistics():
    explorer = layer_norm_explorer()
    explorer.set(gamma=2.0, beta=-1.5)
    stats = readout_numbers(explorer)
    np.testing.assert_allclose(stats["after"], (-1.5, 4.0), atol=1e-3)
    z = token_vector().numpy()
    np.testing.assert_allclose(points(explorer, "after"),
                               reference_layer_norm(z, 1e-5, 2.0, -1.5), atol=1e-4)


def test_a_large_eps_shrinks_the_output_of_a_small_input():
    explorer = layer_norm_explorer(input_scale=0.1)
    assert readout_numbers(explorer)["after"][1] == pytest.approx(1.0, abs=1e-2)
    explorer.set(eps=0.1)
    z = token_vector().numpy()
    var_in = expected_stats(0.1 * z)[1]
    after_var = readout_numbers(explorer)["after"][1]
    assert after_var == pytest.approx(var_in / (var_in + 0.1), abs=1e-3)
    assert after_var < 0.2


def test_moving_a_slider_redraws_and_keeps_axis_limits():
    explorer = layer_norm_explorer()
    before = explorer.image.value
    explorer.controls["input_shift"].value = -3.0  # as a learner dragging the slider
    assert explorer.image.value != before
    assert explorer.values["input_shift"] == -3.0
    for ax in explorer.figure.axes:
        assert ax.get_xlim() == (-X_LIMIT, X_LIMIT)


def test_every_point_stays_inside_the_axes_at_the_slider_extremes():
    explorer = layer_norm_explorer()
    c = explorer.controls
    explorer.set(input_scale=10 ** c["input_scale"].max,
                 input_shift=c["input_shift"].max, gamma=c["gamma"].max, beta=c["beta"].max)
    for name in ("before", "after"):
        assert np.abs(points(explorer, name)).max() < X_LIMIT


def test_static_display_is_stable_text():
    explorer = layer_norm_explorer()
    text = explorer._repr_mimebundle_()["text/plain"]
    assert text.splitlines() == [
        "LayerNorm on one token vector [interactive in JupyterLab; shown at "
        "input_scale=2.5, input_shift=3, eps=1e-05, gamma=1, beta=0]",
        "before LayerNorm: mean   3.0465, variance   6.3560",
        "after  LayerNorm: mean   0.0000, variance   1.0000",
    ]
