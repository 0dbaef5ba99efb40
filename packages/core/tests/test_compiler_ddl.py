"""DDL the dialect emits for Aurora DSQL, checked as text (no database).

Each test states one thing DSQL demands (see ``aurora_dsql_sqlalchemy.rules``,
which cites AWS's documentation and live-cluster results) and the exact SQL
that satisfies it.
"""

from __future__ import annotations

import copy
import re
import warnings
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.compiler import DSQLSchemaWarning
from aurora_dsql_sqlalchemy.errors import DSQLUnsupportedError
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.schema import (
    AddConstraint,
    CreateIndex,
    CreateSequence,
    CreateTable,
    DropIndex,
)


def sql(element: object, dialect: Any) -> str:
    """The compiled DDL with runs of whitespace collapsed to one space."""
    return " ".join(str(element.compile(dialect=dialect)).split())  # type: ignore[attr-defined]


def refused(element: object, dialect: Any, rule_id: str) -> DSQLUnsupportedError:
    """Compile, expect a DSQLUnsupportedError for ``rule_id``, return it."""
    with pytest.raises(DSQLUnsupportedError) as info:
        element.compile(dialect=dialect)  # type: ignore[attr-defined]
    error = info.value
    assert isinstance(error, sa_exc.CompileError)
    assert error.rule.id == rule_id
    message = str(error)
    assert f"rule {rule_id}" in message
    assert error.rule.advice in message  # what to do instead
    return error


def installed_driver_url() -> str:
    """An ``auroradsql`` URL for whichever driver distribution is installed: the core's
    tests run in environments with only one of them."""
    import importlib.util

    for driver in ("psycopg", "psycopg2"):
        # the core registers both names; the driver distribution's package is what counts
        package = f"aurora_dsql_sqlalchemy_{driver}"
        if importlib.util.find_spec(package) and importlib.util.find_spec(driver):
            return f"auroradsql+{driver}://u@h/postgres"
    pytest.skip("no auroradsql driver distribution is installed")


def mock_connection(dialect: Any, executor: Any) -> Any:
    """create_mock_engine() without a URL (and so without a driver)."""
    from sqlalchemy.engine.mock import MockConnection

    return MockConnection(dialect, executor)


@pytest.fixture
def table() -> sa.Table:
    return sa.Table(
        "table",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50)),
        sa.Column("email", sa.String(100)),
        sa.Column("column", sa.Integer),
        sa.Column("x", sa.Integer),
        sa.Column("doc", pg.JSONB),
    )


# -- indexes ---------------------------------------------------------------------------


def test_include_index_exact(table: sa.Table, dialect: Any) -> None:
    index = sa.Index("include_index", table.c.id, auroradsql_include=["name", "email"])
    assert sql(CreateIndex(index), dialect) == (
        'CREATE INDEX ASYNC include_index ON "table" (id) INCLUDE (name, email)'
    )


def test_unique_nulls_not_distinct_exact(table: sa.Table, dialect: Any) -> None:
    index = sa.Index("idx_name", table.c.column, unique=True, auroradsql_nulls_not_distinct=True)
    assert sql(CreateIndex(index), dialect) == (
        'CREATE UNIQUE INDEX ASYNC idx_name ON "table" ("column") NULLS NOT DISTINCT'
    )


def test_nulls_distinct_false_is_explicit(table: sa.Table, dialect: Any) -> None:
    index = sa.Index("ix", table.c.x, unique=True, auroradsql_nulls_not_distinct=False)
    assert (
        sql(CreateIndex(index), dialect)
        == 'CREATE UNIQUE INDEX ASYNC ix ON "table" (x) NULLS DISTINCT'
    )


@pytest.mark.parametrize("unique", [False, True])
def test_every_index_is_async(table: sa.Table, dialect: Any, unique: bool) -> None:
    text = sql(CreateIndex(sa.Index("ix", table.c.name, unique=unique)), dialect)
    expected = "CREATE UNIQUE INDEX ASYNC" if unique else "CREATE INDEX ASYNC"
    assert text == f'{expected} ix ON "table" (name)'


def test_index_if_not_exists(table: sa.Table, dialect: Any) -> None:
    text = sql(CreateIndex(sa.Index("ix", table.c.name), if_not_exists=True), dialect)
    assert text == 'CREATE INDEX ASYNC IF NOT EXISTS ix ON "table" (name)'


def test_indexes_of_a_table_are_async(dialect: Any) -> None:
    metadata = sa.MetaData()
    t = sa.Table(
        "t",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a", sa.Integer, index=True),
        sa.Column("b", sa.Integer, unique=True),
        sa.Index("ix_ab", "a", "b"),
    )
    texts = [sql(CreateIndex(ix), dialect) for ix in sorted(t.indexes, key=lambda i: str(i.name))]
    assert texts == [
        "CREATE INDEX ASYNC ix_ab ON t (a, b)",
        "CREATE INDEX ASYNC ix_t_a ON t (a)",
    ]
    # unique=True on a column stays an inline UNIQUE constraint (built synchronously)
    assert "UNIQUE (b)" in sql(CreateTable(t), dialect)


