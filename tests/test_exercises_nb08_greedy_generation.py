"""Notebook 08's answer checks: the crop, and the positions the loop processes."""

import pytest
import torch

from gpt_course import GPT_CONFIG_124M, GPTModel, generate_text_simple
from gpt_course.exercises import as_id_list
from gpt_course.exercises.nb08_greedy_generation import (
    CROP_CONTEXT, CROP_IDS, NEW_TOKENS, PROMPT_TOKENS, SMALL_CONTEXT, check_crop,
    check_positions_processed,
)


def test_as_id_list_reads_ids_in_the_forms_a_learner_has_them():
    assert as_id_list([11, 314, 716]) == [11, 314, 716]
    assert as_id_list((11, 314.0, 716)) == [11, 314, 716]
    assert as_id_list([[11, 314, 716]]) == [11, 314, 716]
    assert as_id_list(torch.tensor([[11, 314, 716]])) == [11, 314, 716]
    assert as_id_list(torch.tensor([11, 314, 716])) == [11, 314, 716]
    for not_ids in ("11 314 716", [11.5, 314, 716], [[11], [314]], torch.zeros(2, 3),
                    torch.zeros(20_000), torch.zeros(1, 2, 3), [True, 314, 716], 11, None):
        assert as_id_list(not_ids) is None, not_ids


def test_crop(capsys):
    want = torch.tensor([CROP_IDS])[:, -CROP_CONTEXT:]  # what the exercise asks, computed
    assert check_crop(want.tolist())
    assert check_crop(want)
    assert check_crop([11, 314, 716])
    assert "Correct!" in capsys.readouterr().out
    assert not check_crop([15496, 11, 314])
    assert "first 3" in capsys.readouterr().out
    assert not check_crop([15496, 11, 314, 716])
    assert "all 4 tokens" in capsys.readouterr().out
    assert not check_crop([716, 314, 11])
    assert "last 3 positions" in capsys.readouterr().out
    for wrong in ("11 314 716", "[11, 314, 716]", [11.5, 314, 716], torch.tensor([11, 314, 716.5])):
        assert not check_crop(wrong)
        assert capsys.readouterr().out.startswith("Not yet: give the token ids")
    assert not check_crop(None)
    assert "No answer yet" in capsys.readouterr().out


def _positions_processed():
    """Count what the exercise asks: run the loop and add up idx_cond's lengths."""
    cfg = {**GPT_CONFIG_124M, "vocab_size": 60, "context_length": SMALL_CONTEXT, "emb_dim": 8,
           "n_heads": 2, "n_layers": 1, "drop_rate": 0.0}
    torch.manual_seed(0)
    model = GPTModel(cfg).eval()
    seen = []
    model.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[1]))
    generate_text_simple(model, torch.zeros(1, PROMPT_TOKENS, dtype=torch.long), NEW_TOKENS,
                         SMALL_CONTEXT)
    return sum(seen)


def test_positions_processed(capsys):
    total = _positions_processed()
    assert total == 45
    assert check_positions_processed(total)
    assert check_positions_processed(45.0)
    assert check_positions_processed(torch.tensor(45))
    assert "4 + 5 + 6 + 6 + 6 + 6 + 6 + 6 = 45" in capsys.readouterr().out
    for wrong, hint in [
        (60, "without cropping"),
        (8, "every position of idx_cond"),
        (48, "fewer than 6 tokens"),
        (32, "grows by one token"),
        (44, "add them up"),
        (45.5, "give one whole number"),
        ("45", "give one whole number"),
        (torch.tensor([45, 45]), "give one whole number"),
        (float("nan"), "give one whole number"),
        (10**400, "add them up"),
    ]:
        assert not check_positions_processed(wrong)
        out = capsys.readouterr().out
        assert out.startswith("Not yet:") and hint in out, (wrong, out)


@pytest.mark.parametrize("check", [check_crop, check_positions_processed])
def test_checks_leave_the_learners_random_state_alone(check):
    state = torch.get_rng_state()
    check(None)
    check([1, 2, 3])
    assert torch.equal(state, torch.get_rng_state())
