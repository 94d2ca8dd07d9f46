import pytest
import torch

from gpt_course import (
    GPT_CONFIG_124M, GPTModel, generate_text_simple, get_tokenizer, text_to_token_ids,
)
from gpt_course.explorers.nb08_greedy_generation import generation_explorer

TINY = {**GPT_CONFIG_124M, "context_length": 8, "emb_dim": 32, "n_heads": 4, "n_layers": 2}
PROMPT = "Hello, I am"


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(123)
    return GPTModel(TINY).eval()


@pytest.fixture(scope="module")
def explorer(model):
    return generation_explorer(model, PROMPT, max_new_tokens=7, top_k=5)


def test_agrees_with_generate_text_simple(model, explorer):
    # 4 prompt tokens + 7 new ones > context_length 8, so cropping is exercised too
    out = generate_text_simple(model, text_to_token_ids(PROMPT), 7, TINY["context_length"])
    assert explorer.token_ids == out[0].tolist()


def test_top_k_probabilities(model, explorer):
    step = explorer.steps[2]
    ids = torch.tensor([step["context"][-TINY["context_length"]:]])
    with torch.no_grad():
        probas = torch.softmax(model(ids)[0, -1], dim=-1)
    top_p, top_i = probas.topk(5)
    assert step["top_ids"] == top_i.tolist()
    assert step["top_p"] == pytest.approx(top_p.tolist())
    assert step["chosen"] == step["top_ids"][0]


def test_step_slider_moves_bars_and_labels(explorer):
    tokenizer = get_tokenizer()
    explorer.set(step=1)
    png = explorer.png()
    for step in (1, 5, 7):
        explorer.set(step=step)
        record = explorer.steps[step - 1]
        widths = [bar.get_width() for bar in explorer.handles["bars"]]
        assert widths == pytest.approx(record["top_p"])
        labels = [text.get_text() for text in explorer.handles["labels"]]
        assert labels == [repr(tokenizer.decode([i])) for i in record["top_ids"]]
        assert explorer.handles["bars"][0].get_facecolor() != explorer.handles["bars"][1].get_facecolor()
        chosen = explorer.token_ids[4 + step - 1]
        assert f"(id {chosen})" in explorer.readout_text
        assert f"step {step}/7 (the model sees {min(3 + step, 8)} tokens)" in explorer.readout_text
        assert f"text so far: {tokenizer.decode(record['context'])!r}" in explorer.readout_text
    assert explorer.png() != png


def test_opens_at_the_last_step_with_the_whole_text(model):
    """Step 1 shows only the prompt; the static view (GitHub, a notebook not
    yet run) shows the default setting, so it opens where the whole text is."""
    fresh = generation_explorer(model, PROMPT, max_new_tokens=7, top_k=5)
    assert fresh.values == {"step": 7}
    whole = get_tokenizer().decode(fresh.token_ids[:-1])
    last = get_tokenizer().decode(fresh.token_ids[-1:])
    assert f"text so far: {whole!r} + {last!r}" in fresh.readout_text
    bundle = fresh._repr_mimebundle_()
    assert "shown at step=7" in bundle["text/plain"]
    assert f"text so far: {whole!r} + {last!r}" in bundle["text/plain"]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(max_new_tokens=0), ValueError, "max_new_tokens"),
    (dict(max_new_tokens=2.0), TypeError, "max_new_tokens"),
    (dict(max_new_tokens=True), TypeError, "max_new_tokens"),
    (dict(top_k=0), ValueError, "top_k"),
    (dict(top_k=31), ValueError, "top_k"),
    (dict(top_k="5"), TypeError, "top_k"),
])
def test_bad_arguments(model, kwargs, error, match):
    with pytest.raises(error, match=match):
        generation_explorer(model, PROMPT, **kwargs)


def test_bad_model_and_prompt(model):
    with pytest.raises(ValueError, match="empty"):
        generation_explorer(model, "")
    with pytest.raises(TypeError, match="GPTModel"):
        generation_explorer(torch.nn.Linear(2, 2), PROMPT)
