"""A live JupyterLab and a headless Chromium for the browser tests (issue 5).

The lab runs on 127.0.0.1 on a free port, with its own root, settings, workspaces and
runtime dirs, so nothing of the developer's setup leaks in. Only the PID started here is
stopped. Nothing is skipped: a missing Chromium or a lab that does not start is a failure.
See shared recipe labextension.md for the pitfalls these fixtures avoid.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("SQLFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAB_START_TIMEOUT_S = 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Stop the lab we started: SIGINT twice (the first only asks to confirm), then kill."""
    if proc.poll() is not None:
        return
    for _ in range(2):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


class Lab:
    """A running JupyterLab: its URL and root directory."""

    def __init__(self, url: str, root: Path, log: Path) -> None:
        self.url = url
        self.root = root
        self.log = log

    def add_notebook(self, source: Path | None = None, *, name: str, nb: dict | None = None):
        """Put a notebook into the lab's root (a copy of ``source``, or ``nb`` as JSON)."""
        path = self.root / name
        if source is not None:
            shutil.copy(source, path)
            # Data files next to a tutorial notebook (CSV, parquet) travel with it.
            for extra in source.parent.iterdir():
                if extra.is_file() and extra.suffix in {".csv", ".parquet", ".json"}:
                    shutil.copy(extra, self.root / extra.name)
        else:
            path.write_text(json.dumps(nb, indent=1))
        return path


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("lab")
    root, settings, workspaces, runtime, ipython = (
        base / d for d in ("root", "settings", "workspaces", "runtime", "ipython")
    )
    for d in (root, settings, workspaces, runtime, ipython):
        d.mkdir()
    # No news or update toasts over the notebook (recipe pitfall 9).
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "lab.log"
    port = _free_port()
    env = {
        # the root conftest turns the progress bar off for nbval; the lab shows it
        **{k: v for k, v in os.environ.items() if k != "SQLFLOW_PROGRESS_AFTER"},
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(workspaces),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "IPYTHONDIR": str(ipython),
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                f"--port={port}",
                "--IdentityProvider.token=",
                "--ServerApp.password=",
                "--allow-root",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.root_dir={root}",
                "--ServerApp.port_retries=0",
                "--ServerApp.open_browser=False",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + LAB_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}; see {log}")
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {LAB_START_TIMEOUT_S} s; see {log}")
            time.sleep(0.3)
        yield Lab(url, root, log)
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"No Chromium at {CHROMIUM}: apt-get install -y chromium "
            "(never `playwright install`), or set SQLFLOW_CHROMIUM"
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1360, "height": 860})
    pg = context.new_page()
    messages: list[str] = []
    pg.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    pg.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    yield pg
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"console-{request.node.name}.log").write_text("\n".join(messages) + "\n")
    context.close()
    # An exception in the page, or an error logged by our extension, fails the test.
    bad = [
        m
        for m in messages
        if m.startswith("pageerror") or (m.startswith("error") and "sqlflow" in m.lower())
    ]
    assert not bad, "\n".join(bad)
