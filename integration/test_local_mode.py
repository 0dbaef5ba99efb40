"""Local mode: how it is chosen, and DSQL's transaction limits enforced on PostgreSQL."""

from __future__ import annotations

import logging
import time

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy import rules
from sqlalchemy.engine import URL


def _sqlstate(error: sa.exc.DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)


@pytest.fixture
def items(engine: sa.Engine, fresh_schema: None) -> sa.Table:
    metadata = sa.MetaData()
    table = sa.Table(
        "items",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("payload", sa.Text),
    )
    metadata.create_all(engine)
    return table


def test_mode_is_decided_from_the_server_and_logged(dsql_url: URL, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aurora_dsql_sqlalchemy")
    engine = sa.create_engine(dsql_url)
    with engine.connect():
        pass
    assert engine.dialect.is_dsql is False
    assert engine.dialect.local_mode == "strict"
    assert any("not Aurora DSQL: local mode 'strict'" in r.getMessage() for r in caplog.records)
    engine.dispose()

    translating = sa.create_engine(dsql_url.update_query_dict({"local_mode": "translate"}))
    with translating.connect():
        pass
    assert translating.dialect.local_mode == "translate"
    translating.dispose()


def test_unknown_mode_and_unknown_rule_ids_are_refused(dsql_url: URL) -> None:
    with pytest.raises(ValueError, match="local_mode"):
        sa.create_engine(dsql_url, local_mode="lenient")
    with pytest.raises(KeyError, match="unknown DSQL rule"):
        sa.create_engine(dsql_url, relax=["no-such-rule"])


def test_strict_refuses_what_translate_lets_through(dsql_url: URL, items: sa.Table) -> None:
    strict = sa.create_engine(dsql_url)
    with strict.begin() as conn, pytest.raises(sa.exc.NotSupportedError) as refused:
        conn.exec_driver_sql("TRUNCATE items")
    assert _sqlstate(refused.value) == "0A000"
    strict.dispose()

    relaxed = sa.create_engine(dsql_url, relax=["truncate"])
    with relaxed.begin() as conn:
        conn.exec_driver_sql("TRUNCATE items")
    relaxed.dispose()


def test_row_limit_fails_the_statement_that_crosses_it(engine: sa.Engine, items: sa.Table) -> None:
    limit = rules.LIMITS.transaction_rows
    with engine.begin() as conn:
        conn.execute(items.insert(), [{"payload": "x"}] * limit)  # exactly the limit passes
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(items)) == limit

    with engine.connect() as conn:
        conn.execute(items.update().values(payload="y").where(items.c.id <= 10))
        with pytest.raises(sa.exc.DBAPIError) as crossed:
            conn.execute(items.update().values(payload="z"))  # 10 + 3,000 rows
        assert _sqlstate(crossed.value) == "54000"
        assert "transaction row limit exceeded" in str(crossed.value)
        # as on DSQL, the transaction is aborted until rolled back
        with pytest.raises(sa.exc.DBAPIError) as aborted:
            conn.execute(sa.select(items.c.id).limit(1))
        assert _sqlstate(aborted.value) == "25P02"
        conn.rollback()
        assert conn.scalar(sa.select(sa.func.count()).where(items.c.payload != "x")) == 0


def test_row_limit_is_configurable_and_relaxable(dsql_url: URL, items: sa.Table) -> None:
    import dataclasses

    small = sa.create_engine(dsql_url, limits=dataclasses.replace(rules.LIMITS, transaction_rows=5))
    with small.connect() as conn, pytest.raises(sa.exc.DBAPIError):
        conn.execute(items.insert(), [{"payload": "x"}] * 6)
    small.dispose()
    relaxed = sa.create_engine(
        dsql_url,
        limits=dataclasses.replace(rules.LIMITS, transaction_rows=5),
        relax=["transaction-rows"],
    )
    with relaxed.begin() as conn:
        conn.execute(items.insert(), [{"payload": "x"}] * 6)
    relaxed.dispose()


