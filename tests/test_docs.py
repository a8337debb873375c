"""The docs keep up with the code: every option is documented and doctests pass."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize(
    "option",
    ["-o NAME", "--dry-run", "--start", "--end", "%sqlflow connect", "%sqlflow status",
     "%sqlflow history", "%sqlflow reset", "%sqlflow metrics", "%sqlflow serve-metrics",
     "%sqlflow alert add", "%sqlflow log", "%sqlflow quality", "make demo", "make test"],
)  # fmt: skip
def test_every_option_is_in_the_readme(option):
    assert option in README


def test_every_cell_option_is_in_the_magic_help():
    from sqlflow_magic.magic import SqlflowMagics, _cell_parser

    help_text = SqlflowMagics.sqlflow.__doc__
    for action in _cell_parser()._actions:
        assert any(flag in help_text for flag in action.option_strings)


@pytest.mark.parametrize(
    "module",
    ["sqlflow_magic.syntax.parse", "sqlflow_magic.syntax.names", "sqlflow_magic.modes.shape",
     "sqlflow_magic.modes.window", "sqlflow_magic.render.views", "sqlflow_magic.render.progress",
     "sqlflow_magic.engine.parsed"],
)  # fmt: skip
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0
    assert result.failed == 0
