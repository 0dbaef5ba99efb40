"""Bulk writes that fit Aurora DSQL's transaction limits.

A DSQL transaction may modify at most 3,000 rows and write at most 10 MiB
(:data:`~aurora_dsql_sqlalchemy.rules.LIMITS`); beyond that DSQL answers
``54000`` and nothing is written.  The helpers here split a write of any size
into transactions that stay under both limits, and run each one with
:func:`~aurora_dsql_sqlalchemy.retry.run_transaction`, so a chunk that meets an
optimistic-concurrency conflict is re-run on its own::

    from aurora_dsql_sqlalchemy.bulk import chunked_insert, chunked_delete

    result = chunked_insert(engine, events_table, rows, progress=bar.update)
    print(result.rows, "rows in", len(result.chunks), "transactions")

    chunked_delete(engine, events_table, events_table.c.created < cutoff)

.. warning::

   The load as a whole is **not atomic**.  Each chunk commits on its own; if
   chunk 7 fails for good, chunks 0-6 stay committed (and, with
   ``concurrency > 1``, chunks that were running beside it may have
   committed too).  The helpers then raise :class:`ChunkedWriteFailed`, whose
   ``.result`` says exactly which chunks committed; pass it back as
   ``resume=`` with the same rows and chunk settings to write only the rest.
   Make the load idempotent (e.g. ``INSERT ... ON CONFLICT DO NOTHING`` through
   :func:`chunked_write`) if a chunk's COMMIT may end with
   :class:`~aurora_dsql_sqlalchemy.errors.CommitOutcomeUnknown`.

``concurrency=4`` writes four chunks at a time on four pooled connections:
on DSQL, which scales out, parallel writers are how bulk loads go fast (and
locally the client prepares one chunk while the server writes another).

Chunks hold at most ``chunk_rows`` parameter sets (default: DSQL's 3,000-row
limit) and at most ``chunk_bytes`` estimated bytes (default: half of DSQL's
10 MiB, since DSQL also counts index entries and row headers that a
client-side estimate cannot see).  A statement whose parameter set touches
more than one row (an UPDATE or DELETE by a non-unique column) needs a smaller
``chunk_rows``.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, tuple_, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Executable
from sqlalchemy.sql.dml import Delete, Update
from sqlalchemy.sql.schema import Column, Table

from .errors import CommitOutcomeUnknown
from .retry import RetryCallback, RetryEvent, RetryPolicy, run_transaction
from .rules import LIMITS

__all__ = [
    "Chunk",
    "ChunkedResult",
    "ChunkedWriteFailed",
    "chunked_delete",
    "chunked_insert",
    "chunked_update",
    "chunked_write",
    "estimate_row_bytes",
]

log = logging.getLogger(__name__)

Row = Mapping[str, Any]
Progress = Callable[[int], object]

DEFAULT_CHUNK_ROWS = LIMITS.transaction_rows
"""Parameter sets per transaction: DSQL's modified-row limit (3,000 passes)."""
DEFAULT_CHUNK_BYTES = LIMITS.transaction_bytes // 2
"""Estimated bytes per transaction: half of DSQL's 10 MiB, a margin for what
the estimate cannot see (index entries, row headers, type encodings)."""
_ROW_OVERHEAD = 24
_SCALAR_BYTES = 16


def estimate_row_bytes(row: Row | Sequence[Any]) -> int:
    """A quick, generous estimate of what one parameter set writes.

    Text counts its UTF-8 length, binary its length, JSON-like values their
    serialised length, other scalars 16 bytes, plus a per-row overhead.
    Pass your own ``row_bytes=`` callable for better knowledge of the data.
    """
    values = row.values() if isinstance(row, Mapping) else row
    total = _ROW_OVERHEAD
    for value in values:
        kind = type(value)
        if kind is str:
            total += len(value) if value.isascii() else len(value.encode("utf-8"))
        elif kind is int or kind is float or kind is bool:
            total += 8
        elif value is None:
            total += 1
        elif isinstance(value, str):
            total += len(value.encode("utf-8"))
        elif isinstance(value, (bytes, bytearray, memoryview)):
            total += len(value)
        elif isinstance(value, (dict, list, tuple)):
            total += len(json.dumps(value, default=str))
        else:
            total += _SCALAR_BYTES
    return total


