"""Exercise checks for notebook 07 (the full GPT model): the learner's own
GPTModel.forward, the book's exercises 4.2 (GPT-2 sizes) and 4.3 (separate
dropout rates, in the learner's own config and model), and one question on
the position embedding."""

import inspect

import torch
import torch.nn as nn

from ..book.nb07_gpt_model import GPTModel
from ..config import GPT_CONFIG_124M, OPTIONAL_DROPOUT_KEYS, REQUIRED_KEYS
from ..language import tr
from .sandbox import teacher
from .base import (
    NotYet, Verdict, answer_check, as_float, as_int, describe_exception, no_answer_yet, report,
)
from .code_check import Case, Mistake, check_module, in_eval, in_training

# Book, exercise 4.2: parameters (untied output head) and float32 memory in
# the book's "MB" (MiB: bytes / 1024**2).
GPT2_SIZES = {
    "medium": (406_212_608, 1549.58),
    "large": (838_220_800, 3197.56),
    "xl": (1_637_792_000, 6247.68),
}
# Tied counts (output head sharing tok_emb): a common near miss.
TIED_SIZES = {"medium": 354_749_440, "large": 773_891_840, "xl": 1_557_380_800}

# Exercise 4.3: the dropout rates the learner's config and model must use.
DROPOUT_RATES = {"drop_rate_emb": 0.05, "drop_rate_attn": 0.1, "drop_rate_shortcut": 0.2}
_PLACES = {"drop_rate_emb": "the embeddings", "drop_rate_attn": "the attention weights",
           "drop_rate_shortcut": "the shortcut paths"}


def _size_key(key):
    """'medium', 'large' or 'xl' for a key that names one GPT-2 size, else None."""
    found = [size for size in GPT2_SIZES if size in key.lower()]
    return found[0] if len(found) == 1 else None


def read_gpt2_sizes(answer):
    """{"medium": (params, mb), "large": ..., "xl": ...} from a dict keyed by
    names that contain medium / large / xl (other keys, e.g. gpt2-small, are
    ignored); None if it is not a dict. Raises NotYet saying what is wrong
    with an entry."""
    if not isinstance(answer, dict):
        return None
    given = {}
    for key, value in answer.items():
        if not isinstance(key, str):
            raise NotYet(tr("the keys are model names like 'gpt2-medium', got {key!r}", key=key))
        size = _size_key(key)
        if size is None:
            continue  # e.g. gpt2-small: allowed, not checked
        if size in given:
            raise NotYet(tr("two entries for gpt2-{size}; give one", size=size))
        pair = value if isinstance(value, (tuple, list)) else None
        if pair is None or len(pair) != 2:
            raise NotYet(tr("the value for {key!r} should be a pair (params, mb)", key=key))
        params, mb = as_int(pair[0]), as_float(pair[1])
        if params is None:
            raise NotYet(tr("{key!r}: the parameter count should be one whole number, got "
                            "{value!r:.60}", key=key, value=pair[0]))
        if mb is None:
            raise NotYet(tr("{key!r}: the memory should be one finite number of MB, got "
                            "{value!r:.60}", key=key, value=pair[1]))
        given[size] = (params, mb)
    missing = [size for size in GPT2_SIZES if size not in given]
    if missing:
        raise NotYet(tr("no entry for {missing}; the keys of GPT2_CONFIGS work",
                        missing=", ".join("gpt2-" + m for m in missing)))
    return given


@answer_check(read_gpt2_sizes, "give a dict like {'gpt2-medium': (params, mb), "
              "'gpt2-large': (...), 'gpt2-xl': (...)}")
