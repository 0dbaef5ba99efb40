"""Bulk load: ``chunked_insert`` under DSQL's limits vs raw psycopg ``executemany``.

Loads the same rows (default 100,000) into the same PostgreSQL, side by side
in alternating rounds (``harness.measure``):

``stock`` / ``stock2``
    raw psycopg 3 ``cursor.executemany()`` of the INSERT, all rows in one
    transaction, no SQLAlchemy: what a user would write by hand, and what DSQL
    would refuse beyond 3,000 rows (``stock2`` is the same again: the noise).
``stock_sqlalchemy``
    stock SQLAlchemy Core ``executemany`` of all rows in one transaction.
``strict`` / ``strict_c2`` / ``strict_c4``
    :func:`aurora_dsql_sqlalchemy.bulk.chunked_insert` through an
    ``auroradsql+<driver>`` engine in strict local mode (DSQL's row and size
    limits enforced): one retried transaction of at most 3,000 rows per
    chunk, written by COPY, one, two or four chunks at a time.
``strict_skip``
    the same with ``on_conflict="skip"`` (into the empty table): one
    ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING`` per chunk.
``strict_executemany``
    the same with ``method="executemany"``: the INSERT ``executemany`` that
    ``chunked_insert`` used before COPY (and uses for Python-side defaults).

Only the load is timed (rows are built beforehand, connections opened
before).  After every run, untimed, the table must hold every id exactly once.
The goal: ``strict`` (concurrency 1) at >= 1.5x the throughput of ``stock``.

    python benchmarks/bench_bulk.py [--rows 100000] [--rounds 7] [--driver psycopg|psycopg2]

prints the harness table and rows/s and MiB/s per arm (MiB: the load's
:func:`~aurora_dsql_sqlalchemy.bulk.estimate_row_bytes`, the estimate chunks
are sized by).  ``hatch run bench:all --only bulk`` runs the same workload
among the others.  The server is ``AURORA_DSQL_TEST_URL`` if set, else an
embedded PostgreSQL 16.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any, ClassVar

import psycopg
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.bulk import chunked_insert, estimate_row_bytes
from harness import Arm, Context, Goal, Timed, Workload, format_table, measure
from sqlalchemy.engine import URL, make_url

metadata = sa.MetaData()
table = sa.Table(
    "bench_bulk",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("qty", sa.Integer, nullable=False),
    sa.Column("price", sa.Float, nullable=False),
)
RAW_INSERT = "INSERT INTO bench_bulk (id, name, qty, price) VALUES (%s, %s, %s, %s)"
CHUNKED_ARMS = {
    "strict": {"concurrency": 1},
    "strict_c2": {"concurrency": 2},
    "strict_c4": {"concurrency": 4},
    "strict_skip": {"concurrency": 1, "on_conflict": "skip"},
    "strict_executemany": {"concurrency": 1, "method": "executemany"},
}


def server_url(stack: ExitStack) -> URL:
    url = os.environ.get("AURORA_DSQL_TEST_URL")
    if url:
        return make_url(url)
    from aurora_dsql_sqlalchemy.testing.embedded import EmbeddedPostgres

    server = stack.enter_context(EmbeddedPostgres())
    return make_url(server.url)


def rows(n: int) -> Iterator[dict[str, object]]:
    for i in range(n):
        yield {"id": i, "name": f"item-{i:08d}", "qty": i % 97, "price": i * 0.25}


def libpq_conninfo(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def run_raw(conninfo: str, n: int) -> float:
    data = [(r["id"], r["name"], r["qty"], r["price"]) for r in rows(n)]
    with psycopg.connect(conninfo) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(RAW_INSERT, data)
        conn.commit()
        return time.perf_counter() - started


def run_chunked(engine: sa.Engine, n: int, concurrency: int = 1, **options: Any) -> float:
    data = list(rows(n))  # built beforehand, like the raw run's tuples
    started = time.perf_counter()
    result = chunked_insert(engine, table, data, concurrency=concurrency, **options)
    elapsed = time.perf_counter() - started
    assert result.complete and result.rows == n, result
    return elapsed


def clear(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("TRUNCATE bench_bulk")  # plain PostgreSQL; the timed runs never truncate


def check_every_row_once(conninfo: str, n: int) -> None:
    with psycopg.connect(conninfo) as conn:
        found = conn.execute(
            "SELECT count(*), count(DISTINCT id), min(id), max(id), sum(qty) FROM bench_bulk"
        ).fetchone()
    expected = (n, n, 0, n - 1, sum(i % 97 for i in range(n)))
    assert found == expected, f"bulk load is wrong: (count, distinct, min, max, sum) {found}"


class BulkWorkload(Workload):
    """Bulk load: raw psycopg ``executemany`` in one transaction (``stock``) vs
    ``chunked_insert`` in strict local mode (COPY chunks under DSQL's limits,
    each retried) at concurrency 1, 2 and 4, and its INSERT paths."""

    name = "bulk"
    arms = ("stock_sqlalchemy", *CHUNKED_ARMS)
    second_baseline = "stock_sqlalchemy"
    goals: ClassVar[dict[str, Goal]] = {"strict": Goal(1 / 1.5, "thrpt >= 1.50x")}
    max_rounds = 9

    def __init__(self, ctx: Context, n_rows: int | None = None) -> None:
        super().__init__(ctx)
        self.rows = n_rows or (5_000 if ctx.quick else 100_000)
        self.description = (
            f"bulk load of {self.rows:,} rows: chunked_insert (strict, COPY) vs raw psycopg "
            "executemany in one transaction (stock)"
        )
        self.conninfo = libpq_conninfo(ctx.pg_url)
        self.mib = sum(map(estimate_row_bytes, rows(self.rows))) / (1 << 20)

    def make_arm(self, label: str) -> Arm:
        if label in ("stock", "stock2"):
            return Arm(label, None)  # raw psycopg, connects in run (untimed)
        if label == "stock_sqlalchemy":
            return Arm(label, self.ctx.engine("stock"))
        options = CHUNKED_ARMS[label]
        return Arm(label, self.ctx.engine("strict", pool_size=options["concurrency"]), options)

    def setup(self) -> None:
        engine = self.ctx.engine("strict")
        metadata.drop_all(engine)
        metadata.create_all(engine)
        engine.dispose()

    def teardown(self) -> None:
        metadata.drop_all(self.ctx.admin)

    def before(self, arm: Arm) -> None:
        clear(self.conninfo)

    def run(self, arm: Arm) -> Any:
        if arm.engine is None:
            return Timed(run_raw(self.conninfo, self.rows), None)
        if arm.label == "stock_sqlalchemy":
            data = list(rows(self.rows))
            started = time.perf_counter()
            with arm.engine.begin() as conn:
                conn.execute(table.insert(), data)
            return Timed(time.perf_counter() - started, None)
        return Timed(run_chunked(arm.engine, self.rows, **arm.extra), None)

    def check(self, arm: Arm, result: Any) -> None:
        check_every_row_once(self.conninfo, self.rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", default=None, help="comma-separated chunked arms to run")
    parser.add_argument("--driver", choices=("psycopg", "psycopg2"), default="psycopg")
    args = parser.parse_args()
    with ExitStack() as stack:
        url = server_url(stack).set(drivername=f"postgresql+{args.driver}")
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        stack.callback(admin.dispose)
        ctx = Context(pg_url=url, driver=args.driver, quick=False, admin=admin)
        workload = BulkWorkload(ctx, n_rows=args.rows)
        if args.only:
            workload.arms = ("stock_sqlalchemy", *args.only.split(","))
        result = measure(workload, args.rounds)
    print(f"{workload.description}; driver {args.driver}; {result.rounds} rounds")
    print(format_table([result]))
    print(f"{'arm':<18} {'rows/s':>10} {'MiB/s':>7} {'vs stock':>9}")
    for label, times in result.times.items():
        seconds = statistics.median(times)
        print(
            f"{label:<18} {workload.rows / seconds:>10,.0f} {workload.mib / seconds:>7.1f} "
            f"{result.median('stock') / seconds:>8.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
