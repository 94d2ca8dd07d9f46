"""Every notebook, run in JupyterLab in a real browser (headless chromium).

For each notebooks/*.ipynb and notebooks/zh/*.ipynb: open it in JupyterLab (one
page per worker, loaded once in a fresh workspace; the previous notebook closed
and its kernel shut down, see conftest.py), check it opens cleanly, clear its
outputs, run all cells, then check that every code cell ran in order with no error, that its outputs equal the stored ones under
nbval's rules (the notebook's second independent execution: strict nbval in the
README's test command is the first, so a notebook that drifts from run to run
fails), that every explorer (ipywidgets) rendered as a live widget, and that
moving one of its sliders changes its figure. A full-notebook screenshot goes to
artifacts/screenshots/<notebook>.png (zh_<notebook>.png for the Chinese
edition), with a small JSON summary next to it.

Skipped (loudly) when chromium or the playwright package is missing:
    bash scripts/install_chromium.sh && .venv/bin/pip install -r requirements-test.txt
"""

import base64
import importlib.util
import json
import os
import re
import time
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import (
    coalesce_streams, find_comment_markers, find_metadata_tags, get_sanitize_patterns,
    transform_streams_for_comparison,
)

from gpt_course.language import catalog

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")  # same default as conftest.py
SKIP_MARK = "BROWSER TESTS SKIPPED"


def _missing_reason():
    if not os.access(CHROMIUM, os.X_OK):
        return f"{SKIP_MARK}: {CHROMIUM} not found — run scripts/install_chromium.sh"
    if importlib.util.find_spec("playwright") is None:
        return (f"{SKIP_MARK}: the playwright Python package is not installed — "
                "run .venv/bin/pip install -r requirements-test.txt")
    return None


if _missing_reason():
    pytest.skip(_missing_reason(), allow_module_level=True)

pytestmark = pytest.mark.browser

# The English notebooks and the Chinese edition (zh/02_layer_norm.ipynb, ...).
NOTEBOOKS = [p.relative_to(REPO / "notebooks").as_posix()
             for p in sorted((REPO / "notebooks").glob("*.ipynb"))
             + sorted((REPO / "notebooks" / "zh").glob("*.ipynb"))]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# A widget output: JupyterLab sets no data-mime-type on it; the widget renderer
# (ipywidgets' WidgetRenderer) is the output node and holds the widget's view.
WIDGET_OUTPUT = ".jp-OutputArea-output:has(> .jupyter-widgets), .jp-OutputArea-output.jupyter-widgets"
OPEN_TIMEOUT_S = 90  # notebook open + kernel start on a slow 2-core machine
RUN_TIMEOUT_S = 120  # notebooks 07/08 build the 124M model
WIDGET_TIMEOUT_S = 15  # one slider move -> kernel redraw -> new PNG in the page

# --- JavaScript run in the page (window.jupyterapp: --LabApp.expose_app_in_browser) ---

# Helpers installed in the page once JupyterLab is up.
JS_HELPERS = """
() => {
  window.__findPanel = (path) => Array.from(window.jupyterapp.shell.widgets('main'))
    .find(w => w.context && w.context.path === path);
  window.__kernelIdle = (path) => {
    const panel = window.__findPanel(path);
    const kernel = panel && panel.sessionContext.session?.kernel;
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
  };
}
"""

JS_OPEN = """
async (path) => {
  const app = window.jupyterapp;
  await app.restored;
  const start = Date.now();
  let panel = window.__findPanel(path);
  while (!panel) {
    if (Date.now() - start > 60000) throw new Error('JupyterLab did not open ' + path);
    await new Promise(resolve => setTimeout(resolve, 100));
    panel = window.__findPanel(path);
  }
  await panel.context.ready;
  // Close what else is open (the previous test's notebook, a Launcher) without
  // saving or asking, now that the main area is not left empty.
  for (const other of Array.from(app.shell.widgets('main'))) {
    if (other === panel) continue;
    if (other.context) other.context.model.dirty = false;
    other.dispose();
  }
  await panel.sessionContext.ready;
  app.shell.activateById(panel.id);
  app.shell.collapseLeft();
  await panel.content.ready;
  return panel.id;
}
"""

