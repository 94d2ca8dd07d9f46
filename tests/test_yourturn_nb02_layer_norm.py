"""Notebook 02's "your turn": the learner writes LayerNorm.forward.

The hidden solution and the skeleton are read from the notebook itself and
run through the real check; each classic mistake, written as a small wrong
class, gets its own hint; whatever the check is given, it says "Not yet" and
never raises."""


import pytest
import torch
import torch.nn as nn

from gpt_course.exercises.nb02_layer_norm import check_layer_norm
from solutions import notebook_cells, run_cell, skeleton_code, solution_code

NOTEBOOK = "02_layer_norm"


def test_plug_in_cell_uses_the_learners_layer_norm():
    """The cell after the exercise: silent while the skeleton raises, the
    book's notebook numbers and torch.nn.LayerNorm's output once it works."""
    cells = notebook_cells(NOTEBOOK)
    use = next("".join(c["source"]) for c in cells if c.get("id") == "c02-yourturn-use")
    setup = """
torch.manual_seed(123)
batch_example = torch.randn(2, 5)
layer = nn.Sequential(nn.Linear(5, 6), nn.ReLU())
out = layer(batch_example)
def rounded(t):
    return [round(v, 4) + 0.0 for v in t.detach().flatten().tolist()]
"""
    skeleton = skeleton_code(NOTEBOOK, "check_layer_norm")
    assert "still raises NotImplementedError" in run_cell(NOTEBOOK, setup + skeleton + "\n" + use)
    solved = run_cell(NOTEBOOK, setup + solution_code(NOTEBOOK, "check_layer_norm") + "\n" + use)
    assert "torch.nn.LayerNorm| on [2, 4, 768]: 0.00000" in solved
    assert "variance [0.9995, 0.9997]" in solved


# ------------------------------------------------------------ classic mistakes

class Base(nn.Module):
    """The skeleton's __init__ (the book's), with a forward built from parts."""
    dim, unbiased, eps_inside, use_eps, affine, swap = -1, False, True, True, True, False

    def __init__(self, emb_dim):
        super().__init__()
        self.eps = 1e-5
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x):
        mean = x.mean(dim=self.dim, keepdim=True)
        var = x.var(dim=self.dim, keepdim=True, unbiased=self.unbiased)
        eps = self.eps if self.use_eps else 0.0
        std = torch.sqrt(var + eps) if self.eps_inside else torch.sqrt(var) + eps
        norm_x = (x - mean) / std
        if not self.affine:
            return norm_x
        if self.swap:
            return self.shift * norm_x + self.scale
        return self.scale * norm_x + self.shift


class Unbiased(Base):
    unbiased = True


class EpsOutside(Base):
    eps_inside = False


class NoEps(Base):
    use_eps = False


class NoScaleShift(Base):
    affine = False


class Swapped(Base):
    swap = True


class BatchDim(Base):
    dim = 0


class PositionDim(Base):
    dim = 1


class StdWithEpsOutside(Base):
    def forward(self, x):  # the same slip, written with x.std
        mean = x.mean(dim=-1, keepdim=True)
        std = x.std(dim=-1, keepdim=True, unbiased=False)
        return self.scale * (x - mean) / (std + self.eps) + self.shift


def test_right_class_is_correct(capsys):
    assert check_layer_norm(Base)
    assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("cls, hint", [
    (Unbiased, "unbiased one (divided by n - 1)"),
    (EpsOutside, "eps is added outside the square root"),
    (StdWithEpsOutside, "eps is added outside the square root"),
    (NoEps, "eps is missing"),
    (NoScaleShift, "the scale and shift are missing"),
    (Swapped, "scale and shift are swapped"),
    (BatchDim, "over the wrong dimension"),
    (PositionDim, "over dim=1"),
])
def test_each_mistake_gets_its_hint(cls, hint, capsys):
    assert not check_layer_norm(cls)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


def test_an_unknown_mistake_gets_the_difference_and_the_general_hint(capsys):
    class Halved(Base):
        def forward(self, x):
            return super().forward(x) / 2

    assert not check_layer_norm(Halved)
    out = capsys.readouterr().out
    assert "differs from the course's" in out and "largest difference" in out
    assert "normalize with torch.sqrt(var + self.eps)" in out


# ------------------------------------------------------------ crash battery

class InitRaises(Base):
    def __init__(self, emb_dim):
        raise ValueError("half-written __init__")


class ForwardRaises(Base):
    def forward(self, x):
        return x.mean(dim=5)


class WrongShape(Base):
    def forward(self, x):
        return super().forward(x).mean(dim=-1)


class WrongDtype(Base):
    def forward(self, x):
        return super().forward(x).round().long()


class ReturnsNone(Base):
    def forward(self, x):
        super().forward(x)


class ReturnsNan(Base):
    def forward(self, x):
        return super().forward(x) * float("nan")


class OtherParameters(nn.Module):
    def __init__(self, emb_dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(emb_dim + 1))


@pytest.mark.parametrize("answer, said", [
    (None, "No answer yet"),
    (3, "pass your LayerNorm class"),
    ("MyLayerNorm", "pass your LayerNorm class"),
    (Base(6), "pass the class itself"),
    (InitRaises, "building your LayerNorm failed: ValueError: half-written __init__"),
    (ForwardRaises, "raised IndexError"),
    (WrongShape, "expected [1, 3, 6]"),
    (WrongDtype, "dtype torch.int64"),
    (ReturnsNone, "returned NoneType"),
    (ReturnsNan, "NaN at index"),
    (OtherParameters, "do not match the course's"),
])
def test_crash_battery_says_not_yet(answer, said, capsys):
    verdict = check_layer_norm(answer)
    assert not verdict
    out = capsys.readouterr().out
    assert out.startswith("Not yet:" if said != "No answer yet" else said) and said in out, out
