import numpy as np
import pytest
import torch

from gpt_course import GPTModel, text_to_token_ids
from gpt_course.explorers.nb06_transformer_block import (
    DEFAULT_TEXT, SMALL_CONFIG, attention_explorer, attention_weights,
)


@pytest.fixture(scope="module")
def explorer():
    return attention_explorer()


def _manual_weights(block, x):
    """Attention weights recomputed from the block's own projections."""
    att = block.att
    x = block.norm1(x)
    b, n, _ = x.shape
    q = att.W_query(x).view(b, n, att.num_heads, att.head_dim).transpose(1, 2)
    k = att.W_key(x).view(b, n, att.num_heads, att.head_dim).transpose(1, 2)
    scores = q @ k.transpose(2, 3) / att.head_dim**0.5
    scores = scores.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), -torch.inf)
    return torch.softmax(scores, dim=-1)[0]


def test_hooked_weights_match_a_manual_computation():
    torch.manual_seed(123)
    model = GPTModel(SMALL_CONFIG).eval()
    ids = text_to_token_ids(DEFAULT_TEXT)
    weights = attention_weights(model, ids)
    n = ids.shape[1]
    assert weights.shape == (SMALL_CONFIG["n_layers"], SMALL_CONFIG["n_heads"], n, n)
    with torch.no_grad():
        x = model.tok_emb(ids) + model.pos_emb(torch.arange(n))
        first = _manual_weights(model.trf_blocks[0], x)
    torch.testing.assert_close(weights[0], first)
    # the hooks are gone afterwards
    assert all(not block.att.dropout._forward_pre_hooks for block in model.trf_blocks)


def test_causal_and_normalized(explorer):
    w = explorer.weights
    n = w.shape[-1]
    assert np.all(w[..., np.triu_indices(n, 1)[0], np.triu_indices(n, 1)[1]] == 0)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)
    assert "largest weight above the diagonal = 0.0000" in explorer.readout_text


def test_sliders_swap_the_image(explorer):
    explorer.set(layer=1, head=1)
    png_a = explorer.png()
    data_a = np.ma.getdata(explorer.handles["image"].get_array()).copy()
    explorer.set(layer=2, head=3)
    data_b = explorer.handles["image"].get_array()
    np.testing.assert_allclose(np.ma.getdata(data_b)[np.tril_indices(data_b.shape[0])],
                               explorer.weights[1, 2][np.tril_indices(data_b.shape[0])])
    assert not np.allclose(data_a, np.ma.getdata(data_b))
    assert explorer.png() != png_a
    w = explorer.weights[1, 2]
    focus = int(w[-1].argmax())
    assert "layer 2, head 3" in explorer.readout_text
    assert f"attends most to '{explorer.token_labels[focus]}' ({w[-1, focus]:.2f})" in explorer.readout_text
    assert explorer.handles["texts"][(1, 0)].get_text() == f"{w[1, 0]:.2f}"


def test_text_too_long_for_context():
    with pytest.raises(ValueError, match="context_length"):
        attention_explorer("word " * 80)


def test_explorer_leaves_the_global_random_state_alone():
    """It seeds a private copy of the RNG (fork_rng): the same model every
    time, and the caller's next random numbers are the ones they expect."""
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    first = attention_explorer()
    assert torch.equal(torch.rand(3), expected)
    np.testing.assert_array_equal(attention_explorer().weights, first.weights)


def test_explorer_model_is_the_one_seeded_with_123():
    torch.manual_seed(123)
    model = GPTModel(SMALL_CONFIG).eval()
    weights = attention_weights(model, text_to_token_ids(DEFAULT_TEXT))
    np.testing.assert_array_equal(attention_explorer().weights, weights.numpy())
