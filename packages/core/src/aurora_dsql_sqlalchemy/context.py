"""Per-statement policy: the dialect's execution context.

:class:`AuroraDSQLExecutionContext` is combined with each driver's own
context (``class ..._psycopg(AuroraDSQLExecutionContext,
PGExecutionContext_psycopg)``, as SQLAlchemy combines its contexts) and
decides, for each statement, what DSQL's transaction shape asks for:

``pre_exec``
    find the statement's plan (what SQLAlchemy knows first: a compiled DDL
    construct, a compiled INSERT/UPDATE/DELETE or SELECT; the text only for
    ``text()`` / ``exec_driver_sql``); refuse it (strict local mode, or DDL
    after writes); give DDL a transaction of its own under driver
    autocommit (inside ``create_all()`` that autocommit stays on until a
    statement that is not DDL, or the end: :meth:`JobWaiter.hold_autocommit
    <aurora_dsql_sqlalchemy.jobs.JobWaiter.hold_autocommit>`); send the
    PostgreSQL form in local mode; under driver autocommit in strict mode,
    give a write that may cross DSQL's limits a transaction of its own.
``post_exec``
    read a job's id and buffer the row again for the caller; run the
    compiler's follow-up statements; count rows and bytes (strict mode, each
    autocommitted statement alone) and commit such a write.
``handle_dbapi_exception``
    restore the driver's autocommit after a failed DDL statement.

The refusal itself is raised by the dialect's ``do_execute*`` (so
SQLAlchemy wraps it as it wraps a server error), which then call ``super()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import schema as sa_schema
from sqlalchemy import sql as sa_sql
from sqlalchemy.dialects.postgresql.base import PGExecutionContext
from sqlalchemy.engine.cursor import FullyBufferedCursorFetchStrategy
from sqlalchemy.engine.interfaces import ExecuteStyle

from . import rules
from .compiler import AuroraDSQLDDLCompiler
from .jobs import ASK, AUTOCOMMIT_HOLDERS, JobWaiter
from .local.jobs import job_type, new_job_id
from .local.mode import LocalMode, TransactionState
from .statements import Kind, StatementPlan

if TYPE_CHECKING:
    from .base import AuroraDSQLDialect
    from .compiled_ddl import DDLFacts

__all__ = ["AuroraDSQLExecutionContext", "Refusal", "state_at_commit", "state_of", "transaction_state"]

_STATE_KEY = "auroradsql_txn"


class Refusal:
    """A statement the dialect will not send: its SQLSTATE and DSQL's message.
    ``aborts``: DSQL itself would refuse it, aborting the transaction."""

    __slots__ = ("aborts", "message", "sqlstate")

    def __init__(self, sqlstate: str, message: str, aborts: bool) -> None:
        self.sqlstate, self.message, self.aborts = sqlstate, message, aborts


def transaction_state(pooled_connection: Any) -> TransactionState:
    """What the pooled connection's current transaction has done (created on first use)."""
    info = pooled_connection.info
    state = info.get(_STATE_KEY)
    if state is None:
        state = info[_STATE_KEY] = TransactionState()
    return state  # type: ignore[no-any-return]


GUARD_KEY: Final = "aurora_dsql_transaction_guard"
"""Key, in a pooled connection's ``info``, of the guard of the
:func:`~aurora_dsql_sqlalchemy.retry.run_transaction` unit of work running on it."""


def state_at_commit(pooled_connection: Any) -> TransactionState | None:
    """What the transaction about to commit on ``pooled_connection`` has done
    (``None``: nothing kept), once a COMMIT that reaches the driver from
    inside the function given to ``run_transaction()`` has been refused (its
    guard rolls back and raises).  One look-up of the connection's ``info``."""
    try:
        info = pooled_connection.info
    except (AttributeError, NotImplementedError):  # not a pooled connection
        return None
    guard = info.get(GUARD_KEY)
    if guard is not None:
        guard.refuse_driver_commit(pooled_connection)
    return info.get(_STATE_KEY)  # type: ignore[no-any-return]


def state_of(pooled_connection: Any) -> TransactionState | None:
    try:
        return pooled_connection.info.get(_STATE_KEY)  # type: ignore[no-any-return]
    except NotImplementedError:  # the ad-hoc connection of dialect.initialize()
        return None