def test_partial_index_keeps_where(table: sa.Table, dialect: Any) -> None:
    index = sa.Index("ix_active", table.c.name, auroradsql_where=table.c.x > 5)
    assert (
        sql(CreateIndex(index), dialect)
        == 'CREATE INDEX ASYNC ix_active ON "table" (name) WHERE x > 5'
    )


def test_partial_index_literal_is_escaped(table: sa.Table, dialect: Any) -> None:
    index = sa.Index("ix_w", table.c.name, auroradsql_where=table.c.email != "o'hara")
    assert sql(CreateIndex(index), dialect) == (
        "CREATE INDEX ASYNC ix_w ON \"table\" (name) WHERE email != 'o''hara'"
    )


def test_full_grammar_order(table: sa.Table, dialect: Any) -> None:
    index = sa.Index(
        "ix_all",
        table.c.name.nulls_last(),
        unique=True,
        auroradsql_include=["email"],
        auroradsql_nulls_not_distinct=True,
        auroradsql_where=table.c.x.is_not(None),
    )
    assert sql(CreateIndex(index), dialect) == (
        'CREATE UNIQUE INDEX ASYNC ix_all ON "table" (name NULLS LAST) INCLUDE (email) '
        "NULLS NOT DISTINCT WHERE x IS NOT NULL"
    )


def test_nulls_first_key(table: sa.Table, dialect: Any) -> None:
    index = sa.Index("ix_nf", table.c.x.nulls_first())
    assert sql(CreateIndex(index), dialect) == 'CREATE INDEX ASYNC ix_nf ON "table" (x NULLS FIRST)'


def test_expression_index(table: sa.Table, dialect: Any) -> None:
    index = sa.Index("ix_lower", sa.func.lower(table.c.email))
    assert (
        sql(CreateIndex(index), dialect) == 'CREATE INDEX ASYNC ix_lower ON "table" (lower(email))'
    )
    index = sa.Index("ix_sum", table.c.x + table.c.column)
    assert (
        sql(CreateIndex(index), dialect) == 'CREATE INDEX ASYNC ix_sum ON "table" ((x + "column"))'
    )


def test_expression_index_on_json_field(table: sa.Table, dialect: Any) -> None:
    # a jsonb column cannot be a key, an immutable expression of it can
    index = sa.Index("ix_doc_kind", table.c.doc["kind"].astext)
    assert (
        sql(CreateIndex(index), dialect)
        == "CREATE INDEX ASYNC ix_doc_kind ON \"table\" ((doc ->> 'kind'))"
    )


def test_btree_using_is_omitted(table: sa.Table, dialect: Any) -> None:
    for using in ("btree", "BTREE"):
        index = sa.Index("ix", table.c.name, postgresql_using=using)
        assert sql(CreateIndex(index), dialect) == 'CREATE INDEX ASYNC ix ON "table" (name)'


@pytest.mark.parametrize("method", ["gin", "gist", "hash", "brin", "spgist"])
def test_other_index_methods_refused(table: sa.Table, dialect: Any, method: str) -> None:
    error = refused(
        CreateIndex(sa.Index("ix_m", table.c.name, postgresql_using=method)), dialect, "index-using"
    )
    assert "ix_m" in str(error) and method in str(error)


@pytest.mark.parametrize(
    "make_key", [lambda c: c.desc(), lambda c: c.asc(), lambda c: c.desc().nulls_last()]
)
def test_sort_direction_dropped_with_warning(
    table: sa.Table, dialect: Any, make_key: object
) -> None:
    index = sa.Index("ix_desc", make_key(table.c.x))  # type: ignore[operator]
    with pytest.warns(DSQLSchemaWarning) as record:
        text = sql(CreateIndex(index), dialect)
    assert text in (
        'CREATE INDEX ASYNC ix_desc ON "table" (x)',
        'CREATE INDEX ASYNC ix_desc ON "table" (x NULLS LAST)',
    )
    assert "DESC" not in text and "ASC" not in text
    message = str(record[0].message)
    assert "ix_desc" in message and "index-sort-order" in message


def test_sort_direction_strict_is_an_error(table: sa.Table, dialect_factory: type) -> None:
    strict = dialect_factory(strict_index_keys=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        error = refused(
            CreateIndex(sa.Index("ix_desc", table.c.x.desc())), strict, "index-sort-order"
        )
    assert "ix_desc" in str(error)


def test_strict_index_keys_from_create_engine() -> None:
    engine = sa.create_engine(installed_driver_url(), strict_index_keys=True)
    assert engine.dialect.strict_index_keys is True  # type: ignore[attr-defined]
    engine = sa.create_engine(installed_driver_url())
    assert engine.dialect.strict_index_keys is False  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("option", "value", "rule_id"),
    [
        ("postgresql_ops", {"name": "text_pattern_ops"}, "index-opclass"),
        ("postgresql_concurrently", True, "index-concurrently"),
        ("postgresql_with", {"fillfactor": 50}, "index-storage"),
        ("postgresql_tablespace", "fast", "index-storage"),
    ],
)
def test_refused_index_options(
    table: sa.Table, dialect: Any, option: str, value: Any, rule_id: str
) -> None:
    error = refused(
        CreateIndex(sa.Index("ix_o", table.c.name, **{option: value})), dialect, rule_id
    )
    assert "ix_o" in str(error) and option in str(error)


