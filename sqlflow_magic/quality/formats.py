"""What the profile recognises without configuration: text formats and paired fields.

Variation is data here: each recognisable format is one ``Format`` row (how its column
names look, the SQL test a value must pass, the EXPECT that keeps it valid), and each
ordered pair of fields is one row of ``PAIRED_WORDS``. Adding a format is adding a row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """A text format the profile can recognise and check.

    Attributes:
        name: short name, used in findings (``email``).
        label: what valid values are, as a plural noun phrase (``valid email addresses``).
        column_names: regex matched (full, case-insensitive) against a column name; a
            column so named is checked for this format whatever its values look like.
        test: SQL that is true for a valid value, with ``{c}`` for the column. It is also
            the EXPECT the recommendations suggest, so declaring it counts what we count.
        by_values: whether a column whose sample values mostly pass ``test`` is taken to
            hold this format although its name says nothing (too loose for short codes).
    """

    name: str
    label: str
    column_names: str
    test: str
    by_values: bool

    def names_column(self, column: str) -> bool:
        """Whether ``column``'s name says it holds this format."""
        return re.fullmatch(self.column_names, column, flags=re.IGNORECASE) is not None

    def sql(self, column_sql: str) -> str:
        """The test for one column, written as ``column_sql``."""
        return self.test.format(c=column_sql)


def _regex(pattern: str) -> str:
    # The pattern becomes a SQL string literal inside a str.format template.
    literal = pattern.replace("'", "''").replace("{", "{{").replace("}", "}}")
    return "regexp_full_match({c}, '" + literal + "')"


_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_URL = r"(?i)https?://[a-z0-9-]+(\.[a-z0-9-]+)*(:[0-9]+)?([/?#]\S*)?"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"({_OCTET}\.){{3}}{_OCTET}"
_PHONE = r"\+?[0-9 ().-]{6,20}[0-9]"
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIMESTAMP = _DATE + r"[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?"

# Order matters: a column recognised by its values takes the first format most of its
# sample passes, so an ISO timestamp column is not also read as a date column.
FORMATS: tuple[Format, ...] = (
    Format("email", "valid email addresses", r"(.*_)?e_?mail(_?addr(ess)?)?",
           _regex(_EMAIL), True),
    Format("url", "valid http(s) URLs", r"(.*_)?(url|uri|website|homepage|link)",
           _regex(_URL), True),
    Format("uuid", "valid UUIDs", r"(.*_)?(uuid|guid)", _regex(_UUID), True),
    Format("ip address", "valid IPv4 addresses", r"(.*_)?ip(v4)?(_?addr(ess)?)?",
           _regex(_IPV4), True),
    Format("timestamp", "valid ISO timestamps", r"(.*_)?(timestamp|datetime|ts)",
           f"({_regex(_TIMESTAMP)} AND TRY_CAST({{c}} AS TIMESTAMP) IS NOT NULL)", True),
    Format("date", "valid ISO dates (YYYY-MM-DD)", r"(.*_)?(date|day|dob|birthday)",
           f"({_regex(_DATE)} AND TRY_CAST({{c}} AS DATE) IS NOT NULL)", True),
    Format("phone", "valid phone numbers",
           r"(.*_)?(phone|mobile|tel|telephone|fax)(_?(number|no))?",
           f"({_regex(_PHONE)} AND length(regexp_replace({{c}}, '[^0-9]', '', 'g')) >= 7)",
           False),
    Format("country code", "two-letter ISO country codes",
           r"(.*_)?(country_?(code|iso)?|iso_?country)", _regex("[A-Z]{2}"), False),
    Format("currency code", "three-letter ISO currency codes",
           r"(.*_)?(currency|ccy)(_?code)?", _regex("[A-Z]{3}"), False),
)  # fmt: skip

# Text that is really another type (accuracy): "number" before "boolean", so a column of
# 0/1 is read as numbers.
APPARENT_TYPES: tuple[tuple[str, str], ...] = (("number", "DOUBLE"), ("boolean", "BOOLEAN"))

# Ordered pairs: in a pair of columns whose names differ only by these words, the first
# must not be greater than the second (start_date <= end_date, min_price <= max_price).
PAIRED_WORDS: tuple[tuple[str, str], ...] = (
    ("start", "end"), ("start", "finish"), ("begin", "end"), ("from", "to"),
    ("min", "max"), ("low", "high"), ("first", "last"),
    ("created", "updated"), ("created", "modified"), ("created", "deleted"),
    ("created", "closed"), ("opened", "closed"), ("started", "ended"),
    ("started", "finished"), ("ordered", "shipped"), ("shipped", "delivered"),
    ("checkin", "checkout"), ("birth", "death"),
)  # fmt: skip

# Time columns whose values may lie in the future by design (due dates, expiry).
FUTURE_WORDS = frozenset(
    {"due", "expires", "expiry", "expiration", "until", "deadline", "scheduled", "planned",
     "end", "ends", "to", "valid", "next", "eta", "forecast"}
)  # fmt: skip


def name_words(column: str) -> list[str]:
    """The lower-case words of a column name (``shippedAt`` and ``shipped_at`` alike)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", column)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def paired_columns(columns: list[str]) -> list[tuple[str, str]]:
    """Pairs (first, second) of ``columns`` whose names say first <= second.

    >>> paired_columns(["start_date", "end_date", "min_price", "max_price", "x"])
    [('start_date', 'end_date'), ('min_price', 'max_price')]
    """
    by_words = {tuple(name_words(c)): c for c in columns}
    pairs = []
    for words, first in by_words.items():
        for a, b in PAIRED_WORDS:
            if a not in words:
                continue
            swapped = tuple(b if w == a else w for w in words)
            second = by_words.get(swapped)
            if second is not None and (first, second) not in pairs:
                pairs.append((first, second))
    return pairs
