"""Reliability, round three: every explorer refuses a bad argument with a clear
error, and a bad value reaching one of its controls (NaN, inf, out of range,
the wrong type) is refused with a message, after which the next good value
renders exactly as a fresh explorer renders it."""

import math
from numbers import Integral, Real

import ipywidgets as widgets
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpt_course import GPT_CONFIG_124M, GPTModel, Quality
from gpt_course.beyond.nb11_training import TrainingHistory
from gpt_course.explorers import Explorer, int_slider, log_slider, slider
from gpt_course.explorers.nb02_layer_norm import layer_norm_explorer
from gpt_course.explorers.nb03_gelu_vs_relu import gelu_explorer
from gpt_course.explorers.nb04_feed_forward import feed_forward_explorer
from gpt_course.explorers.nb05_shortcut_connections import shortcut_explorer
from gpt_course.explorers.nb06_transformer_block import attention_explorer
from gpt_course.explorers.nb07_gpt_model import model_size_explorer
from gpt_course.explorers.nb08_greedy_generation import generation_explorer
from gpt_course.explorers.nb09_faster_generation import sampling_explorer
from gpt_course.explorers.nb11_training_glimpse import training_explorer
from gpt_course.explorers.nb12_smaller_numbers import precision_explorer

NAN, INF = float("nan"), float("inf")

# The smallest models the explorers take: GPT-2's vocabulary (the text is
# GPT-2 tokens), everything else tiny.
TINY = {**GPT_CONFIG_124M, "context_length": 8, "emb_dim": 16, "n_heads": 2, "n_layers": 1}
TINY_ATTENTION = {**TINY, "context_length": 16, "n_layers": 2, "drop_rate": 0.0}
HISTORY = TrainingHistory(train_losses=[7.0, 6.0, 5.0, 4.0, 3.5, 3.0], val_steps=[3, 6],
                          val_losses=[6.5, 6.8])
TEXTS = ["gibberish", "some words", "the course's own words"]
# Notebook 12's measurements, made up: bytes per token, tokens/s, bandwidth, quality.
MEASURED = ({"float32": 494.5e6, "bf16": 247.3e6, "int8": 124.4e6},
            {"float32": 19.9, "bf16": 26.6, "int8": 28.2}, 27.0e9,
            {"bf16": Quality(0.078, 0.985, 6.0013, 6.0020, 1512),
             "int8": Quality(0.034, 0.991, 6.0013, 6.0012, 1512)})
DIVERGED = TrainingHistory(train_losses=[7.0, 6.0, 5.0, 4.0, INF, NAN], val_steps=[3, 6],
                           val_losses=[6.5, INF])


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(123)
    return GPTModel(TINY).eval()


def _factories(model):
    return {
        "nb02": layer_norm_explorer,
        "nb03": gelu_explorer,
        "nb04": feed_forward_explorer,
        "nb05": shortcut_explorer,
        "nb06": lambda: attention_explorer(cfg=TINY_ATTENTION),
        "nb07": model_size_explorer,
        "nb08": lambda: generation_explorer(model, "Hello, I am", max_new_tokens=4, top_k=5),
        "nb09": sampling_explorer,
        "nb11": lambda: training_explorer(HISTORY, TEXTS, 3, ln_vocab=7.6),
        "nb11-diverged": lambda: training_explorer(DIVERGED, TEXTS, 3, ln_vocab=7.6),
        "nb12": lambda: precision_explorer(*MEASURED),
    }


# ---------------------------------------------------------------- arguments

