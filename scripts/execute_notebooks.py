"""Execute notebooks top to bottom in a fresh kernel and store them with their
outputs, the way they are committed (no saved widget state, stable metadata).

    .venv/bin/python scripts/execute_notebooks.py notebooks/03_gelu.ipynb ...
    .venv/bin/python scripts/execute_notebooks.py            # all of notebooks/
"""

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def execute(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=False,  # random model ids and megabytes of state
    )
    start = time.perf_counter()
    client.execute()
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = _clean_outputs(cell.outputs)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return time.perf_counter() - start


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _clean_outputs(outputs):
    """Stored outputs as a reader should first see them, with stable diffs:
    an explorer's widget view (a random model id that only a running kernel
    can serve) is dropped, so the notebook opens showing the explorer's
    static PNG and text until its cell is run; stream chunks are merged."""
    cleaned = []
    for output in outputs:
        if WIDGET_VIEW in output.get("data", {}):
            del output["data"][WIDGET_VIEW]
        if (output.output_type == "stream" and cleaned
                and cleaned[-1].output_type == "stream" and cleaned[-1].name == output.name):
            cleaned[-1].text += output.text
            continue
        cleaned.append(output)
    return cleaned


def main(args):
    os.environ.setdefault("COLUMNS", "80")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    paths = [Path(a).resolve() for a in args] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        print(f"{path.name}: {execute(path):.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
