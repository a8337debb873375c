"""Shared steps of the browser tests: opening a notebook once its kernel is really there."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page, expect

# A kernel start on a loaded 2-core machine can take most of a minute.
KERNEL_TIMEOUT_MS = 90_000


def open_notebook(page: Page, lab, name: str, workspace: str | None = None) -> Locator:
    """Open ``name`` in a fresh workspace and wait until its kernel really is connected."""
    workspace = workspace or Path(name).stem
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{name}?reset")
    nb = page.locator(".jp-NotebookPanel").first
    # The idle indicator shows before the kernel connects; a cell run then would be
    # silently dropped. The enabled debugger button is the signal galata uses (recipe
    # pitfall 7).
    expect(nb.locator(".jp-DebuggerBugButton[aria-disabled='false']")).to_be_attached(
        timeout=KERNEL_TIMEOUT_MS
    )
    expect(nb.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_be_attached(
        timeout=KERNEL_TIMEOUT_MS
    )
    return nb
