"""How fast does the course's GPT-2 write, and how fast could anything write
on this machine? One run, the same random 124M weights everywhere
(GPT_CONFIG_124M with qkv_bias=True, seed 123), batch 1, prompt
"Hello, I am", greedy, float32, on the CPU:

  (a) book loop   generate_text_simple: the whole context every step
  (b) KV cache    gpt_course.generate(use_cache=True)
  (c) HF          transformers GPT2LMHeadModel.generate(use_cache=True,
                  do_sample=False) with the same weights copied in
                  (gpt_course.course_to_hf_state_dict)
  (e) bfloat16    gpt_course.generate on quantize(model, "bf16")
  (f) int8        gpt_course.generate on quantize(model, "int8") (int8
                  weights per output channel, float32 activations; the fast
                  cache runs torch's int8 kernel, bfloat16 in and out)

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

The float32 paths must produce the same tokens (the script fails otherwise).
bfloat16 and int8 compute other numbers, so their tokens cannot all be the
same: the script prints where they first differ, the share of positions
equal, and the top-1 agreement with float32 along float32's own text
(teacher-forced: every position sees the same context). Each precision has
its own bound: its own bytes per token.
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
    GPT_CONFIG_124M, GPTModel, compare_quality, course_to_hf_state_dict, generate,
    generate_text_simple, quantize, text_to_token_ids, weight_bytes_per_token,
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


def kv_bytes_per_token(model, n_prompt, n_new):
    """Bytes of cached keys and values one step reads, averaged over the run
    (the step for position t reads the keys and values of positions 0..t);
    the cache holds them in the model's (float) dtype."""
    cfg = model.cfg
    per_position = 2 * cfg["n_layers"] * cfg["emb_dim"] * model.tok_emb.weight.element_size()
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
    smaller = {"bf16": quantize(model, "bf16"), "int8": quantize(model, "int8")}
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
    for small in smaller.values():
        generate(small, idx, 3)
    hf.generate(idx, max_new_tokens=3, do_sample=False, use_cache=True,
                attention_mask=torch.ones_like(idx))
    bandwidth = Bandwidth()
    bandwidth.measure(passes=2)

    times = {"cache": [], "hf": [], "bf16": [], "int8": []}
    outputs = {}
    paths = (("cache", run_cache), ("hf", run_hf),
             ("bf16", lambda: generate(smaller["bf16"], idx, n)),
             ("int8", lambda: generate(smaller["int8"], idx, n)))
    for _ in range(args.repeats):
        for name, fn in paths:
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
        if name in smaller:
            continue
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
    read_small = {name: weight_bytes_per_token(small) + kv_bytes_per_token(small, idx.shape[1], n)
                  for name, small in smaller.items()}
    bounds = {name: bandwidth.best / read for name, read in read_small.items()}
    rates = {name: n / min(t) for name, t in times.items()}
    labels = {
        "book": "(a) book loop generate_text_simple",
        "cache": "(b) course KV cache generate()",
        "hf": "(c) transformers generate(use_cache=True)",
        "bf16": "(e) course KV cache, bfloat16 model",
        "int8": "(f) course KV cache, int8 weights",
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
    for name in ("book", "cache", "hf", "bf16", "int8"):
        if name in rates:
            own = bounds.get(name, bound)
            print(f"{labels[name]:48s} {rates[name]:9.2f} {1000 / rates[name]:9.2f} "
                  f"{rates[name] / own:9.3f}")
    for name, small_bound in bounds.items():
        print(f"({'e' if name == 'bf16' else 'f'}) bound for {name}: {read_small[name] / 1e6:.1f} MB "
              f"per token -> {small_bound:.2f} tokens/s (the {name} row's 'of bound' is of this)")
    print(f"ratio cache / HF    : {rates['cache'] / rates['hf']:.3f}  (target >= 1.5)")
    print(f"ratio bf16 / HF     : {rates['bf16'] / rates['hf']:.3f}  (target >= 1.8)")
    print(f"ratio int8 / HF     : {rates['int8'] / rates['hf']:.3f}  (target >= 3)")
    print(f"ratio cache / bound : {rates['cache'] / bound:.3f}  (target >= 0.6)")
    print(f"ratio HF / bound    : {rates['hf'] / bound:.3f}")
    if "book" in rates:
        print(f"ratio cache / book  : {rates['cache'] / rates['book']:.1f}")
    above = [name for name, rate in rates.items() if rate > bounds.get(name, bound)]
    if above:
        print(f"WARNING: {above} ran above the bound: the bandwidth measured here is below "
              f"what this machine can read, so the bound is not a bound on it")
    print(f"tokens identical across {sorted(set(outputs) - set(smaller))}: yes")
    for name, small in smaller.items():
        out = outputs[name]
        first = first_difference(out, reference) - idx.shape[1]
        same = float((out == reference).float()[:, idx.shape[1]:].mean())
        # teacher-forced: the float32 text, every position judged in the same context
        quality = compare_quality(model, small, reference[:, -cfg["context_length"]:])
        print(f"{name} tokens vs float32: first difference at new token {first} of {n}, "
              f"{same:.1%} of positions equal; along float32's text: top-1 agreement "
              f"{quality.top1_agreement:.1%}, largest logit difference "
              f"{quality.max_logit_diff:.3f} (random weights: near-ties everywhere)")


if __name__ == "__main__":
    main()
