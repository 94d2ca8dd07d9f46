"""Notebook 09 (beyond the book): a KV cache you can read.

The book's loop (`generate_text_simple`) runs the whole sequence through the
model for every new token. Under the causal mask a token never looks at later
tokens, so its key and value, in every layer, are the same at every step:
they can be kept instead of recomputed. `MultiHeadAttentionWithCache` is the
course's attention fed only the new tokens: it appends their keys and values
to its cache and attends with their queries over everything cached.
`GPTModelWithCache` runs the course's `GPTModel` that way (its own modules,
not copies) and `generate_text_cached` is the book's greedy loop on top.

Written to be read; `KVCache` and `generate` compute the same thing faster.
"""

from contextlib import contextmanager

import torch
import torch.nn as nn

from ..book.nb06_attention import MultiHeadAttention
from ..checks import check_eval_mode, check_gpt_model, check_int, check_token_ids

__all__ = ["GPTModelWithCache", "MultiHeadAttentionWithCache", "generate_text_cached"]


class MultiHeadAttentionWithCache(nn.Module):
    """The course's MultiHeadAttention `att`, fed only the new tokens. It keeps
    the keys and values of every token it has seen, cache_k and cache_v:
    [batch, num_heads, tokens so far, head_dim]. For inference: no dropout."""

    def __init__(self, att):
        super().__init__()
        if not isinstance(att, MultiHeadAttention):
            raise TypeError(
                f"att must be the course's MultiHeadAttention, got {type(att).__name__}")
        # The layer's own modules, not copies: the cache saves work, the weights stay the model's.
        self.W_query, self.W_key, self.W_value = att.W_query, att.W_key, att.W_value
        self.out_proj = att.out_proj
        self.register_buffer("mask", att.mask, persistent=False)  # True above the diagonal
        self.num_heads, self.head_dim, self.d_out = att.num_heads, att.head_dim, att.d_out
        self.cache_k = None
        self.cache_v = None

    def reset_cache(self):
        """Forget every cached token (before a new prompt)."""
        self.cache_k = self.cache_v = None

    def forward(self, x):
        b, num_new, _ = x.shape  # only the new tokens
        start = 0 if self.cache_k is None else self.cache_k.shape[2]  # tokens already cached
        end = start + num_new
        self.check_room(b, end)

        # [b, num_new, d_out] -> [b, num_heads, num_new, head_dim], as in MultiHeadAttention
        def split_heads(t):
            return t.view(b, num_new, self.num_heads, self.head_dim).transpose(1, 2)
        queries = split_heads(self.W_query(x))
        keys = split_heads(self.W_key(x))
        values = split_heads(self.W_value(x))

        # Earlier tokens' keys and values never change: append the new ones (dim 2: tokens).
        if self.cache_k is not None:
            keys = torch.cat([self.cache_k, keys], dim=2)
            values = torch.cat([self.cache_v, values], dim=2)

        attn_scores = queries @ keys.transpose(2, 3)  # [b, heads, num_new, end]
        # Row i is the new token at position start + i: it may see positions 0 .. start + i.
        attn_scores.masked_fill_(self.mask[start:end, :end], -torch.inf)
        attn_weights = torch.softmax(attn_scores / self.head_dim**0.5, dim=-1)
        context = (attn_weights @ values).transpose(1, 2)  # [b, num_new, heads, head_dim]
        out = self.out_proj(context.contiguous().view(b, num_new, self.d_out))
        # Kept only now that the step is done: a step stopped halfway leaves the cache as it was.
        self.cache_k, self.cache_v = keys, values
        return out

    def check_room(self, batch, end):
        """Raise a clear error unless the cache can grow to `end` tokens of `batch` rows."""
        if self.cache_k is not None and batch != self.cache_k.shape[0]:
            raise ValueError(f"x has batch size {batch}, the cache holds {self.cache_k.shape[0]} "
                             f"sequences: call reset_cache() before a new batch")
        if end > self.mask.shape[0]:
            raise ValueError(f"{end} tokens exceed the context_length {self.mask.shape[0]} this "
                             f"layer was built for: call reset_cache() and start again")


