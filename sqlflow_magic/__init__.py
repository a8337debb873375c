"""sqlflow_magic: ``%%sqlflow`` transforms (REPLACE, APPEND, UPSERT, INCREMENTAL) over DuckDB.

Load it in IPython or Jupyter with ``%load_ext sqlflow_magic``.
"""

__version__ = "0.1.0"


def load_ipython_extension(ipython) -> None:
    """Register ``%%sqlflow`` / ``%sqlflow`` (imports stay lazy so loading is quick)."""
    from sqlflow_magic.magic import load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    """Close the extension's database connection."""
    from sqlflow_magic.magic import unload

    unload(ipython)


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "sqlflow-magic"}]
