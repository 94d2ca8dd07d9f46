import torch

from gpt_course import (
    GPT_CONFIG_124M, GPTModel, generate, generate_text_simple, next_token_distribution,
)
from gpt_course.exercises.nb09_faster_generation import (
    NEW_TOKENS, PROMPT_TOKENS, TOP_P, TOP_P_PROBS, check_greedy_limit, check_positions,
    check_top_p_kept,
)


def _positions_run(model, fn):
    """How many token positions go through the model's embedding layer."""
    seen = []
    hook = model.tok_emb.register_forward_hook(
        lambda module, inputs, out: seen.append(inputs[0].numel()))
    try:
        fn()
    finally:
        hook.remove()
    return sum(seen)


def test_positions_match_the_package(capsys, monkeypatch):
    tiny = {**GPT_CONFIG_124M, "vocab_size": 50, "context_length": 16, "emb_dim": 16,
            "n_heads": 2, "n_layers": 1}
    torch.manual_seed(123)
    model = GPTModel(tiny).eval()
    idx = torch.tensor([[1, 2, 3, 4]])
    assert idx.shape[1] == PROMPT_TOKENS
    book = _positions_run(model, lambda: generate_text_simple(model, idx, NEW_TOKENS, 16))
    # the cached path reads the embedding table directly: count what its forward step gets
    import gpt_course.beyond.nb09_sampling as sampling
    runs = []
    forward = sampling._forward

    def counting_forward(plan, new_ids, cache, all_logits):
        runs.append(new_ids.shape[1])
        return forward(plan, new_ids, cache, all_logits)

    monkeypatch.setattr(sampling, "_forward", counting_forward)
    generate(model, idx, NEW_TOKENS)
    assert book == 39
    assert runs == [4, 1, 1, 1, 1, 1]
    assert check_positions((39, 9))
    assert check_positions([39, 9])
    assert "Correct!" in capsys.readouterr().out
    assert not check_positions((49, 9))
    assert "never run" in capsys.readouterr().out
    assert not check_positions((39, 10))
    assert "last new token" in capsys.readouterr().out
    assert not check_positions((24, 9))
    assert not check_positions((39, 6))
    assert not check_positions(39)
    assert not check_positions(("39", "9"))
    assert check_positions((39.0, 9.0))  # whole numbers, as every check takes them
    assert not check_positions(None)
    assert "No answer yet" in capsys.readouterr().out


def test_greedy_limit(capsys):
    for answer in ("greedy", "Greedy decoding", "argmax", "always the most likely token"):
        assert check_greedy_limit(answer)
    assert "Correct!" in capsys.readouterr().out
    assert not check_greedy_limit("uniform")
    assert "infinity" in capsys.readouterr().out
    assert not check_greedy_limit("beam search")
    assert not check_greedy_limit("")
    assert not check_greedy_limit(0)
    assert not check_greedy_limit(None)
    assert "No answer yet" in capsys.readouterr().out


def test_top_p_kept(capsys):
    probs = torch.tensor(TOP_P_PROBS)
    kept = int((next_token_distribution(probs.log(), 1.0, top_p=TOP_P) > 0).sum())
    assert check_top_p_kept(kept)
    assert "Correct!" in capsys.readouterr().out
    assert not check_top_p_kept(1)
    assert "0.5 alone" in capsys.readouterr().out
    assert not check_top_p_kept(3)
    assert "one too many" in capsys.readouterr().out
    assert not check_top_p_kept(4)
    assert not check_top_p_kept("2")
    assert not check_top_p_kept(True)
    assert not check_top_p_kept(None)
    assert "No answer yet" in capsys.readouterr().out
