"""The training glimpse's loop: the loss falls, runs repeat, bad arguments
give clear errors."""

import pytest
import torch

from gpt_course import GPTModel, get_tokenizer
from gpt_course.beyond.nb11_training import (
    GPTDatasetV1,
    SmallVocab,
    calc_loss_batch,
    calc_loss_loader,
    create_dataloader,
    load_course_text,
    train_model_simple,
)

TEXT = "the cat sat on the mat and the dog sat on the log " * 6


@pytest.fixture(scope="module")
def ids():
    return get_tokenizer().encode(TEXT)


def tiny_cfg(vocab_size):
    return {"vocab_size": vocab_size, "context_length": 8, "emb_dim": 16, "n_heads": 2,
            "n_layers": 1, "drop_rate": 0.0, "qkv_bias": False}


def run(ids, steps_epochs=3, seed=123):
    vocab = SmallVocab(ids)
    small = vocab.encode(ids)
    loader = create_dataloader(small, batch_size=4, max_length=8, stride=4, seed=seed)
    torch.manual_seed(seed)
    model = GPTModel(tiny_cfg(len(vocab)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    history = train_model_simple(model, loader, optimizer, steps_epochs,
                                 val_loader=loader, eval_freq=2)
    return model, loader, history


def test_loss_decreases_and_val_recorded(ids):
    model, loader, history = run(ids)
    losses = history.train_losses
    assert len(losses) == 3 * len(loader)
    assert losses[-1] < losses[0] - 0.5
    assert history.val_steps == list(range(2, len(losses) + 1, 2))
    assert len(history.val_losses) == len(history.val_steps)
    assert history.val_losses[-1] < history.val_losses[0]
    assert not model.training  # left in eval mode, ready to generate


def test_same_seed_same_losses(ids):
    a = run(ids)[2]
    b = run(ids)[2]
    assert a.train_losses == b.train_losses
    assert a.val_losses == b.val_losses
    c = run(ids, seed=7)[2]
    assert c.train_losses != a.train_losses


def test_dataset_windows():
    data = GPTDatasetV1(list(range(10)), max_length=4, stride=2)
    assert len(data) == 3  # starts 0, 2, 4 (start 6 would need ids up to 10)
    x, y = data[1]
    assert x.tolist() == [2, 3, 4, 5]
    assert y.tolist() == [3, 4, 5, 6]
    assert len(GPTDatasetV1(list(range(5)), max_length=4, stride=1)) == 1


def test_calc_loss_matches_hand_cross_entropy(ids):
    vocab = SmallVocab(ids)
    torch.manual_seed(0)
    model = GPTModel(tiny_cfg(len(vocab))).eval()
    x = torch.tensor([vocab.encode(ids[:8])])
    y = torch.tensor([vocab.encode(ids[1:9])])
    probas = torch.softmax(model(x), dim=-1)
    target_p = probas[0, torch.arange(8), y[0]]
    loss = calc_loss_batch(x, y, model)
    torch.testing.assert_close(loss, -target_p.log().mean())


def test_calc_loss_loader_restores_mode(ids):
    model, loader, _ = run(ids, steps_epochs=1)
    model.train()
    loss = calc_loss_loader(loader, model, num_batches=1)
    assert model.training and loss > 0


def test_small_vocab_round_trip(ids):
    vocab = SmallVocab(ids)
    assert len(vocab) == len(set(ids))
    assert vocab.gpt2_ids == sorted(set(ids))
    small = vocab.encode(ids)
    assert max(small) == len(vocab) - 1
    assert vocab.decode(small) == ids
    assert vocab.encode(torch.tensor(ids[:3])) == small[:3]
    with pytest.raises(ValueError, match="does not occur in the training text"):
        vocab.encode([50256])
    with pytest.raises(ValueError, match="outside"):
        vocab.decode([len(vocab)])
    with pytest.raises(ValueError, match="empty"):
        SmallVocab([])
    with pytest.raises(ValueError, match="list"):
        SmallVocab("text")


def test_bad_arguments(ids):
    small = SmallVocab(ids).encode(ids)
    with pytest.raises(ValueError, match="max_length"):
        GPTDatasetV1(small, max_length=0, stride=1)
    with pytest.raises(ValueError, match="stride"):
        GPTDatasetV1(small, max_length=4, stride=1.5)
    with pytest.raises(ValueError, match="no window"):
        GPTDatasetV1(small[:4], max_length=4, stride=1)
    with pytest.raises(ValueError, match="no batch"):
        create_dataloader(small[:20], batch_size=8, max_length=8, stride=8)
    with pytest.raises(ValueError, match="batch_size"):
        create_dataloader(small, batch_size=0)
    model, loader, _ = run(ids, steps_epochs=1)
    with pytest.raises(ValueError, match="optimizer"):
        train_model_simple(model, loader, "adam", 1)
    optimizer = torch.optim.AdamW(model.parameters())
    with pytest.raises(ValueError, match="num_epochs"):
        train_model_simple(model, loader, optimizer, 0)
    with pytest.raises(ValueError, match="eval_freq"):
        train_model_simple(model, loader, optimizer, 1, eval_freq=-1)


def test_course_text():
    text = load_course_text()
    assert text.startswith("# 00")
    assert "GPTModel" in text and len(text) > 20_000


def test_on_epoch_end(ids):
    vocab = SmallVocab(ids)
    loader = create_dataloader(vocab.encode(ids), batch_size=4, max_length=8, stride=4)
    torch.manual_seed(123)
    model = GPTModel(tiny_cfg(len(vocab)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    seen = []
    train_model_simple(model, loader, optimizer, 2,
                       on_epoch_end=lambda epoch, m: seen.append((epoch, m is model)))
    assert seen == [(1, True), (2, True)]
    with pytest.raises(ValueError, match="on_epoch_end"):
        train_model_simple(model, loader, optimizer, 1, on_epoch_end="print")
