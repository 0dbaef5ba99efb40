"""SQLAlchemy dialect for Amazon Aurora DSQL.

Install with a driver: ``pip install aurora-dsql-sqlalchemy[psycopg]`` (or
``[psycopg2]``), then ``create_engine("auroradsql+psycopg://admin@<cluster>.dsql.<region>.on.aws/postgres")``.
This package is driver-independent; the driver distributions register the
``auroradsql`` dialect names with SQLAlchemy.
"""

from __future__ import annotations

from .base import AuroraDSQLDialect
from .compiler import DSQLSchemaWarning
from .errors import (
    CommitOutcomeUnknown,
    DSQLAuthenticationError,
    DSQLUnsupportedError,
    IndexJobFailed,
    RetriesExhausted,
    TransactionLimitExceeded,
)
from .rules import LIMITS, RULES, Limits, Rule

__version__ = "0.1.0"

__all__ = [
    "AuroraDSQLDialect",
    "CommitOutcomeUnknown",
    "DSQLAuthenticationError",
    "DSQLSchemaWarning",
    "DSQLUnsupportedError",
    "IndexJobFailed",
    "LIMITS",
    "Limits",
    "RULES",
    "RetriesExhausted",
    "Rule",
    "TransactionLimitExceeded",
]
