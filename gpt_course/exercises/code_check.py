"""Checking code the learner wrote ("your turn" exercises) against the course's.

A build-it-yourself check runs the learner's piece and the course's side by
side, with identical weights, on several inputs chosen where mistakes show
(batch 1 and more, odd lengths, first and last positions), and answers in
plain words: "Correct!" with what they got right, or "Not yet:" with what
happened. When the outputs differ, it runs each classic mistake (a `Mistake`:
a hint and the output that mistake would give) on the same inputs; the first
whose output matches the learner's names the likely mistake.

It never crashes in the learner's face: None, a half-written class, an
``__init__`` that fails, an exception inside ``forward``, output of the wrong
shape, dtype or type, NaN: each is a "Not yet" that says what happened.

    check_module(MyLayerNorm, name="LayerNorm", build=lambda cls: cls(6),
                 reference=LayerNorm, cases=[Case(torch.randn(2, 5, 6))],
                 mistakes=[Mistake("use the biased variance ...", unbiased)],
                 success="...", hint="...")
"""

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn as nn

from ..language import tr
from .base import NotYet, Verdict, describe_exception, no_answer_yet, report

__all__ = [
    "Case", "Mistake", "check_function", "check_module", "compare_outputs", "copy_weights",
    "in_eval", "in_training", "not_written_yet",
]


@dataclass
class Case:
    """One input to run both sides on. `args` are passed to forward (or to the
    function); with ``train=True`` both run in training mode after
    ``torch.manual_seed(seed)``, so dropout draws the same masks when (and only
    when) it is applied in the same places."""
    args: Any
    train: bool = False
    seed: int = 0
    note: str = ""

    def arguments(self):
        return self.args if isinstance(self.args, tuple) else (self.args,)

    def describe(self):
        shapes = [list(a.shape) for a in self.arguments() if isinstance(a, torch.Tensor)]
        if not shapes:
            return tr("the test input")
        shown = ", ".join(str(s) for s in shapes)
        if self.note:
            return tr("an input of shape {shape} ({note})", shape=shown, note=tr(self.note))
        return tr("an input of shape {shape}", shape=shown)


def in_eval(case):
    """A Mistake's `when` for mistakes that show in evaluation mode."""
    return not case.train


def in_training(case):
    """A Mistake's `when` for mistakes that show only in training mode (dropout)."""
    return case.train


@dataclass
class Mistake:
    """A classic mistake: `output(reference, *args)` computes what code with
    that mistake returns (with the reference's weights); `hint` says what to fix.
    `when` limits it to the cases it can be told apart on (default: all)."""
    hint: str
    output: Callable
    when: Callable = field(default=lambda case: True)


def not_written_yet(name, err):
    """The hint for a piece whose skeleton still raises NotImplementedError."""
    if str(err):
        return tr("your {name} still raises NotImplementedError ({error}): fill in the TODOs "
                  "and run the cell again.", name=name, error=err)
    return tr("your {name} still raises NotImplementedError: fill in the TODOs and run the "
              "cell again.", name=name)


def _run(fn, case):
    """fn(*case.args) after torch.manual_seed(case.seed), without autograd
    (the caller has set the case's train/eval mode)."""
    torch.manual_seed(case.seed)
    with torch.no_grad():
        return fn(*case.arguments())


def _set_mode(modules, train):
    for module in modules:
        if isinstance(module, nn.Module):
            module.train(train)


def _close(a, b, atol, rtol):
    return (
        isinstance(a, torch.Tensor)
        and a.shape == b.shape
        and a.is_floating_point() == b.is_floating_point()
        and bool(torch.allclose(a.double(), b.double(), atol=atol, rtol=rtol, equal_nan=True))
    )


