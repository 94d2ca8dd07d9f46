"""The checks, tried as learners would: for each "your turn" exercise from
notebook 05 on, right answers written in ways other than the hidden solution
and the other tests (other torch APIs, loops, helpers, buffers, in-place ops
on fresh tensors, float64 intermediates, ...) must be Correct, and wrong ones
(gradient-only bugs, off-by-ones, subtly wrong masks) Not yet, with a hint
that names no mistake the code does not have.

Where a check lied, the test now pins the fix (lies() marks any new one as
xfail(strict=True): it starts passing, and fails the suite, once fixed)."""

import functools
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gpt_course import (GELU, GPT_CONFIG_124M, FeedForward, LayerNorm, MultiHeadAttention,
                        TransformerBlock)
from gpt_course.exercises.nb05_shortcut_connections import check_shortcut_forward
from gpt_course.exercises.nb06_transformer_block import (check_multi_head_attention,
                                                         check_transformer_block)
from gpt_course.exercises.nb07_gpt_model import check_gpt_model_forward, check_separate_dropout
from gpt_course.exercises.nb08_greedy_generation import check_generate_text_simple
from gpt_course.exercises.nb09_faster_generation import check_attention_with_cache
from gpt_course.exercises.nb10_gpt2_weights import check_fuse_c_attn
from gpt_course.exercises.nb11_training_glimpse import check_train_step


def run_check(capsys, check, *answer):
    """(the verdict, everything the check printed)."""
    capsys.readouterr()
    ok = check(*answer)
    return bool(ok), capsys.readouterr().out


def verdict_line(out):
    lines = [line for line in out.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def assert_correct(capsys, check, *answer):
    ok, out = run_check(capsys, check, *answer)
    assert verdict_line(out).startswith("Correct!") and ok, out


def assert_not_yet(capsys, check, *answer, says=(), never=()):
    """Not yet; the hint contains each of `says` and none of `never` (the
    mistakes the code does not have)."""
    ok, out = run_check(capsys, check, *answer)
    line = verdict_line(out)
    assert line.startswith("Not yet:") and not ok, out
    for phrase in says:
        assert phrase in line, f"expected {phrase!r} in: {line}"
    for phrase in never:
        assert phrase not in line, f"the hint names a mistake the code does not have ({phrase!r}): {line}"


def lies(reason):
    return pytest.mark.xfail(strict=True, reason=f"check lies: {reason}")


# =================================================================== 05: shortcuts

class ShortcutInit(nn.Module):
    """The skeleton's __init__, kept."""

    def __init__(self, layer_sizes, use_shortcut):
        super().__init__()
        self.use_shortcut = use_shortcut
        self.layers = nn.ModuleList([
            nn.Sequential(nn.Linear(n_in, n_out), GELU())
            for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])
        ])


class ShortcutUnpacksSequential(ShortcutInit):
    """Each Sequential unpacked into its Linear and GELU; shapes via size()."""

    def forward(self, x):
        for linear, act in self.layers:
            out = act(linear(x))
            x = x + out if (self.use_shortcut and out.size() == x.size()) else out
        return x


class ShortcutIndexLoopTorchAdd(ShortcutInit):
    """An index loop, early `continue`, torch.add, another variable name."""

    def forward(self, x):
        h = x
        for i in range(len(self.layers)):
            y = self.layers[i](h)
            if not self.use_shortcut or y.shape != h.shape:
                h = y
                continue
            h = torch.add(h, y)
        return h


class ShortcutReduceHelper(ShortcutInit):
    """functools.reduce over the layers with a helper method."""

    def _apply(self, x, layer):
        out = layer(x)
        return out + x if self.use_shortcut and tuple(out.shape) == tuple(x.shape) else out

    def forward(self, x):
        return functools.reduce(self._apply, self.layers, x)


class ShortcutInPlaceOnFreshOutput(ShortcutInit):
    """`out += x` changes the layer's fresh output, not the input: fine."""

    def forward(self, x):
        for layer in self.layers:
            out = layer(x)
            if self.use_shortcut and out.shape == x.shape:
                out += x
            x = out
        return x


class ShortcutFloat64Sum(ShortcutInit):
    """The addition done in float64, cast back."""

    def forward(self, x):
        for layer in self.layers:
            out = layer(x)
            use = self.use_shortcut and x.shape == out.shape
            x = (x.double() + out.double()).float() if use else out
        return x


@pytest.mark.parametrize("cls", [ShortcutUnpacksSequential, ShortcutIndexLoopTorchAdd,
                                 ShortcutReduceHelper, ShortcutInPlaceOnFreshOutput,
                                 ShortcutFloat64Sum])
def test_shortcut_right_formulations(cls, capsys):
    assert_correct(capsys, check_shortcut_forward, cls)


class ShortcutDetached(ShortcutInit):
    """Right numbers, but the shortcut path is detached: no gradient goes
    around the layers, which is the whole point of a shortcut."""

    def forward(self, x):
        for layer in self.layers:
            out = layer(x)
            x = x.detach() + out if self.use_shortcut and x.shape == out.shape else out
        return x


class ShortcutSkipsFirstLayer(ShortcutInit):
    """Off by one: the first layer never gets its shortcut."""

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            out = layer(x)
            x = x + out if i > 0 and self.use_shortcut and x.shape == out.shape else out
        return x


_SHORTCUT_FORWARD_HINTS = ["before the activation", "no shortcut is added",
                           "even when use_shortcut is False", "original input", "broadcasts",
                           "else: x = layer_output"]


def test_shortcut_detached_is_a_gradient_problem(capsys):
    assert_not_yet(capsys, check_shortcut_forward, ShortcutDetached,
                   says=["gradient"], never=_SHORTCUT_FORWARD_HINTS)


def test_shortcut_skipping_the_first_layer(capsys):
    assert_not_yet(capsys, check_shortcut_forward, ShortcutSkipsFirstLayer,
                   never=_SHORTCUT_FORWARD_HINTS)


# =================================================================== 06: attention

class AttentionInit(nn.Module):
    """The skeleton's __init__, kept."""

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        assert d_out % num_heads == 0, "d_out must be divisible by num_heads"
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


