"""Checking code the learner wrote ("your turn" exercises) against the course's.

A build-it-yourself check runs the learner's piece and the course's side by
side, with the same weights (matched by role: by name, else each Linear or
LayerNorm by its shapes, in any declaration order), on several inputs chosen
where mistakes show (batch 1 and more, odd lengths, first and last positions),
and answers in plain words: "Correct!" with what they got right, or "Not yet:"
with what happened. It compares with the truth, not with the course's own
rounding: the reference runs in float64, and the tolerance is measured on each
input from how far float32 rounding moves it. Where the piece has inputs or
parameters, the gradients of a random projection of the output are compared
too, so a bug that lives in the backward pass is caught. When the outputs
differ, each classic mistake (a `Mistake`: a hint and the output that mistake
would give) is tried; it is named only when it explains every case.

It never crashes in the learner's face: None, a half-written class, an
``__init__`` that fails, an exception inside ``forward``, output of the wrong
shape, dtype or type, NaN, an input changed in place, the course's own class
passed off as the answer: each is a "Not yet" that says what happened. Every
check runs inside `sandbox.teacher`, which leaves the learner's state as found.

    check_module(MyLayerNorm, name="LayerNorm", build=lambda cls: cls(6),
                 reference=LayerNorm, cases=[Case(torch.randn(2, 5, 6))],
                 mistakes=[Mistake("use the biased variance ...", unbiased)],
                 success="...", hint="...")
"""

import copy
import inspect
import itertools
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn as nn

from ..language import get_language, tr
from .base import NotYet, Verdict, describe_exception, no_answer_yet, report
from .sandbox import explain_error, teacher, teacher_working

__all__ = [
    "Case", "Exact", "Mistake", "check_function", "check_module", "compare_outputs",
    "copy_weights", "course_answer", "course_codes", "exact_module", "in_eval", "in_training",
    "not_written_yet",
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
    `when` limits it to the cases it can be told apart on (default: all). It is
    named only when it explains every case: the learner's output is the
    mistake's where `when` holds, and the mistake's or the right one elsewhere."""
    hint: str
    output: Callable
    when: Callable = field(default=lambda case: True)
    # cases where learners who make this mistake write different things (so
    # its output there says nothing either way): not compared
    varies: Callable = field(default=lambda case: False)


def not_written_yet(name, err):
    """The hint for a piece whose skeleton still raises NotImplementedError.
    `name` is a code name (LayerNorm) or, translated, a Chinese one: in a Chinese
    sentence a code name stands between spaces and a Chinese name does not, so
    the Chinese template has none and the code name brings its own."""
    if get_language() == "zh" and not re.search(r"[\u4e00-\u9fff]", name):
        name = f" {name} "
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


def _unwrap(out):
    return out[0] if isinstance(out, tuple) and len(out) == 1 else out


# ------------------------------------------------------- the truth, in float64
# The reference is computed in float64, from the same float32 numbers, so it is
# the exact answer to float32 precision. How far a correct float32 computation
# may land from it depends on the input: rows that are nearly constant make
# LayerNorm amplify rounding a hundredfold. So the tolerance is measured: the
# reference is run again on inputs and weights changed by one float32 rounding
# step (relative 2**-24 each), and what moves the output that much is allowed,
# ROUNDING_ALLOWANCE times over.

ROUNDING_ALLOWANCE = 8
_EPS32 = float(torch.finfo(torch.float32).eps)


@dataclass
class Exact:
    """The reference in float64: `fn` computes, `context` is handed to the
    mistakes, `modules` get each case's train/eval mode, `params` (course
    names -> parameters) are the weights whose gradients are compared."""
    fn: Callable
    context: Any = None
    modules: tuple = ()
    params: dict = field(default_factory=dict)


def _float64(value):
    return value.detach().double() if isinstance(value, torch.Tensor) and value.is_floating_point() \
        else value


def _jitter_tensor(t, gen):
    noise = torch.rand(t.shape, generator=gen, dtype=torch.float64) * 2 - 1
    return t * (1 + _EPS32 * noise)


def jitter_module(module, seed):
    """Change every parameter of a float64 module by one float32 rounding step."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(_jitter_tensor(param, gen))
    return module