@pytest.mark.parametrize("make, kwargs, error, words", [
    (layer_norm_explorer, {"input_scale": 5.0}, ValueError, ["input_scale", "0.01", "3.98107", "5.0"]),
    (layer_norm_explorer, {"input_scale": 0.0}, ValueError, ["input_scale", "0.01"]),
    (layer_norm_explorer, {"input_shift": 10}, ValueError, ["input_shift", "[-4, 4]"]),
    (layer_norm_explorer, {"input_shift": "3"}, TypeError, ["input_shift", "'3'"]),
    (layer_norm_explorer, {"eps": 2.0}, ValueError, ["eps", "1e-06", "[1e-06, 1]"]),
    (layer_norm_explorer, {"gamma": -1.0}, ValueError, ["gamma", "[0, 3]"]),
    (layer_norm_explorer, {"beta": NAN}, ValueError, ["beta", "nan", "[-3, 3]"]),
    (layer_norm_explorer, {"gamma": True}, TypeError, ["gamma", "True"]),
    (layer_norm_explorer, {"dim": 0}, ValueError, ["dim"]),
    (layer_norm_explorer, {"dim": 8.0}, TypeError, ["dim"]),
    (layer_norm_explorer, {"seed": -1}, ValueError, ["seed"]),
    (gelu_explorer, {"x_range": 10.0}, ValueError, ["x_range", "[1, 8]"]),
    (gelu_explorer, {"x_range": INF}, ValueError, ["x_range", "inf"]),
    (gelu_explorer, {"probe": 7.0}, ValueError, ["probe", "[-6, 6]"]),
    (gelu_explorer, {"probe": NAN}, ValueError, ["probe", "nan"]),
    (gelu_explorer, {"n_points": 1}, ValueError, ["n_points"]),
    (feed_forward_explorer, {"emb_dim": 4096}, ValueError, ["emb_dim", "[64, 2048]"]),
    (feed_forward_explorer, {"emb_dim": 768.0}, TypeError, ["emb_dim", "int"]),
    (feed_forward_explorer, {"factor": 0}, ValueError, ["factor", "[1, 8]"]),
    (feed_forward_explorer, {"n_layers": 100}, ValueError, ["n_layers", "[1, 48]"]),
    (shortcut_explorer, {"depth": 13}, ValueError, ["depth", "[2, 12]"]),
    (shortcut_explorer, {"activation": "Tanh"}, ValueError, ["activation", "GELU", "'Tanh'"]),
    (shortcut_explorer, {"shortcut": 1}, TypeError, ["shortcut", "True or False"]),
    (shortcut_explorer, {"seed": 1000}, ValueError, ["seed", "[0, 999]"]),
    (attention_explorer, {"seed": -1}, ValueError, ["seed"]),
    (attention_explorer, {"seed": 1.5}, TypeError, ["seed"]),
    (attention_explorer, {"cfg": {"emb_dim": 8}}, ValueError, ["missing"]),
    (sampling_explorer, {"temperature": 5.0}, ValueError, ["temperature", "[0, 3]"]),
    (sampling_explorer, {"temperature": -1.0}, ValueError, ["temperature", "[0, 3]"]),
    (sampling_explorer, {"temperature": NAN}, ValueError, ["temperature", "nan", "[0, 3]"]),
    (sampling_explorer, {"temperature": "1"}, TypeError, ["temperature"]),
])
def test_constructor_refuses_arguments_out_of_range(make, kwargs, error, words):
    """No silent clamping: the error names the argument, what it got, and the
    range the slider allows."""
    with pytest.raises(error) as info:
        make(**kwargs)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


@pytest.mark.parametrize("prompt, error", [(None, TypeError), ("", ValueError), (7, TypeError)])
def test_generation_explorer_names_a_bad_prompt(tiny_model, prompt, error):
    with pytest.raises(error, match="prompt"):
        generation_explorer(tiny_model, prompt)


def test_training_explorer_refuses_losses_that_are_not_numbers():
    history = TrainingHistory(train_losses=[7.0, "6.0", 5.0], val_steps=[3], val_losses=[6.5])
    with pytest.raises(TypeError, match="train_losses"):
        training_explorer(history, ["a", "b"], 3)


@pytest.mark.parametrize("make, args, words", [
    (slider, ("x", 5.0, 0.0, 1.0, 0.1), ["x", "[0, 1]", "5.0"]),
    (log_slider, ("eps", 10.0, -6, 0), ["eps", "[1e-06, 1]", "10.0"]),
    (int_slider, ("n", 0, 1, 5), ["n", "[1, 5]", "0"]),
])
def test_control_helpers_refuse_a_start_value_outside_their_range(make, args, words):
    with pytest.raises(ValueError) as info:
        make(*args)
    for word in words:
        assert word in str(info.value)


# ---------------------------------------------------------------- controls

