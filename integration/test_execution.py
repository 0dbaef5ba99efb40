"""The execution layer as a user meets it: statements classified from what
SQLAlchemy knows, the driver's own executemany, refusals that abort the
transaction as DSQL's do, and local mode leaving the user's database alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy import rules
from aurora_dsql_sqlalchemy.local.jobs import LOCAL_SCHEMA
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

ABORTED = "25P02"  # PostgreSQL's in_failed_sql_transaction, which DSQL answers too


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a wrapped psycopg (``sqlstate``) or psycopg2 (``pgcode``) error."""
    return next(filter(None, (getattr(error.__cause__, a, None) for a in ("sqlstate", "pgcode"))), None)


@pytest.fixture
def items(engine: sa.Engine, fresh_schema: None) -> sa.Table:
    """Three rows whose label is the word 'delete'."""
    table = sa.Table("items", sa.MetaData(), sa.Column("id", sa.BigInteger, primary_key=True))
    table.append_column(sa.Column("label", sa.String(20)))
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": i, "label": "delete"} for i in range(3)])
    return table


# -- what SQLAlchemy knows decides ---------------------------------------------------------------


def test_select_for_update_with_cte_is_a_read(engine: sa.Engine, items: sa.Table) -> None:
    """A CTE that only reads, FOR UPDATE and a 'delete' literal do not make a
    SELECT a write: DDL after it still gets a transaction of its own."""
    cte = sa.select(items.c.id).where(items.c.label == "delete").cte("doomed")
    compiled = sa.select(items).where(items.c.id.in_(sa.select(cte.c.id))).with_for_update()
    text = "WITH doomed AS (SELECT id FROM items WHERE label = 'delete') SELECT * FROM items FOR UPDATE"
    for statement in (compiled, sa.text(text)):
        with engine.connect() as conn:
            assert len(conn.execute(statement).all()) == 3
            conn.execute(sa.text("ALTER TABLE items ADD COLUMN IF NOT EXISTS note text"))
            conn.commit()


def test_a_writing_cte_is_a_write(engine: sa.Engine, items: sa.Table) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("WITH gone AS (DELETE FROM items WHERE id = 0 RETURNING id) SELECT count(*) FROM gone"))
        with pytest.raises(sa_exc.DBAPIError) as info:
            conn.execute(sa.text("ALTER TABLE items ADD COLUMN note text"))
        assert rules.rule("ddl-dml-mix").message in str(info.value)
        conn.rollback()


