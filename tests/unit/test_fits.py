"""Which query types an existing column stores losslessly (SPEC section 6, first rule)."""

from __future__ import annotations

import pytest

from sqlflow_magic.modes.shape import fits_losslessly


@pytest.mark.parametrize(
    ("query_type", "table_type"),
    [
        ("INTEGER", "BIGINT"), ("SMALLINT", "INTEGER"), ("INTEGER", "DOUBLE"),
        ("BIGINT", "HUGEINT"), ("FLOAT", "DOUBLE"), ("DATE", "TIMESTAMP"),
        ("DECIMAL(10,2)", "DECIMAL(18,3)"), ("INTEGER", "DECIMAL(18,2)"),
        ("UINTEGER", "BIGINT"), ("NULL", "VARCHAR"), ("VARCHAR", "VARCHAR"),
    ],
)  # fmt: skip
def test_fits(query_type, table_type):
    assert fits_losslessly(query_type, table_type)


@pytest.mark.parametrize(
    ("query_type", "table_type"),
    [
        ("BIGINT", "INTEGER"), ("VARCHAR", "INTEGER"), ("INTEGER", "VARCHAR"),
        ("DOUBLE", "DECIMAL(18,2)"), ("DOUBLE", "FLOAT"), ("TIMESTAMP", "DATE"),
        ("DECIMAL(18,3)", "DECIMAL(10,2)"), ("BIGINT", "DECIMAL(10,2)"), ("INTEGER", "UINTEGER"),
        ("BIGINT", "FLOAT"),
    ],
)  # fmt: skip
def test_does_not_fit(query_type, table_type):
    assert not fits_losslessly(query_type, table_type)
