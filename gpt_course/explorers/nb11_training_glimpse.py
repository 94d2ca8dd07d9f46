"""Notebook 11: move through the epochs of a short training run and see the
loss curves and what the model wrote after each epoch.

Everything shown is recorded during training (the losses in the
`TrainingHistory`, one generated text per epoch), so moving the slider only
moves the markers on the curve and the highlight on the texts.

The figure holds the texts, not only the curves: a static view of the
explorer (GitHub, a notebook not yet run) then shows what the model wrote
after every epoch, the explorer's whole point.
"""

import functools
import math
from numbers import Real

from matplotlib.font_manager import FontProperties, findfont
from matplotlib.ft2font import FT2Font
from matplotlib.patches import Rectangle

from ..beyond.nb11_training import TrainingHistory
from ..checks import check_int, check_real
from ..language import tr
from .base import Explorer, fixed_subplots, int_slider

TEXT_CHARS = 92  # what fits on one line of the figure, in characters


@functools.lru_cache(maxsize=1)
def _monospace_font():
    return FT2Font(findfont(FontProperties(family="monospace")))


def _one_line(text, prompt_chars):
    """The continuation of the prompt on one line, newlines written as \\n
    (as repr writes them), characters the font cannot draw (the training
    text names the book's Chinese edition) as \\u escapes, cut to what fits."""
    font = _monospace_font()
    line = "".join(c if font.get_char_index(ord(c)) else f"\\u{ord(c):04x}"
                   for c in repr(text[prompt_chars:])[1:-1])
    return line if len(line) <= TEXT_CHARS else line[:TEXT_CHARS - 1] + "…"


def _prompt_length(texts):
    """How many characters all texts start with, in whole words: the prompt,
    shown once above the rows instead of on each."""
    n = 0
    while n < min(len(t) for t in texts) and len({t[n] for t in texts}) == 1:
        n += 1
    mid_word = any(0 < n < len(t) and t[n - 1].isalnum() and t[n].isalnum() for t in texts)
    if mid_word:  # "... you ca|n" vs "... you ca|t": back to the last whole word
        n = texts[0].rfind(" ", 0, n) + 1
    return len(texts[0][:n].rstrip())


