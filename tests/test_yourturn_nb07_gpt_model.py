"""Notebook 07's "your turn" exercises: the learner writes GPTModel.forward,
and (the book's exercise 4.3) a config with a dropout rate per place and a
model that reads it.

The hidden solutions and the skeletons are read from the notebook itself and
run through the real checks; each classic mistake, written here as a small
wrong class or config, gets its own hint; whatever a check is given, it says
"Not yet" and never raises."""


import pytest
import torch
import torch.nn as nn

from gpt_course import (
    GPT_CONFIG_124M, FeedForward, GPTModel, LayerNorm, MultiHeadAttention, TransformerBlock,
)
from gpt_course.exercises.nb07_gpt_model import (
    DROPOUT_RATES, MODEL_CONFIG, check_gpt_model_forward, check_separate_dropout,
)
from solutions import cell_source, run_cell, skeleton_code, solution_code

NOTEBOOK = "07_gpt_model"


def _cell(cell_id):
    return cell_source(NOTEBOOK, cell_id)


def test_separate_dropout_skeleton_says_not_yet():
    """Exercise 4.3's skeleton runs (it is the book's code with one rate): the
    check asks for the three keys."""
    skeleton = _cell("ex2")
    assert "TODO" in skeleton and "check_separate_dropout(" in skeleton
    out = run_cell(NOTEBOOK, skeleton)
    assert out.startswith("Not yet:") and "'drop_rate_emb'" in out, out


def test_plug_in_cell_gives_the_books_logits():
    """The notebook's own cells, with the hidden solution in place of the
    skeleton: built after torch.manual_seed(123), the learner's model prints
    the book's logits (first call, training mode, dropout included)."""
    setup = _cell("batch") + "\n" + _cell("build") + "\n"
    plug = _cell("plug")
    skeleton = skeleton_code(NOTEBOOK, "check_gpt_model_forward")
    assert "Not yet: write MyGPTModel.forward" in run_cell(NOTEBOOK, setup + skeleton + "\n" + plug)
    solved = solution_code(NOTEBOOK, "check_gpt_model_forward")
    out = run_cell(NOTEBOOK, setup + solved + "\n" + plug)
    assert "the same logits as the course's model, the book's: True" in out, out
    assert "your first row: tensor([ 0.3613,  0.4222, -0.0711])" in out, out


# ------------------------------------------------------------ the model

