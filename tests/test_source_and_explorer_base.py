import ipywidgets as widgets
import numpy as np

from gpt_course import LayerNorm, show_source
from gpt_course.explorers import Explorer, slider


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
    assert bundle["image/png"].startswith("iVBOR")  # base64 of a PNG header


def test_explorer_set_rejects_unknown_controls():
    explorer = _line_explorer()
    try:
        explorer.set(slop=1.0)
    except KeyError as error:
        assert "slop" in str(error) and "slope" in str(error)
    else:
        raise AssertionError("expected KeyError")


def test_full_redraw_when_limits_change():
    explorer = _line_explorer()
    ax = explorer.figure.axes[0]
    background = explorer._background
    ax.set_ylim(-10, 10)
    explorer.update()
    assert explorer._background is not background
