"""Notebook 07: how big is the model? Parameters and memory, counted from the
config without allocating anything, so even GPT-2 XL is counted instantly."""

from dataclasses import dataclass

import torch

from ..config import validate_config

MIB = 1024**2  # a mebibyte: what the book prints as "MB" (621.83 "MB")
MB = 1000**2   # a megabyte in the SI sense


def count_parameters(module):
    """Number of scalar parameters in `module`."""
    return sum(p.numel() for p in module.parameters())


@dataclass(frozen=True)
class ModelSize:
    total_params: int          # every parameter, output head separate
    tied_params: int           # with the output head sharing tok_emb's weights
    embedding_params: int      # token + position embeddings
    attention_params_per_block: int
    feed_forward_params_per_block: int
    layer_norm_params_per_block: int
    final_norm_params: int
    out_head_params: int
    n_layers: int
    param_bytes: int           # parameters, untied, in the requested dtype
    buffer_bytes: int          # non-parameter tensors (the causal masks)
    dtype: torch.dtype

    @property
    def param_mib(self):
        """Parameter memory in MiB (2**20 bytes): the book's "MB" figure."""
        return self.param_bytes / MIB

    @property
    def total_mib(self):
        """Parameters plus buffers, in MiB."""
        return (self.param_bytes + self.buffer_bytes) / MIB

    @property
    def param_mb(self):
        """Parameter memory in SI megabytes (10**6 bytes)."""
        return self.param_bytes / MB


def model_size(cfg, dtype=torch.float32):
    """Count the parameters and memory of GPTModel(cfg) from the config alone,
    without building it: each line below is one module's weights and biases
    (tests check every count against the real modules)."""
    cfg = validate_config(cfg)
    d, vocab, context = cfg["emb_dim"], cfg["vocab_size"], cfg["context_length"]
    qkv_bias = 3 * d if cfg["qkv_bias"] else 0
    attention = 3 * d * d + qkv_bias + (d * d + d)   # W_query, W_key, W_value; out_proj
    feed_forward = (d * 4 * d + 4 * d) + (4 * d * d + d)  # expand to 4d, project back
    layer_norms = 2 * (d + d)                         # norm1, norm2: scale and shift
    embeddings = vocab * d + context * d              # tok_emb, pos_emb
    final_norm = d + d
    out_head = d * vocab                              # no bias
    total = embeddings + cfg["n_layers"] * (attention + feed_forward + layer_norms) + final_norm + out_head
    return ModelSize(
        total_params=total,
        tied_params=total - out_head,
        embedding_params=embeddings,
        attention_params_per_block=attention,
        feed_forward_params_per_block=feed_forward,
        layer_norm_params_per_block=layer_norms,
        final_norm_params=final_norm,
        out_head_params=out_head,
        n_layers=cfg["n_layers"],
        param_bytes=total * _bytes_per_element(dtype),
        buffer_bytes=cfg["n_layers"] * context * context,  # one bool causal mask per block
        dtype=dtype,
    )


def _bytes_per_element(dtype):
    return torch.empty((), dtype=dtype).element_size()
