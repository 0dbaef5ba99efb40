"""What an error raised inside a transaction means for a retry.

:func:`classify` turns an exception (SQLAlchemy's wrapper, a psycopg 3 or
psycopg2 exception, or an exception raised ``from`` one of those) into a
:class:`Classification`: its kind, whether running the whole transaction
again may succeed, and the SQLSTATE / OC code / rule it carried.  The DSQL
facts it reads (SQLSTATEs, the OC code pattern, the limit messages) live in
:mod:`aurora_dsql_sqlalchemy.rules`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import exc as sa_exc

from .. import rules
from ..errors import (
    CommitOutcomeUnknown,
    RetriesExhausted,
    TransactionLimitExceeded,
    sqlstate_of,
)
from ._guard import Misuse

__all__ = ["Classification", "ErrorKind", "classify", "is_retryable", "server_message"]

ErrorKind = Literal[
    "occ-data",
    "occ-schema",
    "serialization",
    "server-unavailable",
    "connection-lost",
    "commit-outcome-unknown",
    "transaction-limit",
    "other",
]
"""What :func:`classify` found.  ``occ-data`` / ``occ-schema`` are DSQL's
``OC000`` / ``OC001``; ``serialization`` is a ``40001`` without an OC code
(PostgreSQL, as in local mode, or a future DSQL wording)."""

CONFLICT_KINDS: frozenset[ErrorKind] = frozenset({"occ-data", "occ-schema", "serialization"})
"""The kinds that are optimistic-concurrency conflicts (SQLSTATE ``40001``)."""



def _oc_code(rule_id: ErrorKind) -> str:
    match = rules.OCC_CODE_PATTERN.search(rules.rule(rule_id).message)
    assert match is not None, rule_id
    return match.group(0)


_OC_KINDS: Mapping[str, ErrorKind] = {_oc_code(kind): kind for kind in ("occ-data", "occ-schema")}
CONFLICT_LABELS: Mapping[ErrorKind, str] = {
    **{kind: code for code, kind in _OC_KINDS.items()},
    "serialization": rules.OCC_SQLSTATE,
}
"""How counters name each conflict kind: its OC code, or the bare SQLSTATE."""
_LIMIT_RULES = tuple(
    rules.RULES[rule_id] for rule_id in ("transaction-rows", "transaction-size", "transaction-age")
)
_LIMIT_SQLSTATE = _LIMIT_RULES[0].sqlstate
_MAX_CHAIN = 8


@dataclass(frozen=True)
class Classification:
    """The verdict of :func:`classify` on one exception."""

    kind: ErrorKind
    retryable: bool
    """Running the whole transaction again may succeed."""
    sqlstate: str | None = None
    """The SQLSTATE the server (or strict local mode) answered with, if any."""
    oc_code: str | None = None
    """``"OC000"`` or ``"OC001"`` when DSQL's message carried one."""
    rule_id: str | None = None
    """The :data:`~aurora_dsql_sqlalchemy.rules.RULES` id, when one matches
    (``occ-data``, ``occ-schema``, ``transaction-rows``, ...)."""

    def describe(self) -> str:
        """A short, secret-free label such as ``SQLSTATE 40001 (OC000)``."""
        parts = [f"SQLSTATE {self.sqlstate}" if self.sqlstate else self.kind]
        if self.oc_code:
            parts.append(f"({self.oc_code})")
        elif self.sqlstate and self.kind != "other":
            parts.append(f"({self.kind})")
        return " ".join(parts)


