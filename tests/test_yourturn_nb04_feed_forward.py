"""Notebook 04's "your turn": the learner writes FeedForward (__init__ and forward).

The hidden solution and the skeleton are read from the notebook itself and
run through the real check; each classic mistake, written as a small wrong
class, gets its own hint; whatever the check is given, it says "Not yet" and
never raises."""

import pytest
import torch
import torch.nn as nn

from gpt_course import GELU
from gpt_course.exercises.nb04_feed_forward import check_feed_forward

NOTEBOOK = "04_feed_forward"


# ------------------------------------------------------------ right, written other ways

def feed_forward(modules_for):
    """A learner's FeedForward class whose self.layers is an nn.Sequential of
    modules_for(emb_dim) and whose forward runs x through it."""
    class Learners(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.layers = nn.Sequential(*modules_for(cfg["emb_dim"]))

        def forward(self, x):
            return self.layers(x)

    return Learners


def right(d, act=GELU):
    return [nn.Linear(d, 4 * d), act(), nn.Linear(4 * d, d)]


class OwnNames(nn.Module):
    """Right, without nn.Sequential: the weights are copied in order."""

    def __init__(self, cfg):
        super().__init__()
        self.fc1 = nn.Linear(cfg["emb_dim"], 4 * cfg["emb_dim"])
        self.act = GELU()
        self.fc2 = nn.Linear(4 * cfg["emb_dim"], cfg["emb_dim"])

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


# ------------------------------------------------------------ classic mistakes

class FcSwapped(OwnNames):
    """Right: the Linear back to emb_dim is created first (weights are matched by role)."""

    def __init__(self, cfg):
        nn.Module.__init__(self)
        self.fc2 = nn.Linear(4 * cfg["emb_dim"], cfg["emb_dim"])
        self.fc1 = nn.Linear(cfg["emb_dim"], 4 * cfg["emb_dim"])
        self.act = GELU()


class ExtraParameter(OwnNames):
    """Right: a parameter the forward never uses changes nothing."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.alpha = nn.Parameter(torch.ones(1))


class FunctionalGelu(OwnNames):
    """Right: GELU given as a function, and the Linears' weights used directly."""

    def forward(self, x):
        h = torch.nn.functional.linear(x, self.fc1.weight, self.fc1.bias)
        h = torch.nn.functional.gelu(h, approximate="tanh")
        return h @ self.fc2.weight.T + self.fc2.bias


@pytest.mark.parametrize("cls", [
    feed_forward(right),
    feed_forward(lambda d: right(d, act=lambda: nn.GELU(approximate="tanh"))),
    OwnNames, FcSwapped, ExtraParameter, FunctionalGelu,
])
def test_right_classes_are_correct(cls, capsys):
    assert check_feed_forward(cls)
    assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("cls, hint", [
    (feed_forward(lambda d: [nn.Linear(d, 2 * d), GELU(), nn.Linear(2 * d, d)]),
     "the wrong expansion: your hidden layer has 24 units"),
    (feed_forward(lambda d: [nn.Linear(d, d), GELU(), nn.Linear(d, d)]),
     "the wrong expansion: your hidden layer has 12 units"),
    (feed_forward(lambda d: [nn.Linear(768, 3072), GELU(), nn.Linear(3072, 768)]),
     "take the width from cfg['emb_dim']"),
    (feed_forward(lambda d: right(d, act=nn.ReLU)), "your activation is ReLU"),
    (feed_forward(lambda d: right(d, act=nn.GELU)), "that is the exact GELU"),
    (feed_forward(lambda d: right(d) + [GELU()]), "an activation after the last Linear"),
    (feed_forward(lambda d: [nn.Linear(d, 4 * d), nn.Linear(4 * d, d)]),
     "no activation between the two Linears"),
    (feed_forward(lambda d: [nn.Linear(d, 4 * d, bias=False), GELU(),
                             nn.Linear(4 * d, d, bias=False)]),
     "your Linears have no bias"),
    (feed_forward(lambda d: [nn.Linear(d, 4 * d), GELU(), nn.Linear(4 * d, 4 * d), GELU(),
                             nn.Linear(4 * d, d)]),
     "has 3 Linear layers; it has two"),
    (feed_forward(lambda d: [GELU()]), "has no nn.Linear layers"),
])
def test_each_mistake_gets_its_hint(cls, hint, capsys):
    assert not check_feed_forward(cls)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


def test_an_unknown_mistake_gets_the_difference_and_the_general_hint(capsys):
    assert not check_feed_forward(feed_forward(lambda d: right(d, act=nn.Sigmoid)))
    out = capsys.readouterr().out
    assert "differs from the course's" in out and "largest difference" in out
    assert "then GELU(), then" in out


def test_the_structure_probe_leaves_the_learners_random_state_alone():
    """A wrong expansion is answered by the probe alone, before check_module
    (which seeds the generator itself, as documented) runs."""
    torch.manual_seed(0)
    check_feed_forward(feed_forward(lambda d: [nn.Linear(d, 2 * d), GELU(), nn.Linear(2 * d, d)]))
    after_probe = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(torch.rand(3), after_probe)


# ------------------------------------------------------------ crash battery

class InitRaises(OwnNames):
    def __init__(self, cfg):
        raise ValueError("half-written __init__")


class NoSuperInit(OwnNames):
    def __init__(self, cfg):
        self.fc1 = nn.Linear(cfg["emb_dim"], 4 * cfg["emb_dim"])


class ForwardRaises(OwnNames):
    def forward(self, x):
        return self.fc2(x)


class WrongShape(OwnNames):
    def forward(self, x):
        return self.act(self.fc1(x))


class WrongDtype(OwnNames):
    def forward(self, x):
        return super().forward(x).round().long()


class ReturnsNone(OwnNames):
    def forward(self, x):
        super().forward(x)


class ReturnsNan(OwnNames):
    def forward(self, x):
        return super().forward(x) * float("nan")


class ConfigAsObject(OwnNames):
    def __init__(self, cfg):
        super().__init__({"emb_dim": cfg.emb_dim})


@pytest.mark.parametrize("answer, said", [
    (None, "No answer yet"),
    (3, "pass your FeedForward class"),
    ("MyFeedForward", "pass your FeedForward class"),
    (OwnNames({"emb_dim": 12}), "pass the class itself"),
    (InitRaises, "building your FeedForward failed: ValueError: half-written __init__"),
    (NoSuperInit, "building your FeedForward failed: AttributeError"),
    (ConfigAsObject, "building your FeedForward failed: AttributeError"),
    (ForwardRaises, "raised RuntimeError"),
    (WrongShape, "expected [1, 3, 12]"),
    (WrongDtype, "dtype torch.int64"),
    (ReturnsNone, "returned NoneType"),
    (ReturnsNan, "NaN at index"),
])
def test_crash_battery_says_not_yet(answer, said, capsys):
    verdict = check_feed_forward(answer)
    assert not verdict
    out = capsys.readouterr().out
    assert out.startswith("Not yet:" if said != "No answer yet" else said) and said in out, out
