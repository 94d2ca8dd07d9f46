"""Notebook 12's explorer: a precision slider over numbers measured in the
notebook (bytes per token, tokens/s against the bandwidth bound, quality
against float32), checked here on made-up measurements."""

import pytest

from gpt_course import Quality, set_language
from gpt_course.explorers.nb12_smaller_numbers import precision_explorer

BYTES = {"float32": 494.5e6, "bf16": 247.3e6, "int8": 124.4e6}
SPEED = {"float32": 19.9, "bf16": 26.6, "int8": 28.2}
BANDWIDTH = 27.0e9
QUALITY = {"bf16": Quality(0.0781, 0.985, 6.0013, 6.0020, 1512),
           "int8": Quality(0.0335, 0.991, 6.0013, 6.0012, 1512)}


@pytest.fixture()
def explorer():
    return precision_explorer(BYTES, SPEED, BANDWIDTH, QUALITY)


def _shown(explorer):
    """The precision highlighted in each of the three panels."""
    return [[bar.get_facecolor() for bar in panel] for panel in explorer.handles["bars"]]


def test_each_precision_shows_its_own_numbers(explorer):
    assert explorer.values == {"precision": "int8"}
    lines = explorer.readout_text.splitlines()
    assert lines[0] == ("int8: 124.4 MB read per token; bound 217.0 tokens/s (27.0 GB/s / 124.4 MB); "
                        "measured 28.2 tokens/s, 13% of its bound")
    assert lines[1] == ("quality against float32: top-1 agreement 99.1%, largest logit change "
                        "0.0335, loss 6.0012 (float32 6.0013)")
    png = explorer.png()
    explorer.set(precision="float32")
    assert explorer.readout_text.splitlines() == [
        "float32: 494.5 MB read per token; bound 54.6 tokens/s (27.0 GB/s / 494.5 MB); "
        "measured 19.9 tokens/s, 36% of its bound",
        "float32 is the reference the other two are compared with"]
    assert explorer.png() != png
    explorer.set(precision="bf16")
    assert "top-1 agreement 98.5%" in explorer.readout_text


def test_the_highlight_follows_the_slider(explorer):
    for precision, row in (("float32", 0), ("bf16", 1), ("int8", 2)):
        explorer.set(precision=precision)
        for panel in _shown(explorer):
            highlighted = [k for k, color in enumerate(panel) if color != panel[(k + 1) % 3]
                           and color != panel[(k + 2) % 3]]
            assert highlighted == [row]


def test_the_bound_is_bandwidth_over_bytes(explorer):
    ticks = [line.get_xdata()[0] for line in explorer.figure.axes[1].lines]
    assert ticks == pytest.approx([BANDWIDTH / BYTES[p] for p in ("float32", "bf16", "int8")])


def test_in_chinese():
    set_language("zh")
    try:
        readout = precision_explorer(BYTES, SPEED, BANDWIDTH, QUALITY).readout_text
    finally:
        set_language("en")
    assert readout.startswith("int8：每个词元读取 124.4 MB") and "一致率 99.1%" in readout


@pytest.mark.parametrize("args, error, words", [
    ((dict(BYTES, int8=None), SPEED, BANDWIDTH, QUALITY), TypeError, ["bytes_per_token['int8']"]),
    (({"float32": 1.0}, SPEED, BANDWIDTH, QUALITY), ValueError, ["bytes_per_token", "float32", "int8"]),
    ((BYTES, dict(SPEED, bf16=float("nan")), BANDWIDTH, QUALITY), ValueError, ["tokens_per_s['bf16']"]),
    ((BYTES, dict(SPEED, bf16=0), BANDWIDTH, QUALITY), ValueError, ["tokens_per_s['bf16']"]),
    ((BYTES, SPEED, -1.0, QUALITY), ValueError, ["bandwidth"]),
    ((BYTES, SPEED, BANDWIDTH, {"int8": QUALITY["int8"]}), ValueError, ["quality", "bf16"]),
    ((BYTES, SPEED, BANDWIDTH, dict(QUALITY, int8=0.99)), TypeError, ["quality['int8']", "Quality"]),
    ((BYTES, SPEED, BANDWIDTH, dict(QUALITY, int8=QUALITY["int8"]._replace(loss=float("inf")))),
     ValueError, ["quality['int8']", "not finite"]),
])
def test_bad_measurements_are_named(args, error, words):
    with pytest.raises(error) as raised:
        precision_explorer(*args)
    for word in words:
        assert word in str(raised.value)


def test_a_bad_start_precision_is_named():
    with pytest.raises(ValueError, match=r"precision must be one of \['float32', 'bf16', 'int8'\]"):
        precision_explorer(BYTES, SPEED, BANDWIDTH, QUALITY, precision="fp16")
