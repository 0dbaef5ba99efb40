"""The chunked writes: any DML statement, UPDATE and DELETE by primary key."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import bindparam, delete, select, tuple_, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ColumnElement, Executable
from sqlalchemy.sql.dml import Delete, Update
from sqlalchemy.sql.schema import Column, Table

from ..retry import RetryPolicy, run_transaction
from .chunks import (
    Chunk,
    ChunkCallback,
    ChunkedResult,
    ChunkedWriteFailed,
    ProgressCallback,
    Row,
    estimate_row_bytes,
    validated_sizes,
)
from .inserts import TableOrClass, chunked_insert, table_of
from .runner import (
    RetryCallback,
    RetryCounter,
    executemany_writer,
    server_count,
    write_rows,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .runner import WriteOptions

__all__ = ["chunked_delete", "chunked_update", "chunked_write"]


def chunked_write(
    bind: Engine | Connection | sessionmaker[Any] | Session,
    statement: Executable | Table,
    rows: Iterable[Any],
    *,
    chunk_rows: int | None = None,
    chunk_bytes: int | None = None,
    row_bytes: Callable[[Any], int] = estimate_row_bytes,
    concurrency: int = 1,
    progress: ProgressCallback | None = None,
    on_chunk: ChunkCallback | None = None,
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
        :class:`~sqlalchemy.schema.Table` to insert into (as
        :func:`chunked_insert`: by COPY when it can).
    :param rows: parameter sets (dicts keyed by column / bind name), any
        iterable, consumed once and lazily: a generator of millions of rows
        holds at most ``concurrency`` chunks in memory.
    :param chunk_rows: per-transaction cap on parameter sets (default: 3,000 rows).
    :param chunk_bytes: per-transaction cap on the estimated size (default: 5 MiB).
    :param row_bytes: the estimate of one parameter set (default
        :func:`estimate_row_bytes`).
    :param concurrency: chunks written at once, each on its own connection
        from the engine's pool (threads).  Several writers load faster, on
        DSQL (which scales out) and locally (the client prepares one chunk
        while the server writes another); the chunks must not write the same
        rows, or they will conflict and retry.
    :param progress: called, in the calling thread, with the number of input
        rows of each committed chunk (``tqdm(total=n).update`` fits).
    :param on_chunk: called, in the calling thread, with each committed
        :class:`Chunk`: the rows the server wrote, its bytes, time and retries.
    :param resume: the result of an earlier run over the same rows, in the same
        order, with the same chunk settings: its committed chunks are skipped.
    :param policy, max_retries, on_retry: OCC retries for each chunk (see
        :func:`~aurora_dsql_sqlalchemy.retry.run_transaction`).

    :returns: a :class:`ChunkedResult` (complete); its ``rows`` are what the
        server reported written (an ``ON CONFLICT DO NOTHING`` that skipped
        1,000 of 3,000 rows counts 2,000), ``input_rows`` the parameter sets.
    :raises ChunkedWriteFailed: a chunk failed for good; ``.result`` says what
        is committed.
    """
    options: WriteOptions = {
        "chunk_rows": chunk_rows,
        "chunk_bytes": chunk_bytes,
        "row_bytes": row_bytes,
        "concurrency": concurrency,
        "progress": progress,
        "on_chunk": on_chunk,
        "resume": resume,
        "policy": policy,
        "max_retries": max_retries,
        "on_retry": on_retry,
    }
    if isinstance(statement, Table):
        return chunked_insert(bind, statement, rows, **options)
    return write_rows(bind, executemany_writer(statement), rows, options)


def _primary_key(table: TableOrClass) -> tuple[Table, list[Column[Any]]]:
    target = table_of(table)
    key = list(target.primary_key.columns)
    if not key:
        raise sa_exc.ArgumentError(
            f"table {target.name!r} has no primary key; chunked updates and deletes go by "
            "primary key (and DSQL tables should always have one)"
        )
    return target, key


def chunked_update(
    bind: Engine | Connection | sessionmaker[Any] | Session,
    table: TableOrClass,
    rows: Iterable[Row],
    **options: Unpack[WriteOptions],
) -> ChunkedResult:
    """UPDATE rows by primary key: each dict holds the primary-key column(s)
    and the columns to set (the same columns in every dict).  Options as
    :func:`chunked_write`; ``result.rows`` counts the rows the server updated
    (a key that matches no row counts 0)."""
    target, key = _primary_key(table)
    key_names = [c.key for c in key]
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        resume = options.get("resume")
        return ChunkedResult(chunks=list(resume.chunks)) if resume is not None else ChunkedResult()
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
    bind: Engine | Connection | sessionmaker[Any] | Session,
    table: TableOrClass,
    whereclause: ColumnElement[bool] | None = None,
    *,
    chunk_rows: int | None = None,
    progress: ProgressCallback | None = None,
    on_chunk: ChunkCallback | None = None,
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
    ``progress`` and ``on_chunk`` see each transaction's deleted rows.
    """
    target, key = _primary_key(table)
    limit_rows, _ = validated_sizes(chunk_rows, None)
    subject = tuple_(*key) if len(key) > 1 else key[0]
    chosen = select(*key)
    if whereclause is not None:
        chosen = chosen.where(whereclause)
    stmt: Delete = delete(target).where(subject.in_(chosen.limit(limit_rows)))
    result = ChunkedResult()
    began = time.monotonic()
    index = 0
    while True:
        counter = RetryCounter(on_retry)
        started = time.monotonic()

        def unit(target_conn: Connection | Session) -> int:
            return server_count(target_conn.execute(stmt)) or 0

        try:
            deleted = run_transaction(
                cast(Any, bind), unit, policy=policy, max_retries=max_retries, on_retry=counter
            )
        except Exception as error:
            result.failed = Chunk(
                index, result.next_row, 0, 0, counter.retries + 1, method="delete"
            )
            result.error = error
            result.elapsed = time.monotonic() - began
            raise ChunkedWriteFailed(result, error) from error
        if deleted:
            chunk = Chunk(
                index,
                result.next_row,
                deleted,
                0,
                counter.retries + 1,
                written=deleted,
                seconds=time.monotonic() - started,
                method="delete",
            )
            result.chunks.append(chunk)
            if progress is not None:
                progress(deleted)
            if on_chunk is not None:
                on_chunk(chunk)
            index += 1
        if deleted < limit_rows:
            break
    result.elapsed = time.monotonic() - began
    return result
