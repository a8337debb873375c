"""A run's profile of a large batch: exact where it is cheap, a repeatable sample elsewhere.

Issue 3 asks that the automatic profile of a 1% batch of a 10M-row table add at most 10% to
the run's time, so a run that wrote more than ``CHECK_ROWS`` rows has its formats, types,
blanks, far-out values, orphans and repeats measured on a sample of about that many rows
(``quality.batch``). These tests plant defects at known rates in 50,000 rows and check
that exact figures are exact, that estimates say "about" and fall within three binomial
standard errors of the planted rate, and that small batches stay exact. Expected values
are literals from how the data was built, or plain DuckDB SQL.
"""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import pytest

from sqlflow_magic.quality import batch
from sqlflow_magic.quality.measure import CHECK_ROWS, SAMPLE_SEED, describe
from sqlflow_magic.quality.profile import Profile, profile_relation

NOW = dt.datetime(2024, 6, 1, 12, 0, 0)
ROWS = 50_000
# A sample of about CHECK_ROWS rows holds at least this many (the hash keeps each key with
# probability CHECK_ROWS / ROWS; 1,800 is more than 4 standard deviations below 2,000).
SAMPLE_AT_LEAST = 1_800


def _tolerance(share: float, among: int = SAMPLE_AT_LEAST) -> float:
    """Three binomial standard errors of a share estimated from ``among`` values."""
    return 3 * math.sqrt(share * (1 - share) / among)


@pytest.fixture
def con():
    with duckdb.connect() as c:
        yield c


def _only(profile: Profile, category: str, check: str):
    found = [f for f in profile.category(category).findings if f.check == check]
    assert len(found) == 1, [f.message for f in profile.category(category).findings]
    return found[0]


# 1% invalid emails, 10% NULL and 0.5% blank cities, 2% orphan customer ids, one far-out
# amount, a unique order id, times one second apart.
PLANTED = f"""
    CREATE TABLE customers AS SELECT i AS customer_id FROM range(1, 1001) r(i);
    CREATE TABLE orders AS
    SELECT i AS order_id,
           CASE WHEN i % 50 = 7 THEN 5000 + i % 100 ELSE 1 + i % 1000 END AS customer_id,
           CASE WHEN i % 100 = 0 THEN 'broken' ELSE 'u' || i || '@example.com' END AS email,
           CASE WHEN i % 10 = 3 THEN NULL WHEN i % 200 = 1 THEN '  ' ELSE 'city ' || i % 37
                END AS city,
           CASE WHEN i = 12345 THEN 1e9 ELSE 10 + i % 20 END AS amount,
           TIMESTAMP '2024-05-31 00:00:00' + to_seconds(i) AS created_at
    FROM range({ROWS}) r(i)
"""


def test_a_large_run_is_measured_on_a_sample_and_says_so(con):
    con.execute(PLANTED)
    profile = profile_relation(con, "SELECT * FROM orders", now=NOW)
    assert profile.rows == ROWS
    assert len(profile.notes) == 1
    assert "measured on a repeatable sample of" in profile.notes[0]
    assert f"of the {ROWS:,} rows" in profile.notes[0]

    email = _only(profile, "validity", "format:email")
    assert email.message.startswith("email: about ")
    assert email.share == pytest.approx(0.01, abs=_tolerance(0.01))

    orphans = _only(profile, "consistency", "orphans")
    assert orphans.column == "customer_id"
    assert "about " in orphans.message
    assert orphans.share == pytest.approx(0.02, abs=_tolerance(0.02))

    city = _only(profile, "completeness", "nulls")
    # 5,000 NULLs are counted; the 250 blanks (of 45,000 values) are estimated.
    assert city.message.startswith("city: about ")
    assert "(5,000 NULL, about " in city.message
    assert profile.column("city").nulls == 5_000
    blank_share = 250 / 45_000
    assert profile.column("city").blanks == pytest.approx(250, abs=45_000 * _tolerance(blank_share))


def test_a_large_run_keeps_exact_what_is_cheap(con):
    con.execute(PLANTED)
    profile = profile_relation(con, "SELECT * FROM orders", now=NOW)
    # Rows, NULLs, ranges and the newest value come from the pass over every row.
    assert profile.column("email").nulls == 0
    assert (profile.column("amount").min, profile.column("amount").max) == ("10", "1e+09")
    assert (profile.column("order_id").min, profile.column("order_id").max) == ("0", "49999")
    newest = _only(profile, "freshness", "age")
    assert "(2024-05-31 13:53:19)" in newest.message  # 49,999 seconds after midnight
    # Uniqueness is judged on the sample, and says so.
    key = _only(profile, "uniqueness", "candidate_key")
    assert key.column == "order_id"
    assert "repeats no value in a sample of" in key.message


def test_a_large_run_profile_is_repeatable(con):
    con.execute(PLANTED)
    first = profile_relation(con, "SELECT * FROM orders", now=NOW)
    again = profile_relation(con, "SELECT * FROM orders", now=NOW)
    assert again.to_json() == first.to_json()


