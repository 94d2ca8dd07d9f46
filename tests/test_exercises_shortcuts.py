import pytest
import torch

from gpt_course.exercises.nb05_shortcut_connections import check_first_layer_ratio, check_relu_first_layer


@pytest.mark.parametrize("check", [check_first_layer_ratio, check_relu_first_layer])
def test_no_answer_yet(check, capsys):
    assert not check(None)
    assert capsys.readouterr().out.startswith("No answer yet")


@pytest.mark.parametrize("answer", [1099, 1098.95, torch.tensor(1099.0)])
def test_ratio_right(answer):
    assert check_first_layer_ratio(answer)


def test_ratio_inverted_gets_a_specific_hint(capsys):
    assert not check_first_layer_ratio(1 / 1099)
    assert "other way round" in capsys.readouterr().out


@pytest.mark.parametrize("answer", [1000, 0.2217, float("nan"), "many"])
def test_ratio_wrong(answer):
    assert not check_first_layer_ratio(answer)


def test_relu_right():
    assert check_relu_first_layer(0.5558)


@pytest.mark.parametrize("answer", [0.2217, 0.0, 0.6])
def test_relu_wrong(answer):
    assert not check_relu_first_layer(answer)
