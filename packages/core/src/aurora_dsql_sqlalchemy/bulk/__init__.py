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

    chunked_insert(engine, events_table, more_rows, on_conflict="skip")    # keep existing
    chunked_insert(engine, events_table, changes, on_conflict="update")    # upsert by key

    chunked_delete(engine, events_table, events_table.c.created < cutoff)

COPY, unnest, executemany
    :func:`chunked_insert` writes each chunk with one ``COPY ... FROM STDIN``
    (psycopg 3, also under asyncio, or psycopg2) when nothing needs an
    INSERT: ``on_conflict="error"`` (the default) and no left-out column
    with a Python-side default.  Measured locally, that loads about 3x as
    fast as psycopg's own ``executemany`` of the same rows in one
    transaction.  ``on_conflict="skip"`` and ``"update"`` write one ``INSERT
    ... SELECT FROM unnest(<one array per column>) ON CONFLICT ...`` per
    chunk: COPY has no conflict clause, and DSQL has no temporary tables to
    stage rows in.  Rows whose left-out columns have Python-side defaults go
    by INSERT ``executemany``, as SQLAlchemy fills those in row by row.
    ``method=`` chooses one way explicitly.  Under asyncio, run the helpers
    with ``await conn.run_sync(lambda sync: chunked_insert(sync, ...))``
    (``concurrency=1``: a Connection).

Counts
    ``result.rows`` is what the server reported written (COPY's row count,
    the statement's row count), ``result.input_rows`` what was sent: with
    ``on_conflict="skip"`` the difference is the rows skipped.  ``progress``
    gets the input rows of each committed chunk (for a progress bar over the
    input); ``on_chunk`` gets each committed :class:`Chunk` with its counts,
    bytes, time and retries.

.. warning::

   The load as a whole is **not atomic**.  Each chunk commits on its own; if
   chunk 7 fails for good, chunks 0-6 stay committed (and, with
   ``concurrency > 1``, chunks that were running beside it may have
   committed too).  The helpers then raise :class:`ChunkedWriteFailed`, whose
   ``.result`` says exactly which chunks committed; pass it back as
   ``resume=`` with the same rows and chunk settings to write only the rest.
   Make the load idempotent (``on_conflict="skip"``) if a chunk's COMMIT may
   end with :class:`~aurora_dsql_sqlalchemy.errors.CommitOutcomeUnknown`.

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

from .chunks import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_CHUNK_ROWS,
    Chunk,
    ChunkCallback,
    ChunkedResult,
    ChunkedWriteFailed,
    ProgressCallback,
    WriteMethod,
    estimate_row_bytes,
)
from .inserts import Method, OnConflict, TableOrClass, chunked_insert
from .runner import WriteOptions
from .writes import chunked_delete, chunked_update, chunked_write

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_CHUNK_ROWS",
    "Chunk",
    "ChunkCallback",
    "ChunkedResult",
    "ChunkedWriteFailed",
    "Method",
    "OnConflict",
    "ProgressCallback",
    "TableOrClass",
    "WriteMethod",
    "WriteOptions",
    "chunked_delete",
    "chunked_insert",
    "chunked_update",
    "chunked_write",
    "estimate_row_bytes",
]
