"""The one widget class every explorer is built from, and its controls."""

import base64
import functools
import html
import io
import math
import reprlib
import unicodedata
from numbers import Integral, Real
from pathlib import Path

import ipywidgets as widgets
import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont
from traitlets import TraitError

from ..language import cjk_font, get_language, tr

# The fonts matplotlib ships, so the static picture looks the same everywhere.
_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


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

    A value a control cannot show (NaN, inf, outside the slider's range, the
    wrong type), whether set from code, through `set` or by the browser, is
    refused: the control keeps its value and the readout starts with a line
    saying what was refused and what the control takes. An `update` that
    raises is shown the same way. Neither stops the explorer: the next good
    value is drawn exactly as a fresh explorer draws it.
    """

    def __init__(self, title, controls, setup, update, figsize=(8, 3.2), dpi=80):
        self.title = tr(title)  # English as written; shown in the language set
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
        self.message = ""  # what was refused, or why a setting could not be drawn
        self._drawn_readout = ""  # what `update` returned for the values shown
        self._setting = False  # inside `set`: one redraw at the end
        self._names = {id(control): name for name, control in self.controls.items()}
        for name, control in self.controls.items():
            _guard(control, functools.partial(self._given, name))
            control.observe(self._on_change, names="value")
        header = widgets.HTML(f"<b>{html.escape(self.title)}</b>")
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
        self.message = ""
        self._setting = True
        try:
            for name, value in values.items():
                control = self.controls[name]
                control.unobserve(self._on_change, names="value")
                try:
                    control.value = value  # a bad value is refused, with a message
                finally:
                    control.observe(self._on_change, names="value")
        finally:
            self._setting = False
        self._draw()
        return self

    def _on_change(self, change):
        control = change["owner"]
        problem = _problem(control, change["new"])
        if problem is not None:
            # Past the setter's check: the browser sends values through set_state.
            control.unobserve(self._on_change, names="value")
            try:
                control.set_trait("value", change["old"])
            finally:
                control.observe(self._on_change, names="value")
            self.message = self._refusal(self._names[id(control)], change["new"], problem)
            self._show_readout()
            return
        self.message = ""
        self._draw()

    def _given(self, name, value, problem, changed):
        """Called by a control for every value given to it from code (see _Guarded)."""
        if problem is not None:
            refusal = self._refusal(name, value, problem)
            # In `set`, several values can be refused at once: keep every message.
            self.message = "\n".join(m for m in (self.message if self._setting else "", refusal) if m)
            if not self._setting:
                self._show_readout()
        elif not changed and self.message and not self._setting:
            # The good value the control already held: no change event, so
            # take the message away here.
            self.message = ""
            self._draw()

    def _refusal(self, name, value, problem):
        """The readout's line for a refused value."""
        kind, *details = problem
        shown = dict(name=name, value=_shown(value), current=_shown(self.controls[name].value))
        if kind in ("number", "whole"):
            low, high = (_fmt(bound) for bound in details)
            if kind == "number":
                return tr("{name} = {value} was refused: {name} takes a number from {low} to "
                          "{high}; still showing {name} = {current}", low=low, high=high, **shown)
            return tr("{name} = {value} was refused: {name} takes a whole number from {low} to "
                      "{high}; still showing {name} = {current}", low=low, high=high, **shown)
        if kind == "bool":
            return tr("{name} = {value} was refused: {name} takes True or False; still showing "
                      "{name} = {current}", **shown)
        if kind == "choice":
            return tr("{name} = {value} was refused: {name} takes one of {choices}; still "
                      "showing {name} = {current}", choices=", ".join(details[0]), **shown)
        return tr("{name} = {value} was refused ({error}); still showing {name} = {current}",
                  error=details[0], **shown)

    def _draw(self):
        """`update`, showing an error in the readout instead of raising it: a
        control's observer has nowhere else to show it (JupyterLab only logs
        it), and the next change redraws everything."""
        try:
            self.update()
        except Exception as error:  # noqa: BLE001 - shown to the learner, not swallowed
            self.full_redraw = True
            self._drawn_readout = ""
            self.message = tr("this setting could not be drawn ({error}); try another value",
                              error=_error_text(error))
            self._show_readout()

    def update(self):
        readout = self._update_artists(self.handles, **self.values) or ""
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
        self._drawn_readout = readout
        self._show_readout()

    def _show_readout(self):
        """The readout: a message (if any) above what `update` returned."""
        self.readout_text = "\n".join(text for text in (self.message, self._drawn_readout) if text)
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

    def static_png(self):
        """What a reader sees where no widget runs (GitHub, a notebook opened
        before its kernel runs, nbconvert): one PNG with the title and the
        settings shown above the figure and the readout under it, as in the
        live widget. Those views render the image/png, not text/plain, so the
        readout has to be in the picture to be seen."""
        figure = Image.frombuffer(
            "RGBA", self._canvas.get_width_height(), self._canvas.buffer_rgba()
        ).convert("RGB")
        width = figure.width
        title_font, note_font, mono_font = _static_fonts()
        pad = 8
        text_width = width - 2 * pad
        header = [(line, title_font, "#111111") for line in _wrap(self.title, title_font, text_width)]
        header += [(line, note_font, "#555555")
                   for line in _wrap(self.static_note(), note_font, text_width)]
        readout = [line for text_line in self.readout_text.expandtabs().splitlines()
                   for line in _wrap(text_line, mono_font, text_width)]
        header_height = pad + sum(_line_height(font) for _, font, _ in header) + pad // 2
        readout_height = (2 * pad + len(readout) * _line_height(mono_font)) if readout else 0
        picture = Image.new("RGB", (width, header_height + figure.height + readout_height), "white")
        draw = ImageDraw.Draw(picture)
        y = pad
        for line, font, colour in header:
            draw.text((pad, y), line, font=font, fill=colour)
            y += _line_height(font)
        picture.paste(figure, (0, header_height))
        if readout:
            # A light box like the live readout's <pre>, so it reads as text, not as a label.
            top = header_height + figure.height
            draw.rectangle([pad // 2, top + 2, width - 1 - pad // 2, picture.height - 3],
                           fill="#f4f4f4", outline="#dddddd")
            y = top + pad
            for line in readout:
                draw.text((pad, y), line, font=mono_font, fill="#111111")
                y += _line_height(mono_font)
        buffer = io.BytesIO()
        picture.save(buffer, format="png")
        return buffer.getvalue()

    def static_note(self):
        """The line that tells a static reader what they are looking at."""
        settings = ", ".join(f"{name}={_fmt(value)}" for name, value in self.values.items())
        return tr("interactive in JupyterLab; shown at {settings}", settings=settings)

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        # Where no widget front end runs (nbval, GitHub's preview, a notebook
        # before its kernel runs) the picture stands in for the live widget,
        # readout included. No text/html on purpose: JupyterLab and GitHub
        # would show it instead of the image, and nbval compares text/html,
        # so an image inside it would make the comparison byte-exact on pixels.
        # nbval compares text/plain: it is stable, with no memory addresses or
        # model ids, and holds the same readout.
        bundle["image/png"] = base64.b64encode(self.static_png()).decode("ascii")
        bundle["text/plain"] = (
            f"{self.title} [{self.static_note()}]"
            + (f"\n{self.readout_text}" if self.readout_text else "")
        )
        return bundle


def _static_fonts():
    """Title, note and readout fonts of the static picture: matplotlib's own
    DejaVu fonts, or a Chinese font when the course speaks Chinese and the
    machine has one (see gpt_course.language.cjk_font)."""
    if get_language() == "zh" and cjk_font():
        return (ImageFont.truetype(cjk_font(), 14), ImageFont.truetype(cjk_font(), 12),
                ImageFont.truetype(cjk_font(mono=True), 13))
    return (ImageFont.truetype(str(_FONTS / "DejaVuSans-Bold.ttf"), 14),
            ImageFont.truetype(str(_FONTS / "DejaVuSans.ttf"), 12),
            ImageFont.truetype(str(_FONTS / "DejaVuSansMono.ttf"), 13))


def fixed_subplots(fig, nrows, ncols, **margins):
    """Subplots with fixed margins instead of constrained layout: the layout
    engine would rerun on every full redraw (a change of axis limits), doubling
    its cost, and the margins would jump with the tick labels."""
    fig.set_layout_engine("none")
    return fig.subplots(nrows, ncols, gridspec_kw=margins)


def _fmt(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def _shown(value):
    """A value given to a control, as a refusal message shows it: numbers as
    the static note writes them, anything else as its repr, cut short."""
    if isinstance(value, float):
        return f"{value:g}"
    return reprlib.repr(value)


def _error_text(error):
    return f"{type(error).__name__}: {error}"


# ---------------------------------------------------------------- refusing bad values

class _Guarded:
    """Mixed into the class of every control an Explorer holds (see _guard):
    a value given to the control from code is checked before the control
    sees it, so that what the control would otherwise take, clamp or raise
    about (NaN, inf, a value beyond the slider's ends, the wrong type) is
    refused: the control keeps its value and the explorer says why."""

    _explorer_hook = None  # the explorer's _given, bound to the control's name

    def __setattr__(self, name, value):
        hook = self._explorer_hook
        if name != "value" or hook is None:
            super().__setattr__(name, value)
            return
        old = self.value
        problem = _problem(self, value)
        if problem is None:
            try:
                super().__setattr__(name, value)  # the explorer redraws here
            except TraitError as error:  # a control this module has no check for
                problem = ("error", str(error))
        hook(value, problem, changed=problem is None and self.value != old)


@functools.cache
def _guarded_class(cls):
    # Same name, same widget model: the front end and the repr see no difference.
    return type(cls)(cls.__name__, (_Guarded, cls), {"__qualname__": cls.__qualname__})


def _guard(control, hook):
    """Make `control` refuse bad values and report them to `hook`."""
    if not isinstance(control, _Guarded):
        control.__class__ = _guarded_class(type(control))
    control._explorer_hook = hook


_SELECTIONS = (widgets.Dropdown, widgets.RadioButtons, widgets.Select, widgets.SelectionSlider,
               widgets.ToggleButtons)


def _options(control):
    """(label, value) for each option of a selection control, from its public
    `options` (values, (label, value) pairs, or a dict of them)."""
    options = control.options
    items = options.items() if isinstance(options, dict) else options
    return [(str(o[0]), o[1]) if isinstance(o, tuple) and len(o) == 2 else (str(o), o)
            for o in items]


def _problem(control, value):
    """None if `control` can show `value`, else what it takes: ("number", low,
    high), ("whole", low, high), ("bool",) or ("choice", labels)."""
    if isinstance(control, widgets.Checkbox):
        return None if isinstance(value, bool) else ("bool",)
    if isinstance(control, _SELECTIONS):
        pairs = _options(control)
        if any(value is v or (type(value) is type(v) and value == v) for _, v in pairs):
            return None
        return ("choice", [label for label, _ in pairs])
    bounds = _bounds(control)
    if bounds is None:
        return None
    low, high, whole = bounds
    kind = "whole" if whole else "number"
    if isinstance(value, bool) or not isinstance(value, Integral if whole else Real):
        return (kind, low, high)
    if not whole and not math.isfinite(value):
        return (kind, low, high)
    return None if low <= value <= high else (kind, low, high)


# ipywidgets' numeric controls, by their public names
_LOG_FLOATS = (widgets.FloatLogSlider,)
_BOUNDED_FLOATS = (widgets.FloatSlider, widgets.BoundedFloatText, widgets.FloatProgress)
_FLOATS = (widgets.FloatText,)
_BOUNDED_INTS = (widgets.IntSlider, widgets.BoundedIntText, widgets.IntProgress, widgets.Play)
_INTS = (widgets.IntText,)


def _bounds(control):
    """(low, high, whole numbers only) of a numeric control, or None."""
    if isinstance(control, _LOG_FLOATS):
        return control.base ** control.min, control.base ** control.max, False
    if isinstance(control, _BOUNDED_FLOATS):
        return control.min, control.max, False
    if isinstance(control, _FLOATS):
        return -math.inf, math.inf, False
    if isinstance(control, _BOUNDED_INTS):
        return control.min, control.max, True
    if isinstance(control, _INTS):
        return -math.inf, math.inf, True
    return None


def _check_start(name, value, low, high, whole=False):
    """Refuse a control's start value outside its range, which the control
    would clamp without a word (`name`: the argument it comes from)."""
    if isinstance(value, bool) or not isinstance(value, Integral if whole else Real):
        raise TypeError(f"{name} must be {'an int' if whole else 'a number'} in "
                        f"[{_fmt(low)}, {_fmt(high)}], got {value!r} ({type(value).__name__})")
    if not low <= value <= high:  # NaN is never in range
        raise ValueError(f"{name} must be {'an int' if whole else 'a number'} in "
                         f"[{_fmt(low)}, {_fmt(high)}] (the range of its slider), got "
                         f"{value!r}; give a value in that range")
    return value


def _line_height(font):
    ascent, descent = font.getmetrics()
    return ascent + descent + 2


def _wrap(line, font, width):
    """Split one line into pieces no wider than `width` pixels, at spaces
    where possible; continuation lines are indented by two spaces."""
    pieces = []
    while font.getlength(line) > width:
        indent = len(line) - len(line.lstrip(" "))
        fits = indent + 1  # at least one character per piece, however narrow
        while fits < len(line) and font.getlength(line[:fits + 1]) <= width:
            fits += 1
        space = line.rfind(" ", 0, fits + 1)
        cut = space if space > indent else fits
        pieces.append(line[:cut].rstrip())
        rest = line[cut:].lstrip()
        if not rest:
            return pieces
        line = "  " + rest
    pieces.append(line)
    return pieces


def control_style(**extra):
    """The style every explorer control shares: a label column wide enough to
    read (pass e.g. button_width="70px" for ToggleButtons)."""
    return {"description_width": "120px", **extra}


def control_layout():
    """The layout every explorer slider shares (a fresh one per control)."""
    return widgets.Layout(width="95%")


def slider(description, value, min, max, step, readout_format=".2f", *, name=None):
    """A FloatSlider wide enough to read its label. A `value` outside [min, max]
    raises, naming `name` (the argument it comes from; else `description`)."""
    _check_start(name or description, value, min, max)
    return widgets.FloatSlider(
        value=value, min=min, max=max, step=step, description=description,
        readout_format=readout_format, continuous_update=True,
        style=control_style(), layout=control_layout(),
    )


def log_slider(description, value, min_exp, max_exp, readout_format=".2f", step=0.05, *,
               name=None):
    """A FloatLogSlider (powers of ten from 10**min_exp to 10**max_exp) styled like `slider`."""
    _check_start(name or description, value, 10 ** min_exp, 10 ** max_exp)
    return widgets.FloatLogSlider(
        value=value, base=10, min=min_exp, max=max_exp, step=step,
        description=description, readout_format=readout_format, continuous_update=True,
        style=control_style(), layout=control_layout(),
    )


def int_slider(description, value, min, max, step=1, *, name=None):
    """An IntSlider styled like `slider`; `value` must be an int in [min, max]."""
    _check_start(name or description, value, min, max, whole=True)
    return widgets.IntSlider(
        value=value, min=min, max=max, step=step, description=description,
        continuous_update=True, style=control_style(), layout=control_layout(),
    )


def pad(text, width, align="<"):
    """`text` padded with spaces to `width` columns of a monospaced readout,
    left- ("<") or right-aligned (">"). A Chinese character takes two columns,
    which str.ljust / format specs would count as one."""
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    spaces = " " * max(0, width - columns)
    return text + spaces if align == "<" else spaces + text
