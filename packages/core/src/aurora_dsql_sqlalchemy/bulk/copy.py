"""``COPY ... FROM STDIN``: the fast way to load rows, through the driver.

DSQL accepts ``COPY ... FROM STDIN`` (psql's ``\\copy`` is AWS's documented way
to load files) under the same 3,000-row / 10 MiB transaction limits as INSERT.
A chunk written by COPY is one statement and one round trip instead of one
per row.  COPY has no conflict clause and returns no rows, so
:func:`~aurora_dsql_sqlalchemy.bulk.chunked_insert` uses it only when neither
is needed.

Values go through SQLAlchemy's bind processing for each column's type (JSON
serialisation, enums, type decorators), then to the driver:

* psycopg 3: ``cursor.copy()`` with ``write_row()``; psycopg adapts every
  value, as it does for a query parameter.
* psycopg2 has no adaptation for COPY (``copy_expert()`` reads text already in
  COPY's format), so values are written in COPY's text format here: ``\\N``
  for NULL, the four COPY escapes (backslash, tab, newline, carriage return)
  in text, bytea as hex (binary-safe), ISO 8601 for dates and times.  A value
  of another type raises ``TypeError`` naming it; ``method="insert"`` writes
  such rows through INSERT.

On an asyncio engine (``auroradsql+psycopg_async``) the helpers run inside
``await conn.run_sync(lambda c: chunked_insert(c, ...))`` and copy through
psycopg's ``AsyncCursor.copy()``, awaited the way SQLAlchemy's own asyncio
adapter awaits the driver.
"""

from __future__ import annotations

import datetime
import decimal
import io
import operator
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.schema import Column, Table

from ..context import transaction_state
from .chunks import Row

__all__ = ["CopyPlan", "copy_plan", "copy_rows", "needs_python_defaults"]

_COPY_READ_SIZE = 1 << 18
"""Bytes psycopg2 reads from the COPY buffer per call (its default is 8 KiB)."""


@dataclass(frozen=True)
class CopyPlan:
    """How the rows of one load become COPY rows: built once per load."""

    sql: str
    """``COPY "table" ("col", ...) FROM STDIN``."""
    values: Callable[[Row], Sequence[Any]]
    """One input row as the tuple COPY writes (bind processing applied)."""


