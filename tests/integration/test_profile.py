"""The quality profile against datasets with planted defects (issue 3, the profile).

Every expectation is a literal computed from how the dataset was built (3 of 100 emails
broken -> 3.0%), never from the profile's own output. Each test builds its data in a
fresh in-memory DuckDB with plain SQL.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from sqlflow_magic.engine.base import TableRef
from sqlflow_magic.quality.profile import (
    CATEGORIES,
    Profile,
    Reference,
    RuleOutcome,
    compare_profiles,
    profile_relation,
)

NOW = dt.datetime(2024, 6, 1, 12, 0, 0)


@pytest.fixture
def con():
    with duckdb.connect() as c:
        yield c


def _only(profile: Profile, category: str, check: str):
    found = [f for f in profile.category(category).findings if f.check == check]
    assert len(found) == 1, [f.message for f in profile.category(category).findings]
    return found[0]


def _problems(profile: Profile, category: str) -> list:
    return [f for f in profile.category(category).findings if f.is_problem]


CLEAN = """
    CREATE TABLE customers AS
    SELECT i AS customer_id, 'customer ' || i AS name FROM range(1, 51) r(i);
    CREATE TABLE orders AS
    SELECT i AS order_id,
           1 + i % 50 AS customer_id,
           'user' || i || '@example.com' AS email,
           TIMESTAMP '2024-06-01 00:00:00' - to_hours(i) AS created_at,
           TIMESTAMP '2024-06-01 00:00:00' - to_hours(i) + INTERVAL 1 HOUR AS updated_at,
           10 + (i % 7) AS amount,
           ['new', 'paid', 'shipped'][1 + i % 3] AS status
    FROM range(100) r(i);
