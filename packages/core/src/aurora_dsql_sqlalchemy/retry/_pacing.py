"""Hands a hot row over from one local writer to the next.

When several writers of one engine keep conflicting (one hot row, many
threads or tasks), a random backoff alone leaves the row idle while everyone
sleeps, and wakes the losers together to collide again.  A database with row
locks avoids both by queueing the waiters and letting the next one in at each
commit.  :class:`Pacing` does the same on the client: a writer that lost a
conflict while other attempts of the same engine were running takes the
next place in a queue, and is let go after as many further commits on the
engine as there were writers ahead of it -- or after its backoff wait,
whichever comes first, so it never waits longer than the policy says.  A
conflict with no other local attempt running came from another client: the
plain backoff applies.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Final

from ._policy import Clock

__all__ = ["Pacing"]

_POLL: Final = 0.0005
"""How often a waiting asyncio task looks at the commit count (seconds)."""


class Pacing:
    """Per-engine: attempts running, commits seen, and the queue of losers."""

    __slots__ = ("_commits", "_cond", "_queued", "_running")

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._running = 0
        self._commits = 0
        self._queued = 0

    def started(self) -> None:
        with self._cond:
            self._running += 1

    def ended(self, *, committed: bool) -> None:
        with self._cond:
            self._running -= 1
            if committed:
                self._commits += 1
                if self._queued:
                    self._cond.notify_all()

    def ticket(self) -> int | None:
        """The commit count to wait for, or ``None`` when no other attempt of
        this engine is running (the conflict came from elsewhere)."""
        with self._cond:
            if self._running == 0:
                return None
            self._queued += 1
            return self._commits + self._queued

    def wait(self, ticket: int | None, timeout: float, clock: Clock) -> None:
        if ticket is None:
            clock.sleep(timeout)
            return
        with self._cond:
            self._cond.wait_for(lambda: self._commits >= ticket, timeout)
            self._queued -= 1

    async def wait_async(self, ticket: int | None, timeout: float, clock: Clock) -> None:
        if ticket is None:
            await clock.sleep_async(timeout)
            return
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                left = deadline - time.monotonic()
                if self._commits >= ticket or left <= 0:
                    self._queued -= 1
                    return
            await asyncio.sleep(min(_POLL, left))