class Model(nn.Module):
    """The skeleton's __init__ (the book's); a forward a learner might write,
    with one switch per classic mistake."""
    mistake = None

    def __init__(self, cfg):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.Sequential(*[TransformerBlock(cfg) for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def forward(self, in_idx):
        m = self.mistake
        n = in_idx.shape[1]
        x = self.tok_emb(in_idx)
        if m == "drop_tokens_only":
            x = self.drop_emb(x)
        if m == "pos_from_one":
            x = x + self.pos_emb(torch.arange(1, n + 1))
        elif m == "pos_token_ids":
            x = x + self.pos_emb(in_idx)
        elif m != "no_pos":
            x = x + self.pos_emb.weight[:n]  # the same rows as pos_emb(arange(n))
        if m == "drop_unused":
            self.drop_emb(x)
        elif m not in ("no_dropout", "drop_tokens_only"):
            x = self.drop_emb(x)
        if m == "blocks_unused":
            self.trf_blocks(x)
        else:
            for block in self.trf_blocks:
                x = block(x)
        if m != "no_final_norm":
            x = self.final_norm(x)
        return self.out_head(x)


def model_with(mistake):
    return type(f"Model_{mistake}", (Model,), {"mistake": mistake})


def test_right_model_is_correct(capsys):
    assert check_gpt_model_forward(Model)
    assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("mistake, hint", [
    ("no_pos", "the position embeddings are not added"),
    ("pos_from_one", "the position ids start at 1"),
    ("pos_token_ids", "looked up with the token ids"),
    ("blocks_unused", "the transformer blocks' output is not used"),
    ("no_final_norm", "the final LayerNorm is missing"),
    ("no_dropout", "self.drop_emb is not applied"),
    ("drop_unused", "self.drop_emb is not applied (or its result is not kept)"),
    ("drop_tokens_only", "dropout is applied to the token embeddings only"),
])
def test_each_model_mistake_gets_its_hint(mistake, hint, capsys):
    assert not check_gpt_model_forward(model_with(mistake))
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


def test_unknown_model_mistake_gets_the_difference_and_the_general_hint(capsys):
    class Scaled(Model):
        def forward(self, in_idx):
            return super().forward(in_idx) * 1.5

    assert not check_gpt_model_forward(Scaled)
    out = capsys.readouterr().out
    assert "differs from the course's" in out and "each on the result of the one before" in out


class ModelInitRaises(Model):
    def __init__(self, cfg):
        super().__init__({**cfg, "emb_dim": "12"})


class ModelForwardRaises(Model):
    def forward(self, in_idx):
        # positions past the end of the position embedding
        x = self.tok_emb(in_idx) + self.pos_emb(torch.arange(in_idx.shape[1]) + 24)
        return self.out_head(self.final_norm(self.trf_blocks(x)))


class ModelAllPositions(Model):
    def forward(self, in_idx):
        # every position of the context, whatever the input's length: broadcasts to 24 rows
        x = self.tok_emb(in_idx) + self.pos_emb(torch.arange(MODEL_CONFIG["context_length"]))
        return self.out_head(self.final_norm(self.trf_blocks(x)))


class ModelLastPositionOnly(Model):
    def forward(self, in_idx):
        return super().forward(in_idx)[:, -1, :]


class ModelReturnsIds(Model):
    def forward(self, in_idx):
        return super().forward(in_idx).argmax(dim=-1, keepdim=True).expand(-1, -1, 24)


class ModelReturnsNone(Model):
    def forward(self, in_idx):
        super().forward(in_idx)


class ModelReturnsNan(Model):
    def forward(self, in_idx):
        return super().forward(in_idx).log() * 0 + float("nan")


class ModelWithoutFinalNorm(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])


@pytest.mark.parametrize("answer, said", [
    (None, "No answer yet"),
    (3, "pass your GPTModel class"),
    (Model(dict(MODEL_CONFIG)), "pass the class itself"),
    (GPTModel, "that is the course's GPTModel"),
    (ModelInitRaises, "building your GPTModel failed: TypeError"),
    (ModelForwardRaises, "raised IndexError: index out of range"),
    (ModelAllPositions, "your output has shape [1, 24, 24], expected [1, 1, 24]"),
    (ModelLastPositionOnly, "your output has shape [1, 24], expected [1, 1, 24]"),
    (ModelReturnsIds, "dtype torch.int64"),
    (ModelReturnsNone, "returned NoneType"),
    (ModelReturnsNan, "NaN at index"),
    (ModelWithoutFinalNorm, "do not match the course's"),
])
def test_model_crash_battery_says_not_yet(answer, said, capsys):
    assert not check_gpt_model_forward(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:" if said != "No answer yet" else said) and said in out, out


# ------------------------------------------- exercise 4.3: separate dropout

SEPARATE_CONFIG = {**{k: v for k, v in GPT_CONFIG_124M.items() if k != "drop_rate"},
                   **DROPOUT_RATES}


class SepBlock(nn.Module):
    """The book's solution to exercise 4.3 (block), `keys` saying which
    config key each dropout reads."""
    keys = {"attn": "drop_rate_attn", "shortcut": "drop_rate_shortcut"}

    def __init__(self, cfg):
        super().__init__()
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"], d_out=cfg["emb_dim"], context_length=cfg["context_length"],
            num_heads=cfg["n_heads"], dropout=cfg[self.keys["attn"]], qkv_bias=cfg["qkv_bias"],
        )
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg[self.keys["shortcut"]])

    def forward(self, x):
        x = x + self.drop_shortcut(self.att(self.norm1(x)))
        return x + self.drop_shortcut(self.ff(self.norm2(x)))


