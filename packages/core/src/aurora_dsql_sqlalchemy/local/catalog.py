"""Strict local mode's checks that need the database's catalog.

A statement's text tells what it creates and drops
(:attr:`~aurora_dsql_sqlalchemy.local.checks.Analysis.created_objects`,
:attr:`~aurora_dsql_sqlalchemy.local.checks.Analysis.drop_targets`); only the
database knows how many tables it already holds or which columns make up a
table's primary key.  Strict local mode therefore checks, against the catalog:

* DSQL's limits of tables, sequences (an identity column's included) and
  schemas (besides ``public``, ``sys`` and local mode's own) in a database
  (rules ``tables-per-database``, ``sequences-per-database``,
  ``schemas-per-database``; figures from
  :class:`~aurora_dsql_sqlalchemy.rules.Limits`, so ``create_engine(url,
  limits=dataclasses.replace(LIMITS, tables=50))`` lowers them): the
  ``CREATE`` that would exceed one is refused with DSQL's SQLSTATE and message
  and does not happen;
* DSQL's refusal to drop a primary-key column (``drop-primary-key-column``):
  the ``ALTER TABLE`` is refused and changes nothing, whichever of its actions
  drops the column;
* DSQL's index key size (``index-key-size``): after DDL that changes a
  table's index keys, a trigger is made or dropped for the table, which
  checks each write (:mod:`aurora_dsql_sqlalchemy.local.keysize`).

**How, and what it costs.**  The checks run on the server, in the statement's
own round trip: the text sent to PostgreSQL is the statement together with a
``CALL`` of a procedure of the emulation's schema (``aurora_dsql_local``, see
:mod:`aurora_dsql_sqlalchemy.local.jobs`).  PostgreSQL runs a
multi-statement query as one transaction, so a check that fails takes the
statement back with it.

* After a ``CREATE``, ``check_counts`` compares what the database holds with
  the engine's limits.  Schemas are counted each time (``pg_namespace`` is a
  handful of rows).  Tables and sequences are counted with a scan of
  ``pg_class``, which costs more than the CREATE itself once the database is
  large, so a session counts them once and then adds what each statement
  makes (the checker knows: a table, its identity columns' sequences); it
  counts again when the count is older than :data:`RECOUNT_AFTER_SECONDS`
  (objects other sessions made, or anyone dropped, show then) and for every
  statement within a tenth of a limit, where the answer must be exact (a
  refusal is missed only if other sessions made more than a tenth of a limit
  in the last second).  The count lives in the session (``set_config``), so a refused statement
  takes its own addition back.
* Inside ``create_all()`` / ``Table.create()``, a ``CREATE TABLE`` whose only
  check is that count is sent without the ``CALL`` while the database is
  more than a tenth of a limit below it: the execution context counts once
  (:data:`COUNT_SQL`, which also makes the session's next ``CALL`` count
  again), adds what each statement makes, and counts again after
  :data:`RECOUNT_AFTER_SECONDS` or after other DDL; nearer the limit every
  statement carries the ``CALL``.  The ``CALL`` costs a tenth of the
  ``CREATE TABLE`` it follows, and a create_all() sends hundreds.
* After DDL that changes a table's index keys (``Analysis.key_tables``),
  ``guard_key_size`` (:mod:`~aurora_dsql_sqlalchemy.local.keysize`).
* Before an ``ALTER TABLE ... DROP COLUMN``, ``check_drop_columns`` looks the
  columns up in ``pg_index`` (``to_regclass`` of the quoted name, so
  mixed-case, schema-qualified and dotted names resolve as the statement's
  own do, on PostgreSQL 15 too).  Only statements that drop columns pay.

The text is rewritten once per distinct statement, as part of its cached
plan; statements that create or drop nothing are sent unchanged.

Elsewhere this was chosen over a count the engine caches on the client: no extra round
trip at all, and no per-execution decision (a cached plan is reused for the
same text, which may have to be refused later: ``DROP TABLE x`` then
``CREATE TABLE x`` when the database has filled up meanwhile).  Measured with
create_all of 200 tables (each with an identity key, two indexes and a
foreign key), strict mode with these checks and with them relaxed are
within the machine's noise of each other; the ``CALL`` itself adds about
0.2 ms to a CREATE (a full ``pg_class`` count per CREATE added 0.7 ms or more).

The refusal is the server's own error, so the driver raises it as any other
(SQLSTATE and DSQL's message; our advice as the error's HINT; PostgreSQL adds
a ``CONTEXT`` line naming the procedure).  DDL runs in a transaction of its
own (:mod:`aurora_dsql_sqlalchemy.context`), as the dialect runs it on DSQL,
so the refusal leaves the caller's connection usable, as on DSQL.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .. import rules
from . import keysize
from .jobs import LOCAL_SCHEMA

if TYPE_CHECKING:
    from .checks import Analysis

__all__ = ["COUNT_SQL", "client_countable", "guard", "install"]

_KINDS: Final = (
    # kind in Analysis.created_objects, rule, Limits field
    ("table", "tables-per-database", "tables"),
    ("sequence", "sequences-per-database", "sequences"),
    ("schema", "schemas-per-database", "schemas"),
)

_HIDDEN: Final = ("information_schema", LOCAL_SCHEMA)
"""Schemas whose objects no count includes (with ``pg_*``): PostgreSQL's and the emulation's."""


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(values) + "]"


def _literal(text: str) -> str:
    """A SQL string literal without a ``%`` in it, so the text sent is the same
    whether or not the driver reads ``%`` as a placeholder (``\\x25`` instead)."""
    quoted = text.replace("'", "''")
    if "%" not in text:
        return f"'{quoted}'"
    return "E'" + quoted.replace("\\", "\\\\").replace("%", "\\x25") + "'"


def _names(names: tuple[str, ...] | frozenset[str]) -> str:
    return ", ".join(_literal(n) for n in sorted(names))


_COUNTED: Final = f"n.nspname NOT IN ({_names(_HIDDEN)}) AND left(n.nspname, 3) <> 'pg_'"

EXACT_WITHIN: Final = 10
"""Within a tenth (``1 / EXACT_WITHIN``) of a limit every count is exact; further
below it a cached count (the session's, or the client's in create_all()) is trusted."""

RECOUNT_AFTER_SECONDS: Final = 1
"""How old a session's count of tables and sequences may get before strict
mode counts again (objects other sessions made or anyone dropped show then)."""

COUNT_SQL: Final = f"CALL {LOCAL_SCHEMA}.count_objects(NULL, NULL)"
"""The tables and sequences the database holds, as ``check_counts`` counts
them (one row), for a count kept on the client during ``create_all()`` (see
:func:`client_countable`)."""

_COUNT_OBJECTS_BODY: Final = f"""
BEGIN
    SELECT count(*) FILTER (WHERE c.relkind IN ('r', 'p') AND {_COUNTED}),
           count(*) FILTER (WHERE c.relkind = 'S' AND {_COUNTED})
        INTO tables, sequences
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace;
    -- the session's count of check_counts is stale once statements skip it: counted again there
    PERFORM set_config('{LOCAL_SCHEMA}.counted_at', '', false);
