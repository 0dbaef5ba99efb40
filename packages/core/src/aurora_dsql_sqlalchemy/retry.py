"""Units of work that survive Aurora DSQL's optimistic concurrency.

Aurora DSQL never makes a transaction wait for another: when two transactions
write the same rows, one of them fails, usually at COMMIT, with SQLSTATE
``40001`` (message code ``OC000``; ``OC001`` when the schema changed under
it).  Nothing of that transaction was kept, and the only remedy is to run the
*whole* unit of work again in a new transaction.  This module does that::

    from aurora_dsql_sqlalchemy.retry import run_transaction

    def transfer(conn):
        conn.execute(debit, {"id": 1, "amount": 10})
        conn.execute(credit, {"id": 2, "amount": 10})

    run_transaction(engine, transfer)

:func:`run_transaction` begins a transaction, calls ``fn`` with the
connection (or ORM session), commits, and when a *retryable* error comes up at
any statement or at COMMIT it rolls back, waits (exponential backoff with
jitter, see :class:`~aurora_dsql_sqlalchemy.rules.RetryPolicy`) and calls
``fn`` again with a fresh transaction.  ``fn`` may therefore run more than
once: it must not have side effects outside the database that cannot be
repeated (sending e-mail, appending to a list it does not reset, ...).

What is retried (see :func:`classify`):

* SQLSTATE ``40001``: DSQL's ``OC000`` (data conflict) and ``OC001`` (schema
  changed), and PostgreSQL's own serialization failures (local mode, where
  the message carries no OC code);
* ``XX000`` "server unavailable", DSQL's transient server-side failure;
* a connection that dropped *before* COMMIT was sent.

What is never retried:

* any other error (a unique violation, a syntax error, an exception of your
  own): it is raised at once, after one attempt;
* ``54000`` transaction limits (more than 3,000 modified rows, 10 MiB, or 5
  minutes): raised as :class:`~aurora_dsql_sqlalchemy.errors.TransactionLimitExceeded`,
  since a retry would fail the same way; split the work with
  :func:`aurora_dsql_sqlalchemy.bulk.chunked_write`;
* a failure *during* COMMIT whose outcome cannot be known (the connection
  dropped, or the server failed without saying whether it committed): raised
  as :class:`~aurora_dsql_sqlalchemy.errors.CommitOutcomeUnknown`.  The
  transaction may have committed; check the data before running it again.

When every attempt failed, :class:`~aurora_dsql_sqlalchemy.errors.RetriesExhausted`
is raised; its ``.attempts`` lists each attempt's error.

Configuration, most specific first: keyword arguments of the call, a
``retry_policy`` execution option of the engine (or connection), then
:data:`aurora_dsql_sqlalchemy.rules.RETRY_POLICY` (3 retries, 1 ms base,
100 ms cap, like AWS's DSQL connectors)::

    from aurora_dsql_sqlalchemy.rules import RetryPolicy

    engine = create_engine(url).execution_options(
        retry_policy=RetryPolicy(max_retries=10, max_delay=0.5)
    )
    run_transaction(engine, work)                   # 10 retries
    run_transaction(engine, work, max_retries=2)    # 2 retries

Each retry is logged on the ``aurora_dsql_sqlalchemy.retry`` logger at INFO
(attempt, SQLSTATE, OC code, wait; never SQL text or parameters), and passed
to an ``on_retry`` callback (per call, or the ``on_retry`` execution option)
as a :class:`RetryEvent`, for metrics.

ORM: given a :class:`~sqlalchemy.orm.sessionmaker`, every attempt gets a new
session, so nothing from a failed attempt (identity map, pending or
half-flushed objects) leaks into the next.  Those sessions are opened with
``expire_on_commit=False`` and closed after COMMIT: the objects ``fn``
returns are detached but keep the values they had at COMMIT, so they can be
read after :func:`run_transaction` returns (load the relationships you need
inside ``fn``).  Given a :class:`~sqlalchemy.orm.Session` instead, the helper
uses it for every attempt and rolls it back between attempts (which expires
what it loaded and expunges what the failed attempt added); objects stay
attached to your session.

asyncio: :func:`run_transaction_async` takes an
:class:`~sqlalchemy.ext.asyncio.AsyncEngine`,
:class:`~sqlalchemy.ext.asyncio.AsyncConnection`,
:class:`~sqlalchemy.ext.asyncio.async_sessionmaker` or
:class:`~sqlalchemy.ext.asyncio.AsyncSession` and an ``async`` function.
The :func:`transactional` decorator covers both.

Your own retry loop can use :func:`is_retryable` (or :func:`classify` for the
details) on the exceptions it catches.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from . import rules
from .errors import (
    CommitOutcomeUnknown,
    RetriesExhausted,
    TransactionLimitExceeded,
    sqlstate_of,
)
from .rules import RETRY_POLICY, RetryPolicy

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import (
        AsyncConnection,
        AsyncEngine,
        AsyncSession,
        async_sessionmaker,
    )

__all__ = [
    "Classification",
    "ErrorKind",
    "RetryEvent",
    "RetryPolicy",
    "backoff_delay",
    "classify",
    "is_retryable",
    "resolve_policy",
    "run_transaction",
    "run_transaction_async",
    "transactional",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

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
(PostgreSQL, or a future DSQL wording)."""

