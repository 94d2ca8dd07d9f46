"""The feed forward explorer: arithmetic counts that match the real module."""

import pytest
import torch

from gpt_course import FeedForward, count_parameters
from gpt_course.explorers.nb04_feed_forward import feed_forward_explorer, linear_layer_parameters


@pytest.mark.parametrize("emb_dim", [64, 768, 1024, 1600])
def test_counts_match_the_module_on_meta(emb_dim):
    with torch.device("meta"):
        ff = FeedForward({"emb_dim": emb_dim})
    first, second = linear_layer_parameters(emb_dim, 4)
    assert first == count_parameters(ff.layers[0])
    assert second == count_parameters(ff.layers[2])


def test_default_readout_has_the_book_number():
    explorer = feed_forward_explorer()
    assert "768 -> 3,072 -> 768" in explorer.readout_text
    assert "per block: 4,722,432 parameters; x 12 blocks = 56,669,184" in explorer.readout_text


def test_sliders_move_bars_point_and_readout():
    explorer = feed_forward_explorer()
    before = explorer.png()
    explorer.set(emb_dim=1024, factor=2, n_layers=24)
    hidden_bar = explorer.handles["bars"][1]
    assert hidden_bar.get_width() == 2048
    assert hidden_bar.get_x() == -1024
    total = 1024 * 2048 * 2 + 2048 + 1024
    assert f"per block: {total:,} parameters; x 24 blocks = {24 * total:,}" in explorer.readout_text
    x, y = explorer.handles["point"].get_data()
    assert x[0] == 1024 and y[0] == pytest.approx(total / 1e6)
    assert explorer.png() != before


def test_axis_limits_stay_fixed():
    explorer = feed_forward_explorer()
    limits = [(ax.get_xlim(), ax.get_ylim()) for ax in explorer.figure.axes]
    explorer.set(emb_dim=2048, factor=8)
    assert [(ax.get_xlim(), ax.get_ylim()) for ax in explorer.figure.axes] == limits
