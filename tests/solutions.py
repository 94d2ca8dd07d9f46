"""The "your turn" exercises as a learner meets them in the notebooks: the
skeleton cell (which calls the check) and the hidden solution (a python block
inside <details> in a markdown cell). Tests run both through the real check,
so a solution that stops working, or a skeleton that stops saying "Not yet",
fails CI."""

import contextlib
import io
import json
import re
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
_PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def notebook_cells(notebook):
    """The cells of the notebook whose name starts with `notebook` ("02_layer_norm")."""
    path = next(NOTEBOOKS.glob(f"{notebook}*.ipynb"))
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def cell_source(notebook, cell_id):
    """The source of the notebook's cell with this id."""
    return next("".join(c["source"]) for c in notebook_cells(notebook) if c.get("id") == cell_id)


def _namespace(notebook):
    """What the notebook has imported by the time of its exercises: its own
    import lines (every `import` / `from` line of its code cells, run in order)."""
    namespace = {}
    lines = []
    for cell in notebook_cells(notebook):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        lines += [line for line in source.splitlines()
                  if re.match(r"(import|from) \S+", line) and not line.rstrip().endswith("(")]
        # multi-line "from x import (\n a, b,\n)" statements
        lines += [m.group(0) for m in re.finditer(r"^from \S+ import \((?:.|\n)*?\)", source, re.M)]
    exec("\n".join(lines), namespace)
    return namespace


def solution_code(notebook, check_name):
    """The python block of the hidden solution that calls `check_name`."""
    found = []
    for cell in notebook_cells(notebook):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and "<details>" in source:
            found += [code for code in _PYTHON_BLOCK.findall(source) if f"{check_name}(" in code]
    assert len(found) == 1, f"{notebook}: expected one hidden solution calling {check_name}, found {len(found)}"
    return found[0]


def skeleton_code(notebook, check_name):
    """The code cell the learner edits: it calls `check_name` and raises NotImplementedError."""
    found = [
        "".join(cell["source"]) for cell in notebook_cells(notebook)
        if cell["cell_type"] == "code" and f"{check_name}(" in "".join(cell["source"])
        and "NotImplementedError" in "".join(cell["source"])
    ]
    assert len(found) == 1, f"{notebook}: expected one skeleton cell calling {check_name}, found {len(found)}"
    return found[0]


def run_cell(notebook, code):
    """Run `code` as the notebook would (after its imports); return what it printed."""
    namespace = _namespace(notebook)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"<{notebook} cell>", "exec"), namespace)
    return out.getvalue()
