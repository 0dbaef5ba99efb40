"""``chunked_insert`` by COPY, ``on_conflict``, honest counts and progress, on a
real PostgreSQL in strict local mode, through the test run's driver (psycopg
or psycopg2: ``AURORA_DSQL_TEST_DRIVER``)."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import enum
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.bulk import (
    Chunk,
    ChunkedWriteFailed,
    Method,
    chunked_insert,
    chunked_update,
    chunked_write,
)
from aurora_dsql_sqlalchemy.errors import TransactionLimitExceeded
from aurora_dsql_sqlalchemy.rules import LIMITS
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL
from sqlalchemy.orm import sessionmaker

pytestmark = pytest.mark.usefixtures("fresh_schema")


class Colour(enum.Enum):
    red = "red"
    blue = "blue"


metadata = sa.MetaData()
items = sa.Table(
    "copy_items",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("qty", sa.Integer, nullable=False),
    sa.Column("note", sa.Text),
)
kinds = sa.Table(
    "copy_kinds",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("text", sa.Text),
    sa.Column("blob", sa.LargeBinary),
    sa.Column("doc", JSONB),
    sa.Column("at", sa.DateTime(timezone=True)),
    sa.Column("day", sa.Date),
    sa.Column("span", sa.Interval),
    sa.Column("amount", sa.Numeric(20, 6)),
    sa.Column("ratio", sa.Float),
    sa.Column("flag", sa.Boolean),
    sa.Column("token", sa.Uuid),
    sa.Column("colour", sa.Enum(Colour, native_enum=False, length=10)),
    sa.Column("status", sa.String(10), server_default="new"),
    sa.Column("source", sa.String(10), default="import"),
)
stamped = sa.Table(
    "copy_stamped",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("token", sa.Uuid, default=uuid.uuid4),
)


@pytest.fixture
def tables(engine: sa.Engine) -> None:
    metadata.create_all(engine)


def generate(n: int, start: int = 0) -> Iterator[dict[str, Any]]:
    for i in range(start, start + n):
        yield {"id": i, "name": f"item-{i}", "qty": i % 7, "note": None}


def count(engine: sa.Engine, table: sa.Table = items) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def test_chunks_are_copied_and_counted_by_the_server(engine: sa.Engine, tables: None) -> None:
    seen: list[Chunk] = []
    progressed: list[int] = []
    result = chunked_insert(
        engine, items, generate(7_000), on_chunk=seen.append, progress=progressed.append
    )
    assert [c.method for c in result.chunks] == ["copy"] * 3
    assert [c.written for c in result.chunks] == [3_000, 3_000, 1_000]
    assert result.rows == result.input_rows == 7_000 == sum(progressed)
    assert seen == result.chunks and all(c.seconds > 0 for c in seen)
    assert count(engine) == 7_000


def test_copy_writes_every_type_as_insert_does(engine: sa.Engine, tables: None) -> None:
    """The same rows through COPY and through INSERT read back identical,
    including text with COPY's special characters, binary, JSON and NULLs."""
    tz = datetime.timezone(datetime.timedelta(hours=-5))
    awkward = ["tab\there", "new\nline", "back\\slash", "cr\rlf", "\\N", "é ü 日本", "", "q'\"}"]

    def row(i: int) -> dict[str, Any]:
        return {
            "id": i,
            "text": awkward[i % len(awkward)] if i % 9 else None,
            "blob": bytes(range(i % 256)) + b"\x00\t\n\\" if i % 5 else None,
            "doc": {"i": i, "s": awkward[i % len(awkward)], "l": [1, None]} if i % 4 else None,
            "at": datetime.datetime(2026, 12, 1, 12, 0, i % 60, 123456, tzinfo=tz),
            "day": datetime.date(2026, 1, 1) + datetime.timedelta(days=i),
            "span": datetime.timedelta(days=i % 3, seconds=i, microseconds=7),
            "amount": decimal.Decimal(i) / 7 if i % 6 else decimal.Decimal("-0.000001"),
            "ratio": float("inf") if i == 3 else i / 3,
            "flag": bool(i % 2),
            "token": uuid.UUID(int=i),
            "colour": Colour.red if i % 2 else Colour.blue,
        }

    rows = [row(i) for i in range(500)]
    copied = chunked_insert(engine, kinds, rows, chunk_rows=200)
    assert {c.method for c in copied.chunks} == {"copy"} and copied.rows == 500
    with engine.connect() as conn:
        by_copy = [r._asdict() for r in conn.execute(sa.select(kinds).order_by(kinds.c.id))]
    with engine.begin() as conn:
        conn.execute(kinds.delete())
    for method in ("unnest", "executemany"):
        inserted = chunked_insert(engine, kinds, rows, chunk_rows=200, method=method)
        assert {c.method for c in inserted.chunks} == {method} and inserted.rows == 500
        with engine.begin() as conn:
            by_insert = [r._asdict() for r in conn.execute(sa.select(kinds).order_by(kinds.c.id))]
            conn.execute(kinds.delete())
        assert by_copy == by_insert, method
    first = by_copy[1]
    assert first["status"] == "new" and first["source"] == "import"  # server and scalar defaults
    assert by_copy[1]["text"] == awkward[1] and by_copy[3]["ratio"] == float("inf")
    assert by_copy[7]["blob"] == bytes(range(7)) + b"\x00\t\n\\"


