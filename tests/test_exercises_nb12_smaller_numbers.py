"""Notebook 12's your-turn check, check_quantize_per_channel: the hidden
solution is Correct and the skeleton Not yet; right answers written other
ways are Correct; each diagnosed mistake gets its own hint (and only when it
explains every case); junk never crashes the check nor passes it.

SKELETON and SOLUTION below are the cells notebooks/12_smaller_numbers.ipynb
holds (the skeleton cell, and the python block of its <details> fold):
test_the_notebook_holds_these_cells checks that they are these, and
tests/test_yourturn_notebooks.py runs them from the notebook."""

import math
import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import gpt_course
from gpt_course import quantize_per_channel, speaking
from gpt_course.exercises.nb12_smaller_numbers import check_quantize_per_channel

SKELETON = '''\
def quantize_per_channel(w):
    """w: a [out, in] float32 weight -> (q [out, in] int8, scales [out])."""
    # TODO 1: scales: the largest |w| of each row (output channel), divided by 127
    # TODO 2: a row of zeros has scale 0: replace it by 1 (any scale gives q = 0 there)
    # TODO 3: q: w / scales (one per row), rounded to the nearest whole number, clamped to [-127, 127]
    # TODO 4: return q as torch.int8, and scales
    raise NotImplementedError("your turn: write quantize_per_channel")


check_quantize_per_channel(quantize_per_channel)
'''

SOLUTION = '''\
def quantize_per_channel(w):
    """w: a [out, in] float32 weight -> (q [out, in] int8, scales [out])."""
    scales = w.abs().amax(dim=1) / 127
    scales = torch.where(scales == 0, torch.ones_like(scales), scales)
    q = torch.round(w / scales[:, None]).clamp(-127, 127)
    return q.to(torch.int8), scales


check_quantize_per_channel(quantize_per_channel)
'''


def run(code):
    namespace = {"torch": torch, "check_quantize_per_channel": check_quantize_per_channel}
    exec(compile(code, "<notebook 12 cell>", "exec"), namespace)


def says(capsys, answer, *phrases, never=()):
    verdict = check_quantize_per_channel(answer)
    out = capsys.readouterr().out
    for phrase in phrases:
        assert phrase in out, (phrase, out)
    for phrase in never:
        assert phrase not in out, (phrase, out)
    return verdict


# ------------------------------------------------------------- the cells


def test_hidden_solution_is_correct(capsys):
    run(SOLUTION)
    assert capsys.readouterr().out.startswith("Correct!")


def test_skeleton_says_not_yet(capsys):
    run(SKELETON)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "NotImplementedError" in out, out


def test_the_solution_keeps_every_line_of_the_skeleton():
    kept = [line for line in SKELETON.splitlines()
            if line.strip() and "TODO" not in line and "NotImplementedError" not in line]
    for line in kept:
        assert line in SOLUTION.splitlines(), line


def test_verdicts_speak_chinese():
    import io
    from contextlib import redirect_stdout
    for code, start in ((SOLUTION, "正确！"), (SKELETON, "还不对：")):
        out = io.StringIO()
        with speaking("zh"), redirect_stdout(out):
            run(code)
        assert out.getvalue().startswith(start), out.getvalue()


def test_the_notebook_holds_these_cells():
    from solutions import skeleton_code, solution_code
    assert solution_code("12_smaller_numbers", "check_quantize_per_channel").strip() == SOLUTION.strip()
    assert skeleton_code("12_smaller_numbers", "check_quantize_per_channel").strip() == SKELETON.strip()


# ------------------------------------------------------------- right, written other ways


def amax_keepdim_clamp_min(w):
    scales = w.abs().amax(dim=1, keepdim=True) / 127  # [out, 1]
    scales = scales.clamp(min=1e-12)
    return (w / scales).round().clamp(-127, 127).to(torch.int8), scales


def max_values_and_char(w):
    scales = w.abs().max(dim=1).values / 127
    scales[scales == 0] = 1.0
    return torch.clamp(torch.round(w / scales.unsqueeze(1)), -127, 127).char(), scales


def multiply_by_127_over_max(w):
    biggest = w.abs().amax(1, keepdim=True)
    ratio = torch.where(biggest > 0, w * (127 / biggest), torch.zeros_like(w))
    return ratio.round().to(torch.int8), (biggest / 127).squeeze(1)


def row_by_row(w):
    q = torch.empty(w.shape, dtype=torch.int8)
    scales = torch.empty(w.shape[0])
    for j, row in enumerate(w):
        s = float(row.abs().max()) / 127 or 1.0
        scales[j] = s
        q[j] = torch.round(row / s).clamp(-127, 127).to(torch.int8)
    return q, scales


def float64_then_back(w):
    w64 = w.double()
    scales = w64.abs().amax(dim=1) / 127
    safe = torch.where(scales > 0, scales, 1.0)
    q = torch.round(w64 / safe[:, None]).clamp(-127, 127).to(torch.int8)
    return q, scales.float()


