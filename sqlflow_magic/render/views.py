"""What ``%sqlflow status``, ``history`` and ``metrics`` show (issue 4).

Each view wraps the DataFrame the state layer builds and shows it three ways:

- ``text/plain``: aligned columns for saved notebooks, terminals without rich and nbval.
  Values that follow the clock keep the shapes the notebooks' sanitizer knows: run ids of
  12 hex digits, clock times with a fraction of a second, durations like ``0.012s`` and
  lags like ``537 days 13:09:56``.
- ``text/html``: a compact table styled with JupyterLab's theme variables, so it reads in
  light and dark themes (with fallbacks for other frontends). The history adds small bar
  charts of duration and rows per run, drawn as inline SVG.
- rich: a coloured table for terminals (:meth:`print_rich`).

The views are plain display objects, not widgets: a saved notebook keeps their text and
HTML, where a widget would show "model not found" once the kernel is gone.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Watermark lag: fresh below WARN, late below ALERT, stale beyond (issue 4).
LAG_WARN = dt.timedelta(hours=1)
LAG_ALERT = dt.timedelta(days=1)
LAG_LEVELS = ("fresh", "late", "stale")

_ERROR_WIDTH = 60  # an error in the text form is cut here; the HTML keeps it in a tooltip


def lag_level(
    lag: object, warn_after: dt.timedelta = LAG_WARN, alert_after: dt.timedelta = LAG_ALERT
) -> str | None:
    """How far a watermark trails the clock: ``fresh``, ``late`` or ``stale``.

    Args:
        lag: now - watermark (a timedelta; None or NaT when there is no watermark).
        warn_after: lags from here on are ``late`` (amber).
        alert_after: lags from here on are ``stale`` (red).

    Returns:
        The level, or None when there is no lag to judge.

    >>> lag_level(dt.timedelta(minutes=5)), lag_level(dt.timedelta(hours=3))
    ('fresh', 'late')
    >>> lag_level(dt.timedelta(days=2)), lag_level(None)
    ('stale', None)
    """
    if _missing(lag):
        return None
    seconds = _as_timedelta(lag).total_seconds()
    if seconds < warn_after.total_seconds():
        return "fresh"
    if seconds < alert_after.total_seconds():
        return "late"
    return "stale"


# -- cells and tables -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
    text: str = ""
    cls: str = ""  # CSS class suffix(es), also picks the rich style
    title: str = ""  # HTML tooltip
    html: str = ""  # markup instead of the escaped text
    short: str = ""  # terminals: a shorter text (no sanitizer reads them)

    @property
    def terminal(self) -> str:
        return self.short or self.text


@dataclass(frozen=True)
class _Column:
    name: str
    numeric: bool = False
    hide_zeros: bool = False  # a column of zeros only says nothing either
    rank: int = 0  # narrow terminals drop the highest ranks first; 0 is always kept
    forms: str = "th"  # t: text and rich, h: HTML (where cells can stack two lines)


_EMPTY = _Cell()


class _View:
    """A titled table of cells with text, HTML and rich forms."""

    title = ""

    def __init__(self) -> None:
        self.columns: list[_Column] = []
        self.rows: list[list[_Cell]] = []

    # subclasses fill these
    def _subtitle(self) -> str:
        return ""

    def _empty_text(self) -> str:
        return "nothing yet"

    def _extra_html(self) -> str:
        return ""

    def _legend_html(self) -> str:
        return ""

    def _extra_rich(self) -> list[Any]:
        return []

    def _shown(self, form: str = "t") -> list[int]:
        """Columns of ``form`` with a value in some row (empty columns say nothing)."""

        def says_something(i: int) -> bool:
            quiet = {"", "0"} if self.columns[i].hide_zeros else {""}
            return any(row[i].text not in quiet for row in self.rows)

        mine = [i for i, c in enumerate(self.columns) if form in c.forms]
        return [i for i in mine if says_something(i)] or mine

    # -- text -------------------------------------------------------------------------------

    def text(self) -> str:
        """The plain-text form (saved notebooks, nbval)."""
        head = f"{self.title}: {self._subtitle()}" if self._subtitle() else self.title
        if not self.rows:
            return f"{head}\n{self._empty_text()}"
        shown = self._shown()
        table = [[self.columns[i].name for i in shown]]
        table += [[row[i].text for i in shown] for row in self.rows]
        widths = [max(len(r[j]) for r in table) for j in range(len(shown))]
        lines = [head]
        for r in table:
            cells = [
                r[j].rjust(widths[j]) if self.columns[i].numeric else r[j].ljust(widths[j])
                for j, i in enumerate(shown)
            ]
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    # -- HTML -------------------------------------------------------------------------------

    def html(self) -> str:
        """The HTML form: a compact table in JupyterLab's theme colours."""
        sub = self._subtitle()
        parts = [
            '<div class="sqlflow-view">',
            _STYLE,
            '<div class="sqlflow-head">',
            f'<span class="sqlflow-title">{html.escape(self.title)}</span>',
            f'<span class="sqlflow-sub">{html.escape(sub)}</span>' if sub else "",
            self._legend_html(),
            "</div>",
            self._extra_html(),
        ]
        if not self.rows:
            parts.append(f'<div class="sqlflow-empty">{html.escape(self._empty_text())}</div>')
        else:
            shown = self._shown("h")
            parts.append('<table class="sqlflow-table"><thead><tr>')
            for i in shown:
                num = ' class="sqlflow-num"' if self.columns[i].numeric else ""
                parts.append(f"<th{num}>{html.escape(self.columns[i].name)}</th>")
            parts.append("</tr></thead><tbody>")
            for row in self.rows:
                parts.append("<tr>")
                for i in shown:
                    parts.append(_td(row[i], self.columns[i].numeric))
                parts.append("</tr>")
            parts.append("</tbody></table>")
        parts.append("</div>")
        return "".join(parts)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return {"text/plain": self.text(), "text/html": self.html()}

    def widget(self):
        """The HTML form in an ``ipywidgets.HTML``, to place in a layout of your own."""
        import ipywidgets

        return ipywidgets.HTML(self.html())

    # -- rich -------------------------------------------------------------------------------

    def rich(self, width: int | None = None):
        """A rich renderable: the table, with levels and outcomes in colour.

        Args:
            width: the terminal's width; a table that would not fit becomes one small
                field/value card per row instead of columns squeezed to slivers.
        """
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        sub = self._subtitle()
        title = f"{self.title} · {sub}" if sub else self.title
        if not self.rows:
            return Group(Text(title, style="bold"), Text(self._empty_text(), style="dim"))
        shown = self._shown()

        def natural(cols: list[int]) -> int:
            return (
                sum(
                    max([len(self.columns[i].name)] + [len(r[i].terminal) for r in self.rows]) + 3
                    for i in cols
                )
                + 1
            )

        while width is not None and natural(shown) > width:
            i = max(shown, key=lambda i: (self.columns[i].rank, i))
            if self.columns[i].rank == 0:
                break
            shown.remove(i)
        if width is not None and natural(shown) > width:
            cards = [Text(title, style="bold")]
            for row in self.rows:
                card = Table(show_header=False, box=None, padding=(0, 1))
                card.add_column(style="dim", no_wrap=True)
                card.add_column()
                for i in shown:
                    if row[i].terminal:
                        card.add_row(
                            self.columns[i].name, Text(row[i].terminal, _rich_style(row[i].cls))
                        )
                cards += [Text(""), card]
            return Group(*self._extra_rich(), *cards)
        table = Table(title=title, title_justify="left", header_style="bold")
        for i in shown:
            col = self.columns[i]
            table.add_column(col.name, justify="right" if col.numeric else "left", no_wrap=True)
        for row in self.rows:
            table.add_row(*(Text(row[i].terminal, style=_rich_style(row[i].cls)) for i in shown))
        return Group(*self._extra_rich(), table)

    def print_rich(self, console=None) -> None:
        """Print the rich form (terminals and plain IPython)."""
        from rich.console import Console

        console = console or Console()
        console.print(self.rich(console.width))


