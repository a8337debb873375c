"""What a kernel recognised text columns as by their values, kept for a target's next runs.

A run's profile recognises a text column no name explains (``contact`` holding emails)
by its first values. A column keeps its kind from run to run, so the session keeps what
each target's columns were recognised as, for as long as the target's definition stays
the same, and later runs skip reading those values. It lives apart from the profile's
code so that the session can hold it without loading the profile.
"""

from __future__ import annotations

# (column name in lower case, DuckDB type) -> the kind recognised, None for no kind.
KindsOfColumns = dict[tuple[str, str], "str | None"]


class RecognisedKinds:
    """The kinds recognised per target; a new definition of a target starts over.

    Example:
        >>> kinds = RecognisedKinds()
        >>> kinds.of("main.t", "SELECT ...")[("contact", "VARCHAR")] = "email"
        >>> kinds.of("MAIN.T", "SELECT ...")
        {('contact', 'VARCHAR'): 'email'}
        >>> kinds.of("main.t", "SELECT other ...")
        {}
    """

    def __init__(self) -> None:
        self._targets: dict[str, tuple[str, KindsOfColumns]] = {}

    def of(self, target: str, definition: str) -> KindsOfColumns:
        """The kinds recognised in ``target``'s columns under this ``definition`` (the
        transform's text), for the profile to consult and fill."""
        kept = self._targets.get(target.lower())
        if kept is None or kept[0] != definition:
            kept = (definition, {})
            self._targets[target.lower()] = kept
        return kept[1]

    def forget(self) -> None:
        """Recognise every column anew (a plain statement may have rewritten a table)."""
        self._targets.clear()