def training_explorer(history, texts, steps_per_epoch, ln_vocab=None):
    """An epoch slider over a training run: `history` is the `TrainingHistory`
    of `train_model_simple` with the validation loss evaluated once per epoch,
    `texts[e]` what the model wrote after epoch e (`texts[0]`: before
    training, all starting with the same prompt), `steps_per_epoch` the number
    of batches in an epoch; `ln_vocab`, if given, is drawn as the
    random-guessing level.

    A loss that is not a finite number (a run that diverged: inf or nan) is
    drawn as a cross at the top of the axes and named in the readout; the
    axes are scaled to the finite losses."""
    if not isinstance(history, TrainingHistory):
        raise TypeError(f"history must be the TrainingHistory that train_model_simple returns, "
                        f"got {type(history).__name__}")
    check_int("steps_per_epoch", steps_per_epoch, low=1)
    if ln_vocab is not None:
        check_real("ln_vocab", ln_vocab, low=0, low_open=True)
    for name in ("train_losses", "val_losses"):
        bad = [loss for loss in getattr(history, name)
               if isinstance(loss, bool) or not isinstance(loss, Real)]
        if bad:
            raise TypeError(f"history.{name} must hold numbers (one loss each), got "
                            f"{bad[0]!r} ({type(bad[0]).__name__})")
    if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a list of strings (what the model wrote after each epoch)")
    num_epochs = len(history.train_losses) // steps_per_epoch
    if num_epochs < 1 or len(history.train_losses) != num_epochs * steps_per_epoch:
        raise ValueError(
            f"history has {len(history.train_losses)} training losses, not a whole number "
            f"of epochs of {steps_per_epoch} steps"
        )
    epoch_ends = [(e + 1) * steps_per_epoch for e in range(num_epochs)]
    # The same number of validation losses, measured elsewhere (eval_freq=25 for
    # epochs of 27 steps), would put each epoch's marker on another step's loss.
    if list(history.val_steps) != epoch_ends or len(history.val_losses) != num_epochs:
        raise ValueError(
            f"history has validation losses at steps {list(history.val_steps)[:4]}... "
            f"({len(history.val_losses)} losses), not at the end of each of the {num_epochs} "
            f"epochs: train with eval_freq=steps_per_epoch"
        )
    if len(texts) != num_epochs + 1:
        raise ValueError(
            f"texts must hold {num_epochs + 1} texts (before training, then after each "
            f"epoch), got {len(texts)}"
        )
    epoch_means = [
        sum(history.train_losses[e * steps_per_epoch:(e + 1) * steps_per_epoch]) / steps_per_epoch
        for e in range(num_epochs)
    ]
    total_steps = len(history.train_losses)
    # Scaled to the finite losses; inf and nan (a run that diverged) are marked
    # at the top instead, where the curve leaves the axes.
    finite = [loss for loss in (*history.train_losses, *history.val_losses) if math.isfinite(loss)]
    top = max(finite + [ln_vocab or 0]) * 1.08 or 1.0
    off_top = 0.96 * top  # where a loss that is not finite is drawn
    not_finite = [(step, off_top) for step, loss in enumerate(history.train_losses, start=1)
                  if not math.isfinite(loss)]
    not_finite += [(step, off_top) for step, loss in zip(history.val_steps, history.val_losses)
                   if not math.isfinite(loss)]
    prompt_chars = _prompt_length(texts)
    prompt = texts[0][:prompt_chars]

    controls = {"epoch": int_slider(tr("epoch"), num_epochs, 0, num_epochs)}
    rows = num_epochs + 1
    curve_height = 0.34  # of the figure; the texts below take the rest

    def setup(fig):
        ax = fixed_subplots(fig, 1, 1, left=0.09, right=0.98, bottom=1 - curve_height - 0.02,
                            top=0.94)
        steps = range(1, total_steps + 1)
        ax.plot(steps, history.train_losses, lw=1, color="C0", label=tr("training loss (each step)"))
        ax.plot(history.val_steps, history.val_losses, "o-", color="C3", ms=4,
                label=tr("validation loss (each epoch)"))
        if ln_vocab is not None:
            ax.axhline(ln_vocab, color="gray", ls="--", lw=1, label=tr("random guessing"))
        if not_finite:
            ax.plot(*zip(*not_finite), "x", color="black", ms=6, clip_on=False,
                    label=tr("loss not finite (inf or nan), drawn at the top"))
        ax.set_xlim(0, total_steps * 1.02)
        ax.set_ylim(0, top)
        ax.set_xticks([e * steps_per_epoch for e in range(num_epochs + 1)])
        ax.set_xticklabels([str(e) for e in range(num_epochs + 1)], fontsize=8)
        ax.set_xlabel(tr("epoch"), fontsize=8, labelpad=1)
        ax.set_ylabel(tr("loss"), fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
        ax.legend(loc="lower left", fontsize=7)
        ax.set_title(tr("Training and validation loss; the circle marks the chosen epoch"),
                     fontsize=10)
        line = ax.axvline(0, color="black", lw=1, animated=True)
        (marker,) = ax.plot([], [], "o", ms=9, mfc="none", mec="black", mew=1.5, animated=True)

        # Below the curves: what the model wrote after every epoch, one line each.
        text_top = 1 - curve_height - 0.13
        row_height = (text_top - 0.01) / (rows + 0.6)
        fig.text(0.01, text_top, tr("What the model writes after each epoch (greedy, "
                                    "continuing {prompt}):", prompt=repr(prompt)),
                 fontsize=9, weight="bold", va="center")
        row_y = [text_top - (r + 1) * row_height for r in range(rows)]
        for epoch, y in enumerate(row_y):
            label = tr("before") if epoch == 0 else tr("epoch {epoch}", epoch=epoch)
            fig.text(0.01, y, label, fontsize=8, va="center", color="#444444")
            fig.text(0.1, y, _one_line(texts[epoch], prompt_chars), fontsize=8,
                     family="monospace", va="center")
        highlight = Rectangle((0.005, 0), 0.99, row_height, transform=fig.transFigure,
                              facecolor="#f6c85f", alpha=0.35, edgecolor="none", animated=True)
        fig.add_artist(highlight)
        return {"line": line, "marker": marker, "highlight": highlight,
                "row_y": row_y, "row_height": row_height}

    def update(handles, epoch):
        step = epoch * steps_per_epoch
        handles["line"].set_xdata([step, step])
        handles["highlight"].set_y(handles["row_y"][epoch] - handles["row_height"] / 2)
        if epoch == 0:
            handles["marker"].set_data([], [])
            losses = tr("before training")
        else:
            val = history.val_losses[epoch - 1]
            handles["marker"].set_data([step], [val if math.isfinite(val) else off_top])
            losses = tr("training loss {train:.3f} (mean of the epoch), validation loss {val:.3f}",
                        train=epoch_means[epoch - 1], val=val)
            if not (math.isfinite(val) and math.isfinite(epoch_means[epoch - 1])):
                losses += "\n" + tr("a loss that is not a finite number (inf or nan) means "
                                    "training diverged: try a lower learning rate")
        return (tr("after epoch {epoch} (step {step}): {losses}", epoch=epoch, step=step,
                   losses=losses)
                + "\n" + tr("the model writes: {text}", text=repr(texts[epoch])))

    explorer = Explorer("Training, epoch by epoch", controls, setup, update,
                        figsize=(8, 2.6 + 0.22 * rows))
    explorer.epoch_means = epoch_means
    return explorer
