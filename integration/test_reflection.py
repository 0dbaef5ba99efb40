"""Reflection against the server: round trips of dialect-made tables, and a
catalog made to look like DSQL's.

The test server is PostgreSQL, whose catalog differs from DSQL's in three
ways the dialect must hide.  Two are reproduced here for real, with the
server's own catalog (as a superuser), so that SQLAlchemy's actual reflection
queries read DSQL-shaped rows:

* DSQL's index access method is called ``btree_index``: an access method of
  that name is created with PostgreSQL's btree handler and the table's
  indexes are switched to it (``pg_get_indexdef`` then prints ``USING
  btree_index``, as on DSQL);
* DSQL's primary-key index lists every other column as INCLUDE: the table is
  created with ``PRIMARY KEY (id) INCLUDE (...all other columns...)``.
  Whether DSQL flags that index ``indisprimary`` is not known here, so both
  shapes are tested (the flag is cleared in ``pg_index`` for the second).

The third, DSQL's ``sys`` schema, exists for real: local mode installs a
``sys`` schema with a ``jobs`` table.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.local.jobs import LOCAL_SCHEMA
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL
from sqlalchemy.schema import CreateIndex, CreateTable

# -- a schema made by the dialect ------------------------------------------------------


def _model() -> MetaData:
    metadata = MetaData()
    account = Table(
        "account",
        metadata,
        Column("id", Integer, primary_key=True),  # BIGINT identity on DSQL
        Column("name", String(50), nullable=False),
        Column("email", String(100), server_default="nobody@example.com"),
        Column("active", Boolean, nullable=False, server_default=sa.true()),
        Column("balance", Numeric(12, 2), nullable=False, server_default="0"),
        Column("profile", JSON),
        Column("settings", JSONB),
        Column("created", DateTime(timezone=True), server_default=func.now()),
        CheckConstraint("balance >= 0", name="ck_account_balance"),
        comment="customer accounts",
    )
    Index("ix_account_name", account.c.name, auroradsql_include=["email", "profile"])
    Index(
        "ix_account_email",
        account.c.email,
        unique=True,
        auroradsql_nulls_not_distinct=True,
        auroradsql_where=account.c.active,
    )
    Index("ix_account_lower_name", func.lower(account.c.name))
    entry = Table(
        "entry",
        metadata,
        Column("id", Uuid, primary_key=True, server_default=func.gen_random_uuid()),
        Column(
            "account_id",
            BigInteger,
            ForeignKey("account.id", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("seq", BigInteger, sa.Identity(cache=1), nullable=False),
        Column("amount", Numeric(12, 2), nullable=False),
        Column("memo", Text),
        UniqueConstraint("account_id", "memo", name="uq_entry_account_memo"),
    )
    Index("ix_entry_account", entry.c.account_id, entry.c.seq)
    return metadata


def _snapshot(bind: Any, tables: list[str]) -> dict[str, Any]:
    """Everything the inspector says about the tables (types by their DDL)."""
    insp = sa.inspect(bind)
    snapshot: dict[str, Any] = {}
    for name in tables:
        columns = insp.get_columns(name)
        for column in columns:
            column["type"] = str(column["type"].compile(dialect=insp.dialect))
        snapshot[name] = {
            "columns": columns,
            "pk": insp.get_pk_constraint(name),
            "fks": insp.get_foreign_keys(name),
            "indexes": sorted(insp.get_indexes(name), key=lambda ix: str(ix["name"])),
            "uniques": insp.get_unique_constraints(name),
            "checks": insp.get_check_constraints(name),
            "comment": insp.get_table_comment(name),
        }
    return snapshot


def test_inspector_reports_what_the_dialect_created(engine: sa.Engine, fresh_schema: None) -> None:
    _model().create_all(engine)
    insp = sa.inspect(engine)
    assert set(insp.get_table_names()) == {"account", "entry"}

    columns = {c["name"]: c for c in insp.get_columns("account")}
    assert isinstance(columns["id"]["type"], sa.BIGINT)
    assert columns["id"]["identity"]["cache"] == 1
    assert columns["id"]["autoincrement"] is True
    assert isinstance(columns["profile"]["type"], JSON)
    assert isinstance(columns["settings"]["type"], JSONB)
    assert columns["name"]["nullable"] is False
    assert columns["email"]["default"] == "'nobody@example.com'::character varying"
    balance = columns["balance"]["type"]
    assert isinstance(balance, sa.NUMERIC)
    assert (balance.precision, balance.scale) == (12, 2)

    entry_columns = {c["name"]: c for c in insp.get_columns("entry")}
    assert entry_columns["seq"]["identity"]["cache"] == 1
    assert entry_columns["id"]["default"] == "gen_random_uuid()"

    assert insp.get_pk_constraint("account") == {
        "constrained_columns": ["id"],
        "name": "account_pkey",
        "comment": None,
    }
    [fk] = insp.get_foreign_keys("entry")
    assert (
        fk["constrained_columns"],
        fk["referred_table"],
        fk["referred_columns"],
    ) == (
        ["account_id"],
        "account",
        ["id"],
    )
    assert fk["options"] == {"ondelete": "CASCADE"}
    assert insp.get_unique_constraints("entry") == [
        {
            "column_names": ["account_id", "memo"],
            "name": "uq_entry_account_memo",
            "comment": None,
        }
    ]
    assert [c["name"] for c in insp.get_check_constraints("account")] == ["ck_account_balance"]

    indexes = {ix["name"]: ix for ix in insp.get_indexes("account")}
    assert set(indexes) == {
        "ix_account_name",
        "ix_account_email",
        "ix_account_lower_name",
    }
    assert indexes["ix_account_name"]["column_names"] == ["name"]
    assert indexes["ix_account_name"]["dialect_options"] == {
        "auroradsql_include": ["email", "profile"]
    }
    assert indexes["ix_account_email"]["unique"] is True
    assert indexes["ix_account_email"]["dialect_options"] == {
        "auroradsql_include": [],
        "auroradsql_nulls_not_distinct": True,
        "auroradsql_where": "active",
    }
    assert indexes["ix_account_lower_name"]["expressions"] == ["lower(name::text)"]


def test_reflected_indexes_compile_back_to_the_same_create_index_async(
    engine: sa.Engine, fresh_schema: None
) -> None:
    model = _model()
    model.create_all(engine)
    reflected = MetaData()
    reflected.reflect(engine)

    def ddl(metadata: MetaData) -> dict[str, str]:
        return {
            ix.name: str(CreateIndex(ix).compile(dialect=engine.dialect))
            for table in metadata.tables.values()
            for ix in table.indexes
            if ix.name is not None
        }

    expected = ddl(model)
    # PostgreSQL (and DSQL) print expressions back with their casts
    expected["ix_account_lower_name"] = expected["ix_account_lower_name"].replace(
        "lower(name)", "lower(name::text)"
    )
    assert ddl(reflected) == expected
    assert "ASYNC" in expected["ix_account_email"]


def test_a_reflected_schema_recreates_the_same_schema(
    engine: sa.Engine, fresh_schema: None
) -> None:
    model = _model()
    model.create_all(engine)
    before = _snapshot(engine, ["account", "entry"])

    reflected = MetaData()
    reflected.reflect(engine)
    model.drop_all(engine)
    reflected.create_all(engine)

    assert _snapshot(engine, ["account", "entry"]) == before


def test_unique_constraint_nulls_not_distinct_round_trips(
    engine: sa.Engine, fresh_schema: None
) -> None:
    metadata = MetaData()
    Table(
        "tag",
        metadata,
        Column("id", BigInteger, primary_key=True),
        Column("label", String(20)),
        UniqueConstraint("label", name="uq_tag_label", postgresql_nulls_not_distinct=True),
    )
    metadata.create_all(engine)
    [uc] = sa.inspect(engine).get_unique_constraints("tag")
    assert uc["dialect_options"] == {"auroradsql_nulls_not_distinct": True}

    reflected = MetaData()
    reflected.reflect(engine)
    assert "UNIQUE NULLS NOT DISTINCT (label)" in str(
        CreateTable(reflected.tables["tag"]).compile(dialect=engine.dialect)
    )


# -- a catalog shaped like DSQL's ------------------------------------------------------------


@pytest.fixture
def admin(pg_url: URL) -> Iterator[sa.Engine]:
    eng = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    yield eng
    eng.dispose()


@pytest.fixture(params=["flagged-primary", "unflagged-primary"])
def dsql_shaped_table(
    request: pytest.FixtureRequest, admin: sa.Engine, engine: sa.Engine
) -> Iterator[str]:
    """Table ``orders`` as DSQL's catalog shows it (see the module docstring)."""
    metadata = MetaData()
    orders = Table(
        "orders",
        metadata,
        Column("id", Uuid, primary_key=True, server_default=func.gen_random_uuid()),
        Column("customer", String(40), nullable=False),
        Column("total", Numeric(12, 2)),
        Column("details", JSONB),
    )
    Index("ix_orders_customer", orders.c.customer, auroradsql_include=["total"])
    Index(
        "ix_orders_total",
        orders.c.total,
        unique=True,
        auroradsql_nulls_not_distinct=True,
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE orders (id uuid DEFAULT gen_random_uuid(), customer varchar(40) NOT NULL, "
            "total numeric(12, 2), details jsonb, "
            "CONSTRAINT orders_pkey PRIMARY KEY (id) INCLUDE (customer, total, details))"
        )
    for index in orders.indexes:  # CREATE INDEX ASYNC, through the dialect
        with engine.connect() as conn:
            conn.execute(CreateIndex(index))
            conn.commit()
    with admin.connect() as conn:
        conn.exec_driver_sql("CREATE ACCESS METHOD btree_index TYPE INDEX HANDLER bthandler")
        conn.exec_driver_sql(
            "UPDATE pg_class SET relam = (SELECT oid FROM pg_am WHERE amname = 'btree_index') "
            "WHERE oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'orders'::regclass)"
        )
        if request.param == "unflagged-primary":
            conn.exec_driver_sql(
                "UPDATE pg_index SET indisprimary = false WHERE indexrelid = 'orders_pkey'::regclass"
            )
    try:
        yield request.param
    finally:
        with admin.connect() as conn:
            # the table first: its indexes point at the access method
            conn.exec_driver_sql("DROP TABLE IF EXISTS orders")
            conn.exec_driver_sql("DROP ACCESS METHOD IF EXISTS btree_index")


def test_the_catalog_reads_like_dsqls(admin: sa.Engine, dsql_shaped_table: str) -> None:
    with admin.connect() as conn:
        pk_def = conn.exec_driver_sql("SELECT pg_get_indexdef('orders_pkey'::regclass)").scalar()
    assert pk_def == (
        "CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree_index (id) "
        "INCLUDE (customer, total, details)"
    )
    # what SQLAlchemy's stock PostgreSQL dialect makes of it
    stock = sa.inspect(admin)
    assert stock.get_pk_constraint("orders")["dialect_options"] == {
        "postgresql_include": ["customer", "total", "details"]
    }
    usings = {ix["dialect_options"].get("postgresql_using") for ix in stock.get_indexes("orders")}
    assert usings == {"btree_index"}
    stock_names = {ix["name"] for ix in stock.get_indexes("orders")}
    if dsql_shaped_table == "unflagged-primary":
        assert "orders_pkey" in stock_names
    else:
        assert "orders_pkey" not in stock_names


def test_dsql_catalog_differences_do_not_leak(engine: sa.Engine, dsql_shaped_table: str) -> None:
    insp = sa.inspect(engine)
    indexes = sorted(insp.get_indexes("orders"), key=lambda ix: str(ix["name"]))
    assert [ix["name"] for ix in indexes] == ["ix_orders_customer", "ix_orders_total"]
    assert [ix["dialect_options"] for ix in indexes] == [
        {"auroradsql_include": ["total"]},
        {"auroradsql_include": [], "auroradsql_nulls_not_distinct": True},
    ]
    assert insp.get_pk_constraint("orders") == {
        "constrained_columns": ["id"],
        "name": "orders_pkey",
        "comment": None,
    }
    assert insp.get_unique_constraints("orders") == []
    multi = insp.get_multi_indexes()
    assert [ix["name"] for ix in multi[(None, "orders")]] == [
        "ix_orders_customer",
        "ix_orders_total",
    ]


def test_dsql_shaped_table_reflects_to_valid_dsql_ddl(
    engine: sa.Engine, dsql_shaped_table: str
) -> None:
    table = Table("orders", MetaData(), autoload_with=engine)
    assert table.primary_key.name == "orders_pkey"
    assert [c.name for c in table.primary_key.columns] == ["id"]
    assert "include" not in table.primary_key.dialect_options["postgresql"]._non_defaults
    create = str(CreateTable(table).compile(dialect=engine.dialect))
    assert "INCLUDE" not in create
    assert "CONSTRAINT orders_pkey PRIMARY KEY (id)" in create
    assert sorted(str(CreateIndex(ix).compile(dialect=engine.dialect)) for ix in table.indexes) == [
        "CREATE INDEX ASYNC ix_orders_customer ON orders (customer) INCLUDE (total)",
        "CREATE UNIQUE INDEX ASYNC ix_orders_total ON orders (total) NULLS NOT DISTINCT",
    ]


# -- DSQL's sys schema -------------------------------------------------------------------------


@pytest.fixture
def dsql_sys_schema(admin: sa.Engine) -> Iterator[None]:
    """A ``sys`` schema with a ``jobs`` table, as a DSQL cluster has (local
    mode itself creates none)."""
    with admin.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA sys")
        conn.exec_driver_sql("CREATE TABLE sys.jobs (job_id text PRIMARY KEY)")
    yield
    with admin.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA sys CASCADE")


@pytest.mark.parametrize("hidden", ["sys", LOCAL_SCHEMA])
def test_sys_schema_is_never_listed_or_reflected(
    engine: sa.Engine,
    admin: sa.Engine,
    dsql_url: URL,
    fresh_schema: None,
    dsql_sys_schema: None,
    hidden: str,
) -> None:
    """DSQL's own ``sys`` and local mode's emulation schema stay out of reflection."""
    Table("visible", (metadata := MetaData()), Column("id", BigInteger, primary_key=True))
    metadata.create_all(engine)
    assert hidden in sa.inspect(admin).get_schema_names()
    assert "jobs" in sa.inspect(admin).get_table_names(schema=hidden)

    insp = sa.inspect(engine)
    assert hidden not in insp.get_schema_names()
    assert insp.get_table_names(schema=hidden) == []
    assert insp.get_multi_columns(schema=hidden) == {}
    assert not insp.has_table("jobs", schema=hidden)
    in_hidden = MetaData()
    in_hidden.reflect(engine, schema=hidden)
    assert in_hidden.tables == {}

    # also when it is on the search path, where PostgreSQL's reflection finds it
    search_path = {"options": f"-c search_path=public,{hidden}"}
    stock = sa.create_engine(admin.url, connect_args=search_path)
    try:
        assert "jobs" in sa.inspect(stock).get_table_names()
    finally:
        stock.dispose()
    on_path = sa.create_engine(dsql_url, connect_args=search_path)
    try:
        with on_path.connect() as conn:
            assert conn.exec_driver_sql("SHOW search_path").scalar() == f"public,{hidden}"
        everything = MetaData()
        everything.reflect(on_path)
        assert set(everything.tables) == {"visible"}
        assert sa.inspect(on_path).get_table_names() == ["visible"]
    finally:
        on_path.dispose()


# -- what Alembic autogenerate sees -----------------------------------------------------------


def _indexed_model(spelling: str) -> MetaData:
    metadata = MetaData()
    account = Table(
        "account",
        metadata,
        Column("id", BigInteger, primary_key=True),
        Column("name", String(50), nullable=False),
        Column("email", String(100)),
        Column("balance", Numeric(12, 2)),
    )
    include: dict[str, Any] = {f"{spelling}_include": ["email"]}
    Index("ix_account_name", account.c.name, **include)
    options: dict[str, Any] = {
        f"{spelling}_nulls_not_distinct": True,
        f"{spelling}_where": account.c.balance > 0,
    }
    Index("ix_account_email", account.c.email, unique=True, **options)
    return metadata


@pytest.mark.parametrize("created_with", ["auroradsql", "postgresql"])
@pytest.mark.parametrize("compared_with", ["auroradsql", "postgresql"])
def test_autogenerate_sees_no_drift_in_either_spelling_and_no_sys_schema(
    engine: sa.Engine, fresh_schema: None, created_with: str, compared_with: str
) -> None:
    pytest.importorskip("alembic")
    import aurora_dsql_sqlalchemy.alembic_impl  # noqa: F401  (registers the impl)
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    _indexed_model(created_with).create_all(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_schemas": True})
        assert compare_metadata(context, _indexed_model(compared_with)) == []
