"""Exercise checks for notebook 06 (attention and the transformer block):
the learner's own MultiHeadAttention.forward and TransformerBlock.forward,
and three questions on the block's parameters and the causal mask."""

import torch

from ..book.nb06_attention import MultiHeadAttention
from ..book.nb06_transformer_block import TransformerBlock
from ..config import GPT_CONFIG_124M
from ..language import tr
from .sandbox import teacher
from .base import NotYet, answer_check, as_int, as_ints, report
from .code_check import Case, Mistake, check_module, in_eval, in_training

ATTENTION_PARAMS = 2_360_064      # W_query, W_key, W_value (no bias) + out_proj (with bias)
FEED_FORWARD_PARAMS = 4_722_432   # 768 -> 3072 -> 768, both with bias
LAYER_NORM_PARAMS = 2 * 2 * 768   # norm1 and norm2, each a scale and a shift
BLOCK_PARAMS = ATTENTION_PARAMS + FEED_FORWARD_PARAMS + LAYER_NORM_PARAMS


def read_attention_and_feed_forward(answer):
    """(attention, feed_forward) ints from a pair, or from a dict with keys
    'attention' and 'feed_forward' (or 'feed forward'); None if neither."""
    if isinstance(answer, dict):
        keys = {key.lower().replace(" ", "_").replace("-", "_"): value
                for key, value in answer.items() if isinstance(key, str)}
        answer = [keys.get("attention"), keys.get("feed_forward")]
    values = as_ints(answer)
    return values if values is not None and len(values) == 2 else None


@answer_check(read_attention_and_feed_forward,
              "give two whole numbers: (attention_params, feed_forward_params), or a dict "
              "with keys 'attention' and 'feed_forward'")
def check_block_parameters(values):
    """Exercise 4.1: (attention, feed forward) parameters of one block of GPT_CONFIG_124M."""
    att, ff = values
    if (att, ff) == (FEED_FORWARD_PARAMS, ATTENTION_PARAMS):
        raise NotYet("the two numbers are swapped: attention first, then feed forward.")
    hints = []
    if att == 3 * 768 * 768:
        hints.append(tr("attention also has the output projection out_proj (768 x 768 + bias)"))
    elif att == ATTENTION_PARAMS + 3 * 768:
        hints.append(tr("qkv_bias is False in GPT_CONFIG_124M: W_query, W_key, W_value "
                        "have no bias"))
    elif att == 4 * 768 * 768:
        hints.append(tr("out_proj does have a bias (768 numbers)"))
    elif att != ATTENTION_PARAMS:
        hints.append(tr("for attention, count block.att.parameters()"))
    if ff == 2 * 768 * 3072:
        hints.append(tr("the feed forward's two Linear layers have biases (3072 and 768)"))
    elif ff != FEED_FORWARD_PARAMS:
        hints.append(tr("for feed forward, count block.ff.parameters()"))
    if hints:
        raise NotYet(tr("{hints}. sum(p.numel() for p in module.parameters()) counts a "
                        "module's parameters.", hints=tr("; ").join(hints)))
    return ("Attention: 3 x 768 x 768 (query, key, value, no bias) + 768 x 768 + 768 "
            "(out_proj) = 2,360,064. Feed forward: 768 x 3072 + 3072 + 3072 x 768 + 768 "
            "= 4,722,432, twice the attention.")


@answer_check(as_int, "give one whole number")
def check_block_total(total):
    """Own exercise: all parameters of one TransformerBlock of GPT_CONFIG_124M."""
    if total == ATTENTION_PARAMS + FEED_FORWARD_PARAMS:
        raise NotYet("the two LayerNorms have parameters too (a scale and a shift of 768 each).")
    if total == BLOCK_PARAMS - LAYER_NORM_PARAMS // 2:
        raise NotYet("there are two LayerNorms per block (norm1 and norm2).")
    if total != BLOCK_PARAMS:
        raise NotYet("sum(p.numel() for p in block.parameters()) counts them all; "
                     "dropout has none.")
    return ("2,360,064 (attention) + 4,722,432 (feed forward) + 2 x 1,536 (two LayerNorms, "
            "scale and shift each) = 7,085,568.")


@answer_check(as_int, "give one whole number")
def check_masked_entries(count):
    """Own exercise: attention weights per head forced to zero by the causal
    mask for a 5-token input."""
    if count == 15:
        raise NotYet("the diagonal is allowed: a token may attend to itself.")
    if count == 25:
        raise NotYet("only the future is masked, not every entry.")
    if count == 4:
        raise NotYet("count every masked entry, not only the first row's.")
    if count != 10:
        raise NotYet("draw the 5 x 5 matrix and count the cells above the diagonal.")
    return ("The 5 x 5 weight matrix has 5 x 4 / 2 = 10 entries above the diagonal: "
            "token i may not see tokens i+1 ... 5.")