class AttentionSplitStackUnbind(AttentionInit):
    """Heads split with torch.split + stack, merged with unbind + cat; the
    causal mask built in forward with tril (True = may attend); matmul and
    mT; scaled by multiplying with head_dim ** -0.5; F.dropout with
    self.dropout's rate and the module's training flag."""

    def forward(self, x):
        b, n, _ = x.shape

        def heads(t):
            return torch.stack(t.split(self.head_dim, dim=-1), dim=1)  # [b, h, n, hd]

        q, k, v = heads(self.W_query(x)), heads(self.W_key(x)), heads(self.W_value(x))
        scores = torch.matmul(q, k.mT) * self.head_dim ** -0.5
        allowed = torch.ones(n, n, dtype=torch.bool, device=x.device).tril()
        scores = scores.masked_fill(~allowed, float("-inf"))
        weights = F.dropout(F.softmax(scores, dim=-1), p=self.dropout.p, training=self.training)
        context = weights @ v
        return self.out_proj(torch.cat(context.unbind(dim=1), dim=-1))


class AttentionFusedQKVChunk(AttentionInit):
    """One F.linear with the three weights concatenated, then chunk; permute
    and flatten; an in-place fill of the fresh scores with -1e9 (softmax gives
    exactly 0 there too); the weights kept as an attribute for plotting."""

    def forward(self, x):
        b, n, _ = x.shape
        weight = torch.cat([self.W_query.weight, self.W_key.weight, self.W_value.weight])
        bias = (None if self.W_query.bias is None else
                torch.cat([self.W_query.bias, self.W_key.bias, self.W_value.bias]))
        q, k, v = (t.reshape(b, n, self.num_heads, self.head_dim).permute(0, 2, 1, 3)
                   for t in F.linear(x, weight, bias).chunk(3, dim=-1))
        scores = q @ k.transpose(-1, -2)
        scores.masked_fill_(self.mask[:n, :n], -1e9)
        weights = torch.softmax(scores / math.sqrt(self.head_dim), dim=-1)
        weights = self.dropout(weights)
        self.last_attn_weights = weights
        return self.out_proj((weights @ v).permute(0, 2, 1, 3).flatten(2))


class AttentionPerHeadLoop(AttentionInit):
    """A loop over the heads (list comprehensions over slices of the
    projections), the scores stacked so that dropout runs once on all the
    weights, as the notebook says; queries scaled before the dot product;
    the mask value torch.finfo(...).min."""

    def forward(self, x):
        n = x.shape[1]
        hd = self.head_dim
        queries, keys, values = self.W_query(x), self.W_key(x), self.W_value(x)
        parts = [slice(h * hd, (h + 1) * hd) for h in range(self.num_heads)]
        scores = torch.stack([(queries[..., s] / hd ** 0.5) @ keys[..., s].transpose(1, 2)
                              for s in parts], dim=1)
        scores = scores.masked_fill(self.mask[:n, :n], torch.finfo(scores.dtype).min)
        weights = self.dropout(scores.softmax(dim=-1))
        heads = [weights[:, h] @ values[..., s] for h, s in enumerate(parts)]
        return self.out_proj(torch.cat(heads, dim=-1))


class AttentionFloat64Inside(AttentionInit):
    """Scores, softmax and weighted sum in float64, cast back before out_proj;
    the projections as a list comprehension."""

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = [lin(x).double().view(b, n, self.num_heads, self.head_dim).transpose(1, 2)
                   for lin in (self.W_query, self.W_key, self.W_value)]
        scores = q @ k.transpose(2, 3)
        scores = scores.masked_fill(self.mask[:n, :n], -math.inf)
        weights = self.dropout(torch.softmax(scores / math.sqrt(self.head_dim), dim=-1))
        context = (weights @ v).transpose(1, 2).reshape(b, n, self.d_out).float()
        return self.out_proj(context)


class AttentionSDPA(AttentionInit):
    """torch's scaled_dot_product_attention, causal, with the attention
    dropout as its dropout_p in training (on CPU it draws the same mask as
    self.dropout on the weights)."""

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = (lin(x).view(b, n, self.num_heads, self.head_dim).transpose(1, 2)
                   for lin in (self.W_query, self.W_key, self.W_value))
        context = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout.p if self.training else 0.0)
        return self.out_proj(context.transpose(1, 2).reshape(b, n, self.d_out))


class AttentionEinsumTokenMajor(AttentionInit):
    """q, k, v left [b, n, heads, head_dim]; einsum straight to [b, heads, q, k]
    and back; the mask added as a float matrix of 0 and -inf."""

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = (lin(x).view(b, n, self.num_heads, self.head_dim)
                   for lin in (self.W_query, self.W_key, self.W_value))
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.head_dim)
        scores = scores + torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
        weights = self.dropout(scores.softmax(-1))
        context = torch.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, n, self.d_out)
        return self.out_proj(context)


class AttentionScoresTransposed(AttentionInit):
    """The scores computed as keys @ queries^T ([b, h, k, q]), then transposed."""

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = (lin(x).view(b, n, self.num_heads, self.head_dim).transpose(1, 2)
                   for lin in (self.W_query, self.W_key, self.W_value))
        scores = (k @ q.transpose(2, 3)).transpose(2, 3)
        scores = scores.masked_fill(self.mask[:n, :n], -torch.inf)
        weights = self.dropout(torch.softmax(scores / self.head_dim ** 0.5, dim=-1))
        return self.out_proj((weights @ v).transpose(1, 2).reshape(b, n, self.d_out))


class AttentionPerHeadDropout(AttentionPerHeadLoop):
    """The per-head loop, each head's weights through self.dropout on its own:
    the same dropout (p = 0.25 on each weight, independently), drawn in
    another order."""

    def forward(self, x):
        n = x.shape[1]
        hd = self.head_dim
        queries, keys, values = self.W_query(x), self.W_key(x), self.W_value(x)
        heads = []
        for h in range(self.num_heads):
            s = slice(h * hd, (h + 1) * hd)
            scores = queries[..., s] @ keys[..., s].transpose(1, 2) / hd ** 0.5
            scores = scores.masked_fill(self.mask[:n, :n], -torch.inf)
            heads.append(self.dropout(torch.softmax(scores, dim=-1)) @ values[..., s])
        return self.out_proj(torch.cat(heads, dim=-1))


