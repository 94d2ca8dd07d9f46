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


import torch

from ..checks import (
    check_bool, check_eval_mode, check_gpt_model, check_int, check_real, check_token_ids,
)
from .nb09_fast_kv_cache import KVCache, check_cacheable

__all__ = ["check_sampling_args", "generate", "next_token_distribution"]

# torch.Generator.manual_seed takes any unsigned 64-bit integer.
_MAX_SEED = 2**64 - 1
# More new tokens than this: the cache re-lays the widest matrices out input-major.
_INPUT_MAJOR_FROM = 16
# Room for new tokens made at first; the output doubles when full, so a huge
# max_new_tokens with a stop token allocates only what is generated.
_FIRST_ROOM = 256


def check_sampling_args(temperature, top_k, top_p):
    """(temperature, top_k, top_p) as numbers, or a TypeError / ValueError naming
    the one that is not a temperature >= 0, a top_k >= 1 or a top_p in (0, 1]."""
    temperature = check_real("temperature", temperature, low=0, why=" (0 means greedy)")
    if top_k is not None:
        check_int("top_k", top_k, low=1, why=" (or None: no limit)")
    if top_p is not None:
        top_p = check_real("top_p", top_p, low=0, low_open=True, high=1,
                           why=" (1 or None keeps everything)")
    return temperature, top_k, top_p


def next_token_distribution(logits, temperature=1.0, top_k=None, top_p=None):
    """The probabilities ``generate`` samples the next token from.

    `logits`: [..., vocab_size] scores of the next token (-inf masks a
    token out). Returns a tensor of the same shape summing to 1 over the last
    dimension. temperature 0 gives all the probability to the highest logit
    (greedy), and so does the limit of a tiny temperature (shared between
    tied highest logits); top_k keeps the k most likely tokens (exactly k
    non-zeros); top_p keeps the smallest set of most likely tokens whose
    probability reaches top_p (the most likely token always stays, so a tiny
    top_p is the top token alone).
    """
    temperature, top_k, top_p = check_sampling_args(temperature, top_k, top_p)
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError(
            f"logits must be a floating point tensor [..., vocab_size], got "
            f"{logits.dtype if isinstance(logits, torch.Tensor) else type(logits).__name__}"
        )
    if logits.dim() == 0 or logits.shape[-1] == 0:
        raise ValueError(f"logits must have shape [..., vocab_size], got {list(logits.shape)}")
    logits = logits.detach()
    highest = logits.amax(dim=-1, keepdim=True)  # NaN if a row holds a NaN
    if not bool(torch.isfinite(highest).all()):
        raise ValueError(
            "logits must be finite numbers, with at least one above -inf per row "
            "(-inf masks a token out); got NaN, +inf, or a row that is all -inf"
        )
    if temperature == 0:
        index = logits.argmax(dim=-1, keepdim=True)
        return torch.zeros_like(logits).scatter_(-1, index, 1.0)
    # Shift so the highest logit is exactly 0 before dividing: a tiny
    # temperature then sends every other logit to -inf, never the top one to
    # inf or NaN (0 / a temperature that rounds to 0 in float32 would be NaN),
    # and the distribution tends to the greedy one, as it should.
    shifted = logits - highest
    logits = (shifted / temperature).masked_fill(shifted == 0, 0.0)
    if top_k is not None and top_k < logits.shape[-1]:
        top = torch.topk(logits, top_k, dim=-1)
        # scatter the k kept values into -inf: exactly k survive, even with ties
        logits = torch.full_like(logits, -torch.inf).scatter_(-1, top.indices, top.values)
    probs = torch.softmax(logits, dim=-1)
    if top_p is not None and top_p < 1.0:
        sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
        # the mass of the more likely tokens before each one (0 for the first)
        mass_before = torch.cumsum(sorted_probs, dim=-1).roll(1, dims=-1)
        mass_before[..., 0] = 0.0
        # drop a token once the more likely ones have reached top_p; the most
        # likely token always stays (a top_p below float32's smallest number
        # rounds to 0, and 0 >= 0 would drop it too)
        drop = mass_before >= top_p
        drop[..., 0] = False
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return probs