END
"""

_COUNTS_BODY: Final = f"""
DECLARE
    counted_at timestamptz := nullif(current_setting('{LOCAL_SCHEMA}.counted_at', true), '')::timestamptz;
    tables bigint := nullif(current_setting('{LOCAL_SCHEMA}.tables', true), '')::bigint + tables_made;
    sequences bigint := nullif(current_setting('{LOCAL_SCHEMA}.sequences', true), '')::bigint + sequences_made;
    schemas bigint;
BEGIN
    IF table_limit IS NOT NULL OR sequence_limit IS NOT NULL THEN
        -- this session's count plus what the statement makes; counted again
        -- (a scan of pg_class) when unknown, old, or within a tenth of a limit
        IF counted_at IS NULL OR tables IS NULL OR sequences IS NULL
                OR clock_timestamp() - counted_at > interval '{RECOUNT_AFTER_SECONDS} second'
                OR tables > table_limit - table_limit / {EXACT_WITHIN}
                OR sequences > sequence_limit - sequence_limit / {EXACT_WITHIN} THEN
            SELECT count(*) FILTER (WHERE c.relkind IN ('r', 'p') AND {_COUNTED}),
                   count(*) FILTER (WHERE c.relkind = 'S' AND {_COUNTED})
                INTO tables, sequences
                FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace;
            counted_at := clock_timestamp();
        END IF;
        PERFORM set_config('{LOCAL_SCHEMA}.counted_at', counted_at::text, false),
                set_config('{LOCAL_SCHEMA}.tables', tables::text, false),
                set_config('{LOCAL_SCHEMA}.sequences', sequences::text, false);
        IF tables > table_limit THEN
            RAISE EXCEPTION USING ERRCODE = states[1], MESSAGE = messages[1], HINT = hints[1];
        END IF;
        IF sequences > sequence_limit THEN
            RAISE EXCEPTION USING ERRCODE = states[2], MESSAGE = messages[2], HINT = hints[2];
        END IF;
    END IF;
    IF schema_limit IS NOT NULL THEN
        SELECT count(*) INTO schemas FROM pg_catalog.pg_namespace n
            WHERE n.nspname NOT IN ({_names(_HIDDEN + tuple(rules.UNCOUNTED_SCHEMAS))})
              AND left(n.nspname, 3) <> 'pg_';
        IF schemas > schema_limit THEN
            RAISE EXCEPTION USING ERRCODE = states[3], MESSAGE = messages[3], HINT = hints[3];
        END IF;
    END IF;
