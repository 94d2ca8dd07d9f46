"""Notebook 08's "your turn": the learner writes generate_text_simple.

The hidden solution and the skeleton are read from the notebook itself and
run through the real check; each classic mistake, written as a small wrong
function, gets its own hint; whatever the check is given, it says "Not yet"
and never raises."""


import pytest
import torch

from gpt_course import generate_text_simple
from gpt_course.exercises.nb08_greedy_generation import (
    GENERATION_FAILURES, GENERATION_MISTAKES, TINY_CFG, generation_cases, tiny_generation_model,
    check_generate_text_simple,
)
from solutions import notebook_cells, run_cell, skeleton_code, solution_code

NOTEBOOK = "08_greedy_generation"
CHECK = "check_generate_text_simple"


def test_plug_in_cell_runs_the_learners_loop():
    """The cell after the package's run: says the loop is not written yet while
    the skeleton raises, and compares the learner's tokens with `out` once it
    works (here on a tiny model instead of the 124M one)."""
    cells = notebook_cells(NOTEBOOK)
    use = next("".join(c["source"]) for c in cells if c.get("id") == "yourturn-run")
    setup = """
from gpt_course.exercises.nb08_greedy_generation import TINY_CFG
torch.manual_seed(1)
model = GPTModel(TINY_CFG).eval()
context_size = TINY_CFG["context_length"]
encoded_tensor = torch.tensor([[1, 2, 3, 4]])
out = generate_text_simple(model, encoded_tensor, 6, context_size)
"""
    skeleton = skeleton_code(NOTEBOOK, CHECK)
    printed = run_cell(NOTEBOOK, setup + skeleton + "\n" + use)
    assert "my_generate_text_simple still raises NotImplementedError" in printed
    solved = run_cell(NOTEBOOK, setup + solution_code(NOTEBOOK, CHECK) + "\n" + use)
    assert "your loop gives the book's tokens: True" in solved


# ------------------------------------------------------------ the test bed

def test_cases_cover_what_the_exercise_promises():
    model = tiny_generation_model()
    cases = generation_cases(model)
    batches = {case.args[1].shape[0] for case in cases}
    assert batches == {1, 2}
    context = TINY_CFG["context_length"]
    assert any(case.args[1].shape[1] > context for case in cases)      # a prompt longer
    assert any(case.args[1].shape[1] < context for case in cases)      # and shorter
    assert any(case.args[1].shape[1] + case.args[2] > case.args[3] + 1 for case in cases)
    assert any(case.args[3] < context for case in cases)               # a smaller context_size


def test_greedy_choice_does_not_hang_on_a_rounding_tie():
    """argmax of the logits and of the softmax agree on every case, so a
    learner who leaves the softmax out is judged the same."""
    model = tiny_generation_model()
    for case in generation_cases(model):
        def argmax_logits(model, idx, n, context_size):
            for _ in range(n):
                logits = model(idx[:, -context_size:])[:, -1, :]
                idx = torch.cat((idx, logits.argmax(dim=-1, keepdim=True)), dim=1)
            return idx
        with torch.no_grad():
            assert torch.equal(argmax_logits(*case.args), generate_text_simple(*case.args))


def test_every_mistake_differs_from_the_right_loop_somewhere():
    """Otherwise a right loop could be told it made that mistake."""
    model = tiny_generation_model()
    cases = generation_cases(model)
    for mistake in GENERATION_MISTAKES + GENERATION_FAILURES:
        differs = False
        for case in cases:
            want = generate_text_simple(*case.args)
            try:
                got = mistake.output(None, *case.args)
            except Exception:
                differs = True
                break
            if got.shape != want.shape or not torch.equal(got, want):
                differs = True
                break
        assert differs, mistake.hint


# ------------------------------------------------------------ right, written other ways

def book(model, idx, max_new_tokens, context_size):
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]
        with torch.no_grad():
            logits = model(idx_cond)
        logits = logits[:, -1, :]
        probas = torch.softmax(logits, dim=-1)
        idx_next = torch.argmax(probas, dim=-1, keepdim=True)
        idx = torch.cat((idx, idx_next), dim=1)
    return idx


def no_softmax_no_grad_block(model, idx, max_new_tokens, context_size):
    for _ in range(max_new_tokens):
        logits = model(idx[:, -context_size:])
        idx = torch.cat((idx, logits[:, -1].argmax(-1, keepdim=True)), dim=1)
    return idx


def switches_to_train_mode(model, idx, max_new_tokens, context_size):
    model.train()  # no dropout in the check's model: the mode cannot matter
    return book(model, idx, max_new_tokens, context_size)


def switches_to_eval_mode(model, idx, max_new_tokens, context_size):
    model.eval()
    return book(model, idx, max_new_tokens, context_size)


def in_place_and_list_append(model, idx, max_new_tokens, context_size):
    rows = idx.tolist()
    for _ in range(max_new_tokens):
        window = torch.tensor([row[-context_size:] for row in rows])
        nxt = model(window)[:, -1, :].argmax(dim=1)
        for row, token in zip(rows, nxt.tolist()):
            row.append(token)
    idx.zero_()  # scribbles on its input: the check hands it a copy
    return torch.tensor(rows)


def prints_as_it_goes(model, idx, max_new_tokens, context_size):
    print("debugging:", idx.shape)  # not shown: the check runs it many times
    return book(model, idx, max_new_tokens, context_size)


