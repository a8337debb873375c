"""Markers for every collected item, the tutorial notebooks included."""

from __future__ import annotations

import os

import pytest

# A run that happens to pass the progress bar's delay under a loaded CI machine would add an
# output cell and fail nbval's comparison: the tutorials are checked without the bar (the
# browser tests start their lab without this variable, and check the bar there).
os.environ.setdefault("SQLFLOW_PROGRESS_AFTER", "off")

SPEED_MARKERS = {"slow", "notebook", "browser"}


def pytest_collection_modifyitems(items):
    for item in items:
        if type(item).__name__ == "NbCellItem":  # nbval's cells of notebooks/*.ipynb
            item.add_marker(pytest.mark.notebook)
        # Every test without a speed marker is a fast one (as sqlmesh does).
        if not SPEED_MARKERS & {m.name for m in item.iter_markers()}:
            item.add_marker(pytest.mark.fast)
