"""What the DDL compiler vouches for, checked against the full parse.

Strict local mode builds the checker's analysis of a compiled CREATE TABLE /
CREATE INDEX from the compiler's facts and checks only the user's
expressions; every case here compares that with the analysis of the whole
text, so a fact the compiler gets wrong, or a statement it vouches for but
should not, fails here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.local.checks import Analysis, analyze
from aurora_dsql_sqlalchemy.local.vouched import analysis_of
from aurora_dsql_sqlalchemy.rules import LIMITS
from sqlalchemy import types as sqltypes
from sqlalchemy.ext.compiler import compiles, deregister
from sqlalchemy.schema import CreateIndex, CreateTable


def _statements(table: sa.Table, dialect: Any) -> list[tuple[str, Any]]:
    """(text, facts) of the table's CREATE TABLE and CREATE INDEX statements."""
    out = []
    for construct in [CreateTable(table), *(CreateIndex(ix) for ix in table.indexes)]:
        compiled = construct.compile(dialect=dialect)
        out.append((compiled.string, compiled.dsql_facts))
    return out


def _summary(analysis: Analysis) -> tuple[Any, ...]:
    return (
        [(v.rule_id, v.subject, v.fields) for v in analysis.errors],
        analysis.created_objects,
        analysis.indexed_tables,
        analysis.primary_keys,
        analysis.kinds,
    )


def _plain(md: sa.MetaData) -> None:
    parent = sa.Table(
        "parent",
        md,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("Name", sa.String(60), nullable=False, unique=True),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("note", sa.Text, server_default="it's 100% here"),
        sa.Column("amount", sa.Numeric(12, 2), server_default=sa.text("0")),
        schema="app",
    )
    sa.Index("ix_parent_name", parent.c.Name, parent.c.created)
    sa.Index("ix_parent_open", parent.c.amount, postgresql_where=parent.c.amount > 0)
    child = sa.Table(
        "Child",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.BigInteger, sa.ForeignKey("app.parent.id", ondelete="CASCADE")),
        sa.Column("kind", sa.Enum("a", "b", name="kind")),
        sa.Column("flag", sa.Boolean, server_default=sa.true()),
        sa.Column("u", sa.Uuid, server_default=sa.text("gen_random_uuid()")),
        sa.Column("at", sa.Time),
        sa.Column("ratio", sa.Float),
        sa.UniqueConstraint("parent_id", "kind"),
    )
    sa.Index("uq_child_u", child.c.u, unique=True, auroradsql_include=["flag"])
    sa.Table("pair", md, sa.Column("a", sa.Integer, primary_key=True), sa.Column("b", sa.Integer, primary_key=True))


def _refused_default(md: sa.MetaData) -> None:
    sa.Table("t", md, sa.Column("id", sa.BigInteger, primary_key=True),
             sa.Column("pid", sa.Integer, server_default=sa.text("pg_backend_pid()")))


def _refused_where(md: sa.MetaData) -> None:
    t = sa.Table("t", md, sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("x", sa.Integer))
    sa.Index("ix_t_x", t.c.x, postgresql_where=sa.text("pg_advisory_lock(1) IS NOT NULL"))


@pytest.mark.parametrize("build", [_plain, _refused_default, _refused_where])
def test_vouched_analysis_is_the_full_parse(build: Callable[[sa.MetaData], None], dialect: Any) -> None:
    md = sa.MetaData()
    build(md)
    vouched = 0
    for table in md.sorted_tables:
        for sql, facts in _statements(table, dialect):
            built = analysis_of(facts, sql, LIMITS)
            if built is not None:
                vouched += 1
                assert _summary(built) == _summary(analyze(sql)), sql
    assert vouched == sum(1 + len(t.indexes) for t in md.tables.values())


def test_a_refused_expression_is_still_refused(dialect: Any) -> None:
    for build, rule_id in ((_refused_default, "session-function"), (_refused_where, "advisory-lock")):
        md = sa.MetaData()
        build(md)
        found = [
            v.rule_id
            for table in md.sorted_tables
            for sql, facts in _statements(table, dialect)
            for v in analysis_of(facts, sql, LIMITS).errors  # type: ignore[union-attr]
        ]
        assert found == [rule_id]


class _Point(sqltypes.UserDefinedType[Any]):
    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "point"


class _Wrapped(sqltypes.TypeDecorator[Any]):
    impl = sqltypes.String(10)
    cache_ok = True


class _CompiledString(sqltypes.String):
    pass


@compiles(_CompiledString, "auroradsql")
def _compile_as_money(element: Any, compiler: Any, **kw: Any) -> str:
    return "money"


@pytest.mark.parametrize(
    ("column", "extra"),
    [
        (sa.Column("p", _Point()), ()),
        (sa.Column("w", _Wrapped()), ()),
        (sa.Column("m", _CompiledString(10)), ()),
        (sa.Column("n", sa.Numeric()), ()),
        (sa.Column("g", sa.Integer, sa.Computed("id * 2")), ()),
        (sa.Column("v", sa.String(10).with_variant(sa.Text(), "postgresql")), ()),
        (sa.Column("c", sa.Integer), (sa.CheckConstraint("c > 0"),)),
        (sa.Column("b", sa.Boolean(create_constraint=True)), ()),
        (sa.Column("d", sa.Integer, server_default=sa.text("1 -- rest")), ()),
        (sa.Column("e", sa.Integer, server_default=sa.text("1); SELECT (1")), ()),
    ],
)
def test_what_the_compiler_does_not_vouch_for(column: sa.Column[Any], extra: tuple[Any, ...], dialect: Any) -> None:
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.BigInteger, primary_key=True), column, *extra)
    compiled = CreateTable(table).compile(dialect=dialect)
    assert analysis_of(compiled.dsql_facts, compiled.string, LIMITS) is None


