"""Exercise checks, one module per notebook, named after it
(notebook 02_layer_norm.ipynb -> exercises/nb02_layer_norm.py).

Each check takes the learner's answer, prints one line saying whether it is
right (and a hint if not), and returns a `Verdict`: true when the answer is
right, and silent in a notebook (the printed line already said it all).
A check called with `None` (the placeholder in the notebooks) says there is
no answer yet, which keeps the committed notebooks' outputs stable.
"""

from .base import (
    NotYet, Verdict, answer_check, as_float, as_floats, as_id_list, as_int, as_ints,
    describe_exception, no_answer_yet, report,
)

__all__ = [
    "NotYet", "Verdict", "answer_check", "as_float", "as_floats", "as_id_list", "as_int", "as_ints",
    "describe_exception", "no_answer_yet", "report",
]
