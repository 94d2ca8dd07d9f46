"""Beyond the book: download OpenAI's GPT-2 124M weights from the Hugging
Face hub, pinned to one revision and checked, for `load_gpt2_safetensors`.

A download touches only its own files, and only once it has them all:

- Nothing downloaded is trusted. Each file is written under a temporary
  ``.part`` name in the target folder, read no further than the size it
  should have, and checked (``config.json`` is GPT-2 124M's config,
  ``model.safetensors`` has the published sha256). Only when every file is
  there and checked are they renamed into place.
- A file already in the folder is kept when it is the same (the published
  sha256; for ``config.json``, GPT-2 124M's config). A different one is
  replaced only with ``overwrite=True``; without it the error comes before
  anything is downloaded.
- Any failure, Ctrl-C included, leaves the folder as it was found: no
  ``.part`` file, no file replaced, no new empty folder. (Ctrl-C stops the
  download at once; while files are being renamed or put back it is held
  for the few microseconds that takes.)
- What the network, the server or the disk gets wrong is an error naming the
  file, the address or the folder, and saying what to do.
"""

import hashlib
import http.client
import os
import secrets
import signal
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path

from ..checks import check_bool, check_real
from ..config import GPT2_CONFIGS
from .nb10_gpt2_weights import CONFIG_MAX_BYTES, config_from_hf, read_hf_config, safetensors_shapes

__all__ = [
    "GPT2WeightsUnavailableError",
    "check_gpt2_124m_config",
    "check_gpt2_124m_weights",
    "download_gpt2_124m",
    "sha256_file",
]

# The official GPT-2 124M checkpoint, pinned to one revision and checked.
GPT2_124M_REPO = "openai-community/gpt2"
GPT2_124M_REVISION = "607a30d783dfa663caf39e06633721c8d4cfcd7e"
GPT2_124M_SAFETENSORS_SHA256 = (
    "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707"
)
GPT2_124M_SAFETENSORS_BYTES = 548_105_171  # also the most the download reads

# What the course reads from GPT-2 124M's config.json (config_from_hf).
_GPT2_124M_COURSE_CONFIG = {**GPT2_CONFIGS["gpt2-small (124M)"], "drop_rate": 0.0, "qkv_bias": True}


class GPT2WeightsUnavailableError(RuntimeError):
    """The GPT-2 weights could not be downloaded (offline, blocked, a server
    or a connection that failed, or a download that did not check out)."""


def sha256_file(path):
    """The sha256 of a file, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_gpt2_124m_config(path):
    """Raise ValueError unless `path` is GPT-2 124M's config.json: the course
    reads GPT-2 124M's config from it (vocabulary, context, width, depth, heads)."""
    try:
        course = config_from_hf(read_hf_config(path))
    except TypeError as err:  # a setting of the wrong kind: still just the wrong file
        raise ValueError(f"{path}: {err}") from err
    if course != _GPT2_124M_COURSE_CONFIG:
        raise ValueError(f"{path} is not GPT-2 124M's config: {course}")


def check_gpt2_124m_weights(path):
    """Raise ValueError unless `path` is GPT-2 124M's model.safetensors, byte
    for byte: its header first (for a clear message about an empty file, a Git
    LFS pointer or an HTML page), then the sha256 of the whole file."""
    shapes = safetensors_shapes(path)
    wte = shapes.get("wte.weight", shapes.get("transformer.wte.weight"))
    if wte != (50257, 768):
        raise ValueError(f"{path} is not GPT-2 124M's weights: its wte.weight is {wte}, "
                         f"not (50257, 768)")
    if sha256_file(path) != GPT2_124M_SAFETENSORS_SHA256:
        raise ValueError(
            f"{path}: its sha256 differs from GPT-2 124M's model.safetensors "
            f"({Path(path).stat().st_size:,} bytes, the published file has "
            f"{GPT2_124M_SAFETENSORS_BYTES:,}): a corrupted, truncated or altered file"
        )


# ------------------------------------------------------------- Ctrl-C


class _CtrlC:
    """Ctrl-C (SIGINT) during a download: delivered at once while files are
    fetched and checked (``now = True``), held back while the folder is being
    changed or put back, then delivered. Only the main thread receives SIGINT,
    so elsewhere, or where SIGINT is ignored, this does nothing."""

    def __init__(self):
        self.previous = None  # the handler before: restored, and called to deliver
        self.held = False     # a Ctrl-C came while held back
        self.now = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):  # e.g. Python's default: raise KeyboardInterrupt
                signal.signal(signal.SIGINT, self._handler)
                self.previous = previous
        return self

    def _handler(self, signum, frame):
        if self.now:
            self.now = False  # whatever runs next (putting things back) is held
            self.previous(signum, frame)
        else:
            self.held = True

    def deliver_held(self):
        if self.held:
            self.held = False
            self.previous(signal.SIGINT, None)

    def __exit__(self, exc_type, exc, tb):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            if exc_type is None:
                self.deliver_held()


