import pytest

from gpt_course.exercises.nb03_gelu_vs_relu import check_gelu_minimum, check_gradient_at_minus_two


@pytest.mark.parametrize("check", [check_gelu_minimum, check_gradient_at_minus_two])
def test_no_answer_yet(check, capsys):
    assert not check(None)
    assert capsys.readouterr().out.startswith("No answer yet")


@pytest.mark.parametrize("answer", [-0.75, -0.752])
def test_minimum_right(answer, capsys):
    assert check_gelu_minimum(answer)
    assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("answer", [0.0, -0.17, -1.0, "left", "-0.75", [0.75]])
def test_minimum_wrong(answer, capsys):
    assert not check_gelu_minimum(answer)
    assert capsys.readouterr().out.startswith("Not yet:")


@pytest.mark.parametrize("answer", [-0.0861, -0.0852])
def test_gradient_right(answer):
    assert check_gradient_at_minus_two(answer)


def test_gradient_right_as_tensor():
    import torch
    assert check_gradient_at_minus_two(torch.tensor(-0.0861))


@pytest.mark.parametrize("answer", [0.0, 0.0861, -0.0454, True])
def test_gradient_wrong(answer):
    assert not check_gradient_at_minus_two(answer)
