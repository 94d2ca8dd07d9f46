"""Exercise checks for notebook 10 (real GPT-2 weights in the course's GPTModel)."""

import contextlib
import inspect
import io
import itertools

import torch

from ..beyond.nb10_gpt2_weights import course_to_hf, gpt2_weights
from ..book.nb07_model_size import model_size
from ..config import GPT2_CONFIGS
from .sandbox import teacher
from .base import NotYet, answer_check, as_int, as_ints
from .code_check import Case, Mistake, check_function

GPT2_XL = GPT2_CONFIGS["gpt2-xl (1558M)"]
_XL_SHAPES = {w.hf_name: w.hf_shape for w in gpt2_weights({**GPT2_XL, "n_layers": 1, "qkv_bias": True})}
# GPT-2 XL (emb_dim 1600): c_attn is Conv1D(1600 -> 3 * 1600), stored [in, out].
C_ATTN_SHAPE_XL = _XL_SHAPES["h.0.attn.c_attn.weight"]
C_FC_SHAPE_XL = _XL_SHAPES["h.0.mlp.c_fc.weight"]
C_ATTN_SHAPE_SMALL = (768, 2304)
# GPT-2 small as OpenAI published it (q/k/v biases, output head tied to wte), and
# exercise 3's variant: the same model with a 32,000-token vocabulary.
GPT2_SMALL = {**GPT2_CONFIGS["gpt2-small (124M)"], "qkv_bias": True}
SMALLER_VOCAB = 32_000
GPT2_SMALL_TIED_PARAMS = model_size(GPT2_SMALL).tied_params  # 124,439,808, notebook 07
_SMALLER = {**GPT2_SMALL, "vocab_size": SMALLER_VOCAB}
SMALLER_VOCAB_TIED_PARAMS = model_size(_SMALLER).tied_params
SMALLER_VOCAB_UNTIED_PARAMS = model_size(_SMALLER).total_params
SMALLER_VOCAB_NO_QKV_BIAS = model_size({**_SMALLER, "qkv_bias": False}).tied_params
ROWS_SAVED = (GPT2_SMALL["vocab_size"] - SMALLER_VOCAB) * GPT2_SMALL["emb_dim"]  # 18,257 x 768


@answer_check(as_ints, "give the shape as a tuple of whole numbers, e.g. (10, 20)")
def check_c_attn_shape(shape):
    """Exercise 1: the shape of h.0.attn.c_attn.weight in GPT-2 XL (emb_dim 1600)."""
    if shape == C_ATTN_SHAPE_XL[::-1]:
        raise NotYet("that is nn.Linear's [out, in] layout; Hugging Face's Conv1D stores the "
                     "transpose, [in, out].")
    if shape == (1600, 1600):
        raise NotYet("that is one of W_query, W_key, W_value; c_attn holds all three side by side.")
    if shape == C_ATTN_SHAPE_SMALL:
        raise NotYet("that is GPT-2 small's (emb_dim 768); GPT-2 XL's emb_dim is 1600.")
    if shape == C_FC_SHAPE_XL:
        raise NotYet("that is mlp.c_fc, 4 x emb_dim wide; c_attn holds query, key and value.")
    if shape != C_ATTN_SHAPE_XL:
        raise NotYet("GPT-2 XL has emb_dim 1600; c_attn maps 1600 inputs to query, key and "
                     "value at once, stored [in, out].")
    return ("[1600, 4800]: 1600 inputs (Conv1D keeps [in, out]) and 3 x 1600 outputs, query, "
            "key and value side by side.")


# ------------------------------------------ your turn: fuse q, k, v into c_attn


def _c_attn_row(d):
    table = gpt2_weights({**GPT2_XL, "emb_dim": d, "n_heads": 1, "n_layers": 1, "qkv_bias": True})
    return next(w for w in table if w.hf_name == "h.0.attn.c_attn.weight")


def _reference_fuse(W_query, W_key, W_value):
    """The package's way: the table's c_attn row, read backwards."""
    return course_to_hf(_c_attn_row(W_query.shape[0]), (W_query, W_key, W_value))


def _cases():
    gen = torch.Generator().manual_seed(0)
    return [Case(tuple(torch.randn(d, d, generator=gen) for _ in range(3)), note=f"d = {d}")
            for d in (4, 6, 1)]


_WRONG_ORDER = ("the parts are in the wrong order: query first (columns 0 to d-1), then key "
                "(d to 2d-1), then value.")
