"""download_gpt2_124m touches only its own files: the right files, or a clear
error and the folder exactly as found (names and bytes), whatever the folder
held, whatever the server sends, and wherever a Ctrl-C comes.

The stand-in hub here answers with raw bytes on 127.0.0.1, so it can also be
a broken server: a bad status line, a connection closed early, a wrong
Content-Length, a redirect loop. The weights it serves are a small
safetensors file made to pass for GPT-2 124M's (its sha256 and size are
pinned for the test, and its header reads as (50257, 768)), so that each
download takes milliseconds.
"""

import builtins
import dis
import errno
import hashlib
import http.client
import io
import json
import os
import re
import signal
import socketserver
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save

from gpt_course import GPT2WeightsUnavailableError, download_gpt2_124m
from gpt_course.beyond import nb10_download as download

CONFIG = json.dumps({
    "model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 768,
    "n_layer": 12, "n_head": 12, "activation_function": "gelu_new",
    "layer_norm_epsilon": 1e-05}).encode()
SAME_CONFIG_REFORMATTED = json.dumps(json.loads(CONFIG), indent=2, sort_keys=True).encode()
OTHER_CONFIG = json.dumps({**json.loads(CONFIG), "n_layer": 24, "n_embd": 1024,
                           "n_head": 16}).encode()  # GPT-2 medium's
LONGER_CONTEXT_CONFIG = json.dumps({**json.loads(CONFIG), "n_positions": 2048}).encode()
SMALL_SHAPE = (4, 6)
WEIGHTS = save({"wte.weight": torch.arange(24, dtype=torch.uint8).reshape(SMALL_SHAPE)})
OTHER_WEIGHTS = save({"wte.weight": torch.zeros(2, 3)})
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 548105171\n"
HTML_PAGE = b"<!DOCTYPE html>\n<html><body>Service unavailable</body></html>\n"
NAMES = ("config.json", "model.safetensors")
SERVED = {"config.json": CONFIG, "model.safetensors": WEIGHTS}

FAST = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ------------------------------------------------------------ answers


def ok(body, length="right", extra=b""):
    """A 200 answer; `length`: "right", None (no Content-Length) or a number."""
    head = b"HTTP/1.1 200 OK\r\nConnection: close\r\n" + extra
    if length is not None:
        head += b"Content-Length: %d\r\n" % (len(body) if length == "right" else length)
    return head + b"\r\n" + body


def status(code, reason):
    return b"HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % (code, reason)


def closed_early(body, cut):
    """Content-Length says the whole file, then the connection closes after `cut` bytes."""
    return ok(body)[:len(ok(body)) - len(body) + cut]


def chunked_cut(body, cut):
    """Chunked transfer encoding, cut in the middle of the only chunk."""
    return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + b"%x\r\n" % len(body) + body[:cut])


def redirect_to_itself(path):
    return (b"HTTP/1.1 302 Found\r\nLocation: " + path.encode() + b"\r\n"
            b"Content-Length: 0\r\nConnection: close\r\n\r\n")


BAD_STATUS_LINE = b"HTX/1.1 banana\r\n\r\n"
HEADER_TOO_LONG = b"HTTP/1.1 200 OK\r\nX-Junk: " + b"a" * 70_000 + b"\r\n\r\n"
NOTHING = b""  # the server closes the connection without a word


class RawHub:
    """The stand-in hub: file name -> the raw bytes of its answer (or a function
    of the request path giving them), and the paths it was asked for."""

    def __init__(self):
        self.answers = {}
        self.requests = []
        self.release = threading.Event()  # lets a server that hangs go at teardown
        self.reset()

    def reset(self):
        self.answers = {name: ok(body) for name, body in SERVED.items()}
        self.requests = []

    def url(self, name):
        return f"{self.endpoint}/openai-community/gpt2/resolve/{download.GPT2_124M_REVISION}/{name}"


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        request = self.rfile.readline(65537)
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # the request's headers
        parts = request.split()
        if len(parts) < 2:
            return
        path = parts[1].decode()
        hub = self.server.hub
        hub.requests.append(path)
        answer = hub.answers.get(path.rsplit("/", 1)[-1], status(404, b"Not Found"))
        if answer == "hang":
            hub.release.wait(5)
            return
        if callable(answer):
            answer = answer(path)
        try:
            self.wfile.write(answer)
        except OSError:
            pass  # the client stopped reading: that is the point of some tests


