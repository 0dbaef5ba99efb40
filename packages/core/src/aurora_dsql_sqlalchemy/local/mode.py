"""Local mode: the dialect standing in for DSQL on a PostgreSQL server.

One :class:`LocalMode` per dialect, made at first connect when the server
turns out to be PostgreSQL.  It owns the policy (``strict`` or ``translate``,
relaxed rules, limits), the plans of local statements (DSQL-only syntax
translated, strict-mode violations found once per distinct text), the
per-transaction accounting of DSQL's limits, and the emulation's setup
(:mod:`aurora_dsql_sqlalchemy.local.jobs`).  The execution context asks it; nothing else does.
"""

from __future__ import annotations

import functools
import operator
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from .. import rules
from ..errors import sqlstate_of
from ..options import LocalModeName
from ..statements import Kind, StatementPlan, classify
from . import jobs

if TYPE_CHECKING:
    from ..compiled_ddl import DDLFacts
    from .checks import Analysis

__all__ = ["LocalMode", "TransactionState"]


CONFLICT_LOCK_TIMEOUT_MS: Final = 100
"""How long a strict-mode writer waits for another transaction's row lock
before it gets DSQL's conflict (DSQL never waits).  Long enough that
PostgreSQL's own short internal waits (a relation extension while several
sessions COPY into one table) are not taken for conflicts, which DSQL would
not report; short enough that no writer blocks for the other's lifetime."""


class TransactionState:
    """What the current driver-level transaction has done (per pooled connection)."""

    __slots__ = ("bytes", "rows", "started", "wrote")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.wrote = False
        self.rows = 0
        self.bytes = 0
        self.started: float | None = None