def _td(cell: _Cell, numeric: bool) -> str:
    # A cell with markup of its own (a chip) carries its classes there, not on the td.
    own = [] if cell.html else [f"sqlflow-{c}" for c in cell.cls.split()]
    classes = " ".join(["sqlflow-num"] * numeric + own)
    attrs = f' class="{classes}"' if classes else ""
    if cell.title:
        attrs += f' title="{html.escape(cell.title)}"'
    return f"<td{attrs}>{cell.html or html.escape(cell.text)}</td>"


_RICH_STYLES = {
    "lag-fresh": "green",
    "lag-late": "yellow",
    "lag-stale": "red",
    "status-success": "green",
    "status-failed": "bold red",
    "status-reset": "cyan",
    "error": "red",
    "target": "bold",
    "dim": "dim",
}


def _rich_style(cls: str) -> str:
    return " ".join(_RICH_STYLES.get(c, "") for c in cls.split()).strip()


# -- status -----------------------------------------------------------------------------


class StatusView(_View):
    """``%sqlflow status``: every transform, its watermark lag and its last run.

    Args:
        frame: ``state.views.status_frame(con)``.
        warn_after: lags from here on are amber (``late``).
        alert_after: lags from here on are red (``stale``).

    Example::

        StatusView(status_frame(con), warn_after=dt.timedelta(minutes=15))
    """

    title = "sqlflow status"

    def __init__(
        self,
        frame,
        *,
        warn_after: dt.timedelta = LAG_WARN,
        alert_after: dt.timedelta = LAG_ALERT,
    ) -> None:
        super().__init__()
        self.frame = frame
        self.warn_after, self.alert_after = warn_after, alert_after
        # Text has a column per field; HTML stacks related fields in one cell, two lines
        # high, so the table fits a notebook's width.
        self.columns = [
            _Column("target"), _Column("mode", rank=2, forms="t"),
            _Column("watermark", rank=3, forms="t"), _Column("lag", forms="t"),
            _Column("watermark lag", forms="h"), _Column("last run (UTC)", rank=1),
            _Column("rows changed", rank=2), _Column("duration", True, rank=4, forms="t"),
        ]  # fmt: skip
        self._levels: dict[str, str | None] = {}
        for rec in _records(frame):
            target = _text(rec.get("target"))
            lag = rec.get("lag")
            level = lag_level(lag, warn_after, alert_after)
            self._levels[target] = level
            lag_text = _lag_text(lag)
            mode = _mode_text(rec)
            watermark = _time_text(rec.get("watermark"))
            status = _text(rec.get("last_status"))
            at = _time_text(rec.get("last_run_at"), clock=True)
            duration = _duration_text(rec.get("duration"))
            self.rows.append([
                _Cell(target, "target", html=_stack(f"<b>{html.escape(target)}</b>", mode)),
                _Cell(mode),
                _Cell(watermark),
                _Cell(f"{lag_text} ({level})" if level else lag_text,
                      f"lag-{level}" if level else "", short=_short_span(lag) if level else ""),
                _Cell(lag_text, html=_stack(_chip(lag_text, level), watermark) if level else
                      html.escape(watermark)),
                _Cell(f"{status:<7} {at}".strip(), f"status-{status}" if status else "",
                      html=_stack(_chip(status, status), " · ".join(filter(None, [at, duration])))
                      if status else "",
                      short=f"{status} {at[:19]}".strip()),
                _Cell(_changes_text(rec) if status == "success" else ""),
                _Cell(duration),
            ])  # fmt: skip

    def _subtitle(self) -> str:
        n = len(self.rows)
        return f"{n} transform{'s' * (n != 1)}" if n else ""

    def _empty_text(self) -> str:
        return "no transforms yet: run a CREATE TABLE ... MODE ... AS SELECT ... cell first"

    def levels(self) -> dict[str, str | None]:
        """Each target's lag level (``fresh``, ``late``, ``stale`` or None)."""
        return dict(self._levels)

    def _legend_html(self) -> str:
        if not any(self._levels.values()):
            return ""
        marks = [
            ("fresh", f"&lt; {_span_text(self.warn_after)}"),
            ("late", f"&lt; {_span_text(self.alert_after)}"),
            ("stale", "beyond"),
        ]
        chips = "".join(
            f'<span class="sqlflow-chip sqlflow-lag-{lvl}">{lvl} {label}</span>'
            for lvl, label in marks
        )
        return f'<span class="sqlflow-legend">lag: {chips}</span>'