@dataclass(frozen=True)
class Chunk:
    """One committed (or failed) transaction of a chunked write."""

    index: int
    """0 for the first chunk of the whole load (resumed loads continue the count)."""
    first_row: int
    """Offset of the chunk's first parameter set in the input."""
    rows: int
    """Parameter sets sent (for :func:`chunked_delete`: rows deleted)."""
    bytes: int
    """Estimated bytes written."""
    attempts: int = 1
    """Transactions it took (more than 1 after OCC retries)."""


@dataclass
class ChunkedResult:
    """What a chunked write did; resumable.

    With the default ``concurrency=1`` the committed chunks form a prefix of
    the input (chunks run one after the other; the first failure stops the
    load).  With ``concurrency > 1`` chunks that were running when another
    failed may have committed too: ``chunks`` lists exactly which.
    """

    chunks: list[Chunk] = field(default_factory=list)
    """Committed chunks, by index (including those of the run resumed from)."""
    failed: Chunk | None = None
    """The chunk that failed for good, if any (its rows were *not* committed,
    unless ``error`` is :class:`~aurora_dsql_sqlalchemy.errors.CommitOutcomeUnknown`)."""
    error: BaseException | None = None
    elapsed: float = 0.0
    """Seconds spent in this run (not in the run it resumed)."""

    @property
    def rows(self) -> int:
        """Parameter sets (rows) committed so far."""
        return sum(c.rows for c in self.chunks)

    @property
    def next_row(self) -> int:
        """Offset in the input of the first row not committed (with
        ``concurrency > 1`` some later chunks may be committed too)."""
        end = 0
        for expected, chunk in enumerate(sorted(self.chunks, key=lambda c: c.index)):
            if chunk.index != expected:
                break
            end = chunk.first_row + chunk.rows
        return end

    @property
    def retries(self) -> int:
        """OCC retries over all committed chunks."""
        return sum(c.attempts - 1 for c in self.chunks)

    @property
    def complete(self) -> bool:
        return self.failed is None

    def __str__(self) -> str:
        text = f"{self.rows:,} rows committed in {len(self.chunks)} transaction(s)"
        if self.failed is not None:
            text += (
                f"; chunk {self.failed.index} (input rows {self.failed.first_row:,} to "
                f"{self.failed.first_row + self.failed.rows - 1:,}) failed"
            )
        return text


class ChunkedWriteFailed(sa_exc.SQLAlchemyError):
    """A chunk of a chunked write failed for good; earlier chunks stay committed.

    ``.result`` is the :class:`ChunkedResult` (pass it as ``resume=`` to carry
    on); ``.__cause__`` is the chunk's error.
    """

    def __init__(self, result: ChunkedResult, error: BaseException) -> None:
        self.result = result
        unknown = isinstance(error, CommitOutcomeUnknown)
        super().__init__(
            f"Chunked write stopped: {result}. The load is not atomic: the committed "
            "chunks stay committed. "
            + (
                "The failed chunk's COMMIT outcome is unknown: it may be committed too; "
                "check before resuming, or make the write idempotent. "
                if unknown
                else ""
            )
            + "Fix the cause and call again with resume=<this error>.result and the same rows."
        )


def _chunks(
    rows: Iterable[Any],
    chunk_rows: int,
    chunk_bytes: int,
    row_bytes: Callable[[Any], int],
) -> Iterator[tuple[list[Any], int]]:
    """Split ``rows`` into ``(batch, estimated bytes)`` under both caps."""
    batch: list[Any] = []
    size = 0
    for row in rows:
        estimate = row_bytes(row)
        if batch and (len(batch) >= chunk_rows or size + estimate > chunk_bytes):
            yield batch, size
            batch, size = [], 0
        batch.append(row)
        size += estimate
    if batch:
        yield batch, size


