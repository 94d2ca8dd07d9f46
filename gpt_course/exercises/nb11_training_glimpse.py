"""Exercise checks for notebook 11 (a glimpse of training)."""

import contextlib
import inspect
import io
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..book.nb07_gpt_model import GPTModel
from ..language import tr
from .sandbox import explain_error, teacher
from .base import (
    NotYet, Verdict, answer_check, as_float, as_id_list, describe_exception, no_answer_yet, report,
)
from .code_check import not_written_yet

WINDOW_IDS = [10, 20, 30, 40, 50, 60]
WINDOW_LENGTH = 4


@answer_check(as_id_list, "give the token ids as a list of whole numbers, e.g. [1, 2, 3, 4]")
def check_first_target(ids):
    """Exercise 1: the target of the first window of [10, 20, 30, 40, 50, 60]
    with max_length 4."""
    if ids == WINDOW_IDS[:WINDOW_LENGTH]:
        raise NotYet("that is the input window itself; the target is shifted by one token.")
    if ids == [WINDOW_IDS[WINDOW_LENGTH]]:
        raise NotYet("the target is not one token: every one of the 4 positions predicts its "
                     "next token, so the target has 4 ids too.")
    if ids != WINDOW_IDS[1:WINDOW_LENGTH + 1]:
        raise NotYet("take the input window ids[0:4] and shift it by one: ids[1:5].")
    return ("[20, 30, 40, 50]: the input [10, 20, 30, 40] shifted by one, so every position's "
            "target is the token that follows it.")


# Exercise 2: a loss of 1.05 (about the training loss after the last epoch),
# read back as a probability: the p that, given to every true next token,
# gives that loss.
LOSS = 1.05


@answer_check(as_float, "give the probability as one number between 0 and 1, e.g. 0.5")
def check_loss_to_probability(p):
    """Exercise 2: the probability p with -ln p = 1.05."""
    want = math.exp(-LOSS)
    if abs(p - math.exp(LOSS)) < 0.01:
        raise NotYet("a probability is at most 1: the loss is -ln p, so p = e^(-loss).")
    if abs(p - 10 ** -LOSS) < 1e-3:
        raise NotYet("cross-entropy uses the natural logarithm: p = e^(-loss), math.exp, "
                     "not 10 ** -loss.")
    if abs(p - 1 / LOSS) < 1e-3:
        raise NotYet("the loss is -ln p, not 1/p: undo the logarithm with math.exp.")
    if abs(p - want) > 0.002:
        raise NotYet("the loss is the mean of -ln p; if every p is the same, -ln p = 1.05: "
                     "solve for p.")
    return tr("p = e^(-1.05) = {want:.3f}: the trained model gives the true next token about a "
              "third of its probability (on its training text), against 1/2071 = 0.0005 for "
              "random guessing.", want=want)


# ---------------------------------------------------------------- your turn
#
# The learner's train_step(model, optimizer, input_batch, target_batch) and the
# course's each train a copy of the same tiny GPTModel, with the same optimizer,
# for a few steps. Their losses and weights must agree after every step. The
# optimizer is plain SGD: every weight then moves by lr x its gradient, so
# gradients that were not reset, or a loss that was summed, show in the weights.

TRAIN_CFG = {"vocab_size": 30, "context_length": 8, "emb_dim": 16, "n_heads": 2,
             "n_layers": 1, "drop_rate": 0.0, "qkv_bias": False}
LEARNING_RATE = 0.1
BATCH_SHAPES = [(2, 5), (1, 7), (3, 4)]  # one training step each


def train_batches():
    gen = torch.Generator().manual_seed(11)
    high = TRAIN_CFG["vocab_size"]
    return [tuple(torch.randint(0, high, shape, generator=gen) for _ in ("input", "target"))
            for shape in BATCH_SHAPES]


