import pytest
import torch

from gpt_course import GPT_CONFIG_124M, GPTModel, get_tokenizer
from gpt_course.exercises import sandbox

EXAMPLE_TEXTS = ["Every effort moves you", "Every day holds a"]


@pytest.fixture(scope="session")
def tokenizer():
    return get_tokenizer()


@pytest.fixture(scope="session")
def example_batch(tokenizer):
    return torch.stack([torch.tensor(tokenizer.encode(t)) for t in EXAMPLE_TEXTS])


@pytest.fixture(scope="session")
def book_gpt124m(example_batch):
    """The book's 124M model, built right after torch.manual_seed(123), and the
    logits the book prints: computed straight away in training mode, so dropout
    draws from the RNG exactly as in the book's listing."""
    torch.manual_seed(123)
    model = GPTModel(GPT_CONFIG_124M)
    with torch.no_grad():
        logits = model(example_batch)
    model.eval()
    return model, logits


@pytest.fixture(scope="session")
def gpt124m(book_gpt124m):
    """The book's 124M model in eval mode (as the book uses it for generation)."""
    return book_gpt124m[0]


@pytest.fixture
def tiny_cfg():
    return {**GPT_CONFIG_124M, "vocab_size": 97, "context_length": 16, "emb_dim": 32,
            "n_heads": 4, "n_layers": 2, "drop_rate": 0.0}


@pytest.fixture(autouse=True)
def generous_check_time_limits(monkeypatch):
    """A right answer's check takes seconds; on a loaded CI machine it could take
    more than the 10 s after which a learner is told "still running", and that
    line would change what the tests read. Tests of the time limits set their own."""
    monkeypatch.setattr(sandbox, "STILL_RUNNING_AFTER", 120.0)
    monkeypatch.setattr(sandbox, "STOP_AFTER", 240.0)

