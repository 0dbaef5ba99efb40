"""Chunks of a bulk write and what a load reports: sizes, results, failures."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import exc as sa_exc

from ..errors import CommitOutcomeUnknown
from ..rules import LIMITS

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_CHUNK_ROWS",
    "Chunk",
    "ChunkCallback",
    "ChunkedResult",
    "ChunkedWriteFailed",
    "ProgressCallback",
    "Row",
    "WriteMethod",
    "estimate_row_bytes",
]

log = logging.getLogger("aurora_dsql_sqlalchemy.bulk")

WriteMethod = Literal["copy", "unnest", "executemany", "delete"]
"""How a chunk was written: one COPY, one ``INSERT ... SELECT FROM unnest(...)``,
an executemany of the statement, or a chunked DELETE."""
Row = Mapping[str, Any]
"""One parameter set: values keyed by column key (or bind name)."""

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
    Both write paths (INSERT and COPY) size their chunks with it.
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
    """Parameter sets (input rows) the chunk consumed (for :func:`chunked_delete`:
    rows deleted)."""
    bytes: int
    """Estimated bytes written."""
    attempts: int = 1
    """Transactions it took (more than 1 after OCC retries)."""
    written: int | None = None
    """Rows the server reported written (inserted, updated or deleted: the
    statement's row count, or COPY's), when the driver reports one.  Less than
    ``rows`` when ``ON CONFLICT DO NOTHING`` skipped rows or an UPDATE matched
    no row."""
    seconds: float = 0.0
    """Wall-clock seconds of the committed attempt(s), retries included."""
    method: WriteMethod = "executemany"
    """How the chunk was written (see :data:`WriteMethod`)."""

    @property
    def counted(self) -> int:
        """``written`` when the server said, else ``rows``."""
        return self.rows if self.written is None else self.written


ProgressCallback = Callable[[int], object]
"""Called with the input rows of each committed chunk (``tqdm(total=n).update`` fits)."""
ChunkCallback = Callable[[Chunk], object]
"""Called with each committed :class:`Chunk` (server counts, timing, retries)."""


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
        """Rows written, as the server counted them (inserted, updated or
        deleted; input rows for a driver that reports no count)."""
        return sum(c.counted for c in self.chunks)

    @property
    def input_rows(self) -> int:
        """Parameter sets (input rows) of the committed chunks; ``input_rows -
        rows`` rows were skipped by ``on_conflict="skip"`` (or matched nothing)."""
        return sum(c.rows for c in self.chunks)

    @property
    def bytes(self) -> int:
        """Estimated bytes of the committed chunks."""
        return sum(c.bytes for c in self.chunks)

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
        if self.input_rows != self.rows:
            text += f" from {self.input_rows:,} input rows"
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


def split(
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


def plan(
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


def validated_sizes(chunk_rows: int | None, chunk_bytes: int | None) -> tuple[int, int]:
    """The per-transaction caps, defaulted; sizes above DSQL's limits are logged."""
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
