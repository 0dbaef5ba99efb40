"""DSQL's job machinery, emulated on PostgreSQL for local mode.

On DSQL, ``CREATE INDEX ASYNC`` and ``ALTER TABLE ASYNC ... VALIDATE
CONSTRAINT`` answer with one row, a text ``job_id``; ``sys.jobs`` lists jobs
with their status, and ``CALL sys.wait_for_job(id)`` blocks until a job ends
and answers ``succeeded``.

Local mode gives PostgreSQL the same surface **without touching the user's
schemas**: what the emulation needs lives in a schema of its own,
``aurora_dsql_local`` (:data:`LOCAL_SCHEMA`: a ``jobs`` table, a
``wait_for_job`` procedure, ``run_job`` and ``build`` functions; in strict
mode also the procedures of :mod:`~aurora_dsql_sqlalchemy.local.catalog`
and the per-table key-size functions of
:mod:`~aurora_dsql_sqlalchemy.local.keysize`), created on the first
connection of a local-mode engine.  Statements that name ``sys.jobs`` or
``sys.wait_for_job`` are sent with those names pointing there, so code
written for DSQL runs unchanged and the database gets no ``sys`` schema
DSQL would not have.  Reflection never lists ``aurora_dsql_local``.  To
remove it: ``DROP SCHEMA aurora_dsql_local CASCADE`` (which also drops the
key-size triggers on the user's tables, as they call its functions).

The ASYNC statements run synchronously, in one round trip, through
``run_job``: it counts the table's indexes first (strict mode: DSQL's limit
of indexes per table), builds the index, records the job and answers its
id.  A UNIQUE build over duplicate rows records a *failed* job, as DSQL does
(DSQL also leaves an INVALID index behind; locally no index is left).
Inside ``create_all()`` / ``Table.create()`` the jobs get ids chosen by the
dialect and are recorded together, in one INSERT, when the outermost
operation ends and before its jobs are waited for
(:class:`~aurora_dsql_sqlalchemy.jobs.JobWaiter`).  There an index build
is sent as itself (:func:`index_build_sql`: no PL/pgSQL around it, and in
strict mode the count of indexes only for tables that operation did not
create, whose indexes the dialect counts itself); a UNIQUE build's
duplicate keys then fail the statement, and the dialect reports a failed job
instead, as DSQL does.  A constraint validation there still runs through
``build`` (the same as ``run_job``, without the recording).
"""

from __future__ import annotations

import os
import re
from typing import Any, Final

from .. import rules

__all__ = [
    "LOCAL_SCHEMA",
    "SESSION_OPTIONS",
    "build_failure",
    "index_build_sql",
    "install_local_schema",
    "job_type",
    "localize",
    "new_job_id",
    "quote_ident",
    "raise_on_server",
    "record_jobs_sql",
    "run_job_sql",
    "setup_session",
]

LOCAL_SCHEMA: Final = "aurora_dsql_local"
"""Where local mode keeps its job emulation (never DSQL's own ``sys``)."""

# Errors a synchronous build reports that DSQL reports as a failed job instead
# (PL/pgSQL condition names).
_JOB_FAILURES: Final = ("foreign_key_violation", "check_violation", "not_null_violation")

_SCHEMA_SQL: Final = f"""
CREATE SCHEMA IF NOT EXISTS {LOCAL_SCHEMA};
COMMENT ON SCHEMA {LOCAL_SCHEMA} IS
    'aurora-dsql-sqlalchemy local mode: emulation of Aurora DSQL''s sys.jobs';
CREATE TABLE IF NOT EXISTS {LOCAL_SCHEMA}.jobs (
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
CREATE OR REPLACE PROCEDURE {LOCAL_SCHEMA}.wait_for_job(job_id text, INOUT succeeded boolean DEFAULT NULL)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT j.status = 'completed' INTO succeeded FROM {LOCAL_SCHEMA}.jobs j
        WHERE j.job_id = wait_for_job.job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % does not exist', wait_for_job.job_id USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
CREATE OR REPLACE FUNCTION {LOCAL_SCHEMA}.build(
    id text, statement text, guarded boolean,
    tables text[], index_limit integer, limit_sqlstate text, limit_message text,
    OUT job_id text, OUT details text)
LANGUAGE plpgsql AS $$
DECLARE
    relation text;
BEGIN
    FOREACH relation IN ARRAY coalesce(tables, '{{}}') LOOP
        IF (SELECT count(*) FROM pg_catalog.pg_index WHERE indrelid = to_regclass(relation))
                >= index_limit THEN
            RAISE EXCEPTION USING ERRCODE = limit_sqlstate, MESSAGE = limit_message;
        END IF;
    END LOOP;
    job_id := id;
    IF NOT guarded THEN
        EXECUTE statement;
        RETURN;
    END IF;
    BEGIN
        EXECUTE statement;
    EXCEPTION
        WHEN unique_violation THEN details := '{rules.DUPLICATE_KEY_JOB_DETAILS}: ' || SQLERRM;
        WHEN {" OR ".join(_JOB_FAILURES)} THEN details := SQLERRM;
    END;
END
$$;
-- a refusal raised from a plain SELECT (called only when a check fails)
CREATE OR REPLACE FUNCTION {LOCAL_SCHEMA}.refuse(sqlstate text, message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = message;
END
$$;
-- build, then record the job
CREATE OR REPLACE FUNCTION {LOCAL_SCHEMA}.run_job(statement text, job_type text, subject text, tables text[],
    index_limit integer, limit_sqlstate text, limit_message text, OUT job_id text, OUT details text)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT b.job_id, b.details INTO job_id, details FROM {LOCAL_SCHEMA}.build(
        md5(random()::text || clock_timestamp()::text), statement, true,
        tables, index_limit, limit_sqlstate, limit_message) b;
    INSERT INTO {LOCAL_SCHEMA}.jobs (job_id, status, details, job_type, object_name)
        VALUES (job_id, CASE WHEN details IS NULL THEN 'completed' ELSE 'failed' END,
                details, job_type, subject);
END
$$;
"""