def test_drop_index_concurrently_refused(table: sa.Table, dialect: Any) -> None:
    index = sa.Index("ix_c", table.c.name, postgresql_concurrently=True)
    refused(DropIndex(index), dialect, "index-concurrently")
    assert sql(DropIndex(sa.Index("ix_p", table.c.name)), dialect) == "DROP INDEX ix_p"


def test_index_collate_refused(table: sa.Table, dialect: Any) -> None:
    refused(CreateIndex(sa.Index("ix_coll", table.c.name.collate("C"))), dialect, "index-collate")


def test_at_most_eight_key_columns(dialect: Any) -> None:
    t = sa.Table("wide", sa.MetaData(), *[sa.Column(f"c{i}", sa.Integer) for i in range(10)])
    eight = sa.Index("ix_8", *[t.c[f"c{i}"] for i in range(8)])
    assert sql(CreateIndex(eight), dialect).startswith("CREATE INDEX ASYNC ix_8 ON wide (c0, c1")
    # INCLUDE columns do not count
    with_include = sa.Index(
        "ix_8i", *[t.c[f"c{i}"] for i in range(8)], auroradsql_include=["c8", "c9"]
    )
    assert sql(CreateIndex(with_include), dialect).endswith("INCLUDE (c8, c9)")
    nine = sa.Index("ix_9", *[t.c[f"c{i}"] for i in range(9)])
    error = refused(CreateIndex(nine), dialect, "index-key-columns")
    assert "ix_9" in str(error) and "9" in str(error)
    assert error.rule.sqlstate == "54011"


@pytest.mark.parametrize(
    ("type_", "family"),
    [
        (sa.JSON(), "json"),
        (pg.JSONB(), "jsonb"),
        (sa.LargeBinary(), "bytea"),
        (sa.Interval(), "interval"),
        (sa.Time(timezone=True), "time with time zone"),
    ],
)
def test_non_indexable_key_types(dialect: Any, type_: Any, family: str) -> None:
    t = sa.Table(
        "k", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", type_)
    )
    error = refused(CreateIndex(sa.Index("ix_v", t.c.v)), dialect, "index-key-type")
    assert "ix_v" in str(error) and family in str(error)
    # ... but they may be INCLUDE columns
    assert sql(CreateIndex(sa.Index("ix_i", t.c.id, auroradsql_include=["v"])), dialect) == (
        "CREATE INDEX ASYNC ix_i ON k (id) INCLUDE (v)"
    )


# -- postgresql_* aliases and variants -----------------------------------------------------


def test_postgresql_aliases_are_honoured(table: sa.Table, dialect: Any) -> None:
    index = sa.Index(
        "ix_pg",
        table.c.name,
        unique=True,
        postgresql_using="btree",
        postgresql_include=["email"],
        postgresql_where=table.c.x > 1,
        postgresql_nulls_not_distinct=True,
    )
    assert sql(CreateIndex(index), dialect) == (
        'CREATE UNIQUE INDEX ASYNC ix_pg ON "table" (name) INCLUDE (email) NULLS NOT DISTINCT WHERE x > 1'
    )


def test_auroradsql_option_wins_over_alias(table: sa.Table, dialect: Any) -> None:
    index = sa.Index(
        "ix_both",
        table.c.name,
        unique=True,
        postgresql_include=["email"],
        auroradsql_include=["x"],
        postgresql_where=table.c.x > 1,
        auroradsql_where=table.c.x > 2,
        postgresql_nulls_not_distinct=True,
        auroradsql_nulls_not_distinct=False,
    )
    assert sql(CreateIndex(index), dialect) == (
        'CREATE UNIQUE INDEX ASYNC ix_both ON "table" (name) INCLUDE (x) NULLS DISTINCT WHERE x > 2'
    )


def test_include_accepts_column_objects(table: sa.Table, dialect: Any) -> None:
    index = sa.Index("ix_obj", table.c.id, auroradsql_include=[table.c.email, "name"])
    assert (
        sql(CreateIndex(index), dialect)
        == 'CREATE INDEX ASYNC ix_obj ON "table" (id) INCLUDE (email, name)'
    )


def test_postgresql_variant_applies_without_auroradsql_variant(dialect: Any) -> None:
    t = sa.Table(
        "v",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("doc", sa.JSON().with_variant(pg.JSONB(), "postgresql")),
        sa.Column("tags", pg.ARRAY(sa.Text).with_variant(sa.Text(), "auroradsql")),
        sa.Column(
            "both",
            sa.String(5)
            .with_variant(sa.String(10), "postgresql")
            .with_variant(sa.String(20), "auroradsql"),
        ),
    )
    text = sql(CreateTable(t), dialect)
    assert "doc JSONB" in text
    assert "tags TEXT" in text
    assert '"both" VARCHAR(20)' in text  # BOTH is reserved: quoted


# -- keys: UUID, identity, sequences ---------------------------------------------------------


def test_uuid_key_client_default(dialect: Any) -> None:
    t = sa.Table(
        "u",
        sa.MetaData(),
        sa.Column(
            "id", pg.UUID(as_uuid=True), primary_key=True, default=sa.text("gen_random_uuid()")
        ),
    )
    assert sql(CreateTable(t), dialect) == "CREATE TABLE u ( id UUID NOT NULL, PRIMARY KEY (id) )"


