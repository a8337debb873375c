"""The profile as data: findings, category scores, columns, and how scores are computed.

Everything here is plain frozen data that survives a JSON round trip, so a profile stored
with a run can be read back and compared with a new one (``compare_profiles``).

Scores. Each finding scores itself from 0 to 100 and a category's score is the score of
its worst finding (100 when it has none): one bad column is a problem however many good
columns sit beside it, and the score then says how bad the worst problem is. The one
exception is completeness, which scores the share of missing values over every cell
(the classic definition): an optional column that is mostly empty by design would
otherwise hold the category at 0 for good, and its own finding still names it.

- A share of bad values ``s`` (NULLs, values that fail their type or format, orphans,
  duplicates, failing rule rows) scores ``round(100 * (1 - s) ** 5)``: 1% -> 95,
  3% -> 86, 10% -> 59, 25% -> 24, 50% -> 3.
- The age ``a`` of the newest time value scores 100 up to one day and then halves with
  every further week: ``round(100 * 0.5 ** ((a - 1 day) / 7 days))``: 2 days -> 91,
  8 days -> 50, 30 days -> 6.
- Any finding with a problem scores at most 99, so 100 always means "nothing found";
  informational findings (a candidate key, a suggested EXPECT) score 100.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Literal

# The seven categories of SPEC section 6, in its order. Names are identifiers (metric
# labels, alert rules, JSON); ``title`` gives the words to show.
CATEGORIES: tuple[str, ...] = (
    "completeness",
    "accuracy",
    "consistency",
    "freshness",
    "uniqueness",
    "validity",
    "business_rules",
)


def title(category: str) -> str:
    """The category as words: ``business_rules`` -> ``business rules``."""
    return category.replace("_", " ")


FRESH_FOR = dt.timedelta(days=1)
HALF_LIFE = dt.timedelta(days=7)
FORMAT_VERSION = 1


def share_score(share: float) -> int:
    """The score of a finding where ``share`` of the values are bad.

    >>> share_score(0.0), share_score(0.03), share_score(0.5), share_score(1e-9)
    (100, 86, 3, 99)
    """
    if share <= 0:
        return 100
    return min(99, round(100 * max(0.0, 1.0 - share) ** 5))


def age_score(age: dt.timedelta) -> int:
    """The freshness score of data whose newest time value is ``age`` old.

    >>> age_score(dt.timedelta(hours=20)), age_score(dt.timedelta(days=8))
    (100, 50)
    """
    if age <= FRESH_FOR:
        return 100
    return min(99, round(100 * 0.5 ** ((age - FRESH_FOR) / HALF_LIFE)))


@dataclass(frozen=True)
class RuleOutcome:
    """The result of one declared EXPECT rule on the rows a run wrote.

    Attributes:
        name: the clause as written, without EXPECT and WARN (``NOT NULL (customer_id)``).
        severity: ``'error'`` or ``'warn'``.
        failing_rows: rows that broke the rule.
        checked_rows: rows the rule was checked on.
        detail: what a rule that is not about rows found (FRESH: how old the newest
            value is); shown instead of the counts.
    """

    name: str
    severity: Literal["error", "warn"]
    failing_rows: int
    checked_rows: int
    detail: str = ""

    @classmethod
    def from_result(cls, result: object) -> RuleOutcome:
        """From a ``quality.rules.RuleResult`` (read by attribute, so no import cycle)."""
        rule = result.rule  # type: ignore[attr-defined]
        return cls(
            name=rule.text,
            severity="warn" if rule.warn else "error",
            failing_rows=int(result.failing_rows),  # type: ignore[attr-defined]
            checked_rows=int(result.checked_rows),  # type: ignore[attr-defined]
            detail=str(getattr(result, "detail", "") or ""),
        )


@dataclass(frozen=True)
class Finding:
    """One thing the profile noticed, in plain language.

    Attributes:
        category: one of ``CATEGORIES``.
        check: what was checked, stable across runs (``nulls``, ``format:email``,
            ``orphans``, ``rule:<name>``): ``compare_profiles`` pairs findings by
            (check, column).
        column: the column concerned (``a, b`` for a pair), or None for the whole relation.
        share: the share of bad values or rows (0..1), or None when the finding is not a
            share (freshness) or is information only.
        score: 0..100, see the module docstring.
        message: what was found, naming the column, share and counts.
        recommendation: what to do: a concrete EXPECT clause, or where to clean.
    """

    category: str
    check: str
    column: str | None
    share: float | None
    score: int
    message: str
    recommendation: str

    @property
    def is_problem(self) -> bool:
        """Whether the finding lowers its category's score (otherwise it is information)."""
        return self.score < 100

    @property
    def expect(self) -> str | None:
        """The EXPECT clause the recommendation suggests, as written in it, or None.

        >>> Finding("completeness", "nulls", "a", 0.1, 59, "",
        ...         "add EXPECT NOT NULL (a) if every row needs one").expect
        'EXPECT NOT NULL (a)'
        """
        return expect_clause(self.recommendation)


@dataclass(frozen=True)
class CategoryScore:
    """A category's score and the findings it was derived from (worst first)."""

    category: str
    score: int
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class ColumnProfile:
    """What the profile measured about one column.

    Attributes:
        name: the column name.
        type: its DuckDB type.
        nulls: NULL values.
        blanks: empty or whitespace-only strings (text columns; 0 otherwise).
        distinct: approximate count of distinct values (None for nested types).
        min: the smallest value, as text (None when not measured or no values).
        max: the largest value, as text.
        kind: what the values look like when that is more than the type says: a format
            (``email``) or, for text, an apparent type (``number``); None otherwise.
        invalid: values that fail ``kind`` (0 when ``kind`` is None).
    """

    name: str
    type: str
    nulls: int
    blanks: int = 0
    distinct: int | None = None
    min: str | None = None
    max: str | None = None
    kind: str | None = None
    invalid: int = 0


