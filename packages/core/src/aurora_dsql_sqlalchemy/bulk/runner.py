"""Running the chunks of a load: one retried transaction each, one or several at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any, TypedDict

from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from ..retry import RetryEvent, RetryPolicy, run_transaction
from .chunks import (
    Chunk,
    ChunkCallback,
    ChunkedResult,
    ChunkedWriteFailed,
    ProgressCallback,
    WriteMethod,
    estimate_row_bytes,
    log,
    plan,
    split,
    validated_sizes,
)

__all__ = [
    "ChunkWriter",
    "RetryCounter",
    "RunSettings",
    "WriteOptions",
    "connection_of",
    "executemany_writer",
    "run_chunks",
    "server_count",
    "write_rows",
]

#: Called with each :class:`RetryEvent` (a retry of a chunk's transaction).
RetryCallback = Callable[[RetryEvent], object]
ChunkWriter = Callable[[Connection | Session, Chunk, list[Any]], "tuple[int | None, WriteMethod]"]
"""Writes one chunk's batch inside an open transaction on a Connection or
Session; returns ``(rows the server reported, or None; how it wrote)``."""

PRESERVE_ROWCOUNT = {"preserve_rowcount": True}
"""Execution options that keep an executemany's summed row count (SQLAlchemy
otherwise drops it for INSERT statements)."""


def executemany_writer(statement: Executable) -> ChunkWriter:
    """A :data:`ChunkWriter` that executes ``statement`` with the batch as its
    parameter sets (``executemany``), counting what the server reports."""

    def execute(
        target: Connection | Session, chunk: Chunk, batch: list[Any]
    ) -> tuple[int | None, WriteMethod]:
        result = target.execute(statement, batch, execution_options=PRESERVE_ROWCOUNT)
        return server_count(result), "executemany"

    return execute


def connection_of(target: Connection | Session) -> Connection:
    """The Connection a unit of work runs on (a Session's current one)."""
    return target if isinstance(target, Connection) else target.connection()


def server_count(result: object) -> int | None:
    """The row count the server reported for ``result``, if the driver gave one."""
    if isinstance(result, CursorResult):
        count = result.rowcount
        return count if count >= 0 else None
    return None


@dataclass(frozen=True)
class RunSettings:
    """How the chunks of one load are run."""

    concurrency: int = 1
    progress: ProgressCallback | None = None
    on_chunk: ChunkCallback | None = None
    policy: RetryPolicy | None = None
    max_retries: int | None = None
    on_retry: RetryCallback | None = None


class RetryCounter:
    """Counts retries of one chunk, then passes events on."""

    __slots__ = ("forward", "retries")

    def __init__(self, forward: RetryCallback | None) -> None:
        self.retries = 0
        self.forward = forward

    def __call__(self, event: RetryEvent) -> None:
        self.retries += 1
        if self.forward is not None:
            self.forward(event)


class _ChunkFailed(Exception):
    def __init__(self, chunk: Chunk, error: Exception) -> None:
        super().__init__(chunk, error)
        self.chunk = chunk
        self.error = error


def run_chunks(
    bind: Any,
    todo: Iterator[tuple[Chunk, list[Any]]],
    writer: ChunkWriter,
    settings: RunSettings,
    result: ChunkedResult,
) -> ChunkedResult:
    """Write every planned chunk of ``todo`` with ``writer``, each in its own
    transaction retried by :func:`~aurora_dsql_sqlalchemy.retry.run_transaction`;
    add the committed ones to ``result``.

    :raises ChunkedWriteFailed: a chunk failed for good.
    """
    began = time.monotonic()

    def write(chunk: Chunk, batch: list[Any]) -> Chunk:
        counter = RetryCounter(settings.on_retry)
        started = time.monotonic()
        try:
            written, method = run_transaction(
                bind,
                lambda target: writer(target, chunk, batch),
                policy=settings.policy,
                max_retries=settings.max_retries,
                on_retry=counter,
            )
        except Exception as error:
            raise _ChunkFailed(replace(chunk, attempts=counter.retries + 1), error) from error
        return replace(
            chunk,
            attempts=counter.retries + 1,
            written=written,
            seconds=time.monotonic() - started,
            method=method,
        )

    def committed(chunk: Chunk) -> None:
        result.chunks.append(chunk)
        log.debug(
            "chunk %d committed by %s: %d input rows, %s written, ~%d bytes, %d attempt(s)",
            chunk.index,
            chunk.method,
            chunk.rows,
            chunk.written,
            chunk.bytes,
            chunk.attempts,
        )
        if settings.progress is not None:
            settings.progress(chunk.rows)
        if settings.on_chunk is not None:
            settings.on_chunk(chunk)

    failure: _ChunkFailed | None = None
    if settings.concurrency == 1:
        for chunk, batch in todo:
            try:
                committed(write(chunk, batch))
            except _ChunkFailed as failed:
                failure = failed
                break
    else:
        failure = _write_concurrently(todo, write, committed, settings.concurrency)

    result.chunks.sort(key=lambda c: c.index)
    result.elapsed = time.monotonic() - began
    if failure is not None:
        result.failed, result.error = failure.chunk, failure.error
        raise ChunkedWriteFailed(result, failure.error) from failure.error
    return result


def _write_concurrently(
    todo: Iterator[tuple[Chunk, list[Any]]],
    write: Callable[[Chunk, list[Any]], Chunk],
    committed: Callable[[Chunk], None],
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
                    committed(future.result())
                except _ChunkFailed as failed:
                    failures.append(failed)
    return min(failures, key=lambda f: f.chunk.index) if failures else None


class WriteOptions(TypedDict, total=False):
    """The keywords of :func:`chunked_write`, also taken by :func:`chunked_insert`
    and :func:`chunked_update` (see :func:`chunked_write` for each)."""

    chunk_rows: int | None
    chunk_bytes: int | None
    row_bytes: Callable[[Any], int]
    concurrency: int
    progress: ProgressCallback | None
    on_chunk: ChunkCallback | None
    resume: ChunkedResult | None
    policy: RetryPolicy | None
    max_retries: int | None
    on_retry: RetryCallback | None


def write_rows(
    bind: Any, writer: ChunkWriter, rows: Iterable[Any], options: WriteOptions
) -> ChunkedResult:
    """Split ``rows`` into chunks under the caps of ``options`` and write them with ``writer``."""
    concurrency = options.get("concurrency", 1)
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if concurrency > 1 and isinstance(bind, (Connection, Session)):
        raise TypeError(
            "concurrency > 1 needs an Engine or a sessionmaker: a Connection or Session "
            "cannot be shared between threads"
        )
    limit_rows, limit_bytes = validated_sizes(options.get("chunk_rows"), options.get("chunk_bytes"))
    resume = options.get("resume")
    committed = {c.index: c for c in resume.chunks} if resume is not None else {}
    result = ChunkedResult(chunks=sorted(committed.values(), key=lambda c: c.index))
    row_bytes = options.get("row_bytes", estimate_row_bytes)
    todo = plan(split(rows, limit_rows, limit_bytes, row_bytes), committed)
    settings = RunSettings(
        concurrency=concurrency,
        progress=options.get("progress"),
        on_chunk=options.get("on_chunk"),
        policy=options.get("policy"),
        max_retries=options.get("max_retries"),
        on_retry=options.get("on_retry"),
    )
    return run_chunks(bind, todo, writer, settings, result)
