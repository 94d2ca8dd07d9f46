"""Notebook 07's answer checks: book exercise 4.2 and the position-embedding
question (exercise 4.3, a config and a model the learner writes, is tested
in test_yourturn_nb07_gpt_model.py)."""

import pytest
import torch

from gpt_course import GPT2_CONFIGS, GPTModel, model_size
from gpt_course.exercises.nb07_gpt_model import (
    GPT2_SIZES, TIED_SIZES, check_gpt2_sizes, check_position_params,
)


def _answer(**override):
    answer = {}
    for name, cfg in GPT2_CONFIGS.items():
        size = model_size(cfg)
        answer[name] = (size.total_params, round(size.param_mib, 2))
    answer.update(override)
    return answer


def test_book_numbers_match_model_size():
    for name, cfg in GPT2_CONFIGS.items():
        for key, (params, mb) in GPT2_SIZES.items():
            if key in name:
                assert model_size(cfg).total_params == params
                assert model_size(cfg).tied_params == TIED_SIZES[key]
                assert round(model_size(cfg).param_mib, 2) == mb


def test_book_numbers_match_a_model_built_on_the_meta_device():
    """The notebook's solution: build on the meta device and count."""
    cfg = GPT2_CONFIGS["gpt2-medium (355M)"]
    with torch.device("meta"):
        model = GPTModel(cfg)
    assert sum(p.numel() for p in model.parameters()) == GPT2_SIZES["medium"][0]


def test_gpt2_sizes_right(capsys):
    assert check_gpt2_sizes(_answer())
    assert check_gpt2_sizes({"medium": (406_212_608, 1549.58), "large": (838_220_800, 3197.56),
                             "xl": (1_637_792_000, 6247.68)})
    # whole floats and one-element tensors are counts too, as in every check
    assert check_gpt2_sizes({"gpt2-medium": (406_212_608.0, torch.tensor(1549.58)),
                             "gpt2-large": (torch.tensor(838_220_800), 3197.56),
                             "gpt2-xl": [torch.tensor([1_637_792_000]), 6247.675]})
    assert capsys.readouterr().out.count("Correct!") == 3


@pytest.mark.parametrize("answer, hint", [
    (_answer(**{"gpt2-xl (1558M)": (1_557_380_800, 6247.68)}), "weight-tied"),
    (_answer(**{"gpt2-large (774M)": (838_220_800, 3352.88)}), "SI megabytes"),
    (_answer(**{"gpt2-large (774M)": (838_220_800, 1598.78)}), "2 bytes per parameter"),
    (_answer(**{"gpt2-large (774M)": (838_220_800, 3000.0)}), "divided by 1024**2"),
    (_answer(**{"gpt2-medium (355M)": (406_212_609, 1549.58)}), "is not right"),
    # the readers' promises: not a string, not a truncated float, not a vector
    (_answer(**{"gpt2-medium (355M)": ("406212608", 1549.58)}), "one whole number"),
    (_answer(**{"gpt2-large (774M)": (838_220_800.9, 3197.56)}), "one whole number"),
    (_answer(**{"gpt2-large (774M)": (torch.tensor([838_220_800, 1]), 3197.56)}),
     "one whole number"),
    (_answer(**{"gpt2-xl (1558M)": (1_637_792_000, float("nan"))}), "finite number of MB"),
    (_answer(**{"gpt2-xl (1558M)": (1_637_792_000, "6247.68 MB")}), "finite number of MB"),
    (_answer(**{"gpt2-xl (1558M)": 1_637_792_000}), "should be a pair"),
    (_answer(**{"gpt2-xl (1558M)": (1_637_792_000, 6247.68, 0)}), "should be a pair"),
    ({**_answer(), "xl": (1_637_792_000, 6247.68)}, "two entries for gpt2-xl"),
    ({**_answer(), 3: (1, 2)}, "the keys are model names"),
    ({"medium": (406_212_608, 1549.58)}, "no entry for gpt2-large, gpt2-xl"),
    ([1, 2, 3], "give a dict"),
    ("406212608", "give a dict"),
])
def test_gpt2_sizes_hints(answer, hint, capsys):
    assert not check_gpt2_sizes(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


@pytest.mark.parametrize("answer", [1_638_400, 1_638_400.0, torch.tensor(1_638_400),
                                    torch.tensor([1_638_400.0])])
def test_position_params_right(answer, capsys):
    assert check_position_params(answer)
    assert capsys.readouterr().out.startswith("Correct!")


def test_position_params_answer_is_the_xl_embedding():
    cfg = GPT2_CONFIGS["gpt2-xl (1558M)"]
    with torch.device("meta"):
        model = GPTModel(cfg)
    assert model.pos_emb.weight.numel() == 1_638_400


@pytest.mark.parametrize("answer, hint", [
    (786_432, "GPT-2 small's"),
    (50257 * 1600, "token embedding"),
    (1600, "one row per position"),
    (48 * 1024 * 1600, "not one per block"),
    (1_638_401, "nn.Embedding(context_length, emb_dim)"),
    (1_638_400.5, "whole number"),
    ("1638400", "whole number"),
    (torch.tensor([1_638_400, 1]), "whole number"),
])
def test_position_params_hints(answer, hint, capsys):
    assert not check_position_params(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out, out


@pytest.mark.parametrize("check", [check_gpt2_sizes, check_position_params])
def test_no_answer_yet(check, capsys):
    assert not check(None)
    assert capsys.readouterr().out.startswith("No answer yet")
