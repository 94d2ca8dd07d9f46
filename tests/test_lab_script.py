"""The README's first command, `bash scripts/lab.sh`, run as a newcomer runs it.

It must start JupyterLab whoever runs it (root included: containers, cloud VMs
and WSL often log you in as root, and JupyterLab refuses root unless told
--allow-root), listen on 127.0.0.1 only, and keep token authentication on.
The server gets its own free port and its own Jupyter runtime/config dirs in a
temporary folder, and is always stopped.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "scripts" / "lab.sh"
START_TIMEOUT_S = 60  # starts in ~3 s; generous for a loaded 2-core machine
ROOT_LINE = "lab.sh: you are root here"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _newcomer_env(tmp_path, path_prefix=None):
    """The caller's environment without any Jupyter settings of their own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "JPY_")) and k != "JUPYTERLAB_WORKSPACES_DIR"}
    for name in ("JUPYTER_RUNTIME_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR",
                 "JUPYTERLAB_WORKSPACES_DIR"):
        env[name] = str(tmp_path / name.lower())
    if path_prefix:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env['PATH']}"
    return env


def _stop(process):
    """Stop the server and everything it started (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _get(url, headers=None):
    """(status, Location header) of a GET, without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers.get("Location")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location")


def _listening_addresses(port):
    """Local addresses with a socket listening on `port`, from /proc (Linux)."""
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                addresses.append(address)
    return addresses


@pytest.fixture
def lab(tmp_path):
    """scripts/lab.sh started as the README says, plus --no-browser and a free port."""
    port = _free_port()
    log_path = tmp_path / "lab.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["bash", str(LAB), "--no-browser", f"--ServerApp.port={port}",
             "--ServerApp.port_retries=0"],
            cwd=tmp_path, env=_newcomer_env(tmp_path), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        url = re.compile(rf"http://127\.0\.0\.1:{port}/lab\?token=([0-9a-f]+)")
        while not (match := url.search(log_path.read_text(errors="replace"))):
            if process.poll() is not None:
                pytest.fail(f"scripts/lab.sh exited with {process.returncode} before serving:\n"
                            + log_path.read_text(errors="replace")[-3000:])
            if time.monotonic() > deadline:
                pytest.fail(f"no URL with a token after {START_TIMEOUT_S} s:\n"
                            + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        yield {"port": port, "token": match.group(1), "log": log_path, "process": process}
    finally:
        _stop(process)


def test_lab_script_serves_the_course_with_its_token_on_localhost_only(lab):
    base = f"http://127.0.0.1:{lab['port']}"
    log = lab["log"].read_text(errors="replace")
    # Root or not, it started (the URL is printed); as root it says why it added --allow-root.
    assert (ROOT_LINE in log) == (os.geteuid() == 0), log[:2000]
    assert "Running as root is not recommended" not in log

    # Token authentication is on: no token, no access.
    assert _get(f"{base}/api/status")[0] == 403
    status, location = _get(f"{base}/lab")
    assert status == 302 and "/login" in location
    assert _get(f"{base}/api/status", {"Authorization": "token wrong"})[0] == 403
    # The token from the printed URL opens it.
    assert _get(f"{base}/api/status", {"Authorization": f"token {lab['token']}"})[0] == 200
    assert _get(f"{base}/lab?token={lab['token']}")[0] == 200
    assert _get(f"{base}/api/contents/notebooks/00_start_here.ipynb",
                {"Authorization": f"token {lab['token']}"})[0] == 200

    # Listening on 127.0.0.1 only: not on 0.0.0.0, ::, or any other interface.
    if sys.platform.startswith("linux"):
        addresses = _listening_addresses(lab["port"])
        assert addresses and set(addresses) == {"0100007F"}, addresses  # 127.0.0.1
    else:  # no /proc: try this machine's other addresses instead
        for info in socket.getaddrinfo(socket.gethostname(), lab["port"], type=socket.SOCK_STREAM):
            host = info[4][0]
            if host.startswith("127.") or host == "::1":
                continue
            with socket.socket(info[0], socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                assert sock.connect_ex(info[4]) != 0, f"also listening on {host}"


@pytest.mark.parametrize("uid", ["0", "1000"])
def test_lab_script_adds_allow_root_exactly_when_root(tmp_path, uid):
    """Whoever runs the tests: an `id` that answers `uid`, and JupyterLab asked
    only for its version, so this checks the branch without a server."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake_id = fake_bin / "id"
    fake_id.write_text(f"#!/bin/sh\necho {uid}\n")  # lab.sh asks only `id -u`
    fake_id.chmod(0o755)
    result = subprocess.run(
        ["bash", str(LAB), "--version"], cwd=tmp_path, env=_newcomer_env(tmp_path, fake_bin),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    root_lines = [line for line in result.stderr.splitlines() if ROOT_LINE in line]
    if uid == "0":
        assert len(root_lines) == 1 and "--allow-root" in root_lines[0]
        assert "127.0.0.1" in root_lines[0] and "token" in root_lines[0]
    else:
        assert root_lines == []
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", result.stdout.strip()), result.stdout


@pytest.mark.parametrize("args, opens", [
    ([], "notebooks/00_start_here.ipynb"),
    (["zh"], "notebooks/zh/00_start_here.ipynb"),
    (["zh", "--no-browser"], "notebooks/zh/00_start_here.ipynb"),
])
def test_lab_script_opens_the_english_or_the_chinese_edition(tmp_path, args, opens):
    """`bash scripts/lab.sh zh` opens the Chinese edition; other arguments still
    go to JupyterLab. Run on a copy whose set-up does nothing and whose
    `jupyter` prints the arguments it was given."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(LAB, tmp_path / "scripts" / "lab.sh")
    (tmp_path / "scripts" / "setup.sh").write_text("exit 0\n")
    jupyter = tmp_path / ".venv" / "bin" / "jupyter"
    jupyter.parent.mkdir(parents=True)
    jupyter.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    jupyter.chmod(0o755)
    result = subprocess.run(["bash", str(tmp_path / "scripts" / "lab.sh"), *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    given = result.stdout.splitlines()
    assert given[0] == "lab" and given[-1] == opens, given
    assert "--ServerApp.ip=127.0.0.1" in given and ("--no-browser" in given) == ("--no-browser" in args)
    assert (REPO / opens).is_file()
