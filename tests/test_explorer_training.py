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


def test_static_text(explorer):
    bundle = explorer._repr_mimebundle_()
    assert bundle["text/plain"].startswith(
        "Training, epoch by epoch [interactive in JupyterLab; shown at epoch=2]")


def test_bad_inputs():
    with pytest.raises(ValueError, match="steps_per_epoch"):
        training_explorer(HISTORY, TEXTS, 0)
    with pytest.raises(ValueError, match="whole number"):
        training_explorer(HISTORY, TEXTS, 4)
    with pytest.raises(ValueError, match="eval_freq"):
        training_explorer(TrainingHistory([1.0] * 6, [2, 4, 6], [1.0] * 3), TEXTS, STEPS)
    with pytest.raises(ValueError, match="texts"):
        training_explorer(HISTORY, TEXTS[:2], STEPS)
