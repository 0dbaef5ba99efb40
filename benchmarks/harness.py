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
come first.  What is reported is the median time per arm and the ratio
``arm / stock``: the median over the rounds of the arm's time over stock's in
the same round.  The arms of a round run back to back, so a machine whose
speed drifts between rounds (a shared disk's fsync, a neighbour's load)
moves both sides of each ratio alike; a ratio of medians would pair one
round's arm with another round's stock.  Absolute times on a shared machine
are noise, the ratios are not.  Every run's result is checked (row counts, values) outside
the timed region, so a fast wrong run cannot pass.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import URL

__all__ = [
    "Arm",
    "Context",
    "Goal",
    "Result",
    "Timed",
    "Workload",
    "format_table",
    "measure",
]

STOCK = "stock"
NOISE = "stock2"


@dataclass(frozen=True)
class Goal:
    """The largest acceptable time ratio ``arm / stock`` (1.25 = throughput >= 0.8x)."""

    max_ratio: float
    text: str = ""
    base: str = STOCK
    """The arm the ratio is taken against (e.g. stock SQLAlchemy with DSQL's
    transaction shape, where that shape is the floor)."""

    def describe(self) -> str:
        text = self.text or f"<= {self.max_ratio:.2f}x"
        return text if self.base == STOCK else f"{text} of {self.base}"


@dataclass(frozen=True)
class Timed:
    """What ``Workload.run`` returns when it times itself (to leave preparation
    out of the measurement, e.g. opening a raw driver connection)."""

    seconds: float
    result: Any


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
    goals: ClassVar[dict[str, Goal]] = {}
    second_baseline: str | None = None
    """An arm that the dialect's arms are also compared with (in a note under
    the table), e.g. stock SQLAlchemy with DSQL's transaction shape."""
    warmup = 1
    max_rounds: int | None = None
    """A cap on the rounds of a slow workload (None: the runner's ``--rounds``)."""

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
    cpu: dict[str, list[float]] = field(default_factory=dict)
    second_baseline: str | None = None
    """Client (this process) CPU seconds per run: SQLAlchemy, dialect, driver."""

    def median(self, label: str) -> float:
        return statistics.median(self.times[label])

    def ratio(self, label: str, base: str = STOCK) -> float:
        """The median over the rounds of ``label``'s time over ``base``'s in the same round."""
        return _paired_median(self.times[label], self.times[base])

    def cpu_ratio(self, label: str, base_label: str = STOCK) -> float:
        """The same for client CPU time (NaN if not measured)."""
        samples, base = self.cpu.get(label), self.cpu.get(base_label)
        if not samples or not base:
            return math.nan
        return _paired_median(samples, base)

    def noise(self) -> float | None:
        return self.ratio(NOISE) if NOISE in self.times else None

    def passed(self, label: str) -> bool | None:
        goal = self.goals.get(label)
        return None if goal is None else self.ratio(label, goal.base) <= goal.max_ratio


def _paired_median(samples: list[float], base: list[float]) -> float:
    return statistics.median(arm / stock for arm, stock in zip(samples, base, strict=True))


def _timed(workload: Workload, arm: Arm) -> tuple[float, float]:
    """Wall-clock and client CPU seconds of one run (CPU is NaN when the run
    timed itself)."""
    workload.before(arm)
    gc.collect()
    gc.disable()
    try:
        cpu_started = time.process_time()
        started = time.perf_counter()
        result = workload.run(arm)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    finally:
        gc.enable()
    if isinstance(result, Timed):
        elapsed, cpu, result = result.seconds, math.nan, result.result
    workload.check(arm, result)
    workload.after(arm)
    return elapsed, cpu


def measure(
    workload: Workload,
    rounds: int,
    noise: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Result:
    """Run ``workload`` for ``rounds`` timed rounds (after its warm-up rounds),
    rotating the order of the arms each round."""
    if workload.max_rounds is not None:
        rounds = min(rounds, workload.max_rounds)
    labels = [STOCK, *([NOISE] if noise else []), *workload.arms]
    workload.setup()
    arms = [workload.make_arm(label) for label in labels]
    times: dict[str, list[float]] = {label: [] for label in labels}
    cpu: dict[str, list[float]] = {label: [] for label in labels}
    try:
        for round_no in range(workload.warmup + rounds):
            shift = round_no % len(arms)
            for arm in arms[shift:] + arms[:shift]:
                elapsed, cpu_seconds = _timed(workload, arm)
                if round_no >= workload.warmup:
                    times[arm.label].append(elapsed)
                    cpu[arm.label].append(cpu_seconds)
            if progress:
                progress(f"{workload.name}: round {round_no + 1}/{workload.warmup + rounds}")
    finally:
        for arm in arms:
            workload.close_arm(arm)
        workload.teardown()
    return Result(
        workload.name,
        workload.description,
        times,
        dict(workload.goals),
        rounds,
        cpu,
        workload.second_baseline,
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def format_notes(results: Sequence[Result]) -> str:
    """Ratios against each workload's second baseline, if it has one (wall
    time, and in brackets the client's CPU time)."""
    lines = []
    for result in results:
        base = result.second_baseline
        if not base or base not in result.times:
            continue
        parts = []
        for label in result.times:
            if label in (STOCK, NOISE, base):
                continue
            cpu = result.cpu_ratio(label, base)
            parts.append(
                f"{label} {result.ratio(label, base):.3f}x"
                + ("" if math.isnan(cpu) else f" (cpu {cpu:.3f}x)")
            )
        lines.append(f"{result.workload} vs {base}: " + ", ".join(parts))
    return "\n".join(lines)


def format_table(results: Sequence[Result]) -> str:
    """A plain-text table: one line per workload and arm.

    ``ratio`` is the arm's median wall time over stock's, ``noise`` the same
    for the second stock engine, ``cpu`` the ratio of this process's CPU time
    (SQLAlchemy, dialect and driver; not the server), which a loaded machine
    disturbs much less than wall time.
    """
    header = (
        "workload",
        "arm",
        "rounds",
        "stock ms",
        "arm ms",
        "ratio",
        "noise",
        "cpu",
        "goal",
        "",
    )
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
            cpu = result.cpu_ratio(label)
            rows.append(
                (
                    result.workload,
                    label,
                    str(result.rounds),
                    _ms(result.median(STOCK)),
                    _ms(result.median(label)),
                    f"{result.ratio(label):.3f}x",
                    noise_text,
                    "-" if math.isnan(cpu) else f"{cpu:.3f}x",
                    goal.describe() if goal else "-",
                    verdict,
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(widths[i]) if i < 2 or i >= 8 else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