def exact_module(module, jitter=None):
    """A float64 copy of a course module (its weights changed by a rounding
    step when `jitter` is a seed), as an Exact."""
    copy64 = copy.deepcopy(module).double()
    if jitter is not None:
        jitter_module(copy64, jitter)
    return Exact(copy64, copy64, (copy64,), dict(copy64.named_parameters()))


class _Float64Default:
    """Default dtype float64 while the reference and the mistakes run, so the
    tensors they create (torch.ones, torch.tensor(0.5)) are float64 too."""

    def __enter__(self):
        self.before = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)

    def __exit__(self, *exc):
        torch.set_default_dtype(self.before)


@dataclass
class _Run:
    """One side's run on one case: the output and, where there are any, the
    gradients of a random projection of it (by "input N" or parameter name)."""
    out: Any
    grads: dict = field(default_factory=dict)
    graph: bool = False


def _projection(out, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out.dtype)


def _run_with_grads(fn, args, case, params, seed=1234):
    """fn(*args) with autograd, after torch.manual_seed(case.seed); the
    gradients of sum(output * a fixed random projection)."""
    leaves, call = {}, []
    floating = [a for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()]
    for a in args:
        if isinstance(a, torch.Tensor) and a.is_floating_point():
            a = a.detach().clone().requires_grad_(True)
            name = (tr("input {number}", number=len(leaves) + 1) if len(floating) > 1
                    else tr("the input"))
            leaves[name] = a
        call.append(a)
    for p in params.values():
        p.grad = None
    torch.manual_seed(case.seed)
    with torch.enable_grad():
        out = _unwrap(fn(*call))
        if not (isinstance(out, torch.Tensor) and out.is_floating_point() and out.requires_grad):
            return _Run(out)
        (out * _projection(out, seed)).sum().backward()
    grads = {name: leaf.grad for name, leaf in leaves.items()}
    grads.update({name: p.grad for name, p in params.items()})
    return _Run(out.detach(), grads, graph=True)


def _exact_runs(exact, args, case, grads):
    """The reference on `args` in float64, and the rounding-sized sensitivity
    of its output and gradients (a dict of tensors shaped like them)."""
    runs = []
    for jitter in (None, 1, 2):
        ref = exact(jitter)
        _set_mode(ref.modules, case.train)
        args64 = tuple(_float64(a) for a in args)
        if jitter is not None:
            gen = torch.Generator().manual_seed(100 + jitter)
            args64 = tuple(_jitter_tensor(a, gen) if isinstance(a, torch.Tensor)
                           and a.is_floating_point() else a for a in args64)
        with _Float64Default():
            if grads:
                runs.append(_run_with_grads(ref.fn, args64, case, ref.params))
            else:
                torch.manual_seed(case.seed)
                with torch.no_grad():
                    runs.append(_Run(_unwrap(ref.fn(*args64))))
    truth = runs[0]
    sens = {}
    if isinstance(truth.out, torch.Tensor) and truth.out.is_floating_point():
        sens["out"] = _spread([r.out for r in runs])
        for name in truth.grads:
            values = [r.grads.get(name) for r in runs]
            if all(isinstance(v, torch.Tensor) for v in values):
                sens[name] = _spread(values)
    return truth, sens


def _spread(values):
    """How far the jittered runs moved from the first, the largest in each row."""
    base = values[0]
    if any(v.shape != base.shape for v in values):
        return torch.zeros_like(base)
    moved = torch.stack([(v - base).abs() for v in values[1:]]).amax(dim=0)
    moved = torch.nan_to_num(moved, nan=0.0, posinf=0.0)
    return moved.amax(dim=-1, keepdim=True).expand_as(base) if base.dim() else moved


# When a list, compare_outputs appends, for each case it compares, how far the
# learner's output is from the truth in units of the tolerance (above 1: wrong).
# scripts/check_margins.py reads it to report each check's margin.
margin_log = None


