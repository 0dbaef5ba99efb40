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

from .rules import Rule, RuleId
from .violations import Violation

__all__ = [
    "CommitOutcomeUnknown",
    "DSQLAuthenticationError",
    "DSQLSchemaWarning",
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
    catches compile errors catches this too.  ``.violation`` is the
    :class:`~aurora_dsql_sqlalchemy.violations.Violation` (``.rule`` its
    :class:`~aurora_dsql_sqlalchemy.rules.Rule`).
    """

    violation: Violation

    def __init__(
        self,
        subject: str,
        rule_id: RuleId,
        detail: str = "",
        *,
        violation: Violation | None = None,
    ) -> None:
        self.violation = violation or Violation(rule_id, subject)
        self.detail = detail
        message = self.violation.explain()
        if detail:
            message = f"{message} {detail}"
        super().__init__(message)

    @classmethod
    def from_violation(cls, violation: Violation, detail: str = "") -> DSQLUnsupportedError:
        """The refusal of a violation the SQL checker found."""
        return cls(violation.subject, violation.rule_id, detail, violation=violation)

    @property
    def rule(self) -> Rule:
        return self.violation.rule

    @property
    def subject(self) -> str:
        return self.violation.subject


class DSQLSchemaWarning(sa_exc.SAWarning):
    """A schema construct DSQL accepts only in a changed form (e.g. DESC index
    keys emitted without their direction, NUMERIC stored as numeric(18,6)).

    ``.violation`` is the (warning-severity or tolerated) rule broken, when the
    warning comes from the dialect.
    """

    violation: Violation | None

    def __init__(self, violation: Violation | str, detail: str = "") -> None:
        if isinstance(violation, Violation):
            self.violation = violation
            message = violation.explain() + (f" {detail}" if detail else "")
        else:
            self.violation, message = None, violation
        super().__init__(message)

    @property
    def rule(self) -> Rule | None:
        return self.violation.rule if self.violation is not None else None


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