@pytest.mark.parametrize("cls", [AttentionSplitStackUnbind, AttentionFusedQKVChunk,
                                 AttentionPerHeadLoop, AttentionFloat64Inside, AttentionSDPA,
                                 AttentionEinsumTokenMajor, AttentionScoresTransposed])
def test_attention_right_formulations(cls, capsys):
    assert_correct(capsys, check_multi_head_attention, cls)


def test_attention_dropout_drawn_head_by_head_is_told_honestly(capsys):
    """Dropout applied to each head's weights separately is the same dropout drawn in
    another order; the check compares the masks of one seed, so it cannot call it
    Correct, but it says the truth: right in evaluation mode, and why training differs."""
    assert_not_yet(capsys, check_multi_head_attention, AttentionPerHeadDropout,
                   says=["in evaluation mode your output is right", "same dropout masks"])


class AttentionDetachedWeights(AttentionInit):
    """Right numbers, but the attention weights are detached: no gradient
    reaches the queries and keys (W_query and W_key would never learn)."""

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = (lin(x).view(b, n, self.num_heads, self.head_dim).transpose(1, 2)
                   for lin in (self.W_query, self.W_key, self.W_value))
        scores = (q @ k.transpose(2, 3)).masked_fill(self.mask[:n, :n], -torch.inf)
        weights = self.dropout(torch.softmax(scores / self.head_dim ** 0.5, dim=-1)).detach()
        return self.out_proj((weights @ v).transpose(1, 2).reshape(b, n, self.d_out))


class AttentionMaskWithDiagonal(AttentionInit):
    """triu with diagonal=0: each token may not see itself either (the first
    token then sees nothing at all)."""

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = (lin(x).view(b, n, self.num_heads, self.head_dim).transpose(1, 2)
                   for lin in (self.W_query, self.W_key, self.W_value))
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=0)
        scores = (q @ k.transpose(2, 3)).masked_fill(mask, -torch.inf)
        weights = self.dropout(torch.softmax(scores / self.head_dim ** 0.5, dim=-1))
        return self.out_proj((weights @ v).transpose(1, 2).reshape(b, n, self.d_out))


class AttentionDropoutTwice(AttentionInit):
    """self.dropout applied twice to the weights (once in a helper, once again)."""

    def _weights(self, scores):
        return self.dropout(torch.softmax(scores / self.head_dim ** 0.5, dim=-1))

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = (lin(x).view(b, n, self.num_heads, self.head_dim).transpose(1, 2)
                   for lin in (self.W_query, self.W_key, self.W_value))
        scores = (q @ k.transpose(2, 3)).masked_fill(self.mask[:n, :n], -torch.inf)
        weights = self.dropout(self._weights(scores))
        return self.out_proj((weights @ v).transpose(1, 2).reshape(b, n, self.d_out))


_ATTENTION_FORWARD_HINTS = ["output projection is missing", "wrong triangle",
                            "mask is not applied", "set to 0", "after the softmax",
                            "not scaled", "sqrt(d_out)", "divided by head_dim", "wrong dimension",
                            "heads are mixed up"]


def test_attention_detached_weights_is_a_gradient_problem(capsys):
    assert_not_yet(capsys, check_multi_head_attention, AttentionDetachedWeights,
                   says=["gradient"], never=_ATTENTION_FORWARD_HINTS)


def test_attention_mask_with_the_diagonal(capsys):
    assert_not_yet(capsys, check_multi_head_attention, AttentionMaskWithDiagonal,
                   never=_ATTENTION_FORWARD_HINTS)


def test_attention_dropout_twice(capsys):
    assert_not_yet(capsys, check_multi_head_attention, AttentionDropoutTwice,
                   never=_ATTENTION_FORWARD_HINTS + ["dropout is applied to the output",
                                                     "(and nothing else does)"])


# =================================================================== 06: the block

BLOCK_HINTS = ["post-norm", "saved after the LayerNorm", "shortcuts are missing",
               "second shortcut is missing", "first shortcut is missing", "norm1 is used before both",
               "after the shortcut addition", "sub-layer's input", "never applied",
               "but not after the feed forward", "but not after attention"]


class BlockInit(nn.Module):
    """The skeleton's __init__, kept."""

    def __init__(self, cfg):
        super().__init__()
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            context_length=cfg["context_length"],
            num_heads=cfg["n_heads"],
            dropout=cfg["drop_rate"],
            qkv_bias=cfg["qkv_bias"],
        )
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])


class BlockPairLoop(BlockInit):
    """Both sub-layers in one loop over (norm, layer) pairs."""

    def forward(self, x):
        for norm, sublayer in ((self.norm1, self.att), (self.norm2, self.ff)):
            x = x + self.drop_shortcut(sublayer(norm(x)))
        return x


class BlockHelperMethod(BlockInit):
    """A helper for one residual sub-layer; torch.add with the shortcut first."""

    def _residual(self, x, norm, layer):
        return torch.add(x, self.drop_shortcut(layer(norm(x))))

    def forward(self, x):
        h = self._residual(x, self.norm1, self.att)
        return self._residual(h, self.norm2, self.ff)


class BlockCloneAndInPlaceAdd(BlockInit):
    """The shortcut cloned; the addition in place on the sub-layer's fresh
    output (h += residual), never on the input."""

    def forward(self, x):
        residual = x.clone()
        h = self.drop_shortcut(self.att(self.norm1(x)))
        h += residual
        residual = h
        h = self.ff(self.norm2(h))
        h = self.drop_shortcut(h)
        return h + residual


class BlockFloat64Stream(BlockInit):
    """The residual stream kept in float64, each sub-layer run in float32."""

    def forward(self, x):
        stream = x.double()
        stream = stream + self.drop_shortcut(self.att(self.norm1(stream.float()))).double()
        stream = stream + self.drop_shortcut(self.ff(self.norm2(stream.float()))).double()
        return stream.float()


@pytest.mark.parametrize("cls", [BlockPairLoop, BlockHelperMethod, BlockCloneAndInPlaceAdd,
                                 BlockFloat64Stream])
def test_block_right_formulations(cls, capsys):
    assert_correct(capsys, check_transformer_block, cls)


class BlockDetachedShortcut(BlockInit):
    """Right numbers, but the shortcuts are detached: the gradient cannot go
    around the sub-layers."""

    def forward(self, x):
        x = x.detach() + self.drop_shortcut(self.att(self.norm1(x)))
        return x.detach() + self.drop_shortcut(self.ff(self.norm2(x)))


