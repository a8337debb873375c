"""What a parsed cell is: frozen dataclasses, no behaviour."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Mode(enum.Enum):
    """How a transform writes its target."""

    REPLACE = "REPLACE"
    APPEND = "APPEND"
    UPSERT = "UPSERT"
    INCREMENTAL = "INCREMENTAL"


@dataclass(frozen=True)
class TableName:
    """A possibly qualified table name, as written (unquoted text of each part)."""

    name: str
    schema: str | None = None
    catalog: str | None = None

    def parts(self) -> tuple[str, ...]:
        """The written parts, outermost first."""
        return tuple(p for p in (self.catalog, self.schema, self.name) if p is not None)

    def __str__(self) -> str:
        return ".".join(self.parts())


@dataclass(frozen=True)
class Position:
    """Where a piece of text starts in the cell body (0-based offset) and its length."""

    offset: int
    length: int = 1


@dataclass(frozen=True)
class MacroUse:
    """One ``@start_dt``-style macro or ``$name`` variable in a query body."""

    name: str
    offset: int  # in the body text, of the '@' or '$'
    length: int
    is_variable: bool  # True for $name (a user variable), False for an @macro


@dataclass(frozen=True)
class QuerySpec:
    """The ``AS <query>`` part of a transform: its text and where macros sit in it."""

    text: str
    offset: int  # of the query text in the cell body
    macros: tuple[MacroUse, ...] = ()
    # GROUP BY or DISTINCT outside any parentheses: the result summarises what the query
    # reads, and is usually far smaller
    summarises: bool = False


class RuleKind(enum.Enum):
    """The forms of an EXPECT rule."""

    NOT_NULL = "NOT NULL"
    UNIQUE = "UNIQUE"
    PREDICATE = "PREDICATE"
    FRESH = "FRESH"


@dataclass(frozen=True)
class RuleSpec:
    """One ``EXPECT ...`` clause: checked inside the run's transaction, before commit."""

    kind: RuleKind
    text: str  # the clause as written, without EXPECT and WARN: how messages name it
    columns: tuple[str, ...] = ()
    predicate: str | None = None  # PREDICATE: the SQL between the parentheses
    within: str | None = None  # FRESH: the interval
    warn: bool = False  # WARN rules are recorded and shown; they never block a run
    offset: int = 0  # of the EXPECT keyword in the cell body

    @property
    def severity(self) -> str:
        """'warn' or 'error'."""
        return "warn" if self.warn else "error"


@dataclass(frozen=True)
class TransformSpec:
    """A parsed ``CREATE TABLE <name> MODE <mode> ... AS <query>`` statement."""

    target: TableName
    mode: Mode
    query: QuerySpec
    keys: tuple[str, ...] = ()
    time_column: str | None = None
    lookback: str | None = None
    rules: tuple[RuleSpec, ...] = ()
    source: str = ""  # the whole statement as written, for the transforms table
    line: int = 1  # of the statement's first token, in the cell
    positions: dict[str, Position] = field(default_factory=dict, compare=False, hash=False)
    names: frozenset[str] = field(default=frozenset(), compare=False)  # identifier tokens


@dataclass(frozen=True)
class PlainStatement:
    """Any statement that is not a transform: DuckDB's, passed through unchanged."""

    text: str
    line: int
    variables: tuple[MacroUse, ...] = ()
    names: frozenset[str] = field(default=frozenset(), compare=False)  # identifier tokens
    returns_rows: bool = False  # a query (SELECT, FROM, SHOW, ...), not DDL or DML


Statement = TransformSpec | PlainStatement
