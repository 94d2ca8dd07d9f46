"""Beyond the book: a glimpse of training (the book's chapter 5, in brief).

A small, readable training loop for the course's `GPTModel`, with the book's
names where it has them: a dataset of sliding windows of token ids
(`GPTDatasetV1`), `calc_loss_batch`, `calc_loss_loader` and
`train_model_simple`. On the CPU, with a seed, it is deterministic: the same
seed gives the same losses.

`SmallVocab` renumbers the GPT-2 token ids that occur in a text as 0..n-1, so
a tiny model needs an output head of n rows instead of 50,257 (the slowest
part of training on a CPU). It changes nothing else: text is still split into
tokens by the GPT-2 tokenizer, and the model can only ever write tokens of its
training text anyway.
"""

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from ..book.nb07_gpt_model import GPTModel
from ..checks import check_bool, check_gpt_model, check_int, check_token_ids
from ..tokenizer import get_tokenizer

__all__ = [
    "GPTDatasetV1",
    "Notebook11Run",
    "SmallVocab",
    "TrainingHistory",
    "calc_loss_batch",
    "calc_loss_loader",
    "create_dataloader",
    "load_course_text",
    "train_model_simple",
    "train_notebook11_model",
]

_COURSE_TEXT = Path(__file__).resolve().parent.parent / "data" / "course_prose.txt"


def load_course_text():
    """The course's own prose: the markdown of notebooks 00-08 (headings,
    paragraphs and lists; code, formulas, tables and solutions left out),
    snapshotted into gpt_course/data/course_prose.txt (about 54,000
    characters, 15,500 GPT-2 tokens)."""
    return _COURSE_TEXT.read_text(encoding="utf-8")


class SmallVocab:
    """The GPT-2 token ids that occur in `token_ids`, renumbered 0..n-1 in
    increasing order of their GPT-2 id."""

    def __init__(self, token_ids):
        token_ids = _int_list(token_ids, "token_ids")
        if not token_ids:
            raise ValueError("token_ids is empty: give the token ids of a text")
        self.gpt2_ids = sorted(set(token_ids))            # small id -> GPT-2 id
        self.index = {t: i for i, t in enumerate(self.gpt2_ids)}  # GPT-2 id -> small id

    def __len__(self):
        return len(self.gpt2_ids)

    def encode(self, token_ids):
        """GPT-2 ids -> small ids. A token that does not occur in the
        training text has no small id: ValueError naming it."""
        out = []
        for t in _int_list(token_ids, "token_ids"):
            if t not in self.index:
                raise ValueError(
                    f"GPT-2 token {t} does not occur in the training text, so the "
                    f"small vocabulary has no id for it; use words from the text"
                )
            out.append(self.index[t])
        return out

    def decode(self, small_ids):
        """Small ids -> GPT-2 ids (for tokenizer.decode)."""
        out = []
        for i in _int_list(small_ids, "small_ids"):
            if not 0 <= i < len(self):
                raise ValueError(f"small id {i} is outside 0..{len(self) - 1}")
            out.append(self.gpt2_ids[i])
        return out

    def __repr__(self):
        return f"SmallVocab({len(self)} tokens)"


def _int_list(values, name):
    """`values` (a list, tuple or integer tensor of ids) as a list of ints;
    TypeError for anything else (a string, floats, True/False)."""
    if isinstance(values, torch.Tensor):
        if values.is_floating_point() or values.is_complex() or values.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer token ids, got a tensor of {values.dtype}")
        values = values.flatten().tolist()
    if not isinstance(values, (list, tuple)) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        raise TypeError(f"{name} must be a list (or tensor) of int token ids, "
                        f"got {type(values).__name__}")
    return list(values)


