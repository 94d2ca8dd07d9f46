"""Exercise checks for notebook 09 (faster generation: KV cache and sampling)."""

import re

import torch
import torch.nn as nn

from ..book.nb06_attention import MultiHeadAttention
from ..config import GPT_CONFIG_124M
from ..language import tr
from .base import (
    NotYet, Verdict, answer_check, as_int, as_ints, describe_exception, no_answer_yet, report,
)
from .sandbox import explain_error, teacher
from .code_check import (Case, Exact, Mistake, compare_outputs, course_codes, exact_module,
                         not_written_yet)

PROMPT_TOKENS = 4
NEW_TOKENS = 6
# The book's loop runs the whole sequence for each new token: 4 + 5 + ... + 9.
POSITIONS_WITHOUT_CACHE = sum(PROMPT_TOKENS + step for step in range(NEW_TOKENS))  # 39
# With the cache: the prompt once, then each new token but the last one alone.
POSITIONS_WITH_CACHE = PROMPT_TOKENS + NEW_TOKENS - 1  # 9

TOP_P_PROBS = (0.5, 0.3, 0.15, 0.05)
TOP_P = 0.75
TOP_P_KEPT = 2

# Exercise 4: the numbers a full KV cache of GPT-2 124M holds (batch 1).
CACHE_TOKENS = GPT_CONFIG_124M["context_length"]  # 1024
_LAYERS, _EMB = GPT_CONFIG_124M["n_layers"], GPT_CONFIG_124M["emb_dim"]
CACHE_NUMBERS = 2 * _LAYERS * CACHE_TOKENS * _EMB  # keys and values: 18,874,368


def _pair(answer):
    values = as_ints(answer)
    return values if values is not None and len(values) == 2 else None


@answer_check(_pair, "give two whole numbers as a pair: (without_cache, with_cache)")
def check_positions(pair):
    """Exercise 1: (positions run without the cache, with the cache) for a
    4-token prompt and 6 new tokens, greedy."""
    without, with_cache = pair
    if without in (4 + 5 + 6 + 7 + 8 + 9 + 10, 60):
        raise NotYet("the book's loop runs the model 6 times, on 4, 5, ..., 9 tokens; the 6th "
                     "new token is appended but never run through the model.")
    if without != POSITIONS_WITHOUT_CACHE:
        raise NotYet("without the cache, step i runs the prompt plus the i - 1 tokens generated "
                     "so far: add up 4, 5, ... for the 6 steps.")
    if with_cache == PROMPT_TOKENS + NEW_TOKENS:
        raise NotYet("close: with the cache each new token is run once, to get the next one, "
                     "but the last new token has no next one to predict.")
    if with_cache != POSITIONS_WITH_CACHE:
        raise NotYet("with the cache the prompt is run once (4 positions), then each new token "
                     "alone, to predict the one after it.")
    return ("4 + 5 + 6 + 7 + 8 + 9 = 39 positions for the book's loop, 4 + 1 + 1 + 1 + 1 + 1 "
            "= 9 with the cache (the 6th new token is never fed back).")


# What names greedy decoding, as patterns searched in the answer (English, or
# Chinese: the Chinese edition asks in Chinese).
GREEDY = re.compile(r"greedy|arg ?max|generate_text_simple|most (likely|probable)|"
                    r"highest (probability|logit)|largest logit|deterministic|"
                    r"贪婪|贪心|最可能|概率最大|最大概率|可能性最大|确定性")
# Words that turn an answer around ("not greedy", "the opposite of greedy"; 不是贪婪).
NEGATION = re.compile(r"\b(not|no|never|non|nor|neither|without|opposite|unlike|anything but|"
                      r"far from|ungreedy)\b|n't|"
                      r"不是|并非|而非|非贪|不贪|不再|相反|不同于")
# The other end, temperature -> infinity.
UNIFORM = re.compile(r"uniform|random|均匀|随机")


