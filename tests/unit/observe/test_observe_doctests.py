"""The observe modules' doctests run (tests/test_docs.py lists other packages' modules)."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    ["sqlflow_magic.observe.redact", "sqlflow_magic.observe.alerts",
     "sqlflow_magic.observe.tracing"],
)  # fmt: skip
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0
    assert result.failed == 0