class BlockStaleShortcut(BlockInit):
    """The second shortcut adds the block's input, not the first sub-layer's
    result (`shortcut` not updated between the two)."""

    def forward(self, x):
        shortcut = x
        x = shortcut + self.drop_shortcut(self.att(self.norm1(x)))
        return shortcut + self.drop_shortcut(self.ff(self.norm2(x)))


def test_block_detached_shortcut_is_a_gradient_problem(capsys):
    assert_not_yet(capsys, check_transformer_block, BlockDetachedShortcut,
                   says=["gradient"], never=BLOCK_HINTS)


def test_block_stale_shortcut(capsys):
    assert_not_yet(capsys, check_transformer_block, BlockStaleShortcut, never=BLOCK_HINTS)


# =================================================================== 07: the model

MODEL_HINTS = ["not added", "start at 1", "looked up with the token ids",
               "blocks' output is not used", "final LayerNorm is missing",
               "self.drop_emb is not applied", "token embeddings only"]


class ModelInit(nn.Module):
    """The skeleton's __init__, kept."""

    def __init__(self, cfg):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.Sequential(
            *[TransformerBlock(cfg) for _ in range(cfg["n_layers"])]
        )
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)


class ModelFunctional(ModelInit):
    """F.embedding on the weights, positions expanded over the batch, and
    F.linear for the head."""

    def forward(self, in_idx):
        batch_size, seq_len = in_idx.shape
        pos = torch.arange(seq_len, device=in_idx.device).unsqueeze(0).expand(batch_size, -1)
        x = F.embedding(in_idx, self.tok_emb.weight) + F.embedding(pos, self.pos_emb.weight)
        x = self.trf_blocks(self.drop_emb(x))
        return F.linear(self.final_norm(x), self.out_head.weight)


class ModelOneHotMatmul(ModelInit):
    """Token embeddings as one-hot @ weight; the blocks in a loop over
    children(); the head as x @ weight.T."""

    def forward(self, in_idx):
        seq_len = in_idx.size(1)
        one_hot = F.one_hot(in_idx, self.tok_emb.num_embeddings).to(self.tok_emb.weight.dtype)
        x = one_hot @ self.tok_emb.weight
        x = x + self.pos_emb(torch.arange(0, seq_len, 1, dtype=torch.long))
        x = self.drop_emb(x)
        for block in self.trf_blocks.children():
            x = block(x)
        return self.final_norm(x) @ self.out_head.weight.T


class ModelInPlaceAddIndexLoop(ModelInit):
    """x += pos on the fresh token embeddings; the blocks by index; the
    hidden states kept as an attribute."""

    def forward(self, in_idx):
        _, seq_len = in_idx.shape
        x = self.tok_emb(in_idx)
        x += self.pos_emb(torch.arange(seq_len, device=in_idx.device))
        x = self.drop_emb(x)
        for i in range(len(self.trf_blocks)):
            x = self.trf_blocks[i](x)
        self.last_hidden = self.final_norm(x)
        logits = self.out_head(self.last_hidden)
        return logits


@pytest.mark.parametrize("cls", [ModelFunctional, ModelOneHotMatmul, ModelInPlaceAddIndexLoop])
def test_model_right_formulations(cls, capsys):
    assert_correct(capsys, check_gpt_model_forward, cls)


class ModelReversedPositions(ModelInit):
    """The positions counted backwards, n-1 ... 0."""

    def forward(self, in_idx):
        seq_len = in_idx.shape[1]
        x = self.tok_emb(in_idx) + self.pos_emb(torch.arange(seq_len - 1, -1, -1))
        return self.out_head(self.final_norm(self.trf_blocks(self.drop_emb(x))))


class ModelDetachedTokenEmbeddings(ModelInit):
    """Right logits, but the token embeddings are detached: they never learn."""

    def forward(self, in_idx):
        seq_len = in_idx.shape[1]
        x = self.tok_emb(in_idx).detach() + self.pos_emb(torch.arange(seq_len))
        return self.out_head(self.final_norm(self.trf_blocks(self.drop_emb(x))))


def test_model_reversed_positions(capsys):
    assert_not_yet(capsys, check_gpt_model_forward, ModelReversedPositions, never=MODEL_HINTS)


def test_model_detached_token_embeddings_is_a_gradient_problem(capsys):
    assert_not_yet(capsys, check_gpt_model_forward, ModelDetachedTokenEmbeddings,
                   says=["gradient", "tok_emb"], never=MODEL_HINTS)


# =================================================================== 07: separate dropout (4.3)

def config_by_pop():
    """dict(), del and update() instead of one literal."""
    cfg = dict(GPT_CONFIG_124M)
    del cfg["drop_rate"]
    cfg.update(drop_rate_emb=0.05, drop_rate_attn=0.1, drop_rate_shortcut=0.2)
    return cfg


CONFIG_BY_UNION = {k: v for k, v in GPT_CONFIG_124M.items() if k != "drop_rate"} | {
    "drop_rate_emb": 5e-2, "drop_rate_attn": 1 / 10, "drop_rate_shortcut": 0.2}


class SepBlockReordered(nn.Module):
    """The rates read into locals first; the modules declared in another order."""

    def __init__(self, cfg):
        super().__init__()
        attn_rate, shortcut_rate = cfg["drop_rate_attn"], cfg["drop_rate_shortcut"]
        self.drop_shortcut = nn.Dropout(p=shortcut_rate)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.att = MultiHeadAttention(cfg["emb_dim"], cfg["emb_dim"], cfg["context_length"],
                                      attn_rate, cfg["n_heads"], qkv_bias=cfg["qkv_bias"])
        self.ff = FeedForward(cfg)

    def forward(self, x):  # the book's
        shortcut = x
        x = self.drop_shortcut(self.att(self.norm1(x)))
        x = x + shortcut
        shortcut = x
        x = self.drop_shortcut(self.ff(self.norm2(x)))
        return x + shortcut