def test_autocommitted_statements_count_one_at_a_time(dsql_url: URL, items: sa.Table) -> None:
    """With ``isolation_level="AUTOCOMMIT"`` every statement commits on its
    own, as every statement is a transaction of its own on DSQL: the row
    limit applies to each statement, not to what the connection wrote
    since it was checked out, and a statement over it changes nothing."""
    import dataclasses

    small = sa.create_engine(dsql_url, limits=dataclasses.replace(rules.LIMITS, transaction_rows=5))
    with small.connect() as conn:
        autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
        for _ in range(3):
            autocommit.execute(items.insert(), [{"payload": "x"}] * 4)  # 12 rows in all
        autocommit.execute(items.update().values(payload="y").where(items.c.id <= 4))
        assert autocommit.scalar(sa.select(sa.func.count()).select_from(items)) == 12
        with pytest.raises(sa.exc.DBAPIError) as crossed:
            autocommit.execute(items.update().values(payload="z"))  # one statement of 12 rows
        assert _sqlstate(crossed.value) == "54000"
        # refused as on DSQL, before anything was committed: no row changed
        assert autocommit.scalar(sa.select(sa.func.count()).where(items.c.payload == "z")) == 0
        autocommit.execute(items.delete().where(items.c.id > 10))  # the connection goes on
        assert autocommit.scalar(sa.select(sa.func.count()).select_from(items)) == 10
    with small.begin() as conn:  # the next checkout starts from nothing
        conn.execute(items.insert(), [{"payload": "x"}] * 5)
    small.dispose()

    small = sa.create_engine(dsql_url, limits=dataclasses.replace(rules.LIMITS, transaction_bytes=1000))
    with small.connect() as conn:
        autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.execute(items.insert(), {"payload": "a" * 600})
        autocommit.execute(items.insert(), {"payload": "b" * 600})  # 1,200 bytes, in two transactions
        with pytest.raises(sa.exc.DBAPIError, match="transaction size limit 10mb exceeded") as big:
            autocommit.execute(items.insert().values([{"payload": "c" * 600}, {"payload": "d" * 600}]))
        assert _sqlstate(big.value) == "54000"
        assert autocommit.scalar(sa.select(sa.func.count()).select_from(items)) == 17  # 10 + 5 + a + b
    small.dispose()


def test_size_and_age_limits_fail_at_commit(dsql_url: URL, items: sa.Table) -> None:
    import dataclasses

    small = sa.create_engine(
        dsql_url, limits=dataclasses.replace(rules.LIMITS, transaction_bytes=1000)
    )
    with small.connect() as conn:
        conn.execute(items.insert(), [{"payload": "x" * 600}, {"payload": "y" * 600}])
        with pytest.raises(sa.exc.DBAPIError, match="transaction size limit 10mb exceeded") as big:
            conn.commit()
        assert _sqlstate(big.value) == "54000"
    small.dispose()

    brief = sa.create_engine(
        dsql_url, limits=dataclasses.replace(rules.LIMITS, transaction_seconds=0.05)
    )
    with brief.connect() as conn:
        conn.execute(items.insert(), {"payload": "late"})
        time.sleep(0.1)
        with pytest.raises(sa.exc.DBAPIError, match="transaction age limit of 300s exceeded"):
            conn.commit()
    brief.dispose()
    with sa.create_engine(dsql_url).connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(items)) == 0


