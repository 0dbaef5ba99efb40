"""Goodput of a hot row under OCC retries, against PostgreSQL's own row locking.

Every writer increments the same row ``--increments`` times (default 250),
each increment one transaction:

* ``retry``: :func:`~aurora_dsql_sqlalchemy.retry.run_transaction` with the
  **default** retry policy on an ``auroradsql+<driver>`` engine in strict
  local mode (REPEATABLE READ, as DSQL): a conflict is PostgreSQL's 40001
  "could not serialize access", re-run by the helper;
* ``locking``: stock ``postgresql+<driver>`` at PostgreSQL's default READ
  COMMITTED, where writers queue on the row lock and nothing is retried (the
  baseline: what the same server does when it may make writers wait).

For 1, 2, 4, 8 and 16 writers it prints the goodput (committed increments per
second) of both, the time ratio retry/locking, the retries, and whether the
final value is exact (writers x increments: no increment lost, none applied
twice; checked outside the timed region).  Any ``RetriesExhausted`` fails the
run.  Rounds alternate the two arms; the ratio is of the medians.

    python benchmarks/bench_counter.py [--driver psycopg|psycopg2] [--increments 250]
        [--writers 1,2,4,8,16] [--rounds 3] [--async]

The server is ``AURORA_DSQL_TEST_URL`` if set, else an embedded PostgreSQL 16.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import sqlalchemy as sa
from aurora_dsql_sqlalchemy.retry import (
    RetryEvent,
    RetryPolicy,
    run_transaction,
    run_transaction_async,
)
from sqlalchemy.engine import URL, make_url

WORKERS = 8

metadata = sa.MetaData()
counter = sa.Table(
    "bench_counter",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
)
increment = counter.update().where(counter.c.id == 1).values(n=counter.c.n + 1)


@dataclass
class Run:
    workers: int
    increments: int
    seconds: float
    retries: int
    final: int

    @property
    def rate(self) -> float:
        """Goodput: committed increments per second."""
        return self.workers * self.increments / self.seconds

    @property
    def exact(self) -> bool:
        return self.final == self.workers * self.increments


class RetryCount:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.n = 0

    def __call__(self, event: RetryEvent) -> None:
        with self.lock:
            self.n += 1


def server_url(stack: ExitStack) -> URL:
    url = os.environ.get("AURORA_DSQL_TEST_URL")
    if url:
        return make_url(url)
    from aurora_dsql_sqlalchemy.testing.embedded import EmbeddedPostgres

    return make_url(stack.enter_context(EmbeddedPostgres()).url)


def reset(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(counter.delete())
    with engine.begin() as conn:
        conn.execute(counter.insert(), {"id": 1, "n": 0})


def value(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(counter.c.n)) or 0)


def _timed_threads(workers: int, body: Callable[[], None]) -> float:
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            body()
        except Exception as error:
            failures.append(error)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    if failures:
        raise failures[0]
    return seconds


def run_threads(
    engine: sa.Engine, workers: int, increments: int, policy: RetryPolicy | None = None
) -> Run:
    """``workers`` threads x ``increments`` run_transaction increments (default policy)."""
    reset(engine)
    retries = RetryCount()

    def body() -> None:
        for _ in range(increments):
            run_transaction(
                engine, lambda conn: conn.execute(increment), policy=policy, on_retry=retries
            )

    seconds = _timed_threads(workers, body)
    return Run(workers, increments, seconds, retries.n, value(engine))


def run_locking(engine: sa.Engine, workers: int, increments: int) -> Run:
    """The baseline: plain transactions at READ COMMITTED, queueing on the row lock."""
    reset(engine)

    def body() -> None:
        for _ in range(increments):
            with engine.begin() as conn:
                conn.execute(increment)

    seconds = _timed_threads(workers, body)
    return Run(workers, increments, seconds, 0, value(engine))


def run_tasks(url: URL, engine: sa.Engine, workers: int, increments: int) -> Run:
    from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

    reset(engine)
    retries = RetryCount()

    async def unit(conn: AsyncConnection) -> None:
        await conn.execute(increment)

    async def main() -> float:
        async_engine = create_async_engine(
            url.set(drivername="auroradsql+psycopg_async"), pool_size=workers
        )

        async def worker() -> None:
            for _ in range(increments):
                await run_transaction_async(async_engine, unit, on_retry=retries)

        try:
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(workers)))
            return time.perf_counter() - started
        finally:
            await async_engine.dispose()

    seconds = asyncio.run(main())
    return Run(workers, increments, seconds, retries.n, value(engine))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--driver", choices=("psycopg", "psycopg2"), default="psycopg")
    parser.add_argument("--increments", type=int, default=250)
    parser.add_argument("--writers", default="1,2,4,8,16")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--async", dest="run_async", action="store_true", help="add an asyncio run")
    parser.add_argument(
        "--policy",
        default="",
        help="try other RetryPolicy fields, e.g. base_delay=0.001,max_delay=0.1 (default: the default)",
    )
    args = parser.parse_args()
    fields = dict(item.split("=") for item in args.policy.split(",") if item)
    policy = RetryPolicy(**{k: float(v) for k, v in fields.items()}) if fields else None
    writer_counts = [int(w) for w in args.writers.split(",")]

    ok = True
    with ExitStack() as stack:
        base = server_url(stack)
        size = max(writer_counts)
        strict = sa.create_engine(base.set(drivername=f"auroradsql+{args.driver}"), pool_size=size)
        stock = sa.create_engine(base.set(drivername=f"postgresql+{args.driver}"), pool_size=size)
        stack.callback(strict.dispose)
        stack.callback(stock.dispose)
        metadata.drop_all(stock)
        metadata.create_all(strict)
        print(
            f"{args.driver}: hot row, each writer {args.increments} increments, "
            f"median of {args.rounds} rounds; ratio = retry time / locking time"
        )
        print(
            f"{'writers':>7} {'locking inc/s':>14} {'retry inc/s':>12} {'ratio':>6} "
            f"{'retries':>8} {'per inc':>8}  exact"
        )
        for workers in writer_counts:
            retry_runs, lock_runs = [], []
            for _ in range(args.rounds):
                lock_runs.append(run_locking(stock, workers, args.increments))
                retry_runs.append(run_threads(strict, workers, args.increments, policy))
            exact = all(r.exact for r in retry_runs + lock_runs)
            ok &= exact
            retry_s = statistics.median(r.seconds for r in retry_runs)
            lock_s = statistics.median(r.seconds for r in lock_runs)
            total = workers * args.increments
            retries = statistics.median(r.retries for r in retry_runs)
            print(
                f"{workers:>7} {total / lock_s:>14,.0f} {total / retry_s:>12,.0f} "
                f"{retry_s / lock_s:>5.2f}x {retries:>8,.0f} {retries / total:>8.2f}  "
                f"{'OK' if exact else 'WRONG'}"
            )
        if args.run_async and args.driver == "psycopg":
            for workers in writer_counts:
                run = run_tasks(base.set(drivername="auroradsql+psycopg"), strict, workers, args.increments)
                ok &= run.exact
                print(
                    f"asyncio {workers:>2} tasks: {run.rate:,.0f} inc/s, {run.retries:,} retries, "
                    f"{'OK' if run.exact else 'WRONG'}"
                )
        metadata.drop_all(stock)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
