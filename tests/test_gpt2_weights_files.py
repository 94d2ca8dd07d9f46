"""Reading GPT-2 weights from files: what goes wrong with downloads and
copies (an empty file, a Git LFS pointer, an HTML error page, random bytes, a
truncated file, a pickled model) is an error that names the file and the
likely cause; a shard index cannot lead outside its folder."""

import json
import os

import pytest
import torch
import torch.nn as nn
from safetensors.torch import save_file

from gpt_course import (
    GPTModel,
    course_to_hf_state_dict,
    load_gpt2_safetensors,
    read_hf_config,
    read_weights_file,
    safetensors_shapes,
)

LFS_POINTER = (b"version https://git-lfs.github.com/spec/v1\n"
               b"oid sha256:248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707\n"
               b"size 548105171\n")
HTML_PAGE = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>\n"


@pytest.fixture
def cfg(tiny_cfg):
    return {**tiny_cfg, "qkv_bias": True}


@pytest.fixture
def checkpoint(cfg, tmp_path):
    """A save_pretrained-like folder: config.json and model.safetensors of a
    tiny GPT-2, written from a seeded course model (no transformers needed)."""
    torch.manual_seed(5)
    source = GPTModel(cfg)
    folder = tmp_path / "tiny-gpt2"
    folder.mkdir()
    sd = course_to_hf_state_dict(source)
    save_file(sd, folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps({
        "model_type": "gpt2", "vocab_size": cfg["vocab_size"], "n_positions": cfg["context_length"],
        "n_embd": cfg["emb_dim"], "n_layer": cfg["n_layers"], "n_head": cfg["n_heads"]}))
    return folder, source, sd


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_a_folder_and_a_file_load(cfg, checkpoint):
    folder, source, _ = checkpoint
    assert same_weights(load_gpt2_safetensors(folder, GPTModel(cfg)), source)
    assert same_weights(load_gpt2_safetensors(str(folder / "model.safetensors"), GPTModel(cfg)), source)


BROKEN = {
    "empty": (b"", "empty"),
    "Git LFS pointer": (LFS_POINTER, "Git LFS pointer"),
    "HTML page": (HTML_PAGE, "HTML page"),
    "random bytes": (bytes(range(256)) * 8, "corrupted, truncated, or another kind of file"),
    "JSON text": (b'{"weight_map": {}}', "JSON text"),
}


@pytest.mark.parametrize("name", BROKEN)
def test_broken_safetensors_file_names_the_file_and_the_cause(name, cfg, checkpoint):
    folder, _, _ = checkpoint
    content, cause = BROKEN[name]
    path = folder / "model.safetensors"
    path.write_bytes(content)
    for call in (lambda: read_weights_file(path), lambda: safetensors_shapes(path),
                 lambda: load_gpt2_safetensors(folder, GPTModel(cfg))):
        with pytest.raises(ValueError) as err:
            call()
        message = str(err.value)
        assert str(path) in message and cause in message
        assert "header too" not in message  # not the safetensors library's raw words


def test_truncated_and_torch_save_files(cfg, checkpoint):
    folder, _, sd = checkpoint
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="bytes are not in the safetensors format"):
        read_weights_file(path)
    torch.save(sd, path)  # a torch.save file under the safetensors name
    with pytest.raises(ValueError, match="zip archive"):
        read_weights_file(path)


def test_bin_state_dict_and_training_checkpoint_load(cfg, checkpoint, tmp_path):
    _, source, sd = checkpoint
    torch.save(sd, tmp_path / "pytorch_model.bin")
    assert same_weights(load_gpt2_safetensors(tmp_path / "pytorch_model.bin", GPTModel(cfg)), source)
    torch.save({"state_dict": sd, "step": torch.tensor(3)}, tmp_path / "checkpoint.pt")
    assert set(read_weights_file(tmp_path / "checkpoint.pt")) == set(sd)
    folder = tmp_path / "bin-only"
    folder.mkdir()
    torch.save(sd, folder / "pytorch_model.bin")
    assert same_weights(load_gpt2_safetensors(folder, GPTModel(cfg)), source)


@pytest.mark.parametrize("content, match", [
    ([torch.zeros(2)], "holds a list, not a state dict"),
    (torch.zeros(2), "holds a Tensor, not a state dict"),
    ({"wte.weight": torch.zeros(2), "step": 3}, "entry 'step' is of type int, not a tensor"),
    ({"state_dict": {"a": "b"}}, "entry 'a' is of type str"),
    (nn.Linear(2, 2), "pickled Python objects"),
])
def test_pt_file_that_is_not_a_state_dict(content, match, tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(content, path)
    with pytest.raises(ValueError, match=match) as err:
        read_weights_file(path)
    assert str(path) in str(err.value)
    assert "weights_only=False" not in str(err.value)  # never the advice to unpickle


@pytest.mark.parametrize("name", BROKEN)
def test_broken_pt_file_names_the_file_and_the_cause(name, tmp_path):
    content, cause = BROKEN[name]
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError) as err:
        read_weights_file(path)
    assert str(path) in str(err.value) and cause in str(err.value)


