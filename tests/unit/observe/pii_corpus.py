"""The redaction corpus: real-looking personal data and secrets, and near-misses.

Card numbers are made valid (or invalid) by a Luhn check digit computed here,
independently of the module's own check. Shared by test_redact and test_run_log.
"""

from __future__ import annotations


def luhn_complete(prefix: str) -> str:
    """``prefix`` plus the check digit that makes it Luhn-valid (textbook algorithm)."""
    digits = [int(c) for c in prefix][::-1]
    total = sum(sum(divmod(d * 2, 10)) if i % 2 == 0 else d for i, d in enumerate(digits))
    return prefix + str((10 - total % 10) % 10)


def luhn_break(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


VISA = luhn_complete("411111111111111")  # 4111 1111 1111 1111
MASTERCARD = luhn_complete("555555555555444")
AMEX = luhn_complete("37828224631000")
DISCOVER = luhn_complete("601111111111111")
JCB_19 = luhn_complete("353011133330000000")
MAESTRO_13 = luhn_complete("501800000000")

# (text, the secret part that must vanish, marker kind)
POSITIVES = [
    ("mail alice@example.com now", "alice@example.com", "email"),
    ("From: John.Doe+billing@mail.example.co.uk", "John.Doe+billing@mail.example.co.uk", "email"),
    ("<jane_o'neil@corp.io>", "neil@corp.io", "email"),
    (f"card {VISA}", VISA, "card"),
    (
        f"card {VISA[:4]} {VISA[4:8]} {VISA[8:12]} {VISA[12:]} expired",
        VISA[4:8] + " " + VISA[8:12],
        "card",
    ),
    (
        f"mc={MASTERCARD[:4]}-{MASTERCARD[4:8]}-{MASTERCARD[8:12]}-{MASTERCARD[12:]}",
        MASTERCARD[12:],
        "card",
    ),
    (f"amex {AMEX[:4]} {AMEX[4:10]} {AMEX[10:]}", AMEX[4:10], "card"),
    (f"discover {DISCOVER}.", DISCOVER, "card"),
    (f"jcb {JCB_19}", JCB_19, "card"),
    (f"maestro {MAESTRO_13}", MAESTRO_13, "card"),
    ("IBAN GB82 WEST 1234 5698 7654 32", "5698 7654", "iban"),
    ("iban=DE89370400440532013000", "DE89370400440532013000", "iban"),
    ("ssn 123-45-6789 on file", "123-45-6789", "national_id"),
    ("SSN: 078 05 1120", "078 05 1120", "national_id"),
    ("NI number AB 12 34 56 C", "12 34 56", "national_id"),
    ("nino=JG103759A", "JG103759A", "national_id"),
    ("NIR 1 84 12 76 451 089 46", "451 089", "national_id"),
    ("insee 269054958815780", "269054958815780", "national_id"),
    ("call +1 (415) 555-2671", "555-2671", "phone"),
    ("whatsapp +14155552671", "+14155552671", "phone"),
    ("tel +44 20 7946 0958", "7946 0958", "phone"),
    ("tel: +33 6 12 34 56 78", "12 34 56 78", "phone"),
    ("office (415) 555-2671", "555-2671", "phone"),
    ("cell 415-555-2671", "415-555-2671", "phone"),
    ("cell 415.555.2671", "415.555.2671", "phone"),
    ("London 020 7946 0958", "7946 0958", "phone"),
    ("mobile 07700 900123", "07700 900123", "phone"),
    ("Paris 01 23 45 67 89", "01 23 45 67 89", "phone"),
    ("AKIAIOSFODNN7EXAMPLE in env", "AKIAIOSFODNN7EXAMPLE", "token"),
    (
        "GITHUB 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",
        "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",
        "token",
    ),
    (
        "pat github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz0123456789",
        "github_pat_11ABCDEFG0",
        "token",
    ),
    ("slack xoxb-123456789012-123456789012-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-1234", "token"),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "token"),
    ("restricted rk_test_51H8xYZabcdefGHIJ0123", "rk_test_51H8xYZabcdefGHIJ0123", "token"),
    ("google AIzaSyA-1234567890abcdefghijklmnopqrstu", "AIzaSyA-1234567890", "token"),
    ("openai sk-proj-AbCdEf0123456789GhIjKlMn", "sk-proj-AbCdEf0123456789", "token"),
    (
        "jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "token",
    ),
    ("Authorization: Bearer abc123.def456-ghi789", "abc123.def456-ghi789", "token"),
    ("authorization=Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA==", "token"),
    (
        "curl -H 'Bearer 9f86d081884c7d659a2feaa0c55ad015'",
        "9f86d081884c7d659a2feaa0c55ad015",
        "token",
    ),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "MIIEpAIBAAKCAQEA",
        "token",
    ),
    ("password=hunter2 next", "hunter2", "secret"),
    ("db_password: 'correct horse'", "correct horse", "secret"),
    ('{"api_key": "abc", "user": "bob"}', '"abc"', "secret"),
    ("token=abc123&page=2", "abc123", "secret"),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI", "secret"),
    ("client_secret = s3cr3t-value", "s3cr3t-value", "secret"),
    ("X-Api-Key: 0123456789abcdef", "0123456789abcdef", "secret"),
    ("SELECT * FROM users WHERE password = 'letmein'", "letmein", "secret"),
    (
        "https://x.io/cb?key=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
        "9f86d081884c7d659a2f",
        "secret",
    ),
    ("sig=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA", "secret"),
    ("postgres://app:S3cret!@db.internal:5432/prod", "S3cret!", "password"),
    ("mysql://root:hunter2@10.0.0.5/db", "hunter2", "password"),
    ("https://user:tok3n@example.com/repo.git", "tok3n", "password"),
]