# ------------------------------------------------------------- one file


class _File:
    """One file of the download: its temporary .part file, its place, and, when
    it replaces a file (overwrite=True), the name that keeps the old one until
    every new file is in place. The flags say what has been done, for undoing."""

    def __init__(self, dest, name, check, max_bytes, replaces):
        self.name, self.check, self.max_bytes, self.replaces = name, check, max_bytes, replaces
        self.target = dest / name
        token = secrets.token_hex(6)
        self.tmp = dest / f"{name}.{token}.part"
        self.backup = dest / f"{name}.{token}.old"
        self.out = None
        self.created = self.backed_up = self.placed = False

    def close(self):
        if self.out is not None and not self.out.closed:
            self.out.close()


def _local_error(err, what, advice):
    """An OSError of the same kind (PermissionError, ...) saying what failed and what to do."""
    message = f"{what} ({err.strerror or err}): {advice}"
    return OSError(err.errno, message) if err.errno is not None else OSError(message)


def _why_unreachable(err, timeout):
    """What a network or protocol error means, and what to do about it."""
    if isinstance(err, urllib.error.HTTPError):
        code = err.code
        if 300 <= code < 400:
            reason = " ".join(str(err.reason).split())
            return (f"the server redirects in a loop or somewhere it cannot be followed (HTTP "
                    f"{code}: {reason}): check HF_ENDPOINT, or try again later")
        if code == 404:
            return (f"HTTP 404 Not Found: the server has no {GPT2_124M_REPO} at revision "
                    f"{GPT2_124M_REVISION} (is HF_ENDPOINT a Hugging Face hub or mirror?)")
        if code in (401, 403):
            return (f"HTTP {code} {err.reason}: the server refuses access (a mirror or proxy "
                    f"that needs a login?)")
        if code == 429:
            return f"HTTP {code} {err.reason}: too many requests; wait a few minutes and try again"
        if code >= 500:
            return f"HTTP {code} {err.reason}: the server has a problem; try again later"
        return f"HTTP {code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        reason = err.reason
        if isinstance(reason, BaseException):
            return _why_unreachable(reason, timeout)
        return f"{reason}: check the network (or HF_ENDPOINT) and try again"
    if isinstance(err, TimeoutError) or "timed out" in str(err):
        return (f"no answer within {timeout:g} s: the network is down or slow; try again, "
                f"or pass a larger timeout")
    if isinstance(err, http.client.RemoteDisconnected):
        return "the server closed the connection without answering; try again later"
    if isinstance(err, http.client.IncompleteRead):
        return (f"the connection closed in the middle of the file ({err!r}): an interrupted "
                f"transfer; try again")
    if isinstance(err, http.client.HTTPException):
        return (f"the server's answer is not valid HTTP ({type(err).__name__}: {err}): "
                f"HF_ENDPOINT may not be a Hugging Face hub or mirror, or a proxy broke the "
                f"answer; try again, or use another mirror")
    if isinstance(err, socket.gaierror):
        return f"the host name cannot be resolved ({err}): offline, or HF_ENDPOINT is misspelt"
    if isinstance(err, ConnectionRefusedError):
        return f"nothing answers there ({err.strerror or err}): offline, or HF_ENDPOINT is wrong"
    if isinstance(err, ConnectionError):
        return f"the connection broke ({type(err).__name__}: {err}); try again"
    return f"{type(err).__name__}: {err}; check the network (or HF_ENDPOINT) and try again"


def _fetch(url, file, timeout, fail):
    """Download `url` into file.out, reading no more than file.max_bytes.
    `fail(what)` makes the error for the server's or the network's problems."""
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()
        raise fail(_why_unreachable(err, timeout)) from err
    except (OSError, http.client.HTTPException, ValueError) as err:
        raise fail(_why_unreachable(err, timeout)) from err
    with response:
        announced = response.headers.get("Content-Length", "").strip()
        announced = int(announced) if announced.isdigit() else None
        if announced is not None and announced > file.max_bytes:
            raise fail(f"the server announces {announced:,} bytes, more than the "
                       f"{file.max_bytes:,} bytes of {file.name}: not the file expected")
        received = 0
        while True:
            try:
                chunk = response.read(min(1 << 20, file.max_bytes + 1 - received))
            except (OSError, http.client.HTTPException, ValueError) as err:
                raise fail(f"after {received:,} bytes, {_why_unreachable(err, timeout)}") from err
            if not chunk:
                break
            received += len(chunk)
            if received > file.max_bytes:  # stop reading: it is not the file expected
                raise fail(f"the server sends more than the {file.max_bytes:,} bytes of "
                           f"{file.name}: not the file expected")
            try:
                file.out.write(chunk)
            except OSError as err:
                raise _local_error(err, f"cannot write {file.name} into {file.target.parent}",
                                   f"it needs up to {file.max_bytes:,} bytes; free some space "
                                   f"or choose another folder") from err
    if announced is not None and received != announced:
        raise fail(f"the connection closed after {received:,} of the {announced:,} bytes "
                   f"announced: an interrupted transfer; try again")


