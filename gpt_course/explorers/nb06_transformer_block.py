"""Notebook 06: an attention-weights heatmap per layer and head.

The weights come from the package's own `MultiHeadAttention`, unchanged: a
forward hook on each block's `att.dropout` sees the dropout's *input*, which is
exactly the softmax-normalized attention weights (before dropout). All layers'
and heads' weights are computed once when the explorer is created, so moving a
slider only swaps the image data.
"""

import numpy as np
import torch
from matplotlib.patches import Rectangle

from ..checks import check_int
from ..config import GPT_CONFIG_124M, validate_config
from ..language import tr
from ..book.nb07_gpt_model import GPTModel
from ..tokenizer import get_tokenizer, text_to_token_ids
from .base import Explorer, int_slider

DEFAULT_TEXT = "Every effort moves you forward today"

# A small GPT (same code as the 124M one, narrower and shallower) so the
# explorer is built in a blink; eval mode and no dropout keep it deterministic.
SMALL_CONFIG = {
    **GPT_CONFIG_124M,
    "context_length": 64,
    "emb_dim": 64,
    "n_heads": 4,
    "n_layers": 3,
    "drop_rate": 0.0,
}


def attention_weights(model, token_ids):
    """Attention weights of every block of `model` for `token_ids` ([1, n]),
    as a tensor [n_layers, n_heads, n, n]: entry [l, h, i, j] is how much
    token i attends to token j in layer l, head h (rows sum to 1)."""
    captured = []

    def grab(module, inputs):
        captured.append(inputs[0].detach().clone())  # the weights entering dropout

    hooks = [block.att.dropout.register_forward_pre_hook(grab) for block in model.trf_blocks]
    try:
        with torch.no_grad():
            model(token_ids)
    finally:
        for hook in hooks:
            hook.remove()
    return torch.stack([weights[0] for weights in captured])


def attention_explorer(text=DEFAULT_TEXT, cfg=None, seed=123):
    """Heatmap of the attention weights of a seeded (untrained) GPTModel on
    `text`, with a layer and a head slider."""
    cfg = validate_config(SMALL_CONFIG if cfg is None else cfg)
    check_int("seed", seed, low=0)
    tokenizer = get_tokenizer()
    ids = text_to_token_ids(text, tokenizer)
    n = ids.shape[1]
    if n > cfg["context_length"]:
        raise ValueError(
            f"text has {n} tokens but context_length is {cfg['context_length']}; use a shorter text"
        )
    # Seed a private copy of the random state: the model is the same on every
    # call, and the caller's random numbers are left as they were.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPTModel(cfg)
    model.eval()
    weights = attention_weights(model, ids).numpy()  # [layers, heads, n, n]
    labels = [repr(tokenizer.decode([t]))[1:-1] for t in ids[0].tolist()]

    controls = {
        "layer": int_slider(tr("layer (block)"), 1, 1, cfg["n_layers"]),
        "head": int_slider(tr("head"), 1, 1, cfg["n_heads"]),
    }

    lower = _lower(n)

    def masked(w):
        # Future cells are masked out of the image (transparent), so the static
        # hatched "0" cells drawn underneath show through.
        return np.ma.masked_array(w, mask=~lower)

    def setup(fig):
        ax = fig.add_subplot()
        image = ax.imshow(masked(weights[0, 0]), vmin=0.0, vmax=1.0, cmap="Blues",
                          animated=True)
        fig.colorbar(image, ax=ax, label=tr("attention weight"), shrink=0.9)
        ax.set_xticks(range(n), labels, rotation=40, ha="right")
        ax.set_yticks(range(n), labels)
        ax.set_xlabel(tr("key: the token attended to"))
        ax.set_ylabel(tr("query: the token attending"))
        # Cells above the diagonal are the future: hatched, weight exactly 0.
        for i in range(n):
            for j in range(i + 1, n):
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.95",
                                       edgecolor="0.8", hatch="//", linewidth=0.5))
                ax.text(j, i, "0", ha="center", va="center", fontsize=8, color="0.5")
        texts = {
            (i, j): ax.text(j, i, "", ha="center", va="center", fontsize=8, zorder=4,
                            animated=True)
            for i in range(n) for j in range(i + 1)
        }
        title = ax.set_title("", animated=True)
        return {"image": image, "texts": texts, "title": title}

    def update(handles, layer, head):
        w = weights[layer - 1, head - 1]
        handles["image"].set_data(masked(w))
        for (i, j), text in handles["texts"].items():
            text.set_text(f"{w[i, j]:.2f}")
            text.set_color("white" if w[i, j] > 0.6 else "black")
        handles["title"].set_text(tr("layer {layer}, head {head}: causal attention weights",
                                     layer=layer, head=head))
        row_error = abs(w.sum(axis=1) - 1.0).max()
        future = w[~lower].max() if n > 1 else 0.0
        focus = int(w[-1].argmax())
        return (
            tr("layer {layer}, head {head}: every row sums to 1 (max |sum - 1| = "
               "{row_error:.4f}); largest weight above the diagonal = {future:.4f} (causal mask)",
               layer=layer, head=head, row_error=row_error, future=future)
            + "\n"
            + tr("last token '{last}' attends most to '{focus}' ({weight:.2f}); first token "
                 "'{first}' can only attend to itself (1.00)",
                 last=labels[-1], focus=labels[focus], weight=w[-1, focus], first=labels[0])
        )

    explorer = Explorer(
        "Attention weights per head (untrained model)", controls, setup, update,
        figsize=(6.4, 4.8),
    )
    explorer.weights = weights
    explorer.token_labels = labels
    return explorer


def _lower(n):
    return np.tril(np.ones((n, n), dtype=bool))
