"""How long and how often a unit of work is re-run: :class:`RetryPolicy`,
the keyword arguments that override it, backoff, and the clock the loop
waits on."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, TypedDict

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._attempts import RetryCallback

__all__ = [
    "RETRY_POLICY",
    "Clock",
    "PolicyFields",
    "PolicyOverrides",
    "RetryPolicy",
    "backoff_delay",
    "resolve_policy",
]


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for re-running a transaction after an OCC conflict.

    The default retries for up to 30 seconds, however many attempts that
    takes: on a database where every write conflict is a retry, a hot row
    under ordinary contention needs more than a handful of attempts, and a
    caller is better served by a bound on its waiting time (as EF Core's
    default strategy, 30 s) than on a count.  Waits grow exponentially from
    32 ms and are capped at 500 ms, with full jitter, so that writers of one
    row spread out instead of colliding again.  On a hot row every attempt
    that collides costs its round trips and is lost, so fewer and longer
    waits keep more of the row's throughput: with 8 writers of one row
    (``benchmarks/bench_counter.py``), waits from 32 ms instead of 16 ms
    cut the retries from about 0.25-0.5 to 0.1-0.2 per committed increment
    and the time from about 1.8-2.3x to 1.4-1.7x that of PostgreSQL's own
    row locking (from 4 ms, as before that: 0.7 retries, 2.0x).  A single
    conflict costs 16 ms of waiting on average.  For the
    count-bounded behaviour of AWS's DSQL connectors use
    ``RetryPolicy(max_retries=3, base_delay=0.001, max_delay=0.1, jitter=0.25,
    max_elapsed=None)``.
    """

    max_retries: int | None = None
    """Re-runs after the first attempt (so at most ``max_retries + 1``
    attempts); ``None``: no bound on the count, only ``max_elapsed``."""
    base_delay: float = 0.032
    """Seconds before the first retry; doubles for each further retry."""
    max_delay: float = 0.5
    """Cap, in seconds, on any single wait."""
    jitter: float = 1.0
    """Fraction of each wait that is random: the wait is drawn from
    ``[d * (1 - jitter), d]``; ``1.0`` is "full jitter" (uniform in ``[0, d]``)."""
    max_elapsed: float | None = 30.0
    """Give up rather than start an attempt later than this many seconds after
    the first one began (``None``: bounded by ``max_retries`` only).  DSQL
    itself ends any transaction after 5 minutes."""

    def __post_init__(self) -> None:
        if self.max_retries is None and self.max_elapsed is None:
            raise ValueError(
                "RetryPolicy needs a bound: set max_retries, max_elapsed, or both"
            )

    @property
    def max_attempts(self) -> int | None:
        """``max_retries + 1``, or ``None`` when only time bounds the retries."""
        return None if self.max_retries is None else self.max_retries + 1


#: The default policy: retry for up to 30 s of elapsed time, whatever the count.
RETRY_POLICY: Final = RetryPolicy()
"""The policy used when neither the call nor the engine chooses one."""


class PolicyFields(TypedDict, total=False):
    """Single fields of :class:`RetryPolicy` a call may override (``None``:
    keep the policy's value)."""

    max_retries: int | None
    base_delay: float | None
    max_delay: float | None
    jitter: float | None
    max_elapsed: float | None


class PolicyOverrides(PolicyFields, total=False):
    """The keyword arguments of :func:`run_transaction`,
    :func:`run_transaction_async` and :func:`transactional`."""

    policy: RetryPolicy | None
    """The policy to start from (default: the ``retry_policy`` execution
    option of the engine, else ``RETRY_POLICY``)."""
    on_retry: RetryCallback | None
    """Called with a :class:`RetryEvent` before each wait (default: the
    ``on_retry`` execution option, if any)."""
    idempotent: bool | None
    """The unit of work may safely be applied twice: re-run it also when
    COMMIT's outcome is unknown (a connection lost during COMMIT), instead of
    raising :class:`~aurora_dsql_sqlalchemy.errors.CommitOutcomeUnknown`."""
    clock: Clock | None
    """Where the loop reads the time and waits (tests pass a fake one)."""


POLICY_FIELDS: Final = PolicyFields.__optional_keys__
_OPTION_NAMES: Final = PolicyOverrides.__optional_keys__


def check_options(options: Mapping[str, object], api: str) -> None:
    """Refuse a misspelt keyword, as a spelled-out signature would."""
    unknown = sorted(set(options) - _OPTION_NAMES)
    if unknown:
        raise TypeError(f"{api}() got an unexpected keyword argument {unknown[0]!r}")


class Clock:
    """The time source and the waits of the retry loop."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    async def sleep_async(self, seconds: float) -> None:
        await asyncio.sleep(seconds)  # also at 0: lets other tasks run between attempts


SYSTEM_CLOCK: Final = Clock()


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


def engine_side(bind: object) -> object:
    """The engine or connection behind ``bind`` (a session or session factory
    leads to its bind); ``bind`` itself otherwise."""
    makers: tuple[type, ...] = (sessionmaker,)
    sessions: tuple[type, ...] = (Session,)
    # an async bind means sqlalchemy.ext.asyncio is loaded; don't import it
    # otherwise (it needs greenlet, which SQLAlchemy 2.1 no longer requires)
    asyncio_ext = sys.modules.get("sqlalchemy.ext.asyncio")
    if asyncio_ext is not None:
        makers += (asyncio_ext.async_sessionmaker,)
        sessions += (asyncio_ext.AsyncSession,)
    if isinstance(bind, makers):
        return getattr(bind, "kw", {}).get("bind")
    if isinstance(bind, sessions):
        return getattr(bind, "bind", None)
    return bind


def options_of(bind: object) -> Mapping[str, Any]:
    """Execution options of whatever engine ``bind`` leads to."""
    return engine_options(engine_side(bind))


def engine_options(engine: object) -> Mapping[str, Any]:
    """Execution options of ``engine`` (an engine or connection, as
    :func:`engine_side` returns; ``{}`` for anything else)."""
    getter = getattr(engine, "get_execution_options", None)
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
    **overrides: Unpack[PolicyFields],
) -> RetryPolicy:
    """The policy a call will use: ``overrides`` (non-``None`` keyword
    arguments) over ``policy``, over the ``retry_policy`` execution option of
    ``bind``'s engine, over ``RETRY_POLICY``."""
    return policy_for(options_of(bind), policy, overrides)


def policy_for(
    options: Mapping[str, Any], policy: RetryPolicy | None, overrides: Mapping[str, Any]
) -> RetryPolicy:
    """:func:`resolve_policy` for an engine whose execution ``options`` are known."""
    if policy is None:
        configured = options.get("retry_policy")
        if configured is not None and not isinstance(configured, RetryPolicy):
            raise TypeError(
                f"execution option retry_policy must be a RetryPolicy, not {type(configured).__name__}"
            )
        policy = configured or RETRY_POLICY
    if not overrides:
        return policy
    changes = {k: v for k, v in overrides.items() if v is not None and k in POLICY_FIELDS}
    max_retries = changes.get("max_retries")
    if isinstance(max_retries, int) and max_retries < 0:
        raise ValueError("max_retries must be >= 0")
    return replace(policy, **changes) if changes else policy