# ------------------------------------------------- your turn: attention

# Small enough to run in a blink, big enough that the mistakes show: 3 heads
# of 4 dimensions, so sqrt(head_dim) = 2, sqrt(d_out) = 3.46 and head_dim = 4
# are all different scalings. Dropout is on, for the one training-mode case.
ATTENTION_ARGS = {"d_in": 12, "d_out": 12, "context_length": 8, "dropout": 0.25, "num_heads": 3}


def attention_output(att, x, *, triangle="upper", masked=True, fill=-torch.inf,
                     mask_after_softmax=False, scale=None, softmax_dim=-1,
                     split_transpose=True, merge_transpose=True, attention_dropout=True,
                     dropout_on_output=False, project=True):
    """MultiHeadAttention's output with `att`'s weights, written the ways
    learners write it (right by default; each keyword is one classic mistake)."""
    b, n, _ = x.shape
    heads, head_dim = att.num_heads, att.head_dim

    def split(t):  # [b, n, d_out] -> [b, heads, n, head_dim]
        if split_transpose:
            return t.view(b, n, heads, head_dim).transpose(1, 2)
        return t.view(b, heads, n, head_dim)  # runs, but cuts the tokens' data into "heads"

    queries, keys, values = split(att.W_query(x)), split(att.W_key(x)), split(att.W_value(x))
    scores = queries @ keys.transpose(2, 3)
    future = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    mask = future if triangle == "upper" else future.T
    if masked and not mask_after_softmax:
        scores = scores.masked_fill(mask, fill)
    weights = torch.softmax(scores / (head_dim**0.5 if scale is None else scale), dim=softmax_dim)
    if masked and mask_after_softmax:
        weights = weights.masked_fill(mask, 0.0)
    if attention_dropout:
        weights = att.dropout(weights)
    context = weights @ values
    if merge_transpose:
        context = context.transpose(1, 2)  # [b, n, heads, head_dim]
    context = context.contiguous().view(b, n, att.d_out)
    out = att.out_proj(context) if project else context
    return att.dropout(out) if dropout_on_output else out


def _longer(case):
    """Cases with more than one token: one token hides the mask, the scaling
    and the softmax's dimension (a 1 x 1 score matrix softmaxes to 1 whatever
    is done to it), and how heads are split and merged."""
    return case.arguments()[0].shape[1] > 1


def _eval_longer(case):
    return _longer(case) and not case.train


ATTENTION_MISTAKES = [
    Mistake("the output projection is missing: the merged heads go through self.out_proj "
            "before they are returned.",
            lambda att, x: attention_output(att, x, project=False)),
    Mistake("the mask is on the wrong triangle: each token sees the future and not the past. "
            "The entries to hide are above the diagonal, j > i: self.mask (torch.triu(..., "
            "diagonal=1)), cut to [:num_tokens, :num_tokens].",
            lambda att, x: attention_output(att, x, triangle="lower"), when=_eval_longer),
    Mistake("the causal mask is not applied: every token sees the whole sequence. Fill the "
            "scores above the diagonal with -inf before the softmax: "
            "attn_scores.masked_fill_(self.mask[:num_tokens, :num_tokens], -torch.inf).",
            lambda att, x: attention_output(att, x, masked=False), when=_eval_longer),
    Mistake("the future scores are set to 0, but softmax turns a score of 0 into a weight "
            "above 0: fill them with -torch.inf, which softmax turns into exactly 0.",
            lambda att, x: attention_output(att, x, fill=0.0), when=_eval_longer),
    Mistake("the mask is applied after the softmax: the future weights are 0 but the rows no "
            "longer sum to 1. Mask the scores with -inf before the softmax.",
            lambda att, x: attention_output(att, x, mask_after_softmax=True), when=_eval_longer),
    Mistake("the scores are not scaled: divide them by sqrt(head_dim), self.head_dim**0.5, "
            "before the softmax.",
            lambda att, x: attention_output(att, x, scale=1.0), when=_eval_longer),
    Mistake("the scores are divided by sqrt(d_out); each head's dot products sum over "
            "head_dim numbers, so divide by self.head_dim**0.5.",
            lambda att, x: attention_output(att, x, scale=att.d_out**0.5), when=_eval_longer),
    Mistake("the scores are divided by head_dim; divide by its square root, "
            "self.head_dim**0.5.",
            lambda att, x: attention_output(att, x, scale=float(att.head_dim)),
            when=_eval_longer),
    Mistake("the softmax runs over the wrong dimension: each query's weights over the keys "
            "must sum to 1, so softmax over the last dimension (dim=-1).",
            lambda att, x: attention_output(att, x, softmax_dim=-2), when=_eval_longer),
    Mistake("the heads are mixed up: .view(b, num_heads, num_tokens, head_dim) cuts the "
            "tokens' numbers into heads the wrong way. Split with "
            ".view(b, num_tokens, num_heads, head_dim).transpose(1, 2), and merge back with "
            ".transpose(1, 2).contiguous().view(b, num_tokens, d_out).",
            lambda att, x: attention_output(att, x, split_transpose=False, merge_transpose=False),
            when=_eval_longer),
    Mistake("the heads are mixed up when you split them: .view(b, num_heads, num_tokens, "
            "head_dim) is not the same as .view(b, num_tokens, num_heads, head_dim)"
            ".transpose(1, 2).",
            lambda att, x: attention_output(att, x, split_transpose=False), when=_eval_longer),
    Mistake("the heads are mixed up when you merge them: the context is [b, num_heads, "
            "num_tokens, head_dim]; .transpose(1, 2) it back to [b, num_tokens, num_heads, "
            "head_dim] before .contiguous().view(b, num_tokens, d_out).",
            lambda att, x: attention_output(att, x, merge_transpose=False), when=_eval_longer),
    Mistake("in training mode your attention gives other numbers: the attention weights go "
            "through self.dropout right after the softmax (and nothing else does).",
            lambda att, x: attention_output(att, x, attention_dropout=False),
            when=in_training),
    Mistake("dropout is applied to the output; in the book it is applied to the attention "
            "weights, right after the softmax.",
            lambda att, x: attention_output(att, x, attention_dropout=False,
                                            dropout_on_output=True),
            when=in_training),
]


