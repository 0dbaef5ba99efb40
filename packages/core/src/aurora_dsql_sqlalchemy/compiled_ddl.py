"""What the DDL compiler vouches for in a ``CREATE TABLE`` / ``CREATE INDEX`` it emitted.

Strict local mode checks every new statement text with PostgreSQL's parser
(:mod:`aurora_dsql_sqlalchemy.local.checks`).  A ``CREATE TABLE`` or
``CREATE INDEX`` this dialect compiled from plain SQLAlchemy constructs has
a known shape: the compiler has already refused what DSQL refuses in it, and
the only text it did not write itself is the SQL expressions the user gave
(server defaults, index ``WHERE`` clauses).  :class:`DDLFacts` carries those
expressions and what the checker would otherwise read back from the text (the
table created, the tables that get an index, column and key counts), so local
mode checks the expressions alone (once per distinct text: ``now()`` is
parsed once) rather than parsing every whole statement.

Anything the compiler cannot vouch for leaves the statement to the full
parse: types outside the exact SQLAlchemy type classes of ``_PLAIN_TYPES`` (user-defined types,
TypeDecorators, variants), ``@compiles`` overrides, CHECK constraints,
computed columns, table prefixes and dialect options, key expressions,
``schema_translate_map``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import schema as sa_schema
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects import postgresql as pg

from . import keys
from .local.jobs import quote_ident
from .local.keysize import most_key_bytes

__all__ = ["DDLFacts", "index_facts", "table_facts"]


@dataclass(frozen=True, slots=True)
class DDLFacts:
    """What the compiler knows of one DDL statement it compiled."""

    job: Literal["index"] | None = None
    """``"index"``: a ``CREATE INDEX ASYNC`` (answers with a job id)."""
    local_sql: str | None = None
    """The statement for PostgreSQL (``ASYNC`` removed), ``None``: unchanged."""
    index_table: str | None = None
    """The quoted table an index is built on (DSQL's per-table index limit; a
    CREATE TABLE's own with a key, for the key-size check)."""
    vouched: bool = False
    """The fields below are complete: the text holds nothing else a check could refuse."""
    expressions: tuple[str, ...] = ()
    """SQL expressions from the user, as compiled into the text (checked alone)."""
    created: tuple[tuple[str, str], ...] = ()
    """``(kind, name)`` of each object created, named as the checker names them."""
    indexed: tuple[str, ...] = ()
    """Tables that get an index (CREATE INDEX; PRIMARY KEY / UNIQUE of CREATE TABLE)."""
    primary_keys: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """``(table, key columns)`` of the primary keys created."""
    identities: tuple[str, ...] = ()
    """Identity columns of the table created (each has a sequence)."""
    columns: int = 0
    """Columns of the table created."""
    key_columns: int = 0
    """The most key columns of any index or key constraint in the statement."""
    table: str | None = None
    """The quoted name of the table a CREATE TABLE creates."""
    key_bytes: int | None = None
    """The most bytes any index key the statement makes can take
    (:func:`~aurora_dsql_sqlalchemy.local.keysize.most_key_bytes`); ``None``:
    unbounded or not known (strict mode then checks on the server)."""


# Exact classes (not subclasses: a subclass may render another type, e.g.
# CITEXT is a TEXT) whose DDL is plain and which DSQL has as column types.
_PLAIN_TYPES: Final = frozenset(
    {
        sqltypes.Integer, sqltypes.INTEGER, sqltypes.BigInteger, sqltypes.BIGINT,
        sqltypes.SmallInteger, sqltypes.SMALLINT,
        sqltypes.String, sqltypes.VARCHAR, sqltypes.Unicode, sqltypes.NVARCHAR,
        sqltypes.CHAR, sqltypes.NCHAR, sqltypes.Text, sqltypes.TEXT, sqltypes.UnicodeText,
        sqltypes.Boolean, sqltypes.BOOLEAN, sqltypes.Date, sqltypes.DATE,
        sqltypes.DateTime, sqltypes.DATETIME, sqltypes.TIMESTAMP, pg.TIMESTAMP,
        sqltypes.Time, sqltypes.TIME, sqltypes.Float, sqltypes.FLOAT, sqltypes.REAL,
        sqltypes.DOUBLE, sqltypes.Double, sqltypes.DOUBLE_PRECISION,
        sqltypes.Numeric, sqltypes.NUMERIC, sqltypes.DECIMAL,
        sqltypes.Uuid, sqltypes.UUID, sqltypes.Enum,
    }
)
_PLAIN_CONSTRAINTS: Final = frozenset(
    {sa_schema.PrimaryKeyConstraint, sa_schema.UniqueConstraint, sa_schema.ForeignKeyConstraint}
)


def _custom_compiled(cls: type) -> bool:
    """An ``@compiles`` override is registered for ``cls`` or a base class
    (``sqlalchemy.ext.compiler`` sets ``_compiler_dispatcher`` on the class)."""
    return getattr(cls, "_compiler_dispatcher", None) is not None


def _name(table: Any) -> str | None:
    """The table as the checker names it (``schema.name``); ``None`` when
    PostgreSQL would read the emitted name differently (``quote=False``)."""
    # names are quoted_name, except where a library sets them afterwards (plain str)
    if getattr(table.name, "quote", None) is False or getattr(table.schema, "quote", None) is False:
        return None
    return f"{table.schema}.{table.name}" if table.schema else str(table.name)


def _most(sizes: list[int | None]) -> int | None:
    known = [size for size in sizes if size is not None]
    return max(known, default=0) if len(known) == len(sizes) else None


def _quoted(table: Any) -> str:
    name = quote_ident(table.name)
    return f"{quote_ident(table.schema)}.{name}" if table.schema else name


def _plain_column(column: Any) -> bool:
    type_ = column.type
    cls = type(type_)
    if cls not in _PLAIN_TYPES or _custom_compiled(cls) or getattr(type_, "_variant_mapping", None):
        return False
    if isinstance(type_, sqltypes.Numeric) and not isinstance(type_, sqltypes.Float) and type_.precision is None:
        return False  # the checker warns about numeric without precision
    if isinstance(type_, sqltypes.Time) and type_.timezone:
        return False
    if isinstance(type_, sqltypes.Enum) and type_.create_constraint:
        return False
    if column.identity is not None and not isinstance(type_, sqltypes.Integer):
        return False
    return not (column.computed is not None or column.system or _has_dialect_options(column))


def _has_dialect_options(obj: Any) -> bool:
    # SQLAlchemy builds the per-dialect option dicts only when some were given (or read)
    return "dialect_options" in obj.__dict__ and bool(obj.dialect_kwargs)


def table_facts(create: Any, expressions: list[str], schema_translate: bool, dialect: Any) -> DDLFacts:
    """The facts of ``CREATE TABLE`` (``create``: the :class:`~sqlalchemy.schema.CreateTable`;
    ``expressions``: the server defaults the compiler rendered into it)."""
    table = create.element
    name = _name(table)
    if (
        name is None
        or schema_translate
        or type(create) is not sa_schema.CreateTable
        or any(_custom_compiled(cls) for cls in (sa_schema.CreateTable, sa_schema.CreateColumn, sa_schema.Column))
        or table._prefixes
        or _has_dialect_options(table)
        or not all(type(c) is sa_schema.CreateColumn and _plain_column(c.element) for c in create.columns)
    ):
        return DDLFacts()
    indexed: list[str] = []
    primary_keys: tuple[tuple[str, tuple[str, ...]], ...] = ()
    key_columns = 0
    key_bytes: list[int | None] = []
    for constraint in table.constraints:
        cls = type(constraint)
        if cls not in _PLAIN_CONSTRAINTS or _custom_compiled(cls) or constraint._create_rule is not None:
            return DDLFacts()
        if cls is sa_schema.ForeignKeyConstraint:
            if constraint.match is not None:  # rendered as written
                return DDLFacts()
            continue
        names = tuple(str(column.name) for column in constraint.columns)
        if not names:
            continue  # not rendered
        indexed.append(name)
        key_columns = max(key_columns, len(names))
        secondary = cls is not sa_schema.PrimaryKeyConstraint
        key_bytes.append(most_key_bytes(constraint.columns, table.primary_key.columns if secondary else ()))
        if cls is sa_schema.PrimaryKeyConstraint:
            primary_keys = ((name, names),)
    quoted = _quoted(table)
    return DDLFacts(
        index_table=quoted if indexed else None,
        table=quoted,
        vouched=True,
        expressions=tuple(expressions),
        created=(("table", name),),
        indexed=tuple(indexed),
        primary_keys=primary_keys,
        identities=tuple(
            str(c.element.name)
            for c in create.columns
            if c.element.identity is not None or keys.is_identity_key(c.element, dialect)
        ),
        columns=len(create.columns),
        key_columns=key_columns,
        key_bytes=_most(key_bytes),
    )


def index_facts(create: Any, text: str, where: str | None, schema_translate: bool, vouch: bool) -> DDLFacts:
    """The facts of the ``CREATE INDEX ASYNC`` ``text`` compiled from ``create``
    (``where``: its rendered WHERE clause; ``vouch=False``: only what every
    mode needs, the job and the statement for PostgreSQL)."""
    local_sql = text.replace(" INDEX ASYNC ", " INDEX ", 1)
    if not vouch:
        return DDLFacts("index", local_sql)
    index = create.element
    index_table = _quoted(index.table)
    name = _name(index.table)
    vouched = (
        name is not None
        and not schema_translate
        and type(create) is sa_schema.CreateIndex
        and not _custom_compiled(sa_schema.CreateIndex)
        # plain column keys: a key expression may cast to a type DSQL cannot index
        and all(type(expr) is sa_schema.Column and expr.table is index.table for expr in index.expressions)
    )
    if not vouched:
        return DDLFacts("index", local_sql, index_table)
    return DDLFacts(
        "index",
        local_sql,
        index_table,
        vouched=True,
        expressions=(where,) if where is not None else (),
        indexed=(str(name),),
        key_columns=len(index.expressions),
        # a table without a primary key here may have one in the database (Alembic's stub tables)
        key_bytes=most_key_bytes(index.expressions, primary) if (primary := index.table.primary_key.columns) else None,
    )