# -- history ----------------------------------------------------------------------------


class HistoryView(_View):
    """``%sqlflow history [TABLE]``: past runs, with bar charts of duration and rows.

    Args:
        frame: ``state.views.history_frame(con, target)``, newest first.
        target: the TABLE asked for, shown in the title.
        chart: draw the per-run charts above the table.
    """

    title = "sqlflow history"

    def __init__(self, frame, target: str | None = None, *, chart: bool = True) -> None:
        super().__init__()
        self.frame = frame
        self.target = target
        self.chart = chart
        if target:
            self.title = f"sqlflow history {target}"
        self.runs = [_Run.of(rec) for rec in _records(frame)]
        self.columns = [
            _Column("started (UTC)"), _Column("target"), _Column("mode", rank=3, forms="t"),
            _Column("status"), _Column("duration", True, rank=1),
            _Column("rows in", True, rank=1), _Column("inserted", True, rank=2, forms="t"),
            _Column("updated", True, rank=3, forms="t"),
            _Column("deleted", True, rank=3, forms="t"),
            _Column("left out", True, True, rank=5, forms="t"),
            _Column("rows changed", forms="h"), _Column("window", rank=5),
            _Column("watermark", rank=4, forms="t"), _Column("rules", rank=4),
            _Column("schema changes", rank=4), _Column("error", rank=2),
            _Column("run id", rank=6, forms="t"),
        ]  # fmt: skip
        # The title names a single target; the column would repeat it on every row.
        one_target = bool(target) and len({r.target for r in self.runs}) == 1
        for rec in _records(frame):
            status = _text(rec.get("status"))
            mode = _text(rec.get("mode"))
            error = _text(rec.get("error"))
            started = _time_text(rec.get("started_at"), clock=True)
            run_id = _text(rec.get("run_id"))
            window = _window_text(rec.get("window_start"), rec.get("window_end"))
            watermark = _time_text(rec.get("watermark_after"))
            changes = _changes_text(rec) if status == "success" else ""
            self.rows.append([
                _Cell(started, short=started[:19], html=_stack(html.escape(started), run_id)),
                _Cell("" if one_target else _text(rec.get("target")), "target"),
                _Cell(mode),
                _Cell(status, f"status-{status}" if status else "",
                      html=_stack(_chip(status, status), mode) if status else ""),
                _Cell(_duration_text(rec.get("duration"))),
                _Cell(_count(rec.get("rows_in"))),
                _Cell(_count(rec.get("rows_inserted"))),
                _Cell(_count(rec.get("rows_updated"))),
                _Cell(_count(rec.get("rows_deleted"))),
                _Cell(_count(rec.get("rows_left_out"))),
                _Cell(changes),
                _Cell(window, html=_stack(html.escape(window),
                                          f"watermark {watermark}" if watermark else "")),
                _Cell(watermark),
                _Cell(_text(rec.get("rules"))),
                _Cell(_text(rec.get("schema_changes"))),
                _Cell(_shorten(error, _ERROR_WIDTH), "error" if error else "", title=error),
                _Cell(run_id, "dim"),
            ])  # fmt: skip

    def _subtitle(self) -> str:
        n = len(self.rows)
        return f"{n} run{'s' * (n != 1)}, newest first" if n else ""

    def _empty_text(self) -> str:
        which = f"of {self.target} " if self.target else ""
        return f"no runs {which}yet: run a CREATE TABLE ... MODE ... AS SELECT ... cell first"

    def _extra_html(self) -> str:
        if not self.chart or not self.runs:
            return ""
        return _charts_html(self.runs)

    def _extra_rich(self) -> list[Any]:
        if not self.chart or not self.runs:
            return []
        from rich.text import Text

        lines = []
        groups = _by_target(self.runs)
        pad = max(len(t) for t, _ in groups)
        for target, runs in groups:
            durations = [r.duration or 0.0 for r in runs]
            line = Text(f"{target:<{pad}}  ", style="bold")
            line.append("duration ")
            line.append(_spark(durations), style="cyan")
            line.append(f" max {max(durations):.3f}s   rows in ")
            line.append(_spark([float(r.rows) for r in runs]), style="magenta")
            line.append(f" max {max(r.rows for r in runs):,}")
            lines.append(line)
        return lines


