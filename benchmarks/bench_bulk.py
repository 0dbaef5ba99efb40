"""Chunked bulk insert vs. raw psycopg ``executemany`` in one transaction.

Loads the same rows (default 100,000) two ways into the same PostgreSQL:

* raw: psycopg 3 ``cursor.executemany()`` of a prepared INSERT, one
  transaction, no SQLAlchemy (what DSQL would refuse beyond 3,000 rows);
* chunked: :func:`aurora_dsql_sqlalchemy.bulk.chunked_insert` through an
  ``auroradsql+<driver>`` engine in *strict* local mode (DSQL's row and size
  limits enforced), one retried transaction per chunk, ``concurrency=4``
  chunks at a time (and, for reference, ``concurrency=1``);
* stock: stock SQLAlchemy ``executemany`` of all rows in one transaction,
  to separate SQLAlchemy's own cost from the cost of chunking.

It checks that the chunked load raised no limit error and left every row
exactly once, then prints each run and the throughput ratio
chunked / raw (best and median runs; the goal is >= 0.8).

    python benchmarks/bench_bulk.py [--rows 100000] [--repeat 5] [--driver psycopg] [--concurrency 4]

The server is ``AURORA_DSQL_TEST_URL`` if set, else an embedded PostgreSQL 16.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack

import psycopg
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.bulk import chunked_insert
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
CONCURRENCY = 1
"""Chunks written at once by the timed chunked run (``--concurrency``)."""
RAW_INSERT = "INSERT INTO bench_bulk (id, name, qty, price) VALUES (%s, %s, %s, %s)"


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


def run_chunked(engine: sa.Engine, n: int, concurrency: int = CONCURRENCY) -> float:
    data = list(rows(n))  # built beforehand, like the raw run's tuples
    started = time.perf_counter()
    result = chunked_insert(engine, table, data, concurrency=concurrency)
    elapsed = time.perf_counter() - started
    assert result.complete and result.rows == n, result
    return elapsed


def clear(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("TRUNCATE bench_bulk")  # plain PostgreSQL; the timed runs never truncate


def check_every_row_once(conninfo: str, n: int) -> None:
    with psycopg.connect(conninfo) as conn:
        count, distinct, low, high = conn.execute(
            "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM bench_bulk"
        ).fetchone()  # type: ignore[misc]
    if (count, distinct, low, high) != (n, n, 0, n - 1):
        raise SystemExit(
            f"chunked load is wrong: {count} rows, {distinct} distinct ids, ids {low}..{high}"
        )


def run_stock(engine: sa.Engine, n: int) -> float:
    """Reference: stock SQLAlchemy ``executemany`` of all rows in one transaction
    (no limits), to separate SQLAlchemy's own cost from the cost of chunking."""
    data = list(rows(n))
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(table.insert(), data)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--driver", choices=("psycopg", "psycopg2"), default="psycopg")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    args = parser.parse_args()

    times: dict[str, list[float]] = {"raw": [], "chunked": [], "serial": [], "stock": []}
    with ExitStack() as stack:
        url = server_url(stack)
        conninfo = libpq_conninfo(url)
        engine = sa.create_engine(url.set(drivername=f"auroradsql+{args.driver}"))  # strict
        stock = sa.create_engine(url.set(drivername=f"postgresql+{args.driver}"))
        stack.callback(engine.dispose)
        stack.callback(stock.dispose)
        metadata.drop_all(engine)
        metadata.create_all(engine)
        runs = {
            "raw": lambda: run_raw(conninfo, args.rows),
            "chunked": lambda: run_chunked(engine, args.rows, args.concurrency),
            "serial": lambda: run_chunked(engine, args.rows, 1),
            "stock": lambda: run_stock(stock, args.rows),
        }
        order = list(runs)
        for attempt in range(1, args.repeat + 1):
            for name in order:  # rotated each round: no arm always runs first
                clear(conninfo)
                times[name].append(runs[name]())
                if name in ("chunked", "serial"):
                    check_every_row_once(conninfo, args.rows)
            order = order[1:] + order[:1]
            print(
                f"run {attempt}: raw psycopg executemany {times['raw'][-1]:.3f} s, "
                f"chunked_insert ({args.driver}, strict) concurrency={args.concurrency} "
                f"{times['chunked'][-1]:.3f} s, concurrency=1 {times['serial'][-1]:.3f} s, "
                f"stock SQLAlchemy one transaction {times['stock'][-1]:.3f} s"
            )
        metadata.drop_all(engine)

    best = {k: min(v) for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"{args.rows:,} rows, best runs: raw {args.rows / best['raw']:,.0f} rows/s, "
        f"chunked {args.rows / best['chunked']:,.0f} rows/s "
        f"(concurrency=1: {args.rows / best['serial']:,.0f}), "
        f"stock SQLAlchemy {args.rows / best['stock']:,.0f} rows/s"
    )
    print(
        f"chunked vs stock SQLAlchemy in one transaction (cost of chunking): "
        f"{best['stock'] / best['chunked']:.2f}x best, {median['stock'] / median['chunked']:.2f}x median"
    )
    print(
        f"concurrency=1 chunked/raw: {best['raw'] / best['serial']:.2f}x best runs, "
        f"{median['raw'] / median['serial']:.2f}x median runs"
    )
    print(
        f"throughput ratio chunked/raw (concurrency={args.concurrency}): "
        f"{best['raw'] / best['chunked']:.2f}x best runs, "
        f"{median['raw'] / median['chunked']:.2f}x median runs (goal >= 0.80x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
