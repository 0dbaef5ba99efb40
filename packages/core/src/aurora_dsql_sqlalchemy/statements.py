"""What a statement is, as far as DSQL's transaction rules care.

DSQL runs one DDL statement per transaction and never mixes DDL with DML, and
index builds and constraint validations answer with a job id.  The execution
layer needs to know, for each statement text, which of those it is.  A
keyword look at the text is enough and costs microseconds; the result is
cached per distinct text by the execution layer
(:class:`~aurora_dsql_sqlalchemy.execution.ExecutionMixin`), so a statement executed a
million times is classified once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Literal

__all__ = ["Kind", "StatementPlan", "classify"]


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
_WRITES_IN_CTE = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)
_INDEX_ASYNC = re.compile(
    r"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+ASYNC\b", re.IGNORECASE
)
_ALTER_TABLE_ASYNC = re.compile(r"^\s*ALTER\s+TABLE\s+ASYNC\b", re.IGNORECASE)
_ASYNC_WORD = re.compile(r"(?<=INDEX)\s+ASYNC\b|(?<=TABLE)\s+ASYNC\b", re.IGNORECASE)

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
    violations: tuple[object, ...] = ()
    """Strict local mode: the DSQL rules this text breaks (``local.checks.Violation``)."""


def classify(sql: str) -> StatementPlan:
    """The :class:`StatementPlan` of one statement text (not cached; see
    ``ExecutionMixin`` for the cache)."""
    body = sql[_LEADING_NOISE.match(sql).end() :]  # type: ignore[union-attr]
    word_match = _FIRST_WORD.match(body)
    word = word_match.group(0).upper() if word_match else ""
    if word in _DDL_WORDS:
        if _INDEX_ASYNC.match(body):
            return StatementPlan(Kind.DDL, "index", _ASYNC_WORD.sub("", body, count=1))
        if _ALTER_TABLE_ASYNC.match(body):
            return StatementPlan(Kind.DDL, "validate", _ASYNC_WORD.sub("", body, count=1))
        return StatementPlan(Kind.DDL)
    if word in _DML_WORDS:
        return StatementPlan(Kind.DML)
    if word == "WITH" and _WRITES_IN_CTE.search(body):
        return StatementPlan(Kind.DML)
    if word in _CONTROL_WORDS:
        return StatementPlan(Kind.CONTROL)
    return StatementPlan(Kind.QUERY)
