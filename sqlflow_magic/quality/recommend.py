"""From measurements to findings: what each category found, and what to do about it.

One function per category, each returning its findings; messages name the column, the
share and the counts, and recommendations give the EXPECT clause (SPEC section 6) that
would catch the problem on every run, or the place to clean it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlflow_magic.quality.formats import KINDS, name_words
from sqlflow_magic.quality.measure import (
    FENCE_Z,
    KEY_NAME,
    OUTLIER_MAX_SHARE,
    PRIMARY_DISTINCT_SHARE,
    ColumnStats,
    Measures,
    primary_candidate,
)
from sqlflow_magic.quality.model import (
    FRESH_FOR,
    Finding,
    RuleOutcome,
    age_score,
    share_score,
)
from sqlflow_magic.syntax.names import is_bare_identifier, quote

# Names of amounts that are never negative (suggested as EXPECT (x >= 0) when they are not).
_NON_NEGATIVE = {"amount", "price", "qty", "quantity", "count", "total", "cost", "revenue",
                 "sales", "fee", "balance", "units", "age", "weight", "size"}  # fmt: skip
MAX_SUGGESTIONS = 4


def findings(m: Measures, rules: Sequence[RuleOutcome]) -> list[Finding]:
    """Every finding of every category."""
    if not m.rows:
        return []
    return [
        *completeness(m),
        *accuracy(m),
        *consistency(m),
        *freshness(m),
        *uniqueness(m),
        *validity(m),
        *business_rules(m, rules),
    ]


# -- wording ----------------------------------------------------------------------------


def pct(share: float) -> str:
    """A share as a percentage with one decimal; never 0.0% or 100.0% when it is not.

    >>> pct(0.032), pct(0.00001), pct(0.99999), pct(1.0)
    ('3.2%', '<0.1%', '>99.9%', '100.0%')
    """
    if 0 < share < 0.0005:
        return "<0.1%"
    if 0.9995 <= share < 1:
        return ">99.9%"
    return f"{share * 100:.1f}%"


def _n(count: int) -> str:
    return f"{count:,}"


def _checked(col: ColumnStats) -> str:
    """How many values failed the column's kind, of all its values or of a sample."""
    return _of_checked(col.invalid, col.checked, col.present)


def _of_checked(bad: int, checked: int, total: int, what: str = "values") -> str:
    """``3.0% of values (3 of 100)`` when all ``total`` were checked, else an estimate.

    >>> _of_checked(9, 1998, 100000)
    'about 0.5% of values (9 of 1,998 checked, a sample of 100,000)'
    """
    if checked >= total:
        return _of(bad, checked, what)
    return (f"about {pct(bad / checked)} of {what} ({_n(bad)} of {_n(checked)} checked, "
            f"a sample of {_n(total)})")  # fmt: skip


def _of(bad: int, total: int, what: str = "values") -> str:
    """``3.0% of values (3 of 100)``."""
    return f"{pct(bad / total)} of {what} ({_n(bad)} of {_n(total)})"


def sql_name(column: str) -> str:
    """A column as written in a suggested clause: bare when it can be, quoted otherwise."""
    return column if is_bare_identifier(column) else quote(column)


def _fmt_number(value: float) -> str:
    return f"{value:.6g}"


def age_words(age: dt.timedelta) -> str:
    """An age in words, two units at most.

    >>> age_words(dt.timedelta(days=3, hours=4, minutes=5)), age_words(dt.timedelta(seconds=50))
    ('3 days 4 hours', 'less than a minute')
    """
    seconds = int(age.total_seconds())
    units = [("year", 365 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)]
    parts = []
    for name, size in units:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}{'s' if count != 1 else ''}")
        if len(parts) == 2 or (parts and not count):
            break
    return " ".join(parts) if parts else "less than a minute"


# -- categories -------------------------------------------------------------------------