_RETRYABLE_KINDS = frozenset(
    {"occ-data", "occ-schema", "serialization", "server-unavailable", "connection-lost"}
)
_OC_KINDS: Mapping[str, ErrorKind] = {"OC000": "occ-data", "OC001": "occ-schema"}
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


@dataclass(frozen=True)
class RetryEvent:
    """Passed to ``on_retry`` callbacks before each wait."""

    attempt: int
    """The attempt that failed (1 for the first)."""
    max_attempts: int
    """``policy.max_retries + 1``."""
    delay: float
    """Seconds the helper is about to wait before the next attempt."""
    elapsed: float
    """Seconds since the first attempt began."""
    classification: Classification
    error: BaseException = field(repr=False)
    """The exception (SQLAlchemy's wrapper when there is one)."""

    @property
    def sqlstate(self) -> str | None:
        return self.classification.sqlstate


RetryCallback = Callable[[RetryEvent], object]


# -- classification ------------------------------------------------------------


def _server_message(error: BaseException) -> str:
    """The server's primary message (no SQL text, no parameters)."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if isinstance(primary, str) and primary:
        return primary
    pgerror = getattr(error, "pgerror", None)
    text = pgerror if isinstance(pgerror, str) and pgerror else str(error)
    return text.strip().splitlines()[0] if text.strip() else ""


def _driver_error(exc: BaseException) -> tuple[BaseException, bool]:
    """The DBAPI exception behind ``exc``, and whether SQLAlchemy invalidated
    the connection for it.  Follows ``StatementError.orig`` (which includes
    ``DBAPIError.orig``) and explicit
    ``raise ... from`` chains."""
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
    back.  A dropped connection or a server failure there is not: whether the
    transaction committed is unknown, and the kind is
    ``commit-outcome-unknown``.
    """
    if isinstance(exc, CommitOutcomeUnknown):
        return Classification("commit-outcome-unknown", False)
    if isinstance(exc, (RetriesExhausted, TransactionLimitExceeded)):
        return Classification("other", False)

    error, invalidated = _driver_error(exc)
    sqlstate = sqlstate_of(error)
    message = _server_message(error) if sqlstate else ""

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
        # The driver failed at COMMIT without a server answer.
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


# -- policy and backoff -----------------------------------------------------------


