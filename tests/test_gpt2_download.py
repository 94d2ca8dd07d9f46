"""download_gpt2_124m, offline: a stand-in for the Hugging Face hub runs on
127.0.0.1 inside the test (HF_ENDPOINT points at it), never the real hub.
Every check that refuses a download is shown refusing, and no refusal, error
or Ctrl-C leaves anything behind: not even the config.json fetched before the
weights failed (tests/test_download_reliability.py tests the folder, byte for
byte, the overwrite rule and broken servers)."""

import hashlib
import json
import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from safetensors.torch import save_file

from gpt_course import GPT2WeightsUnavailableError, download_gpt2_124m
from gpt_course.beyond import nb10_download as download

GPT2_124M_CONFIG = json.dumps({
    "model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 768,
    "n_layer": 12, "n_head": 12, "activation_function": "gelu_new",
    "layer_norm_epsilon": 1e-05}).encode()
LFS_POINTER = (b"version https://git-lfs.github.com/spec/v1\n"
               b"oid sha256:" + download.GPT2_124M_SAFETENSORS_SHA256.encode() + b"\n"
               b"size 548105171\n")
HTML_PAGE = b"<!DOCTYPE html>\n<html><body>Service unavailable</body></html>\n"


@pytest.fixture(scope="module")
def right_header_wrong_content(tmp_path_factory):
    """A safetensors file whose header is GPT-2 124M's where it is checked
    (wte.weight [50257, 768]) but whose bytes are not the published file's:
    only the sha256 can tell (one byte per number keeps it at 39 MB)."""
    path = tmp_path_factory.mktemp("fake") / "model.safetensors"
    save_file({"wte.weight": torch.zeros(50257, 768, dtype=torch.uint8)}, path)
    return path.read_bytes()


class Hub:
    """What the stand-in hub serves (file name -> bytes) and what it was asked."""

    def __init__(self):
        self.files = {"config.json": GPT2_124M_CONFIG}
        self.requests = []
        self.send_length = True


@pytest.fixture
def hub(monkeypatch):
    state = Hub()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state.requests.append(self.path)
            body = state.files.get(self.path.rsplit("/", 1)[-1])
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            if state.send_length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading: that is the point of some tests

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # a proxy must not stand in between
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


def accept(monkeypatch, content):
    """Make `content` the published weights, as far as the check knows."""
    monkeypatch.setattr(download, "GPT2_124M_SAFETENSORS_SHA256", hashlib.sha256(content).hexdigest())


def test_download_checks_renames_and_keeps(hub, tmp_path, monkeypatch, right_header_wrong_content):
    hub.files["model.safetensors"] = right_header_wrong_content
    accept(monkeypatch, right_header_wrong_content)
    dest = tmp_path / "gpt2"
    assert download_gpt2_124m(dest) == dest
    assert files_in(dest) == ["config.json", "model.safetensors"]
    assert (dest / "model.safetensors").read_bytes() == right_header_wrong_content
    revision = download.GPT2_124M_REVISION
    assert hub.requests == [f"/openai-community/gpt2/resolve/{revision}/config.json",
                            f"/openai-community/gpt2/resolve/{revision}/model.safetensors"]
    download_gpt2_124m(dest)  # both there and valid: nothing is fetched again
    assert len(hub.requests) == 2


def test_sha256_refuses_right_header_with_wrong_content(hub, tmp_path, right_header_wrong_content):
    hub.files["model.safetensors"] = right_header_wrong_content
    with pytest.raises(GPT2WeightsUnavailableError, match="sha256 differs"):
        download_gpt2_124m(tmp_path)
    assert files_in(tmp_path) == []  # no model.safetensors, no .part, not even config.json
    (tmp_path / "model.safetensors").write_bytes(right_header_wrong_content)
    with pytest.raises(ValueError, match="sha256 differs"):
        download.check_gpt2_124m_weights(tmp_path / "model.safetensors")


def test_another_models_weights_are_refused_by_their_header(hub, tmp_path):
    fake = tmp_path / "other.safetensors"
    save_file({"wte.weight": torch.zeros(100, 8)}, fake)
    hub.files["model.safetensors"] = fake.read_bytes()
    with pytest.raises(GPT2WeightsUnavailableError, match=r"wte.weight is \(100, 8\)"):
        download_gpt2_124m(tmp_path / "gpt2")
    assert not (tmp_path / "gpt2").exists()  # the folder made for the download is gone too


@pytest.mark.parametrize("content, cause", [
    (LFS_POINTER, "Git LFS pointer"), (HTML_PAGE, "HTML page"), (b"", "empty")])
def test_broken_weights_download_says_what_it_got(hub, tmp_path, content, cause):
    hub.files["model.safetensors"] = content
    with pytest.raises(GPT2WeightsUnavailableError, match=cause):
        download_gpt2_124m(tmp_path)
    assert files_in(tmp_path) == []


def test_html_page_as_config_json_is_not_json(hub, tmp_path):
    hub.files["config.json"] = HTML_PAGE
    with pytest.raises(GPT2WeightsUnavailableError, match="is not JSON: it is an HTML page"):
        download_gpt2_124m(tmp_path)
    assert files_in(tmp_path) == []


def test_another_config_is_refused(hub, tmp_path):
    hub.files["config.json"] = json.dumps({**json.loads(GPT2_124M_CONFIG), "n_layer": 24}).encode()
    with pytest.raises(GPT2WeightsUnavailableError, match="not GPT-2 124M's config"):
        download_gpt2_124m(tmp_path)
    hub.files["config.json"] = json.dumps({**json.loads(GPT2_124M_CONFIG), "n_embd": "768"}).encode()
    with pytest.raises(GPT2WeightsUnavailableError, match="did not check out"):
        download_gpt2_124m(tmp_path)
    assert files_in(tmp_path) == []