class SepModelGet(nn.Module):
    """The rates read with cfg.get(); the blocks built in a loop."""

    block = SepBlockReordered

    def __init__(self, cfg):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg.get("drop_rate_emb"))
        blocks = []
        for _ in range(cfg["n_layers"]):
            blocks.append(self.block(cfg))
        self.trf_blocks = nn.Sequential(*blocks)
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def forward(self, in_idx):  # the book's
        seq_len = in_idx.shape[1]
        x = self.tok_emb(in_idx) + self.pos_emb(torch.arange(seq_len, device=in_idx.device))
        x = self.drop_emb(x)
        x = self.trf_blocks(x)
        return self.out_head(self.final_norm(x))


class SepBlockRatesAsArguments(nn.Module):
    """The block takes its two rates as arguments; it keeps them as attributes."""

    def __init__(self, cfg, attn_rate, shortcut_rate):
        super().__init__()
        self.attn_rate, self.shortcut_rate = attn_rate, shortcut_rate
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"], d_out=cfg["emb_dim"], context_length=cfg["context_length"],
            num_heads=cfg["n_heads"], dropout=attn_rate, qkv_bias=cfg["qkv_bias"])
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(shortcut_rate)

    def forward(self, x):
        x = x + self.drop_shortcut(self.att(self.norm1(x)))
        return x + self.drop_shortcut(self.ff(self.norm2(x)))


