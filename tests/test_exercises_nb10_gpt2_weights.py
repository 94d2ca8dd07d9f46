"""Notebook 10's exercises: the two answer checks and the fuse_c_attn
your-turn check, run as a learner meets them (the skeleton and the hidden
solution come from the notebook itself)."""

import math

import pytest
import torch

from gpt_course import GPT2_CONFIGS, GPT_CONFIG_124M, gpt2_weights, model_size
from gpt_course.exercises.nb10_gpt2_weights import (
    C_ATTN_SHAPE_XL,
    GPT2_SMALL_TIED_PARAMS,
    SMALLER_VOCAB_NO_QKV_BIAS,
    SMALLER_VOCAB_TIED_PARAMS,
    SMALLER_VOCAB_UNTIED_PARAMS,
    check_c_attn_shape,
    check_fuse_c_attn,
    check_smaller_vocab_params,
)
from solutions import NOTEBOOKS, notebook_cells

NOTEBOOK = "10_gpt2_weights"


def says(capsys, check, answer, *phrases):
    """Run a check; return its verdict after asserting what it printed."""
    verdict = check(answer)
    out = capsys.readouterr().out
    for phrase in phrases:
        assert phrase in out, (answer, out)
    return verdict


# ------------------------------------------------ exercise 1: c_attn of GPT-2 XL


def test_c_attn_shape_is_the_tables():
    xl = {**GPT2_CONFIGS["gpt2-xl (1558M)"], "qkv_bias": True}
    row = next(w for w in gpt2_weights(xl) if w.hf_name == "h.0.attn.c_attn.weight")
    assert C_ATTN_SHAPE_XL == row.hf_shape == (1600, 4800)


def test_c_attn_shape_right_in_every_form(capsys):
    for answer in [(1600, 4800), [1600, 4800], torch.Size([1600, 4800]),
                   torch.tensor([1600, 4800]), (1600.0, 4800.0)]:
        assert says(capsys, check_c_attn_shape, answer, "Correct!", "3 x 1600")


@pytest.mark.parametrize("answer, hint", [
    ((4800, 1600), "[out, in]"),
    ((1600, 1600), "one of W_query, W_key, W_value"),
    ((768, 2304), "GPT-2 small's"),
    ((1600, 6400), "mlp.c_fc"),
    ((1600, 4801), "emb_dim 1600"),
    ((1600, 4800, 1), "emb_dim 1600"),
])
def test_c_attn_shape_wrong_answers_get_their_hint(capsys, answer, hint):
    assert not says(capsys, check_c_attn_shape, answer, "Not yet", hint)


@pytest.mark.parametrize("answer", [
    "1600x4800", "(1600, 4800)", (True, 4800), (1600.5, 4800), (math.nan, 4800),
    (math.inf, 4800), 1600 * 4800, torch.zeros(3, 2), {"shape": (1600, 4800)}, (10**400, 4800),
])
def test_c_attn_shape_never_accepts_or_raises(capsys, answer):
    assert not says(capsys, check_c_attn_shape, answer, "Not yet")


def test_c_attn_shape_no_answer(capsys):
    assert not says(capsys, check_c_attn_shape, None, "No answer yet")


# ------------------------------------------- your turn: fuse_c_attn


def shown_before(marker):
    """Everything the notebook shows before the cell containing `marker`:
    code, outputs and prose, without the hidden (<details>) solutions."""
    cells = notebook_cells(NOTEBOOK)
    shown = []
    for cell in cells:
        source = "".join(cell["source"])
        if marker in source:
            return "\n".join(shown)
        if "<details>" not in source:
            shown.append(source)
        for output in cell.get("outputs", []):
            shown.append("".join(output.get("text", "")))
            shown.append("".join(output.get("data", {}).get("text/plain", "")))
    raise AssertionError(f"no cell contains {marker!r}")


def test_no_answer_is_shown_before_its_exercise():
    assert "4800" not in shown_before("check_c_attn_shape(answer)")
    # hf_to_course (the other way) is shown; fusing, and course_to_hf's source, are not
    before_fuse = shown_before("check_fuse_c_attn(fuse_c_attn)")
    assert "torch.cat" not in before_fuse and "def course_to_hf(" not in before_fuse
    before_vocab = shown_before("check_smaller_vocab_params(answer)")
    assert "110,418,432" not in before_vocab and "110418432" not in before_vocab


def test_no_earlier_notebook_shows_exercise_3s_answer():
    """Notebook 07 prints GPT-2 small's 124,439,808 (an earlier version of
    exercise 3 asked for it); the smaller-vocabulary count is nowhere."""
    for path in sorted(NOTEBOOKS.glob("0*.ipynb")) + sorted(NOTEBOOKS.glob("zh/0*.ipynb")):
        text = path.read_text(encoding="utf-8")
        assert "110,418,432" not in text and "110418432" not in text, path.name


def right(W_query, W_key, W_value):
    return torch.cat([W_query.T, W_key.T, W_value.T], dim=1)


def test_other_right_ways_are_correct(capsys):
    assert says(capsys, check_fuse_c_attn, right, "Correct!")
    assert says(capsys, check_fuse_c_attn,
                lambda q, k, v: torch.cat([q, k, v], dim=0).T, "Correct!")
    assert says(capsys, check_fuse_c_attn,
                lambda q, k, v: torch.stack([q.T, k.T, v.T], dim=1).flatten(1), "Correct!")
    # in place on its arguments: the check hands it copies, so every case stays the same
    assert says(capsys, check_fuse_c_attn,
                lambda q, k, v: torch.cat([q.t_(), k.t_(), v.t_()], dim=1), "Correct!")