def _assert_renders_like_a_fresh_one(explorer, fresh):
    assert explorer.values == fresh.values
    assert explorer.readout_text == fresh.readout_text
    assert explorer.png() == fresh.png()


@pytest.mark.parametrize("key, name, bad, good", [
    ("nb02", "gamma", NAN, 2.0),
    ("nb02", "eps", INF, 0.001),
    ("nb02", "input_scale", -1.0, 1.0),
    ("nb03", "x_range", NAN, 2.0),
    ("nb03", "x_range", NAN, 4.0),   # the value it had: the curves are drawn again
    ("nb03", "probe", NAN, 0.5),
    ("nb03", "probe", 1e300, -1.0),
    ("nb04", "emb_dim", NAN, 256),
    ("nb04", "factor", 100, 2),
    ("nb05", "depth", INF, 8),
    ("nb05", "activation", "Tanh", "ReLU"),
    ("nb05", "shortcut", NAN, True),
    ("nb06", "head", 0, 2),
    ("nb07", "n_heads", NAN, 16),
    ("nb08", "step", 99, 2),
    ("nb09", "temperature", NAN, 0.5),
    ("nb09", "top_p", -INF, 0.5),
    ("nb11", "epoch", -1, 1),
])
def test_bad_value_then_good_value_renders_like_a_fresh_explorer(tiny_model, key, name, bad,
                                                                 good):
    make = _factories(tiny_model)[key]
    explorer = make()
    before = explorer.controls[name].value
    explorer.controls[name].value = bad  # from code, or a text box linked to the control
    assert explorer.controls[name].value == before  # refused at the control
    first_line = explorer.readout_text.splitlines()[0]
    assert name in first_line and "refused" in first_line
    explorer.controls[name].value = good
    _assert_renders_like_a_fresh_one(explorer, make().set(**{name: good}))


def test_set_refuses_a_bad_value_with_a_message_and_recovers():
    explorer = gelu_explorer()
    explorer.set(probe=NAN, x_range=2.0)  # one bad value, one good one
    assert explorer.values == {"x_range": 2.0, "probe": -1.0}
    assert explorer.readout_text.splitlines()[0].startswith("probe = nan was refused")
    assert "probe x = -1.00" in explorer.readout_text
    explorer.set(probe=-1.0)  # the value it holds: the message goes
    _assert_renders_like_a_fresh_one(explorer, gelu_explorer().set(x_range=2.0))


def test_a_bad_value_from_the_front_end_is_undone():
    """Values from the browser arrive through set_state, past the setter."""
    explorer = layer_norm_explorer()
    explorer.controls["gamma"].set_state({"value": NAN})
    assert explorer.controls["gamma"].value == 1.0
    assert "gamma = nan was refused" in explorer.readout_text
    explorer.controls["gamma"].set_state({"value": 0.5})
    _assert_renders_like_a_fresh_one(explorer, layer_norm_explorer().set(gamma=0.5))


def _broken_sometimes():
    """An explorer whose update fails for one setting (a bug, say)."""

    def setup(fig):
        ax = fig.subplots()
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        return ax.plot([0.5], [0.5], "o", animated=True)[0]

    def update(point, x):
        point.set_xdata([x])
        if x == 0.3:
            raise RuntimeError("no picture for 0.3")
        return f"x {x:.1f}"

    return Explorer("Sometimes", {"x": slider("x", 0.5, 0.0, 1.0, 0.1)}, setup, update)


def test_an_update_that_fails_is_shown_and_the_next_value_renders():
    explorer = _broken_sometimes()
    explorer.controls["x"].value = 0.3
    assert "RuntimeError: no picture for 0.3" in explorer.readout_text
    explorer.controls["x"].value = 0.7
    _assert_renders_like_a_fresh_one(explorer, _broken_sometimes().set(x=0.7))


# ------------------------------------------------------ infinite losses (nb11)

