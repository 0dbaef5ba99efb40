"""Strict local mode's check of DSQL's index key size.

DSQL refuses a write whose key in some index of the table is larger than
:attr:`~aurora_dsql_sqlalchemy.rules.Limits.index_key_bytes` (rule
``index-key-size``: SQLSTATE, DSQL's message and our advice from
:mod:`aurora_dsql_sqlalchemy.rules`).  PostgreSQL's own limit is larger
(about 2,700 bytes, with another message), so strict local mode checks the
writes itself, on the server, where every way of writing a row passes:
``INSERT`` (``... SELECT``, ``ON CONFLICT DO UPDATE``), ``UPDATE`` and
``COPY`` (:mod:`aurora_dsql_sqlalchemy.bulk`).

**What is checked.**  The key of the primary key is its columns; the key of
a UNIQUE constraint or secondary index is its key columns together with the
primary key's (DSQL stores the primary key in every secondary index;
``INCLUDE`` columns are not counted).  A key's size is the sum of its
columns' sizes: the bytes of a text (``octet_length``, so a value copied
compressed from another row counts in full), the width of a fixed-size type,
``pg_column_size`` of any other value.  Expression keys are not counted
(their values are not in the row); a partial index's key is checked for
every row, also those its ``WHERE`` leaves out.  Rows already in the table
when an index is created are not checked.

**How.**  After each statement that can change a table's index keys
(``CREATE TABLE`` with a primary key or UNIQUE constraint, ``CREATE INDEX``
and its emulated ``ASYNC`` build, ``DROP INDEX``, and ``ALTER TABLE`` adding
a constraint or column, changing a column's type, dropping or renaming a
column), the text sent to PostgreSQL also calls the procedure
``aurora_dsql_local.guard_key_size`` (in the statement's own round trip and
transaction, as :mod:`aurora_dsql_sqlalchemy.local.catalog` does).  It reads
the table's indexes from ``pg_index`` and works out from the column types
whether any key can exceed the limit at all: fixed-width types have their
width, ``varchar(n)`` / ``char(n)`` ``n`` times the database encoding's
longest character, ``numeric(p, s)`` its longest value; ``text``, unbounded
``varchar`` / ``numeric`` and every other type are unbounded.  Only when a
key can be too large does the table get a trigger,
``aurora_dsql_local_key_size`` (``BEFORE INSERT OR UPDATE``, ``FOR EACH
ROW``), calling a function made for that table,
``aurora_dsql_local.key_size_<table oid>``, which raises DSQL's error for a
row whose key is too large (an UPDATE that leaves the key columns as they
were passes): the statement is refused, the row not written, and the
transaction aborted, as on DSQL.  The trigger checks only the writes of
sessions that ask for it: a strict engine that enforces the rule sets
:data:`SETTING` to its limit on each connection, so other clients (``psql``,
the stock dialect, translate mode, an engine with ``relax=["index-key-size"]``)
write to the same tables as PostgreSQL lets them.  (Not ``UPDATE OF`` the key columns: such
a trigger would keep them from being dropped or retyped.)  The function
names the key columns, so DDL that changes them outside strict mode (another
client, the stock dialect) leaves it out of date until strict mode's next
DDL on the table.  When no key can be too large any
more, the trigger and function are dropped.  ``DROP INDEX`` names no table,
so it re-checks every table that has the trigger (one whose check stays
as it was is left alone: no DDL, no lock).

**What it costs.**  Tables whose keys are all bounded below the limit
(integer, uuid and ``String(n)`` keys of modest ``n``: most tables, those of
the benchmarks included) get nothing: their writes pay nothing, and when the
dialect compiled the DDL from plain columns (``create_all()``,
``Index.create()``) it knows that from the column types
(:func:`most_key_bytes`) and sends no ``CALL`` at all, nor for a ``CREATE
TABLE`` text whose key columns' types as written bound them; after other
DDL (a ``CREATE INDEX`` text, ``ALTER TABLE``, ``DROP INDEX``) the ``CALL``
is a catalog look-up, about 0.2 ms of server time.  A table with a
trigger pays about 2 microseconds per written row (a ``COPY`` of 100,000
rows through :func:`~aurora_dsql_sqlalchemy.bulk.chunked_insert`: 0.80 s
with it, 0.64 s without).  A trigger rather than a ``CHECK`` constraint:
reflection would show a constraint, its error would not be DSQL's, and it
would apply to every client.  The trigger and its
function are left in the database (``DROP SCHEMA aurora_dsql_local CASCADE``
removes them with the rest of local mode's objects); the function of a
dropped table is removed the next time a guard is made.  Reflection,
``inspect()`` and Alembic's autogenerate show neither (SQLAlchemy does not
reflect triggers).  Translate mode does none of this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from sqlalchemy import types as sqltypes

from .. import rules
from .jobs import LOCAL_SCHEMA

__all__ = ["PROCEDURES", "SETTING", "TRIGGER", "guard_call", "most_key_bytes", "session_option"]

TRIGGER: Final = f"{LOCAL_SCHEMA}_key_size"
"""The name of the trigger a table gets when one of its keys can be too large."""

_FUNCTION_PREFIX: Final = "key_size_"

SETTING: Final = f"{LOCAL_SCHEMA}.index_key_bytes"
"""The session setting that holds the limit the triggers check writes against:
set (as a startup option) only on the connections of strict engines that
enforce ``index-key-size``, so other clients, translate mode and relaxed
engines write to the same tables unchecked, and each engine's ``limits=``
apply to its own writes (whether a table needs a trigger at all is decided
with the limit of the engine that ran its DDL)."""


def session_option(limits: rules.Limits) -> str:
    """The libpq startup option that makes the session's writes checked."""
    return f"-c {SETTING}={int(limits.index_key_bytes)}"


