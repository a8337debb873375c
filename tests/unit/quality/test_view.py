"""The profile's views: text (nbval), HTML, rich and the widget, from a fixed profile."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from sqlflow_magic.quality.model import CATEGORIES, ColumnProfile, Finding, Profile, category_scores
from sqlflow_magic.render.quality_view import (
    ProfileDisplay,
    print_profile_rich,
    profile_html,
    profile_text,
    profile_widget,
)

TITLE = "Quality of main.orders"


def _profile(microsecond: int = 0) -> Profile:
    findings = [
        Finding("validity", "format:email", "email", 0.032, 85,
                "email: 3.2% of values (32 of 1,000) are not valid email addresses",
                "clean upstream, or EXPECT (regexp_full_match(email, '[^@]+@[^@]+'))"),
        Finding("completeness", "nulls", "note", 0.5, 3, "note: 50.0% of rows are NULL",
                "add EXPECT NOT NULL (note) if every row needs a value"),
        Finding("uniqueness", "candidate_key", "id", None, 100, "id is unique: a candidate key",
                "if it must stay unique, EXPECT UNIQUE (id)"),
    ]  # fmt: skip
    return Profile(
        rows=1000,
        columns=(
            ColumnProfile("id", "BIGINT", 0, distinct=1000, min="1", max="1000"),
            ColumnProfile("email", "VARCHAR", 0, kind="email", invalid=32),
            ColumnProfile("note", "VARCHAR", 500, blanks=0),
        ),
        categories=category_scores(findings),
        profiled_at=dt.datetime(2024, 5, 6, 7, 8, 9, microsecond),
    )


def test_text_form_is_deterministic_and_names_everything():
    text = profile_text(_profile(), TITLE, ["email: invalid 0.0% -> 3.2%"])
    assert text == profile_text(
        _profile(microsecond=123456), TITLE, ["email: invalid 0.0% -> 3.2%"]
    )
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d", text)  # no clock times with microseconds
    assert text.startswith(f"{TITLE}: 1,000 rows, 3 columns; lowest score 3 (completeness)")
    for category in CATEGORIES:
        assert category.replace("_", " ") in text
    assert "Worst columns: note (3), email (85)" in text
    assert "What changed since the last profile:" in text
    assert "EXPECT (regexp_full_match(email, '[^@]+@[^@]+'))" in text
    # problems before information, worst first
    assert text.index("[3] note") < text.index("[85] email") < text.index("id is unique")
    assert max(len(line) for line in text.splitlines()) <= 100


def test_html_is_static_escaped_and_deterministic():
    page = profile_html(_profile(), "Quality of <orders>")
    assert page == profile_html(_profile(microsecond=5), "Quality of <orders>")
    assert "<script" not in page
    assert "Quality of &lt;orders&gt;" in page
    assert '<code style="' in page
    assert "EXPECT NOT NULL (note)</code>" in page
    assert "width: 85%" in page
    assert "width: 3%" in page


def test_display_object_offers_text_and_html():
    shown = ProfileDisplay(_profile(), TITLE)
    bundle = shown._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/plain"] == profile_text(_profile(), TITLE) == repr(shown)


def test_rich_prints_scores_and_recommendations():
    from rich.console import Console

    console = Console(record=True, width=100, color_system=None)
    print_profile_rich(_profile(), TITLE, ["rows: 900 -> 1,000 (+11.1%)"], console=console)
    out = console.export_text()
    assert "completeness" in out
    assert "Worst columns: note (3), email (85)" in out
    assert "→ add EXPECT NOT NULL (note)" in out
    assert "rows: 900 -> 1,000" in out


def test_widget_has_a_bar_per_category_and_opens_the_worst():
    ipywidgets = pytest.importorskip("ipywidgets")
    view = profile_widget(_profile(), TITLE)
    bars = [w for w in _walk(view) if isinstance(w, ipywidgets.FloatProgress)]
    assert [b.value for b in bars] == [3, 100, 100, 100, 100, 85, 100]
    assert [b.bar_style for b in bars][:1] == ["danger"]
    accordion = next(w for w in _walk(view) if isinstance(w, ipywidgets.Accordion))
    assert accordion.titles[accordion.selected_index] == "completeness: 3"


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_display_shows_html_and_text_by_default_and_the_widget_on_request(monkeypatch):
    import IPython.display

    from sqlflow_magic.render import quality_view

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    monkeypatch.setattr(quality_view, "_in_kernel", lambda: True)
    ProfileDisplay(_profile(), TITLE)._ipython_display_()
    ProfileDisplay(_profile(), TITLE, widget=True)._ipython_display_()
    assert set(shown[0]) == {"text/plain", "text/html"}
    pytest.importorskip("ipywidgets")
    assert set(shown[1]) == {
        "text/plain",
        "text/html",
        "application/vnd.jupyter.widget-view+json",
    }
    assert shown[1]["text/plain"] == profile_text(_profile(), TITLE)