def check_gpt2_sizes(given):
    """Exercise 4.2: {"gpt2-medium": (params, MB), "gpt2-large": ..., "gpt2-xl": ...}."""
    for size, (params, mb) in given.items():
        want_params, want_mb = GPT2_SIZES[size]
        if params == TIED_SIZES[size]:
            raise NotYet(tr("gpt2-{size}: {params:,} is the weight-tied count; the book counts "
                            "the output head separately, as in the 163,009,536 of GPT-2 small.",
                            size=size, params=params))
        if params != want_params:
            raise NotYet(tr("gpt2-{size}: {params:,} parameters is not right; build the config "
                            "on the meta device and count its parameters.",
                            size=size, params=params))
        if abs(mb - want_params * 4 / 1e6) <= 0.01:
            raise NotYet(tr("gpt2-{size}: {mb:.2f} is in SI megabytes (10**6 bytes); the book "
                            "divides the bytes by 1024**2 (MiB).", size=size, mb=mb))
        if abs(mb - want_params * 2 / 1024**2) <= 0.01:
            raise NotYet(tr("gpt2-{size}: {mb:.2f} MB is 2 bytes per parameter; float32 takes 4.",
                            size=size, mb=mb))
        if abs(mb - want_mb) > 0.011:
            raise NotYet(tr("gpt2-{size}: {mb:.2f} MB is not right; memory is params x 4 bytes "
                            "(float32), divided by 1024**2.", size=size, mb=mb))
    return ("medium 406,212,608 / 1549.58 MB, large 838,220,800 / 3197.56 MB, xl "
            "1,637,792,000 / 6247.68 MB: width and depth grow, and memory grows with the "
            "parameters.")


@answer_check(as_int, "give one whole number")
def check_position_params(count):
    """Own exercise: parameters of GPT-2 XL's position embedding (GPT-2
    small's, 1024 x 768 = 786,432, is printed in the notebook)."""
    if count == 1024 * 768:
        raise NotYet("786,432 is GPT-2 small's (emb_dim 768); in GPT-2 XL each position's "
                     "vector has emb_dim = 1600 numbers.")
    if count == 50257 * 1600:
        raise NotYet("that is the token embedding (one row per vocabulary entry); positions go "
                     "up to context_length.")
    if count in (1024, 1600):
        raise NotYet("the embedding is a matrix: one row per position, emb_dim columns.")
    if count == 48 * 1024 * 1600:
        raise NotYet("there is one position embedding for the whole model, not one per block.")
    if count != 1024 * 1600:
        raise NotYet("the position embedding is nn.Embedding(context_length, emb_dim); look "
                     "both up in GPT2_CONFIGS and multiply.")
    return ("One 1600-number vector per position, 1024 positions: 1,638,400, about 0.1% of "
            "GPT-2 XL. The context length is the same in every GPT-2 size, so the position "
            "embedding grows only with the width.")


# ----------------------------------------------- your turn: the model

# Two blocks, small. vocab_size equals context_length, so position ids taken
# from the wrong place (the token ids, arange from 1) still run and can be
# named; dropout 0.25 for the training-mode cases.
MODEL_CONFIG = {**GPT_CONFIG_124M, "vocab_size": 24, "context_length": 24, "emb_dim": 12,
                "n_heads": 3, "n_layers": 2, "drop_rate": 0.25}


def gpt_output(model, in_idx, *, positions="arange", embedding_dropout="sum",
               use_blocks=True, final_norm=True):
    """GPTModel's logits with `model`'s weights, written the ways learners
    write it (right by default). `positions`: "arange" (0 ... n-1), "from_one"
    (1 ... n), "token_ids" (the ids themselves) or "none"; `embedding_dropout`:
    "sum" (on tok + pos, right), "tokens" (on the token embeddings only),
    "unused" (called, result thrown away) or "none"."""
    n = in_idx.shape[1]
    tok = model.tok_emb(in_idx)
    if embedding_dropout == "tokens":
        tok = model.drop_emb(tok)
    ids = {"arange": torch.arange(n), "from_one": torch.arange(1, n + 1),
           "token_ids": in_idx}.get(positions)
    x = tok if ids is None else tok + model.pos_emb(ids)
    if embedding_dropout == "sum":
        x = model.drop_emb(x)
    elif embedding_dropout == "unused":
        model.drop_emb(x)  # draws a dropout mask, like the learner's line does
    out = model.trf_blocks(x)  # called in every variant: in training it draws masks
    x = out if use_blocks else x
    if final_norm:
        x = model.final_norm(x)
    return model.out_head(x)