JS_KERNEL_IDLE = "(path) => window.__kernelIdle(path)"

JS_RUN_ALL = """
async (path) => {
  const app = window.jupyterapp;
  app.shell.activateById(window.__findPanel(path).id);
  await app.commands.execute('notebook:clear-all-cell-outputs');
  window.__runAllDone = false;
  window.__runAllError = null;
  app.commands.execute('notebook:run-all-cells')
    .then(() => { window.__runAllDone = true; })
    .catch(err => { window.__runAllError = String(err); window.__runAllDone = true; });
}
"""

JS_STATE = """
(path) => {
  const panel = window.__findPanel(path);
  const kernel = panel.sessionContext.session?.kernel;
  const model = panel.content.model;
  const cells = [];
  for (let i = 0; i < model.cells.length; i++) {
    const cell = model.cells.get(i);
    if (cell.type !== 'code') continue;
    const outputs = [];
    for (let j = 0; j < cell.outputs.length; j++) {
      const out = cell.outputs.get(j).toJSON();
      outputs.push({
        type: out.output_type,
        mimes: Object.keys(out.data || {}),
        name: out.name || null,
        ename: out.ename || null,
        evalue: out.evalue || null,
        text: out.output_type === 'stream' ? String(out.text).slice(0, 2000) : null,
      });
    }
    cells.push({index: i, source: cell.sharedModel.getSource(),
                count: cell.executionCount, outputs});
  }
  return {kernel: kernel ? kernel.status : null, connection: kernel ? kernel.connectionStatus : null,
          cells};
}
"""

# Every code cell's outputs as JupyterLab holds them (nbformat JSON).
JS_OUTPUTS = """
(path) => {
  const model = window.__findPanel(path).content.model;
  const cells = [];
  for (let i = 0; i < model.cells.length; i++) {
    const cell = model.cells.get(i);
    if (cell.type !== 'code') continue;
    const outputs = [];
    for (let j = 0; j < cell.outputs.length; j++) outputs.push(cell.outputs.get(j).toJSON());
    cells.push(outputs);
  }
  return cells;
}
"""

# What an explorer shows: its figure (the <img> src: a new blob URL for every new
# PNG) and its text (readout, slider readouts). textContent, not innerText: cells
# out of view are not laid out (content-visibility) and their innerText is "".
JS_WIDGET_SNAPSHOT = """
(el) => ({
  src: Array.from(el.querySelectorAll('img')).map(img => img.src).join(' '),
  text: Array.from(el.querySelectorAll('.widget-html-content')).map(n => n.textContent).join('\\n'),
  sliders: Array.from(el.querySelectorAll('.widget-readout')).map(n => n.textContent).join(' | '),
})
"""

JS_WIDGET_CHANGED = """
([el, before]) => {
  const src = Array.from(el.querySelectorAll('img')).map(img => img.src).join(' ');
  const text = Array.from(el.querySelectorAll('.widget-html-content')).map(n => n.textContent).join('\\n');
  return src !== before.src || text !== before.text;
}
"""

# Height of a viewport that shows the whole notebook (no blank scroll-past-end
# space), scrolled to the top, for the full-notebook screenshot.
JS_FULL_HEIGHT = """
(path) => {
  const notebook = window.__findPanel(path).content.node;
  notebook.classList.remove('jp-mod-scrollPastEnd');
  const node = notebook.querySelector('.jp-WindowedPanel-outer') || notebook;
  node.scrollTop = 0;
  return Math.ceil(window.innerHeight - node.clientHeight + node.scrollHeight);
}
"""

JS_SCROLL_TOP = """
(path) => {
  const notebook = window.__findPanel(path).content.node;
  (notebook.querySelector('.jp-WindowedPanel-outer') || notebook).scrollTop = 0;
}
"""


