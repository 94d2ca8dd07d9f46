"""Notebook 06's two "your turn" exercises: the learner writes
MultiHeadAttention.forward and TransformerBlock.forward.

The hidden solutions and the skeletons are read from the notebook itself and
run through the real checks; each classic mistake, written here as a small
wrong class (independently of the check's own mistake functions), gets its
own hint; whatever a check is given, it says "Not yet" and never raises."""

import math

import pytest
import torch
import torch.nn as nn

from gpt_course import FeedForward, LayerNorm, MultiHeadAttention
from gpt_course.exercises.nb06_transformer_block import (
    BLOCK_CONFIG, check_multi_head_attention, check_transformer_block,
)
from solutions import cell_source, run_cell, skeleton_code, solution_code

NOTEBOOK = "06_transformer_block"
CHECKS = ["check_multi_head_attention", "check_transformer_block"]


def _cell(cell_id):
    return cell_source(NOTEBOOK, cell_id)


def test_plug_in_cell_runs_the_learners_attention_inside_their_block():
    plug = _cell("plug")
    skeletons = "\n".join(skeleton_code(NOTEBOOK, name) for name in CHECKS)
    assert "Not yet: write MyMultiHeadAttention.forward" in run_cell(NOTEBOOK, skeletons + "\n" + plug)
    solved = "\n".join(solution_code(NOTEBOOK, name) for name in CHECKS)
    out = run_cell(NOTEBOOK, solved + "\n" + plug)
    assert "your block with your attention gives the course block's output: True" in out, out


# ------------------------------------------------------------ attention

class Attention(nn.Module):
    """The skeleton's __init__ (the book's); a forward a learner might write,
    with one switch per classic mistake (written with reshape/permute and
    einsum, not the check's own code)."""
    mistake = None

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer(
            "mask",
            torch.triu(torch.ones(context_length, context_length, dtype=torch.bool), diagonal=1),
            persistent=False,
        )

    def forward(self, x):
        m = self.mistake
        b, n, _ = x.shape
        h, hd = self.num_heads, self.head_dim

        def heads(t):
            if m in ("view_only", "view_split"):
                return t.reshape(b, h, n, hd)
            return t.reshape(b, n, h, hd).permute(0, 2, 1, 3)

        q, k, v = heads(self.W_query(x)), heads(self.W_key(x)), heads(self.W_value(x))
        scores = torch.einsum("bhqd,bhkd->bhqk", q, k)
        mask = self.mask[:n, :n]
        if m == "lower":
            mask = mask.T
        if m == "zero_fill":
            scores = scores.masked_fill(mask, 0.0)
        elif m not in ("no_mask", "mask_after"):
            scores = scores.masked_fill(mask, float("-inf"))
        scale = {"no_scale": 1.0, "sqrt_d_out": math.sqrt(self.d_out),
                 "head_dim": float(hd)}.get(m, math.sqrt(hd))
        weights = torch.softmax(scores / scale, dim=2 if m == "softmax_dim" else 3)
        if m == "mask_after":
            weights = weights.masked_fill(mask, 0.0)
        if m not in ("no_dropout", "dropout_output"):
            weights = self.dropout(weights)
        context = torch.einsum("bhqk,bhkd->bhqd", weights, v)
        if m in ("view_only", "merge"):
            context = context.reshape(b, n, self.d_out)
        else:
            context = context.permute(0, 2, 1, 3).reshape(b, n, self.d_out)
        if m == "no_proj":
            return context
        out = self.out_proj(context)
        return self.dropout(out) if m == "dropout_output" else out


def attention_with(mistake):
    return type(f"Attention_{mistake}", (Attention,), {"mistake": mistake})


def test_right_attention_is_correct(capsys):
    assert check_multi_head_attention(Attention)
    assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("mistake, hint", [
    ("lower", "the mask is on the wrong triangle"),
    ("no_mask", "the causal mask is not applied"),
    ("zero_fill", "the future scores are set to 0"),
    ("mask_after", "the mask is applied after the softmax"),
    ("no_scale", "the scores are not scaled"),
    ("sqrt_d_out", "divided by sqrt(d_out)"),
    ("head_dim", "divided by head_dim; divide by its square root"),
    ("softmax_dim", "softmax runs over the wrong dimension"),
    ("view_only", "cuts the tokens' numbers into heads the wrong way"),
    ("view_split", "mixed up when you split them"),
    ("merge", "mixed up when you merge them"),
    ("no_proj", "the output projection is missing"),
    ("no_dropout", "through self.dropout right after the softmax"),
    ("dropout_output", "dropout is applied to the output"),
])
def test_each_attention_mistake_gets_its_hint(mistake, hint, capsys):
    assert not check_multi_head_attention(attention_with(mistake))
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


