"""How statements reach the server: DSQL's transaction shape, async jobs and local mode.

DDL in its own transaction
    DSQL runs one DDL statement per transaction and never mixes DDL with DML.
    When a DDL statement arrives and the driver connection has no transaction
    open, the dialect runs it in driver-level autocommit: it commits on its own,
    with no extra BEGIN/COMMIT round trip, whatever the user's engine settings.
    ``metadata.create_all()``, ``drop_all()`` and Alembic therefore just work.
    If the open transaction has only read, it is ended first (nothing is lost).
    If it holds the user's writes, or another DDL statement, the dialect never
    commits on the user's behalf: the DDL is refused with DSQL's own error
    (SQLSTATE 0A000) before it is sent, and the transaction stays as it was.
    A consequence to know: DDL is never rolled back with the surrounding
    SQLAlchemy transaction.

Index builds are jobs
    ``CREATE INDEX ASYNC`` answers with a ``job_id``.  A UNIQUE index does not
    enforce uniqueness until its job succeeds, so ``create_all()`` (and
    ``Table.create()``, ``Index.create()``) wait for the jobs they started with
    ``CALL sys.wait_for_job(id)`` and raise :class:`~.errors.IndexJobFailed`,
    naming the index, if one failed.  ``create_engine(..., wait_for_jobs=False)``
    turns waiting off.  Constraints added to existing tables are validated the
    DSQL way (``NOT VALID`` then ``ALTER TABLE ASYNC ... VALIDATE CONSTRAINT``).

Local mode
    Against a plain PostgreSQL (decided from the server at first connect:
    ``sys.dsql_major_version()`` exists only on DSQL), the dialect runs in
    *local mode*: the SQL it compiles is unchanged, and the execution layer
    translates what only DSQL understands (``ASYNC``, ``sys.jobs``,
    ``sys.wait_for_job``).  ``local_mode="strict"`` (the default) also
    enforces DSQL's rules with DSQL's SQLSTATEs and messages;
    ``local_mode="translate"`` only translates.  ``relax=["rule-id", ...]``
    switches single rules off.  The mode is logged at INFO on first connect,
    and asking for local mode against a DSQL cluster is an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import event, orm
from sqlalchemy import schema as sa_schema
from sqlalchemy.engine import URL

from . import rules
from .errors import IndexJobFailed
from .statements import Kind, StatementPlan, classify

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPICursor

log = logging.getLogger("aurora_dsql_sqlalchemy")

LocalMode = Literal["strict", "translate"]
_LOCAL_MODES = ("strict", "translate")
_PLAN_CACHE_SIZE = 4096
_STATE_KEY = "auroradsql_txn"
_PENDING_KEY = "auroradsql_pending_jobs"
_DEPTH_KEY = "auroradsql_ddl_depth"
_ASK_SERVER = object()  # a job's outcome is only known by waiting for it


class _TransactionState:
    """What the current driver-level transaction has done (per pooled connection)."""

    __slots__ = ("bytes", "rows", "started", "wrote")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.wrote = False
        self.rows = 0
        self.bytes = 0
        self.started: float | None = None


class ExecutionMixin:
    """Execution layer of the Aurora DSQL dialect (mixed into the dialect class)."""

    local_mode: LocalMode | None = None
    """``"strict"`` / ``"translate"`` when running against PostgreSQL, ``None`` on DSQL."""
    is_dsql: bool | None = None
    """Whether the server is Aurora DSQL (known after the first connection)."""

    def __init__(
        self,
        local_mode: LocalMode | None = None,
        wait_for_jobs: bool = True,
        relax: Iterable[str] = (),
        limits: rules.Limits | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        if local_mode is not None and local_mode not in _LOCAL_MODES:
            raise ValueError(f"local_mode must be one of {_LOCAL_MODES} or None, not {local_mode!r}")
        self._requested_local_mode: LocalMode | None = local_mode
        self.wait_for_jobs = _as_bool(wait_for_jobs)
        self.relaxed_rules = frozenset(relax if not isinstance(relax, str) else relax.split(","))
        for rule_id in self.relaxed_rules:
            rules.rule(rule_id)  # unknown ids fail here, not silently
        self.limits = limits or rules.LIMITS
        self._plans: dict[str, StatementPlan] = {}

    # -- choosing the mode -----------------------------------------------------------

    def create_connect_args(self, url: URL) -> Any:
        query = url.query
        if "local_mode" in query or "wait_for_jobs" in query:
            if "local_mode" in query:
                mode = str(query["local_mode"])
                if mode not in _LOCAL_MODES:
                    raise ValueError(f"local_mode must be one of {_LOCAL_MODES}, not {mode!r}")
                self._requested_local_mode = mode  # type: ignore[assignment]
            if "wait_for_jobs" in query:
                self.wait_for_jobs = _as_bool(query["wait_for_jobs"])
            url = url.difference_update_query(["local_mode", "wait_for_jobs"])
        return super().create_connect_args(url)  # type: ignore[misc]

    def initialize(self, connection: Any) -> None:
        super().initialize(connection)  # type: ignore[misc]
        dbapi_conn = connection.connection.dbapi_connection
        self.is_dsql = _server_is_dsql(dbapi_conn)
        if self.is_dsql:
            if self._requested_local_mode:
                raise ValueError(
                    f"local_mode={self._requested_local_mode!r} was requested, but the server "
                    "is Aurora DSQL (sys.dsql_major_version() exists). Local mode translates "
                    "DSQL syntax for PostgreSQL and must never run against DSQL; remove the setting."
                )
            self.local_mode = None
            log.info("auroradsql: connected to Aurora DSQL")
        else:
            host_is_dsql = getattr(self, "host_is_dsql", None)
            if host_is_dsql:
                raise ValueError(
                    "The host name is an Aurora DSQL endpoint, but the server is not DSQL "
                    "(sys.dsql_major_version() is missing); refusing to guess."
                )
            self.local_mode = self._requested_local_mode or "strict"
            log.info(
                "auroradsql: server is PostgreSQL %s, not Aurora DSQL: local mode %r "
                "(DSQL syntax translated%s)",
                ".".join(map(str, self.server_version_info or ())),  # type: ignore[attr-defined]
                self.local_mode,
                ", DSQL's rules enforced" if self.local_mode == "strict" else "",
            )
            from .local import jobs

            jobs.install_sys_schema(dbapi_conn)
            jobs.setup_session(dbapi_conn)
            self.default_isolation_level = self.get_isolation_level(dbapi_conn)  # type: ignore[attr-defined]
        self._plans.clear()

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        if self.local_mode:
            # DSQL's session defaults as startup options: no extra round trip
            # per connection (the first connection, made before the mode is
            # known, is set up by initialize()).
            from .local import jobs

            extra = cparams.get("options")
            cparams["options"] = f"{extra} {jobs.SESSION_OPTIONS}" if extra else jobs.SESSION_OPTIONS
        return super().connect(*cargs, **cparams)  # type: ignore[misc]

    @classmethod
    def engine_created(cls, engine: Any) -> None:
        parent = getattr(super(), "engine_created", None)
        if parent is not None:
            parent(engine)
        event.listen(engine.pool, "checkin", _forget_ddl_state)

    # -- plans -------------------------------------------------------------------------

    def _plan(self, statement: str) -> StatementPlan:
        plan = classify(statement)
        if self.local_mode == "strict":
            from dataclasses import replace

            from .local.checks import check_sql

            found = tuple(
                v for v in check_sql(statement, self.limits) if v.rule_id not in self.relaxed_rules
            )
            if found:
                plan = replace(plan, violations=found)
        if len(self._plans) >= _PLAN_CACHE_SIZE:
            self._plans.clear()
        self._plans[statement] = plan
        return plan

    # -- execution ---------------------------------------------------------------------

    def do_execute(self, cursor: DBAPICursor, statement: str, parameters: Any, context: Any = None) -> None:
        plan = self._plans.get(statement) or self._plan(statement)
        if plan.kind is Kind.QUERY and not plan.violations:
            cursor.execute(statement, parameters)
            return
        self._execute_planned(cursor, statement, parameters, context, plan, many=False)

    def do_executemany(self, cursor: DBAPICursor, statement: str, parameters: Any, context: Any = None) -> None:
        plan = self._plans.get(statement) or self._plan(statement)
        self._execute_planned(cursor, statement, parameters, context, plan, many=True)

    def do_execute_no_params(self, cursor: DBAPICursor, statement: str, context: Any = None) -> None:
        plan = self._plans.get(statement) or self._plan(statement)
        if plan.kind is Kind.QUERY and not plan.violations:
            cursor.execute(statement)
            return
        self._execute_planned(cursor, statement, None, context, plan, many=False)

    def _execute_planned(
        self, cursor: Any, statement: str, parameters: Any, context: Any, plan: StatementPlan, many: bool
    ) -> None:
        state = _state(context)
        strict = self.local_mode == "strict"
        if plan.violations:
            violation = plan.violations[0]
            raise self._server_error(
                rules.RULES[violation.rule_id].sqlstate,  # type: ignore[attr-defined]
                violation.server_message(),  # type: ignore[attr-defined]
            )
        if plan.kind is Kind.DDL:
            self._execute_ddl(cursor, statement, parameters, context, plan, state)
            return
        sql = plan.local_sql if (self.local_mode and plan.local_sql) else statement
        if plan.kind is Kind.DML and state is not None:
            if strict and state.started is None:
                state.started = time.monotonic()
            if many:
                cursor.executemany(sql, parameters)
            elif parameters is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, parameters)
            state.wrote = True
            if strict:
                self._count_written(cursor, parameters, many, state)
            return
        if many:
            cursor.executemany(sql, parameters)
        elif parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)

    def _count_written(self, cursor: Any, parameters: Any, many: bool, state: _TransactionState) -> None:
        """Strict mode: DSQL's per-transaction row limit fails the statement that crosses it."""
        rowcount = cursor.rowcount
        if rowcount and rowcount > 0:
            state.rows += rowcount
        if parameters:
            state.bytes += _estimate_bytes(parameters, many)
        if state.rows > self.limits.transaction_rows and "transaction-rows" not in self.relaxed_rules:
            # Raised by the server itself, so that PostgreSQL aborts the
            # transaction exactly as DSQL does (later statements: 25P02).
            from .local import jobs

            jobs.raise_on_server(cursor, rules.RULES["transaction-rows"])

    def _execute_ddl(
        self,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        plan: StatementPlan,
        state: _TransactionState | None,
    ) -> None:
        dbapi_conn = self._driver_connection_of(cursor, context)
        sql = plan.local_sql if (self.local_mode and plan.local_sql) else statement
        if state is not None and self._dbapi_in_transaction(dbapi_conn):
            if state.wrote:
                raise self._rule_error("ddl-dml-mix")
            # Only reads so far (e.g. create_all's has_table checks): end that
            # transaction so the DDL gets one of its own.
            dbapi_conn.rollback()
        with _driver_autocommit(dbapi_conn):
            self._run_job_aware(cursor, sql, parameters, plan, context)
            followups = getattr(getattr(context, "compiled", None), "followup_statements", ())
            if followups:
                followup_cursor = dbapi_conn.cursor()
                try:
                    for followup in followups:
                        plan = self._plans.get(followup) or self._plan(followup)
                        local = plan.local_sql if (self.local_mode and plan.local_sql) else followup
                        # the statement's (empty) parameters: the driver then turns
                        # the "%%" the compiler wrote for a "%" in a name back into "%"
                        self._run_job_aware(followup_cursor, local, parameters, plan, context)
                finally:
                    followup_cursor.close()
        if state is not None:
            state.reset()

    def _run_job_aware(self, cursor: Any, sql: str, parameters: Any, plan: StatementPlan, context: Any) -> None:
        if plan.job is None:
            # An empty (not None) parameter set is passed on: compiled DDL
            # writes "%" in names as "%%", which only the driver's parameter
            # processing turns back into "%".
            if parameters is not None:
                cursor.execute(sql, parameters)
            else:
                cursor.execute(sql)
            return
        subject = _job_subject(context, sql)
        # Local mode ran the job synchronously and knows its outcome already:
        # no CALL sys.wait_for_job round trip needed.
        outcome: Any = _ASK_SERVER
        if self.local_mode:
            from .local import jobs

            job_id, outcome = jobs.run_as_job(self, cursor, plan, sql, parameters, subject)
        else:
            cursor.execute(sql, parameters) if parameters is not None else cursor.execute(sql)
            row = cursor.fetchone()
            job_id = str(row[0])
            self._rewind_job_row(cursor, row)
        if not self.wait_for_jobs or context is None:
            return
        info = context.root_connection.connection.info
        if info.get(_DEPTH_KEY):
            info.setdefault(_PENDING_KEY, []).append((job_id, subject, outcome))
        else:
            self._finish_job(self._driver_connection_of(cursor, context), job_id, subject, outcome)

    def _finish_job(self, dbapi_conn: Any, job_id: str, subject: str, outcome: Any) -> None:
        if outcome is _ASK_SERVER:
            self.wait_for_job(dbapi_conn, job_id, subject)
        elif outcome is not None:  # a locally failed job: its details
            raise IndexJobFailed(job_id, subject, outcome)

    def _driver_connection_of(self, cursor: Any, context: Any) -> Any:
        """The DBAPI connection ``cursor`` runs on, as SQLAlchemy holds it.  For an
        asyncio driver that is SQLAlchemy's adapted connection (synchronous
        ``commit``/``rollback``/``autocommit``/``cursor()``), not the driver's own."""
        if context is not None:
            return context.root_connection.connection.dbapi_connection
        return cursor.connection

    def _rewind_job_row(self, cursor: Any, row: Any) -> None:
        """Put the ``job_id`` row just read back, so the caller's result still has it."""
        cursor.scroll(0, mode="absolute")

    def wait_for_job(self, dbapi_conn: Any, job_id: str, subject: str = "job") -> None:
        """Block until a DSQL job ends; raise :class:`~.errors.IndexJobFailed` if it failed."""
        with _driver_autocommit(dbapi_conn):
            cursor = dbapi_conn.cursor()
            try:
                cursor.execute("CALL sys.wait_for_job(%s)", (job_id,))
                row = cursor.fetchone()
                if row is not None and row[0]:
                    return
                cursor.execute("SELECT details FROM sys.jobs WHERE job_id = %s", (job_id,))
                detail_row = cursor.fetchone()
            finally:
                cursor.close()
        raise IndexJobFailed(job_id, subject, detail_row[0] if detail_row else None)

    def _wait_for_pending(self, connection: Any) -> None:
        info = connection.connection.info
        pending = info.pop(_PENDING_KEY, None)
        if not pending:
            return
        dbapi_conn = connection.connection.dbapi_connection
        failures = []
        for job_id, subject, outcome in pending:
            try:
                self._finish_job(dbapi_conn, job_id, subject, outcome)
            except IndexJobFailed as failure:
                failures.append(failure)
        if failures:
            raise failures[0]

    # -- transaction end ------------------------------------------------------------------

    def do_commit(self, dbapi_connection: Any) -> None:
        state = _state_of(dbapi_connection)
        if state is not None and state.wrote:
            try:
                if self.local_mode == "strict":
                    self._check_at_commit(dbapi_connection, state)
            finally:
                state.reset()
        super().do_commit(dbapi_connection)  # type: ignore[misc]

    def _check_at_commit(self, dbapi_connection: Any, state: _TransactionState) -> None:
        failed: Exception | None = None
        if state.bytes > self.limits.transaction_bytes and "transaction-size" not in self.relaxed_rules:
            failed = self._rule_error("transaction-size")
        if (
            failed is None
            and state.started is not None
            and time.monotonic() - state.started > self.limits.transaction_seconds
            and "transaction-age" not in self.relaxed_rules
        ):
            failed = self._rule_error("transaction-age")
        if failed is not None:
            dbapi_connection.rollback()
            raise failed

    def do_rollback(self, dbapi_connection: Any) -> None:
        state = _state_of(dbapi_connection)
        if state is not None:
            state.reset()
        super().do_rollback(dbapi_connection)  # type: ignore[misc]

    # -- errors and driver hooks (the driver packages implement the hooks) -------------------

    def _rule_error(self, rule_id: str, **fields: object) -> Exception:
        rule = rules.RULES[rule_id]
        return self._server_error(rule.sqlstate, rule.server_message(**fields))

    def _server_error(self, sqlstate: str, message: str) -> Exception:
        """An exception of the driver's own classes carrying ``sqlstate``, as the
        server would raise it (SQLAlchemy wraps it in a DBAPIError)."""
        raise NotImplementedError

    def _dbapi_in_transaction(self, dbapi_conn: Any) -> bool:
        """Whether the driver connection has a transaction open."""
        raise NotImplementedError


