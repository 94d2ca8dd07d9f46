"""Notebook 09: temperature, top-k and top-p on one next-token distribution.

The bars are `next_token_distribution(logits, temperature, top_k, top_p)`
for a fixed logits vector over a small, labelled vocabulary (by default the
nine words and hand-made logits of the book's chapter 5 sampling example);
the readout shows the entropy, how many tokens keep a chance, and a few draws
from the shown distribution with a fixed seed. Nothing runs a model on an
update: moving a slider recomputes a softmax over a handful of numbers.
"""

import math

import numpy as np
import torch

from ..beyond.nb09_sampling import next_token_distribution
from ..checks import check_int
from ..language import tr
from .base import Explorer, fixed_subplots, int_slider, slider

# The book's chapter 5 example: a hand-made vocabulary and next-token logits
# (after "every effort moves you"), not the output of a model.
BOOK_WORDS = ("closer", "every", "effort", "forward", "inches", "moves", "pizza",
              "toward", "you")
BOOK_LOGITS = (4.51, 0.89, -1.90, 6.75, 1.63, -1.62, -1.89, 6.28, 1.79)

KEPT = "#4C72B0"
DROPPED = "#C8C8C8"


def sampling_state(logits, temperature, top_k, top_p, n_draws=10, seed=123):
    """What the explorer shows for one setting: the probabilities (a list),
    the probabilities after the temperature only (before top-k / top-p), the
    number of tokens with a non-zero probability, the entropy in nats, and
    `n_draws` token indices drawn with torch.multinomial (with replacement)
    from a generator seeded with `seed`."""
    probs = next_token_distribution(logits, temperature, top_k, top_p)
    kept = int((probs > 0).sum())
    nonzero = probs[probs > 0]
    entropy = float(-(nonzero * nonzero.log()).sum())
    generator = torch.Generator().manual_seed(seed)
    draws = torch.multinomial(probs, n_draws, replacement=True, generator=generator)
    before = next_token_distribution(logits, temperature)  # temperature only
    return {"probs": probs.tolist(), "before_filters": before.tolist(), "kept": kept,
            "entropy": max(entropy, 0.0) + 0.0, "draws": draws.tolist()}


def sampling_explorer(logits=BOOK_LOGITS, words=BOOK_WORDS, *, n_draws=10, seed=123,
                      temperature=1.0):
    """Sliders for temperature, top-k and top-p over the next-token
    distribution of `logits` (one score per entry of `words`, at most 20).
    top_k = len(words) and top_p = 1 switch those filters off; temperature is
    0 (greedy) to 3, the range of its slider."""
    logits = torch.as_tensor(logits, dtype=torch.float32).detach().flatten()
    words = [str(w) for w in words]
    n = len(words)
    if logits.numel() != n:
        raise ValueError(f"give one logit per word: {logits.numel()} logits, {n} words")
    if not 2 <= n <= 20:
        raise ValueError(f"use between 2 and 20 words (bars must stay readable), got {n}")
    if not torch.isfinite(logits).all():
        raise ValueError("logits must be finite numbers")
    check_int("n_draws", n_draws, low=1, high=50)
    check_int("seed", seed, low=0)

    controls = {
        "temperature": slider(tr("temperature"), temperature, 0.0, 3.0, 0.05,
                              name="temperature"),
        "top_k": int_slider("top_k", n, 1, n),
        "top_p": slider("top_p", 1.0, 0.05, 1.0, 0.05),
    }

    def setup(fig):
        ax = fixed_subplots(fig, 1, 1, left=0.08, right=0.98, top=0.88, bottom=0.2)
        x = np.arange(n)
        ghosts = ax.bar(x, [0.0] * n, width=0.7, color=DROPPED, animated=True, zorder=1)
        bars = ax.bar(x, [0.0] * n, width=0.7, color=KEPT, animated=True, zorder=2)
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_ylim(0, 1.1)
        ax.set_xticks(x, words, rotation=30 if n > 9 else 0, fontsize=9)
        ax.set_ylabel(tr("probability"))
        ax.axhline(1 / n, color="#c44e52", linestyle="--", linewidth=1)
        ax.text(n - 0.45, 1 / n, tr("uniform 1/n"), color="#c44e52", fontsize=8, ha="right",
                va="bottom")
        ax.set_title(tr("next-token probabilities (grey: before top-k / top-p remove tokens "
                        "and the rest is renormalized)"), fontsize=9.5)
        values = [ax.text(xi, 0.0, "", ha="center", va="bottom", fontsize=8, animated=True)
                  for xi in x]
        return {"bars": bars, "ghosts": ghosts, "values": values}

    def update(handles, temperature, top_k, top_p):
        state = sampling_state(logits, temperature, top_k, top_p, n_draws, seed)
        for ghost, p in zip(handles["ghosts"], state["before_filters"]):
            ghost.set_height(p)
        for bar, text, p in zip(handles["bars"], handles["values"], state["probs"]):
            bar.set_height(p)
            text.set_position((bar.get_x() + bar.get_width() / 2, p + 0.01))
            text.set_color("#222222" if p > 0 else "#888888")
            text.set_text(f"{p:.2f}" if p > 0 else "0")
        filters = []
        if top_k < n:
            filters.append(f"top_k={top_k}")
        if top_p < 1.0:
            filters.append(f"top_p={top_p:g}")
        mode = (tr("greedy (temperature 0)") if temperature == 0
                else tr("temperature {temperature:g}", temperature=temperature))
        drawn = " ".join(words[i] for i in state["draws"])
        return (
            tr("{mode}{filters}: {kept} of {n} tokens kept, entropy {entropy:.2f} nats "
               "(max ln {n} = {max_entropy:.2f})", mode=mode,
               filters=(", " + ", ".join(filters)) if filters else "", kept=state["kept"], n=n,
               entropy=state["entropy"], max_entropy=math.log(n))
            + "\n"
            + tr("{n_draws} draws, seed {seed}: {drawn}", n_draws=n_draws, seed=seed, drawn=drawn)
        )

    return Explorer("Sampling: temperature, top-k, top-p", controls, setup, update,
                    figsize=(7.5, 3.4))
