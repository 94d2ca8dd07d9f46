"""Notebook 05: shortcut (residual) connections and the gradients they keep alive."""

import torch
import torch.nn as nn

from .nb03_gelu import GELU


class ExampleDeepNeuralNetwork(nn.Module):
    """A stack of Linear + activation layers, optionally with shortcuts that
    add each layer's input to its output (where the shapes match)."""

    def __init__(self, layer_sizes, use_shortcut, activation=GELU):
        super().__init__()
        if len(layer_sizes) < 2:
            raise ValueError(
                f"layer_sizes needs at least 2 entries (input and output), got {layer_sizes}"
            )
        self.use_shortcut = use_shortcut
        self.layers = nn.ModuleList([
            nn.Sequential(nn.Linear(n_in, n_out), activation())
            for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])
        ])

    def forward(self, x):
        for layer in self.layers:
            layer_output = layer(x)
            if self.use_shortcut and x.shape == layer_output.shape:
                x = x + layer_output
            else:
                x = layer_output
        return x


def layer_gradients(model, x, target=None):
    """Backpropagate an MSE loss between model(x) and `target` (zeros by
    default, as in the book) and return {weight name: mean |gradient|}."""
    if target is None:
        target = torch.zeros(x.shape[0], 1)
    model.zero_grad()
    output = model(x)
    loss = nn.MSELoss()(output, target)
    loss.backward()
    return {
        name: param.grad.abs().mean().item()
        for name, param in model.named_parameters()
        if "weight" in name
    }