def _attention_cases():
    gen = torch.Generator().manual_seed(6)
    return [
        Case(torch.randn(1, 1, 12, generator=gen), note="batch 1, one token"),
        Case(torch.randn(1, 5, 12, generator=gen), note="batch 1, 5 tokens"),
        Case(torch.randn(2, 5, 12, generator=gen), note="batch 2, 5 tokens"),
        Case(torch.randn(2, 8, 12, generator=gen), note="batch 2, the full context of 8"),
        Case(torch.randn(2, 6, 12, generator=gen), train=True, seed=11,
             note="training mode, dropout 0.25"),
    ]


@teacher
def check_multi_head_attention(answer):
    """Your turn: the learner's MultiHeadAttention class (the book's __init__,
    forward written by them), built with ATTENTION_ARGS, against the course's
    with the same weights."""
    if answer is MultiHeadAttention:
        return report(False, "", "that is the course's MultiHeadAttention; pass your own class, "
                      "MyMultiHeadAttention.")
    return check_module(
        answer, name="MultiHeadAttention", build=lambda cls: cls(**ATTENTION_ARGS),
        reference=MultiHeadAttention, cases=_attention_cases(), mistakes=ATTENTION_MISTAKES,
        success="your attention gives the course's output on every input (one token, 5 and "
                "8 tokens, batch 1 and 2, and in training mode with dropout): heads split and "
                "merged right, the future masked, scores scaled by sqrt(head_dim), softmax "
                "over the keys, dropout on the weights, and the output projection.",
        hint="go through the TODOs in order; print the shapes as you go: queries, keys and "
             "values [b, num_heads, num_tokens, head_dim], scores and weights [b, num_heads, "
             "num_tokens, num_tokens], context [b, num_tokens, d_out].",
    )


# -------------------------------------------- your turn: the block

# One block, small; dropout 0.25 so that the training-mode cases (same seed on
# both sides) show where dropout is applied.
BLOCK_CONFIG = {**GPT_CONFIG_124M, "vocab_size": 50, "context_length": 8, "emb_dim": 12,
                "n_heads": 3, "n_layers": 1, "drop_rate": 0.25}


def block_output(block, x, *, pre_norm=True, first_shortcut=True, second_shortcut=True,
                 shortcut_after_norm=False, one_norm=False, dropout=("output", "output")):
    """TransformerBlock's output with `block`'s weights, written the ways
    learners write it (right by default). `dropout` says, for each sub-layer,
    where drop_shortcut goes: on its "output" (right), on its "input", "after"
    the shortcut addition, or "none"."""
    norms = (block.norm1, block.norm1 if one_norm else block.norm2)
    layers = (block.att, block.ff)
    shortcuts = (first_shortcut, second_shortcut)
    for norm, layer, shortcut, where in zip(norms, layers, shortcuts, dropout):
        if pre_norm:
            inner = norm(x)
            saved = inner if shortcut_after_norm else x
            if where == "input":
                inner = block.drop_shortcut(inner)
            out = layer(inner)
        else:  # post-norm, as in the 2017 transformer: norm(x + sublayer(x))
            saved = x
            out = layer(x)
        if where == "output":
            out = block.drop_shortcut(out)
        if shortcut:
            out = out + saved
        if where == "after":
            out = block.drop_shortcut(out)
        x = out if pre_norm else norm(out)
    return x


