"""The package's modules checked against independent references."""

import torch
import torch.nn.functional as F

from gpt_course import (
    GELU, GPTModel, LayerNorm, MultiHeadAttention, TransformerBlock, gelu_exact,
)


def test_layer_norm_matches_torch():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 16) * 4 + 2
    ours = LayerNorm(16)
    with torch.no_grad():
        ours.scale.copy_(torch.randn(16))
        ours.shift.copy_(torch.randn(16))
    reference = torch.nn.LayerNorm(16, eps=1e-5)
    with torch.no_grad():
        reference.weight.copy_(ours.scale)
        reference.bias.copy_(ours.shift)
    torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-5)


def test_layer_norm_output_has_zero_mean_unit_biased_variance():
    torch.manual_seed(1)
    out = LayerNorm(10)(torch.randn(4, 10) * 3 + 7)
    torch.testing.assert_close(out.mean(-1), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(-1, unbiased=False), torch.ones(4), atol=1e-4, rtol=0)


def test_gelu_matches_torch_tanh_approximation():
    x = torch.linspace(-8, 8, 2001)
    torch.testing.assert_close(GELU()(x), F.gelu(x, approximate="tanh"), atol=1e-6, rtol=1e-6)


def test_gelu_exact_matches_torch_and_differs_from_approximation():
    x = torch.linspace(-8, 8, 2001)
    torch.testing.assert_close(gelu_exact(x), F.gelu(x), atol=1e-6, rtol=1e-6)
    # The approximation is close but not identical: it is an approximation.
    gap = (GELU()(x) - gelu_exact(x)).abs().max().item()
    assert 1e-5 < gap < 1e-3


def _sdpa_reference(mha, x):
    """Causal attention computed by torch's fused kernel on mha's weights."""
    b, t, _ = x.shape
    h, d = mha.num_heads, mha.head_dim
    split = lambda y: y.view(b, t, h, d).transpose(1, 2)
    q, k, v = split(mha.W_query(x)), split(mha.W_key(x)), split(mha.W_value(x))
    context = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return mha.out_proj(context.transpose(1, 2).reshape(b, t, h * d))


def test_multi_head_attention_matches_scaled_dot_product_attention():
    torch.manual_seed(2)
    for qkv_bias in (False, True):
        mha = MultiHeadAttention(d_in=24, d_out=24, context_length=10, dropout=0.0, num_heads=3, qkv_bias=qkv_bias)
        x = torch.randn(2, 7, 24)
        torch.testing.assert_close(mha(x), _sdpa_reference(mha, x), atol=1e-5, rtol=1e-5)


def test_multi_head_attention_is_causal():
    torch.manual_seed(3)
    mha = MultiHeadAttention(d_in=16, d_out=16, context_length=8, dropout=0.0, num_heads=4)
    x = torch.randn(1, 6, 16)
    changed = x.clone()
    changed[0, 4:] = torch.randn(2, 16)  # change only the last two tokens
    before, after = mha(x), mha(changed)
    torch.testing.assert_close(before[0, :4], after[0, :4])  # earlier positions untouched
    assert not torch.allclose(before[0, 4:], after[0, 4:])


def test_gpt_model_is_causal(tiny_cfg):
    torch.manual_seed(4)
    model = GPTModel(tiny_cfg).eval()
    ids = torch.randint(0, tiny_cfg["vocab_size"], (1, 8))
    changed = ids.clone()
    changed[0, -1] = (ids[0, -1] + 1) % tiny_cfg["vocab_size"]
    torch.testing.assert_close(model(ids)[0, :-1], model(changed)[0, :-1])


def test_transformer_block_preserves_shape(tiny_cfg):
    torch.manual_seed(5)
    x = torch.rand(2, 4, tiny_cfg["emb_dim"])
    assert TransformerBlock(tiny_cfg)(x).shape == x.shape


def test_dropout_only_in_training_mode(tiny_cfg):
    cfg = {**tiny_cfg, "drop_rate": 0.5}
    torch.manual_seed(6)
    model = GPTModel(cfg)
    ids = torch.randint(0, cfg["vocab_size"], (2, 5))
    model.eval()
    torch.testing.assert_close(model(ids), model(ids))
    model.train()
    assert not torch.allclose(model(ids), model(ids))


def test_same_seed_same_outputs(tiny_cfg):
    ids = torch.randint(0, tiny_cfg["vocab_size"], (2, 6), generator=torch.Generator().manual_seed(7))
    outputs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = GPTModel({**tiny_cfg, "drop_rate": 0.1})  # training mode: dropout draws from the seed too
        outputs.append(model(ids))
    torch.testing.assert_close(outputs[0], outputs[1], atol=0, rtol=0)


def test_separate_dropout_rates(tiny_cfg):
    cfg = {**tiny_cfg, "drop_rate": 0.1, "drop_rate_emb": 0.2, "drop_rate_attn": 0.3}
    model = GPTModel(cfg)
    block = model.trf_blocks[0]
    assert (model.drop_emb.p, block.att.dropout.p, block.drop_shortcut.p) == (0.2, 0.3, 0.1)
