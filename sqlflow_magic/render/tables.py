"""Frames for the cell's value, and rich tables when there is no notebook to show them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping

from sqlflow_magic.runner import RunResult

SUMMARY_COLUMNS = [
    "target", "mode", "status", "rows_in", "inserted", "updated", "deleted", "left_out",
    "window_start", "window_end", "watermark", "duration", "run_id",
]  # fmt: skip


class RunSummary(Mapping[str, object]):
    """A transform statement's value: one row saying what the run did.

    It reads like a dict (``summary["inserted"]``, ``summary.inserted``), shows as a
    one-row table, and ``to_pandas()`` gives that table as a DataFrame. The DataFrame is
    built only when asked for (display included), because building one costs about as
    much as a small incremental run's own bookkeeping.
    """

    def __init__(self, row: dict[str, object], profile=None, target: str = "") -> None:
        self._row = row
        self._frame = None
        self.profile = profile  # the quality profile of the rows the run wrote, if any
        self._target = target

    def __getitem__(self, column: str) -> object:
        return self._row[column]

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)

    def __getattr__(self, name: str) -> object:
        row = self.__dict__.get("_row", {})
        if name in row:
            return row[name]
        raise AttributeError(name)

    def to_pandas(self):
        """The summary as a one-row pandas DataFrame."""
        if self._frame is None:
            import pandas as pd

            self._frame = pd.DataFrame([self._row])
        return self._frame

    def _repr_html_(self) -> str:
        html = self.to_pandas()._repr_html_()
        if self.profile is None:
            return html
        from sqlflow_magic.render.quality_view import profile_html

        # The profile of the rows written, folded away under its one-line headline.
        title = f"Quality of the rows this run wrote to {self._target}"
        return (
            f"{html}<details><summary>{_quality_line(self.profile)}</summary>"
            f"{profile_html(self.profile, title)}</details>"
        )

    def __repr__(self) -> str:
        text = repr(self.to_pandas())
        return text if self.profile is None else f"{text}\n{_quality_line(self.profile)}"


def summary_frame(result: RunResult) -> RunSummary:
    """The one-row summary that is a transform statement's value."""
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
    if result.rule_results:
        row["rules"] = _rules_text(result.rule_results)
    if out.schema_changes:
        row["schema_changes"] = "; ".join(c.describe() for c in out.schema_changes)
    if window is None:  # the window, watermark and left-out rows exist for INCREMENTAL only
        for name in _INCREMENTAL_ONLY:
            del row[name]
    if result.profile is not None:
        row["quality"] = result.profile.overall
    return RunSummary(row, result.profile, result.target)


_INCREMENTAL_ONLY = ("left_out", "window_start", "window_end", "watermark")


def _quality_line(profile) -> str:
    """``quality 72/100, lowest: validity 72 (email)`` — the profile in one line."""
    from sqlflow_magic.quality.model import title

    worst = min(profile.categories, key=lambda c: c.score)
    if worst.score >= 100:
        return "quality 100/100: no problems found in the rows written"
    columns = sorted({f.column for f in worst.findings if f.is_problem and f.column})
    where = f" ({', '.join(columns[:3])})" if columns else ""
    return (
        f"quality {profile.overall}/100, lowest: {title(worst.category)} {worst.score}{where}"
        " — %sqlflow quality TABLE for the whole table"
    )


def _rules_text(results) -> str:
    passed = sum(r.passed for r in results)
    warned = sum(not r.passed and r.rule.warn for r in results)
    parts = [f"{passed} passed"] + ([f"{warned} warned"] if warned else [])
    return ", ".join(parts)


def _show_time(value: dt.datetime | None, none: str | None = None) -> str | None:
    return none if value is None else value.isoformat(sep=" ")


def print_rich(frame, title: str) -> None:
    """Print ``frame`` as a rich table (terminals and plain IPython).

    Columns with no value at all are left out and values are shortened for reading:
    times to the second, lags to days/hours/minutes, floats to six significant digits.
    When the table would not fit the terminal, each row is printed as a small
    field/value card instead of squeezing every column to a sliver.
    """
    from rich.console import Console
    from rich.table import Table

    console = Console()
    shown = [c for c in frame.columns if not frame[c].map(_is_missing).all()] or list(frame.columns)
    texts = [[_cell_text(v) for v in row] for row in frame[shown].itertuples(index=False)]
    widths = [
        max([len(str(name))] + [len(r[i]) for r in texts]) + 3 for i, name in enumerate(shown)
    ]
    if texts and sum(widths) + 1 > console.width:
        for row in texts:
            card = Table(title=f"{title} · {row[0]}" if title else row[0], show_header=False,
                         title_justify="left")  # fmt: skip
            card.add_column(style="bold")
            card.add_column()
            for name, text in zip(shown[1:], row[1:], strict=True):
                if text:
                    card.add_row(str(name), text)
            console.print(card)
        return
    table = Table(title=title or None, header_style="bold", title_justify="left")
    for name in shown:
        table.add_column(str(name), no_wrap=name in _NO_WRAP)
    for row in texts:
        table.add_row(*row)
    if frame.empty:
        table.caption = "nothing yet: run a CREATE TABLE ... MODE ... transform first"
    console.print(table)


_NO_WRAP = {"target", "mode", "status", "run_id", "duration", "watermark", "last_run_at",
            "started_at", "window_start", "window_end", "lag"}  # fmt: skip


def _cell_text(value: object) -> str:
    import pandas as pd

    if _is_missing(value):
        return ""
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        if value.hour == value.minute == value.second == 0 and not value.microsecond:
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (pd.Timedelta, dt.timedelta)):
        return _short_duration(pd.Timedelta(value).total_seconds())
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _short_duration(seconds: float) -> str:
    """``93784`` -> ``1d 2h 3m``: a lag, read at a glance."""
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    parts.append(f"{minutes}m")
    return sign + " ".join(parts)


def _is_missing(value: object) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-like values are never "missing"
        return False