def test_what_the_learners_function_prints_does_not_bury_the_verdict(capsys):
    def chatty(W_query, W_key, W_value):
        print("debug:", W_query.shape)
        return right(W_query, W_key, W_value)

    check_fuse_c_attn(chatty)
    assert capsys.readouterr().out.startswith("Correct!")


def test_check_keeps_the_learners_random_numbers():
    state = torch.get_rng_state()
    check_fuse_c_attn(right)
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("wrong, hint", [
    (lambda q, k, v: torch.cat([q, k, v], dim=1), "still in nn.Linear's [out, in] layout"),
    (lambda q, k, v: torch.cat([q, k, v], dim=0).reshape(q.shape[0], -1), "reshape (or view)"),
    (lambda q, k, v: torch.cat([q, k, v], dim=0).view(q.shape[0], 3 * q.shape[0]), "does not transpose"),
    (lambda q, k, v: torch.cat([k.T, q.T, v.T], dim=1), "wrong order"),
    (lambda q, k, v: torch.cat([v.T, k.T, q.T], dim=1), "wrong order"),
    (lambda q, k, v: torch.cat([q.T, v.T, k.T], dim=1), "wrong order"),
    (lambda q, k, v: torch.cat([q.T, q.T, q.T], dim=1), "every part is the query"),
    (lambda q, k, v: torch.cat([q, k, v], dim=0), "shape [12, 4], expected [4, 12]"),
    (lambda q, k, v: 2 * right(q, k, v), "must be W_query.T"),
])
def test_each_mistake_gets_its_hint(capsys, wrong, hint):
    assert not says(capsys, check_fuse_c_attn, wrong, "Not yet", hint)


def raises_inside(q, k, v):
    raise KeyError("W_out")


@pytest.mark.parametrize("answer, phrase", [
    (3, "pass your function fuse_c_attn itself"),
    ("torch.cat", "pass your function"),
    (torch.nn.Linear, "pass your function"),
    (right(torch.eye(2), torch.eye(2), torch.eye(2)), "pass your function"),
    (raises_inside, "KeyError"),
    (lambda q, k, v: None, "returned NoneType"),
    (lambda q, k, v: (q, k, v), "returned tuple"),
    (lambda q, k, v: right(q, k, v).long(), "dtype torch.int64"),
    (lambda q, k, v: right(q, k, v) * math.nan, "NaN"),
    (lambda q, k, v: right(q, k, v)[:, :-1], "expected"),
    (lambda q: q, "TypeError"),
])
def test_crash_battery_says_not_yet(capsys, answer, phrase):
    assert not says(capsys, check_fuse_c_attn, answer, "Not yet", phrase)


def test_fuse_no_answer(capsys):
    assert not says(capsys, check_fuse_c_attn, None, "No answer yet")


# ------------------------------------------------------- exercise 3: a smaller vocabulary


def test_smaller_vocab_constants_are_the_packages_numbers():
    small = {**GPT2_CONFIGS["gpt2-small (124M)"], "qkv_bias": True}
    assert GPT2_SMALL_TIED_PARAMS == model_size(small).tied_params == 124_439_808
    smaller = model_size({**small, "vocab_size": 32_000})
    assert (smaller.tied_params, smaller.total_params) == (
        SMALLER_VOCAB_TIED_PARAMS, SMALLER_VOCAB_UNTIED_PARAMS)
    # by hand: the 18,257 tokens that go take 768 numbers each, once (tied), twice (untied)
    assert SMALLER_VOCAB_TIED_PARAMS == 124_439_808 - 18_257 * 768 == 110_418_432
    assert SMALLER_VOCAB_UNTIED_PARAMS == 163_037_184 - 2 * 18_257 * 768
    assert SMALLER_VOCAB_NO_QKV_BIAS == model_size(
        {**GPT_CONFIG_124M, "vocab_size": 32_000}).tied_params


def test_smaller_vocab_right_in_every_form(capsys):
    for answer in [110_418_432, 110_418_432.0, torch.tensor(110_418_432)]:
        assert says(capsys, check_smaller_vocab_params, answer, "Correct!", "18,257 x 768")


@pytest.mark.parametrize("answer, hint", [
    (124_439_808, "as published, with 50,257 tokens"),
    (134_994_432, "counts the output head separately"),
    (124_439_808 - 2 * 18_257 * 768, "the rows went twice"),
    (110_418_432 - 12 * 3 * 768, "without the query/key/value biases"),
    (124_439_808 - 18_257, "768 numbers, not 1"),
    (110_000_000, "start from GPT-2 small as published"),
    (110_418_433, "start from GPT-2 small as published"),
])
def test_smaller_vocab_wrong_answers_get_their_hint(capsys, answer, hint):
    assert not says(capsys, check_smaller_vocab_params, answer, "Not yet", hint)


@pytest.mark.parametrize("answer", [
    110_418_432.9, "110418432", "110,418,432", True, math.nan, math.inf, 10**400,
    torch.tensor([110_418_432, 1]), [110_418_432],
    torch.tensor(110_418_432.5, dtype=torch.float64),
])
def test_smaller_vocab_never_accepts_or_raises(capsys, answer):
    assert not says(capsys, check_smaller_vocab_params, answer, "Not yet")


def test_smaller_vocab_no_answer(capsys):
    assert not says(capsys, check_smaller_vocab_params, None, "No answer yet")
