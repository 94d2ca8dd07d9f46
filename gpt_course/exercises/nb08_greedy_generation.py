"""Exercise checks for notebook 08 (greedy generation)."""

import contextlib
import inspect
import io

import torch

from ..book.nb07_gpt_model import GPTModel
from ..book.nb08_generation import generate_text_simple
from ..language import tr
from .sandbox import teacher
from .base import NotYet, answer_check, as_id_list, as_int, describe_exception, report
from .code_check import Case, Mistake, check_function

CROP_IDS = [15496, 11, 314, 716]   # "Hello, I am"
CROP_CONTEXT = 3


@answer_check(as_id_list, "give the token ids as a list (or a tensor), e.g. [1, 2, 3]")
def check_crop(ids):
    """Exercise 1: what idx[:, -3:] keeps of [[15496, 11, 314, 716]]."""
    if ids == CROP_IDS[:CROP_CONTEXT]:
        raise NotYet("that is the first 3 tokens; -3: counts from the end.")
    if ids == CROP_IDS:
        raise NotYet("that is all 4 tokens; with context_size=3 the crop keeps only 3 of them.")
    if ids != CROP_IDS[-CROP_CONTEXT:]:
        raise NotYet("idx[:, -3:] keeps the last 3 positions of every row.")
    return ("The crop keeps the last 3 tokens, [11, 314, 716] (', I am'): the most recent "
            "ones, which matter most for the next token.")


# Exercise 2: generate_text_simple(model, "Hello, I am" (4 tokens), 8 new tokens,
# context_size=6): how many token positions does the model process in all?
PROMPT_TOKENS, NEW_TOKENS, SMALL_CONTEXT = 4, 8, 6
SEEN = [min(PROMPT_TOKENS + step, SMALL_CONTEXT) for step in range(NEW_TOKENS)]  # 4, 5, 6, ...


@answer_check(as_int, "give one whole number")
def check_positions_processed(total):
    """Exercise 2: the token positions the model processes, summed over the
    8 calls, for a 4-token prompt with context_size=6."""
    uncropped = sum(PROMPT_TOKENS + step for step in range(NEW_TOKENS))
    if total == uncropped:
        raise NotYet(tr("that is {uncropped}, the sum without cropping (4 + 5 + ... + 11); "
                        "from the third step on the crop keeps only the last 6 tokens.",
                        uncropped=uncropped))
    if total == NEW_TOKENS:
        raise NotYet("the model runs once per new token, but each run processes every "
                     "position of idx_cond, not only the last one.")
    if total == SMALL_CONTEXT * NEW_TOKENS:
        raise NotYet("the first two steps see fewer than 6 tokens: the prompt has 4, then 5.")
    if total == PROMPT_TOKENS * NEW_TOKENS:
        raise NotYet("the sequence grows by one token every step until the crop holds it at 6.")
    if total != sum(SEEN):
        raise NotYet("write down how many tokens idx_cond holds at each of the 8 steps (the "
                     "prompt grows by one each step, the crop keeps at most 6) and add them up.")
    return tr("{terms} = {total} positions for 8 new tokens, though only the last position's "
              "logits are used each time. Notebook 09's KV cache keeps what earlier steps "
              "computed instead of recomputing it.",
              terms=" + ".join(map(str, SEEN)), total=sum(SEEN))


# ---------------------------------------------------------------- your turn
#
# The learner's generate_text_simple runs next to the course's on a tiny GPTModel
# (vocabulary 50, context 6, one layer), with prompts shorter and longer than the
# context, generation running past it, batch 1 and 2, and a context_size smaller
# than the model's. No dropout: whether their loop uses eval mode or no_grad
# cannot matter.

TINY_CFG = {"vocab_size": 50, "context_length": 6, "emb_dim": 16, "n_heads": 2,
            "n_layers": 1, "drop_rate": 0.0, "qkv_bias": False}


def tiny_generation_model():
    """The check's model, the same every time (it seeds torch's global RNG:
    the check calls it inside fork_rng, so the learner's RNG is untouched)."""
    torch.manual_seed(123)
    return GPTModel(TINY_CFG).eval()


def generation_cases(model):
    """The inputs both loops run on: (model, prompt ids, max_new_tokens, context_size)."""
    gen = torch.Generator().manual_seed(8)

    def case(batch, n_prompt, new, context_size, what):
        idx = torch.randint(0, TINY_CFG["vocab_size"], (batch, n_prompt), generator=gen)
        note = tr("{what}: {n_prompt} prompt tokens, {new} new, context_size {context_size}",
                  what=tr(what), n_prompt=n_prompt, new=new, context_size=context_size)
        return Case((model, idx, new, context_size), note=note)

    return [
        case(1, 3, 5, 6, "batch 1, running past the context"),
        case(2, 4, 4, 6, "batch 2, running past the context"),
        case(1, 8, 3, 6, "batch 1, a prompt longer than the context"),
        case(2, 2, 2, 6, "batch 2, well inside the context"),
        case(1, 3, 4, 4, "batch 1, context_size smaller than the model's"),
    ]


def _past_context(case):
    _, idx, new, context_size = case.args
    return idx.shape[1] + new - 1 > context_size


