"""The language the course speaks to the learner: English, or Chinese (简体中文).

Text is written once, in English, in the code that shows it. `tr` looks that
English up in the catalog of the language set (gpt_course/locale/zh/*.json,
English -> Chinese) when the text is shown, not when a module is imported:

    set_language("zh")                     # the first cell of every Chinese notebook
    tr("Not yet:")                         # -> "还不对："
    tr("{n} parameters", n=12)             # a template: translated, then formatted

Text without a translation stays English (a test makes sure there is none).
Setting Chinese also gives matplotlib and the explorers' static pictures a
Chinese font (see `cjk_font`), so figures show no missing-glyph boxes.
"""

import contextlib
import functools
import json
import logging
from pathlib import Path

__all__ = ["LANGUAGES", "cjk_font", "get_language", "set_language", "speaking", "tr"]

LANGUAGES = {"en": "English", "zh": "简体中文"}
LOCALE = Path(__file__).resolve().parent / "locale"

_language = "en"


def set_language(code):
    """Speak `code` ("en" or "zh") from now on: exercise verdicts and hints,
    explorer titles, labels and readouts."""
    global _language
    if not isinstance(code, str) or code not in LANGUAGES:
        raise ValueError(f"language must be one of {sorted(LANGUAGES)}, got {code!r}")
    _language = code
    if code == "zh":
        _use_cjk_font_in_matplotlib()


def get_language():
    """The language set: "en" (the default) or "zh"."""
    return _language


@contextlib.contextmanager
def speaking(code):
    """`with speaking("zh"): ...` speaks `code` inside the block only."""
    before = get_language()
    set_language(code)
    try:
        yield
    finally:
        set_language(before)


def tr(text, /, **values):
    """`text` (English) in the language set, formatted with `values` if any are
    given (then `text` is a str.format template: write literal braces as {{ }})."""
    template = catalog(_language).get(text, text) if _language != "en" else text
    return template.format(**values) if values else template


@functools.cache
def catalog(code):
    """English -> `code` for every text the course shows: all of locale/<code>/*.json."""
    merged = {}
    for path in sorted((LOCALE / code).glob("*.json")):
        for english, translated in json.loads(path.read_text(encoding="utf-8")).items():
            if merged.get(english, translated) != translated:
                raise ValueError(f"{path.name} translates {english!r} differently from "
                                 f"another file in {path.parent}: keep one translation")
            merged[english] = translated
    return merged


# ------------------------------------------------------------------ the font

# The Chinese font the course ships: Noto Sans CJK SC (and its Mono), cut down to
# the characters the course draws and renamed (scripts/subset_cjk_font.py; SIL Open
# Font License, gpt_course/fonts/OFL.txt). Fonts a learner's system may have come
# after it, for characters the course never draws itself.
FONTS = Path(__file__).resolve().parent / "fonts"
_COURSE_CJK_FONTS = {False: FONTS / "GPTCourseCJKsc-Regular.otf",
                     True: FONTS / "GPTCourseMonoCJKsc-Regular.otf"}
_SYSTEM_CJK_FONTS = (
    "NotoSansCJK", "NotoSansSC", "SourceHanSans", "wqy-zenhei", "wqy-microhei",
    "PingFang", "Hiragino Sans GB", "STHeiti", "msyh", "simhei", "Arial Unicode",
)


@functools.cache
def cjk_font(mono=False):
    """Path of a font file with Chinese glyphs: the course's own (a monospaced
    one if `mono`), else one the system has, else None."""
    if _COURSE_CJK_FONTS[mono].is_file():
        return str(_COURSE_CJK_FONTS[mono])
    return system_cjk_font()


@functools.cache
def system_cjk_font():
    """A full Chinese font the machine has (matplotlib's font search), or None."""
    from matplotlib import font_manager

    for wanted in _SYSTEM_CJK_FONTS:
        for path in sorted(font_manager.findSystemFonts()):
            if wanted.lower() in Path(path).name.lower():
                return path
    return None


@functools.cache
def _use_cjk_font_in_matplotlib():
    """Add the Chinese font after DejaVu Sans in matplotlib's font list: Latin
    text keeps its look, and matplotlib falls back to the Chinese font glyph by
    glyph. Said once when there is no Chinese font."""
    paths = [path for path in dict.fromkeys([cjk_font(), system_cjk_font()]) if path]
    if not paths:
        print("No Chinese font found, so Chinese text in figures would show as boxes: the "
              "course's own (gpt_course/fonts/) is missing; restore it (git checkout -- "
              "gpt_course/fonts) and restart the kernel.")
        return
    import matplotlib
    from matplotlib import font_manager

    for path in paths:
        font_manager.fontManager.addfont(path)
    # The Chinese font has one weight: bold text is drawn regular, and matplotlib
    # would log that on every bold label.
    logging.getLogger("matplotlib.font_manager").addFilter(
        lambda record: "Failed to find font weight" not in record.getMessage())
    families = [font_manager.FontProperties(fname=path).get_name() for path in paths]
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", *families]
