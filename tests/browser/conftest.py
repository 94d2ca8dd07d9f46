"""Fixtures for the real-browser tests: a JupyterLab server serving a temporary
copy of notebooks/ and images/, and headless chromium driven by Playwright.

The server runs on 127.0.0.1 with token authentication on (a random token),
with its own settings, workspaces and Jupyter dirs in a temporary folder, so
neither the committed notebooks nor the developer's own Jupyter setup are
touched. JupyterLab autosaves executed notebooks: that happens in the copy.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--disable-quic",
]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
SKIP_MARK = "BROWSER TESTS SKIPPED"

# User settings for the test server (JupyterLab reads <plugin>.jupyterlab-settings).
LAB_SETTINGS = {
    # No news / update pop-ups (also off through --LabApp.news_url=None).
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False,
    },
    # (The notebook keeps JupyterLab's default windowing, contentVisibility:
    # every cell is in the DOM, off-screen ones are skipped by the browser's
    # layout until they scroll in; the screenshot shows them all.)
    # The copy lives in a temp dir; no need to write it every 2 minutes.
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {
        "autosave": False,
    },
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: runs a notebook in JupyterLab in headless chromium (deselect: -m 'not browser')")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    def __init__(self, root, token, port, process, log_path):
        self.root = root
        self.token = token
        self.port = port
        self.process = process
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{port}"
        self._ending = None  # the thread ending the previous test's kernels

    def api(self, path, method="GET"):
        request = urllib.request.Request(
            self.url + path, method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def start_kernel(self, path):
        """Start the notebook's kernel session ahead of the page (as JupyterLab
        would, POST /api/sessions), so it boots while the page loads; the page
        then connects to this session."""
        body = json.dumps({"path": path, "name": Path(path).name, "type": "notebook",
                           "kernel": {"name": "python3"}}).encode()
        request = urllib.request.Request(
            self.url + "/api/sessions", data=body, method="POST",
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def shutdown_kernels(self, wait=True):
        """End every session there is now (and its kernel), so kernels do not pile
        up. wait=False ends them in the background while the next test starts its
        own (only the sessions listed now are ended)."""
        try:
            sessions = [session["id"] for session in self.api("/api/sessions")]
        except (OSError, urllib.error.URLError):
            return

        def end():
            for session in sessions:
                try:
                    self.api(f"/api/sessions/{session}", method="DELETE")
                except (OSError, urllib.error.URLError):
                    pass

        if self._ending is not None:
            self._ending.join()
        if wait:
            end()
        else:
            self._ending = threading.Thread(target=end, daemon=True)
            self._ending.start()

    def log_tail(self, chars=3000):
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


# Session scope: one server and one browser per pytest-xdist worker, kept while
# that worker takes other tests between its browser tests (idle, they cost little).
@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "course"
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    for folder in ("notebooks", "images"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, root / folder, ignore=ignore)
    settings = base / "user-settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    for sub in ("workspaces", "config", "data", "runtime"):
        (base / sub).mkdir()

    token = secrets.token_hex(24)
    port = _free_port()
    env = dict(
        os.environ,
        # A private Jupyter setup: no user config, kernelspecs or trust database
        # (the notebooks open untrusted, as in a fresh clone).
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
        IPYTHONDIR=str(base / "ipython"),
        # As for nbval (scripts/test.sh): the stored outputs were made with these.
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", CUDA_VISIBLE_DEVICES="", COLUMNS="80",
        PYTHONUNBUFFERED="1",
    )
    jupyter = Path(sys.executable).with_name("jupyter")
    command = [
        str(jupyter) if jupyter.exists() else "jupyter", "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI containers run as root
    log_path = base / "jupyterlab.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    server = LabServer(root, token, port, process, log_path)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"jupyter lab exited with {process.returncode}:\n{server.log_tail()}")
            try:
                server.api("/api/status")
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer in 90 s:\n{server.log_tail()}")
                time.sleep(0.3)
        yield server
    finally:
        server.shutdown_kernels()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # the server shuts its kernels down
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)  # anything left in its group
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()
        log.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def browser_context(browser):
    """One context per worker: its HTTP and compiled-code caches make each
    JupyterLab page load cheaper."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    yield context
    context.close()


OPEN_TIMEOUT_S = 90  # page load on a slow 2-core machine

def _open_lab(context, server):
    """A page with JupyterLab loaded in a fresh workspace (no restored layout); the
    token is exchanged for a cookie."""
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.console_errors.append(f"pageerror: {exc}"))
    page.goto(f"{server.url}/lab/workspaces/test-{uuid.uuid4().hex}?reset&token={server.token}",
              wait_until="domcontentloaded")
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=OPEN_TIMEOUT_S * 1000)
    page.evaluate("async () => { await window.jupyterapp.restored; }")
    return page


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.course_passed = report.passed


@pytest.fixture(scope="session")
def _lab_pages(browser_context, lab_server):
    """The worker's JupyterLab page, kept from one browser test to the next (loading
    JupyterLab costs seconds); a test that fails leaves it to be replaced."""
    pages = {}
    yield pages
    if pages.get("page") is not None:
        pages["page"].close()


@pytest.fixture
def lab_page(request, _lab_pages, browser_context, lab_server):
    """JupyterLab in a page, maybe with the previous test's notebook still open
    (the test closes it once its own is open: JupyterLab opens a Launcher when
    its main area becomes empty). Afterwards the server's kernels are shut down;
    after a failure the page is closed and the next test loads JupyterLab anew."""
    page = _lab_pages.get("page") or _open_lab(browser_context, lab_server)
    _lab_pages["page"] = page
    page.console_errors.clear()
    try:
        yield page
    finally:
        keep = getattr(request.node, "course_passed", False)
        if keep:
            try:
                page.set_viewport_size({"width": 1280, "height": 900})
                page.evaluate("() => window.scrollTo(0, 0)")
            except Exception:  # the page is broken: load a new one next time
                keep = False
        if not keep:
            page.close()
            _lab_pages["page"] = None
        lab_server.shutdown_kernels(wait=not keep)


def pytest_terminal_summary(terminalreporter):
    """Repeat a browser-suite skip loudly at the end of the run, -rs or not."""
    reasons = set()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        if SKIP_MARK in text:
            reasons.add(text.replace("Skipped: ", ""))
    for reason in sorted(reasons):
        terminalreporter.write_sep("!", SKIP_MARK, red=True, bold=True)
        terminalreporter.write_line(reason, red=True, bold=True)