def test_a_one_token_input_cannot_tell_mask_scaling_or_softmax_apart():
    """Why those mistakes are judged only on longer inputs (`when=`): on one
    token every one of them gives the right output."""
    torch.manual_seed(0)
    right = Attention(12, 12, 8, 0.0, 3).eval()
    x = torch.randn(2, 1, 12)
    for mistake in ("lower", "no_mask", "zero_fill", "no_scale", "sqrt_d_out", "softmax_dim",
                    "view_only", "view_split", "merge"):
        wrong = attention_with(mistake)(12, 12, 8, 0.0, 3).eval()
        wrong.load_state_dict(right.state_dict())
        torch.testing.assert_close(wrong(x), right(x))


def test_unknown_attention_mistake_gets_the_difference_and_the_general_hint(capsys):
    class Doubled(Attention):
        def forward(self, x):
            return 2 * super().forward(x)

    assert not check_multi_head_attention(Doubled)
    out = capsys.readouterr().out
    assert "differs from the course's" in out and "print the shapes as you go" in out


def test_inverted_mask_is_reported_as_nan(capsys):
    """~mask hides the diagonal and the past: the last row is all -inf, and
    softmax of that is NaN; the check says where."""
    class Inverted(Attention):
        def forward(self, x):
            self.mask = ~self.mask
            try:
                return super().forward(x)
            finally:
                self.mask = ~self.mask

    assert not check_multi_head_attention(Inverted)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "NaN at index" in out, out


def test_heads_never_split_is_reported_with_the_error(capsys):
    """Without any transpose, the mask no longer fits the scores: the
    learner sees the error and the input it happened on."""
    class NoTranspose(Attention):
        def forward(self, x):
            b, n, _ = x.shape
            q = self.W_query(x).view(b, n, self.num_heads, self.head_dim)
            k = self.W_key(x).view(b, n, self.num_heads, self.head_dim)
            v = self.W_value(x).view(b, n, self.num_heads, self.head_dim)
            scores = (q @ k.transpose(2, 3)).masked_fill(self.mask[:n, :n], -torch.inf)
            weights = torch.softmax(scores / self.head_dim**0.5, dim=-1)
            return self.out_proj((weights @ v).contiguous().view(b, n, self.d_out))

    assert not check_multi_head_attention(NoTranspose)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "raised RuntimeError" in out and "5 tokens" in out, out


# ------------------------------------------------------------ the block

class Block(nn.Module):
    """The skeleton's __init__ (the book's); a forward with one switch per mistake."""
    mistake = None

    def __init__(self, cfg):
        super().__init__()
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"], d_out=cfg["emb_dim"], context_length=cfg["context_length"],
            num_heads=cfg["n_heads"], dropout=cfg["drop_rate"], qkv_bias=cfg["qkv_bias"],
        )
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])

    def forward(self, x):
        m = self.mistake
        if m == "post_norm":
            x = self.norm1(x + self.drop_shortcut(self.att(x)))
            return self.norm2(x + self.drop_shortcut(self.ff(x)))
        if m == "shortcut_after_norm":
            x = self.norm1(x)
            x = x + self.drop_shortcut(self.att(x))
            x = self.norm2(x)
            return x + self.drop_shortcut(self.ff(x))
        if m == "drop_after_add":
            x = self.drop_shortcut(x + self.att(self.norm1(x)))
            return self.drop_shortcut(x + self.ff(self.norm2(x)))
        if m == "drop_on_input":
            x = x + self.att(self.drop_shortcut(self.norm1(x)))
            return x + self.ff(self.drop_shortcut(self.norm2(x)))
        first = self.att(self.norm1(x))
        if m not in ("no_dropout", "drop_second_only"):
            first = self.drop_shortcut(first)
        x = first if m in ("no_first_shortcut", "no_shortcuts") else x + first
        second = self.ff((self.norm1 if m == "one_norm" else self.norm2)(x))
        if m not in ("no_dropout", "drop_first_only"):
            second = self.drop_shortcut(second)
        return second if m in ("no_second_shortcut", "no_shortcuts") else x + second


def block_with(mistake):
    return type(f"Block_{mistake}", (Block,), {"mistake": mistake})


