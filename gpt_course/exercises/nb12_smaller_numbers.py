"""Exercise check for notebook 12 (smaller numbers: bfloat16 and int8).

Your turn: ``quantize_per_channel(w) -> (q, scales)`` for a [out, in] float32
weight: one scale per output channel (row), scales[j] = max|w[j]| / 127;
q = w / scales rounded to the nearest whole number, in [-127, 127], as
torch.int8. scales may be shaped [out] or [out, 1]. A row of zeros must give
q = 0 there and a finite scale (any: 0 * scale is 0), without ever turning
0 / 0 = NaN into an integer (casting NaN to int8 gives 0 on some machines and
anything on others).

The check judges the answer against the maths, in float64: the scales within
float32 rounding of max|w[j]| / 127, and q a nearest whole number to
w / scales (so round-half-to-even and round-half-away both pass, as do
torch.round, .round(), amax or abs().max(dim=...), keepdim or not, a
multiplication by 127 / max instead of a division). When the answer is
wrong it names the mistake that explains every case: one scale for the whole
matrix, scales per input channel (the wrong axis), 128 instead of 127, the
mean instead of the max, truncation or floor instead of rounding, q returned
as float (or another integer type), NaN from a row of zeros.
"""

import contextlib
import io
import sys

import torch
from torch.overrides import TorchFunctionMode

from ..beyond.nb12_smaller_numbers import quantize_per_channel
from ..language import tr
from .base import NotYet, Verdict, describe_exception, no_answer_yet, report
from .code_check import not_written_yet
from .sandbox import explain_error, teacher, teacher_working

__all__ = ["check_quantize_per_channel"]

INT8_MAX = 127
# float32 rounding of max|w| / 127, many times over: a scale computed any right
# way lands within this (relative) of the exact one
SCALE_RTOL = 1e-5


def _cases():
    """Weights where each mistake shows: rows and columns of very different
    sizes (one scale, or scales per column, cannot fit them), a square one
    (the wrong axis has the right shape there), a row of zeros."""
    gen = torch.Generator().manual_seed(12)

    def weight(rows, cols, zero_row=None):
        w = torch.randn(rows, cols, generator=gen, dtype=torch.float64)
        w = w * torch.logspace(-1.3, 0.7, rows, dtype=torch.float64)[:, None]  # rows 0.05 to 5
        w = w * torch.linspace(0.3, 2.0, cols, dtype=torch.float64)[torch.randperm(cols, generator=gen)]
        if zero_row is not None:
            w[zero_row] = 0.0
        return w.float()

    return [weight(6, 10), weight(5, 5), weight(4, 8, zero_row=2), weight(7, 16)]


class _NanToInteger(TorchFunctionMode):
    """Notes whether a float tensor holding NaN is ever made into integers
    (NaN.to(torch.int8) is 0 on this machine, anything on another)."""

    def __init__(self):
        super().__init__()
        self.seen = False

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if (not self.seen and isinstance(out, torch.Tensor) and out.dtype != torch.bool
                and not out.is_floating_point() and not out.is_complex() and args
                and isinstance(args[0], torch.Tensor) and args[0].is_floating_point()
                and bool(torch.isnan(args[0]).any())):
            self.seen = True
        return out


class _CourseWatch:
    """Notes whether the course's own quantize_per_channel runs."""

    def __init__(self):
        self.seen = False
        self.code = quantize_per_channel.__code__

    def _profile(self, frame, event, arg):
        if event == "call" and frame.f_code is self.code:
            self.seen = True

    def __enter__(self):
        self.before = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self.before)


# ------------------------------------------------------------- the truth, in float64


def _right_scales(w):
    return w.double().abs().amax(dim=1) / INT8_MAX


def _flat_scales(scales, rows):
    """The answer's scales as a float64 [rows] tensor, or None if not so shaped."""
    if not isinstance(scales, torch.Tensor) or not scales.is_floating_point():
        return None
    if tuple(scales.shape) in ((rows,), (rows, 1)):
        return scales.detach().double().reshape(rows)
    return None


def _nearest(q, ratio):
    """True where q is a nearest whole number to `ratio` (either one at a tie)."""
    return (q - ratio).abs() <= 0.5 + 1e-6 * ratio.abs() + 1e-9


