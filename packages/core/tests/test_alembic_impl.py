"""The Alembic implementation, offline (``--sql``) and its autogenerate logic: no database."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.ddl.impl import DefaultImpl
from alembic.operations import Operations, ops
from alembic.runtime.migration import MigrationContext
from aurora_dsql_sqlalchemy import DSQLUnsupportedError
from aurora_dsql_sqlalchemy.alembic_impl import AuroraDSQLImpl, _refuse_unsupported_ops


@pytest.fixture
def offline(dialect: Any) -> tuple[Operations, io.StringIO]:
    buffer = io.StringIO()
    context = MigrationContext.configure(
        dialect=dialect, opts={"as_sql": True, "output_buffer": buffer}
    )
    return Operations(context), buffer


def statements(buffer: io.StringIO) -> list[str]:
    return [s.strip() for s in buffer.getvalue().split("\n\n") if s.strip()]


def test_registered_for_the_dialect_name(dialect: Any) -> None:
    assert DefaultImpl.get_by_dialect(dialect) is AuroraDSQLImpl
    assert AuroraDSQLImpl.transactional_ddl is False


def test_offline_writes_no_transaction_block(dialect: Any) -> None:
    buffer = io.StringIO()
    context = MigrationContext.configure(
        dialect=dialect, opts={"as_sql": True, "output_buffer": buffer}
    )
    with context.begin_transaction():
        Operations(context).create_table("t", sa.Column("id", sa.BigInteger, primary_key=True))
    assert "BEGIN" not in buffer.getvalue() and "COMMIT" not in buffer.getvalue()


def test_create_index_is_async_with_a_wait_hint(offline: tuple[Operations, io.StringIO]) -> None:
    op, buffer = offline
    op.create_index("ix_t_a", "t", ["a"], auroradsql_include=["b"])
    first, hint = statements(buffer)
    assert first == "CREATE INDEX ASYNC ix_t_a ON t (a) INCLUDE (b);"
    assert "CALL sys.wait_for_job('<job_id>')" in hint


@pytest.mark.parametrize(
    ("call", "added"),
    [
        (
            lambda op: op.create_foreign_key("fk_c_p", "c", "p", ["p_id"], ["id"]),
            "ALTER TABLE c ADD CONSTRAINT fk_c_p FOREIGN KEY(p_id) REFERENCES p (id) NOT VALID;",
        ),
        (
            lambda op: op.create_check_constraint("ck_c_n", "c", sa.text("n > 0")),
            "ALTER TABLE c ADD CONSTRAINT ck_c_n CHECK (n > 0) NOT VALID;",
        ),
    ],
    ids=["foreign-key", "check"],
)
def test_constraints_are_added_not_valid_then_validated(
    offline: tuple[Operations, io.StringIO], call: Any, added: str
) -> None:
    op, buffer = offline
    call(op)
    add, validate, hint = statements(buffer)
    assert add == added
    name = added.split("CONSTRAINT ")[1].split()[0]
    assert validate == f"ALTER TABLE ASYNC c VALIDATE CONSTRAINT {name};"
    assert "sys.wait_for_job" in hint


def test_unique_constraint_is_an_async_index_then_using_index(
    offline: tuple[Operations, io.StringIO],
) -> None:
    op, buffer = offline
    op.create_unique_constraint("uq_p_code", "p", ["code", "region"])
    index, hint, constraint = statements(buffer)
    assert index == "CREATE UNIQUE INDEX ASYNC uq_p_code ON p (code, region);"
    assert "sys.wait_for_job" in hint
    assert constraint == "ALTER TABLE p ADD CONSTRAINT uq_p_code UNIQUE USING INDEX uq_p_code;"


def test_unnamed_unique_constraint_is_refused(offline: tuple[Operations, io.StringIO]) -> None:
    op, _ = offline
    with pytest.raises(DSQLUnsupportedError) as refused:
        op.create_unique_constraint(None, "p", ["code"])
    assert refused.value.rule.id == "add-constraint"


@pytest.mark.parametrize(
    ("call", "rule_id"),
    [
        (
            lambda op: op.add_column("t", sa.Column("c", sa.Integer, nullable=False)),
            "add-column-constraint",
        ),
        (
            lambda op: op.add_column("t", sa.Column("c", sa.Integer, server_default="0")),
            "add-column-constraint",
        ),
        (
            lambda op: op.add_column("t", sa.Column("c", sa.BigInteger, sa.Identity())),
            "add-column-constraint",
        ),
        (
            lambda op: op.add_column("t", sa.Column("c", sa.Integer, sa.ForeignKey("p.id"))),
            "add-column-constraint",
        ),
        (
            lambda op: op.add_column("t", sa.Column("c", sa.Integer, primary_key=True)),
            "primary-key-change",
        ),
        (lambda op: op.alter_column("t", "c", type_=sa.BigInteger), "alter-column-type"),
        (lambda op: op.alter_column("t", "c", nullable=False), "set-not-null"),
        (lambda op: op.create_primary_key("pk", "t", ["c"]), "primary-key-change"),
        (lambda op: op.drop_constraint("t_pkey", "t", type_="primary"), "primary-key-change"),
    ],
)
def test_what_dsql_cannot_do_fails_at_render_time(
    offline: tuple[Operations, io.StringIO], call: Any, rule_id: str
) -> None:
    op, buffer = offline
    with pytest.raises(DSQLUnsupportedError) as refused:
        call(op)
    assert refused.value.rule.id == rule_id
    assert refused.value.rule.advice in str(refused.value)
    assert buffer.getvalue() == ""


def test_supported_column_changes(offline: tuple[Operations, io.StringIO]) -> None:
    op, buffer = offline
    op.add_column("t", sa.Column("c", sa.Integer))
    op.alter_column("t", "c", server_default="0")
    op.alter_column("t", "c", nullable=True)
    op.alter_column("t", "c", nullable=False, existing_nullable=False)  # no change: nothing refused
    op.alter_column("t", "c", new_column_name="d")
    op.drop_column("t", "d")
    assert statements(buffer) == [
        "ALTER TABLE t ADD COLUMN c INTEGER;",
        "ALTER TABLE t ALTER COLUMN c SET DEFAULT '0';",
        "ALTER TABLE t ALTER COLUMN c DROP NOT NULL;",
        "ALTER TABLE t ALTER COLUMN c SET NOT NULL;",
        "ALTER TABLE t RENAME c TO d;",
        "ALTER TABLE t DROP COLUMN d;",
    ]


# -- autogenerate comparisons ------------------------------------------------------------------------


@pytest.fixture
def impl(dialect: Any) -> AuroraDSQLImpl:
    context = MigrationContext.configure(
        dialect=dialect, opts={"as_sql": True, "output_buffer": io.StringIO()}
    )
    assert isinstance(context.impl, AuroraDSQLImpl)
    return context.impl


def _column(type_: Any, *args: Any, table: str = "t", **kw: Any) -> sa.Column[Any]:
    column = sa.Column("c", type_, *args, **kw)
    sa.Table(table, sa.MetaData(), column)
    return column


def test_identity_key_compares_equal_to_bigint(impl: AuroraDSQLImpl) -> None:
    model = _column(sa.Integer, primary_key=True)
    assert impl.compare_type(_column(sa.BigInteger(), primary_key=True), model) is False
    assert impl.compare_server_default(_column(sa.BigInteger()), model, None, None) is False
    # a BIGINT the dialect made of a key's carrier is never proposed narrower
    # (DSQL cannot ALTER COLUMN TYPE, and the values fit) ...
    assert impl.compare_type(_column(sa.BigInteger()), _column(sa.Integer)) is False
    # ... while a model wider than the database still is a change
    assert impl.compare_type(_column(sa.SmallInteger()), _column(sa.Integer)) is True


def test_numeric_without_precision_is_numeric_18_6(impl: AuroraDSQLImpl) -> None:
    assert impl.compare_type(_column(sa.Numeric(18, 6)), _column(sa.Numeric())) is False
    assert impl.compare_type(_column(sa.Numeric(18, 6)), _column(sa.Numeric(10, 2))) is True
    assert impl.compare_type(_column(sa.Numeric(12, 2)), _column(sa.Numeric(12, 2))) is False


def test_enum_is_a_varchar(impl: AuroraDSQLImpl) -> None:
    assert impl.compare_type(_column(sa.VARCHAR(6)), _column(sa.Enum("active", "closed"))) is False


def test_identity_cache_written_by_the_dialect_is_no_change(
    impl: AuroraDSQLImpl, dialect: Any
) -> None:
    reflected = sa.Identity(start=1, cache=dialect.identity_cache)
    _, _, is_alter = impl._compare_identity_default(sa.Identity(start=1), reflected)
    assert is_alter is False
    _, _, is_alter = impl._compare_identity_default(sa.Identity(start=1, cache=131072), reflected)
    assert is_alter is True


def test_volatile_server_defaults_compare_as_text(impl: AuroraDSQLImpl) -> None:
    model = _column(sa.Uuid, server_default=sa.func.gen_random_uuid())
    assert (
        impl.compare_server_default(
            _column(sa.Uuid()), model, "gen_random_uuid()", "gen_random_uuid()"
        )
        is False
    )
    assert (
        impl.compare_server_default(_column(sa.Uuid()), model, "gen_random_uuid()", "now()") is True
    )


def test_btree_index_access_method_is_not_an_option(impl: AuroraDSQLImpl) -> None:
    reflected = {
        "name": "ix",
        "dialect_options": {"postgresql_using": "btree_index", "postgresql_include": ["b"]},
    }
    assert impl.adjust_reflected_dialect_options(reflected, "index") == {
        "postgresql_include": ["b"]
    }


def test_nulls_not_distinct_either_spelling(impl: AuroraDSQLImpl) -> None:
    table = sa.Table("t", sa.MetaData(), sa.Column("a", sa.Integer))
    ours = sa.Index("ix1", table.c.a, auroradsql_nulls_not_distinct=True)
    theirs = sa.Index("ix2", table.c.a, postgresql_nulls_not_distinct=True)
    assert impl._dialect_options(ours) == impl._dialect_options(theirs) == ("nulls_not_distinct",)


def test_foreign_keys_false_ignores_model_foreign_keys(dialect_factory: Any) -> None:
    context = MigrationContext.configure(
        dialect=dialect_factory(foreign_keys=False),
        opts={"as_sql": True, "output_buffer": io.StringIO()},
    )
    metadata_fks = {"fk"}
    context.impl.correct_for_autogen_foreignkeys(set(), metadata_fks)
    assert metadata_fks == set()


def _autogen_context(impl: AuroraDSQLImpl) -> Any:
    """What the guard reads of Alembic's AutogenContext: ``migration_context.impl``."""
    from types import SimpleNamespace

    return SimpleNamespace(migration_context=SimpleNamespace(impl=impl))