def test_uuid_key_server_default(dialect: Any) -> None:
    t = sa.Table(
        "u",
        sa.MetaData(),
        sa.Column("id", sa.Uuid, primary_key=True, server_default=sa.func.gen_random_uuid()),
    )
    assert sql(CreateTable(t), dialect) == (
        "CREATE TABLE u ( id UUID DEFAULT gen_random_uuid() NOT NULL, PRIMARY KEY (id) )"
    )


@pytest.mark.parametrize("type_", [sa.Integer, sa.SmallInteger, sa.BigInteger])
def test_integer_autoincrement_key_is_bigint_identity(dialect: Any, type_: type) -> None:
    t = sa.Table(
        "i", sa.MetaData(), sa.Column("id", type_, primary_key=True), sa.Column("v", sa.Text)
    )
    text = sql(CreateTable(t), dialect)
    assert text == (
        "CREATE TABLE i ( id BIGINT GENERATED BY DEFAULT AS IDENTITY (CACHE 1), v TEXT, PRIMARY KEY (id) )"
    )
    assert "SERIAL" not in text


def test_identity_cache_is_a_dialect_option(dialect_factory: type) -> None:
    t = sa.Table("i", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    assert "IDENTITY (CACHE 1)" in sql(CreateTable(t), dialect_factory(identity_cache=1))
    assert "IDENTITY (CACHE 100000)" in sql(CreateTable(t), dialect_factory(identity_cache=100000))
    engine = sa.create_engine(installed_driver_url(), identity_cache=70000)
    assert "IDENTITY (CACHE 70000)" in sql(CreateTable(t), engine.dialect)


@pytest.mark.parametrize("cache", [0, 2, 100, 65535])
def test_invalid_default_identity_cache_refused(dialect_factory: type, cache: int) -> None:
    with pytest.raises(DSQLUnsupportedError) as info:
        dialect_factory(identity_cache=cache)
    assert info.value.rule.id == "sequence-cache"


def test_explicit_identity_any_integer_becomes_bigint(dialect: Any) -> None:
    t = sa.Table(
        "ids",
        sa.MetaData(),
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("small", sa.SmallInteger, sa.Identity(always=True, cache=1)),
        sa.Column("big", sa.BigInteger, sa.Identity(start=10, increment=5, cache=70000)),
    )
    text = sql(CreateTable(t), dialect)
    assert "id BIGINT GENERATED BY DEFAULT AS IDENTITY (CACHE 1)" in text
    assert "small BIGINT GENERATED ALWAYS AS IDENTITY (CACHE 1)" in text
    assert (
        "big BIGINT GENERATED BY DEFAULT AS IDENTITY (INCREMENT BY 5 START WITH 10 CACHE 70000)"
        in text
    )


def test_identity_on_non_integer_refused(dialect: Any) -> None:
    t = sa.Table(
        "n", sa.MetaData(), sa.Column("id", sa.Numeric(10, 0), sa.Identity(), primary_key=True)
    )
    refused(CreateTable(t), dialect, "identity-type")


@pytest.mark.parametrize("cache", [2, 10, 1000, 65535])
def test_identity_cache_between_2_and_65535_refused(dialect: Any, cache: int) -> None:
    t = sa.Table(
        "c",
        sa.MetaData(),
        sa.Column("id", sa.BigInteger, sa.Identity(cache=cache), primary_key=True),
    )
    error = refused(CreateTable(t), dialect, "sequence-cache")
    assert "c.id" in str(error) and f"CACHE {cache}" in str(error)


def test_sequence_as_bigint_with_cache(dialect: Any) -> None:
    assert (
        sql(CreateSequence(sa.Sequence("s")), dialect) == "CREATE SEQUENCE s AS BIGINT CACHE 1"
    )
    assert sql(CreateSequence(sa.Sequence("s", data_type=sa.Integer)), dialect) == (
        "CREATE SEQUENCE s AS BIGINT CACHE 1"
    )
    assert sql(CreateSequence(sa.Sequence("s", start=5, cache=1)), dialect) == (
        "CREATE SEQUENCE s AS BIGINT START WITH 5 CACHE 1"
    )
    assert sql(CreateSequence(sa.Sequence("s", cache=65536 * 2)), dialect) == (
        "CREATE SEQUENCE s AS BIGINT CACHE 131072"
    )


@pytest.mark.parametrize("cache", [2, 64, 65535])
def test_sequence_cache_between_2_and_65535_refused(dialect: Any, cache: int) -> None:
    error = refused(CreateSequence(sa.Sequence("seq_bad", cache=cache)), dialect, "sequence-cache")
    assert "seq_bad" in str(error)


def test_sequence_of_non_integer_refused(dialect: Any) -> None:
    sequence = sa.Sequence("s", data_type=sa.Numeric(10, 0))  # type: ignore[arg-type]
    refused(CreateSequence(sequence), dialect, "identity-type")


def test_compiler_does_not_mutate_user_objects(dialect: Any) -> None:
    metadata = sa.MetaData()
    identity = sa.Identity()
    sequence = sa.Sequence("s_seq", data_type=sa.Integer)
    t = sa.Table(
        "m",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ident", sa.SmallInteger, identity),
        sa.Column("seq", sa.Integer, sequence),
        sa.Column("kind", sa.Enum("a", "b", name="kind")),
    )
    index = sa.Index("ix_m", t.c.seq.desc(), auroradsql_include=["kind"])
    before = (
        [(c.name, repr(c.type), c.autoincrement, c.nullable) for c in t.columns],
        (identity.cache, identity.start),
        (sequence.cache, repr(sequence.data_type)),
        list(index.expressions),
        copy.copy(index.dialect_options["auroradsql"]._non_defaults),
        set(t.constraints),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DSQLSchemaWarning)
        for _ in range(2):  # and compiling twice gives the same SQL
            sql(CreateTable(t), dialect)
            sql(CreateSequence(sequence), dialect)
            sql(CreateIndex(index), dialect)
    after = (
        [(c.name, repr(c.type), c.autoincrement, c.nullable) for c in t.columns],
        (identity.cache, identity.start),
        (sequence.cache, repr(sequence.data_type)),
        list(index.expressions),
        copy.copy(index.dialect_options["auroradsql"]._non_defaults),
        set(t.constraints),
    )
    assert before[0] == after[0]
    assert before[1:3] == after[1:3]
    assert [str(e) for e in before[3]] == [str(e) for e in after[3]]
    assert before[4] == after[4]
    assert before[5] == after[5]
    assert isinstance(t.c.ident.type, sa.SmallInteger)
    assert identity.cache is None and sequence.cache is None


def test_composite_key_columns_never_identity(dialect: Any) -> None:
    t = sa.Table(
        "comp",
        sa.MetaData(),
        sa.Column("a", sa.Integer, primary_key=True),
        sa.Column("b", sa.Integer, primary_key=True, autoincrement=True),
    )
    text = sql(CreateTable(t), dialect)
    assert "IDENTITY" not in text and "SERIAL" not in text
    assert "a INTEGER NOT NULL" in text and "b INTEGER NOT NULL" in text


@pytest.mark.parametrize("autoincrement", ["auto", True])
def test_integer_foreign_key_key_never_identity(dialect: Any, autoincrement: Any) -> None:
    metadata = sa.MetaData()
    sa.Table("parent", metadata, sa.Column("id", sa.Integer, primary_key=True))
    child = sa.Table(
        "child",
        metadata,
        sa.Column(
            "id",
            sa.Integer,
            sa.ForeignKey("parent.id"),
            primary_key=True,
            autoincrement=autoincrement,
        ),
    )
    text = sql(CreateTable(child), dialect)
    assert "IDENTITY" not in text and "SERIAL" not in text
    # it carries the parent's BIGINT identity values, so it is BIGINT too
    assert text.startswith("CREATE TABLE child ( id BIGINT NOT NULL, PRIMARY KEY (id)")


def test_autoincrement_false_stays_integer(dialect: Any) -> None:
    t = sa.Table(
        "plain", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True, autoincrement=False)
    )
    assert (
        sql(CreateTable(t), dialect)
        == "CREATE TABLE plain ( id INTEGER NOT NULL, PRIMARY KEY (id) )"
    )