# ------------------------------------------------------------- the mistakes
# Each: (hint, scales of that mistake for a weight, or None if it keeps the
# right scales, and, for those keeping them, how it turns w / scales into q).

_ONE_SCALE = ("one scale for the whole matrix: a row of small weights then gets only a few of "
              "the 255 steps. Take the max per output channel, over each row: "
              "w.abs().amax(dim=1).")
_WRONG_AXIS = ("your scales are per input channel (per column, dim 0). Per output channel "
               "means per row of the [out, in] weight: w.abs().amax(dim=1), one scale per "
               "output.")
_HUNDRED_28 = ("divide by 127, not 128: int8 holds -128 to 127, so with max|w| / 128 the "
               "largest weight becomes 128, which does not fit (it wraps around to -128, or a "
               "clamp cuts it to 127). 127 keeps the range symmetric.")
_MEAN = ("scales come from the mean of |w|: the largest weights are then far beyond 127 steps "
         "and are clamped (or wrap around). Use the max: max|w[j]| / 127 maps the largest "
         "weight of each row to exactly +-127.")
_TRUNCATED = ("q is cut towards zero (.to(torch.int8) or .int() on w / scales truncates: 2.7 "
              "becomes 2). Round to the nearest whole number first: torch.round(w / scales).")
_FLOOR = ("q is rounded down (floor): -2.3 becomes -3. Round to the nearest whole number: "
          "torch.round(w / scales).")
_WRAPPED = ("some values went beyond 127 and wrapped around (int8 stores 128 as -128, 200 as "
            "-56): clamp to [-127, 127] before .to(torch.int8).")
_UNSIGNED = ("q is torch.uint8, which holds 0 to 255: every negative weight wraps around "
             "(-1 becomes 255). Use the signed torch.int8.")
_ZERO_ROW = ("a row of zeros has max 0, so its scale is 0 and w / scale is 0 / 0 = NaN. Replace "
             "a zero scale before dividing, e.g. torch.where(scales == 0, 1.0, scales) (any "
             "scale turns zeros into q = 0).")
_NAN_CAST = ("a row of zeros made 0 / 0 = NaN, and your code turned that NaN into int8. On this "
             "machine it came out as 0, on another it may not: replace a zero scale before "
             "dividing, e.g. torch.where(scales == 0, 1.0, scales).")


def _scale_mistakes(w):
    a = w.double().abs()
    return [
        (_ONE_SCALE, a.max().expand(w.shape[0]) / INT8_MAX),
        (_HUNDRED_28, a.amax(dim=1) / 128),
        (_MEAN, a.mean(dim=1) / INT8_MAX),
    ]


_ROUNDINGS = [(_TRUNCATED, torch.trunc), (_FLOOR, torch.floor)]


# ------------------------------------------------------------- the check


@teacher
def check_quantize_per_channel(quantize_per_channel_fn):
    """Your turn: quantize_per_channel(w) -> (q, scales) for a [out, in]
    float32 weight: scales[j] = max|w[j]| / 127 (shape [out] or [out, 1]),
    q = w / scales rounded to the nearest whole number, in [-127, 127], as
    torch.int8; a row of zeros gives q = 0 (no NaN on the way). Tried on four
    weights, a square one and one with a row of zeros among them."""
    fn = quantize_per_channel_fn
    if no_answer_yet(fn):
        return Verdict(False)
    if isinstance(fn, type) or not callable(fn):
        return report(False, "", tr("pass your function quantize_per_channel itself (without "
                                    "calling it), got {kind}.", kind=type(fn).__name__))
    if fn is quantize_per_channel:
        return report(False, "", tr("that is the course's own quantize_per_channel: pass the "
                                    "function you wrote."))
    with teacher_working():
        cases = _cases()
    answers = []
    for w in cases:
        given = w.clone()
        watch, nan_cast = _CourseWatch(), _NanToInteger()
        try:
            # what it prints (it runs four times) would bury the verdict
            with watch, nan_cast, contextlib.redirect_stdout(io.StringIO()):
                out = fn(given)
        except NotImplementedError as err:
            return report(False, "", not_written_yet("quantize_per_channel", err))
        except Exception as err:
            return report(False, "", tr("on a weight of shape {shape}: {error}",
                                        shape=list(w.shape), error=explain_error(err)))
        if watch.seen:
            return report(False, "", tr("your quantize_per_channel runs the course's own: the "
                                        "check compares with it, so that proves nothing. Write "
                                        "the computation yourself."))
        if not torch.equal(given, w):
            return report(False, "", tr("your function changed w in place (w /= ..., w.div_(...)): "
                                        "quantizing must leave the model's weight as it was. "
                                        "Write q = w / ... to make a new tensor."))
        answers.append((w, out, nan_cast.seen))
    try:
        return report(True, _judge(answers), "")
    except NotYet as not_yet:
        return report(False, "", str(not_yet))
    except Exception as err:  # a teacher never crashes: say what happened
        return report(False, "", tr("could not read your answer: {error}",
                                    error=describe_exception(err)))


