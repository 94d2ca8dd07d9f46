"""How fast does the course's GPT-2 write, and how fast could anything write
on this machine? One run, the same random 124M weights everywhere
(GPT_CONFIG_124M with qkv_bias=True, seed 123), batch 1, prompt
"Hello, I am", greedy, float32, on the CPU:

  (a) book loop   generate_text_simple: the whole context every step
  (b) KV cache    gpt_course.generate(use_cache=True)
  (c) HF          transformers GPT2LMHeadModel.generate(use_cache=True,
                  do_sample=False) with the same weights copied in
                  (gpt_course.course_to_hf_state_dict)

and the physical bound no batch-1 decoder can beat: every new token must
read every weight matrix once (about 500 MB in float32, far more than any
CPU cache holds) plus the cached keys and values, so

  bound (tokens/s) = memory read bandwidth / bytes read per token,

with the read bandwidth measured in the same run: the best of several
passes of torch.sum and torch.amax over a 512 MiB tensor, on all --threads,
interleaved with the timed runs so background load hits everything alike.
A reduction reads memory as fast as this machine can be read (faster than
a matrix-vector product does), so no path can go above the bound; if one
ever does, the script says so instead of hiding it.

All paths must produce the same tokens (the script fails otherwise).
Timings are the best of --repeats runs. Run from the repository root:

    .venv/bin/python benchmarks/generation_speed.py [--new-tokens 200] [--skip-book]
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpt_course import (  # noqa: E402
    GPT_CONFIG_124M, GPTModel, course_to_hf_state_dict, generate, generate_text_simple,
    text_to_token_ids,
)

BANDWIDTH_BYTES = 512 * 2**20  # far beyond every CPU cache


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def build_hf_model(model):
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    cfg = model.cfg
    hf_cfg = GPT2Config(
        vocab_size=cfg["vocab_size"], n_positions=cfg["context_length"],
        n_embd=cfg["emb_dim"], n_layer=cfg["n_layers"], n_head=cfg["n_heads"],
        activation_function="gelu_new", layer_norm_epsilon=1e-5,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        # The course model has its own output head (not tied to the embedding).
        tie_word_embeddings=False,
        bos_token_id=None, eos_token_id=None, pad_token_id=None,
    )
    hf = GPT2LMHeadModel(hf_cfg)
    missing, unexpected = hf.load_state_dict(course_to_hf_state_dict(model), strict=False)
    missing = [k for k in missing if not k.endswith((".attn.bias", ".attn.masked_bias"))]
    if missing or unexpected:
        raise SystemExit(f"weight copy to transformers failed: {missing} {unexpected}")
    hf.eval()
    hf.generation_config.eos_token_id = None
    hf.generation_config.pad_token_id = None
    return hf


def weight_bytes_per_token(model):
    """Bytes of weights one decoding step must read: every parameter, except
    that of the two embedding tables only one row each is read."""
    total = 0
    for name, p in model.named_parameters():
        if name in ("tok_emb.weight", "pos_emb.weight"):
            total += p.shape[1] * p.element_size()
        else:
            total += p.numel() * p.element_size()
    return total


def kv_bytes_per_token(model, n_prompt, n_new):
    """Bytes of cached keys and values one step reads, averaged over the run
    (the step for position t reads the keys and values of positions 0..t)."""
    cfg = model.cfg
    per_position = 2 * cfg["n_layers"] * cfg["emb_dim"] * model.out_head.weight.element_size()
    mean_positions = n_prompt + (n_new - 1) / 2 + 1
    return per_position * mean_positions


class Bandwidth:
    """Memory read bandwidth, measured by reductions over a large tensor."""

    def __init__(self):
        self.data = torch.ones(BANDWIDTH_BYTES // 4)
        self.best = 0.0

    def measure(self, passes=4):
        with torch.inference_mode():
            for reduce in (torch.sum, torch.amax):
                for _ in range(passes):
                    start = time.perf_counter()
                    reduce(self.data)
                    seconds = time.perf_counter() - start
                    self.best = max(self.best, BANDWIDTH_BYTES / seconds)
        return self.best


def first_difference(a, b):
    n = min(a.shape[1], b.shape[1])
    diff = (a[:, :n] != b[:, :n]).nonzero()
    return int(diff[0, 1]) if len(diff) else n


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--new-tokens", type=int, default=200)
    parser.add_argument("--skip-book", action="store_true",
                        help="skip the book loop (slow: a few tokens/s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs of the cache and HF paths (best is kept)")
    parser.add_argument("--threads", type=int, default=machine_cores())
    parser.add_argument("--prompt", default="Hello, I am")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(123)
    cfg = {**GPT_CONFIG_124M, "qkv_bias": True}
    model = GPTModel(cfg).eval()
    hf = build_hf_model(model)
    idx = text_to_token_ids(args.prompt)
    n = args.new_tokens
    if n < 1:
        raise SystemExit("--new-tokens must be at least 1")

    def run_cache():
        return generate(model, idx, n)

    def run_hf():
        with torch.inference_mode():
            return hf.generate(idx, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                               use_cache=True, attention_mask=torch.ones_like(idx))

    # Warm up (first calls allocate, load kernels).
    generate(model, idx, 3)
    hf.generate(idx, max_new_tokens=3, do_sample=False, use_cache=True,
                attention_mask=torch.ones_like(idx))
    bandwidth = Bandwidth()
    bandwidth.measure(passes=2)

    times = {"cache": [], "hf": []}
    outputs = {}
    for _ in range(args.repeats):
        for name, fn in (("cache", run_cache), ("hf", run_hf)):
            start = time.perf_counter()
            outputs[name] = fn()
            times[name].append(time.perf_counter() - start)
        bandwidth.measure()
    if not args.skip_book:
        start = time.perf_counter()
        outputs["book"] = generate_text_simple(model, idx, n, cfg["context_length"])
        times["book"] = [time.perf_counter() - start]

    reference = outputs["cache"]
    for name, out in outputs.items():
        if out.shape != reference.shape or not torch.equal(out, reference):
            pos = first_difference(out, reference)
            raise SystemExit(
                f"TOKENS DIFFER: {name} vs cache, shapes {list(out.shape)} vs "
                f"{list(reference.shape)}, first difference at position {pos}"
            )

    weights = weight_bytes_per_token(model)
    kv = kv_bytes_per_token(model, idx.shape[1], n)
    read_per_token = weights + kv
    bound = bandwidth.best / read_per_token
    rates = {name: n / min(t) for name, t in times.items()}
    labels = {
        "book": "(a) book loop generate_text_simple",
        "cache": "(b) course KV cache generate()",
        "hf": "(c) transformers generate(use_cache=True)",
    }
    print(f"machine: {cpu_model()}, torch threads {torch.get_num_threads()} "
          f"(of {machine_cores()} cores), torch {torch.__version__}, "
          f"python {platform.python_version()}")
    try:
        import transformers
        print(f"transformers {transformers.__version__}, attention "
              f"{hf.config._attn_implementation}")
    except Exception:  # pragma: no cover - informational only
        pass
    print(f"model: GPT_CONFIG_124M + qkv_bias, seed 123, float32, batch 1, prompt "
          f"{args.prompt!r} ({idx.shape[1]} tokens), {n} new tokens greedy; best of "
          f"{args.repeats} (book: 1 run)")
    print(f"read per token: {weights / 1e6:.1f} MB of weights + {kv / 1e6:.1f} MB of cached "
          f"keys/values (mean over the run) = {read_per_token / 1e6:.1f} MB")
    print(f"memory read bandwidth (best sum/amax over {BANDWIDTH_BYTES >> 20} MiB, this run): "
          f"{bandwidth.best / 1e9:.1f} GB/s")
    print(f"{'path':48s} {'tokens/s':>9s} {'ms/token':>9s} {'of bound':>9s}")
    print(f"{'(d) bandwidth bound: bytes per token / bandwidth':48s} {bound:9.2f} "
          f"{1000 / bound:9.2f} {1.0:9.3f}")
    for name in ("book", "cache", "hf"):
        if name in rates:
            print(f"{labels[name]:48s} {rates[name]:9.2f} {1000 / rates[name]:9.2f} "
                  f"{rates[name] / bound:9.3f}")
    print(f"ratio cache / HF    : {rates['cache'] / rates['hf']:.3f}  (target >= 1.05)")
    print(f"ratio cache / bound : {rates['cache'] / bound:.3f}")
    print(f"ratio HF / bound    : {rates['hf'] / bound:.3f}")
    if "book" in rates:
        print(f"ratio cache / book  : {rates['cache'] / rates['book']:.1f}")
    above = [name for name, rate in rates.items() if rate > bound]
    if above:
        print(f"WARNING: {above} ran above the bound: the bandwidth measured here is below "
              f"what this machine can read, so the bound is not a bound on it")
    print(f"tokens identical across {sorted(outputs)}: yes")


if __name__ == "__main__":
    main()
