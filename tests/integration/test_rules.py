"""EXPECT rules: each kind passing and failing, WARN recorded, ERROR rolling back everything."""

from __future__ import annotations

import datetime as dt

import pytest

from sqlflow_magic.errors import SqlflowSyntaxError
from sqlflow_magic.quality.rules import QualityCheckFailed

ORDERS = """
CREATE TABLE raw_orders AS SELECT * FROM (VALUES
    (1, 10, 25.00, 'new',     TIMESTAMP '2025-05-01 09:00'),
    (2, 11, 40.00, 'paid',    TIMESTAMP '2025-05-01 10:00'),
    (3, NULL, 15.00, 'paid',  TIMESTAMP '2025-05-01 11:00'),
    (4, 12, -5.00, 'shipped', TIMESTAMP '2025-05-01 12:00'),
    (5, 13, 60.00, 'lost',    TIMESTAMP '2025-05-01 13:00'),
    (6, 14, 70.00, 'lost',    TIMESTAMP '2025-05-01 14:00')
) v(order_id, customer_id, amount, status, ordered_at)
"""
NOW = "--end '2025-05-02 00:00:00'"


@pytest.fixture
def orders(con):
    con.execute(ORDERS)


def results(con, run_id=None):
    return con.execute(
        "SELECT rule, severity, passed, failing_rows FROM sqlflow.rule_results "
        "WHERE $r IS NULL OR run_id = $r ORDER BY rule",
        {"r": run_id},
    ).fetchall()


def transform(rules: str, where: str = "TRUE", mode: str = "UPSERT KEY (order_id)") -> str:
    return f"CREATE TABLE clean MODE {mode}\n{rules}\nAS SELECT * FROM raw_orders WHERE {where}"


@pytest.mark.parametrize(
    ("rule", "passing_where", "failing_where", "failing_rows"),
    [
        ("EXPECT NOT NULL (customer_id, amount)", "order_id <> 3", "TRUE", 1),
        ("EXPECT (amount >= 0)", "order_id <> 4", "TRUE", 1),
        ("EXPECT (status IN ('new', 'paid', 'shipped'))", "order_id < 5", "TRUE", 2),
    ],
)
def test_row_rules_pass_and_fail(sql, con, orders, rule, passing_where, failing_where,
                                 failing_rows):  # fmt: skip
    result = sql(transform(rule, passing_where))
    assert result["rules"] == "1 passed"
    with pytest.raises(QualityCheckFailed) as info:
        sql(transform(rule, failing_where))
    (failed,) = info.value.results
    assert (failed.failing_rows, len(failed.sample)) == (failing_rows, failing_rows)
    assert rule in str(info.value)


def test_unique_checks_the_resulting_table_not_only_the_batch(sql, con, orders):
    rule = "EXPECT UNIQUE (customer_id)"
    sql(transform(rule, "order_id IN (1, 2)", mode="APPEND"))
    # the batch alone is unique, but customer 10 is already in the table
    con.execute("UPDATE raw_orders SET customer_id = 10 WHERE order_id = 4")
    with pytest.raises(
        QualityCheckFailed,
        match=r"2 rows of the table share a key .*1 rows written.*customer_id=10",
    ):
        sql(transform(rule, "order_id = 4", mode="APPEND"))
    assert con.execute("SELECT count(*) FROM clean").fetchone()[0] == 2


def test_fresh_compares_the_newest_value_with_now(sql, con, orders):
    fresh = "EXPECT FRESH (ordered_at) WITHIN '1 day'"
    inc = "INCREMENTAL BY ordered_at"
    sql(transform(fresh, mode=inc), NOW)  # newest 14:00, now is the next midnight: 10 h old
    con.execute("DELETE FROM raw_orders WHERE ordered_at > TIMESTAMP '2025-05-01 09:00'")
    sql("CREATE TABLE stale MODE REPLACE AS SELECT * FROM raw_orders")
    with pytest.raises(QualityCheckFailed, match=r"newest ordered_at is 2025-05-01 09:00:00 UTC"):
        sql("CREATE TABLE stale MODE INCREMENTAL BY ordered_at\n"
            "EXPECT FRESH (ordered_at) WITHIN '2 hours'\nAS SELECT * FROM raw_orders",
            NOW)  # fmt: skip


def test_a_warn_rule_is_recorded_and_shown_but_never_blocks(sql, con, orders, capsys):
    result = sql(transform("EXPECT (status IN ('new', 'paid', 'shipped')) WARN\n"
                           "EXPECT NOT NULL (order_id)"))  # fmt: skip
    assert result["rules"] == "1 passed, 1 warned"
    assert con.execute("SELECT count(*) FROM clean").fetchone()[0] == 6
    out = capsys.readouterr().out
    assert "warning: EXPECT (status IN ('new', 'paid', 'shipped')) WARN: 2 of 6 rows fail" in out
    assert results(con, result["run_id"]) == [
        ("EXPECT (status IN ('new', 'paid', 'shipped')) WARN", "warn", False, 2),
        ("EXPECT NOT NULL (order_id)", "error", True, 0),
    ]