def _judge(answers):
    """The success text, or NotYet naming what is wrong."""
    read = [(w, *_read(w, out), nan) for w, out, nan in answers]
    for w, q, scales, nan in read:  # shapes, in every case first
        _check_shapes(w, q, scales)
    _check_scales(read)
    _check_q(read)
    return ("scales = max|w[j]| / 127 per row and q = round(w / scales) in [-127, 127] as int8: "
            "every weight is now 1 byte instead of 4, and q * scales gives it back within half a "
            "step of its row.")


def _read(w, out):
    """(q, scales) from the answer, or NotYet on its form."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise NotYet(tr("return two things, (q, scales); got {kind}.", kind=_kind(out)))
    q, scales = out
    if not isinstance(q, torch.Tensor) or not isinstance(scales, torch.Tensor):
        raise NotYet(tr("q and scales must be tensors; got {q} and {scales}.", q=_kind(q),
                        scales=_kind(scales)))
    if (tuple(q.shape) != tuple(w.shape) and tuple(scales.shape) == tuple(w.shape)
            and not scales.is_floating_point()):
        raise NotYet(tr("q and scales are swapped: return (q, scales), q first."))
    return q.detach(), scales.detach()


def _kind(value):
    if isinstance(value, torch.Tensor):
        return tr("a tensor of shape {shape}", shape=list(value.shape))
    return type(value).__name__


def _check_shapes(w, q, scales):
    rows, cols = w.shape
    if tuple(q.shape) != (rows, cols):
        raise NotYet(tr("for a weight of shape {shape}, q has shape {got}: q is the weight in "
                        "whole numbers, the same shape.", shape=[rows, cols], got=list(q.shape)))
    if scales.numel() == 1 and rows > 1:
        raise NotYet(tr(_ONE_SCALE))
    if tuple(scales.shape) in ((cols,), (1, cols)) and cols != rows:
        raise NotYet(tr(_WRONG_AXIS))
    if tuple(scales.shape) not in ((rows,), (rows, 1)):
        raise NotYet(tr("for a weight of shape {shape}, scales has shape {got}: one scale per "
                        "output channel, shape [{rows}] (or [{rows}, 1]).", shape=[rows, cols],
                        got=list(scales.shape), rows=rows))
    if q.is_complex() or q.dtype == torch.bool:
        raise NotYet(tr("q has dtype {dtype}: store it as torch.int8 (1 byte a weight), "
                        "with q.to(torch.int8).", dtype=q.dtype))
    if not scales.is_floating_point():
        raise NotYet(tr("scales has dtype {dtype}: scales are fractions, keep them float32.",
                        dtype=scales.dtype))


def _check_scales(read):
    """Right scales in every case, or the mistake that explains them, or where they differ."""
    bad, zero_nan = [], False
    for w, q, scales, nan in read:
        s = _flat_scales(scales, w.shape[0])
        right = _right_scales(w)
        zero = right == 0
        zero_nan |= bool(torch.isnan(s[zero]).any()) or bool(torch.isnan(q.double()[zero]).any())
        ok = ((s - right).abs() <= SCALE_RTOL * right) | zero
        if not bool(ok.all()):
            bad.append((w, s, right, ok))
    if not bad:
        if zero_nan:  # every other row right: the zero row's 0 / 0
            raise NotYet(tr(_ZERO_ROW))
        for w, q, scales, nan in read:
            s = _flat_scales(scales, w.shape[0])
            zero = _right_scales(w) == 0
            if not bool((torch.isfinite(s[zero]) & (s[zero] >= 0)).all()):
                raise NotYet(tr("on a row of zeros your scale is {got}: any finite scale >= 0 "
                                "does there (q is 0), but not this one.",
                                got=f"{float(s[zero][0]):g}"))
        return
    # a mistake is named only when it gives every case's scales
    for index, (hint, _) in enumerate(_scale_mistakes(read[0][0])):
        if all(_close(_flat_scales(scales, w.shape[0]), _scale_mistakes(w)[index][1], w)
               for w, q, scales, nan in read):
            raise NotYet(tr(hint))
    # per column has the right shape only on a square weight (elsewhere _check_shapes named it)
    if all(_close(_flat_scales(scales, w.shape[0]), w.double().abs().amax(dim=0) / INT8_MAX, w)
           for w, q, scales, nan in read if w.shape[0] == w.shape[1]):
        raise NotYet(tr(_WRONG_AXIS))
    w, s, right, ok = bad[0]
    row = int((~ok).nonzero()[0, 0])
    raise NotYet(tr("for a weight of shape {shape}, scales[{row}] is {got}, expected {want} = "
                    "max|w[{row}]| / 127. One scale per row (output channel), from the largest "
                    "|weight| of that row, nothing added.", shape=list(w.shape), row=row,
                    got=f"{float(s[row]):.6g}", want=f"{float(right[row]):.6g}"))


def _close(s, want, w):
    """s is `want`, except on rows of zeros (where any scale does)."""
    if s is None or s.shape != want.shape:
        return False
    zero = _right_scales(w) == 0
    return bool((((s - want).abs() <= SCALE_RTOL * want.abs() + 1e-30) | zero).all())


def _rounded_so(q, ratio, rounding):
    """True if q is `rounding` of w / scales computed in float32 (which may
    land a hair either side of a whole number: 126.99999 truncates to 126)."""
    return bool(((q == rounding(ratio)) | (q == rounding(ratio * (1 - 1e-6)))
                 | (q == rounding(ratio * (1 + 1e-6)))).all())


def _check_q(read):
    """With the scales right: q a nearest whole number to w / scales, int8,
    zeros on a zero row, and no NaN made into an integer on the way."""
    wrong = []
    for w, q, scales, nan in read:
        s = _flat_scales(scales, w.shape[0])
        zero = _right_scales(w) == 0
        ratio = w.double() / torch.where(zero, torch.ones_like(s), s)[:, None]
        qd = q.double()
        ok = _nearest(qd, ratio) & (qd.abs() <= INT8_MAX)
        ok[zero] = qd[zero] == 0
        wrong.append((w, q, ratio, ok))
    if all(bool(ok.all()) for *_, ok in wrong):
        dtype = read[0][1].dtype
        if any(q.is_floating_point() for _, q, *_ in read):
            raise NotYet(tr("the values of q are right, but q is {dtype}: as floats they take 4 "
                            "bytes each, the very thing quantizing saves. Return "
                            "q.to(torch.int8).", dtype=dtype))
        other = next((q.dtype for _, q, *_ in read if q.dtype != torch.int8), None)
        if other is not None:
            raise NotYet(tr("q has dtype {dtype}: store it as torch.int8 (1 byte a weight), "
                            "with q.to(torch.int8).", dtype=other))
        if any(nan for *_, nan in read):
            raise NotYet(tr(_NAN_CAST))
        return
    if any(q.dtype == torch.uint8 for _, q, *_ in read):
        raise NotYet(tr(_UNSIGNED))
    for hint, rounding in _ROUNDINGS:
        if all(_rounded_so(q.double(), ratio, rounding) for w, q, ratio, ok in wrong):
            raise NotYet(tr(hint))
    if any(bool(((q.double() - ratio).abs() > 128).any()) for w, q, ratio, ok in wrong):
        raise NotYet(tr(_WRAPPED))
    w, q, ratio, ok = next(item for item in wrong if not bool(item[3].all()))
    row, col = (int(i) for i in (~ok).nonzero()[0])
    raise NotYet(tr("for a weight of shape {shape}, q[{row}, {col}] is {got}, but "
                    "w / scales there is {ratio}: q must be the nearest whole number, "
                    "torch.round(w / scales), in [-127, 127].", shape=list(w.shape), row=row,
                    col=col, got=f"{float(q[row, col]):g}", ratio=f"{float(ratio[row, col]):.4f}"))
