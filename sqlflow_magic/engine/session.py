"""The kernel's DuckDB connection, shared safely between threads.

A DuckDB connection object must not be used from two threads at once, so the kernel's
main thread uses the connection itself (its temp tables and settings are the user's) and
every other thread gets a cursor of its own: a separate connection to the same database.
Runs on one target are serialised by a lock per target, so two threads never interleave
half-runs of the same table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import duckdb

from sqlflow_magic.quality.recognised import RecognisedKinds
from sqlflow_magic.syntax.names import fold

MEMORY = ":memory:"

# Statements that start with these words only read (WITH may front an INSERT).
_READ_ONLY_WORDS = frozenset(
    {"SELECT", "FROM", "VALUES", "TABLE", "SHOW", "DESCRIBE", "SUMMARIZE", "EXPLAIN"}
)


class Session:
    """Owns the connection to one database and hands out per-thread connections.

    Args:
        path: a database file, or ``:memory:``.
    """

    def __init__(self, path: str = MEMORY) -> None:
        self.path = path if path == MEMORY else str(Path(path).expanduser())
        self._connection = duckdb.connect(self.path)
        self._owner = threading.get_ident()
        self._local = threading.local()
        self._guard = threading.Lock()
        self._target_locks: dict[str, threading.RLock] = {}
        self._state_ready: set[str] = set()
        # Targets resolved before (see DuckDBEngine.locate): name and place -> TableRef.
        self.known_targets: dict = {}
        # The main connection's current database and schema; statements that may move
        # them (USE, SET, ATTACH, ...) forget it (see forget_after).
        self.place: tuple | None = None
        # What this kernel last committed to sqlflow.transforms, by (catalog, target): a
        # run whose definition is unchanged then skips reading it back. Any plain
        # statement that may write forgets it all (it may have edited the state tables).
        self.definitions: dict[tuple[str, str], tuple] = {}
        # The kinds of text columns the per-run profile recognised by their values.
        self.kinds = RecognisedKinds()

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The connection for the calling thread."""
        if threading.get_ident() == self._owner:
            return self._connection
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._guard:
                cursor = self._connection.cursor()
            self._local.cursor = cursor
        return cursor

    def connection_of_owner(self) -> duckdb.DuckDBPyConnection:
        """The kernel's main connection (the one plain statements run on)."""
        return self._connection

    def target_lock(self, key: str) -> threading.RLock:
        """The lock that serialises runs on one target (case-insensitive, as DuckDB is)."""
        with self._guard:
            return self._target_locks.setdefault(fold(key), threading.RLock())

    def ensure_state(self, catalog: str, create: Callable[[], None]) -> None:
        """Run ``create`` once per catalog for this database, never concurrently.

        State tables are created outside any run's transaction: two runs creating them
        at once would make DuckDB report a catalog write-write conflict.
        """
        if catalog.lower() in self._state_ready:
            return
        with self._guard:
            if catalog.lower() not in self._state_ready:
                create()
                self._state_ready.add(catalog.lower())

    def forget_after(self, statement_word: str) -> None:
        """Forget what a plain statement starting with ``statement_word`` may change.

        USE, SET, ATTACH and the like may move the current database or schema; anything
        that may write may have edited the state tables' definitions, or rewritten a
        target with other values under the same column names.
        """
        word = statement_word.upper()
        if word in ("USE", "SET", "RESET", "ATTACH", "DETACH"):
            self.place = None
        if word not in _READ_ONLY_WORDS:
            self.definitions.clear()
            self.kinds.forget()

    def close(self) -> None:
        """Close the connection; cursors of other threads close with it."""
        self._connection.close()
