"""Exercise checks of notebook 02."""

import torch

from gpt_course import LayerNorm
from gpt_course.exercises.nb02_layer_norm import (
    CONSTANT_SHIFT, check_biased_variance, check_constant_vector, check_scaled_statistics,
)

NO_ANSWER = "No answer yet"


def test_biased_variance(capsys):
    right = torch.tensor([1.0, 2.0, 3.0, 4.0]).var(unbiased=False)
    assert check_biased_variance(right)
    assert check_biased_variance(1.25)
    assert "Correct" in capsys.readouterr().out
    assert not check_biased_variance(5 / 3)
    assert "unbiased" in capsys.readouterr().out
    assert not check_biased_variance(1.25 ** 0.5)
    assert not check_biased_variance("1.25 ish")
    assert not check_biased_variance(None)
    assert NO_ANSWER in capsys.readouterr().out


def test_constant_vector(capsys):
    ln = LayerNorm(4)
    with torch.no_grad():
        ln.scale.fill_(2.0)
        ln.shift.copy_(torch.tensor(CONSTANT_SHIFT))
        right = ln(torch.full((4,), 7.0))
    assert check_constant_vector(right)
    assert check_constant_vector(CONSTANT_SHIFT)
    assert not check_constant_vector([0.0, 0.0, 0.0, 0.0])
    assert "scale and shift" in capsys.readouterr().out
    assert not check_constant_vector([float("nan")] * 4)
    assert "eps" in capsys.readouterr().out
    assert not check_constant_vector([0.1, 0.2])
    assert not check_constant_vector(None)
    assert NO_ANSWER in capsys.readouterr().out


def test_scaled_statistics(capsys):
    ln = LayerNorm(768)
    with torch.no_grad():
        ln.scale.fill_(2.0)
        ln.shift.fill_(3.0)
        torch.manual_seed(0)
        y = ln(torch.randn(768) * 5 + 1)
    assert check_scaled_statistics((y.mean().item(), y.var(unbiased=False).item()))
    assert check_scaled_statistics([3, 4])
    assert not check_scaled_statistics((3.0, 2.0))
    assert "standard deviation" in capsys.readouterr().out
    assert not check_scaled_statistics((0.0, 1.0))
    assert not check_scaled_statistics(3.0)
    assert not check_scaled_statistics(None)
    assert NO_ANSWER in capsys.readouterr().out
