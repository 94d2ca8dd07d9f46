"""Every "your turn" exercise as a learner meets it: the skeleton cell, run as
committed, says "Not yet" (it still raises NotImplementedError), and the hidden
solution, taken from the notebook's <details> fold, is Correct. The mistakes
each check diagnoses are tested in tests/test_yourturn_nbNN_*.py."""

import pytest

from solutions import run_cell, skeleton_code, solution_code

YOUR_TURN = [
    ("02_layer_norm", "check_layer_norm"),
    ("03_gelu_vs_relu", "check_gelu"),
    ("04_feed_forward", "check_feed_forward"),
    ("05_shortcut_connections", "check_shortcut_forward"),
    ("06_transformer_block", "check_multi_head_attention"),
    ("06_transformer_block", "check_transformer_block"),
    ("07_gpt_model", "check_gpt_model_forward"),
    ("07_gpt_model", "check_separate_dropout"),  # the book's exercise 4.3
    ("08_greedy_generation", "check_generate_text_simple"),
    ("09_faster_generation", "check_attention_with_cache"),
    ("10_gpt2_weights", "check_fuse_c_attn"),
    ("11_training_glimpse", "check_train_step"),
    ("12_smaller_numbers", "check_quantize_per_channel"),
]
# Exercise 4.3's skeleton is the book's runnable code with one dropout rate,
# not a NotImplementedError: its own test is in test_yourturn_nb07_gpt_model.py.
RUNNABLE_SKELETONS = {"check_separate_dropout"}


@pytest.mark.parametrize("notebook, check", YOUR_TURN)
def test_hidden_solution_is_correct(notebook, check):
    code = solution_code(notebook, check)
    assert "raise NotImplementedError" not in code
    out = run_cell(notebook, code)
    assert out.startswith("Correct!"), out


@pytest.mark.parametrize("notebook, check",
                         [(nb, check) for nb, check in YOUR_TURN if check not in RUNNABLE_SKELETONS])
def test_skeleton_says_not_yet(notebook, check):
    out = run_cell(notebook, skeleton_code(notebook, check))
    assert out.startswith("Not yet:") and "NotImplementedError" in out, out


def test_every_concept_notebook_has_one():
    assert {nb[:2] for nb, _ in YOUR_TURN} == {f"{n:02d}" for n in range(2, 13)}
    assert len(YOUR_TURN) >= 10
