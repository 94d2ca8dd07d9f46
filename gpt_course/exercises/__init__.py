"""Check functions for the notebooks' exercises, one module per notebook.

Each check takes the learner's answer, prints one line saying whether it is
right (and a hint if not), and returns a `Verdict`: true when the answer is
right, and silent in a notebook (the printed line already said it all).
A check called with `None` (the placeholder in the notebooks) says there is
no answer yet, which keeps the committed notebooks' outputs stable.
"""


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
    """Print the verdict for one exercise and return it as a `Verdict`."""
    print(("Correct! " + success) if ok else ("Not yet: " + hint))
    return Verdict(ok)


def no_answer_yet(answer):
    """True (and a friendly line printed) if the learner has not answered yet."""
    if answer is None:
        print("No answer yet: replace None with your answer and run this cell again.")
        return True
    return False
