"""Exercise checks for notebook 04 (the feed forward network)."""

import torch

from ..book.nb04_feed_forward import FeedForward
from ..book.nb07_model_size import count_parameters
from .base import Verdict, as_int, no_answer_yet, report


def feed_forward_parameter_count(emb_dim):
    """Parameters of FeedForward({"emb_dim": emb_dim}), counted on the meta
    device (shapes only, nothing allocated)."""
    with torch.device("meta"):
        return count_parameters(FeedForward({"emb_dim": emb_dim}))


def check_medium_feed_forward(answer):
    """Exercise: parameters of one feed forward network in GPT-2 medium
    (emb_dim 1024)."""
    if no_answer_yet(answer):
        return Verdict(False)
    target = feed_forward_parameter_count(1024)
    value = as_int(answer)
    hint = "use 2 * d * 4d + 4d + d with d = 1024 (both weight matrices and both bias vectors)."
    if value == 2 * 1024 * 4096:
        hint = "close: that is the weights only; add the two bias vectors (4096 and 1024)."
    return report(
        value == target,
        f"{target:,} parameters: about 1.78 x GPT-2 small's 4,722,432, since the count "
        "grows with emb_dim squared ((1024 / 768)^2 = 1.78).",
        hint,
    )


def check_all_blocks_small(answer):
    """Exercise: feed forward parameters in all 12 blocks of GPT-2 small."""
    if no_answer_yet(answer):
        return Verdict(False)
    target = 12 * feed_forward_parameter_count(768)
    value = as_int(answer)
    return report(
        value == target,
        f"{target:,} parameters: close to half of GPT-2 small's 124,412,160 "
        "(with weight tying) sit in the feed forward networks.",
        "one block's feed forward has 4,722,432 parameters; GPT-2 small has n_layers = 12 blocks.",
    )