@pytest.mark.parametrize(
    ("op", "rule_id"),
    [
        (ops.AddColumnOp("t", sa.Column("c", sa.Integer, nullable=False)), "add-column-constraint"),
        (ops.AlterColumnOp("t", "c", modify_type=sa.BigInteger()), "alter-column-type"),
        (ops.AlterColumnOp("t", "c", modify_nullable=False), "set-not-null"),
    ],
)
def test_autogenerate_guard_refuses(impl: AuroraDSQLImpl, op: Any, rule_id: str) -> None:
    autogen = _autogen_context(impl)
    upgrade_ops = ops.UpgradeOps([ops.ModifyTableOps("t", [op])])
    with pytest.raises(DSQLUnsupportedError) as refused:
        _refuse_unsupported_ops(autogen, upgrade_ops)
    assert refused.value.rule.id == rule_id


def test_autogenerate_guard_lets_supported_changes_through(impl: AuroraDSQLImpl) -> None:
    autogen = _autogen_context(impl)
    upgrade_ops = ops.UpgradeOps(
        [
            ops.ModifyTableOps(
                "t",
                [
                    ops.AddColumnOp("t", sa.Column("c", sa.Integer)),
                    ops.AlterColumnOp("t", "c", modify_nullable=True),
                    ops.AlterColumnOp("t", "c", modify_server_default="0"),
                ],
            )
        ]
    )
    _refuse_unsupported_ops(autogen, upgrade_ops)