def _state(context: Any) -> _TransactionState | None:
    if context is None:
        return None
    info = context.root_connection.connection.info
    state = info.get(_STATE_KEY)
    if state is None:
        state = info[_STATE_KEY] = _TransactionState()
    return state


def _state_of(pooled_connection: Any) -> _TransactionState | None:
    try:
        return pooled_connection.info.get(_STATE_KEY)  # type: ignore[no-any-return]
    except NotImplementedError:  # the ad-hoc connection of dialect.initialize()
        return None


class _driver_autocommit:
    """Run statements in driver-level autocommit, restoring the previous setting."""

    __slots__ = ("conn", "previous")

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.previous = self.conn.autocommit
        if not self.previous:
            self.conn.autocommit = True

    def __exit__(self, *exc: object) -> None:
        if not self.previous:
            self.conn.autocommit = False


def _server_is_dsql(dbapi_conn: Any) -> bool:
    schema, function = rules.DSQL_DETECTION_FUNCTION
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n "
            "ON n.oid = p.pronamespace WHERE n.nspname = %s AND p.proname = %s)",
            (schema, function),
        )
        return bool(cursor.fetchone()[0])
    finally:
        cursor.close()


def _job_subject(context: Any, sql: str) -> str:
    element = getattr(getattr(context, "compiled", None), "statement", None)
    if isinstance(element, sa_schema.CreateIndex) and element.element.table is not None:
        return f"Index {element.element.name!r} on {element.element.table.name!r}"
    if isinstance(element, sa_schema.AddConstraint):
        return f"Constraint {element.element.name!r} on {element.element.table.name!r}"
    return " ".join(sql.split())[:120]