@dataclass(frozen=True)
class _Run:
    target: str
    status: str
    started: str
    duration: float | None
    rows: int

    @classmethod
    def of(cls, rec: dict[str, Any]) -> _Run:
        rows = rec.get("rows_in")
        if _missing(rows):
            rows = sum(
                0 if _missing(rec.get(c)) else int(rec[c])
                for c in ("rows_inserted", "rows_updated", "rows_deleted")
            )
        return cls(
            target=_text(rec.get("target")),
            status=_text(rec.get("status")),
            started=_time_text(rec.get("started_at"), clock=True),
            duration=_seconds_of(rec.get("duration")),
            rows=int(rows),
        )


def _by_target(runs: Sequence[_Run]) -> list[tuple[str, list[_Run]]]:
    """Runs per target, oldest first; targets in order of their latest run (newest first)."""
    groups: dict[str, list[_Run]] = {}
    for run in runs:  # the frame is newest first
        groups.setdefault(run.target, []).append(run)
    return [(target, list(reversed(rs))) for target, rs in groups.items()]


_CHART_TARGETS = 12  # beyond this many targets, the table is the better read
_MAX_SLOT = 24  # px per run: a handful of runs still reads as bars, not as a wall


def _charts_html(runs: Sequence[_Run]) -> str:
    """One target: two charts, duration and rows per run. Several: a row of small ones each."""
    groups = _by_target(runs)
    if len(groups) == 1:
        target_runs = groups[0][1]
        return (
            '<div class="sqlflow-charts sqlflow-charts-one">'
            + _bars_svg(target_runs, _durations(target_runs), "duration", _seconds, 340, 56)
            + _bars_svg(target_runs, _rows(target_runs), "rows in", _int_text, 340, 56)
            + "</div>"
        )
    rows = [
        "<tr><th>target</th><th>runs</th><th>duration per run</th><th>rows in per run</th></tr>"
    ]
    for target, target_runs in groups[:_CHART_TARGETS]:
        rows.append(
            f'<tr><td class="sqlflow-target">{html.escape(target)}</td>'
            f'<td class="sqlflow-num">{len(target_runs)}</td>'
            f"<td>{_bars_svg(target_runs, _durations(target_runs), '', _seconds, 160, 22)}</td>"
            f"<td>{_bars_svg(target_runs, _rows(target_runs), '', _int_text, 160, 22)}</td></tr>"
        )
    more = len(groups) - _CHART_TARGETS
    note = f'<div class="sqlflow-sub">and {more} more targets</div>' if more > 0 else ""
    return (
        f'<div class="sqlflow-charts"><table class="sqlflow-sparks">{"".join(rows)}</table>'
        f"{note}</div>"
    )


