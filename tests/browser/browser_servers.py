"""Servers for the real-browser tests: JupyterLab and Voila, and the Chromium they are opened in.

Each server runs on 127.0.0.1 with a random port and a random token, in its own
process group, and is stopped by its PID whatever the test does. Chromium is
Debian's (``make browser-deps``); a missing browser fails the tests, it never
skips them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("BERTVIZ_KIT_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = REPO / "artifacts" / "browser"
VOILA_CONFIG = REPO / "notebooks" / "voila.json"  # what `make app` uses (it runs voila in notebooks/)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT = 90.0


@dataclass
class Server:
    """A running server: its process, base URL, token and log file."""

    proc: subprocess.Popen
    url: str
    token: str
    log: Path
    root: Path
    extra: dict = field(default_factory=dict)

    def api(self, path: str):
        """GET ``path`` from the server's REST API, parsed from JSON."""
        with urllib.request.urlopen(f"{self.url}{path}?token={self.token}", timeout=10) as r:
            return json.loads(r.read())

    def start_kernel(self) -> dict:
        """Start a kernel through the REST API (as a notebook page would); return its model."""
        req = urllib.request.Request(
            f"{self.url}/api/kernels", data=b"{}", method="POST", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def wait_for_connected_kernel(self, timeout: float = START_TIMEOUT) -> dict:
        """Wait until one kernel runs, is idle and has a browser connected to it; return its model."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                kernels = self.api("/api/kernels")
            except urllib.error.HTTPError as exc:
                # jupyter_server answers 500 while a kernel is half started (its
                # last_activity is not set yet); ask again until the deadline.
                if exc.code != 500 or time.monotonic() > deadline:
                    raise
                time.sleep(0.25)
                continue
            ready = [k for k in kernels if k.get("connections", 0) >= 1 and k.get("execution_state") == "idle"]
            if ready:
                return ready[0]
            if time.monotonic() > deadline:
                raise RuntimeError(f"no connected idle kernel after {timeout:.0f} s: {kernels}\n{self.log_tail()}")
            time.sleep(0.25)

    def log_tail(self, n: int = 40) -> str:
        """The last ``n`` lines the server wrote."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "<no log>"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process_group(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM the process group led by ``proc``, then SIGKILL what is left."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = proc.pid
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _http_answers(url: str, any_status: bool) -> bool:
    """Whether ``url`` answers 200 (or, with ``any_status``, answers at all)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except urllib.error.HTTPError as err:
        return any_status and err.code < 500
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@contextlib.contextmanager
def run_server(
    cmd: list[str], *, ready_url: str, log: Path, cwd: Path, env: dict, any_status: bool = False
) -> Iterator[subprocess.Popen]:
    """Start ``cmd`` in a new process group, wait until ``ready_url`` answers, stop it on exit."""
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _http_answers(ready_url, any_status):
            if proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with code {proc.returncode} before it was ready: {cmd}\n"
                    + log.read_text(errors="replace")[-3000:]
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"server not ready after {START_TIMEOUT:.0f} s: {ready_url}\n"
                    + log.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.25)
        yield proc
    finally:
        stop_process_group(proc)


def server_env(home: Path) -> dict:
    """Environment for a server: offline model loading and private Jupyter dirs under ``home``."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "lab-workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    # No news, no update check (both would reach for the internet), no autosave of the copy.
    settings = home / "lab-settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    (settings / "docmanager-extension").mkdir(parents=True, exist_ok=True)
    (settings / "docmanager-extension" / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    return env


def copy_notebook(notebook: Path, root: Path) -> Path:
    """Copy ``notebook`` into ``root`` (so a server never writes into the repository); return the copy."""
    root.mkdir(parents=True, exist_ok=True)
    target = root / notebook.name
    shutil.copy2(notebook, target)
    return target


@contextlib.contextmanager
def jupyterlab_server(notebook: Path, tmp: Path) -> Iterator[Server]:
    """JupyterLab serving a copy of ``notebook`` on 127.0.0.1 with a random port and token."""
    root = tmp / "lab-root"
    copy_notebook(notebook, root)
    env = server_env(tmp / "lab-home")
    token = secrets.token_hex(16)
    port = free_port()
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    log = tmp / "jupyterlab.log"
    with run_server(cmd, ready_url=f"{url}/api/status?token={token}", log=log, cwd=root, env=env) as proc:
        yield Server(proc=proc, url=url, token=token, log=log, root=root)


@contextlib.contextmanager
def voila_server(notebook: Path, tmp: Path) -> Iterator[Server]:
    """Voila serving a copy of ``notebook`` read-only on 127.0.0.1 with a random port and token."""
    root = tmp / "voila-root"
    nb = copy_notebook(notebook, root)
    shutil.copy2(VOILA_CONFIG, root / VOILA_CONFIG.name)  # voila reads voila.json from its working directory
    env = server_env(tmp / "voila-home")
    token = secrets.token_hex(16)
    port = free_port()
    cmd = [
        sys.executable, "-m", "voila", str(nb),
        "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}", f"--token={token}",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    log = tmp / "voila.log"
    # Ask for a static path: any answer means it listens, and no kernel starts (the page runs the notebook).
    ready = f"{url}/voila/static/"
    with run_server(cmd, ready_url=ready, log=log, cwd=root, env=env, any_status=True) as proc:
        yield Server(proc=proc, url=url, token=token, log=log, root=root)
