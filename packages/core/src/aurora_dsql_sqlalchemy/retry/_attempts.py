"""The retry state machine shared by the sync and asyncio helpers.

One call of :func:`run_transaction` or :func:`run_transaction_async` is the
generator :func:`transaction_steps`: it never touches a connection itself,
it *yields* each step (open, begin, run the unit of work, commit, roll back,
close, wait) as a callable, and is sent back the :class:`Outcome`.  A sync
driver calls the steps, an asyncio driver awaits them (as psycopg 3's
connection generators are driven by its sync and async waiters), so the
decisions -- what is retried, when the attempt reached COMMIT, when to give
up -- are written once, in :class:`Attempts` and :func:`transaction_steps`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from .. import rules
from ..errors import CommitOutcomeUnknown, RetriesExhausted, TransactionLimitExceeded
from ._classify import Classification, classify, driver_error, server_message
from ._policy import Clock, RetryPolicy, backoff_delay
from ._stats import Counters

__all__ = ["Attempts", "RetryCallback", "RetryEvent", "drive", "drive_async", "transaction_steps"]

log = logging.getLogger("aurora_dsql_sqlalchemy.retry")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryEvent:
    """Passed to ``on_retry`` callbacks before each wait."""

    attempt: int
    """The attempt that failed (1 for the first)."""
    max_attempts: int | None
    """``policy.max_retries + 1``; ``None`` when only the time budget bounds
    the retries (the default)."""
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


class Attempts:
    """Bookkeeping for one call: decides, after each failure, to retry
    (returning the wait) or to raise."""

    def __init__(
        self,
        policy: RetryPolicy,
        on_retry: RetryCallback | None,
        counters: Counters,
        clock: Clock,
        *,
        idempotent: bool = False,
    ) -> None:
        self.policy = policy
        self.max_attempts = policy.max_attempts
        self.on_retry = on_retry
        self.counters = counters
        self.clock = clock
        self.idempotent = idempotent
        self.errors: list[BaseException] = []
        self.labels: list[str] = []
        self.started = clock.monotonic()

    def failed(self, exc: BaseException, *, at_commit: bool) -> float:
        """Record a failed attempt; return the wait before the next one, or
        raise what the caller should see."""
        verdict = classify(exc, at_commit=at_commit)
        self.counters.failed(verdict)
        attempt = len(self.errors) + 1
        self.errors.append(exc)
        self.labels.append(f"attempt {attempt}: {verdict.describe()}")

        if verdict.kind == "transaction-limit":
            raise TransactionLimitExceeded(_limit_message(verdict)) from exc
        if verdict.kind == "commit-outcome-unknown" and not self.idempotent:
            if isinstance(exc, CommitOutcomeUnknown):
                raise exc
            raise CommitOutcomeUnknown(
                f"COMMIT failed without a definite answer ({verdict.describe()}): the "
                "transaction may or may not have committed, so it was not retried. "
                "Check the data, then decide whether to run it again (a unit of work "
                "that may safely be applied twice can pass idempotent=True)."
            ) from exc
        if not verdict.retryable and verdict.kind != "commit-outcome-unknown":
            raise exc

        elapsed = self.clock.monotonic() - self.started
        if self.max_attempts is not None and attempt >= self.max_attempts:
            self._give_up(f"after {attempt} attempts", elapsed)
        delay = backoff_delay(self.policy, attempt)
        budget = self.policy.max_elapsed
        if budget is not None and elapsed + delay > budget:
            self._give_up(f"within its {budget:g} s budget ({attempt} attempts)", elapsed)

        self.counters.count("retries")
        log.info(
            "Aurora DSQL transaction attempt %d of %s failed with %s; retrying in %.1f ms",
            attempt,
            self.max_attempts or f"{budget:g} s",
            verdict.describe(),
            delay * 1000,
        )
        if log.isEnabledFor(logging.DEBUG):
            log.debug("attempt %d error: %s", attempt, server_message(driver_error(exc)[0]))
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
        self.counters.count("retries_exhausted")
        summary = self._summary()
        log.warning("Aurora DSQL transaction gave up %s in %.3f s: %s", how, elapsed, summary)
        raise RetriesExhausted(
            f"The transaction kept failing with retryable errors and was given up {how}, "
            f"{elapsed:.3f} s after it started ({summary}). Under heavy "
            "contention allow more time (max_elapsed=..., or a retry_policy execution "
            "option), or reduce how many transactions write the same rows.",
            self.errors,
        ) from self.errors[-1]


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


# -- the steps -----------------------------------------------------------------------------

Step = Callable[[], Any]
"""A step of an attempt: returns its result (sync) or an awaitable of it (asyncio)."""


class Outcome:
    """What a step returned or raised, sent back into :func:`transaction_steps`."""

    __slots__ = ("error", "value")

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value = value
        self.error = error

    def get(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value

    def ignore(self, what: str) -> None:
        """A clean-up step failed: the error that matters is already known
        (or the transaction is already settled); keep it out of the way."""
        if self.error is not None:
            log.debug("%s failed", what, exc_info=self.error)


class Unit(Protocol):
    """One attempt's transaction on one connection or session."""

    def begin(self) -> Any: ...
    def run(self, fn: Callable[[Any], Any]) -> Any: ...
    def commit(self) -> Any: ...
    def rollback(self) -> Any: ...
    def close(self) -> Any: ...


class Flavour(Protocol):
    """Sync or asyncio: opens a :class:`Unit` per attempt and waits."""

    def open(self) -> Any: ...
    def sleep(self, seconds: float) -> Any: ...


Steps = Generator[Step, Outcome, T]


class _Phase:
    __slots__ = ("at_commit",)

    def __init__(self) -> None:
        self.at_commit = False


def _attempt(unit: Unit, fn: Callable[[Any], Any], phase: _Phase) -> Steps[Any]:
    (yield unit.begin).get()
    try:
        result = (yield functools.partial(unit.run, fn)).get()
    except BaseException:
        (yield unit.rollback).ignore("rollback after a failed attempt")
        raise
    phase.at_commit = True
    try:
        (yield unit.commit).get()
    except BaseException:
        (yield unit.rollback).ignore("rollback after a failed COMMIT")
        raise
    return result


def transaction_steps(flavour: Flavour, fn: Callable[[Any], Any], attempts: Attempts) -> Steps[Any]:
    """Run ``fn`` in transactions until one commits or :class:`Attempts` gives up."""
    while True:
        phase = _Phase()
        attempts.counters.count("attempts")
        try:
            unit: Unit = (yield flavour.open).get()
            try:
                result = yield from _attempt(unit, fn, phase)
            finally:
                (yield unit.close).ignore("closing the attempt's connection")
        except Exception as exc:
            delay = attempts.failed(exc, at_commit=phase.at_commit)
        else:
            attempts.counters.count("commits")
            return result
        (yield functools.partial(flavour.sleep, delay)).get()


def drive(steps: Steps[T]) -> T:
    """Run :func:`transaction_steps` by calling each step."""
    send = steps.send
    try:
        step = next(steps)
        while True:
            try:
                outcome = Outcome(step())
            except BaseException as error:  # also KeyboardInterrupt: the generator cleans up
                outcome = Outcome(error=error)
            step = send(outcome)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def drive_async(steps: Steps[T]) -> T:
    """Run :func:`transaction_steps` by awaiting each step."""
    send = steps.send
    try:
        step = next(steps)
        while True:
            try:
                outcome = Outcome(await step())
            except BaseException as error:  # also CancelledError: the generator cleans up
                outcome = Outcome(error=error)
            step = send(outcome)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
