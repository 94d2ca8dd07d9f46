"""The one widget class every explorer is built from."""

import base64
import html
import io

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image


class Explorer(widgets.VBox):
    """Controls + a matplotlib figure + a text readout, redrawn on every change.

    `setup(fig)` draws what stays put (axes, labels, reference curves) and
    creates the artists that change with `animated=True`; it returns whatever
    `update` needs (e.g. a dict of those artists).
    `update(handles, **values)` moves the animated artists to the new control
    values and returns the readout text.

    Only the animated artists are redrawn on top of a cached background
    (blitting), which keeps an update around 10 ms instead of ~100 ms for a
    full matplotlib redraw. If `update` changes an axis limit, or sets
    `explorer.full_redraw = True`, the background is redrawn too.
    """

    def __init__(self, title, controls, setup, update, figsize=(8, 3.2), dpi=80):
        self.title = title
        self.controls = dict(controls)
        self._update_artists = update
        self.figure = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        self._canvas = FigureCanvasAgg(self.figure)
        self.handles = setup(self.figure)
        self.full_redraw = True
        self._limits = None
        self._background = None
        # flex-start: shown at its drawn size, not stretched (and blurred) to the cell width
        self.image = widgets.Image(
            format="png", layout=widgets.Layout(align_self="flex-start", max_width="100%")
        )
        self.readout = widgets.HTML()
        self.readout_text = ""
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        header = widgets.HTML(f"<b>{html.escape(title)}</b>")
        controls_box = widgets.GridBox(
            list(self.controls.values()),
            layout=widgets.Layout(grid_template_columns="repeat(2, minmax(260px, 1fr))"),
        )
        super().__init__([header, controls_box, self.image, self.readout])
        self.update()

    @property
    def values(self):
        return {name: control.value for name, control in self.controls.items()}

    def set(self, **values):
        """Set several controls at once, then redraw once (for tests and demos)."""
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            raise KeyError(f"no control(s) {unknown}; controls are {sorted(self.controls)}")
        for name, value in values.items():
            control = self.controls[name]
            control.unobserve(self._on_change, names="value")
            try:
                control.value = value
            finally:
                control.observe(self._on_change, names="value")
        self.update()
        return self

    def _on_change(self, change):
        self.update()

    def update(self):
        self.readout_text = self._update_artists(self.handles, **self.values) or ""
        limits = [(ax.get_xlim(), ax.get_ylim()) for ax in self.figure.axes]
        if self.full_redraw or limits != self._limits:
            self._canvas.draw()  # draws everything except the animated artists
            self._background = self._canvas.copy_from_bbox(self.figure.bbox)
            self._limits = limits
            self.full_redraw = False
        self._canvas.restore_region(self._background)
        animated = self.figure.findobj(lambda artist: artist.get_animated())
        for artist in sorted(animated, key=lambda artist: artist.get_zorder()):
            if artist.get_visible():
                self.figure.draw_artist(artist)
        self.image.value = self.png()
        self.readout.value = (
            "<pre style='margin:0;font-size:0.9em'>" + html.escape(self.readout_text) + "</pre>"
        )

    def png(self):
        """The figure as it is now, as PNG bytes."""
        pixels = Image.frombuffer(
            "RGBA", self._canvas.get_width_height(), self._canvas.buffer_rgba()
        )
        buffer = io.BytesIO()
        pixels.save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        # Where no widget front end runs (nbval, GitHub's preview) the figure and
        # the readout stand in for the live widget. The text is stable, so
        # nbval compares it; it has no memory addresses or model ids.
        settings = ", ".join(f"{name}={_fmt(value)}" for name, value in self.values.items())
        bundle["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        bundle["text/plain"] = (
            f"{self.title} [interactive in JupyterLab; shown at {settings}]"
            + (f"\n{self.readout_text}" if self.readout_text else "")
        )
        return bundle


def fixed_subplots(fig, nrows, ncols, **margins):
    """Subplots with fixed margins instead of constrained layout: the layout
    engine would rerun on every full redraw (a change of axis limits), doubling
    its cost, and the margins would jump with the tick labels."""
    fig.set_layout_engine("none")
    return fig.subplots(nrows, ncols, gridspec_kw=margins)


def _fmt(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def slider(description, value, min, max, step, readout_format=".2f"):
    """A FloatSlider wide enough to read its label."""
    return widgets.FloatSlider(
        value=value, min=min, max=max, step=step, description=description,
        readout_format=readout_format, continuous_update=True,
        style={"description_width": "120px"}, layout=widgets.Layout(width="95%"),
    )


def int_slider(description, value, min, max, step=1):
    """An IntSlider styled like `slider`."""
    return widgets.IntSlider(
        value=value, min=min, max=max, step=step, description=description,
        continuous_update=True,
        style={"description_width": "120px"}, layout=widgets.Layout(width="95%"),
    )