class CountingResponse:
    """Wraps a urlopen response and counts the bytes the download reads."""

    def __init__(self, response, log, interrupt_after=None):
        self.response, self.log, self.interrupt_after = response, log, interrupt_after
        self.headers = response.headers

    def read(self, n):
        if self.interrupt_after is not None and self.log["read"] >= self.interrupt_after:
            raise KeyboardInterrupt
        chunk = self.response.read(n)
        self.log["read"] += len(chunk)
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.response.close()


def counting_urlopen(monkeypatch, **kwargs):
    log = {"read": 0}
    real = urllib.request.urlopen
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda url, timeout: CountingResponse(real(url, timeout=timeout), log, **kwargs))
    return log


@pytest.mark.parametrize("send_length", [True, False])
def test_size_cap_stops_reading(hub, tmp_path, monkeypatch, send_length):
    """A server that sends more than the file's size is refused: with a
    Content-Length before reading a byte, without one as soon as the cap is passed."""
    monkeypatch.setattr(download, "GPT2_124M_SAFETENSORS_BYTES", 100_000)
    hub.files["model.safetensors"] = b"x" * 5_000_000
    hub.send_length = send_length
    log = counting_urlopen(monkeypatch)
    with pytest.raises(GPT2WeightsUnavailableError, match="100,000 bytes") as err:
        download_gpt2_124m(tmp_path, timeout=5)
    assert ("announces 5,000,000" in str(err.value)) == send_length
    assert log["read"] <= len(GPT2_124M_CONFIG) + 100_001
    assert files_in(tmp_path) == []


def test_the_cap_is_the_published_size():
    assert download.GPT2_124M_SAFETENSORS_BYTES == 548_105_171


def test_ctrl_c_while_the_hash_is_computed_leaves_no_part_file(hub, tmp_path, monkeypatch,
                                                             right_header_wrong_content):
    hub.files["model.safetensors"] = right_header_wrong_content

    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(download, "sha256_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        download_gpt2_124m(tmp_path)
    assert files_in(tmp_path) == []


def test_ctrl_c_while_downloading_leaves_no_part_file(hub, tmp_path, monkeypatch):
    hub.files["config.json"] = GPT2_124M_CONFIG + b" " * 3_000_000  # still valid JSON
    monkeypatch.setattr(download, "CONFIG_MAX_BYTES", 4_000_000)
    counting_urlopen(monkeypatch, interrupt_after=1)
    with pytest.raises(KeyboardInterrupt):
        download_gpt2_124m(tmp_path)
    assert files_in(tmp_path) == []


def test_broken_file_already_there_is_replaced_only_when_asked(hub, tmp_path, monkeypatch,
                                                               right_header_wrong_content):
    hub.files["model.safetensors"] = right_header_wrong_content
    accept(monkeypatch, right_header_wrong_content)
    (tmp_path / "config.json").write_bytes(GPT2_124M_CONFIG)
    (tmp_path / "model.safetensors").write_bytes(LFS_POINTER)
    with pytest.raises(FileExistsError, match=r"model.safetensors \(the file is not a safetensors "
                                              r"file: it is a Git LFS pointer.*overwrite=True"):
        download_gpt2_124m(tmp_path)
    assert hub.requests == []  # refused before anything is downloaded
    assert (tmp_path / "model.safetensors").read_bytes() == LFS_POINTER
    download_gpt2_124m(tmp_path, overwrite=True)
    assert [r.rsplit("/", 1)[-1] for r in hub.requests] == ["model.safetensors"]
    assert (tmp_path / "model.safetensors").read_bytes() == right_header_wrong_content
    assert files_in(tmp_path) == ["config.json", "model.safetensors"]


def test_offline_fails_fast_without_a_request(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(GPT2WeightsUnavailableError, match="HF_HUB_OFFLINE"):
        download_gpt2_124m(tmp_path)
    assert hub.requests == [] and files_in(tmp_path) == []


def test_the_by_hand_advice_names_the_mirror_in_use(tmp_path, monkeypatch):
    """A learner behind a blocked hub who set HF_ENDPOINT is told to download by
    hand from that mirror, not from the hub they cannot reach."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "https://hf-mirror.com/")
    with pytest.raises(GPT2WeightsUnavailableError) as err:
        download_gpt2_124m(tmp_path)
    assert "by hand from https://hf-mirror.com/openai-community/gpt2 into" in str(err.value)
    assert "huggingface.co" not in str(err.value)


def test_no_server_and_missing_file(hub, tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(GPT2WeightsUnavailableError, match="could not download config.json.*by hand"):
        download_gpt2_124m(tmp_path, timeout=5)
    assert files_in(tmp_path) == []


def test_file_missing_on_the_hub(hub, tmp_path):
    with pytest.raises(GPT2WeightsUnavailableError, match="could not download model.safetensors.*404"):
        download_gpt2_124m(tmp_path)
    assert files_in(tmp_path) == []


def test_bad_arguments(tmp_path, monkeypatch):
    with pytest.raises(TypeError, match="dest_dir"):
        download_gpt2_124m(123)
    with pytest.raises(ValueError, match="timeout"):
        download_gpt2_124m(tmp_path, timeout=0)
    with pytest.raises(TypeError, match="timeout"):
        download_gpt2_124m(tmp_path, timeout="5")
    monkeypatch.setenv("HF_ENDPOINT", "file:///etc")
    with pytest.raises(ValueError, match="HF_ENDPOINT"):
        download_gpt2_124m(tmp_path)