_MISTAKES = [
    Mistake("each part is still in nn.Linear's [out, in] layout: transpose each one "
            "(Conv1D stores [in, out]), or stack them along dim 0 and transpose the result.",
            lambda _, q, k, v: torch.cat([q, k, v], dim=1)),
    Mistake("reshape (or view) regroups the numbers in memory order; it does not transpose. "
            "Use .T to turn [out, in] into [in, out].",
            lambda _, q, k, v: torch.cat([q, k, v], dim=0).reshape(q.shape[0], 3 * q.shape[0])),
    *[Mistake(_WRONG_ORDER, lambda _, *qkv, order=order: torch.cat([qkv[i].T for i in order], dim=1))
      for order in itertools.permutations(range(3)) if order != (0, 1, 2)],
    Mistake("every part is the query weight: use W_key and W_value for the second and third.",
            lambda _, q, k, v: torch.cat([q.T, q.T, q.T], dim=1)),
]


@teacher
def check_fuse_c_attn(fuse_c_attn):
    """Your turn: fuse_c_attn(W_query, W_key, W_value) -> c_attn.weight, the
    three [d, d] nn.Linear weights ([out, in]) as one Conv1D weight [d, 3d]
    ([in, out]), query first. Tried on random weights for d = 4, 6 and 1.
    Recognises: no transpose, reshape/view for a transpose, the parts in the
    wrong order, the query used three times."""
    theirs = fuse_c_attn
    if callable(fuse_c_attn) and not inspect.isclass(fuse_c_attn):
        def theirs(*weights):
            # copies: their function may change a weight in place; what it prints
            # (it runs many times) would bury the verdict
            with contextlib.redirect_stdout(io.StringIO()):
                return fuse_c_attn(*(w.clone() for w in weights))
    with torch.random.fork_rng(devices=[]):  # the learner's random numbers stay as they were
        return check_function(
            theirs, name="fuse_c_attn", reference=_reference_fuse, cases=_cases(),
            mistakes=_MISTAKES,
            success="transpose each [out, in] weight to [in, out] and put them side by side "
                    "(torch.cat([W_query.T, W_key.T, W_value.T], dim=1)): this is "
                    "course_to_hf for c_attn, and Hugging Face's Conv1D gives the same "
                    "query, key and value as the course's three nn.Linear layers.",
            hint="c_attn.weight[:, :d] must be W_query.T, [:, d:2d] W_key.T, [:, 2d:] W_value.T.",
            # a layout conversion for loading weights: nothing trains through it, and
            # .detach() or a numpy round trip is fine here
            grads=False)


# ------------------------------------------------------- exercise 3: a smaller vocabulary


@answer_check(as_int, "give the count as a whole number, e.g. 123_456")
def check_smaller_vocab_params(count):
    """Exercise 3: the parameter count of GPT-2 small as published (q/k/v biases,
    output head tied to wte) with a 32,000-token vocabulary instead of 50,257."""
    if count == GPT2_SMALL_TIED_PARAMS:
        raise NotYet("that is GPT-2 small as published, with 50,257 tokens (notebook 07); "
                     "here the vocabulary has 32,000.")
    if count == SMALLER_VOCAB_UNTIED_PARAMS:
        raise NotYet("that counts the output head separately; tied, the head is the token "
                     "embedding, and the [32000, 768] matrix counts once.")
    if count == GPT2_SMALL_TIED_PARAMS - 2 * ROWS_SAVED:
        raise NotYet("the rows went twice: with tying there is one vocabulary matrix, so the "
                     "18,257 tokens that go take 768 numbers each, once.")
    if count == SMALLER_VOCAB_NO_QKV_BIAS:
        raise NotYet("close: that is without the query/key/value biases; GPT-2 has them "
                     "(qkv_bias=True), 3 x 768 per block.")
    if count == GPT2_SMALL_TIED_PARAMS - (GPT2_SMALL["vocab_size"] - SMALLER_VOCAB):
        raise NotYet("each token's row holds emb_dim = 768 numbers, not 1.")
    if count != SMALLER_VOCAB_TIED_PARAMS:
        raise NotYet("start from GPT-2 small as published, 124,439,808 (notebook 07, or "
                     "model_size(cfg_124m).tied_params), and remove the rows of the "
                     "50,257 - 32,000 = 18,257 tokens that go: 768 numbers each.")
    return ("110,418,432 = 124,439,808 - 18,257 x 768: with tying the vocabulary's matrix is "
            "there once, so every token fewer saves 768 numbers, once.")