def generate(model, idx, max_new_tokens, *, temperature=0.0, top_k=None, top_p=None,
             eos_id=None, generator=None, seed=None, use_cache=True):
    """Continue the prompts `idx` ([batch, n_tokens], all the same length) by
    up to `max_new_tokens` tokens and return prompts + new tokens.

    temperature 0 (default): greedy, the same tokens as generate_text_simple
    (its rule too: the argmax of the softmax, in the model's dtype, so that
    probabilities rounded to a tie pick the same token; in bfloat16 / float16
    the cache's logits round differently, see the README).
    temperature > 0: sample from next_token_distribution(logits, temperature,
    top_k, top_p) with torch.multinomial; `seed` (or a torch.Generator as
    `generator`) makes it reproducible, otherwise torch's global RNG is used.
    eos_id: a row stops when it emits this token (it is kept); in a batch,
    finished rows are padded with eos_id, and generation ends early once every
    row has finished.
    Like the book's loop, the model reads at most the last context_length
    tokens: a longer prompt is cropped, and generation goes on past the
    context. use_cache=True (needs model.eval()) runs each new token alone
    through the model with a KVCache while the context has room; past it,
    every token needs the whole shifted window again (its positions change),
    so the model reads the window, as in the book. use_cache=False is the
    book's loop from the start. Both compute the eval-mode output: a model in
    training mode with dropout is refused (call model.eval()); without
    dropout, training mode computes the same and runs.
    The output grows as tokens come (max_new_tokens is a limit, not an
    allocation).
    """
    use_cache = check_bool("use_cache", use_cache)
    cfg = check_cacheable(model) if use_cache else check_gpt_model(model)
    check_eval_mode(model)
    context_length = cfg["context_length"]
    # a prompt may be longer than the context: only its last tokens are read
    check_token_ids(idx, cfg, name="idx (the prompt)", any_length=True)
    check_int("max_new_tokens", max_new_tokens, low=0)
    temperature, top_k, top_p = check_sampling_args(temperature, top_k, top_p)
    if eos_id is not None:
        check_int("eos_id", eos_id, low=0, high=cfg["vocab_size"] - 1,
                  why=" (a token id: below vocab_size)")
    if generator is not None and seed is not None:
        raise ValueError("give seed or generator, not both")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if seed is not None:
        check_int("seed", seed, low=0, high=_MAX_SEED, why=" (a 64-bit seed)")
        generator = torch.Generator(device=idx.device).manual_seed(seed)

    batch, n_prompt = idx.shape
    out = idx.new_empty((batch, n_prompt + min(max_new_tokens, _FIRST_ROOM)))
    out[:, :n_prompt] = idx
    if max_new_tokens == 0:
        return out
    greedy = temperature == 0
    finished = None if eos_id is None else torch.zeros(batch, dtype=torch.bool, device=idx.device)
    length = n_prompt
    if use_cache:
        # room for every position the cache can serve: the last new token is
        # never run, and beyond the context the window shifts
        n_cached = min(n_prompt + max_new_tokens - 1, context_length)
        # The input-major copies (see KVCache) take about as long to make as
        # they save in 10 single-token steps (GPT-2 124M, CPU): longer runs only.
        cache = KVCache(model, batch_size=batch, max_length=max(n_cached, 1),
                        input_major=max_new_tokens > _INPUT_MAJOR_FROM)
        logits = cache.prefill(out[:, max(0, length - context_length):length])
    with torch.inference_mode():
        for step in range(max_new_tokens):
            if not use_cache:
                logits = model(out[:, max(0, length - context_length):length])
            last = logits[:, -1]
            if greedy:  # the book's rule: rounded probabilities may tie where logits do not
                next_id = torch.softmax(last, dim=-1).argmax(dim=-1)
            else:
                probs = next_token_distribution(last, temperature, top_k, top_p)
                next_id = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            if finished is not None:
                next_id = next_id.masked_fill(finished, eos_id)
            if length == out.shape[1]:  # full: double the room (up to what can be made)
                out = _grown(out, min(2 * out.shape[1], n_prompt + max_new_tokens))
            out[:, length] = next_id
            length += 1
            if finished is not None:
                finished |= next_id == eos_id
                if bool(finished.all()):
                    break
            if use_cache and step + 1 < max_new_tokens:
                if length <= context_length:  # the new token's position is free
                    logits = cache.step(out[:, length - 1:length])
                else:  # the window shifted: positions changed, cached keys with them
                    logits = model(out[:, length - context_length:length])
    return out[:, :length].contiguous()


def _grown(out, size):
    """`out` copied into a new [batch, size] tensor (its end left unset)."""
    bigger = out.new_empty((out.shape[0], size))
    bigger[:, :out.shape[1]] = out
    return bigger