class GPTDatasetV1(Dataset):
    """Sliding windows over one long list of token ids: input i is
    ids[s : s + max_length] with s = i * stride, its target is the same
    window shifted by one token, ids[s + 1 : s + max_length + 1]."""

    def __init__(self, token_ids, max_length, stride):
        token_ids = _int_list(token_ids, "token_ids")
        check_int("max_length", max_length, low=1)
        check_int("stride", stride, low=1)
        if len(token_ids) < max_length + 1:
            raise ValueError(
                f"{len(token_ids)} token ids give no window of max_length={max_length} "
                f"(plus 1 for the shifted target); use a longer text or a shorter max_length"
            )
        ids = torch.tensor(token_ids)
        starts = range(0, len(token_ids) - max_length, stride)
        self.input_ids = [ids[s:s + max_length] for s in starts]
        self.target_ids = [ids[s + 1:s + max_length + 1] for s in starts]

    def __len__(self):
        return len(self.input_ids)

    def __getitem__(self, idx):
        return self.input_ids[idx], self.target_ids[idx]


def create_dataloader(token_ids, batch_size=8, max_length=64, stride=64,
                      shuffle=True, drop_last=True, seed=123):
    """A DataLoader of (input, target) batches, [batch_size, max_length]
    each. Shuffling uses its own generator seeded with `seed`, so the order
    of the batches is the same on every run."""
    check_int("batch_size", batch_size, low=1)
    check_bool("shuffle", shuffle)
    check_bool("drop_last", drop_last)
    check_int("seed", seed, low=0, high=2**64 - 1, why=" (a torch seed is a 64-bit unsigned int)")
    dataset = GPTDatasetV1(token_ids, max_length, stride)
    if drop_last and len(dataset) < batch_size:
        raise ValueError(
            f"only {len(dataset)} windows for batch_size={batch_size} with drop_last=True: "
            f"no batch at all; use a smaller batch_size or stride"
        )
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                      drop_last=drop_last, generator=generator, num_workers=0)


def calc_loss_batch(input_batch, target_batch, model):
    """Mean cross-entropy of the model's next-token predictions for one
    batch: every position's logits against the token that really follows."""
    _check_batch(input_batch, target_batch, model)
    logits = model(input_batch)                    # [batch, n_tokens, vocab]
    return torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), target_batch.flatten()  # [batch * n_tokens, vocab] vs [batch * n_tokens]
    )


def _check_batch(input_batch, target_batch, model):
    """The targets are token ids of the inputs' shape (the same windows,
    shifted by one): checked here, so a swapped argument or a target of the
    wrong shape is named instead of failing inside cross_entropy."""
    cfg = check_gpt_model(model)
    check_token_ids(input_batch, cfg, name="input_batch")
    check_token_ids(target_batch, cfg, name="target_batch")
    if target_batch.dtype != torch.long:  # cross_entropy takes class indices as int64 only
        raise TypeError(f"target_batch must have dtype torch.long, got {target_batch.dtype}; "
                        f"use target_batch.long()")
    if target_batch.shape != input_batch.shape:
        raise ValueError(
            f"target_batch has shape {list(target_batch.shape)}, input_batch "
            f"{list(input_batch.shape)}: each target is its input window shifted by one token, "
            f"so the shapes must be equal"
        )


def calc_loss_loader(data_loader, model, num_batches=None):
    """Mean loss over the first `num_batches` batches (all by default), in
    eval mode and without gradients; the model's mode is restored."""
    check_gpt_model(model)
    if num_batches is not None:
        check_int("num_batches", num_batches, low=1, why=" (how many batches to average)")
    if len(data_loader) == 0:
        raise ValueError("the data loader has no batches")
    n = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    was_training = model.training
    model.eval()
    total, seen = 0.0, 0
    try:
        with torch.no_grad():
            for input_batch, target_batch in data_loader:
                if seen == n:
                    break
                total += calc_loss_batch(input_batch, target_batch, model).item()
                seen += 1
    finally:
        model.train(was_training)
    return total / seen  # seen >= 1: the loader has batches


@dataclass
class TrainingHistory:
    """What `train_model_simple` records: the loss of every training step,
    and the validation loss every `eval_freq` steps (if there is a
    validation loader)."""
    train_losses: list = field(default_factory=list)   # one per step
    val_steps: list = field(default_factory=list)      # the steps evaluated
    val_losses: list = field(default_factory=list)     # mean validation loss there