def _step(model, optimizer, input_batch, target_batch, *, zero_grad=True, backward=True,
          step=True, zero_between=False, reduction="mean", pairing="flat", softmax=False):
    """One training step, written the ways learners write it (right by default)."""
    if zero_grad:
        optimizer.zero_grad()
    logits = model(input_batch)
    if softmax:
        logits = torch.softmax(logits, dim=-1)
    x, y = input_batch, target_batch
    pairs = {
        "flat": lambda: (logits.flatten(0, 1), y.flatten()),
        "unflattened": lambda: (logits, y),
        "targets_transposed": lambda: (logits.flatten(0, 1), y.T.flatten()),
        "logits_transposed": lambda: (logits.transpose(0, 1).flatten(0, 1), y.flatten()),
        "input_as_target": lambda: (logits.flatten(0, 1), x.flatten()),
        "shifted_again": lambda: (logits[:, :-1].flatten(0, 1), y[:, 1:].flatten()),
    }
    loss = F.cross_entropy(*pairs[pairing](), reduction=reduction)
    if backward:
        loss.backward()
    if zero_between:
        optimizer.zero_grad()
    if step:
        optimizer.step()
    return loss


def train_step_reference(model, optimizer, input_batch, target_batch):
    """The course's step: the one step of `train_model_simple`'s loop."""
    return _step(model, optimizer, input_batch, target_batch)


def _mistake(**kwargs):
    return lambda model, optimizer, x, y: _step(model, optimizer, x, y, **kwargs)


TRAIN_STEP_MISTAKES = [
    ("optimizer.zero_grad() is missing: your first step matches the course's, the next ones "
     "do not, because loss.backward() adds to the gradients already there. Call "
     "optimizer.zero_grad() at the start of every step.", _mistake(zero_grad=False)),
    # a step before backward finds no gradients yet: the same run, told apart by nothing
    ("optimizer.step() is missing, or runs before loss.backward() (when there are no gradients "
     "yet): either way the gradients are computed but the weights never change. Call "
     "loss.backward(), then optimizer.step().", _mistake(step=False)),
    ("loss.backward() is missing: without it there are no gradients, and optimizer.step() "
     "leaves every weight as it is.", _mistake(backward=False)),
    ("optimizer.zero_grad() runs between loss.backward() and optimizer.step(): it erases the "
     "gradients the step needs. Call it at the start of the step.", _mistake(zero_between=True)),
    ("your loss is the sum over all positions; the course's (and cross_entropy's default) is "
     "the mean: leave reduction at 'mean'.", _mistake(reduction="sum")),
    ("cross_entropy takes the classes in dimension 1: flatten the logits to [batch * n_tokens, "
     "vocab] and the targets to [batch * n_tokens] (logits.flatten(0, 1), target_batch.flatten()).",
     _mistake(pairing="unflattened")),
    ("your logits and targets are flattened in different orders, so positions are paired with "
     "other positions' targets: flatten both the same way, logits.flatten(0, 1) and "
     "target_batch.flatten().", _mistake(pairing="targets_transposed")),
    ("your logits and targets are flattened in different orders, so positions are paired with "
     "other positions' targets: flatten both the same way, logits.flatten(0, 1) and "
     "target_batch.flatten().", _mistake(pairing="logits_transposed")),
    ("the loss compares the logits with the input; the targets are target_batch, the input "
     "shifted by one token.", _mistake(pairing="input_as_target")),
    ("target_batch is already shifted by one token (the dataset did it): use it as it is, "
     "every position against the target at the same position.", _mistake(pairing="shifted_again")),
    ("cross_entropy applies the softmax itself: give it the raw logits, not probabilities.",
     _mistake(softmax=True)),
]


@dataclass
class _After:
    """What one step left behind."""
    loss: float
    weights: list          # every parameter, after the step
    backward_ran: bool     # did a gradient reach the parameters?
    grads_left: bool       # are there non-zero gradients after the step?


class _Problem(Exception):
    """The learner's step returned something that is not a loss."""


def _read_loss(out, step):
    if isinstance(out, torch.Tensor):
        if out.numel() != 1:
            raise _Problem(tr("at step {step} your train_step returned a tensor of shape "
                              "{shape}; return the loss, one number (the mean)",
                              step=step, shape=list(out.shape)))
        out = out.detach()
    loss = as_float(out)
    if loss is None:
        if isinstance(out, (float, torch.Tensor)):
            raise _Problem(tr("at step {step} your loss is {loss}: the loss is a finite number",
                              step=step, loss=float(out)))
        raise _Problem(tr("at step {step} your train_step returned {kind}, not the "
                          "loss (does it end with `return loss`?)",
                          step=step, kind=type(out).__name__))
    return loss