def backoff_delay(
    policy: RetryPolicy, retry: int, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first retry).

    ``min(max_delay, base_delay * 2 ** (retry - 1))``, of which the fraction
    ``jitter`` is random.
    """
    exponent = min(max(retry - 1, 0), 62)
    ceiling = min(policy.max_delay, policy.base_delay * float(2**exponent))
    jitter = min(max(policy.jitter, 0.0), 1.0)
    return max(ceiling * (1.0 - jitter * rand()), 0.0)


def _options_of(bind: object) -> Mapping[str, Any]:
    """Execution options of whatever engine ``bind`` leads to."""
    makers: tuple[type, ...] = (sessionmaker,)
    sessions: tuple[type, ...] = (Session,)
    # an async bind means sqlalchemy.ext.asyncio is loaded; don't import it
    # otherwise (it needs greenlet, which SQLAlchemy 2.1 no longer requires)
    asyncio_ext = sys.modules.get("sqlalchemy.ext.asyncio")
    if asyncio_ext is not None:
        makers += (asyncio_ext.async_sessionmaker,)
        sessions += (asyncio_ext.AsyncSession,)
    target: Any = bind
    if isinstance(bind, makers):
        target = target.kw.get("bind")
    elif isinstance(bind, sessions):
        target = target.bind
    getter = getattr(target, "get_execution_options", None)
    if getter is None:
        return {}
    try:
        options = getter()
    except sa_exc.SQLAlchemyError:  # pragma: no cover - e.g. a closed connection
        return {}
    return options if isinstance(options, Mapping) else {}


def resolve_policy(
    bind: object = None,
    policy: RetryPolicy | None = None,
    **overrides: Any,
) -> RetryPolicy:
    """The policy a call will use: ``overrides`` (non-``None`` keyword
    arguments) over ``policy``, over the ``retry_policy`` execution option of
    ``bind``'s engine, over :data:`~aurora_dsql_sqlalchemy.rules.RETRY_POLICY`."""
    if policy is None:
        configured = _options_of(bind).get("retry_policy")
        if configured is not None and not isinstance(configured, RetryPolicy):
            raise TypeError(
                f"execution option retry_policy must be a RetryPolicy, not {type(configured).__name__}"
            )
        policy = configured or RETRY_POLICY
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "max_retries" in changes and changes["max_retries"] < 0:
        raise ValueError("max_retries must be >= 0")
    return replace(policy, **changes) if changes else policy


# -- the retry state machine shared by the sync and async loops --------------------


class _Attempts:
    """Bookkeeping for one call: decides, after each failure, to retry
    (returning the wait) or to raise."""

    def __init__(self, bind: object, policy: RetryPolicy, on_retry: RetryCallback | None) -> None:
        self.policy = policy
        self.max_attempts = policy.max_retries + 1
        self.on_retry = on_retry or _options_of(bind).get("on_retry")
        self.errors: list[BaseException] = []
        self.labels: list[str] = []
        self.started = time.monotonic()

    def failed(self, exc: BaseException, *, at_commit: bool) -> float:
        """Record a failed attempt; return the wait before the next one, or
        raise what the caller should see."""
        verdict = classify(exc, at_commit=at_commit)
        attempt = len(self.errors) + 1
        self.errors.append(exc)
        self.labels.append(f"attempt {attempt}: {verdict.describe()}")

        if verdict.kind == "transaction-limit":
            raise TransactionLimitExceeded(_limit_message(verdict)) from exc
        if verdict.kind == "commit-outcome-unknown":
            if isinstance(exc, CommitOutcomeUnknown):
                raise exc
            raise CommitOutcomeUnknown(
                f"COMMIT failed without a definite answer ({verdict.describe()}): the "
                "transaction may or may not have committed, so it was not retried. "
                "Check the data, then decide whether to run it again."
            ) from exc
        if not verdict.retryable:
            raise exc

        elapsed = time.monotonic() - self.started
        if attempt >= self.max_attempts:
            self._give_up(f"after {attempt} attempts", elapsed)
        delay = backoff_delay(self.policy, attempt)
        budget = self.policy.max_elapsed
        if budget is not None and elapsed + delay > budget:
            self._give_up(f"within its {budget:g} s budget ({attempt} attempts)", elapsed)

        log.info(
            "Aurora DSQL transaction attempt %d of %d failed with %s; retrying in %.1f ms",
            attempt,
            self.max_attempts,
            verdict.describe(),
            delay * 1000,
        )
        if log.isEnabledFor(logging.DEBUG):
            log.debug("attempt %d error: %s", attempt, _server_message(_driver_error(exc)[0]))
        if self.on_retry is not None:
            self.on_retry(RetryEvent(attempt, self.max_attempts, delay, elapsed, verdict, exc))
        return delay

    def _summary(self) -> str:
        if len(self.labels) <= 5:
            return "; ".join(self.labels)
        counts: dict[str, int] = {}
        for label in self.labels:
            kind = label.split(": ", 1)[1]
            counts[kind] = counts.get(kind, 0) + 1
        return ", ".join(f"{kind} x {n}" for kind, n in counts.items()) + (
            f"; last {self.labels[-1]}"
        )

    def _give_up(self, how: str, elapsed: float) -> None:
        summary = self._summary()
        log.warning("Aurora DSQL transaction gave up %s in %.3f s: %s", how, elapsed, summary)
        raise RetriesExhausted(
            f"The transaction kept failing with retryable errors and was given up {how}, "
            f"{elapsed:.3f} s after it started ({summary}). Under heavy "
            "contention allow more retries (max_retries=..., or a retry_policy execution "
            "option), or reduce how many transactions write the same rows.",
            self.errors,
        ) from self.errors[-1]


