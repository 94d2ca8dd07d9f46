import pytest
import torch

from gpt_course.exercises.nb04_feed_forward import check_all_blocks_small, check_medium_feed_forward


@pytest.mark.parametrize("check", [check_medium_feed_forward, check_all_blocks_small])
def test_no_answer_yet(check, capsys):
    assert not check(None)
    assert capsys.readouterr().out.startswith("No answer yet")


@pytest.mark.parametrize("answer", [8_393_728, 8393728.0, torch.tensor(8_393_728)])
def test_medium_right(answer):
    assert check_medium_feed_forward(answer)


def test_medium_weights_only_gets_a_specific_hint(capsys):
    assert not check_medium_feed_forward(2 * 1024 * 4096)
    assert "bias" in capsys.readouterr().out


@pytest.mark.parametrize("answer", [4_722_432, 8_393_729, "8393728", 8393728.5])
def test_medium_wrong(answer):
    assert not check_medium_feed_forward(answer)


def test_all_blocks_right():
    assert check_all_blocks_small(56_669_184)


@pytest.mark.parametrize("answer", [4_722_432, 56_669_185, True])
def test_all_blocks_wrong(answer):
    assert not check_all_blocks_small(answer)
