from gpt_course import GPT_CONFIG_124M, TransformerBlock, count_parameters
from gpt_course.exercises.nb06_transformer_block import (
    ATTENTION_PARAMS, BLOCK_PARAMS, FEED_FORWARD_PARAMS, check_block_parameters,
    check_block_total,
)


def test_constants_match_the_package():
    block = TransformerBlock(GPT_CONFIG_124M)
    assert count_parameters(block.att) == ATTENTION_PARAMS == 2_360_064
    assert count_parameters(block.ff) == FEED_FORWARD_PARAMS == 4_722_432
    assert count_parameters(block) == BLOCK_PARAMS


def test_block_parameters(capsys):
    assert check_block_parameters((2_360_064, 4_722_432))
    assert check_block_parameters({"attention": 2_360_064, "feed forward": 4_722_432})
    assert "Correct!" in capsys.readouterr().out
    assert not check_block_parameters((4_722_432, 2_360_064))
    assert "swapped" in capsys.readouterr().out
    assert not check_block_parameters((3 * 768 * 768, 4_722_432))
    assert "out_proj" in capsys.readouterr().out
    assert not check_block_parameters((2_360_064, 2 * 768 * 3072))
    assert "biases" in capsys.readouterr().out
    assert not check_block_parameters("a lot")
    assert not check_block_parameters(None)
    assert "No answer yet" in capsys.readouterr().out


def test_block_total(capsys):
    assert check_block_total(7_085_568)
    assert not check_block_total(2_360_064 + 4_722_432)
    assert "LayerNorm" in capsys.readouterr().out
    assert not check_block_total(1.5)
    assert not check_block_total(None)
    assert "No answer yet" in capsys.readouterr().out


def test_masked_entries(capsys):
    from gpt_course.exercises.nb06_transformer_block import check_masked_entries

    assert check_masked_entries(10)
    assert not check_masked_entries(15)
    assert "diagonal" in capsys.readouterr().out
    assert not check_masked_entries([1, 2])
    assert not check_masked_entries(None)
    assert "No answer yet" in capsys.readouterr().out
