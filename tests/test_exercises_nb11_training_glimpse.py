"""Notebook 11's answer checks: the first target, and a loss read as a probability."""

import math

import pytest
import torch

from gpt_course.beyond.nb11_training import GPTDatasetV1
from gpt_course.exercises.nb11_training_glimpse import (
    LOSS, WINDOW_IDS, WINDOW_LENGTH, check_first_target, check_loss_to_probability,
)


def test_first_target(capsys):
    _, target = GPTDatasetV1(WINDOW_IDS, WINDOW_LENGTH, 1)[0]  # what the exercise asks, computed
    assert check_first_target(target)
    assert check_first_target(target.tolist())
    assert check_first_target([20, 30, 40, 50])
    assert check_first_target(torch.tensor([[20, 30, 40, 50]]))
    assert check_first_target((20.0, 30, 40, 50))
    assert "Correct!" in capsys.readouterr().out
    assert not check_first_target([10, 20, 30, 40])
    assert "shifted" in capsys.readouterr().out
    assert not check_first_target([50])
    assert "4 ids" in capsys.readouterr().out
    assert not check_first_target([30, 40, 50, 60])
    assert "ids[1:5]" in capsys.readouterr().out
    for wrong in ("20 30 40 50", "[20, 30, 40, 50]", [20.5, 30, 40, 50], [True, 30, 40, 50],
                  torch.tensor([[20, 30, 40, 50], [20, 30, 40, 50]]), torch.zeros(50_000)):
        assert not check_first_target(wrong)
        assert capsys.readouterr().out.startswith("Not yet: give the token ids"), wrong
    assert not check_first_target(None)
    assert "No answer yet" in capsys.readouterr().out


def test_loss_to_probability(capsys):
    p = math.exp(-LOSS)
    assert -math.log(p) == pytest.approx(1.05)  # what the exercise asks
    assert check_loss_to_probability(p)
    assert check_loss_to_probability(0.35)
    assert check_loss_to_probability(torch.tensor(p))
    assert "Correct!" in capsys.readouterr().out
    for wrong, hint in [
        (math.exp(LOSS), "at most 1"),
        (10 ** -LOSS, "natural logarithm"),
        (1 / LOSS, "not 1/p"),
        (1 / 2071, "solve for p"),
        (0.36, "solve for p"),
        (math.log(2071), "solve for p"),
        ("0.35", "give the probability as one number"),
        (True, "give the probability as one number"),
        (float("nan"), "give the probability as one number"),
        (float("inf"), "give the probability as one number"),
        (10**400, "give the probability as one number"),
        (torch.tensor([0.35, 0.35]), "give the probability as one number"),
    ]:
        assert not check_loss_to_probability(wrong)
        out = capsys.readouterr().out
        assert out.startswith("Not yet:") and hint in out, (wrong, out)
    assert not check_loss_to_probability(None)
    assert "No answer yet" in capsys.readouterr().out
