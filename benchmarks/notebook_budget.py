"""Measure the course against its budgets (issue: notebooks 00-08 under nbval
in <= 60 s together on a 2-core CPU, <= 1.5 GB peak per kernel, explorer
updates <= 100 ms median). A script, not a test: timings depend on the machine.

    .venv/bin/python benchmarks/notebook_budget.py            # everything
    .venv/bin/python benchmarks/notebook_budget.py --skip-nbval
"""

import argparse
import importlib
import inspect
import os
import pkgutil
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BOOK_CHAPTER = [n for n in NOTEBOOKS if n.name[:2] <= "08"]


def nbval_run(paths):
    """Wall time of one strict nbval run over `paths`, and each kernel's peak RSS."""
    peaks = {}
    done = threading.Event()
    process = None

    def watch():
        # Kernels are grandchildren of pytest: poll the process tree.
        while not done.is_set():
            try:
                for child in psutil.Process(process.pid).children(recursive=True):
                    try:
                        rss = child.memory_info().rss
                        if "ipykernel" in " ".join(child.cmdline()):
                            peaks[child.pid] = max(peaks.get(child.pid, 0), rss)
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            time.sleep(0.05)

    env = {**os.environ, "COLUMNS": "80", "CUDA_VISIBLE_DEVICES": ""}
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", *map(str, paths)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    watcher = threading.Thread(target=watch)
    watcher.start()
    output, _ = process.communicate()
    wall = time.perf_counter() - start
    done.set()
    watcher.join()
    if process.returncode:
        print(output)
        raise SystemExit("nbval failed: fix the notebooks before measuring them")
    return wall, sorted(peaks.values(), reverse=True)


def explorer_update_times(repeats=15):
    """Median time of one control change for every explorer in gpt_course.explorers."""
    import gpt_course.explorers as explorers_pkg
    from gpt_course.explorers import Explorer

    results = {}
    for info in pkgutil.iter_modules(explorers_pkg.__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"gpt_course.explorers.{info.name}")
        for name, factory in inspect.getmembers(module, inspect.isfunction):
            if not name.endswith("_explorer") or factory.__module__ != module.__name__:
                continue
            explorer = factory(**_demo_arguments(factory))
            if not isinstance(explorer, Explorer):
                continue
            for control_name, control in explorer.controls.items():
                values = _values_for(control)
                if len(values) < 2:
                    continue
                times = []
                for i in range(repeats):
                    value = values[i % len(values)]
                    if value == control.value:
                        value = values[(i + 1) % len(values)]
                    start = time.perf_counter()
                    control.value = value
                    times.append(time.perf_counter() - start)
                results[f"{name}.{control_name}"] = statistics.median(times) * 1000
    return results


def _demo_arguments(factory):
    """Arguments for explorers that need some (a model to generate with)."""
    params = inspect.signature(factory).parameters
    kwargs = {}
    if "model" in params and params["model"].default is inspect.Parameter.empty:
        import torch

        from gpt_course import GPT_CONFIG_124M, GPTModel

        torch.manual_seed(123)
        kwargs["model"] = GPTModel(GPT_CONFIG_124M).eval()
    if "prompt" in params and params["prompt"].default is inspect.Parameter.empty:
        kwargs["prompt"] = "Hello, I am"
    if "history" in params:  # the training explorer: a made-up run of the notebook's shape
        from gpt_course.beyond.nb11_training import TrainingHistory

        epochs, steps = 12, 20
        train = [7.0 * 0.9 ** (i / steps) for i in range(epochs * steps)]
        kwargs["history"] = TrainingHistory(
            train, [steps * (e + 1) for e in range(epochs)], [train[steps * (e + 1) - 1] + 0.3 for e in range(epochs)])
        kwargs["texts"] = [f"text after epoch {e}: " + "some words " * 8 for e in range(epochs + 1)]
        kwargs["steps_per_epoch"] = steps
        kwargs["ln_vocab"] = 10.8
    return kwargs


def _values_for(control):
    options = getattr(control, "options", None)
    if options:
        labels = [o[1] if isinstance(o, tuple) else o for o in options]
        return list(labels)
    if isinstance(control.value, bool):
        return [True, False]
    low, high = getattr(control, "min", None), getattr(control, "max", None)
    if low is None or high is None:
        return []
    if hasattr(control, "base"):  # FloatLogSlider: min and max are exponents
        return [control.base ** (low + (high - low) * k / 7) for k in range(8)]
    step = getattr(control, "step", 1) or 1
    count = int(round((high - low) / step))
    picks = sorted({round(low + step * round(count * k / 7), 10) for k in range(8)})
    return [type(control.value)(v) for v in picks]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-nbval", action="store_true")
    parser.add_argument("--skip-explorers", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")
    if not args.skip_nbval:
        wall, peaks = nbval_run(BOOK_CHAPTER)
        print(f"nbval, notebooks 00-08 ({len(BOOK_CHAPTER)}): {wall:.1f} s wall (budget 60 s)")
        print(f"peak kernel memory (RSS): max {peaks[0] / 1e9:.2f} GB (budget 1.5 GB); "
              f"all kernels: {', '.join(f'{p / 1e9:.2f}' for p in peaks)} GB")
    if not args.skip_explorers:
        times = explorer_update_times()
        for name, ms in sorted(times.items()):
            print(f"explorer update {name}: {ms:.1f} ms median")
        if times:
            print(f"slowest explorer update: {max(times.values()):.1f} ms median (budget 100 ms)")


if __name__ == "__main__":
    main()
