"""Strict local mode's check of DDL the compiler vouches for.

For a ``CREATE TABLE`` / ``CREATE INDEX`` the dialect compiled from plain
constructs (:class:`~aurora_dsql_sqlalchemy.compiled_ddl.DDLFacts`), the
:class:`~aurora_dsql_sqlalchemy.local.checks.Analysis` the checker would
derive from the whole text is built from the compiler's facts, and only the
user's expressions in it (server defaults, an index's ``WHERE``) go through
the checker, together as one ``SELECT`` (cached per distinct text, so the
``now()`` default of a hundred tables is parsed once).  When anything is in
doubt (an expression that could reach beyond itself, a figure over a
configured limit) the answer is ``None`` and the caller parses the whole text.
"""

from __future__ import annotations

from typing import Final

from ..compiled_ddl import DDLFacts
from ..rules import Limits
from ..violations import Location, Violation
from .checks import Analysis, Statement, analyze

__all__ = ["analysis", "analysis_of"]

_ESCAPES: Final = ("--", "/*", ";")
"""What could let an expression end the ``SELECT`` it is checked in, or hide
the rest of the statement: the whole text is parsed instead."""


def analysis(sql: str, limits: Limits, facts: DDLFacts | None) -> Analysis:
    """What strict mode needs of ``sql``: from the compiler's facts when it
    vouches for the statement, else from one (cached) parse of the text."""
    found = analysis_of(facts, sql, limits) if facts is not None else None
    return found if found is not None else analyze(sql, limits)


def analysis_of(facts: DDLFacts, sql: str, limits: Limits) -> Analysis | None:
    """The checker's :class:`Analysis` of ``sql`` from ``facts``, or ``None``
    when the compiler does not vouch for it (then parse the text)."""
    if (
        not facts.vouched
        or facts.columns > limits.columns_per_table
        or facts.key_columns > limits.index_key_columns
    ):
        return None
    found: tuple[Violation, ...] = ()
    if facts.expressions:
        if any(escape in expression for expression in facts.expressions for escape in _ESCAPES):
            return None
        pieces = analyze("SELECT " + ", ".join(f"({e})" for e in facts.expressions), limits)
        if not pieces.parsed or len(pieces.statements) != 1:
            return None
        found = pieces.violations
    long_keys = facts.key_bytes is None or facts.key_bytes > limits.index_key_bytes
    line = sql[: len(sql) - len(sql.lstrip())].count("\n") + 1
    location = Location(None, line, sql.strip())
    table = facts.created[0][1] if facts.created else None
    return Analysis(
        violations=tuple(v.at(location) for v in found),
        statements=(Statement("ddl", "CreateStmt" if table else "IndexStmt", location, facts.job),),
        indexed_tables=tuple((name, line) for name in facts.indexed),
        primary_keys={name: list(keys) for name, keys in facts.primary_keys},
        created_objects=tuple((kind, name, line) for kind, name in facts.created)
        # an identity column makes a sequence too, counted as the checker counts it
        + tuple(("sequence", f"{table}.{column} (identity)", line) for column in facts.identities),
        # keys that cannot outgrow the limit need no check on the server
        key_tables=(_as_read(facts.index_table, sql),) if facts.index_table and facts.indexed and long_keys else (),
    )


def _as_read(name: str, sql: str) -> str:
    """``name`` as the checker reads it from ``sql``: a text sent with its
    ``%`` doubled reads each ``%%`` as ``'% '``."""
    return name.replace("%", "% ") if "%%" in sql else name