def _ratio(out, want, sens, atol, rtol):
    """max |out - want| / tolerance, inf where NaN or the shape differ."""
    if not (isinstance(out, torch.Tensor) and isinstance(want, torch.Tensor)
            and out.shape == want.shape and out.is_floating_point() and want.is_floating_point()):
        return float("inf") if not (isinstance(out, torch.Tensor) and torch.equal(out, want)) else 0.0
    diff = (out.detach().double() - want).abs()
    diff = torch.where(torch.isnan(out) & torch.isnan(want), torch.zeros_like(diff), diff)
    tol = tolerance(want, sens if sens is not None else torch.zeros_like(want), atol, rtol)
    return float(torch.nan_to_num(diff / tol, nan=float("inf")).max()) if diff.numel() else 0.0


def tolerance(want, sens, atol, rtol):
    """Elementwise: what a correct float32 computation may miss `want` by."""
    return atol + rtol * want.abs() + ROUNDING_ALLOWANCE * sens


def _within(out, want, sens, atol, rtol):
    """out (any float dtype) against want (float64): within tolerance everywhere,
    NaN only where want has NaN."""
    if not (isinstance(out, torch.Tensor) and isinstance(want, torch.Tensor)
            and out.shape == want.shape and out.is_floating_point() == want.is_floating_point()):
        return False
    if not want.is_floating_point():
        return bool(torch.equal(out, want))
    out = out.detach().double()
    both_nan = torch.isnan(out) & torch.isnan(want)
    same_inf = torch.isinf(out) & (out == want)
    diff = (out - want).abs()
    ok = (diff <= tolerance(want, sens if sens is not None else torch.zeros_like(want), atol,
                            rtol)) | both_nan | same_inf
    return bool(ok.all())


# ------------------------------------------------------- the course's own answer

class _CallWatch:
    """Notes whether any of `codes` (the course's own forward or function) runs
    while the learner's code runs: passing or wrapping the course's answer is
    not writing one."""

    def __init__(self, codes):
        self.codes = {c for c in codes if c is not None}
        self.seen = None

    def _profile(self, frame, event, arg):
        if event == "call" and frame.f_code in self.codes and self.seen is None:
            self.seen = frame.f_code

    def __enter__(self):
        self.before = sys.getprofile()
        if self.codes:
            sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self.before)


def course_codes(*objects):
    """The code objects of course classes' forward methods and of course functions."""
    codes = []
    for obj in objects:
        target = getattr(obj, "forward", obj) if inspect.isclass(obj) else obj
        code = getattr(target, "__code__", None)
        if code is not None:
            codes.append(code)
    return codes


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


def _inputs_changed(args, copies):
    """The positions (1-based) of the tensor arguments the learner's code changed in place."""
    return [i + 1 for i, (a, c) in enumerate(zip(args, copies))
            if isinstance(a, torch.Tensor) and not (a.shape == c.shape and bool(
                torch.equal(torch.nan_to_num(a), torch.nan_to_num(c))))]


def _default_exact(reference, ours):
    """The float64 reference for a module or a plain function."""
    if isinstance(reference, nn.Module):
        if ours is reference:
            return lambda jitter: exact_module(reference, jitter)

        def exact(jitter):
            ref = exact_module(reference, jitter)
            context = exact_module(ours, jitter).fn if isinstance(ours, nn.Module) else ours
            return Exact(ref.fn, context, ref.modules + (context,) if isinstance(
                context, nn.Module) else ref.modules, ref.params)
        return exact
    context = (lambda jitter: exact_module(ours, jitter).fn) if isinstance(ours, nn.Module) \
        else (lambda jitter: ours)
    return lambda jitter: Exact(reference, context(jitter),
                                (context(None),) if isinstance(ours, nn.Module) else ())


def _memo(exact):
    made = {}

    def get(jitter):
        if jitter not in made:
            made[jitter] = exact(jitter)
        return made[jitter]
    return get