# ------------------------------------------------------------- the folder


def _check_folder(dest):
    """Raise NotADirectoryError unless `dest` is a folder or can be made one."""
    for folder in (dest, *dest.parents):
        if os.path.lexists(folder):
            if folder.is_dir():
                return
            what = "a link to nothing" if folder.is_symlink() and not folder.exists() else "a file"
            if folder == dest:
                raise NotADirectoryError(
                    f"{dest} is {what}, not a folder: download_gpt2_124m(dest_dir) puts "
                    f"config.json and model.safetensors in a folder; pass a folder's name "
                    f"(a new one is made)")
            raise NotADirectoryError(
                f"the folder {dest} cannot be made: {folder} is {what}, not a folder; "
                f"pass another folder")


def _plan(dest, jobs, overwrite):
    """The files to download, as _File. Files already there and the same are
    kept; a different one is an error (FileExistsError) unless `overwrite`."""
    todo, different = [], []
    for name, check, max_bytes in jobs:
        target = dest / name
        exists = os.path.lexists(target)
        if exists and target.is_dir():
            raise IsADirectoryError(
                f"{target} is a folder, not a file: download_gpt2_124m never replaces a "
                f"folder; move it away, or use a fresh folder")
        if exists:
            try:
                check(target)
                continue  # the same file: kept
            except ValueError as err:
                why = str(err)
            except OSError as err:
                why = f"it cannot be read: {err}"
            if not overwrite:
                different.append(f"{name} ({why.replace(str(target), 'the file')})")
                continue
        todo.append((name, check, max_bytes, exists))
    if different:
        one = len(different) == 1
        raise FileExistsError(
            f"{dest} already holds {' and '.join(different)}: not the "
            f"{'file' if one else 'files'} this download would put there. "
            f"download_gpt2_124m replaces a file only when asked: pass overwrite=True to "
            f"replace {'it' if one else 'them'}, or use a fresh folder. Nothing was downloaded.")
    return todo


def _make_folders(dest, made):
    """Make `dest` and any missing folder above it, listing each in `made`."""
    missing = []
    for folder in (dest, *dest.parents):
        if os.path.lexists(folder):
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except FileExistsError:
            if folder.is_dir():
                continue  # made meanwhile by someone else: not ours to remove
            raise
        except OSError as err:
            raise _local_error(err, f"cannot make the folder {folder}",
                               "choose a folder you can write to") from err
        made.append(folder)


def _commit(files):
    """Put every downloaded file in place. A file it replaces stays, under its
    .old name, until all are in place, so that _roll_back can restore it."""
    for file in files:
        if file.replaces:
            try:  # a second name for the old file: it never leaves its place
                os.link(file.target, file.backup, follow_symlinks=False)
            except (OSError, NotImplementedError):  # no hard links here: move it aside
                os.replace(file.target, file.backup)
            file.backed_up = True
        elif os.path.lexists(file.target):
            raise FileExistsError(f"{file.target} appeared while it was downloaded (another "
                                  f"download into the same folder?); nothing was replaced")
        try:
            os.replace(file.tmp, file.target)
        except OSError as err:
            raise _local_error(err, f"cannot put {file.name} in place in {file.target.parent}",
                               "the folder is left as it was") from err
        file.placed = True


def _roll_back(files):
    """Undo _commit, file by file: the old file back, or the new one removed."""
    for file in reversed(files):
        try:
            if file.backed_up:
                if file.placed or not os.path.lexists(file.target):
                    os.replace(file.backup, file.target)
                else:  # the old file never left its place: drop its second name
                    os.unlink(file.backup)  # (renaming a hard link onto itself does nothing)
                file.backed_up = False
            elif file.placed:
                os.unlink(file.target)
            file.placed = False
        except OSError:
            pass  # keep undoing the others; the first error is the one raised


