"""Notebook 09's "your turn": the attention with a KV cache the learner writes,
run through check_attention_with_cache: the hidden solution from the notebook,
the skeleton, each diagnosed mistake, and a battery of things that must not
crash the check."""


import pytest
import torch
import torch.nn as nn

from gpt_course.exercises.nb09_faster_generation import check_attention_with_cache
from solutions import notebook_cells, run_cell, skeleton_code, solution_code

NOTEBOOK = "09_faster_generation"
CHECK = "check_attention_with_cache"


def test_solution_plugs_into_the_model():
    # the notebook's plug-in cell, on a model of another size: the learner's class
    # in GPTModelWithCache gives the plain model's logits
    code = solution_code(NOTEBOOK, CHECK).replace(f"{CHECK}(MyAttentionWithCache)", "") + """
cfg = {**GPT_CONFIG_124M, "vocab_size": 97, "context_length": 12, "emb_dim": 24,
       "n_heads": 3, "n_layers": 2, "qkv_bias": True}
torch.manual_seed(0)
model = GPTModel(cfg).eval()
ids = torch.randint(0, 97, (2, 12))
cached = GPTModelWithCache(model, attention=MyAttentionWithCache)
with torch.no_grad():
    out = torch.cat([cached(ids[:, :4]), cached(ids[:, 4:5]), cached(ids[:, 5:])], dim=1)
    print("largest difference", (out - model(ids)).abs().max().item())
"""
    out = run_cell(NOTEBOOK, code)
    assert float(out.split()[-1]) < 1e-5, out


def test_plug_in_cell():
    """The notebook's cell after the exercise: it waits while the skeleton
    raises, and gives the plain model's logits once the class works."""
    cells = notebook_cells(NOTEBOOK)
    use = next("".join(c["source"]) for c in cells if c.get("id") == "c09-yourturn-use")
    setup = """
TINY = {**GPT_CONFIG_124M, "context_length": 8, "emb_dim": 32, "n_heads": 4, "n_layers": 2}
torch.manual_seed(123)
tiny = GPTModel(TINY).eval()
"""
    skeleton = run_cell(NOTEBOOK, setup + skeleton_code(NOTEBOOK, CHECK) + "\n" + use)
    assert "(runs once MyAttentionWithCache.forward is written)" in skeleton
    solved = run_cell(NOTEBOOK, setup + solution_code(NOTEBOOK, CHECK) + "\n" + use)
    assert "gives the plain model's logits: True" in solved, solved


class Learner(nn.Module):
    """A learner's cached attention, right by default; the class attributes
    switch on one classic mistake at a time."""
    append_keys = append_values = True
    cat_dim = 2
    use_cache = True        # False: attend over the new tokens only
    values_from = "values"  # "keys": the value cache gets the keys
    mask = "offset"         # "from_zero", "square", "first_only", "none"
    scale = True
    return_all = False      # a row for every cached token

    def __init__(self, att):
        super().__init__()
        self.W_query, self.W_key, self.W_value = att.W_query, att.W_key, att.W_value
        self.out_proj = att.out_proj
        self.register_buffer("mask_full", att.mask, persistent=False)
        self.num_heads, self.head_dim, self.d_out = att.num_heads, att.head_dim, att.d_out
        self.cache_k = None
        self.cache_v = None

    def forward(self, x):
        b, n, _ = x.shape
        start = 0 if self.cache_k is None else self.cache_k.shape[2]
        end = start + n

        def split(t):
            return t.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.W_query(x)), split(self.W_key(x)), split(self.W_value(x))
        if self.values_from == "keys":
            v = k
        if self.cache_k is None:
            self.cache_k, self.cache_v = k, v
        else:
            if self.append_keys:
                self.cache_k = torch.cat([self.cache_k, k], dim=self.cat_dim)
            if self.append_values:
                self.cache_v = torch.cat([self.cache_v, v], dim=self.cat_dim)
        keys, values = (self.cache_k, self.cache_v) if self.use_cache else (k, v)
        scores = q @ keys.transpose(2, 3)
        rows = {"offset": self.mask_full[start:end, :end] if self.use_cache
                else self.mask_full[:n, :n],
                "from_zero": self.mask_full[:n, :end],
                "square": self.mask_full[:n, :n],
                "first_only": self.mask_full[:n, :n] if start == 0 else None,
                "none": None}[self.mask]
        if rows is not None:
            scores.masked_fill_(rows, -torch.inf)
        weights = torch.softmax(scores / (self.head_dim**0.5 if self.scale else 1.0), dim=-1)
        context = (weights @ values).transpose(1, 2).contiguous()
        out = self.out_proj(context.view(b, n, self.d_out))
        if self.return_all:  # rows for the cached tokens too (zeros stand in for them)
            out = torch.cat([out.new_zeros(b, start, self.d_out), out], dim=1)
        return out