def _estimate_bytes(parameters: Any, many: bool) -> int:
    rows = parameters if many else (parameters,)
    total = 0
    for row in rows:
        values = row.values() if isinstance(row, dict) else row
        for value in values:
            if isinstance(value, (str, bytes, bytearray, memoryview)):
                total += len(value)
            else:
                total += 8
    return total


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


# -- waiting for the jobs of create_all / Table.create / Index.create -------------------------
# DDL events nest (MetaData > Table > Index); jobs started inside are collected
# and waited for when the outermost operation ends, so index builds overlap.


def _enter_ddl(target: Any, connection: Any, **kw: Any) -> None:
    # create_mock_engine()'s MockConnection has no pooled connection and runs nothing
    # by class, not name: postgresql+auroradsql_<driver> dialects are named "postgresql"
    if not isinstance(connection.dialect, ExecutionMixin) or not hasattr(connection, "connection"):
        return
    info = connection.connection.info
    info[_DEPTH_KEY] = info.get(_DEPTH_KEY, 0) + 1


def _leave_ddl(target: Any, connection: Any, **kw: Any) -> None:
    if not isinstance(connection.dialect, ExecutionMixin) or not hasattr(connection, "connection"):
        return
    info = connection.connection.info
    depth = info.get(_DEPTH_KEY, 1) - 1
    info[_DEPTH_KEY] = depth
    if depth <= 0:
        info.pop(_DEPTH_KEY, None)
        connection.dialect._wait_for_pending(connection)