_VERSION_PROBE: Final = (
    f"SELECT to_regprocedure('{LOCAL_SCHEMA}.build(text, text, boolean, text[], integer, text, text)')"
    f" IS NOT NULL AND to_regprocedure('{LOCAL_SCHEMA}.refuse(text, text)') IS NOT NULL"
)

_SYS_NAMES: Final = re.compile(
    r'(?<![\w$."])(?:sys|"sys")\s*\.\s*("?)(jobs|wait_for_job)\1(?![\w$"])', re.IGNORECASE
)


def install_local_schema(dbapi_conn: Any) -> None:
    """Create :data:`LOCAL_SCHEMA` once per database (idempotent, race-free)."""
    previous = dbapi_conn.autocommit
    if previous:
        dbapi_conn.autocommit = False
    cursor = dbapi_conn.cursor()
    try:
        dbapi_conn.rollback()
        # serialise concurrent first connections of several engines / processes
        cursor.execute("SELECT pg_advisory_xact_lock(4242420001)")
        cursor.execute(_VERSION_PROBE)
        if not cursor.fetchone()[0]:
            cursor.execute(_SCHEMA_SQL)
        dbapi_conn.commit()
    except BaseException:
        dbapi_conn.rollback()
        raise
    finally:
        cursor.close()
        dbapi_conn.autocommit = previous


def localize(sql: str) -> str | None:
    """``sql`` with ``sys.jobs`` / ``sys.wait_for_job`` pointing at
    :data:`LOCAL_SCHEMA`, or ``None`` if it names neither."""
    if "sys" not in sql.lower():
        return None
    local, count = _SYS_NAMES.subn(lambda m: f"{LOCAL_SCHEMA}.{m.group(2)}", sql)
    return local if count else None


SESSION_OPTIONS: Final = r"-c default_transaction_isolation=repeatable\ read -c timezone=UTC"
"""DSQL's session defaults (REPEATABLE READ, UTC) as libpq startup options."""


def setup_session(dbapi_conn: Any, lock_timeout_ms: int | None = None, setting: str | None = None) -> None:
    """Session defaults DSQL has: REPEATABLE READ, UTC (for a connection made
    before local mode was known), strict mode's lock timeout and ``setting``
    (``name=value``: what the startup options set on later connections)."""
    previous = dbapi_conn.autocommit
    dbapi_conn.autocommit = True
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(
            "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ; "
            "SET TIME ZONE 'UTC'"
            + (f"; SET lock_timeout = {int(lock_timeout_ms)}" if lock_timeout_ms else "")
            + ("; SET {} = {}".format(*setting.split("=", 1)) if setting else "")
        )
    finally:
        cursor.close()
        dbapi_conn.autocommit = previous


