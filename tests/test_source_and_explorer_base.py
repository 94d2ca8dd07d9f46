import base64
import io

import numpy as np
import pytest
from PIL import Image

from gpt_course import LayerNorm, show_source
from gpt_course.explorers import (
    Explorer, control_layout, control_style, int_slider, log_slider, slider,
)


def test_show_source_displays_the_running_code():
    view = show_source(LayerNorm)
    html = view._repr_html_()
    assert "gpt_course.book.nb02_layer_norm" in html and "unbiased" in html
    assert "class LayerNorm" in repr(view)


def _line_explorer():
    x = np.linspace(-1, 1, 50)

    def setup(fig):
        ax = fig.subplots()
        ax.set_xlim(-1, 1)
        ax.set_ylim(-5, 5)
        (line,) = ax.plot(x, x, animated=True)
        return line

    def update(line, slope):
        line.set_ydata(slope * x)
        return f"slope {slope:.1f}"

    return Explorer("Line", {"slope": slider("slope", 1.0, -4.0, 4.0, 0.5)}, setup, update)


def test_explorer_redraws_on_control_change():
    explorer = _line_explorer()
    first_png = explorer.image.value
    explorer.controls["slope"].value = 3.0  # as a learner dragging the slider
    assert explorer.readout_text == "slope 3.0"
    assert explorer.image.value != first_png
    assert "slope 3.0" in explorer.readout.value
    np.testing.assert_allclose(explorer.handles.get_ydata()[-1], 3.0)


def test_explorer_static_display_is_stable_text_and_png():
    explorer = _line_explorer().set(slope=-2.0)
    bundle = explorer._repr_mimebundle_()
    assert bundle["text/plain"] == "Line [interactive in JupyterLab; shown at slope=-2]\nslope -2.0"
    assert "application/vnd.jupyter.widget-view+json" in bundle
    # The static picture, readout drawn in; no text/html, which JupyterLab and
    # GitHub would show instead of the picture (and nbval would compare).
    assert base64.b64decode(bundle["image/png"]) == explorer.static_png()
    assert "text/html" not in bundle


def _pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _text_explorer(text):
    """An explorer whose readout is whatever `text` holds when it updates."""

    def setup(fig):
        ax = fig.subplots()
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        (point,) = ax.plot([0.5], [0.5], "o", animated=True)
        return point

    def update(point, x):
        point.set_xdata([x])
        return text["readout"]

    return Explorer("Text", {"x": slider("x", 0.5, 0.0, 1.0, 0.1)}, setup, update)


def _layout(explorer):
    """(top of the figure, figure height, the picture) in the static PNG."""
    picture = _pixels(explorer.static_png())
    figure = _pixels(explorer.png())
    assert picture.shape[1] == figure.shape[1]  # as wide as the figure: nothing to scroll
    tops = [top for top in range(picture.shape[0] - figure.shape[0] + 1)
            if np.array_equal(picture[top:top + figure.shape[0]], figure)]
    assert len(tops) == 1, "the figure appears once, unchanged, in the static picture"
    return tops[0], figure.shape[0], picture


def _dark(region):
    return (region.max(axis=-1) < 100).sum()  # text is drawn in near-black


def test_static_png_draws_title_settings_and_readout_around_the_figure():
    text = {"readout": "slope 1.0"}
    explorer = _text_explorer(text)
    top, height, picture = _layout(explorer)
    assert explorer.static_note() == "interactive in JupyterLab; shown at x=0.5"
    assert _dark(picture[:top]) > 50  # the title above the figure
    below = picture[top + height:]
    assert _dark(below) > 50  # the readout under it

    text["readout"] = "slope 3.0"
    explorer.update()
    top2, _, picture2 = _layout(explorer)
    assert top2 == top and picture2.shape == picture.shape
    assert not np.array_equal(picture2[top + height:], below)  # the new readout is drawn

    text["readout"] = "one\ntwo\nthree"
    explorer.update()
    _, _, three_lines = _layout(explorer)
    line_height = (three_lines.shape[0] - picture.shape[0]) / 2
    assert 10 <= line_height <= 30  # each readout line adds one line of text

    text["readout"] = ""
    explorer.update()
    top3, height3, nothing = _layout(explorer)
    assert nothing.shape[0] == top3 + height3  # no readout, no empty box


def test_static_png_wraps_long_readout_lines_instead_of_cutting_them():
    text = {"readout": "short line"}
    explorer = _text_explorer(text)
    _, _, one_line = _layout(explorer)
    text["readout"] = " ".join(f"word{i}" for i in range(60))  # ~400 characters
    explorer.update()
    top, height, wrapped = _layout(explorer)
    assert wrapped.shape[1] == one_line.shape[1]
    assert wrapped.shape[0] - one_line.shape[0] >= 3 * 10  # several more lines
    readout = wrapped[top + height:]
    columns_with_text = np.nonzero((readout.max(axis=-1) < 100).any(axis=0))[0]
    assert columns_with_text.max() < readout.shape[1] - 4  # inside the picture, not cut


def test_controls_share_one_style():
    controls = [slider("a", 1.0, 0.0, 2.0, 0.1), int_slider("b", 1, 0, 5),
                log_slider("c", 1e-3, -6, 0, ".0e")]
    for control in controls:
        assert control.style.description_width == control_style()["description_width"]
        assert control.layout.width == control_layout().width
    assert controls[2].min == -6 and controls[2].max == 0 and controls[2].base == 10
    assert control_style(button_width="70px") == {"description_width": "120px",
                                                  "button_width": "70px"}
    assert controls[0].layout is not controls[1].layout  # each control its own layout


def test_explorer_set_rejects_unknown_controls():
    explorer = _line_explorer()
    with pytest.raises(KeyError, match=r"no control\(s\) \['slop'\]; controls are \['slope'\]"):
        explorer.set(slop=1.0)


def test_full_redraw_when_limits_change():
    explorer = _line_explorer()
    ax = explorer.figure.axes[0]
    background = explorer._background
    ax.set_ylim(-10, 10)
    explorer.update()
    assert explorer._background is not background
