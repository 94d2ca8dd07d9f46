"""The one way exercise checks are written (answer_check, code_check), and the
promise every check makes: whatever it is given, it neither raises nor
accepts a wrong answer."""

import importlib
import inspect
import pkgutil

import pytest
import torch
import torch.nn as nn

import gpt_course.exercises as exercises
from gpt_course import LayerNorm, speaking
from gpt_course.exercises import NotYet, Verdict, answer_check, as_int
from gpt_course.exercises.code_check import Case, Mistake, check_function, check_module


@answer_check(as_int, "give one whole number")
def check_twelve(value):
    """A check written the one way: its question and its hints."""
    if value == 768:
        raise NotYet("that is emb_dim")
    if value != 12:
        raise NotYet("count the heads")
    return "12 heads"


def test_answer_check_says_right_wrong_and_form(capsys):
    assert check_twelve(12) and check_twelve(12.0) and check_twelve(torch.tensor(12))
    assert "Correct! 12 heads" in capsys.readouterr().out
    assert not check_twelve(768)
    assert "Not yet: that is emb_dim" in capsys.readouterr().out
    assert not check_twelve(13)
    assert "count the heads" in capsys.readouterr().out
    for wrong_form in ("12", 12.5, [12, 12], torch.tensor([12, 12]), float("nan"), True):
        assert not check_twelve(wrong_form)
        assert "give one whole number" in capsys.readouterr().out
    assert not check_twelve(None)
    assert "No answer yet" in capsys.readouterr().out
    assert check_twelve.__name__ == "check_twelve" and "one way" in check_twelve.__doc__


def test_answer_check_never_crashes_when_the_judge_does(capsys):
    @answer_check(lambda answer: answer, "give a number")
    def check_broken(value):
        return 1 / value  # raises for 0

    verdict = check_broken(0)
    assert isinstance(verdict, Verdict) and not verdict
    out = capsys.readouterr().out
    assert "Not yet" in out and "ZeroDivisionError" in out


def test_readers_refuse_what_is_not_a_count():
    assert as_int(838_220_800.9) is None
    assert as_int("406212608") is None
    assert as_int(77_981_184.0) == 77_981_184
    assert as_int(torch.tensor([77_981_184])) == 77_981_184
    assert as_int(torch.tensor(2**60)) == 2**60  # integer tensors stay exact
    assert as_int(1e300) is None  # whole in float terms, but no float holds such a count exactly
    assert as_int(10**400) == 10**400
    assert as_int(float("inf")) is None


# ------------------------------------------------------------ code checks

class Skeleton(nn.Module):
    def __init__(self, emb_dim):
        super().__init__()
        self.eps = 1e-5
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x):
        raise NotImplementedError("your turn")


def _check_norm(cls, mistakes=()):
    return check_module(cls, name="LayerNorm", build=lambda c: c(4), reference=LayerNorm,
                        cases=[Case(torch.randn(2, 3, 4))], mistakes=list(mistakes),
                        success="well done", hint="look again")


def test_code_check_reports_what_happened(capsys):
    assert not _check_norm(Skeleton)
    assert "still raises NotImplementedError (your turn)" in capsys.readouterr().out

    class Wide(Skeleton):
        def forward(self, x):
            return torch.cat([x, x], dim=-1)

    assert not _check_norm(Wide)
    assert "shape [2, 3, 8], expected [2, 3, 4]" in capsys.readouterr().out

    class Integers(Skeleton):
        def forward(self, x):
            return x.long()

    assert not _check_norm(Integers)
    assert "dtype torch.int64" in capsys.readouterr().out

    class Nan(Skeleton):
        def forward(self, x):
            return x / 0 * 0

    assert not _check_norm(Nan)
    assert "NaN at index" in capsys.readouterr().out

    class Raises(Skeleton):
        def forward(self, x):
            return x @ torch.ones(5, 5)

    assert not _check_norm(Raises)
    assert "raised RuntimeError" in capsys.readouterr().out

    class Renamed(nn.Module):
        def __init__(self, emb_dim):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(emb_dim + 1))

    assert not _check_norm(Renamed)
    assert "do not match the course's" in capsys.readouterr().out

    class NoSuper(nn.Module):
        def __init__(self, emb_dim):
            self.eps = 1e-5

    assert not _check_norm(NoSuper)
    assert "Not yet" in capsys.readouterr().out


