"""psycopg2 for the Aurora DSQL dialect: ``auroradsql+psycopg2``.

Everything DSQL-specific lives in :mod:`aurora_dsql_sqlalchemy`; this module
only binds it to SQLAlchemy's psycopg2 dialect and psycopg2's error classes.
"""

from __future__ import annotations

import aurora_dsql_sqlalchemy as _core

__version__ = "2.0.0"

# AWS's aurora-dsql-sqlalchemy 1.x has the same import name: refuse it, saying what to install.
if getattr(_core, "__version__", "1").partition(".")[0] != "2":
    raise ImportError(f"aurora-dsql-sqlalchemy-psycopg2 {__version__} needs the aurora-dsql-sqlalchemy core 2.x, not the one in {_core.__file__} (AWS's 1.x dialect has the same import name). From a clone of the repository: pip install ./packages/core; once published: pip install 'aurora-dsql-sqlalchemy>=2,<3'.")

import functools
from typing import Any

from aurora_dsql_sqlalchemy import rules
from aurora_dsql_sqlalchemy.base import (
    AuroraDSQLDialect,
    AuroraDSQLIdentifierPreparer,
    libpq_transaction_status,
)
from aurora_dsql_sqlalchemy.context import AuroraDSQLExecutionContext
from sqlalchemy.dialects.postgresql.psycopg2 import (
    PGDialect_psycopg2,
    PGExecutionContext_psycopg2,
    PGIdentifierPreparer_psycopg2,
)

__all__ = ["AuroraDSQLDialect_psycopg2"]


@functools.cache
def _error_class(sqlstate: str) -> type:
    """A subclass of psycopg2's class for ``sqlstate`` whose ``pgcode`` is set
    (psycopg2 only fills ``pgcode`` for errors that came from a server)."""
    from psycopg2 import errors

    base = errors.lookup(sqlstate)
    namespace = {
        "pgcode": sqlstate,
        "pgerror": property(lambda self: str(self.args[0]) if self.args else None),
        "__module__": __name__,
    }
    return type(base.__name__, (base,), namespace)


class AuroraDSQLExecutionContext_psycopg2(AuroraDSQLExecutionContext, PGExecutionContext_psycopg2):
    pass


class AuroraDSQLIdentifierPreparer_psycopg2(AuroraDSQLIdentifierPreparer, PGIdentifierPreparer_psycopg2):
    pass


class AuroraDSQLDialect_psycopg2(AuroraDSQLDialect, PGDialect_psycopg2):  # type: ignore[misc]
    """``auroradsql+psycopg2``: Aurora DSQL over psycopg2."""

    supports_statement_cache = True
    execution_ctx_cls = AuroraDSQLExecutionContext_psycopg2
    preparer = AuroraDSQLIdentifierPreparer_psycopg2

    def _server_error(self, sqlstate: str, message: str) -> Exception:
        return _error_class(sqlstate)(message)  # type: ignore[no-any-return]

    def _dbapi_transaction_status(self, dbapi_conn: Any) -> str:
        return libpq_transaction_status(dbapi_conn.get_transaction_status())

    def set_isolation_level(self, dbapi_connection: Any, level: str) -> None:
        # psycopg2 re-sends its session isolation and read-only settings as
        # SET default_transaction_* whenever autocommit changes, and DSQL
        # refuses default_transaction_read_only.  Keep psycopg2's isolation at
        # DEFAULT (None; DSQL's only level) or AUTOCOMMIT (0), which it switches
        # without SET statements (ending an open transaction, as the stock
        # dialect does).
        if level not in rules.ISOLATION_LEVELS and level != "AUTOCOMMIT":
            AuroraDSQLDialect.set_isolation_level(self, dbapi_connection, level)  # refuses
        dbapi_connection.set_isolation_level(0 if level == "AUTOCOMMIT" else None)

    def set_readonly(self, connection: Any, value: bool) -> None:
        connection.readonly = True if value else None
