"""OCC retries against a real PostgreSQL in strict local mode.

PostgreSQL at REPEATABLE READ answers a write to a row changed by a
transaction that committed after our snapshot with SQLSTATE 40001 ("could not
serialize access due to concurrent update"), as DSQL does (at COMMIT, with
OC000).  The contended counter proves that no increment is lost or doubled.

The counter runs 8 workers x ``AURORA_DSQL_COUNTER_INCREMENTS`` increments
(default 250 for threads and 125 for asyncio tasks, to keep the suite fast;
the exact 8 x 1,250 = 10,000 is ``benchmarks/bench_counter.py``, or set the
variable to 1250).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.errors import RetriesExhausted, TransactionLimitExceeded
from aurora_dsql_sqlalchemy.retry import (
    RetryEvent,
    RetryPolicy,
    classify,
    reset_stats,
    run_transaction,
    run_transaction_async,
    stats,
    transactional,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, sessionmaker

WORKERS = 8
INCREMENTS = int(os.environ.get("AURORA_DSQL_COUNTER_INCREMENTS", "250"))
ASYNC_INCREMENTS = int(os.environ.get("AURORA_DSQL_COUNTER_INCREMENTS", "125"))
# Eight workers on one row conflict most of the time: the default policy (a
# 30 s budget per increment, however many attempts) must carry them all.

metadata = sa.MetaData()
counter = sa.Table(
    "retry_counter",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
)
accounts = sa.Table(
    "retry_accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40), nullable=False, unique=True),
    sa.Column("balance", sa.Integer, nullable=False),
)
increment = counter.update().where(counter.c.id == 1).values(n=counter.c.n + 1)


@pytest.fixture
def tables(engine: sa.Engine, fresh_schema: None) -> Iterator[None]:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(counter.insert(), {"id": 1, "n": 0})
        conn.execute(accounts.insert(), [{"id": 1, "name": "ada", "balance": 100}])
    yield


def count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(counter.c.n)) or 0)


class Retries:
    """A thread-safe on_retry hook that counts retries by SQLSTATE."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total = 0
        self.by_sqlstate: dict[str | None, int] = {}

    def __call__(self, event: RetryEvent) -> None:
        with self.lock:
            self.total += 1
            self.by_sqlstate[event.sqlstate] = self.by_sqlstate.get(event.sqlstate, 0) + 1


