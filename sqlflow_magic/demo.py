"""``make demo``: run the quickstart pipeline on an embedded DuckDB file and show what it built.

The pipeline is the quickstart notebook itself (notebooks/01_quickstart.ipynb), run cell by
cell in a real IPython shell, so the demo and the tutorial cannot drift apart.

Usage: python -m sqlflow_magic.demo [NOTEBOOK] [--db PATH]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

DEFAULT_NOTEBOOK = Path("notebooks/01_quickstart.ipynb")


def _code_cells(notebook: Path) -> list[tuple[str, bool]]:
    cells = json.loads(notebook.read_text())["cells"]
    return [
        ("".join(c["source"]), "raises-exception" in c.get("metadata", {}).get("tags", []))
        for c in cells
        if c["cell_type"] == "code"
    ]


def _run(shell, source: str, console) -> None:
    """Run one notebook cell: Python silently, SQL with its value shown as a table."""
    from rich.syntax import Syntax

    stripped = source.strip()
    if stripped.startswith("%load_ext"):
        return  # loaded already, on the demo's database
    if not stripped.startswith("%"):
        result = shell.run_cell(source, silent=True)
        result.raise_error()
        return
    first, _, body = stripped.partition("\n")
    console.print(Syntax(stripped, "sql", theme="ansi_dark", word_wrap=True))
    if first.startswith("%%sqlflow"):
        value = shell.run_cell_magic("sqlflow", first[len("%%sqlflow") :].strip(), body)
    else:
        name, _, line = first.lstrip("%").partition(" ")
        value = shell.run_line_magic(name, line)
    _show(value, console)


def _show(value, console) -> None:
    """A cell's value as the terminal shows it: views print themselves, frames as tables."""
    from sqlflow_magic.render.tables import print_rich

    if value is None:
        return
    if hasattr(value, "print_rich"):  # status, history, metrics views
        value.print_rich()
    elif hasattr(value, "to_pandas"):  # a transform's RunSummary
        print_rich(value.to_pandas(), "")
        if getattr(value, "profile", None) is not None:
            console.print(repr(value).splitlines()[-1], markup=False)
    elif hasattr(value, "columns"):  # a query's DataFrame
        print_rich(value, "")
    else:
        console.print(repr(value), markup=False)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns a process exit code."""
    from IPython.core.interactiveshell import InteractiveShell
    from rich.console import Console

    from sqlflow_magic.magic import active_magics
    from sqlflow_magic.render.tables import print_rich
    from sqlflow_magic.state import views

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", type=Path, default=DEFAULT_NOTEBOOK)
    parser.add_argument("--db", type=Path, help="database file (default: a new temporary one)")
    args = parser.parse_args(argv)
    console = Console()
    db = args.db or Path(tempfile.mkdtemp(prefix="sqlflow-demo-")) / "warehouse.duckdb"

    shell = InteractiveShell.instance(colors="nocolor")
    shell.run_line_magic("load_ext", "sqlflow_magic")  # the notebook's own %load_ext is a no-op
    shell.run_line_magic("sqlflow", f"connect {db}")
    console.rule(f"sqlflow demo: {args.notebook}")
    for source, expected_to_fail in _code_cells(args.notebook):
        try:
            _run(shell, source, console)
        except Exception as err:  # shown like the notebook shows it; the demo goes on
            console.print(str(err), style="red", markup=False)
            if not expected_to_fail:
                return 1
    con = active_magics().session.connection()
    console.rule("[bold]what it built")
    print_rich(views.status_frame(con), "transforms (%sqlflow status)")
    import pandas as pd

    from sqlflow_magic.syntax.names import quote

    names = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name <> 'sqlflow' "
        "AND database_name = current_database() ORDER BY ALL"
    ).fetchall()
    # count(*), not duckdb_tables().estimated_size: that one still counts deleted rows
    tables = pd.DataFrame(
        [
            (f"{schema}.{name}",
             con.execute(f"SELECT count(*) FROM {quote(schema)}.{quote(name)}").fetchone()[0])
            for schema, name in names
        ],
        columns=["table", "rows"],
    )  # fmt: skip
    print_rich(tables, "tables")
    console.print(f"Database: {db}  (open it with duckdb, or %sqlflow connect {db})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