def test_indexes_per_table_limit(engine: sa.Engine, fresh_schema: None) -> None:
    metadata = sa.MetaData()
    columns = [sa.Column(f"c{i}", sa.Integer) for i in range(rules.LIMITS.indexes_per_table)]
    wide = sa.Table("wide", metadata, sa.Column("id", sa.Integer, primary_key=True), *columns)
    metadata.create_all(engine)
    # the primary key's index counts: 23 more fit
    for i in range(rules.LIMITS.indexes_per_table - 1):
        sa.Index(f"ix_wide_{i}", wide.c[f"c{i}"]).create(engine)
    with pytest.raises(sa.exc.DBAPIError, match=r"too many indexes on table \(max 24\)") as refused:
        sa.Index("ix_wide_last", wide.c[f"c{rules.LIMITS.indexes_per_table - 1}"]).create(engine)
    assert _sqlstate(refused.value) == "54000"
    assert "PL/pgSQL" not in str(refused.value.orig)  # DSQL's words, not the emulation's trail


def test_indexes_per_table_limit_inside_create_all(engine: sa.Engine, fresh_schema: None) -> None:
    """create_all() counts the indexes of the tables it creates itself, so
    their builds send no count to the server; the limit holds all the same,
    for the compiled builds and for ASYNC text a listener sends there."""
    limit = rules.LIMITS.indexes_per_table
    metadata = sa.MetaData()
    columns = [sa.Column(f"c{i}", sa.Integer) for i in range(limit)]
    sa.Table(
        "wide", metadata, sa.Column("id", sa.Integer, primary_key=True), *columns,
        *(sa.Index(f"ix_wide_{i}", f"c{i}") for i in range(limit)),
    )
    with pytest.raises(sa.exc.DBAPIError, match=r"too many indexes on table \(max 24\)") as refused:
        metadata.create_all(engine)
    assert _sqlstate(refused.value) == "54000"
    assert "PL/pgSQL" not in str(refused.value.orig)
    # the primary key and 23 of the indexes: the 24th build was refused and did not happen
    assert len(sa.inspect(engine).get_indexes("wide")) == limit - 1
    metadata.drop_all(engine)

    metadata = sa.MetaData()
    texts = sa.Table(
        "texts", metadata, sa.Column("id", sa.Integer, primary_key=True),
        *[sa.Column(f"c{i}", sa.Integer) for i in range(limit)],
        *(sa.Index(f"ix_texts_{i}", f"c{i}") for i in range(limit - 2)),
    )

    @sa.event.listens_for(texts, "after_create")
    def two_more(target: sa.Table, connection: sa.Connection, **kw: object) -> None:
        connection.exec_driver_sql("CREATE INDEX ASYNC ix_texts_a ON texts (c22)")  # the 24th
        connection.exec_driver_sql("CREATE INDEX ASYNC ix_texts_b ON texts (c23)")  # one too many

    with pytest.raises(sa.exc.DBAPIError, match=r"too many indexes on table \(max 24\)"):
        metadata.create_all(engine)
    names = {i["name"] for i in sa.inspect(engine).get_indexes("texts")}
    assert len(names) == limit - 1 and "ix_texts_a" in names and "ix_texts_b" not in names


def test_sessions_run_repeatable_read_in_utc(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "repeatable read"
        assert conn.exec_driver_sql("SHOW TimeZone").scalar() == "UTC"
        assert conn.get_isolation_level() == "REPEATABLE READ"


def test_sys_schema_answers_like_dsql(engine: sa.Engine, fresh_schema: None) -> None:
    metadata = sa.MetaData()
    sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.Integer))
    metadata.create_all(engine)
    with engine.connect() as conn:
        job_id = conn.exec_driver_sql("CREATE INDEX ASYNC ix_t_v ON t (v)").scalar_one()
        assert isinstance(job_id, str)
        conn.commit()
        assert conn.exec_driver_sql("CALL sys.wait_for_job(%(j)s)", {"j": job_id}).scalar_one() is True
        status, job_type = conn.execute(
            sa.text("SELECT status, job_type FROM sys.jobs WHERE job_id = :j"), {"j": job_id}
        ).one()
        assert (status, job_type) == ("completed", "INDEX_BUILD")
    assert "ix_t_v" in {i["name"] for i in sa.inspect(engine).get_indexes("t")}