def half_away_from_zero(w):
    scales = w.abs().amax(dim=1, keepdim=True) / 127
    scales = torch.where(scales == 0, 1.0, scales)
    r = w / scales
    q = torch.sign(r) * torch.floor(r.abs() + 0.5)
    return q.clamp(-127, 127).to(torch.int8), scales


def numpy_version(w):
    a = w.numpy()
    scales = np.abs(a).max(axis=1) / 127
    scales[scales == 0] = 1
    q = np.clip(np.rint(a / scales[:, None]), -127, 127).astype(np.int8)
    return torch.from_numpy(q), torch.from_numpy(scales)


def list_not_tuple(w):
    scales = w.abs().amax(dim=1) / 127
    scales = torch.where(scales == 0, torch.ones_like(scales), scales)
    return [torch.round(w / scales[:, None]).to(torch.int8), scales]


@pytest.mark.parametrize("answer", [
    amax_keepdim_clamp_min, max_values_and_char, multiply_by_127_over_max, row_by_row,
    float64_then_back, half_away_from_zero, numpy_version, list_not_tuple,
])
def test_right_formulations_are_correct(capsys, answer):
    assert says(capsys, answer, "Correct!")


def test_what_the_function_prints_does_not_bury_the_verdict(capsys):
    def chatty(w):
        for _ in range(50):
            print("debug", w.shape)
        return max_values_and_char(w)
    verdict = check_quantize_per_channel(chatty)
    out = capsys.readouterr().out
    assert verdict and out.startswith("Correct!") and "debug" not in out


def test_the_check_leaves_the_learners_state_as_found():
    torch.manual_seed(7)
    random.seed(7)
    state = torch.get_rng_state()
    torch.set_grad_enabled(False)
    try:
        check_quantize_per_channel(max_values_and_char)
        assert not torch.is_grad_enabled()
    finally:
        torch.set_grad_enabled(True)
    assert torch.equal(state, torch.get_rng_state())
    assert torch.get_default_dtype() == torch.float32


# ------------------------------------------------------------- each mistake, named


def _scales(w, divisor=127, how="max", dim=1):
    a = w.abs()
    s = (a.amax(dim=dim) if how == "max" else a.mean(dim=dim)) / divisor
    return torch.where(s == 0, torch.ones_like(s), s)


def _right(w):
    return w.abs().amax(dim=1) / 127


MISTAKES = [
    ("one scale", lambda w: (torch.round(w / (w.abs().max() / 127)).to(torch.int8),
                             w.abs().max() / 127), "one scale for the whole matrix"),
    ("one scale, repeated per row", lambda w: (
        torch.round(w / (w.abs().max() / 127)).to(torch.int8),
        (w.abs().max() / 127).repeat(w.shape[0])), "one scale for the whole matrix"),
    ("per input channel", lambda w: (
        torch.round(w / _scales(w, dim=0)).clamp(-127, 127).to(torch.int8), _scales(w, dim=0)),
     "per input channel"),
    ("truncation", lambda w: ((w / _scales(w)[:, None]).to(torch.int8), _scales(w)),
     "cut towards zero"),
    ("int() truncation", lambda w: ((w / _scales(w)[:, None]).int().to(torch.int8), _scales(w)),
     "cut towards zero"),
    ("floor", lambda w: (torch.floor(w / _scales(w)[:, None]).to(torch.int8), _scales(w)),
     "rounded down"),
    ("128 wraps", lambda w: (torch.round(w / _scales(w, 128)[:, None]).to(torch.int8),
                             _scales(w, 128)), "divide by 127, not 128"),
    ("128 clamped", lambda w: (torch.round(w / _scales(w, 128)[:, None]).clamp(-128, 127)
                               .to(torch.int8), _scales(w, 128)), "divide by 127, not 128"),
    ("mean, clamped", lambda w: (torch.round(w / _scales(w, how="mean")[:, None])
                                 .clamp(-127, 127).to(torch.int8), _scales(w, how="mean")),
     "mean of |w|"),
    ("mean, no clamp", lambda w: (torch.round(w / _scales(w, how="mean")[:, None])
                                  .to(torch.int8), _scales(w, how="mean")), "mean of |w|"),
    ("float q", lambda w: (torch.round(w / _scales(w)[:, None]), _scales(w)),
     "q is torch.float32"),
    ("int16 q", lambda w: (torch.round(w / _scales(w)[:, None]).to(torch.int16), _scales(w)),
     "dtype torch.int16"),
    ("uint8 q", lambda w: (torch.round(w / _scales(w)[:, None]).to(torch.uint8), _scales(w)),
     "torch.uint8"),
    ("zero row: NaN in float q", lambda w: (
        torch.round(w / (w.abs().amax(1) / 127)[:, None]), w.abs().amax(1) / 127),
     "has max 0, so its scale is 0"),
    ("zero row: NaN cast to int8", lambda w: (
        torch.round(w / (w.abs().amax(1) / 127)[:, None]).clamp(-127, 127).to(torch.int8),
        w.abs().amax(1) / 127), "turned that NaN into int8"),
    ("zero row: NaN scale", lambda w: (
        torch.round(w / _scales(w)[:, None]).to(torch.int8),
        torch.where(_right(w) == 0, math.nan, _right(w))), "has max 0, so its scale is 0"),
    ("zero row: negative scale", lambda w: (
        torch.round(w / _scales(w)[:, None]).to(torch.int8),
        torch.where(_right(w) == 0, -1.0, _right(w))), "any finite scale >= 0"),
    ("swapped", lambda w: (_scales(w), torch.round(w / _scales(w)[:, None]).to(torch.int8)),
     "swapped"),
    ("epsilon added to every scale", lambda w: (
        torch.round(w / (_scales(w) + 1e-3)[:, None]).to(torch.int8), _scales(w) + 1e-3),
     "nothing added"),
    ("transposed q", lambda w: (torch.round(w / _scales(w)[:, None]).to(torch.int8).T.contiguous(),
                                _scales(w)), "the same shape"),
    ("one off", lambda w: (torch.round(w / _scales(w)[:, None]).to(torch.int8).clamp(-126, 126),
                           _scales(w)), "must be the nearest whole number"),
]


