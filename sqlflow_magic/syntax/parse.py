"""Split a cell into statements and read transform headers with sqlglot's tokenizer.

Only ``CREATE TABLE <name> MODE`` starts a transform; every other statement is DuckDB's
and is passed through as written. Tokens (not regexes over raw text) decide, so strings,
comments and quoted names never confuse the split or the header.
"""

from __future__ import annotations

import difflib
import functools

import sqlglot
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from sqlflow_magic.errors import SqlflowSyntaxError
from sqlflow_magic.syntax.names import identifier_problem, is_bare_identifier
from sqlflow_magic.syntax.source import CellSource
from sqlflow_magic.syntax.spec import (
    MacroUse,
    Mode,
    PlainStatement,
    Position,
    QuerySpec,
    RuleKind,
    RuleSpec,
    Statement,
    TableName,
    TransformSpec,
)

MACROS = ("start_dt", "end_dt", "start_date", "end_date")
_MODE_WORDS = {m.value for m in Mode}
# The longest qualified name, catalog.schema.table, is five tokens.
_MAX_NAME_TOKENS = 5

_DIALECT = DuckDB()
# Statements whose first word makes them queries: their rows become the cell's value.
_QUERY_STARTS = frozenset(
    [
        "SELECT",
        "WITH",
        "FROM",
        "VALUES",
        "SHOW",
        "DESCRIBE",
        "SUMMARIZE",
        "PRAGMA",
        "EXPLAIN",
        "CALL",
        "TABLE",
        "PIVOT",
        "UNPIVOT",
    ]
)


def parse_cell(text: str, first_line: int = 2) -> list[Statement]:
    """Parse a ``%%sqlflow`` cell body into its statements, in order.

    Args:
        text: the cell body.
        first_line: cell line number of the body's first line (for error positions).

    Returns:
        TransformSpec for each transform statement, PlainStatement for the rest.

    Raises:
        SqlflowSyntaxError: a malformed transform, with line, column and excerpt.

    >>> [type(s).__name__ for s in parse_cell("SELECT 1; CREATE TABLE t MODE REPLACE AS SELECT 2")]
    ['PlainStatement', 'TransformSpec']
    """
    # A notebook re-runs the same cells: parsed statements are immutable, so keep them.
    return list(_parse_cell(text, first_line))


@functools.lru_cache(maxsize=256)
def _parse_cell(text: str, first_line: int) -> tuple[Statement, ...]:
    source = CellSource(text, first_line)
    return tuple(_parse_statement(source, tokens) for tokens in _split(source))


def _tokenize(source: CellSource) -> list[Token]:
    try:
        return _DIALECT.tokenize(source.text)
    except TokenError as err:
        raise SqlflowSyntaxError(
            f"cannot read the cell: {err}",
            hint="check for an unterminated string, quoted name or comment",
        ) from err


def _split(source: CellSource) -> list[list[Token]]:
    statements: list[list[Token]] = [[]]
    for token in _tokenize(source):
        if token.token_type == TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(token)
    return [s for s in statements if s]


def _parse_statement(source: CellSource, tokens: list[Token]) -> Statement:
    start, end = tokens[0].start, tokens[-1].end + 1
    mode_at = _find_mode_keyword(source, tokens)
    if mode_at is None:
        _refuse_macros(source, tokens)
        return PlainStatement(
            text=source.text[start:end],
            line=source.line_col(start)[0],
            variables=tuple(_variables(source, tokens, start)),
            names=_names(tokens),
            returns_rows=tokens[0].text.upper() in _QUERY_STARTS
            or tokens[0].token_type == TokenType.L_PAREN,
        )
    return _HeaderParser(source, tokens, mode_at).parse()


def _names(tokens: list[Token]) -> frozenset[str]:
    """Every name-like token: candidates for DataFrames of the user's namespace."""
    kinds = (TokenType.VAR, TokenType.IDENTIFIER)
    return frozenset(t.text for t in tokens if t.token_type in kinds or t.text.isidentifier())