# Two ways to miss it (never called, or called and its result dropped), one fix.
_NO_EMBEDDING_DROPOUT = ("self.drop_emb is not applied (or its result is not kept): in training "
                         "mode x = self.drop_emb(tok_embeds + pos_embeds) drops some of the "
                         "embedding values.")

MODEL_MISTAKES = [
    Mistake("the position embeddings are not added: x = tok_embeds + pos_embeds, with "
            "pos_embeds = self.pos_emb(torch.arange(seq_len)), so the model knows where each "
            "token is.",
            lambda model, ids: gpt_output(model, ids, positions="none"), when=in_eval),
    Mistake("the position ids start at 1; the first token is position 0: "
            "self.pos_emb(torch.arange(seq_len, device=in_idx.device)).",
            lambda model, ids: gpt_output(model, ids, positions="from_one"), when=in_eval),
    Mistake("the position embedding is looked up with the token ids; it takes the positions "
            "0, 1, ..., seq_len - 1: self.pos_emb(torch.arange(seq_len)).",
            lambda model, ids: gpt_output(model, ids, positions="token_ids"), when=in_eval),
    Mistake("the transformer blocks' output is not used: x = self.trf_blocks(x) (calling it "
            "without keeping the result throws the result away).",
            lambda model, ids: gpt_output(model, ids, use_blocks=False), when=in_eval),
    Mistake("the final LayerNorm is missing: x = self.final_norm(x) after the blocks, before "
            "the output head.",
            lambda model, ids: gpt_output(model, ids, final_norm=False), when=in_eval),
    Mistake(_NO_EMBEDDING_DROPOUT,
            lambda model, ids: gpt_output(model, ids, embedding_dropout="none"), when=in_training),
    Mistake(_NO_EMBEDDING_DROPOUT,
            lambda model, ids: gpt_output(model, ids, embedding_dropout="unused"), when=in_training),
    Mistake("dropout is applied to the token embeddings only; apply self.drop_emb to their "
            "sum with the position embeddings.",
            lambda model, ids: gpt_output(model, ids, embedding_dropout="tokens"), when=in_training),
]


def _model_cases():
    gen = torch.Generator().manual_seed(8)
    vocab = MODEL_CONFIG["vocab_size"]
    return [
        Case(torch.randint(0, vocab, (1, 1), generator=gen), note="batch 1, one token"),
        Case(torch.randint(0, vocab, (1, 5), generator=gen), note="batch 1, 5 tokens"),
        Case(torch.randint(0, vocab, (2, 9), generator=gen), note="batch 2, 9 tokens"),
        Case(torch.randint(0, vocab, (2, 7), generator=gen), train=True, seed=5,
             note="training mode, dropout 0.25"),
    ]


@teacher
def check_gpt_model_forward(answer):
    """Your turn: the learner's GPTModel class (the book's __init__, forward
    written by them), built from MODEL_CONFIG, against the course's with the
    same weights."""
    if answer is GPTModel:
        return report(False, "", "that is the course's GPTModel; pass your own class, "
                      "MyGPTModel.")
    return check_module(
        answer, name="GPTModel", build=lambda cls: cls(dict(MODEL_CONFIG)), reference=GPTModel,
        cases=_model_cases(), mistakes=MODEL_MISTAKES,
        success="your GPTModel gives the course's logits on every input, in evaluation and "
                "in training mode: token + position embeddings (positions 0 ... n-1), dropout, "
                "the blocks, the final LayerNorm and the output head.",
        hint="token embeddings + position embeddings of torch.arange(seq_len), then "
             "self.drop_emb, self.trf_blocks, self.final_norm and self.out_head, each on the "
             "result of the one before.",
    )


# ------------------------------------- exercise 4.3: separate dropout

# The learner's model is built from their config with these sizes instead
# (small, quick), and without "drop_rate": a model that still reads it fails.
_PROBE_SIZES = {"vocab_size": 24, "context_length": 16, "emb_dim": 12, "n_heads": 3,
                "n_layers": 2}


