import math

import torch

from gpt_course.exercises.nb11_training_glimpse import check_first_target, check_initial_loss


def test_first_target(capsys):
    assert check_first_target([20, 30, 40, 50])
    assert check_first_target(torch.tensor([[20, 30, 40, 50]]))
    assert "Correct!" in capsys.readouterr().out
    assert not check_first_target([10, 20, 30, 40])
    assert "shifted" in capsys.readouterr().out
    assert not check_first_target([50])
    assert "4 ids" in capsys.readouterr().out
    assert not check_first_target([30, 40, 50, 60])
    assert not check_first_target("20 30 40 50")
    assert not check_first_target(None)
    assert "No answer yet" in capsys.readouterr().out


def test_initial_loss(capsys):
    assert check_initial_loss(math.log(2071))
    assert check_initial_loss(7.636)
    assert check_initial_loss(torch.tensor(math.log(2071)))
    assert "Correct!" in capsys.readouterr().out
    assert not check_initial_loss(math.log10(2071))
    assert "natural" in capsys.readouterr().out
    assert not check_initial_loss(1 / 2071)
    assert "minus" in capsys.readouterr().out
    assert not check_initial_loss(math.log(50257))
    assert not check_initial_loss("7.6")
    assert not check_initial_loss(True)
    assert not check_initial_loss(None)
    assert "No answer yet" in capsys.readouterr().out
