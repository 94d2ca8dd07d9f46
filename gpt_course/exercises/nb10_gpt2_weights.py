"""Exercise checks for notebook 10 (real GPT-2 weights in the course's GPTModel)."""

import torch

from .base import Verdict, as_ints, no_answer_yet, report

# GPT-2 small (124M): emb_dim 768, so c_attn is Conv1D(768 -> 3 * 768), stored [in, out].
C_ATTN_SHAPE = (768, 2304)
# GPT-2 small with the output head sharing wte's weights (as OpenAI published it).
GPT2_SMALL_TIED_PARAMS = 124_439_808
GPT2_SMALL_UNTIED_PARAMS = 163_037_184
GPT2_SMALL_TIED_NO_QKV_BIAS = 124_412_160


def check_c_attn_shape(answer):
    """Exercise: the shape of h.0.attn.c_attn.weight in GPT-2 small."""
    if no_answer_yet(answer):
        return Verdict(False)
    shape = as_ints(answer)
    if shape is None:
        return report(False, "", "give the shape as a tuple of ints, e.g. (10, 20)")
    if shape == C_ATTN_SHAPE:
        return report(True, "[768, 2304]: 768 inputs (Conv1D keeps [in, out]) and 3 x 768 "
                      "outputs, query, key and value side by side.", "")
    if shape == C_ATTN_SHAPE[::-1]:
        return report(False, "", "that is nn.Linear's [out, in] layout; Hugging Face's Conv1D "
                      "stores the transpose, [in, out].")
    if shape in ((768, 768),):
        return report(False, "", "that is one of W_query, W_key, W_value; c_attn holds all "
                      "three fused together.")
    return report(False, "", "GPT-2 small has emb_dim 768; c_attn maps 768 inputs to query, "
                  "key and value at once.")


def _reference_split(w):
    d = w.shape[0]
    return tuple(w[:, i * d:(i + 1) * d].t() for i in range(3))


def check_split_c_attn(fn):
    """Exercise: fn(c_attn_weight [d, 3d]) -> (W_query, W_key, W_value), each
    in nn.Linear's [out, in] layout, [d, d]."""
    if no_answer_yet(fn):
        return Verdict(False)
    if not callable(fn):
        return report(False, "", "pass your function itself (no parentheses)")
    gen = torch.Generator().manual_seed(0)  # its own generator: the learner's RNG is untouched
    for d in (4, 6):
        w = torch.randn(d, 3 * d, generator=gen)
        want = _reference_split(w)
        try:
            got = fn(w.clone())
        except Exception as exc:  # the learner's code: report, do not crash
            return report(False, "", f"your function raised {type(exc).__name__}: {exc}")
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            return report(False, "", "return three tensors: (W_query, W_key, W_value)")
        if not all(isinstance(t, torch.Tensor) for t in got):
            return report(False, "", "each of the three parts must be a tensor")
        if any(tuple(t.shape) != (d, d) for t in got):
            shapes = [list(t.shape) for t in got]
            return report(False, "", f"for a [{d}, {3 * d}] c_attn weight each part is "
                          f"[{d}, {d}], got {shapes}; split along the output dimension (dim=1)")
        if all(torch.equal(g, w_.t()) for g, w_ in zip(got, want)):
            return report(False, "", "right parts, but still in Conv1D's [in, out] layout: "
                          "transpose each one (.T) for nn.Linear")
        if not all(torch.equal(g, w_) for g, w_ in zip(got, want)):
            return report(False, "", "the parts differ from the query, key and value weights; "
                          "split the columns in 3 (q first, then k, then v) and transpose each")
    return report(True, "torch.split(w, d, dim=1) gives q, k, v in [in, out]; .T turns each into "
                  "nn.Linear's [out, in]. This is what load_gpt2_state_dict does.", "")


def check_tied_params(answer):
    """Exercise: the parameter count of GPT-2 small with the output head tied to wte."""
    if no_answer_yet(answer):
        return Verdict(False)
    if isinstance(answer, bool) or not isinstance(answer, int):
        return report(False, "", "give the count as an int, e.g. 123_456")
    if answer == GPT2_SMALL_TIED_PARAMS:
        return report(True, "124,439,808 = 163,037,184 - 50,257 x 768: the \"124M\" in the name "
                      "counts the output head once, as the token embedding.", "")
    if answer == GPT2_SMALL_UNTIED_PARAMS:
        return report(False, "", "that is the course's GPTModel with a separate output head; "
                      "with tying, out_head.weight is tok_emb.weight and counts once.")
    if answer == GPT2_SMALL_TIED_NO_QKV_BIAS:
        return report(False, "", "close: that is without the query/key/value biases; GPT-2 has "
                      "them (qkv_bias=True), 3 x 768 per block.")
    if answer == 124_000_000:
        return report(False, "", "124M is the rounded name; compute the exact count.")
    return report(False, "", "start from the untied count (model_size(cfg).total_params) and "
                  "subtract the output head's 50,257 x 768 weights.")
