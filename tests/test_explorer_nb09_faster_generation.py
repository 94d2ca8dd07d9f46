import math

import pytest
import torch

from gpt_course import next_token_distribution
from gpt_course.explorers.nb09_faster_generation import BOOK_LOGITS, BOOK_WORDS, sampling_explorer


@pytest.fixture()
def explorer():
    return sampling_explorer()


def _expected(temperature, top_k=None, top_p=None):
    return next_token_distribution(torch.tensor(BOOK_LOGITS), temperature, top_k, top_p)


def _heights(explorer, key="bars"):
    return [bar.get_height() for bar in explorer.handles[key]]


def _draws(probs, n=10, seed=123):
    gen = torch.Generator().manual_seed(seed)
    return [BOOK_WORDS[i] for i in torch.multinomial(probs, n, replacement=True, generator=gen)]


def test_default_shows_the_softmax(explorer):
    probs = torch.softmax(torch.tensor(BOOK_LOGITS), dim=-1)
    assert _heights(explorer) == pytest.approx(probs.tolist())
    entropy = float(-(probs * probs.log()).sum())
    assert f"9 of 9 tokens kept, entropy {entropy:.2f} nats" in explorer.readout_text
    assert f"max ln 9 = {math.log(9):.2f}" in explorer.readout_text
    assert "10 draws, seed 123: " + " ".join(_draws(probs)) in explorer.readout_text
    labels = [t.get_text() for t in explorer.figure.axes[0].get_xticklabels()]
    assert labels == list(BOOK_WORDS)


def test_temperature_sharpens_and_flattens(explorer):
    png = explorer.png()
    explorer.set(temperature=0.5)
    sharp = _heights(explorer)
    assert sharp == pytest.approx(_expected(0.5).tolist())
    explorer.set(temperature=3.0)
    flat = _heights(explorer)
    assert flat == pytest.approx(_expected(3.0).tolist())
    assert max(sharp) > max(flat)
    assert explorer.png() != png
    explorer.set(temperature=0.0)
    assert _heights(explorer) == [0, 0, 0, 1, 0, 0, 0, 0, 0]  # 'forward' has the top logit
    assert explorer.readout_text.startswith(
        "greedy (temperature 0): 1 of 9 tokens kept, entropy 0.00")
    assert "seed 123: " + " ".join(["forward"] * 10) in explorer.readout_text


def test_top_k_and_top_p_drop_tokens(explorer):
    explorer.set(temperature=1.0, top_k=3)
    heights = _heights(explorer)
    assert heights == pytest.approx(_expected(1.0, top_k=3).tolist())
    assert sum(h > 0 for h in heights) == 3
    assert "top_k=3: 3 of 9 tokens kept" in explorer.readout_text
    # the grey bars keep the distribution before the filter
    assert _heights(explorer, "ghosts") == pytest.approx(_expected(1.0).tolist())
    labels = [t.get_text() for t in explorer.handles["values"]]
    assert labels.count("0") == 6
    explorer.set(top_k=9, top_p=0.9, temperature=2.0)
    want = _expected(2.0, top_p=0.9)
    assert _heights(explorer) == pytest.approx(want.tolist())
    kept = int((want > 0).sum())
    assert f"temperature 2, top_p=0.9: {kept} of 9 tokens kept" in explorer.readout_text
    assert " ".join(_draws(want)) in explorer.readout_text


def test_own_logits_and_bad_arguments():
    explorer = sampling_explorer([2.0, 1.0, 0.0], ["a", "b", "c"], n_draws=5, seed=7)
    want = torch.softmax(torch.tensor([2.0, 1.0, 0.0]), dim=0)
    assert _heights(explorer) == pytest.approx(want.tolist())
    assert "5 draws, seed 7:" in explorer.readout_text
    assert explorer.controls["top_k"].max == 3
    with pytest.raises(ValueError, match="one logit per word"):
        sampling_explorer([1.0, 2.0], ["a"])
    with pytest.raises(ValueError, match="between 2 and 20"):
        sampling_explorer([1.0], ["a"])
    with pytest.raises(ValueError, match="finite"):
        sampling_explorer([1.0, float("nan")], ["a", "b"])
    with pytest.raises(ValueError, match="n_draws"):
        sampling_explorer(n_draws=0)
    with pytest.raises(TypeError, match="n_draws"):
        sampling_explorer(n_draws=True)
    with pytest.raises(ValueError, match="seed"):
        sampling_explorer(seed=-1)
