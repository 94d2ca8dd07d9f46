"""What every exercise check shares: the verdict, the printed line, and the
readers that turn a learner's answer into plain numbers.
"""

import functools
import math

from ..language import tr
from .sandbox import session, teacher


class Verdict:
    """Truthy when the answer is right. Displays nothing: as the last line of
    a cell it would otherwise add a bare `True`/`False` under the message."""

    def __init__(self, ok):
        self.ok = bool(ok)

    def __bool__(self):
        return self.ok

    def __eq__(self, other):
        return self.ok == bool(other)

    def __hash__(self):
        return hash(self.ok)

    def __repr__(self):
        return f"Verdict({self.ok})"

    def _ipython_display_(self):
        pass


def report(ok, success, hint):
    """Print the verdict for one exercise, in the language set, and return it
    as a `Verdict`. `success` and `hint` are English as written in the checks
    (or text already made with `tr`): they are translated here, when shown."""
    line = (tr("Correct! {text}", text=tr(success)) if ok
            else tr("Not yet: {text}", text=tr(hint)))
    say(line)
    return Verdict(ok)


def say(line):
    """Print a line of the check's own; inside a check it is printed at the
    end, after what the learner's code printed, so nothing hides it."""
    running = session()
    if running is None:
        print(line)
    else:
        running.verdict.append(line)


class NotYet(Exception):
    """Raised inside a check with the hint as its message: not right yet."""


def answer_check(read, form):
    """Make an exercise check from a function that judges a read answer:

        @answer_check(as_int, "give one whole number")
        def check_heads(heads):
            \"\"\"Exercise 3: how many heads ...\"\"\"
            if heads == 768:
                raise NotYet("that is emb_dim; ...")
            if heads != 12:
                raise NotYet("count ...")
            return "12 heads: ..."

    The check it makes: ``None`` says there is no answer yet; `read` turns the
    answer into plain values (None when it is not of the kind asked for, and
    then the hint is `form`); the judge returns the text to show when the
    answer is right, or raises NotYet(hint). Whatever else goes wrong while
    reading or judging is a "Not yet" naming the error: a check never crashes
    in the learner's face and never accepts an answer it could not judge.
    """
    def decorate(judge):
        @teacher
        @functools.wraps(judge)
        def check(answer):
            if no_answer_yet(answer):
                return Verdict(False)
            try:
                value = read(answer)
                if value is None:
                    raise NotYet(form)
                return report(True, judge(value), "")
            except NotYet as not_yet:
                return report(False, "", str(not_yet))
            except Exception as err:  # a teacher never crashes: say what happened
                return report(False, "", tr("{form} (reading your answer raised {error})",
                                            form=tr(form), error=describe_exception(err)))
        return check
    return decorate


def describe_exception(err, limit=300):
    """'TypeError: message' for an exception, shortened to `limit` characters."""
    text = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def no_answer_yet(answer):
    """True (and a friendly line printed) if the learner has not answered yet."""
    if answer is None:
        say(tr("No answer yet: replace None with your answer and run this cell again."))
        return True
    return False


# Reading answers. Learners answer with whatever is at hand: 3, 3.0, a one-element
# tensor, a list, a tuple, a torch.Size. These turn an answer into plain Python
# numbers, or None when it is not of the kind asked for (a check then prints a
# hint on the expected form). True/False are never numbers here.

def _number(answer):
    """float(answer) for a number or a one-element tensor (nan too), else None.
    A string is not a number here, even "3": the answer is meant to be computed."""
    if isinstance(answer, (bool, str, bytes)):
        return None
    try:
        if hasattr(answer, "numel") and answer.numel() != 1:
            return None
        return float(answer)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        return None


def as_float(answer):
    """A finite float from a number or a one-element tensor, else None."""
    value = _number(answer)
    return value if value is not None and math.isfinite(value) else None


def as_int(answer):
    """An int from a whole number (3, 3.0, or a one-element tensor of one), else None."""
    if isinstance(answer, int) and not isinstance(answer, bool):
        return answer  # exact, however large
    if hasattr(answer, "is_floating_point") and answer.numel() == 1 and not answer.is_floating_point():
        return as_int(answer.item())  # an integer tensor: exact, not through a float
    value = as_float(answer)
    # above 2**53 a float no longer holds every whole number: not a count
    return int(value) if value is not None and value.is_integer() and abs(value) < 2**53 else None


def as_ints(answer):
    """A tuple of ints from a list, tuple, torch.Size or 1-D tensor of whole numbers, else None."""
    if hasattr(answer, "tolist") and getattr(answer, "ndim", 1) == 1:
        answer = answer.tolist()
    if not isinstance(answer, (list, tuple)):
        return None
    values = tuple(as_int(value) for value in answer)
    return None if None in values else values


def as_floats(answer):
    """A list of floats from a number, or a list, tuple or tensor of numbers, else
    None. nan stays nan: a check can then say where a nan comes from."""
    if hasattr(answer, "detach"):
        if answer.numel() > 10_000:
            return None
        answer = answer.detach().flatten().tolist()
    if not isinstance(answer, (list, tuple)):
        answer = [answer]
    values = [_number(value) for value in answer]
    return None if None in values else values


def as_id_list(answer):
    """A list of ints from token ids given as a list, a tuple, a 1-D tensor,
    or one row of a batch ([[11, 314, 716]], as idx[:, -3:].tolist() gives
    it), else None."""
    if hasattr(answer, "numel") and hasattr(answer, "flatten"):  # a tensor
        if answer.numel() > 10_000 or answer.dim() > 2 or (answer.dim() == 2 and len(answer) != 1):
            return None
        answer = answer.flatten()
    elif (isinstance(answer, (list, tuple)) and len(answer) == 1
          and isinstance(answer[0], (list, tuple))):
        answer = answer[0]
    ids = as_ints(answer)
    return None if ids is None else list(ids)