def _text(answer):
    return answer.strip().lower() if isinstance(answer, str) and answer.strip() else None


@answer_check(_text, "answer with a word or a short phrase, as a string")
def check_greedy_limit(text):
    """Exercise 2: temperature -> 0 (or top_k=1) turns sampling into what?"""
    names_greedy = bool(GREEDY.search(text))
    if names_greedy and NEGATION.search(text):
        raise NotYet("your answer says what it is not: name what sampling becomes, in a word "
                     "or two, without 'not' or 'no'.")
    if UNIFORM.search(text) and names_greedy:
        raise NotYet("your answer names both ends: give one, what sampling becomes.")
    if UNIFORM.search(text):
        raise NotYet("a uniform, random draw is the other end, temperature -> infinity. A small "
                     "temperature divides the logits by a tiny number: the largest one dominates "
                     "the softmax.")
    if not names_greedy:
        raise NotYet("look at what next_token_distribution(logits, 0.01) or top_k=1 gives: how "
                     "many tokens keep a non-zero probability, and which one?")
    return ("both keep only the most likely token, so every draw is the argmax: greedy "
            "decoding, the book's generate_text_simple, whatever the seed.")


@answer_check(as_int, "give the number of tokens kept, a whole number")
def check_top_p_kept(kept):
    """Exercise 3: how many tokens does top_p=0.75 keep of probabilities
    0.5, 0.3, 0.15, 0.05?"""
    if kept == 1:
        raise NotYet("0.5 alone has not reached 0.75 yet: keep adding the next most likely token.")
    if kept == 3:
        raise NotYet("one too many: top-p stops at the first token that makes the running total "
                     "reach top_p.")
    if kept != TOP_P_KEPT:
        raise NotYet("sort the probabilities from the largest, add them up, and stop as soon as "
                     "the total reaches 0.75.")
    return ("0.5 alone is below 0.75, 0.5 + 0.3 = 0.8 reaches it: the two most likely tokens "
            "stay, renormalized to 0.625 and 0.375.")


@answer_check(as_int, "give one whole number: how many numbers the cache holds")
def check_cache_size(numbers):
    """Exercise 4: how many numbers the KV cache of GPT-2 124M holds, batch 1,
    with all 1024 positions of its context filled."""
    if numbers == CACHE_NUMBERS // 2:
        raise NotYet("that is the keys (or the values) alone: every layer stores both.")
    if numbers == CACHE_NUMBERS // _LAYERS:
        raise NotYet("that is one layer: each of the 12 layers has its own attention, so its own "
                     "keys and values.")
    if numbers == 4 * CACHE_NUMBERS:
        raise NotYet("that is bytes (4 per float32 number); the question asks for numbers.")
    if numbers == CACHE_NUMBERS * GPT_CONFIG_124M["n_heads"]:
        raise NotYet("num_heads x head_dim is already emb_dim = 768: multiply by the heads only "
                     "once.")
    if numbers != CACHE_NUMBERS:
        raise NotYet("per layer the cache holds keys and values, each [batch, num_heads, tokens, "
                     "head_dim]: multiply it out for 12 layers, 1024 tokens, 12 x 64.")
    return tr("2 (keys and values) x 12 layers x 1024 tokens x 768 = {numbers:,} numbers, "
              "{megabytes:.1f} MB in float32: about an eighth of the model's weights, and it "
              "grows with the batch size.", numbers=CACHE_NUMBERS,
              megabytes=CACHE_NUMBERS * 4 / 1e6)


# ---------------------------------------------------------------- your turn
# The learner writes the forward pass of an attention layer with a KV cache,
# built as cls(att) around one of the course's MultiHeadAttention layers. The
# check feeds a sequence in pieces (the prompt, then one token at a time, or
# chunks of several after a prefix) and compares the outputs, put together,
# with the course's MultiHeadAttention run once on the whole sequence.

