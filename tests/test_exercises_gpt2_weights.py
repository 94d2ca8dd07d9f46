import torch

from gpt_course import GPT_CONFIG_124M, model_size
from gpt_course.exercises.nb10_gpt2_weights import (
    GPT2_SMALL_TIED_PARAMS,
    check_c_attn_shape,
    check_split_c_attn,
    check_tied_params,
)


def test_c_attn_shape(capsys):
    assert check_c_attn_shape((768, 2304))
    assert check_c_attn_shape(torch.Size([768, 2304]))
    assert check_c_attn_shape([768, 2304])
    assert "Correct!" in capsys.readouterr().out
    assert not check_c_attn_shape((2304, 768))
    assert "[out, in]" in capsys.readouterr().out
    assert not check_c_attn_shape((768, 768))
    assert "fused" in capsys.readouterr().out
    assert not check_c_attn_shape("768x2304")
    assert not check_c_attn_shape((True, 2304))
    assert not check_c_attn_shape(None)
    assert "No answer yet" in capsys.readouterr().out


def test_split_c_attn(capsys):
    state = torch.get_rng_state()

    def right(w):
        d = w.shape[0]
        q, k, v = torch.split(w, d, dim=1)
        return q.T, k.T, v.T

    assert check_split_c_attn(right)
    assert torch.equal(state, torch.get_rng_state())  # the learner's RNG is untouched
    assert check_split_c_attn(lambda w: tuple(t.T for t in w.chunk(3, dim=1)))
    assert "Correct!" in capsys.readouterr().out
    assert not check_split_c_attn(lambda w: torch.split(w, w.shape[0], dim=1))
    assert "transpose" in capsys.readouterr().out
    assert not check_split_c_attn(lambda w: tuple(t.T for t in reversed(w.chunk(3, dim=1))))
    assert "differ" in capsys.readouterr().out
    assert not check_split_c_attn(lambda w: (w, w, w))
    assert "dim=1" in capsys.readouterr().out
    assert not check_split_c_attn(lambda w: w)
    assert not check_split_c_attn(lambda w: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not check_split_c_attn("split")
    assert not check_split_c_attn(None)
    assert "No answer yet" in capsys.readouterr().out


def test_tied_params(capsys):
    size = model_size({**GPT_CONFIG_124M, "qkv_bias": True})
    assert size.tied_params == GPT2_SMALL_TIED_PARAMS  # the constant is the package's number
    assert check_tied_params(124_439_808)
    assert "Correct!" in capsys.readouterr().out
    assert not check_tied_params(size.total_params)
    assert "separate output head" in capsys.readouterr().out
    assert not check_tied_params(124_412_160)
    assert "biases" in capsys.readouterr().out
    assert not check_tied_params(124_000_000)
    assert not check_tied_params(124_439_808.0)
    assert not check_tied_params(True)
    assert not check_tied_params(None)
    assert "No answer yet" in capsys.readouterr().out