BLOCK_MISTAKES = [
    Mistake("this is post-norm (the 2017 transformer): norm(x + sublayer(x)). GPT-2 is "
            "pre-norm: normalize first, x + drop(att(norm1(x))), and leave the shortcut "
            "path untouched.",
            lambda block, x: block_output(block, x, pre_norm=False), when=in_eval),
    Mistake("the shortcut is saved after the LayerNorm; save it before: shortcut = x, then "
            "x = self.norm1(x), so the shortcut adds the block's input itself.",
            lambda block, x: block_output(block, x, shortcut_after_norm=True), when=in_eval),
    Mistake("both shortcuts are missing: add the sub-layer's input back after attention "
            "(x = x + shortcut) and again after the feed forward.",
            lambda block, x: block_output(block, x, first_shortcut=False,
                                          second_shortcut=False), when=in_eval),
    Mistake("the second shortcut is missing: after the feed forward, add its input back "
            "(x = x + shortcut), as after attention.",
            lambda block, x: block_output(block, x, second_shortcut=False), when=in_eval),
    Mistake("the first shortcut is missing: after attention, add the block's input back "
            "(x = x + shortcut) before the feed forward.",
            lambda block, x: block_output(block, x, first_shortcut=False), when=in_eval),
    Mistake("norm1 is used before both sub-layers; the feed forward gets its own LayerNorm, "
            "self.norm2, with its own scale and shift.",
            lambda block, x: block_output(block, x, one_norm=True), when=in_eval),
    Mistake("dropout comes after the shortcut addition; apply self.drop_shortcut to the "
            "sub-layer's output, before adding the shortcut: x = self.drop_shortcut(x), "
            "then x = x + shortcut.",
            lambda block, x: block_output(block, x, dropout=("after", "after")), when=in_training),
    Mistake("dropout is applied to the sub-layer's input; apply self.drop_shortcut to its "
            "output (after attention, after the feed forward), before adding the shortcut.",
            lambda block, x: block_output(block, x, dropout=("input", "input")), when=in_training),
    Mistake("self.drop_shortcut is never applied: in training mode it drops some of each "
            "sub-layer's output, before the shortcut is added (twice: after attention and "
            "after the feed forward).",
            lambda block, x: block_output(block, x, dropout=("none", "none")), when=in_training),
    Mistake("self.drop_shortcut is applied after attention but not after the feed forward; "
            "it goes after both sub-layers, before each shortcut addition.",
            lambda block, x: block_output(block, x, dropout=("output", "none")), when=in_training),
    Mistake("self.drop_shortcut is applied after the feed forward but not after attention; "
            "it goes after both sub-layers, before each shortcut addition.",
            lambda block, x: block_output(block, x, dropout=("none", "output")), when=in_training),
]


def _block_cases():
    gen = torch.Generator().manual_seed(7)
    return [
        Case(torch.randn(1, 1, 12, generator=gen), note="batch 1, one token"),
        Case(torch.randn(1, 5, 12, generator=gen) * 2, note="batch 1, 5 tokens"),
        Case(torch.randn(2, 8, 12, generator=gen), note="batch 2, the full context of 8"),
        Case(torch.randn(2, 7, 12, generator=gen), train=True, seed=3,
             note="training mode, dropout 0.25"),
        Case(torch.randn(1, 3, 12, generator=gen), train=True, seed=4,
             note="training mode, dropout 0.25"),
    ]


@teacher
def check_transformer_block(answer):
    """Your turn: the learner's TransformerBlock class (the book's __init__,
    forward written by them), built from BLOCK_CONFIG, against the course's
    with the same weights; training-mode cases show where dropout goes."""
    if answer is TransformerBlock:
        return report(False, "", "that is the course's TransformerBlock; pass your own class, "
                      "MyTransformerBlock.")
    return check_module(
        answer, name="TransformerBlock", build=lambda cls: cls(dict(BLOCK_CONFIG)),
        reference=TransformerBlock, cases=_block_cases(), mistakes=BLOCK_MISTAKES,
        success="your block gives the course's output on every input, in evaluation and in "
                "training mode: pre-LayerNorm, norm1 before attention and norm2 before the "
                "feed forward, dropout on each sub-layer's output, and both shortcuts.",
        hint="follow the two formulas: x = x + drop(att(norm1(x))), then "
             "x = x + drop(ff(norm2(x))), saving the shortcut before each LayerNorm.",
    )