def _mistake_output(mistake, exact, ours, modules, case):
    """What code with `mistake` returns on `case` (float64, with its rounding
    sensitivity), or (None, None) when it cannot be computed."""
    try:
        runs = []
        for jitter in (None, 1):
            ref = exact(jitter)
            _set_mode(ref.modules, case.train)
            args64 = tuple(_float64(a) for a in case.arguments())
            if jitter is not None:
                gen = torch.Generator().manual_seed(100 + jitter)
                args64 = tuple(_jitter_tensor(a, gen) if isinstance(a, torch.Tensor)
                               and a.is_floating_point() else a for a in args64)
            with _Float64Default():
                torch.manual_seed(case.seed)
                with torch.no_grad():
                    runs.append(_unwrap(mistake.output(ref.context, *args64)))
        if isinstance(runs[0], torch.Tensor) and runs[0].is_floating_point():
            return runs[0], _spread(runs)
        return runs[0], None
    except Exception:
        pass
    try:  # a mistake written for float32 only
        _set_mode(modules, case.train)
        out = _unwrap(_run(lambda *args: mistake.output(ours, *args), case))
        return (out.double() if isinstance(out, torch.Tensor) and out.is_floating_point()
                else out), None
    except Exception:
        return None, None


def _gradient_problem(run, truth, sens, where, atol, rtol):
    """A sentence saying how the learner's gradients differ from the truth, or None."""
    if not run.graph:
        return tr("on {where} your output is right, but no gradient flows back through it: is "
                  "part of your forward under torch.no_grad(), or is a result detached "
                  "(.detach(), .data, .item(), a new tensor made from its numbers)? Training "
                  "needs the gradients.", where=where)
    for name, want in truth.grads.items():
        if want is None:
            continue
        got = run.grads.get(name)
        if got is None:
            return tr("on {where} your output is right, but no gradient reaches {what}: is it "
                      "used under torch.no_grad() or through .detach() / .data?",
                      where=where, what=name)
        if not _within(got, want, sens.get(name), atol, rtol):
            return tr("on {where} your output is right, but the gradient with respect to "
                      "{what} differs ({difference}): something in your forward changes how "
                      "gradients flow, e.g. a .detach(), torch.no_grad(), .data, or a "
                      "statistic treated as a constant.", where=where, what=name,
                      difference=_first_difference(got, want))
    return None


