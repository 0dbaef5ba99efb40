"""``chunked_insert``: each chunk by COPY, by one ``INSERT ... SELECT FROM
unnest(...)``, or by an INSERT executemany, with ``on_conflict``."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import bindparam, cast, func, insert, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import Insert as PGInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.schema import Table
from sqlalchemy.types import ARRAY as GenericARRAY

from .chunks import Chunk, ChunkedResult, Row, WriteMethod
from .copy import CopyPlan, copy_plan, copy_rows, needs_python_defaults
from .runner import PRESERVE_ROWCOUNT, connection_of, server_count, write_rows

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .runner import WriteOptions

__all__ = ["Method", "OnConflict", "TableOrClass", "chunked_insert", "table_of"]

OnConflict = Literal["error", "skip", "update"]
"""What :func:`chunked_insert` does with a row whose key exists already."""
Method = Literal["auto", "copy", "unnest", "executemany"]
"""How :func:`chunked_insert` sends a chunk (``"auto"``: the fastest that can)."""
_METHODS = ("auto", "copy", "unnest", "executemany")
_COPY_DRIVERS = ("psycopg", "psycopg_async", "psycopg2")


TableOrClass = Table | type
"""A :class:`~sqlalchemy.schema.Table`, or a mapped class (its ``__table__``)."""


def table_of(table: TableOrClass) -> Table:
    """The Table of a Table or a mapped class."""
    target = getattr(table, "__table__", table)
    if not isinstance(target, Table):
        raise TypeError(f"expected a Table or a mapped class, not {type(table).__name__}")
    return target


def chunked_insert(
    bind: Engine | Connection | sessionmaker[Any] | Session,
    table: TableOrClass,
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
        resume once fixed); ``"skip"`` keeps the existing row (``ON CONFLICT
        DO NOTHING``); ``"update"`` sets the existing row's other columns to
        the new values (``ON CONFLICT (key) DO UPDATE``; of input rows with
        the same key in one chunk, the last one wins).
    :param conflict_columns: the unique columns that decide a conflict
        (default: the primary key for ``"update"``, any unique constraint for
        ``"skip"``).
    :param method: ``"auto"`` (default) takes the fastest way that can write
        the chunk: one ``COPY ... FROM STDIN`` (``on_conflict="error"``, a
        psycopg (also asyncio) or psycopg2 connection, no left-out column with a
        Python-side default other than a constant), else one ``INSERT ...
        SELECT FROM unnest(<one array per column>)`` (PostgreSQL dialects),
        else an INSERT ``executemany``.  ``"copy"``, ``"unnest"`` and
        ``"executemany"`` insist on one.
    :param options: as :func:`~aurora_dsql_sqlalchemy.bulk.chunked_write`.

    The result counts what the server wrote: with ``on_conflict="skip"``,
    ``result.input_rows - result.rows`` rows were skipped; with ``"update"``,
    inserted and updated rows both count.
    """
    target = table_of(table)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, not {method!r}")
    if method == "copy" and on_conflict != "error":
        raise ValueError(
            f"COPY has no conflict clause: on_conflict={on_conflict!r} needs another method"
        )
    iterator = iter(rows)
    first = next(iterator, None)
    keys = list(first) if first is not None else []
    writer = _InsertWriter(target, keys, on_conflict, conflict_columns, method)
    dialect = _dialect_of(bind)
    if dialect is not None and keys:
        writer.prepare(dialect)
    chained: Iterable[Row] = itertools.chain([first], iterator) if first is not None else ()
    return write_rows(bind, writer, chained, options)


def _dialect_of(bind: object) -> Dialect | None:
    if isinstance(bind, (Engine, Connection)):
        return bind.dialect
    engine = bind.get_bind() if isinstance(bind, Session) else None
    if isinstance(bind, sessionmaker):
        engine = bind.kw.get("bind")
    return engine.dialect if isinstance(engine, (Engine, Connection)) else None


def _on_conflict(
    stmt: PGInsert,
    target: Table,
    keys: Sequence[str],
    on_conflict: OnConflict,
    conflict_columns: Sequence[str] | None,
) -> Insert:
    """``stmt`` (a PostgreSQL INSERT) with the ON CONFLICT clause ``on_conflict`` asks for."""
    if on_conflict == "skip":
        index = [target.c[name] for name in conflict_columns] if conflict_columns else None
        return stmt.on_conflict_do_nothing(index_elements=index)
    index = [target.c[name] for name in _conflict_names(target, conflict_columns)]
    setting = {key: stmt.excluded[key] for key in keys if target.c[key] not in index}
    if not setting:  # nothing but the key: nothing to update
        return stmt.on_conflict_do_nothing(index_elements=index)
    return stmt.on_conflict_do_update(index_elements=index, set_=setting)


def _conflict_names(target: Table, conflict_columns: Sequence[str] | None) -> list[str]:
    names = list(conflict_columns) if conflict_columns else [c.key for c in target.primary_key]
    if not names:
        raise sa_exc.ArgumentError(
            f"on_conflict='update' needs conflict_columns: table {target.name!r} has no primary key"
        )
    return names


