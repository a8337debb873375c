"""Formats: the SQL test (DuckDB) and the Python pattern (recognition) agree."""

from __future__ import annotations

import duckdb
import pytest

from sqlflow_magic.quality.formats import KINDS, name_words, paired_columns

# (kind, valid values, invalid values)
CASES = [
    ("email", ["a.b@x.com", "x+1@y.co.uk"], ["bad@", "a@b", "a b@c.de", "@x.com"]),
    ("url", ["https://a.com/x?y=1", "http://localhost:8080/"], ["ftp://x", "http://", "a.com"]),
    ("uuid", ["123e4567-e89b-12d3-a456-426614174000"], ["123e4567e89b12d3", "nope"]),
    ("ip address", ["10.0.0.1", "255.255.255.255"], ["256.1.1.1", "1.2.3", "a.b.c.d"]),
    ("timestamp", ["2024-01-05 10:00:00", "2024-01-05T10:00:00Z"], ["2024-01-05", "noon"]),
    ("date", ["2024-01-05", "2024-02-29"], ["05/01/2024", "2024-1-5"]),
    ("phone", ["+1 (555) 123-4567", "555-1234"], ["12", "call me"]),
    ("country code", ["DE", "US"], ["de", "DEU", "D1"]),
    ("currency code", ["EUR"], ["eur", "EURO"]),
    ("number", ["1.5", " 12 ", "-3", "1e5"], ["x", "1,5", ""]),
    ("boolean", ["true", "yes", "F", "0"], ["maybe", "on"]),
]


@pytest.fixture(scope="module")
def con():
    with duckdb.connect() as c:
        yield c


@pytest.mark.parametrize(("kind", "valid", "invalid"), CASES)
def test_sql_and_python_agree(con, kind, valid, invalid):
    fmt = KINDS[kind]
    for value, expected in [(v, True) for v in valid] + [(v, False) for v in invalid]:
        in_sql = con.execute(f"SELECT coalesce({fmt.sql('$v')}, false)", {"v": value}).fetchall()
        assert in_sql[0][0] is expected, (kind, value)
        if expected:  # Python only recognises; SQL may be stricter (a real calendar date)
            assert fmt.matches(value), (kind, value)


def test_dates_must_exist():
    with duckdb.connect() as c:
        assert c.execute(f"SELECT {KINDS['date'].sql(repr('2024-02-30'))}").fetchall() == [(False,)]


@pytest.mark.parametrize(
    ("column", "kind"),
    [("email", "email"), ("contact_email", "email"), ("EmailAddress", "email"), ("website", "url"),
     ("client_ip", "ip address"), ("order_date", "date"), ("phone_number", "phone"),
     ("country_code", "country code"), ("emails_sent", None), ("status", None)],
)  # fmt: skip
def test_names_say_the_kind(column, kind):
    named = [k.name for k in KINDS.values() if k.names_column(column)]
    assert named[:1] == ([kind] if kind else [])


def test_name_words_and_pairs():
    assert name_words("shippedAt") == ["shipped", "at"]
    assert paired_columns(["valid_from", "valid_to", "startTime", "endTime", "min_x", "x"]) == [
        ("valid_from", "valid_to"),
        ("startTime", "endTime"),
    ]
