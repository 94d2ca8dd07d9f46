"""The readers every exercise check uses to take a learner's answer."""

import math

import pytest
import torch

from gpt_course.exercises import as_float, as_floats, as_int, as_ints


@pytest.mark.parametrize("answer, value", [
    (1.25, 1.25), (3, 3.0), (torch.tensor(0.5), 0.5), (torch.tensor([2.0]), 2.0),
])
def test_as_float_reads_numbers(answer, value):
    assert as_float(answer) == value


@pytest.mark.parametrize("answer", [True, "1.25", [1.25], torch.tensor([1.0, 2.0]),
                                    float("nan"), float("inf"), object()])
def test_as_float_refuses(answer):
    assert as_float(answer) is None


@pytest.mark.parametrize("answer, value", [
    (163_009_536, 163_009_536), (2 ** 70, 2 ** 70), (39.0, 39), (torch.tensor(7), 7),
])
def test_as_int_reads_whole_numbers(answer, value):
    result = as_int(answer)
    assert result == value and type(result) is int


@pytest.mark.parametrize("answer", [False, 8393728.5, "8393728", torch.tensor([1, 2])])
def test_as_int_refuses(answer):
    assert as_int(answer) is None


def test_as_ints_reads_shapes_and_ids():
    assert as_ints(torch.Size([3, 6, 50257])) == (3, 6, 50257)
    assert as_ints([11, 314.0, 716]) == (11, 314, 716)
    assert as_ints(torch.tensor([11, 314, 716])) == (11, 314, 716)
    assert as_ints((1, 2.5)) is None
    assert as_ints((1, True)) is None
    assert as_ints([[1, 2]]) is None  # a 2-D answer is not a list of ints
    assert as_ints(3) is None


def test_as_floats_keeps_nan_for_the_hint():
    assert as_floats(torch.tensor([[0.1, 0.2]])) == pytest.approx([0.1, 0.2])
    assert as_floats(1.5) == [1.5]
    values = as_floats([float("nan"), 1.0])
    assert math.isnan(values[0]) and values[1] == 1.0
    assert as_floats(["a", 1.0]) is None
