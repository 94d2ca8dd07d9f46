"""Exercise checks of notebook 01."""

import torch

from gpt_course import GPT_CONFIG_124M, DummyGPTModel
from gpt_course.exercises.nb01_dummy_gpt import check_dummy_parameter_count, check_logits_shape

NO_ANSWER = "No answer yet"


def test_logits_shape(capsys):
    cfg = {**GPT_CONFIG_124M, "vocab_size": 50257, "emb_dim": 8, "n_layers": 1, "n_heads": 1}
    logits = DummyGPTModel(cfg)(torch.zeros(3, 6, dtype=torch.long))
    assert check_logits_shape(logits.shape)
    assert check_logits_shape([3, 6, 50257])
    assert "Correct" in capsys.readouterr().out
    assert not check_logits_shape((2, 4, 50257))
    assert not check_logits_shape((3, 6, 768))
    assert not check_logits_shape("3, 6, 50257")
    assert not check_logits_shape(None)
    assert NO_ANSWER in capsys.readouterr().out


def test_dummy_parameter_count(capsys):
    model = DummyGPTModel(GPT_CONFIG_124M)
    right = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert check_dummy_parameter_count(right)
    assert check_dummy_parameter_count(77_981_184)
    assert "Correct" in capsys.readouterr().out
    assert not check_dummy_parameter_count(2 * 50257 * 768)
    assert "output head" in capsys.readouterr().out
    assert not check_dummy_parameter_count(77_981_184.0)
    assert not check_dummy_parameter_count(None)
    assert NO_ANSWER in capsys.readouterr().out
