"""Shared fixtures: a real IPython shell with the extension loaded, on a fresh database."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell


@pytest.fixture(scope="session")
def shell():
    """One IPython shell per test session (IPython allows one per process)."""
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "sqlflow_magic")
    return ip


@pytest.fixture
def ip(shell):
    """The shell, connected to a fresh in-memory database, with a clean namespace."""
    from sqlflow_magic.magic import active_magics

    shell.run_line_magic("sqlflow", "connect :memory:")
    added = set()
    original = dict(shell.user_ns)
    yield shell
    for name in set(shell.user_ns) - set(original):
        added.add(name)
        del shell.user_ns[name]
    assert active_magics() is not None


@pytest.fixture
def con(ip):
    """The magic's own DuckDB connection (for setup and for independent checks)."""
    from sqlflow_magic.magic import active_magics

    return active_magics().session.connection()


@pytest.fixture
def sql(ip):
    """Run a %%sqlflow cell: sql(cell, line='')."""

    def run(cell: str, line: str = ""):
        return ip.run_cell_magic("sqlflow", line, cell)

    return run
