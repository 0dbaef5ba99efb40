"""Per-engine counters of the retry helpers, for operators.

Every :func:`~aurora_dsql_sqlalchemy.retry.run_transaction` (and its async
and bulk users) counts into the engine it runs on::

    from aurora_dsql_sqlalchemy.retry import stats

    print(stats(engine).summary())
    # 2,130 attempts, 2,000 committed, 130 retries; conflicts OC000 x 120,
    # OC001 x 0, other 40001 x 10; 0 retries exhausted; 0 commit outcomes
    # unknown; faults SQLSTATE 40001 x 130

A hot row shows as many ``OC000`` conflicts; a schema change storm as
``OC001``.  The counters hold only counts, SQLSTATEs and OC codes: never SQL
text, parameters, row data, user names, tokens or passwords.  Engines made
with ``engine.execution_options(...)`` share their parent's counters (they
share its dialect); :func:`reset_stats` sets them back to zero.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from ._classify import CONFLICT_LABELS, Classification
from ._policy import engine_side

__all__ = ["RetryStats", "reset_stats", "stats"]

_CONFLICT_CODES: Final = tuple(CONFLICT_LABELS.values())


@dataclass(frozen=True)
class RetryStats:
    """A snapshot of one engine's retry counters (see :func:`stats`)."""

    attempts: int = 0
    """Attempts begun (the first run of a unit of work and every re-run)."""
    commits: int = 0
    """Units of work committed."""
    retries: int = 0
    """Re-runs after a retryable error."""
    conflicts: MappingProxyType[str, int] = field(
        default_factory=lambda: MappingProxyType(dict.fromkeys(_CONFLICT_CODES, 0))
    )
    """Optimistic-concurrency conflicts: ``"OC000"`` (data), ``"OC001"``
    (schema changed), and DSQL's conflict SQLSTATE
    (:data:`~aurora_dsql_sqlalchemy.rules.OCC_SQLSTATE`) for a serialization
    failure without an OC code, as PostgreSQL reports one."""
    retries_exhausted: int = 0
    """Units of work given up with :class:`~aurora_dsql_sqlalchemy.errors.RetriesExhausted`."""
    commit_outcomes_unknown: int = 0
    """COMMITs whose outcome was lost (:class:`~aurora_dsql_sqlalchemy.errors.CommitOutcomeUnknown`,
    or re-run when the unit of work was declared idempotent)."""
    faults: MappingProxyType[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Failed attempts by SQLSTATE (``"connection-lost"`` when the connection
    dropped without one)."""

    def summary(self) -> str:
        """One line for a log or a status page."""
        conflicts = ", ".join(
            f"{'' if code.startswith('OC') else 'other '}{code} x {n:,}"
            for code, n in self.conflicts.items()
        )
        faults = ", ".join(f"{state} x {n:,}" for state, n in sorted(self.faults.items()))
        return (
            f"{self.attempts:,} attempts, {self.commits:,} committed, {self.retries:,} retries; "
            f"conflicts {conflicts}; {self.retries_exhausted:,} retries exhausted; "
            f"{self.commit_outcomes_unknown:,} commit outcomes unknown; "
            f"faults {faults or 'none'}"
        )


class Counters:
    """The live, thread-safe counters behind :class:`RetryStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._conflicts: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()

    def count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def failed(self, verdict: Classification) -> None:
        """Count one failed attempt."""
        fault = verdict.sqlstate or (
            verdict.kind if verdict.kind in ("connection-lost", "commit-outcome-unknown") else None
        )
        conflict = verdict.oc_code or CONFLICT_LABELS.get(verdict.kind)
        with self._lock:
            if fault is not None:
                self._faults[fault] += 1
            if conflict is not None:
                self._conflicts[conflict] += 1
            if verdict.kind == "commit-outcome-unknown":
                self._counts["commit_outcomes_unknown"] += 1

    def snapshot(self) -> RetryStats:
        with self._lock:
            counts = dict(self._counts)
            conflicts = {code: self._conflicts[code] for code in _CONFLICT_CODES}
            faults = dict(self._faults)
        return RetryStats(
            attempts=counts.get("attempts", 0),
            commits=counts.get("commits", 0),
            retries=counts.get("retries", 0),
            conflicts=MappingProxyType(conflicts),
            retries_exhausted=counts.get("retries_exhausted", 0),
            commit_outcomes_unknown=counts.get("commit_outcomes_unknown", 0),
            faults=MappingProxyType(faults),
        )


_BY_DIALECT: weakref.WeakKeyDictionary[object, Counters] = weakref.WeakKeyDictionary()
_CREATE_LOCK: Final = threading.Lock()


def counters_for(bind: object) -> Counters:
    """The counters of the engine ``bind`` leads to (a throwaway set when it
    leads to none, e.g. a session bound to several engines)."""
    return counters_of_engine(engine_side(bind))


def counters_of_engine(engine: object) -> Counters:
    """:func:`counters_for` the engine or connection :func:`engine_side` found."""
    dialect = getattr(engine, "dialect", None)
    if dialect is None:
        return Counters()
    found = _BY_DIALECT.get(dialect)
    if found is None:
        with _CREATE_LOCK:
            found = _BY_DIALECT.setdefault(dialect, Counters())
    return found


def stats(bind: object) -> RetryStats:
    """The retry counters of ``bind``'s engine (an ``Engine``, ``Connection``,
    ``sessionmaker``, ``Session`` or their asyncio forms), as a snapshot."""
    return counters_for(bind).snapshot()


def reset_stats(bind: object) -> None:
    """Set the retry counters of ``bind``'s engine back to zero."""
    dialect = getattr(engine_side(bind), "dialect", None)
    if dialect is not None:
        with _CREATE_LOCK:
            _BY_DIALECT[dialect] = Counters()
