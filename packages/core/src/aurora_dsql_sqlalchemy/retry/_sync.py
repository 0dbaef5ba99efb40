""":func:`run_transaction`: the synchronous flavour of the retry loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from ._attempts import Attempts, drive, transaction_steps
from ._guard import TransactionGuard
from ._policy import (
    POLICY_FIELDS,
    SYSTEM_CLOCK,
    Clock,
    check_options,
    engine_options,
    engine_side,
    policy_for,
)
from ._stats import counters_of_engine

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._policy import PolicyFields, PolicyOverrides

__all__ = ["run_transaction"]

T = TypeVar("T")


def require_idle(target: Any, api: str) -> None:
    """The helper begins and commits itself: refuse a transaction in progress."""
    if target.in_transaction():
        name = type(target).__name__
        raise sa_exc.InvalidRequestError(
            f"{api}() needs {'an' if name[0] in 'AEIOU' else 'a'} {name} with no transaction "
            "in progress: "
            "it begins and commits the transaction itself (commit or roll back first)."
        )


def label_of(target: object) -> str:
    """How the user's code names ``target`` in messages."""
    return "conn" if "Connection" in type(target).__name__ else "session"


def new_attempts(bind: object, options: PolicyOverrides, api: str) -> Attempts:
    """The bookkeeping for one call of ``api`` with these keyword arguments."""
    fields: PolicyFields = {}
    if options:  # most calls pass none: skip the checks
        check_options(options, api)
        fields = {key: value for key, value in options.items() if key in POLICY_FIELDS}  # type: ignore[assignment]
    engine = engine_side(bind)
    configured = engine_options(engine)
    return Attempts(
        policy_for(configured, options.get("policy"), fields),
        options.get("on_retry") or configured.get("on_retry"),
        counters_of_engine(engine),
        options.get("clock") or SYSTEM_CLOCK,
        idempotent=bool(options.get("idempotent")),
    )


class _SyncUnit:
    """An attempt on a :class:`~sqlalchemy.engine.Connection` or
    :class:`~sqlalchemy.orm.Session`; ``owned`` ones are closed after it."""

    __slots__ = ("owned", "target")

    def __init__(self, target: Connection | Session, *, owned: bool) -> None:
        self.target = target
        self.owned = owned

    def begin(self) -> None:
        require_idle(self.target, "run_transaction")
        self.target.begin()

    def run(self, fn: Callable[[Any], Any]) -> Any:
        with TransactionGuard(self.target, label_of(self.target), "run_transaction"):
            result = fn(self.target)
        if isinstance(self.target, Session):
            self.target.flush()  # statement errors surface here, not inside COMMIT
        return result

    def commit(self) -> None:
        self.target.commit()

    def rollback(self) -> None:
        self.target.rollback()

    def close(self) -> None:
        if self.owned:
            self.target.close()


class _SyncFlavour:
    __slots__ = ("bind", "clock")

    def __init__(self, bind: object, clock: Clock) -> None:
        check_sync_bind(bind)
        self.bind = bind
        self.clock = clock

    def open(self) -> _SyncUnit:
        bind = self.bind
        if isinstance(bind, Engine):
            return _SyncUnit(bind.connect(), owned=True)
        if isinstance(bind, sessionmaker):
            return _SyncUnit(bind(expire_on_commit=False), owned=True)
        assert isinstance(bind, (Connection, Session))
        return _SyncUnit(bind, owned=False)

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)


def check_sync_bind(bind: object) -> None:
    if not isinstance(bind, (Engine, Connection, sessionmaker, Session)):
        raise TypeError(
            "run_transaction() takes an Engine, Connection, sessionmaker or Session, "
            f"not {type(bind).__name__} (use run_transaction_async() for asyncio objects)"
        )


@overload
def run_transaction(
    bind: Engine | Connection,
    fn: Callable[[Connection], T],
    **options: Unpack[PolicyOverrides],
) -> T: ...
@overload
def run_transaction(
    bind: sessionmaker[Any] | Session,
    fn: Callable[[Session], T],
    **options: Unpack[PolicyOverrides],
) -> T: ...
def run_transaction(bind: Any, fn: Callable[[Any], T], **options: Unpack[PolicyOverrides]) -> T:
    """Run ``fn`` in a transaction, re-running it on optimistic-concurrency conflicts.

    :param bind: an :class:`~sqlalchemy.engine.Engine` (a connection from its
        pool per attempt), a :class:`~sqlalchemy.engine.Connection` with no
        transaction in progress, a :class:`~sqlalchemy.orm.sessionmaker` (a new
        session per attempt, ``expire_on_commit=False``) or a
        :class:`~sqlalchemy.orm.Session` with no transaction in progress.
    :param fn: called with the connection or session; may be called several
        times.  Its return value (from the attempt that committed) is
        returned.  It must not commit (``commit()`` is refused while it runs,
        before anything reaches the server) nor end the transaction
        (a ``rollback()`` followed by a normal return is refused: nothing is
        committed); to abandon the unit of work, raise.
    :param options: see :class:`~aurora_dsql_sqlalchemy.retry.PolicyOverrides`:
        ``policy``, single policy fields (``max_retries``, ``base_delay``,
        ``max_delay``, ``jitter``, ``max_elapsed``), ``on_retry``,
        ``idempotent`` and ``clock``.

    :raises RetriesExhausted: every attempt failed with a retryable error.
    :raises TransactionLimitExceeded: the transaction went over DSQL's row,
        size or age limit (``54000``).
    :raises CommitOutcomeUnknown: COMMIT failed without a definite answer
        (unless ``idempotent=True``).

    Any other error is raised unchanged, after one attempt.
    """
    attempts = new_attempts(bind, options, "run_transaction")
    result: T = drive(transaction_steps(_SyncFlavour(bind, attempts.clock), fn, attempts))
    return result