# As committed (no kernel-side widget models): each explorer output, and what
# JupyterLab renders for it. It should fall back to the explorer's static
# picture (image/png: title, settings, figure and readout drawn in).
# How a stored explorer's text/plain begins its note, in each language
# ("Title [interactive in JupyterLab; shown at ...]").
STATIC_NOTES = [
    "[" + note.split("{settings}")[0].split(";")[0].split("；")[0]
    for note in ("interactive in JupyterLab; shown at {settings}",
                 catalog("zh")["interactive in JupyterLab; shown at {settings}"])
]

JS_STATIC_EXPLORERS = """
(path) => {
  const panel = window.__findPanel(path);
  const found = [];
  panel.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code') return;
    const outputs = cell.model.outputs;
    for (let j = 0; j < outputs.length; j++) {
      const data = outputs.get(j).toJSON().data || {};
      const text = [].concat(data['text/plain'] || []).join('');
      const note = NOTES.find(n => text.includes(n));
      if (!note) continue;
      const child = cell.outputArea.widgets[j];
      const img = child ? child.node.querySelector('img') : null;
      found.push({cell: i, output: j, title: text.split(' ' + note)[0],
                  src: img ? img.src.slice(0, 30) : null});
    }
  });
  return found;
}
""".replace("NOTES", json.dumps(STATIC_NOTES))


# --- The stored outputs, compared as strict nbval compares them (nbval/plugin.py):
# streams merged per name, these keys not compared, the repo's sanitize patterns. ---
NBVAL_SKIP_KEYS = ("metadata", "traceback", "prompt_number", "output_type", "name",
                   "execution_count", WIDGET_MIME, "image/png", "image/jpeg")
SANITIZE = get_sanitize_patterns((REPO / "nbval_sanitize.cfg").read_text())


def _sanitize(value):
    if isinstance(value, list):  # nbformat may split a string into lines
        value = "".join(value)
    if not isinstance(value, str):
        return value
    for regex, replace in SANITIZE:
        value = re.sub(regex, replace, value)
    return value


def _as_nbval_compares(outputs):
    """key (an output field, or a MIME type of its data) -> its values, in order."""
    outputs = coalesce_streams([nbformat.from_dict(
        {**out, "text": _sanitize(out["text"])} if "text" in out else out) for out in outputs])
    flat = defaultdict(list)
    for out in transform_streams_for_comparison(outputs):
        for key, value in out.items():
            if key in NBVAL_SKIP_KEYS:
                continue
            if key == "data":
                for mime, data in value.items():
                    if mime not in NBVAL_SKIP_KEYS:
                        flat[mime].append(_sanitize(data))
            else:
                flat[key].append(_sanitize(value))
    return dict(flat)


def _differences_from_stored(notebook_file, ran_outputs):
    """Cells whose outputs in this run differ from the stored ones, described."""
    stored = [cell for cell in nbformat.read(notebook_file, as_version=4).cells
              if cell.cell_type == "code"]
    assert len(stored) == len(ran_outputs), (
        f"{notebook_file.name}: {len(stored)} code cells stored, {len(ran_outputs)} in the page")
    found = []
    for k, (cell, outputs) in enumerate(zip(stored, ran_outputs)):
        options = {**dict(find_comment_markers(cell.source)),
                   **dict(find_metadata_tags(cell.metadata) or ())}
        if options.get("check") is False or options.get("skip") or cell.execution_count is None:
            continue  # NBVAL_IGNORE_OUTPUT (timings) and the like, as nbval does
        want, got = _as_nbval_compares(cell.outputs), _as_nbval_compares(outputs)
        if want != got:
            key = next((key for key in sorted(set(want) | set(got)) if want.get(key) != got.get(key)))
            found.append(f"code cell {k} ({cell.source.splitlines()[0][:60]!r}), {key}:\n"
                         f"  stored: {str(want.get(key))[:800]}\n  this run: {str(got.get(key))[:800]}")
    return found