def test_training_explorer_shows_infinite_and_nan_losses_and_keeps_working():
    explorer = training_explorer(DIVERGED, TEXTS, 3, ln_vocab=7.6)
    ax = explorer.figure.axes[0]
    bottom, top = ax.get_ylim()
    assert bottom == 0 and math.isfinite(top) and top >= 7.6  # the finite curve fits
    assert "inf" in explorer.readout_text and "not a finite number" in explorer.readout_text
    explorer.set(epoch=1)
    assert explorer.readout_text.startswith("after epoch 1 (step 3): training loss 6.000")
    assert "not a finite number" not in explorer.readout_text
    explorer.set(epoch=2)
    assert "not a finite number" in explorer.readout_text
    explorer.set(epoch=0)
    assert explorer.readout_text.startswith("after epoch 0 (step 0): before training")
    # the divergence is drawn at the top of the axes, where the curve leaves it
    assert any("not finite" in t.get_text() for t in ax.get_legend().get_texts())


def test_training_explorer_with_only_nan_losses_still_draws():
    history = TrainingHistory(train_losses=[NAN] * 3, val_steps=[3], val_losses=[NAN])
    explorer = training_explorer(history, ["a", "b"], 3)
    assert all(math.isfinite(v) for v in explorer.figure.axes[0].get_ylim())
    assert "nan" in explorer.readout_text


# ------------------------------------------------- properties, with Hypothesis

BAD = st.one_of(
    st.sampled_from([NAN, INF, -INF, 1e300, -1e300, -1, -1e9, 10**30, None, "1", True, [1]]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-10**12, 10**12),
)


def _valid(control, value):
    """Whether `value` is one the control can show (the test's own oracle)."""
    if isinstance(control, widgets.Checkbox):
        return isinstance(value, bool)
    if isinstance(control, (widgets.ToggleButtons, widgets.SelectionSlider)):
        return isinstance(value, str) and value in control.options
    if isinstance(value, bool):
        return False
    if isinstance(control, widgets.IntSlider):
        return isinstance(value, Integral) and control.min <= value <= control.max
    if not isinstance(value, Real) or not math.isfinite(value):
        return False
    if isinstance(control, widgets.FloatLogSlider):
        low, high = control.base ** control.min, control.base ** control.max
    else:
        low, high = control.min, control.max
    return low <= value <= high


def _good(control):
    if isinstance(control, widgets.Checkbox):
        return st.booleans()
    if isinstance(control, (widgets.ToggleButtons, widgets.SelectionSlider)):
        return st.sampled_from(list(control.options))
    if isinstance(control, widgets.IntSlider):
        return st.integers(control.min, control.max)
    if isinstance(control, widgets.FloatLogSlider):
        return st.floats(control.base ** control.min, control.base ** control.max)
    return st.floats(control.min, control.max)


def _moves(explorer):
    names = sorted(explorer.controls)
    move = st.sampled_from(names).flatmap(
        lambda name: st.tuples(st.just(name), st.one_of(BAD, _good(explorer.controls[name]))))
    last = st.sampled_from(names).flatmap(
        lambda name: st.tuples(st.just(name), _good(explorer.controls[name])))
    return st.tuples(st.lists(move, min_size=1, max_size=2), last)


@pytest.mark.parametrize("key", ["nb02", "nb03", "nb04", "nb05", "nb06", "nb07", "nb08", "nb09",
                                 "nb11", "nb11-diverged", "nb12"])
def test_any_value_gives_a_render_or_a_message_and_the_next_good_value_recovers(tiny_model, key):
    make = _factories(tiny_model)[key]
    explorer, reference = make(), make()
    cache = {}

    def expected(values):
        """The readout and picture of an explorer that only ever saw good values."""
        frozen = tuple(sorted(values.items()))
        if frozen not in cache:
            reference.set(**values)
            cache[frozen] = (reference.readout_text, reference.png())
        return cache[frozen]

    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(_moves(explorer))
    def check(moves):
        steps, (last_name, last_value) = moves
        for name, value in steps:
            control = explorer.controls[name]
            before = explorer.values
            control.value = value  # never raises
            if _valid(control, value):
                assert control.value == value
                assert explorer.readout_text == expected(explorer.values)[0]
            else:
                assert explorer.values == before  # refused at the control
                message, _, rest = explorer.readout_text.partition("\n")
                assert message.startswith(f"{name} = ") and "was refused" in message
                assert rest == expected(before)[0]
        explorer.controls[last_name].value = last_value
        readout, png = expected(explorer.values)
        assert explorer.readout_text == readout
        assert explorer.png() == png

    check()