def test_isolation_is_repeatable_read(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "repeatable read"


def test_contended_counter_threads(engine: sa.Engine, tables: None, driver: str) -> None:
    """With the default policy: 8 writers x 250 increments of one hot row end
    exact, with no RetriesExhausted; the engine's counters agree."""
    retries = Retries()
    reset_stats(engine)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(INCREMENTS):
                run_transaction(engine, lambda conn: conn.execute(increment), on_retry=retries)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert count(engine) == WORKERS * INCREMENTS
    print(
        f"\n[{driver} threads] {WORKERS}x{INCREMENTS}: {retries.total} retries {retries.by_sqlstate}"
    )
    assert set(retries.by_sqlstate) <= {"40001"}
    snapshot = stats(engine)
    assert snapshot.commits == WORKERS * INCREMENTS and snapshot.retries_exhausted == 0
    # strict local mode answers a blocked writer as DSQL does (40001 OC000)
    assert snapshot.retries == retries.total == sum(snapshot.conflicts.values())
    assert snapshot.attempts == snapshot.commits + snapshot.retries


def test_contended_counter_asyncio(
    dsql_url: URL, engine: sa.Engine, tables: None, driver: str
) -> None:
    if driver != "psycopg":
        pytest.skip(
            "asyncio runs on psycopg 3 (auroradsql+psycopg_async); covered by the psycopg run"
        )
    from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

    retries = Retries()

    async def main() -> None:
        async_engine = create_async_engine(
            dsql_url.set(drivername="auroradsql+psycopg_async"), pool_size=WORKERS
        )

        async def unit(conn: AsyncConnection) -> None:
            await conn.execute(increment)

        async def worker() -> None:
            for _ in range(ASYNC_INCREMENTS):
                await run_transaction_async(async_engine, unit, on_retry=retries)

        try:
            await asyncio.gather(*(worker() for _ in range(WORKERS)))
        finally:
            await async_engine.dispose()

    asyncio.run(main())
    assert count(engine) == WORKERS * ASYNC_INCREMENTS
    print(
        f"\n[{driver} asyncio] {WORKERS}x{ASYNC_INCREMENTS}: {retries.total} retries {retries.by_sqlstate}"
    )


def test_a_real_conflict_is_retried_with_a_fresh_transaction(
    engine: sa.Engine, tables: None
) -> None:
    """Attempt 1 takes its snapshot, another transaction commits a change to
    the same row, attempt 1's write fails with 40001; attempt 2 sees the
    committed value."""
    events: list[RetryEvent] = []
    seen: list[int] = []

    def unit(conn: sa.Connection) -> int:
        balance = int(conn.scalar(sa.select(accounts.c.balance).where(accounts.c.id == 1)) or 0)
        seen.append(balance)
        if len(seen) == 1:
            with engine.begin() as other:
                other.execute(accounts.update().values(balance=accounts.c.balance + 50))
        conn.execute(accounts.update().values(balance=balance - 30))
        return balance - 30

    assert run_transaction(engine, unit, on_retry=events.append) == 120
    assert seen == [100, 150]
    assert len(events) == 1
    assert events[0].sqlstate == "40001" and events[0].classification.kind in (
        "occ-data",
        "serialization",
    )
    with engine.connect() as conn:
        assert conn.scalar(sa.select(accounts.c.balance)) == 120


class Base(DeclarativeBase):
    metadata = metadata


class Account(Base):
    __table__ = accounts
    id: Mapped[int]
    name: Mapped[str]
    balance: Mapped[int]


def test_orm_attempts_start_clean_and_results_are_usable(engine: sa.Engine, tables: None) -> None:
    factory = sessionmaker(bind=engine)  # expire_on_commit=True, as usual
    attempts: list[Session] = []

    def unit(session: Session) -> Account:
        attempts.append(session)
        assert len(session.identity_map) == 0 and not session.new
        account = session.get(Account, 1)
        assert account is not None
        session.add(Account(id=2, name=f"bob-{len(attempts)}", balance=0))
        session.flush()  # half-flushed when the conflict hits
        if len(attempts) == 1:
            with engine.begin() as other:
                other.execute(accounts.update().where(accounts.c.id == 1).values(balance=7))
        account.balance += 1
        session.flush()
        return account

    account = run_transaction(factory, unit)
    assert len(attempts) == 2
    assert account.balance == 8 and account.name == "ada"  # readable after the session closed
    with Session(engine) as check:
        rows = check.execute(
            sa.select(accounts.c.id, accounts.c.name).order_by(accounts.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        (1, "ada"),
        (2, "bob-2"),
    ]  # nothing from attempt 1


def test_decorator_with_arguments(engine: sa.Engine, tables: None) -> None:
    factory = sessionmaker(bind=engine)

    @transactional(factory)
    def deposit(session: Session, account_id: int, amount: int) -> int:
        account = session.get(Account, account_id)
        assert account is not None
        account.balance += amount
        session.flush()
        return account.balance

    assert deposit(1, 5) == 105


@pytest.mark.parametrize("kind", ["unique", "syntax"])
def test_non_retryable_errors_are_raised_at_once(
    engine: sa.Engine, tables: None, kind: str
) -> None:
    calls = 0
    events: list[RetryEvent] = []

    def unit(conn: sa.Connection) -> None:
        nonlocal calls
        calls += 1
        if kind == "unique":
            conn.execute(accounts.insert(), {"id": 9, "name": "ada", "balance": 0})
        else:
            conn.exec_driver_sql("SELEC 1")

    expected = sa_exc.IntegrityError if kind == "unique" else sa_exc.ProgrammingError
    with pytest.raises(expected) as info:
        run_transaction(engine, unit, max_retries=5, on_retry=events.append)
    assert calls == 1 and events == []
    assert not classify(info.value).retryable
    assert classify(info.value).sqlstate == ("23505" if kind == "unique" else "42601")


def test_transaction_over_the_row_limit_is_a_clear_error(engine: sa.Engine, tables: None) -> None:
    calls = 0

    def unit(conn: sa.Connection) -> None:
        nonlocal calls
        calls += 1
        conn.execute(
            accounts.insert(),
            [{"id": 10 + i, "name": f"u{i}", "balance": 0} for i in range(3_001)],
        )

    with pytest.raises(TransactionLimitExceeded, match="chunked_write") as info:
        run_transaction(engine, unit)
    assert calls == 1
    assert classify(info.value.__cause__).rule_id == "transaction-rows"  # type: ignore[arg-type]
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(accounts)) == 1  # nothing written


def test_exactly_the_row_limit_passes(engine: sa.Engine, tables: None) -> None:
    rows = [{"id": 10 + i, "name": f"u{i}", "balance": 0} for i in range(3_000)]
    run_transaction(engine, lambda conn: conn.execute(accounts.insert(), rows))
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(accounts)) == 3_001


def test_engine_retry_policy_from_execution_options(engine: sa.Engine, tables: None) -> None:
    strict = engine.execution_options(retry_policy=RetryPolicy(max_retries=1, base_delay=0.0))
    calls = 0

    def always_conflicts(conn: sa.Connection) -> None:
        nonlocal calls
        calls += 1
        conn.scalar(sa.select(accounts.c.balance).where(accounts.c.id == 1))
        with engine.begin() as other:
            other.execute(accounts.update().values(balance=accounts.c.balance + 1))
        conn.execute(accounts.update().values(balance=0))

    with pytest.raises(RetriesExhausted) as info:
        run_transaction(strict, always_conflicts)
    assert calls == 2 and len(info.value.attempts) == 2
    assert all(classify(e).sqlstate == "40001" for e in info.value.attempts)


def test_async_sessions_and_decorator(
    dsql_url: URL, engine: sa.Engine, tables: None, driver: str
) -> None:
    if driver != "psycopg":
        pytest.skip(
            "asyncio runs on psycopg 3 (auroradsql+psycopg_async); covered by the psycopg run"
        )
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

    events: list[RetryEvent] = []

    async def main() -> tuple[Account, int, int]:
        async_engine = create_async_engine(dsql_url.set(drivername="auroradsql+psycopg_async"))
        factory = async_sessionmaker(async_engine)
        sessions: list[AsyncSession] = []
        try:

            async def unit(session: AsyncSession) -> Account:
                sessions.append(session)
                assert len(session.identity_map) == 0
                account = await session.get(Account, 1)
                assert account is not None
                if len(sessions) == 1:  # a concurrent writer commits first
                    with engine.begin() as other:
                        other.execute(accounts.update().values(balance=500))
                account.balance += 1
                await session.flush()
                return account

            account = await run_transaction_async(factory, unit, on_retry=events.append)

            @transactional(factory)
            async def balance_of(session: AsyncSession, account_id: int) -> int:
                found = await session.get(Account, account_id)
                assert found is not None
                return found.balance

            return account, len(sessions), await balance_of(1)
        finally:
            await async_engine.dispose()

    account, attempts, balance = asyncio.run(main())
    assert attempts == 2 and len(events) == 1 and events[0].sqlstate == "40001"
    assert account.balance == 501 == balance  # readable after its session closed