def _save_static_picture(page, path, where, file):
    """Save the picture a stored explorer shows, as the browser has it: the PNG of
    its <img> (a data: or blob: URL), decoded by the browser (new Image().decode(),
    which needs no layout, so a cell the windowed notebook has not laid out yet is
    no obstacle), and its size. A screenshot of the cell took 2-3 s (scroll, wait
    for layout) and, in a reused page on a loaded machine, sometimes never saw
    the cell attached."""
    start = time.perf_counter()
    picture = page.evaluate("""async ([path, cell, output]) => {
      const widget = window.__findPanel(path).content.widgets[cell].outputArea.widgets[output];
      const src = widget.node.querySelector('img').src;
      const image = new Image();
      image.src = src;
      await image.decode();  // throws if the browser cannot decode it
      const bytes = new Uint8Array(await (await fetch(src)).arrayBuffer());
      let binary = '';
      for (let k = 0; k < bytes.length; k += 0x8000)
        binary += String.fromCharCode(...bytes.subarray(k, k + 0x8000));
      return {png: btoa(binary), width: image.naturalWidth, height: image.naturalHeight};
    }""", [path, where["cell"], where["output"]])
    png = base64.b64decode(picture["png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n"), f"{file.name}: the static picture is not a PNG"
    assert picture["width"] >= 200 and picture["height"] >= 100, (
        f"{file.name}: the static picture is {picture['width']}x{picture['height']} pixels")
    file.write_bytes(png)
    where["size"] = [picture["width"], picture["height"]]
    where["save_s"] = round(time.perf_counter() - start, 2)


def _committed_explorers(notebook_path):
    """Explorers in the notebook as stored: a widget view, or the text/plain line
    an Explorer prints where no widget front end ran (see explorers/base.py)."""
    nb = json.loads(Path(notebook_path).read_text())
    return sum(
        WIDGET_MIME in output.get("data", {})
        or any(note in "".join(output.get("data", {}).get("text/plain", "")) for note in STATIC_NOTES)
        for cell in nb["cells"] if cell["cell_type"] == "code"
        for output in cell.get("outputs", [])
    )


def _error_texts(page):
    """Widget errors and tracebacks visible anywhere in the notebook."""
    return page.evaluate("""() => {
      const found = [];
      for (const n of document.querySelectorAll('.jp-OutputArea-output, .jupyter-widgets')) {
        const t = n.textContent || '';
        if (t.includes('Error displaying widget') || t.includes('Traceback (most recent call last)')
            || t.includes('Error rendering output'))
          found.push(t.slice(0, 500));
      }
      return found;
    }""")


def _move_sliders(page, widget):
    """Move the explorer's sliders one at a time (keyboard, as a learner can)
    until its figure changes. Returns what happened, per slider tried."""
    tried = []
    handles = widget.locator(".widget-slider .noUi-handle")
    for k in range(handles.count()):
        handle = handles.nth(k)
        label = widget.locator(".widget-slider").nth(k).locator(".widget-label").text_content()
        for key in ("ArrowRight", "ArrowLeft"):
            handle.scroll_into_view_if_needed()
            page.wait_for_timeout(100)
            before = widget.evaluate(JS_WIDGET_SNAPSHOT)
            handle.focus()
            for _ in range(3 if key == "ArrowRight" else 6):
                handle.press(key)
            page.wait_for_timeout(100)
            moved = widget.evaluate(JS_WIDGET_SNAPSHOT)["sliders"] != before["sliders"]
            if moved:  # (a slider at its end does not move: nothing to wait for)
                try:
                    page.wait_for_function(JS_WIDGET_CHANGED, arg=[widget.element_handle(), before],
                                           timeout=WIDGET_TIMEOUT_S * 1000)
                except Exception:  # playwright TimeoutError: nothing changed
                    pass
                page.wait_for_timeout(300)  # let a last in-flight update land
            after = widget.evaluate(JS_WIDGET_SNAPSHOT)
            result = {
                "slider": label, "key": key,
                "slider_readout": [before["sliders"], after["sliders"]],
                "figure_changed": after["src"] != before["src"],
                "readout_changed": after["text"] != before["text"],
            }
            tried.append(result)
            if result["figure_changed"]:
                return tried
            if result["slider_readout"][0] != result["slider_readout"][1]:
                break  # the slider moved but the figure did not: try the next slider
    return tried


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab(name, lab_server, lab_page):
    page = lab_page
    path = f"notebooks/{name}"
    stem = name.removesuffix(".ipynb").replace("/", "_")  # zh/02_x -> zh_02_x
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    summary = {"notebook": name}
    start = time.perf_counter()
    try:
        lab_server.start_kernel(path)
        # JupyterLab is loaded already (the lab_page fixture); JS_OPEN closes the rest.
        page.evaluate(JS_HELPERS)
        page.evaluate("(path) => { window.jupyterapp.commands.execute("
                      "'docmanager:open', {path, factory: 'Notebook'}); }", path)
        page.evaluate(JS_OPEN, path)
        page.wait_for_function(JS_KERNEL_IDLE, arg=path, timeout=OPEN_TIMEOUT_S * 1000)
        summary["open_s"] = round(time.perf_counter() - start, 1)

        # As committed (untrusted, no widget state): no widget errors on opening.
        opening_errors = _error_texts(page)
        assert not opening_errors, f"{name} shows errors when opened:\n" + "\n".join(opening_errors)
        # ... and each explorer shows its static picture, readout drawn in, which the
        # browser decodes (saved as artifacts/screenshots/<notebook>_static_<k>.png:
        # look at them).
        static_start = time.perf_counter()
        try:  # the widget renderer first asks the kernel for the model, then falls back
            page.wait_for_function(f"(path) => ({JS_STATIC_EXPLORERS})(path).every(e => e.src)",
                                   arg=path, timeout=30_000)
        except Exception:  # playwright TimeoutError: the assertion below says which
            pass
        static = page.evaluate(JS_STATIC_EXPLORERS, path)
        summary["static_explorers"] = static
        committed = _committed_explorers(lab_server.root / path)
        assert len(static) == committed, (
            f"{name}: {committed} explorers are stored in the notebook, {len(static)} were found "
            f"showing their static picture")
        not_pictures = [e["title"] for e in static if not (e["src"] or "").startswith(
            ("data:image/png", "blob:"))]
        assert not not_pictures, (
            f"{name}: as committed, these explorers show no picture: {not_pictures}")
        summary["static_wait_s"] = round(time.perf_counter() - static_start, 1)
        for k, explorer in enumerate(static):
            _save_static_picture(page, path, explorer, SCREENSHOTS / f"{stem}_static_{k}.png")
        summary["static_s"] = round(time.perf_counter() - static_start, 1)

        page.evaluate(JS_RUN_ALL, path)
        run_start = time.perf_counter()
        page.wait_for_function(
            "(path) => window.__runAllDone === true && window.__kernelIdle(path)",
            arg=path, timeout=RUN_TIMEOUT_S * 1000, polling=250,
        )
        summary["run_s"] = round(time.perf_counter() - run_start, 1)
        run_error = page.evaluate("() => window.__runAllError")
        assert run_error is None, f"Run All Cells failed: {run_error}"

        state = page.evaluate(JS_STATE, path)
        errors = [
            f"cell {cell['index']}: {out['ename']}: {out['evalue']}"
            for cell in state["cells"] for out in cell["outputs"] if out["type"] == "error"
        ]
        assert not errors, f"{name}: error output(s):\n" + "\n".join(errors)
        summary["stderr"] = [
            out["text"] for cell in state["cells"] for out in cell["outputs"]
            if out["type"] == "stream" and out["name"] == "stderr"
        ]
        # The second execution: the outputs must be the stored ones (as strict nbval
        # compares them), before any slider moves.
        drift = _differences_from_stored(REPO / path, page.evaluate(JS_OUTPUTS, path))
        summary["outputs_as_stored"] = not drift
        assert not drift, (f"{name}: run in JupyterLab, these outputs differ from the stored "
                           f"ones (a run-to-run difference, or outputs never re-stored):\n"
                           + "\n".join(drift))
        ran = [cell for cell in state["cells"] if cell["source"].strip()]
        counts = [cell["count"] for cell in ran]
        assert counts == list(range(1, len(ran) + 1)), (
            f"{name}: execution counts {counts}: not every code cell ran, in order")
        assert state["kernel"] == "idle", f"{name}: kernel is {state['kernel']}"
        summary["code_cells"] = len(ran)

        # Explorers: live widgets (not a static PNG, not "Error displaying widget").
        expected = sum(WIDGET_MIME in out["mimes"] for cell in ran for out in cell["outputs"])
        # (Counted in the server's copy: the same snapshot as the one run.)
        summary["explorers_committed"] = _committed_explorers(lab_server.root / path)
        summary["explorers"] = expected
        assert expected >= summary["explorers_committed"], (
            f"{name}: {expected} widget outputs after the run, "
            f"{summary['explorers_committed']} in the committed notebook")
        widgets = page.locator(WIDGET_OUTPUT)
        page.wait_for_function(
            f"""(n) => {{
              const outs = document.querySelectorAll({json.dumps(WIDGET_OUTPUT)});
              return outs.length === n && Array.from(outs).every(o =>
                o.querySelector('.jupyter-widgets') && !o.textContent.includes('Loading widget')
                && o.querySelector('img[src]'));
            }}""",
            arg=expected, timeout=30_000,
        )
        widget_errors = _error_texts(page)
        assert not widget_errors, f"{name}: " + "\n".join(widget_errors)

        summary["explorer_results"] = []
        sliders_start = time.perf_counter()
        for k in range(expected):
            widget = widgets.nth(k)
            title = widget.locator(".widget-html-content").first.text_content()
            n_images = widget.locator("img").count()
            image_size = widget.locator("img").first.evaluate(
                "img => [img.naturalWidth, img.naturalHeight, img.clientWidth, img.clientHeight]"
            ) if n_images else None
            n_sliders = widget.locator(".widget-slider .noUi-handle").count()
            tried = _move_sliders(page, widget) if n_sliders else []
            summary["explorer_results"].append(
                {"title": title, "images": n_images, "image_natural_and_shown_size": image_size,
                 "sliders": n_sliders, "tried": tried})
            assert n_images >= 1, f"{name}: explorer {title!r} shows no figure"
            assert n_sliders >= 1, f"{name}: explorer {title!r} has no slider"
            assert any(t["figure_changed"] or t["readout_changed"] for t in tried), (
                f"{name}: moving the sliders of explorer {title!r} changed neither its "
                f"figure nor its readout: {tried}")
        assert not _error_texts(page)
        summary["sliders_s"] = round(time.perf_counter() - sliders_start, 1)
    finally:
        summary["console_errors"] = page.console_errors[:20]
        summary["total_s"] = round(time.perf_counter() - start, 1)
        try:
            height = page.evaluate(JS_FULL_HEIGHT, path)
            page.set_viewport_size({"width": 1280, "height": max(900, min(height, 30000))})
            page.wait_for_timeout(500)
            page.evaluate(JS_SCROLL_TOP, path)
            page.wait_for_timeout(200)
            shot_start = time.perf_counter()
            page.screenshot(path=str(SCREENSHOTS / f"{stem}.png"), full_page=True)
            summary["screenshot_s"] = round(time.perf_counter() - shot_start, 1)
        except Exception as exc:  # the page may be broken: save what it shows
            summary["screenshot_error"] = str(exc)
            try:
                page.screenshot(path=str(SCREENSHOTS / f"{stem}.png"))
            except Exception:
                pass
        (SCREENSHOTS / f"{stem}.json").write_text(json.dumps(summary, indent=1))