class SepModel(nn.Module):
    """The book's solution to exercise 4.3 (model)."""
    emb_key = "drop_rate_emb"
    block = SepBlock

    def __init__(self, cfg):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg[self.emb_key])
        self.trf_blocks = nn.Sequential(*[self.block(cfg) for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def forward(self, in_idx):
        n = in_idx.shape[1]
        x = self.drop_emb(self.tok_emb(in_idx) + self.pos_emb(torch.arange(n)))
        return self.out_head(self.final_norm(self.trf_blocks(x)))


def sep_model(emb="drop_rate_emb", attn="drop_rate_attn", shortcut="drop_rate_shortcut"):
    block = type("Block", (SepBlock,), {"keys": {"attn": attn, "shortcut": shortcut}})
    return type("Model", (SepModel,), {"emb_key": emb, "block": block})


class EmbeddingDropoutTwice(SepModel):
    def forward(self, in_idx):
        n = in_idx.shape[1]
        x = self.drop_emb(self.drop_emb(self.tok_emb(in_idx) + self.pos_emb(torch.arange(n))))
        return self.out_head(self.final_norm(self.trf_blocks(x)))


class RenamedDropout(SepModel):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.dropout_emb = self.drop_emb
        del self.drop_emb


class NeedsAnotherKey(SepModel):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.extra = cfg["n_embd"]


class InitFails(SepModel):
    def __init__(self, cfg):
        raise RuntimeError("half-written")


def test_separate_dropout_right(capsys):
    assert check_separate_dropout(SEPARATE_CONFIG, SepModel)
    # keeping "drop_rate" in the config is fine too, as long as the model does not read it
    assert check_separate_dropout({**GPT_CONFIG_124M, **DROPOUT_RATES}, SepModel)
    out = capsys.readouterr().out
    assert out.count("Correct!") == 2 and "0.05 on the embeddings" in out


@pytest.mark.parametrize("config, model, hint", [
    (dict(GPT_CONFIG_124M), SepModel, "no 'drop_rate_emb', 'drop_rate_attn', 'drop_rate_shortcut'"),
    ({**GPT_CONFIG_124M, "drop_rate_emb": 0.05}, SepModel, "no 'drop_rate_attn'"),
    ({**SEPARATE_CONFIG, "drop_rate_attn": 0.3}, SepModel,
     "config['drop_rate_attn'] is 0.3; the exercise asks for 0.1 on the attention weights"),
    ({**SEPARATE_CONFIG, "drop_rate_emb": 0.2, "drop_rate_shortcut": 0.05}, SepModel,
     "the rates are in the wrong places"),
    ({**SEPARATE_CONFIG, "drop_rate_attention": 0.1}, SepModel, "that no model reads"),
    ({**SEPARATE_CONFIG, "emb_dim": 1024}, SepModel, "keep the other keys of GPT_CONFIG_124M"),
    ({**SEPARATE_CONFIG, "qkv_bias": 0}, SepModel, "config['qkv_bias'] should be False"),
    ({**SEPARATE_CONFIG, "drop_rate_emb": "0.05"}, SepModel, "should be a dropout probability"),
    ({**SEPARATE_CONFIG, "drop_rate_emb": float("nan")}, SepModel, "dropout probability"),
    ({**SEPARATE_CONFIG, "drop_rate_emb": 1.5}, SepModel, "dropout probability"),
    ({**SEPARATE_CONFIG, 5: 0.1}, SepModel, "keys are strings"),
    ([("drop_rate_emb", 0.05)], SepModel, "the first argument is your config"),
    (SEPARATE_CONFIG, sep_model(emb="drop_rate"), "your model still reads cfg['drop_rate']"),
    (SEPARATE_CONFIG, sep_model(attn="drop_rate_shortcut"),
     "trf_blocks[0].att.dropout has p = 0.2, the rate of 'drop_rate_shortcut'"),
    (SEPARATE_CONFIG, sep_model(emb="drop_rate_attn"),
     "drop_emb has p = 0.1, the rate of 'drop_rate_attn'"),
    (SEPARATE_CONFIG, sep_model(shortcut="drop_rate_emb"),
     "trf_blocks[0].drop_shortcut has p = 0.05"),
    (SEPARATE_CONFIG, RenamedDropout, "no nn.Dropout at drop_emb"),
    (SEPARATE_CONFIG, NeedsAnotherKey, "raised KeyError: 'n_embd'"),
    (SEPARATE_CONFIG, InitFails, "raised RuntimeError: half-written"),
    (SEPARATE_CONFIG, EmbeddingDropoutTwice, "in training mode the logits differ"),
    (SEPARATE_CONFIG, GPTModel, "that is the course's GPTModel"),
    (SEPARATE_CONFIG, SepModel({**SEPARATE_CONFIG, "vocab_size": 10, "emb_dim": 12, "n_heads": 3, "n_layers": 1}), "pass the class itself"),
    (SEPARATE_CONFIG, None, "pass your model class too"),
    (SEPARATE_CONFIG, 3, "the second argument is your model class"),
    (SEPARATE_CONFIG, nn.Linear, "building your model from your config raised"),
])
def test_separate_dropout_hints(config, model, hint, capsys):
    assert not check_separate_dropout(config, model)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


def test_separate_dropout_no_answer_yet(capsys):
    assert not check_separate_dropout(None, None)
    assert not check_separate_dropout(None)
    assert capsys.readouterr().out.count("No answer yet") == 2
