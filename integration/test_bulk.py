"""Chunked bulk writes against a real PostgreSQL in strict local mode.

Strict local mode enforces DSQL's 3,000-row and 10 MiB transaction limits with
SQLSTATE 54000, so a load that passes here fits in DSQL's transactions.  The
100,000-row load and its throughput ratio are ``benchmarks/bench_bulk.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.bulk import (
    ChunkedResult,
    ChunkedWriteFailed,
    chunked_delete,
    chunked_insert,
    chunked_update,
    chunked_write,
)
from aurora_dsql_sqlalchemy.errors import TransactionLimitExceeded
from aurora_dsql_sqlalchemy.retry import RetryEvent, RetryPolicy, run_transaction
from aurora_dsql_sqlalchemy.rules import LIMITS
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import DeclarativeBase, Mapped, sessionmaker

ROWS = 20_000

metadata = sa.MetaData()
items = sa.Table(
    "bulk_items",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("qty", sa.Integer, nullable=False),
    sa.Column("note", sa.Text),
)
pairs = sa.Table(
    "bulk_pairs",
    metadata,
    sa.Column("a", sa.Integer, primary_key=True),
    sa.Column("b", sa.Integer, primary_key=True),
    sa.Column("v", sa.Integer),
)


@pytest.fixture
def tables(engine: sa.Engine, fresh_schema: None) -> Iterator[None]:
    metadata.create_all(engine)
    yield


def generate(n: int, start: int = 0, note: str | None = None) -> Iterator[dict[str, object]]:
    for i in range(start, start + n):
        yield {"id": i, "name": f"item-{i}", "qty": i % 7, "note": note}


def stats(engine: sa.Engine) -> tuple[int, int, int | None, int | None]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.count(sa.distinct(items.c.id)),
                sa.func.min(items.c.id),
                sa.func.max(items.c.id),
            )
        ).one()
    return row[0], row[1], row[2], row[3]


def test_a_single_transaction_over_the_limit_fails_in_strict_mode(
    engine: sa.Engine, tables: None
) -> None:
    # what the chunked helper avoids
    too_many = list(generate(LIMITS.transaction_rows + 1))
    with (
        pytest.raises(sa_exc.DatabaseError, match="transaction row limit exceeded"),
        engine.begin() as conn,
    ):
        conn.execute(items.insert(), too_many)
    assert stats(engine)[0] == 0


def test_a_single_transaction_over_the_size_limit_is_a_clear_error(
    engine: sa.Engine, tables: None
) -> None:
    # 1,100 rows of 10 KB: under the row limit, over 10 MiB; DSQL fails it at COMMIT
    big = list(generate(1_100, note="x" * 10_000))
    with pytest.raises(TransactionLimitExceeded, match="10 MiB") as info:
        run_transaction(engine, lambda conn: conn.execute(items.insert(), big))
    assert "chunked_write" in str(info.value)
    assert stats(engine)[0] == 0
    assert chunked_insert(engine, items, big).rows == 1_100  # the way out


def test_chunked_insert_stays_under_the_row_limit(engine: sa.Engine, tables: None) -> None:
    progressed: list[int] = []
    result = chunked_insert(engine, items, generate(ROWS), progress=progressed.append)
    assert result.complete and result.error is None
    assert result.rows == ROWS == sum(progressed)
    assert len(result.chunks) == -(-ROWS // LIMITS.transaction_rows)
    assert all(c.rows <= LIMITS.transaction_rows for c in result.chunks)
    assert [c.first_row for c in result.chunks] == [
        i * LIMITS.transaction_rows for i in range(len(result.chunks))
    ]
    assert stats(engine) == (ROWS, ROWS, 0, ROWS - 1)  # every row present once


def test_concurrent_chunks_under_the_limits(engine: sa.Engine, tables: None) -> None:
    progressed: list[int] = []
    result = chunked_insert(
        engine, items, generate(ROWS), concurrency=4, progress=progressed.append
    )
    assert result.complete and result.rows == ROWS == sum(progressed)
    assert [c.index for c in result.chunks] == list(range(len(result.chunks)))
    assert stats(engine) == (ROWS, ROWS, 0, ROWS - 1)


def test_chunks_are_sized_by_bytes_too(engine: sa.Engine, tables: None) -> None:
    # 4,000 rows of ~8 KiB = ~31 MiB: over the 10 MiB limit long before 3,000 rows
    note = "x" * 8_000
    result = chunked_insert(engine, items, generate(4_000, note=note))
    assert result.rows == 4_000
    assert len(result.chunks) >= 7
    assert all(c.bytes <= LIMITS.transaction_bytes // 2 for c in result.chunks)
    assert stats(engine)[:2] == (4_000, 4_000)


def test_chunked_write_with_a_statement_and_a_session(engine: sa.Engine, tables: None) -> None:
    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __table__ = items
        id: Mapped[int]

    factory = sessionmaker(bind=engine)
    result = chunked_insert(factory, Item, generate(5_000))
    assert result.rows == 5_000
    # an idempotent re-run with ON CONFLICT DO NOTHING through chunked_write
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    again = chunked_write(engine, pg_insert(items).on_conflict_do_nothing(), generate(6_000))
    # the server's count: 5,000 rows were there already, 1,000 are new
    assert (again.rows, again.input_rows) == (1_000, 6_000)
    assert [c.written for c in again.chunks] == [0, 1_000]
    assert stats(engine) == (6_000, 6_000, 0, 5_999)


def test_chunked_update_and_delete(engine: sa.Engine, tables: None) -> None:
    chunked_insert(engine, items, generate(ROWS))
    updated = chunked_update(engine, items, ({"id": i, "qty": -1} for i in range(0, ROWS, 2)))
    assert updated.rows == ROWS // 2 and len(updated.chunks) == -(
        -(ROWS // 2) // LIMITS.transaction_rows
    )
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).where(items.c.qty == -1)) == ROWS // 2
        assert conn.scalar(sa.select(items.c.name).where(items.c.id == 4)) == "item-4"

    progressed: list[int] = []
    deleted = chunked_delete(engine, items, items.c.qty == -1, progress=progressed.append)
    assert deleted.rows == ROWS // 2 == sum(progressed)
    assert all(c.rows <= LIMITS.transaction_rows for c in deleted.chunks)
    assert stats(engine)[0] == ROWS // 2

    everything = chunked_delete(engine, items)  # DSQL's TRUNCATE
    assert everything.rows == ROWS // 2
    assert stats(engine)[0] == 0
    assert chunked_delete(engine, items).rows == 0


def test_chunked_delete_with_a_composite_key(engine: sa.Engine, tables: None) -> None:
    chunked_insert(engine, pairs, ({"a": i % 100, "b": i // 100, "v": i} for i in range(7_000)))
    result = chunked_delete(engine, pairs, pairs.c.v >= 1_000, chunk_rows=2_500)
    assert result.rows == 6_000 and [c.rows for c in result.chunks] == [
        2_500,
        2_500,
        1_000,
    ]
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(pairs)) == 1_000


def test_a_failed_chunk_reports_what_committed_and_resumes(engine: sa.Engine, tables: None) -> None:
    with engine.begin() as conn:  # a row that collides with input row 7,000 (chunk 2)
        conn.execute(items.insert(), {"id": 100_000, "name": "item-7000", "qty": 0})
    rows = list(generate(10_000))
    with pytest.raises(ChunkedWriteFailed, match="not atomic") as info:
        chunked_insert(engine, items, rows)
    result = info.value.result
    assert isinstance(result, ChunkedResult) and not result.complete
    assert (
        [c.index for c in result.chunks] == [0, 1]
        and result.rows == 6_000
        and result.next_row == 6_000
    )
    assert (
        result.failed is not None and result.failed.index == 2 and result.failed.first_row == 6_000
    )
    assert isinstance(info.value.__cause__, sa_exc.IntegrityError)
    assert stats(engine)[0] == 6_001  # chunks 0-1 stay committed, chunk 2 rolled back

    with engine.begin() as conn:
        conn.execute(items.delete().where(items.c.id == 100_000))
    resumed = chunked_insert(engine, items, rows, resume=result)
    assert resumed.complete and resumed.rows == 10_000
    assert [c.index for c in resumed.chunks] == [0, 1, 2, 3]
    assert stats(engine) == (10_000, 10_000, 0, 9_999)


def test_chunks_are_retried_on_conflicts(engine: sa.Engine, tables: None) -> None:
    """Two loaders update the same rows at once: chunks conflict (40001) and
    are re-run, and both loads complete."""
    chunked_insert(engine, items, generate(6_000))
    policy = RetryPolicy(max_retries=200, base_delay=0.001, max_delay=0.05, jitter=1.0)
    events: list[RetryEvent] = []
    lock = threading.Lock()
    failures: list[BaseException] = []

    def on_retry(event: RetryEvent) -> None:
        with lock:
            events.append(event)

    def loader(qty: int) -> None:
        try:
            for _ in range(3):
                chunked_update(
                    engine,
                    items,
                    ({"id": i, "qty": qty} for i in range(6_000)),
                    chunk_rows=500,
                    policy=policy,
                    on_retry=on_retry,
                )
        except Exception as error:
            failures.append(error)

    threads = [threading.Thread(target=loader, args=(q,)) for q in (100, 200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert all(e.sqlstate == "40001" for e in events)
    with engine.connect() as conn:
        assert set(conn.scalars(sa.select(items.c.qty).distinct())) <= {100, 200}
    print(f"\n[bulk] concurrent loaders: {len(events)} chunk retries")