@pytest.fixture
def hub(monkeypatch):
    """A stand-in hub on 127.0.0.1 (HF_ENDPOINT), serving the small weights
    that pass for GPT-2 124M's, as far as the download's checks know."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.hub = state = RawHub()
    state.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", state.endpoint)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # a proxy must not stand in between
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    pass_for_gpt2_124m(monkeypatch)
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
    thread.join()


def pass_for_gpt2_124m(monkeypatch):
    """Make WEIGHTS the published file: its sha256 and size, and its small
    wte.weight read as (50257, 768). Any other bytes still fail the check."""
    monkeypatch.setattr(download, "GPT2_124M_SAFETENSORS_SHA256",
                        hashlib.sha256(WEIGHTS).hexdigest())
    monkeypatch.setattr(download, "GPT2_124M_SAFETENSORS_BYTES", len(WEIGHTS))
    real = download.safetensors_shapes

    def shapes(path):  # still the real header reader: a broken file is still refused
        return {k: (50257, 768) if v == SMALL_SHAPE else v for k, v in real(path).items()}

    monkeypatch.setattr(download, "safetensors_shapes", shapes)


def snapshot(folder):
    """Everything under `folder`: relative names -> bytes (None for a folder);
    None if `folder` does not exist."""
    folder = Path(folder)
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*"))}


def fill(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)


# ------------------------------------------------------------ the overwrite rule


@pytest.mark.parametrize("name, content, says", [
    ("config.json", OTHER_CONFIG, "not GPT-2 124M's config"),
    ("config.json", LONGER_CONTEXT_CONFIG, "'context_length': 2048"),
    ("config.json", HTML_PAGE, "HTML page"),
    ("model.safetensors", OTHER_WEIGHTS, r"wte.weight is \(2, 3\)"),
    ("model.safetensors", LFS_POINTER, "Git LFS pointer"),
    ("model.safetensors", WEIGHTS[:-1] + b"!", "sha256 differs"),
    ("model.safetensors", WEIGHTS[:-1], "not in the safetensors format"),
    ("model.safetensors", b"", "empty"),
])
def test_a_different_file_is_refused_before_anything_is_downloaded(hub, tmp_path, name, content,
                                                                   says):
    fill(tmp_path, {name: content, "notes.txt": b"mine"})
    before = snapshot(tmp_path)
    with pytest.raises(FileExistsError) as err:
        download_gpt2_124m(tmp_path)
    message = str(err.value)
    assert f"{tmp_path} already holds {name} (" in message
    assert "pass overwrite=True to replace it, or use a fresh folder" in message
    assert "Nothing was downloaded" in message
    assert re.search(says, message), message
    assert hub.requests == [] and snapshot(tmp_path) == before
    assert download_gpt2_124m(tmp_path, overwrite=True) == tmp_path
    assert snapshot(tmp_path) == {**before, **SERVED}


def test_same_files_are_kept_and_only_the_different_one_is_named(hub, tmp_path):
    fill(tmp_path, {"config.json": SAME_CONFIG_REFORMATTED, "model.safetensors": OTHER_WEIGHTS})
    before = snapshot(tmp_path)
    with pytest.raises(FileExistsError, match="already holds model.safetensors") as err:
        download_gpt2_124m(tmp_path)
    assert "config.json" not in str(err.value) and snapshot(tmp_path) == before
    download_gpt2_124m(tmp_path, overwrite=True)  # the same config.json is kept, not fetched
    assert [r.rsplit("/", 1)[-1] for r in hub.requests] == ["model.safetensors"]
    assert snapshot(tmp_path) == {"config.json": SAME_CONFIG_REFORMATTED,
                                  "model.safetensors": WEIGHTS}


def test_both_different_files_are_named(hub, tmp_path):
    fill(tmp_path, {"config.json": OTHER_CONFIG, "model.safetensors": OTHER_WEIGHTS})
    with pytest.raises(FileExistsError, match="already holds config.json .* and model.safetensors "
                                              ".*replace them, or use a fresh folder"):
        download_gpt2_124m(tmp_path)
    assert hub.requests == []


def test_overwrite_must_be_true_or_false(hub, tmp_path):
    with pytest.raises(TypeError, match="overwrite must be True or False"):
        download_gpt2_124m(tmp_path, overwrite="yes")
    assert hub.requests == []


# ------------------------------------------------------------ failures leave the folder


@pytest.mark.parametrize("answer, says", [
    (status(404, b"Not Found"), "HTTP 404 Not Found: the server has no openai-community/gpt2"),
    (status(500, b"Internal Server Error"), "the server has a problem; try again later"),
    (closed_early(WEIGHTS, 10), "closed after 10 of the"),
    (ok(OTHER_WEIGHTS), r"wte.weight is \(2, 3\)"),
    (ok(WEIGHTS[:-1] + b"!"), "sha256 differs"),
])
@pytest.mark.parametrize("folder", ["fresh", "nested", "another model's, overwrite=True"])
def test_second_file_failing_leaves_the_folder_as_found(hub, tmp_path, folder, answer, says):
    """config.json is fetched and checked, then model.safetensors fails: the
    folder is as found, byte for byte (config.json was never put in place)."""
    dest = tmp_path / "gpt2"
    kwargs = {}
    if folder == "nested":
        dest = tmp_path / "new" / "deeper" / "gpt2"
    elif folder != "fresh":
        fill(dest, {"config.json": OTHER_CONFIG, "model.safetensors": OTHER_WEIGHTS,
                    "tokenizer.json": b"{}"})
        kwargs = {"overwrite": True}
    before = snapshot(tmp_path)
    hub.answers["model.safetensors"] = answer
    with pytest.raises(GPT2WeightsUnavailableError) as err:
        download_gpt2_124m(dest, **kwargs)
    assert [r.rsplit("/", 1)[-1] for r in hub.requests] == list(NAMES)
    assert snapshot(tmp_path) == before  # made folders removed, old files untouched
    assert re.search(says, str(err.value)) and "by hand" in str(err.value)


def test_a_failed_rename_puts_every_file_back(hub, tmp_path, monkeypatch):
    fill(tmp_path, {"config.json": OTHER_CONFIG, "model.safetensors": OTHER_WEIGHTS})
    before = snapshot(tmp_path)
    real = download.os.replace

    def replace(src, dst):
        if Path(dst).name == "model.safetensors" and str(src).endswith(".part"):
            raise OSError(errno.EIO, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(download.os, "replace", replace)
    with pytest.raises(OSError, match="cannot put model.safetensors in place .*Input/output "
                                      "error.*left as it was"):
        download_gpt2_124m(tmp_path, overwrite=True)
    assert snapshot(tmp_path) == before


def test_a_file_that_appears_meanwhile_is_not_replaced(hub, tmp_path):
    """Another program writes model.safetensors while config.json downloads:
    the download does not replace it, and puts nothing in place."""
    def config_then_intruder(path):
        (tmp_path / "model.safetensors").write_bytes(b"theirs")
        return ok(CONFIG)

    hub.answers["config.json"] = config_then_intruder
    with pytest.raises(FileExistsError, match="model.safetensors appeared while it was downloaded"):
        download_gpt2_124m(tmp_path)
    assert snapshot(tmp_path) == {"model.safetensors": b"theirs"}


# ------------------------------------------------------------ broken servers


@pytest.mark.parametrize("answer, says", [
    (BAD_STATUS_LINE, r"not valid HTTP \(BadStatusLine"),
    (HEADER_TOO_LONG, r"not valid HTTP \(LineTooLong"),
    (NOTHING, "closed the connection without answering"),
    (closed_early(WEIGHTS, 0), "closed after 0 of the"),
    (ok(WEIGHTS[:50], length=len(WEIGHTS)),
     f"closed after 50 of the {len(WEIGHTS)} bytes announced"),
    (ok(WEIGHTS + b"tail", length=len(WEIGHTS) - 3), "not in the safetensors format"),
    (ok(WEIGHTS[:-1] + b"!"), "sha256 differs"),
    (chunked_cut(WEIGHTS, 5), "closed in the middle of the file"),
    (redirect_to_itself, "redirects in a loop"),
    (status(403, b"Forbidden"), "refuses access"),
    (status(429, b"Too Many Requests"), "wait a few minutes"),
])
def test_a_broken_answer_is_an_error_naming_the_address(hub, tmp_path, answer, says):
    hub.answers["model.safetensors"] = answer
    with pytest.raises(GPT2WeightsUnavailableError) as err:
        download_gpt2_124m(tmp_path, timeout=5)
    message = str(err.value)
    assert re.search(says, message), message
    assert hub.url("model.safetensors") in message and "by hand" in message
    assert snapshot(tmp_path) == {}


def test_a_malformed_config_answer_names_its_address(hub, tmp_path):
    hub.answers["config.json"] = BAD_STATUS_LINE
    with pytest.raises(GPT2WeightsUnavailableError, match="could not download config.json from "
                                                          + hub.url("config.json")):
        download_gpt2_124m(tmp_path)
    assert snapshot(tmp_path) == {}


def test_a_server_that_never_answers_times_out(hub, tmp_path):
    hub.answers["config.json"] = "hang"
    with pytest.raises(GPT2WeightsUnavailableError,
                       match=r"no answer within 0.2 s.*larger timeout"):
        download_gpt2_124m(tmp_path / "gpt2", timeout=0.2)
    assert snapshot(tmp_path) == {}


# ------------------------------------------------------------ the folder itself


def test_a_file_where_the_folder_should_be(hub, tmp_path):
    (tmp_path / "gpt2").write_bytes(b"not a folder")
    with pytest.raises(NotADirectoryError, match=r"gpt2 is a file, not a folder.*pass a folder"):
        download_gpt2_124m(tmp_path / "gpt2")
    with pytest.raises(NotADirectoryError, match=r"gpt2/sub cannot be made: .*gpt2 is a file"):
        download_gpt2_124m(tmp_path / "gpt2" / "sub")
    assert snapshot(tmp_path) == {"gpt2": b"not a folder"} and hub.requests == []


def test_a_folder_where_a_file_should_be(hub, tmp_path):
    (tmp_path / "model.safetensors").mkdir()
    (tmp_path / "model.safetensors" / "keep.txt").write_bytes(b"x")
    before = snapshot(tmp_path)
    with pytest.raises(IsADirectoryError, match="model.safetensors is a folder, not a file"):
        download_gpt2_124m(tmp_path, overwrite=True)
    assert snapshot(tmp_path) == before and hub.requests == []


def refuse_writes_into(monkeypatch, folder, error):
    """Make creating anything inside `folder` fail with `error` (as a folder
    without write permission does, which root, running these tests in CI, can
    still write)."""
    real_open, real_os_open, real_mkdir = builtins.open, os.open, os.mkdir
    inside = str(folder) + os.sep

    def refused(path):
        return str(path).startswith(inside)

    def fake_open(file, mode="r", *args, **kwargs):
        if any(m in mode for m in "wxa") and refused(file):
            raise error(file)
        return real_open(file, mode, *args, **kwargs)

    def fake_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and refused(path):
            raise error(path)
        return real_os_open(path, flags, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        if refused(path):
            raise error(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)


def permission_denied(path):
    return PermissionError(errno.EACCES, "Permission denied", str(path))


def test_a_folder_that_cannot_be_written(hub, tmp_path, monkeypatch):
    (tmp_path / "gpt2").mkdir()
    refuse_writes_into(monkeypatch, tmp_path, permission_denied)
    with pytest.raises(PermissionError, match=r"cannot write into .*gpt2 \(Permission denied\): "
                                              r"choose a folder you can write to"):
        download_gpt2_124m(tmp_path / "gpt2")
    with pytest.raises(PermissionError,
                       match=r"cannot make the folder .*new \(Permission denied\)"):
        download_gpt2_124m(tmp_path / "new")
    monkeypatch.undo()
    assert hub.requests == [] and snapshot(tmp_path) == {"gpt2": None}


def test_a_full_disk(hub, tmp_path, monkeypatch):
    real_open = builtins.open

    class Full:
        def __init__(self, f):
            self.f = f
            self.closed = False

        def write(self, data):
            if self.f.name.startswith(str(tmp_path / "model.safetensors")):
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def close(self):
            self.closed = True
            self.f.close()

    def fake_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        return Full(f) if "x" in mode else f

    monkeypatch.setattr(builtins, "open", fake_open)
    with pytest.raises(OSError, match=r"cannot write model.safetensors into .* \(No space left on "
                                      r"device\): it needs up to .* bytes; free some space") as err:
        download_gpt2_124m(tmp_path)
    monkeypatch.undo()
    assert err.value.errno == errno.ENOSPC and snapshot(tmp_path) == {}


# ------------------------------------------------------------ properties


def answer_strategy(name):
    body = SERVED[name]
    n = len(body)
    return st.one_of(
        st.just(("intact", ok(body))),
        st.integers(0, n - 1).map(lambda cut: ("closed early", closed_early(body, cut))),
        st.integers(0, n - 1).map(lambda cut: ("chunked, cut", chunked_cut(body, cut))),
        st.integers(0, n - 1).map(lambda cut: ("short length", ok(body, length=cut))),
        st.integers(0, n - 1).map(lambda cut: ("no length, cut", ok(body[:cut], length=None))),
        st.tuples(st.integers(0, n - 1), st.integers(1, 255)).map(lambda p: (
            "a byte changed", ok(body[:p[0]] + bytes([body[p[0]] ^ p[1]]) + body[p[0] + 1:]))),
        st.binary(min_size=1, max_size=8).map(lambda junk: ("junk after", ok(body + junk))),
        st.sampled_from([("404", status(404, b"Not Found")), ("500", status(500, b"Oops")),
                         ("bad status line", BAD_STATUS_LINE), ("nothing", NOTHING)]),
    )


def body_of(answer):
    """What a correct HTTP client reads from `answer` (for the answers above
    that are complete), or None when no body can be read in full."""

    class Sock:
        def makefile(self, *args, **kwargs):
            return io.BytesIO(answer)

    response = http.client.HTTPResponse(Sock())
    try:
        response.begin()
        if response.status != 200:
            return None
        data = response.read()
    except (http.client.HTTPException, OSError):
        return None
    announced = response.getheader("Content-Length")
    if announced and len(data) != int(announced):
        return None  # a body shorter than announced: the download must refuse it
    return data


def passes(check, content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file"
        path.write_bytes(content)
        try:
            check(path)
        except ValueError:
            return False
        return True


EXISTING = {
    "config.json": st.sampled_from([None, CONFIG, SAME_CONFIG_REFORMATTED, OTHER_CONFIG,
                                    LONGER_CONTEXT_CONFIG, HTML_PAGE, b""]),
    "model.safetensors": st.sampled_from([None, WEIGHTS, OTHER_WEIGHTS, LFS_POINTER,
                                          WEIGHTS[:-3], b""]),
}
EXTRA = st.dictionaries(
    st.sampled_from(["notes.txt", "config.json.bak", "model.safetensors.0123456789ab.part",
                     "config.json.0123456789ab.old", "pytorch_model.bin"]),
    st.binary(max_size=32), max_size=3)


@FAST
@given(existing=st.fixed_dictionaries(EXISTING), extra=EXTRA, overwrite=st.booleans(),
       config_answer=answer_strategy("config.json"),
       weights_answer=answer_strategy("model.safetensors"))
def test_the_right_files_or_a_clear_error_and_the_folder_unchanged(
        hub, existing, extra, overwrite, config_answer, weights_answer):
    hub.reset()
    hub.answers = {"config.json": config_answer[1], "model.safetensors": weights_answer[1]}
    checks = {"config.json": download.check_gpt2_124m_config,
              "model.safetensors": download.check_gpt2_124m_weights}
    with tempfile.TemporaryDirectory() as folder:
        dest = Path(folder) / "gpt2"
        fill(dest, {**extra, **{k: v for k, v in existing.items() if v is not None}})
        before = snapshot(dest)
        same = {n: existing[n] is not None and passes(checks[n], existing[n]) for n in NAMES}
        different = [n for n in NAMES if existing[n] is not None and not same[n]]
        needed = [n for n in NAMES if not same[n]]
        bodies = {"config.json": body_of(config_answer[1]),
                  "model.safetensors": body_of(weights_answer[1])}
        caps = {"config.json": download.CONFIG_MAX_BYTES, "model.safetensors": len(WEIGHTS)}
        good = {n: bodies[n] is not None and len(bodies[n]) <= caps[n]
                and passes(checks[n], bodies[n]) for n in NAMES}
        try:
            download_gpt2_124m(dest, timeout=5, overwrite=overwrite)
        except FileExistsError as err:
            assert different and not overwrite
            assert all(f"{n} (" in str(err) for n in different), str(err)
            assert hub.requests == [] and snapshot(dest) == before
        except GPT2WeightsUnavailableError as err:
            assert not (different and not overwrite)
            failed = next(n for n in needed if not good[n])  # the first file that fails
            assert (f"could not download {failed} from {hub.url(failed)}" in str(err)
                    or f"the downloaded {failed} did not check out" in str(err)), str(err)
            assert snapshot(dest) == before
        else:
            assert not (different and not overwrite) and all(good[n] for n in needed)
            expected = {**before, **{n: bodies[n] for n in needed}}
            assert snapshot(dest) == expected and expected["model.safetensors"] == WEIGHTS
            assert [r.rsplit("/", 1)[-1] for r in hub.requests] == needed


# ------------------------------------------------------------ Ctrl-C anywhere


def lines_run(call):
    """Run call() and count the lines it runs in nb10_download."""
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code.co_filename == download.__file__ else None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        call()
    finally:
        sys.settrace(previous)
    return count


NOP = dis.opmap["NOP"]


def ctrl_c_at_line(k, call):
    """Run call() and press Ctrl-C (a real SIGINT) when nb10_download reaches
    the k-th line it runs. Returns "interrupted" or "finished".

    Python runs a signal's handler between two instructions, never at a NOP
    (the instruction a `try:` line starts with); there, an exception that a
    trace function raises escapes every handler of the frame in CPython 3.11,
    so the Ctrl-C is pressed at the next line instead."""
    count = 0
    pressed = False

    def local(frame, event, arg):
        nonlocal count, pressed
        if event == "line" and not pressed:
            count += 1
            if count >= k and frame.f_code.co_code[frame.f_lasti] != NOP:
                pressed = True
                signal.raise_signal(signal.SIGINT)
        return None if pressed else local

    def tracer(frame, event, arg):
        if pressed or frame.f_code.co_filename != download.__file__:
            return None
        return local

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        call()
    except KeyboardInterrupt:
        return "interrupted"
    finally:
        sys.settrace(previous)
    return "finished"


@pytest.fixture
def python_ctrl_c():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT reaches only the main thread")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("folder", ["nested, fresh", "another model's, overwrite=True"])
def test_ctrl_c_at_any_line_leaves_the_folder_as_found(hub, tmp_path, python_ctrl_c, folder):
    """A Ctrl-C at every line the download runs, one run each: the folder is
    as found, or (a Ctrl-C after the last file is in place) the finished
    download; never a mix, never a .part or .old file."""
    if folder.startswith("nested"):
        dest, start, kwargs = tmp_path / "a" / "gpt2", {}, {}
    else:
        dest, kwargs = tmp_path / "gpt2", {"overwrite": True}
        start = {"config.json": OTHER_CONFIG, "model.safetensors": OTHER_WEIGHTS, "notes.txt": b"x"}

    def run():
        return download_gpt2_124m(dest, timeout=5, **kwargs)

    def reset():
        for path in sorted(tmp_path.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        fill(dest, start) if start else None

    reset()
    before = snapshot(tmp_path)
    total = lines_run(run)
    done = snapshot(tmp_path)
    assert done[str((dest / "model.safetensors").relative_to(tmp_path))] == WEIGHTS
    assert total > 50
    outcomes = []
    for k in range(1, total + 1):
        reset()
        outcome = ctrl_c_at_line(k, run)
        after = snapshot(tmp_path)
        assert after in (before, done), (k, outcome, after)
        assert outcome == "interrupted", k  # a Ctrl-C is never lost
        outcomes.append("as found" if after == before else "done")
    assert outcomes.count("as found") > total * 0.8  # almost always as found: only the last lines
    assert outcomes == sorted(outcomes)  # "as found" (a...) before "done" (d...): never a mix
