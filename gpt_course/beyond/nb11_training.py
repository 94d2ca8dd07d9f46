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

__all__ = [
    "GPTDatasetV1",
    "SmallVocab",
    "TrainingHistory",
    "calc_loss_batch",
    "calc_loss_loader",
    "create_dataloader",
    "load_course_text",
    "train_model_simple",
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
    if isinstance(values, torch.Tensor):
        values = values.flatten().tolist()
    if not isinstance(values, (list, tuple)) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(f"{name} must be a list (or tensor) of int token ids")
    return list(values)


class GPTDatasetV1(Dataset):
    """Sliding windows over one long list of token ids: input i is
    ids[s : s + max_length] with s = i * stride, its target is the same
    window shifted by one token, ids[s + 1 : s + max_length + 1]."""

    def __init__(self, token_ids, max_length, stride):
        token_ids = _int_list(token_ids, "token_ids")
        _positive_int(max_length, "max_length")
        _positive_int(stride, "stride")
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
    _positive_int(batch_size, "batch_size")
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
    logits = model(input_batch)                    # [batch, n_tokens, vocab]
    return torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), target_batch.flatten()  # [batch * n_tokens, vocab] vs [batch * n_tokens]
    )


def calc_loss_loader(data_loader, model, num_batches=None):
    """Mean loss over the first `num_batches` batches (all by default), in
    eval mode and without gradients; the model's mode is restored."""
    if len(data_loader) == 0:
        raise ValueError("the data loader has no batches")
    n = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    was_training = model.training
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i, (input_batch, target_batch) in enumerate(data_loader):
            if i >= n:
                break
            total += calc_loss_batch(input_batch, target_batch, model).item()
    model.train(was_training)
    return total / n


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
    _positive_int(num_epochs, "num_epochs")
    _positive_int(eval_freq, "eval_freq")
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise ValueError(f"on_epoch_end must be a function (epoch, model), got {on_epoch_end!r}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"optimizer must be a torch.optim optimizer, e.g. torch.optim.AdamW("
            f"model.parameters(), lr=1e-3), got {type(optimizer).__name__}"
        )
    if len(train_loader) == 0:
        raise ValueError("the training loader has no batches")
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


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