def wrong(**mistake):
    return type("MyAttentionWithCache", (Learner,), mistake)


def test_learner_base_is_right(capsys):
    assert check_attention_with_cache(Learner)
    assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("mistake, hint", [
    (dict(use_cache=False), "attends over its own new tokens only"),
    (dict(append_values=False), "the keys are appended but the values are not"),
    (dict(append_keys=False), "the values are appended but the keys are not"),
    (dict(append_keys=False, append_values=False), "the cache does not grow"),
    (dict(values_from="keys"), "the value cache holds keys"),
    (dict(mask="from_zero"), "the mask starts at position 0"),
    (dict(mask="square"), "is the mask sliced for them"),
    (dict(mask="first_only"), "the mask is left out once the cache holds tokens"),
    (dict(mask="none"), "no causal mask"),
    (dict(scale=False), "not scaled"),
    (dict(cat_dim=1), "grew along dimension 1"),
    (dict(cat_dim=3), "grew along dimension 3"),
    (dict(cat_dim=0), "grew along dimension 0"),
    (dict(return_all=True), "a row for every cached token"),
])
def test_each_mistake_gets_its_hint(capsys, mistake, hint):
    assert not check_attention_with_cache(wrong(**mistake))
    out = capsys.readouterr().out
    assert out.startswith("Not yet") and hint in out, out


class Instance(Learner):
    pass


class InitFails(Learner):
    def __init__(self, att):
        raise KeyError("W_qkv")


class NoSuper(nn.Module):
    def __init__(self, att):  # forgets super().__init__(): assigning a module fails
        self.W_query = att.W_query


class ForwardFails(Learner):
    def forward(self, x):
        raise IndexError("tuple index out of range")


class FailsLater(Learner):
    def forward(self, x):
        if self.cache_k is not None:
            raise ZeroDivisionError("oops")
        return super().forward(x)


class WrongShape(Learner):
    def forward(self, x):
        return super().forward(x)[:, :, :5]


class WholeNumbers(Learner):
    def forward(self, x):
        return super().forward(x).long()


class ReturnsNone(Learner):
    def forward(self, x):
        super().forward(x)


class NaNs(Learner):
    def forward(self, x):
        out = super().forward(x)
        return out * float("nan")


class NotAModule:
    def __init__(self, att):
        pass


class Plain(nn.Module):  # not built from att: its own random weights
    def __init__(self, att):
        super().__init__()
        self.proj = nn.Linear(att.d_out, att.d_out)

    def forward(self, x):
        return self.proj(x)


@pytest.mark.parametrize("answer, said", [
    (3, "pass your class"),
    ("MyAttentionWithCache", "pass your class"),
    (NotAModule, "class NotAModule, which is not one"),
    (InitFails, "KeyError"),
    (NoSuper, "failed"),
    (ForwardFails, "IndexError: tuple index out of range"),
    (FailsLater, "raised ZeroDivisionError: oops on call 2"),
    (WrongShape, "shape"),
    (WholeNumbers, "dtype"),
    (ReturnsNone, "NoneType, not a tensor"),
    (NaNs, "NaN"),
    (Plain, "differs from the course's"),
])
def test_never_crashes(capsys, answer, said):
    assert not check_attention_with_cache(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet") and said in out, out


def test_instance_none_and_skeleton_like(capsys):
    from gpt_course import MultiHeadAttention
    att = MultiHeadAttention(4, 4, 8, 0.0, 2)
    assert not check_attention_with_cache(Instance(att))
    assert "not an instance" in capsys.readouterr().out
    assert not check_attention_with_cache(None)
    assert "No answer yet" in capsys.readouterr().out

    class StillTodo(Learner):
        def forward(self, x):
            raise NotImplementedError("your turn")

    assert not check_attention_with_cache(StillTodo)
    assert "still raises NotImplementedError" in capsys.readouterr().out