@dataclass(frozen=True)
class Profile:
    """A quality profile of one relation: the rows a run wrote, or a whole table.

    Attributes:
        rows: rows profiled.
        columns: one entry per column, in the relation's order.
        categories: all seven ``CATEGORIES``, in that order.
        profiled_at: when the profile was taken (naive UTC).
        full: whether it is a full profile (a whole table, every value checked) rather
            than a run's (the rows it wrote; formats checked on a sample when many).
        notes: remarks on the profile as a whole (an empty relation).
    """

    rows: int
    columns: tuple[ColumnProfile, ...]
    categories: tuple[CategoryScore, ...]
    profiled_at: dt.datetime
    full: bool = False
    notes: tuple[str, ...] = field(default=())

    def score(self, category: str) -> int:
        """The 0..100 score of ``category`` (one of ``CATEGORIES``).

        Raises:
            KeyError: ``category`` is not one of the seven.
        """
        return self.category(category).score

    def category(self, category: str) -> CategoryScore:
        """The ``CategoryScore`` of ``category``."""
        for entry in self.categories:
            if entry.category == category:
                return entry
        raise KeyError(f"no quality category {category!r}; the categories are {CATEGORIES}")

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every finding, category by category, worst first within each."""
        return tuple(f for c in self.categories for f in c.findings)

    @property
    def overall(self) -> int:
        """The lowest category score: how the relation does where it does worst."""
        return min((c.score for c in self.categories), default=100)

    def column(self, name: str) -> ColumnProfile:
        """The profile of column ``name`` (case-insensitive, as DuckDB resolves names)."""
        for col in self.columns:
            if col.name.lower() == name.lower():
                return col
        raise KeyError(f"no column {name!r} in this profile")

    def column_score(self, name: str) -> int:
        """The score of a column's worst finding (100 when none concerns it)."""
        return min(
            (f.score for f in self.findings if f.is_problem and _concerns(f, name)), default=100
        )

    def worst_columns(self, n: int = 5) -> list[tuple[str, int]]:
        """Up to ``n`` (column, score) pairs with problems, worst first."""
        scored = [(c.name, self.column_score(c.name)) for c in self.columns]
        order = {name: i for i, (name, _) in enumerate(scored)}
        bad = [pair for pair in scored if pair[1] < 100]
        return sorted(bad, key=lambda p: (p[1], order[p[0]]))[:n]

    def to_json(self) -> str:
        """The profile as JSON text (stable key order; times as ISO text)."""
        data = _fields(self)
        data["version"] = FORMAT_VERSION
        data["profiled_at"] = self.profiled_at.isoformat()
        # The nested records become objects as the encoder meets them: ``asdict`` would
        # deep-copy every value first (0.7 ms of each run's profile).
        return json.dumps(data, sort_keys=True, ensure_ascii=False, default=_fields)

    @classmethod
    def from_json(cls, text: str) -> Profile:
        """Read a profile written by ``to_json``.

        Raises:
            ValueError: the text is not a profile of a version this code can read.
        """
        data = json.loads(text)
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"not a version {FORMAT_VERSION} sqlflow profile")
        return cls(
            rows=data["rows"],
            columns=tuple(ColumnProfile(**c) for c in data["columns"]),
            categories=tuple(
                CategoryScore(c["category"], c["score"], tuple(Finding(**f) for f in c["findings"]))
                for c in data["categories"]
            ),
            profiled_at=dt.datetime.fromisoformat(data["profiled_at"]),
            full=bool(data.get("full", False)),
            notes=tuple(data.get("notes", ())),
        )


def expect_clause(text: str) -> str | None:
    """The first ``EXPECT [NOT NULL|UNIQUE|FRESH] (...) [WITHIN '...']`` in ``text``.

    Parentheses are matched outside quoted strings, so a regex in the clause is kept.

    >>> expect_clause("clean, or EXPECT (regexp_full_match(e, '[a-z)]+')) upstream")
    "EXPECT (regexp_full_match(e, '[a-z)]+'))"
    """
    start = text.find("EXPECT ")
    if start < 0:
        return None
    i = text.find("(", start)
    if i < 0:
        return None
    depth, quoted = 0, False
    for j in range(i, len(text)):
        ch = text[j]
        if ch == "'":
            quoted = not quoted  # '' inside a string toggles twice: still quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth == 0:
                end = j + 1
                within = re.match(r" WITHIN '[^']*'", text[end:])
                return text[start : end + (within.end() if within else 0)]
    return None


def _concerns(finding: Finding, column: str) -> bool:
    if finding.column is None:
        return False
    return column.lower() in (part.strip().lower() for part in finding.column.split(","))


def category_scores(
    findings: Sequence[Finding], scores: Mapping[str, int] | None = None
) -> tuple[CategoryScore, ...]:
    """All seven categories from a list of findings, each with its worst finding first.

    A category scores its worst finding unless ``scores`` gives its score.
    """
    out = []
    for category in CATEGORIES:
        # Worst first; a stable sort keeps equal scores in the order they were found
        # (column order), so the text form is the same on every run.
        mine = sorted((f for f in findings if f.category == category), key=lambda f: f.score)
        score = min((f.score for f in mine), default=100)
        if scores and category in scores:
            score = scores[category]
        out.append(CategoryScore(category, score, tuple(mine)))
    return tuple(out)


def _fields(record: object) -> dict[str, object]:
    """A dataclass's fields by name, for the JSON encoder."""
    if not is_dataclass(record):
        raise TypeError(f"cannot write {type(record).__name__} into a profile's JSON")
    return {f.name: getattr(record, f.name) for f in fields(record)}
