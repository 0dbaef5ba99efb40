"""Waiting for DSQL's asynchronous jobs (index builds, constraint validations).

``CREATE INDEX ASYNC`` answers with a ``job_id``; a UNIQUE index does not
enforce uniqueness until its job succeeds.  :class:`JobWaiter` waits for a
job with ``CALL sys.wait_for_job(id)`` and raises
:class:`~aurora_dsql_sqlalchemy.errors.IndexJobFailed` if it failed.  Jobs
started inside ``create_all()`` / ``Table.create()`` / ``Index.create()`` are
collected and waited for when the outermost of those ends, so index builds
overlap (the DDL events nest: MetaData > Table > Index).
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import event
from sqlalchemy import schema as sa_schema

from .errors import IndexJobFailed

__all__ = ["ASK", "JobWaiter", "install_ddl_listeners"]

ASK: Final = object()
"""A job's outcome is only known by waiting for it on the server (on DSQL;
local mode runs jobs synchronously and knows it)."""

_PENDING_KEY: Final = "auroradsql_pending_jobs"
_DEPTH_KEY: Final = "auroradsql_ddl_depth"
_UNRECORDED_KEY: Final = "auroradsql_unrecorded_jobs"
_FRESH_KEY: Final = "auroradsql_fresh_tables"
_AUTOCOMMIT_KEY: Final = "auroradsql_autocommit_held"
_COUNTS_KEY: Final = "auroradsql_database_counts"

AUTOCOMMIT_HOLDERS: Final[set[int]] = set()
"""``id()`` of the pooled connections' ``info`` whose driver autocommit a DDL
operation holds on (see :meth:`JobWaiter.hold_autocommit`): empty, the
execution context has nothing to check per statement."""


class JobWaiter:
    """Waits for jobs, now or when the outermost DDL operation ends.

    ``schema`` is where ``jobs`` and ``wait_for_job`` live: ``sys`` on DSQL,
    the emulation's schema in local mode."""

    def __init__(self, enabled: bool, schema: str = "sys") -> None:
        self.enabled = enabled
        self.schema = schema

    def wait(self, dbapi_conn: Any, job_id: str, subject: str = "job") -> None:
        """Block until a DSQL job ends; raise :class:`IndexJobFailed` if it failed."""
        previous = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"CALL {self.schema}.wait_for_job(%s)", (job_id,))
            row = cursor.fetchone()
            if row is not None and row[0]:
                return
            cursor.execute(f"SELECT details FROM {self.schema}.jobs WHERE job_id = %s", (job_id,))
            detail_row = cursor.fetchone()
        finally:
            cursor.close()
            dbapi_conn.autocommit = previous
        raise IndexJobFailed(job_id, subject, detail_row[0] if detail_row else None)

    def started(
        self, pooled: Any, job_id: str, subject: str, failure: object | str | None
    ) -> None:
        """A job was started on ``pooled`` (the pool's connection of a SQLAlchemy
        ``Connection``): wait for it now, or when the outermost DDL operation
        ends.  ``failure`` as for :meth:`finish`: a job known to have
        succeeded (local mode) has nothing left to wait for."""
        if not self.enabled or failure is None:
            return
        info = pooled.info
        if info.get(_DEPTH_KEY):
            info.setdefault(_PENDING_KEY, []).append((job_id, subject, failure))
        else:
            self.finish(pooled.dbapi_connection, job_id, subject, failure)

    def finish(self, dbapi_conn: Any, job_id: str, subject: str, failure: object | str | None) -> None:
        """``failure`` is ``ASK`` (wait on the server), ``None`` (succeeded) or
        the details of a failed job."""
        if failure is ASK:
            self.wait(dbapi_conn, job_id, subject)
        elif failure is not None:
            raise IndexJobFailed(job_id, subject, str(failure))

    # -- local mode: jobs recorded when the outermost DDL operation ends ---------------

    @staticmethod
    def defers_records(pooled: Any) -> bool:
        """Inside ``create_all()`` / ``Table.create()`` on ``pooled`` (a pool's
        connection): local mode records the jobs it runs there together, at
        the end (:meth:`unrecorded`, then :meth:`record_jobs`)."""
        return bool(pooled.info.get(_DEPTH_KEY))

    @staticmethod
    def fresh_tables(pooled: Any) -> dict[str, int] | None:
        """Inside ``create_all()`` / ``Table.create()`` on ``pooled``: the
        tables it created so far (quoted names), with the indexes each has
        now, for strict mode's count of indexes per table; else ``None``.
        The caller clears it on any other DDL, which may have changed them."""
        info = pooled.info
        if not info.get(_DEPTH_KEY):
            return None
        fresh = info.get(_FRESH_KEY)
        if fresh is None:
            fresh = info[_FRESH_KEY] = {}
        return fresh  # type: ignore[no-any-return]

    @staticmethod
    def database_counts(pooled: Any) -> list[float] | None:
        """Inside ``create_all()`` / ``Table.create()`` on ``pooled``: strict
        mode's count of the database's tables and sequences, kept on the
        client (``[tables, sequences, counted_at]``; empty until counted);
        else ``None``.  The caller empties it on DDL that may have changed
        the count otherwise."""
        info = pooled.info
        if not info.get(_DEPTH_KEY):
            return None
        counts = info.get(_COUNTS_KEY)
        if counts is None:
            counts = info[_COUNTS_KEY] = []
        return counts  # type: ignore[no-any-return]

    @staticmethod
    def hold_autocommit(pooled: Any) -> None:
        """Inside ``create_all()`` / ``Table.create()`` on ``pooled``: the
        driver autocommit a DDL statement turned on stays on for the DDL
        that follows (each statement still commits on its own), rather than
        being turned off and on again around every statement; see
        :meth:`release_autocommit`."""
        info = pooled.info
        info[_AUTOCOMMIT_KEY] = True
        AUTOCOMMIT_HOLDERS.add(id(info))

    @staticmethod
    def release_autocommit(info: dict[str, Any], dbapi_conn: Any) -> None:
        """Turn off the driver autocommit held by :meth:`hold_autocommit`, if
        held: before a statement that is not DDL (it runs in the caller's
        transaction, as before the operation), when the operation ends or
        fails, and at pool checkin."""
        if info.pop(_AUTOCOMMIT_KEY, None) is None:
            return
        AUTOCOMMIT_HOLDERS.discard(id(info))
        dbapi_conn.autocommit = False

    @staticmethod
    def unrecorded(pooled: Any, job: tuple[str, str | None, str, str]) -> None:
        """A local job ``(job_id, details, job_type, subject)`` that ran and is
        not in the jobs table yet."""
        pooled.info.setdefault(_UNRECORDED_KEY, []).append(job)

    @staticmethod
    def record_jobs(info: dict[str, Any], dbapi_conn: Any) -> None:
        """Record the local jobs not recorded yet, in one INSERT (committed on its own)."""
        jobs = info.pop(_UNRECORDED_KEY, None)
        if not jobs:
            return
        from .local.jobs import record_jobs_sql

        previous = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(record_jobs_sql(jobs))
        finally:
            cursor.close()
            dbapi_conn.autocommit = previous

    def wait_for_pending(self, connection: Any) -> None:
        pending = connection.connection.info.pop(_PENDING_KEY, None)
        if not pending:
            return
        dbapi_conn = connection.connection.dbapi_connection
        failures = []
        for job_id, subject, failure in pending:
            try:
                self.finish(dbapi_conn, job_id, subject, failure)
            except IndexJobFailed as failed:
                failures.append(failed)
        if failures:
            raise failures[0]