# One row per index of the table: which columns its key holds (the primary
# key's too, for a secondary index; expression keys left out) and the most
# bytes they can take (an unbounded column counts as more than the limit).
_KEYS: Final = """
    WITH encoding AS (
        SELECT pg_catalog.pg_encoding_max_length(d.encoding) AS max_char
        FROM pg_catalog.pg_database d WHERE d.datname = current_database()
    ), primary_key AS (
        SELECT k.attnum FROM pg_catalog.pg_index x, unnest(x.indkey) AS k(attnum)
        WHERE x.indrelid = target AND x.indisprimary
    ), columns AS (
        SELECT DISTINCT x.indexrelid, k.attnum
        FROM pg_catalog.pg_index x, unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
        WHERE x.indrelid = target AND k.n <= x.indnkeyatts AND k.attnum > 0
        UNION
        SELECT x.indexrelid, p.attnum FROM pg_catalog.pg_index x, primary_key p
        WHERE x.indrelid = target AND NOT x.indisprimary
    )
    SELECT c.indexrelid,
           sum(CASE
               WHEN t.typlen > 0 THEN t.typlen
               WHEN a.atttypid IN ('pg_catalog.varchar'::regtype, 'pg_catalog.bpchar'::regtype)
                    AND a.atttypmod > 4 THEN (a.atttypmod - 4) * (SELECT max_char FROM encoding)
               WHEN a.atttypid = 'pg_catalog.numeric'::regtype AND a.atttypmod > 4
                    THEN 8 + 2 * (((a.atttypmod - 4) >> 16) / 4 + 2)
               ELSE key_limit + 1
           END) AS most,
           string_agg(CASE
               WHEN t.typlen > 0 THEN t.typlen::text
               WHEN t.typcategory = 'S' OR a.atttypid = 'pg_catalog.bytea'::regtype
                    THEN format('coalesce(octet_length(NEW.%I), 0)', a.attname)
               ELSE format('coalesce(pg_column_size(NEW.%I), 0)', a.attname)
           END, ' + ' ORDER BY c.attnum) AS size,
           array_agg(a.attname) AS names
    FROM columns c
    JOIN pg_catalog.pg_attribute a ON a.attrelid = target AND a.attnum = c.attnum
    JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
    GROUP BY c.indexrelid
"""

_GUARD_BODY: Final = f"""
DECLARE
    relation text;
    targets oid[] := '{{}}';
    target oid;
    tests text;
    keyed text[];
    function text;
    body text;
    orphan regprocedure;
BEGIN
    FOREACH relation IN ARRAY relations LOOP
        IF relation IS NULL THEN  -- the table is not named (DROP INDEX): every guarded table
            targets := targets || ARRAY(
                SELECT g.tgrelid FROM pg_catalog.pg_trigger g WHERE g.tgname = '{TRIGGER}');
        ELSIF to_regclass(relation) IS NOT NULL THEN
            targets := targets || to_regclass(relation)::oid;
        END IF;
    END LOOP;
    FOREACH target IN ARRAY targets LOOP
        function := '{LOCAL_SCHEMA}.{_FUNCTION_PREFIX}' || target;
        WITH k AS ({_KEYS})
        SELECT (SELECT string_agg(format('(%s) > key_limit', k.size), ' OR ' ORDER BY k.indexrelid)
                FROM k WHERE k.most > key_limit),
               (SELECT array_agg(DISTINCT quote_ident(n)) FROM k, unnest(k.names) AS n WHERE k.most > key_limit)
            INTO tests, keyed;
        IF tests IS NULL THEN  -- no key can be too large: nothing to check
            IF EXISTS (SELECT FROM pg_catalog.pg_trigger g WHERE g.tgrelid = target AND g.tgname = '{TRIGGER}') THEN
                EXECUTE format('DROP TRIGGER {TRIGGER} ON %s', target::regclass);
                EXECUTE format('DROP FUNCTION IF EXISTS %s()', function);
            END IF;
            CONTINUE;
        END IF;
        -- the writer's limit: only sessions of strict engines that enforce the rule set it
        body := format(
            'DECLARE key_limit integer := nullif(current_setting(%L, true), '''')::integer; '
            'BEGIN IF key_limit IS NULL OR TG_OP = ''UPDATE'' AND ROW(%s) IS NOT DISTINCT FROM ROW(%s) '
            'THEN RETURN NEW; END IF; '
            'IF %s THEN RAISE EXCEPTION USING ERRCODE = %L, MESSAGE = %L, HINT = %L; END IF; RETURN NEW; END',
            '{SETTING}', 'NEW.' || array_to_string(keyed, ', NEW.'), 'OLD.' || array_to_string(keyed, ', OLD.'),
            tests, state, message, hint);
        IF EXISTS (SELECT FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_proc p ON p.oid = g.tgfoid
                   WHERE g.tgrelid = target AND g.tgname = '{TRIGGER}' AND p.prosrc = body) THEN
            CONTINUE;  -- checked as it must be already: no DDL, no lock
        END IF;
        -- the functions of dropped tables go before another is made
        FOR orphan IN SELECT p.oid FROM pg_catalog.pg_proc p
                WHERE p.pronamespace = '{LOCAL_SCHEMA}'::regnamespace
                  AND p.proname LIKE '{_FUNCTION_PREFIX.replace("_", "!_")}%' ESCAPE '!'
                  AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger g WHERE g.tgfoid = p.oid) LOOP
            EXECUTE format('DROP FUNCTION %s', orphan);
        END LOOP;
        EXECUTE format('CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS %L', function, body);
        -- not UPDATE OF the key columns: that would keep them from being dropped or retyped
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER {TRIGGER} BEFORE INSERT OR UPDATE ON %s'
            ' FOR EACH ROW EXECUTE FUNCTION %s()',
            target::regclass, function);
    END LOOP;
END
"""