END
"""

_DROPS_BODY: Final = """
BEGIN
    FOR i IN 1 .. coalesce(array_length(relations, 1), 0) LOOP
        IF EXISTS (
            SELECT FROM pg_catalog.pg_index x
                JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey)
            WHERE x.indrelid = to_regclass(relations[i]) AND x.indisprimary AND a.attname = column_names[i]
        ) THEN
            RAISE EXCEPTION USING ERRCODE = state, MESSAGE = messages[i], HINT = hint;
        END IF;
    END LOOP;
END
"""

_PROCEDURES: Final = {
    "check_counts": (
        "table_limit bigint, sequence_limit bigint, schema_limit bigint,"
        " tables_made integer, sequences_made integer, states text[], messages text[], hints text[]",
        _COUNTS_BODY,
    ),
    "count_objects": ("INOUT tables bigint, INOUT sequences bigint", _COUNT_OBJECTS_BODY),
    "check_drop_columns": (
        "relations text[], column_names text[], state text, messages text[], hint text",
        _DROPS_BODY,
    ),
    **keysize.PROCEDURES,
}


def _install_sql() -> str:
    digests = ", ".join(_literal(hashlib.md5(body.encode()).hexdigest()) for _, body in _PROCEDURES.values())
    creates = "\n".join(
        f"        EXECUTE $create$CREATE OR REPLACE PROCEDURE {LOCAL_SCHEMA}.{name}({arguments})"
        f" LANGUAGE plpgsql AS $body${body}$body$$create$;"
        for name, (arguments, body) in _PROCEDURES.items()
    )
    # serialised like the schema's own set-up; replaced when this version's bodies differ
    return f"""DO $install$ BEGIN
    PERFORM pg_advisory_xact_lock(4242420002);
    IF (SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = {_literal(LOCAL_SCHEMA)} AND md5(p.prosrc) IN ({digests})) < {len(_PROCEDURES)} THEN
{creates}
    END IF;
