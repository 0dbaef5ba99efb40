"""``auroradsql+psycopg_async``: the dialect under asyncio, on the local server.

Each test runs its own event loop (``asyncio.run``) and engine.  What the
synchronous dialect guarantees must hold unchanged under SQLAlchemy's asyncio
adaptation: DDL in a transaction of its own, DDL after DML refused with DSQL's
error, ASYNC index jobs waited for, no savepoints, REPEATABLE READ only, and
IAM tokens signed without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy import DSQLUnsupportedError, IndexJobFailed
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

pytestmark = pytest.mark.usefixtures("fresh_schema")


@pytest.fixture
def async_url(dsql_url: URL, driver: str) -> URL:
    if driver != "psycopg":
        pytest.skip(
            "asyncio runs on psycopg 3 (auroradsql+psycopg_async); psycopg2 has no asyncio API"
        )
    return dsql_url.set(drivername="auroradsql+psycopg_async")


def run(url: URL, body: Callable[[AsyncEngine], Awaitable[Any]], **engine_kw: Any) -> Any:
    async def main() -> Any:
        engine = create_async_engine(url, **engine_kw)
        try:
            return await body(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


metadata = sa.MetaData()
pets = sa.Table(
    "async_pets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40), nullable=False, unique=True),
    sa.Column("species", sa.String(20), index=True),
)


def test_dialect_class_and_local_mode(async_url: URL) -> None:
    async def body(engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            dialect = conn.dialect
            assert type(dialect).__name__ == "AuroraDSQLDialect_psycopg_async"
            assert dialect.is_async
            assert dialect.local_mode == "strict"
            assert dialect.is_dsql is False
            assert await conn.get_isolation_level() == "REPEATABLE READ"

    run(async_url, body)


def test_create_all_dml_and_drop_all(async_url: URL) -> None:
    async def body(engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with engine.connect() as conn:
            names = await conn.run_sync(
                lambda c: {i["name"] for i in sa.inspect(c).get_indexes("async_pets")}
            )
            assert "ix_async_pets_species" in names
            jobs = (await conn.execute(sa.text("SELECT status FROM sys.jobs"))).scalars().all()
            assert jobs and set(jobs) == {"completed"}
        async with engine.begin() as conn:
            await conn.execute(
                pets.insert(),
                [{"name": "Rex", "species": "dog"}, {"name": "Tom", "species": "cat"}],
            )
        async with engine.connect() as conn:
            rows = (
                (await conn.execute(sa.select(pets.c.name).order_by(pets.c.name))).scalars().all()
            )
            assert rows == ["Rex", "Tom"]
            # identity key, not SERIAL
            ids = (await conn.execute(sa.select(pets.c.id))).scalars().all()
            assert len(set(ids)) == 2
        async with engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
        async with engine.connect() as conn:
            assert not await conn.run_sync(lambda c: sa.inspect(c).has_table("async_pets"))

    run(async_url, body)


def test_ddl_after_dml_is_refused_and_transaction_kept(async_url: URL) -> None:
    async def body(engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with engine.connect() as conn:
            await conn.begin()
            await conn.execute(pets.insert(), {"name": "Rex"})
            with pytest.raises(sa.exc.NotSupportedError) as caught:
                await conn.execute(sa.text("CREATE INDEX ASYNC ix_pets_name ON async_pets (name)"))
            assert caught.value.orig.sqlstate == "0A000"
            assert "ddl and dml are not supported in the same transaction" in str(caught.value)
            # the user's write is still there, uncommitted, in the same transaction
            assert (await conn.execute(sa.select(sa.func.count()).select_from(pets))).scalar() == 1
            await conn.commit()
        async with engine.connect() as conn:
            assert (await conn.execute(sa.select(sa.func.count()).select_from(pets))).scalar() == 1

    run(async_url, body)


def test_ddl_after_reads_runs_in_its_own_transaction(async_url: URL) -> None:
    async def body(engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
            await conn.execute(sa.text("CREATE TABLE async_t (id bigint PRIMARY KEY)"))
            await conn.execute(sa.text("CREATE TABLE async_u (id bigint PRIMARY KEY)"))
            await conn.rollback()  # DDL is never rolled back with the SQLAlchemy transaction
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
            assert {"async_t", "async_u"} <= tables

    run(async_url, body)


def test_index_job_returns_job_id_and_is_waited_for(async_url: URL) -> None:
    async def body(engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with engine.begin() as conn:
            await conn.execute(
                pets.insert(),
                [{"name": "Rex", "species": "dog"}, {"name": "Max", "species": "dog"}],
            )
        async with engine.connect() as conn:
            result = await conn.execute(
                sa.text("CREATE INDEX ASYNC ix_sp2 ON async_pets (species, name)")
            )
            job_id = result.scalar_one()
            status = (
                await conn.execute(
                    sa.text("SELECT status FROM sys.jobs WHERE job_id = :j"), {"j": job_id}
                )
            ).scalar()
            assert status == "completed"
            # a UNIQUE build over duplicates fails as a job, as on DSQL
            with pytest.raises(IndexJobFailed) as failed:
                await conn.run_sync(
                    lambda c: sa.Index("ux_species", pets.c.species, unique=True).create(c)
                )
            assert "ux_species" in str(failed.value)

    run(async_url, body)


def test_job_row_and_wait_for_job_on_the_adapted_connection(async_url: URL) -> None:
    """The job id row reaches the caller, and waiting works on SQLAlchemy's adapted objects."""

    async def body(engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("CREATE TABLE job_rows (id bigint PRIMARY KEY, v int)")
            result = await conn.exec_driver_sql("CREATE INDEX ASYNC ix_job_rows_v ON job_rows (v)")
            assert list(result.keys()) == ["job_id"]
            job_id = result.scalar_one()
            ok = await conn.exec_driver_sql(
                "INSERT INTO sys.jobs (job_id, status, job_type) VALUES ('job-bad', 'failed', 'INDEX_BUILD')"
            )
            assert ok.rowcount == 1
            await conn.commit()
            raw = await conn.get_raw_connection()
            adapted = raw.dbapi_connection
            dialect = conn.dialect

            def sync_part(_: Any) -> None:
                assert dialect._dbapi_in_transaction(adapted) in (True, False)
                dialect.wait_for_job(adapted, job_id)
                with pytest.raises(IndexJobFailed):
                    dialect.wait_for_job(adapted, "job-bad", "Index 'x'")

            await conn.run_sync(sync_part)
            await conn.exec_driver_sql("DROP TABLE job_rows")
            await conn.commit()

    run(async_url, body)


def test_no_savepoints_and_repeatable_read_only(async_url: URL) -> None:
    async def body(engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            await conn.begin()
            with pytest.raises(DSQLUnsupportedError) as caught:
                await conn.begin_nested()
            assert caught.value.rule.id == "savepoint"
            await conn.rollback()
            with pytest.raises(DSQLUnsupportedError) as caught:
                await conn.execution_options(isolation_level="SERIALIZABLE")
            assert caught.value.rule.id == "isolation-level"
        async with engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            assert (await auto.execute(sa.text("SELECT 1"))).scalar() == 1

    run(async_url, body)


class Base(DeclarativeBase):
    metadata = sa.MetaData()


class Owner(Base):
    __tablename__ = "async_owners"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50), index=True)