def _forget_ddl_state(dbapi_connection: Any, record: Any) -> None:
    # A create_all / Table.create that failed half-way never reached its
    # after_create event: don't let its depth or jobs outlive the checkout.
    if record is not None:
        record.info.pop(_DEPTH_KEY, None)
        record.info.pop(_PENDING_KEY, None)


for _target in (sa_schema.MetaData, sa_schema.Table, sa_schema.Index):
    event.listen(_target, "before_create", _enter_ddl)
    event.listen(_target, "after_create", _leave_ddl)


# -- Session.begin_nested() ------------------------------------------------------------------------
# The ORM emits SAVEPOINT lazily, at the first statement inside the nested block;
# DSQL has no SAVEPOINT, so refuse at begin_nested() itself, leaving the outer
# transaction as it was.


def _refuse_nested_session_transaction(session: Any, transaction: Any) -> None:
    if not transaction.nested:
        return
    try:
        bind = session.get_bind()
    except Exception:  # no single bind (per-mapper binds): the refusal comes at SAVEPOINT time
        return
    if not isinstance(getattr(bind, "dialect", None), ExecutionMixin):
        return
    transaction.close()  # the session's current transaction is the outer one again
    from .errors import DSQLUnsupportedError

    raise DSQLUnsupportedError("SAVEPOINT (Session.begin_nested)", "savepoint")


event.listen(orm.Session, "after_transaction_create", _refuse_nested_session_transaction)