def _planned(
    batches: Iterable[tuple[list[Any], int]], committed: Mapping[int, Chunk]
) -> Iterator[tuple[Chunk, list[Any]]]:
    """Number the batches; skip (after checking) those ``committed`` already has."""
    first_row = 0
    for index, (batch, size) in enumerate(batches):
        chunk = Chunk(index, first_row, len(batch), size)
        first_row += len(batch)
        done = committed.get(index)
        if done is None:
            yield chunk, batch
        elif (done.first_row, done.rows) != (chunk.first_row, chunk.rows):
            raise ValueError(
                f"resume= does not match these rows: chunk {index} was input rows "
                f"{done.first_row:,}+{done.rows:,}, now {chunk.first_row:,}+{chunk.rows:,}. "
                "Resume with the same rows, in the same order, and the same chunk_rows, "
                "chunk_bytes and row_bytes."
            )


class _Counter:
    """Counts retries of one chunk, then passes events on."""

    __slots__ = ("forward", "retries")

    def __init__(self, forward: RetryCallback | None) -> None:
        self.retries = 0
        self.forward = forward

    def __call__(self, event: RetryEvent) -> None:
        self.retries += 1
        if self.forward is not None:
            self.forward(event)


def _validated_sizes(chunk_rows: int | None, chunk_bytes: int | None) -> tuple[int, int]:
    rows = DEFAULT_CHUNK_ROWS if chunk_rows is None else chunk_rows
    size = DEFAULT_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    if rows < 1 or size < 1:
        raise ValueError("chunk_rows and chunk_bytes must be positive")
    if rows > LIMITS.transaction_rows or size > LIMITS.transaction_bytes:
        log.warning(
            "chunk size (%d rows, %d bytes) is above DSQL's per-transaction limits "
            "(%d rows, %d bytes); chunks may fail with SQLSTATE 54000",
            rows,
            size,
            LIMITS.transaction_rows,
            LIMITS.transaction_bytes,
        )
    return rows, size