def test_table_options_prefixes_and_key_expressions_are_parsed(dialect: Any) -> None:
    md = sa.MetaData()
    prefixed = sa.Table("p", md, sa.Column("id", sa.BigInteger, primary_key=True), prefixes=["IF NOT EXISTS"])
    lowered = sa.Index("ix_lower", sa.func.lower(prefixed.c.id))
    lowered._set_parent(prefixed)
    table = CreateTable(prefixed).compile(dialect=dialect)
    index = CreateIndex(lowered).compile(dialect=dialect)
    assert analysis_of(table.dsql_facts, table.string, LIMITS) is None
    assert analysis_of(index.dsql_facts, index.string, LIMITS) is None
    assert index.dsql_facts.job == "index" and "ASYNC" not in index.dsql_facts.local_sql


def test_a_lower_configured_limit_is_left_to_the_parse(dialect: Any) -> None:
    table = sa.Table("t", sa.MetaData(), *(sa.Column(f"c{i}", sa.Integer) for i in range(5)))
    compiled = CreateTable(table).compile(dialect=dialect)
    tight = dataclasses.replace(LIMITS, columns_per_table=4)
    assert analysis_of(compiled.dsql_facts, compiled.string, tight) is None
    assert [v.rule_id for v in analyze(compiled.string, tight).errors] == ["columns-per-table"]


def test_a_compiles_override_of_the_construct_is_parsed(dialect: Any) -> None:
    @compiles(sa.schema.CreateColumn, "auroradsql")
    def _column(element: Any, compiler: Any, **kw: Any) -> str:
        return compiler.visit_create_column(element, **kw)

    try:
        table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.BigInteger, primary_key=True))
        compiled = CreateTable(table).compile(dialect=dialect)
        assert analysis_of(compiled.dsql_facts, compiled.string, LIMITS) is None
    finally:
        deregister(sa.schema.CreateColumn)


def test_names_set_afterwards_as_plain_strings(dialect: Any) -> None:
    """Libraries (Celery's result backend) set ``Table.schema`` after the fact, as a str."""
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.BigInteger, primary_key=True))
    table.schema = "results"
    compiled = CreateTable(table).compile(dialect=dialect)
    built = analysis_of(compiled.dsql_facts, compiled.string, LIMITS)
    assert built is not None and _summary(built) == _summary(analyze(compiled.string))


def _long_keys(md: sa.MetaData) -> None:
    tags = sa.Table("tags", md, sa.Column("name", sa.Text, primary_key=True))
    sa.Index("ix_tags_name", tags.c.name)
    docs = sa.Table(
        "docs", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("title", sa.String(500)),
        sa.Column("code", sa.String(60), unique=True), schema="App",
    )
    sa.Index("ix_docs_title", docs.c.title)  # 500 characters of up to 4 bytes, with the key's 4


def test_only_keys_that_can_outgrow_the_limit_are_checked_on_the_server(dialect: Any) -> None:
    """The compiler knows from the column types which keys fit under DSQL's
    key size: for those strict mode sends no key-size check; for the others
    it names the table as the full parse does."""
    checked = {}
    for build in (_plain, _long_keys):
        md = sa.MetaData()
        build(md)
        for table in md.sorted_tables:
            for sql, facts in _statements(table, dialect):
                built = analysis_of(facts, sql, LIMITS)
                assert built is not None, sql
                if built.key_tables:
                    assert built.key_tables == analyze(sql).key_tables
                checked[sql.split("(")[0].strip()] = built.key_tables
    assert {statement: tables for statement, tables in checked.items() if tables} == {
        "CREATE TABLE tags": ('"tags"',),
        "CREATE INDEX ASYNC ix_tags_name ON tags": ('"tags"',),
        'CREATE INDEX ASYNC ix_docs_title ON "App".docs': ('"App"."docs"',),
    }
    relaxed = dataclasses.replace(LIMITS, index_key_bytes=100)  # a lower limit: String(60) keys count
    md = sa.MetaData()
    _long_keys(md)
    create = next(sql_facts for sql_facts in _statements(md.tables["App.docs"], dialect))
    assert analysis_of(create[1], create[0], relaxed).key_tables == ('"App"."docs"',)  # type: ignore[union-attr]


def test_an_index_on_a_table_without_a_known_primary_key_is_checked(dialect: Any) -> None:
    """Alembic's ``op.create_index`` compiles against a stub table with no
    primary key: the real key's size is unknown, so the server checks it."""
    stub = sa.Table("t", sa.MetaData(), sa.Column("code", sa.String(10)))
    sql, facts = _statements(stub, dialect)[0]  # the CREATE TABLE: no key at all
    assert analysis_of(facts, sql, LIMITS).key_tables == ()  # type: ignore[union-attr]
    index = sa.Index("ix_t_code", stub.c.code)
    compiled = CreateIndex(index).compile(dialect=dialect)
    assert analysis_of(compiled.dsql_facts, compiled.string, LIMITS).key_tables == ('"t"',)  # type: ignore[union-attr]


def test_an_integer_key_counts_as_the_bigint_the_dialect_makes_it(dialect: Any) -> None:
    """An autoincrement Integer key is created as BIGINT (8 bytes): a
    varchar(499) key (1,996 bytes) with it can reach 2,004 bytes, so the
    server must check it, though 1,996 + 4 would fit."""
    table = sa.Table(
        "wide", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("code", sa.String(499))
    )
    sa.Index("ix_wide_code", table.c.code)
    create_table, create_index = _statements(table, dialect)
    assert "BIGINT" in create_table[0]
    assert analysis_of(create_index[1], create_index[0], LIMITS).key_tables == ('"wide"',)  # type: ignore[union-attr]