def _durations(runs: Sequence[_Run]) -> list[float]:
    return [r.duration if r.duration is not None else 0.0 for r in runs]


def _rows(runs: Sequence[_Run]) -> list[float]:
    return [float(r.rows) for r in runs]


def _int_text(value: float) -> str:
    return f"{int(value):,}"


def _bars_svg(runs: Sequence[_Run], values: Sequence[float], name: str, fmt, width: int,
              height: int) -> str:  # fmt: skip
    """Bars of one measure per run, oldest left; failed runs red, resets as dashed ticks.

    A ``name`` puts a caption above the bars; without one, the caption goes to their right.
    The SVG opens with ``<svg data-clock`` so that a notebook sanitizer can drop it whole:
    bar heights follow durations, which change on every run of a notebook.
    """
    n = len(values)
    slot = min(_MAX_SLOT, width / max(n, 1))
    bar = max(1.0, slot * 0.72)
    top = max(values, default=0.0)
    last = values[-1] if values else 0.0
    caption = f"max {fmt(top)} · last {fmt(last)}"
    if name:
        caption, above, side = f"{name} · {caption}", 16, 0
    else:
        above, side = 0, 150
    full_w, full_h = width + side, height + above
    parts = [
        f'<svg data-clock class="sqlflow-chart" width="{full_w}" height="{full_h}" '
        f'viewBox="0 0 {full_w} {full_h}" role="img" aria-label="{html.escape(caption)}">'
    ]
    if name:
        parts.append(
            f'<text x="0" y="11" class="sqlflow-chart-label">{html.escape(caption)}</text>'
        )
    else:
        parts.append(
            f'<text x="{width + 8}" y="{full_h - 5}" class="sqlflow-chart-label">'
            f"{html.escape(caption)}</text>"
        )
    parts.append(
        f'<line x1="0" y1="{full_h - 0.5}" x2="{width}" y2="{full_h - 0.5}" '
        'class="sqlflow-chart-axis"/>'
    )
    for i, (run, value) in enumerate(zip(runs, values, strict=True)):
        x = i * slot
        tip = html.escape(f"{run.started} · {run.status} · {fmt(value)}")
        if run.status == "reset":
            mid = x + bar / 2
            parts.append(
                f'<line x1="{mid:.1f}" y1="{above + 1}" x2="{mid:.1f}" y2="{full_h}" '
                f'class="sqlflow-bar-reset"><title>{tip}: watermark reset</title></line>'
            )
            continue
        h = 0.0 if top <= 0 else max(1.5, (height - 2) * value / top)
        if run.status == "failed":
            h = max(h, 3.0)  # a failed run shows even when it wrote nothing
        cls = "sqlflow-bar-failed" if run.status == "failed" else "sqlflow-bar"
        parts.append(
            f'<rect x="{x:.1f}" y="{full_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'class="{cls}"><title>{tip}</title></rect>'
        )
    parts.append("</svg>")
    return "".join(parts)


_SPARKS = "▁▂▃▄▅▆▇█"