def category_overrides(m: Measures) -> dict[str, int]:
    """Category scores that are not their worst finding's (see ``model``): completeness."""
    cells = m.rows * len(m.columns)
    if not cells:
        return {}
    missing = sum(m.rows - c.present for c in m.columns)
    return {"completeness": share_score(missing / cells)}


def completeness(m: Measures) -> list[Finding]:
    """NULL and blank values per column."""
    out = []
    for col in m.columns:
        nulls, missing = m.rows - col.non_null, m.rows - col.present
        if not missing:
            continue
        name = sql_name(col.name)
        what = "NULL" if not col.blanks else ("blank" if not nulls else "NULL or blank")
        # Blanks of a sampled batch are estimated from its sample; NULLs are counted.
        about = "about " if m.sampled and col.blanks else ""
        detail = (f" ({_n(nulls)} NULL, {about}{_n(col.blanks)} blank)" if nulls and col.blanks
                  else "")  # fmt: skip
        if missing == m.rows:
            message = f"{col.name}: every row is {what}"
            advice = (f"fill it upstream (is a join or a source column missing?), or leave "
                      f"{name} out of the query")  # fmt: skip
        else:
            message = f"{col.name}: {about}{_of(missing, m.rows, 'rows')} are {what}{detail}"
            advice = f"add EXPECT NOT NULL ({name}) if every row needs a value, or fill it upstream"
        if col.blanks:
            advice += f"; store blanks as NULL with nullif(trim({name}), '')"
        out.append(Finding("completeness", "nulls", col.name, missing / m.rows,
                           share_score(missing / m.rows), message, advice))  # fmt: skip
    return out


def accuracy(m: Measures) -> list[Finding]:
    """Text that does not fit its apparent type, non-finite floats, outliers, future times."""
    out = []
    for col in m.columns:
        name = sql_name(col.name)
        kind = KINDS.get(col.kind or "")
        if kind is not None and kind.is_type and col.invalid:
            share = col.invalid / col.checked
            example = f" (e.g. '{col.example}')" if col.example is not None else ""
            out.append(Finding(
                "accuracy", f"type:{kind.name}", col.name, share, share_score(share),
                f"{col.name}: {_checked(col)} are not {kind.label}{example}, though the "
                f"rest are",
                f"clean upstream, or store it as a {kind.name}: TRY_CAST({name} AS "
                f"{kind.cast}) in the query, and EXPECT ({kind.sql(name)})",
            ))  # fmt: skip
        if col.nonfinite:
            share = col.nonfinite / col.non_null
            out.append(Finding(
                "accuracy", "nonfinite", col.name, share, share_score(share),
                f"{col.name}: {_of(col.nonfinite, col.non_null)} are NaN or infinite",
                f"find the division or cast that makes them; EXPECT (isfinite({name}))",
            ))  # fmt: skip
        if col.outliers and col.fences is not None and col.outliers_checked:
            share = col.outliers / col.outliers_checked
            if share <= OUTLIER_MAX_SHARE:
                lo, hi = (_fmt_number(v) for v in col.fences)
                counted = _of_checked(col.outliers, col.outliers_checked, col.non_null)
                out.append(Finding(
                    "accuracy", "outliers", col.name, share, share_score(share),
                    f"{col.name}: {counted} lie far outside the usual range (below {lo} or "
                    f"above {hi}: {FENCE_Z:g} standard deviations from the mean)",
                    f"check them; if such values are impossible, EXPECT ({name} BETWEEN "
                    f"<lowest> AND <highest>) with the real bounds, or clean upstream",
                ))  # fmt: skip
        if col.future:
            share = col.future / col.non_null
            out.append(Finding(
                "accuracy", "future", col.name, share, share_score(share),
                f"{col.name}: {_of(col.future, col.non_null)} are more than a day in the future",
                f"check the source's clock and time zone; EXPECT ({name} <= current_timestamp)",
            ))  # fmt: skip
    return out