def train_with(step_fn):
    """Train the tiny model with `step_fn`, one step per batch, from the same
    start every time: a list of `_After`, one per step."""
    torch.manual_seed(123)
    model = GPTModel(TRAIN_CFG)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    params = list(model.parameters())
    reached = []
    hook = model.out_head.weight.register_hook(lambda grad: reached.append(True))
    history = []
    try:
        for step, (x, y) in enumerate(train_batches(), start=1):
            reached.clear()
            # what their step prints (it runs many times) would bury the verdict
            with contextlib.redirect_stdout(io.StringIO()):
                out = step_fn(model, optimizer, x.clone(), y.clone())
            loss = _read_loss(out, step)
            history.append(_After(
                loss=loss,
                weights=[p.detach().clone() for p in params],
                backward_ran=bool(reached),
                grads_left=any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in params),
            ))
    finally:
        hook.remove()
    return history


def _close(a, b):
    return math.isclose(a.loss, b.loss, rel_tol=1e-4, abs_tol=1e-5) and all(
        torch.allclose(u, v, rtol=1e-4, atol=1e-5, equal_nan=True)
        for u, v in zip(a.weights, b.weights))


def _same_run(theirs, mistaken):
    """Does a mistake's run leave exactly what theirs left (or raise the same error)?"""
    if isinstance(theirs, str) or isinstance(mistaken, str):
        return theirs == mistaken
    return len(theirs) == len(mistaken) and all(
        _close(a, b) and a.backward_ran == b.backward_ran and a.grads_left == b.grads_left
        for a, b in zip(theirs, mistaken))


def _run_mistake(step_fn):
    try:
        return train_with(step_fn)
    except Exception as err:
        return describe_exception(err)


def _difference(theirs, ours):
    """Where their run first leaves the course's."""
    names = [name for name, _ in GPTModel(TRAIN_CFG).named_parameters()]
    for step, (a, b) in enumerate(zip(theirs, ours), start=1):
        if not math.isclose(a.loss, b.loss, rel_tol=1e-4, abs_tol=1e-5):
            return tr("at step {step} your loss is {theirs:.5g}, the course's {ours:.5g}",
                      step=step, theirs=a.loss, ours=b.loss)
        for name, u, v in zip(names, a.weights, b.weights):
            if not torch.allclose(u, v, rtol=1e-4, atol=1e-5, equal_nan=True):
                return tr("the losses agree up to step {step}, but after it your {name} differs "
                          "from the course's by up to {difference:.3g}",
                          step=step, name=name, difference=float((u - v).abs().max()))
    return tr("your run differs from the course's")


@teacher
def check_train_step(answer):
    """Your turn: the learner's train_step(model, optimizer, input_batch,
    target_batch), run for 3 steps from the course's start, against the
    course's step: the same losses, the same weights after every step."""
    if no_answer_yet(answer):
        return Verdict(False)
    if inspect.isclass(answer) or not callable(answer):
        return report(False, "", tr("pass your function train_step itself (without calling "
                                    "it), got {kind}.", kind=type(answer).__name__))
    with torch.random.fork_rng(devices=[]):  # the learner's random state stays as it was
        ours = train_with(train_step_reference)
        try:
            theirs = train_with(answer)
        except NotImplementedError as err:
            return report(False, "", not_written_yet("train_step", err))
        except _Problem as problem:
            return report(False, "", tr("{problem}.", problem=problem))
        except Exception as err:
            theirs, raised = describe_exception(err), err
        if not isinstance(theirs, str) and all(_close(a, b) for a, b in zip(theirs, ours)):
            return report(True, "your train_step gives the course's loss and the course's "
                          "weights after each of 3 steps (batches of 2, 1 and 3 windows): "
                          "zero_grad, the mean cross-entropy over the flattened logits and "
                          "targets, backward, step, and the loss returned.", "")
        for hint, mistake in TRAIN_STEP_MISTAKES:
            if _same_run(theirs, _run_mistake(mistake)):
                return report(False, "", hint)
        if isinstance(theirs, str):
            return report(False, "", explain_error(raised))
        return report(False, "", tr("{difference}. One step: optimizer.zero_grad(), the loss "
                                    "(cross-entropy of logits.flatten(0, 1) against "
                                    "target_batch.flatten()), loss.backward(), "
                                    "optimizer.step(), return the loss.",
                                    difference=_difference(theirs, ours)))