def _read_separate_config(config):
    """The three rates from the learner's config; raises NotYet on any problem."""
    if not isinstance(config, dict):
        raise NotYet(tr("the first argument is your config, a dict like GPT_CONFIG_124M with "
                        "three dropout keys; got {type}", type=type(config).__name__))
    if not all(isinstance(key, str) for key in config):
        raise NotYet("the config's keys are strings like 'drop_rate_emb'")
    allowed = set(REQUIRED_KEYS) | set(OPTIONAL_DROPOUT_KEYS)
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise NotYet(tr("your config has key(s) {unknown} that no model reads; the three "
                        "dropout keys are {keys}", unknown=unknown, keys=list(DROPOUT_RATES)))
    missing = [key for key in DROPOUT_RATES if key not in config]
    if missing:
        raise NotYet(tr("your config has no {missing}: add one key per dropout place, {rates}",
                        missing=", ".join(repr(k) for k in missing), rates=DROPOUT_RATES))
    for key, value in GPT_CONFIG_124M.items():
        if key != "drop_rate" and (key not in config or type(config[key]) is not type(value)
                                   or config[key] != value):
            raise NotYet(tr("keep the other keys of GPT_CONFIG_124M: config[{key!r}] should be "
                            "{value!r}; start from {{**GPT_CONFIG_124M, ...}}",
                            key=key, value=value))
    rates = {key: as_float(config[key]) for key in DROPOUT_RATES}
    for key, rate in rates.items():
        if rate is None or not 0 <= rate < 1:
            raise NotYet(tr("config[{key!r}] should be a dropout probability like "
                            "{rate}, got {value!r:.60}",
                            key=key, rate=DROPOUT_RATES[key], value=config[key]))
    if rates != DROPOUT_RATES:
        if sorted(rates.values()) == sorted(DROPOUT_RATES.values()):
            raise NotYet(tr("the rates are in the wrong places: the exercise asks for "
                            "{rates}", rates=DROPOUT_RATES))
        key = next(k for k in DROPOUT_RATES if rates[k] != DROPOUT_RATES[k])
        raise NotYet(tr("config[{key!r}] is {given}; the exercise asks for {rate} on {place}",
                        key=key, given=rates[key], rate=DROPOUT_RATES[key],
                        place=tr(_PLACES[key])))
    return rates


def _dropout_p(module, path):
    """`module`'s nn.Dropout at `path` (e.g. "att.dropout") and its p; NotYet if absent."""
    found = module
    for name in path.split("."):
        found = getattr(found, name, None)
    if not isinstance(found, nn.Dropout):
        raise NotYet(tr("your model has no nn.Dropout at {path}: keep the book's names "
                        "(drop_emb, trf_blocks, att.dropout, drop_shortcut)", path=path))
    return found.p


def _check_rates(model, rates=DROPOUT_RATES):
    """NotYet naming the first dropout module whose rate is not the one asked for."""
    by_rate = {rate: key for key, rate in rates.items()}

    def judge(where, p, key):
        if p == rates[key]:
            return
        other = by_rate.get(p)
        said = tr(", the rate of {other!r}", other=other) if other else ""
        raise NotYet(tr("{where} has p = {p}{said}; it should read cfg[{key!r}] ({rate})",
                        where=where, p=p, said=said, key=key, rate=rates[key]))

    judge("drop_emb", _dropout_p(model, "drop_emb"), "drop_rate_emb")
    blocks = getattr(model, "trf_blocks", None)
    if not isinstance(blocks, nn.Module) or len(list(blocks.children())) == 0:
        raise NotYet("your model has no trf_blocks: keep the book's names")
    for i, block in enumerate(blocks.children()):
        judge(f"trf_blocks[{i}].att.dropout", _dropout_p(block, "att.dropout"), "drop_rate_attn")
        judge(f"trf_blocks[{i}].drop_shortcut", _dropout_p(block, "drop_shortcut"),
              "drop_rate_shortcut")