def _spark(values: Sequence[float]) -> str:
    """``[1, 5, 10]`` -> ``▁▄█``: a terminal's bar chart."""
    top = max(values, default=0.0)
    if top <= 0:
        return _SPARKS[0] * len(values)
    return "".join(_SPARKS[min(7, int(v / top * 7.999))] for v in values)


# -- metrics ----------------------------------------------------------------------------


class MetricsView(_View):
    """``%sqlflow metrics``: a snapshot of the metrics registry.

    Args:
        frame: a DataFrame with columns ``metric``, ``labels`` (a dict, or Prometheus
            label text such as ``target="main.t",status="success"``) and ``value``.
    """

    title = "sqlflow metrics"

    def __init__(self, frame) -> None:
        super().__init__()
        self.frame = frame
        self.columns = [_Column("metric"), _Column("labels"), _Column("value", True)]
        previous = None
        for rec in _records(frame):
            metric = _text(rec.get("metric"))
            pairs = _label_pairs(rec.get("labels"))
            text = ", ".join(f'{k}="{v}"' for k, v in pairs)
            chips = "".join(
                f'<span class="sqlflow-label"><span class="sqlflow-dim">{html.escape(k)}=</span>'
                f"{html.escape(v)}</span>"
                for k, v in pairs
            )
            first = metric != previous
            self.rows.append([
                _Cell(metric, "metric" if first else "metric repeat"),
                _Cell(text, html=chips),
                _Cell(_metric_value(metric, rec.get("value"))),
            ])  # fmt: skip
            previous = metric

    def _subtitle(self) -> str:
        n = len(self.rows)
        return f"{n} series" if n else ""

    def _empty_text(self) -> str:
        return "no metrics yet: they count runs from the moment the extension is loaded"


def _mode_text(rec: dict[str, Any]) -> str:
    """``UPSERT KEY (id)``, ``INCREMENTAL BY hour``: the mode as the cell wrote it."""
    mode = _text(rec.get("mode"))
    keys = _text(rec.get("keys"))
    by = _text(rec.get("time_column"))
    return mode + (f" KEY ({keys})" if keys else "") + (f" BY {by}" if by else "")


def _changes_text(rec: dict[str, Any]) -> str:
    """``12 inserted, 3 deleted``: what a run changed, zeros left out."""
    parts = [
        f"{int(rec[c]):,} {word}"
        for c, word in (("rows_inserted", "inserted"), ("rows_updated", "updated"),
                        ("rows_deleted", "deleted"), ("rows_left_out", "left out"))
        if not _missing(rec.get(c)) and int(rec[c])
    ]  # fmt: skip
    return ", ".join(parts) or "no change"


def _stack(main_html: str, sub: str) -> str:
    """A cell of two lines: ``main_html``, then ``sub`` small and dim."""
    return main_html + (f'<div class="sqlflow-under">{html.escape(sub)}</div>' if sub else "")


def _label_pairs(labels: object) -> list[tuple[str, str]]:
    """Label pairs from a dict, ``k=v, k2=v2`` or Prometheus' ``k="v",k2="v2"``."""
    if _missing(labels) or labels == "":
        return []
    if isinstance(labels, dict):
        return [(str(k), _text(v)) for k, v in labels.items()]
    text = str(labels).strip().strip("{}")
    found = re.findall(r'(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,]*)', text)
    if not found:
        return [("", text)]
    return [(k, v[1:-1].replace('\\"', '"') if v.startswith('"') else v.strip())
            for k, v in found]  # fmt: skip


def _metric_value(metric: str, value: object) -> str:
    """A metric's value in its unit: epoch seconds as a time, seconds as a duration."""
    if _missing(value):
        return ""
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number) or math.isinf(number):
        return str(number)
    if metric.endswith("_timestamp_seconds"):
        stamp = dt.datetime.fromtimestamp(number, dt.timezone.utc).replace(tzinfo=None)
        return _time_text(stamp)
    if re.search(r"_seconds(_sum|_total)?$", metric):
        # Short ones as 0.012s, long ones (lags, ages) as 935 days 01:41:11: the shapes
        # the notebooks' sanitizer knows.
        return _seconds(number) if abs(number) < 60 else _lag_text(dt.timedelta(seconds=number))
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.6g}"


# -- formatting -------------------------------------------------------------------------


def _records(frame) -> Iterable[dict[str, Any]]:
    if frame is None:
        return []
    return frame.to_dict("records")


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-likes are never missing
        return False


def _text(value: object) -> str:
    if _missing(value):
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _count(value: object) -> str:
    return "" if _missing(value) else f"{int(value):,}"  # type: ignore[call-overload]