ATTENTION_NAME = "attention with a KV cache"
_D, _HEADS, _CONTEXT = 12, 3, 16


def _attention(seed=0):
    """The course's attention layer both sides use (random weights, q/k/v biases too)."""
    with torch.random.fork_rng(devices=[]):  # leave the learner's random state alone
        torch.manual_seed(seed)
        att = MultiHeadAttention(d_in=_D, d_out=_D, context_length=_CONTEXT, dropout=0.0,
                                 num_heads=_HEADS, qkv_bias=True)
    return att.eval()


def _cache_cases():
    gen = torch.Generator().manual_seed(9)
    feeds = (
        (1, (1, 1, 1, 1, 1), "fed one token at a time"),
        (2, (3, 1, 1, 1, 1), "fed 3 tokens, then one at a time"),
        (2, (4, 3, 2), "fed 4 tokens, then 3, then 2"),
        (3, (6,), "fed all 6 tokens in one call"),
        (1, (5, 1, 4, 1, 5), "fed 5 tokens, then 1, 4, 1 and 5"),
    )
    return [Case((torch.randn(batch, sum(chunks), _D, generator=gen), chunks), note=note)
            for batch, chunks, note in feeds]


def _cached_attention(att, x, chunks, *, append=True, values_from="values", mask="offset",
                      scale=True):
    """What a cached attention returns, chunk after chunk, written right (the
    default) or with one classic mistake."""
    b = x.shape[0]

    def heads(t):
        return t.view(b, t.shape[1], att.num_heads, att.head_dim).transpose(1, 2)

    cache_k = cache_v = None
    outputs, start = [], 0
    for n in chunks:
        end = start + n
        piece = x[:, start:end]
        q, k, v = heads(att.W_query(piece)), heads(att.W_key(piece)), heads(att.W_value(piece))
        if values_from == "keys":
            v = k
        cache_k = k if cache_k is None else torch.cat([cache_k, k], dim=2)
        cache_v = v if cache_v is None else torch.cat([cache_v, v], dim=2)
        keys, vals = (cache_k, cache_v) if append else (k, v)
        scores = q @ keys.transpose(2, 3)
        rows = {"offset": att.mask[start:end, :end] if append else att.mask[:n, :n],
                "from_zero": att.mask[:n, :keys.shape[2]],
                "first_only": att.mask[:n, :n] if start == 0 else None,
                "none": None}[mask]
        if rows is not None:
            scores = scores.masked_fill(rows, -torch.inf)
        weights = torch.softmax(scores / (att.head_dim**0.5 if scale else 1.0), dim=-1)
        context = (weights @ vals).transpose(1, 2).reshape(b, n, att.d_out)
        outputs.append(att.out_proj(context))
        start = end
    return torch.cat(outputs, dim=1)


def _after_prefix(case, several):
    """True if the case feeds a chunk of `several` (> 1) tokens after the first call."""
    return any(n > 1 for n in case.args[1][1:]) if several else len(case.args[1]) > 1