def server_message(error: BaseException) -> str:
    """The server's primary message (no SQL text, no parameters)."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if isinstance(primary, str) and primary:
        return primary
    pgerror = getattr(error, "pgerror", None)
    text = pgerror if isinstance(pgerror, str) and pgerror else str(error)
    return text.strip().splitlines()[0] if text.strip() else ""


def driver_error(exc: BaseException) -> tuple[BaseException, bool]:
    """The DBAPI exception behind ``exc``, and whether SQLAlchemy invalidated
    the connection for it.  Follows ``StatementError.orig`` (which includes
    ``DBAPIError.orig``) and explicit ``raise ... from`` chains."""
    current: BaseException | None = exc
    invalidated = False
    for _ in range(_MAX_CHAIN):
        if current is None:
            break
        if isinstance(current, sa_exc.StatementError):
            if isinstance(current, sa_exc.DBAPIError):
                invalidated = invalidated or bool(current.connection_invalidated)
            if current.orig is not None:
                return current.orig, invalidated
        elif sqlstate_of(current) is not None:
            return current, invalidated
        current = current.__cause__
    return exc, invalidated


def classify(exc: BaseException, *, at_commit: bool = False) -> Classification:
    """Classify an exception raised inside a transaction.

    Works on SQLAlchemy's :class:`~sqlalchemy.exc.DBAPIError` (it reads
    ``.orig``), on psycopg 3 (``.sqlstate``) and psycopg2 (``.pgcode``)
    exceptions directly, and on exceptions raised ``from`` one of those.

    ``at_commit=True`` says the error came from COMMIT itself.  A conflict
    (``40001``) there is still retryable: the server answered that it rolled
    back.  A dropped connection (including one that ended with no error, as
    DSQL ends a connection whose protocol message is over 10 MiB) or a server
    failure there is not: whether the transaction committed is unknown, and
    the kind is ``commit-outcome-unknown``.
    """
    if isinstance(exc, CommitOutcomeUnknown):
        return Classification("commit-outcome-unknown", False)
    if isinstance(exc, (RetriesExhausted, TransactionLimitExceeded, Misuse)):
        return Classification("other", False)

    error, invalidated = driver_error(exc)
    sqlstate = sqlstate_of(error)
    message = server_message(error) if sqlstate else ""

    if sqlstate == rules.OCC_SQLSTATE:
        match = rules.OCC_CODE_PATTERN.search(message) or rules.OCC_CODE_PATTERN.search(str(error))
        oc_code = match.group(0) if match else None
        kind = _OC_KINDS[oc_code] if oc_code else "serialization"
        rule_id = kind if oc_code else None
        return Classification(kind, True, sqlstate, oc_code, rule_id)

    if sqlstate == _LIMIT_SQLSTATE:
        for limit in _LIMIT_RULES:
            if limit.message.lower() in message.lower():
                return Classification("transaction-limit", False, sqlstate, rule_id=limit.id)
        if re.search(r"\btransaction\b", message, re.IGNORECASE):
            return Classification("transaction-limit", False, sqlstate)
        return Classification("other", False, sqlstate)

    unavailable_state, unavailable_pattern = rules.SERVER_UNAVAILABLE
    if sqlstate == unavailable_state and unavailable_pattern.search(message):
        if at_commit:
            return Classification("commit-outcome-unknown", False, sqlstate)
        return Classification("server-unavailable", True, sqlstate)

    auth_state, auth_pattern = rules.AUTH_FAILED
    if sqlstate == auth_state and auth_pattern.search(message):
        return Classification("other", False, sqlstate)

    if invalidated or isinstance(exc, sa_exc.DisconnectionError):
        if at_commit:
            return Classification("commit-outcome-unknown", False, sqlstate)
        return Classification("connection-lost", True, sqlstate)

    if at_commit and sqlstate is None and isinstance(exc, sa_exc.DBAPIError):
        # The driver failed at COMMIT without a server answer (e.g. an EOF).
        return Classification("commit-outcome-unknown", False)

    return Classification("other", False, sqlstate)


def is_retryable(exc: BaseException) -> bool:
    """True when running the whole transaction again may succeed.

    For your own retry loops: ``40001`` (DSQL's OC000 / OC001, PostgreSQL's
    serialization failures), ``XX000`` "server unavailable", and a dropped
    connection.  If the error came from COMMIT, use
    ``classify(exc, at_commit=True).retryable``: a connection that dropped
    during COMMIT leaves the outcome unknown and is not retryable.
    """
    return classify(exc).retryable
