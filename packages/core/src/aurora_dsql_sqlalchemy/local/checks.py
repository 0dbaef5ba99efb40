"""Which of Aurora DSQL's rules a SQL text breaks, decided by PostgreSQL's own parser.

Strict local mode calls :func:`check_sql` (or :func:`analyze`, which also says
what each statement is) once for each distinct statement text the driver is
about to send, whatever produced it (the dialect's compilers, ``text()``,
``exec_driver_sql``, Alembic's ``op.execute``), and answers a violation the
way DSQL would: with the rule's SQLSTATE and DSQL's message.  The ``lint``
command and the Alembic implementation read the same checks.

The text is parsed with `pglast <https://pglast.readthedocs.io>`_, which embeds
PostgreSQL's parser, so a check sees what the server would see: a ``TRUNCATE``
inside a string literal or a comment is not a ``TRUNCATE``.  What the rules are
(SQLSTATE, message, advice, limits, type families) is read from
:mod:`aurora_dsql_sqlalchemy.rules`; the recognisers in
:mod:`aurora_dsql_sqlalchemy.local.recognizers` only recognise them, during
one walk over each statement's tree.  DSQL-only syntax (``ASYNC``) and driver
placeholders are prepared by :mod:`aurora_dsql_sqlalchemy.local.sqltext`.

A text of several statements (``'a; b'``) is one implicit transaction on
DSQL, as in PostgreSQL's simple query protocol: two DDL statements, or DDL
and DML, in one text are refused (``BEGIN``/``COMMIT`` inside the text start
and end transactions, so ``'BEGIN; CREATE INDEX ASYNC ...; COMMIT'`` passes).

Text the parser rejects yields no violation here: the server reports the
syntax error (the ``lint`` command reports it too).  What a single text
cannot show is left to the caller, which gets what it needs from
:class:`Analysis`: limits and keys that need the catalog (24 indexes per
table: ``indexed_tables``; dropping a primary-key column: ``drop_targets``;
tables, sequences and schemas in a database: ``created_objects``; the tables
whose index keys may change, for DSQL's key size: ``key_tables``; strict mode
checks them on the server, see :mod:`aurora_dsql_sqlalchemy.local.catalog`),
and the row, size and age limits of a transaction.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Literal

from ..rules import LIMITS, Limits
from ..violations import Location, Violation
from .recognizers import Context, dispatch_table
from .sqltext import Prepared, RawStatement, prepare
from .tree import Node

__all__ = ["Analysis", "Statement", "Violation", "analyze", "check_sql", "created_indexes", "find_violations"]

StatementKind = Literal["ddl", "dml", "query", "control"]

_DISPATCH = dispatch_table()

_CONTROL = frozenset(
    {
        "TransactionStmt", "VariableSetStmt", "DiscardStmt", "PrepareStmt", "DeallocateStmt",
        "ListenStmt", "NotifyStmt", "UnlistenStmt", "LockStmt", "LoadStmt", "CheckPointStmt",
        "VacuumStmt", "DoStmt", "ConstraintsSetStmt",
    }
)
_DML = frozenset({"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt", "CopyStmt"})
_QUERY = frozenset(
    {
        "SelectStmt", "ExplainStmt", "VariableShowStmt", "CallStmt", "ExecuteStmt",
        "DeclareCursorStmt", "FetchStmt", "ClosePortalStmt", "PLAssignStmt",
    }
)


@dataclass(frozen=True)
class Statement:
    """One statement of a checked text."""

    kind: StatementKind
    """``ddl`` (GRANT/REVOKE included, as DSQL counts them), ``dml``, ``query`` or ``control``."""
    node_type: str
    """The parse node (``"IndexStmt"``)."""
    location: Location
    job: Literal["index", "validate"] | None = None
    """Answers with a DSQL job id (``CREATE INDEX ASYNC``, ``ALTER TABLE ASYNC ... VALIDATE``)."""


@dataclass(frozen=True)
class Analysis:
    """What one parse of a SQL text tells: violations, statements, catalog facts."""

    violations: tuple[Violation, ...] = ()
    """Every rule broken, located, in text order (warnings included: see :attr:`errors`)."""
    statements: tuple[Statement, ...] = ()
    indexed_tables: tuple[tuple[str, int], ...] = ()
    """``(table, line)`` for each index the text creates (CREATE INDEX, and the
    PRIMARY KEY / UNIQUE constraints of CREATE TABLE)."""
    dropped_columns: tuple[tuple[str, str, int], ...] = ()
    """``(table, column, line)`` of each ``DROP COLUMN``: refused by DSQL for a
    primary-key column, which only the catalog (or the same text) can tell."""
    drop_targets: tuple[tuple[str, str], ...] = ()
    """``(quoted relation, column)`` of the same ``DROP COLUMN`` actions, as
    ``to_regclass`` finds the table (strict mode looks them up in the catalog)."""
    primary_keys: dict[str, list[str]] = field(default_factory=dict)
    """Primary-key columns of the tables the text creates."""
    created_objects: tuple[tuple[str, str, int], ...] = ()
    """``(kind, name, line)`` of each table, schema and sequence the text creates
    (an identity column's sequence included; DSQL limits how many a database
    holds: :class:`~aurora_dsql_sqlalchemy.rules.Limits`)."""
    key_tables: tuple[str | None, ...] = ()
    """Quoted tables (as ``to_regclass`` finds them) whose index keys the text
    may change; ``None`` for a ``DROP INDEX``, which names no table (strict
    mode checks DSQL's key size: :mod:`aurora_dsql_sqlalchemy.local.keysize`)."""
    unparsed: tuple[Location, ...] = ()
    """Statements PostgreSQL's parser rejects (with ``split=True`` only)."""
    parsed: bool = True
    """``False``: the text does not parse at all (the server will say why)."""

    @property
    def errors(self) -> tuple[Violation, ...]:
        """The violations DSQL refuses (severity ``error``)."""
        return tuple(v for v in self.violations if v.severity == "error")

    @property
    def kinds(self) -> tuple[StatementKind, ...]:
        return tuple(s.kind for s in self.statements)


def check_sql(sql: str, limits: Limits = LIMITS) -> tuple[Violation, ...]:
    """All DSQL rules (of severity ``error``) that this SQL text violates.

    *sql* is what a driver receives: one or several statements, possibly with
    DSQL-only syntax and pyformat placeholders.  Text that PostgreSQL's parser
    cannot parse yields no violation.  *limits* may be a relaxed copy of
    :data:`~aurora_dsql_sqlalchemy.rules.LIMITS`.
    """
    return analyze(sql, limits).errors


def find_violations(
    sql: str,
    limits: Limits = LIMITS,
    *,
    placeholders: bool = True,
    warnings: bool = False,
    one_transaction: bool = True,
) -> list[Violation]:
    """Every DSQL rule *sql* breaks, each with its :class:`Location` (line, statement).

    ``placeholders=False`` reads ``%`` literally (for ``.sql`` files rather than
    driver text); ``warnings=True`` adds ``warning`` rules (accepted by DSQL,
    but with a different result than PostgreSQL's); ``one_transaction=False``
    checks the statements as a script run one by one (``psql -f``) rather than
    one query.
    """
    analysis = analyze(sql, limits, placeholders=placeholders, one_transaction=one_transaction)
    return list(analysis.violations if warnings else analysis.errors)


def created_indexes(sql: str, *, placeholders: bool = False) -> list[tuple[str, int]]:
    """``(table, line)`` for each index *sql* creates: ``CREATE INDEX`` and the
    ``PRIMARY KEY`` / ``UNIQUE`` constraints of ``CREATE TABLE``.

    A result of the same (cached) parse and walk as :func:`check_sql`.
    """
    return list(analyze(sql, LIMITS, placeholders=placeholders).indexed_tables)


def analyze(
    sql: str,
    limits: Limits = LIMITS,
    *,
    placeholders: bool = True,
    meta_commands: bool = False,
    split: bool = False,
    one_transaction: bool = True,
) -> Analysis:
    """Parse *sql* once and tell everything the dialect needs of it (cached per text).

    The statements of *sql* are one transaction, as DSQL runs a
    multi-statement query, unless ``one_transaction=False`` (a script that
    ``psql -f`` sends statement by statement).  ``meta_commands=True`` skips
    psql meta-commands (``\\set ...``) and ``split=True`` checks statement by
    statement when the whole text does not parse, reporting the statements
    that don't (both for ``.sql`` files).
    """
    return _analyze(sql, limits, placeholders, meta_commands, split, one_transaction)


@functools.lru_cache(maxsize=256)
def _analyze(
    sql: str, limits: Limits, placeholders: bool, meta_commands: bool, split: bool, one_transaction: bool
) -> Analysis:
    prepared = prepare(sql, placeholders, meta_commands=meta_commands, split=split)
    if prepared is None:
        return Analysis(parsed=False)
    original = sql.encode("utf-8")  # same byte offsets as the prepared text
    found: list[Violation] = []
    statements: list[Statement] = []
    indexed: list[tuple[str, int]] = []
    dropped: list[tuple[str, str, int]] = []
    targets: list[tuple[str, str]] = []
    primary_keys: dict[str, list[str]] = {}
    created: list[tuple[str, str, int]] = []
    keyed: list[str | None] = []
    shape = _TransactionShape() if one_transaction and len(prepared.statements) > 1 else None
    for raw in prepared.statements:
        ctx = Context(limits, prepared.data[raw.start : raw.start + raw.length], raw.is_async)
        _walk(raw.node, ctx)
        location = _location(prepared, original, raw.start, raw.length)
        node_type, node = next(iter(raw.node.items()))
        statement = Statement(_kind(node_type, node), node_type, location, _job(node_type, raw))
        statements.append(statement)
        found.extend(v.at(location) for v in ctx.found)
        if shape is not None:
            found.extend(shape.check(statement))
        indexed.extend((table, location.line or 0) for table in ctx.indexes)
        dropped.extend((table, column, location.line or 0) for table, column in ctx.dropped_columns)
        targets.extend(ctx.drop_targets)
        primary_keys.update(ctx.primary_keys)
        created.extend((kind, name, location.line or 0) for kind, name in ctx.created)
        keyed.extend(ctx.key_tables)
    unparsed = tuple(_location(prepared, original, u.start, u.length, u.error) for u in prepared.unparsed)
    return Analysis(
        tuple(found),
        tuple(statements),
        tuple(indexed),
        tuple(dropped),
        tuple(targets),
        primary_keys,
        tuple(created),
        tuple(keyed),
        unparsed,
    )


def _walk(node: Any, ctx: Context) -> None:
    """Visit every node of the tree (a node is ``{"NodeType": {fields}}``)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict):
                visits = _DISPATCH.get(key)
                if visits is not None:
                    for visit in visits:
                        visit(value, ctx)
                _walk(value, ctx)
            elif isinstance(value, list):
                _walk(value, ctx)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)):
                _walk(item, ctx)


def _location(prepared: Prepared, original: bytes, start: int, length: int, error: str | None = None) -> Location:
    text = original[start : start + length].decode("utf-8", "replace").strip()
    if error is not None:
        text = f"{text}\n  ({error})"
    return Location(None, prepared.line_of(start, length), text)


def _kind(node_type: str, node: Node) -> StatementKind:
    if node_type in _DML:
        return "dml"
    if node_type in _QUERY:
        with_clause = node.get("withClause") or {}
        for cte in with_clause.get("ctes", ()):
            query = cte.get("CommonTableExpr", {}).get("ctequery", {})
            if any(k in _DML for k in query):
                return "dml"
        return "query"
    if node_type in _CONTROL:
        return "control"
    return "ddl"


def _job(node_type: str, raw: RawStatement) -> Literal["index", "validate"] | None:
    if not raw.is_async:
        return None
    return "index" if node_type == "IndexStmt" else "validate" if node_type == "AlterTableStmt" else None


class _TransactionShape:
    """A multi-statement text is one transaction (until an explicit BEGIN/COMMIT):
    DSQL refuses a second DDL statement, and DDL with DML, at the later statement."""

    def __init__(self) -> None:
        self.ddl = self.dml = 0

    def check(self, statement: Statement) -> list[Violation]:
        if statement.node_type == "TransactionStmt":
            self.ddl = self.dml = 0  # an explicit block starts or ends
            return []
        subject = statement.location.statement or statement.node_type
        found = []
        if statement.kind == "ddl":
            if self.ddl:
                found.append(Violation("ddl-per-transaction", subject, location=statement.location))
            elif self.dml:
                found.append(Violation("ddl-dml-mix", subject, location=statement.location))
            self.ddl += 1
        elif statement.kind == "dml":
            if self.ddl:
                found.append(Violation("ddl-dml-mix", subject, location=statement.location))
            self.dml += 1
        return found
