import pytest

from gpt_course.exercises.gelu import check_gelu_minimum, check_gradient_at_minus_two


@pytest.mark.parametrize("check", [check_gelu_minimum, check_gradient_at_minus_two])
def test_no_answer_yet(check, capsys):
    assert check(None) is False
    assert capsys.readouterr().out.startswith("No answer yet")


@pytest.mark.parametrize("answer", [-0.75, -0.752, "-0.75"])
def test_minimum_right(answer, capsys):
    assert check_gelu_minimum(answer) is True
    assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("answer", [0.0, -0.17, -1.0, "left", [0.75]])
def test_minimum_wrong(answer, capsys):
    assert check_gelu_minimum(answer) is False
    assert capsys.readouterr().out.startswith("Not yet:")


@pytest.mark.parametrize("answer", [-0.0861, -0.0852])
def test_gradient_right(answer):
    assert check_gradient_at_minus_two(answer) is True


def test_gradient_right_as_tensor():
    import torch
    assert check_gradient_at_minus_two(torch.tensor(-0.0861)) is True


@pytest.mark.parametrize("answer", [0.0, 0.0861, -0.0454, True])
def test_gradient_wrong(answer):
    assert check_gradient_at_minus_two(answer) is False
