"""Interactive explorers (ipywidgets), one module per concept notebook.

Every explorer is an `Explorer`: sliders and toggles, a matplotlib figure
rendered to a PNG image widget, and a text readout. In JupyterLab the widget is
live; where no widget front end runs (nbval, GitHub's preview) the same object
displays its current figure as a plain PNG and its readout as text, so a static
reader still sees something sensible and nbval compares stable text.
"""

from .base import Explorer, fixed_subplots, int_slider, slider

__all__ = ["Explorer", "fixed_subplots", "int_slider", "slider"]