def test_psycopg2_executemany_mode_is_honoured(
    dsql_url: URL, driver: str, items: sa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dialect never re-implements executemany: psycopg2's execute_batch
    mode runs exactly as under the stock dialect."""
    if driver != "psycopg2":
        pytest.skip("psycopg2's executemany modes (the psycopg2 environments run this)")
    from psycopg2 import extras

    batches: list[int] = []
    real = extras.execute_batch

    def spy(cursor: Any, sql: str, argslist: Any, page_size: int = 100) -> None:
        batches.append(len(argslist))
        real(cursor, sql, argslist, page_size=page_size)

    monkeypatch.setattr(extras, "execute_batch", spy)
    for mode, expected in (("values_plus_batch", [3]), ("values_only", [])):
        engine = sa.create_engine(dsql_url, executemany_mode=mode)
        try:
            with engine.begin() as conn:
                conn.execute(
                    items.update().where(items.c.id == sa.bindparam("key")),
                    [{"key": i, "label": f"{mode}-{i}"} for i in range(3)],
                )
            with engine.connect() as conn:
                assert conn.execute(sa.select(items.c.label).order_by(items.c.id)).scalars().all() == [
                    f"{mode}-{i}" for i in range(3)
                ]
        finally:
            engine.dispose()
        assert batches == expected, mode
        batches.clear()


# -- a refusal aborts the transaction, as on DSQL ----------------------------------------------


def test_refusal_aborts_the_transaction(engine: sa.Engine, items: sa.Table) -> None:
    truncate = rules.rule("truncate")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(items)).scalar() == 3
        with pytest.raises(sa_exc.DBAPIError) as refused:
            conn.exec_driver_sql("TRUNCATE items")
        assert sqlstate(refused.value) == truncate.sqlstate
        assert "unsupported statement: Truncate" in str(refused.value)
        # every later statement of that transaction fails, until ROLLBACK ...
        with pytest.raises(sa_exc.DBAPIError) as later:
            conn.execute(sa.select(items.c.id))
        assert sqlstate(later.value) == ABORTED
        # ... and a second refusal answers 25P02, not its own error
        with pytest.raises(sa_exc.DBAPIError) as second:
            conn.exec_driver_sql("TRUNCATE items")
        assert sqlstate(second.value) == ABORTED
        conn.rollback()
        assert conn.execute(sa.select(sa.func.count()).select_from(items)).scalar() == 3


def test_refusal_in_autocommit_leaves_the_connection_usable(engine: sa.Engine, items: sa.Table) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        with pytest.raises(sa_exc.DBAPIError) as refused:
            conn.exec_driver_sql("TRUNCATE items")
        assert sqlstate(refused.value) == rules.rule("truncate").sqlstate
        assert conn.execute(sa.select(sa.func.count()).select_from(items)).scalar() == 3


# -- local mode leaves nothing DSQL would not have --------------------------------------------


@pytest.fixture
def fresh_database(pg_url: URL) -> Iterator[URL]:
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    name = "auroradsql_fresh"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield pg_url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.mark.parametrize("mode", ["strict", "translate"])
def test_local_mode_creates_no_sys_schema(fresh_database: URL, driver: str, mode: str) -> None:
    url = fresh_database.set(drivername=f"auroradsql+{driver}")
    engine = sa.create_engine(url, local_mode=mode)
    metadata = sa.MetaData()
    sa.Table(
        "t", metadata, sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("v", sa.Integer, index=True)
    )
    try:
        metadata.create_all(engine)
        with engine.connect() as conn:
            # DSQL's names work: they point at the emulation's own schema
            assert conn.execute(sa.text("SELECT status FROM sys.jobs")).scalars().all() == ["completed"]
            job_id = conn.execute(sa.text("SELECT job_id FROM sys.jobs")).scalar_one()
            assert conn.exec_driver_sql("CALL sys.wait_for_job(%(j)s)", {"j": job_id}).scalar_one() is True
    finally:
        engine.dispose()
    stock = sa.create_engine(fresh_database)
    try:
        with stock.connect() as conn:
            schemas = set(conn.exec_driver_sql("SELECT nspname FROM pg_namespace").scalars())
        assert "sys" not in schemas
        assert LOCAL_SCHEMA in schemas
    finally:
        stock.dispose()


def test_async_index_translated_anywhere_in_a_multi_statement_query(
    dsql_url: URL, fresh_schema: None
) -> None:
    engine = sa.create_engine(dsql_url, local_mode="translate")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE multi (id bigint PRIMARY KEY, v int); "
                "CREATE INDEX ASYNC ix_multi_v ON multi (v); "
                "CREATE UNIQUE INDEX ASYNC ux_multi_v ON multi (v)"
            )
            conn.commit()
        with engine.connect() as conn:
            names = conn.exec_driver_sql(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'multi' ORDER BY 1"
            ).scalars()
            assert list(names) == ["ix_multi_v", "multi_pkey", "ux_multi_v"]
    finally:
        engine.dispose()


# -- a DSQL host name answered by PostgreSQL ---------------------------------------------------


def test_dsql_host_answered_by_postgresql_says_what_to_do(
    pg_url: URL, driver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    real = pg_url.translate_connect_args()
    host = real.get("host") or pg_url.query.get("host")
    url = pg_url.set(drivername=f"auroradsql+{driver}", host="abcdefghijklmnop.dsql.us-east-1.on.aws")
    url = url.difference_update_query(["host"])
    engine = sa.create_engine(url, connect_args={"host": host, "sslmode": "prefer"})
    try:
        with pytest.raises(ValueError) as info, engine.connect():
            pass
        message = str(info.value)
        assert "refusing to guess" in message
        assert "connect to it by its own host name" in message
    finally:
        engine.dispose()


def test_row_limit_error_reads_like_dsqls_with_the_rule_and_advice(engine: sa.Engine) -> None:
    """The local row-limit error shows DSQL's message, then the rule and what to
    do (a HINT line), not PL/pgSQL's CONTEXT trail; the transaction is aborted."""
    rule = rules.RULES["transaction-rows"]
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE rowlimit (id int PRIMARY KEY)")
    try:
        with engine.connect() as conn:
            with pytest.raises(sa.exc.DBAPIError) as raised:
                conn.exec_driver_sql("INSERT INTO rowlimit SELECT g FROM generate_series(1, 3001) g")
            text = str(raised.value.orig)
            assert text.splitlines()[0] == rule.server_message()
            assert f"[rule {rule.id}]" in text and rule.advice in text
            assert "CONTEXT" not in text and "inline_code_block" not in text
            with pytest.raises(sa.exc.DBAPIError) as aborted:
                conn.exec_driver_sql("SELECT 1")
            assert sqlstate(aborted.value) == rules.RULES["transaction-aborted"].sqlstate
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql("DROP TABLE rowlimit")


def test_reset_all_keeps_dsqls_session_defaults(dsql_url: URL) -> None:
    """RESET ALL (which DSQL accepts) leaves every pooled connection at DSQL's
    session defaults: the first connection, set up before local mode was
    known, is replaced by one that has them as startup options."""
    engine = sa.create_engine(dsql_url, pool_size=1, max_overflow=0)
    try:
        for _ in range(3):
            with engine.connect() as conn:
                conn.exec_driver_sql("RESET ALL")
                conn.rollback()
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "repeatable read"
                assert conn.exec_driver_sql("SHOW TimeZone").scalar() == "UTC"
    finally:
        engine.dispose()
