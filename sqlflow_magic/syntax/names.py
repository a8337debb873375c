"""Which names may be used as identifiers, and how they are quoted."""

from __future__ import annotations

import functools
import re
import string

import sqlglot.expressions as exp

_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")
MAX_IDENTIFIER_LENGTH = 255


_ASCII_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def fold(name: str) -> str:
    """``name`` as DuckDB compares identifiers: ASCII letters folded, nothing else.

    DuckDB matches names case-insensitively for ASCII only, so ``"Ä"`` and ``"ä"`` are
    two tables; Python's ``lower()`` would make them one.

    >>> fold("Orders"), fold("Ä") == fold("ä")
    ('orders', False)
    """
    return name.translate(_ASCII_FOLD)


def sql_fold(expression: str) -> str:
    """A SQL expression folding ``expression`` as ``fold`` does (DuckDB's lower() is Unicode)."""
    return f"translate({expression}, '{string.ascii_uppercase}', '{string.ascii_lowercase}')"


@functools.cache
def reserved_words() -> frozenset[str]:
    """Keywords DuckDB refuses as unquoted names, from DuckDB itself (they move).

    That is the 'reserved' keywords and the 'type_function' ones (BY, JOIN, LEFT, ...),
    which DuckDB also refuses where a table name stands.
    """
    import duckdb

    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT keyword_name FROM duckdb_keywords() "
            "WHERE keyword_category IN ('reserved', 'type_function')"
        ).fetchall()
    return frozenset(r[0].upper() for r in rows)


def is_bare_identifier(text: str) -> bool:
    """True when ``text`` may be written unquoted: a plain name that is not reserved."""
    return bool(_BARE.match(text)) and text.upper() not in reserved_words()


def identifier_problem(name: str) -> str | None:
    """Why ``name`` cannot be a table or column name, or None when it can.

    Quoted names may hold spaces and punctuation, but never control characters, and may
    not be empty or blank: such names are almost always a mistake, and refusing them keeps
    every name printable in messages and state tables.
    """
    if not name.strip():
        return "the name is empty"
    if len(name) > MAX_IDENTIFIER_LENGTH:
        return f"the name is longer than {MAX_IDENTIFIER_LENGTH} characters"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "the name holds a control character"
    return None


@functools.lru_cache(maxsize=4096)
def quote(name: str) -> str:
    """``name`` as a quoted DuckDB identifier (double quotes, embedded quotes doubled).

    >>> quote('order id')
    '"order id"'
    """
    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")
