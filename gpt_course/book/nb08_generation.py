"""Notebook 08: greedy text generation, the book's simple loop."""

import torch

from ..checks import check_int


def generate_text_simple(model, idx, max_new_tokens, context_size):
    """Append `max_new_tokens` tokens to `idx` ([batch, n_tokens]), each time
    picking the single most likely next token."""
    _check_generation_args(idx, max_new_tokens, context_size)
    for _ in range(max_new_tokens):
        # Crop to the last context_size tokens: the model has no positions beyond.
        idx_cond = idx[:, -context_size:]
        with torch.no_grad():
            logits = model(idx_cond)
        logits = logits[:, -1, :]  # only the last position predicts the next token
        probas = torch.softmax(logits, dim=-1)
        idx_next = torch.argmax(probas, dim=-1, keepdim=True)  # [batch, 1]
        idx = torch.cat((idx, idx_next), dim=1)
    return idx


def _check_generation_args(idx, max_new_tokens, context_size):
    if not isinstance(idx, torch.Tensor) or idx.dim() != 2:
        shape = list(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__
        error = ValueError if isinstance(idx, torch.Tensor) else TypeError
        raise error(
            f"idx must be a [batch, n_tokens] tensor of token ids, got {shape}; "
            f"text_to_token_ids(text, tokenizer) makes one"
        )
    if idx.shape[1] == 0:
        raise ValueError("the prompt is empty: give at least one token to continue from")
    check_int("max_new_tokens", max_new_tokens, low=0)
    check_int("context_size", context_size, low=1, why=" (the model's context_length)")