class GPTModelWithCache(nn.Module):
    """The course's GPTModel `model`, fed only the new tokens: each call runs
    `new_ids` ([batch, n_new], the tokens after the `cached_tokens` already
    seen) and returns their logits, [batch, n_new, vocab_size]. Every
    attention layer is wrapped in `attention(block.att)` (default
    MultiHeadAttentionWithCache, or your own class built the same way); the
    model itself is not changed. For inference: call model.eval() first (a
    model in training mode with dropout is refused). A step stopped halfway
    (an error, the stop button) leaves every cache as it was before it."""

    def __init__(self, model, attention=MultiHeadAttentionWithCache):
        super().__init__()
        self.cfg = check_gpt_model(model)
        self.model = model
        self.attentions = nn.ModuleList(attention(block.att) for block in model.trf_blocks)
        self.cached_tokens = 0
        self.batch_size = None

    def reset_cache(self):
        """Forget every cached token (before a new prompt)."""
        for att in self.attentions:
            att.reset_cache()
        self.cached_tokens = 0

    def forward(self, new_ids):
        self.check_new_ids(new_ids)
        with self.all_or_nothing():  # stopped halfway (the stop button)? every cache as it was
            m = self.model
            start, end = self.cached_tokens, self.cached_tokens + new_ids.shape[1]
            # The new tokens follow the cached ones: positions start, ..., end - 1.
            x = m.tok_emb(new_ids) + m.pos_emb(torch.arange(start, end, device=new_ids.device))
            x = m.drop_emb(x)
            for block, att in zip(m.trf_blocks, self.attentions):
                # The book's TransformerBlock.forward, with the cached attention for block.att.
                x = x + block.drop_shortcut(att(block.norm1(x)))
                x = x + block.drop_shortcut(block.ff(block.norm2(x)))
            self.cached_tokens, self.batch_size = end, new_ids.shape[0]
            return m.out_head(m.final_norm(x))

    @contextmanager
    def all_or_nothing(self):
        """Run a step; if anything stops it (an error, KeyboardInterrupt), put
        back every layer's cache and the token count as they were before it,
        so that no layer holds tokens another lacks. The attention layers'
        caches are their plain attributes (cache_k, cache_v, or a learner's own
        names), replaced, not changed in place, by a step: keeping the old
        objects is enough."""
        def state(module):
            return {k: v for k, v in vars(module).items() if not k.startswith("_")}
        saved = [state(self)] + [state(att) for att in self.attentions]
        try:
            yield
        except BaseException:
            for module, before in zip([self, *self.attentions], saved):
                for name in state(module).keys() - before.keys():
                    delattr(module, name)  # made during the stopped step
                module.__dict__.update(before)
            raise

    def check_new_ids(self, new_ids):
        """Raise a clear error unless `new_ids` can follow the cached tokens."""
        check_token_ids(new_ids, self.cfg, "new_ids")
        # training mode without dropout computes the same: it runs, as in KVCache and generate
        check_eval_mode(self.model)
        batch, num_new = new_ids.shape
        if self.cached_tokens and batch != self.batch_size:
            raise ValueError(f"new_ids has batch size {batch}, the cache holds {self.batch_size} "
                             f"sequences: call reset_cache() before a new batch of prompts")
        if self.cached_tokens + num_new > self.cfg["context_length"]:
            raise ValueError(
                f"the cache holds {self.cached_tokens} tokens and {num_new} new make "
                f"{self.cached_tokens + num_new}, beyond context_length "
                f"{self.cfg['context_length']}: GPT-2 has no positions beyond it. Call "
                f"reset_cache() and feed the last {self.cfg['context_length']} tokens")


def generate_text_cached(model, idx, max_new_tokens, context_size):
    """The book's generate_text_simple with a KV cache: the same greedy tokens,
    but after the prompt each step runs only the newest token."""
    cfg = check_gpt_model(model)
    check_int("max_new_tokens", max_new_tokens, low=0)
    check_int("context_size", context_size, low=1, high=cfg["context_length"],
              why=" (at most the model's context_length)")
    # Only the last context_size tokens ever go through the model, as in the book's loop.
    recent = idx[:, -context_size:] if isinstance(idx, torch.Tensor) and idx.dim() == 2 else idx
    check_token_ids(recent, cfg, "idx (the prompt)")

    cached_model = GPTModelWithCache(model)
    new_ids = recent  # the first step runs the whole (cropped) prompt
    for _ in range(max_new_tokens):
        if cached_model.cached_tokens + new_ids.shape[1] > context_size:
            # No room left: like the book's loop, keep the last context_size tokens. They all
            # move one position back, so every key and value changes: start the cache again.
            cached_model.reset_cache()
            new_ids = idx[:, -context_size:]
        with torch.no_grad():
            logits = cached_model(new_ids)
        probas = torch.softmax(logits[:, -1, :], dim=-1)  # as the book does: ties break alike
        idx_next = torch.argmax(probas, dim=-1, keepdim=True)  # [batch, 1]
        idx = torch.cat((idx, idx_next), dim=1)
        new_ids = idx_next  # from now on, only the newest token
    return idx