class LocalMode:
    """Policy, plans, accounting and emulation of local mode."""

    def __init__(
        self,
        mode: LocalModeName,
        relaxed: frozenset[str],
        limits: rules.Limits,
        server_error: Callable[[str, str], Exception] | None = None,
    ) -> None:
        self.server_error = server_error
        """The driver's error for (SQLSTATE, message), as the dialect raises its refusals."""
        self.mode: LocalModeName = mode
        self.strict = mode == "strict"
        self.relaxed = relaxed
        self.limits = limits
        self.counts_indexes = self.enforces("indexes-per-table")
        """Strict mode checks DSQL's limit of indexes per table."""
        self.counts_objects = self.enforces("tables-per-database") or self.enforces("sequences-per-database")
        """Strict mode checks DSQL's limits of tables or sequences in a database."""

    def enforces(self, rule_id: str) -> bool:
        """Strict mode, and the rule not relaxed."""
        return self.strict and rule_id not in self.relaxed

    # -- plans ------------------------------------------------------------------------

    def plan(self, sql: str, kind: Kind | None, facts: DDLFacts | None = None) -> StatementPlan:
        """The plan of one distinct statement text, for PostgreSQL.

        ``facts``: what the DDL compiler vouches for in a CREATE TABLE /
        CREATE INDEX it compiled; strict mode then checks only the user's
        expressions in it rather than parsing the whole text."""
        plan = classify(sql, kind, facts)
        local = jobs.localize(plan.local_sql or sql) or plan.local_sql
        if not self.strict:
            return replace(plan, local_sql=local) if local != plan.local_sql else plan
        analysis = _analysis(sql, self.limits, facts)
        violations = tuple(v for v in analysis.errors if v.rule_id not in self.relaxed)
        # limits and keys only the catalog knows (an index build's: its key size)
        creates = uncounted = None
        if not violations and plan.job != "validate":
            guarded = _guard(local or sql, sql, analysis, self.limits, self.enforces)
            if guarded is not None:
                creates = _client_countable(analysis, self.enforces)
                uncounted, local = local or sql, guarded
        tables: tuple[str, ...] = ()
        if plan.job == "index" and self.enforces("indexes-per-table"):
            if facts is not None and facts.index_table:
                tables = (facts.index_table,)
            else:
                tables = _quoted_tables(analysis.indexed_tables)
        return StatementPlan(plan.kind, plan.job, local, violations, tables, creates, uncounted if creates else None)

    def counts_on_client(self, counts: list[float], creates: tuple[int, int]) -> bool:
        """Whether a statement that creates ``creates`` (tables, sequences)
        can skip the server's count, given the ``counts`` the client keeps
        (:func:`~aurora_dsql_sqlalchemy.local.catalog.room_for`)."""
        return _strict_modules()[1].room_for(counts, creates, self.limits, self.enforces)  # type: ignore[no-any-return]

    @staticmethod
    def count_database(dbapi_conn: Any) -> list[float]:
        """``[tables, sequences, counted_at]`` of the database now, as
        ``check_counts`` counts them (one catalog scan)."""
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(_strict_modules()[1].COUNT_SQL)
            tables, sequences = cursor.fetchone()
        finally:
            cursor.close()
        return [tables, sequences, time.monotonic()]

    @staticmethod
    def count_is_fresh(counts: list[float]) -> bool:
        """A count kept on the client is as fresh as ``check_counts`` needs its own to be."""
        return bool(counts) and time.monotonic() - counts[2] <= _strict_modules()[1].RECOUNT_AFTER_SECONDS

    def job_sql(
        self, plan: StatementPlan, subject: str, *, percent_escaped: bool, job_id: str | None = None
    ) -> str:
        """The statement that runs ``plan``'s ASYNC statement as a local job;
        with ``job_id``, one that builds it and leaves the recording to the
        caller (:func:`~aurora_dsql_sqlalchemy.local.jobs.record_jobs_sql`)."""
        return jobs.run_job_sql(
            plan.local_sql or "",
            jobs.job_type(plan.job),
            subject,
            plan.index_tables,
            self._index_limit(plan),
            percent_escaped=percent_escaped,
            job_id=job_id,
        )

    def index_build_sql(self, plan: StatementPlan, *, percent_escaped: bool, indexes: int | None = None) -> str:
        """``plan``'s index build sent as itself (strict mode: after the count
        of indexes per table), for a job the dialect records later; see
        :func:`~aurora_dsql_sqlalchemy.local.jobs.index_build_sql`.

        ``indexes``: how many indexes the table is known to have (one the
        same ``create_all()`` created): below the limit, nothing is counted
        on the server."""
        limit = self._index_limit(plan)
        if indexes is not None and limit is not None and indexes < limit[0]:
            limit = None
        return jobs.index_build_sql(plan.local_sql or "", plan.index_tables, limit, percent_escaped=percent_escaped)

    @staticmethod
    def build_failure(error: BaseException) -> str | None:
        """The details of the failed job a plain index build's ``error`` stands
        for (a UNIQUE build over duplicate rows), else ``None``."""
        diag = getattr(error, "diag", None)
        message = getattr(diag, "message_primary", None) or str(error)
        return jobs.build_failure(sqlstate_of(error), message)

    def _index_limit(self, plan: StatementPlan) -> tuple[int, str, str] | None:
        if not plan.index_tables:
            return None
        rule = rules.RULES["indexes-per-table"]
        return self.limits.indexes_per_table, rule.sqlstate, rule.server_message()

    # -- accounting -------------------------------------------------------------------

    def before_write(self, state: TransactionState) -> None:
        if self.strict and state.started is None:
            state.started = time.monotonic()

    def after_write(
        self, cursor: Any, state: TransactionState, rows: int, parameters: Any, many: bool
    ) -> None:
        """Strict mode: DSQL's per-transaction row limit fails the statement that crosses it."""
        if not self.strict:  # translate mode only remembers that the transaction wrote
            state.wrote = True
            return
        self.count_written(cursor, state, rows, _estimate_bytes(parameters, many) if parameters else 0)

    def count_written(self, cursor: Any, state: TransactionState, rows: int, nbytes: int) -> None:
        """Account ``rows`` / ``nbytes`` written by a statement the dialect did
        not execute itself (``COPY ... FROM STDIN`` through the driver's copy
        API), as for INSERT/UPDATE/DELETE."""
        state.wrote = True
        if not self.strict:
            return
        self.before_write(state)
        if rows > 0:
            state.rows += rows
        state.bytes += nbytes
        if state.rows > self.limits.transaction_rows and self.enforces("transaction-rows"):
            # Raised by the server itself, so that PostgreSQL aborts the
            # transaction exactly as DSQL does (later statements: 25P02).
            rule = rules.RULES["transaction-rows"]
            try:
                jobs.raise_on_server(cursor, rule.sqlstate, rule.server_message())
            except Exception:
                if self.server_error is None:
                    raise
                # the server has aborted the transaction; answer with DSQL's
                # message and our advice, not PL/pgSQL's CONTEXT trail
                raise self.server_error(rule.sqlstate, rule.server_message() + rule.hint()) from None

    def broken_at_commit(self, state: TransactionState) -> str | None:
        """The rule a COMMIT of this transaction breaks (strict mode), if any."""
        if not self.strict:
            return None
        if state.bytes > self.limits.transaction_bytes and self.enforces("transaction-size"):
            return "transaction-size"
        if (
            state.started is not None
            and time.monotonic() - state.started > self.limits.transaction_seconds
            and self.enforces("transaction-age")
        ):
            return "transaction-age"
        return None

    # -- refusals ------------------------------------------------------------------------

    @staticmethod
    def abort_transaction(dbapi_conn: Any) -> None:
        """Abort the server's open transaction, as a statement DSQL refuses does
        (later statements: 25P02 until ROLLBACK).  Only on the refusal path."""
        if getattr(dbapi_conn, "autocommit", False):
            return
        cursor = dbapi_conn.cursor()
        try:
            rule = rules.RULES["transaction-rows"]  # any error aborts; its text is never shown
            jobs.raise_on_server(cursor, rule.sqlstate, "statement refused by Aurora DSQL rules")
        except Exception:
            pass
        finally:
            cursor.close()

    # -- sessions ----------------------------------------------------------------------

    def startup_options(self, cparams: dict[str, Any]) -> None:
        """DSQL's session defaults as startup options: no extra round trip per
        connection.  Strict mode also makes writers stop waiting for each other
        (``lock_timeout``), as they never wait on DSQL; see :meth:`conflict`."""
        options = jobs.SESSION_OPTIONS
        if self.enforces("occ-data"):
            options += f" -c lock_timeout={CONFLICT_LOCK_TIMEOUT_MS}ms"
        if self.enforces("index-key-size"):
            options += " " + _key_size_option(self.limits)
        extra = cparams.get("options")
        cparams["options"] = f"{extra} {options}" if extra else options

    def conflict(self, error: BaseException) -> tuple[str, str] | None:
        """DSQL's answer (SQLSTATE, message) for a PostgreSQL error, if strict
        mode answers it differently: a write that would have waited for another
        transaction's row lock is DSQL's data conflict, ``40001`` OC000.  On
        DSQL the loser usually learns it at COMMIT; here it learns it at the
        statement, which retry code treats the same way (re-run the whole
        transaction), and no writer blocks."""
        if not self.enforces("occ-data") or sqlstate_of(error) != rules.POSTGRESQL_LOCK_NOT_AVAILABLE:
            return None
        rule = rules.RULES["occ-data"]
        return rule.sqlstate, rule.server_message()

    @staticmethod
    def own_refusal(error: BaseException) -> tuple[str, str] | None:
        """(SQLSTATE, message) of a refusal raised by local mode's own checks
        on the server (catalog limits, index count), as DSQL words it: its
        message and our HINT, without PL/pgSQL's ``CONTEXT`` line, which names
        a function DSQL does not have."""
        diag = getattr(error, "diag", None)
        where = getattr(diag, "context", None) or ""
        code = sqlstate_of(error)
        if f"{jobs.LOCAL_SCHEMA}." not in where or code is None:
            return None
        hint = getattr(diag, "message_hint", None)
        message = getattr(diag, "message_primary", None) or str(error)
        return code, message + (f"\nHINT:  {hint}" if hint else "")

    def set_up(self, dbapi_conn: Any) -> None:
        """The first connection (made before the mode was known)."""
        jobs.install_local_schema(dbapi_conn)
        if self.strict:
            _install_catalog_checks(dbapi_conn)
        timeout = CONFLICT_LOCK_TIMEOUT_MS if self.enforces("occ-data") else None
        checked = _key_size_option(self.limits).removeprefix("-c ") if self.enforces("index-key-size") else None
        jobs.setup_session(dbapi_conn, lock_timeout_ms=timeout, setting=checked)