def test_a_python_side_default_means_executemany(engine: sa.Engine, tables: None) -> None:
    """Only SQLAlchemy's row-by-row INSERT calls a Python-side default per row."""
    auto = chunked_insert(engine, stamped, ({"id": i} for i in range(10)))
    assert [c.method for c in auto.chunks] == ["executemany"]
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count(sa.distinct(stamped.c.token)))) == 10
    for method in ("copy", "unnest"):
        with pytest.raises(sa_exc.ArgumentError, match="Python-side default"):
            chunked_insert(engine, stamped, [{"id": 99}], method=method)
    given = chunked_insert(engine, stamped, [{"id": 20, "token": uuid.uuid4()}])
    assert [c.method for c in given.chunks] == ["copy"]  # given in the rows: COPY again


def test_on_conflict_skip_counts_what_was_inserted(engine: sa.Engine, tables: None) -> None:
    chunked_insert(engine, items, generate(1_000))
    result = chunked_insert(engine, items, generate(3_000), on_conflict="skip")
    assert (result.rows, result.input_rows) == (2_000, 3_000)
    assert [c.method for c in result.chunks] == ["unnest"]
    assert "2,000 rows committed in 1 transaction(s) from 3,000 input rows" in str(result)
    assert count(engine) == 3_000
    # the ON CONFLICT DO NOTHING of chunked_write reports the same
    again = chunked_write(engine, pg_insert(items).on_conflict_do_nothing(), generate(3_500))
    assert (again.rows, again.input_rows) == (500, 3_500)


def test_on_conflict_update_overwrites_by_key(engine: sa.Engine, tables: None) -> None:
    chunked_insert(engine, items, generate(4_000))
    changed = ({**r, "qty": -1, "note": "new"} for r in generate(3_000, start=2_000))
    result = chunked_insert(engine, items, changed, on_conflict="update")
    assert result.rows == 3_000 and count(engine) == 5_000  # 2,000 updated, 1,000 inserted
    assert [c.method for c in result.chunks] == ["unnest"]
    with engine.connect() as conn:
        notes = dict(
            conn.execute(sa.select(items.c.note, sa.func.count()).group_by(items.c.note)).all()
        )
    assert notes == {None: 2_000, "new": 3_000}
    # a conflict on another unique column: name those columns
    renamed = [
        {"id": 10_000 + i, "name": f"item-{i}", "qty": 5, "note": "moved"} for i in range(10)
    ]
    with pytest.raises(ChunkedWriteFailed) as info:
        chunked_insert(engine, items, renamed, on_conflict="update")
    assert isinstance(info.value.__cause__, sa_exc.IntegrityError)
    moved = chunked_insert(engine, items, renamed, on_conflict="update", conflict_columns=["name"])
    assert moved.rows == 10
    with engine.connect() as conn:
        assert conn.scalar(sa.select(items.c.id).where(items.c.name == "item-3")) == 10_003


def test_on_conflict_error_fails_the_chunk_and_resumes_with_copy(
    engine: sa.Engine, tables: None
) -> None:
    with engine.begin() as conn:  # collides with input row 7,000 (chunk 2)
        conn.execute(items.insert(), {"id": 100_000, "name": "item-7000", "qty": 0})
    rows = list(generate(10_000))
    with pytest.raises(ChunkedWriteFailed) as info:
        chunked_insert(engine, items, rows, on_conflict="error")
    result = info.value.result
    assert [c.method for c in result.chunks] == ["copy", "copy"] and result.next_row == 6_000
    assert isinstance(info.value.__cause__, sa_exc.IntegrityError)
    assert count(engine) == 6_001
    with engine.begin() as conn:
        conn.execute(items.delete().where(items.c.id == 100_000))
    resumed = chunked_insert(engine, items, rows, resume=result)
    assert resumed.complete and resumed.rows == 10_000 and count(engine) == 10_000
    assert [c.method for c in resumed.chunks] == ["copy"] * 4


