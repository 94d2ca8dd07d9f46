"""Exercise checks for notebook 11 (a glimpse of training)."""

import math

import torch

from .base import Verdict, no_answer_yet, report

WINDOW_IDS = [10, 20, 30, 40, 50, 60]
WINDOW_LENGTH = 4


def check_first_target(answer):
    """Exercise: the target of the first window of [10, 20, 30, 40, 50, 60]
    with max_length 4."""
    if no_answer_yet(answer):
        return Verdict(False)
    if isinstance(answer, torch.Tensor):
        answer = answer.flatten().tolist()
    if not isinstance(answer, (list, tuple)) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in answer
    ):
        return report(False, "", "give the token ids as a list of ints, e.g. [1, 2, 3, 4]")
    answer = list(answer)
    if answer == WINDOW_IDS[1:WINDOW_LENGTH + 1]:
        return report(True, "[20, 30, 40, 50]: the input [10, 20, 30, 40] shifted by one, so "
                      "every position's target is the token that follows it.", "")
    if answer == WINDOW_IDS[:WINDOW_LENGTH]:
        return report(False, "", "that is the input window itself; the target is shifted by one "
                      "token.")
    if answer == [WINDOW_IDS[WINDOW_LENGTH]]:
        return report(False, "", "the target is not one token: every one of the 4 positions "
                      "predicts its next token, so the target has 4 ids too.")
    return report(False, "", "take the input window ids[0:4] and shift it by one: ids[1:5].")


INITIAL_VOCAB = 2071


def check_initial_loss(answer):
    """Exercise: the cross-entropy loss of a model that gives every one of
    2071 tokens the same probability."""
    if no_answer_yet(answer):
        return Verdict(False)
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return report(False, "", "give the loss as a number, e.g. 1.23")
    want = math.log(INITIAL_VOCAB)
    if abs(answer - want) < 0.01:
        return report(True, f"ln(2071) = {want:.3f}: each target gets probability 1/2071, and "
                      "-ln(1/2071) = ln(2071). An untrained model starts close to this.", "")
    if abs(answer - math.log10(INITIAL_VOCAB)) < 0.01:
        return report(False, "", "cross-entropy uses the natural logarithm (math.log), not log10.")
    if abs(answer - 1 / INITIAL_VOCAB) < 1e-4:
        return report(False, "", "that is the probability of the target; the loss is minus its "
                      "logarithm.")
    return report(False, "", "every target gets probability p = 1/2071; the loss is the mean of "
                  "-ln p.")