def chunked_write(
    bind: Any,
    statement: Executable | Table,
    rows: Iterable[Any],
    *,
    chunk_rows: int | None = None,
    chunk_bytes: int | None = None,
    row_bytes: Callable[[Any], int] = estimate_row_bytes,
    concurrency: int = 1,
    progress: Progress | None = None,
    resume: ChunkedResult | None = None,
    policy: RetryPolicy | None = None,
    max_retries: int | None = None,
    on_retry: RetryCallback | None = None,
) -> ChunkedResult:
    """Execute ``statement`` once per parameter set in ``rows``, in as many
    transactions as DSQL's limits need.

    :param bind: an Engine (usual) or a ``sessionmaker``; with
        ``concurrency=1`` also a Connection or Session with no transaction in
        progress (anything :func:`~aurora_dsql_sqlalchemy.retry.run_transaction`
        takes).
    :param statement: an INSERT, UPDATE or DELETE construct executed with each
        chunk as its list of parameter sets (``executemany``), or a
        :class:`~sqlalchemy.schema.Table` to insert into.
    :param rows: parameter sets (dicts keyed by column / bind name), any
        iterable, consumed once and lazily: a generator of millions of rows
        holds at most ``concurrency`` chunks in memory.
    :param chunk_rows, chunk_bytes: per-transaction caps (defaults: 3,000 rows
        and 5 MiB estimated).
    :param row_bytes: the estimate of one parameter set (default
        :func:`estimate_row_bytes`).
    :param concurrency: chunks written at once, each on its own connection
        from the engine's pool (threads).  Several writers load faster, on
        DSQL (which scales out) and locally (the client prepares one chunk
        while the server writes another); the chunks must not write the same
        rows, or they will conflict and retry.
    :param progress: called, in the calling thread, with the number of rows of
        each committed chunk (``tqdm(...).update`` fits).
    :param resume: the result of an earlier run over the same rows, in the same
        order, with the same chunk settings: its committed chunks are skipped.
    :param policy, max_retries, on_retry: OCC retries for each chunk (see
        :func:`~aurora_dsql_sqlalchemy.retry.run_transaction`).

    :returns: a :class:`ChunkedResult` (complete).
    :raises ChunkedWriteFailed: a chunk failed for good; ``.result`` says what
        is committed.
    """
    if isinstance(statement, Table):
        statement = insert(statement)
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if concurrency > 1 and isinstance(bind, (Connection, Session)):
        raise TypeError(
            "concurrency > 1 needs an Engine or a sessionmaker: a Connection or Session "
            "cannot be shared between threads"
        )
    limit_rows, limit_bytes = _validated_sizes(chunk_rows, chunk_bytes)
    committed = {c.index: c for c in resume.chunks} if resume is not None else {}
    result = ChunkedResult(chunks=sorted(committed.values(), key=lambda c: c.index))
    todo = _planned(_chunks(rows, limit_rows, limit_bytes, row_bytes), committed)
    stmt = statement
    began = time.monotonic()

    def write(chunk: Chunk, batch: list[Any]) -> Chunk:
        counter = _Counter(on_retry)
        try:
            run_transaction(
                bind,
                lambda target: target.execute(stmt, batch),
                policy=policy,
                max_retries=max_retries,
                on_retry=counter,
            )
        except Exception as error:
            raise _ChunkFailed(replace(chunk, attempts=counter.retries + 1), error) from error
        return replace(chunk, attempts=counter.retries + 1)

    def committed_one(chunk: Chunk) -> None:
        result.chunks.append(chunk)
        log.debug(
            "chunk %d committed: %d rows, ~%d bytes, %d attempt(s)",
            chunk.index,
            chunk.rows,
            chunk.bytes,
            chunk.attempts,
        )
        if progress is not None:
            progress(chunk.rows)

    failure: _ChunkFailed | None = None
    if concurrency == 1:
        for chunk, batch in todo:
            try:
                committed_one(write(chunk, batch))
            except _ChunkFailed as failed:
                failure = failed
                break
    else:
        failure = _write_concurrently(todo, write, committed_one, concurrency)

    result.chunks.sort(key=lambda c: c.index)
    result.elapsed = time.monotonic() - began
    if failure is not None:
        result.failed, result.error = failure.chunk, failure.error
        raise ChunkedWriteFailed(result, failure.error) from failure.error
    return result


class _ChunkFailed(Exception):
    def __init__(self, chunk: Chunk, error: Exception) -> None:
        super().__init__(chunk, error)
        self.chunk = chunk
        self.error = error


def _write_concurrently(
    todo: Iterator[tuple[Chunk, list[Any]]],
    write: Callable[[Chunk, list[Any]], Chunk],
    committed_one: Callable[[Chunk], None],
    concurrency: int,
) -> _ChunkFailed | None:
    """Run ``write`` on up to ``concurrency`` chunks at once; stop handing out
    chunks at the first failure, let running ones finish, return the failure
    of the lowest chunk index."""
    failures: list[_ChunkFailed] = []
    running: set[Future[Chunk]] = set()
    with ThreadPoolExecutor(concurrency, thread_name_prefix="chunked_write") as pool:
        exhausted = False
        while True:
            while not failures and not exhausted and len(running) < concurrency:
                planned = next(todo, None)
                if planned is None:
                    exhausted = True
                else:
                    running.add(pool.submit(write, *planned))
            if not running:
                break
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                try:
                    committed_one(future.result())
                except _ChunkFailed as failed:
                    failures.append(failed)
    return min(failures, key=lambda f: f.chunk.index) if failures else None


