"""Opening connections the way Aurora DSQL wants them opened.

DSQL refuses a new connection for reasons that pass: more than 10,000
connections (``53300``), more than 100 new connections a second past a burst
of 1,000 (``53400`` "rate exceeded"), or an idle cluster that scaled to zero
("waking up cluster, please retry later").  It also refuses an expired IAM
token (``08006`` "access denied" with ``HINT: Signature expired``), which a
freshly signed token cures, and refused credentials (the same error without
the hint), which nothing cures.

The dialect opens every connection through :class:`ConnectRetry`, which

* paces new connections to :data:`~aurora_dsql_sqlalchemy.rules.NEW_CONNECTIONS_PER_SECOND`
  (a token bucket with a burst of :data:`~aurora_dsql_sqlalchemy.rules.NEW_CONNECTIONS_BURST`),
  so a pool warming up many connections at once stays under DSQL's rate;
* retries the passing refusals with exponential backoff and jitter, within
  :attr:`ConnectRetryPolicy.max_elapsed` seconds and
  :attr:`ConnectRetryPolicy.max_attempts` attempts, then raises
  :class:`ConnectRefused` naming the refusal and the attempts made;
* re-signs once on ``Signature expired`` (when given a way to re-sign), and
  never retries refused credentials.

Configure it per engine::

    from aurora_dsql_sqlalchemy.connect_retry import ConnectRetryPolicy

    engine = create_engine(url, connect_retry=ConnectRetryPolicy(max_elapsed=60))

The decision itself is :meth:`ConnectRetry.decide`, a pure function of the
error, the attempt number and the time spent, for your own connect loops.
The SQLSTATEs and DSQL's messages are read from :mod:`aurora_dsql_sqlalchemy.rules`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

from sqlalchemy import exc as sa_exc

from . import rules
from .errors import sqlstate_of

__all__ = [
    "CONNECT_RETRY_POLICY",
    "ConnectPacer",
    "ConnectRefused",
    "ConnectRetry",
    "ConnectRetryPolicy",
    "Decision",
    "Refusal",
    "classify_connect_error",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

Refusal = Literal[
    "too-many-connections", "rate-exceeded", "waking-up", "signature-expired", "access-denied"
]
"""What :func:`classify_connect_error` found in a connect-time error."""

TRANSIENT: Final[frozenset[Refusal]] = frozenset(
    {"too-many-connections", "rate-exceeded", "waking-up"}
)

Action = Literal["retry", "resign", "raise"]


@dataclass(frozen=True)
class ConnectRetryPolicy:
    """How long and how often to retry a refused connect, and how fast to connect."""

    base_delay: float = 0.05
    """Seconds before the first retry; doubles for each further retry."""
    max_delay: float = 2.0
    """Cap, in seconds, on any single wait."""
    jitter: float = 0.5
    """Fraction of each wait that is random."""
    max_elapsed: float = 30.0
    """Give up rather than wait past this many seconds since the first attempt."""
    max_attempts: int = 20
    """Give up after this many refused attempts."""
    rate: float | None = rules.NEW_CONNECTIONS_PER_SECOND
    """New connections per second this engine opens at most (``None``: no pacing)."""
    burst: int = rules.NEW_CONNECTIONS_BURST
    """Connections that may be opened at once before pacing starts."""


CONNECT_RETRY_POLICY: Final = ConnectRetryPolicy()


@dataclass(frozen=True)
class Decision:
    """What to do after a failed connect attempt."""

    action: Action
    """``retry`` after ``delay``; ``resign`` (a new token, then retry at once); ``raise``."""
    delay: float = 0.0
    refusal: Refusal | None = None


class ConnectRefused(sa_exc.SQLAlchemyError):
    """Aurora DSQL kept refusing a new connection; ``.refusal`` says why,
    ``.attempts`` how many connects were tried, ``__cause__`` is the last error."""

    def __init__(self, message: str, refusal: Refusal | None, attempts: int) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.attempts = attempts


def classify_connect_error(error: BaseException) -> Refusal | None:
    """The DSQL refusal ``error`` (a driver or SQLAlchemy exception) carries, or ``None``.

    libpq reports errors at connect without their SQLSTATE, so the message
    (which includes the server's HINT) decides when the SQLSTATE is missing.
    """
    cause: BaseException | None = error
    for _ in range(4):  # SQLAlchemy's wrapper, the driver error, its cause
        if cause is None:
            break
        sqlstate = sqlstate_of(cause)
        text = str(cause)
        for kind, state, pattern in rules.CONNECT_REFUSALS:
            if (state is not None and sqlstate == state) or pattern.search(text):
                return kind  # type: ignore[return-value]
        auth_state, auth_pattern = rules.AUTH_FAILED
        if sqlstate == auth_state or auth_pattern.search(text):
            if rules.SIGNATURE_EXPIRED_HINT.search(text):
                return "signature-expired"
            return "access-denied"
        cause = getattr(cause, "orig", None) or cause.__cause__
    return None


class ConnectPacer:
    """A thread-safe token bucket: ``wait()`` says how long to wait before
    the next new connection may be opened (and takes its token)."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(int(burst), 1)
        self._clock = clock
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def wait(self) -> float:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


class ConnectRetry:
    """The connect policy of one engine (the dialect holds one)."""

    def __init__(
        self,
        policy: ConnectRetryPolicy | None = None,
        *,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or CONNECT_RETRY_POLICY
        self._rand = rand
        self._clock = clock
        rate = self.policy.rate
        self.pacer = None if rate is None else ConnectPacer(rate, self.policy.burst, clock)

    def decide(self, error: BaseException, attempt: int, elapsed: float, resigned: bool) -> Decision:
        """What to do after connect attempt number ``attempt`` (1 for the first)
        failed with ``error``, ``elapsed`` seconds after the first began;
        ``resigned`` says whether a token was already re-signed."""
        refusal = classify_connect_error(error)
        if refusal == "signature-expired" and not resigned:
            return Decision("resign", 0.0, refusal)
        if refusal not in TRANSIENT:
            return Decision("raise", 0.0, refusal)
        policy = self.policy
        ceiling = min(policy.max_delay, policy.base_delay * float(2 ** min(attempt - 1, 30)))
        delay = ceiling * (1.0 - min(max(policy.jitter, 0.0), 1.0) * self._rand())
        if attempt >= policy.max_attempts or elapsed + delay > policy.max_elapsed:
            return Decision("raise", 0.0, refusal)
        return Decision("retry", delay, refusal)

    def connect(
        self,
        connect: Callable[[], T],
        *,
        resign: Callable[[], None] | None = None,
        sleep: Callable[[float], object] = time.sleep,
    ) -> T:
        """Call ``connect`` (no arguments, returns a DBAPI connection), paced and
        retried as the policy says.  ``resign`` discards the cached token (the
        next ``connect`` signs a new one); without it a ``Signature expired``
        refusal is not retried.  ``sleep`` waits (the async dialects pass one
        that yields to the event loop)."""
        started = self._clock()
        resigned = resign is None
        attempt = 0
        while True:
            attempt += 1
            if self.pacer is not None:  # every attempt is a new connection to the server
                pause = self.pacer.wait()
                if pause > 0:
                    sleep(pause)
            try:
                return connect()
            except Exception as err:
                decision = self.decide(err, attempt, self._clock() - started, resigned)
                if decision.action == "raise":
                    if attempt == 1 or decision.refusal is None:
                        raise
                    raise self._gave_up(err, decision.refusal, attempt, started) from err
                log.info(
                    "connect attempt %d refused (%s); %s",
                    attempt,
                    decision.refusal,
                    "re-signing the token" if decision.action == "resign"
                    else f"retrying in {decision.delay:.3f}s",
                )
                if decision.action == "resign":
                    assert resign is not None
                    resign()
                    resigned = True
                else:
                    sleep(decision.delay)

    def _gave_up(self, err: BaseException, refusal: Refusal, attempts: int, started: float) -> ConnectRefused:
        elapsed = self._clock() - started
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if refusal in TRANSIENT:
            advice = {
                "too-many-connections": "the cluster has its maximum of "
                f"{rules.MAX_CONNECTIONS:,} connections: close idle ones or use a smaller pool",
                "rate-exceeded": f"more than {rules.NEW_CONNECTIONS_PER_SECOND} new connections "
                "a second are being opened against the cluster (by all clients): lower "
                "ConnectRetryPolicy.rate, or open fewer connections at once",
                "waking-up": "the cluster is still waking up from idle: try again, or raise "
                "ConnectRetryPolicy.max_elapsed",
            }[refusal]
        else:
            advice = "a freshly signed IAM token was refused too: check the credentials"
        return ConnectRefused(
            f"Aurora DSQL refused the connection {attempts} times in {elapsed:.1f}s "
            f"({refusal}): {first}. {advice[0].upper()}{advice[1:]}.",
            refusal,
            attempts,
        )

    @staticmethod
    def sleeper(is_async: bool) -> Callable[[float], object]:
        """``time.sleep``, or for an asyncio dialect (whose ``connect`` runs in
        SQLAlchemy's greenlet) a sleep that yields to the event loop."""
        if not is_async:
            return time.sleep
        import asyncio

        from sqlalchemy import util

        await_ = getattr(util, "await_", None) or util.await_only

        def sleep(seconds: float) -> None:
            await_(asyncio.sleep(seconds))

        return sleep