def test_copy_over_the_row_limit_is_refused_in_strict_mode(
    engine: sa.Engine, dsql_url: URL, tables: None
) -> None:
    """One COPY of 3,001 rows in one transaction: DSQL's 54000, nothing written."""
    with pytest.raises(ChunkedWriteFailed) as info:
        too_many = LIMITS.transaction_rows + 1
        chunked_insert(engine, items, generate(too_many), chunk_rows=too_many, method="copy")
    cause = info.value.__cause__
    assert isinstance(cause, TransactionLimitExceeded)
    assert isinstance(cause.__cause__, sa_exc.DatabaseError)
    assert "transaction row limit exceeded" in str(cause.__cause__)
    orig = cause.__cause__.orig
    assert (getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)) == "54000"
    assert count(engine) == 0
    assert chunked_insert(engine, items, generate(3_000), method="copy").rows == 3_000  # passes
    relaxed = sa.create_engine(dsql_url, relax=["transaction-rows"])
    try:
        done = chunked_insert(relaxed, items, generate(3_001, 5_000), chunk_rows=3_001)
        assert done.rows == 3_001
    finally:
        relaxed.dispose()


def test_copy_on_a_session_and_concurrently(engine: sa.Engine, tables: None) -> None:
    factory = sessionmaker(bind=engine)
    one = chunked_insert(factory, items, generate(4_000))
    assert [c.method for c in one.chunks] == ["copy", "copy"] and count(engine) == 4_000
    four = chunked_insert(engine, items, generate(20_000, start=4_000), concurrency=4)
    assert four.rows == 20_000 and {c.method for c in four.chunks} == {"copy"}
    assert count(engine) == 24_000
    updated = chunked_update(engine, items, ({"id": i, "qty": 9} for i in range(23_990, 24_010)))
    assert (updated.rows, updated.input_rows) == (10, 20)  # 10 keys match no row


def test_asyncio_engines_copy_too(
    engine: sa.Engine, dsql_url: URL, driver: str, tables: None
) -> None:
    """Under asyncio (``run_sync``) the chunks are copied through psycopg's
    ``AsyncCursor.copy()``; ON CONFLICT chunks go by unnest; strict mode still
    refuses a COPY over the row limit."""
    if driver != "psycopg":
        pytest.skip("asyncio runs on psycopg 3 only; psycopg2 has no asyncio API")
    from sqlalchemy.ext.asyncio import create_async_engine

    async def main() -> tuple[list[str], list[str], BaseException | None]:
        engine = create_async_engine(dsql_url.set(drivername="auroradsql+psycopg_async"))
        try:
            async with engine.connect() as conn:
                copied = await conn.run_sync(lambda c: chunked_insert(c, items, generate(3_500)))
                skipped = await conn.run_sync(
                    lambda c: chunked_insert(c, items, generate(4_000), on_conflict="skip")
                )
                too_many = LIMITS.transaction_rows + 1
                try:
                    await conn.run_sync(
                        lambda c: chunked_insert(
                            c, items, generate(too_many, 10_000), chunk_rows=too_many
                        )
                    )
                    refused = None
                except ChunkedWriteFailed as failed:
                    refused = failed.__cause__
            return (
                [c.method for c in copied.chunks],
                [f"{c.method}:{c.written}" for c in skipped.chunks],
                refused,
            )
        finally:
            await engine.dispose()

    copied, skipped, refused = asyncio.run(main())
    assert copied == ["copy", "copy"]
    assert skipped == ["unnest:0", "unnest:500"]
    assert isinstance(refused, TransactionLimitExceeded)
    assert count(engine) == 4_000


def test_names_that_need_quoting_and_column_keys(engine: sa.Engine) -> None:
    odd = sa.Table(
        "Copy Odd",
        sa.MetaData(),
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("select", sa.Text),
        sa.Column("Mixed Case", sa.Integer, key="mixed"),
    )
    odd.create(engine)
    methods: list[Method] = ["copy", "unnest", "executemany"]
    for start, method in zip((0, 10, 20), methods, strict=True):
        rows = [{"id": start + i, "select": f"s{i}", "mixed": i} for i in range(10)]
        result = chunked_insert(engine, odd, rows, method=method)
        assert result.rows == 10 and result.chunks[0].method == method
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count(), sa.func.sum(odd.c.mixed))).one() == (30, 135)
