import pytest

from gpt_course.explorers.nb11_training_glimpse import training_explorer
from gpt_course.beyond.nb11_training import TrainingHistory

STEPS = 3
HISTORY = TrainingHistory(
    train_losses=[7.0, 6.0, 5.0, 4.0, 3.5, 3.0],
    val_steps=[3, 6],
    val_losses=[6.5, 6.8],
)
TEXTS = ["gibberish", "some words", "the course's own words"]


@pytest.fixture()
def explorer():
    return training_explorer(HISTORY, TEXTS, STEPS, ln_vocab=7.6)


def test_epoch_slider(explorer):
    assert explorer.values == {"epoch": 2}  # opens on the trained model
    assert explorer.epoch_means == pytest.approx([6.0, 3.5])
    assert "after epoch 2 (step 6)" in explorer.readout_text
    assert "training loss 3.500" in explorer.readout_text
    assert "validation loss 6.800" in explorer.readout_text
    assert "\"the course's own words\"" in explorer.readout_text
    png = explorer.png()

    explorer.set(epoch=1)
    assert "after epoch 1 (step 3): training loss 6.000" in explorer.readout_text
    assert "validation loss 6.500" in explorer.readout_text
    assert "'some words'" in explorer.readout_text
    assert list(explorer.handles["line"].get_xdata()) == [3, 3]
    assert list(explorer.handles["marker"].get_xdata()) == [3]
    assert list(explorer.handles["marker"].get_ydata()) == [6.5]
    assert explorer.png() != png

    explorer.controls["epoch"].value = 0  # as the slider does it
    assert explorer.readout_text.startswith("after epoch 0 (step 0): before training")
    assert "'gibberish'" in explorer.readout_text
    assert list(explorer.handles["marker"].get_xdata()) == []


def test_static_view_shows_every_epochs_text(explorer):
    """The figure holds what the model wrote after every epoch, so the PNG a
    static view shows (GitHub, a notebook not yet run) is not only a loss plot."""
    bundle = explorer._repr_mimebundle_()
    assert bundle["text/plain"].startswith(
        "Training, epoch by epoch [interactive in JupyterLab; shown at epoch=2]")
    assert "the model writes: \"the course's own words\"" in bundle["text/plain"]
    drawn = [t.get_text() for t in explorer.figure.texts]
    for text in TEXTS:
        assert text in drawn
    assert "before" in drawn and "epoch 1" in drawn and "epoch 2" in drawn


def test_highlight_follows_the_epoch(explorer):
    ys = []
    for epoch in (0, 1, 2):
        explorer.set(epoch=epoch)
        ys.append(explorer.handles["highlight"].get_y())
    assert ys[0] > ys[1] > ys[2]  # one row lower per epoch


def test_texts_drop_the_common_prompt_and_fit_one_line():
    texts = ["Every effort moves you" + t for t in (" x\ny", " words", " " + "long " * 40)]
    explorer = training_explorer(HISTORY, texts, STEPS)
    drawn = [t.get_text() for t in explorer.figure.texts]
    assert " x\\ny" in drawn                       # a new line written as \n, on one line
    assert " words" in drawn
    assert any(t.endswith("…") and len(t) <= 92 for t in drawn)
    assert any("continuing 'Every effort moves you'" in t for t in drawn)
    # characters the figure's font cannot draw are written as escapes, not boxes
    explorer = training_explorer(HISTORY, ["a: 简体中文", "a: b", "a: c"], STEPS)
    drawn = [t.get_text() for t in explorer.figure.texts]
    assert " \\u7b80\\u4f53\\u4e2d\\u6587" in drawn
    # a prompt shared only up to the middle of a word is cut at the word
    explorer = training_explorer(HISTORY, ["you can go", "you cat", "you cab"], STEPS)
    drawn = [t.get_text() for t in explorer.figure.texts]
    assert " can go" in drawn and " cat" in drawn and " cab" in drawn
    assert any("continuing 'you'" in t for t in drawn)


@pytest.mark.parametrize("args, error, match", [
    ((HISTORY, TEXTS, 0), ValueError, "steps_per_epoch"),
    ((HISTORY, TEXTS, 1.5), TypeError, "steps_per_epoch"),
    ((HISTORY, TEXTS, 4), ValueError, "whole number"),
    ((TrainingHistory([1.0] * 6, [2, 4, 6], [1.0] * 3), TEXTS, STEPS), ValueError, "eval_freq"),
    # as many validation losses as epochs, but not measured at the epochs' ends
    ((TrainingHistory([1.0] * 6, [2, 4], [1.0] * 2), TEXTS, STEPS), ValueError, "eval_freq"),
    ((TrainingHistory([1.0] * 6, [3, 6], [1.0] * 3), TEXTS, STEPS), ValueError, "eval_freq"),
    ((HISTORY, TEXTS[:2], STEPS), ValueError, "texts"),
    ((HISTORY, "gibberish", STEPS), TypeError, "texts"),
    ((HISTORY, [1, 2, 3], STEPS), TypeError, "texts"),
    (({"train_losses": [1.0]}, TEXTS, STEPS), TypeError, "TrainingHistory"),
    ((HISTORY, TEXTS, STEPS, -1.0), ValueError, "ln_vocab"),
    ((HISTORY, TEXTS, STEPS, "7.6"), TypeError, "ln_vocab"),
])
def test_bad_inputs(args, error, match):
    with pytest.raises(error, match=match):
        training_explorer(*args)