def test_right_block_is_correct(capsys):
    assert check_transformer_block(Block)
    assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("mistake, hint", [
    ("post_norm", "this is post-norm"),
    ("shortcut_after_norm", "the shortcut is saved after the LayerNorm"),
    ("no_shortcuts", "both shortcuts are missing"),
    ("no_second_shortcut", "the second shortcut is missing"),
    ("no_first_shortcut", "the first shortcut is missing"),
    ("one_norm", "norm1 is used before both sub-layers"),
    ("drop_after_add", "dropout comes after the shortcut addition"),
    ("drop_on_input", "dropout is applied to the sub-layer's input"),
    ("no_dropout", "self.drop_shortcut is never applied"),
    ("drop_first_only", "applied after attention but not after the feed forward"),
    ("drop_second_only", "applied after the feed forward but not after attention"),
])
def test_each_block_mistake_gets_its_hint(mistake, hint, capsys):
    assert not check_transformer_block(block_with(mistake))
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


def test_dropout_mistakes_need_the_training_mode_cases():
    """In evaluation mode dropout is the identity, so where it sits cannot
    show: the check's training-mode cases (same seed on both sides) are what
    tell these apart."""
    torch.manual_seed(0)
    right = Block(dict(BLOCK_CONFIG))
    x = torch.randn(2, 5, 12)
    for mistake in ("drop_after_add", "drop_on_input", "no_dropout", "drop_first_only"):
        wrong = block_with(mistake)(dict(BLOCK_CONFIG))
        wrong.load_state_dict(right.state_dict())
        right.eval()
        wrong.eval()
        torch.testing.assert_close(wrong(x), right(x))
        right.train()
        wrong.train()
        torch.manual_seed(1)
        a = right(x)
        torch.manual_seed(1)
        assert not torch.allclose(wrong(x), a)


# ------------------------------------------------------------ crash battery

class AttentionInitRaises(Attention):
    def __init__(self, *args, **kwargs):
        raise ValueError("half-written __init__")


class AttentionForwardRaises(Attention):
    def forward(self, x):
        return x @ self.mask


class AttentionWrongShape(Attention):
    def forward(self, x):
        return super().forward(x)[:, -1]


class AttentionWrongDtype(Attention):
    def forward(self, x):
        return super().forward(x).round().long()


class AttentionReturnsNone(Attention):
    def forward(self, x):
        super().forward(x)


class AttentionReturnsNan(Attention):
    def forward(self, x):
        return super().forward(x) * float("nan")


class AttentionOtherParameters(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.qkv = nn.Linear(d_in, 3 * d_out)


@pytest.mark.parametrize("answer, said", [
    (None, "No answer yet"),
    (3, "pass your MultiHeadAttention class"),
    (Attention(12, 12, 8, 0.0, 3), "pass the class itself"),
    (AttentionInitRaises, "building your MultiHeadAttention failed: ValueError: half-written"),
    (AttentionForwardRaises, "raised RuntimeError"),
    (AttentionWrongShape, "expected [1, 1, 12]"),
    (AttentionWrongDtype, "dtype torch.int64"),
    (AttentionReturnsNone, "returned NoneType"),
    (AttentionReturnsNan, "NaN at index"),
    (AttentionOtherParameters, "do not match the course's"),
])
def test_attention_crash_battery_says_not_yet(answer, said, capsys):
    assert not check_multi_head_attention(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:" if said != "No answer yet" else said) and said in out, out


class BlockInitRaises(Block):
    def __init__(self, cfg):
        raise KeyError("emb_dim")


class BlockForwardRaises(Block):
    def forward(self, x):
        return self.ff(self.att(x)[..., :5])  # a slice of the wrong size


class BlockWrongShape(Block):
    def forward(self, x):
        return super().forward(x).sum(dim=1)


class BlockWrongDtype(Block):
    def forward(self, x):
        return super().forward(x) > 0


class BlockReturnsNone(Block):
    def forward(self, x):
        x = super().forward(x)


class BlockReturnsNan(Block):
    def forward(self, x):
        return super().forward(x) / 0 * 0


@pytest.mark.parametrize("answer, said", [
    (None, "No answer yet"),
    ("MyTransformerBlock", "pass your TransformerBlock class"),
    (nn.Module, "building your TransformerBlock failed"),
    (BlockInitRaises, "building your TransformerBlock failed: KeyError"),
    (BlockForwardRaises, "raised"),
    (BlockWrongShape, "expected [1, 1, 12]"),
    (BlockWrongDtype, "dtype torch.bool"),
    (BlockReturnsNone, "returned NoneType"),
    (BlockReturnsNan, "NaN at index"),
    (Attention, "building your TransformerBlock failed"),
])
def test_block_crash_battery_says_not_yet(answer, said, capsys):
    assert not check_transformer_block(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:" if said != "No answer yet" else said) and said in out, out
