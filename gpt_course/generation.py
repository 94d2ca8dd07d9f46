"""Notebook 08: greedy text generation, the book's simple loop."""

import torch


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
        raise ValueError(
            f"idx must be a [batch, n_tokens] tensor of token ids, got {shape}; "
            f"text_to_token_ids(text) makes one"
        )
    if idx.shape[1] == 0:
        raise ValueError("the prompt is empty: give at least one token to continue from")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    if isinstance(context_size, bool) or not isinstance(context_size, int) or context_size < 1:
        raise ValueError(
            f"context_size must be a positive int (the model's context_length), "
            f"got {context_size!r}"
        )