def copy_plan(dialect: Dialect, table: Table, keys: Sequence[str]) -> CopyPlan | None:
    """The :class:`CopyPlan` for rows holding ``keys``, or ``None`` when COPY
    cannot write them as INSERT would: a column left out has a Python-side
    default other than a constant (a callable, a ``Sequence``), which only
    SQLAlchemy's INSERT fills in."""
    if needs_python_defaults(table, keys):
        return None
    columns: list[Column[Any]] = [table.c[key] for key in keys]
    constants: list[Any] = []
    for column in table.c:
        if column.key not in keys and column.default is not None:
            columns.append(column)
            constants.append(getattr(column.default, "arg", None))
    preparer = dialect.identifier_preparer
    sql = "COPY {} ({}) FROM STDIN".format(
        preparer.format_table(table), ", ".join(preparer.quote(c.name) for c in columns)
    )
    processors = [
        (index, processor)
        for index, column in enumerate(columns)
        if (processor := column.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    return CopyPlan(sql, _row_builder(list(keys), tuple(constants), processors))


def needs_python_defaults(table: Table, keys: Sequence[str]) -> bool:
    """Whether a column left out of rows holding ``keys`` has a Python-side
    default other than a constant (a callable, a ``Sequence``): only an
    INSERT executemany has SQLAlchemy fill those in, row by row."""
    return any(
        column.key not in keys
        and column.default is not None
        and not getattr(column.default, "is_scalar", False)
        for column in table.c
    )


def _row_builder(
    keys: list[str],
    constants: tuple[Any, ...],
    processors: Sequence[tuple[int, Callable[[Any], Any]]],
) -> Callable[[Row], Sequence[Any]]:
    pick = operator.itemgetter(*keys)
    single = len(keys) == 1

    def values(row: Row) -> Sequence[Any]:
        picked = pick(row)
        out = ((picked,) if single else picked) + constants
        if not processors:
            return out
        listed = list(out)
        for index, processor in processors:
            listed[index] = processor(listed[index])
        return listed

    return values


def copy_rows(
    connection: Connection, plan: CopyPlan, batch: Sequence[Row], nbytes: int
) -> int | None:
    """COPY ``batch`` on ``connection`` (inside its transaction); return the
    row count the server reported, or ``None`` when the driver cannot COPY
    (the caller then INSERTs)."""
    dbapi = connection.connection.dbapi_connection
    driver = connection.connection.driver_connection
    copier = _copier(dbapi, driver)
    if copier is None:
        return None
    dialect = connection.dialect
    cursor = dbapi.cursor()  # type: ignore[union-attr]
    try:
        copied = copier(cursor, driver, plan, batch)
        # COPY reaches the driver without passing through the dialect's
        # statement execution: local mode counts it like INSERT (row limit at
        # the statement, size and age at COMMIT, DDL after it refused).
        local = getattr(dialect, "local", None)
        if local is not None:
            local.count_written(cursor, transaction_state(connection.connection), copied, nbytes)
        return copied
    except dialect.loaded_dbapi.Error as error:
        invalidated = dialect.is_disconnect(error, dbapi, cursor)
        if invalidated:
            connection.invalidate(error)
        raise sa_exc.DBAPIError.instance(
            plan.sql,
            None,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=invalidated,
            dialect=dialect,
        ) from error
    finally:
        cursor.close()


Copier = Callable[[Any, Any, CopyPlan, Sequence[Row]], int]
"""Copies a batch: ``(DBAPI cursor, driver connection, plan, batch) -> rows copied``."""


def _copier(dbapi: object, driver: object) -> Copier | None:
    # Only a driver already imported can own the connection: no import here.
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(dbapi, psycopg.Connection):
        return _copy_psycopg
    if psycopg is not None and isinstance(driver, psycopg.AsyncConnection):
        return _copy_psycopg_async  # SQLAlchemy's asyncio adapter around psycopg's
    extensions = sys.modules.get("psycopg2.extensions")
    if extensions is not None and isinstance(dbapi, extensions.connection):
        _learn_psycopg2_wrappers(extensions)
        return _copy_psycopg2
    return None


def _learn_psycopg2_wrappers(extensions: Any) -> None:
    """psycopg2's adapter objects that SQLAlchemy's bind processing returns
    (``Binary`` for LargeBinary, ``extras.Json``) hold the value as ``.adapted``."""
    if extensions.Binary not in _FORMATS:
        _FORMATS[extensions.Binary] = lambda value: _bytea(value.adapted)
    extras = sys.modules.get("psycopg2.extras")
    if extras is not None and extras.Json not in _FORMATS:
        _FORMATS[extras.Json] = lambda value: value.dumps(value.adapted).translate(_ESCAPES)


def _copy_psycopg(cursor: Any, driver: Any, plan: CopyPlan, batch: Sequence[Row]) -> int:
    values = plan.values
    with cursor.copy(plan.sql) as copy:
        write_row = copy.write_row
        for row in batch:
            write_row(values(row))
    return int(cursor.rowcount)


def _copy_psycopg_async(cursor: Any, driver: Any, plan: CopyPlan, batch: Sequence[Row]) -> int:
    """psycopg's ``AsyncCursor.copy()``, awaited from the synchronous code that
    ``AsyncConnection.run_sync()`` runs, as SQLAlchemy's adapter does."""
    from sqlalchemy.util import await_only

    return int(await_only(_copy_async(driver, plan, batch)))


async def _copy_async(driver: Any, plan: CopyPlan, batch: Sequence[Row]) -> int:
    values = plan.values
    async with driver.cursor() as cursor:
        async with cursor.copy(plan.sql) as copy:
            for row in batch:
                await copy.write_row(values(row))
        return int(cursor.rowcount)


def _copy_psycopg2(cursor: Any, driver: Any, plan: CopyPlan, batch: Sequence[Row]) -> int:
    values = plan.values
    lines = []
    for row in batch:
        lines.append("\t".join([_text(value) for value in values(row)]))
    lines.append("")
    cursor.copy_expert(plan.sql, io.StringIO("\n".join(lines)), _COPY_READ_SIZE)
    return int(cursor.rowcount)


# -- COPY text format, for psycopg2 -----------------------------------------------------

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _interval(value: datetime.timedelta) -> str:
    return f"{value.days} days {value.seconds}.{value.microseconds:06d} seconds"


def _bytea(value: bytes | bytearray | memoryview) -> str:
    return "\\\\x" + bytes(value).hex()  # COPY's "\\" is the bytea hex prefix's "\"


_FORMATS: dict[type, Callable[[Any], str]] = {
    type(None): lambda value: "\\N",
    str: lambda value: value.translate(_ESCAPES),
    bool: lambda value: "t" if value else "f",
    int: int.__repr__,
    float: float.__repr__,  # 'inf', '-inf', 'nan' are valid PostgreSQL input
    decimal.Decimal: str,
    bytes: _bytea,
    bytearray: _bytea,
    memoryview: _bytea,
    datetime.datetime: datetime.datetime.isoformat,
    datetime.date: datetime.date.isoformat,
    datetime.time: datetime.time.isoformat,
    datetime.timedelta: _interval,
    uuid.UUID: str,
}


def _text(value: object) -> str:
    """``value`` in COPY's text format."""
    kind = type(value)
    format_ = _FORMATS.get(kind)
    if format_ is None:
        for base in kind.__mro__[1:]:  # subclasses of the known types (str enums, ...)
            format_ = _FORMATS.get(base)
            if format_ is not None:
                _FORMATS[kind] = format_
                break
        else:
            raise TypeError(
                f"COPY through psycopg2 cannot write a value of type {kind.__name__} "
                f"({value!r:.60}); pass method='insert' to write these rows with INSERT"
            )
    return format_(value)