# -- foreign keys and constraints added later ---------------------------------------------------


@pytest.fixture
def parent_child() -> tuple[sa.Table, sa.Table]:
    metadata = sa.MetaData()
    parent = sa.Table(
        "parent", metadata, sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True)
    )
    child = sa.Table(
        "child",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "parent_id",
            sa.BigInteger,
            sa.ForeignKey("parent.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    return parent, child


def test_foreign_keys_inline_by_default(
    parent_child: tuple[sa.Table, sa.Table], dialect: Any
) -> None:
    _, child = parent_child
    assert "FOREIGN KEY(parent_id) REFERENCES parent (id) ON DELETE CASCADE" in sql(
        CreateTable(child), dialect
    )


def test_foreign_keys_false_omits_them(
    parent_child: tuple[sa.Table, sa.Table], dialect_factory: type
) -> None:
    _, child = parent_child
    no_fk = dialect_factory(foreign_keys=False)
    text = sql(CreateTable(child), no_fk)
    assert "FOREIGN KEY" not in text and "REFERENCES" not in text
    assert text == (
        "CREATE TABLE child ( id BIGINT GENERATED BY DEFAULT AS IDENTITY (CACHE 1), "
        "parent_id BIGINT NOT NULL, PRIMARY KEY (id) )"
    )
    fk = next(iter(child.foreign_key_constraints))
    fk.name = "fk_child_parent"
    try:
        assert sql(AddConstraint(fk), no_fk) == ""
    finally:
        fk.name = None
    engine = sa.create_engine(installed_driver_url(), foreign_keys=False)
    assert engine.dialect.foreign_keys is False  # type: ignore[attr-defined]


def test_add_foreign_key_not_valid_then_validate(
    parent_child: tuple[sa.Table, sa.Table], dialect: Any
) -> None:
    parent, child = parent_child
    fk = sa.ForeignKeyConstraint(["parent_id"], [parent.c.id], name="fk_late")
    child.append_constraint(fk)
    compiled = AddConstraint(fk).compile(dialect=dialect)
    assert " ".join(str(compiled).split()) == (
        "ALTER TABLE child ADD CONSTRAINT fk_late FOREIGN KEY(parent_id) REFERENCES parent (id) NOT VALID"
    )
    assert compiled.followup_statements == ["ALTER TABLE ASYNC child VALIDATE CONSTRAINT fk_late"]  # type: ignore[attr-defined]


def test_add_check_not_valid_then_validate(dialect: Any) -> None:
    t = sa.Table(
        "t",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer),
    )
    check = sa.CheckConstraint("n > 0", name="ck_n_positive", table=t)
    compiled = AddConstraint(check).compile(dialect=dialect)
    assert str(compiled) == "ALTER TABLE t ADD CONSTRAINT ck_n_positive CHECK (n > 0) NOT VALID"
    assert compiled.followup_statements == ["ALTER TABLE ASYNC t VALIDATE CONSTRAINT ck_n_positive"]  # type: ignore[attr-defined]


def test_add_unnamed_constraint_refused(dialect: Any) -> None:
    t = sa.Table(
        "t",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer),
    )
    check = sa.CheckConstraint("n > 0", table=t)
    error = refused(AddConstraint(check), dialect, "add-constraint")
    assert "name" in str(error)


