"""What a statement is, as far as DSQL's transaction rules care.

DSQL runs one DDL statement per transaction and never mixes DDL with DML, and
index builds and constraint validations answer with a job id.  The execution
layer needs to know, for each statement, which of those it is.  What
SQLAlchemy already knows decides first (a compiled DDL construct, a compiled
INSERT/UPDATE/DELETE, a compiled SELECT; see
:class:`~aurora_dsql_sqlalchemy.context.AuroraDSQLExecutionContext`); only
``text()`` and ``exec_driver_sql`` strings are classified by a keyword look at
the text, which costs microseconds.  The result is cached per distinct text
by :class:`StatementPlans`, so a statement executed a million times is
planned (and, in strict local mode, parsed) once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .compiled_ddl import DDLFacts
    from .local.checks import Violation

__all__ = ["Kind", "StatementPlan", "StatementPlans", "classify"]


class Kind(Enum):
    QUERY = "query"
    """Reads only (SELECT, SHOW, VALUES, CALL sys.wait_for_job, ...)."""
    DML = "dml"
    """Writes rows (INSERT, UPDATE, DELETE, MERGE, COPY)."""
    DDL = "ddl"
    """Changes the schema."""
    CONTROL = "control"
    """Transaction and session control (BEGIN, COMMIT, SET, ...)."""


Job = Literal["index", "validate"]

_LEADING_NOISE = re.compile(r"^(?:\s+|--[^\n]*\n|/\*.*?\*/)*", re.DOTALL)
_FIRST_WORD = re.compile(r"[A-Za-z]+")
# A data-modifying CTE body ("AS (UPDATE ...") or a DML main statement after
# the CTEs (") DELETE ..."); not "FOR UPDATE", not a 'delete' literal.
_WRITES_IN_CTE = re.compile(
    r"\bAS\s*(?:NOT\s+)?(?:MATERIALIZED\s*)?\(\s*(?:INSERT|UPDATE|DELETE|MERGE)\b"
    r"|\)\s*(?:INSERT|UPDATE|DELETE|MERGE)\b",
    re.IGNORECASE,
)
_INDEX_ASYNC = re.compile(
    r"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+ASYNC\b", re.IGNORECASE
)
_ALTER_TABLE_ASYNC = re.compile(r"^\s*ALTER\s+TABLE\s+ASYNC\b", re.IGNORECASE)
# every ASYNC of a (multi-statement) text, not only the first statement's
_ASYNC_WORDS = re.compile(
    r"\b(CREATE\s+(?:UNIQUE\s+)?INDEX|ALTER\s+TABLE)\s+ASYNC\b", re.IGNORECASE
)

_DDL_WORDS = frozenset(
    {"CREATE", "ALTER", "DROP", "COMMENT", "GRANT", "REVOKE", "TRUNCATE", "REINDEX", "SECURITY"}
)
_DML_WORDS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "COPY"})
_CONTROL_WORDS = frozenset(
    {
        "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE",
        "SET", "RESET", "PREPARE", "DEALLOCATE", "DISCARD", "LISTEN", "NOTIFY",
        "UNLISTEN", "LOCK", "LOAD", "CHECKPOINT", "VACUUM", "ANALYZE", "DO",
    }
)


@dataclass(frozen=True, slots=True)
class StatementPlan:
    """How the execution layer treats one distinct statement text."""

    kind: Kind
    job: Job | None = None
    """The statement answers with a DSQL job id (``CREATE INDEX ASYNC``,
    ``ALTER TABLE ASYNC ... VALIDATE CONSTRAINT``)."""
    local_sql: str | None = None
    """The same statement for PostgreSQL (DSQL-only ASYNC removed); ``None``
    when the text runs on PostgreSQL unchanged."""
    violations: tuple[Violation, ...] = ()
    """Strict local mode: the DSQL rules this text breaks."""
    index_tables: tuple[str, ...] = ()
    """Strict local mode, index builds: the tables that get an index (quoted
    names, for DSQL's limit of indexes per table, checked at execution)."""
    creates: tuple[int, int] | None = None
    """Strict local mode: ``(tables, sequences)`` the statement creates, when
    the count of those in the database is its only check on the server
    (``local_sql`` ends with it); ``uncounted_sql`` is the statement
    without it, for a count the client keeps (inside ``create_all()``)."""
    uncounted_sql: str | None = None


def _without_async(sql: str) -> str | None:
    local, count = _ASYNC_WORDS.subn(r"\1", sql)
    return local if count else None


def classify(sql: str, kind: Kind | None = None, facts: DDLFacts | None = None) -> StatementPlan:
    """The :class:`StatementPlan` of one statement text (not cached).

    ``kind``: what the compiled construct already says the statement is
    (``None`` for text: then the text decides); ``facts``: what the DDL
    compiler says of a CREATE TABLE / CREATE INDEX it compiled (then the text
    is not read at all).
    """
    if facts is not None:
        return StatementPlan(Kind.DDL, facts.job, facts.local_sql)
    body = sql[_LEADING_NOISE.match(sql).end() :]  # type: ignore[union-attr]
    word_match = _FIRST_WORD.match(body)
    word = word_match.group(0).upper() if word_match else ""
    if kind is None or kind is Kind.DDL:
        if word in _DDL_WORDS:
            if _INDEX_ASYNC.match(body):
                return StatementPlan(Kind.DDL, "index", _without_async(body))
            if _ALTER_TABLE_ASYNC.match(body):
                return StatementPlan(Kind.DDL, "validate", _without_async(body))
            return StatementPlan(Kind.DDL, local_sql=_without_async(sql))
        if kind is None:
            if word in _DML_WORDS or (word == "WITH" and _WRITES_IN_CTE.search(body)):
                kind = Kind.DML
            elif word in _CONTROL_WORDS:
                kind = Kind.CONTROL
            else:
                kind = Kind.QUERY
    return StatementPlan(kind or Kind.DDL, local_sql=_without_async(sql))


_PLAN_CACHE_SIZE = 4096


class StatementPlans:
    """The plans of one dialect, cached per distinct statement text.

    ``make(sql, kind, facts)`` plans a text not seen yet: :func:`classify`
    on DSQL, :meth:`~aurora_dsql_sqlalchemy.local.mode.LocalMode.plan` in
    local mode."""

    __slots__ = ("_plans", "make")

    def __init__(self, make: Callable[[str, Kind | None, DDLFacts | None], StatementPlan] | None = None) -> None:
        self._plans: dict[str, StatementPlan] = {}
        self.make = make or classify

    def cached(self, sql: str) -> StatementPlan | None:
        return self._plans.get(sql)

    def get(self, sql: str, kind: Kind | None = None, facts: DDLFacts | None = None) -> StatementPlan:
        plan = self._plans.get(sql)
        if plan is None:
            plan = self.make(sql, kind, facts)
            if len(self._plans) >= _PLAN_CACHE_SIZE:
                self._plans.clear()
            self._plans[sql] = plan
        return plan