def train_model_simple(model, train_loader, optimizer, num_epochs,
                       val_loader=None, eval_freq=50, on_epoch_end=None):
    """The plain training loop: for every batch, compute the loss, backpropagate,
    step the optimizer. `on_epoch_end(epoch, model)`, if given, is called after
    each epoch (e.g. to see what the model writes by then). Returns a
    `TrainingHistory`."""
    check_gpt_model(model)
    check_int("num_epochs", num_epochs, low=1)
    check_int("eval_freq", eval_freq, low=1, why=" (evaluate every eval_freq steps)")
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise TypeError(f"on_epoch_end must be a function (epoch, model), got {on_epoch_end!r}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim optimizer, e.g. torch.optim.AdamW("
            f"model.parameters(), lr=1e-3), got {type(optimizer).__name__}"
        )
    # An optimizer built for another model steps that model's weights: training
    # would run, the loss would not fall, and nothing would say why.
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    if not any(id(p) in held for p in model.parameters()):
        raise ValueError(
            "optimizer holds none of the model's parameters (was it built for another "
            "model?): build it with torch.optim.AdamW(model.parameters(), ...)"
        )
    if len(train_loader) == 0:
        raise ValueError("the training loader has no batches")
    # checked now, not after eval_freq steps of training
    if val_loader is not None and len(val_loader) == 0:
        raise ValueError("the validation loader has no batches")
    history = TrainingHistory()
    step = 0
    for epoch in range(1, num_epochs + 1):
        model.train()                                   # dropout on (if the config has any)
        for input_batch, target_batch in train_loader:
            optimizer.zero_grad()                       # forget the last step's gradients
            loss = calc_loss_batch(input_batch, target_batch, model)
            loss.backward()                             # gradients of the loss
            optimizer.step()                            # move every weight a little
            history.train_losses.append(loss.item())
            step += 1
            if val_loader is not None and step % eval_freq == 0:
                history.val_steps.append(step)
                history.val_losses.append(calc_loss_loader(val_loader, model))
        if on_epoch_end is not None:
            model.eval()                                # no dropout while it looks
            with torch.no_grad():
                on_epoch_end(epoch, model)
    model.eval()
    return history


@dataclass
class Notebook11Run:
    """What `train_notebook11_model` returns: the trained model (eval mode), the
    small vocabulary its ids are in, the `TrainingHistory` (validation loss once
    per epoch), and the token ids (small ids) of the 90% it trained on and of
    the 10% kept for validation."""
    model: torch.nn.Module
    vocab: SmallVocab
    history: TrainingHistory
    train_ids: list
    val_ids: list


def train_notebook11_model(num_epochs=8):
    """Notebook 11's training run in one call, for later notebooks that need a
    trained model: the course's prose in GPT-2 tokens renumbered by a
    `SmallVocab`, the first 90% to train on and the last 10% to validate, the
    same tiny `GPTModel` (seed 123), AdamW (lr 0.003, weight decay 0.1), batches
    of 8 windows of 64 tokens in the same order. The same steps as notebook
    11's cells, so after epoch e the weights and losses are that notebook's
    after epoch e (on the CPU; the losses are printed to 3 decimals there).
    About 3 s per epoch on one core."""
    check_int("num_epochs", num_epochs, low=1)

    token_ids = get_tokenizer().encode(load_course_text())
    vocab = SmallVocab(token_ids)
    ids = vocab.encode(token_ids)
    split = int(0.9 * len(ids))
    train_loader = create_dataloader(ids[:split], batch_size=8, max_length=64, stride=64, seed=123)
    val_loader = create_dataloader(ids[split:], batch_size=8, max_length=64, stride=64,
                                   shuffle=False, drop_last=False)
    cfg = {"vocab_size": len(vocab), "context_length": 64, "emb_dim": 128, "n_heads": 4,
           "n_layers": 2, "drop_rate": 0.0, "qkv_bias": False}

    with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
        torch.manual_seed(123)
        model = GPTModel(cfg)
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.003, weight_decay=0.1)
        history = train_model_simple(model, train_loader, optimizer, num_epochs,
                                     val_loader=val_loader, eval_freq=len(train_loader))
    return Notebook11Run(model=model.eval(), vocab=vocab, history=history,
                         train_ids=ids[:split], val_ids=ids[split:])