def test_other_suffix_and_missing_files(cfg, tmp_path):
    (tmp_path / "weights.pkl").write_bytes(b"not weights")
    with pytest.raises(ValueError, match="expected a .safetensors file"):
        load_gpt2_safetensors(tmp_path / "weights.pkl", GPTModel(cfg))
    with pytest.raises(FileNotFoundError, match="no such weights file"):
        load_gpt2_safetensors(tmp_path / "nope.safetensors", GPTModel(cfg))
    (tmp_path / "empty-folder").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no model.safetensors"):
        load_gpt2_safetensors(tmp_path / "empty-folder", GPTModel(cfg))


def test_arguments_in_the_wrong_order_or_of_the_wrong_kind(cfg, checkpoint):
    folder, _, _ = checkpoint
    with pytest.raises(TypeError, match="note the order"):
        load_gpt2_safetensors(GPTModel(cfg), folder)
    with pytest.raises(TypeError, match="must be the course's GPTModel, got str"):
        load_gpt2_safetensors(folder, "gpt2")


@pytest.mark.parametrize("content, match", [
    (HTML_PAGE, "is not JSON: it is an HTML page"),
    (b"", "is not JSON: it is empty"),
    (LFS_POINTER, "is not JSON: it is a Git LFS pointer"),
    (b"\xff\xfe\x00binary", "is not JSON"),
    (b'["gpt2"]', "holds a JSON list, not a config"),
    (b" " * (2 << 20), "far too large for a config.json"),
])
def test_config_json_that_is_not_a_config(content, match, cfg, checkpoint):
    folder, _, _ = checkpoint
    path = folder / "config.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as err:
        read_hf_config(path)
    assert str(path) in str(err.value)
    with pytest.raises(ValueError, match=match):  # the loader reads it the same way
        load_gpt2_safetensors(folder, GPTModel(cfg))


# ---------------------------------------------------------------- shards


def shard(checkpoint, weight_map_for):
    """Split the checkpoint into two shards and an index whose weight_map is
    weight_map_for(first_half_keys, second_half_keys)."""
    folder, _, sd = checkpoint
    (folder / "model.safetensors").unlink()
    keys = list(sd)
    first, second = keys[: len(keys) // 2], keys[len(keys) // 2:]
    save_file({k: sd[k] for k in first}, folder / "model-00001-of-00002.safetensors")
    save_file({k: sd[k] for k in second}, folder / "model-00002-of-00002.safetensors")
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map_for(first, second)}))
    return folder


def test_sharded_checkpoint_loads(cfg, checkpoint):
    folder = shard(checkpoint, lambda first, second: {
        **{k: "model-00001-of-00002.safetensors" for k in first},
        **{k: "model-00002-of-00002.safetensors" for k in second}})
    assert same_weights(load_gpt2_safetensors(folder, GPTModel(cfg)), checkpoint[1])


@pytest.mark.parametrize("bad_name", [
    "../outside.safetensors", "/tmp/outside.safetensors", "sub/../../outside.safetensors",
    "sub/model.safetensors", "..\\outside.safetensors", "..", "",
])
def test_shard_names_stay_inside_the_folder(bad_name, cfg, checkpoint):
    folder = shard(checkpoint, lambda first, second: {
        **{k: "model-00001-of-00002.safetensors" for k in first},
        **{k: bad_name for k in second}})
    # a readable checkpoint waits outside: the index must not reach it
    save_file(checkpoint[2], folder.parent / "outside.safetensors")
    with pytest.raises(ValueError, match="not a file in its folder"):
        load_gpt2_safetensors(folder, GPTModel(cfg))


def test_bad_index_files(cfg, checkpoint):
    folder = shard(checkpoint, lambda first, second: {
        **{k: "model-00001-of-00002.safetensors" for k in first},
        **{k: "model-00003-of-00002.safetensors" for k in second}})
    with pytest.raises(FileNotFoundError, match="model-00003-of-00002.safetensors"):
        load_gpt2_safetensors(folder, GPTModel(cfg))
    index = folder / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}}))
    with pytest.raises(ValueError, match="no 'weight_map'"):
        load_gpt2_safetensors(folder, GPTModel(cfg))
    index.write_bytes(HTML_PAGE)
    with pytest.raises(ValueError, match="not a safetensors index: it is an HTML page"):
        load_gpt2_safetensors(folder, GPTModel(cfg))
    index.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a safetensors index"):
        load_gpt2_safetensors(folder, GPTModel(cfg))


def test_hf_cache_symlinks_still_load(cfg, checkpoint, tmp_path):
    """The hub's cache keeps files as links into blobs/: a link is fine, only
    the name in the index is checked."""
    folder, source, _ = checkpoint
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    os.replace(folder / "model.safetensors", blobs / "0123abcd")
    (folder / "model.safetensors").symlink_to(blobs / "0123abcd")
    assert same_weights(load_gpt2_safetensors(folder, GPTModel(cfg)), source)