def compare_outputs(theirs, reference, ours, cases, mistakes, *, name, hint, success,
                    atol=1e-5, rtol=1e-4, modules=(), exact=None, their_params=None,
                    grads=True, course=(), explain=None):
    """Run `theirs(*args)` and the reference on every case and report.

    The reference runs in float64 (`exact(jitter)` gives it, default: a
    float64 copy of `reference`), and the tolerance is measured from how much
    float32 rounding moves it (see ROUNDING_ALLOWANCE). Where the output has a
    graph, the gradients of a random projection of it with respect to the
    inputs and to `their_params` (course parameter name -> the learner's
    parameter) are compared too. `ours` is handed to each mistake's output
    function (a float64 copy when it is a module); `modules` are switched to
    each case's train/eval mode; `course` are code objects of the course's own
    answer, which the learner's code must not run; `explain()` may give a
    hint about the learner's structure when no classic mistake explains a
    wrong output.
    """
    exact = _memo(exact or _default_exact(reference, ours))
    watch_codes = list(course)
    outputs, wrong, gradient_problem = [], [], None
    for case in cases:
        where = case.describe()
        args = case.arguments()
        with teacher_working():
            truth, sens = _exact_runs(exact, args, case, grads)
        want = truth.out.float() if isinstance(truth.out, torch.Tensor) \
            and truth.out.dtype == torch.float64 else truth.out
        _set_mode(modules, case.train)
        copies = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
        try:
            with _CallWatch(watch_codes) as watch:
                torch.manual_seed(case.seed)
                with torch.no_grad():
                    out = _unwrap(theirs(*copies))
        except NotImplementedError as err:
            return report(False, "", not_written_yet(name, err))
        except Exception as err:
            return report(False, "", tr("on {where}: {explained}", where=where,
                                        explained=explain_error(err)))
        if watch.seen is not None:
            return report(False, "", tr("your {name} runs the course's own {what}: the check "
                                        "compares with it, so that proves nothing. Write the "
                                        "computation yourself.", name=name,
                                        what=watch.seen.co_qualname))
        changed = _inputs_changed(args, copies)
        if changed:
            return report(False, "", tr(
                "your {name} changed its input in place on {where} (x += ..., x[...] = ..., a "
                "method ending in _): the caller's tensor changes under their feet, and "
                "autograd cannot go back through a tensor that was overwritten. Write "
                "x = x + ... to make a new tensor.", name=name, where=where))
        problem = _output_problem(out, want, where)
        if problem and not _nonfinite_only(out, want):
            return report(False, "", tr("{problem}.", problem=problem))
        outputs.append(out)
        if margin_log is not None:
            margin_log.append(_ratio(out, truth.out, sens.get("out"), atol, rtol))
        if problem or not _within(out, truth.out, sens.get("out"), atol, rtol):
            wrong.append((case, out, truth.out, problem))
            continue
        if grads and truth.graph and gradient_problem is None:
            _set_mode(modules, case.train)
            try:
                run = _run_with_grads(theirs, copies, case, their_params or {})
            except Exception as err:
                return report(False, "", tr("on {where}, computing gradients through your "
                                            "code: {explained}", where=where,
                                            explained=explain_error(err)))
            gradient_problem = _gradient_problem(run, truth, sens, where, atol, rtol)
    if not wrong:
        if gradient_problem:
            return report(False, "", gradient_problem)
        return report(True, success, "")
    wrong_cases = [w[0] for w in wrong]
    for mistake in mistakes:
        if not any(mistake.when(case) for case in wrong_cases):
            continue
        # named only when it explains every case: the same output where the
        # mistake shows, and the right output where it cannot
        matches = True
        for case, out in zip(cases, outputs):
            right_here = not any(case is w for w in wrong_cases)
            if (not mistake.when(case) and right_here) or mistake.varies(case):
                continue
            with teacher_working():
                mistaken, m_sens = _mistake_output(mistake, exact, ours, modules, case)
            if mistaken is None or not _within(out, mistaken, m_sens, atol, rtol):
                matches = False
                break
        if matches:
            return report(False, "", mistake.hint)
    structure = explain() if explain is not None else None
    if structure:
        return report(False, "", structure)
    if all(case.train for case in wrong_cases) and any(not case.train for case in cases):
        # right in evaluation mode: only where (or how) dropout draws differs
        case, out, want, _ = wrong[0]
        return report(False, "", tr(
            "in evaluation mode your output is right, but in training mode it differs from the "
            "course's on {where} ({difference}). The check draws the same dropout masks on "
            "both sides (same seed), so they agree only when dropout is applied where the book "
            "applies it, once per tensor, to tensors of the same shape. {hint}",
            where=case.describe(), difference=_first_difference(out, want), hint=tr(hint)))
    # No classic mistake explains it: say where it differs, NaN and inf first.
    case, out, want, problem = next((w for w in wrong if w[3]), wrong[0])
    if problem:
        return report(False, "", tr("{problem}.", problem=problem))
    return report(False, "", tr("on {where} your output differs from the course's "
                                "({difference}). {hint}", where=case.describe(),
                                difference=_first_difference(out, want), hint=tr(hint)))


# ------------------------------------------------------- weights, matched by role

def _units(module):
    """(path, [(name, shape), ...]) for every submodule that holds parameters of
    its own, in declaration order: a Linear's weight and bias, a LayerNorm's two."""
    units = []
    for path, sub in module.named_modules():
        own = [(f"{path}.{n}" if path else n, tuple(p.shape))
               for n, p in sub.named_parameters(recurse=False)]
        if own:
            units.append((path, own))
    return units


def _signature(unit):
    return tuple(sorted(shape for _, shape in unit[1]))


