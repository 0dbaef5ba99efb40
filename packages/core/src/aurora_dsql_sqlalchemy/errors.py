"""Exceptions raised by the Aurora DSQL dialect.

Every refusal names the construct, the DSQL rule (see
:mod:`aurora_dsql_sqlalchemy.rules`) and what to do instead.
Errors that come *from the server* (or from strict local mode, which answers
as the server would) stay SQLAlchemy ``DBAPIError`` subclasses wrapping the
driver's exception, with DSQL's SQLSTATE.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exc as sa_exc

from .rules import Rule, rule

__all__ = [
    "CommitOutcomeUnknown",
    "DSQLAuthenticationError",
    "DSQLUnsupportedError",
    "IndexJobFailed",
    "RetriesExhausted",
    "TransactionLimitExceeded",
]


def sqlstate_of(error: BaseException) -> str | None:
    """The SQLSTATE a driver exception carries: ``.sqlstate`` on psycopg 3,
    ``.pgcode`` on psycopg2 (SQLAlchemy's wrapper: pass ``error.orig``)."""
    for attribute in ("sqlstate", "pgcode"):
        value = getattr(error, attribute, None)
        if isinstance(value, str) and value:
            return value
    return None


class DSQLUnsupportedError(sa_exc.CompileError):
    """A construct Aurora DSQL cannot run, refused before anything reaches the server.

    Subclasses :class:`sqlalchemy.exc.CompileError`, so code that already
    catches compile errors catches this too.  ``.rule`` is the
    :class:`~aurora_dsql_sqlalchemy.rules.Rule` that refuses it.
    """

    rule: Rule

    def __init__(self, subject: str, rule_id: str, detail: str = "") -> None:
        self.rule = rule(rule_id)
        self.subject = subject
        message = self.rule.explain(subject)
        if detail:
            message = f"{message} {detail}"
        super().__init__(message)


class IndexJobFailed(sa_exc.SQLAlchemyError):
    """An asynchronous DSQL job (index build, constraint validation) failed.

    A UNIQUE index whose build failed stays INVALID, and still enforces
    uniqueness until it is dropped: fix the data, drop the index, create it again.
    """

    def __init__(self, job_id: str, subject: str, details: str | None) -> None:
        self.job_id = job_id
        self.subject = subject
        self.details = details
        super().__init__(
            f"{subject}: asynchronous job {job_id} failed"
            + (f" ({details})" if details else "")
            + ". The object exists but is INVALID: fix the cause (for a UNIQUE index, "
            "remove the duplicate rows), drop it, and create it again."
        )


class RetriesExhausted(sa_exc.SQLAlchemyError):
    """A unit of work kept failing with retryable errors; ``.attempts`` holds each cause."""

    def __init__(self, message: str, attempts: Sequence[BaseException]) -> None:
        self.attempts = list(attempts)
        super().__init__(message)


class CommitOutcomeUnknown(sa_exc.SQLAlchemyError):
    """COMMIT was sent but its answer was lost: the transaction may or may not
    have committed.  It is never retried automatically; check the data, then
    decide.  ``.__cause__`` is the error seen."""


class TransactionLimitExceeded(sa_exc.SQLAlchemyError):
    """A single transaction went over one of DSQL's limits (rows, bytes, age).

    Retrying cannot help; split the work, e.g. with
    :func:`aurora_dsql_sqlalchemy.bulk.chunked_write`.
    """


class DSQLAuthenticationError(sa_exc.SQLAlchemyError):
    """DSQL refused the IAM credentials (expired token or role session, wrong
    token action for the user).  Says which identity and region were used;
    never contains the token."""
