"""Check functions for the notebooks' exercises, one module per notebook.

Each check takes the learner's answer, prints one line saying whether it is
right (and a hint if not), and returns True or False so tests can use it.
A check called with `None` (the placeholder in the notebooks) says there is
no answer yet, which keeps the committed notebooks' outputs stable.
"""


def report(ok, success, hint):
    """Print the verdict for one exercise and return `ok`."""
    print(("Correct! " + success) if ok else ("Not yet: " + hint))
    return bool(ok)


def no_answer_yet(answer):
    """True (and a friendly line printed) if the learner has not answered yet."""
    if answer is None:
        print("No answer yet: replace None with your answer and run this cell again.")
        return True
    return False
