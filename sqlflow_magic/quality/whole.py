"""``%sqlflow quality TABLE``: profile a whole table, compare, record."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlflow_magic.engine.base import TableRef
from sqlflow_magic.engine.duckdb import DuckDBEngine
from sqlflow_magic.engine.session import Session
from sqlflow_magic.errors import ModeError
from sqlflow_magic.quality.model import Profile
from sqlflow_magic.quality.profile import compare_profiles, profile_relation
from sqlflow_magic.state.store import StateStore


def profile_table(session: Session, parts: Sequence[str]) -> tuple[TableRef, Profile, list[str]]:
    """Profile every row of a table and say what changed since its last recorded profile.

    The new profile is recorded (run id ``quality-...``) so the next call compares with it.

    Raises:
        ModeError: the table does not exist.
    """
    con = session.connection()
    engine = DuckDBEngine(con)
    table = engine.resolve(parts)
    if not table.exists:
        raise ModeError(
            f"no table {'.'.join(parts)} to profile",
            hint="%sqlflow status lists the transforms; any table of the database can be profiled",
            table=".".join(parts),
        )
    store = StateStore(con, table.catalog)
    session.ensure_state(table.catalog, store.create_tables)
    with session.target_lock(".".join(parts)), engine.transaction():
        previous = store.last_profile(table.key)
        definition = store.read(table.key).definition
        keys = tuple(definition[1]) if definition else ()
        profile = profile_relation(
            con, f"SELECT * FROM {engine.table_sql(table)}", keys=keys, target=table, full=True
        )
        store.record_profile(f"quality-{uuid.uuid4().hex[:8]}", table.key, profile)
    changes = compare_profiles(previous, profile) if previous is not None else []
    return table, profile, changes
