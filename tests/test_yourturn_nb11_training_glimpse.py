"""Notebook 11's "your turn": the learner writes one training step.

The hidden solution and the skeleton are read from the notebook itself and
run through the real check; each classic mistake, written as a small wrong
function, gets its own hint; whatever the check is given, it says "Not yet"
and never raises."""

import pytest
import torch
import torch.nn.functional as F

from gpt_course import GPTModel
from gpt_course.beyond.nb11_training import calc_loss_batch, train_model_simple
from gpt_course.exercises.nb11_training_glimpse import (
    LEARNING_RATE, TRAIN_CFG, TRAIN_STEP_MISTAKES, train_with, train_batches, check_train_step,
    train_step_reference,
)

NOTEBOOK = "11_training_glimpse"
CHECK = "check_train_step"


# ------------------------------------------------------------ the test bed

def test_the_reference_step_is_train_model_simples_step():
    """The check's reference is the step of the package's loop: one epoch of
    train_model_simple over the same batches gives the same losses and weights."""
    history = train_with(train_step_reference)
    assert len(history) == 3
    assert all(step.backward_ran and step.grads_left for step in history)
    assert not torch.equal(history[0].weights[0], history[-1].weights[0])

    torch.manual_seed(123)
    model = GPTModel(TRAIN_CFG)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    loop = train_model_simple(model, train_batches(), optimizer, num_epochs=1)
    assert loop.train_losses == pytest.approx([step.loss for step in history], rel=1e-6)
    for after, before in zip(model.parameters(), history[-1].weights):
        torch.testing.assert_close(after.detach(), before)


def test_every_mistake_differs_from_the_right_step():
    """Otherwise a right step could be told it made that mistake."""
    ours = train_with(train_step_reference)
    for hint, mistake in TRAIN_STEP_MISTAKES:
        try:
            theirs = train_with(mistake)
        except Exception:
            continue
        same = [abs(a.loss - b.loss) < 1e-6
                and all(torch.equal(u, v) for u, v in zip(a.weights, b.weights))
                for a, b in zip(theirs, ours)]
        assert not all(same), hint


# ------------------------------------------------------------ right, written other ways

def book(model, optimizer, input_batch, target_batch):
    optimizer.zero_grad()
    loss = calc_loss_batch(input_batch, target_batch, model)
    loss.backward()
    optimizer.step()
    return loss


def by_hand(model, optimizer, input_batch, target_batch):
    model.zero_grad(set_to_none=False)
    logits = model(input_batch)
    logp = torch.log_softmax(logits, dim=-1)
    loss = -logp.gather(-1, target_batch.unsqueeze(-1)).mean()
    loss.backward()
    optimizer.step()
    return loss.item()


def transposed_classes(model, optimizer, input_batch, target_batch):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(input_batch).transpose(1, 2), target_batch)  # [B, V, T] vs [B, T]
    loss.backward()
    optimizer.step()
    return loss.detach().reshape(1)


def zero_grad_at_the_end(model, optimizer, input_batch, target_batch):
    model.train()
    logits = model(input_batch)
    loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), target_batch.view(-1))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    print("loss", loss.item())  # not shown: the check runs it many times
    return loss


@pytest.mark.parametrize("fn", [book, by_hand, transposed_classes, zero_grad_at_the_end])
def test_right_steps_are_correct(fn, capsys):
    state = torch.get_rng_state()
    assert check_train_step(fn)
    assert capsys.readouterr().out.startswith("Correct!")
    assert torch.equal(state, torch.get_rng_state())  # the learner's RNG is left alone


# ------------------------------------------------------------ classic mistakes

def step(model, optimizer, x, y, zero=True, backward=True, step=True, zero_late=False,
         loss="mean"):
    """The learner's step, with one slip at a time (written independently of
    the check's own mistake functions)."""
    if zero:
        model.zero_grad()
    logits = model(x)
    flat_logits, flat_targets = logits.reshape(-1, logits.size(-1)), y.reshape(-1)
    if loss == "mean":
        value = F.cross_entropy(flat_logits, flat_targets)
    elif loss == "sum":
        value = F.cross_entropy(flat_logits, flat_targets, reduction="sum")
    elif loss == "no flatten":
        value = F.cross_entropy(logits, y)
    elif loss == "targets transposed":
        value = F.cross_entropy(flat_logits, y.t().reshape(-1))
    elif loss == "logits transposed":
        value = F.cross_entropy(logits.permute(1, 0, 2).reshape(-1, logits.size(-1)), flat_targets)
    elif loss == "input":
        value = F.cross_entropy(flat_logits, x.reshape(-1))
    elif loss == "shift again":
        value = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), y[:, 1:].reshape(-1))
    elif loss == "softmax":
        probas = logits.softmax(dim=-1)
        value = F.cross_entropy(probas.reshape(-1, probas.size(-1)), flat_targets)
    if backward:
        value.backward()
    if zero_late:
        optimizer.zero_grad()
    if step:
        optimizer.step()
    return value


