"""Goodput of a contended counter under OCC retries: 8 workers vs 1.

Every worker increments the same row ``--increments`` times (default 1,250),
each increment one :func:`~aurora_dsql_sqlalchemy.retry.run_transaction` at
REPEATABLE READ, on an ``auroradsql+<driver>`` engine in strict local mode.
With 8 workers the final value must be exactly 8 x 1,250 = 10,000: no
increment lost to a conflict, none applied twice.

Prints, for threads and for asyncio tasks (psycopg only): committed increments
per second with 1 worker and with 8, the goodput fraction (8-worker rate /
1-worker rate: how much of the single-writer rate survives contention on one
row), and the retries it took.

    python benchmarks/bench_counter.py [--driver psycopg|psycopg2] [--increments 1250]

The server is ``AURORA_DSQL_TEST_URL`` if set, else an embedded PostgreSQL 16.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
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
# One hot row and eight writers: far more than the default 3 retries are needed.
POLICY = RetryPolicy(max_retries=10_000, base_delay=0.001, max_delay=0.05, jitter=1.0)

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
        return self.workers * self.increments / self.seconds


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


def run_threads(engine: sa.Engine, workers: int, increments: int) -> Run:
    reset(engine)
    retries = RetryCount()
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(increments):
                run_transaction(
                    engine,
                    lambda conn: conn.execute(increment),
                    policy=POLICY,
                    on_retry=retries,
                )
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
    return Run(workers, increments, seconds, retries.n, value(engine))


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
                await run_transaction_async(async_engine, unit, policy=POLICY, on_retry=retries)

        try:
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(workers)))
            return time.perf_counter() - started
        finally:
            await async_engine.dispose()

    seconds = asyncio.run(main())
    return Run(workers, increments, seconds, retries.n, value(engine))


def report(label: str, single: Run, many: Run) -> bool:
    expected = many.workers * many.increments
    ok = many.final == expected and single.final == single.increments
    print(
        f"{label}: 1 worker {single.rate:,.0f} increments/s; {many.workers} workers "
        f"{many.rate:,.0f} increments/s, final value {many.final:,} (expected {expected:,}) "
        f"{'OK' if ok else 'WRONG'}, {many.retries:,} retries "
        f"({many.retries / expected:.2f} per increment) in {many.seconds:.1f} s; "
        f"goodput {many.rate / single.rate:.2f}x of the 1-worker rate"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", choices=("psycopg", "psycopg2"), default="psycopg")
    parser.add_argument("--increments", type=int, default=1_250)
    parser.add_argument("--no-async", action="store_true", help="skip the asyncio run")
    args = parser.parse_args()

    ok = True
    with ExitStack() as stack:
        url = server_url(stack).set(drivername=f"auroradsql+{args.driver}")
        engine = sa.create_engine(url, pool_size=WORKERS)  # strict local mode, REPEATABLE READ
        stack.callback(engine.dispose)
        metadata.drop_all(engine)
        metadata.create_all(engine)
        single = run_threads(engine, 1, args.increments)
        ok &= report(
            f"{args.driver} threads",
            single,
            run_threads(engine, WORKERS, args.increments),
        )
        if args.driver == "psycopg" and not args.no_async:
            single = run_tasks(url, engine, 1, args.increments)
            ok &= report(
                "psycopg asyncio",
                single,
                run_tasks(url, engine, WORKERS, args.increments),
            )
        metadata.drop_all(engine)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
