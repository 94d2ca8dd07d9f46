import json
import re
from pathlib import Path

import torch

from gpt_course import (
    GPT_CONFIG_124M, GPTModel, GPTModelWithCache, generate_text_cached, generate_text_simple,
    next_token_distribution,
)
from gpt_course.exercises.nb09_faster_generation import (
    CACHE_NUMBERS, NEW_TOKENS, POSITIONS_WITH_CACHE, POSITIONS_WITHOUT_CACHE, PROMPT_TOKENS,
    TOP_P, TOP_P_PROBS, check_cache_size, check_greedy_limit, check_positions, check_top_p_kept,
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


def test_positions_match_the_package(capsys, tiny_cfg):
    torch.manual_seed(123)
    model = GPTModel(tiny_cfg).eval()
    idx = torch.tensor([[1, 2, 3, 4]])
    assert idx.shape[1] == PROMPT_TOKENS
    book = _positions_run(model, lambda: generate_text_simple(model, idx, NEW_TOKENS, 16))
    cached = _positions_run(model, lambda: generate_text_cached(model, idx, NEW_TOKENS, 16))
    assert (book, cached) == (POSITIONS_WITHOUT_CACHE, POSITIONS_WITH_CACHE) == (39, 9)
    assert check_positions((39, 9))
    assert check_positions([39, 9])
    assert check_positions(torch.tensor([39, 9]))
    assert check_positions((39.0, 9.0))  # whole numbers, as every check takes them
    assert "Correct!" in capsys.readouterr().out
    assert not check_positions((49, 9))
    assert "never run" in capsys.readouterr().out
    assert not check_positions((39, 10))
    assert "last new token" in capsys.readouterr().out
    assert not check_positions((24, 9))
    assert "add up" in capsys.readouterr().out
    assert not check_positions((39, 6))
    assert "prompt is run once" in capsys.readouterr().out
    for wrong in (39, (39,), (39, 9, 1), ("39", "9"), (39.5, 9), (float("nan"), 9),
                  (float("inf"), 9), (2**80, 9), (True, 9), "39, 9", torch.tensor([[39, 9]])):
        assert not check_positions(wrong), wrong
        assert "Not yet" in capsys.readouterr().out
    assert not check_positions(None)
    assert "No answer yet" in capsys.readouterr().out


def test_greedy_limit(capsys):
    for answer in ("greedy", "Greedy decoding", "argmax", "always the most likely token",
                   "  GREEDY  ", "it becomes generate_text_simple"):
        assert check_greedy_limit(answer), answer
    assert "Correct!" in capsys.readouterr().out
    # contains the expected word but says the opposite
    for answer in ("not greedy", "non-greedy", "It isn't greedy", "no longer argmax",
                   "the opposite of greedy", "never the most likely token", "anything but greedy"):
        assert not check_greedy_limit(answer), answer
        assert "what it is not" in capsys.readouterr().out
    assert not check_greedy_limit("uniform")
    assert "infinity" in capsys.readouterr().out
    assert not check_greedy_limit("greedy or uniform random")
    assert "both ends" in capsys.readouterr().out
    assert not check_greedy_limit("beam search")
    assert "non-zero probability" in capsys.readouterr().out
    assert not check_greedy_limit("least likely token")
    for wrong in ("", "   ", 0, 1.0, float("nan"), ["greedy"], torch.tensor(1.0), b"greedy"):
        assert not check_greedy_limit(wrong), wrong
        assert "as a string" in capsys.readouterr().out
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
    assert "sort the probabilities" in capsys.readouterr().out
    assert check_top_p_kept(2.0) and check_top_p_kept(torch.tensor(2))
    assert "Correct!" in capsys.readouterr().out
    for wrong in ("2", True, 2.5, float("nan"), float("inf"), 2**80, [2, 2], torch.tensor([2, 2])):
        assert not check_top_p_kept(wrong), wrong
    assert "Correct" not in capsys.readouterr().out
    assert not check_top_p_kept(None)
    assert "No answer yet" in capsys.readouterr().out


def test_cache_size_matches_the_model(capsys):
    # [batch, num_heads, tokens, head_dim] keys and values per layer (counted on a
    # real cache below, for a small config)
    cfg = GPT_CONFIG_124M
    heads, head_dim = cfg["n_heads"], cfg["emb_dim"] // cfg["n_heads"]
    per_layer = 2 * 1 * heads * cfg["context_length"] * head_dim
    assert per_layer * cfg["n_layers"] == CACHE_NUMBERS == 18_874_368
    assert check_cache_size(18_874_368)
    assert check_cache_size(18874368.0)
    assert "Correct!" in capsys.readouterr().out
    for wrong, hint in ((9_437_184, "keys (or the values) alone"), (1_572_864, "one layer"),
                        (75_497_472, "bytes"), (226_492_416, "only once"),
                        (18_874_367, "multiply it out")):
        assert not check_cache_size(wrong)
        assert hint in capsys.readouterr().out
    for wrong in ("18874368", 18874368.5, float("nan"), float("inf"), 10**30, True,
                  torch.tensor([18874368, 1]), [18874368]):
        assert not check_cache_size(wrong), wrong
    assert "Correct" not in capsys.readouterr().out
    assert not check_cache_size(None)
    assert "No answer yet" in capsys.readouterr().out


def test_cache_size_counted_on_a_cache():
    # the same count, taken from a filled GPTModelWithCache of a small config
    cfg = {**GPT_CONFIG_124M, "vocab_size": 50, "context_length": 10, "emb_dim": 12,
           "n_heads": 3, "n_layers": 2}
    torch.manual_seed(0)
    cached = GPTModelWithCache(GPTModel(cfg).eval())
    with torch.no_grad():
        cached(torch.zeros(1, 10, dtype=torch.long))
    held = sum(a.cache_k.numel() + a.cache_v.numel() for a in cached.attentions)
    assert held == 2 * cfg["n_layers"] * cfg["context_length"] * cfg["emb_dim"]


def test_no_answer_given_away():
    """Nothing the notebook prints (or says) before an exercise gives its answer."""
    path = Path(__file__).resolve().parent.parent / "notebooks" / "09_faster_generation.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]

    def shown_before(check_name):
        """Markdown, code and stored outputs of the cells before the exercise's cell."""
        shown = []
        for cell in cells:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and f"{check_name}(answer)" in source:
                return "\n".join(shown)
            if "<details>" not in source:  # earlier exercises' hidden solutions are hidden
                shown.append(source)
            for out in cell.get("outputs", []):
                shown.append("".join(out.get("text", "")))
                shown.append("".join(out.get("data", {}).get("text/plain", "")))
        raise AssertionError(f"no exercise cell calls {check_name}")

    before = shown_before("check_positions")
    assert not re.search(r"\(39, ?9\)|= 39\b|\b39 positions|\b9 positions", before)
    before = shown_before("check_greedy_limit").lower()
    # the limit is asked, not told: no "temperature 0 ... greedy", no "top_k=1 ... greedy"
    assert "towards greedy" not in before and "= greedy" not in before
    assert "greedy (temperature 0)" not in before and "greedy again" not in before
    assert "0.1" not in before.split("settings = {")[1].split("}")[0]  # no near-0 temperature
    before = shown_before("check_top_p_kept")
    assert "0.625" not in before and "0.375" not in before  # the two kept, renormalized
    before = shown_before("check_cache_size")
    for answer in ("18874368", "18,874,368", "18 874 368", "75.5 MB", "786,432", "786432"):
        assert answer not in before
