"""The chunked writes: INSERT (by COPY when it can), UPDATE and DELETE by key, any DML."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast

from sqlalchemy import bindparam, delete, insert, select, tuple_, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ColumnElement, Executable
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.schema import Column, Table

from ..retry import RetryPolicy, run_transaction
from .chunks import (
    Chunk,
    ChunkCallback,
    ChunkedResult,
    ChunkedWriteFailed,
    ProgressCallback,
    Row,
    WriteMethod,
    estimate_row_bytes,
    plan,
    split,
    validated_sizes,
)
from .copy import CopyPlan, copy_plan, copy_rows
from .runner import (
    PRESERVE_ROWCOUNT,
    ChunkWriter,
    RetryCallback,
    RetryCounter,
    RunSettings,
    connection_of,
    run_chunks,
    server_count,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "Method",
    "OnConflict",
    "WriteOptions",
    "chunked_delete",
    "chunked_insert",
    "chunked_update",
    "chunked_write",
]

OnConflict = Literal["error", "skip", "update"]
"""What :func:`chunked_insert` does with a row whose key already exists."""
Method = Literal["auto", "copy", "insert"]
"""How :func:`chunked_insert` sends rows: ``"auto"`` is COPY whenever it can."""


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
    :param chunk_rows, chunk_bytes: per-transaction caps (defaults: 3,000 rows
        and 5 MiB estimated).
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
    stmt = statement

    def execute(
        target: Connection | Session, chunk: Chunk, batch: list[Any]
    ) -> tuple[int | None, WriteMethod]:
        return server_count(
            target.execute(stmt, batch, execution_options=PRESERVE_ROWCOUNT)
        ), "insert"

    return _write(bind, execute, rows, options)


def _write(
    bind: Any, writer: ChunkWriter, rows: Iterable[Any], options: WriteOptions
) -> ChunkedResult:
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


def _table_of(table: Any) -> Table:
    target = getattr(table, "__table__", table)
    if not isinstance(target, Table):
        raise TypeError(f"expected a Table or a mapped class, not {type(table).__name__}")
    return target


def _primary_key(table: Any) -> tuple[Table, list[Column[Any]]]:
    target = _table_of(table)
    key = list(target.primary_key.columns)
    if not key:
        raise sa_exc.ArgumentError(
            f"table {target.name!r} has no primary key; chunked updates and deletes go by "
            "primary key (and DSQL tables should always have one)"
        )
    return target, key


def _dialect_of(bind: object) -> Dialect | None:
    if isinstance(bind, (Engine, Connection)):
        return bind.dialect
    engine = bind.get_bind() if isinstance(bind, Session) else None
    if isinstance(bind, sessionmaker):
        engine = bind.kw.get("bind")
    return engine.dialect if isinstance(engine, (Engine, Connection)) else None


def _insert_statement(
    target: Table,
    keys: Sequence[str],
    on_conflict: OnConflict,
    conflict_columns: Sequence[str] | None,
) -> Insert:
    if on_conflict == "error":
        return insert(target)
    stmt = pg_insert(target)
    if on_conflict == "skip":
        index = [target.c[name] for name in conflict_columns] if conflict_columns else None
        return stmt.on_conflict_do_nothing(index_elements=index)
    if on_conflict != "update":
        raise ValueError(f"on_conflict must be 'error', 'skip' or 'update', not {on_conflict!r}")
    names = list(conflict_columns) if conflict_columns else [c.key for c in target.primary_key]
    if not names:
        raise sa_exc.ArgumentError(
            f"on_conflict='update' needs conflict_columns: table {target.name!r} has no primary key"
        )
    index = [target.c[name] for name in names]
    setting = {key: stmt.excluded[key] for key in keys if key not in names}
    if not setting:  # nothing to update: the key columns are all there is
        return stmt.on_conflict_do_nothing(index_elements=index)
    return stmt.on_conflict_do_update(index_elements=index, set_=setting)


def chunked_insert(
    bind: Engine | Connection | sessionmaker[Any] | Session,
    table: Any,
    rows: Iterable[Row],
    *,
    on_conflict: OnConflict = "error",
    conflict_columns: Sequence[str] | None = None,
    method: Method = "auto",
    **options: Unpack[WriteOptions],
) -> ChunkedResult:
    """INSERT ``rows`` (dicts keyed by column, all with the same keys) into
    ``table`` (a Table or a mapped class) in DSQL-sized transactions.

    :param on_conflict: a row whose key exists already: ``"error"`` (default)
        fails its chunk (``IntegrityError``; earlier chunks stay committed,
        resume once fixed); ``"skip"`` leaves the existing row
        (``ON CONFLICT DO NOTHING``); ``"update"`` overwrites the existing row's
        other columns with the new values (``ON CONFLICT (key) DO UPDATE``).
    :param conflict_columns: the unique columns that decide a conflict
        (default: the primary key for ``"update"``, any unique constraint for
        ``"skip"``).
    :param method: ``"auto"`` (default) writes each chunk with one ``COPY ...
        FROM STDIN`` when it can (``on_conflict="error"``, a psycopg or
        psycopg2 connection that is not asyncio, and no left-out column with a
        Python-side default other than a constant), else with an INSERT
        ``executemany``; ``"copy"`` insists on COPY, ``"insert"`` on INSERT.
    :param options: as :func:`chunked_write`.

    The result counts what the server wrote: with ``on_conflict="skip"``,
    ``result.input_rows - result.rows`` rows were skipped; with ``"update"``,
    inserted and updated rows both count.
    """
    target = _table_of(table)
    iterator = iter(rows)
    first = next(iterator, None)
    keys = list(first) if first is not None else []
    stmt = _insert_statement(target, keys, on_conflict, conflict_columns)
    if method not in ("auto", "copy", "insert"):
        raise ValueError(f"method must be 'auto', 'copy' or 'insert', not {method!r}")
    if method == "copy" and on_conflict != "error":
        raise ValueError(
            f"COPY has no conflict clause: on_conflict={on_conflict!r} needs method='auto' or 'insert'"
        )
    rows = itertools.chain([first], iterator) if first is not None else ()
    if method == "insert" or on_conflict != "error" or not keys:
        return chunked_write(bind, stmt, rows, **options)
    writer = _CopyWriter(target, keys, stmt, required=method == "copy")
    dialect = _dialect_of(bind)
    if dialect is not None:
        writer.prepare(dialect)
    return _write(bind, writer, rows, options)


class _CopyWriter:
    """Writes chunks with COPY, or with INSERT where COPY cannot write them."""

    def __init__(self, table: Table, keys: list[str], fallback: Insert, required: bool) -> None:
        self.table, self.keys, self.fallback, self.required = table, keys, fallback, required
        self.plan: CopyPlan | None = None
        self.prepared = False

    def prepare(self, dialect: Dialect) -> None:
        self.plan = copy_plan(dialect, self.table, self.keys)
        self.prepared = True
        if self.plan is None and self.required:
            raise sa_exc.ArgumentError(
                f"method='copy' cannot load {self.table.name!r}: a column left out of the rows "
                "has a Python-side default that only INSERT fills in; pass it in the rows"
            )

    def __call__(
        self, target: Connection | Session, chunk: Chunk, batch: list[Row]
    ) -> tuple[int | None, WriteMethod]:
        connection = connection_of(target)
        if not self.prepared:
            self.prepare(connection.dialect)
        if self.plan is not None:
            copied = copy_rows(connection, self.plan, batch, chunk.bytes)
            if copied is not None:
                return copied, "copy"
            if self.required:
                raise TypeError(
                    "method='copy' needs a synchronous psycopg or psycopg2 connection, not "
                    f"{type(connection.connection.dbapi_connection).__name__}"
                )
        result = target.execute(self.fallback, batch, execution_options=PRESERVE_ROWCOUNT)
        return server_count(result), "insert"


def chunked_update(
    bind: Engine | Connection | sessionmaker[Any] | Session,
    table: Any,
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
    table: Any,
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
