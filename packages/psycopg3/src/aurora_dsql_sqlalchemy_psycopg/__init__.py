"""psycopg 3 for the Aurora DSQL dialect: ``auroradsql+psycopg`` and ``auroradsql+psycopg_async``.

Everything DSQL-specific lives in :mod:`aurora_dsql_sqlalchemy`; this module
only binds it to SQLAlchemy's psycopg dialects and psycopg's error classes.
"""

from __future__ import annotations

import aurora_dsql_sqlalchemy as _core

__version__ = "2.0.0"

# AWS's aurora-dsql-sqlalchemy 1.x has the same import name: refuse it, saying what to install.
if getattr(_core, "__version__", "1").partition(".")[0] != "2":
    raise ImportError(f"aurora-dsql-sqlalchemy-psycopg {__version__} needs the aurora-dsql-sqlalchemy core 2.x, not the one in {_core.__file__} (AWS's 1.x dialect has the same import name). From a clone of the repository: pip install ./packages/core; once published: pip install 'aurora-dsql-sqlalchemy>=2,<3'.")

import itertools
from typing import Any, Final

from aurora_dsql_sqlalchemy.base import (
    PQTRANS_INERROR,
    PQTRANS_INTRANS,
    AuroraDSQLDialect,
    AuroraDSQLIdentifierPreparer,
    libpq_transaction_status,
)
from aurora_dsql_sqlalchemy.context import AuroraDSQLExecutionContext
from sqlalchemy.dialects.postgresql.psycopg import (
    PGDialect_psycopg,
    PGDialectAsync_psycopg,
    PGExecutionContext_psycopg,
    PGIdentifierPreparer_psycopg,
)

__all__ = ["AuroraDSQLDialect_psycopg", "AuroraDSQLDialect_psycopg_async"]


class _SchemaChanges:
    """How many DDL statements this process has run through the dialect: a
    connection's prepared statements are known good only if none ran since
    psycopg last forgot them (they may describe what the DDL changed)."""

    __slots__ = ("_counter", "seen")

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self.seen = 0

    def count(self) -> None:
        self.seen = next(self._counter)


_SCHEMA_CHANGES: Final = _SchemaChanges()
_CLEAN_SINCE: Final = "aurora_dsql_prepared_clean_since"
"""Key, in a pooled connection's ``info``: :attr:`_SchemaChanges.seen` when
psycopg last forgot the connection's prepared statements."""


_IN_TRANSACTION: Final = frozenset({PQTRANS_INTRANS, PQTRANS_INERROR})
_PIPELINE_OFF: Final = 0
"""libpq's ``PQ_PIPELINE_OFF`` (``psycopg.pq.PipelineStatus.OFF``)."""


class AuroraDSQLExecutionContext_psycopg(AuroraDSQLExecutionContext, PGExecutionContext_psycopg):
    def schema_changed(self) -> None:
        _SCHEMA_CHANGES.count()


class AuroraDSQLIdentifierPreparer_psycopg(AuroraDSQLIdentifierPreparer, PGIdentifierPreparer_psycopg):
    pass


class _AuroraDSQLDialect_common_psycopg(AuroraDSQLDialect):
    """What the sync and async psycopg 3 dialects share: psycopg's errors and
    transaction status."""

    execution_ctx_cls = AuroraDSQLExecutionContext_psycopg
    preparer = AuroraDSQLIdentifierPreparer_psycopg

    @classmethod
    def get_async_dialect_cls(cls, url: Any) -> type:
        return AuroraDSQLDialect_psycopg_async

    def _server_error(self, sqlstate: str, message: str) -> Exception:
        from psycopg import errors

        return errors.lookup(sqlstate)(message)  # psycopg's classes carry .sqlstate

    def _dbapi_transaction_status(self, dbapi_conn: Any) -> str:
        # psycopg's connection, or SQLAlchemy's adaptation of the async one;
        # libpq's own status (conn.info would build an object each time)
        driver_conn = getattr(dbapi_conn, "driver_connection", dbapi_conn)
        return libpq_transaction_status(driver_conn.pgconn.transaction_status)


class AuroraDSQLDialect_psycopg(_AuroraDSQLDialect_common_psycopg, PGDialect_psycopg):  # type: ignore[misc]
    """``auroradsql+psycopg``: Aurora DSQL over psycopg 3."""

    supports_statement_cache = True

    def do_rollback(self, dbapi_connection: Any) -> None:
        # psycopg's rollback() also forgets the connection's prepared statements
        # (five unprepared runs of each statement after it, and DEALLOCATE
        # ALL), in case what they refer to was dropped or re-created.  Every
        # OCC retry rolls back, so under retries a statement would never stay
        # prepared.  The dialect gives DDL a transaction of its own, so a
        # transaction it rolls back changed no schema: unless DDL ran (on any
        # connection of this process) since psycopg last forgot them, end it
        # with a plain ROLLBACK, and psycopg's rollback() then finds nothing to
        # do.  On anything unusual (a pipeline, an error) psycopg's own
        # rollback() runs and raises as usual.
        pgconn = dbapi_connection.pgconn
        if pgconn.transaction_status in _IN_TRANSACTION and pgconn.pipeline_status == _PIPELINE_OFF:
            try:
                info = dbapi_connection.info
            except (AttributeError, NotImplementedError):  # not a pooled connection
                info = {}
            seen = _SCHEMA_CHANGES.seen
            if info.get(_CLEAN_SINCE) == seen:
                pgconn.exec_(b"ROLLBACK")
            else:
                info[_CLEAN_SINCE] = seen  # psycopg's rollback() below forgets them
        super().do_rollback(dbapi_connection)


class AuroraDSQLDialect_psycopg_async(_AuroraDSQLDialect_common_psycopg, PGDialectAsync_psycopg):  # type: ignore[misc]
    """``auroradsql+psycopg_async``: Aurora DSQL over psycopg 3's asyncio connection.

    Use it with :func:`sqlalchemy.ext.asyncio.create_async_engine`; it behaves
    like ``auroradsql+psycopg`` (DDL rules, local mode, isolation, no
    savepoints).  Signing an IAM token (and refreshing AWS credentials, which
    may call STS or the instance metadata service) runs in a worker thread,
    so opening a connection never blocks the event loop.
    """

    supports_statement_cache = True