def _output_problem(out, want, where):
    """A sentence saying why `out` cannot be compared with `want`, or None."""
    if isinstance(out, tuple) and len(out) == 1:
        out = out[0]
    if not isinstance(out, torch.Tensor):
        return tr("on {where} your code returned {kind}, not a tensor (does it end with "
                  "`return ...`?)", where=where, kind=type(out).__name__)
    if out.shape != want.shape:
        return tr("on {where} your output has shape {shape}, expected {expected}",
                  where=where, shape=list(out.shape), expected=list(want.shape))
    if want.is_floating_point() and not out.is_floating_point():
        return tr("on {where} your output has dtype {dtype}, expected floating point "
                  "({expected})", where=where, dtype=out.dtype, expected=want.dtype)
    if not want.is_floating_point() and out.is_floating_point():
        return tr("on {where} your output has dtype {dtype}, expected {expected} (whole "
                  "numbers)", where=where, dtype=out.dtype, expected=want.dtype)
    if out.is_floating_point():
        bad = ~torch.isfinite(out) & torch.isfinite(want)
        if bool(bad.any()):
            kind = "NaN" if bool(torch.isnan(out[bad]).any()) else "inf"
            index = [int(i) for i in bad.nonzero()[0]]
            return tr("on {where} your output has {kind} at index {index} where the "
                      "course's has {value:.4g}", where=where, kind=kind, index=index,
                      value=float(want[tuple(index)]))
    return None


def _nonfinite_only(out, want):
    """True when `out` could be compared with `want` but has NaN or inf where
    `want` does not: a classic mistake (a mask inverted, eps missing) may
    explain it, so the mistakes get a look before the NaN is reported."""
    if isinstance(out, tuple) and len(out) == 1:
        out = out[0]
    return (isinstance(out, torch.Tensor) and out.shape == want.shape
            and out.is_floating_point() and want.is_floating_point())


def _first_difference(out, want):
    diff = (out.double() - want.double()).abs()
    diff = torch.nan_to_num(diff, nan=float("inf"))
    index = [int(i) for i in (diff == diff.max()).nonzero()[0]]
    return tr("largest difference {diff:.3g} at index {index}: yours {yours:.5g}, the "
              "course's {ours:.5g}", diff=float(diff.max()), index=index,
              yours=float(out[tuple(index)]), ours=float(want[tuple(index)]))


def compare_outputs(theirs, reference, ours, cases, mistakes, *, name, hint, success,
                    atol=1e-5, rtol=1e-4, modules=()):
    """Run `theirs(*args)` and `reference(*args)` on every case and report.

    `ours` is handed to each mistake's output function (the course's module,
    carrying the weights both sides share); `modules` are switched to each
    case's train/eval mode before it runs.
    """
    wrong = []  # (case, their output, our output, problem or None) where they differ
    for case in cases:
        where = case.describe()
        _set_mode(modules, case.train)
        want = _run(reference, case)
        try:
            out = _run(theirs, case)
        except NotImplementedError as err:
            return report(False, "", not_written_yet(name, err))
        except Exception as err:
            return report(False, "", tr("your {name} raised {error} on {where}.", name=name,
                                        error=describe_exception(err), where=where))
        if isinstance(out, tuple) and len(out) == 1:
            out = out[0]
        problem = _output_problem(out, want, where)
        if problem and not _nonfinite_only(out, want):
            return report(False, "", tr("{problem}.", problem=problem))
        if problem or not _close(out, want, atol, rtol):
            wrong.append((case, out, want, problem))
    if not wrong:
        return report(True, success, "")
    for mistake in mistakes:
        cases_seen = [w[0] for w in wrong if mistake.when(w[0])]
        if not cases_seen:
            continue
        matches = True
        for case in cases:
            if not mistake.when(case):
                continue
            _set_mode(modules, case.train)
            try:
                mistaken = _run(lambda *args: mistake.output(ours, *args), case)
                out = _run(theirs, case)
            except Exception:
                matches = False
                break
            if not _close(out, mistaken, atol, rtol):
                matches = False
                break
        if matches:
            return report(False, "", mistake.hint)
    # No classic mistake matches: say what is wrong, NaN and inf first.
    case, out, want, problem = next((w for w in wrong if w[3]), wrong[0])
    if problem:
        return report(False, "", tr("{problem}.", problem=problem))
    return report(False, "", tr("on {where} your output differs from the course's "
                                "({difference}). {hint}", where=case.describe(),
                                difference=_first_difference(out, want), hint=tr(hint)))


