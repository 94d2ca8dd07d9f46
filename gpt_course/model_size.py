"""Notebook 07: how big is the model? Parameters and memory, counted without
allocating the weights (the model is built on PyTorch's "meta" device, where
tensors have shapes but no storage), so even GPT-2 XL is counted instantly."""

from dataclasses import dataclass

import torch

from .gpt_model import GPTModel

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
    """Count the parameters and memory of GPTModel(cfg) without allocating it."""
    with torch.device("meta"):
        model = GPTModel(cfg)
    block = model.trf_blocks[0]
    bytes_per_param = torch.empty((), dtype=dtype, device="meta").element_size()
    total = count_parameters(model)
    out_head = count_parameters(model.out_head)
    return ModelSize(
        total_params=total,
        tied_params=total - out_head,
        embedding_params=count_parameters(model.tok_emb) + count_parameters(model.pos_emb),
        attention_params_per_block=count_parameters(block.att),
        feed_forward_params_per_block=count_parameters(block.ff),
        layer_norm_params_per_block=count_parameters(block.norm1) + count_parameters(block.norm2),
        final_norm_params=count_parameters(model.final_norm),
        out_head_params=out_head,
        n_layers=cfg["n_layers"],
        param_bytes=total * bytes_per_param,
        buffer_bytes=sum(b.numel() * b.element_size() for b in model.buffers()),
        dtype=dtype,
    )
