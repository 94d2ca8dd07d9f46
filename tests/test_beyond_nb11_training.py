"""The training glimpse's loop (gpt_course/beyond/nb11_training.py): the loss
falls, runs repeat, and every guard refuses what it exists to refuse, with a
clear error at the entry point."""

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


@pytest.mark.parametrize("call, error, match", [
    (lambda v: v.encode([50256]), ValueError, "does not occur in the training text"),
    (lambda v: v.decode([len(v)]), ValueError, "outside"),
    (lambda v: v.decode([-1]), ValueError, "outside"),
    (lambda v: SmallVocab([]), ValueError, "empty"),
    (lambda v: SmallVocab("text"), TypeError, "list"),
    (lambda v: SmallVocab([1, 2.0]), TypeError, "list"),
    (lambda v: SmallVocab([True, 2]), TypeError, "list"),
    (lambda v: SmallVocab(torch.tensor([1.0, 2.0])), TypeError, "integer token ids"),
    (lambda v: v.encode("the cat"), TypeError, "token_ids"),
    (lambda v: v.decode(None), TypeError, "small_ids"),
])
def test_small_vocab_refuses(ids, call, error, match):
    with pytest.raises(error, match=match):
        call(SmallVocab(ids))


@pytest.fixture(scope="module")
def trained(ids):
    return run(ids, steps_epochs=1)


def test_dataset_and_loader_refuse_bad_arguments(ids):
    small = SmallVocab(ids).encode(ids)
    calls = [
        (lambda: GPTDatasetV1(small, max_length=0, stride=1), ValueError, "max_length"),
        (lambda: GPTDatasetV1(small, max_length=4.0, stride=1), TypeError, "max_length"),
        (lambda: GPTDatasetV1(small, max_length=4, stride=1.5), TypeError, "stride"),
        (lambda: GPTDatasetV1(small, max_length=4, stride=0), ValueError, "stride"),
        (lambda: GPTDatasetV1(small, max_length=4, stride=True), TypeError, "stride"),
        (lambda: GPTDatasetV1(small[:4], max_length=4, stride=1), ValueError, "no window"),
        (lambda: GPTDatasetV1("the cat", max_length=4, stride=1), TypeError, "token_ids"),
        (lambda: create_dataloader(small[:20], batch_size=8, max_length=8, stride=8),
         ValueError, "no batch"),
        (lambda: create_dataloader(small, batch_size=0), ValueError, "batch_size"),
        (lambda: create_dataloader(small, batch_size=2.5), TypeError, "batch_size"),
        (lambda: create_dataloader(small, max_length=8, shuffle="yes"), TypeError, "shuffle"),
        (lambda: create_dataloader(small, max_length=8, drop_last=1), TypeError, "drop_last"),
        (lambda: create_dataloader(small, max_length=8, seed=-1), ValueError, "seed"),
        (lambda: create_dataloader(small, max_length=8, seed=2**64), ValueError, "seed"),
        (lambda: create_dataloader(small, max_length=8, seed=1.5), TypeError, "seed"),
    ]
    for call, error, match in calls:
        with pytest.raises(error, match=match):
            call()
    # the largest seed a torch generator takes is still a seed
    create_dataloader(small, batch_size=2, max_length=8, seed=2**64 - 1)


@pytest.mark.parametrize("num_batches, error", [
    (0, ValueError), (-1, ValueError), (1.5, TypeError), (2.0, TypeError), (True, TypeError),
    ("2", TypeError),
])
def test_calc_loss_loader_refuses_a_bad_num_batches(trained, num_batches, error):
    """0 divided by zero, -1 gave -0.0, 1.5 averaged two batches over 1.5."""
    model, loader, _ = trained
    with pytest.raises(error, match="num_batches"):
        calc_loss_loader(loader, model, num_batches=num_batches)


def test_calc_loss_loader_averages_exactly_the_batches_it_reads(ids, trained):
    model, _, _ = trained
    # not shuffled: every pass over it gives the same batches in the same order
    loader = create_dataloader(SmallVocab(ids).encode(ids), batch_size=4, max_length=8,
                               stride=4, shuffle=False)
    batches = list(loader)
    assert len(batches) >= 3
    with torch.no_grad():
        losses = [calc_loss_batch(x, y, model).item() for x, y in batches]
    assert calc_loss_loader(loader, model, num_batches=1) == pytest.approx(losses[0])
    assert calc_loss_loader(loader, model, num_batches=2) == pytest.approx(sum(losses[:2]) / 2)
    assert calc_loss_loader(loader, model) == pytest.approx(sum(losses) / len(losses))
    # more than there are: all of them, averaged over how many there are
    assert calc_loss_loader(loader, model, num_batches=10**6) == pytest.approx(
        sum(losses) / len(losses))