def _find_mode_keyword(source: CellSource, tokens: list[Token]) -> int | None:
    """Index of the MODE keyword when the statement is a transform, else None."""
    if len(tokens) < 3 or tokens[0].token_type != TokenType.CREATE:
        return None
    if tokens[1].token_type != TokenType.TABLE:
        return None
    if (
        tokens[2].text.upper() == "MODE"
        and len(tokens) > 3
        and tokens[3].text.upper() in _MODE_WORDS
    ):
        raise SqlflowSyntaxError(
            "CREATE TABLE ... MODE needs a table name before MODE",
            hint="write CREATE TABLE my_table MODE ...",
            **source.where(tokens[2].start, 4),
        )
    for i in range(2, min(len(tokens), 3 + _MAX_NAME_TOKENS)):
        tok = tokens[i]
        is_mode = tok.text.upper() == "MODE" and tok.token_type == TokenType.VAR
        if is_mode and i >= 3 and tokens[i - 1].token_type != TokenType.DOT:
            return i
        if tok.token_type not in (TokenType.VAR, TokenType.IDENTIFIER, TokenType.DOT) and not (
            tok.text.isidentifier()
        ):
            return None
    return None


def _macro_at(tokens: list[Token], i: int) -> tuple[str, str, int, int] | None:
    """(sigil, name, start, end) when tokens[i] starts an ``@macro`` or ``$name``."""
    tok = tokens[i]
    if tok.token_type != TokenType.PARAMETER or tok.text not in ("@", "$") or i + 1 >= len(tokens):
        return None
    nxt = tokens[i + 1]
    if nxt.start != tok.end + 1 or not nxt.text.isidentifier():
        return None
    if nxt.token_type == TokenType.IDENTIFIER:
        return None
    return tok.text, nxt.text, tok.start, nxt.end


def _variables(source: CellSource, tokens: list[Token], base: int) -> list[MacroUse]:
    out = []
    for i in range(len(tokens)):
        found = _macro_at(tokens, i)
        if found and found[0] == "$":
            _, name, start, end = found
            out.append(MacroUse(name, start - base, end - start + 1, is_variable=True))
    return out


def _refuse_macros(source: CellSource, tokens: list[Token], allowed: bool = False) -> None:
    for i in range(len(tokens)):
        found = _macro_at(tokens, i)
        if found and found[0] == "@" and found[1].lower() in MACROS and not allowed:
            raise SqlflowSyntaxError(
                f"@{found[1]} is only defined in MODE INCREMENTAL transforms",
                hint="use it in a CREATE TABLE ... MODE INCREMENTAL BY col AS SELECT ... query",
                **source.where(found[2], found[3] - found[2] + 1),
            )


