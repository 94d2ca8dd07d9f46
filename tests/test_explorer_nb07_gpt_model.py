import pytest

from gpt_course import GPT2_CONFIGS, GPT_CONFIG_124M, model_size
from gpt_course.explorers.nb07_gpt_model import PARTS, model_size_explorer, size_breakdown


@pytest.fixture(scope="module")
def explorer():
    return model_size_explorer()


def _formula(emb_dim, n_layers, vocab=50257, context=1024):
    """Parameter count written out by hand, independent of the package."""
    attention = 4 * emb_dim * emb_dim + emb_dim  # q, k, v without bias; out_proj with bias
    feed_forward = 8 * emb_dim * emb_dim + 4 * emb_dim + emb_dim
    norms = 4 * emb_dim
    return (vocab + context) * emb_dim + n_layers * (attention + feed_forward + norms) \
        + 2 * emb_dim + vocab * emb_dim


@pytest.mark.parametrize("name", list(GPT2_CONFIGS))
def test_breakdown_matches_model_size(name):
    cfg = GPT2_CONFIGS[name]
    size = model_size(cfg)
    parts = size_breakdown(cfg["vocab_size"], cfg["context_length"], cfg["emb_dim"],
                           cfg["n_heads"], cfg["n_layers"])
    assert parts["total_params"] == size.total_params
    assert parts["tied_params"] == size.tied_params
    assert parts["buffer_bytes"] == size.buffer_bytes


def test_book_default(explorer):
    assert "total 163,009,536 parameters, 124,412,160 with weight tying" in explorer.readout_text
    assert "float32 621.83 MiB" in explorer.readout_text


def test_sliders_change_the_numbers(explorer):
    png = explorer.png()
    explorer.set(emb_dim=1024, n_layers=24, n_heads=16)
    assert "total 406,212,608 parameters" in explorer.readout_text
    assert "float32 1,549.58 MiB" in explorer.readout_text
    assert "nearest GPT-2 size: gpt2-medium" in explorer.readout_text
    assert explorer.png() != png
    explorer.set(emb_dim=512, n_layers=7, n_heads=8)
    total = _formula(512, 7)
    assert f"total {total:,} parameters" in explorer.readout_text
    assert f"bfloat16 {total * 2 / 2**20:,.2f} MiB" in explorer.readout_text
    assert explorer.handles["marker"].get_xdata()[0] == total
    widths = [bar.get_width() for bar in explorer.handles["bars"]]
    assert widths[PARTS.index("feed forward (all blocks)")] == 7 * (8 * 512 * 512 + 5 * 512)


def test_indivisible_heads_show_a_message(explorer):
    explorer.set(emb_dim=768, n_layers=12, n_heads=7)
    assert "not divisible" in explorer.readout_text
    assert explorer.handles["message"].get_visible()
    assert not explorer.handles["marker"].get_visible()
    explorer.set(n_heads=12)
    assert not explorer.handles["message"].get_visible()
    assert explorer.handles["marker"].get_visible()
    assert "163,009,536" in explorer.readout_text


def test_presets_marked(explorer):
    assert explorer.presets["gpt2-xl"] == 1_637_792_000
    assert explorer.presets["gpt2-small"] == model_size(GPT_CONFIG_124M).total_params
