"""SQLAlchemy dialect for Amazon Aurora DSQL.

Install with a driver (``pip install ./packages/core ./packages/psycopg3`` from a
clone; ``pip install aurora-dsql-sqlalchemy-psycopg`` once published), then
``create_engine("auroradsql+psycopg://admin@<cluster>.dsql.<region>.on.aws/postgres")``.
This package is driver-independent; the driver distributions register the
``auroradsql`` dialect names with SQLAlchemy.

Names are imported on first use, so importing the package (as pytest does
for the bundled plugin) does not import SQLAlchemy, and has no side effects.

With Alembic, the ``auroradsql`` implementation registers itself when the
first engine is created in a process that has imported Alembic; ``import
aurora_dsql_sqlalchemy.alembic_impl`` in ``env.py`` does it explicitly.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .rules import LIMITS, RULES, Limits, Rule

if TYPE_CHECKING:
    from .base import AuroraDSQLDialect
    from .bulk import chunked_delete, chunked_insert, chunked_update, chunked_write
    from .compiler import DSQLSchemaWarning
    from .engine import create_async_dsql_engine, create_dsql_engine
    from .errors import (
        CommitOutcomeUnknown,
        DSQLAuthenticationError,
        DSQLUnsupportedError,
        IndexJobFailed,
        RetriesExhausted,
        TransactionLimitExceeded,
    )
    from .retry import is_retryable, run_transaction, run_transaction_async, transactional

__version__ = "2.0.0"  # the successor of AWS's 1.x line; driver packages check the major

_LAZY = {
    "AuroraDSQLDialect": ".base",
    "DSQLSchemaWarning": ".compiler",
    "create_dsql_engine": ".engine",
    "create_async_dsql_engine": ".engine",
    "run_transaction": ".retry",
    "run_transaction_async": ".retry",
    "transactional": ".retry",
    "is_retryable": ".retry",
    "chunked_write": ".bulk",
    "chunked_insert": ".bulk",
    "chunked_update": ".bulk",
    "chunked_delete": ".bulk",
    "CommitOutcomeUnknown": ".errors",
    "DSQLAuthenticationError": ".errors",
    "DSQLUnsupportedError": ".errors",
    "IndexJobFailed": ".errors",
    "RetriesExhausted": ".errors",
    "TransactionLimitExceeded": ".errors",
}

__all__ = [
    "LIMITS",
    "RULES",
    "AuroraDSQLDialect",
    "CommitOutcomeUnknown",
    "DSQLAuthenticationError",
    "DSQLSchemaWarning",
    "DSQLUnsupportedError",
    "IndexJobFailed",
    "Limits",
    "RetriesExhausted",
    "Rule",
    "TransactionLimitExceeded",
    "chunked_delete",
    "chunked_insert",
    "chunked_update",
    "chunked_write",
    "create_async_dsql_engine",
    "create_dsql_engine",
    "is_retryable",
    "run_transaction",
    "run_transaction_async",
    "transactional",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value