def _seconds(value: float) -> str:
    return f"{value:.3f}s"


def _seconds_of(value: object) -> float | None:
    """A duration as seconds: the frames carry text like ``0.012s``; numbers pass through."""
    if _missing(value):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    try:
        return float(str(value).strip().removesuffix("s"))
    except ValueError:
        return None


def _duration_text(value: object) -> str:
    seconds = _seconds_of(value)
    return "" if seconds is None or math.isnan(seconds) else _seconds(seconds)


def _as_timedelta(value: object) -> dt.timedelta:
    import pandas as pd

    return pd.Timedelta(value).to_pytimedelta()  # type: ignore[arg-type]


def _lag_text(lag: object) -> str:
    """``537 days 13:09:56``: pandas' form, to the second (the sanitizer knows it)."""
    if _missing(lag):
        return ""
    import pandas as pd

    return str(pd.Timedelta(lag).floor("s"))  # type: ignore[arg-type]


def _time_text(value: object, clock: bool = False) -> str:
    """A timestamp for reading.

    Data times (watermarks, windows) show what they hold: a date at midnight, seconds, or
    every digit of a fraction. Clock times (when a run started) show milliseconds; their
    fraction is also what marks them as clock times for the notebooks' sanitizer.
    """
    if _missing(value):
        return ""
    import pandas as pd

    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    if clock:
        return ts.strftime("%Y-%m-%d %H:%M:%S.") + f"{ts.microsecond // 1000:03d}"
    if ts.microsecond or ts.nanosecond:
        return ts.isoformat(sep=" ")
    if ts.hour == ts.minute == ts.second == 0:
        return ts.strftime("%Y-%m-%d")
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def _short_span(lag: object) -> str:
    """``935d 1h``, ``5h 0m``, ``20m``: a lag read at a glance (terminals)."""
    seconds = int(_as_timedelta(lag).total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes}m"
    return f"{sign}{minutes}m" if minutes else f"{sign}{seconds}s"


