"""The checks never lie: right answers written other ways are Correct, wrong
ones (gradient bugs, the course's own code passed off as the learner's,
inputs changed in place) are Not yet, and whatever the learner's code does
(loops forever, exits, prints a flood, patched the course, changed grad mode,
the default dtype or the random state) the verdict is true and the learner's
state is left exactly as it was found."""

import math
import random

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import gpt_course
from gpt_course import GELU, GPT_CONFIG_124M, LayerNorm, MultiHeadAttention, generate_text_simple
from gpt_course.exercises import sandbox
from gpt_course.exercises.nb02_layer_norm import check_layer_norm
from gpt_course.exercises.nb03_gelu_vs_relu import check_gelu
from gpt_course.exercises.nb05_shortcut_connections import check_shortcut_forward
from gpt_course.exercises.nb06_transformer_block import check_multi_head_attention
from gpt_course.exercises.nb08_greedy_generation import check_generate_text_simple
from solutions import run_cell, solution_code
from test_yourturn_notebooks import YOUR_TURN


def verdict_of(out):
    lines = [line for line in out.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# ------------------------------------------------------------ LayerNorm, written as learners do

class BookInit(nn.Module):
    def __init__(self, emb_dim):
        super().__init__()
        self.eps = 1e-5
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))


class FunctionalLayerNorm(BookInit):
    """torch's own layer_norm: closer to the exact value than the course's
    float32 steps on nearly constant rows (the old check rejected it)."""

    def forward(self, x):
        return F.layer_norm(x, x.shape[-1:], self.scale, self.shift, self.eps)


class Float64Statistics(BookInit):
    def forward(self, x):
        x64 = x.double()
        mean = x64.mean(dim=-1, keepdim=True)
        var = ((x64 - mean) ** 2).mean(dim=-1, keepdim=True)
        return (self.scale * ((x64 - mean) / torch.sqrt(var + self.eps)) + self.shift).float()


class VarMeanRsqrt(BookInit):
    def forward(self, x):
        var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.scale + self.shift


class EpsAsBuffer(nn.Module):
    """eps kept as a buffer, scale/shift named like torch's LayerNorm."""

    def __init__(self, emb_dim):
        super().__init__()
        self.register_buffer("eps", torch.tensor(1e-5))
        self.weight = nn.Parameter(torch.ones(emb_dim))
        self.bias = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x):
        centred = x - x.mean(dim=-1, keepdim=True)
        var = (centred * centred).mean(dim=-1, keepdim=True)
        return self.weight * centred / (var + self.eps).sqrt() + self.bias


@pytest.mark.parametrize("cls", [FunctionalLayerNorm, Float64Statistics, VarMeanRsqrt,
                                 EpsAsBuffer])
def test_right_layer_norms_written_other_ways_are_correct(cls, capsys):
    assert check_layer_norm(cls)
    assert capsys.readouterr().out.startswith("Correct!")


class StatisticsWithoutGrad(BookInit):
    """Right values, but the statistics are computed under no_grad: the
    gradient with respect to the input is wrong, and training would suffer."""

    def forward(self, x):
        with torch.no_grad():
            mean = x.mean(dim=-1, keepdim=True)
            var = x.var(dim=-1, keepdim=True, unbiased=False)
        return self.scale * (x - mean) / torch.sqrt(var + self.eps) + self.shift


class DetachedOutput(BookInit):
    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        norm_x = ((x - mean) / torch.sqrt(var + self.eps)).detach()
        return self.scale * norm_x + self.shift


class NoGraphAtAll(BookInit):
    @torch.no_grad()
    def forward(self, x):
        return F.layer_norm(x, x.shape[-1:], self.scale, self.shift, self.eps)


@pytest.mark.parametrize("cls, said", [
    (StatisticsWithoutGrad, "the gradient with respect to the input differs"),
    (DetachedOutput, "no gradient reaches the input"),
    (NoGraphAtAll, "no gradient flows back"),
])
def test_bugs_that_live_in_the_gradients_are_not_yet(cls, said, capsys):
    assert not check_layer_norm(cls)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and said in out, out


class OtherEps(BookInit):
    """A different eps: it must not be called "eps missing"."""

    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        return self.scale * (x - mean) / torch.sqrt(var + 1e-12) + self.shift


def test_a_different_eps_is_not_called_missing(capsys):
    assert not check_layer_norm(OtherEps)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "eps is missing" not in out, out


# ------------------------------------------------------------ the course's own answer

class InheritsLayerNorm(LayerNorm):
    pass


class CallsCourseForward(BookInit):
    def forward(self, x):
        return LayerNorm.forward(self, x)


class WrapsCourseModule(nn.Module):
    def __init__(self, emb_dim):
        super().__init__()
        self.inner = LayerNorm(emb_dim)

    def forward(self, x):
        return self.inner(x)


