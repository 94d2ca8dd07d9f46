"""Interactive explorers (ipywidgets), one module per concept notebook.

Every explorer is an `Explorer`: sliders and toggles, a matplotlib figure
rendered to a PNG image widget, and a text readout. In JupyterLab the widget is
live; where no widget front end runs (GitHub's preview, a notebook opened
before its kernel runs, nbval) the same object displays one PNG with its title,
the settings shown, the figure and the readout drawn in, and the readout as
text/plain, the stable text nbval compares.

Controls share one look: build them with `slider`, `log_slider` and
`int_slider`, or pass `style=control_style()` and `layout=control_layout()`
to any other ipywidgets control. A start value outside a slider's range
raises; a value a control cannot show (NaN, inf, beyond its ends, the wrong
type) is refused with a line in the readout, and the explorer goes on.
"""

from .base import (
    Explorer, control_layout, control_style, fixed_subplots, int_slider, log_slider, pad, slider,
)

__all__ = [
    "Explorer", "control_layout", "control_style", "fixed_subplots", "int_slider",
    "log_slider", "pad", "slider",
]