class _BuiltHere:
    """A local index build sent as itself: its job id (chosen by the dialect)
    and, once it ran, the details of its failure (``None``: it succeeded)."""

    __slots__ = ("failure", "job_id")

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.failure: str | None = None


_JOB_ID_DESCRIPTION: Final = [("job_id", 25, None, None, None, None, None)]
"""The DBAPI description of DSQL's answer to an ASYNC statement (one text column)."""


class AuroraDSQLExecutionContext(PGExecutionContext):
    """Execution context of the Aurora DSQL dialect (see the module docs)."""

    dialect: AuroraDSQLDialect
    dsql_plan: StatementPlan | None = None
    dsql_refusal: Refusal | None = None
    _dsql_autocommit: Any = None
    _dsql_own_write: Any = None
    _dsql_state: TransactionState | None = None
    _dsql_subject: str | None = None
    _dsql_deferred = False
    _dsql_built: _BuiltHere | None = None
    _dsql_pooled: Any = None
    _dsql_counted: tuple[int, int] | None = None

    # -- before ----------------------------------------------------------------------

    def pre_exec(self) -> None:
        super().pre_exec()
        dialect = self.dialect
        statement = self.statement
        if statement is None:
            return
        plan = dialect.plans.cached(statement)
        if plan is None:
            plan = dialect.plans.get(statement, *self._what_sqlalchemy_knows())
        self.dsql_plan = plan
        if AUTOCOMMIT_HOLDERS and plan.kind is not Kind.DDL:
            pooled = self._pooled()
            JobWaiter.release_autocommit(pooled.info, pooled.dbapi_connection)
        if plan.kind is Kind.QUERY and not plan.violations:
            if plan.local_sql and dialect.local is not None:
                self.statement = plan.local_sql
            return
        if plan.violations:
            violation = plan.violations[0]
            self.dsql_refusal = Refusal(
                violation.rule.sqlstate,
                violation.server_message() + violation.rule.hint(),
                aborts=True,
            )
            return
        if plan.kind is Kind.DDL:
            self._before_ddl(plan)
        elif plan.kind is Kind.DML:
            state = self._dsql_state = self._state()
            local = dialect.local
            if local is not None:
                local.before_write(state)
                if local.strict and not self.executemany:
                    self._write_in_own_transaction()
        if dialect.local is not None and self.dsql_refusal is None:
            if plan.job is not None:
                self.statement, self._dsql_deferred = self._local_job_sql(plan, self._subject(), True)
            elif plan.creates is not None and self._counted_on_client(plan.creates):
                self.statement = plan.uncounted_sql or statement
            elif plan.local_sql:
                self.statement = plan.local_sql

    def _local_job_sql(self, plan: StatementPlan, subject: str, own: bool = False) -> tuple[str, bool]:
        """The local statement of ``plan``'s job, and whether recording the job
        is left for the end of the create_all() it runs in (one INSERT for all).

        There, an index build that is the context's ``own`` statement is sent
        as itself: its job row is made by :meth:`_job_row`, and a UNIQUE
        build's duplicate keys are a failed job (:meth:`failed_as_job`)."""
        local: Any = self.dialect.local
        deferred = JobWaiter.defers_records(self._pooled())
        escaped = not self.no_parameters
        if deferred and own and plan.job == "index":
            self._dsql_built = _BuiltHere(new_job_id())
            indexes = None
            if local.counts_indexes and len(plan.index_tables) == 1:
                fresh = JobWaiter.fresh_tables(self._pooled())
                indexes = fresh.get(plan.index_tables[0]) if fresh else None
            return local.index_build_sql(plan, percent_escaped=escaped, indexes=indexes), True
        sql = local.job_sql(plan, subject, percent_escaped=escaped, job_id=new_job_id() if deferred else None)
        return sql, deferred

    def _write_in_own_transaction(self) -> None:
        """Strict mode under driver autocommit: a statement that may write more
        rows than DSQL allows in a transaction runs in a transaction of its
        own, committed once its rows are counted, so that a refusal leaves the
        data as it was (DSQL refuses it before anything is committed).  A
        one-row INSERT cannot cross the limit and runs as it is."""
        dbapi_conn = self._pooled().dbapi_connection
        if not dbapi_conn.autocommit:
            return
        if self.isinsert and getattr(self.compiled, "insert_single_values_expr", None) is not None:
            return
        dbapi_conn.autocommit = False
        self._dsql_own_write = dbapi_conn

    def _counted_on_client(self, creates: tuple[int, int]) -> bool:
        """Strict mode, inside create_all(): the database's tables and
        sequences, counted once and kept on the client, leave room for what
        the statement ``creates``; it is then sent without the server's
        count (:func:`~aurora_dsql_sqlalchemy.local.catalog.client_countable`)."""
        pooled = self._pooled()
        counts = JobWaiter.database_counts(pooled)
        if counts is None:
            return False
        local: Any = self.dialect.local
        if not local.count_is_fresh(counts):
            counts[:] = local.count_database(pooled.dbapi_connection)
        if not local.counts_on_client(counts, creates):
            return False
        self._dsql_counted = creates
        return True

    def failed_as_job(self, error: BaseException) -> bool:
        """An index build sent as itself failed as DSQL's job would (a UNIQUE
        index over duplicate rows): the statement succeeds, its job is
        recorded as failed (from the dialect's ``do_execute*``)."""
        built = self._dsql_built
        if built is None:
            return False
        local: Any = self.dialect.local
        built.failure = local.build_failure(error)
        return built.failure is not None

    def _what_sqlalchemy_knows(self) -> tuple[Kind | None, DDLFacts | None]:
        if self.isddl:
            return Kind.DDL, getattr(self.compiled, "dsql_facts", None)
        compiled = self.compiled
        if compiled is None or isinstance(compiled.statement, sa_sql.elements.TextClause):
            return None, None
        if self.is_crud:
            return Kind.DML, None
        if self.statement.lstrip()[:4].upper() == "WITH":
            return None, None  # a SELECT whose CTEs may write: the text decides
        return Kind.QUERY, None

    def _pooled(self) -> Any:
        """The pool's connection the statement runs on (once per statement)."""
        pooled = self._dsql_pooled
        if pooled is None:
            pooled = self._dsql_pooled = self.root_connection.connection
        return pooled

    def _state(self) -> TransactionState:
        return transaction_state(self._pooled())

    def _before_ddl(self, plan: StatementPlan) -> None:
        dialect = self.dialect
        pooled = self._pooled()
        dbapi_conn: Any = pooled.dbapi_connection
        state = self._dsql_state = transaction_state(pooled)
        if dialect._dbapi_in_transaction(dbapi_conn):
            if state.wrote:
                rule = rules.rule("ddl-dml-mix")
                # the dialect's own refusal, before sending (on DSQL as locally):
                # the transaction and its writes stay usable
                self.dsql_refusal = Refusal(rule.sqlstate, rule.server_message(), aborts=False)
                return
            # Only reads so far (e.g. create_all's has_table checks): end that
            # transaction so the DDL gets one of its own.
            dbapi_conn.rollback()
        if not dbapi_conn.autocommit:
            dbapi_conn.autocommit = True
            if JobWaiter.defers_records(pooled):  # inside create_all(): for the DDL that follows too
                JobWaiter.hold_autocommit(pooled)
            else:
                self._dsql_autocommit = dbapi_conn

    def _subject(self) -> str:
        """What a job of this statement is about, for sys.jobs and errors (once per statement)."""
        subject = self._dsql_subject
        if subject is None:
            subject = self._dsql_subject = self._describe()
        return subject

    def _describe(self) -> str:
        element = getattr(self.compiled, "statement", None)
        if isinstance(element, sa_schema.CreateIndex) and element.element.table is not None:
            return f"Index {element.element.name!r} on {element.element.table.name!r}"
        if isinstance(element, sa_schema.AddConstraint):
            return f"Constraint {element.element.name!r} on {element.element.table.name!r}"
        return " ".join(str(self.statement).split())[:120]

    def refuse(self) -> None:
        """Raise the refusal (from the dialect's ``do_execute*``, so SQLAlchemy
        wraps it as a server error).  A statement DSQL itself refuses aborts
        the open transaction first, as on DSQL; in a transaction already
        aborted, the statement is sent and the server answers 25P02."""
        refusal = self.dsql_refusal
        if refusal is None:
            return
        if refusal.aborts:
            dbapi_conn: Any = self._pooled().dbapi_connection
            if self.dialect._dbapi_transaction_status(dbapi_conn) == "failed":
                return
            LocalMode.abort_transaction(dbapi_conn)
        raise self.dialect._server_error(refusal.sqlstate, refusal.message)

    # -- after -----------------------------------------------------------------------

    def post_exec(self) -> None:
        super().post_exec()
        plan = self.dsql_plan
        if plan is None or plan.kind is Kind.QUERY:
            return
        if plan.kind is Kind.DDL:
            self._after_ddl(plan)
        elif self._dsql_state is not None:
            local = self.dialect.local
            state = self._dsql_state
            if local is None:
                state.wrote = True
            elif self._dsql_own_write is not None:
                self._commit_own_write(local, state)
            elif self._pooled().dbapi_connection.autocommit:
                # Each statement committed on its own, as each is a transaction
                # of its own on DSQL: its rows alone count against the limit.
                state.reset()
                local.after_write(self.cursor, state, self._rows_per_statement(), self.parameters, True)
                state.reset()
            else:
                local.after_write(self.cursor, state, self._rows_written(), self.parameters, True)

    def _commit_own_write(self, local: LocalMode, state: TransactionState) -> None:
        """Count the rows and bytes of a statement run in a transaction of its
        own (:meth:`_write_in_own_transaction`), then commit it; a refusal
        is rolled back by :meth:`handle_dbapi_exception`."""
        state.reset()
        local.after_write(self.cursor, state, self._rows_written(), self.parameters, True)
        broken = local.broken_at_commit(state)
        state.reset()
        if broken is not None:
            raise self.dialect._rule_error(broken)
        dbapi_conn = self._dsql_own_write
        dbapi_conn.commit()
        self._dsql_own_write = None
        dbapi_conn.autocommit = True

    def _end_own_write(self) -> None:
        dbapi_conn, self._dsql_own_write = self._dsql_own_write, None
        if dbapi_conn is None:
            return
        try:
            dbapi_conn.rollback()
            dbapi_conn.autocommit = True
        except Exception:  # a lost connection: SQLAlchemy invalidates it
            pass

    def _rows_written(self) -> int:
        if self.execute_style is ExecuteStyle.INSERTMANYVALUES:
            return len(self.compiled_parameters)
        rowcount = self.cursor.rowcount or 0
        if self.executemany and not self.dialect.supports_sane_multi_rowcount:
            return max(rowcount, len(self.parameters))
        return rowcount

    def _rows_per_statement(self) -> int:
        """The most rows any one statement of this execution wrote: an
        insertmanyvalues batch, or one parameter set of an executemany."""
        rows = self._rows_written()
        if self.execute_style is ExecuteStyle.INSERTMANYVALUES:
            page = self.execution_options.get("insertmanyvalues_page_size", self.dialect.insertmanyvalues_page_size)
            return min(rows, page)
        if self.executemany:
            return -(-rows // max(len(self.parameters), 1))
        return rows

    def _after_ddl(self, plan: StatementPlan) -> None:
        self.schema_changed()
        started: list[tuple[str, str, object]] = []
        try:
            if plan.job is not None:
                started.append(
                    self._job_row(self.cursor, plan, self._subject(), self._dsql_deferred, rebuffer=True)
                )
            compiled = self.compiled
            if isinstance(compiled, AuroraDSQLDDLCompiler):
                for followup in compiled.followup_statements:
                    started.extend(self._run_followup(followup))
            local = self.dialect.local
            if local is not None and local.counts_indexes:
                self._count_fresh_indexes(plan)
            if local is not None and local.counts_objects:
                self._keep_database_counts(plan)
        finally:
            self._restore_autocommit()
            if self._dsql_state is not None:
                self._dsql_state.reset()
        for job_id, subject, failure in started:
            self.dialect.job_waiter.started(self._pooled(), job_id, subject, failure)

    def schema_changed(self) -> None:
        """A DDL statement ran (successfully): a hook for the driver's context
        (psycopg 3 then knows its prepared statements may be stale)."""

    def _count_fresh_indexes(self, plan: StatementPlan) -> None:
        """Strict mode, inside create_all(): keep count of the indexes of the
        tables it created, so their builds need no count on the server (see
        :meth:`_local_job_sql`).  Any other DDL there forgets the counts."""
        fresh = JobWaiter.fresh_tables(self._pooled())
        if fresh is None:
            return
        built = self._dsql_built
        facts = getattr(self.compiled, "dsql_facts", None)
        if built is not None and len(plan.index_tables) == 1:
            table = plan.index_tables[0]
            if table in fresh:  # a failed build counts too (DSQL keeps an INVALID index)
                fresh[table] += 1
        elif facts is not None and facts.vouched and facts.table is not None:
            fresh[facts.table] = len(facts.indexed)
        else:
            fresh.clear()

    def _keep_database_counts(self, plan: StatementPlan) -> None:
        """Strict mode, inside create_all(): add what a statement counted on
        the client made; forget the count after other DDL that may have
        made or dropped tables or sequences (it is counted again)."""
        counts = JobWaiter.database_counts(self._pooled())
        if not counts:
            return
        made = self._dsql_counted
        if made is not None:
            counts[0] += made[0]
            counts[1] += made[1]
        elif plan.job is None:  # an index build or validation makes neither
            counts.clear()

    def _job_row(
        self, cursor: Any, plan: StatementPlan, subject: str, deferred: bool, rebuffer: bool
    ) -> tuple[str, str, object]:
        built = self._dsql_built if rebuffer else None
        failure: object
        if built is not None:  # a local build sent as itself: the row is made here
            job_id, failure, description = built.job_id, built.failure, _JOB_ID_DESCRIPTION
            JobWaiter.unrecorded(self._pooled(), (job_id, failure, job_type(plan.job), subject))
        elif self.dialect.local is not None:  # (job_id, details) of a job already run
            row = cursor.fetchone()
            job_id, details, description = str(row[0]), row[1], cursor.description[:1]
            if deferred:
                JobWaiter.unrecorded(self._pooled(), (job_id, details, job_type(plan.job), subject))
            failure = details
        else:
            row = cursor.fetchone()
            job_id, failure, description = str(row[0]), ASK, cursor.description
        if rebuffer:  # the caller's result still has the job_id row, as DSQL answers it
            self.cursor_fetch_strategy = FullyBufferedCursorFetchStrategy(
                cursor, description, [(job_id,)]
            )
            if built is not None and self.isddl:
                # where SQLAlchemy keeps a compiled statement's result metadata
                # (as for a cached SELECT): made once, not for every index
                compiled: Any = self.compiled
                compiled._cached_metadata = self.dialect.job_row_metadata
        return job_id, subject, failure

    def _setup_result_proxy(self) -> Any:
        result = super()._setup_result_proxy()
        if self._dsql_built is not None and self.isddl and self.dialect.job_row_metadata is None:
            self.dialect.job_row_metadata = result._metadata
        return result

    def _run_followup(self, followup: str) -> list[tuple[str, str, object]]:
        dialect = self.dialect
        plan = dialect.plans.get(followup, Kind.DDL)
        sql = plan.local_sql or followup
        subject = self._subject()
        deferred = False
        if dialect.local is not None and plan.job is not None:
            sql, deferred = self._local_job_sql(plan, subject)
        dbapi_conn: Any = self._pooled().dbapi_connection
        cursor = dbapi_conn.cursor()
        try:
            # the statement's (empty) parameters: the driver then turns the "%%"
            # the compiler wrote for a "%" in a name back into "%"
            if self.no_parameters:
                cursor.execute(sql)
            else:
                cursor.execute(sql, self.parameters[0])
            if plan.job is None:
                return []
            return [self._job_row(cursor, plan, subject, deferred, rebuffer=False)]
        finally:
            cursor.close()

    def _restore_autocommit(self) -> None:
        conn, self._dsql_autocommit = self._dsql_autocommit, None
        if conn is not None:
            conn.autocommit = False

    def handle_dbapi_exception(self, e: BaseException) -> None:
        self._restore_autocommit()
        self._end_own_write()
        if AUTOCOMMIT_HOLDERS:  # the caller rolls back its transaction, as before the operation
            pooled = self._pooled()
            JobWaiter.release_autocommit(pooled.info, pooled.dbapi_connection)
        super().handle_dbapi_exception(e)
