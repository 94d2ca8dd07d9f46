"""Beyond the book: text generation with temperature, top-k and top-p
(nucleus) sampling, a stop token, batches, and the KV cache.

`generate` is the book's `generate_text_simple` grown up: with the defaults
(temperature 0) it picks the most likely token every time, as the book does,
and gives the same tokens, only much faster because it uses the KV cache.
With temperature > 0 it draws the next token at random from
`next_token_distribution(logits, temperature, top_k, top_p)`:

1. divide the logits by the temperature (below 1 sharpens, above 1 flattens),
2. top_k: keep only the k highest logits,
3. softmax,
4. top_p: keep the smallest set of most likely tokens whose probability adds
   up to at least top_p, and renormalize.

Pass `seed` (or your own torch.Generator) to make a draw reproducible.
"""

import math
from numbers import Real

import torch

from ..checks import check_token_ids
from .nb09_fast_kv_cache import KVCache, _check_eval, _check_model, _forward, _plan

__all__ = ["generate", "next_token_distribution"]


def _check_sampling_args(temperature, top_k, top_p):
    if isinstance(temperature, bool) or not isinstance(temperature, Real):
        raise TypeError(f"temperature must be a number >= 0, got {temperature!r}")
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(
            f"temperature must be >= 0 (0 means greedy), got {temperature!r}"
        )
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int):
            raise TypeError(f"top_k must be None or an int >= 1, got {top_k!r}")
        if top_k < 1:
            raise ValueError(f"top_k must be None or an int >= 1, got {top_k!r}")
    if top_p is not None:
        if isinstance(top_p, bool) or not isinstance(top_p, Real):
            raise TypeError(f"top_p must be None or a number in (0, 1], got {top_p!r}")
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1] (1 keeps everything), got {top_p!r}")


def next_token_distribution(logits, temperature=1.0, top_k=None, top_p=None):
    """The probabilities ``generate`` samples the next token from.

    `logits`: [..., vocab_size] scores of the next token. Returns a tensor of
    the same shape summing to 1 over the last dimension. temperature 0 gives
    all the probability to the highest logit (greedy); top_k keeps the k most
    likely tokens (exactly k non-zeros); top_p keeps the smallest set of most
    likely tokens whose probability reaches top_p.
    """
    _check_sampling_args(temperature, top_k, top_p)
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError("logits must be a floating point tensor [..., vocab_size]")
    if logits.dim() == 0 or logits.shape[-1] == 0:
        raise ValueError(f"logits must have shape [..., vocab_size], got {list(logits.shape)}")
    logits = logits.detach()
    if temperature == 0:
        index = logits.argmax(dim=-1, keepdim=True)
        return torch.zeros_like(logits).scatter_(-1, index, 1.0)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        top = torch.topk(logits, top_k, dim=-1)
        # scatter the k kept values into -inf: exactly k survive, even with ties
        logits = torch.full_like(logits, -torch.inf).scatter_(-1, top.indices, top.values)
    probs = torch.softmax(logits, dim=-1)
    if top_p is not None and top_p < 1.0:
        sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
        mass_before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
        # keep a token while the more likely ones have not yet reached top_p
        # (the most likely token is always kept)
        sorted_probs = sorted_probs.masked_fill(mass_before >= top_p, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return probs


def _check_int(name, value, low, what):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int {what}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be an int {what}, got {value!r}")


def generate(model, idx, max_new_tokens, *, temperature=0.0, top_k=None, top_p=None,
             eos_id=None, generator=None, seed=None, use_cache=True):
    """Continue the prompts `idx` ([batch, n_tokens], all the same length) by
    up to `max_new_tokens` tokens and return prompts + new tokens.

    temperature 0 (default): greedy, the same tokens as generate_text_simple.
    temperature > 0: sample from next_token_distribution(logits, temperature,
    top_k, top_p) with torch.multinomial; `seed` (or a torch.Generator as
    `generator`) makes it reproducible, otherwise torch's global RNG is used.
    eos_id: a row stops when it emits this token (it is kept); in a batch,
    finished rows are padded with eos_id, and generation ends early once every
    row has finished.
    use_cache=True runs each new token alone through the model with a KVCache
    (needs model.eval(), and prompt + max_new_tokens <= context_length);
    use_cache=False is the book's loop (whole context every step, cropped to
    the last context_length tokens).
    """
    cfg = _check_model(model, for_cache=use_cache is True)
    try:
        check_token_ids(idx, cfg)
    except (TypeError, ValueError) as err:
        raise type(err)(f"idx (the prompt): {err}") from None
    _check_int("max_new_tokens", max_new_tokens, 0, ">= 0")
    _check_sampling_args(temperature, top_k, top_p)
    if eos_id is not None:
        _check_int("eos_id", eos_id, 0, f"in [0, {cfg['vocab_size']})")
        if eos_id >= cfg["vocab_size"]:
            raise ValueError(f"eos_id must be an int in [0, {cfg['vocab_size']}), got {eos_id}")
    if generator is not None and seed is not None:
        raise ValueError("give seed or generator, not both")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if seed is not None:
        _check_int("seed", seed, 0, ">= 0")
        generator = torch.Generator(device=idx.device).manual_seed(seed)
    if not isinstance(use_cache, bool):
        raise TypeError(f"use_cache must be True or False, got {use_cache!r}")
    batch, n_prompt = idx.shape
    context_length = cfg["context_length"]
    if use_cache:
        if n_prompt + max_new_tokens > context_length:
            raise ValueError(
                f"prompt length {n_prompt} + max_new_tokens {max_new_tokens} = "
                f"{n_prompt + max_new_tokens} exceeds context_length {context_length}: "
                f"the KV cache cannot go beyond the model's positions. Lower "
                f"max_new_tokens to {max(context_length - n_prompt, 0)}, shorten the "
                f"prompt, or pass use_cache=False (slower; crops the context to the "
                f"last {context_length} tokens for every new token)"
            )
        _check_eval(model)

    out = torch.empty((batch, n_prompt + max_new_tokens), dtype=idx.dtype, device=idx.device)
    out[:, :n_prompt] = idx
    if max_new_tokens == 0:
        return out
    greedy = temperature == 0
    finished = None if eos_id is None else torch.zeros(batch, dtype=torch.bool, device=idx.device)
    length = n_prompt
    cache = None
    if use_cache:
        cache = KVCache(model, batch_size=batch, max_length=n_prompt + max_new_tokens - 1)
    with torch.inference_mode():
        if use_cache:
            plan = _plan(model, cache)  # weights cannot change during this call
            logits = _forward(plan, idx, cache, False)
        for step in range(max_new_tokens):
            if not use_cache:
                logits = model(out[:, max(0, length - context_length):length])
            last = logits[:, -1]
            if greedy:
                next_id = last.argmax(dim=-1)
            else:
                probs = next_token_distribution(last, temperature, top_k, top_p)
                next_id = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            if finished is not None:
                next_id = next_id.masked_fill(finished, eos_id)
            out[:, length] = next_id
            length += 1
            if finished is not None:
                finished |= next_id == eos_id
                if bool(finished.all()):
                    break
            if use_cache and step + 1 < max_new_tokens:
                logits = _forward(plan, out[:, length - 1:length], cache, False)
    return out[:, :length].contiguous()
