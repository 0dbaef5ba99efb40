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
    translates what only DSQL understands (``ASYNC``, wherever it appears in
    a multi-statement query; ``sys.jobs`` and ``sys.wait_for_job``, which
    point to the emulation's own schema ``aurora_dsql_local``: local mode
    creates no ``sys`` schema, see :mod:`aurora_dsql_sqlalchemy.local.jobs`).  ``local_mode="strict"`` (the default) also
    enforces DSQL's rules with DSQL's SQLSTATEs and messages;
    ``local_mode="translate"`` only translates.  ``relax=["rule-id", ...]``
    switches single rules off.  A statement strict mode refuses aborts the
    transaction it was sent in, as on DSQL: every later statement fails with
    ``25P02`` until ROLLBACK.  The mode is logged at INFO on first connect,
    and asking for local mode against a DSQL cluster is an error.

Where it lives: per-statement policy in
:class:`~aurora_dsql_sqlalchemy.context.AuroraDSQLExecutionContext`, local
mode in :class:`~aurora_dsql_sqlalchemy.local.mode.LocalMode`, job waiting in
:class:`~aurora_dsql_sqlalchemy.jobs.JobWaiter`; this module chooses the mode
and refuses ``Session.begin_nested()``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

from . import rules
from .local.mode import LocalMode
from .statements import StatementPlans

if TYPE_CHECKING:
    from .base import AuroraDSQLDialect

__all__ = ["choose_mode", "install_session_listener"]

log = logging.getLogger("aurora_dsql_sqlalchemy")


def choose_mode(dialect: AuroraDSQLDialect, dbapi_conn: Any) -> None:
    """At first connect: DSQL, or PostgreSQL in local mode (and set that up)."""
    dialect.is_dsql = _server_is_dsql(dbapi_conn)
    requested = dialect.options.local_mode
    if dialect.is_dsql:
        if requested:
            raise ValueError(
                f"local_mode={requested!r} was requested, but the server is Aurora DSQL "
                "(sys.dsql_major_version() exists). Local mode translates DSQL syntax for "
                "PostgreSQL and must never run against DSQL; remove the setting."
            )
        dialect.local_mode, dialect.local = None, None
        dialect.plans = StatementPlans()
        log.info("auroradsql: connected to Aurora DSQL")
        return
    if dialect.host_is_dsql:
        raise ValueError(
            "The host name is an Aurora DSQL endpoint, but the server answering is "
            "PostgreSQL, not DSQL (sys.dsql_major_version() is missing); refusing to guess "
            "which rules apply. If this is a tunnel, proxy or port forward to a local "
            "PostgreSQL, connect to it by its own host name (localhost, or pass "
            "connect_args={'host': ...}) to run in local mode; if you expected a DSQL "
            "cluster, check that the host name resolves to the cluster's endpoint."
        )
    mode = requested or "strict"
    local = LocalMode(mode, dialect.relaxed_rules, dialect.limits, dialect._server_error)
    dialect.local_mode, dialect.local = mode, local
    dialect.plans = StatementPlans(local.plan)
    from .local import jobs

    dialect.job_waiter.schema = jobs.LOCAL_SCHEMA
    log.info(
        "auroradsql: server is PostgreSQL %s, not Aurora DSQL: local mode %r "
        "(DSQL syntax translated%s)",
        ".".join(map(str, dialect.server_version_info or ())),
        mode,
        ", DSQL's rules enforced" if mode == "strict" else "",
    )
    local.set_up(dbapi_conn)
    dialect.default_isolation_level = dialect.get_isolation_level(dbapi_conn)
    # That connection got DSQL's session defaults by SET, not at startup, so a
    # RESET ALL would drop them: the pool replaces it at its first checkin.
    dialect.provisional_connection = id(dbapi_conn)


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
    # by class, not name: postgresql+auroradsql dialects are named "postgresql"
    if getattr(getattr(bind, "dialect", None), "job_waiter", None) is None:
        return
    transaction.close()  # the session's current transaction is the outer one again
    from .errors import DSQLUnsupportedError

    raise DSQLUnsupportedError("SAVEPOINT (Session.begin_nested)", "savepoint")


def install_session_listener() -> None:
    """Refuse ``Session.begin_nested()`` for auroradsql binds (idempotent; called
    when the first auroradsql engine is created, never at import)."""
    from sqlalchemy import orm

    if not event.contains(orm.Session, "after_transaction_create", _refuse_nested_session_transaction):
        event.listen(orm.Session, "after_transaction_create", _refuse_nested_session_transaction)