def _window_text(start: object, end: object) -> str:
    if _missing(start) and _missing(end):
        return ""
    return f"({_time_text(start) or '-infinity'}, {_time_text(end)}]"


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _span_text(span: dt.timedelta) -> str:
    """``1 h``, ``1 day``, ``30 min``: a threshold in the legend."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' * (unit == 'day' and n != 1)}"
    return f"{seconds} s"


def _chip(text: str, kind: str | None) -> str:
    family = "lag" if kind in LAG_LEVELS else "status"
    return f'<span class="sqlflow-chip sqlflow-{family}-{kind}">{html.escape(text)}</span>'


# JupyterLab's variables first, then VS Code's, then a light default. Selectors carry two
# classes so that they win over JupyterLab's `.jp-RenderedHTMLCommon table` rules.
_STYLE = """<style>
.sqlflow-view { font-family: var(--jp-ui-font-family, var(--vscode-font-family, sans-serif));
  font-size: var(--jp-ui-font-size1, 13px); color: var(--jp-ui-font-color1, inherit);
  --sqlflow-ok: var(--jp-success-color1, #388e3c); --sqlflow-warn: var(--jp-warn-color1, #f57c00);
  --sqlflow-bad: var(--jp-error-color1, #d32f2f); --sqlflow-accent: var(--jp-brand-color1, #1976d2);
  --sqlflow-dim: var(--jp-ui-font-color2, #757575);
  --sqlflow-line: var(--jp-border-color2, #e0e0e0); }
.sqlflow-view .sqlflow-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 10px;
  margin: 2px 0 6px 0; padding-left: 10px; }
.sqlflow-view .sqlflow-title { font-weight: 600; font-size: var(--jp-ui-font-size2, 14px); }
.sqlflow-view .sqlflow-sub, .sqlflow-view .sqlflow-dim, .sqlflow-view .sqlflow-empty {
  color: var(--sqlflow-dim); }
.sqlflow-view .sqlflow-legend { color: var(--sqlflow-dim);
  font-size: var(--jp-ui-font-size0, 11px); }
.sqlflow-view .sqlflow-legend .sqlflow-chip { margin-left: 4px; }
.sqlflow-view table.sqlflow-table { margin: 0; border-collapse: collapse; table-layout: auto;
  font-size: var(--jp-ui-font-size1, 13px); font-variant-numeric: tabular-nums; }
.sqlflow-view table.sqlflow-table th { text-align: left; font-weight: 600; padding: 4px 10px;
  color: var(--sqlflow-dim); border-bottom: 1px solid var(--jp-border-color1, #bdbdbd);
  white-space: nowrap; }
.sqlflow-view table.sqlflow-table td { text-align: left; padding: 3px 10px; white-space: nowrap;
  border-bottom: 1px solid var(--sqlflow-line); }
.sqlflow-view table.sqlflow-table .sqlflow-num { text-align: right; }
.sqlflow-view table.sqlflow-table td.sqlflow-target { font-weight: 600; }
.sqlflow-view .sqlflow-under { color: var(--sqlflow-dim); font-size: var(--jp-ui-font-size0, 11px);
  margin-top: 1px; }
.sqlflow-view table.sqlflow-table td.sqlflow-error { color: var(--sqlflow-bad); white-space: normal;
  min-width: 16em; }
.sqlflow-view table.sqlflow-table td.sqlflow-repeat { color: transparent; }
.sqlflow-view .sqlflow-chip { display: inline-block; padding: 0 6px; border-radius: 8px;
  line-height: 1.5; white-space: nowrap; }
.sqlflow-view .sqlflow-chip::before { content: "●"; margin-right: 4px; font-size: 0.8em; }
.sqlflow-view .sqlflow-lag-fresh, .sqlflow-view .sqlflow-status-success {
  background: color-mix(in srgb, var(--sqlflow-ok) 16%, transparent); }
.sqlflow-view .sqlflow-lag-fresh::before, .sqlflow-view .sqlflow-status-success::before {
  color: var(--sqlflow-ok); }
.sqlflow-view .sqlflow-lag-late {
  background: color-mix(in srgb, var(--sqlflow-warn) 18%, transparent); }
.sqlflow-view .sqlflow-lag-late::before { color: var(--sqlflow-warn); }
.sqlflow-view .sqlflow-lag-stale, .sqlflow-view .sqlflow-status-failed {
  background: color-mix(in srgb, var(--sqlflow-bad) 16%, transparent); }
.sqlflow-view .sqlflow-lag-stale::before, .sqlflow-view .sqlflow-status-failed::before {
  color: var(--sqlflow-bad); }
.sqlflow-view .sqlflow-status-reset {
  background: color-mix(in srgb, var(--sqlflow-dim) 16%, transparent); }
.sqlflow-view .sqlflow-status-reset::before { color: var(--sqlflow-dim); }
.sqlflow-view .sqlflow-label { display: inline-block; margin-right: 6px; padding: 0 5px;
  border: 1px solid var(--sqlflow-line); border-radius: 4px; }
.sqlflow-view .sqlflow-charts { margin: 0 0 10px 0; padding-left: 10px; }
.sqlflow-view .sqlflow-charts-one { display: flex; flex-wrap: wrap; gap: 28px; }
.sqlflow-view .sqlflow-charts table.sqlflow-sparks { margin-left: -10px; }
.sqlflow-view .sqlflow-empty { padding-left: 10px; }
.sqlflow-view table.sqlflow-sparks { margin: 0; border-collapse: collapse; table-layout: auto; }
.sqlflow-view table.sqlflow-sparks th { text-align: left; font-weight: 600; padding: 2px 10px;
  color: var(--sqlflow-dim); font-size: var(--jp-ui-font-size0, 11px); }
.sqlflow-view table.sqlflow-sparks td { text-align: left; padding: 2px 10px; background: none;
  vertical-align: bottom; white-space: nowrap; }
.sqlflow-view table.sqlflow-sparks td.sqlflow-num { text-align: right; color: var(--sqlflow-dim); }
.sqlflow-view table.sqlflow-sparks tr, .sqlflow-view table.sqlflow-sparks tr:hover {
  background: none; }
.sqlflow-view .sqlflow-sparks .sqlflow-target { font-weight: 600; }
.sqlflow-view .sqlflow-chart-label { fill: var(--sqlflow-dim); font-size: 10px;
  font-family: var(--jp-ui-font-family, sans-serif); }
.sqlflow-view .sqlflow-chart-axis { stroke: var(--sqlflow-line); stroke-width: 1; }
.sqlflow-view .sqlflow-bar { fill: var(--sqlflow-accent); }
.sqlflow-view .sqlflow-bar:hover, .sqlflow-view .sqlflow-bar-failed:hover { opacity: 0.7; }
.sqlflow-view .sqlflow-bar-failed { fill: var(--sqlflow-bad); }
.sqlflow-view .sqlflow-bar-reset { stroke: var(--sqlflow-dim); stroke-width: 1.5;
  stroke-dasharray: 2 2; }
</style>"""
