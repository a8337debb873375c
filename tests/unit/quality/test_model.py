"""Scores, the data model and its JSON form, with no database."""

from __future__ import annotations

import datetime as dt

import pytest

from sqlflow_magic.quality.model import (
    CATEGORIES,
    CategoryScore,
    ColumnProfile,
    Finding,
    Profile,
    RuleOutcome,
    age_score,
    category_scores,
    expect_clause,
    share_score,
)


@pytest.mark.parametrize(
    ("share", "score"),
    [(0.0, 100), (1e-9, 99), (0.01, 95), (0.03, 86), (0.10, 59), (0.25, 24), (0.5, 3), (1.0, 0)],
)
def test_share_score(share, score):
    # 100 * (1 - share) ** 5, never 100 once something is wrong
    assert share_score(share) == score


@pytest.mark.parametrize(
    ("age", "score"),
    [
        (dt.timedelta(hours=23), 100),
        (dt.timedelta(days=1), 100),
        (dt.timedelta(days=2), 91),  # 100 * 0.5 ** (1 / 7) = 90.6
        (dt.timedelta(days=8), 50),
        (dt.timedelta(days=30), 6),  # 100 * 0.5 ** (29 / 7) = 5.7
        (dt.timedelta(days=1, seconds=1), 99),
    ],
)
def test_age_score(age, score):
    assert age_score(age) == score


def _finding(category, column, score, check="nulls", share=0.1, rec="fix it"):
    return Finding(category, check, column, share, score, f"{column}: bad", rec)


def _profile() -> Profile:
    findings = [
        _finding("completeness", "a", 59),
        _finding("validity", "b", 86, check="format:email"),
        _finding("consistency", "a, c", 95, check="order"),
        Finding("uniqueness", "candidate_key", "d", None, 100, "d is unique", "EXPECT UNIQUE (d)"),
    ]
    return Profile(
        rows=100,
        columns=tuple(ColumnProfile(n, "VARCHAR", nulls=0) for n in "abcd"),
        categories=category_scores(findings),
        profiled_at=dt.datetime(2024, 1, 2, 3, 4, 5),
    )


def test_category_scores_are_all_seven_in_order_each_its_worst_finding():
    profile = _profile()
    assert [c.category for c in profile.categories] == list(CATEGORIES)
    assert [c.score for c in profile.categories] == [59, 100, 95, 100, 100, 86, 100]
    assert profile.overall == 59
    with pytest.raises(KeyError):
        profile.score("timeliness")


def test_worst_columns_count_pairs_for_both_columns_and_skip_information():
    profile = _profile()
    assert profile.worst_columns(5) == [("a", 59), ("b", 86), ("c", 95)]
    assert profile.worst_columns(1) == [("a", 59)]
    assert profile.column_score("d") == 100


def test_json_round_trip_keeps_everything():
    profile = _profile()
    text = profile.to_json()
    assert Profile.from_json(text) == profile
    assert '"version": 1' in text


def test_from_json_refuses_other_versions():
    with pytest.raises(ValueError, match="version 1"):
        Profile.from_json('{"version": 99}')


def test_expect_clause_keeps_quoted_parentheses_and_within():
    assert expect_clause("EXPECT FRESH (ts) WITHIN '1 day' to keep it") == (
        "EXPECT FRESH (ts) WITHIN '1 day'"
    )
    assert expect_clause("or EXPECT (regexp_full_match(x, '(a|b)\\)')) upstream") == (
        "EXPECT (regexp_full_match(x, '(a|b)\\)'))"
    )
    assert expect_clause("clean upstream") is None


def test_rule_outcome_from_a_rule_result():
    class Rule:
        text, warn = "NOT NULL (a)", True

    class Result:
        rule, failing_rows, checked_rows, detail = Rule(), 3, 10, ""

    assert RuleOutcome.from_result(Result()) == RuleOutcome("NOT NULL (a)", "warn", 3, 10)


def test_category_score_defaults():
    assert CategoryScore("validity", 100).findings == ()