def consistency(m: Measures) -> list[Finding]:
    """Orphan keys against referenced tables, and ordered pairs in the wrong order."""
    out = []
    for orphan in m.orphans:
        ref = orphan.reference
        present = m.column(ref.column).non_null
        if not orphan.rows or not orphan.checked:
            continue
        share = orphan.rows / orphan.checked
        name = sql_name(ref.column)
        target = f"{ref.label}.{ref.table_column}"
        example = f", e.g. {orphan.example}" if orphan.example is not None else ""
        distinct = f"{_n(orphan.values)} distinct value{'s' if orphan.values != 1 else ''}"
        counted = _of_checked(orphan.rows, orphan.checked, present, "rows")
        out.append(Finding(
            "consistency", "orphans", ref.column, share, share_score(share),
            f"{ref.column}: {counted} point at no row of {target} ({distinct}{example})",
            f"load the missing {ref.label} rows before this run, or keep only known ones: "
            f"WHERE {name} IN (SELECT {sql_name(ref.table_column)} FROM {ref.label})",
        ))  # fmt: skip
    for pair in m.pairs:
        if not pair.reversed:
            continue
        share = pair.reversed / pair.compared
        a, b = sql_name(pair.first), sql_name(pair.second)
        out.append(Finding(
            "consistency", "order", f"{pair.first}, {pair.second}", share, share_score(share),
            f"{pair.first} is after {pair.second} in "
            f"{_of(pair.reversed, pair.compared, 'rows where both are set')}",
            f"fix or swap them upstream; EXPECT ({a} <= {b})",
        ))  # fmt: skip
    if not m.orphans and not m.pairs:
        out.append(Finding(
            "consistency", "nothing_to_check", None, None, 100,
            "no *_id column matches a table here, and no paired fields (start/end, min/max, "
            "created/updated) to compare",
            "nothing to do; name reference columns <table>_id to have them checked",
        ))  # fmt: skip
    return out


def freshness(m: Measures) -> list[Finding]:
    """Age of the newest time value (not in the future) among the freshness columns."""
    dated = [c for c in (m.column(n) for n in m.freshness_columns) if c.newest is not None]
    if not dated:
        what = ("no DATE or TIMESTAMP column" if not m.freshness_columns
                else "no time values up to now")  # fmt: skip
        return [Finding(
            "freshness", "age", None, None, 100, f"{what}: freshness cannot be judged",
            "add the time each row was loaded or happened (e.g. loaded_at) to judge it",
        )]  # fmt: skip
    newest = max(dated, key=lambda c: c.newest or dt.datetime.min)
    assert newest.newest is not None
    # A date is over when its day is: today's date is as fresh as a timestamp of now.
    end = newest.newest + (
        dt.timedelta(days=1) if newest.type.upper() == "DATE" else dt.timedelta()
    )
    age = max(dt.timedelta(0), m.now - end)
    score = age_score(age)
    name = sql_name(newest.name)
    shown = f"{newest.newest:%Y-%m-%d}" if newest.type.upper() == "DATE" else (
        f"{newest.newest:%Y-%m-%d %H:%M:%S}")  # fmt: skip
    message = f"{newest.name}: the newest value ({shown}) is {age_words(age)} old"
    window = f"'{_interval_words(FRESH_FOR)}'"
    if score == 100:
        advice = f"to keep it so, EXPECT FRESH ({name}) WITHIN {window}"
    else:
        advice = (
            f"check that the source still delivers; if it should be current, EXPECT FRESH "
            f"({name}) WITHIN {window} (WARN to be told, not stopped)"
        )
    return [Finding("freshness", "age", newest.name, None, score, message, advice)]


def _interval_words(span: dt.timedelta) -> str:
    return age_words(span) if span != dt.timedelta(days=1) else "1 day"


