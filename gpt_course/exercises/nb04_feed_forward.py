"""Exercise checks for notebook 04 (the feed forward network)."""


import torch
import torch.nn as nn

from ..book.nb03_gelu import GELU, gelu_exact
from ..book.nb04_feed_forward import FeedForward
from ..config import GPT_CONFIG_124M
from ..language import tr
from .sandbox import teacher
from .base import NotYet, answer_check, as_int
from .code_check import Case, Mistake, check_module


def feed_forward_parameters(emb_dim):
    """Parameters of one FeedForward of width `emb_dim`: a Linear emb_dim -> 4 * emb_dim
    and a Linear back, each with its weight matrix and bias vector (8d^2 + 5d)."""
    hidden = 4 * emb_dim
    return (emb_dim * hidden + hidden) + (hidden * emb_dim + emb_dim)


MEDIUM_EMB_DIM = 1024                    # GPT-2 medium
XL_EMB_DIM, XL_LAYERS = 1600, 48         # GPT-2 XL
SMALL_EMB_DIM = 768                      # GPT-2 small


@answer_check(as_int, "give one whole number (an int, or a one-element tensor)")
def check_medium_feed_forward(total):
    """Exercise 1: parameters of one feed forward network of GPT-2 medium (emb_dim 1024)."""
    d, hidden = MEDIUM_EMB_DIM, 4 * MEDIUM_EMB_DIM
    if total == 2 * d * hidden:
        raise NotYet(tr("close: that is the two weight matrices only; add the two bias "
                        "vectors ({hidden:,} and {d:,}).", hidden=hidden, d=d))
    if total == d * hidden + hidden:
        raise NotYet("that is the first Linear (1024 -> 4096) only; add the second one, "
                     "4096 -> 1024, with its bias.")
    if total == feed_forward_parameters(SMALL_EMB_DIM):
        raise NotYet("that is GPT-2 small's (emb_dim 768); GPT-2 medium has emb_dim 1024.")
    if total == 24 * feed_forward_parameters(d):
        raise NotYet("that is all 24 blocks of GPT-2 medium; the question asks for one feed "
                     "forward network.")
    if total == 2 * d * d + d + d:
        raise NotYet("the hidden layer is 4 times wider than emb_dim: 1024 -> 4096 -> 1024.")
    if total != feed_forward_parameters(d):
        raise NotYet("a Linear from n_in to n_out features has n_out * n_in weights and n_out "
                     "biases; add up both Linears of 1024 -> 4096 -> 1024.")
    return tr("{total:,} parameters: 1024 x 4096 + 4096 + 4096 x 1024 + 1024. The count "
              "grows with emb_dim squared (8d^2 + 5d), so a 1.33x wider model has a 1.78x "
              "larger feed forward network.", total=total)


@answer_check(as_int, "give one whole number (an int, or a one-element tensor)")
def check_all_blocks_xl(total):
    """Exercise 2: feed forward parameters in all 48 blocks of GPT-2 XL (emb_dim 1600)."""
    one = feed_forward_parameters(XL_EMB_DIM)
    if total == one:
        raise NotYet(tr("{one:,} is one block's feed forward network; GPT-2 XL has "
                        "n_layers = {n_layers} blocks, each with its own.", one=one,
                        n_layers=XL_LAYERS))
    if total == 12 * one:
        raise NotYet("GPT-2 XL has 48 blocks, not 12 (12 is GPT-2 small's n_layers).")
    if total == XL_LAYERS * 2 * XL_EMB_DIM * 4 * XL_EMB_DIM:
        raise NotYet("close: that is the weight matrices only; each feed forward network also "
                     "has two bias vectors (6400 and 1600 values).")
    if total == XL_LAYERS * feed_forward_parameters(SMALL_EMB_DIM):
        raise NotYet("that uses GPT-2 small's emb_dim 768; GPT-2 XL's is 1600.")
    if total != XL_LAYERS * one:
        raise NotYet("count one feed forward network with emb_dim = 1600 (1600 -> 6400 -> "
                     "1600, weights and biases), then multiply by the 48 blocks.")
    return tr("{total:,} parameters: 48 x {one:,}. The feed forward networks hold most of "
              "GPT-2 XL's weights; notebook 07 counts the rest.", total=total, one=one)


# ---------------------------------------------------------------- your turn

# Every key of the usual config, as a learner may read any of them (cfg["drop_rate"], ...),
# with emb_dim small, so a mistake shows in a handful of numbers.
CONFIG = {**GPT_CONFIG_124M, "emb_dim": 12}


def _feed_forward(ff, x, activation=GELU(), gelu_after=False):
    """FeedForward's output with the course's weights, written the ways
    learners write it (right by default)."""
    first, _, second = ff.layers
    out = second(activation(first(x)))
    return GELU()(out) if gelu_after else out