@pytest.mark.parametrize("fn", [book, no_softmax_no_grad_block, switches_to_train_mode,
                                switches_to_eval_mode, in_place_and_list_append,
                                prints_as_it_goes])
def test_right_loops_are_correct(fn, capsys):
    state = torch.get_rng_state()
    assert check_generate_text_simple(fn)
    assert capsys.readouterr().out.startswith("Correct!")
    assert torch.equal(state, torch.get_rng_state())  # the learner's RNG is left alone


def test_a_model_left_in_train_mode_does_not_change_the_verdict(capsys):
    """Whatever mode or grad setting the learner's notebook is in."""
    with torch.enable_grad():
        assert check_generate_text_simple(book)
    with torch.no_grad():
        assert check_generate_text_simple(no_softmax_no_grad_block)
    assert capsys.readouterr().out.count("Correct!") == 2


# ------------------------------------------------------------ classic mistakes

def loop(model, idx, n, context_size, crop="last", position=-1, keepdim=True, argmax_dim=-1,
         softmax_dim=-1, cat_dim=1, overwrite=False, new_only=False):
    """The learner's loop, with one slip at a time (written independently of
    the check's own mistake functions)."""
    new = []
    for _ in range(n):
        if crop == "last":
            idx_cond = idx[:, -context_size:]
        elif crop == "front":
            idx_cond = idx[:, :context_size]
        elif crop == "cfg":
            idx_cond = idx[:, -model.cfg["context_length"]:]
        else:
            idx_cond = idx
        if overwrite:
            idx = idx_cond
        logits = model(idx_cond)
        probas = logits[:, position, :].softmax(dim=softmax_dim)
        idx_next = probas.argmax(dim=argmax_dim, keepdim=keepdim)
        new.append(idx_next)
        idx = torch.cat((idx, idx_next), dim=cat_dim)
    return torch.cat(new, dim=1) if new_only else idx


@pytest.mark.parametrize("slip, hint", [
    (dict(crop=None), "the context is not cropped"),
    (dict(crop="front"), "you crop from the front"),
    (dict(crop="cfg"), "not to the context_size argument"),
    (dict(position=0), "first position's logits"),
    (dict(new_only=True), "you return only the new tokens"),
    (dict(overwrite=True), "you overwrite idx with the cropped window"),
    (dict(keepdim=False), "keepdim=True"),
    (dict(argmax_dim=0), "the argmax runs over the batch dimension"),
    (dict(softmax_dim=0), "the softmax runs over the batch dimension"),
    (dict(cat_dim=0), "along the sequence"),
])
def test_each_mistake_gets_its_hint(slip, hint, capsys):
    def mine(model, idx, n, context_size):
        return loop(model, idx, n, context_size, **slip)
    assert not check_generate_text_simple(mine)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


def test_an_unknown_mistake_gets_the_difference_and_the_general_hint(capsys):
    def always_seven(model, idx, n, context_size):
        return torch.cat((idx, book(model, idx, n, context_size)[:, -n:] * 0 + 7), dim=1)

    assert not check_generate_text_simple(always_seven)
    out = capsys.readouterr().out
    assert "differs from the course's" in out and "largest difference" in out
    assert "idx_cond = idx[:, -context_size:]" in out


def test_one_token_too_few_is_named_by_shape(capsys):
    def one_short(model, idx, n, context_size):
        return book(model, idx, n - 1, context_size)

    assert not check_generate_text_simple(one_short)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "expected [1, 8]" in out, out


# ------------------------------------------------------------ crash battery

def raises(model, idx, n, context_size):
    return idx[:, 99] + 1


def not_implemented(model, idx, n, context_size):
    raise NotImplementedError("your turn: write the loop body")


def returns_none(model, idx, n, context_size):
    book(model, idx, n, context_size)


def returns_floats(model, idx, n, context_size):
    return book(model, idx, n, context_size).float()


def returns_nan(model, idx, n, context_size):
    return book(model, idx, n, context_size) * float("nan")


def returns_a_list(model, idx, n, context_size):
    return book(model, idx, n, context_size).tolist()


def wrong_signature(model, idx):
    return idx


class AClass:
    def __call__(self, *args):
        return book(*args)


@pytest.mark.parametrize("answer, said", [
    (None, "No answer yet"),
    (3, "pass your function generate_text_simple itself"),
    ("my_generate_text_simple", "pass your function generate_text_simple itself"),
    (AClass, "pass your function generate_text_simple itself"),
    (not_implemented, "still raises NotImplementedError (your turn: write the loop body)"),
    (raises, "raised IndexError"),
    (wrong_signature, "raised TypeError"),
    (returns_none, "returned NoneType, not a tensor"),
    (returns_a_list, "returned list, not a tensor"),
    (returns_floats, "dtype torch.float32, expected torch.int64"),
    (returns_nan, "dtype torch.float32"),
])
def test_crash_battery_says_not_yet(answer, said, capsys):
    verdict = check_generate_text_simple(answer)
    assert not verdict
    out = capsys.readouterr().out
    assert out.startswith("Not yet:" if said != "No answer yet" else said) and said in out, out


def test_an_instance_with_call_is_run_like_a_function(capsys):
    """A callable object is the learner's function for the check's purposes."""
    assert check_generate_text_simple(AClass())
    assert capsys.readouterr().out.startswith("Correct!")