class _HeaderParser:
    """Reads ``CREATE TABLE name MODE mode [KEY (...)] [BY c] [LOOKBACK '...'] AS query``."""

    def __init__(self, source: CellSource, tokens: list[Token], mode_at: int) -> None:
        self.source = source
        self.tokens = tokens
        self.mode_at = mode_at
        self.i = mode_at + 1
        self.positions: dict[str, Position] = {}

    def error(
        self, message: str, token: Token | None, hint: str | None = None
    ) -> SqlflowSyntaxError:
        if token is None:  # past the end: point just after the last token
            last = self.tokens[-1]
            return SqlflowSyntaxError(message, hint=hint, **self.source.where(last.end + 1, 1))
        length = token.end - token.start + 1
        return SqlflowSyntaxError(message, hint=hint, **self.source.where(token.start, length))

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def advance(self) -> Token | None:
        tok = self.peek()
        self.i += 1
        return tok

    def remember(self, key: str, token: Token) -> None:
        self.positions[key] = Position(token.start, token.end - token.start + 1)

    def parse(self) -> TransformSpec:
        target = self.table_name()
        mode = self.mode()
        keys: tuple[str, ...] = ()
        time_column = lookback = None
        rules: list[RuleSpec] = []
        while True:
            tok = self.peek()
            word = tok.text.upper() if tok else ""
            if tok is not None and tok.token_type == TokenType.ALIAS:
                self.advance()
                break
            if word == "KEY":
                keys = self.key_list()
            elif word == "BY":
                self.advance()
                time_column = self.identifier("BY", "the time column, e.g. BY event_hour")
            elif word == "LOOKBACK":
                lookback = self.lookback()
            elif word == "EXPECT":
                rules.append(self.rule())
            else:
                expected = "AS" if mode is Mode.REPLACE or mode is Mode.APPEND else "AS or a clause"
                found = f"'{tok.text}'" if tok else "the end of the statement"
                raise self.error(
                    f"expected {expected} after MODE {mode.value}, found {found}",
                    tok,
                    _clause_hint(mode),
                )
        self.check_clauses(mode, keys, time_column, lookback)
        return TransformSpec(
            target=target,
            mode=mode,
            query=self.query(mode),
            keys=keys,
            time_column=time_column,
            lookback=lookback,
            rules=tuple(rules),
            source=self.source.text[self.tokens[0].start : self.tokens[-1].end + 1],
            line=self.source.line_col(self.tokens[0].start)[0],
            positions=self.positions,
            names=_names(self.tokens),
        )

    def table_name(self) -> TableName:
        name_tokens = self.tokens[2 : self.mode_at]
        parts: list[str] = []
        expect_name = True
        for tok in name_tokens:
            if expect_name:
                parts.append(self.name_text(tok, "table name"))
            elif tok.token_type != TokenType.DOT:
                raise self.error(
                    f"unexpected '{tok.text}' in the table name",
                    tok,
                    'quote a name with spaces or symbols: CREATE TABLE "my table" MODE ...',
                )
            expect_name = not expect_name
        if expect_name or len(parts) > 3:
            raise self.error(
                "the table name is incomplete or has too many parts",
                name_tokens[-1],
                "write table, schema.table or catalog.schema.table",
            )
        self.remember("target", name_tokens[0])
        parts = [None] * (3 - len(parts)) + parts  # type: ignore[list-item]
        return TableName(name=parts[2], schema=parts[1], catalog=parts[0])  # type: ignore[arg-type]

    def name_text(self, tok: Token, what: str) -> str:
        if tok.token_type == TokenType.IDENTIFIER:
            problem = identifier_problem(tok.text)
            if problem:
                raise self.error(f"invalid {what}: {problem}", tok, "choose a printable name")
            return tok.text
        if not is_bare_identifier(tok.text):
            if tok.text.isidentifier():
                hint = f'it is a reserved word: quote it ("{tok.text}") or choose another name'
            else:
                hint = 'use letters, digits and _ or a quoted name: "my name"'
            raise self.error(f"'{tok.text}' is not a valid {what}", tok, hint)
        return tok.text

    def mode(self) -> Mode:
        tok = self.advance()
        if tok is None or tok.token_type == TokenType.ALIAS:
            raise self.error(
                "MODE needs a mode",
                tok,
                "write MODE REPLACE, MODE APPEND, MODE UPSERT KEY (col, ...) "
                "or MODE INCREMENTAL BY col",
            )
        word = tok.text.upper()
        if word not in _MODE_WORDS:
            close = difflib.get_close_matches(word, sorted(_MODE_WORDS), n=1)
            suggestion = f"did you mean {close[0]}? " if close else ""
            raise self.error(
                f"unknown mode '{tok.text}'",
                tok,
                f"{suggestion}modes are REPLACE, APPEND, UPSERT and INCREMENTAL",
            )
        self.remember("mode", tok)
        return Mode(word)

    def identifier(self, clause: str, what: str) -> str:
        tok = self.advance()
        if tok is None or tok.token_type in (TokenType.ALIAS, TokenType.L_PAREN):
            raise self.error(f"{clause} needs a column name", tok, f"write {clause} then {what}")
        self.remember(clause, tok)
        return self.name_text(tok, f"column name in {clause}")

    def key_list(self) -> tuple[str, ...]:
        key_tok = self.advance()
        assert key_tok is not None
        self.remember("KEY", key_tok)
        opener = self.advance()
        if opener is None or opener.token_type != TokenType.L_PAREN:
            raise self.error("KEY needs a parenthesised column list", opener, "write KEY (id)")
        keys: list[str] = []
        while True:
            tok = self.advance()
            if tok is None or tok.token_type in (TokenType.R_PAREN, TokenType.ALIAS):
                raise self.error("KEY needs at least one column", tok, "write KEY (id)")
            name = self.name_text(tok, "column name in KEY")
            if name.lower() in (k.lower() for k in keys):
                raise self.error(
                    f"column '{name}' appears twice in KEY", tok, "name each key column once"
                )
            self.positions[f"KEY:{name.lower()}"] = Position(tok.start, tok.end - tok.start + 1)
            keys.append(name)
            sep = self.advance()
            if sep is not None and sep.token_type == TokenType.R_PAREN:
                return tuple(keys)
            if sep is None or sep.token_type != TokenType.COMMA:
                raise self.error("expected ',' or ')' in the KEY list", sep, "write KEY (a, b)")

    def lookback(self) -> str:
        keyword = self.advance()
        assert keyword is not None
        self.remember("LOOKBACK", keyword)
        tok = self.advance()
        if tok is None or tok.token_type != TokenType.STRING:
            raise self.error("LOOKBACK needs a quoted interval", tok, "write LOOKBACK '2 hours'")
        self.remember("LOOKBACK:value", tok)
        return tok.text

    def rule(self) -> RuleSpec:
        """``EXPECT NOT NULL (c, ...) | UNIQUE (c, ...) | (predicate) | FRESH (c) WITHIN '...'``
        followed by an optional ``WARN``."""
        expect = self.advance()
        assert expect is not None
        tok = self.peek()
        word = tok.text.upper() if tok else ""
        start = tok.start if tok else expect.end + 1
        if tok is not None and tok.token_type == TokenType.L_PAREN:
            predicate = self.parenthesised_sql("EXPECT (...)")
            kind, columns, within = RuleKind.PREDICATE, (), None
        elif word == "NOT" or word == "UNIQUE":
            self.advance()
            if word == "NOT":
                null = self.advance()
                if null is None or null.text.upper() != "NULL":
                    raise self.error("expected NULL after EXPECT NOT", null,
                                     "write EXPECT NOT NULL (column, ...)")  # fmt: skip
            kind = RuleKind.NOT_NULL if word == "NOT" else RuleKind.UNIQUE
            columns, predicate, within = self.column_list(f"EXPECT {kind.value}"), None, None
        elif word == "FRESH":
            self.advance()
            columns = self.column_list("EXPECT FRESH")
            if len(columns) != 1:
                raise self.error("EXPECT FRESH takes one time column", tok,
                                 "write EXPECT FRESH (ordered_at) WITHIN '1 day'")  # fmt: skip
            within_tok = self.advance()
            value = self.advance()
            if (
                within_tok is None
                or within_tok.text.upper() != "WITHIN"
                or value is None
                or (value.token_type != TokenType.STRING)
            ):
                raise self.error("EXPECT FRESH (...) needs WITHIN '<interval>'", within_tok,
                                 "write EXPECT FRESH (ordered_at) WITHIN '1 day'")  # fmt: skip
            kind, predicate, within = RuleKind.FRESH, None, value.text
        else:
            raise self.error(
                "EXPECT needs a rule",
                tok,
                "write EXPECT NOT NULL (col), EXPECT UNIQUE (col), EXPECT (amount >= 0) "
                "or EXPECT FRESH (ts) WITHIN '1 day'",
            )
        end = self.tokens[self.i - 1].end + 1
        warn = self.peek() is not None and self.peek().text.upper() in ("WARN", "ERROR")
        is_warn = warn and self.advance().text.upper() == "WARN"
        return RuleSpec(
            kind=kind, text=self.source.text[start:end], columns=columns, predicate=predicate,
            within=within, warn=is_warn, offset=expect.start,
        )  # fmt: skip

    def column_list(self, clause: str) -> tuple[str, ...]:
        opener = self.advance()
        if opener is None or opener.token_type != TokenType.L_PAREN:
            raise self.error(f"{clause} needs a parenthesised column list", opener,
                             f"write {clause} (column, ...)")  # fmt: skip
        columns: list[str] = []
        while True:
            tok = self.advance()
            if tok is None or tok.token_type == TokenType.R_PAREN:
                raise self.error(f"{clause} needs at least one column", tok,
                                 f"write {clause} (column)")  # fmt: skip
            columns.append(self.name_text(tok, f"column name in {clause}"))
            self.positions[f"EXPECT:{len(columns)}:{tok.start}"] = Position(
                tok.start, tok.end - tok.start + 1
            )
            sep = self.advance()
            if sep is not None and sep.token_type == TokenType.R_PAREN:
                return tuple(columns)
            if sep is None or sep.token_type != TokenType.COMMA:
                raise self.error(f"expected ',' or ')' in {clause}", sep,
                                 f"write {clause} (a, b)")  # fmt: skip

    def parenthesised_sql(self, clause: str) -> str:
        """The SQL between balanced parentheses, checked with sqlglot for syntax errors."""
        opener = self.advance()
        assert opener is not None
        depth = 1
        while depth:
            tok = self.advance()
            if tok is None or tok.token_type == TokenType.ALIAS and depth == 1:
                raise self.error(f"{clause} is missing its closing ')'", opener,
                                 "close the parenthesis before AS")  # fmt: skip
            depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(tok.token_type, 0)
        closer = self.tokens[self.i - 1]
        start, end = opener.end + 1, closer.start
        text = self.source.text[start:end]
        if not text.strip():
            raise self.error(f"{clause} is empty", opener, "write EXPECT (amount >= 0)")
        _check_sql(self.source, text, start)
        return text.strip()

    def check_clauses(
        self, mode: Mode, keys: tuple[str, ...], time_column: str | None, lookback: str | None
    ) -> None:
        mode_tok = self.tokens[self.mode_at + 1]
        if mode is Mode.UPSERT and not keys:
            raise self.error(
                "MODE UPSERT needs KEY (column, ...)",
                mode_tok,
                "write MODE UPSERT KEY (id) AS SELECT ...",
            )
        if mode is Mode.INCREMENTAL and time_column is None:
            raise self.error(
                "MODE INCREMENTAL needs BY <time column>",
                mode_tok,
                "write MODE INCREMENTAL BY event_time LOOKBACK '1 hour' AS ...",
            )
        for clause, present, owner in (
            ("KEY", bool(keys), Mode.UPSERT),
            ("BY", time_column is not None, Mode.INCREMENTAL),
            ("LOOKBACK", lookback is not None, Mode.INCREMENTAL),
        ):
            if present and mode is not owner:
                pos = self.positions[clause]
                raise SqlflowSyntaxError(
                    f"{clause} belongs to MODE {owner.value}, not MODE {mode.value}",
                    hint=f"remove {clause} or use MODE {owner.value}",
                    **self.source.where(pos.offset, pos.length),
                )

    def query(self, mode: Mode) -> QuerySpec:
        rest = self.tokens[self.i :]
        if not rest:
            raise self.error("AS needs a query", None, "write AS SELECT ...")
        _refuse_macros(self.source, rest, allowed=mode is Mode.INCREMENTAL)
        start = rest[0].start
        macros = []
        for i in range(len(rest)):
            found = _macro_at(rest, i)
            if not found:
                continue
            sigil, name, tok_start, tok_end = found
            if sigil == "@" and name.lower() not in MACROS:
                continue
            length = tok_end - tok_start + 1
            is_variable = sigil == "$"
            macros.append(
                MacroUse(
                    name if is_variable else name.lower(), tok_start - start, length, is_variable
                )
            )
        return QuerySpec(
            text=self.source.text[start : rest[-1].end + 1],
            offset=start,
            macros=tuple(macros),
            summarises=_summarises(rest),
        )


