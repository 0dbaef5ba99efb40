"""DSQL's job machinery, emulated on PostgreSQL for local mode.

On DSQL, ``CREATE INDEX ASYNC`` and ``ALTER TABLE ASYNC ... VALIDATE
CONSTRAINT`` answer with one row, a text ``job_id``; ``sys.jobs`` lists jobs
with their status, and ``CALL sys.wait_for_job(id)`` blocks until a job ends
and answers ``succeeded``.  Local mode gives PostgreSQL the same surface: a
``sys`` schema with a ``jobs`` table and a ``wait_for_job`` procedure, and the
ASYNC statements run synchronously and are recorded as jobs.  A UNIQUE build
over duplicate rows records a *failed* job, as DSQL does (DSQL also leaves an
INVALID index behind; locally no index is left).  Code that waits for jobs
runs unchanged.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..errors import sqlstate_of

__all__ = ["install_sys_schema", "run_as_job", "setup_session"]

_SYS_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS sys;
CREATE TABLE IF NOT EXISTS sys.jobs (
    job_id text PRIMARY KEY,
    status text NOT NULL,
    details text,
    job_type text NOT NULL,
    class_id oid,
    object_id oid,
    object_name text,
    start_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE PROCEDURE sys.wait_for_job(job_id text, INOUT succeeded boolean DEFAULT NULL)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT j.status = 'completed' INTO succeeded FROM sys.jobs j WHERE j.job_id = wait_for_job.job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % does not exist', wait_for_job.job_id USING ERRCODE = '42704';
    END IF;
END
$$;
"""

# Errors a synchronous build reports that DSQL reports as a failed job instead.
_JOB_FAILURES = {"23505", "23503", "23514", "23502"}


def install_sys_schema(dbapi_conn: Any) -> None:
    """Create the emulated ``sys`` schema once per database (idempotent, race-free)."""
    previous = dbapi_conn.autocommit
    if previous:
        dbapi_conn.autocommit = False
    cursor = dbapi_conn.cursor()
    try:
        dbapi_conn.rollback()
        # serialise concurrent first connections of several engines / processes
        cursor.execute("SELECT pg_advisory_xact_lock(4242420001)")
        cursor.execute(
            "SELECT to_regprocedure('sys.wait_for_job(text, boolean)') IS NOT NULL"
        )
        if not cursor.fetchone()[0]:
            cursor.execute(_SYS_SCHEMA)
        dbapi_conn.commit()
    except BaseException:
        dbapi_conn.rollback()
        raise
    finally:
        cursor.close()
        dbapi_conn.autocommit = previous


SESSION_OPTIONS = r"-c default_transaction_isolation=repeatable\ read -c timezone=UTC"
"""DSQL's session defaults (REPEATABLE READ, UTC) as libpq startup options."""


def setup_session(dbapi_conn: Any) -> None:
    """Session defaults DSQL has: REPEATABLE READ, UTC (for a connection made
    before local mode was known)."""
    previous = dbapi_conn.autocommit
    dbapi_conn.autocommit = True
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(
            "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ; "
            "SET TIME ZONE 'UTC'"
        )
    finally:
        cursor.close()
        dbapi_conn.autocommit = previous


def run_as_job(
    dialect: Any, cursor: Any, plan: Any, sql: str, parameters: Any, subject: str
) -> tuple[str, str | None]:
    """Run an ASYNC statement synchronously (``sql`` has ASYNC removed) and record
    it as a DSQL job.  Leaves ``cursor`` on a one-row result ``job_id``, as DSQL
    does; returns the job id and, for a failed job, its details (else None)."""
    if plan.job == "index" and dialect.local_mode == "strict":
        _check_index_count(dialect, cursor, sql)
    job_id = str(uuid.uuid4())
    job_type = "INDEX_BUILD" if plan.job == "index" else "VALIDATE_CONSTRAINT"
    status, details = "completed", None
    try:
        if parameters is not None:  # an empty set too: the driver turns "%%" back into "%"
            cursor.execute(sql, parameters)
        else:
            cursor.execute(sql)
    except Exception as error:
        sqlstate = sqlstate_of(error)
        if sqlstate not in _JOB_FAILURES:
            raise
        status = "failed"
        detail = str(error).strip().splitlines()[0] if str(error).strip() else sqlstate
        details = (
            f"found duplicate key(s): {detail}" if sqlstate == "23505" else detail
        )
    cursor.execute(
        "INSERT INTO sys.jobs (job_id, status, details, job_type, object_name) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING job_id",
        (job_id, status, details, job_type, subject),
    )
    return job_id, (details or "failed") if status == "failed" else None


def _check_index_count(dialect: Any, cursor: Any, sql: str) -> None:
    """DSQL's limit of indexes per table needs the catalog, so it is checked
    here, when an index is about to be built, rather than by the statement checker."""
    if "indexes-per-table" in dialect.relaxed_rules:
        return
    from .checks import created_indexes

    limit = dialect.limits.indexes_per_table
    for table, _line in created_indexes(sql, placeholders=True):
        cursor.execute(
            "SELECT count(*) FROM pg_catalog.pg_index WHERE indrelid = to_regclass(%s)", (table,)
        )
        if cursor.fetchone()[0] >= limit:
            raise dialect._rule_error("indexes-per-table")


def raise_on_server(cursor: Any, rule: Any) -> None:
    """Make PostgreSQL itself fail the current statement with DSQL's SQLSTATE
    and message, aborting the transaction as DSQL would."""
    message = rule.server_message().replace("'", "''")
    cursor.execute(
        "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '%s', MESSAGE = '%s'; END $$"
        % (rule.sqlstate, message)
    )
