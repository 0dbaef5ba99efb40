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

from typing import TYPE_CHECKING, Any, cast

from aurora_dsql_sqlalchemy.base import AuroraDSQLDialect
from sqlalchemy.dialects.postgresql.psycopg import (
    PGDialect_psycopg,
    PGDialectAsync_psycopg,
)

if TYPE_CHECKING:
    from aurora_dsql_sqlalchemy.auth import IAMTokenProvider

__all__ = ["AuroraDSQLDialect_psycopg", "AuroraDSQLDialect_psycopg_async"]


class _PsycopgHooks:
    """The execution layer's two driver hooks, shared by the sync and async dialects."""

    def _server_error(self, sqlstate: str, message: str) -> Exception:
        from psycopg import errors

        return errors.lookup(sqlstate)(message)  # psycopg's classes carry .sqlstate

    def _dbapi_in_transaction(self, dbapi_conn: Any) -> bool:
        from psycopg.pq import TransactionStatus

        # psycopg's connection, or SQLAlchemy's adaptation of the async one
        driver_conn = getattr(dbapi_conn, "driver_connection", dbapi_conn)
        return driver_conn.info.transaction_status != TransactionStatus.IDLE  # type: ignore[no-any-return]


class AuroraDSQLDialect_psycopg(_PsycopgHooks, AuroraDSQLDialect, PGDialect_psycopg):  # type: ignore[misc]
    """``auroradsql+psycopg``: Aurora DSQL over psycopg 3."""

    supports_statement_cache = True

    @classmethod
    def get_async_dialect_cls(cls, url: Any) -> type:
        return AuroraDSQLDialect_psycopg_async



class AuroraDSQLDialect_psycopg_async(_PsycopgHooks, AuroraDSQLDialect, PGDialectAsync_psycopg):  # type: ignore[misc]
    """``auroradsql+psycopg_async``: Aurora DSQL over psycopg 3's asyncio connection.

    Use it with :func:`sqlalchemy.ext.asyncio.create_async_engine`; it behaves
    like ``auroradsql+psycopg`` (DDL rules, local mode, isolation, no
    savepoints).  Signing an IAM token (and refreshing AWS credentials, which
    may call STS or the instance metadata service) runs in a worker thread,
    so opening a connection never blocks the event loop.
    """

    supports_statement_cache = True

    @classmethod
    def get_async_dialect_cls(cls, url: Any) -> type:
        return AuroraDSQLDialect_psycopg_async

    def create_connect_args(self, url: Any) -> Any:
        cargs, cparams = super().create_connect_args(url)
        provider = getattr(self, "token_provider", None)
        if provider is not None and not isinstance(provider, _ThreadedTokenProvider):
            # duck-typed: same methods, run off the event loop
            self.token_provider = cast("IAMTokenProvider", _ThreadedTokenProvider(provider))
        return cargs, cparams

    def _rewind_job_row(self, cursor: Any, row: Any) -> None:
        # SQLAlchemy's asyncio cursor has already buffered the result (a deque
        # in ``_rows``, SQLAlchemy 2.0 and 2.1); psycopg's async scroll() would
        # need awaiting and would not refill that buffer.
        cursor._rows.appendleft(row)


class _ThreadedTokenProvider:
    """Wraps an :class:`~aurora_dsql_sqlalchemy.auth.IAMTokenProvider` for asyncio:
    ``token()`` (a cached token, or signing one) and ``describe_identity()``
    (reads credentials) run in a worker thread, awaited from the greenlet
    SQLAlchemy connects in, so the event loop keeps running meanwhile."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider

    def __getattr__(self, name: str) -> Any:
        return getattr(self.provider, name)

    def token(self, host: str | None, user: str | None, region: str | None = None) -> str:
        return _in_thread(self.provider.token, host, user, region)  # type: ignore[no-any-return]

    def describe_identity(self, host: str | None, user: str | None) -> str:
        return _in_thread(self.provider.describe_identity, host, user)  # type: ignore[no-any-return]


def _in_thread(fn: Any, *args: Any) -> Any:
    """Run ``fn`` in a worker thread and wait for it without blocking the event
    loop (from SQLAlchemy's greenlet); called elsewhere, just run it."""
    import asyncio

    from sqlalchemy.util import concurrency

    if not concurrency.in_greenlet():
        return fn(*args)
    await_ = getattr(concurrency, "await_", None) or concurrency.await_only
    return await_(asyncio.to_thread(fn, *args))
