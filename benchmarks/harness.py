"""Side-by-side timing: the same workload, stock SQLAlchemy vs the DSQL dialect.

Each workload runs on the same embedded PostgreSQL, in the same process, once
per *arm* and round:

``stock``
    stock ``postgresql+<driver>`` (the baseline);
``stock2``
    a second, identical stock engine: its ratio to ``stock`` is the noise
    floor of this machine for this workload;
``translate`` / ``strict``
    ``auroradsql+<driver>`` in local mode ``"translate"`` (DSQL syntax
    translated only) and ``"strict"`` (DSQL's rules enforced too).

The order of the arms rotates every round, so no arm always runs first (cold)
or last (after the others have dirtied the caches), and untimed warm-up rounds
come first.  What is reported is the median time per arm and the ratio of
medians, ``arm / stock``; absolute times on a shared machine are noise, the
ratios are not.  Every run's result is checked (row counts, values) outside
the timed region, so a fast wrong run cannot pass.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

__all__ = ["Arm", "Goal", "Result", "Workload", "Context", "measure", "format_table"]

STOCK = "stock"
NOISE = "stock2"


@dataclass(frozen=True)
class Goal:
    """The largest acceptable time ratio ``arm / stock`` (1.25 = throughput >= 0.8x)."""

    max_ratio: float
    text: str = ""

    def describe(self) -> str:
        return self.text or f"<= {self.max_ratio:.2f}x"


@dataclass
class Arm:
    """One side of the comparison: a label and what it runs on."""

    label: str
    engine: Any = None
    """An Engine (or whatever the workload's ``make_arm`` returned)."""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """What every workload gets: the server and the run's settings."""

    pg_url: URL
    """The server as a stock ``postgresql+<driver>`` URL."""
    driver: str
    quick: bool
    admin: sa.Engine
    """A stock AUTOCOMMIT engine for untimed setup and cleanup."""

    def stock_url(self) -> URL:
        return self.pg_url.set(drivername=f"postgresql+{self.driver}")

    def dsql_url(self) -> URL:
        return self.pg_url.set(drivername=f"auroradsql+{self.driver}")

    def engine(self, label: str, **kw: Any) -> sa.Engine:
        """The engine of a standard arm: stock, stock2, translate or strict."""
        if label in (STOCK, NOISE):
            return sa.create_engine(self.stock_url(), **kw)
        if label == "translate":
            return sa.create_engine(self.dsql_url(), local_mode="translate", **kw)
        if label == "strict":
            return sa.create_engine(self.dsql_url(), **kw)
        raise ValueError(f"unknown arm {label!r}")


class Workload:
    """Base class: override ``run`` (timed) and ``check`` (not timed).

    ``arms`` names the arms besides ``stock`` and ``stock2``; ``goals`` maps
    an arm label to its :class:`Goal`.  ``setup`` runs once before the first
    round, ``before``/``after`` around every timed run (not timed),
    ``teardown`` once at the end.
    """

    name = "workload"
    description = ""
    arms: Sequence[str] = ("translate", "strict")
    goals: dict[str, Goal] = {}
    warmup = 1

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def make_arm(self, label: str) -> Arm:
        return Arm(label, self.ctx.engine(label))

    def setup(self) -> None:
        """Once, before any round (create tables, load data)."""

    def before(self, arm: Arm) -> None:
        """Before each timed run, untimed (reset state)."""

    def run(self, arm: Arm) -> Any:
        """The timed work; returns what ``check`` verifies."""
        raise NotImplementedError

    def check(self, arm: Arm, result: Any) -> None:
        """Assert that ``result`` is right (untimed)."""

    def after(self, arm: Arm) -> None:
        """After each timed run, untimed."""

    def close_arm(self, arm: Arm) -> None:
        if isinstance(arm.engine, sa.Engine):
            arm.engine.dispose()

    def teardown(self) -> None:
        """Once, after the last round."""


@dataclass
class Result:
    workload: str
    description: str
    times: dict[str, list[float]]
    goals: dict[str, Goal]
    rounds: int

    def median(self, label: str) -> float:
        return statistics.median(self.times[label])

    def ratio(self, label: str) -> float:
        return self.median(label) / self.median(STOCK)

    def noise(self) -> float | None:
        return self.ratio(NOISE) if NOISE in self.times else None

    def passed(self, label: str) -> bool | None:
        goal = self.goals.get(label)
        return None if goal is None else self.ratio(label) <= goal.max_ratio


def _timed(workload: Workload, arm: Arm) -> tuple[float, Any]:
    workload.before(arm)
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        result = workload.run(arm)
        elapsed = time.perf_counter() - started
    finally:
        gc.enable()
    workload.check(arm, result)
    workload.after(arm)
    return elapsed, result


def measure(
    workload: Workload,
    rounds: int,
    noise: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Result:
    """Run ``workload`` for ``rounds`` timed rounds (after its warm-up rounds),
    rotating the order of the arms each round."""
    labels = [STOCK, *([NOISE] if noise else []), *workload.arms]
    workload.setup()
    arms = [workload.make_arm(label) for label in labels]
    times: dict[str, list[float]] = {label: [] for label in labels}
    try:
        for round_no in range(workload.warmup + rounds):
            shift = round_no % len(arms)
            for arm in arms[shift:] + arms[:shift]:
                elapsed, _ = _timed(workload, arm)
                if round_no >= workload.warmup:
                    times[arm.label].append(elapsed)
            if progress:
                progress(f"{workload.name}: round {round_no + 1}/{workload.warmup + rounds}")
    finally:
        for arm in arms:
            workload.close_arm(arm)
        workload.teardown()
    return Result(workload.name, workload.description, times, dict(workload.goals), rounds)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def format_table(results: Sequence[Result]) -> str:
    """A plain-text table: one line per workload and arm."""
    header = ("workload", "arm", "stock ms", "arm ms", "ratio", "noise", "goal", "")
    rows: list[tuple[str, ...]] = [header]
    for result in results:
        noise = result.noise()
        noise_text = f"{noise:.3f}x" if noise is not None else "-"
        for label in result.times:
            if label in (STOCK, NOISE):
                continue
            goal = result.goals.get(label)
            passed = result.passed(label)
            verdict = "" if passed is None else ("ok" if passed else "MISS")
            rows.append(
                (
                    result.workload,
                    label,
                    _ms(result.median(STOCK)),
                    _ms(result.median(label)),
                    f"{result.ratio(label):.3f}x",
                    noise_text,
                    goal.describe() if goal else "-",
                    verdict,
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [cell.ljust(widths[i]) if i < 2 or i >= 6 else cell.rjust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
