"""What the profile recognises without configuration: text formats and paired fields.

Variation is data here: each recognisable kind of text is one ``Format`` row (how its
column names look, the pattern its values match, the SQL test that is also the EXPECT to
declare), and each ordered pair of fields is one row of ``PAIRED_WORDS``. Adding a
format is adding a row.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """A kind of text value the profile can recognise and check.

    Two sorts: formats with no DuckDB type (email, URL, phone; their failures are
    *validity* findings) and apparent types, text that is really a number or a boolean
    (failures are *accuracy* findings).

    Attributes:
        name: short name, used in findings (``email``).
        label: what valid values are, as a plural noun phrase (``valid email addresses``).
        column_names: regex matched (full, case-insensitive) against a column name; a
            column so named is checked for this format whatever its values look like.
        pattern: the regex a valid value matches in full, in the syntax RE2 (DuckDB) and
            Python share; Python uses it to recognise a column by a sample of its values.
        also: more SQL a valid value must pass, with ``{c}`` for the column (a real date).
        by_values: whether a column whose sample mostly matches ``pattern`` is taken to
            hold this kind although its name says nothing (too loose for short codes).
        cast: for an apparent type, the DuckDB type the text should cast to; the test is
            then ``TRY_CAST`` and ``pattern`` only recognises.
    """

    name: str
    label: str
    column_names: str
    pattern: str
    also: str = ""
    by_values: bool = True
    cast: str = ""

    @property
    def is_type(self) -> bool:
        """Whether this is an apparent type (accuracy) rather than a format (validity)."""
        return bool(self.cast)

    def names_column(self, column: str) -> bool:
        """Whether ``column``'s name says it holds this kind of value."""
        if not self.column_names:
            return False
        return re.fullmatch(self.column_names, column, flags=re.IGNORECASE) is not None

    def matches(self, value: str) -> bool:
        """Whether a sample value looks like this kind (Python's view, for recognising)."""
        return _compiled(self.pattern).fullmatch(value) is not None

    def sql(self, column_sql: str) -> str:
        """The SQL test for one column, written as ``column_sql``; it is also the body of
        the EXPECT the recommendations suggest, so declaring it counts what we counted.
        """
        if self.cast:
            return f"TRY_CAST({column_sql} AS {self.cast}) IS NOT NULL"
        literal = self.pattern.replace("'", "''")
        test = f"regexp_full_match({column_sql}, '{literal}')"
        return f"({test} AND {self.also.format(c=column_sql)})" if self.also else test


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_URL = r"(?i)https?://[a-z0-9-]+(\.[a-z0-9-]+)*(:[0-9]+)?([/?#]\S*)?"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"({_OCTET}\.){{3}}{_OCTET}"
_PHONE = r"\+?[0-9 ().-]{6,20}[0-9]"
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIMESTAMP = _DATE + r"[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?"
_NUMBER = r"\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*"
_BOOLEAN = r"(?i)true|false|t|f|yes|no|y|n|1|0"

# Order matters: a column recognised by its values takes the first kind most of its
# sample matches, so an ISO timestamp column is not also read as a date column, and a
# column of 0/1 is read as numbers, not booleans.
FORMATS: tuple[Format, ...] = (
    Format("email", "valid email addresses", r"(.*_)?e_?mail(_?addr(ess)?)?", _EMAIL),
    Format("url", "valid http(s) URLs", r"(.*_)?(url|uri|website|homepage|link)", _URL),
    Format("uuid", "valid UUIDs", r"(.*_)?(uuid|guid)", _UUID),
    Format("ip address", "valid IPv4 addresses", r"(.*_)?ip(v4)?(_?addr(ess)?)?", _IPV4),
    Format("timestamp", "valid ISO timestamps", r"(.*_)?(timestamp|datetime|ts)",
           _TIMESTAMP, also="TRY_CAST({c} AS TIMESTAMP) IS NOT NULL"),
    Format("date", "valid ISO dates (YYYY-MM-DD)", r"(.*_)?(date|day|dob|birthday)",
           _DATE, also="TRY_CAST({c} AS DATE) IS NOT NULL"),
    Format("phone", "valid phone numbers",
           r"(.*_)?(phone|mobile|tel|telephone|fax)(_?(number|no))?", _PHONE,
           also="length(regexp_replace({c}, '[^0-9]', '', 'g')) >= 7", by_values=False),
    Format("country code", "two-letter ISO country codes",
           r"(.*_)?(country_?(code|iso)?|iso_?country)", "[A-Z]{2}", by_values=False),
    Format("currency code", "three-letter ISO currency codes",
           r"(.*_)?(currency|ccy)(_?code)?", "[A-Z]{3}", by_values=False),
    Format("number", "numbers", "", _NUMBER, cast="DOUBLE"),
    Format("boolean", "booleans", "", _BOOLEAN, cast="BOOLEAN"),
)  # fmt: skip

KINDS = {f.name: f for f in FORMATS}


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
    return list(_words(column))


@functools.cache
def _words(column: str) -> tuple[str, ...]:
    # A profile asks for the words of each column name a few times over; names repeat
    # from run to run, so two regexes per call would add up.
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", column)
    return tuple(w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w)


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
