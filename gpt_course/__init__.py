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

__all__ = [
    "GPT_CONFIG_124M", "GPT2_CONFIGS", "check_token_ids", "validate_config",
    "TokenizerUnavailableError", "get_tokenizer", "text_to_token_ids", "token_ids_to_text",
    "DummyGPTModel", "DummyLayerNorm", "DummyTransformerBlock",
    "LayerNorm", "GELU", "gelu_exact", "FeedForward",
    "ExampleDeepNeuralNetwork", "layer_gradients",
    "MultiHeadAttention", "TransformerBlock", "GPTModel",
    "ModelSize", "count_parameters", "model_size",
    "generate_text_simple", "show_source",
]
