"""Exercise checks for notebook 06 (the transformer block)."""

from .base import Verdict, as_int, as_ints, no_answer_yet, report

ATTENTION_PARAMS = 2_360_064      # W_query, W_key, W_value (no bias) + out_proj (with bias)
FEED_FORWARD_PARAMS = 4_722_432   # 768 -> 3072 -> 768, both with bias
LAYER_NORM_PARAMS = 2 * 2 * 768   # norm1 and norm2, each a scale and a shift
BLOCK_PARAMS = ATTENTION_PARAMS + FEED_FORWARD_PARAMS + LAYER_NORM_PARAMS


def _attention_and_feed_forward(answer):
    """(attention, feed_forward) ints from a pair or a dict with those keys; None if impossible."""
    if isinstance(answer, dict):
        keys = {key.lower().replace(" ", "_").replace("-", "_"): value
                for key, value in answer.items() if isinstance(key, str)}
        answer = [keys.get("attention"), keys.get("feed_forward")]
    values = as_ints(answer)
    return values if values is not None and len(values) == 2 else None


def check_block_parameters(answer):
    """Exercise 4.1: (attention, feed forward) parameters of one block of GPT_CONFIG_124M."""
    if no_answer_yet(answer):
        return Verdict(False)
    values = _attention_and_feed_forward(answer)
    if values is None:
        return report(False, "", "give two whole numbers: (attention_params, feed_forward_params), "
                      "or a dict with keys 'attention' and 'feed_forward'")
    att, ff = values
    if (att, ff) == (ATTENTION_PARAMS, FEED_FORWARD_PARAMS):
        return report(True, "Attention: 3 x 768 x 768 (query, key, value, no bias) + 768 x 768 "
                      "+ 768 (out_proj) = 2,360,064. Feed forward: 768 x 3072 + 3072 + "
                      "3072 x 768 + 768 = 4,722,432, twice the attention.", "")
    if (att, ff) == (FEED_FORWARD_PARAMS, ATTENTION_PARAMS):
        return report(False, "", "the two numbers are swapped: attention first, then feed forward.")
    hints = []
    if att == 3 * 768 * 768:
        hints.append("attention also has the output projection out_proj (768 x 768 + bias)")
    elif att == ATTENTION_PARAMS + 3 * 768:
        hints.append("qkv_bias is False in GPT_CONFIG_124M: W_query, W_key, W_value have no bias")
    elif att == 4 * 768 * 768:
        hints.append("out_proj does have a bias (768 numbers)")
    elif att != ATTENTION_PARAMS:
        hints.append("for attention, count block.att.parameters()")
    if ff == 2 * 768 * 3072:
        hints.append("the feed forward's two Linear layers have biases (3072 and 768)")
    elif ff != FEED_FORWARD_PARAMS:
        hints.append("for feed forward, count block.ff.parameters()")
    return report(False, "", "; ".join(hints) + ". sum(p.numel() for p in module.parameters()) "
                  "counts a module's parameters.")


def check_block_total(answer):
    """Own exercise: all parameters of one TransformerBlock of GPT_CONFIG_124M."""
    if no_answer_yet(answer):
        return Verdict(False)
    total = as_int(answer)
    if total is None:
        return report(False, "", "give one whole number")
    if total == BLOCK_PARAMS:
        return report(True, "2,360,064 (attention) + 4,722,432 (feed forward) + 2 x 1,536 "
                      "(two LayerNorms, scale and shift each) = 7,085,568.", "")
    if total == ATTENTION_PARAMS + FEED_FORWARD_PARAMS:
        hint = "the two LayerNorms have parameters too (a scale and a shift of 768 each)."
    elif total == BLOCK_PARAMS - LAYER_NORM_PARAMS // 2:
        hint = "there are two LayerNorms per block (norm1 and norm2)."
    else:
        hint = "sum(p.numel() for p in block.parameters()) counts them all; dropout has none."
    return report(False, "", hint)


def check_masked_entries(answer):
    """Own exercise: attention weights per head forced to zero by the causal
    mask for a 5-token input."""
    if no_answer_yet(answer):
        return Verdict(False)
    count = as_int(answer)
    if count is None:
        return report(False, "", "give one whole number")
    if count == 10:
        return report(True, "The 5 x 5 weight matrix has 5 x 4 / 2 = 10 entries above the "
                      "diagonal: token i may not see tokens i+1 ... 5.", "")
    if count == 15:
        hint = "the diagonal is allowed: a token may attend to itself."
    elif count == 25:
        hint = "only the future is masked, not every entry."
    elif count == 4:
        hint = "count every masked entry, not only the first row's."
    else:
        hint = "draw the 5 x 5 matrix and count the cells above the diagonal."
    return report(False, "", hint)
