"""Writers never wait, as on DSQL (strict local mode).

On DSQL two transactions writing the same row both run, and one fails with
``40001`` "change conflicts with another transaction (OC000)".  PostgreSQL
makes the second writer block on the row lock instead, so code tested
locally would wait where DSQL answers a conflict.  Strict local mode gives
each session a ``lock_timeout`` of 100 ms and answers a write that
would wait with DSQL's conflict: the loser learns it at the statement rather
than at COMMIT, and retry code re-runs it the same way.  DDL still waits
(DSQL never fails DDL for another transaction's rows).
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy import rules
from aurora_dsql_sqlalchemy.retry import run_transaction
from sqlalchemy.engine import URL

pytestmark = pytest.mark.usefixtures("fresh_schema")

metadata = sa.MetaData()
counter = sa.Table(
    "counter",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("n", sa.Integer, nullable=False),
)
tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("number", sa.Integer, nullable=False, unique=True),
)


def sqlstate(error: sa.exc.DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)


@pytest.fixture
def schema(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(counter.insert().values(id=1, n=0))


def test_second_writer_gets_dsqls_conflict_without_waiting(engine: sa.Engine, schema: None) -> None:
    occ = rules.RULES["occ-data"]
    with engine.connect() as first, engine.connect() as second:
        first.execute(counter.update().values(n=counter.c.n + 1))
        started = time.monotonic()
        with pytest.raises(sa.exc.DBAPIError) as conflict:
            second.execute(counter.update().values(n=counter.c.n + 1))
        waited = time.monotonic() - started
        assert sqlstate(conflict.value) == occ.sqlstate
        assert occ.message in str(conflict.value.orig)
        assert waited < 2.0  # 100 ms of lock timeout, not the first writer's lifetime
        # the loser's transaction is aborted, as after any DSQL error
        with pytest.raises(sa.exc.DBAPIError) as aborted:
            second.execute(sa.select(counter.c.n))
        assert sqlstate(aborted.value) == rules.RULES["transaction-aborted"].sqlstate
        second.rollback()
        first.commit()
    with engine.connect() as conn:
        assert conn.execute(sa.select(counter.c.n)).scalar_one() == 1


def test_numbering_with_for_update_under_contention_is_retried_and_exact(
    engine: sa.Engine, schema: None
) -> None:
    """Applications that number rows with SELECT ... FOR UPDATE see conflicts,
    retried by run_transaction, and end with every number given once."""

    def take_number(conn: sa.Connection) -> int:
        current = conn.execute(sa.select(counter.c.n).with_for_update()).scalar_one()
        conn.execute(counter.update().values(n=current + 1))
        conn.execute(tickets.insert().values(number=current + 1))
        return int(current + 1)

    taken: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(15):
                taken.append(run_transaction(engine, take_number))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(taken) == list(range(1, 46))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tickets)).scalar_one() == 45


def test_ddl_still_waits_for_a_reader(engine: sa.Engine, schema: None) -> None:
    reader = engine.connect()
    reader.execute(sa.select(counter.c.n))  # holds the table's share lock
    threading.Timer(0.3, reader.rollback).start()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("ALTER TABLE counter ADD COLUMN note text"))
        with engine.connect() as conn:
            assert "note" in {c["name"] for c in sa.inspect(conn).get_columns("counter")}
            assert conn.execute(sa.text("SHOW lock_timeout")).scalar() == "100ms"
    finally:
        reader.close()


def test_relaxing_the_rule_brings_back_postgresqls_lock_waits(dsql_url: URL, schema: None) -> None:
    relaxed = sa.create_engine(dsql_url, relax=["occ-data"])
    try:
        with relaxed.connect() as conn:
            assert conn.execute(sa.text("SHOW lock_timeout")).scalar() == "0"
    finally:
        relaxed.dispose()


def _prepared_on_server(conn: sa.Connection) -> int:
    return int(conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar_one())


@pytest.mark.parametrize("drivername", ["auroradsql+psycopg", "postgresql+psycopg"])
def test_a_conflicts_rollback_keeps_psycopgs_prepared_statements(
    dsql_url: URL, driver: str, drivername: str, schema: None
) -> None:
    """psycopg forgets every prepared statement on rollback (DEALLOCATE ALL):
    the dialect, whose rolled-back transactions never hold DDL, keeps them when
    no DDL ran since they were last forgotten, so under retries its statements
    stay prepared."""
    if driver != "psycopg":
        pytest.skip("prepared statements are psycopg 3's (psycopg2 prepares nothing)")
    stock = drivername.startswith("postgresql")
    engine = sa.create_engine(dsql_url.set(drivername=drivername))
    read = sa.select(counter.c.n).where(counter.c.id == 1)
    try:
        with engine.connect() as first, engine.connect() as second:
            second.execute(read)
            second.rollback()  # the first rollback since the schema fixture's DDL forgets them all
            for _ in range(6):  # psycopg prepares a statement at its 6th run
                assert second.execute(read).scalar_one() == 0
            second.commit()
            prepared = _prepared_on_server(second)
            assert prepared >= 1
            first.execute(counter.update().values(n=counter.c.n + 1))
            bump = counter.update().values(n=counter.c.n + 10)
            if stock:
                second.exec_driver_sql("SET lock_timeout = '50ms'")
            for _ in range(6):  # prepared inside the transaction that is rolled back
                second.execute(sa.select(counter.c.id))
            with pytest.raises(sa.exc.DBAPIError):
                second.execute(bump)
            second.rollback()
            assert _prepared_on_server(second) == (0 if stock else prepared + 1)
            second.commit()  # (that look-up began a transaction: its snapshot is older)
            first.commit()
            # both statements, prepared before and inside the rolled-back
            # transaction, run again and see what the winner committed
            assert second.execute(read).scalar_one() == 1
            assert second.execute(sa.select(counter.c.id)).scalar_one() == 1
            second.commit()
    finally:
        engine.dispose()


def test_ddl_elsewhere_makes_the_next_rollback_forget_prepared_statements(
    engine: sa.Engine, driver: str, schema: None
) -> None:
    """A table re-created with another column type (a test suite's fixtures, a
    migration) on another connection: the next rollback forgets the prepared
    SELECT of the old table, as psycopg's own rollback does, so it runs again
    instead of failing with "cached plan must not change result type"."""
    if driver != "psycopg":
        pytest.skip("prepared statements are psycopg 3's (psycopg2 prepares nothing)")
    widened = sa.MetaData()
    sa.Table("counter", widened, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False), sa.Column("n", sa.Text))
    read = sa.select(counter.c.n)
    with engine.connect() as reader:
        reader.execute(read)
        reader.rollback()  # the fast rollback from here on
        for _ in range(6):
            assert reader.execute(read).scalar_one() == 0
        reader.rollback()
        assert _prepared_on_server(reader) >= 1
        reader.rollback()
        with engine.connect() as ddl:  # another pooled connection
            ddl.execute(counter.delete())
            ddl.commit()
        metadata.drop_all(engine)
        widened.create_all(engine)
        with engine.begin() as ddl:
            ddl.execute(widened.tables["counter"].insert().values(id=1, n="text now"))
        reader.execute(sa.select(sa.literal(1)))
        reader.rollback()
        assert reader.execute(read).scalar_one() == "text now"
        reader.rollback()