def test_the_whole_table_profile_of_the_same_rows_stays_exact(con):
    con.execute(PLANTED)
    profile = profile_relation(con, "SELECT * FROM orders", now=NOW, full=True)
    assert profile.notes == ()
    assert "1.0% of values (500 of 50,000)" in _only(profile, "validity", "format:email").message
    assert "2.0% of rows (1,000 of 50,000)" in _only(profile, "consistency", "orphans").message
    assert "(5,000 NULL, 250 blank)" in _only(profile, "completeness", "nulls").message
    assert "<0.1% of values (1 of 50,000)" in _only(profile, "accuracy", "outliers").message


def test_far_out_values_the_sample_missed_are_counted_over_every_row(con):
    bound = int(CHECK_ROWS / ROWS * 2**64)
    # Three ids the sample leaves out (it keeps the rows whose hash of the key is below the
    # bound) get far-out amounts: only the exact min and max can show them.
    missed = con.execute(
        f"SELECT i FROM range({ROWS}) r(i) WHERE hash(i, {SAMPLE_SEED}) >= {bound}::UBIGINT "
        "ORDER BY i LIMIT 3"
    ).fetchall()
    far = ", ".join(str(i) for (i,) in missed)
    con.execute(
        f"CREATE TABLE t AS SELECT i AS id, CASE WHEN i IN ({far}) THEN 1e9 ELSE 10 + i % 20 "
        f"END AS amount FROM range({ROWS}) r(i)"
    )
    profile = profile_relation(con, "SELECT * FROM t", keys=["id"], now=NOW)
    outliers = _only(profile, "accuracy", "outliers")
    assert "<0.1% of values (3 of 50,000)" in outliers.message


def test_a_large_run_keeps_repeated_keys_and_copied_rows_together(con):
    # 500 of 50,000 rows are exact copies of another row: 1% repeat a key, 1% are copies.
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, 'v' || i AS v FROM range(49500) r(i) "
        "UNION ALL SELECT i, 'v' || i FROM range(500) r(i)"
    )
    keyed = profile_relation(con, "SELECT * FROM t", keys=["id"], now=NOW)
    dup_keys = _only(keyed, "uniqueness", "duplicate_keys")
    assert dup_keys.message.startswith("KEY (id): about ")
    assert dup_keys.share == pytest.approx(0.01, abs=_tolerance(0.01))
    copies = _only(keyed, "uniqueness", "duplicate_rows")
    assert copies.share == pytest.approx(0.01, abs=_tolerance(0.01))

    unkeyed = profile_relation(con, "SELECT * FROM t", now=NOW)
    repeated = _only(unkeyed, "uniqueness", "repeated_key")
    assert repeated.column == "id"
    assert repeated.share == pytest.approx(0.01, abs=_tolerance(0.01))
    assert _only(unkeyed, "uniqueness", "duplicate_rows").share == pytest.approx(
        0.01, abs=_tolerance(0.01)
    )


def test_blanks_in_a_large_format_column_are_not_counted_as_invalid(con):
    # 1% blank and 1% broken emails: the format finding counts only the broken ones.
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, CASE WHEN i % 100 = 1 THEN '' WHEN i % 100 = 2 "
        "THEN 'broken' ELSE 'u' || i || '@example.com' END AS email "
        f"FROM range({ROWS}) r(i)"
    )
    profile = profile_relation(con, "SELECT * FROM t", now=NOW)
    email = _only(profile, "validity", "format:email")
    assert email.share == pytest.approx(500 / 49_500, abs=_tolerance(0.01))
    blank = _only(profile, "completeness", "nulls")
    assert blank.message.startswith("email: about ")
    assert blank.share == pytest.approx(0.01, abs=_tolerance(0.01))


def test_a_run_of_check_rows_rows_stays_exact(con):
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, CASE WHEN i % 100 = 0 THEN 'broken' "
        f"ELSE 'u' || i || '@example.com' END AS email FROM range({CHECK_ROWS}) r(i)"
    )
    exact = profile_relation(con, "SELECT * FROM t", now=NOW)
    assert exact.notes == ()
    assert "1.0% of values (20 of 2,000)" in _only(exact, "validity", "format:email").message
    assert (
        "id is unique (2,000 distinct values, no NULLs)"
        in _only(exact, "uniqueness", "candidate_key").message
    )
    # A sample keeps at least CHECK_ROWS rows, a share on a ladder of 2 ** (1/4) steps:
    # up to 2,378 rows the first step below every row would keep fewer.
    con.execute("INSERT INTO t SELECT i, 'u' || i || '@example.com' FROM range(2000, 2378) r(i)")
    assert profile_relation(con, "SELECT * FROM t", now=NOW).notes == ()
    con.execute("INSERT INTO t VALUES (2378, 'u2378@example.com')")
    one_more = profile_relation(con, "SELECT * FROM t", now=NOW)
    assert "repeatable sample" in one_more.notes[0]


@pytest.mark.parametrize(
    ("rows", "share"), [(2_379, 2**-0.25), (50_000, 2**-4.5), (100_000, 2**-5.5)]
)
def test_a_sample_share_is_a_step_keeping_at_least_check_rows(rows, share):
    from sqlflow_magic.quality.measure import Sample

    sample = Sample.of(("x",), CHECK_ROWS / rows)
    assert sample.share == pytest.approx(share)
    assert CHECK_ROWS <= sample.share * rows < 1.19 * CHECK_ROWS