def _pair_within(ours_unit, theirs_unit):
    """Pair the parameters of two units with the same shapes: by name, else by
    order among equal shapes."""
    ours, theirs = ours_unit[1], theirs_unit[1]
    short = lambda full: full.rsplit(".", 1)[-1]  # noqa: E731
    if sorted(short(n) for n, _ in ours) == sorted(short(n) for n, _ in theirs):
        by_name = {short(n): n for n, _ in theirs}
        return [(n, by_name[short(n)]) for n, _ in ours]
    left = list(theirs)
    pairs = []
    for n, shape in ours:
        match = next(t for t in left if t[1] == shape)
        left.remove(match)
        pairs.append((n, match[0]))
    return pairs


def _candidates(source, target, limit=720):
    """Ways to give `target` the parameters of `source` (lists of (source name,
    target name) pairs), most likely first: by name when the names and shapes
    agree; else unit by unit (each Linear, each LayerNorm) by shape, in
    declaration order first, then other orders of units that look alike."""
    src = dict((n, tuple(p.shape)) for n, p in source.named_parameters())
    dst = dict((n, tuple(p.shape)) for n, p in target.named_parameters())
    if set(src) <= set(dst) and all(src[n] == dst[n] for n in src):
        return [[(n, n) for n in src]]
    ours, theirs = _units(source), _units(target)
    groups = {}
    for unit in ours:
        groups.setdefault(_signature(unit), ([], []))[0].append(unit)
    for unit in theirs:
        if _signature(unit) in groups:
            groups[_signature(unit)][1].append(unit)
    if any(len(mine) < len(want) for want, mine in groups.values()):
        return []
    choices = [list(itertools.islice(itertools.permutations(mine, len(want)), limit))
               for want, mine in groups.values()]
    result = []
    for combo in itertools.islice(itertools.product(*choices), limit):
        pairs = []
        for (want, _), picked in zip(groups.values(), combo):
            for ours_unit, theirs_unit in zip(want, picked):
                pairs += _pair_within(ours_unit, theirs_unit)
        result.append(pairs)
    return result


def _load(source, target, pairs):
    src, dst = dict(source.named_parameters()), dict(target.named_parameters())
    with torch.no_grad():
        for a, b in pairs:
            dst[b].copy_(src[a])


def copy_weights(source, target, probe=None):
    """Give `target` the parameters of `source`, matched by role: by name when
    the names agree, else each unit (a Linear, a LayerNorm) by its shapes. When
    units look alike (three Linears d -> d), the order that makes `probe(target)`
    true wins (declaration order if none does). Buffers are left as they are (a
    constant kept as a buffer is the learner's business). Returns the pairs
    (source name, target name); raises NotYet saying which shapes differ."""
    candidates = _candidates(source, target)
    if not candidates:
        theirs = {k: list(v.shape) for k, v in target.named_parameters()}
        ours = {k: list(v.shape) for k, v in source.named_parameters()}
        raise NotYet(tr("your module's parameters {theirs} do not match the course's {ours}: "
                        "keep __init__ as the skeleton gives it", theirs=theirs, ours=ours))
    if probe is not None and len(candidates) > 1:
        for pairs in candidates:
            _load(source, target, pairs)
            try:
                if probe(target):
                    return pairs
            except Exception:
                pass
    _load(source, target, candidates[0])
    return candidates[0]


def _randomize(module, seed):
    """Give every parameter a random value (seeded): a scale of ones or a
    shift of zeros would hide a forgotten scale or shift."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.add_(0.5 * torch.randn(param.shape, generator=gen, dtype=param.dtype))


def course_answer(answer, reference, name):
    """The hint when `answer` is the course's own class (or inherits its
    forward unchanged), else None."""
    if answer is reference or (inspect.isclass(answer) and inspect.isclass(reference)
                               and getattr(answer, "forward", None) is getattr(reference, "forward", 0)):
        return tr("that is the course's own {name} (or a class that takes its forward): pass "
                  "your own class, with the forward you wrote.", name=name)
    return None


def _probe(ours, cases, atol, rtol):
    """True for a module whose output on the first evaluation case is ours'."""
    case = next((c for c in cases if not c.train), None)
    if case is None:
        return None

    def probe(theirs):
        ours.eval()
        theirs.eval()
        want, out = _unwrap(_run(ours, case)), _unwrap(_run(theirs, case))
        return isinstance(out, torch.Tensor) and out.shape == want.shape and bool(
            torch.allclose(out.double(), want.double(), atol=100 * atol, rtol=100 * rtol))
    return probe


