"""gpt_course: the code of the course, once. Modules in the order the
notebooks teach them."""

from .config import GPT_CONFIG_124M, GPT2_CONFIGS, check_token_ids, validate_config
from .tokenizer import (
    TokenizerUnavailableError,
    get_tokenizer,
    text_to_token_ids,
    token_ids_to_text,
)
from .dummy_gpt import DummyGPTModel, DummyLayerNorm, DummyTransformerBlock
from .layer_norm import LayerNorm
from .gelu import GELU, gelu_exact
from .feed_forward import FeedForward
from .shortcuts import ExampleDeepNeuralNetwork, layer_gradients
from .attention import MultiHeadAttention
from .transformer_block import TransformerBlock
from .gpt_model import GPTModel
from .model_size import ModelSize, count_parameters, model_size
from .generation import generate_text_simple
from .source import show_source
# Beyond the book: fast generation, sampling, real GPT-2 weights.
from .kv_cache import KVCache, forward_with_cache
from .sampling import generate, next_token_distribution
from .pretrained import (
    GPT2WeightsUnavailableError,
    config_from_hf,
    download_gpt2_124m,
    load_gpt2_safetensors,
    load_gpt2_state_dict,
)
from .training import (
    GPTDatasetV1,
    SmallVocab,
    TrainingHistory,
    calc_loss_batch,
    calc_loss_loader,
    create_dataloader,
    load_course_text,
    train_model_simple,
)

__all__ = [
    "GPT_CONFIG_124M", "GPT2_CONFIGS", "check_token_ids", "validate_config",
    "TokenizerUnavailableError", "get_tokenizer", "text_to_token_ids", "token_ids_to_text",
    "DummyGPTModel", "DummyLayerNorm", "DummyTransformerBlock",
    "LayerNorm", "GELU", "gelu_exact", "FeedForward",
    "ExampleDeepNeuralNetwork", "layer_gradients",
    "MultiHeadAttention", "TransformerBlock", "GPTModel",
    "ModelSize", "count_parameters", "model_size",
    "generate_text_simple", "show_source",
    "KVCache", "forward_with_cache", "generate", "next_token_distribution",
    "GPT2WeightsUnavailableError", "config_from_hf", "download_gpt2_124m",
    "load_gpt2_safetensors", "load_gpt2_state_dict",
    "GPTDatasetV1", "SmallVocab", "TrainingHistory", "calc_loss_batch", "calc_loss_loader",
    "create_dataloader", "load_course_text", "train_model_simple",
]