def test_code_check_names_the_first_matching_mistake(capsys):
    class Identity(Skeleton):
        def forward(self, x):
            return x

    mistakes = [
        Mistake("doubles it", lambda norm, x: 2 * x),
        Mistake("returns the input", lambda norm, x: x),
    ]
    assert not _check_norm(Identity, mistakes)
    assert "Not yet: returns the input" in capsys.readouterr().out

    class Halves(Skeleton):
        def forward(self, x):
            return x / 2

    assert not _check_norm(Halves, mistakes)
    out = capsys.readouterr().out
    assert "differs from the course's" in out and "largest difference" in out and "look again" in out


def test_code_check_train_mode_cases_share_dropout_masks(capsys):
    def reference(x):
        return nn.functional.dropout(x, 0.5, training=True) + 1

    def right(x):
        return nn.functional.dropout(x, 0.5, training=True) + 1

    def wrong_place(x):
        return nn.functional.dropout(x + 1, 0.5, training=True)

    kwargs = dict(name="f", reference=reference, cases=[Case(torch.randn(8, 8), train=True, seed=3)],
                  success="ok", hint="no",
                  mistakes=[Mistake("dropout after the +1", lambda ctx, x: wrong_place(x))])
    assert check_function(right, **kwargs)
    assert not check_function(wrong_place, **kwargs)
    assert "dropout after the +1" in capsys.readouterr().out


# ------------------------------------------- every check, hostile answers

def _all_checks():
    checks = []
    for info in pkgutil.iter_modules(exercises.__path__):
        if not info.name.startswith("nb"):
            continue
        module = importlib.import_module(f"gpt_course.exercises.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("check_") and fn.__module__ == module.__name__:
                checks.append(pytest.param(fn, id=f"{info.name}.{name}"))
    return checks


class _Hostile:
    """Raises on every conversion a check might try."""
    def __float__(self):
        raise RuntimeError("no float")

    def __int__(self):
        raise RuntimeError("no int")

    def __index__(self):
        raise RuntimeError("no index")

    def __len__(self):
        raise RuntimeError("no len")

    def __iter__(self):
        raise RuntimeError("no iter")


class _InitFails(nn.Module):
    def __init__(self, *args, **kwargs):
        raise RuntimeError("__init__ failed")


class _ForwardFails(nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, *args, **kwargs):
        raise RuntimeError("forward failed")


def _hostile_answers():
    return [
        float("nan"), float("inf"), -float("inf"), 10**400, -(10**400), 1e308, 0, -1, 0.5,
        "", "not greedy", "no", "yes", b"bytes", [], [float("nan")] * 3, {}, {"a": 1},
        torch.tensor(float("nan")), torch.full((50,), float("nan")), torch.zeros(10_000),
        torch.zeros(2, 3, 4, dtype=torch.long), object(), _Hostile(), print, lambda *a: None,
        nn.Linear(2, 2), _InitFails, _ForwardFails, nn.Module, (1, 2, 3), {1, 2},
    ]


@pytest.mark.parametrize("language, not_yet", [("en", "Not yet:"), ("zh", "还不对：")])
@pytest.mark.parametrize("check", _all_checks())
def test_every_check_survives_hostile_answers(check, language, not_yet, capsys):
    for answer in _hostile_answers():
        try:
            with speaking(language):  # the Chinese templates format the same values
                verdict = check(answer)
        except Exception as err:  # noqa: BLE001 - this is what the test is about
            pytest.fail(f"{check.__name__}({answer!r:.60}) raised {type(err).__name__}: {err}")
        assert isinstance(verdict, Verdict), f"{check.__name__}({answer!r:.60}) returned {verdict!r}"
        assert not verdict, f"{check.__name__} accepted the hostile answer {answer!r:.60}"
        out = capsys.readouterr().out
        assert out.startswith(not_yet), f"{check.__name__}({answer!r:.60}) printed {out!r}"


def test_there_are_checks_to_test():
    assert len(_all_checks()) >= 30