@teacher
def check_module(answer, *, name, build, reference, cases, mistakes=(), success, hint,
                 atol=1e-5, rtol=1e-4, randomize=True, seed=0, course=None, explain=None):
    """Check the learner's nn.Module class `answer` against the course's class
    `reference`: ``build(cls)`` makes an instance of either; the course's is
    built (and its weights randomized) first, then copied into theirs, matched
    by role. Outputs are compared with the course's in float64, and so are the
    gradients. `course`: more course code the learner's must not run;
    `explain(ours, theirs)`: a hint about the structure of theirs when its
    output is wrong (or its weights cannot be matched) and no classic mistake
    explains it."""
    name = tr(name)  # a class name stays as it is; "model" is a word to translate
    if no_answer_yet(answer):
        return Verdict(False)
    if isinstance(answer, nn.Module):
        return report(False, "", tr("pass the class itself ({kind}), not an instance of it: "
                                    "the check builds it.", kind=type(answer).__name__))
    if not inspect.isclass(answer) or not issubclass(answer, nn.Module):
        return report(False, "", tr("pass your {name} class (a subclass of nn.Module), got "
                                    "{kind}.", name=name, kind=type(answer).__name__))
    own = course_answer(answer, reference, name)
    if own:
        return report(False, "", own)
    with teacher_working():
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
        pairs = copy_weights(ours, theirs, probe=_probe(ours, cases, atol, rtol))
    except NotYet as not_yet:
        return report(False, "", (explain and _quietly(explain, ours, theirs)) or str(not_yet))
    except Exception as err:
        return report(False, "", tr("could not give your {name} the course's weights: "
                                    "{error}; keep __init__ as the skeleton gives it.",
                                    name=name, error=describe_exception(err)))
    if answer.forward is nn.Module.forward:
        return report(False, "", tr("your class {kind} has no forward method: write "
                                    "def forward(self, x): ... inside the class (indented "
                                    "under it).", kind=answer.__name__))
    their_params = dict(theirs.named_parameters())
    return compare_outputs(theirs, ours, ours, cases, mistakes, name=name, hint=hint,
                           success=success, atol=atol, rtol=rtol, modules=(ours, theirs),
                           their_params={a: their_params[b] for a, b in pairs},
                           course=course_codes(reference, *(course or ())),
                           explain=explain and (lambda: _quietly(explain, ours, theirs)))


def _quietly(explain, *args):
    try:
        return explain(*args)
    except Exception:
        return None


@teacher
def check_function(answer, *, name, reference, cases, mistakes=(), success, hint,
                   atol=1e-5, rtol=1e-4, context=None, modules=(), course=None, grads=True):
    """Check the learner's function `answer` against `reference`: both are
    called with each case's arguments. `context` is handed to the mistakes;
    `course` are the course's own functions, which the answer must not be
    nor run (default: `reference` itself when it is a function); `grads`:
    compare gradients too (where the output has a graph)."""
    if no_answer_yet(answer):
        return Verdict(False)
    if inspect.isclass(answer) or not callable(answer):
        return report(False, "", tr("pass your function {name} itself (without calling it), "
                                    "got {kind}.", name=name, kind=type(answer).__name__))
    own = course if course is not None else ([] if isinstance(reference, nn.Module)
                                             else [reference])
    if any(answer is obj for obj in own):
        return report(False, "", tr("that is the course's own {name}: pass the function you "
                                    "wrote.", name=name))
    return compare_outputs(answer, reference, context, cases, mistakes, name=name, hint=hint,
                           success=success, atol=atol, rtol=rtol, modules=modules,
                           course=course_codes(*own), grads=grads)
