"""A JupyterLab server and a headless Chromium for the browser tests, each started in its own
temporary folders and stopped (with every process they started) afterwards."""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM = Path(os.environ.get("LECTURE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM} (install Debian's: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


def browser_marks() -> list:
    """``pytestmark`` for a browser test module: marked ``browser`` and skipped, with the reason,
    where Chromium or Playwright is missing; under ``make test-browser``
    (LECTURE_REQUIRE_BROWSER=1) the module fails to import instead of skipping."""
    import pytest

    reason = browser_missing()
    if reason and os.environ.get("LECTURE_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"browser tests required (make test-browser) but they cannot run: {reason}")
    return [pytest.mark.browser, pytest.mark.skipif(reason is not None, reason=f"browser tests skipped: {reason}")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """``with JupyterLab(folder) as lab:`` serves ``folder`` on 127.0.0.1 at a free port with a token."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.home = Path(tempfile.mkdtemp(prefix="lecture_lab_"))
        self.env = dict(os.environ, **{
            "JUPYTER_CONFIG_DIR": str(self.home / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(self.home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.home / "workspaces"),
            "TQDM_DISABLE": "1",
        })
        # No news pop-up, no update check: nothing to dismiss, nothing that reaches the internet.
        settings = self.home / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def __enter__(self):
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                   f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                   "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=", "--ContentsManager.autosave_interval=0"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        self.log = open(self.home / "server.log", "wb")
        self.process = subprocess.Popen(command, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited: {(self.home / 'server.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                self.api("/api/status")
                return self
            time.sleep(0.5)
        raise RuntimeError("JupyterLab did not answer within 90 s")

    def shutdown_kernels(self) -> None:
        for session in self.api("/api/sessions") or []:
            self.api(f"/api/sessions/{session['id']}", method="DELETE")

    def kernel_connection_file(self) -> Path:
        sessions = self.api("/api/sessions")
        assert len(sessions) == 1, f"expected one kernel, found {len(sessions)}"
        return self.home / "runtime" / f"kernel-{sessions[0]['kernel']['id']}.json"

    def __exit__(self, *exc):
        with contextlib.suppress(Exception):
            self.shutdown_kernels()
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)  # the server and the kernels it started
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


def run_in_kernel(connection_file: Path, code: str) -> str:
    """Run ``code`` in the notebook's own kernel (beside the browser) and return what it printed."""
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient(connection_file=str(connection_file))
    client.load_connection_file()
    client.start_channels()
    out = []
    try:
        def hook(msg):
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("ERROR: " + "\n".join(msg["content"]["traceback"]))

        client.execute_interactive(code, output_hook=hook, timeout=120)
    finally:
        client.stop_channels()
    return "".join(out)