FEED_FORWARD_MISTAKES = [
    Mistake("your activation is ReLU; GPT-2's feed forward uses GELU (notebook 03): "
            "nn.Sequential(nn.Linear(...), GELU(), nn.Linear(...)).",
            lambda ff, x: _feed_forward(ff, x, activation=torch.relu)),
    Mistake("that is the exact GELU (nn.GELU() computes x * Phi(x) with erf); GPT-2 was "
            "trained with the tanh approximation, which is the course's GELU(): use GELU() "
            "from notebook 03 (or nn.GELU(approximate='tanh')). The two differ by up to "
            "0.0005, enough to change a trained model's outputs.",
            lambda ff, x: _feed_forward(ff, x, activation=gelu_exact)),
    Mistake("there is an activation after the last Linear too; the feed forward applies GELU "
            "only between the two Linears, so its output can be any real number.",
            lambda ff, x: _feed_forward(ff, x, gelu_after=True)),
    Mistake("there is no activation between the two Linears: two Linears in a row are just "
            "one linear map. Put GELU() between them.",
            lambda ff, x: _feed_forward(ff, x, activation=lambda h: h)),
]


def _diagnose_structure(ours, theirs):
    """Why the learner's module `theirs` does not compute what `ours` does,
    told from its Linear layers; None when they are the right ones."""
    d = CONFIG["emb_dim"]
    linears = [m for m in theirs.modules() if isinstance(m, nn.Linear)]
    pairs = [(m.in_features, m.out_features) for m in linears]
    biases = all(m.bias is not None for m in linears)
    want = [(d, 4 * d), (4 * d, d)]
    if not linears:
        return tr("your FeedForward has no nn.Linear layers: __init__ should build "
                  "self.layers = nn.Sequential(nn.Linear(...), GELU(), nn.Linear(...)).")
    if len(linears) != 2:
        return tr("your FeedForward has {count} Linear layers; it has two: "
                  "emb_dim -> 4 * emb_dim, then 4 * emb_dim -> emb_dim.", count=len(linears))
    if sorted(pairs) == sorted(want) and biases:
        return None  # the right layers, in any order: the comparison says the rest
    (d_in, hidden), (hidden_in, d_out) = pairs
    if (d_in, d_out) != (d, d):
        return tr("your Linears take {d_in} features and give {d_out}, but the check builds "
                  "FeedForward({config}): take the width from cfg['emb_dim'] rather than a "
                  "fixed number like 768.", d_in=d_in, d_out=d_out, config=CONFIG)
    if hidden == hidden_in != 4 * d:
        return tr("the wrong expansion: your hidden layer has {hidden} units for emb_dim "
                  "{d}; the feed forward widens each vector 4 times, to 4 * cfg['emb_dim'] = "
                  "{wide}.", hidden=hidden, d=d, wide=4 * d)
    if pairs == want and not biases:
        return tr("your Linears have no bias: GPT-2's feed forward has one in each "
                  "(W x + b); leave nn.Linear's default bias=True.")
    theirs_shapes = {k: list(v.shape) for k, v in theirs.state_dict().items()}
    ours_shapes = {k: list(v.shape) for k, v in ours.state_dict().items()}
    return tr("your parameters {theirs} do not line up with the course's {ours}: build "
              "nn.Linear(emb_dim, 4 * emb_dim), GELU(), nn.Linear(4 * emb_dim, emb_dim).",
              theirs=theirs_shapes, ours=ours_shapes)


def _feed_forward_cases():
    gen = torch.Generator().manual_seed(4)
    d = CONFIG["emb_dim"]
    return [
        Case(torch.randn(1, 3, d, generator=gen), note="batch 1"),
        Case(torch.randn(2, 5, d, generator=gen) * 2, note="batch 2, 5 tokens"),
        Case(torch.randn(4, d, generator=gen), note="a plain [rows, emb_dim] batch"),
        # large inputs: where the exact and the tanh GELU differ most
        Case(torch.randn(3, 7, d, generator=gen) * 4, note="large values"),
    ]


@teacher
def check_feed_forward(answer):
    """Your turn: the learner's FeedForward class (__init__ and forward written
    by them), built as cls(CONFIG) (GPT_CONFIG_124M with emb_dim 12), against the course's, with the
    same weights."""
    return check_module(
        answer, name="FeedForward", build=lambda cls: cls(dict(CONFIG)), reference=FeedForward,
        cases=_feed_forward_cases(), mistakes=FEED_FORWARD_MISTAKES, explain=_diagnose_structure,
        success="your FeedForward gives the course's output on every input (batch 1 and 2, a "
                "plain 2-D batch, large values): Linear(emb_dim, 4 * emb_dim), the tanh GELU, "
                "Linear(4 * emb_dim, emb_dim), applied to each token vector on its own.",
        hint="run x through nn.Linear(emb_dim, 4 * emb_dim), then GELU(), then "
             "nn.Linear(4 * emb_dim, emb_dim), and return the result.",
    )
