import torch

from gpt_course import GPT2_CONFIGS, GPT_CONFIG_124M, GPTModel, model_size
from gpt_course.exercises.nb07_gpt_model import (
    DROPOUT_RATES, GPT2_SIZES, check_gpt2_sizes, check_separate_dropout,
)

SMALL = {**GPT_CONFIG_124M, "vocab_size": 100, "context_length": 16, "emb_dim": 32,
         "n_heads": 4, "n_layers": 2}


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
                assert round(model_size(cfg).param_mib, 2) == mb


def test_gpt2_sizes(capsys):
    assert check_gpt2_sizes(_answer())
    assert check_gpt2_sizes({"medium": (406_212_608, 1549.58), "large": (838_220_800, 3197.56),
                             "xl": (1_637_792_000, 6247.68)})
    assert "Correct!" in capsys.readouterr().out
    assert not check_gpt2_sizes(_answer(**{"gpt2-xl (1558M)": (1_557_380_800, 6247.68)}))
    assert "weight-tied" in capsys.readouterr().out
    assert not check_gpt2_sizes(_answer(**{"gpt2-large (774M)": (838_220_800, 3352.88)}))
    assert "SI" in capsys.readouterr().out
    assert not check_gpt2_sizes({"medium": (406_212_608, 1549.58)})
    assert "no entry" in capsys.readouterr().out
    assert not check_gpt2_sizes([1, 2, 3])
    assert not check_gpt2_sizes(None)
    assert "No answer yet" in capsys.readouterr().out


def test_separate_dropout(capsys):
    assert check_separate_dropout(GPTModel({**SMALL, **DROPOUT_RATES}))
    assert "Correct!" in capsys.readouterr().out
    assert not check_separate_dropout(GPTModel(SMALL))
    assert "drop_rate_emb" in capsys.readouterr().out
    wrong = {**DROPOUT_RATES, "drop_rate_shortcut": 0.3}
    assert not check_separate_dropout(GPTModel({**SMALL, **wrong}))
    assert "drop_shortcut" in capsys.readouterr().out
    assert not check_separate_dropout(torch.nn.Linear(2, 2))
    assert not check_separate_dropout(None)
    assert "No answer yet" in capsys.readouterr().out


def test_position_params(capsys):
    from gpt_course.exercises.nb07_gpt_model import check_position_params

    assert check_position_params(786_432)
    assert not check_position_params(50257 * 768)
    assert "token embedding" in capsys.readouterr().out
    assert not check_position_params("many")
    assert not check_position_params(None)
    assert "No answer yet" in capsys.readouterr().out