class SepModelModuleList(nn.Module):
    """nn.ModuleList of blocks given their rates, and a loop in forward."""

    def __init__(self, cfg):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate_emb"])
        self.trf_blocks = nn.ModuleList([
            SepBlockRatesAsArguments(cfg, cfg["drop_rate_attn"], cfg["drop_rate_shortcut"])
            for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def forward(self, in_idx):
        x = self.drop_emb(self.tok_emb(in_idx) + self.pos_emb.weight[:in_idx.shape[1]])
        for block in self.trf_blocks:
            x = block(x)
        return self.out_head(self.final_norm(x))


class SepBlockRateSetAfter(nn.Module):
    """The skeleton's block with drop_rate_attn everywhere, then the shortcut
    dropout's rate set afterwards."""

    def __init__(self, cfg):
        super().__init__()
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"], d_out=cfg["emb_dim"], context_length=cfg["context_length"],
            num_heads=cfg["n_heads"], dropout=cfg["drop_rate_attn"], qkv_bias=cfg["qkv_bias"])
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate_attn"])
        self.drop_shortcut.p = cfg["drop_rate_shortcut"]

    def forward(self, x):  # the book's
        shortcut = x
        x = self.drop_shortcut(self.att(self.norm1(x)))
        x = x + shortcut
        shortcut = x
        x = self.drop_shortcut(self.ff(self.norm2(x)))
        return x + shortcut


SepModelRateSetAfter = type("SepModelRateSetAfter", (SepModelGet,),
                            {"block": SepBlockRateSetAfter})


@pytest.mark.parametrize("config, model", [
    (config_by_pop(), SepModelGet),
    (CONFIG_BY_UNION, SepModelModuleList),
    ({**GPT_CONFIG_124M, "drop_rate_emb": np.float64(0.05), "drop_rate_attn": 0.1,
      "drop_rate_shortcut": 0.2}, SepModelRateSetAfter),
])
def test_separate_dropout_right_formulations(config, model, capsys):
    assert_correct(capsys, check_separate_dropout, config, model)


class SepBlockHardCoded(SepBlockReordered):
    """The numbers typed into the block instead of read from the config."""

    def __init__(self, cfg):
        super().__init__({**cfg, "drop_rate_attn": 0.1, "drop_rate_shortcut": 0.2})


class SepModelHardCoded(SepModelGet):
    """Reads no dropout key at all: 0.05, 0.1 and 0.2 are typed in. The
    exercise: "change the block and the model so that each dropout reads its
    own rate"; with another config this model keeps its numbers."""

    block = SepBlockHardCoded

    def __init__(self, cfg):
        super().__init__({**cfg, "drop_rate_emb": 0.05})


class SepBlockShortcutUsesAttentionDropout(SepBlockReordered):
    """The rates are in the right modules, but the shortcut path goes through
    the attention's dropout (p = 0.1) instead of drop_shortcut."""

    def forward(self, x):
        x = x + self.att.dropout(self.att(self.norm1(x)))
        return x + self.att.dropout(self.ff(self.norm2(x)))


SepModelWrongModuleUsed = type("SepModelWrongModuleUsed", (SepModelGet,),
                               {"block": SepBlockShortcutUsesAttentionDropout})


class SepBlockDetached(SepBlockReordered):
    def forward(self, x):
        x = x.detach() + self.drop_shortcut(self.att(self.norm1(x)))
        return x.detach() + self.drop_shortcut(self.ff(self.norm2(x)))


SepModelDetached = type("SepModelDetached", (SepModelGet,), {"block": SepBlockDetached})


def test_separate_dropout_hard_coded_rates(capsys):
    assert_not_yet(capsys, check_separate_dropout, config_by_pop(), SepModelHardCoded,
                   says=["other rates", "instead of writing the number in"])


def test_separate_dropout_shortcut_through_the_attention_dropout(capsys):
    assert_not_yet(capsys, check_separate_dropout, config_by_pop(), SepModelWrongModuleUsed,
                   says=["logits differ"])


def test_separate_dropout_detached_is_a_gradient_problem(capsys):
    assert_not_yet(capsys, check_separate_dropout, config_by_pop(), SepModelDetached,
                   says=["gradient"], never=["logits differ", "p ="])


# =================================================================== 08: greedy generation

# the classic mistakes' hints (the general hint, a recipe, mentions keepdim and dim=1 too)
GENERATION_HINTS = ["first position", "crop from the front", "model's own context length",
                    "softmax runs over the batch", "not cropped", "only the new tokens",
                    "overwrite idx", "must have shape [batch, 1]", "argmax runs over the batch",
                    "append the new token along"]


def generate_topk_inference_mode(model, idx, max_new_tokens, context_size):
    """torch.inference_mode, topk(1) for the argmax, cat along dim -1."""
    for _ in range(max_new_tokens):
        with torch.inference_mode():
            logits = model(idx[:, -context_size:])
        idx_next = torch.topk(logits[:, -1, :], k=1, dim=-1).indices
        idx = torch.cat([idx, idx_next], dim=-1)
    return idx


def generate_preallocated(model, idx, max_new_tokens, context_size):
    """The output allocated once and filled in place, the window sliced from it."""
    batch, n = idx.shape
    out = idx.new_empty((batch, n + max_new_tokens))
    out[:, :n] = idx
    for t in range(n, n + max_new_tokens):
        window = out[:, max(0, t - context_size):t]
        with torch.no_grad():
            out[:, t] = model(window)[:, -1].max(dim=-1).indices
    return out


def generate_recursive(model, idx, max_new_tokens, context_size):
    """Recursion, log_softmax, hstack."""
    if max_new_tokens == 0:
        return idx
    with torch.no_grad():
        log_probs = torch.log_softmax(model(idx[:, -context_size:])[:, -1], dim=-1)
    next_ids = log_probs.argmax(dim=-1, keepdim=True)
    return generate_recursive(model, torch.hstack((idx, next_ids)), max_new_tokens - 1,
                              context_size)


def generate_while_column_stack(model, idx, max_new_tokens, context_size):
    """A while loop, unsqueeze instead of keepdim, column_stack; model.eval() first."""
    model.eval()
    generated = 0
    while generated < max_new_tokens:
        cropped = idx[:, -context_size:] if idx.size(1) > context_size else idx
        with torch.no_grad():
            probs = F.softmax(model(cropped)[:, -1, :], dim=1)
        idx = torch.column_stack((idx, probs.argmax(dim=1).unsqueeze(-1)))
        generated += 1
    return idx


def generate_row_by_row(model, idx, max_new_tokens, context_size):
    """Each sequence of the batch generated on its own, then stacked."""
    rows = []
    for row in idx:
        seq = row.unsqueeze(0)
        for _ in range(max_new_tokens):
            with torch.no_grad():
                nxt = model(seq[:, -context_size:])[0, -1].argmax()
            seq = torch.cat([seq, nxt.view(1, 1)], dim=1)
        rows.append(seq[0])
    return torch.stack(rows)


@pytest.mark.parametrize("fn", [generate_topk_inference_mode, generate_preallocated,
                                generate_recursive, generate_while_column_stack,
                                generate_row_by_row])
def test_generation_right_formulations(fn, capsys):
    assert_correct(capsys, check_generate_text_simple, fn)


def generate_crop_one_short(model, idx, max_new_tokens, context_size):
    """Off by one: keeps context_size - 1 tokens."""
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = model(idx[:, -context_size + 1:])
        idx = torch.cat((idx, logits[:, -1].argmax(-1, keepdim=True)), dim=1)
    return idx


def generate_second_to_last(model, idx, max_new_tokens, context_size):
    """Off by one: the logits of the position before the last."""
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = model(idx[:, -context_size:])
        idx = torch.cat((idx, logits[:, -2].argmax(-1, keepdim=True)), dim=1)
    return idx


@pytest.mark.parametrize("fn", [generate_crop_one_short, generate_second_to_last])
def test_generation_off_by_ones(fn, capsys):
    assert_not_yet(capsys, check_generate_text_simple, fn, never=GENERATION_HINTS)


# =================================================================== 09: the KV cache

CACHE_HINTS = ["own new tokens only", "value cache holds keys", "mask starts at position 0",
               "mask is left out", "no causal mask", "not scaled"]


class CacheInit(nn.Module):
    """The skeleton's __init__ and reset_cache, kept."""

    def __init__(self, att):
        super().__init__()
        self.W_query, self.W_key, self.W_value = att.W_query, att.W_key, att.W_value
        self.out_proj = att.out_proj
        self.register_buffer("mask", att.mask, persistent=False)
        self.num_heads, self.head_dim, self.d_out = att.num_heads, att.head_dim, att.d_out
        self.cache_k = None
        self.cache_v = None

    def reset_cache(self):
        self.cache_k = self.cache_v = None

    def heads(self, t):
        b, n, _ = t.shape
        return t.reshape(b, n, self.num_heads, self.head_dim).permute(0, 2, 1, 3)


class CacheSDPA(CacheInit):
    """scaled_dot_product_attention with a boolean mask (True = may attend),
    the cache grown along dim=-2."""

    def forward(self, x):
        b, num_new, _ = x.shape
        start = 0 if self.cache_k is None else self.cache_k.shape[2]
        end = start + num_new
        q, k, v = self.heads(self.W_query(x)), self.heads(self.W_key(x)), self.heads(self.W_value(x))
        self.cache_k = k if self.cache_k is None else torch.cat((self.cache_k, k), dim=-2)
        self.cache_v = v if self.cache_v is None else torch.cat((self.cache_v, v), dim=-2)
        allowed = ~self.mask[start:end, :end]
        context = F.scaled_dot_product_attention(q, self.cache_k, self.cache_v, attn_mask=allowed)
        return self.out_proj(context.transpose(1, 2).reshape(b, num_new, self.d_out))


class CacheEinsumPositions(CacheInit):
    """einsum, and the mask made from the positions (key position > query
    position), filled with finfo.min."""

    def forward(self, x):
        b, num_new, _ = x.shape
        start = 0 if self.cache_k is None else self.cache_k.shape[2]
        end = start + num_new
        q, k, v = (self.heads(lin(x)) for lin in (self.W_query, self.W_key, self.W_value))
        if self.cache_k is not None:
            k = torch.cat([self.cache_k, k], dim=2)
            v = torch.cat([self.cache_v, v], dim=2)
        self.cache_k, self.cache_v = k, v
        scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(self.head_dim)
        future = torch.arange(end)[None, :] > torch.arange(start, end)[:, None]
        scores = scores.masked_fill(future, torch.finfo(scores.dtype).min)
        context = torch.einsum("bhqk,bhkd->bqhd", scores.softmax(-1), v)
        return self.out_proj(context.reshape(b, num_new, self.d_out))


class CachePreallocated(CacheInit):
    """A buffer for the whole context allocated on the first call and filled
    in place (as real KV caches do); cache_k is the filled part of it."""

    def forward(self, x):
        b, num_new, _ = x.shape
        start = 0 if self.cache_k is None else self.cache_k.shape[2]
        end = start + num_new
        if start == 0:
            shape = (b, self.num_heads, self.mask.shape[0], self.head_dim)
            self.k_buffer, self.v_buffer = x.new_zeros(shape), x.new_zeros(shape)
        self.k_buffer[:, :, start:end] = self.heads(self.W_key(x))
        self.v_buffer[:, :, start:end] = self.heads(self.W_value(x))
        self.cache_k, self.cache_v = self.k_buffer[:, :, :end], self.v_buffer[:, :, :end]
        scores = self.heads(self.W_query(x)) @ self.cache_k.transpose(-1, -2)
        scores.masked_fill_(self.mask[start:end, :end], -torch.inf)
        weights = torch.softmax(scores * self.head_dim ** -0.5, dim=-1)
        context = (weights @ self.cache_v).transpose(1, 2).contiguous()
        return self.out_proj(context.view(b, num_new, self.d_out))


class CacheFloat64ListOfChunks(CacheInit):
    """The chunks kept in lists and concatenated each call; the attention in float64."""

    def forward(self, x):
        b, num_new, _ = x.shape
        if self.cache_k is None:
            self.k_parts, self.v_parts = [], []
        start = sum(part.shape[2] for part in self.k_parts)
        end = start + num_new
        self.k_parts.append(self.heads(self.W_key(x)).double())
        self.v_parts.append(self.heads(self.W_value(x)).double())
        self.cache_k, self.cache_v = torch.cat(self.k_parts, 2), torch.cat(self.v_parts, 2)
        q = self.heads(self.W_query(x)).double()
        scores = (q @ self.cache_k.transpose(2, 3)).masked_fill(self.mask[start:end, :end],
                                                               float("-inf"))
        weights = torch.softmax(scores / self.head_dim ** 0.5, dim=-1)
        context = (weights @ self.cache_v).transpose(1, 2).reshape(b, num_new, self.d_out)
        return self.out_proj(context.float())


@pytest.mark.parametrize("cls", [CacheSDPA, CacheEinsumPositions, CachePreallocated,
                                 CacheFloat64ListOfChunks])
def test_cache_right_formulations(cls, capsys):
    assert_correct(capsys, check_attention_with_cache, cls)


class CacheScaledByDOut(CacheSDPA):
    """Scaled by sqrt(d_out) instead of sqrt(head_dim)."""

    def forward(self, x):
        b, num_new, _ = x.shape
        start = 0 if self.cache_k is None else self.cache_k.shape[2]
        end = start + num_new
        q, k, v = self.heads(self.W_query(x)), self.heads(self.W_key(x)), self.heads(self.W_value(x))
        self.cache_k = k if self.cache_k is None else torch.cat((self.cache_k, k), dim=2)
        self.cache_v = v if self.cache_v is None else torch.cat((self.cache_v, v), dim=2)
        scores = (q @ self.cache_k.transpose(2, 3)).masked_fill(self.mask[start:end, :end],
                                                               -torch.inf)
        weights = torch.softmax(scores / self.d_out ** 0.5, dim=-1)
        context = (weights @ self.cache_v).transpose(1, 2).reshape(b, num_new, self.d_out)
        return self.out_proj(context)


class CacheSoftmaxOverQueries(CacheScaledByDOut):
    """The softmax over the new queries (dim=-2) instead of the keys."""

    def forward(self, x):
        b, num_new, _ = x.shape
        start = 0 if self.cache_k is None else self.cache_k.shape[2]
        end = start + num_new
        q, k, v = self.heads(self.W_query(x)), self.heads(self.W_key(x)), self.heads(self.W_value(x))
        self.cache_k = k if self.cache_k is None else torch.cat((self.cache_k, k), dim=2)
        self.cache_v = v if self.cache_v is None else torch.cat((self.cache_v, v), dim=2)
        scores = (q @ self.cache_k.transpose(2, 3)).masked_fill(self.mask[start:end, :end],
                                                               -torch.inf)
        weights = torch.softmax(scores / self.head_dim ** 0.5, dim=-2)
        context = (weights @ self.cache_v).transpose(1, 2).reshape(b, num_new, self.d_out)
        return self.out_proj(context)


class CacheListsSurviveReset(CacheInit):
    """Keys and values kept in lists created on first use; the skeleton's
    reset_cache() empties cache_k and cache_v but not the lists, so after a
    reset (generate_text_cached calls it before every prompt) the old
    prompt's keys stay in the cache and the next call fails or attends to them."""

    def forward(self, x):
        b, num_new, _ = x.shape
        start = 0 if self.cache_k is None else self.cache_k.shape[2]
        end = start + num_new
        if not hasattr(self, "k_list"):
            self.k_list, self.v_list = [], []
        self.k_list.append(self.heads(self.W_key(x)))
        self.v_list.append(self.heads(self.W_value(x)))
        self.cache_k, self.cache_v = torch.cat(self.k_list, dim=2), torch.cat(self.v_list, dim=2)
        scores = self.heads(self.W_query(x)) @ self.cache_k.transpose(2, 3)
        scores = scores.masked_fill(self.mask[start:end, :end], -torch.inf)
        weights = torch.softmax(scores / self.head_dim ** 0.5, dim=-1)
        context = (weights @ self.cache_v).transpose(1, 2).reshape(b, num_new, self.d_out)
        return self.out_proj(context)


def test_lists_surviving_reset_break_the_second_prompt():
    """What the learner meets in generate_text_cached: after reset_cache() a
    new prompt raises (the old keys are still there)."""
    from gpt_course.exercises.nb09_faster_generation import _attention
    layer = CacheListsSurviveReset(_attention())
    x = torch.randn(1, 3, 12)
    with torch.no_grad():
        layer(x)
        layer.reset_cache()
        with pytest.raises(RuntimeError):
            layer(x)


def test_cache_that_survives_reset_is_not_yet(capsys):
    assert_not_yet(capsys, check_attention_with_cache, CacheListsSurviveReset,
                   says=["after reset_cache()"])


@pytest.mark.parametrize("cls", [CacheScaledByDOut, CacheSoftmaxOverQueries])
def test_cache_subtle_mistakes(cls, capsys):
    assert_not_yet(capsys, check_attention_with_cache, cls, never=CACHE_HINTS)


# =================================================================== 10: fusing c_attn

FUSE_HINTS = ["nn.Linear's [out, in] layout", "regroups the numbers", "wrong order",
              "every part is the query"]


def fuse_hstack(W_query, W_key, W_value):
    return torch.hstack([w.t() for w in (W_query, W_key, W_value)])


def fuse_einsum(W_query, W_key, W_value):
    stacked = torch.stack([W_query, W_key, W_value])  # [3, out, in]
    return torch.einsum("poi->ipo", stacked).reshape(W_query.shape[1], -1)


def fuse_preallocated(W_query, W_key, W_value):
    d = W_query.shape[0]
    fused = torch.empty(d, 3 * d, dtype=W_query.dtype)
    for i, w in enumerate((W_query, W_key, W_value)):
        fused[:, i * d:(i + 1) * d] = w.T
    return fused


def fuse_column_stack_mT(W_query, W_key, W_value):
    return torch.column_stack((W_query.mT, W_key.mT, W_value.mT))


@pytest.mark.parametrize("fn", [fuse_hstack, fuse_einsum, fuse_preallocated,
                                fuse_column_stack_mT])
def test_fuse_right_formulations(fn, capsys):
    assert_correct(capsys, check_fuse_c_attn, fn)


def fuse_detached(W_query, W_key, W_value):
    """Detached first, as the package's own course_to_hf_state_dict does: a
    weight-layout conversion for saving, never trained through."""
    return torch.cat([w.detach().T for w in (W_query, W_key, W_value)], dim=1)


def fuse_numpy(W_query, W_key, W_value):
    """numpy's concatenate (after .detach(): the plug-in cell passes Parameters)."""
    return torch.from_numpy(np.concatenate(
        [w.detach().numpy().T for w in (W_query, W_key, W_value)], axis=1))


def fuse_under_no_grad(W_query, W_key, W_value):
    with torch.no_grad():
        return torch.cat([W_query, W_key, W_value]).T.contiguous()


@pytest.mark.parametrize("fn", [fuse_detached, fuse_numpy, fuse_under_no_grad])
def test_fuse_without_a_graph_is_right(fn, capsys):
    assert_correct(capsys, check_fuse_c_attn, fn)


def fuse_interleaved(W_query, W_key, W_value):
    """Stacked along a new last dimension: the columns go q0 k0 v0 q1 k1 v1 ..."""
    d = W_query.shape[0]
    return torch.stack([W_query.T, W_key.T, W_value.T], dim=2).reshape(d, 3 * d)


def fuse_only_query_transposed(W_query, W_key, W_value):
    return torch.cat([W_query.T, W_key, W_value], dim=1)


@pytest.mark.parametrize("fn", [fuse_interleaved, fuse_only_query_transposed])
def test_fuse_subtle_mistakes(fn, capsys):
    assert_not_yet(capsys, check_fuse_c_attn, fn, never=FUSE_HINTS)


# =================================================================== 11: one training step

TRAIN_HINTS = ["zero_grad() is missing", "step() is missing", "backward() is missing",
               "zero_grad() runs between", "sum over all positions", "classes in dimension 1",
               "different orders", "compares the logits with the input", "already shifted",
               "raw logits"]


def step_criterion_module(model, optimizer, input_batch, target_batch):
    """nn.CrossEntropyLoss, view(-1, ...), zero_grad(set_to_none=True), loss.item()."""
    criterion = nn.CrossEntropyLoss()
    optimizer.zero_grad(set_to_none=True)
    logits = model(input_batch)
    loss = criterion(logits.view(-1, logits.size(-1)), target_batch.view(-1))
    loss.backward()
    optimizer.step()
    return loss.item()


def step_per_window_mean(model, optimizer, input_batch, target_batch):
    """The mean of each window's loss (the windows have one length, so it is
    the mean over all positions); model.zero_grad() after the forward pass."""
    logits = model(input_batch)
    loss = torch.stack([F.cross_entropy(window, targets)
                        for window, targets in zip(logits, target_batch)]).mean()
    model.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def step_nll_grads_to_none(model, optimizer, input_batch, target_batch):
    """Gradients set to None by hand; nll_loss of log_softmax; autograd.backward."""
    for p in model.parameters():
        p.grad = None
    log_probs = F.log_softmax(model(input_batch), dim=-1)
    loss = F.nll_loss(log_probs.reshape(-1, log_probs.shape[-1]), target_batch.reshape(-1))
    torch.autograd.backward(loss)
    optimizer.step()
    return loss.detach()


def step_manual_sgd(model, optimizer, input_batch, target_batch):
    """The SGD update written out from the optimizer's own learning rate."""
    optimizer.zero_grad()
    loss = F.cross_entropy(model(input_batch).flatten(end_dim=1), target_batch.flatten())
    loss.backward()
    with torch.no_grad():
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p -= group["lr"] * p.grad
    return loss


def step_sum_over_count(model, optimizer, input_batch, target_batch):
    """The mean written as the sum over the number of targets; the loss in float64."""
    optimizer.zero_grad()
    logits = model(input_batch).double()
    loss = F.cross_entropy(logits.flatten(0, 1), target_batch.flatten(), reduction="sum")
    loss = loss / target_batch.numel()
    loss.backward()
    optimizer.step()
    return loss


@pytest.mark.parametrize("fn", [step_criterion_module, step_per_window_mean,
                                step_nll_grads_to_none, step_manual_sgd, step_sum_over_count])
def test_train_step_right_formulations(fn, capsys):
    assert_correct(capsys, check_train_step, fn)


def step_before_backward(model, optimizer, input_batch, target_batch):
    """optimizer.step() is there, but before loss.backward(): it steps on the
    gradients zero_grad just cleared."""
    optimizer.zero_grad()
    loss = F.cross_entropy(model(input_batch).flatten(0, 1), target_batch.flatten())
    optimizer.step()
    loss.backward()
    return loss


def step_backward_twice(model, optimizer, input_batch, target_batch):
    """loss.backward() twice: every gradient doubled."""
    optimizer.zero_grad()
    loss = F.cross_entropy(model(input_batch).flatten(0, 1), target_batch.flatten())
    loss.backward(retain_graph=True)
    loss.backward()
    optimizer.step()
    return loss


def test_train_step_step_before_backward(capsys):
    """The same run as no step at all: the hint must say both (since fb9de76)."""
    assert_not_yet(capsys, check_train_step, step_before_backward,
                   says=["runs before loss.backward()"],
                   never=[h for h in TRAIN_HINTS if h != "step() is missing"])


def test_train_step_backward_twice(capsys):
    assert_not_yet(capsys, check_train_step, step_backward_twice, never=TRAIN_HINTS)