ATTENTION_WITH_CACHE_MISTAKES = [
    Mistake("each call attends over its own new tokens only: append their keys and values to "
            "self.cache_k / self.cache_v (torch.cat along dim=2) and attend over the whole "
            "cache, so a new token sees every token before it.",
            lambda att, x, chunks: _cached_attention(att, x, chunks, append=False),
            when=lambda case: len(case.args[1]) > 1),
    Mistake("the value cache holds keys: append the new values to self.cache_v (and the keys to "
            "self.cache_k), then weight the cached values.",
            lambda att, x, chunks: _cached_attention(att, x, chunks, values_from="keys")),
    Mistake("the mask starts at position 0, but the new tokens sit at positions start, ..., "
            "start + num_new - 1 (start = tokens already cached): their rows of the causal mask "
            "are self.mask[start:start + num_new, :start + num_new].",
            lambda att, x, chunks: _cached_attention(att, x, chunks, mask="from_zero"),
            when=lambda case: len(case.args[1]) > 1),
    Mistake("the mask is left out once the cache holds tokens: a chunk of several new tokens "
            "after a prefix must still not see its own later tokens; mask with rows start .. "
            "start + num_new - 1 of the causal mask: self.mask[start:start + num_new, "
            ":start + num_new].",
            lambda att, x, chunks: _cached_attention(att, x, chunks, mask="first_only"),
            when=lambda case: _after_prefix(case, several=True)),
    Mistake("no causal mask: when several new tokens come in one call (a prompt, or a chunk "
            "after it), each may see only positions up to its own: "
            "attn_scores.masked_fill_(self.mask[start:end, :end], -torch.inf). (For one new "
            "token that mask is all False, which is why one-at-a-time steps looked right.)",
            lambda att, x, chunks: _cached_attention(att, x, chunks, mask="none"),
            when=lambda case: any(n > 1 for n in case.args[1])),
    Mistake("the scores are not scaled: divide them by sqrt(head_dim) (self.head_dim**0.5) "
            "before the softmax, as MultiHeadAttention does.",
            lambda att, x, chunks: _cached_attention(att, x, chunks, scale=False)),
]


def _build(cls, att):
    module = cls(att)
    if not isinstance(module, nn.Module):
        raise NotYet(tr("{cls}(att) did not build an nn.Module; did __init__ call "
                        "super().__init__()?", cls=cls.__name__))
    return module.eval()


def _feed(cls, att, x, chunks):
    """A fresh instance of the learner's class fed `x` chunk by chunk: their
    outputs, put together along the tokens."""
    module = _build(cls, att)
    outputs, start = [], 0
    for n in chunks:
        out = module(x[:, start:start + n])
        outputs.append(out[0] if isinstance(out, tuple) and len(out) == 1 else out)
        start += n
    return torch.cat(outputs, dim=1)