def _clean_up(files, made, failed):
    """Remove what the download made that is not meant to stay: the .part files
    not put in place; after success, the old files replaced; after a failure,
    the folders it made (if empty)."""
    for file in files:
        file.close()
        leftovers = [file.tmp] if file.created and not file.placed else []
        if file.backed_up and not failed:
            leftovers.append(file.backup)
        for path in leftovers:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass
    if failed:
        for folder in reversed(made):
            try:
                folder.rmdir()
            except OSError:
                pass


# ------------------------------------------------------------- the download


def download_gpt2_124m(dest_dir, *, timeout=10.0, overwrite=False):
    """Download OpenAI's GPT-2 124M weights (``model.safetensors``, 548 MB) and
    ``config.json`` from the Hugging Face hub into `dest_dir`, pinned to one
    revision and checked by sha256, then return `dest_dir` as a Path, ready
    for ``load_gpt2_safetensors``.

    Files already there and the same (the published sha256; for config.json,
    GPT-2 124M's config) are kept, not downloaded again. Any other file of
    the same name is replaced only with ``overwrite=True``; without it,
    FileExistsError names the file before anything is downloaded. Files are
    renamed into place only once all are downloaded and checked: any failure,
    Ctrl-C included, leaves the folder as it was.

    The hub's address can be changed with the environment variable
    ``HF_ENDPOINT`` (a mirror, as for the ``huggingface_hub`` library).
    Raises GPT2WeightsUnavailableError, naming the address and saying what to
    do, when the download fails: quickly when offline (a `timeout`-second
    connection limit; immediately when HF_HUB_OFFLINE=1 is set), on an HTTP
    error, a broken connection or answer, or a file that does not check out.
    A folder that cannot be used is an OSError saying so (NotADirectoryError,
    PermissionError, ...).
    """
    if not isinstance(dest_dir, (str, os.PathLike)):
        raise TypeError(f"dest_dir must be a folder name, got {type(dest_dir).__name__}")
    timeout = check_real("timeout", timeout, low=0, low_open=True)
    check_bool("overwrite", overwrite)
    endpoint = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or "https://huggingface.co"
    if not endpoint.startswith(("https://", "http://")):
        raise ValueError(f"HF_ENDPOINT must be an http(s) address, got {endpoint!r}")
    dest = Path(dest_dir)
    _check_folder(dest)
    jobs = [
        ("config.json", check_gpt2_124m_config, CONFIG_MAX_BYTES),
        ("model.safetensors", check_gpt2_124m_weights, GPT2_124M_SAFETENSORS_BYTES),
    ]
    todo = _plan(dest, jobs, overwrite)  # before anything is downloaded
    if not todo:
        return dest
    base = f"{endpoint}/{GPT2_124M_REPO}/resolve/{GPT2_124M_REVISION}/"
    manual = (
        f"download config.json and model.safetensors by hand from "
        f"{endpoint}/{GPT2_124M_REPO} into {dest}, then call "
        f"load_gpt2_safetensors({str(dest)!r}, model)"
    )
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        names = " and ".join(name for name, *_ in todo)
        raise GPT2WeightsUnavailableError(
            f"HF_HUB_OFFLINE is set, so {names} {'is' if len(todo) == 1 else 'are'} not "
            f"downloaded; {manual}")

    # Ctrl-C is held back except while downloading and checking, so that what
    # is made below is always undone (or, once all is in place, kept).
    with _CtrlC() as ctrl_c:
        made, files, failed = [], [], True
        try:
            _make_folders(dest, made)
            for name, check, max_bytes, replaces in todo:
                files.append(_File(dest, name, check, max_bytes, replaces))
            for file in files:  # before any download: is the folder writable?
                try:
                    file.out = open(file.tmp, "xb")
                except OSError as err:
                    raise _local_error(err, f"cannot write into {dest}",
                                       "choose a folder you can write to") from err
                file.created = True
            ctrl_c.now = True
            for file in files:
                url = base + file.name

                def fail(what, name=file.name, url=url):
                    return GPT2WeightsUnavailableError(
                        f"could not download {name} from {url}: {what}; {manual}")

                _fetch(url, file, timeout, fail)
                file.out.flush()
                os.fsync(file.out.fileno())
                file.close()
                try:
                    file.check(file.tmp)
                except ValueError as err:  # not the file expected
                    why = str(err).replace(str(file.tmp), url)
                    raise GPT2WeightsUnavailableError(
                        f"the downloaded {file.name} did not check out ({why}); {manual}"
                    ) from err
            ctrl_c.now = False
            ctrl_c.deliver_held()  # a Ctrl-C just before: nothing is renamed
            _commit(files)
            ctrl_c.deliver_held()  # a Ctrl-C while renaming: everything is put back
            failed = False
        except BaseException:
            ctrl_c.now = False
            _roll_back(files)
            raise
        finally:
            _clean_up(files, made, failed)
    return dest
