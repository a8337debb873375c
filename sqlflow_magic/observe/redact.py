"""Redact values that look like personal data or secrets before they reach a log or a message.

What is redacted (each replaced by ``[REDACTED:<kind>]``):

- ``email``: ``name@domain.tld``.
- ``card``: 13-19 digits, plain or in groups split by spaces or dashes, that pass the Luhn
  check and start with 2-6 (the issuer ranges of Visa, Mastercard, Amex, Discover, JCB,
  UnionPay, Maestro). The prefix check keeps Luhn-valid ids that start with 0, 1, 7, 8 or
  9 (epoch milliseconds, many order numbers) out; one random number in ten passes Luhn.
- ``iban``: an IBAN whose mod-97 checksum holds.
- ``national_id``: US SSN (``123-45-6789`` or with spaces; the never-issued 000/666/9xx
  areas excluded), UK National Insurance numbers (``AB 12 34 56 C``, the letters HMRC
  allows), French INSEE/NIR numbers (15 digits whose key checks).
- ``phone``: international ``+`` numbers of 8-15 digits (E.164, with or without spaces,
  dots, dashes, parentheses) and common national formats written with separators: North
  American ``(555) 123-4567`` / ``555-123-4567``, UK ``020 7946 0958`` / ``07700 900123``,
  French ``01 23 45 67 89``. Ten bare digits are not redacted: they are ids as often.
- ``token``: AWS access key ids (``AKIA…``), GitHub (``ghp_…``, ``github_pat_…``), Slack
  (``xox?-…``), Stripe secret keys (``sk_live_…``, ``rk_…``), Google (``AIza…``), OpenAI
  style ``sk-…``, JWTs, ``Bearer``/``Basic`` credentials, PEM private key blocks.
- ``secret``: the value after a name that says secret (``password=``, ``token:``,
  ``"api_key": "…"``, ``aws_secret_access_key=``, SQL's ``password = '…'``), whatever the
  value; after the weaker ``key=``/``sig=``/``auth=`` only a long high-entropy value.
- ``password``: the password of a URL, ``postgres://user:[REDACTED:password]@host``.

Left alone on purpose: ISO dates and timestamps, version numbers, decimal amounts, order
ids, UUIDs (run ids and keys, not personal by themselves) and IP addresses (operational:
which host a database is on). A bare 40-character hex string is not redacted either (a
git sha or a checksum looks the same); after ``token=`` or ``key=`` it is.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Mapping
from typing import Any

_MARK = "[REDACTED:{}]"


def _mark(kind: str) -> str:
    return _MARK.format(kind)


# -- validators ------------------------------------------------------------------------


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str | None:
    digits = re.sub(r"[ -]", "", match[0])
    if 13 <= len(digits) <= 19 and digits[0] in "23456" and _luhn(digits):
        return _mark("card")
    return None


def _iban(match: re.Match[str]) -> str | None:
    text = match[0].replace(" ", "")
    moved = text[4:] + text[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return _mark("iban") if 15 <= len(text) <= 34 and int(number) % 97 == 1 else None


def _insee(match: re.Match[str]) -> str | None:
    text = re.sub(r"\s", "", match[0])
    body, key = text[:13], int(text[13:])
    # Corsica's departments 2A and 2B count as 19 and 18 for the key (INSEE's rule).
    number = int(body.replace("2A", "19").replace("2B", "18"))
    return _mark("national_id") if 97 - number % 97 == key else None


def _phone_digits(low: int, high: int) -> Callable[[re.Match[str]], str | None]:
    def check(match: re.Match[str]) -> str | None:
        count = sum(ch.isdigit() for ch in match[0])
        return _mark("phone") if low <= count <= high else None

    return check


def _high_entropy(value: str) -> bool:
    core = value.strip("\"'")
    return (
        len(core) >= 20
        and any(c.isdigit() for c in core)
        and any(c.isalpha() for c in core)
        and len(set(core)) >= 10
    )


# -- patterns, applied in order ----------------------------------------------------------

# Names whose value is a secret whatever it looks like; an optional prefix (db_, aws_,
# GITHUB_, X-) is allowed, so aws_secret_access_key and X-Api-Key match too.
_SECRET_NAMES = (
    r"password|passwd|passphrase|pwd|secret|client[_-]?secret|secret[_-]?access[_-]?key"
    r"|token|access[_-]?token|refresh[_-]?token|auth[_-]?token|id[_-]?token|api[_-]?key"
    r"|apikey|access[_-]?key|private[_-]?key|credentials?|session[_-]?(?:id|key|token)"
)
# A value: quoted, or a run up to a separator.
_VALUE = r"(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s,;&\"'<>{}()\]]+)"

Replace = str | Callable[[re.Match[str]], str | None]
# Each pattern runs only when its guard passes: a needle (lowercase) is in the text, or
# the text has a digit. Most log values (targets, modes, run ids) then cost a few
# substring tests instead of twenty regex scans (bench/observe.py).
_DIGITS = ("digits",)
_PATTERNS: list[tuple[re.Pattern[str], Replace, tuple[str, ...]]] = [
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
            re.S,
        ),
        _mark("token"),
        ("private key",),
    ),
    # scheme://user:password@host -> keep the user and host, drop the password.
    (
        re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*):([^\s@/]+)@"),
        lambda m: f"{m[1]}:{_mark('password')}@",
        ("://",),
    ),
    (
        re.compile(
            r"(?i)\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
            r"(?:(bearer|basic|token|digest|negotiate)\s+)?([^\s\"',;]+)"
        ),
        lambda m: f"{m[1]}{m[2] + ' ' if m[2] else ''}{_mark('token')}",
        ("authorization",),
    ),
    (
        re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
        lambda m: f"{m[1]} {_mark('token')}",
        ("bearer", "basic"),
    ),
    (
        re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
        _mark("token"),
        ("eyj",),
    ),
    (
        re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
        _mark("token"),
        ("akia", "asia", "agpa", "aida", "aroa", "anpa", "anva", "aipa"),
    ),
    (
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
        _mark("token"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), _mark("token"), ("xox",)),
    (
        re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),
        _mark("token"),
        ("k_live_", "k_test_"),
    ),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), _mark("token"), ("aiza",)),
    (re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"), _mark("token"), ("sk-",)),
    # name=value, name: value, "name": "value", SQL's name = 'value'.
    (
        re.compile(
            rf"(?i)(?<![A-Za-z0-9])((?:[a-z0-9]+[_-])*(?:{_SECRET_NAMES})[\"']?\s*[:=]\s*)"
            rf"({_VALUE})"
        ),
        lambda m: f"{m[1]}{_mark('secret')}" if not m[2].startswith("[REDACTED") else None,
        ("pass", "pwd", "secret", "token", "key", "credential", "session"),
    ),
    (
        re.compile(
            r"(?i)(?<![A-Za-z0-9])((?:[a-z0-9]+[_-])*(?:key|sig|signature|auth)"
            rf"[\"']?\s*[:=]\s*)({_VALUE})"
        ),
        lambda m: f"{m[1]}{_mark('secret')}" if _high_entropy(m[2]) else None,
        ("key", "sig", "auth"),
    ),  # fmt: skip
    (
        re.compile(
            r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
            r"(?![\w-])"
        ),
        _mark("email"),
        ("@",),
    ),
    (
        re.compile(
            r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?"
            r"(?![A-Za-z0-9])"
        ),
        _iban,
        _DIGITS,
    ),  # fmt: skip
    (
        re.compile(
            r"(?<![\w.-])[12] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[AB]) ?"
            r"\d{3} ?\d{3} ?\d{2}(?![\w-]|\.\d)"
        ),
        _insee,
        _DIGITS,
    ),  # fmt: skip
    (
        re.compile(
            r"(?<![\w.-])(?:\d{13,19}|\d{4}(?:([ -])\d{3,6})(?:\1\d{3,6}){1,3})"
            r"(?![\w-]|\.\d)"
        ),
        _card,
        _DIGITS,
    ),  # fmt: skip
    (
        re.compile(
            r"(?<![\w.-])(?!000|666|9\d\d)\d{3}([ -])(?!00)\d{2}\1(?!0000)\d{4}"
            r"(?![\w-]|\.\d)"
        ),
        _mark("national_id"),
        _DIGITS,
    ),  # fmt: skip
    (
        re.compile(
            r"(?<![A-Za-z0-9])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z]"
            r"[A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])"
        ),
        _mark("national_id"),
        _DIGITS,
    ),  # fmt: skip
    (
        re.compile(r"(?<![\w+])\+[1-9](?:[ .-]?\(?\d\)?){7,14}(?![\w-]|\.\d)"),
        _phone_digits(8, 15),
        ("+",),
    ),
    (
        re.compile(
            r"(?<![\w.(+-])(?:\(\d{3}\) ?\d{3}[-. ]\d{4}|\d{3}([-. ])\d{3}\1\d{4}"
            r"|0[1-9]([ .])\d{2}(?:\2\d{2}){3}"
            r"|0\d{4} \d{6}|0\d{3} \d{3} \d{4}|0\d{2} \d{4} \d{4})(?![\w-]|\.\d)"
        ),
        _mark("phone"),
        _DIGITS,
    ),
]
_HAS_DIGIT = re.compile(r"\d")
# One scan decides whether any pattern can apply; then each guard is one compiled search.
_GUARDS = [
    _HAS_DIGIT if needles is _DIGITS else re.compile("|".join(map(re.escape, needles)))
    for _, _, needles in _PATTERNS
]
_ANY = re.compile(
    "|".join(g.pattern for g in _GUARDS if g is not _HAS_DIGIT) + r"|\d", re.IGNORECASE
)

_SECRET_WORDS = frozenset(
    [
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "secret",
        "secrets",
        "token",
        "tokens",
        "apikey",
        "credential",
        "credentials",
        "authorization",
        "auth",
        "cookie",
    ]
)
_SECRET_PAIRS = frozenset(
    {("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"),
     ("session", "id"), ("session", "key"), ("signing", "key"), ("encryption", "key")}
)  # fmt: skip
# A name that ends with one of these describes a secret without holding it (token_count).
_DESCRIBES = frozenset(
    ["count", "len", "length", "type", "limit", "ttl", "expiry", "expires", "url", "uri", "name"]
)


def redact_text(text: str) -> str:
    """``text`` with every value that looks personal or secret replaced by a marker.

    Args:
        text: any text: an error message, a log field, a SQL excerpt.

    Returns:
        The text with ``[REDACTED:<kind>]`` in place of each such value.

    >>> redact_text("owner alice@example.com paid with 4111 1111 1111 1111")
    'owner [REDACTED:email] paid with [REDACTED:card]'
    >>> redact_text("order ORD-2025-000123 of 2025-05-01 for 1234.50, v1.2.3")
    'order ORD-2025-000123 of 2025-05-01 for 1234.50, v1.2.3'
    """
    if not text or _ANY.search(text) is None:
        return text
    low = text.lower()
    for (pattern, replace, _), guard in zip(_PATTERNS, _GUARDS, strict=True):
        if guard.search(low) is None:
            continue
        if isinstance(replace, str):
            text = pattern.sub(replace, text)
        else:
            text = pattern.sub(lambda m, f=replace: f(m) or m[0], text)
    return text


@functools.lru_cache(maxsize=1024)  # field names repeat: run_id, target, error, ...
def is_secret_name(name: str) -> bool:
    """Whether a field named ``name`` holds a secret (password, api_key, X-Auth-Token...).

    >>> [is_secret_name(n) for n in ("db_password", "apiKey", "author", "token_count")]
    [True, True, False, False]
    """
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    words = [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]
    if not words or words[-1] in _DESCRIBES:
        return False
    return bool(_SECRET_WORDS.intersection(words)) or any(
        pair in _SECRET_PAIRS for pair in itertools.pairwise(words)
    )


def redact_value(name: str, value: Any) -> Any:
    """``value`` as it may be shown, given the name of the field that holds it.

    A field whose name says secret is replaced whole; text is passed through
    ``redact_text``; mappings and sequences are redacted item by item; numbers, dates and
    None pass unchanged.

    >>> redact_value("password", "hunter2"), redact_value("note", "call +44 20 7946 0958")
    ('[REDACTED:secret]', 'call [REDACTED:phone]')
    """
    if value is None or isinstance(value, bool):
        return value
    if is_secret_name(name):
        return _mark("secret")
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return redact_mapping(value)
    if isinstance(value, (list, tuple)):
        return [redact_value(name, item) for item in value]
    return value


def redact_mapping(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``mapping`` with each value passed through ``redact_value`` under its key.

    >>> redact_mapping({"user": "bob@example.org", "api_key": "abc", "rows": 3})
    {'user': '[REDACTED:email]', 'api_key': '[REDACTED:secret]', 'rows': 3}
    """
    return {key: redact_value(str(key), value) for key, value in mapping.items()}