class _Phase:
    """Where the current attempt is: ``at_commit`` once COMMIT was sent."""

    __slots__ = ("at_commit",)

    def __init__(self) -> None:
        self.at_commit = False


def _limit_message(verdict: Classification) -> str:
    limits = rules.LIMITS
    what = (
        f"{rules.rule(verdict.rule_id).title} [rule {verdict.rule_id}, SQLSTATE {verdict.sqlstate}]"
        if verdict.rule_id
        else f"a per-transaction limit [SQLSTATE {verdict.sqlstate}]"
    )
    return (
        f"Aurora DSQL refused the transaction: {what}. A transaction may modify at most "
        f"{limits.transaction_rows:,} rows, write {limits.transaction_bytes // (1024 * 1024)} MiB "
        f"and last {limits.transaction_seconds:.0f} s. It was not retried (it would fail the "
        "same way) and nothing was written: split the work into smaller transactions, e.g. "
        "with aurora_dsql_sqlalchemy.bulk.chunked_write() / chunked_insert() / "
        "chunked_delete()."
    )


def _quiet_rollback(rollback: Callable[[], object]) -> None:
    try:
        rollback()
    except Exception:  # the connection may be gone; the error that matters is already known
        log.debug("rollback after a failed attempt failed", exc_info=True)


async def _quiet_rollback_async(rollback: Callable[[], Awaitable[object]]) -> None:
    try:
        await rollback()
    except Exception:
        log.debug("rollback after a failed attempt failed", exc_info=True)


# -- synchronous -----------------------------------------------------------------------


def _attempt_connection(conn: Connection, fn: Callable[[Connection], T], phase: _Phase) -> T:
    if conn.in_transaction():
        raise sa_exc.InvalidRequestError(
            "run_transaction() needs a Connection with no transaction in progress: it "
            "begins and commits the transaction itself (commit or roll back first)."
        )
    trans = conn.begin()
    try:
        result = fn(conn)
    except BaseException:
        _quiet_rollback(trans.rollback)
        raise
    try:
        trans.commit()
    except Exception:
        phase.at_commit = True
        _quiet_rollback(trans.rollback)
        raise
    return result


def _attempt_session(session: Session, fn: Callable[[Session], T], phase: _Phase) -> T:
    if session.in_transaction():
        raise sa_exc.InvalidRequestError(
            "run_transaction() needs a Session with no transaction in progress: it "
            "begins and commits the transaction itself (commit or roll back first)."
        )
    session.begin()
    try:
        result = fn(session)
        session.flush()  # statement errors surface here, not inside COMMIT
    except BaseException:
        _quiet_rollback(session.rollback)
        raise
    try:
        session.commit()
    except Exception:
        phase.at_commit = True
        _quiet_rollback(session.rollback)
        raise
    return result


def _run_once(bind: Any, fn: Callable[[Any], T], phase: _Phase) -> T:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return _attempt_connection(conn, fn, phase)
    if isinstance(bind, Connection):
        return _attempt_connection(bind, fn, phase)
    if isinstance(bind, sessionmaker):
        with bind(expire_on_commit=False) as session:
            return _attempt_session(session, fn, phase)
    if isinstance(bind, Session):
        return _attempt_session(bind, fn, phase)
    raise TypeError(
        "run_transaction() takes an Engine, Connection, sessionmaker or Session, "
        f"not {type(bind).__name__} (use run_transaction_async() for asyncio objects)"
    )


