"""Redaction: a corpus of real-looking personal data and secrets, and near-misses that stay.

Each positive names the value that must disappear and the marker that replaces it; each
near-miss must come back unchanged (the corpus is in pii_corpus.py).
"""

from __future__ import annotations

import pytest
from pii_corpus import NEAR_MISSES, POSITIVES, VISA

from sqlflow_magic.observe.redact import (
    is_secret_name,
    redact_mapping,
    redact_text,
    redact_value,
)


@pytest.mark.parametrize(("text", "secret", "kind"), POSITIVES)
def test_personal_data_and_secrets_are_redacted(text, secret, kind):
    out = redact_text(text)
    assert secret not in out
    assert f"[REDACTED:{kind}]" in out


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_stay(text):
    assert redact_text(text) == text


def test_the_surroundings_stay():
    text = f"order ORD-2025-000123 by alice@example.com on 2025-05-01, card {VISA}, 12.50 EUR"
    assert redact_text(text) == (
        "order ORD-2025-000123 by [REDACTED:email] on 2025-05-01, card [REDACTED:card], 12.50 EUR"
    )


def test_url_password_keeps_user_and_host():
    assert (
        redact_text("postgres://app:S3cret!@db.internal:5432/prod")
        == "postgres://app:[REDACTED:password]@db.internal:5432/prod"
    )


@pytest.mark.parametrize("text", [t for t, _, _ in POSITIVES])
def test_redaction_is_idempotent(text):
    once = redact_text(text)
    assert redact_text(once) == once


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True), ("db_password", True), ("PASSWORD", True), ("userPassword", True),
        ("passwd", True), ("secret", True), ("client_secret", True), ("token", True),
        ("access_token", True), ("X-Auth-Token", True), ("api_key", True), ("apiKey", True),
        ("apikey", True), ("Authorization", True), ("credentials", True),
        ("private_key", True), ("aws_secret_access_key", True), ("session_id", True),
        ("auth", True), ("cookie", True),
        ("author", False), ("token_count", False), ("keyword", False), ("key", False),
        ("target", False), ("error", False), ("rows_inserted", False), ("secret_name", False),
        ("monkey", False), ("passenger", False),
    ],
)  # fmt: skip
def test_secret_names(name, secret):
    assert is_secret_name(name) is secret


def test_redact_value_and_mapping():
    assert redact_value("password", "hunter2") == "[REDACTED:secret]"
    assert redact_value("pin_secret", 1234) == "[REDACTED:secret]"
    assert redact_value("note", "call 415-555-2671") == "call [REDACTED:phone]"
    assert redact_value("rows", 3) == 3
    assert redact_value("token", None) is None
    nested = {
        "user": {"email": "bob@example.org", "password": "pw", "id": 7},
        "headers": ["Authorization: Bearer abcdefgh12345678", "Accept: */*"],
        "amount": 12.5,
    }
    assert redact_mapping(nested) == {
        "user": {"email": "[REDACTED:email]", "password": "[REDACTED:secret]", "id": 7},
        "headers": ["Authorization: Bearer [REDACTED:token]", "Accept: */*"],
        "amount": 12.5,
    }
    assert nested["user"]["password"] == "pw"  # a copy; the input is untouched
