"""Notebook 08: step through greedy generation and see, at each step, the
top-k candidates for the next token and their probabilities.

Each step is the loop body of `generate_text_simple` (crop to the context,
take the last position's logits, softmax, argmax, append), run once per step
when the explorer is created; moving the step slider only moves bars and
labels.
"""

import numpy as np
import torch

from ..checks import check_gpt_model, check_int
from ..language import tr
from ..tokenizer import get_tokenizer, text_to_token_ids
from .base import Explorer, int_slider


def generation_steps(model, token_ids, max_new_tokens, top_k=10):
    """Greedy generation from `token_ids` ([1, n]), recording every step.
    Returns a list of dicts (one per new token): the context ids the step saw
    ("context"), the chosen id and its probability, the largest ("chosen",
    "chosen_p"), and the top-k ids and probabilities ("top_ids", "top_p")."""
    context_size = model.cfg["context_length"]
    idx = token_ids
    steps = []
    was_training = model.training
    model.eval()
    try:
        for _ in range(max_new_tokens):
            idx_cond = idx[:, -context_size:]
            with torch.no_grad():
                logits = model(idx_cond)
            probas = torch.softmax(logits[:, -1, :], dim=-1)
            idx_next = torch.argmax(probas, dim=-1, keepdim=True)
            top_p, top_i = torch.topk(probas[0], top_k)
            steps.append({
                "context": idx[0].tolist(),
                "chosen": int(idx_next[0, 0]),
                "chosen_p": float(probas[0, idx_next[0, 0]]),
                "top_ids": top_i.tolist(),
                "top_p": top_p.tolist(),
            })
            idx = torch.cat((idx, idx_next), dim=1)
    finally:
        model.train(was_training)
    return steps


def generation_explorer(model, prompt, max_new_tokens=6, top_k=10):
    """A step slider over greedy generation from `prompt` with `model` (a
    GPTModel; run in eval mode, as generation should be), showing the top-k
    next-token probabilities as labelled bars, and the text so far in the
    readout. It opens at the last step, where the whole generated text shows."""
    cfg = check_gpt_model(model)
    check_int("max_new_tokens", max_new_tokens, low=1)
    vocab_size = cfg["vocab_size"]
    # more bars than 30 would not be readable
    check_int("top_k", top_k, low=1, high=min(vocab_size, 30))
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str (the text to continue), got {type(prompt).__name__}")
    if not prompt:
        raise ValueError("prompt is empty: give at least one character of text to continue")
    tokenizer = get_tokenizer()
    prompt_ids = text_to_token_ids(prompt, tokenizer)
    steps = generation_steps(model, prompt_ids, max_new_tokens, top_k)
    uniform = 1.0 / vocab_size
    x_max = 1.25 * max(max(step["top_p"]) for step in steps)
    context_size = cfg["context_length"]

    def show(token_id):
        return repr(tokenizer.decode([token_id]))

    # Opens at the last step, where the readout holds the whole text (step 1
    # shows only the prompt): the static view (GitHub, a notebook not yet run)
    # shows this setting.
    controls = {"step": int_slider(tr("step"), max_new_tokens, 1, max_new_tokens)}

    def setup(fig):
        ax = fig.add_subplot()
        y = np.arange(top_k)[::-1]
        bars = ax.barh(y, [0.0] * top_k, color="#9db4d6", animated=True)
        ax.set_xlim(0, x_max)
        ax.set_ylim(-0.6, top_k - 0.4)
        ax.set_yticks([])
        ax.axvline(uniform, color="#c44e52", linestyle="--", linewidth=1)
        ax.text(uniform, top_k - 0.45, " 1/vocab_size", color="#c44e52", fontsize=8, va="bottom")
        ax.set_xlabel(tr("probability of being the next token"))
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 3))
        # One text per bar, left of the axis: the candidate token (text is the
        # costly part of a redraw, so the probabilities are read off the x axis).
        labels = [ax.text(-0.01 * x_max, yi, "", ha="right", va="center", fontsize=9,
                          family="monospace", animated=True) for yi in y]
        ax.text(0.99, 0.02, tr("orange: the argmax, the token greedy decoding picks"),
                transform=ax.transAxes, ha="right", va="bottom", fontsize=8, color="#dd8452")
        ax.set_title(tr("top {top_k} of {vocab_size:,} candidates for the next token",
                        top_k=top_k, vocab_size=vocab_size), fontsize=10)
        return {"bars": bars, "labels": labels}

    def update(handles, step):
        record = steps[step - 1]
        for bar, label, token_id, p in zip(
            handles["bars"], handles["labels"], record["top_ids"], record["top_p"],
        ):
            chosen = token_id == record["chosen"]
            bar.set_width(p)
            bar.set_color("#dd8452" if chosen else "#9db4d6")
            label.set_text(show(token_id))
            label.set_fontweight("bold" if chosen else "normal")
        before = tokenizer.decode(record["context"])
        seen = min(len(record["context"]), context_size)
        return (
            tr("step {step}/{steps} (the model sees {seen} tokens): next token {token} "
               "(id {id}), p = {p:.2e} = {ratio:.1f} x 1/vocab_size",
               step=step, steps=max_new_tokens, seen=seen, token=show(record["chosen"]),
               id=record["chosen"], p=record["chosen_p"], ratio=record["chosen_p"] / uniform)
            + "\n"
            + tr("text so far: {before} + {token}", before=repr(before),
                 token=show(record["chosen"]))
        )

    explorer = Explorer("Greedy generation, step by step", controls, setup, update,
                        figsize=(7.5, 3.8))
    explorer.steps = steps
    explorer.token_ids = prompt_ids[0].tolist() + [step["chosen"] for step in steps]
    return explorer