@functools.cache
def _strict_modules() -> tuple[Any, Any]:
    # the parser (pglast) and the catalog checks, imported at first use
    from . import catalog, vouched

    return vouched, catalog


def _analysis(sql: str, limits: rules.Limits, facts: DDLFacts | None) -> Analysis:
    return _strict_modules()[0].analysis(sql, limits, facts)  # type: ignore[no-any-return]


def _guard(sent: str, sql: str, analysis: Any, limits: rules.Limits, enforces: Callable[[str], bool]) -> str | None:
    return _strict_modules()[1].guard(sent, sql, analysis, limits, enforces)  # type: ignore[no-any-return]


def _key_size_option(limits: rules.Limits) -> str:
    from .keysize import session_option

    return session_option(limits)


def _install_catalog_checks(dbapi_conn: Any) -> None:
    from .catalog import install

    install(dbapi_conn)


def _client_countable(analysis: Any, enforces: Callable[[str], bool]) -> tuple[int, int] | None:
    return _strict_modules()[1].client_countable(analysis, enforces)  # type: ignore[no-any-return]


def _quoted_tables(indexed: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
    return tuple(
        ".".join(jobs.quote_ident(part) for part in table.split(".", 1)) for table, _line in indexed
    )


_SIZED: Final = (str, bytes, bytearray, memoryview)


def _estimate_bytes(parameters: Any, many: bool) -> int:
    """Bytes a transaction writes, roughly: the length of text and binary
    values, 8 per other value (on the hot path of every strict-mode write).

    Counted a column at a time, so that an ``executemany`` or an
    insertmanyvalues batch of thousands of rows is measured by loops that run
    in C; rows of different shapes are counted a value at a time."""
    rows = parameters if many else (parameters,)
    if len(rows) <= 1:  # one row (most writes): counted as it is
        return _bytes_by_value(rows)
    first = rows[0]
    if len(set(map(len, rows))) != 1:
        return _bytes_by_value(rows)
    try:
        keys = list(first) if isinstance(first, dict) else range(len(first))
        return sum(_column_bytes(list(map(operator.itemgetter(key), rows))) for key in keys)
    except (KeyError, IndexError, TypeError):  # dicts with other keys, or sequences mixed with dicts
        return _bytes_by_value(rows)


def _column_bytes(column: list[Any]) -> int:
    kinds = set(map(type, column))
    sized = [kind for kind in kinds if issubclass(kind, _SIZED)]
    if not sized:
        return 8 * len(column)
    if len(sized) == len(kinds):
        return sum(map(len, column))
    return sum(len(value) if isinstance(value, _SIZED) else 8 for value in column)


def _bytes_by_value(rows: Any) -> int:
    total = 0
    for row in rows:
        values = row.values() if isinstance(row, dict) else row
        total += 8 * len(values)
        for value in values:
            if isinstance(value, _SIZED):
                total += len(value) - 8
    return total
