"""Showing a quality profile: plain text, rich (terminals), static HTML and ipywidgets.

Every form shows the same things in the same order: the seven category scores as bars,
the worst columns, what changed since the last profile, the findings with their
recommendations (problems first, information after), and the columns. The text and HTML
forms are deterministic (no clock times; shares to one decimal), so a saved notebook
reads well and nbval can compare it.

In a notebook, ``ProfileDisplay`` shows static HTML with the text as its ``text/plain``:
it renders in JupyterLab, VS Code, nbviewer and on GitHub, with or without a kernel. The
ipywidgets view (``profile_widget``) is opt-in (``ProfileDisplay(..., widget=True)``): a
saved notebook reopened without its kernel shows "Error displaying widget: model not
found" in JupyterLab instead of falling back to the HTML (jupyter-widgets/ipywidgets#3773;
widget state is not saved by default), and a profile is a report worth keeping.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence

from sqlflow_magic.quality.model import CATEGORIES, Finding, Profile, expect_clause, title

BAR_WIDTH = 20
TEXT_WIDTH = 100
WORST_COLUMNS = 5

# (lowest score, colour, rich style): green when nothing much is wrong, amber, red.
_BANDS = ((90, "#1a7f37", "green"), (70, "#bf8700", "yellow"), (0, "#cf222e", "red"))


def band(score: int) -> tuple[str, str]:
    """The (HTML colour, rich style) of a score.

    >>> band(95), band(75)[1], band(10)[1]
    (('#1a7f37', 'green'), 'yellow', 'red')
    """
    return next((colour, style) for low, colour, style in _BANDS if score >= low)


def _bar(score: int) -> str:
    filled = round(score * BAR_WIDTH / 100)
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def _problems(profile: Profile, category: str) -> list[Finding]:
    return [f for f in profile.category(category).findings if f.is_problem]


def _information(profile: Profile) -> list[Finding]:
    return [f for f in profile.findings if not f.is_problem]


def _headline(profile: Profile, heading: str) -> str:
    worst = min(profile.categories, key=lambda c: c.score)
    lowest = (
        f"lowest score {worst.score} ({title(worst.category)})"
        if worst.score < 100
        else "no problems found"
    )
    columns = f"{len(profile.columns)} column{'s' if len(profile.columns) != 1 else ''}"
    return f"{heading}: {profile.rows:,} rows, {columns}; {lowest}"


def _column_rows(profile: Profile) -> list[list[str]]:
    """The columns table: name, type, missing share, distinct, min, max, kind."""
    rows = []
    for col in profile.columns:
        missing = (col.nulls + col.blanks) / profile.rows if profile.rows else 0.0
        rows.append([
            col.name, col.type, f"{missing * 100:.1f}%",
            "" if col.distinct is None else f"{col.distinct:,}",
            col.min or "", col.max or "", col.kind or "",
        ])  # fmt: skip
    return rows


_COLUMN_HEADER = ["column", "type", "missing", "distinct", "min", "max", "kind"]


# -- plain text -------------------------------------------------------------------------


def profile_text(profile: Profile, title_text: str, changes: Sequence[str] = ()) -> str:
    """The profile as plain text: what a saved notebook shows and nbval compares.

    Args:
        profile: the profile to show.
        title_text: what was profiled, e.g. ``Quality of main.orders``.
        changes: ``compare_profiles(previous, profile)``, shown as "What changed".
    """
    out = [_headline(profile, title_text), ""]
    width = max(len(title(c)) for c in CATEGORIES)
    for entry in profile.categories:
        problems = _problems(profile, entry.category)
        count = f"  {len(problems)} finding{'s' if len(problems) != 1 else ''}" if problems else ""
        out.append(
            f"  {title(entry.category):<{width}}  {entry.score:>3}  {_bar(entry.score)}{count}"
        )
    worst = profile.worst_columns(WORST_COLUMNS)
    if worst:
        out += ["", "Worst columns: " + ", ".join(f"{name} ({score})" for name, score in worst)]
    if changes:
        out += ["", "What changed since the last profile:"]
        out += [_wrap(f"- {line}", "    ") for line in changes]
    found = [(c, _problems(profile, c.category)) for c in profile.categories]
    if any(problems for _, problems in found):
        out += ["", "Findings:"]
        for entry, problems in found:
            if problems:
                out.append(f"  {title(entry.category)} ({entry.score})")
                for f in problems:
                    out.append(_wrap(f"    [{f.score}] {f.message}", "         "))
                    out.append(_wrap(f"         -> {f.recommendation}", "            "))
    info = _information(profile)
    if info:
        out += ["", "Information (no effect on the scores):"]
        for f in info:
            out.append(_wrap(f"  {title(f.category)}: {f.message}", "      "))
            out.append(_wrap(f"      -> {f.recommendation}", "         "))
    out += ["", "Columns:", *_text_table(_COLUMN_HEADER, _column_rows(profile))]
    out += [f"Note: {note}" for note in profile.notes]
    return "\n".join(out)


def _wrap(text: str, indent: str) -> str:
    return "\n".join(
        textwrap.wrap(
            text,
            TEXT_WIDTH,
            subsequent_indent=indent,
            break_on_hyphens=False,
            break_long_words=False,
        )  # fmt: skip
    )


def _text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    keep = [i for i in range(len(header)) if any(r[i] for r in rows)] or [0]
    header = [header[i] for i in keep]
    rows = [[r[i] for i in keep] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=False)]
    fmt = "  " + "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header).rstrip()] + [fmt.format(*r).rstrip() for r in rows]


# -- rich (terminals) -------------------------------------------------------------------


def print_profile_rich(
    profile: Profile, title_text: str, changes: Sequence[str] = (), console=None
) -> None:
    """Print the profile with rich: coloured score bars, worst columns, recommendations."""
    from rich.console import Console, Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    scores = Table(show_header=False, box=None, padding=(0, 1))
    for name in ("category", "score", "bar", "findings"):
        scores.add_column(name, justify="right" if name == "score" else "left")
    for entry in profile.categories:
        style = band(entry.score)[1]
        problems = _problems(profile, entry.category)
        scores.add_row(
            title(entry.category), Text(str(entry.score), style=f"bold {style}"),
            Text(_bar(entry.score), style=style),
            f"{len(problems)} finding{'s' if len(problems) != 1 else ''}" if problems else "",
        )  # fmt: skip
    parts: list[object] = [scores]
    worst = profile.worst_columns(WORST_COLUMNS)
    if worst:
        line = Text("Worst columns: ", style="bold")
        for i, (name, score) in enumerate(worst):
            line.append(", " if i else "")
            line.append(f"{name} ", style="bold")
            line.append(f"({score})", style=band(score)[1])
        parts += [Text(""), line]
    if changes:
        listed = Table(show_header=False, box=None, padding=(0, 1))
        listed.add_column(no_wrap=True)
        listed.add_column(ratio=1)
        for line in changes:
            listed.add_row("•", line)
        parts += [Text(""), Text("What changed since the last profile", style="bold"), listed]
    problems = sorted((f for f in profile.findings if f.is_problem), key=lambda f: f.score)
    if problems:
        parts += [Text(""), Text("Findings and recommendations", style="bold"),
                  _rich_findings(problems, scored=True)]  # fmt: skip
    info = _information(profile)
    if info:
        parts += [Text(""), Text("Information (no effect on the scores)", style="bold"),
                  _rich_findings(info, scored=False)]  # fmt: skip
    columns = Table(header_style="bold", box=None, padding=(0, 1), title="Columns",
                    title_justify="left", title_style="bold")  # fmt: skip
    rows = _column_rows(profile)
    keep = [i for i in range(len(_COLUMN_HEADER)) if any(r[i] for r in rows)] or [0]
    for i in keep:
        columns.add_column(_COLUMN_HEADER[i], overflow="fold")
    for r in rows:
        columns.add_row(*(r[i] for i in keep))
    parts += [Text(""), columns]
    console.print(Panel(Group(*parts), title=_headline(profile, title_text), title_align="left"))


def _rich_findings(findings: Sequence[Finding], scored: bool):
    """Findings as a borderless two-column table, so wrapped lines keep their indent."""
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=False, box=None, padding=(0, 1), expand=False)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(ratio=1)
    for f in findings:
        style = band(f.score)[1] if scored else "dim"
        body = Text(f"{title(f.category)}: ", style="dim")
        body.append(f.message, style="" if scored else "dim")
        body.append(f"\n→ {f.recommendation}", style="cyan" if scored else "dim cyan")
        table.add_row(Text(str(f.score) if scored else "·", style=style), body)
    return table


# -- static HTML ------------------------------------------------------------------------

_FONT = "font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
_MUTED = "opacity: 0.72"


def profile_html(profile: Profile, title_text: str, changes: Sequence[str] = ()) -> str:
    """The profile as self-contained HTML (inline styles, no scripts), for any theme.

    Text keeps the page's colour (light and dark themes alike); only bars, scores and
    markers are coloured.
    """
    e = html.escape
    out = [f'<div style="{_FONT}; font-size: 13px; line-height: 1.45; max-width: 920px">']
    out.append(f'<div style="font-size: 15px; font-weight: 600; margin-bottom: 2px">'
               f"{e(title_text)}</div>")  # fmt: skip
    out.append(f'<div style="{_MUTED}; margin-bottom: 10px">'
               f"{e(_headline(profile, title_text).split(': ', 1)[1])}</div>")  # fmt: skip
    out.append('<table style="border-collapse: collapse; margin-bottom: 10px; font-size: 13px">')
    for entry in profile.categories:
        colour = band(entry.score)[0]
        problems = _problems(profile, entry.category)
        worst = e(problems[0].message) if problems else ""
        out.append(
            f'<tr><td style="padding: 2px 10px 2px 0; white-space: nowrap; text-align: left">'
            f"{e(title(entry.category))}</td>"
            f'<td style="padding: 2px 8px 2px 0; width: 180px"><div style="background: '
            f'rgba(127,127,127,0.2); border-radius: 3px; height: 10px; width: 180px">'
            f'<div style="background: {colour}; width: {entry.score}%; height: 10px; '
            f'border-radius: 3px"></div></div></td>'
            f'<td style="padding: 2px 10px 2px 0; text-align: right; font-weight: 600; '
            f'color: {colour}; font-variant-numeric: tabular-nums">{entry.score}</td>'
            f'<td style="padding: 2px 0; text-align: left; {_MUTED}">{worst}</td></tr>'
        )
    out.append("</table>")
    worst = profile.worst_columns(WORST_COLUMNS)
    if worst:
        chips = " ".join(
            f'<span style="display: inline-block; border: 1px solid {band(s)[0]}; '
            f'border-radius: 10px; padding: 0 8px; margin: 0 4px 4px 0"><b>{e(n)}</b> '
            f'<span style="color: {band(s)[0]}">{s}</span></span>'
            for n, s in worst
        )
        out.append(_section("Worst columns", chips))
    if changes:
        items = "".join(f"<li>{e(line)}</li>" for line in changes)
        out.append(_section("What changed since the last profile",
                            f'<ul style="margin: 0; padding-left: 18px">{items}</ul>'))  # fmt: skip
    problems = sorted((f for f in profile.findings if f.is_problem), key=lambda f: f.score)
    if problems:
        out.append(_section("Findings and recommendations", _finding_list(problems, True)))
    info = _information(profile)
    if info:
        out.append(_section("Information (no effect on the scores)",
                            _finding_list(info, False)))  # fmt: skip
    out.append(_section("Columns", _html_table(_COLUMN_HEADER, _column_rows(profile))))
    out += [f'<div style="{_MUTED}">Note: {e(note)}</div>' for note in profile.notes]
    out.append("</div>")
    return "\n".join(out)


def _section(heading: str, body: str) -> str:
    return (f'<div style="margin: 8px 0"><div style="font-weight: 600; margin-bottom: 4px">'
            f"{html.escape(heading)}</div>{body}</div>")  # fmt: skip


_CODE = (
    "font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; "
    "background: rgba(127,127,127,0.15); border-radius: 3px; padding: 0 3px"
)


def _recommendation_html(text: str) -> str:
    """The recommendation, its EXPECT clause set as code (the part to copy)."""
    clause = expect_clause(text)
    if clause is None:
        return html.escape(text)
    before, after = text.split(clause, 1)
    code = f'<code style="{_CODE}">{html.escape(clause)}</code>'
    return f"{html.escape(before)}{code}{html.escape(after)}"


def _finding_list(findings: Sequence[Finding], scored: bool) -> str:
    e = html.escape
    items = []
    for f in findings:
        colour = band(f.score)[0] if scored else "rgba(127,127,127,0.5)"
        marker = (f'<span style="color: {colour}; font-weight: 600; font-variant-numeric: '
                  f'tabular-nums">{f.score}</span> ' if scored else "")  # fmt: skip
        items.append(
            f'<li style="margin-bottom: 7px">{marker}<span style="{_MUTED}">'
            f"{e(title(f.category))}:</span> {e(f.message)}"
            f'<div style="margin: 2px 0 0 0; padding: 2px 8px; border-left: 3px solid '
            f'{colour}; overflow-wrap: anywhere">&rarr; {_recommendation_html(f.recommendation)}'
            f"</div></li>"
        )
    return f'<ul style="list-style: none; margin: 0; padding: 0">{"".join(items)}</ul>'


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    keep = [i for i in range(len(header)) if any(r[i] for r in rows)] or [0]
    cell = (
        "padding: 2px 12px 2px 0; text-align: left; border-bottom: 1px solid rgba(127,127,127,0.25)"
    )
    head = "".join(f'<th style="{cell}">{e(header[i])}</th>' for i in keep)
    body = "".join(
        "<tr>" + "".join(f'<td style="{cell}">{e(r[i])}</td>' for i in keep) + "</tr>" for r in rows
    )
    style = "border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums"
    return f'<table style="{style}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


# -- ipywidgets -------------------------------------------------------------------------


def profile_widget(profile: Profile, title_text: str, changes: Sequence[str] = ()):
    """An ipywidgets view: score bars, worst columns, findings per category in an accordion
    (the worst category open), and the columns.

    Raises:
        ImportError: ipywidgets is not installed.
    """
    import ipywidgets as w

    def block(content: str) -> object:
        # Widget HTML sets a 28 px line height for form rows; prose needs its own.
        return w.HTML(f'<div style="{_FONT}; font-size: 13px; line-height: 1.45">{content}</div>')

    e = html.escape
    styles = {"green": "success", "yellow": "warning", "red": "danger"}
    cells: list[object] = []
    for entry in profile.categories:
        colour, style = band(entry.score)
        cells += [
            w.Label(title(entry.category)),
            w.FloatProgress(value=entry.score, min=0, max=100, bar_style=styles[style],
                            layout=w.Layout(width="220px")),
            w.HTML(f'<b style="color: {colour}">{entry.score}</b>'),
        ]  # fmt: skip
    grid = w.GridBox(cells, layout=w.Layout(grid_template_columns="120px 230px 40px"))
    summary = e(_headline(profile, title_text).split(": ", 1)[1])
    children: list[object] = [
        block(f'<div style="font-size: 15px; font-weight: 600">{e(title_text)}</div>'
              f'<div style="{_MUTED}">{summary}</div>'),
        grid,
    ]  # fmt: skip
    worst = profile.worst_columns(WORST_COLUMNS)
    if worst:
        named = ", ".join(
            f'{e(n)} <span style="color: {band(s)[0]}">({s})</span>' for n, s in worst
        )
        children.append(block(f"<b>Worst columns:</b> {named}"))
    if changes:
        items = "".join(f"<li>{e(c)}</li>" for c in changes)
        listed = f'<ul style="margin: 0; padding-left: 18px">{items}</ul>'
        children.append(block(_section("What changed since the last profile", listed)))
    panes, titles, scores = [], [], []
    for entry in profile.categories:
        if entry.findings:
            problems = [f for f in entry.findings if f.is_problem]
            info = [f for f in entry.findings if not f.is_problem]
            body = (_finding_list(problems, True) if problems else "") + (
                _finding_list(info, False) if info else ""
            )
            panes.append(block(body))
            titles.append(f"{title(entry.category)}: {entry.score}")
            scores.append(entry.score)
    if panes:
        accordion = w.Accordion(children=panes, titles=tuple(titles))
        # The worst category open; all closed when nothing is wrong.
        accordion.selected_index = scores.index(min(scores)) if min(scores) < 100 else None
        children.append(accordion)
    children.append(block(_section("Columns", _html_table(_COLUMN_HEADER, _column_rows(profile)))))
    return w.VBox(children, layout=w.Layout(max_width="920px"))


# -- notebook display -------------------------------------------------------------------


class ProfileDisplay:
    """A profile as a notebook value: static HTML plus the plain text (see module docstring).

    Args:
        profile: the profile.
        title_text: what was profiled, e.g. ``Quality of main.orders``.
        changes: ``compare_profiles(previous, profile)``.
        widget: show the ipywidgets view in a live kernel (the HTML and text stay in the
            output, for saved notebooks and nbval).
    """

    def __init__(
        self,
        profile: Profile,
        title_text: str,
        changes: Sequence[str] = (),
        widget: bool = False,
    ) -> None:
        self.profile = profile
        self.title = title_text
        self.changes = tuple(changes)
        self.widget = widget

    def __repr__(self) -> str:
        return profile_text(self.profile, self.title, self.changes)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return {
            "text/plain": profile_text(self.profile, self.title, self.changes),
            "text/html": profile_html(self.profile, self.title, self.changes),
        }

    def _ipython_display_(self) -> None:
        from IPython.display import display

        bundle: dict[str, object] = self._repr_mimebundle_()
        if self.widget and _in_kernel():
            try:
                view = profile_widget(self.profile, self.title, self.changes)
            except ImportError:
                pass
            else:
                # One output holding the widget, the HTML and the text: live, the widget
                # shows; nbviewer and GitHub show the HTML; nbval compares text and HTML.
                bundle.update(view._repr_mimebundle_())
                bundle["text/plain"] = profile_text(self.profile, self.title, self.changes)
        display(bundle, raw=True)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    shell = get_ipython()
    return getattr(shell, "kernel", None) is not None
