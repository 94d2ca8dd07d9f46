"""Notebook 06's answer checks: book exercise 4.1 and two own exercises."""

import pytest
import torch

from gpt_course import GPT_CONFIG_124M, TransformerBlock, count_parameters
from gpt_course.exercises.nb06_transformer_block import (
    ATTENTION_PARAMS, BLOCK_PARAMS, FEED_FORWARD_PARAMS, check_block_parameters,
    check_block_total, check_masked_entries,
)


def test_constants_match_the_package():
    block = TransformerBlock(GPT_CONFIG_124M)
    assert count_parameters(block.att) == ATTENTION_PARAMS == 2_360_064
    assert count_parameters(block.ff) == FEED_FORWARD_PARAMS == 4_722_432
    assert count_parameters(block) == BLOCK_PARAMS == 7_085_568


def test_masked_entries_constant_matches_the_mask():
    mask = TransformerBlock(GPT_CONFIG_124M).att.mask[:5, :5]
    assert int(mask.sum()) == 10


@pytest.mark.parametrize("answer", [
    (2_360_064, 4_722_432), [2_360_064.0, 4_722_432.0], torch.tensor([2_360_064, 4_722_432]),
    {"attention": 2_360_064, "feed forward": 4_722_432},
    {"Attention": 2_360_064, "feed-forward": torch.tensor(4_722_432)},
])
def test_block_parameters_right_in_every_form(answer, capsys):
    assert check_block_parameters(answer)
    assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("answer, hint", [
    ((4_722_432, 2_360_064), "swapped"),
    ((3 * 768 * 768, 4_722_432), "out_proj"),
    ((2_360_064 + 3 * 768, 4_722_432), "qkv_bias is False"),
    ((4 * 768 * 768, 4_722_432), "does have a bias"),
    ((2_360_064, 2 * 768 * 3072), "biases"),
    ((1, 4_722_432), "count block.att.parameters()"),
    ((2_360_064, 1), "count block.ff.parameters()"),
    ((2_360_064.5, 4_722_432), "give two whole numbers"),
    (("2360064", "4722432"), "give two whole numbers"),
    ((2_360_064, 4_722_432, 0), "give two whole numbers"),
    ({"attention": 2_360_064}, "give two whole numbers"),
    (torch.tensor([[2_360_064, 4_722_432]]), "give two whole numbers"),
    ("a lot", "give two whole numbers"),
])
def test_block_parameters_hints(answer, hint, capsys):
    assert not check_block_parameters(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


@pytest.mark.parametrize("answer", [7_085_568, 7_085_568.0, torch.tensor(7_085_568),
                                    torch.tensor([7_085_568.0])])
def test_block_total_right(answer, capsys):
    assert check_block_total(answer)
    assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("answer, hint", [
    (2_360_064 + 4_722_432, "LayerNorm"),
    (7_085_568 - 1536, "two LayerNorms"),
    (7_085_569, "counts them all"),
    (7_085_568.9, "give one whole number"),
    ("7085568", "give one whole number"),
    (torch.tensor([7_085_568, 7_085_568]), "give one whole number"),
    (float("nan"), "give one whole number"),
    (10**400, "counts them all"),
])
def test_block_total_hints(answer, hint, capsys):
    assert not check_block_total(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


def test_masked_entries(capsys):
    assert check_masked_entries(10) and check_masked_entries(10.0)
    assert check_masked_entries(torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1).sum())
    assert capsys.readouterr().out.count("Correct!") == 3
    for answer, hint in [(15, "diagonal"), (25, "only the future"), (4, "every masked entry"),
                         (11, "above the diagonal"), (10.5, "whole number"), ([1, 2], "whole number"),
                         ("10", "whole number")]:
        assert not check_masked_entries(answer)
        out = capsys.readouterr().out
        assert out.startswith("Not yet:") and hint in out, (answer, out)


@pytest.mark.parametrize("check", [check_block_parameters, check_block_total, check_masked_entries])
def test_no_answer_yet(check, capsys):
    assert not check(None)
    assert capsys.readouterr().out.startswith("No answer yet")
