"""Reflection for Aurora DSQL.

``MetaData.reflect()``, ``Table(..., autoload_with=engine)`` and every
``inspect(engine).get_*`` method work as on PostgreSQL (DSQL's
``pg_catalog`` is PostgreSQL 16's), with three differences of DSQL's catalog
kept out of what you get back:

* **The access method.**  DSQL's catalog names its only index access method
  ``btree_index``.  DSQL refuses ``USING`` in ``CREATE INDEX``, so reflected
  indexes carry no ``using`` option for it (nor for PostgreSQL's ``btree``
  in local mode); an index of any other method keeps ``postgresql_using``.
* **The primary key's index.**  DSQL lists every column that is not part of
  the primary key as an ``INCLUDE`` column of the primary key's index (the
  list grows as columns are added).  That index *is* the primary key, not an
  index you created: ``get_indexes()`` never reports it (also when DSQL's
  catalog does not flag it as the primary key's), and neither
  ``get_pk_constraint()`` nor anything else reports its ``INCLUDE`` columns.
* **The** ``sys`` **schema** is DSQL's own (jobs, IAM role mappings,
  functions).  It is never listed by ``get_schema_names()``, and its tables
  never appear in ``get_table_names()`` & co., in ``MetaData.reflect()`` or
  in Alembic autogenerate (also when ``sys`` is on the ``search_path``).
  Lookups by name (``has_table(..., schema="sys")``,
  ``Table(..., schema="sys", autoload_with=...)``) don't find its objects
  either; declare a ``Table`` for ``sys.jobs`` yourself if you query it.
  Local mode's emulation schema, ``aurora_dsql_local``, is hidden the same way.

Dialect options
---------------

An index reflects its options under the dialect's own prefix, the spelling
the DDL compiler reads first, so an :class:`~sqlalchemy.schema.Index` built
from reflection compiles back to the same ``CREATE INDEX ASYNC``::

    >>> inspect(engine).get_indexes("account")
    [{'name': 'ix_account_email', 'column_names': ['email'], 'unique': True,
      'dialect_options': {'auroradsql_include': ['name'],
                          'auroradsql_nulls_not_distinct': True,
                          'auroradsql_where': '(balance > 0)'}}]

Every option the dialect declares for a construct (``auroradsql_include``,
``auroradsql_where`` and ``auroradsql_nulls_not_distinct`` for an index,
``auroradsql_nulls_not_distinct`` for a unique constraint) is reported
*only* under ``auroradsql_``, never also under ``postgresql_``: one spelling
per option, as SQLAlchemy's own suite expects (``<dialect>_include``).
Models may use either spelling (the compiler honours both, ``auroradsql_``
winning), so a tool comparing a model with the database — Alembic
autogenerate — must read an option through both spellings (see
:func:`aurora_dsql_sqlalchemy.compiler.dialect_option`), not compare
``dialect_kwargs`` keys.  Options this dialect does not declare keep
SQLAlchemy's ``postgresql_`` key (``postgresql_ops``, ``postgresql_with``,
a non-btree ``postgresql_using``; with SQLAlchemy 2.1, ``postgresql_invalid``
marks an index whose ``ASYNC`` build is still running or has failed).

A unique constraint reports ``auroradsql_nulls_not_distinct`` only when it is
true, and an ``INCLUDE`` list only when it is not empty: PostgreSQL reports
the defaults for every unique constraint, and a reflected table would
otherwise write ``NULLS DISTINCT`` into its DDL.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import schema as sa_schema
from sqlalchemy import sql
from sqlalchemy.dialects.postgresql import pg_catalog

from . import rules
from .local.jobs import LOCAL_SCHEMA

__all__ = [
    "HIDDEN_SCHEMAS",
    "declared_options",
    "dsql_index",
    "dsql_indexes",
    "dsql_pk_constraint",
    "dsql_unique_constraint",
    "dsql_unique_constraints",
    "is_primary_key_index",
    "visible_schemas",
    "without_hidden_schemas",
]

_PG_PREFIX = "postgresql_"


def declared_options(dialect: Any, construct: type) -> frozenset[str]:
    """The option names *dialect* declares for a schema construct (its
    ``construct_arguments``), e.g. ``{"include", "where", "nulls_not_distinct"}``
    for :class:`~sqlalchemy.schema.Index`."""
    names: set[str] = set()
    for cls, options in getattr(dialect, "construct_arguments", None) or ():
        if issubclass(construct, cls):
            names.update(options)
    return frozenset(names)


def _renamed(options: Mapping[str, Any], prefix: str, declared: Collection[str]) -> dict[str, Any]:
    """``postgresql_<name>`` keys the dialect declares, moved to ``<prefix><name>``."""
    result: dict[str, Any] = {}
    for key, value in options.items():
        name = key[len(_PG_PREFIX) :]
        if key.startswith(_PG_PREFIX) and name in declared:
            key = prefix + name
        result[key] = value
    return result


def _with_options(reflected: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    result = {key: value for key, value in reflected.items() if key != "dialect_options"}
    if options:
        result["dialect_options"] = dict(options)
    return result


def dsql_index(
    index: Mapping[str, Any], *, prefix: str = "auroradsql_", declared: Collection[str]
) -> dict[str, Any]:
    """One reflected index as the dialect reports it (a new dict).

    ``postgresql_using`` is dropped when it names DSQL's ``btree_index`` or
    PostgreSQL's ``btree``; the options in *declared* move from
    ``postgresql_`` to *prefix*; everything else is kept as reflected.
    """
    options = dict(index.get("dialect_options") or {})
    using = options.get(_PG_PREFIX + "using")
    if using is not None and str(using).lower() in rules.INDEX_ACCESS_METHODS:
        del options[_PG_PREFIX + "using"]
    return _with_options(index, _renamed(options, prefix, declared))


def dsql_unique_constraint(
    constraint: Mapping[str, Any],
    *,
    prefix: str = "auroradsql_",
    declared: Collection[str],
) -> dict[str, Any]:
    """One reflected unique constraint as the dialect reports it (a new dict):
    declared options under *prefix*, ``nulls_not_distinct`` only when true
    and ``include`` only when not empty."""
    options = _renamed(constraint.get("dialect_options") or {}, prefix, declared)
    for head in (prefix, _PG_PREFIX):
        for name in ("nulls_not_distinct", "include"):
            if head + name in options and not options[head + name]:
                del options[head + name]
    return _with_options(constraint, options)


def dsql_pk_constraint(constraint: Mapping[str, Any]) -> dict[str, Any]:
    """A reflected primary key without ``INCLUDE`` columns (a new dict).

    DSQL's primary-key index includes every other column of the table; that
    is how DSQL stores rows, not something the table declares.
    """
    options = {
        key: value
        for key, value in (constraint.get("dialect_options") or {}).items()
        if not key.endswith("_include")
    }
    return _with_options(constraint, options)


def is_primary_key_index(index: Mapping[str, Any], primary_key_name: str | None) -> bool:
    """Whether a reflected index is the one backing the table's primary key.

    PostgreSQL's index query leaves out indexes flagged ``indisprimary``; this
    also catches the primary key's index when the catalog does not flag it,
    by its name (which is the constraint's).
    """
    return primary_key_name is not None and index.get("name") == primary_key_name


HIDDEN_SCHEMAS: frozenset[str] = rules.SYSTEM_SCHEMAS | {LOCAL_SCHEMA}
"""DSQL's own schemas, and local mode's emulation schema: never reflected."""


def visible_schemas(names: Iterable[str]) -> list[str]:
    """Schema names without :data:`HIDDEN_SCHEMAS`."""
    return [name for name in names if name not in HIDDEN_SCHEMAS]


def without_hidden_schemas(query: Any) -> Any:
    """A catalog query of ``pg_class`` narrowed to exclude :data:`HIDDEN_SCHEMAS`."""
    nspname = pg_catalog.pg_namespace.c.nspname
    return query.where(sql.and_(*(nspname != name for name in sorted(HIDDEN_SCHEMAS))))


def dsql_indexes(
    dialect: Any,
    found: Iterable[tuple[Any, list[dict[str, Any]]]],
    primary_keys: Callable[[], Iterable[tuple[Any, Mapping[str, Any]]]],
) -> list[tuple[Any, list[dict[str, Any]]]]:
    """``get_multi_indexes`` results as the dialect reports them: the
    primary key's index left out, options under the dialect's prefix.
    ``primary_keys`` (the tables' primary keys) is asked only when a unique
    index could be one."""
    found = list(found)
    names: dict[Any, str | None] = {}
    if any(index.get("unique") for _, indexes in found for index in indexes):
        names = {key: pk.get("name") for key, pk in primary_keys()}
    declared = declared_options(dialect, sa_schema.Index)
    prefix = f"{dialect.name}_"
    return [
        (
            key,
            [
                dsql_index(index, prefix=prefix, declared=declared)
                for index in indexes
                if not is_primary_key_index(index, names.get(key))
            ],
        )
        for key, indexes in found
    ]


def dsql_unique_constraints(
    dialect: Any, found: Iterable[tuple[Any, list[dict[str, Any]]]]
) -> list[tuple[Any, list[dict[str, Any]]]]:
    """``get_multi_unique_constraints`` results as the dialect reports them."""
    declared = declared_options(dialect, sa_schema.UniqueConstraint)
    prefix = f"{dialect.name}_"
    return [
        (key, [dsql_unique_constraint(uc, prefix=prefix, declared=declared) for uc in constraints])
        for key, constraints in found
    ]
