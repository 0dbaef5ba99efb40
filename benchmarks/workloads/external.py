"""Workloads built on the stand-alone benchmark scripts other modules own:
``benchmarks/bench_auth.py`` (fake AWS credentials, used by
:mod:`workloads.connect`), ``benchmarks/bench_bulk.py`` and
``benchmarks/bench_counter.py``.  Each script also runs on its own; here
their pieces run inside the runner's alternating rounds, next to a stock
baseline.  A script that is missing (or no longer has what is used here) is
listed in ``MISSING`` and the runner says so instead of failing.
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

from harness import Arm, Goal, Timed, Workload

GROUPS: dict[str, list[type[Workload]]] = {}
MISSING: dict[str, str] = {}


def _bulk_workload() -> type[Workload]:
    import bench_bulk  # psycopg 3 (the raw baseline) and aurora_dsql_sqlalchemy.bulk

    workload: type[Workload] = bench_bulk.BulkWorkload  # arms and goals live with the script
    return workload


def _counter_workload() -> type[Workload]:
    import bench_counter

    counter, increment, run_threads = (
        bench_counter.counter,
        bench_counter.increment,
        bench_counter.run_threads,
    )
    workers = bench_counter.WORKERS

    class Counter(Workload):
        """A contended counter: every worker increments one row, one transaction
        per increment.  ``stock`` is stock SQLAlchemy at PostgreSQL's default
        READ COMMITTED, where writers queue on the row lock and nothing is
        retried; ``strict`` is the dialect (REPEATABLE READ, as DSQL) with
        ``aurora_dsql_sqlalchemy.retry.run_transaction`` retrying each
        conflict.  The ratio is the price of optimistic concurrency on a hot
        row with the default retry policy (issue goal: at most 1.5x the time
        of PostgreSQL's row locks at 8 writers)."""

        name = "counter"
        arms = ("strict",)
        goals: ClassVar[dict[str, Goal]] = {"strict": Goal(1.5)}
        max_rounds = 5

        def __init__(self, ctx: Any) -> None:
            super().__init__(ctx)
            self.increments = 10 if ctx.quick else 250  # the 8 writers x 250
            self.description = (
                f"contended counter: {workers} threads x {self.increments} increments of one row"
            )

        def make_arm(self, label: str) -> Arm:
            return Arm(label, self.ctx.engine(label, pool_size=workers))

        def setup(self) -> None:
            engine = self.ctx.engine("strict")
            counter.metadata.drop_all(engine)
            counter.metadata.create_all(engine)
            engine.dispose()

        def teardown(self) -> None:
            counter.metadata.drop_all(self.ctx.admin)

        def run(self, arm: Arm) -> Any:
            if arm.label == "strict":
                done = run_threads(arm.engine, workers, self.increments)
                return Timed(done.seconds, (done.final, done.retries))
            bench_counter.reset(arm.engine)
            failures: list[BaseException] = []

            def worker() -> None:
                try:
                    for _ in range(self.increments):
                        with arm.engine.begin() as conn:
                            conn.execute(increment)
                except Exception as error:
                    failures.append(error)

            threads = [threading.Thread(target=worker) for _ in range(workers)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - started
            if failures:
                raise failures[0]
            return Timed(seconds, (bench_counter.value(arm.engine), 0))

        def check(self, arm: Arm, result: Any) -> None:
            final, _retries = result
            assert final == workers * self.increments, (
                final,
                workers * self.increments,
            )

    return Counter


def _load() -> None:
    from workloads import connect

    GROUPS["auth"] = list(connect.WORKLOADS)
    for name, factory in (("bulk", _bulk_workload), ("counter", _counter_workload)):
        try:
            GROUPS[name] = [factory()]
        except (ImportError, AttributeError) as missing:
            MISSING[name] = f"benchmarks/bench_{name}.py unavailable: {missing}"


_load()