def test_a_failing_error_rule_rolls_back_data_watermark_and_schema(sql, con, orders):
    cell = ("CREATE TABLE inc MODE INCREMENTAL BY ordered_at\nEXPECT (amount >= 0)\n"
            "AS SELECT order_id, customer_id, {amount} AS amount, ordered_at FROM raw_orders "
            "WHERE ordered_at <= TIMESTAMP '{upto}'")  # fmt: skip
    sql(cell.format(amount="amount::INTEGER", upto="2025-05-01 10:00"), NOW)
    before = (
        con.execute("SELECT * FROM inc ORDER BY ALL").fetchall(),
        con.execute("SELECT watermark FROM sqlflow.watermarks").fetchall(),
        con.execute(
            "SELECT data_type FROM duckdb_columns() WHERE table_name = 'inc' "
            "AND column_name = 'amount'"
        ).fetchall(),  # fmt: skip
    )
    # BIGINT would widen amount, order 4 has a negative amount: all of it must roll back
    with pytest.raises(QualityCheckFailed, match=r"1 of 2 rows fail .*order_id=4"):
        sql(cell.format(amount="amount::BIGINT", upto="2025-05-01 12:00"), NOW)
    after = (
        con.execute("SELECT * FROM inc ORDER BY ALL").fetchall(),
        con.execute("SELECT watermark FROM sqlflow.watermarks").fetchall(),
        con.execute(
            "SELECT data_type FROM duckdb_columns() WHERE table_name = 'inc' "
            "AND column_name = 'amount'"
        ).fetchall(),  # fmt: skip
    )
    assert after == before
    assert before[1] == [(dt.datetime(2025, 5, 1, 10),)]
    assert con.execute("SELECT count(*) FROM sqlflow.schema_changes").fetchone()[0] == 0
    status, error = con.execute(
        "SELECT status, error FROM sqlflow.runs ORDER BY started_at DESC LIMIT 1"
    ).fetchone()
    assert status == "failed"
    assert "EXPECT (amount >= 0)" in error
    # the failed run's rule results are kept, to explain it
    assert ("EXPECT (amount >= 0)", "error", False, 1) in results(con)


def test_the_message_lists_every_failing_rule_with_up_to_five_rows(sql, con):
    con.execute("CREATE TABLE many AS SELECT range AS id, NULL::INT AS x FROM range(20)")
    with pytest.raises(QualityCheckFailed) as info:
        sql("CREATE TABLE m MODE APPEND EXPECT NOT NULL (x) EXPECT (id < 3) "
            "AS SELECT * FROM many")  # fmt: skip
    text = str(info.value)
    assert "2 EXPECT rule(s) failed" in text
    assert "EXPECT NOT NULL (x): 20 of 20 rows fail" in text
    assert "EXPECT (id < 3): 17 of 20 rows fail" in text
    assert all(len(r.sample) == 5 for r in info.value.results)


def test_a_rule_on_a_missing_column_points_at_the_rule(sql, orders):
    with pytest.raises(Exception, match="no such column for EXPECT NOT NULL") as info:
        sql(transform("EXPECT NOT NULL (customer)"))
    assert (info.value.line, info.value.col) == (3, 1)
    assert "customer_id" in info.value.hint


def test_rule_syntax_errors_point_at_line_and_column(sql, orders):
    with pytest.raises(SqlflowSyntaxError) as info:
        sql(transform("  EXPECT (amount >= )"))
    assert info.value.line == 3
    assert "^" in info.value.excerpt


def test_a_kernel_recognises_a_targets_text_columns_once_per_definition(sql, con):
    from sqlflow_magic.quality.model import Profile

    def last_kind() -> str | None:
        (text,) = con.execute(
            "SELECT profile FROM sqlflow.quality_profiles ORDER BY profiled_at DESC, rowid DESC "
            "LIMIT 1"
        ).fetchone()
        return Profile.from_json(text).column("contact").kind

    def fill(values: str) -> None:  # the source changes behind the kernel's back
        con.execute(
            f"CREATE OR REPLACE TABLE src AS SELECT {values} AS contact FROM range(300) r(i)"
        )

    first = "CREATE TABLE t MODE APPEND AS SELECT contact FROM src"
    second = "CREATE TABLE t MODE APPEND AS SELECT contact FROM src WHERE contact <> ''"
    fill("'u' || i || '@x.com'")
    sql(first)
    assert last_kind() == "email"
    fill("'nobody'")
    sql(first)  # remembered: these are 300 invalid emails
    assert last_kind() == "email"
    sql(second)  # a new definition recognises anew
    assert last_kind() is None
    fill("'u' || i || '@x.com'")
    sql(second)  # remembered: no kind
    assert last_kind() is None
    sql("CREATE TABLE unrelated (a INTEGER)")  # a plain statement that may write
    sql(second)
    assert last_kind() == "email"
