"""The quality modules' doctests run (tests/test_docs.py lists other packages' modules)."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    ["sqlflow_magic.quality.model", "sqlflow_magic.quality.formats",
     "sqlflow_magic.quality.measure", "sqlflow_magic.quality.recommend",
     "sqlflow_magic.quality.profile", "sqlflow_magic.quality.recognised",
     "sqlflow_magic.render.quality_view"],
)  # fmt: skip
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0
    assert result.failed == 0