def _cache_problem(module, batch, start, num_new, where, err):
    """Why a call after the first raised, told from the shapes of the
    learner's cache_k and cache_v (the names the skeleton gives them)."""
    if not isinstance(err, RuntimeError):  # not torch complaining about shapes
        return tr("your {name} raised {error} on {where}.", name=tr(ATTENTION_NAME),
                  error=describe_exception(err), where=where)
    end = start + num_new
    want = [batch, _HEADS, end, _D // _HEADS]
    shapes = {name: getattr(module, name, None) for name in ("cache_k", "cache_v")}
    shapes = {name: list(t.shape) for name, t in shapes.items()
              if isinstance(t, torch.Tensor) and t.dim() == 4}
    for name, shape in shapes.items():
        grown = [d for d in range(4) if d != 2 and shape[d] != want[d]]
        if grown and shape[2] != end:
            return tr("self.{name} has shape {shape} after {where}: it grew along dimension "
                      "{dim}, not along the tokens. Append along dim=2 ([batch, num_heads, "
                      "tokens, head_dim]), so it holds {want}.",
                      name=name, shape=shape, where=where, dim=grown[0], want=want)
    right = {name: shape == want for name, shape in shapes.items()}
    if right.get("cache_k") and not right.get("cache_v", True):
        return tr("the keys are appended but the values are not (self.cache_v has shape "
                  "{shape} after {where}, expected {want}): append both, and weight all the "
                  "cached values. ({error})", shape=shapes["cache_v"], where=where, want=want,
                  error=describe_exception(err))
    if right.get("cache_v") and not right.get("cache_k", True):
        return tr("the values are appended but the keys are not (self.cache_k has shape "
                  "{shape} after {where}, expected {want}): append both, and score the new "
                  "queries against all the cached keys. ({error})", shape=shapes["cache_k"],
                  where=where, want=want, error=describe_exception(err))
    if shapes and all(shape[2] < end for shape in shapes.values()):
        held = ", ".join(f"self.{name} {shape}" for name, shape in shapes.items())
        return tr("the cache does not grow: after {where} it holds {held}, expected {want} "
                  "each. Append the new keys and values with torch.cat(..., dim=2) and store "
                  "the result back in self.cache_k and self.cache_v. ({error})",
                  where=where, held=held, want=want, error=describe_exception(err))
    if shapes and any(shape[2] > end for shape in shapes.values()):
        held = ", ".join(f"self.{name} {shape}" for name, shape in shapes.items())
        return tr("the cache holds more tokens than were fed: after {where} it holds {held}, "
                  "expected {want} each. Are the new keys and values appended twice, or the "
                  "cache appended to itself? ({error})", where=where, held=held, want=want,
                  error=describe_exception(err))
    if num_new > 1 and start > 0 and all(shape == want for shape in shapes.values()):
        return tr("your {name} raised {error} on {where}. Several new tokens after a prefix: "
                  "is the mask sliced for them? Their rows of the causal mask are "
                  "self.mask[start:start + num_new, :start + num_new].",
                  name=tr(ATTENTION_NAME), error=describe_exception(err), where=where)
    return tr("your {name} works on its first call but raised {error} on {where}: once the "
              "cache holds tokens, the scores cover all of them, so use the whole cache "
              "(self.cache_k, self.cache_v), not only the new keys and values.",
              name=tr(ATTENTION_NAME), error=describe_exception(err), where=where)


def _call_by_call(cls, att, case):
    """Run one case call by call; a sentence saying what went wrong first, or None."""
    x, chunks = case.args
    batch = x.shape[0]
    try:
        module = _build(cls, att)
    except NotYet as not_yet:
        return str(not_yet)
    except NotImplementedError as err:
        return tr("building your {name} raised NotImplementedError ({err}): keep __init__ as "
                  "the skeleton gives it.", name=tr(ATTENTION_NAME), err=err)
    except Exception as err:
        return tr("building your {name} as {cls}(att) failed: {error}; keep __init__ as the "
                  "skeleton gives it.", name=tr(ATTENTION_NAME), cls=cls.__name__,
                  error=describe_exception(err))
    start = 0
    for call, num_new in enumerate(chunks, 1):
        where = tr("call {call} of {calls} ({num_new} new tokens, {start} already cached; "
                   "input {shape} {note})" if num_new > 1 else
                   "call {call} of {calls} ({num_new} new token, {start} already cached; "
                   "input {shape} {note})", call=call, calls=len(chunks), num_new=num_new,
                   start=start, shape=list(x.shape), note=tr(case.note))
        try:
            with torch.no_grad():
                out = module(x[:, start:start + num_new])
        except NotImplementedError as err:
            return not_written_yet(tr(ATTENTION_NAME), err)
        except Exception as err:
            if start == 0:
                return tr("on {where}: {explained}", where=where, explained=explain_error(err))
            return _cache_problem(module, batch, start, num_new, where, err)
        if isinstance(out, tuple) and len(out) == 1:
            out = out[0]
        if not isinstance(out, torch.Tensor):
            return tr("on {where} your forward returned {type}, not a tensor (does it end "
                      "with `return self.out_proj(...)`?)", where=where, type=type(out).__name__)
        want = [batch, num_new, _D]
        if list(out.shape) == [batch, start + num_new, _D] and start > 0:
            return tr("on {where} your output has shape {shape}: a row for every cached token. "
                      "Return only the new tokens' rows, {want}: the queries are the new "
                      "tokens' only.", where=where, shape=list(out.shape), want=want)
        if list(out.shape) != want:
            return tr("on {where} your output has shape {shape}, expected {want}.",
                      where=where, shape=list(out.shape), want=want)
        if not out.is_floating_point():
            return tr("on {where} your output has dtype {dtype}, expected floating point.",
                      where=where, dtype=out.dtype)
        start += num_new
    return None


def _reset_problem(cls, att, cases):
    """generate_text_cached calls reset_cache() before every prompt: after it,
    a new sequence must give what a fresh layer gives. A sentence if not."""
    module = _build(cls, att)
    if not callable(getattr(module, "reset_cache", None)):
        return None
    first, second = cases[1], cases[2]
    with torch.no_grad():
        try:
            x, chunks = first.args
            start = 0
            for n in chunks:
                module(x[:, start:start + n])
                start += n
            module.reset_cache()
            x, chunks = second.args
            outputs, start = [], 0
            for n in chunks:
                outputs.append(_unwrap_one(module(x[:, start:start + n])))
                start += n
            out = torch.cat(outputs, dim=1)
        except Exception as err:
            return tr("after reset_cache() your {name} fails on a new sequence ({error}): "
                      "reset_cache() must empty everything forward stores, so that a new "
                      "prompt starts from nothing.", name=tr(ATTENTION_NAME),
                      error=describe_exception(err))
        want = _feed(cls, att, x, chunks)
    if not (isinstance(out, torch.Tensor) and out.shape == want.shape
            and torch.allclose(out, want, atol=1e-5, rtol=1e-4)):
        return tr("after reset_cache() your {name} still remembers the previous sequence: a "
                  "new sequence gives other outputs than on a fresh layer. reset_cache() must "
                  "empty everything forward stores.", name=tr(ATTENTION_NAME))
    return None


def _unwrap_one(out):
    return out[0] if isinstance(out, tuple) and len(out) == 1 else out


@teacher
def check_attention_with_cache(answer):
    """Your turn: the learner's attention with a KV cache, a class built as
    cls(att) from one of the course's MultiHeadAttention layers, fed a
    sequence in pieces; together its outputs must be the course's
    MultiHeadAttention on the whole sequence."""
    if no_answer_yet(answer):
        return Verdict(False)
    if isinstance(answer, nn.Module):
        return report(False, "", tr("pass the class itself ({cls}), not an instance of it: "
                                    "the check builds it from an attention layer.",
                                    cls=type(answer).__name__))
    if not isinstance(answer, type) or not issubclass(answer, nn.Module):
        got = (tr("the class {cls}, which is not one", cls=answer.__name__)
               if isinstance(answer, type) else type(answer).__name__)
        return report(False, "", tr("pass your class (a subclass of nn.Module), got {got}.",
                                    got=got))
    att = _attention()
    cases = _cache_cases()
    for case in cases:
        problem = _call_by_call(answer, att, case)
        if problem:
            return report(False, "", problem)
    problem = _reset_problem(answer, att, cases)
    if problem:
        return report(False, "", problem)
    def exact(jitter):  # the course's attention in float64, on the whole sequence
        ref = exact_module(att, jitter)
        return Exact(lambda x, chunks: ref.fn(x), ref.fn, ref.modules)

    # Gradients are not compared: a cache serves generation, under torch.no_grad(),
    # and detaching what it stores is fine there.
    return compare_outputs(
        lambda x, chunks: _feed(answer, att, x, chunks), lambda x, chunks: att(x), att,
        cases, ATTENTION_WITH_CACHE_MISTAKES, name=tr(ATTENTION_NAME), modules=(att,),
        exact=exact, grads=False, course=course_codes(MultiHeadAttention),
        success="fed one token at a time, a prompt then single tokens, and chunks of several "
                "tokens after a prefix, your outputs are the course's MultiHeadAttention on the "
                "whole sequence: keys and values appended along the tokens, the new queries "
                "scored against the whole cache, the mask rows of the new positions, scaled, "
                "weighted, heads merged and projected.",
        hint="compute q, k, v of the new tokens and split them into heads, append k and v to "
             "the cache along dim=2, score the new queries against all cached keys, mask with "
             "self.mask[start:end, :end], scale by sqrt(head_dim), softmax, weight the cached "
             "values, merge the heads and apply out_proj.",
    )