def test_add_unique_or_primary_key_refused(dialect: Any) -> None:
    t = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer), sa.Column("n", sa.Integer))
    refused(AddConstraint(sa.UniqueConstraint(t.c.n, name="uq_n")), dialect, "add-constraint")
    refused(
        AddConstraint(sa.PrimaryKeyConstraint(t.c.id, name="pk_t")), dialect, "primary-key-change"
    )


def _mock_ddl(metadata: sa.MetaData, dialect: Any) -> list[tuple[str, list[str]]]:
    """Run create_all on a mock connection: the statements and their followups."""
    out: list[tuple[str, list[str]]] = []

    def dump(element: Any, *multiparams: Any, **params: Any) -> None:
        compiled = element.compile(dialect=dialect)
        out.append((" ".join(str(compiled).split()), getattr(compiled, "followup_statements", [])))

    metadata.create_all(mock_connection(dialect, dump), checkfirst=False)
    return out


def test_create_all_cycle_uses_not_valid_and_validate(dialect: Any) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "a",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("b_id", sa.Integer, sa.ForeignKey("b.id", name="fk_a_b", use_alter=True)),
    )
    sa.Table(
        "b",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a_id", sa.Integer, sa.ForeignKey("a.id", name="fk_b_a")),
    )
    statements = _mock_ddl(metadata, dialect)
    assert statements[-1] == (
        "ALTER TABLE a ADD CONSTRAINT fk_a_b FOREIGN KEY(b_id) REFERENCES b (id) NOT VALID",
        ["ALTER TABLE ASYNC a VALIDATE CONSTRAINT fk_a_b"],
    )
    create_b = next(s for s, _ in statements if s.startswith("CREATE TABLE b"))
    assert "CONSTRAINT fk_b_a FOREIGN KEY(a_id) REFERENCES a (id)" in create_b
    assert "NOT VALID" not in create_b


# -- tables and types ------------------------------------------------------------------------


def test_enum_is_varchar_with_check(dialect: Any) -> None:
    t = sa.Table(
        "pets",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.Enum("cat", "dog", "hamster", name="pet_kind")),
    )
    text = sql(CreateTable(t), dialect)
    assert "kind VARCHAR(7)" in text
    assert "CHECK (kind IN ('cat', 'dog', 'hamster'))" in text
    assert "CREATE TYPE" not in text and "pet_kind" not in text


def test_native_enum_forced_on_is_still_varchar_with_check(dialect: Any) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "e",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a", sa.Enum("x", "y", name="e_a", native_enum=True)),
        sa.Column("b", pg.ENUM("p", "q's", name="e_b", create_type=True)),
        sa.Column("c", sa.Enum("one", "two", name="e_c", create_constraint=True)),
    )
    statements = [s for s, _ in _mock_ddl(metadata, dialect)]
    assert len(statements) == 1
    (create,) = statements
    assert "CREATE TYPE" not in create
    assert "a VARCHAR(1)" in create and "CHECK (a IN ('x', 'y'))" in create
    assert "b VARCHAR(3)" in create and "CHECK (b IN ('p', 'q''s'))" in create
    # SQLAlchemy's own named constraint, not a second one
    assert "c VARCHAR(3)" in create and create.count("CHECK (c IN ('one', 'two'))") == 1


def test_create_type_refused(dialect: Any) -> None:
    from sqlalchemy.dialects.postgresql import CreateEnumType

    error = refused(CreateEnumType(pg.ENUM("a", "b", name="mood")), dialect, "create-type")
    assert "mood" in str(error)


def test_enum_in_type_decorator_gets_check(dialect: Any) -> None:
    class Status(sa.TypeDecorator):  # type: ignore[type-arg]
        impl = sa.Enum("on", "off", name="status")
        cache_ok = True

    t = sa.Table(
        "d", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("s", Status())
    )
    text = sql(CreateTable(t), dialect)
    assert "s VARCHAR(3)" in text and "CHECK (s IN ('on', 'off'))" in text


def test_numeric_without_precision_warns_naming_column(dialect: Any) -> None:
    t = sa.Table(
        "money",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("amount", sa.Numeric),
    )
    with pytest.warns(DSQLSchemaWarning, match=r"money\.amount") as record:
        text = sql(CreateTable(t), dialect)
    assert "numeric(18,6)" in str(record[0].message)
    assert "amount NUMERIC" in text


