"""SQL, DDL and type compilers for Aurora DSQL.

Each compiler extends its PostgreSQL counterpart and changes only what DSQL
needs.  Whatever DSQL would refuse is refused here, at compile time, with a
:class:`~aurora_dsql_sqlalchemy.errors.DSQLUnsupportedError` naming the rule
and the way out; nothing reaches the server.  The compilers never modify the
user's ``MetaData``, tables or columns.
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import exc as sa_exc
from sqlalchemy import schema as sa_schema
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects.postgresql import base as pg_base
from sqlalchemy.sql import coercions, operators, roles
from sqlalchemy.sql import elements as sql_elements
from sqlalchemy.sql import util as sql_util

from . import _compat, keys, rules
from .compiled_ddl import DDLFacts, index_facts, table_facts
from .errors import DSQLSchemaWarning, DSQLUnsupportedError
from .type_families import dsql_type_family as _dsql_type_family
from .violations import Violation

if TYPE_CHECKING:
    from .base import AuroraDSQLDialect

__all__ = [
    "AuroraDSQLCompiler",
    "AuroraDSQLDDLCompiler",
    "AuroraDSQLTypeCompiler",
    "DSQLSchemaWarning",
    "dialect_option",
    "postgresql_variant",
]


def dialect_option(obj: Any, name: str) -> Any:
    """An ``auroradsql_<name>`` option, else its ``postgresql_<name>`` alias.

    Code written for PostgreSQL keeps working: ``postgresql_include``,
    ``postgresql_where`` and ``postgresql_nulls_not_distinct`` are honoured;
    the ``auroradsql_*`` spelling wins when both are given.
    """
    ours = _options(obj, "auroradsql").get(name)
    if ours is not None:
        return ours
    return _options(obj, "postgresql").get(name)


_NO_OPTIONS: Final[dict[str, Any]] = {}


def _options(obj: Any, dialect_name: str) -> Any:
    """``obj.dialect_options[dialect_name]``; an empty mapping when the object
    was given no dialect options (SQLAlchemy then builds none: every option
    has its default, which is falsy for all those read here)."""
    if "dialect_options" not in obj.__dict__:
        return _NO_OPTIONS
    return obj.dialect_options[dialect_name]


def _given_options(obj: Any) -> dict[str, Any]:
    """The dialect options given to ``obj`` by name, as :func:`dialect_option`
    reads them (``auroradsql_<name>`` over ``postgresql_<name>``), in one pass
    over what was given (usually nothing)."""
    if "dialect_options" not in obj.__dict__:
        return _NO_OPTIONS
    given: dict[str, Any] = {}
    ours: dict[str, Any] = {}
    for key, value in obj.dialect_kwargs.items():
        dialect_name, _, name = key.partition("_")
        if dialect_name == "postgresql":
            given[name] = value
        elif dialect_name == "auroradsql" and value is not None:
            ours[name] = value
    given.update(ours)
    return given


_SORT_DIRECTIONS = (operators.asc_op, operators.desc_op)
_NULLS_ORDER = (operators.nulls_first_op, operators.nulls_last_op)


_TEXT_KEY_DIRECTION = re.compile(
    r"\s+(?:ASC|DESC)\b(?=\s*(?:NULLS\s+(?:FIRST|LAST)\s*)?$)", re.IGNORECASE
)


def _without_sort_direction(expr: Any) -> tuple[Any, bool]:
    """Return the index key with any ASC/DESC removed (NULLS FIRST/LAST kept),
    and whether a direction was removed.  A key given as ``text("b DESC")``
    (real schemas have them) is treated like ``desc(b)``."""
    if isinstance(expr, sql_elements.TextClause):
        stripped, count = _TEXT_KEY_DIRECTION.subn("", expr.text)
        return (sql_elements.TextClause(stripped) if count else expr), bool(count)
    if isinstance(expr, sql_elements.UnaryExpression):
        if expr.modifier in _SORT_DIRECTIONS:
            return expr.element, True
        if expr.modifier in _NULLS_ORDER:
            inner, removed = _without_sort_direction(expr.element)
            if removed:
                return sql_elements.UnaryExpression(
                    inner, modifier=expr.modifier, wraps_column_expression=False
                ), True
    return expr, False


class AuroraDSQLCompiler(pg_base.PGCompiler):
    """Statement compiler: PostgreSQL's, with DSQL's row-lock rules, and
    ``::BIGINT`` bind casts for the integer keys the dialect widens."""

    _widened_types: frozenset[int] | None = None

    def render_bind_cast(self, type_: Any, dbapi_type: Any, sqltext: str) -> str:
        # A bind compared with or written to a widened key carries that
        # column's type object: cast it as the BIGINT the server holds.
        if isinstance(dbapi_type, sqltypes.Integer) and id(type_) in self._widened_key_types():
            dbapi_type = sqltypes.BIGINT()
        return super().render_bind_cast(type_, dbapi_type, sqltext)  # type: ignore[no-any-return]

    def _widened_key_types(self) -> frozenset[int]:
        """The type objects of the widened key columns of the statement's
        tables (once per compilation, and only when an integer bind is cast)."""
        if self._widened_types is None:
            found: set[int] = set()
            statement = self.statement
            if statement is not None:
                for table in sql_util.find_tables(statement, include_crud=True, include_joins=True):
                    if isinstance(table, sa_schema.Table):
                        found.update(
                            id(column.type)
                            for column in table.columns
                            if keys.is_widened(column, self.dialect)
                        )
            self._widened_types = frozenset(found)
        return self._widened_types

    def for_update_clause(self, select: Any, **kw: Any) -> str:
        arg = select._for_update_arg
        # DSQL takes FOR UPDATE and FOR KEY SHARE; in SQLAlchemy's terms
        # read=True alone is FOR SHARE and key_share=True alone FOR NO KEY UPDATE.
        if arg.read != arg.key_share:
            clause = "FOR SHARE" if arg.read else "FOR NO KEY UPDATE"
            raise DSQLUnsupportedError(f"SELECT ... {clause}", "locking-clause")
        return super().for_update_clause(select, **kw)


class AuroraDSQLDDLCompiler(pg_base.PGDDLCompiler):
    """DDL compiler: DSQL's CREATE INDEX ASYNC grammar, identity columns with an
    explicit CACHE, enums as checked VARCHARs, the foreign-key policy, and
    compile-time refusals for what DSQL lacks."""

    dialect: AuroraDSQLDialect
    followup_statements: list[str] | tuple[str, ...] = ()
    """Statements the execution layer (and Alembic's offline SQL) runs right
    after this one: the ``VALIDATE CONSTRAINT`` of an added constraint."""
    dsql_facts: DDLFacts | None = None
    """What this compiler vouches for in the CREATE TABLE / CREATE INDEX it
    compiled (see :mod:`aurora_dsql_sqlalchemy.compiled_ddl`)."""
    _dsql_defaults: list[str] | None = None
    _dsql_enum_columns: list[Any] | None = None

    # -- tables ------------------------------------------------------------------

    def visit_create_table(self, create: Any, **kw: Any) -> str:
        table = create.element
        prefixes = {p.upper() for p in table._prefixes}
        if prefixes & {"TEMPORARY", "TEMP", "GLOBAL TEMPORARY", "LOCAL TEMPORARY"}:
            raise DSQLUnsupportedError(f"Table {table.name!r} (TEMPORARY)", "temporary-table")
        if "UNLOGGED" in prefixes:
            raise DSQLUnsupportedError(f"Table {table.name!r} (UNLOGGED)", "tablespace")
        pg_opts = _options(table, "postgresql") if _given_options(table) else _NO_OPTIONS
        if pg_opts.get("partition_by"):
            raise DSQLUnsupportedError(f"Table {table.name!r} (postgresql_partition_by)", "partitioning")
        if pg_opts.get("inherits"):
            raise DSQLUnsupportedError(f"Table {table.name!r} (postgresql_inherits)", "inheritance")
        for option in ("tablespace", "using", "with_oids", "on_commit"):
            if pg_opts.get(option):
                raise DSQLUnsupportedError(f"Table {table.name!r} (postgresql_{option})", "tablespace")
        if len(table.columns) > rules.LIMITS.columns_per_table:
            raise DSQLUnsupportedError(
                f"Table {table.name!r} ({len(table.columns)} columns)", "columns-per-table"
            )
        defaults = self._dsql_defaults = []
        self._dsql_enum_columns = []
        try:
            text: str = super().visit_create_table(create, **kw)
        except sa_exc.CompileError as error:
            # SQLAlchemy re-wraps a column's error in a plain CompileError; keep ours
            # (its message already names the table and column).
            if isinstance(error.__cause__, DSQLUnsupportedError):
                raise error.__cause__ from None
            raise
        finally:
            self._dsql_defaults = self._dsql_enum_columns = None
        if self._vouching():
            self.dsql_facts = table_facts(create, defaults, bool(self.schema_translate_map), self.dialect)
        else:
            self.dsql_facts = DDLFacts()  # a plain DDL statement: the text need not be read
        return text

    def _vouching(self) -> bool:
        """Strict local mode (or not yet connected) reads the compiler's facts."""
        local = self.dialect.local
        return not self.dialect.is_dsql and (local is None or local.strict)

    def get_column_default_string(self, column: Any) -> str | None:
        text: str | None = super().get_column_default_string(column)
        if text is not None and self._dsql_defaults is not None:
            self._dsql_defaults.append(text)  # the user's expression, for strict mode's check
        return text

    def create_table_constraints(self, table: Any, _include_foreign_key_constraints: Any = None, **kw: Any) -> str:
        text = super().create_table_constraints(
            table, _include_foreign_key_constraints=_include_foreign_key_constraints, **kw
        )
        # the Enum columns get_column_specification saw (all columns, when called on its own)
        columns = self._dsql_enum_columns
        if columns is None:
            columns = [c for c in table.columns if isinstance(_impl_of(c, self.dialect), sqltypes.Enum)]
        enum_checks = [check for check in map(self._enum_check, columns) if check]
        if enum_checks:
            text = ", \n\t".join(filter(None, [text, *enum_checks]))
        return text

    def _enum_check(self, column: Any) -> str | None:
        """CHECK (col IN (...)) for an Enum column whose type made no constraint
        itself (SQLAlchemy's default, create_constraint=False), so DSQL still
        validates the values although it has no enum types."""
        enum = _impl_of(column, self.dialect)
        if not enum.enums:
            return None
        if getattr(column.type, "create_constraint", False):
            return None  # SQLAlchemy adds its own type-bound CHECK
        values = ", ".join(
            self.sql_compiler.render_literal_value(v, sqltypes.String()) for v in enum.enums
        )
        return f"CHECK ({self.preparer.format_column(column)} IN ({values}))"

    def get_column_specification(self, column: Any, **kw: Any) -> str:
        impl = _impl_of(column, self.dialect)
        self._check_column_type(column, impl)
        if column.identity is not None:
            subject = f"Identity column {column.table.name}.{column.name}"
            _check_cache(subject, column.identity.cache)
            if not isinstance(impl, sqltypes.Integer):
                raise DSQLUnsupportedError(f"{subject} ({column.type})", "identity-type")
        if column.primary_key and keys.is_serial_key(column, self.dialect):
            # PostgreSQL would write SERIAL, which DSQL lacks: the sole key
            # becomes an identity column (BIGINT, the type compiler decides).
            name = self.preparer.format_column(column)
            type_ = self.dialect.type_compiler_instance.process(column.type, type_expression=column)
            if keys.is_identity_key(column, self.dialect):
                return f"{name} {type_} {self.process(sa_schema.Identity())}"
            return f"{name} {type_} NOT NULL"
        return super().get_column_specification(column, **kw)

    def _check_column_type(self, column: Any, impl: Any) -> None:
        if _dsql_type_family(impl) in _REFUSED_COLUMN_TYPES:
            raise DSQLUnsupportedError(_column_subject(column), "column-type")
        if getattr(impl, "collation", None):
            raise DSQLUnsupportedError(_column_subject(column), "collate")
        if isinstance(impl, sqltypes.Enum) and self._dsql_enum_columns is not None:
            self._dsql_enum_columns.append(column)
        elif (
            isinstance(impl, sqltypes.Numeric)
            # what is emitted: the drivers' float types subclass Numeric, not Float
            and impl.__visit_name__.lower() in ("numeric", "decimal")
            and impl.precision is None
        ):
            p, s = rules.NUMERIC_DEFAULT_PRECISION
            subject = (
                f"Column {column.table.name}.{column.name} is NUMERIC without precision; "
                f"DSQL stores numeric({p},{s})"
            )
            warnings.warn(DSQLSchemaWarning(Violation("numeric-precision", subject)), stacklevel=2)

    def visit_foreign_key_constraint(self, constraint: Any, **kw: Any) -> str | None:  # type: ignore[override]
        if not self.dialect.foreign_keys:
            return None
        return super().visit_foreign_key_constraint(constraint, **kw)

    def visit_create_table_as(self, element: Any, **kw: Any) -> str:  # SQLAlchemy 2.1
        raise DSQLUnsupportedError(f"CREATE TABLE {element.table_name} AS SELECT", "create-table-as")

    def visit_computed_column(self, generated: Any, **kw: Any) -> str:
        # DSQL's generated columns are STORED: Computed() without persisted=
        # is STORED here, without SQLAlchemy 2.1's warning about the VIRTUAL
        # default of PostgreSQL 18 (a new Computed: the user's is untouched).
        if generated.persisted is None:
            generated = sa_schema.Computed(generated.sqltext, persisted=True)
        return super().visit_computed_column(generated, **kw)  # type: ignore[no-any-return]

    def define_unique_constraint_distinct(self, constraint: Any, **kw: Any) -> str:
        # reads auroradsql_nulls_not_distinct as well as the postgresql_ spelling;
        # also used for CREATE INDEX, which takes the same clause
        nulls_not_distinct = dialect_option(constraint, "nulls_not_distinct")
        if nulls_not_distinct is True:
            return "NULLS NOT DISTINCT "
        if nulls_not_distinct is False:
            return "NULLS DISTINCT "
        return ""

    def visit_create_enum_type(self, create: Any, **kw: Any) -> str:
        raise DSQLUnsupportedError(f"CREATE TYPE {create.element.name}", "create-type")

    def visit_exclude_constraint(self, constraint: Any, **kw: Any) -> str:
        table = constraint.table.name if constraint.table is not None else "?"
        raise DSQLUnsupportedError(f"Table {table!r} (ExcludeConstraint)", "exclusion-constraint")

    # -- constraints added to existing tables ---------------------------------------

    def visit_add_constraint(self, create: Any, **kw: Any) -> str:
        constraint = create.element
        if isinstance(constraint, sa_schema.PrimaryKeyConstraint):
            raise DSQLUnsupportedError(
                f"ALTER TABLE {constraint.table.name} ADD PRIMARY KEY", "primary-key-change"
            )
        if isinstance(constraint, sa_schema.UniqueConstraint):
            raise DSQLUnsupportedError(
                f"ALTER TABLE {constraint.table.name} ADD UNIQUE", "add-constraint"
            )
        if isinstance(constraint, sa_schema.ForeignKeyConstraint) and not self.dialect.foreign_keys:
            return ""
        text: str = super().visit_add_constraint(create, **kw)
        if isinstance(constraint, (sa_schema.ForeignKeyConstraint, sa_schema.CheckConstraint)):
            if constraint.name is None:
                raise DSQLUnsupportedError(
                    f"ALTER TABLE {constraint.table.name} ADD {type(constraint).__name__} without a name",
                    "add-constraint",
                    "Give the constraint a name (or a MetaData naming_convention) so it "
                    "can be validated.",
                )
            if not text.rstrip().endswith("NOT VALID"):
                text += " NOT VALID"
            # The second step of DSQL's recipe; the execution layer runs it
            # (and waits for the job) right after this statement.
            self.followup_statements = [
                "ALTER TABLE ASYNC %s VALIDATE CONSTRAINT %s"
                % (
                    self.preparer.format_table(constraint.table),
                    self.preparer.format_constraint(constraint),
                )
            ]
        return text

    # -- indexes -------------------------------------------------------------------

    def visit_create_index(self, create: Any, **kw: Any) -> str:  # type: ignore[override]
        """``CREATE [UNIQUE] INDEX ASYNC`` in DSQL's grammar::

            CREATE [UNIQUE] INDEX ASYNC [IF NOT EXISTS] name ON table
                (key [NULLS {FIRST|LAST}], ...) [INCLUDE (...)]
                [NULLS [NOT] DISTINCT] [WHERE predicate]

        DSQL has no access methods, sort directions, operator classes or
        storage options, so those PostgreSQL options are refused (``btree``
        is DSQL's own method and is simply omitted).
        """
        index = create.element
        self._verify_index_table(index)
        given = _given_options(index)
        self._refuse_index_options(index, given)
        keys = self._index_keys(index)

        text = "CREATE UNIQUE INDEX ASYNC " if index.unique else "CREATE INDEX ASYNC "
        if create.if_not_exists:
            text += "IF NOT EXISTS "
        text += "%s ON %s (%s)" % (
            self._prepared_index_name(index, include_schema=False),
            self.preparer.format_table(index.table),
            ", ".join(keys),
        )
        text += self._include_clause(index, given.get("include"))
        nulls_not_distinct = given.get("nulls_not_distinct")  # as define_unique_constraint_distinct
        if nulls_not_distinct is True:
            text += " NULLS NOT DISTINCT"
        elif nulls_not_distinct is False:
            text += " NULLS DISTINCT"
        where = given.get("where")
        if where is not None:
            where = self.sql_compiler.process(
                coercions.expect(roles.DDLExpressionRole, where), include_table=False, literal_binds=True
            )
            text += " WHERE " + where
        self.dsql_facts = index_facts(create, text, where, bool(self.schema_translate_map), self._vouching())
        return text

    def _define_include(self, obj: Any) -> str:
        # PostgreSQL's hook (also for constraints, SQLAlchemy 2.1): reads either spelling
        return self._include_clause(obj, dialect_option(obj, "include"))

    def _include_clause(self, obj: Any, include: Any) -> str:
        if not include:
            return ""
        columns = [obj.table.c[c] if isinstance(c, str) else c for c in include]
        return " INCLUDE (%s)" % ", ".join(self.preparer.quote(c.name) for c in columns)

    def _refuse_index_options(self, index: Any, given: dict[str, Any]) -> None:
        subject = f"Index {index.name!r}"
        if given:
            pg = _options(index, "postgresql")
            using = pg.get("using")
            if using and str(using).lower() not in rules.INDEX_ACCESS_METHODS:
                raise DSQLUnsupportedError(f"{subject} (postgresql_using={using!r})", "index-using")
            if pg.get("ops"):
                raise DSQLUnsupportedError(f"{subject} (postgresql_ops)", "index-opclass")
            if pg.get("concurrently"):
                raise DSQLUnsupportedError(f"{subject} (postgresql_concurrently)", "index-concurrently")
            if pg.get("with") or pg.get("tablespace"):
                raise DSQLUnsupportedError(
                    f"{subject} (postgresql_with / postgresql_tablespace)", "index-storage"
                )
        if len(index.expressions) > rules.LIMITS.index_key_columns:
            raise DSQLUnsupportedError(
                f"{subject} ({len(index.expressions)} key columns)", "index-key-columns"
            )

    def _index_keys(self, index: Any) -> list[str]:
        keys = []
        for expr in index.expressions:
            key, removed = _without_sort_direction(expr)
            if removed:
                if self.dialect.strict_index_keys:
                    raise DSQLUnsupportedError(f"Index {index.name!r} (ASC/DESC key)", "index-sort-order")
                violation = Violation("index-sort-order", f"Index {index.name!r} declares a key with ASC/DESC")
                warnings.warn(DSQLSchemaWarning(violation, "The key is emitted without it."), stacklevel=2)
            if isinstance(key, sql_elements.ColumnElement) and key.type is not None:
                family = _dsql_type_family(key.type)
                if family in rules.NON_INDEXABLE_KEY_TYPES:
                    raise DSQLUnsupportedError(
                        f"Index {index.name!r} key of type {family}", "index-key-type"
                    )
            if isinstance(key, sql_elements.CollationClause) or (
                isinstance(key, sql_elements.BinaryExpression) and key.operator is operators.collate
            ):
                raise DSQLUnsupportedError(f"Index {index.name!r} (COLLATE)", "index-collate")
            rendered = self.sql_compiler.process(
                key if isinstance(key, sql_elements.ColumnClause) else key.self_group(),
                include_table=False,
                literal_binds=True,
            )
            keys.append(rendered)
        return keys

    def visit_drop_index(self, drop: Any, **kw: Any) -> str:
        if drop.element.dialect_options["postgresql"].get("concurrently"):
            raise DSQLUnsupportedError(f"DROP INDEX {drop.element.name} CONCURRENTLY", "index-concurrently")
        return super().visit_drop_index(drop, **kw)

    # -- identity and sequences ----------------------------------------------------

    def get_identity_options(self, identity_options: Any) -> str:
        text: str = super().get_identity_options(identity_options)
        cache = identity_options.cache
        if cache is None:
            return f"{text} CACHE {self.dialect.identity_cache}".strip()
        if not rules.is_valid_sequence_cache(cache):
            raise DSQLUnsupportedError(f"CACHE {cache}", "sequence-cache")
        return text

    def visit_create_sequence(self, create: Any, **kw: Any) -> str:  # type: ignore[override]
        sequence = create.element
        _check_cache(f"Sequence {sequence.name!r}", sequence.cache)
        if sequence.data_type is not None and not isinstance(sequence.data_type, sqltypes.Integer):
            raise DSQLUnsupportedError(f"Sequence {sequence.name!r} AS {sequence.data_type}", "identity-type")
        # DSQL sequences are BIGINT only: compile a BIGINT copy (the user's
        # Sequence is left as it is).
        as_bigint = _compat.copy_sequence(sequence)
        as_bigint.data_type = sqltypes.BigInteger()
        return super().visit_create_sequence(
            sa_schema.CreateSequence(as_bigint, if_not_exists=create.if_not_exists), **kw
        )


def postgresql_variant(type_: Any, dialect_name: str) -> Any:
    """``type_.with_variant(..., "postgresql")`` applies to this dialect when the
    type names no variant for it: code written for PostgreSQL keeps its types."""
    variants = _compat.variant_mapping(type_)
    if variants and dialect_name not in variants and "postgresql" in variants:
        return variants["postgresql"]
    return type_


def _check_cache(subject: str, cache: int | None) -> None:
    """Refuse a CACHE DSQL would refuse (it takes 1 or >= 65536), naming the object."""
    if cache is not None and not rules.is_valid_sequence_cache(cache):
        raise DSQLUnsupportedError(f"{subject} (CACHE {cache})", "sequence-cache")


_REFUSED_COLUMN_TYPES: Final = rules.RUNTIME_ONLY_TYPES | rules.UNAVAILABLE_TYPES


def _impl_of(column: Any, dialect: Any) -> Any:
    """The type the dialect emits for ``column`` (a TypeDecorator's own type)."""
    impl = column.type.dialect_impl(dialect)
    return impl.impl_instance if isinstance(impl, sqltypes.TypeDecorator) else impl


def _column_subject(column: Any) -> str:
    return f"Column {column.table.name}.{column.name} ({column.type!r})"


_MAYBE_INTEGER: Final = (sqltypes.Integer, sqltypes.TypeDecorator)


class AuroraDSQLTypeCompiler(pg_base.PGTypeCompiler):
    """Type compiler: enums become VARCHAR; ``with_variant(..., "postgresql")``
    applies when no ``auroradsql`` variant is given."""

    def process(self, type_: Any, **kw: Any) -> str:
        given = type_
        variants = _compat.variant_mapping(given)
        if variants:
            type_ = postgresql_variant(given, self.dialect.name)
        column = kw.get("type_expression")
        if (
            isinstance(column, sa_schema.Column)
            # only an integer (or a type that may stand for one) is widened
            and (
                isinstance(column.type, _MAYBE_INTEGER)
                or (variants if column.type is given else _compat.variant_mapping(column.type))
            )
            and keys.is_widened(column, self.dialect)
        ):
            # DSQL identity columns and sequences are BIGINT, and so must be
            # every column that holds their values (see keys.py).
            return self.visit_BIGINT(sqltypes.BIGINT(), **kw)
        return super().process(type_, **kw)

    def visit_ENUM(self, type_: Any, identifier_preparer: Any = None, **kw: Any) -> str:
        # No CREATE TYPE on DSQL: a native enum is stored as VARCHAR + CHECK.
        return self.visit_VARCHAR(type_, **kw)