def copy_weights(source, target):
    """Copy `source`'s parameters and buffers into `target`: by name when the
    names agree, else in order when the shapes agree. Raises NotYet saying
    which names or shapes differ."""
    src, dst = source.state_dict(), target.state_dict()
    if list(src) == list(dst) or set(src) == set(dst):
        pairs = [(k, k) for k in src]
    elif [tuple(v.shape) for v in src.values()] == [tuple(v.shape) for v in dst.values()]:
        pairs = list(zip(src, dst))
    else:
        theirs = {k: list(v.shape) for k, v in dst.items()}
        ours = {k: list(v.shape) for k, v in src.items()}
        raise NotYet(tr("your module's parameters {theirs} do not match the course's {ours}: "
                        "keep __init__ as the skeleton gives it", theirs=theirs, ours=ours))
    with torch.no_grad():
        for a, b in pairs:
            if src[a].shape != dst[b].shape:
                raise NotYet(tr("your {name} has shape {shape}, the course's {ours} has "
                                "{our_shape}", name=b, shape=list(dst[b].shape), ours=a,
                                our_shape=list(src[a].shape)))
            dst[b].copy_(src[a])


def _randomize(module, seed):
    """Give every parameter a random value (seeded): a scale of ones or a
    shift of zeros would hide a forgotten scale or shift."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.add_(0.5 * torch.randn(param.shape, generator=gen, dtype=param.dtype))


def check_module(answer, *, name, build, reference, cases, mistakes=(), success, hint,
                 atol=1e-5, rtol=1e-4, randomize=True, seed=0):
    """Check the learner's nn.Module class `answer` against the course's class
    `reference`: ``build(cls)`` makes an instance of either; the course's is
    built (and its weights randomized) first, then copied into theirs."""
    name = tr(name)  # a class name stays as it is; "model" is a word to translate
    if no_answer_yet(answer):
        return Verdict(False)
    if isinstance(answer, nn.Module):
        return report(False, "", tr("pass the class itself ({kind}), not an instance of it: "
                                    "the check builds it.", kind=type(answer).__name__))
    if not inspect.isclass(answer) or not issubclass(answer, nn.Module):
        return report(False, "", tr("pass your {name} class (a subclass of nn.Module), got "
                                    "{kind}.", name=name, kind=type(answer).__name__))
    torch.manual_seed(seed)
    ours = build(reference)
    if randomize:
        _randomize(ours, seed)
    try:
        torch.manual_seed(seed)
        theirs = build(answer)
    except NotImplementedError as err:
        return report(False, "", tr("building your {name} raised NotImplementedError "
                                    "({error}): fill in the TODOs in __init__.", name=name,
                                    error=err))
    except Exception as err:
        return report(False, "", tr("building your {name} failed: {error}.", name=name,
                                    error=describe_exception(err)))
    if not isinstance(theirs, nn.Module):
        return report(False, "", tr("{name}(...) did not build an nn.Module; did __init__ "
                                    "call super().__init__()?", name=name))
    try:
        copy_weights(ours, theirs)
    except NotYet as not_yet:
        return report(False, "", str(not_yet))
    except Exception as err:
        return report(False, "", tr("could not give your {name} the course's weights: "
                                    "{error}; keep __init__ as the skeleton gives it.",
                                    name=name, error=describe_exception(err)))
    return compare_outputs(theirs, ours, ours, cases, mistakes, name=name, hint=hint,
                           success=success, atol=atol, rtol=rtol, modules=(ours, theirs))


def check_function(answer, *, name, reference, cases, mistakes=(), success, hint,
                   atol=1e-5, rtol=1e-4, context=None, modules=()):
    """Check the learner's function `answer` against `reference`: both are
    called with each case's arguments. `context` is handed to the mistakes."""
    if no_answer_yet(answer):
        return Verdict(False)
    if inspect.isclass(answer) or not callable(answer):
        return report(False, "", tr("pass your function {name} itself (without calling it), "
                                    "got {kind}.", name=name, kind=type(answer).__name__))
    return compare_outputs(answer, reference, context, cases, mistakes, name=name, hint=hint,
                           success=success, atol=atol, rtol=rtol, modules=modules)
