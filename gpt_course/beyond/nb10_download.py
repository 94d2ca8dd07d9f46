"""Beyond the book: download OpenAI's GPT-2 124M weights from the Hugging
Face hub, pinned to one revision and checked, for `load_gpt2_safetensors`.

Nothing downloaded is trusted: each file is written under a temporary
``.part`` name, read no further than the size it should have, checked
(``config.json`` is GPT-2 124M's config, ``model.safetensors`` has the
published sha256), and only then renamed into place. A failure or a Ctrl-C
at any point leaves no ``.part`` file behind.
"""

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ..checks import check_real
from .nb10_gpt2_weights import CONFIG_MAX_BYTES, config_from_hf, read_hf_config, safetensors_shapes

__all__ = [
    "GPT2WeightsUnavailableError",
    "check_gpt2_124m_config",
    "check_gpt2_124m_weights",
    "download_gpt2_124m",
    "sha256_file",
]

# The official GPT-2 124M checkpoint, pinned to one revision and checked.
GPT2_124M_REPO = "openai-community/gpt2"
GPT2_124M_REVISION = "607a30d783dfa663caf39e06633721c8d4cfcd7e"
GPT2_124M_SAFETENSORS_SHA256 = (
    "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707"
)
GPT2_124M_SAFETENSORS_BYTES = 548_105_171  # also the most the download reads


class GPT2WeightsUnavailableError(RuntimeError):
    """The GPT-2 weights could not be downloaded (offline, blocked, or a
    download that did not check out)."""


def sha256_file(path):
    """The sha256 of a file, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_gpt2_124m_config(path):
    """Raise ValueError unless `path` is GPT-2 124M's config.json."""
    try:
        course = config_from_hf(read_hf_config(path))
    except TypeError as err:  # a setting of the wrong kind: still just the wrong file
        raise ValueError(f"{path}: {err}") from err
    if (course["emb_dim"], course["n_layers"], course["n_heads"]) != (768, 12, 12):
        raise ValueError(f"{path} is not GPT-2 124M's config: {course}")


def check_gpt2_124m_weights(path):
    """Raise ValueError unless `path` is GPT-2 124M's model.safetensors, byte
    for byte: its header first (for a clear message about an empty file, a Git
    LFS pointer or an HTML page), then the sha256 of the whole file."""
    shapes = safetensors_shapes(path)
    wte = shapes.get("wte.weight", shapes.get("transformer.wte.weight"))
    if wte != (50257, 768):
        raise ValueError(f"{path} is not GPT-2 124M's weights: its wte.weight is {wte}, "
                         f"not (50257, 768)")
    if sha256_file(path) != GPT2_124M_SAFETENSORS_SHA256:
        raise ValueError(
            f"{path}: its sha256 differs from GPT-2 124M's model.safetensors "
            f"({Path(path).stat().st_size:,} bytes, the published file has "
            f"{GPT2_124M_SAFETENSORS_BYTES:,}): a corrupted, truncated or altered file"
        )


def _fetch(url, target, max_bytes, timeout):
    """Download `url` next to `target` under a temporary .part name, reading
    no more than `max_bytes` (ValueError beyond). Returns the .part path."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            announced = resp.headers.get("Content-Length", "")
            if announced.isdigit() and int(announced) > max_bytes:
                raise ValueError(f"the server announces {int(announced):,} bytes, more than "
                                 f"the {max_bytes:,} bytes of {target.name}")
            received = 0
            while chunk := resp.read(min(1 << 20, max_bytes + 1 - received)):
                received += len(chunk)
                if received > max_bytes:  # stop reading: it is not the file expected
                    raise ValueError(f"the server sends more than the {max_bytes:,} bytes "
                                     f"of {target.name}")
                out.write(chunk)
        return Path(tmp)
    except BaseException:  # Ctrl-C too
        Path(tmp).unlink(missing_ok=True)
        raise


def download_gpt2_124m(dest_dir, *, timeout=10.0):
    """Download OpenAI's GPT-2 124M weights (``model.safetensors``, 548 MB) and
    ``config.json`` from the Hugging Face hub into `dest_dir`, pinned to one
    revision and checked by sha256. Files already there and valid are kept.

    The hub's address can be changed with the environment variable
    ``HF_ENDPOINT`` (a mirror, as for the ``huggingface_hub`` library).
    Returns `dest_dir` as a Path, ready for ``load_gpt2_safetensors``.
    Raises GPT2WeightsUnavailableError quickly when offline (a `timeout`-second
    connection limit; immediately when HF_HUB_OFFLINE=1 is set).
    """
    if not isinstance(dest_dir, (str, os.PathLike)):
        raise TypeError(f"dest_dir must be a folder name, got {type(dest_dir).__name__}")
    timeout = check_real("timeout", timeout, low=0, low_open=True)
    endpoint = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or "https://huggingface.co"
    if not endpoint.startswith(("https://", "http://")):
        raise ValueError(f"HF_ENDPOINT must be an http(s) address, got {endpoint!r}")
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    base = f"{endpoint}/{GPT2_124M_REPO}/resolve/{GPT2_124M_REVISION}/"
    manual = (
        f"download config.json and model.safetensors by hand from "
        f"https://huggingface.co/{GPT2_124M_REPO} into {dest}, then call "
        f"load_gpt2_safetensors({str(dest)!r}, model)"
    )
    jobs = [
        ("config.json", check_gpt2_124m_config, CONFIG_MAX_BYTES),
        ("model.safetensors", check_gpt2_124m_weights, GPT2_124M_SAFETENSORS_BYTES),
    ]
    for name, check, max_bytes in jobs:
        target = dest / name
        if target.is_file():
            try:
                check(target)
                continue
            except ValueError:
                pass  # a stale or broken file: download it again
        if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
            raise GPT2WeightsUnavailableError(
                f"HF_HUB_OFFLINE is set, so {name} is not downloaded; {manual}"
            )
        tmp = None
        try:
            tmp = _fetch(base + name, target, max_bytes, timeout)
            check(tmp)
            os.replace(tmp, target)
        except ValueError as err:  # too large, or not the file expected
            raise GPT2WeightsUnavailableError(
                f"the downloaded {name} did not check out ({err}); {manual}"
            ) from err
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            raise GPT2WeightsUnavailableError(
                f"could not download {name} from {endpoint} ({err}); {manual}"
            ) from err
        finally:  # an error, or a Ctrl-C even while the hash is computed: no .part left
            if tmp is not None:
                tmp.unlink(missing_ok=True)
    return dest