# -- the nesting of create_all / Table.create / Index.create ---------------------------------


def _info(connection: Any) -> dict[str, Any] | None:
    """The pooled connection's ``info`` of an auroradsql ``connection``, else
    ``None`` (another dialect; create_mock_engine()'s MockConnection has no
    pooled connection and runs nothing)."""
    if getattr(connection.dialect, "job_waiter", None) is None:
        return None
    try:
        return connection.connection.info  # type: ignore[no-any-return]
    except AttributeError:
        return None


def _enter_ddl(target: Any, connection: Any, **kw: Any) -> None:
    info = _info(connection)
    if info is not None:
        info[_DEPTH_KEY] = info.get(_DEPTH_KEY, 0) + 1


def _leave_ddl(target: Any, connection: Any, **kw: Any) -> None:
    info = _info(connection)
    if info is None:
        return
    depth = info.get(_DEPTH_KEY, 1) - 1
    info[_DEPTH_KEY] = depth
    if depth <= 0:
        info.pop(_DEPTH_KEY, None)
        info.pop(_FRESH_KEY, None)
        info.pop(_COUNTS_KEY, None)
        waiter = connection.dialect.job_waiter
        dbapi_conn = connection.connection.dbapi_connection
        try:
            # recorded first: a failed job's id in IndexJobFailed can be looked up
            waiter.record_jobs(info, dbapi_conn)
            waiter.wait_for_pending(connection)
        finally:  # nothing of the operation outlives it (see forget_ddl_state)
            info.pop(_PENDING_KEY, None)
            JobWaiter.release_autocommit(info, dbapi_conn)


def forget_ddl_state(dbapi_connection: Any, record: Any) -> None:
    """Pool ``checkin``: a create_all / Table.create that failed half-way never
    reached its after_create event; don't let its depth or jobs outlive the
    checkout (local jobs that ran are recorded now).

    An operation that ended leaves nothing behind, so on every other checkin
    this is one look-up."""
    if record is not None and _DEPTH_KEY in record.info:
        record.info.pop(_DEPTH_KEY, None)
        record.info.pop(_PENDING_KEY, None)
        record.info.pop(_FRESH_KEY, None)
        record.info.pop(_COUNTS_KEY, None)
        try:  # the jobs that did run before the failure are still recorded
            JobWaiter.record_jobs(record.info, dbapi_connection)
        except Exception:  # a broken connection: the pool discards it
            record.info.pop(_UNRECORDED_KEY, None)
        try:  # the next checkout gets the connection as the pool made it
            JobWaiter.release_autocommit(record.info, dbapi_connection)
        except Exception:
            AUTOCOMMIT_HOLDERS.discard(id(record.info))
            record.invalidate()


def install_ddl_listeners() -> None:
    """Listen to the DDL events of every MetaData / Table / Index (idempotent;
    called when the first auroradsql engine is created, never at import)."""
    for target in (sa_schema.MetaData, sa_schema.Table, sa_schema.Index):
        if not event.contains(target, "before_create", _enter_ddl):
            event.listen(target, "before_create", _enter_ddl)
            event.listen(target, "after_create", _leave_ddl)