def uniqueness(m: Measures) -> list[Finding]:
    """Duplicate rows, duplicate declared keys, would-be keys that repeat, candidate keys.

    Of a sampled batch these are counted on its sample, which keeps rows with equal keys
    together (``measure.Sample``), so a repeat in the batch is a repeat in the sample.
    """
    out = []
    if m.distinct_rows is not None and m.sample_rows and m.distinct_rows < m.sample_rows:
        extra = m.sample_rows - m.distinct_rows
        share = extra / m.sample_rows
        out.append(Finding(
            "uniqueness", "duplicate_rows", None, share, share_score(share),
            f"{_of_checked(extra, m.sample_rows, m.rows, 'rows')} are exact copies of another "
            f"row",
            "remove them with SELECT DISTINCT, or find the join that multiplies rows",
        ))  # fmt: skip
    if m.keys and m.distinct_keys is not None and m.key_rows:
        extra = m.key_rows - m.distinct_keys
        if extra > 0:
            keys = ", ".join(sql_name(k) for k in m.keys)
            counted = _of_checked(extra, m.key_rows, m.rows - m.null_keys, "rows")
            out.append(Finding(
                "uniqueness", "duplicate_keys", ", ".join(m.keys), extra / m.key_rows,
                share_score(extra / m.key_rows),
                f"KEY ({', '.join(m.keys)}): {counted} repeat a key value of another row",
                f"EXPECT UNIQUE ({keys}); keep one row per key with QUALIFY row_number() OVER "
                f"(PARTITION BY {keys} ORDER BY <newest first>) = 1",
            ))  # fmt: skip
    primary = primary_candidate(m)
    for col in m.columns:
        if col.exact_distinct is None or not col.distinct_checked:
            continue
        name = sql_name(col.name)
        if _unique(col, m):
            out.append(Finding(
                "uniqueness", "candidate_key", col.name, None, 100,
                (f"{col.name} repeats no value in a sample of {_n(col.distinct_checked)} of "
                 f"its rows, and has no NULLs: likely a candidate key" if m.sampled else
                 f"{col.name} is unique ({_n(col.non_null)} distinct values, no NULLs): a "
                 f"candidate key"),
                f"if it must stay unique, EXPECT UNIQUE ({name})",
            ))  # fmt: skip
        elif col is primary and not m.keys and _nearly_unique(col):
            extra = col.distinct_checked - col.exact_distinct
            counted = _of_checked(extra, col.distinct_checked, col.non_null)
            out.append(Finding(
                "uniqueness", "repeated_key", col.name, extra / col.distinct_checked,
                share_score(extra / col.distinct_checked),
                f"{col.name} looks like the key, but {counted} repeat another row's",
                f"EXPECT UNIQUE ({name}); keep one row per key with QUALIFY row_number() OVER "
                f"(PARTITION BY {name} ORDER BY <newest first>) = 1",
            ))  # fmt: skip
    return out


def _unique(col: ColumnStats, m: Measures) -> bool:
    """No NULL, and no value repeated among those counted (all, or a sample's)."""
    return col.exact_distinct == col.distinct_checked and col.non_null == m.rows


def _nearly_unique(col: ColumnStats) -> bool:
    """Repeats, but few enough that the column is meant to be a key."""
    distinct, among = col.exact_distinct or 0, col.distinct_checked
    return PRIMARY_DISTINCT_SHARE * among <= distinct < among


def validity(m: Measures) -> list[Finding]:
    """Values of recognised formats (by name or by values) that fail the format."""
    out = []
    checked = False
    for col in m.columns:
        fmt = KINDS.get(col.kind or "")
        if fmt is None or fmt.is_type or not col.checked:
            continue
        checked = True
        if not col.invalid:
            continue
        share = col.invalid / col.checked
        why = "by its name" if col.kind_by_name else "by its other values"
        out.append(Finding(
            "validity", f"format:{fmt.name}", col.name, share, share_score(share),
            f"{col.name}: {_checked(col)} are not {fmt.label} (recognised as {fmt.name} "
            f"{why})",
            f"clean upstream, or EXPECT ({fmt.sql(sql_name(col.name))})",
        ))  # fmt: skip
    if not checked:
        out.append(Finding(
            "validity", "nothing_to_check", None, None, 100,
            "no text column holds a recognisable format (email, URL, UUID, IP address, ISO "
            "date or timestamp, phone, country or currency code)",
            "nothing to do; typed columns are valid by their type",
        ))  # fmt: skip
    return out