def quote_ident(name: str) -> str:
    """``name`` as a PostgreSQL identifier, always quoted (keeps case, spaces, quotes)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str | None, percent: bool) -> str:
    if text is None:
        return "NULL"
    value = "'" + text.replace("'", "''") + "'"
    # the driver turns "%%" back into "%" when the statement has parameters
    return value.replace("%", "%%") if percent else value


def run_job_sql(
    statement: str,
    job_type: str,
    subject: str,
    tables: tuple[str, ...],
    limit: tuple[int, str, str] | None,
    *,
    percent_escaped: bool,
    job_id: str | None = None,
) -> str:
    """The one statement that runs an ASYNC ``statement`` (ASYNC removed) as a
    local job and records it: answers ``(job_id, details)``, ``details`` set
    for a failed job.  With ``job_id``, the job gets that id and is not
    recorded (the caller records it later with :func:`record_jobs_sql`, one
    INSERT for all the jobs of a ``create_all()``).

    ``tables`` are quoted relation names whose index count is checked against
    ``limit`` = ``(indexes, sqlstate, message)`` first (``None``: no check).
    ``percent_escaped``: ``statement`` will be sent with parameters, so its
    ``%`` are written ``%%`` (and so must the literals around it be).
    """
    body = statement.replace("%%", "%") if percent_escaped else statement
    count, sqlstate, message = limit if limit is not None else (0, None, None)
    array = "ARRAY[" + ", ".join(_literal(t, percent_escaped) for t in tables) + "]::text[]"
    checks = (
        array if tables and limit is not None else "NULL",
        str(count),
        _literal(sqlstate, percent_escaped),
        _literal(message, percent_escaped),
    )
    if job_id is None:
        first: tuple[str, ...] = (
            _literal(body, percent_escaped), _literal(job_type, percent_escaped), _literal(subject, percent_escaped)
        )
        function = "run_job"
    else:
        # a plain index build cannot fail as a job: no error to catch
        can_fail = job_type != "INDEX_BUILD" or _UNIQUE_INDEX.match(body) is not None
        first = (_literal(job_id, percent_escaped), _literal(body, percent_escaped), "true" if can_fail else "false")
        function = "build"
    return f"SELECT job_id, details FROM {LOCAL_SCHEMA}.{function}({', '.join(first + checks)})"


def index_build_sql(
    statement: str, tables: tuple[str, ...], limit: tuple[int, str, str] | None, *, percent_escaped: bool
) -> str:
    """An index build (``statement``, ASYNC removed) sent as itself, for a job
    whose id the dialect chooses and records later (inside ``create_all()``):
    no PL/pgSQL around the build.  ``tables`` and ``limit`` as for
    :func:`run_job_sql`; the count is checked first, by a plain query that
    calls ``refuse`` only when a table already has ``limit[0]`` indexes (the
    statements run as one implicit transaction, so the build never starts).

    A UNIQUE build over duplicate rows then fails as a statement; the dialect
    reports it as a failed job (:func:`build_failure`), as DSQL does."""
    if not tables or limit is None:
        return statement
    count, sqlstate, message = limit
    checks = " OR ".join(
        f"indrelid = to_regclass({_literal(table, percent_escaped)})" for table in tables
    )
    return (
        f"SELECT {LOCAL_SCHEMA}.refuse({_literal(sqlstate, percent_escaped)}, {_literal(message, percent_escaped)})"
        f" FROM pg_catalog.pg_index WHERE {checks} GROUP BY indrelid HAVING count(*) >= {int(count)};\n"
        f"{statement}"
    )


def build_failure(sqlstate: str | None, message: str) -> str | None:
    """The ``details`` of the failed job that a plain index build's error
    (SQLSTATE, primary message) stands for, as ``build`` words them; ``None``
    if the error is not a job's failure (it is raised as it is)."""
    if sqlstate == rules.DUPLICATE_KEY_SQLSTATE:
        return f"{rules.DUPLICATE_KEY_JOB_DETAILS}: {message}"
    return None


def record_jobs_sql(jobs: list[tuple[str, str | None, str, str]]) -> str:
    """One INSERT recording ``(job_id, details, job_type, subject)`` jobs
    (``details`` set for a failed job), sent without parameters."""
    rows = ", ".join(
        f"({_literal(job_id, False)}, '{'completed' if details is None else 'failed'}', "
        f"{_literal(details, False)}, {_literal(job_type, False)}, {_literal(subject, False)})"
        for job_id, details, job_type, subject in jobs
    )
    return (
        f"INSERT INTO {LOCAL_SCHEMA}.jobs (job_id, status, details, job_type, object_name) VALUES {rows}"
    )


_UNIQUE_INDEX: Final = re.compile(r"\s*CREATE\s+UNIQUE\b", re.IGNORECASE)


def job_type(job: str | None) -> str:
    """``sys.jobs.job_type`` of a plan's job (``"index"`` or ``"validate"``)."""
    return "INDEX_BUILD" if job == "index" else "VALIDATE_CONSTRAINT"


def new_job_id() -> str:
    """A job id in one of DSQL's formats (32 hex digits)."""
    return os.urandom(16).hex()


def raise_on_server(cursor: Any, sqlstate: str, message: str) -> None:
    """Make PostgreSQL itself fail the current statement with ``sqlstate`` and
    ``message``, aborting the transaction as DSQL would."""
    cursor.execute(
        "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = %s, MESSAGE = %s; END $$"
        % (_literal(sqlstate, False), _literal(message, False))
    )