# Must come back unchanged.
NEAR_MISSES = [
    "2025-05-01",
    "2025-05-01 12:00:00",
    "2025-05-01T12:00:00.123456Z",
    "2025-05-01 12:00:00+02:00",
    "window (2025-05-01 00:00:00, 2025-05-02 00:00:00]",
    "1716200000000",  # epoch milliseconds
    "1716200000000000000",  # epoch nanoseconds
    "order ORD-2025-000123",
    "invoice INV-20250501-0042",
    "v1.2.3 and 10.4.12 and 2.0.0-rc.1",
    "amount 1234567.89 EUR",
    "total 4111111111111111.00",  # a decimal amount, not a card
    f"id {luhn_break(VISA)}",  # 16 digits failing Luhn
    "id 9780306406157",  # an ISBN-13: Luhn-valid-looking but not a card prefix
    f"id {luhn_complete('123456789012345')}",  # Luhn-valid, no card prefix
    "a9f0e61a-137d-4e6b-8f3c-2f1d8d5b4c3a",  # UUIDs stay (documented)
    "host 192.168.1.10 port 5432",  # IP addresses stay (documented)
    "sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",  # bare hex: a sha, not a secret
    "run 3f2a9c1b7e4d",
    "MODE UPSERT KEY (order_id)",
    "no such column for KEY: orders.order_idd",
    "key=order_id",  # a weak name with a short, plain value
    "token_count=5",
    "tokens used 12345",
    "duration 0.001s, 12.5 ms, rows 1234567",
    "user@host",  # no domain
    "see https://example.com/docs?page=2",
    "postgres://db.internal:5432/prod",
    "INSEE 1 84 12 76 451 089 47",  # wrong key
    "SSN 000-12-3456",  # never-issued area
    "version 123-45-67890",
    "QQ 12 34 56 C",  # HMRC's specimen prefix
    "x BG 12 34 56 A",  # a prefix HMRC never issues
    "+5",
    "score 99.5 / 100",
    "DECIMAL(18,3) -> DECIMAL(38,3)",
    "EXPECT (amount >= 0) failed for 3 rows",
    "author=Ada Lovelace",
    "Line 1, Col 13: MODE UPSERT ⟨INTO⟩ orders",
]