@pytest.mark.parametrize(
    ("table", "keys", "hashed"),
    [
        # A declared key; else a nearly unique key-like column; else numbers and times.
        ("SELECT i AS k, i % 7 AS n, 'x' AS s FROM range(5000) r(i)", ["k"], ('"k"',)),
        ("SELECT i % 7 AS n, i AS id, 'x' AS s FROM range(5000) r(i)", [], ('"id"',)),
        ("SELECT i % 3 AS id, i AS n, 'x' AS s FROM range(5000) r(i)", [], ('"id"', '"n"')),
        ("SELECT 'x' || i AS s, 'y' AS t FROM range(5000) r(i)", [], ('"s"', '"t"')),
    ],
)
def test_the_sample_hashes_the_key_where_there_is_one(con, table, keys, hashed):
    con.execute(f"CREATE TABLE t AS {table}")
    m = describe(con, "SELECT * FROM t", None, keys=keys, time_columns=None, now=NOW)
    batch.measure_batch(con, m, (), None)
    assert m.sample is not None
    assert m.sample.columns == hashed
    assert CHECK_ROWS / 5000 <= m.sample.share <= 1.19 * CHECK_ROWS / 5000
    kept = con.execute(
        f"SELECT count(*) FROM t WHERE hash({', '.join(hashed)}, {SAMPLE_SEED}) "
        f"< {int(m.sample.share * 2**64)}::UBIGINT"
    ).fetchall()[0][0]
    assert m.sample_rows == kept


def test_a_sample_keeps_enough_keys_or_is_no_sample(con):
    # 20 keys over 5,000 rows: a sample of 2,000 rows would hold a key or two; every row
    # is measured instead, exactly.
    con.execute("CREATE TABLE few AS SELECT i % 20 AS k, i AS n FROM range(5000) r(i)")
    few = profile_relation(con, "SELECT * FROM few", keys=["k"], now=NOW)
    assert few.notes == ()
    assert (
        "KEY (k): 99.6% of rows (4,980 of 5,000) repeat"
        in _only(few, "uniqueness", "duplicate_keys").message
    )
    # 1,000 keys over 50,000 rows: the sample keeps about 200 of them, all their rows.
    con.execute(f"CREATE TABLE many AS SELECT i % 1000 AS k, i AS n FROM range({ROWS}) r(i)")
    many = profile_relation(con, "SELECT * FROM many", keys=["k"], now=NOW)
    assert "repeatable sample" in many.notes[0]
    dup = _only(many, "uniqueness", "duplicate_keys")
    assert dup.message.startswith("KEY (k): about ")
    assert dup.share == pytest.approx(0.98, abs=0.01)  # 49 of every key's 50 rows repeat


def test_a_would_be_key_that_repeats_is_measured_again_on_a_plain_sample(con):
    # id repeats each value 50 times: hashing it would keep 40 lumps of 50 rows, so pass 3
    # runs again on a sample hashed on the plain columns, from pass 2's measures: one
    # orphan check (not one per attempt), the sample's own row count, id's distinct
    # values estimated from the first look.
    con.execute("CREATE TABLE customers AS SELECT i AS customer_id FROM range(100) r(i)")
    con.execute(
        f"CREATE TABLE t AS SELECT i // 50 AS id, i AS n, i % 200 AS customer_id "
        f"FROM range({ROWS}) r(i)"
    )
    m = describe(con, "SELECT * FROM t", None, keys=[], time_columns=None, now=NOW)
    batch.measure_batch(con, m, None, None)
    assert m.sample is not None
    assert m.sample.columns == ('"id"', '"n"', '"customer_id"')
    kept = con.execute(
        f"SELECT count(*), count_if(customer_id >= 100) FROM t WHERE hash(id, n, customer_id, "
        f"{SAMPLE_SEED}) < {int(m.sample.share * 2**64)}::UBIGINT"
    ).fetchall()[0]
    assert m.sample_rows == kept[0]
    assert [(o.reference.label, o.checked, o.rows) for o in m.orphans] == [
        ("main.customers", kept[0], kept[1])
    ]
    assert m.column("id").exact_distinct is None
    assert m.column("id").distinct == pytest.approx(ROWS // 50, rel=0.25)
    # describe, pass 2, pass 3 twice (copied rows counted there too); pass 4 not needed
    assert m.queries == 4


def test_a_repeating_key_that_is_the_only_plain_column_is_measured_once(con):
    # Nothing better to hash than id itself: pass 3 is not run a second time for nothing.
    con.execute(f"CREATE TABLE t AS SELECT i // 50 AS id, 'x' || i AS s FROM range({ROWS}) r(i)")
    m = describe(con, "SELECT * FROM t", None, keys=[], time_columns=None, now=NOW)
    batch.measure_batch(con, m, (), None)
    assert m.sample is not None
    assert m.sample.columns == ('"id"',)
    assert m.queries == 3  # describe, pass 2, pass 3