@overload
def run_transaction(
    bind: Engine | Connection,
    fn: Callable[[Connection], T],
    *,
    policy: RetryPolicy | None = ...,
    max_retries: int | None = ...,
    base_delay: float | None = ...,
    max_delay: float | None = ...,
    jitter: float | None = ...,
    max_elapsed: float | None = ...,
    on_retry: RetryCallback | None = ...,
) -> T: ...
@overload
def run_transaction(
    bind: sessionmaker[Any] | Session,
    fn: Callable[[Session], T],
    *,
    policy: RetryPolicy | None = ...,
    max_retries: int | None = ...,
    base_delay: float | None = ...,
    max_delay: float | None = ...,
    jitter: float | None = ...,
    max_elapsed: float | None = ...,
    on_retry: RetryCallback | None = ...,
) -> T: ...
def run_transaction(
    bind: Any,
    fn: Callable[[Any], T],
    *,
    policy: RetryPolicy | None = None,
    max_retries: int | None = None,
    base_delay: float | None = None,
    max_delay: float | None = None,
    jitter: float | None = None,
    max_elapsed: float | None = None,
    on_retry: RetryCallback | None = None,
) -> T:
    """Run ``fn`` in a transaction, re-running it on optimistic-concurrency conflicts.

    :param bind: an :class:`~sqlalchemy.engine.Engine` (a connection from its
        pool per attempt), a :class:`~sqlalchemy.engine.Connection` with no
        transaction in progress, a :class:`~sqlalchemy.orm.sessionmaker` (a new
        session per attempt, ``expire_on_commit=False``) or a
        :class:`~sqlalchemy.orm.Session` with no transaction in progress.
    :param fn: called with the connection or session; must not commit or roll
        back; may be called several times.  Its return value (from the
        attempt that committed) is returned.
    :param policy: a :class:`~aurora_dsql_sqlalchemy.rules.RetryPolicy`;
        default: the ``retry_policy`` execution option of the engine, else
        :data:`~aurora_dsql_sqlalchemy.rules.RETRY_POLICY`.
    :param max_retries, base_delay, max_delay, jitter, max_elapsed: override
        single fields of the policy.
    :param on_retry: called with a :class:`RetryEvent` before each wait
        (default: the ``on_retry`` execution option, if any).  An exception it
        raises ends the call.

    :raises RetriesExhausted: every attempt failed with a retryable error.
    :raises TransactionLimitExceeded: the transaction went over DSQL's row,
        size or age limit (``54000``).
    :raises CommitOutcomeUnknown: COMMIT failed without a definite answer.

    Any other error is raised unchanged, after one attempt.
    """
    chosen = resolve_policy(
        bind,
        policy,
        max_retries=max_retries,
        base_delay=base_delay,
        max_delay=max_delay,
        jitter=jitter,
        max_elapsed=max_elapsed,
    )
    attempts = _Attempts(bind, chosen, on_retry)
    while True:
        phase = _Phase()
        try:
            return _run_once(bind, fn, phase)
        except Exception as exc:
            delay = attempts.failed(exc, at_commit=phase.at_commit)
        if delay > 0:
            time.sleep(delay)


# -- asyncio ---------------------------------------------------------------------------


async def _attempt_connection_async(
    conn: AsyncConnection, fn: Callable[[AsyncConnection], Awaitable[T]], phase: _Phase
) -> T:
    if conn.in_transaction():
        raise sa_exc.InvalidRequestError(
            "run_transaction_async() needs an AsyncConnection with no transaction in "
            "progress: it begins and commits the transaction itself."
        )
    trans = await conn.begin()
    try:
        result = await fn(conn)
    except BaseException:
        await _quiet_rollback_async(trans.rollback)
        raise
    try:
        await trans.commit()
    except Exception:
        phase.at_commit = True
        await _quiet_rollback_async(trans.rollback)
        raise
    return result


async def _attempt_session_async(
    session: AsyncSession, fn: Callable[[AsyncSession], Awaitable[T]], phase: _Phase
) -> T:
    if session.in_transaction():
        raise sa_exc.InvalidRequestError(
            "run_transaction_async() needs an AsyncSession with no transaction in "
            "progress: it begins and commits the transaction itself."
        )
    await session.begin()
    try:
        result = await fn(session)
        await session.flush()
    except BaseException:
        await _quiet_rollback_async(session.rollback)
        raise
    try:
        await session.commit()
    except Exception:
        phase.at_commit = True
        await _quiet_rollback_async(session.rollback)
        raise
    return result