@pytest.mark.parametrize("slip, hint", [
    (dict(zero=False), "optimizer.zero_grad() is missing"),
    (dict(step=False), "optimizer.step() is missing"),
    (dict(backward=False), "loss.backward() is missing"),
    (dict(zero_late=True), "runs between loss.backward() and optimizer.step()"),
    (dict(backward=False, step=False), "loss.backward() is missing"),
    (dict(loss="sum"), "the sum over all positions"),
    (dict(loss="no flatten"), "cross_entropy takes the classes in dimension 1"),
    (dict(loss="targets transposed"), "flattened in different orders"),
    (dict(loss="logits transposed"), "flattened in different orders"),
    (dict(loss="input"), "compares the logits with the input"),
    (dict(loss="shift again"), "already shifted by one token"),
    (dict(loss="softmax"), "give it the raw logits"),
])
def test_each_mistake_gets_its_hint(slip, hint, capsys):
    def mine(model, optimizer, x, y):
        return step(model, optimizer, x, y, **slip)
    assert not check_train_step(mine)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


def test_an_unknown_mistake_says_where_the_runs_part(capsys):
    def two_steps(model, optimizer, x, y):
        loss = book(model, optimizer, x, y)
        optimizer.step()  # one more step with the same gradients
        return loss

    assert not check_train_step(two_steps)
    out = capsys.readouterr().out
    assert "the losses agree up to step 1, but after it your" in out, out
    assert "optimizer.zero_grad(), the loss" in out

    def wrong_loss_returned(model, optimizer, x, y):
        return book(model, optimizer, x, y) * 2

    assert not check_train_step(wrong_loss_returned)
    out = capsys.readouterr().out
    assert "at step 1 your loss is" in out and "the course's" in out, out


# ------------------------------------------------------------ crash battery

def not_implemented(model, optimizer, x, y):
    raise NotImplementedError("your turn: write one training step")


def raises(model, optimizer, x, y):
    return model(x[:, :, None])


def returns_none(model, optimizer, x, y):
    book(model, optimizer, x, y)


def returns_nan(model, optimizer, x, y):
    return book(model, optimizer, x, y) * float("nan")


def returns_unreduced(model, optimizer, x, y):
    book(model, optimizer, x, y)
    return torch.zeros(2, 5)


def returns_text(model, optimizer, x, y):
    return f"{book(model, optimizer, x, y).item():.3f}"


def unreduced_backward(model, optimizer, x, y):
    optimizer.zero_grad()
    logits = model(x)
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
    loss.backward()
    optimizer.step()
    return loss


def wrong_signature(model, x, y):
    return book(model, None, x, y)


class AClass:
    def __init__(self, *args):
        raise RuntimeError("a class is not a step")


@pytest.mark.parametrize("answer, said", [
    (None, "No answer yet"),
    (3, "pass your function train_step itself"),
    ("train_step", "pass your function train_step itself"),
    (AClass, "pass your function train_step itself"),
    (not_implemented, "still raises NotImplementedError (your turn: write one training step)"),
    (raises, "raised ValueError"),
    (wrong_signature, "raised TypeError"),
    (unreduced_backward, "raised RuntimeError: grad can be implicitly created only for scalar"),
    (returns_none, "returned NoneType, not the loss"),
    (returns_text, "returned str, not the loss"),
    (returns_unreduced, "returned a tensor of shape [2, 5]"),
    (returns_nan, "your loss is nan"),
])
def test_crash_battery_says_not_yet(answer, said, capsys):
    verdict = check_train_step(answer)
    assert not verdict
    out = capsys.readouterr().out
    assert out.startswith("Not yet:" if said != "No answer yet" else said) and said in out, out