# Rates of a second build, to tell rates read from the config from rates typed in.
_OTHER_RATES = {"drop_rate_emb": 0.3, "drop_rate_attn": 0.35, "drop_rate_shortcut": 0.4}


def _separate_dropout_cases():
    gen = torch.Generator().manual_seed(43)
    vocab = _PROBE_SIZES["vocab_size"]
    return [Case(torch.randint(0, vocab, (2, 9), generator=gen), train=True, seed=seed,
                 note="training mode") for seed in (1, 2)]


@teacher
def check_separate_dropout(config, model_class=None):
    """Exercise 4.3, as the book does it: the learner's config with a dropout
    rate per place (DROPOUT_RATES) and their model class that reads those
    keys. Their model, built from their config (made small), must hold the
    rates in the right modules and, in training mode, give the logits of the
    course's GPTModel with the same rates and weights."""
    if config is None and model_class is None:
        no_answer_yet(None)
        return Verdict(False)
    try:
        _read_separate_config(config)
        if model_class is None:
            raise NotYet("pass your model class too: check_separate_dropout(your_config, "
                         "YourModel)")
        if isinstance(model_class, nn.Module):
            raise NotYet(tr("pass the class itself ({type}), not a model built from it: the "
                            "check builds it from your config", type=type(model_class).__name__))
        if not inspect.isclass(model_class) or not issubclass(model_class, nn.Module):
            raise NotYet(tr("the second argument is your model class (an nn.Module), got "
                            "{type}", type=type(model_class).__name__))
        if model_class is GPTModel:
            raise NotYet("that is the course's GPTModel, which already reads these keys; the "
                         "exercise is to write the model that does")
        probe = {key: value for key, value in config.items() if key != "drop_rate"}
        probe.update(_PROBE_SIZES)
        try:
            model = model_class(dict(probe))
        except KeyError as err:
            if err.args == ("drop_rate",):
                raise NotYet("your model still reads cfg['drop_rate']; with a rate per place "
                             "it reads 'drop_rate_emb', 'drop_rate_attn' and "
                             "'drop_rate_shortcut' instead") from None
            raise NotYet(tr("building your model from your config raised {error}",
                            error=describe_exception(err))) from None
        except NotYet:
            raise
        except Exception as err:
            raise NotYet(tr("building your model from your config raised {error}",
                            error=describe_exception(err))) from None
        _check_rates(model)
        # built again with other rates: a model that types the rates in instead of
        # reading them from the config keeps the old ones
        try:
            other = model_class(dict(probe, **_OTHER_RATES))
        except Exception as err:
            raise NotYet(tr("building your model from your config raised {error}",
                            error=describe_exception(err))) from None
        try:
            _check_rates(other, _OTHER_RATES)
        except NotYet as not_yet:
            raise NotYet(tr("built from a config with other rates ({rates}), your model "
                            "still does not use them ({problem}): read each rate from the "
                            "config, cfg['drop_rate_emb'] and so on, instead of writing the "
                            "number in.", rates=_OTHER_RATES, problem=str(not_yet))) from None
    except NotYet as not_yet:
        return report(False, "", str(not_yet))
    except Exception as err:  # a teacher never crashes: say what happened
        return report(False, "", tr("checking your answer raised {error}",
                                    error=describe_exception(err)))
    reference_config = {**probe, "drop_rate": 0.5}  # 0.5: used nowhere, the three keys win
    return check_module(
        model_class, name="model", reference=GPTModel,
        build=lambda cls: cls(dict(reference_config if cls is GPTModel else probe)),
        cases=_separate_dropout_cases(),
        success="your config has a rate per place and your model uses each where it belongs: "
                "0.05 on the embeddings, 0.1 on the attention weights, 0.2 on the shortcut "
                "paths; in training mode it gives the course's logits.",
        hint="the rates are in the right modules, but in training mode the logits differ "
             "from the course's: keep the book's forward methods, which apply each dropout "
             "once, in its place.",
    )