def test_calc_loss_loader_refuses_an_empty_loader_and_restores_the_mode(trained):
    model, _, _ = trained
    with pytest.raises(ValueError, match="no batches"):
        calc_loss_loader([], model)
    model.train()
    bad = [(torch.zeros(1, 8, dtype=torch.long), torch.zeros(1, 7, dtype=torch.long))]
    with pytest.raises(ValueError, match="target_batch has shape"):
        calc_loss_loader(bad, model)
    assert model.training  # restored even when a batch fails
    model.eval()
    with pytest.raises(TypeError, match="GPTModel"):
        calc_loss_loader(bad, "model")


def test_calc_loss_batch_refuses_what_cross_entropy_would_fail_on(trained):
    model, loader, _ = trained
    x, y = next(iter(loader))
    vocab = model.cfg["vocab_size"]
    calls = [
        (lambda: calc_loss_batch(model, x, y), TypeError, "GPTModel"),  # arguments swapped
        (lambda: calc_loss_batch(x, y[:, :-1], model), ValueError, "target_batch has shape"),
        (lambda: calc_loss_batch(x, y[:1], model), ValueError, "target_batch has shape"),
        (lambda: calc_loss_batch(x, torch.full_like(y, vocab), model), ValueError,
         r"target_batch must be in \[0, "),
        (lambda: calc_loss_batch(x, y - 1, model) if (y == 0).any() else
         calc_loss_batch(x, torch.full_like(y, -1), model), ValueError, "target_batch must be in"),
        (lambda: calc_loss_batch(x, y.int(), model), TypeError,
         "target_batch must have dtype torch.long"),
        (lambda: calc_loss_batch(x, y.float(), model), TypeError, "target_batch"),
        (lambda: calc_loss_batch(x, y.tolist(), model), TypeError, "target_batch"),
        (lambda: calc_loss_batch(x[0], y[0], model), ValueError, "input_batch"),
    ]
    for call, error, match in calls:
        with pytest.raises(error, match=match):
            call()


def test_train_model_simple_refuses_bad_arguments(trained):
    model, loader, _ = trained
    optimizer = torch.optim.AdamW(model.parameters())
    before = [p.detach().clone() for p in model.parameters()]
    calls = [
        (lambda: train_model_simple(model, loader, "adam", 1), TypeError, "optimizer"),
        (lambda: train_model_simple(model, loader, optimizer, 0), ValueError, "num_epochs"),
        (lambda: train_model_simple(model, loader, optimizer, 1.0), TypeError, "num_epochs"),
        (lambda: train_model_simple(model, loader, optimizer, 1, eval_freq=-1), ValueError,
         "eval_freq"),
        (lambda: train_model_simple(model, loader, optimizer, 1, eval_freq=0.5), TypeError,
         "eval_freq"),
        (lambda: train_model_simple(model, loader, optimizer, 1, on_epoch_end="print"),
         TypeError, "on_epoch_end"),
        (lambda: train_model_simple(model, [], optimizer, 1), ValueError, "training loader"),
        (lambda: train_model_simple(model, loader, optimizer, 1, val_loader=[]),
         ValueError, "validation loader"),
        (lambda: train_model_simple(torch.nn.Linear(2, 2), loader, optimizer, 1), TypeError,
         "GPTModel"),
    ]
    for call, error, match in calls:
        with pytest.raises(error, match=match):
            call()
    # refused at the entry: nothing trained on the way
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_train_model_simple_refuses_an_optimizer_of_another_model(trained):
    """Else the loop runs, steps the other model, and the loss never falls."""
    model, loader, _ = trained
    other = GPTModel(model.cfg)
    with pytest.raises(ValueError, match="holds none of the model's parameters"):
        train_model_simple(model, loader, torch.optim.AdamW(other.parameters()), 1)
    # an optimizer of a part of the model (the rest frozen) is fine
    head_only = torch.optim.SGD(model.out_head.parameters(), lr=0.0)
    history = train_model_simple(model, loader, head_only, 1)
    assert len(history.train_losses) == len(loader)


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