def _summarises(tokens: list[Token]) -> bool:
    """Whether GROUP BY or DISTINCT appears outside every parenthesis (subquery, call)."""
    depth = 0
    for tok in tokens:
        if tok.token_type == TokenType.L_PAREN:
            depth += 1
        elif tok.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and tok.token_type in (TokenType.GROUP_BY, TokenType.DISTINCT):
            return True
    return False


def _check_sql(source: CellSource, text: str, offset: int) -> None:
    """Refuse a rule predicate sqlglot cannot read, pointing at the offending token."""
    try:
        sqlglot.parse_one(f"SELECT 1 WHERE {text}", read="duckdb")
    except sqlglot.errors.ParseError as err:
        detail = err.errors[0] if err.errors else {}
        highlight = detail.get("highlight") or ""
        line, col = detail.get("line", 1), detail.get("col", 1)
        # sqlglot counts from the SELECT prefix on line 1 and marks a token's end.
        lines = text.split("\n")
        col -= len("SELECT 1 WHERE ") if line == 1 else 0
        inner = sum(len(x) + 1 for x in lines[: line - 1]) + max(col - len(highlight), 0)
        raise SqlflowSyntaxError(
            f"the rule's SQL does not parse near '{highlight.strip() or text.strip()}'",
            hint="write a boolean SQL expression, e.g. EXPECT (amount >= 0)",
            **source.where(offset + min(inner, len(text) - 1), max(len(highlight), 1)),
        ) from err
    except sqlglot.errors.SqlglotError:
        return  # a predicate sqlglot cannot analyse may still be valid DuckDB: let it run


def _clause_hint(mode: Mode) -> str:
    return {
        Mode.REPLACE: "write CREATE TABLE t MODE REPLACE AS SELECT ...",
        Mode.APPEND: "write CREATE TABLE t MODE APPEND AS SELECT ...",
        Mode.UPSERT: "write CREATE TABLE t MODE UPSERT KEY (id) AS SELECT ...",
        Mode.INCREMENTAL: "write CREATE TABLE t MODE INCREMENTAL BY c LOOKBACK '1 hour' AS ...",
    }[mode]