PROCEDURES: Final = {
    "guard_key_size": (
        "relations text[], key_limit integer, state text, message text, hint text",
        _GUARD_BODY,
    ),
}
"""The procedure, for :func:`aurora_dsql_sqlalchemy.local.catalog.install`."""


def guard_call(relations: list[str], limit: int, literal: Callable[[str], str], hint: str) -> str:
    """The ``CALL`` that guards ``relations`` (SQL literals of quoted names,
    or ``NULL``: every guarded table) against keys over ``limit`` bytes, to
    send after the statement (``literal`` writes a SQL string literal; ``hint``
    is the error's HINT)."""
    rule = rules.RULES["index-key-size"]
    return (
        f"\n;CALL {LOCAL_SCHEMA}.guard_key_size(ARRAY[{', '.join(relations)}]::text[], {int(limit)}, "
        f"{literal(rule.sqlstate)}, {literal(rule.server_message())}, {literal(hint)})"
    )


# Integers at 8: the dialect creates an autoincrement key, and a foreign key
# to one, as BIGINT whatever the declared width.
_WIDTHS: Final[dict[type, int]] = {
    sqltypes.SmallInteger: 8, sqltypes.SMALLINT: 8, sqltypes.Integer: 8, sqltypes.INTEGER: 8,
    sqltypes.BigInteger: 8, sqltypes.BIGINT: 8, sqltypes.Boolean: 1, sqltypes.BOOLEAN: 1,
    sqltypes.Date: 4, sqltypes.DATE: 4, sqltypes.DateTime: 8, sqltypes.DATETIME: 8, sqltypes.TIMESTAMP: 8,
    sqltypes.Time: 12, sqltypes.TIME: 12, sqltypes.Float: 8, sqltypes.FLOAT: 8, sqltypes.REAL: 4,
    sqltypes.DOUBLE: 8, sqltypes.Double: 8, sqltypes.DOUBLE_PRECISION: 8, sqltypes.Uuid: 16, sqltypes.UUID: 16,
}
_CHARACTERS: Final = frozenset(
    {
        sqltypes.String, sqltypes.VARCHAR, sqltypes.Unicode, sqltypes.NVARCHAR,
        sqltypes.CHAR, sqltypes.NCHAR, sqltypes.Enum,
    }
)
_NUMERICS: Final = frozenset({sqltypes.Numeric, sqltypes.NUMERIC, sqltypes.DECIMAL})
_MAX_CHARACTER_BYTES: Final = 4
"""UTF-8's longest character: a bound whatever the server's encoding."""


def _most_bytes(type_: Any) -> int | None:
    cls = type(type_)  # exact classes: a subclass may render another type
    if cls in _WIDTHS:
        return _WIDTHS[cls]
    if cls in _CHARACTERS and getattr(type_, "length", None):
        return int(type_.length) * _MAX_CHARACTER_BYTES  # an enum is a VARCHAR(n) here
    if cls in _NUMERICS and type_.precision is not None:
        return 8 + 2 * (int(type_.precision) // 4 + 2)
    return None


def most_key_bytes(keys: Iterable[Any], primary_key: Iterable[Any] = ()) -> int | None:
    """The most bytes the key of an index on the columns ``keys`` can take (a
    secondary index's with the ``primary_key`` columns), from their
    SQLAlchemy types, as ``guard_key_size`` works it out on the server (the
    encoding taken at its longest); ``None``: unbounded, or a type not known
    here.  The dialect sends no ``CALL`` for DDL it compiled whose keys all
    fit under the limit."""
    columns = {column.name: column for column in (*keys, *primary_key)}
    total = 0
    for column in columns.values():
        most = _most_bytes(column.type)
        if most is None:
            return None
        total += most
    return total