def test_numeric_with_precision_and_float_do_not_warn(dialect: Any) -> None:
    t = sa.Table(
        "nums",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a", sa.Numeric(12, 2)),
        sa.Column("b", sa.Float),
        sa.Column("c", sa.Double),
        sa.Column("d", sa.Numeric(1000, 10)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = sql(CreateTable(t), dialect)
    assert "a NUMERIC(12, 2)" in text and "d NUMERIC(1000, 10)" in text


@pytest.mark.parametrize(
    "type_",
    [
        pg.ARRAY(sa.Integer),
        sa.ARRAY(sa.Text),
        pg.INET(),
        pg.CIDR(),
        pg.MACADDR(),
        pg.INT4RANGE(),
        pg.TSTZRANGE(),
        pg.DATEMULTIRANGE(),
        pg.TSVECTOR(),
        pg.MONEY(),
        pg.HSTORE(),
        pg.BIT(3),
    ],
    ids=lambda t: type(t).__name__,
)
def test_unsupported_column_types_refused(dialect: Any, type_: Any) -> None:
    t = sa.Table(
        "bad", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", type_)
    )
    error = refused(CreateTable(t), dialect, "column-type")
    assert "bad.v" in str(error)


def test_supported_column_types_compile(dialect: Any) -> None:
    t = sa.Table(
        "ok",
        sa.MetaData(),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("a", sa.SmallInteger),
        sa.Column("b", sa.BigInteger),
        sa.Column("c", sa.REAL),
        sa.Column("d", sa.Double),
        sa.Column("e", sa.Numeric(10, 2)),
        sa.Column("f", sa.Boolean),
        sa.Column("g", sa.CHAR(4)),
        sa.Column("h", sa.String(200)),
        sa.Column("i", sa.Text),
        sa.Column("j", sa.LargeBinary),
        sa.Column("k", sa.Date),
        sa.Column("l", sa.Time),
        sa.Column("m", sa.Time(timezone=True)),
        sa.Column("n", sa.DateTime),
        sa.Column("o", sa.DateTime(timezone=True)),
        sa.Column("p", sa.Interval),
        sa.Column("q", sa.JSON),
        sa.Column("r", pg.JSONB),
        sa.Column("s", sa.Integer, sa.Computed("a * 2")),
    )
    text = sql(CreateTable(t), dialect)
    assert "s INTEGER GENERATED ALWAYS AS (a * 2) STORED" in text


def test_column_collation_refused(dialect: Any) -> None:
    t = sa.Table("c", sa.MetaData(), sa.Column("name", sa.String(10, collation="C")))
    error = refused(CreateTable(t), dialect, "collate")
    assert "c.name" in str(error)


@pytest.mark.parametrize("prefix", ["TEMPORARY", "TEMP", "temporary"])
def test_temporary_table_refused(dialect: Any, prefix: str) -> None:
    t = sa.Table("scratch", sa.MetaData(), sa.Column("a", sa.Integer), prefixes=[prefix])
    error = refused(CreateTable(t), dialect, "temporary-table")
    assert "scratch" in str(error)


@pytest.mark.parametrize(
    ("kw", "rule_id"),
    [
        ({"postgresql_partition_by": "RANGE (a)"}, "partitioning"),
        ({"postgresql_inherits": "base"}, "inheritance"),
        ({"postgresql_tablespace": "fast"}, "tablespace"),
        ({"postgresql_with_oids": True}, "tablespace"),
        ({"prefixes": ["UNLOGGED"]}, "tablespace"),
    ],
)
def test_refused_table_options(dialect: Any, kw: dict[str, Any], rule_id: str) -> None:
    t = sa.Table("opts", sa.MetaData(), sa.Column("a", sa.Integer), **kw)  # type: ignore[arg-type]
    error = refused(CreateTable(t), dialect, rule_id)
    assert "opts" in str(error)


def test_more_than_256_columns_refused(dialect: Any) -> None:
    # live DSQL takes 256 columns and refuses 257 (its message still says 255)
    ok = sa.Table("w256", sa.MetaData(), *[sa.Column(f"c{i}", sa.Integer) for i in range(256)])
    assert sql(CreateTable(ok), dialect).startswith("CREATE TABLE w256")
    wide = sa.Table("w257", sa.MetaData(), *[sa.Column(f"c{i}", sa.Integer) for i in range(257)])
    refused(CreateTable(wide), dialect, "columns-per-table")


def test_no_serial_anywhere(dialect: Any) -> None:
    metadata = sa.MetaData()
    for type_ in (sa.SmallInteger, sa.Integer, sa.BigInteger):
        t = sa.Table(f"t_{type_.__name__}", metadata, sa.Column("id", type_, primary_key=True))
        assert not re.search(r"SERIAL", sql(CreateTable(t), dialect))


def test_exclusion_constraint_refused(dialect: Any) -> None:
    t = sa.Table(
        "booking",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("room", sa.Integer),
        pg.ExcludeConstraint((sa.column("room"), "="), name="no_double_booking"),
    )
    error = refused(CreateTable(t), dialect, "exclusion-constraint")
    assert "booking" in str(error)


def test_unique_constraint_nulls_not_distinct(dialect: Any) -> None:
    def table(**kw: Any) -> sa.Table:
        return sa.Table(
            "u", sa.MetaData(), sa.Column("a", sa.Integer), sa.UniqueConstraint("a", **kw)
        )

    assert "UNIQUE NULLS NOT DISTINCT (a)" in sql(
        CreateTable(table(auroradsql_nulls_not_distinct=True)), dialect
    )
    assert "UNIQUE NULLS NOT DISTINCT (a)" in sql(
        CreateTable(table(postgresql_nulls_not_distinct=True)), dialect
    )
    both = table(postgresql_nulls_not_distinct=True, auroradsql_nulls_not_distinct=False)
    assert "UNIQUE NULLS DISTINCT (a)" in sql(CreateTable(both), dialect)
    assert "UNIQUE (a)" in sql(CreateTable(table()), dialect)


def test_computed_columns_are_stored(dialect: Any) -> None:
    computed = sa.Computed("a * 2")
    t = sa.Table(
        "g", sa.MetaData(), sa.Column("a", sa.Integer), sa.Column("b", sa.Integer, computed)
    )
    assert "b INTEGER GENERATED ALWAYS AS (a * 2) STORED" in sql(CreateTable(t), dialect)
    assert computed.persisted is None  # the user's object is untouched


def test_literals_compiled_before_connecting_keep_backslashes(dialect: Any) -> None:
    """DSQL has standard_conforming_strings on: offline DDL (mock engine) must not
    double backslashes in literals."""
    metadata = sa.MetaData()
    sa.Table(
        "paths",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sep", sa.Enum("\\", "/", name="sep")),
    )
    (create,) = [s for s, _ in _mock_ddl(metadata, dialect)]
    assert "CHECK (sep IN ('\\', '/'))" in create


# -- integer keys and the columns that carry their values (keys.py) -----------------------


def _keyed() -> tuple[sa.Table, sa.Table, sa.Table]:
    metadata = sa.MetaData()
    parent = sa.Table("parent", metadata, sa.Column("id", sa.Integer, primary_key=True))
    child = sa.Table(
        "child",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("parent.id")),
        sa.Column("ticket", sa.Integer, sa.Sequence("ticket_seq")),
        sa.Column("optional", sa.Integer, sa.Sequence("opt_seq", optional=True)),
        sa.Column("count", sa.Integer),
    )
    grandchild = sa.Table(
        "grandchild",
        metadata,
        sa.Column("code", sa.String(8), primary_key=True),
        sa.Column("parent_ref", sa.SmallInteger, sa.ForeignKey("child.parent_id")),
    )
    return parent, child, grandchild


def test_columns_carrying_a_widened_key_are_bigint(dialect: Any) -> None:
    _, child, grandchild = _keyed()
    text = sql(CreateTable(child), dialect)
    assert "parent_id BIGINT," in text  # references the BIGINT identity key
    assert "ticket BIGINT," in text  # fed by a sequence, which DSQL makes AS BIGINT
    assert "optional INTEGER," in text  # optional sequences are not used on PostgreSQL
    assert "count INTEGER," in text  # an ordinary integer stays as declared
    # transitively: a key of a key
    assert "parent_ref BIGINT," in sql(CreateTable(grandchild), dialect)


def test_default_identity_cache_keeps_postgresql_order(dialect: Any) -> None:
    parent, _, _ = _keyed()
    assert "id BIGINT GENERATED BY DEFAULT AS IDENTITY (CACHE 1)" in sql(
        CreateTable(parent), dialect
    )
    assert sql(CreateSequence(sa.Sequence("s")), dialect) == "CREATE SEQUENCE s AS BIGINT CACHE 1"


def test_widening_leaves_the_model_unchanged(dialect: Any) -> None:
    _, child, _ = _keyed()
    sql(CreateTable(child), dialect)
    assert type(child.c.parent_id.type) is sa.Integer
    assert child.c.ticket.default.data_type is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "key",
    [sa.text("b DESC"), sa.text("b desc NULLS LAST"), sa.text("b  Asc")],
    ids=["desc", "desc-nulls", "asc"],
)
def test_text_index_key_direction_is_treated_like_desc(
    dialect_factory: type, key: sa.TextClause
) -> None:
    t = sa.Table("t", sa.MetaData(), sa.Column("a", sa.Integer), sa.Column("b", sa.Integer))
    index = sa.Index("ix_t", t.c.a, key)
    with pytest.warns(DSQLSchemaWarning, match="ASC/DESC"):
        text = sql(CreateIndex(index), dialect_factory())
    assert re.search(r"\b(ASC|DESC)\b", text, re.IGNORECASE) is None
    assert text.startswith("CREATE INDEX ASYNC ix_t ON t (a, b")
    refused(CreateIndex(index), dialect_factory(strict_index_keys=True), "index-sort-order")


def test_text_index_key_without_direction_is_untouched(dialect: Any) -> None:
    t = sa.Table("t", sa.MetaData(), sa.Column("a", sa.String(9)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = sql(CreateIndex(sa.Index("ix_t", t.c.a, sa.text("lower(a)"))), dialect)
    assert text == "CREATE INDEX ASYNC ix_t ON t (a, lower(a))"
