"""Explorer for notebook 02: one token vector before and after LayerNorm.

A fixed random token vector is scaled and shifted (the sliders "input scale"
and "input shift"), then passed through the package's `LayerNorm` with the
chosen eps, learned scale (gamma) and learned shift (beta). Both panels share
one fixed x-axis, so the eye sees the input cloud stretch and slide while the
normalized cloud stays put (until gamma, beta or a large eps move it).
"""

import numpy as np
import torch

from ..book.nb02_layer_norm import LayerNorm
from ..checks import check_int
from ..language import tr
from .base import Explorer, log_slider, slider

X_LIMIT = 15.0  # |values| shown; the slider ranges keep every point inside


def _stat(value):
    """Format a statistic with 4 decimals and no '-0.0000'."""
    return f"{0.0 if abs(value) < 5e-5 else value:.4f}"


def token_vector(dim=64, seed=123):
    """The fixed random 'token vector' the explorer normalizes (float32)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(dim, generator=generator)


def layer_norm_explorer(input_scale=2.5, input_shift=3.0, eps=1e-5, gamma=1.0, beta=0.0,
                        dim=64, seed=123):
    """Sliders for the input's scale and shift, eps, and LayerNorm's learned
    scale (gamma) and shift (beta); strip plots of a fixed random token vector
    before and after LayerNorm, with mean and variance in the readout.

    It starts with an input far from mean 0 and variance 1 (about 3 and 6.4),
    so the first picture already shows what LayerNorm does: the input cloud
    off-centre and wide, the output centred and narrower.

    Every value must lie in its slider's range (a ValueError names the
    argument and the range otherwise); dim is 1 to 1024 points, seed >= 0."""
    check_int("dim", dim, low=1, high=1024, why=" (one point per value; more would not be readable)")
    check_int("seed", seed, low=0)
    z = token_vector(dim, seed)
    norm = LayerNorm(dim)
    rng = np.random.default_rng(seed)
    jitter = rng.uniform(0.15, 0.85, size=dim)  # fixed vertical spread of the points

    controls = {
        "input_scale": log_slider(tr("input scale"), input_scale, -2, 0.6, ".2f",
                                  name="input_scale"),
        "input_shift": slider(tr("input shift"), input_shift, -4.0, 4.0, 0.1, name="input_shift"),
        "eps": log_slider("eps", eps, -6, 0, ".0e", name="eps"),
        "gamma": slider(tr("gamma (scale)"), gamma, 0.0, 3.0, 0.05, name="gamma"),
        "beta": slider(tr("beta (shift)"), beta, -3.0, 3.0, 0.1, name="beta"),
    }

    def setup(fig):
        axes = fig.subplots(2, 1, sharex=True)
        handles = {}
        titles = (tr("{dim} values of one token vector, before LayerNorm", dim=dim),
                  tr("{dim} values of one token vector, after LayerNorm", dim=dim))
        for ax, name, color, title in zip(axes, ("before", "after"), ("tab:blue", "tab:orange"),
                                          titles):
            ax.set_xlim(-X_LIMIT, X_LIMIT)
            ax.set_ylim(0, 1)
            ax.set_yticks([])
            ax.axvline(0, color="0.8", lw=0.8, zorder=0)
            ax.set_title(title, fontsize=10, loc="left")
            handles[f"{name}_band"] = ax.axvspan(
                -1, 1, color=color, alpha=0.15, animated=True, zorder=1,
            )
            (handles[f"{name}_mean"],) = ax.plot(
                [0, 0], [0, 1], color=color, lw=2, animated=True, zorder=2,
            )
            handles[f"{name}_points"] = ax.scatter(
                np.zeros(dim), jitter, s=14, color=color, edgecolor="none",
                alpha=0.8, animated=True, zorder=3,
            )
        axes[1].set_xlabel(tr("value  (line: mean, band: mean ± 1 standard deviation)"))
        return handles

    def update(handles, input_scale, input_shift, eps, gamma, beta):
        x = input_scale * z + input_shift
        norm.eps = eps
        with torch.no_grad():
            norm.scale.fill_(gamma)
            norm.shift.fill_(beta)
            y = norm(x)
        stats = {}
        for name, values in (("before", x), ("after", y)):
            mean = values.mean().item()
            var = values.var(unbiased=False).item()
            std = var ** 0.5
            handles[f"{name}_points"].set_offsets(np.column_stack([values.numpy(), jitter]))
            handles[f"{name}_mean"].set_xdata([mean, mean])
            handles[f"{name}_band"].set_x(mean - std)
            handles[f"{name}_band"].set_width(2 * std)
            stats[name] = dict(mean=_stat(mean), variance=_stat(var))
        return "\n".join([
            tr("before LayerNorm: mean {mean:>8}, variance {variance:>8}", **stats["before"]),
            tr("after  LayerNorm: mean {mean:>8}, variance {variance:>8}", **stats["after"]),
        ])

    return Explorer("LayerNorm on one token vector", controls, setup, update,
                    figsize=(8, 3.6), dpi=80)