async def _run_once_async(bind: Any, fn: Callable[[Any], Awaitable[T]], phase: _Phase) -> T:
    from sqlalchemy.ext.asyncio import (
        AsyncConnection,
        AsyncEngine,
        AsyncSession,
        async_sessionmaker,
    )

    if isinstance(bind, AsyncEngine):
        async with bind.connect() as conn:
            return await _attempt_connection_async(conn, fn, phase)
    if isinstance(bind, AsyncConnection):
        return await _attempt_connection_async(bind, fn, phase)
    if isinstance(bind, async_sessionmaker):
        async with bind(expire_on_commit=False) as session:
            return await _attempt_session_async(session, fn, phase)
    if isinstance(bind, AsyncSession):
        return await _attempt_session_async(bind, fn, phase)
    raise TypeError(
        "run_transaction_async() takes an AsyncEngine, AsyncConnection, "
        f"async_sessionmaker or AsyncSession, not {type(bind).__name__}"
    )


@overload
async def run_transaction_async(
    bind: AsyncEngine | AsyncConnection,
    fn: Callable[[AsyncConnection], Awaitable[T]],
    *,
    policy: RetryPolicy | None = ...,
    max_retries: int | None = ...,
    base_delay: float | None = ...,
    max_delay: float | None = ...,
    jitter: float | None = ...,
    max_elapsed: float | None = ...,
    on_retry: RetryCallback | None = ...,
) -> T: ...
@overload
async def run_transaction_async(
    bind: async_sessionmaker[Any] | AsyncSession,
    fn: Callable[[AsyncSession], Awaitable[T]],
    *,
    policy: RetryPolicy | None = ...,
    max_retries: int | None = ...,
    base_delay: float | None = ...,
    max_delay: float | None = ...,
    jitter: float | None = ...,
    max_elapsed: float | None = ...,
    on_retry: RetryCallback | None = ...,
) -> T: ...
async def run_transaction_async(
    bind: Any,
    fn: Callable[[Any], Awaitable[T]],
    *,
    policy: RetryPolicy | None = None,
    max_retries: int | None = None,
    base_delay: float | None = None,
    max_delay: float | None = None,
    jitter: float | None = None,
    max_elapsed: float | None = None,
    on_retry: RetryCallback | None = None,
) -> T:
    """The asyncio form of :func:`run_transaction`: ``fn`` is an ``async``
    function taking an :class:`~sqlalchemy.ext.asyncio.AsyncConnection` or
    :class:`~sqlalchemy.ext.asyncio.AsyncSession`; waits use
    :func:`asyncio.sleep`.  Same policy, errors and events."""
    chosen = resolve_policy(
        bind,
        policy,
        max_retries=max_retries,
        base_delay=base_delay,
        max_delay=max_delay,
        jitter=jitter,
        max_elapsed=max_elapsed,
    )
    attempts = _Attempts(bind, chosen, on_retry)
    while True:
        phase = _Phase()
        try:
            return await _run_once_async(bind, fn, phase)
        except Exception as exc:
            delay = attempts.failed(exc, at_commit=phase.at_commit)
        await asyncio.sleep(delay)


# -- decorator -------------------------------------------------------------------------


def transactional(
    bind: Any,
    *,
    policy: RetryPolicy | None = None,
    max_retries: int | None = None,
    base_delay: float | None = None,
    max_delay: float | None = None,
    jitter: float | None = None,
    max_elapsed: float | None = None,
    on_retry: RetryCallback | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator form of :func:`run_transaction` / :func:`run_transaction_async`.

    The decorated function takes the connection or session as its first
    argument; callers pass only the rest::

        @transactional(Session)          # a sessionmaker
        def rename(session, user_id, name):
            session.get(User, user_id).name = name

        rename(42, "Ada")                # retried on OCC conflicts

    ``async def`` functions are run with :func:`run_transaction_async` (give
    an async engine or ``async_sessionmaker``).
    """
    options: dict[str, Any] = {
        "policy": policy,
        "max_retries": max_retries,
        "base_delay": base_delay,
        "max_delay": max_delay,
        "jitter": jitter,
        "max_elapsed": max_elapsed,
        "on_retry": on_retry,
    }

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async def unit(target: Any) -> Any:
                    return await fn(target, *args, **kwargs)

                return await run_transaction_async(bind, unit, **options)

            return run_async

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            return run_transaction(bind, lambda target: fn(target, *args, **kwargs), **options)

        return run

    return decorate
