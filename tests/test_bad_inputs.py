"""Bad input gets a clear error where it enters, naming the problem."""

import pytest
import torch

from gpt_course import (
    GPT_CONFIG_124M, DummyGPTModel, FeedForward, GPTModel, TransformerBlock,
    generate_text_simple, text_to_token_ids, token_ids_to_text, validate_config,
)


# The policy (gpt_course/checks.py): TypeError for the wrong kind of value,
# ValueError for a wrong value of the right kind.
@pytest.mark.parametrize("change, error, words", [
    ({"emb_dim": 770}, ValueError, ["emb_dim", "770", "n_heads", "divisible"]),
    ({"drop_rate": 1.0}, ValueError, ["drop_rate", "1.0", "[0, 1)"]),
    ({"drop_rate": -0.1}, ValueError, ["drop_rate", "-0.1", "[0, 1)"]),
    ({"drop_rate": float("nan")}, ValueError, ["drop_rate", "nan", "[0, 1)"]),
    ({"drop_rate_attn": 1.5}, ValueError, ["drop_rate_attn", "1.5"]),
    ({"drop_rate": "0.1"}, TypeError, ["drop_rate", "'0.1'", "number"]),
    ({"n_layers": 0}, ValueError, ["n_layers", "0", "positive"]),
    ({"vocab_size": 50257.0}, TypeError, ["vocab_size", "50257.0", "int"]),
    ({"n_heads": True}, TypeError, ["n_heads", "True", "int"]),
    ({"qkv_bias": "no"}, TypeError, ["qkv_bias", "'no'", "True or False"]),
    ({"emb_size": 768}, ValueError, ["unknown", "emb_size"]),
])
def test_bad_config_values(change, error, words):
    with pytest.raises(error) as info:
        GPTModel({**GPT_CONFIG_124M, **change})
    for word in words:
        assert word in str(info.value)


def test_missing_config_key_is_named():
    cfg = dict(GPT_CONFIG_124M)
    del cfg["context_length"]
    with pytest.raises(ValueError, match="missing.*context_length"):
        GPTModel(cfg)


def test_config_must_be_a_dict():
    with pytest.raises(TypeError, match="must be a dict"):
        validate_config([("emb_dim", 768)])


@pytest.mark.parametrize("constructor", [DummyGPTModel, TransformerBlock, FeedForward])
def test_every_constructor_checks_its_config(constructor):
    with pytest.raises(ValueError, match="emb_dim"):
        constructor({**GPT_CONFIG_124M, "emb_dim": -1})


def test_feed_forward_needs_only_emb_dim():
    assert FeedForward({"emb_dim": 8})(torch.rand(1, 2, 8)).shape == (1, 2, 8)


@pytest.fixture
def tiny(tiny_cfg):
    torch.manual_seed(0)
    return GPTModel(tiny_cfg).eval()


def test_token_id_out_of_vocabulary(tiny, tiny_cfg):
    with pytest.raises(ValueError, match=r"\[0, 97\).*max 97"):
        tiny(torch.tensor([[1, 2, 97]]))
    with pytest.raises(ValueError, match="min -1"):
        tiny(torch.tensor([[-1, 2]]))


def test_non_integer_ids(tiny):
    with pytest.raises(TypeError, match="integers.*float32"):
        tiny(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(TypeError, match="torch.Tensor"):
        tiny([[1, 2]])


def test_ids_need_a_batch_dimension(tiny):
    with pytest.raises(ValueError, match=r"\[batch, seq_len\].*unsqueeze"):
        tiny(torch.tensor([1, 2, 3]))


def test_sequence_longer_than_context(tiny, tiny_cfg):
    with pytest.raises(ValueError, match="sequence length 17 exceeds context_length 16"):
        tiny(torch.zeros(1, 17, dtype=torch.long))


def test_dummy_model_checks_ids_too(tiny_cfg):
    torch.manual_seed(0)
    model = DummyGPTModel(tiny_cfg)
    with pytest.raises(ValueError, match="vocab_size"):
        model(torch.tensor([[tiny_cfg["vocab_size"]]]))


def test_empty_prompt():
    with pytest.raises(ValueError, match="empty"):
        text_to_token_ids("")


def test_empty_prompt_tensor(tiny, tiny_cfg):
    with pytest.raises(ValueError, match="prompt is empty"):
        generate_text_simple(tiny, torch.zeros(1, 0, dtype=torch.long), 3, tiny_cfg["context_length"])


def test_negative_max_new_tokens(tiny):
    with pytest.raises(ValueError, match="max_new_tokens.*-1"):
        generate_text_simple(tiny, torch.tensor([[1, 2]]), -1, 16)


def test_bad_context_size(tiny):
    with pytest.raises(ValueError, match="context_size"):
        generate_text_simple(tiny, torch.tensor([[1, 2]]), 2, 0)


def test_zero_new_tokens_returns_prompt(tiny):
    prompt = torch.tensor([[1, 2]])
    assert torch.equal(generate_text_simple(tiny, prompt, 0, 16), prompt)


def test_generation_crops_long_prompts_to_context(tiny, tiny_cfg):
    prompt = torch.randint(0, tiny_cfg["vocab_size"], (1, 20), generator=torch.Generator().manual_seed(1))
    out = generate_text_simple(tiny, prompt, 3, tiny_cfg["context_length"])
    assert out.shape == (1, 23)


def test_decode_checks_ids():
    with pytest.raises(ValueError, match=r"\[0, 50257\)"):
        token_ids_to_text(torch.tensor([[50257]]))
    with pytest.raises(TypeError, match="integers"):
        token_ids_to_text(torch.tensor([1.5]))
    with pytest.raises(ValueError, match="one row at a time"):
        token_ids_to_text(torch.tensor([[1], [2]]))


@pytest.mark.parametrize("constructor", [GPTModel, DummyGPTModel])
def test_model_keeps_its_own_config(constructor, tiny_cfg):
    cfg = dict(tiny_cfg)
    model = constructor(cfg)
    cfg["context_length"] = 10_000  # the caller changes its dict after building
    assert model.cfg["context_length"] == tiny_cfg["context_length"]
    too_long = torch.zeros(1, tiny_cfg["context_length"] + 1, dtype=torch.long)
    with pytest.raises(ValueError, match="exceeds context_length"):
        model(too_long)


@pytest.mark.parametrize("dtype", [torch.int16, torch.int8, torch.uint8, torch.float32, torch.bool])
def test_token_ids_of_a_dtype_the_embedding_cannot_take(tiny, dtype):
    with pytest.raises(TypeError, match=r"torch\.long.*ids\.long\(\)"):
        tiny(torch.tensor([[1, 2, 3]]).to(dtype))


def test_int32_token_ids_work_like_int64(tiny):
    ids = torch.tensor([[1, 2, 3]])
    assert torch.equal(tiny(ids.int()), tiny(ids))