"""


def test_a_clean_dataset_scores_100_everywhere(con):
    con.execute(CLEAN)
    profile = profile_relation(con, "SELECT * FROM orders", now=NOW)
    assert [c.category for c in profile.categories] == list(CATEGORIES)
    assert {c.category: c.score for c in profile.categories} == dict.fromkeys(CATEGORIES, 100)
    assert [f.message for f in profile.findings if f.is_problem] == []
    assert profile.rows == 100
    assert profile.worst_columns(3) == []


def test_the_whole_table_profile_scores_100_too(con):
    con.execute(CLEAN)
    target = TableRef("memory", "main", "orders", exists=True)
    profile = profile_relation(con, "SELECT * FROM main.orders", target=target, now=NOW, full=True)
    assert profile.overall == 100
    email = profile.column("email")
    assert (email.nulls, email.kind, email.invalid) == (0, "email", 0)
    assert profile.column("order_id").distinct == 100  # HLL is exact at this size


def test_completeness_counts_nulls_and_blanks(con):
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, CASE WHEN i < 7 THEN NULL WHEN i < 10 THEN "
        "['', '  ', ' '][i - 6] ELSE 'city ' || i END AS city FROM range(100) r(i)"
    )
    profile = profile_relation(con, "SELECT * FROM t", now=NOW)
    finding = _only(profile, "completeness", "nulls")
    assert finding.column == "city"
    assert finding.share == pytest.approx(0.10)
    assert "10.0% of rows (10 of 100)" in finding.message
    assert "7 NULL, 3 blank" in finding.message
    assert "EXPECT NOT NULL (city)" in finding.recommendation
    assert profile.column("city").nulls == 7
    assert profile.column("city").blanks == 3
    assert finding.score == round(100 * 0.9**5)  # the column: 10% missing
    # The category: 10 missing of 200 cells (2 columns x 100 rows), 100 * 0.95 ** 5 = 77.4
    assert profile.score("completeness") == 77


def test_blanks_are_missing_values_not_invalid_ones(con):
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, CASE WHEN i IN (5, 50, 51, 99) THEN 'n/a' "
        "WHEN i IN (7, 8) THEN '  ' ELSE CAST(i * 3 AS VARCHAR) END AS qty FROM range(100) r(i)"
    )
    profile = profile_relation(con, "SELECT * FROM t", now=NOW)
    assert "4.1% of values (4 of 98)" in _only(profile, "accuracy", "type:number").message
    assert "2.0% of rows (2 of 100) are blank" in _only(profile, "completeness", "nulls").message


def test_accuracy_text_that_is_not_a_number(con):
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, CASE WHEN i IN (5, 50, 51, 99) THEN 'n/a' "
        "ELSE CAST(i * 3 AS VARCHAR) END AS qty FROM range(100) r(i)"
    )
    profile = profile_relation(con, "SELECT * FROM t", now=NOW)
    finding = _only(profile, "accuracy", "type:number")
    assert finding.share == pytest.approx(0.04)
    assert "4.0% of values (4 of 100) are not numbers (e.g. 'n/a')" in finding.message
    assert finding.expect == "EXPECT (TRY_CAST(qty AS DOUBLE) IS NOT NULL)"


def test_accuracy_outliers_and_future_times(con):
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, "
        "CASE WHEN i IN (10, 20) THEN 1e6 ELSE 10 + i % 10 END AS weight, "
        "CASE WHEN i < 3 THEN TIMESTAMP '2024-07-01' ELSE TIMESTAMP '2024-05-31' END AS seen_at "
        "FROM range(1000) r(i)"
    )
    profile = profile_relation(con, "SELECT * FROM t", now=NOW)
    outliers = _only(profile, "accuracy", "outliers")
    assert (outliers.column, outliers.share) == ("weight", pytest.approx(0.002))
    assert "0.2% of values (2 of 1,000)" in outliers.message
    future = _only(profile, "accuracy", "future")
    assert (future.column, future.share) == ("seen_at", pytest.approx(0.003))
    # Freshness ignores the future values: the newest value up to now is 2024-05-31.
    assert "2024-05-31 00:00:00" in _only(profile, "freshness", "age").message


def test_consistency_orphan_keys_against_a_table_found_by_name(con):
    con.execute(
        "CREATE TABLE customers AS SELECT i AS id, 'c' || i AS name FROM range(1, 96) r(i);"
        "CREATE TABLE orders AS SELECT i AS order_id, 1 + i AS customer_id FROM range(100) r(i)"
    )
    target = TableRef("memory", "main", "orders", exists=True)
    profile = profile_relation(con, "SELECT * FROM orders", target=target, now=NOW)
    finding = _only(profile, "consistency", "orphans")
    # customer ids 96..100 have no customer (the table holds 1..95)
    assert (finding.column, finding.share) == ("customer_id", pytest.approx(0.05))
    assert "5.0% of rows (5 of 100)" in finding.message
    assert "main.customers.id" in finding.message
    assert "5 distinct values, e.g. 96" in finding.message


def test_a_run_profile_skips_references_into_large_tables(con, monkeypatch):
    from sqlflow_magic.quality import measure

    con.execute(
        "CREATE TABLE customers AS SELECT i AS id FROM range(1, 96) r(i);"
        "CREATE TABLE orders AS SELECT i AS order_id, 1 + i AS customer_id FROM range(100) r(i)"
    )
    target = TableRef("memory", "main", "orders", exists=True)
    monkeypatch.setattr(measure, "RUN_REFERENCE_ROWS", 94)  # customers holds 95 rows
    monkeypatch.setattr("sqlflow_magic.quality.batch.RUN_REFERENCE_ROWS", 94)
    run = profile_relation(con, "SELECT * FROM orders", target=target, now=NOW)
    assert not [f for f in run.findings if f.check == "orphans"]
    # the whole-table profile (%sqlflow quality) checks every reference
    whole = profile_relation(con, "SELECT * FROM orders", target=target, now=NOW, full=True)
    assert _only(whole, "consistency", "orphans").column == "customer_id"


def test_consistency_pairs_in_the_wrong_order(con):
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, DATE '2024-01-01' + CAST(i AS INTEGER) AS start_date, "
        "CASE WHEN i IN (3, 4) THEN DATE '2023-01-01' WHEN i = 5 THEN NULL "
        "ELSE DATE '2024-03-01' + CAST(i AS INTEGER) END AS end_date FROM range(100) r(i)"
    )
    profile = profile_relation(con, "SELECT * FROM t", now=NOW)
    finding = _only(profile, "consistency", "order")
    assert finding.column == "start_date, end_date"
    assert finding.share == pytest.approx(2 / 99)  # of the 99 rows where both are set
    assert "(2 of 99)" in finding.message
    assert finding.expect == "EXPECT (start_date <= end_date)"
    assert profile.column_score("end_date") == finding.score


def test_freshness_scores_the_age_of_the_newest_value(con):
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, TIMESTAMP '2024-05-29 12:00:00' - to_hours(i) AS ts "
        "FROM range(50) r(i)"
    )
    profile = profile_relation(con, "SELECT * FROM t", now=NOW)
    finding = _only(profile, "freshness", "age")
    assert "is 3 days old" in finding.message
    # 3 days: one day is free, then the score halves every 7 days: 100 * 0.5 ** (2 / 7)
    assert profile.score("freshness") == 82
    assert "EXPECT FRESH (ts) WITHIN '1 day'" in finding.recommendation


def test_freshness_of_a_date_counts_from_the_end_of_its_day(con):
    con.execute("CREATE TABLE t AS SELECT DATE '2024-06-01' AS day")
    today = _only(profile_relation(con, "SELECT * FROM t", now=NOW), "freshness", "age")
    assert today.message == "day: the newest value (2024-06-01) is less than a minute old"
    con.execute("CREATE TABLE u AS SELECT DATE '2024-05-25' AS day")
    # 2024-05-25 ended 6 days 12 hours before NOW: 100 * 0.5 ** (5.5 / 7) = 58
    week = profile_relation(con, "SELECT * FROM u", now=NOW)
    assert "is 6 days 12 hours old" in _only(week, "freshness", "age").message
    assert week.score("freshness") == 58


def test_freshness_of_timestamptz_is_judged_in_utc(con):
    con.execute("SET TimeZone = 'America/New_York'")
    con.execute("CREATE TABLE t AS SELECT TIMESTAMPTZ '2024-05-31 12:00:00+00' AS ts")
    profile = profile_relation(con, "SELECT * FROM t", now=NOW)
    assert "is 1 day old" in _only(profile, "freshness", "age").message


def test_uniqueness_duplicate_rows_and_keys(con):
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, 'x' || i AS v FROM range(97) r(i) "
        "UNION ALL SELECT i, 'x' || i FROM range(3) r(i)"  # 3 exact copies of rows 0..2
    )
    profile = profile_relation(con, "SELECT * FROM t", now=NOW)
    rows = _only(profile, "uniqueness", "duplicate_rows")
    assert rows.share == pytest.approx(0.03)
    assert "3.0% of rows (3 of 100)" in rows.message
    repeated = _only(profile, "uniqueness", "repeated_key")  # id looks like the key
    assert (repeated.column, repeated.share) == ("id", pytest.approx(0.03))

    keyed = profile_relation(con, "SELECT * FROM t", keys=["id"], now=NOW)
    dup_keys = _only(keyed, "uniqueness", "duplicate_keys")
    assert (dup_keys.column, dup_keys.share) == ("id", pytest.approx(0.03))
    assert "EXPECT UNIQUE (id)" in dup_keys.recommendation


def test_uniqueness_reports_a_candidate_key_as_information(con):
    con.execute(CLEAN)
    profile = profile_relation(con, "SELECT * FROM orders", now=NOW)
    finding = _only(profile, "uniqueness", "candidate_key")
    assert finding.column == "order_id"
    assert not finding.is_problem
    assert finding.share is None


def test_validity_named_and_recognised_by_values(con):
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, "
        "CASE WHEN i IN (1, 2, 3) THEN 'user' || i || '@example' "
        "ELSE 'user' || i || '@example.com' END AS email, "
        "CASE WHEN i IN (7, 8) THEN 'not-a-uuid' ELSE CAST(uuid() AS VARCHAR) END AS ref "
        "FROM range(100) r(i)"
    )
    profile = profile_relation(con, "SELECT * FROM t", now=NOW)
    email = _only(profile, "validity", "format:email")
    assert (email.column, email.share) == ("email", pytest.approx(0.03))
    assert "3.0% of values (3 of 100) are not valid email addresses" in email.message
    assert email.expect is not None
    assert email.expect.startswith("EXPECT (regexp_full_match(email")
    uuid = _only(profile, "validity", "format:uuid")
    assert (uuid.column, uuid.share) == ("ref", pytest.approx(0.02))
    assert "by its other values" in uuid.message


def test_the_suggested_expect_counts_what_the_profile_counted(con):
    con.execute(
        "CREATE TABLE t AS SELECT CASE WHEN i % 25 = 0 THEN 'x@y' ELSE 'a' || i || '@b.org' "
        "END AS contact_email FROM range(100) r(i)"
    )
    finding = _only(profile_relation(con, "SELECT * FROM t", now=NOW), "validity",
                    "format:email")  # fmt: skip
    predicate = finding.expect.removeprefix("EXPECT ")
    failing = con.execute(f"SELECT count(*) FROM t WHERE NOT {predicate}").fetchall()[0][0]
    assert failing == 4 == round(finding.share * 100)


def test_business_rules_from_rule_outcomes(con):
    con.execute(CLEAN)
    rules = [
        RuleOutcome("NOT NULL (customer_id)", "error", 0, 100),
        RuleOutcome("(amount < 15)", "warn", 20, 100),
    ]
    profile = profile_relation(con, "SELECT * FROM orders", rule_results=rules, now=NOW)
    assert profile.score("business_rules") == round(100 * 0.8**5)
    failing = _problems(profile, "business_rules")
    assert [f.message for f in failing] == [
        "EXPECT (amount < 15) WARN: fails on 20.0% of rows (20 of 100)"
    ]


def test_business_rules_without_rules_suggests_some(con):
    con.execute(CLEAN)
    profile = profile_relation(con, "SELECT * FROM orders", now=NOW)
    assert profile.score("business_rules") == 100
    suggested = [f.expect for f in profile.category("business_rules").findings]
    assert "EXPECT UNIQUE (order_id)" in suggested
    assert "EXPECT (amount >= 0)" in suggested


def test_json_round_trip(con):
    con.execute(CLEAN)
    con.execute("UPDATE orders SET email = NULL WHERE order_id < 5")
    profile = profile_relation(con, "SELECT * FROM orders", now=NOW, full=True)
    again = Profile.from_json(profile.to_json())
    assert again == profile
    assert again.to_json() == profile.to_json()


def test_compare_profiles_reports_a_changed_null_share(con):
    con.execute(CLEAN)
    con.execute("UPDATE orders SET email = NULL WHERE order_id < 2")
    before = profile_relation(con, "SELECT * FROM orders", now=NOW)
    con.execute("UPDATE orders SET email = NULL WHERE order_id < 5")
    after = profile_relation(con, "SELECT * FROM orders", now=NOW)
    changes = compare_profiles(before, after)
    assert "email: NULL or blank 2.0% -> 5.0%" in changes
    # 2 then 5 missing of 700 cells (7 columns): 100 * (1 - 2/700) ** 5 = 98.6, then 96.5
    assert "completeness: 99 -> 96 (-3)" in changes
    assert compare_profiles(after, after) == []


def test_compare_profiles_names_new_and_resolved_findings(con):
    con.execute(CLEAN)
    clean = profile_relation(con, "SELECT * FROM orders", now=NOW)
    con.execute("UPDATE orders SET email = 'broken' WHERE order_id < 3")
    broken = profile_relation(con, "SELECT * FROM orders", now=NOW)
    assert any(line.startswith("new: email: 3.0%") for line in compare_profiles(clean, broken))
    assert any(line.startswith("resolved: email") for line in compare_profiles(broken, clean))


def test_a_large_run_checks_formats_on_a_sample_and_says_so(con):
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, CASE WHEN i % 100 = 0 THEN 'broken' "
        "ELSE 'u' || i || '@example.com' END AS email FROM range(50000) r(i)"
    )
    sampled = _only(profile_relation(con, "SELECT * FROM t", now=NOW), "validity",
                    "format:email")  # fmt: skip
    assert sampled.message.startswith("email: about ")
    assert sampled.share == pytest.approx(0.01, abs=0.004)
    exact = _only(profile_relation(con, "SELECT * FROM t", now=NOW, full=True), "validity",
                  "format:email")  # fmt: skip
    assert "1.0% of values (500 of 50,000)" in exact.message
    # The sample is repeatable: the same data gives the same profile.
    again = _only(profile_relation(con, "SELECT * FROM t", now=NOW), "validity", "format:email")
    assert again.message == sampled.message


def test_an_empty_relation(con):
    # (``note`` is text no name explains: its kind is looked for in values there are none of)
    con.execute("CREATE TABLE t (id INTEGER, email VARCHAR, note VARCHAR, ts TIMESTAMP)")
    profile = profile_relation(con, "SELECT * FROM t", now=NOW)
    assert profile.rows == 0
    assert all(c.score == 100 and not c.findings for c in profile.categories)
    assert profile.notes == ("no rows to profile",)


def test_parameters_of_the_relation_are_bound(con):
    con.execute(CLEAN)
    profile = profile_relation(
        con, "SELECT * FROM orders WHERE order_id < $n", {"n": 10}, time_columns=["created_at"],
        now=NOW,
    )  # fmt: skip
    assert profile.rows == 10


def test_known_columns_spare_the_bind_and_change_nothing(con):
    from sqlflow_magic.engine.base import Column

    con.execute(CLEAN)
    bound = profile_relation(con, "SELECT * FROM orders", time_columns=["created_at"], now=NOW)
    columns = [Column(r[0], r[1]) for r in con.execute("DESCRIBE orders").fetchall()]
    given = profile_relation(
        con, "SELECT * FROM orders", time_columns=["created_at"], now=NOW, columns=columns
    )
    assert given.to_json() == bound.to_json()
    # ...and both describe the table as plain SQL sees it.
    assert given.rows == con.execute("SELECT count(*) FROM orders").fetchone()[0]
    assert [c.name for c in given.columns] == [c.name for c in columns]


def test_awkward_names_and_types_are_quoted_and_survive(con):
    con.execute(
        'CREATE TABLE t AS SELECT i AS "order id", i AS "select", [i, i] AS list_col, '
        "{'a': i} AS struct_col, CAST(i AS DOUBLE) / (i % 3) AS ratio, "
        "INTERVAL (i) MINUTE AS wait, 'x' AS \"it's\" FROM range(30) r(i)"
    )
    profile = profile_relation(con, 'SELECT * FROM t', now=NOW, full=True)  # fmt: skip
    assert [c.name for c in profile.columns][:2] == ["order id", "select"]
    nonfinite = _only(profile, "accuracy", "nonfinite")  # 1/0 is inf, 0/0 is NaN
    assert (nonfinite.column, nonfinite.share) == ("ratio", pytest.approx(10 / 30))


def test_the_target_is_never_its_own_reference(con):
    con.execute("CREATE TABLE orders AS SELECT i AS order_id FROM range(10) r(i)")
    target = TableRef("memory", "main", "orders", exists=True)
    profile = profile_relation(con, "SELECT * FROM orders", target=target, now=NOW)
    assert not [f for f in profile.findings if f.check == "orphans"]
    explicit = [Reference("order_id", '"memory"."main"."orders"', "order_id", "main.orders")]
    again = profile_relation(con, "SELECT * FROM orders", references=explicit, now=NOW)
    assert not _problems(again, "consistency")


def test_a_bad_relation_raises_the_database_error(con):
    with pytest.raises(duckdb.CatalogException):
        profile_relation(con, "SELECT * FROM no_such_table", now=NOW)


def test_compare_a_run_profile_with_a_whole_table_profile(con):
    con.execute(CLEAN)
    run = profile_relation(con, "SELECT * FROM orders WHERE order_id < 10", now=NOW)
    table = profile_relation(con, "SELECT * FROM orders", now=NOW, full=True)
    changes = compare_profiles(run, table)
    assert changes[0] == "the last profile covered the 10 rows one run wrote: shares compare, " \
        "row counts do not"  # fmt: skip
    assert not any(line.startswith("rows:") for line in changes)
    assert (run.full, table.full) == (False, True)


def test_a_reference_prefers_the_targets_schema_and_a_column_of_the_same_name(con):
    # Three candidates: other.customers (wrong schema), and in main both an ``id`` and a
    # ``customer_id`` column, which disagree. Only main.customers.customer_id lacks 98, 99.
    con.execute(
        "CREATE SCHEMA other;"
        "CREATE TABLE other.customers AS SELECT i AS customer_id FROM range(10) r(i);"
        "CREATE TABLE customers AS SELECT i AS id, i AS customer_id FROM range(98) r(i);"
        "UPDATE customers SET id = 1000 + id WHERE customer_id < 50;"
        "CREATE TABLE orders AS SELECT i AS order_id, i AS customer_id FROM range(100) r(i)"
    )
    target = TableRef("memory", "main", "orders", exists=True)
    finding = _only(
        profile_relation(con, "SELECT * FROM orders", target=target, now=NOW),
        "consistency",
        "orphans",
    )
    assert "main.customers.customer_id" in finding.message
    assert "2.0% of rows (2 of 100)" in finding.message


def test_kinds_recognised_by_values_are_remembered_for_the_next_runs(con):
    from sqlflow_magic.quality.measure import SAMPLE_ROWS

    kinds = {}
    # ``contact`` is not named like an email column: its values say what it holds.
    con.execute(
        f"CREATE TABLE first AS SELECT 'u' || i || '@example.com' AS contact "
        f"FROM range({SAMPLE_ROWS}) r(i)"
    )
    first = profile_relation(con, "SELECT * FROM first", now=NOW, kinds=kinds)
    assert first.column("contact").kind == "email"
    assert kinds == {("contact", "VARCHAR"): "email"}
    # The next batch's values alone would not be recognised (2 of 3 are not emails)...
    con.execute(
        "CREATE TABLE second AS SELECT CASE WHEN i % 3 = 0 THEN 'u' || i || '@example.com' "
        "ELSE 'nobody' END AS contact FROM range(300) r(i)"
    )
    assert profile_relation(con, "SELECT * FROM second", now=NOW).column("contact").kind is None
    # ...but the column was recognised once: 200 of 300 are invalid emails.
    again = profile_relation(con, "SELECT * FROM second", now=NOW, kinds=kinds)
    email = _only(again, "validity", "format:email")
    assert "66.7% of values (200 of 300)" in email.message


def test_recognised_kinds_are_kept_per_target_and_definition():
    from sqlflow_magic.quality.recognised import RecognisedKinds

    kinds = RecognisedKinds()
    kinds.of("main.t", "SELECT a")[("contact", "VARCHAR")] = "email"
    assert kinds.of("MAIN.T", "SELECT a") == {("contact", "VARCHAR"): "email"}
    assert kinds.of("main.u", "SELECT a") == {}  # another target's column is its own
    assert kinds.of("main.t", "SELECT b") == {}  # a new definition starts over
    assert kinds.of("main.t", "SELECT a") == {}  # ...and the old one is gone
    kinds.of("main.t", "SELECT a")[("contact", "VARCHAR")] = "email"
    kinds.forget()
    assert kinds.of("main.t", "SELECT a") == {}


def test_a_small_batch_is_recognised_again_next_time(con):
    kinds = {}
    con.execute("CREATE TABLE few AS SELECT 'nobody' AS contact FROM range(10)")
    few = profile_relation(con, "SELECT * FROM few", now=NOW, kinds=kinds)
    assert few.column("contact").kind is None
    assert kinds == {}
    con.execute("CREATE TABLE many AS SELECT 'u' || i || '@x.com' AS contact FROM range(50) r(i)")
    many = profile_relation(con, "SELECT * FROM many", now=NOW, kinds=kinds)
    assert many.column("contact").kind == "email"
