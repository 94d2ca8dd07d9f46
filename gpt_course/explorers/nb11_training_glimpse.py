"""Notebook 11: move through the epochs of a short training run and see the
loss curves and what the model wrote after each epoch.

Everything shown is recorded during training (the losses in the
`TrainingHistory`, one generated text per epoch), so moving the slider only
moves two markers and changes the readout.
"""

from .base import Explorer, fixed_subplots, int_slider


def training_explorer(history, texts, steps_per_epoch, ln_vocab=None):
    """An epoch slider over a training run: `history` is the `TrainingHistory`
    of `train_model_simple` with the validation loss evaluated once per epoch,
    `texts[e]` what the model wrote after epoch e (`texts[0]`: before
    training), `steps_per_epoch` the number of batches in an epoch;
    `ln_vocab`, if given, is drawn as the random-guessing level."""
    if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be a positive int, got {steps_per_epoch!r}")
    num_epochs = len(history.train_losses) // steps_per_epoch
    if num_epochs < 1 or len(history.train_losses) != num_epochs * steps_per_epoch:
        raise ValueError(
            f"history has {len(history.train_losses)} training losses, not a whole number "
            f"of epochs of {steps_per_epoch} steps"
        )
    if len(history.val_losses) != num_epochs:
        raise ValueError(
            f"history has {len(history.val_losses)} validation losses for {num_epochs} "
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
    top = max(max(history.train_losses), max(history.val_losses), ln_vocab or 0) * 1.08

    controls = {"epoch": int_slider("epoch", num_epochs, 0, num_epochs)}

    def setup(fig):
        ax = fixed_subplots(fig, 1, 1, left=0.09, right=0.98, bottom=0.15, top=0.9)
        steps = range(1, total_steps + 1)
        ax.plot(steps, history.train_losses, lw=1, color="C0", label="training loss (each step)")
        ax.plot(history.val_steps, history.val_losses, "o-", color="C3", ms=4,
                label="validation loss (each epoch)")
        if ln_vocab is not None:
            ax.axhline(ln_vocab, color="gray", ls="--", lw=1, label="random guessing")
        ax.set_xlim(0, total_steps * 1.02)
        ax.set_ylim(0, top)
        ax.set_xlabel("training step")
        ax.set_ylabel("cross-entropy loss")
        ax.legend(loc="lower left", fontsize=8)
        ax.set_title("The whole run; the circle marks the chosen epoch", fontsize=10)
        line = ax.axvline(0, color="black", lw=1, animated=True)
        (marker,) = ax.plot([], [], "o", ms=9, mfc="none", mec="black", mew=1.5, animated=True)
        return {"line": line, "marker": marker}

    def update(handles, epoch):
        step = epoch * steps_per_epoch
        handles["line"].set_xdata([step, step])
        if epoch == 0:
            handles["marker"].set_data([], [])
            losses = "before training"
        else:
            val = history.val_losses[epoch - 1]
            handles["marker"].set_data([step], [val])
            losses = (f"training loss {epoch_means[epoch - 1]:.3f} (mean of the epoch), "
                      f"validation loss {val:.3f}")
        return f"after epoch {epoch} (step {step}): {losses}\nthe model writes: {texts[epoch]!r}"

    explorer = Explorer("Training, epoch by epoch", controls, setup, update,
                        figsize=(7.5, 3.4))
    explorer.epoch_means = epoch_means
    return explorer
