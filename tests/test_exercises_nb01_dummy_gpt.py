"""Exercise checks of notebook 01: right answers in every form a learner may
give them, each diagnosed wrong answer with its own hint, and answers of the
wrong kind turned away with a hint on the form."""

import json
import re

import pytest
import torch

from gpt_course import GPT_CONFIG_124M, DummyGPTModel
from gpt_course.exercises.nb01_dummy_gpt import (
    DUMMY_PARAMETERS, check_dummy_parameter_count, check_logits_shape,
)
from solutions import NOTEBOOKS

NO_ANSWER = "No answer yet"


@pytest.fixture(scope="module")
def tiny_logits():
    cfg = {**GPT_CONFIG_124M, "emb_dim": 8, "n_layers": 1, "n_heads": 1}
    return DummyGPTModel(cfg)(torch.zeros(3, 6, dtype=torch.long))


def test_logits_shape_right_in_every_form(tiny_logits, capsys):
    for answer in (tiny_logits.shape, [3, 6, 50257], (3, 6, 50257), (3.0, 6.0, 50257.0),
                   torch.tensor([3, 6, 50257])):
        assert check_logits_shape(answer)
        assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("answer, hint", [
    ((3, 6, 768), "768 is emb_dim"),
    ((6, 3, 50257), "batch first"),
    ((2, 4, 50257), "2 texts of 4 tokens"),
    ((3, 50257), "three dimensions"),
    ((3, 6, 50256), "how many scores per token"),
])
def test_logits_shape_wrong_with_its_hint(answer, hint, capsys):
    assert not check_logits_shape(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out


@pytest.mark.parametrize("answer", ["3, 6, 50257", "(3, 6, 50257)", (3, 6.5, 50257),
                                    (3, True, 50257), 50257, torch.zeros(3, 6, 50257)])
def test_logits_shape_wrong_form(answer, capsys):
    assert not check_logits_shape(answer)
    assert "three whole numbers" in capsys.readouterr().out


def test_logits_shape_no_answer(capsys):
    assert not check_logits_shape(None)
    assert NO_ANSWER in capsys.readouterr().out


def test_dummy_parameter_count_right_in_every_form(capsys):
    model = DummyGPTModel(GPT_CONFIG_124M)
    right = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert right == DUMMY_PARAMETERS == 77_981_184
    for answer in (right, 77_981_184.0, torch.tensor(77_981_184), torch.tensor([77_981_184])):
        assert check_dummy_parameter_count(answer)
        assert "77,981,184" in capsys.readouterr().out


@pytest.mark.parametrize("answer, hint", [
    (2 * 50257 * 768, "what else has weights"),
    (50257 * 768 + 1024 * 768, "the output head has weights too"),
    (77_981_184 + 50257, "no bias"),
    (124_000_000, "add up the weight matrices"),
])
def test_dummy_parameter_count_wrong_with_its_hint(answer, hint, capsys):
    assert not check_dummy_parameter_count(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and hint in out


@pytest.mark.parametrize("answer", [77_981_184.5, "77981184", "77,981,184", True,
                                    float("nan"), float("inf"), torch.tensor([77_981_184, 1])])
def test_dummy_parameter_count_wrong_form(answer, capsys):
    assert not check_dummy_parameter_count(answer)
    assert "one whole number" in capsys.readouterr().out


def test_dummy_parameter_count_no_answer(capsys):
    assert not check_dummy_parameter_count(None)
    assert NO_ANSWER in capsys.readouterr().out


# ------------------------------------------------ no answer shown before its exercise

def shown_before(notebook, cell_id):
    """All a learner has seen above cell `cell_id`: every cell's source, the text
    of its stored outputs, and the text of the figures the markdown shows."""
    path = next(NOTEBOOKS.glob(f"{notebook}*.ipynb"))
    seen = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell.get("id") == cell_id:
            return "\n".join(seen)
        source = "".join(cell["source"])
        seen.append(source)
        for figure in re.findall(r"\]\(\.\./(images/[^)]+\.svg)\)", source):
            seen.append((NOTEBOOKS.parent / figure).read_text(encoding="utf-8"))
        for output in cell.get("outputs", []):
            seen.append("".join(output.get("text", "")))
            seen += ["".join(v) for k, v in output.get("data", {}).items() if k.startswith("text/")]
    raise AssertionError(f"{notebook} has no cell {cell_id}")


@pytest.mark.parametrize("cell_id, answers", [
    ("c01-ex1", ["3, 6, 50257", "3, 6, 50,257"]),
    ("c01-ex2", ["77,981,184", "77981184", "77 981 184"]),
])
def test_no_answer_is_shown_before_its_exercise(cell_id, answers):
    seen = shown_before("01_dummy_gpt", cell_id)
    for answer in answers:
        assert answer not in seen, f"{answer!r} is shown before {cell_id}"
