"""gpt_course: the code of the course, once.

    book/        the chapter, one module per concept, numbered by notebook (nb02_layer_norm ...)
    beyond/      the KV cache and sampling (09), GPT-2's weights (10), training (11),
                 smaller numbers: bfloat16 and int8 (12)
    explorers/   the sliders, one module per notebook, named after it
    exercises/   the checks, one module per notebook, named after it
    config, tokenizer, checks, source, language: shared by all of them
    locale/zh/   the Chinese the course speaks after set_language("zh"), English -> Chinese

Every public name is importable from here: ``from gpt_course import LayerNorm``.
"""

from .config import GPT_CONFIG_124M, GPT2_CONFIGS, validate_config
from .checks import (
    check_bool, check_eval_mode, check_gpt_model, check_int, check_real, check_token_ids,
)
from .tokenizer import (
    TokenizerUnavailableError,
    get_tokenizer,
    text_to_token_ids,
    token_ids_to_text,
)
from .book.nb01_dummy_gpt import DummyGPTModel, DummyLayerNorm, DummyTransformerBlock
from .book.nb02_layer_norm import LayerNorm
from .book.nb03_gelu import GELU, gelu_exact
from .book.nb04_feed_forward import FeedForward
from .book.nb05_shortcuts import ExampleDeepNeuralNetwork, layer_gradients
from .book.nb06_attention import MultiHeadAttention
from .book.nb06_transformer_block import TransformerBlock
from .book.nb07_gpt_model import GPTModel
from .book.nb07_model_size import ModelSize, count_parameters, model_size
from .book.nb08_generation import generate_text_simple
from .source import show_source
from .language import LANGUAGES, cjk_font, get_language, set_language, speaking, tr
# Beyond the book: fast generation, sampling, real GPT-2 weights, smaller numbers.
from .beyond.nb09_kv_cache import GPTModelWithCache, MultiHeadAttentionWithCache, generate_text_cached
from .beyond.nb09_fast_kv_cache import (
    BlockWeights,
    KVCache,
    ModelWeights,
    check_cacheable,
    fast_feed_forward,
    fast_gelu,
    fast_layer_norm,
    forward_with_cache,
    pack_weights,
)
from .beyond.nb09_sampling import check_sampling_args, generate, next_token_distribution
from .beyond.nb10_gpt2_weights import (
    CONFIG_MAX_BYTES,
    GPT2Weight,
    check_gpt2_state_dict,
    config_from_hf,
    course_to_hf,
    course_to_hf_state_dict,
    gpt2_weights,
    hf_to_course,
    load_gpt2_safetensors,
    load_gpt2_state_dict,
    read_hf_config,
    read_torch_state_dict,
    read_weights_file,
    safetensors_shapes,
)
from .beyond.nb10_download import (
    GPT2WeightsUnavailableError,
    check_gpt2_124m_config,
    check_gpt2_124m_weights,
    download_gpt2_124m,
    sha256_file,
)
from .beyond.nb11_training import (
    GPTDatasetV1,
    Notebook11Run,
    SmallVocab,
    TrainingHistory,
    calc_loss_batch,
    calc_loss_loader,
    create_dataloader,
    load_course_text,
    train_model_simple,
    train_notebook11_model,
)
from .beyond.nb12_smaller_numbers import (
    BYTES_PER_NUMBER,
    PRECISIONS,
    Int8Linear,
    Quality,
    compare_quality,
    int8_linear_fast,
    model_bytes,
    quantize,
    quantize_per_channel,
    weight_bytes_per_token,
)

# The checks compare with the course as it ships, even after a learner has
# patched a class while experimenting (exercises/sandbox.py).
from .exercises.sandbox import course_modules as _course_modules, snapshot_course as _snapshot

_snapshot(_course_modules())

__all__ = [
    "GPT_CONFIG_124M", "GPT2_CONFIGS", "validate_config",
    "check_bool", "check_eval_mode", "check_gpt_model", "check_int", "check_real",
    "check_token_ids",
    "TokenizerUnavailableError", "get_tokenizer", "text_to_token_ids", "token_ids_to_text",
    "DummyGPTModel", "DummyLayerNorm", "DummyTransformerBlock",
    "LayerNorm", "GELU", "gelu_exact", "FeedForward",
    "ExampleDeepNeuralNetwork", "layer_gradients",
    "MultiHeadAttention", "TransformerBlock", "GPTModel",
    "ModelSize", "count_parameters", "model_size",
    "generate_text_simple", "show_source",
    "LANGUAGES", "cjk_font", "get_language", "set_language", "speaking", "tr",
    "MultiHeadAttentionWithCache", "GPTModelWithCache", "generate_text_cached",
    "BlockWeights", "KVCache", "ModelWeights", "check_cacheable", "fast_feed_forward",
    "fast_gelu", "fast_layer_norm", "forward_with_cache", "pack_weights",
    "check_sampling_args", "generate", "next_token_distribution",
    "CONFIG_MAX_BYTES", "GPT2Weight", "check_gpt2_state_dict", "config_from_hf", "course_to_hf",
    "course_to_hf_state_dict", "gpt2_weights", "hf_to_course", "load_gpt2_safetensors",
    "load_gpt2_state_dict", "read_hf_config", "read_torch_state_dict", "read_weights_file",
    "safetensors_shapes",
    "GPT2WeightsUnavailableError", "check_gpt2_124m_config", "check_gpt2_124m_weights",
    "download_gpt2_124m", "sha256_file",
    "GPTDatasetV1", "SmallVocab", "TrainingHistory", "calc_loss_batch", "calc_loss_loader",
    "create_dataloader", "load_course_text", "train_model_simple",
    "Notebook11Run", "train_notebook11_model",
    "BYTES_PER_NUMBER", "PRECISIONS", "Int8Linear", "Quality", "compare_quality",
    "int8_linear_fast", "model_bytes", "quantize", "quantize_per_channel",
    "weight_bytes_per_token",
]
