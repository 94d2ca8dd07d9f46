import torch

from gpt_course.exercises.nb08_greedy_generation import check_crop, check_greedy_next_token


def test_crop(capsys):
    assert check_crop([11, 314, 716])
    assert check_crop(torch.tensor([[11, 314, 716]]))
    assert "Correct!" in capsys.readouterr().out
    assert not check_crop([15496, 11, 314])
    assert "first 3" in capsys.readouterr().out
    assert not check_crop("11 314 716")
    assert not check_crop(None)
    assert "No answer yet" in capsys.readouterr().out


def test_greedy_next_token(capsys):
    state = torch.get_rng_state()
    assert check_greedy_next_token(lambda logits: torch.argmax(logits[:, -1, :], dim=-1, keepdim=True))
    assert torch.equal(state, torch.get_rng_state())  # the check leaves the learner's RNG alone
    assert check_greedy_next_token(
        lambda logits: torch.softmax(logits[:, -1, :], dim=-1).argmax(dim=-1, keepdim=True))
    assert "Correct!" in capsys.readouterr().out
    assert not check_greedy_next_token(lambda logits: torch.argmax(logits[:, -1, :], dim=-1))
    assert "keepdim" in capsys.readouterr().out
    assert not check_greedy_next_token(lambda logits: torch.argmax(logits[:, 0, :], dim=-1, keepdim=True))
    assert not check_greedy_next_token(lambda logits: logits[:, -1, :].max(dim=-1, keepdim=True).values)
    assert "integers" in capsys.readouterr().out
    assert not check_greedy_next_token(lambda logits: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not check_greedy_next_token(42)
    assert not check_greedy_next_token(None)
    assert "No answer yet" in capsys.readouterr().out