class _InsertWriter:
    """Writes each chunk the fastest way allowed: COPY, unnest, executemany."""

    def __init__(
        self,
        table: Table,
        keys: list[str],
        on_conflict: OnConflict,
        conflict_columns: Sequence[str] | None,
        method: Method,
    ) -> None:
        if on_conflict not in ("error", "skip", "update"):
            raise ValueError(
                f"on_conflict must be 'error', 'skip' or 'update', not {on_conflict!r}"
            )
        unknown = [key for key in keys if key not in table.c]
        if unknown:
            raise sa_exc.ArgumentError(f"Unconsumed column names: {', '.join(unknown)}")
        self.table, self.keys, self.method = table, keys, method
        self.on_conflict, self.conflict_columns = on_conflict, conflict_columns
        self.dedupe = None
        if on_conflict == "update" and keys:
            names = _conflict_names(table, conflict_columns)
            if any(name not in keys for name in names):
                raise sa_exc.ArgumentError(
                    f"on_conflict='update' rows need the conflict column(s) {names}"
                )
            self.dedupe = operator.itemgetter(*names)
        self.copy: CopyPlan | None = None
        self.unnest: Insert | None = None
        self.executemany: Insert = self._statement(insert(table), pg_insert(table))
        self.prepared = False

    def _statement(self, plain: Insert, postgresql: PGInsert) -> Insert:
        if self.on_conflict == "error":
            return plain
        return _on_conflict(
            postgresql, self.table, self.keys, self.on_conflict, self.conflict_columns
        )

    def prepare(self, dialect: Dialect) -> None:
        """Decide, once per load, which methods can write these rows."""
        if self.method in ("auto", "copy") and self.on_conflict == "error":
            self.copy = copy_plan(dialect, self.table, self.keys)
            if self.copy is None and self.method == "copy":
                raise sa_exc.ArgumentError(
                    f"method='copy' cannot load {self.table.name!r}: a column left out of the "
                    "rows has a Python-side default that only INSERT fills in; pass it in the rows"
                )
            if self.method == "copy" and dialect.driver not in _COPY_DRIVERS:
                raise sa_exc.ArgumentError(
                    "method='copy' needs a psycopg, psycopg_async or psycopg2 engine, not "
                    f"{dialect.name}+{dialect.driver}"
                )

        if self.method in ("auto", "unnest") and isinstance(dialect, PGDialect):
            self.unnest = self._unnest_statement()
        if self.unnest is None and self.method == "unnest":
            raise sa_exc.ArgumentError(
                "method='unnest' needs a PostgreSQL dialect, columns that are not arrays, and "
                "no left-out column with a Python-side default other than a constant"
            )
        self.prepared = True

    def _unnest_statement(self) -> Insert | None:
        """``INSERT INTO t (cols) SELECT * FROM unnest(CAST(:c0 AS type[]), ...)``:
        one statement, one array parameter per column, adapted by the driver."""
        columns = [self.table.c[key] for key in self.keys]
        if any(isinstance(c.type, GenericARRAY) for c in columns):
            return None  # unnest would flatten them
        if needs_python_defaults(self.table, self.keys):
            return None  # evaluated once per statement, not per row
        arrays = [
            cast(bindparam(f"unnest_{i}", type_=ARRAY(c.type)), ARRAY(c.type))
            for i, c in enumerate(columns)
        ]
        names = (f"c{i}" for i in range(len(columns)))
        rows = func.unnest(*arrays).table_valued(*names).render_derived()
        source = select(*rows.c)
        plain = insert(self.table).from_select(self.keys, source)
        return self._statement(plain, pg_insert(self.table).from_select(self.keys, source))

    def __call__(
        self, target: Connection | Session, chunk: Chunk, batch: list[Row]
    ) -> tuple[int | None, WriteMethod]:
        connection = connection_of(target)
        if not self.prepared:
            self.prepare(connection.dialect)
        if self.copy is not None:
            copied = copy_rows(connection, self.copy, batch, chunk.bytes)
            if copied is not None:
                return copied, "copy"
            if self.method == "copy":
                raise TypeError(
                    "method='copy' needs a psycopg or psycopg2 connection, not "
                    f"{type(connection.connection.dbapi_connection).__name__}"
                )
        if self.dedupe is not None:
            # one statement may not update a row twice: the last input row wins
            batch = list({self.dedupe(row): row for row in batch}.values())
        if self.unnest is not None:
            arrays = {f"unnest_{i}": column for i, column in enumerate(_columns(batch, self.keys))}
            result = target.execute(self.unnest, arrays, execution_options=PRESERVE_ROWCOUNT)
            return server_count(result), "unnest"
        result = target.execute(self.executemany, batch, execution_options=PRESERVE_ROWCOUNT)
        return server_count(result), "executemany"


def _columns(batch: list[Row], keys: list[str]) -> list[list[Any]]:
    """The batch as one list of values per key."""
    if len(keys) == 1:
        return [[row[keys[0]] for row in batch]]
    return [list(column) for column in zip(*map(operator.itemgetter(*keys), batch), strict=True)]