def _loop(model, idx, max_new_tokens, context_size, *, crop="last", position=-1,
          softmax_dim=-1, argmax_dim=-1, keepdim=True, cat_dim=1, overwrite=False,
          new_only=False):
    """generate_text_simple, written the ways learners write it (right by default)."""
    prompt_length = idx.shape[1]
    for _ in range(max_new_tokens):
        if crop == "last":
            idx_cond = idx[:, -context_size:]
        elif crop == "first":
            idx_cond = idx[:, :context_size]
        elif crop == "model":
            idx_cond = idx[:, -model.cfg["context_length"]:]
        else:
            idx_cond = idx
        if overwrite:
            idx = idx_cond
        with torch.no_grad():
            logits = model(idx_cond)
        probas = torch.softmax(logits[:, position, :], dim=softmax_dim)
        idx_next = torch.argmax(probas, dim=argmax_dim, keepdim=keepdim)
        idx = torch.cat((idx, idx_next), dim=cat_dim)
    return idx[:, prompt_length:] if new_only else idx


def _mistake(**kwargs):
    return lambda _context, model, idx, new, context_size: _loop(
        model, idx, new, context_size, **kwargs)


# Mistakes whose output can be compared with the course's (same shape).
GENERATION_MISTAKES = [
    Mistake("your loop reads the first position's logits; the next token is predicted by "
            "the last one: logits[:, -1, :].", _mistake(position=0)),
    Mistake("you crop from the front (idx[:, :context_size]): past the context the model "
            "then always sees the first tokens. Keep the last ones: idx[:, -context_size:].",
            _mistake(crop="first"), when=_past_context),
    Mistake("you crop to the model's own context length, not to the context_size argument: "
            "use idx[:, -context_size:].",
            _mistake(crop="model"), when=lambda case: case.args[3] < TINY_CFG["context_length"]),
    Mistake("the softmax runs over the batch dimension; it belongs over the vocabulary: "
            "torch.softmax(logits, dim=-1).", _mistake(softmax_dim=0)),
]

# Mistakes that raise, or change the output's shape: recognised before the comparison.
GENERATION_FAILURES = [
    Mistake("the context is not cropped: once the text is longer than the context the model "
            "refuses it (it has no position embedding beyond). Crop before every call: "
            "idx_cond = idx[:, -context_size:].", _mistake(crop=None)),
    Mistake("you return only the new tokens; generate_text_simple returns the prompt "
            "followed by them (append to idx and return idx).", _mistake(new_only=True)),
    Mistake("you overwrite idx with the cropped window, so the text loses its beginning. "
            "Keep idx whole and give the model idx_cond = idx[:, -context_size:].",
            _mistake(overwrite=True)),
    Mistake("idx_next must have shape [batch, 1] for torch.cat: take the argmax over the "
            "vocabulary with keepdim=True: torch.argmax(probas, dim=-1, keepdim=True).",
            _mistake(keepdim=False)),
    Mistake("the argmax runs over the batch dimension (dim=0); it picks a token, so it runs "
            "over the vocabulary: torch.argmax(probas, dim=-1, keepdim=True).",
            _mistake(argmax_dim=0)),
    Mistake("append the new token along the sequence: torch.cat((idx, idx_next), dim=1).",
            _mistake(cat_dim=0)),
]


def _outcome(fn, args):
    """What fn(*args) gives: ("value", tensor) or ("error", type and message)."""
    try:
        with torch.no_grad():
            return ("value", fn(*args))
    except Exception as err:
        return ("error", describe_exception(err))


def _same(a, b):
    if a[0] != b[0]:
        return False
    if a[0] == "error":
        return a[1] == b[1]
    return (isinstance(a[1], torch.Tensor) and isinstance(b[1], torch.Tensor)
            and a[1].shape == b[1].shape and torch.equal(a[1], b[1]))


def _diagnose_failure(theirs, cases):
    """The hint of the first failure mistake theirs behaves like on every case,
    if theirs raises or returns the wrong shape somewhere; else None (and the
    comparison says the rest)."""
    outcomes = []
    for case in cases:
        outcome = _outcome(theirs, case.args)
        if outcome[0] == "error" and outcome[1].startswith("NotImplementedError"):
            return None
        outcomes.append(outcome)
    if all(kind == "value" and isinstance(out, torch.Tensor)
           and out.shape == generate_text_simple(*case.args).shape
           for (kind, out), case in zip(outcomes, cases)):
        return None
    for mistake in GENERATION_FAILURES:
        if all(_same(outcome, _outcome(lambda *args: mistake.output(None, *args), case.args))
               for outcome, case in zip(outcomes, cases)):
            return mistake.hint
    return None


@teacher
def check_generate_text_simple(answer):
    """Your turn: the learner's generate_text_simple(model, idx,
    max_new_tokens, context_size) against the course's, on a tiny GPTModel."""
    with torch.random.fork_rng(devices=[]):  # the learner's random state stays as it was
        model = tiny_generation_model()
        cases = generation_cases(model)
        theirs = answer
        if callable(answer) and not inspect.isclass(answer):
            def theirs(model, idx, *rest):
                # their loop may change idx in place; what it prints (it runs many
                # times) would bury the verdict
                with contextlib.redirect_stdout(io.StringIO()):
                    return answer(model, idx.clone(), *rest)
            hint = _diagnose_failure(theirs, cases)
            if hint:
                return report(False, "", hint)
        return check_function(
            theirs, name="generate_text_simple", reference=generate_text_simple, cases=cases,
            mistakes=GENERATION_MISTAKES,
            success="your loop gives the course's tokens on every case (batch 1 and 2, prompts "
                    "shorter and longer than the context, generation running past it, a "
                    "context_size smaller than the model's): crop to the last context_size "
                    "tokens, take the last position, argmax, append.",
            hint="for each new token: idx_cond = idx[:, -context_size:], logits = "
                 "model(idx_cond), keep logits[:, -1, :], argmax over the vocabulary with "
                 "keepdim=True, and torch.cat((idx, idx_next), dim=1).",
        )