@pytest.mark.parametrize("check, answer", [
    (check_layer_norm, LayerNorm),
    (check_layer_norm, InheritsLayerNorm),
    (check_layer_norm, CallsCourseForward),
    (check_layer_norm, WrapsCourseModule),
    (check_gelu, GELU),
    (check_multi_head_attention, MultiHeadAttention),
    (check_generate_text_simple, generate_text_simple),
    (check_generate_text_simple, lambda *args: generate_text_simple(*args)),
])
def test_the_courses_own_answer_is_not_yet(check, answer, capsys):
    assert not check(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "the course's" in out and "own" in out, out


# ------------------------------------------------------------ GELU, written as learners do

class GeluAsFunctionOfX(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


class GeluWithBuffers(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("c", torch.tensor(math.sqrt(2 / math.pi)))
        self.register_buffer("k", torch.tensor(0.044715))

    def forward(self, x):
        return 0.5 * x * (1 + torch.tanh(self.c * (x + self.k * torch.pow(x, 3))))


class GeluAsSigmoid(nn.Module):
    """The same function: 0.5 (1 + tanh(u)) = sigmoid(2u)."""

    def forward(self, x):
        return x * torch.sigmoid(2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))


def gelu_function(x):
    return F.gelu(x, approximate="tanh")


@pytest.mark.parametrize("answer", [GeluAsFunctionOfX, GeluWithBuffers, GeluAsSigmoid,
                                    gelu_function])
def test_right_gelus_written_other_ways_are_correct(answer, capsys):
    assert check_gelu(answer)
    assert capsys.readouterr().out.startswith("Correct!")


# ------------------------------------------------------------ attention: Linears in another order

class AttentionOtherOrder(nn.Module):
    """The book's attention, its Linears declared in another order, and
    torch's scaled_dot_product_attention doing the middle."""

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.num_heads, self.head_dim, self.d_out = num_heads, d_out // num_heads, d_out
        self.out_proj = nn.Linear(d_out, d_out)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length),
                                                diagonal=1))

    def forward(self, x):
        b, n, _ = x.shape

        def heads(t):
            return t.reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.W_query(x)), heads(self.W_key(x)), heads(self.W_value(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        scores = scores.masked_fill(self.mask.bool()[:n, :n], float("-inf"))
        weights = self.dropout(torch.softmax(scores, dim=-1))
        return self.out_proj((weights @ v).transpose(1, 2).reshape(b, n, self.d_out))


def test_attention_with_linears_in_another_order_is_correct(capsys):
    assert check_multi_head_attention(AttentionOtherOrder)
    assert capsys.readouterr().out.startswith("Correct!")


# ------------------------------------------------------------ inputs left alone

class ShortcutInPlace(nn.Module):
    def __init__(self, layer_sizes, use_shortcut):
        super().__init__()
        self.use_shortcut = use_shortcut
        self.layers = nn.ModuleList([nn.Sequential(nn.Linear(a, b), GELU())
                                     for a, b in zip(layer_sizes[:-1], layer_sizes[1:])])

    def forward(self, x):
        for layer in self.layers:
            out = layer(x)
            if self.use_shortcut and x.shape == out.shape:
                x += out
            else:
                x = out
        return x


def test_an_input_changed_in_place_is_not_yet_with_why(capsys):
    assert not check_shortcut_forward(ShortcutInPlace)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "in place" in out and "x = x + ..." in out, out


# ------------------------------------------------------------ the learner's code misbehaves

class LoopsForever(BookInit):
    def forward(self, x):
        while True:
            pass


class CatchesEverything(BookInit):
    def forward(self, x):
        while True:
            try:
                while True:
                    pass
            except Exception:
                pass


@pytest.mark.parametrize("cls", [LoopsForever, CatchesEverything])
def test_a_forward_that_never_returns_is_reported_and_stopped(cls, capsys, monkeypatch):
    monkeypatch.setattr(sandbox, "STILL_RUNNING_AFTER", 0.5)
    monkeypatch.setattr(sandbox, "STOP_AFTER", 1.5)
    assert not check_layer_norm(cls)
    out = capsys.readouterr().out
    assert "still running after" in out and "stop button" in out
    assert verdict_of(out).startswith("Not yet:") and "was stopped" in verdict_of(out), out


def test_the_time_limits_report_within_15_seconds():
    """The limits as shipped (tests/conftest.py makes them generous for the rest)."""
    import ast
    import inspect
    shipped = {node.targets[0].id: ast.literal_eval(node.value)
               for node in ast.parse(inspect.getsource(sandbox)).body
               if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
               and node.targets[0].id in ("STILL_RUNNING_AFTER", "STOP_AFTER")}
    assert shipped["STILL_RUNNING_AFTER"] <= 15
    assert shipped["STILL_RUNNING_AFTER"] < shipped["STOP_AFTER"] <= 30


def test_the_time_limit_counts_only_the_learners_code(capsys, monkeypatch):
    """The check's own float64 work is not the learner's time: a right answer
    is Correct without a word about running long, even with a short limit."""
    monkeypatch.setattr(sandbox, "STILL_RUNNING_AFTER", 1.0)
    monkeypatch.setattr(sandbox, "STOP_AFTER", 5.0)
    assert check_layer_norm(FunctionalLayerNorm)
    assert "still running" not in capsys.readouterr().out


class Exits(BookInit):
    def forward(self, x):
        raise SystemExit(0)


def test_exit_in_the_learners_code_is_not_yet(capsys):
    assert not check_layer_norm(Exits)
    assert "sys.exit()" in capsys.readouterr().out


class PrintsAFlood(FunctionalLayerNorm):
    def forward(self, x):
        for i in range(5000):
            print("debug line", i)
        return super().forward(x)


def test_a_flood_of_prints_never_hides_the_verdict(capsys):
    assert check_layer_norm(PrintsAFlood)
    out = capsys.readouterr().out
    assert verdict_of(out).startswith("Correct!")
    assert len(out.splitlines()) <= 10, out
    assert "printed" in out and "debug line 0" in out


# ------------------------------------------------------------ the learner's state, untouched

def _solutions():
    return [(nb, check) for nb, check in YOUR_TURN]


@pytest.mark.parametrize("notebook, check", _solutions())
def test_every_check_leaves_random_state_dtype_and_grad_mode_as_found(notebook, check):
    code = solution_code(notebook, check)
    code = ("import random\nimport numpy as np\n"
            "torch.manual_seed(7); random.seed(7); np.random.seed(7)\n"
            "torch.set_grad_enabled(False)\n"
            "torch.set_default_dtype(torch.float64)\n"
            + code + "\n"
            "after = (torch.rand(2).tolist(), random.random(), float(np.random.rand()),\n"
            "         torch.is_grad_enabled(), torch.get_default_dtype())\n"
            "torch.set_grad_enabled(True); torch.set_default_dtype(torch.float32)\n"
            "print('AFTER', after)\n")
    out = run_cell(notebook, code)
    torch.manual_seed(7)
    random.seed(7)
    np.random.seed(7)
    expected = (torch.rand(2, dtype=torch.float64).tolist(), random.random(),
                float(np.random.rand()), False, torch.float64)
    assert f"AFTER {expected!r}" in out, out
    assert "Correct!" in out and "an earlier cell set grad mode off" in out, out


def test_a_patched_course_class_changes_no_verdict(capsys):
    original = LayerNorm.forward
    saved_config = dict(GPT_CONFIG_124M)
    learners_patch = lambda self, x: x  # noqa: E731  (what a learner tries in a cell)
    LayerNorm.forward = learners_patch
    GPT_CONFIG_124M["drop_rate"] = 0.5
    try:
        assert check_layer_norm(FunctionalLayerNorm)

        class Identity(BookInit):
            def forward(self, x):
                return x
        assert not check_layer_norm(Identity)
        out = capsys.readouterr().out
        assert out.count("Correct!") == 1 and out.count("Not yet:") == 1, out
        # and the learner's patch is theirs again afterwards
        assert LayerNorm.forward is learners_patch and GPT_CONFIG_124M["drop_rate"] == 0.5
    finally:
        LayerNorm.forward = original
        GPT_CONFIG_124M.clear()
        GPT_CONFIG_124M.update(saved_config)
    assert gpt_course.LayerNorm.forward is original


def test_every_public_check_is_a_teacher():
    import importlib
    import pkgutil

    import gpt_course.exercises as exercises
    missing = []
    for info in pkgutil.iter_modules(exercises.__path__):
        if not info.name.startswith("nb"):
            continue
        module = importlib.import_module(f"gpt_course.exercises.{info.name}")
        for name in dir(module):
            if name.startswith("check_") and callable(getattr(module, name)) \
                    and getattr(getattr(module, name), "__module__", "") == module.__name__:
                if not getattr(getattr(module, name), "__teacher__", False):
                    missing.append(f"{info.name}.{name}")
    assert not missing, missing


def test_common_torch_errors_are_explained():
    class StrideError(BookInit):
        def forward(self, x):
            return x.transpose(-1, -2).view(x.shape)

    out_lines = []
    import io
    from contextlib import redirect_stdout
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        check_layer_norm(StrideError)
    out_lines = buffer.getvalue()
    assert "contiguous()" in out_lines or "reshape" in out_lines, out_lines