def chunked_insert(bind: Any, table: Any, rows: Iterable[Row], **options: Any) -> ChunkedResult:
    """INSERT ``rows`` (dicts keyed by column) into ``table`` (a Table or a
    mapped class) in DSQL-sized transactions.  Options as :func:`chunked_write`."""
    return chunked_write(bind, insert(table), rows, **options)


def _primary_key(table: Any) -> tuple[Table, list[Column[Any]]]:
    target = getattr(table, "__table__", table)
    if not isinstance(target, Table):
        raise TypeError(f"expected a Table or a mapped class, not {type(table).__name__}")
    key = list(target.primary_key.columns)
    if not key:
        raise sa_exc.ArgumentError(
            f"table {target.name!r} has no primary key; chunked updates and deletes go by "
            "primary key (and DSQL tables should always have one)"
        )
    return target, key


def chunked_update(bind: Any, table: Any, rows: Iterable[Row], **options: Any) -> ChunkedResult:
    """UPDATE rows by primary key: each dict holds the primary-key column(s)
    and the columns to set (the same columns in every dict).  Options as
    :func:`chunked_write`."""
    target, key = _primary_key(table)
    key_names = [c.key for c in key]
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return ChunkedResult()
    missing = [name for name in key_names if name not in first]
    if missing:
        raise sa_exc.ArgumentError(f"chunked_update rows need the primary key column(s) {missing}")
    setting = [name for name in first if name not in key_names]
    stmt: Update = (
        update(target)
        .where(*(c == bindparam(f"pk_{c.key}") for c in key))
        .values({name: bindparam(f"set_{name}") for name in setting})
    )

    def renamed(row: Row) -> dict[str, Any]:
        out = {f"pk_{name}": row[name] for name in key_names}
        out.update({f"set_{name}": row[name] for name in setting})
        return out

    return chunked_write(bind, stmt, map(renamed, itertools.chain([first], iterator)), **options)


def chunked_delete(
    bind: Any,
    table: Any,
    whereclause: ColumnElement[bool] | None = None,
    *,
    chunk_rows: int | None = None,
    progress: Progress | None = None,
    policy: RetryPolicy | None = None,
    max_retries: int | None = None,
    on_retry: RetryCallback | None = None,
) -> ChunkedResult:
    """DELETE the rows of ``table`` matching ``whereclause`` (all rows when
    ``None``) in transactions of at most ``chunk_rows`` rows: DSQL's way to
    empty a table, since it has no TRUNCATE.

    Each transaction runs ``DELETE FROM t WHERE pk IN (SELECT pk FROM t WHERE
    <whereclause> LIMIT n)``, retried on OCC conflicts, until a transaction
    deletes fewer than ``n`` rows.  Not atomic: see the module documentation.
    Rows that start matching while it runs may or may not be deleted.
    """
    target, key = _primary_key(table)
    limit_rows, _ = _validated_sizes(chunk_rows, None)
    subject = tuple_(*key) if len(key) > 1 else key[0]
    chosen = select(*key)
    if whereclause is not None:
        chosen = chosen.where(whereclause)
    stmt: Delete = delete(target).where(subject.in_(chosen.limit(limit_rows)))
    result = ChunkedResult()
    began = time.monotonic()
    index = 0
    while True:
        counter = _Counter(on_retry)

        def unit(target_conn: Any) -> int:
            return int(target_conn.execute(stmt).rowcount)

        try:
            deleted = run_transaction(
                bind, unit, policy=policy, max_retries=max_retries, on_retry=counter
            )
        except Exception as error:
            result.failed = Chunk(index, result.next_row, 0, 0, counter.retries + 1)
            result.error = error
            result.elapsed = time.monotonic() - began
            raise ChunkedWriteFailed(result, error) from error
        if deleted:
            result.chunks.append(Chunk(index, result.next_row, deleted, 0, counter.retries + 1))
            if progress is not None:
                progress(deleted)
            index += 1
        if deleted < limit_rows:
            break
    result.elapsed = time.monotonic() - began
    return result