def business_rules(m: Measures, rules: Sequence[RuleOutcome]) -> list[Finding]:
    """Declared EXPECT rules as checked by the run; without any, rules worth declaring."""
    if not rules:
        return _suggestions(m)
    out = []
    for rule in rules:
        share = rule.failing_rows / rule.checked_rows if rule.checked_rows else 0.0
        name = f"EXPECT {rule.name}{' WARN' if rule.severity == 'warn' else ''}"
        if rule.failing_rows:
            found = rule.detail or f"fails on {_of(rule.failing_rows, rule.checked_rows, 'rows')}"
            message = f"{name}: {found}"
            advice = ("fix those rows upstream, or change the rule if they are valid"
                      if not rule.detail else "check that the source still delivers")  # fmt: skip
        else:
            message = f"{name}: holds" + (
                f" on all {_n(rule.checked_rows)} rows" if not rule.detail else f" ({rule.detail})"
            )
            advice = "nothing to do"
        out.append(Finding("business_rules", f"rule:{rule.name}", None, share,
                           share_score(share), message, advice))  # fmt: skip
    return out


def _suggestions(m: Measures) -> list[Finding]:
    """Rules the data obeys today that would catch a regression tomorrow (information)."""
    rules: list[tuple[str, str, str]] = []  # (check, column, rule)
    unique = [c for c in m.columns if c.exact_distinct is not None and _unique(c, m)]
    if m.keys and m.distinct_keys == m.key_rows:
        rules.append(("unique", m.keys[0], f"UNIQUE ({', '.join(sql_name(k) for k in m.keys)})"))
    elif unique:
        rules.append(("unique", unique[0].name, f"UNIQUE ({sql_name(unique[0].name)})"))
    required = [
        c
        for c in m.columns
        if c.non_null == m.rows
        and (c.name in m.keys or c.name in m.freshness_columns or KEY_NAME.fullmatch(c.name))
    ]
    if required:
        names = ", ".join(sql_name(c.name) for c in required[:4])
        rules.append(("not_null", required[0].name, f"NOT NULL ({names})"))
    for col in m.columns:
        low = _as_number(col.min)
        if (
            col.family == "numeric"
            and low is not None
            and low >= 0
            and (_NON_NEGATIVE.intersection(name_words(col.name)))
        ):
            rules.append(("range", col.name, f"({sql_name(col.name)} >= 0)"))
            break
    fresh = [c for c in (m.column(n) for n in m.freshness_columns) if c.newest is not None]
    if fresh:
        newest = max(fresh, key=lambda c: c.newest or dt.datetime.min)
        if m.now - (newest.newest or m.now) <= FRESH_FOR:
            rules.append(("fresh", newest.name, f"FRESH ({sql_name(newest.name)}) WITHIN '1 day'"))
    if not rules:
        return [Finding(
            "business_rules", "no_rules", None, None, 100, "no EXPECT rules are declared",
            "declare what must hold between MODE and AS, e.g. EXPECT NOT NULL (<column>)",
        )]  # fmt: skip
    return [
        Finding(
            "business_rules",
            f"suggest:{check}",
            column,
            None,
            100,
            f"no rule declared; {_obeyed_by(m, check)} obeys this one today: {rule}",
            f"declare it between MODE and AS: EXPECT {rule}",
        )  # fmt: skip
        for check, column, rule in rules[:MAX_SUGGESTIONS]
    ]


def _obeyed_by(m: Measures, check: str) -> str:
    # Only a unique key is judged on a sample: NOT NULL, ranges and freshness are exact.
    return "a sample of the data" if m.sampled and check == "unique" else "the data"


def _as_number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
