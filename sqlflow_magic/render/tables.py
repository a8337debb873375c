"""Frames for the cell's value, and rich tables when there is no notebook to show them."""

from __future__ import annotations

import datetime as dt

from sqlflow_magic.runner import RunResult

SUMMARY_COLUMNS = [
    "target", "mode", "status", "rows_in", "inserted", "updated", "deleted", "left_out",
    "window_start", "window_end", "watermark", "duration", "run_id",
]  # fmt: skip


def summary_frame(result: RunResult):
    """The one-row summary that is a transform statement's value."""
    import pandas as pd

    out = result.outcome
    window = result.window
    row = {
        "target": result.target,
        "mode": result.mode.value,
        "status": result.status,
        "rows_in": out.rows_in,
        "inserted": out.inserted,
        "updated": out.updated,
        "deleted": out.deleted,
        "left_out": out.left_out,
        "window_start": _show_time(window.start, "-infinity") if window else None,
        "window_end": _show_time(window.end) if window else None,
        "watermark": _show_time(result.watermark_after),
        "duration": f"{result.duration_s:.3f}s",
        "run_id": result.run_id,
    }
    if window is None:  # the window, watermark and left-out rows exist for INCREMENTAL only
        for name in _INCREMENTAL_ONLY:
            del row[name]
    return pd.DataFrame([row])


_INCREMENTAL_ONLY = ("left_out", "window_start", "window_end", "watermark")


def _show_time(value: dt.datetime | None, none: str | None = None) -> str | None:
    return none if value is None else value.isoformat(sep=" ")


def print_rich(frame, title: str) -> None:
    """Print ``frame`` as a rich table (terminals and plain IPython)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for name in frame.columns:
        table.add_column(str(name), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*("" if _is_missing(v) else str(v) for v in row))
    if frame.empty:
        table.caption = "nothing yet: run a CREATE TABLE ... MODE ... transform first"
    Console().print(table)


def _is_missing(value: object) -> bool:
    try:
        return value is None or value != value  # NaN and NaT are not equal to themselves
    except (TypeError, ValueError):
        return False
