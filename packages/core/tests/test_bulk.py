"""Unit tests for aurora_dsql_sqlalchemy.bulk: chunking, estimates, results.

No database server: the chunk runner is exercised on an in-process SQLite
engine; DSQL's conflicts are real psycopg exception objects raised from an
engine event, as the driver would raise them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import psycopg
import psycopg.errors as pg3
import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy import bulk
from aurora_dsql_sqlalchemy.bulk import (
    Chunk,
    ChunkedResult,
    ChunkedWriteFailed,
    chunked_delete,
    chunked_insert,
    chunked_update,
    chunked_write,
    estimate_row_bytes,
)
from aurora_dsql_sqlalchemy.errors import CommitOutcomeUnknown
from aurora_dsql_sqlalchemy.retry import RetryEvent, RetryPolicy
from aurora_dsql_sqlalchemy.rules import LIMITS
from sqlalchemy import event
from sqlalchemy import exc as sa_exc

FAST = RetryPolicy(max_retries=3, base_delay=0.0, max_delay=0.0)

metadata = sa.MetaData()
items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), unique=True),
    sa.Column("qty", sa.Integer),
)
pairs = sa.Table(
    "pairs",
    metadata,
    sa.Column("a", sa.Integer, primary_key=True),
    sa.Column("b", sa.Integer, primary_key=True),
)
keyless = sa.Table("keyless", sa.MetaData(), sa.Column("x", sa.Integer))


@pytest.fixture
def engine() -> sa.Engine:
    eng = sa.create_engine("sqlite://")
    metadata.create_all(eng)
    return eng


def generate(n: int, start: int = 0) -> Iterator[dict[str, Any]]:
    for i in range(start, start + n):
        yield {"id": i, "name": f"n{i}", "qty": i % 5}


def count(engine: sa.Engine, table: sa.Table = items) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


# -- estimates and chunking ----------------------------------------------------------------


def test_estimate_row_bytes() -> None:
    base = estimate_row_bytes({})
    assert estimate_row_bytes({"a": "abcd"}) == base + 4
    assert estimate_row_bytes({"a": "é" * 4}) == base + 8  # UTF-8 bytes, not characters
    assert estimate_row_bytes({"a": b"\x00" * 100}) == base + 100
    assert estimate_row_bytes({"a": None, "b": 1, "c": 2.5, "d": True}) == base + 1 + 8 + 8 + 8
    assert estimate_row_bytes({"a": {"k": [1, 2]}}) == base + len('{"k": [1, 2]}')
    assert estimate_row_bytes(("abcd", 1)) == base + 4 + 8  # positional parameter sets
    # never less than what strict local mode counts (text length, 8 per other value)
    row = {"id": 1, "name": "x" * 300, "at": None}
    assert estimate_row_bytes(row) >= 300 + 8 + 8


def test_defaults_come_from_dsql_limits() -> None:
    assert bulk.DEFAULT_CHUNK_ROWS == LIMITS.transaction_rows == 3_000
    assert LIMITS.transaction_bytes // 2 == bulk.DEFAULT_CHUNK_BYTES


def test_chunks_respect_rows_and_bytes() -> None:
    rows = [{"v": "x" * 10} for _ in range(25)]
    by_rows = list(bulk.chunks.split(rows, 10, 10_000, estimate_row_bytes))
    assert [len(b) for b, _ in by_rows] == [10, 10, 5]
    size = estimate_row_bytes(rows[0])
    by_bytes = list(bulk.chunks.split(rows, 100, size * 4, estimate_row_bytes))
    assert [len(b) for b, _ in by_bytes] == [4] * 6 + [1]
    assert all(s <= size * 4 for _, s in by_bytes)
    # a single row bigger than the budget goes alone rather than never
    huge = [{"v": "x" * 100}, {"v": "y"}]
    assert [len(b) for b, _ in bulk.chunks.split(huge, 10, 50, estimate_row_bytes)] == [1, 1]
    assert list(bulk.chunks.split([], 10, 10, estimate_row_bytes)) == []


def test_chunk_sizes_are_validated(engine: sa.Engine, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValueError, match="positive"):
        chunked_insert(engine, items, generate(1), chunk_rows=0)
    with caplog.at_level(logging.WARNING, logger="aurora_dsql_sqlalchemy.bulk"):
        chunked_insert(engine, items, generate(1), chunk_rows=LIMITS.transaction_rows + 1)
    assert "above DSQL's per-transaction limits" in caplog.text


# -- results ------------------------------------------------------------------------------


def test_result_properties() -> None:
    result = ChunkedResult(chunks=[Chunk(0, 0, 3000, 10, 1), Chunk(1, 3000, 500, 5, 3)])
    assert result.rows == 3500 and result.next_row == 3500 and result.retries == 2
    assert result.complete and "3,500 rows committed in 2 transaction(s)" in str(result)
    result.failed = Chunk(2, 3500, 3000, 0, 4)
    assert not result.complete and "chunk 2 (input rows 3,500 to 6,499) failed" in str(result)
    assert ChunkedResult().next_row == 0


# -- chunked writes on a real (in-process) engine -----------------------------------------------


def test_chunked_insert_commits_each_chunk_and_reports_progress(
    engine: sa.Engine,
) -> None:
    progressed: list[int] = []
    commits = 0

    @event.listens_for(engine, "commit")
    def _count(conn: sa.Connection) -> None:
        nonlocal commits
        commits += 1

    result = chunked_insert(
        engine, items, generate(2_500), chunk_rows=1_000, progress=progressed.append
    )
    assert progressed == [1_000, 1_000, 500]
    assert commits == 3
    assert [(c.index, c.first_row, c.rows) for c in result.chunks] == [
        (0, 0, 1000),
        (1, 1000, 1000),
        (2, 2000, 500),
    ]
    assert count(engine) == 2_500


def test_a_table_means_insert_and_iterables_are_consumed_lazily(
    engine: sa.Engine,
) -> None:
    pulled = 0

    def source() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for row in generate(30):
            pulled += 1
            yield row

    seen: list[int] = []

    def progress(n: int) -> None:
        seen.append(pulled)  # rows pulled when each chunk committed

    chunked_write(engine, items, source(), chunk_rows=10, progress=progress)
    assert seen == [
        11,
        21,
        30,
    ]  # one chunk (plus one look-ahead row) in memory at a time


def occ() -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError.instance(
        "INSERT ...",
        {},
        pg3.SerializationFailure("change conflicts with another transaction (OC000)"),
        psycopg.Error,
    )


def test_each_chunk_is_retried_on_conflicts(engine: sa.Engine) -> None:
    conflicts = {1: 2}  # chunk 1 conflicts twice at COMMIT
    chunk = 0
    events: list[RetryEvent] = []

    @event.listens_for(engine, "commit")
    def _conflict(conn: sa.Connection) -> None:
        if conflicts.get(chunk, 0):
            conflicts[chunk] -= 1
            raise occ()

    def progress(_: int) -> None:
        nonlocal chunk
        chunk += 1

    result = chunked_insert(
        engine,
        items,
        generate(30),
        chunk_rows=10,
        progress=progress,
        policy=FAST,
        on_retry=events.append,
    )
    assert [c.attempts for c in result.chunks] == [1, 3, 1]
    assert result.retries == 2 and len(events) == 2
    assert count(engine) == 30  # no duplicates from the retried chunk


def test_a_failed_chunk_raises_with_a_resumable_result(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(items.insert(), {"id": 999, "name": "n25", "qty": 0})  # collides with row 25
    rows = list(generate(40))
    with pytest.raises(ChunkedWriteFailed) as info:
        chunked_insert(engine, items, rows, chunk_rows=10, policy=FAST)
    result = info.value.result
    assert isinstance(info.value.__cause__, sa_exc.IntegrityError)
    assert result.error is info.value.__cause__
    assert result.rows == 20 and result.next_row == 20
    assert result.failed == Chunk(2, 20, 10, result.failed.bytes if result.failed else 0, 1)
    assert "not atomic" in str(info.value) and "resume=" in str(info.value)
    assert count(engine) == 21

    with engine.begin() as conn:
        conn.execute(items.delete().where(items.c.id == 999))
    progressed: list[int] = []
    resumed = chunked_insert(
        engine, items, rows, chunk_rows=10, resume=result, progress=progressed.append
    )
    assert progressed == [10, 10]  # only what was left
    assert resumed.complete and resumed.rows == 40
    assert [c.index for c in resumed.chunks] == [0, 1, 2, 3]
    assert count(engine) == 40


def test_commit_outcome_unknown_is_called_out(engine: sa.Engine) -> None:
    lost = sa_exc.DBAPIError.instance(
        "COMMIT",
        {},
        psycopg.OperationalError("server closed the connection unexpectedly"),
        psycopg.Error,
        connection_invalidated=True,
    )
    fired = []

    @event.listens_for(engine, "commit")
    def _lose(conn: sa.Connection) -> None:
        if not fired:
            fired.append(1)
            raise lost

    with pytest.raises(ChunkedWriteFailed, match="outcome is unknown") as info:
        chunked_insert(engine, items, generate(5), policy=FAST)
    assert isinstance(info.value.__cause__, CommitOutcomeUnknown)


def test_chunked_update_by_primary_key(engine: sa.Engine) -> None:
    chunked_insert(engine, items, generate(50))
    result = chunked_update(
        engine,
        items,
        ({"id": i, "qty": 100 + i} for i in range(0, 50, 2)),
        chunk_rows=10,
    )
    assert result.rows == 25 and len(result.chunks) == 3
    with engine.connect() as conn:
        assert conn.scalar(sa.select(items.c.qty).where(items.c.id == 4)) == 104
        assert conn.scalar(sa.select(items.c.qty).where(items.c.id == 5)) == 0
        assert conn.scalar(sa.select(items.c.name).where(items.c.id == 4)) == "n4"
    assert chunked_update(engine, items, []).rows == 0
    with pytest.raises(sa_exc.ArgumentError, match="primary key"):
        chunked_update(engine, items, [{"qty": 1}])


def test_chunked_delete_in_key_order_chunks(engine: sa.Engine) -> None:
    chunked_insert(engine, items, generate(95))
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    progressed: list[int] = []
    result = chunked_delete(
        engine, items, items.c.qty == 0, chunk_rows=7, progress=progressed.append
    )
    assert result.rows == 19 and progressed == [7, 7, 5]
    assert count(engine) == 76
    deletes = [s for s in statements if s.startswith("DELETE")]
    assert len(deletes) == 3
    assert all(
        "DELETE FROM items WHERE items.id IN (SELECT items.id" in s and "LIMIT" in s
        for s in deletes
    )

    assert chunked_delete(engine, items, chunk_rows=40).rows == 76
    assert count(engine) == 0


def test_chunked_delete_composite_key_and_keyless_table(engine: sa.Engine) -> None:
    chunked_insert(engine, pairs, ({"a": i % 3, "b": i} for i in range(20)))
    assert chunked_delete(engine, pairs, pairs.c.a == 1, chunk_rows=4).rows == 7
    assert count(engine, pairs) == 13
    with pytest.raises(sa_exc.ArgumentError, match="no primary key"):
        chunked_delete(engine, keyless)
    with pytest.raises(TypeError, match="Table or a mapped class"):
        chunked_delete(engine, "items")


# -- concurrency and resume ----------------------------------------------------------------------


@pytest.fixture
def file_engine(tmp_path: Any) -> sa.Engine:
    """SQLite in a file: every pooled connection (one per thread) sees the same data."""
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'bulk.db'}", connect_args={"timeout": 30})
    metadata.create_all(eng)
    return eng


def test_concurrent_chunks(file_engine: sa.Engine) -> None:
    progressed: list[int] = []
    result = chunked_insert(
        file_engine, items, generate(95), chunk_rows=10, concurrency=3, progress=progressed.append
    )
    assert result.complete and result.rows == 95 and sum(progressed) == 95
    assert [c.index for c in result.chunks] == list(range(10))
    assert result.next_row == 95
    assert count(file_engine) == 95


def test_concurrent_failure_lists_exactly_what_committed_and_resumes(
    file_engine: sa.Engine,
) -> None:
    with file_engine.begin() as conn:
        conn.execute(items.insert(), {"id": 999, "name": "n25", "qty": 0})  # collides with chunk 2
    rows = list(generate(60))
    with pytest.raises(ChunkedWriteFailed) as info:
        chunked_insert(file_engine, items, rows, chunk_rows=10, concurrency=2, policy=FAST)
    result = info.value.result
    assert result.failed is not None and result.failed.index == 2
    committed = {c.index for c in result.chunks}
    # chunks 0 and 1 always commit; chunks already handed out when chunk 2
    # failed may commit too (how many depends on thread timing)
    assert {0, 1} <= committed and 2 not in committed
    assert result.next_row == 20
    with file_engine.connect() as conn:
        ids = set(conn.scalars(sa.select(items.c.id).where(items.c.id < 999)))
    assert ids == {i for c in result.chunks for i in range(c.first_row, c.first_row + c.rows)}

    with file_engine.begin() as conn:
        conn.execute(items.delete().where(items.c.id == 999))
    resumed = chunked_insert(file_engine, items, rows, chunk_rows=10, concurrency=2, resume=result)
    assert resumed.complete and resumed.rows == 60
    assert count(file_engine) == 60


def test_resume_with_other_rows_or_settings_is_refused(engine: sa.Engine) -> None:
    first = chunked_insert(engine, items, generate(30), chunk_rows=10)
    with pytest.raises(ValueError, match="same chunk_rows"):
        chunked_insert(engine, items, generate(30), chunk_rows=7, resume=first)
    again = chunked_insert(engine, items, generate(30), chunk_rows=10, resume=first)
    assert again.rows == 30 and again.chunks == first.chunks  # nothing left to do


def test_concurrency_needs_a_thread_safe_bind(engine: sa.Engine) -> None:
    with engine.connect() as conn, pytest.raises(TypeError, match="Engine or a sessionmaker"):
        chunked_insert(conn, items, generate(5), concurrency=2)
    with pytest.raises(ValueError, match="at least 1"):
        chunked_insert(engine, items, generate(5), concurrency=0)


# -- honest counts, per-chunk reports, methods ----------------------------------------------------


def test_counts_are_what_the_server_wrote(engine: sa.Engine) -> None:
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    chunked_insert(engine, items, generate(1_000))
    reported: list[Chunk] = []
    result = chunked_write(
        engine,
        sqlite_insert(items).on_conflict_do_nothing(),
        generate(3_000),
        chunk_rows=1_500,
        on_chunk=reported.append,
    )
    assert (result.rows, result.input_rows) == (2_000, 3_000)
    assert [(c.rows, c.written) for c in reported] == [(1_500, 500), (1_500, 1_500)]
    assert reported == result.chunks and all(c.method == "executemany" for c in reported)
    assert "2,000 rows committed in 2 transaction(s) from 3,000 input rows" in str(result)
    assert result.next_row == 3_000  # resuming goes by input rows, not by rows written
    missing = chunked_update(engine, items, ({"id": i, "qty": 0} for i in range(2_990, 3_010)))
    assert (missing.rows, missing.input_rows) == (10, 20)


def test_a_driver_without_a_count_counts_input_rows() -> None:
    result = ChunkedResult(chunks=[Chunk(0, 0, 10, 1), Chunk(1, 10, 5, 1, written=3)])
    assert (result.rows, result.input_rows, result.bytes) == (13, 15, 2)


def test_methods_other_drivers_cannot_use_are_refused_before_writing(engine: sa.Engine) -> None:
    # SQLite: no COPY, no unnest; "auto" means executemany
    assert {c.method for c in chunked_insert(engine, items, generate(5)).chunks} == {"executemany"}
    with pytest.raises(sa_exc.ArgumentError, match="psycopg"):
        chunked_insert(engine, items, generate(5, start=10), method="copy")
    with pytest.raises(sa_exc.ArgumentError, match="PostgreSQL dialect"):
        chunked_insert(engine, items, generate(5, start=10), method="unnest")
    with pytest.raises(ValueError, match="conflict clause"):
        chunked_insert(engine, items, generate(5), method="copy", on_conflict="skip")
    with pytest.raises(ValueError, match="method must be"):
        chunked_insert(engine, items, generate(5), method="bulk")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_conflict must be"):
        chunked_insert(engine, items, generate(5), on_conflict="ignore")  # type: ignore[arg-type]
    with pytest.raises(sa_exc.ArgumentError, match="Unconsumed column names: colour"):
        chunked_insert(engine, items, [{"id": 1, "colour": "red"}])
    with pytest.raises(sa_exc.ArgumentError, match="conflict_columns"):
        chunked_insert(engine, keyless, [{"x": 1}], on_conflict="update")
    with pytest.raises(sa_exc.ArgumentError, match=r"need the conflict column\(s\) \['id'\]"):
        chunked_insert(engine, items, [{"name": "x"}], on_conflict="update")
    assert count(engine) == 5


def test_copy_text_format_for_psycopg2() -> None:
    import datetime
    import decimal
    import enum
    import uuid

    from aurora_dsql_sqlalchemy.bulk.copy import _text

    class Colour(str, enum.Enum):
        red = "red"

    assert _text(None) == "\\N"
    assert _text("a\tb\nc\rd\\e") == "a\\tb\\nc\\rd\\\\e"
    assert _text("\\N") == "\\\\N"  # a text that reads "\N" is not NULL
    assert _text("日本") == "日本"
    assert (_text(True), _text(False), _text(7), _text(-0.5)) == ("t", "f", "7", "-0.5")
    assert (_text(float("inf")), _text(float("nan"))) == ("inf", "nan")
    assert _text(decimal.Decimal("1.10")) == "1.10"
    assert _text(b"\x00\t\\") == "\\\\x00095c"  # bytea hex, binary-safe
    assert _text(memoryview(b"\xff")) == "\\\\xff"
    tz = datetime.timezone(datetime.timedelta(hours=2))
    assert _text(datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=tz)) == (
        "2026-01-02T03:04:05.000006+02:00"
    )
    assert _text(datetime.date(2026, 1, 2)) == "2026-01-02"
    assert _text(datetime.timedelta(days=-1, seconds=5)) == "-1 days 5.000000 seconds"
    assert _text(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert _text(Colour.red) == "red"
    with pytest.raises(TypeError, match=r"cannot write a value of type list.*method="):
        _text([1, 2])