END $install$"""


_INSTALL: Final = _install_sql()


def install(dbapi_conn: Any) -> None:
    """Create (or bring up to date) the procedures, once per engine, in one
    round trip; after :func:`~aurora_dsql_sqlalchemy.local.jobs.install_local_schema`,
    on the first connection (still READ COMMITTED, so the look-up after the
    lock sees another engine's install)."""
    with contextlib.closing(dbapi_conn.cursor()) as cursor:
        try:
            cursor.execute(_INSTALL)
        except BaseException:
            dbapi_conn.rollback()
            raise
    if not dbapi_conn.autocommit:
        dbapi_conn.commit()


def guard(sent: str, sql: str, analysis: Analysis, limits: rules.Limits, enforces: Callable[[str], bool]) -> str | None:
    """``sent`` (what goes to PostgreSQL for the statement text ``sql``, which
    ``analysis`` describes) with the catalog checks it needs, or ``None`` if it
    needs none (strict mode, once per distinct text: part of its plan)."""
    if not analysis.created_objects and not analysis.drop_targets and not analysis.key_tables:
        return None
    escaped = "%%" in sql
    prefix = _drops_call(analysis.drop_targets, escaped) if enforces("drop-primary-key-column") else ""
    suffix = _counts_call([kind for kind, _, _ in analysis.created_objects], limits, enforces)
    if analysis.key_tables and enforces("index-key-size"):
        suffix += _key_size_call(analysis.key_tables, limits, escaped)
    if not prefix and not suffix:
        return None
    # the CALL after a CREATE goes on a line of its own: the text may end in a -- comment
    return f"{prefix}{sent}{suffix}"


def client_countable(analysis: Analysis, enforces: Callable[[str], bool]) -> tuple[int, int] | None:
    """``(tables, sequences)`` the statement creates when the ``check_counts``
    CALL is the only check :func:`guard` adds to it, else ``None``.

    Inside ``create_all()``, strict mode may then keep the count on the
    client (counted once with :data:`COUNT_SQL`, then what each statement
    makes added) and send the statement without the CALL while the count is
    more than a tenth of a limit below it, the margin within which the
    procedure itself counts exactly; the CALL's round of checks on the
    server is a tenth of a ``CREATE TABLE``'s time."""
    created = [kind for kind, _, _ in analysis.created_objects]
    if not created or "schema" in created or (analysis.drop_targets and enforces("drop-primary-key-column")):
        return None
    if analysis.key_tables and enforces("index-key-size"):
        return None
    return created.count("table"), created.count("sequence")


def room_for(
    counts: list[float], creates: tuple[int, int], limits: rules.Limits, enforces: Callable[[str], bool]
) -> bool:
    """Whether ``creates`` (tables, sequences) leaves the client's ``counts``
    (``[tables, sequences, counted_at]``) more than a tenth of each enforced
    limit below it, as ``check_counts`` requires before it trusts a cached count."""
    for (_, rule_id, field), held, made in zip(_KINDS[:2], counts[:2], creates, strict=True):
        limit = int(getattr(limits, field))
        if made and enforces(rule_id) and held + made > limit - limit // EXACT_WITHIN:
            return False
    return True


def _drops_call(targets: tuple[tuple[str, str], ...], escaped: bool) -> str:
    if not targets:
        return ""
    rule = rules.RULES["drop-primary-key-column"]
    return (
        f"CALL {LOCAL_SCHEMA}.check_drop_columns("
        f"{_array([_as_written(t, escaped) for t, _ in targets])}::text[], "
        f"{_array([_as_written(c, escaped) for _, c in targets])}::text[], {_literal(rule.sqlstate)}, "
        f"{_array([_as_written(rule.server_message(column=c), escaped) for _, c in targets])}::text[], "
        f"{_literal(_advice(rule))});\n"
    )


def _key_size_call(tables: tuple[str | None, ...], limits: rules.Limits, escaped: bool) -> str:
    names = ["NULL" if t is None else _as_written(t, escaped) for t in dict.fromkeys(tables)]
    return keysize.guard_call(names, limits.index_key_bytes, _literal, _advice(rules.RULES["index-key-size"]))


def _as_written(name: str, escaped: bool) -> str:
    """A name from the statement as a literal written the way the statement
    writes it, so the driver does to both what it does: a text with ``%%``
    (the checker read each as ``'% '``) has its ``%`` doubled, and the driver
    undoes that when it sends parameters and leaves it when it does not."""
    spelled = name.replace("% ", "%%") if escaped else name
    return "'" + spelled.replace("'", "''") + "'"


def _counts_call(created: list[str], limits: rules.Limits, enforces: Callable[[str], bool]) -> str:
    checked = tuple(kind in created and enforces(rule_id) for kind, rule_id, _ in _KINDS)
    if not any(checked):
        return ""
    return _counts_call_text(checked, created.count("table"), created.count("sequence"), limits)


@functools.lru_cache(maxsize=64)
def _counts_call_text(checked: tuple[bool, ...], tables: int, sequences: int, limits: rules.Limits) -> str:
    """The ``check_counts`` CALL (the same for every CREATE TABLE of a shape)."""
    figures = [
        str(int(getattr(limits, field))) if on else "NULL" for (_, _, field), on in zip(_KINDS, checked, strict=True)
    ]
    kinds = [rules.RULES[rule_id] for _, rule_id, _ in _KINDS]
    return (
        f"\n;CALL {LOCAL_SCHEMA}.check_counts({', '.join([*figures, str(tables), str(sequences)])}, "
        f"{_array([_literal(rule.sqlstate) for rule in kinds])}::text[], "
        f"{_array([_literal(rule.server_message()) for rule in kinds])}::text[], "
        f"{_array([_literal(_advice(rule)) for rule in kinds])}::text[])"
    )


def _advice(rule: rules.Rule) -> str:
    """What :meth:`~aurora_dsql_sqlalchemy.rules.Rule.hint` says, as the error's HINT field."""
    return rule.hint().removeprefix("\nHINT:  ")
