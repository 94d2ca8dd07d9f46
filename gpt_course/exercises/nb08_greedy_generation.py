"""Exercise checks for notebook 08 (greedy generation)."""

import torch

from .base import Verdict, as_ints, no_answer_yet, report

CROP_IDS = [15496, 11, 314, 716]   # "Hello, I am"
CROP_CONTEXT = 3


def _ids(answer):
    if isinstance(answer, torch.Tensor):
        answer = answer.tolist()
    nested = isinstance(answer, (list, tuple)) and len(answer) == 1
    if nested and isinstance(answer[0], (list, tuple)):
        answer = answer[0]  # [[11, 314, 716]] as idx[:, -3:].tolist() gives it
    ids = as_ints(answer)
    return None if ids is None else list(ids)


def check_crop(answer):
    """Own exercise: what idx[:, -3:] keeps of [[15496, 11, 314, 716]]."""
    if no_answer_yet(answer):
        return Verdict(False)
    ids = _ids(answer)
    if ids is None:
        return report(False, "", "give the token ids as a list (or a tensor), e.g. [1, 2, 3]")
    if ids == CROP_IDS[-CROP_CONTEXT:]:
        return report(True, "The crop keeps the last 3 tokens, [11, 314, 716] (', I am'): the "
                      "most recent ones, which matter most for the next token.", "")
    if ids == CROP_IDS[:CROP_CONTEXT]:
        return report(False, "", "that is the first 3 tokens; -3: counts from the end.")
    return report(False, "", "idx[:, -3:] keeps the last 3 positions of every row.")


def _reference_next_token(logits):
    return torch.argmax(logits[:, -1, :], dim=-1, keepdim=True)


def _test_logits():
    gen = torch.Generator().manual_seed(0)  # its own generator: the learner's RNG is untouched
    cases = [torch.randn(shape, generator=gen) for shape in ((1, 4, 11), (2, 3, 7), (3, 1, 5))]
    # The first position's favourite differs from the last one's.
    special = torch.zeros(1, 2, 6)
    special[0, 0, 1] = 5.0
    special[0, 1, 4] = 5.0
    cases.append(special)
    return cases


def check_greedy_next_token(fn):
    """Own exercise: fn(logits [batch, n_tokens, vocab]) -> [batch, 1] ids of
    the greedy next token."""
    if no_answer_yet(fn):
        return Verdict(False)
    if not callable(fn):
        return report(False, "", "pass your function itself (no parentheses)")
    for logits in _test_logits():
        want = _reference_next_token(logits)
        try:
            got = fn(logits.clone())
        except Exception as exc:  # the learner's code: report, do not crash
            return report(False, "", f"your function raised {type(exc).__name__}: {exc}")
        if not isinstance(got, torch.Tensor):
            return report(False, "", f"return a tensor, got {type(got).__name__}")
        if got.shape != want.shape:
            if got.numel() == want.numel() and torch.equal(got.flatten(), want.flatten()):
                return report(False, "", f"right ids, but shape {list(got.shape)}; torch.cat "
                              f"needs [batch, 1]: use keepdim=True")
            return report(False, "", f"for logits of shape {list(logits.shape)} the result should "
                          f"have shape {list(want.shape)}, got {list(got.shape)}; take the last "
                          "position with logits[:, -1, :]")
        if got.is_floating_point():
            return report(False, "", "return token ids (integers): argmax gives the index, max "
                          "gives the value")
        if not torch.equal(got, want):
            return report(False, "", "the ids differ from the most likely next token at the "
                          "last position; use logits[:, -1, :] and argmax over the vocabulary "
                          "(dim=-1)")
    return report(True, "argmax of the last position's logits, keepdim=True for shape "
                  "[batch, 1]. Softmax is optional here: it never changes the argmax.", "")