def test_autocommitted_write_over_the_row_limit_changes_nothing(async_url: URL) -> None:
    """Under AUTOCOMMIT the statement that crosses the row limit is refused
    before it commits, on the adapted connection as on the sync one."""
    import dataclasses

    from aurora_dsql_sqlalchemy import rules

    rows = sa.Table("async_rows", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.Text))

    async def body(engine: AsyncEngine) -> tuple[int, int, int]:
        async with engine.begin() as conn:
            await conn.run_sync(rows.metadata.create_all)
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for _ in range(3):
                await autocommit.execute(rows.insert(), [{"v": "x"}] * 4)
            with pytest.raises(sa.exc.DBAPIError) as crossed:
                await autocommit.execute(rows.update().values(v="y"))  # 12 rows in one statement
            sqlstate = crossed.value.orig.sqlstate  # type: ignore[union-attr]
            changed = await autocommit.scalar(sa.select(sa.func.count()).where(rows.c.v == "y"))
            await autocommit.execute(rows.delete().where(rows.c.id > 10))
            left = await autocommit.scalar(sa.select(sa.func.count()).select_from(rows))
            return int(sqlstate == "54000"), changed, left

    limits = dataclasses.replace(rules.LIMITS, transaction_rows=5)
    assert run(async_url, body, limits=limits) == (1, 0, 10)


def test_orm_async_session(async_url: URL) -> None:
    async def body(engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with AsyncSession(engine) as session:
            session.add_all([Owner(name="Ann"), Owner(name="Bob")])
            await session.commit()
        async with AsyncSession(engine) as session:
            names = (await session.scalars(sa.select(Owner.name).order_by(Owner.name))).all()
            assert names == ["Ann", "Bob"]
            with pytest.raises(DSQLUnsupportedError):
                async with session.begin_nested():
                    session.add(Owner(name="Cid"))
                    await session.flush()

    run(async_url, body)


def test_iam_token_is_signed_off_the_event_loop(
    async_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    """iam_auth=True signs a token for every new connection (the local server
    trusts any password); signing runs in a worker thread."""
    from aurora_dsql_sqlalchemy.auth import IAMTokenProvider

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    signing_threads: list[int] = []
    original = IAMTokenProvider._sign

    def recording_sign(self: Any, *args: Any, **kw: Any) -> Any:
        signing_threads.append(threading.get_ident())
        return original(self, *args, **kw)

    monkeypatch.setattr(IAMTokenProvider, "_sign", recording_sign)

    async def body(engine: AsyncEngine) -> int:
        async with engine.connect() as c1, engine.connect() as c2:
            assert (await c1.execute(sa.text("SELECT 1"))).scalar() == 1
            assert (await c2.execute(sa.text("SELECT 1"))).scalar() == 1
        provider = engine.sync_engine.dialect.token_provider
        return int(provider.signings)

    loop_thread = threading.get_ident()
    signings = run(async_url.set(password=None), body, iam_auth=True, region="us-east-1")
    assert signings == 1  # two connections, one cached token
    assert signing_threads and loop_thread not in signing_threads


def test_pet_clinic_async_example(async_url: URL, capsys: pytest.CaptureFixture[str]) -> None:
    import runpy

    example = runpy.run_path(
        str(Path(__file__).resolve().parents[1] / "examples" / "pet-clinic-app" / "app_async.py")
    )
    assert example["main"](["--url", async_url.render_as_string(hide_password=False)]) == 0
    out = capsys.readouterr().out
    assert "remaining pets: ['Leonardo']; visits: 2" in out and "dropped tables" in out