@pytest.mark.parametrize("name, answer, hint", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_gets_its_hint(capsys, name, answer, hint):
    others = {h for _, _, h in MISTAKES if h != hint}
    assert not says(capsys, answer, "Not yet", hint, never=others)


def test_a_zero_row_done_right_any_way_is_correct(capsys):
    def zero_scale_kept(w):  # scale 0 on the zero row, q = 0 there, no NaN made
        scales = w.abs().amax(dim=1) / 127
        safe = torch.where(scales == 0, 1.0, scales)
        return torch.round(w / safe[:, None]).to(torch.int8), scales
    assert says(capsys, zero_scale_kept, "Correct!")


def test_the_course_answer_is_refused(capsys):
    assert not says(capsys, quantize_per_channel, "the course's own")
    assert not says(capsys, lambda w: gpt_course.quantize_per_channel(w), "runs the course's own")


def test_an_input_changed_in_place_is_refused(capsys):
    def in_place(w):
        scales = _scales(w)
        w /= scales[:, None]
        return w.round().to(torch.int8), scales
    assert not says(capsys, in_place, "changed w in place")


# ------------------------------------------------------------- junk


def raises_inside(w):
    raise KeyError("scales")


def never_returns_a_pair(w):
    return w


@pytest.mark.parametrize("answer, phrase", [
    (3, "pass your function"), ("quantize", "pass your function"), (torch.nn.Linear, "pass your function"),
    (raises_inside, "KeyError"), (never_returns_a_pair, "return two things"),
    (lambda w: None, "return two things"), (lambda w: (1, 2), "must be tensors"),
    (lambda w: (w, w, w), "return two things"), (lambda: 1, "TypeError"),
    (lambda w: (torch.zeros(0), torch.zeros(0)), "q has shape"),
    (lambda w: (w.to(torch.int8), torch.full((w.shape[0],), math.nan)), "Not yet"),
    (lambda w: (torch.zeros_like(w, dtype=torch.int8), torch.zeros(w.shape[0], dtype=torch.int8)),
     "scales has dtype"),
    (lambda w: (torch.zeros_like(w, dtype=torch.int8), torch.ones(w.shape[0]) * math.inf), "Not yet"),
    (lambda w: (torch.zeros_like(w, dtype=torch.complex64), _scales(w)), "dtype torch.complex64"),
    (lambda w: (torch.zeros_like(w, dtype=torch.bool), _scales(w)), "dtype torch.bool"),
])
def test_junk_says_not_yet(capsys, answer, phrase):
    assert not says(capsys, answer, "Not yet", phrase)


def test_no_answer(capsys):
    assert not says(capsys, None, "No answer yet")


@settings(max_examples=40, deadline=None)
@given(q=st.one_of(st.none(), st.integers(-300, 300), st.floats(allow_nan=True),
                   st.sampled_from(["q", torch.int8, (), [1, 2]])),
       scales=st.one_of(st.none(), st.floats(allow_nan=True), st.integers(-5, 5)),
       q_dtype=st.sampled_from([torch.int8, torch.uint8, torch.int32, torch.float32, torch.float16]),
       shape_off=st.integers(-1, 1))
def test_hostile_answers_never_crash_nor_pass(q, scales, q_dtype, shape_off):
    def answer(w):
        rows, cols = w.shape
        qq = torch.full((rows, max(cols + shape_off, 0)), 0).to(q_dtype) if q is None else q
        if isinstance(q, (int, float)) and not isinstance(q, bool):
            qq = torch.full((rows, cols), float(q)).to(q_dtype) if math.isfinite(q) else \
                torch.full((rows, cols), q)
        ss = torch.full((rows,), float(scales)) if isinstance(scales, (int, float)) else scales
        return qq, ss
    import io
    from contextlib import redirect_stdout
    out = io.StringIO()
    with redirect_stdout(out):
        verdict = check_quantize_per_channel(answer)
    assert not verdict and "Not yet" in out.getvalue(), out.getvalue()
