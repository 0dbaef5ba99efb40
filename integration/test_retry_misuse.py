"""run_transaction misuse fails safe, on a real PostgreSQL in strict local mode.

The function given to ``run_transaction`` may run more than once.  A
``commit()`` inside it is refused at the call (before anything reaches the
server), a ``rollback()`` followed by a normal return is refused (nothing is
committed), and ``@transactional`` without its engine is refused when it is
applied.  Each case leaves the data as it was.  Also here: a connection that
ends with no error during COMMIT is reported as ``CommitOutcomeUnknown``,
never as success, and is re-run only for a unit of work declared idempotent.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.errors import CommitOutcomeUnknown
from aurora_dsql_sqlalchemy.retry import (
    run_transaction,
    run_transaction_async,
    stats,
    transactional,
)
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

REFUSED = r"commit\(\) was called inside the function given to run_transaction(_async)?\(\): refused"
ANY_COMMIT = r"was called inside the function given to run_transaction(_async)?\(\): refused, nothing was committed"
ENDED = r"ended the transaction run_transaction(_async)?\(\) had begun"


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "misuse_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    balance: Mapped[int]


accounts = Account.__table__


@pytest.fixture
def tables(engine: sa.Engine, fresh_schema: None) -> Iterator[None]:
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(accounts.insert(), [{"id": 1, "balance": 100}, {"id": 2, "balance": 0}])
    yield


def balances(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.scalars(sa.select(accounts.c.balance).order_by(accounts.c.id)))


def concurrent_deposit(engine: sa.Engine) -> None:
    """Another client commits a change to account 1: the attempt that read it
    before conflicts when it writes it."""
    with engine.begin() as other:
        other.execute(accounts.update().where(accounts.c.id == 1).values(balance=accounts.c.balance + 5))


# -- ORM, sync ------------------------------------------------------------------------------


@pytest.mark.parametrize("caught", [False, True], ids=["raised", "caught-by-fn"])
def test_session_commit_inside_is_refused_before_anything_is_applied(
    engine: sa.Engine, tables: None, caught: bool
) -> None:
    """The reported case: debit 10, session.commit(), then a conflict re-ran
    the function and the balance went from 100 to 80."""
    calls = 0

    def debit(session: Session) -> None:
        nonlocal calls
        calls += 1
        account = session.get(Account, 1)
        assert account is not None
        account.balance -= 10
        try:
            session.commit()
        except sa_exc.InvalidRequestError:
            if not caught:
                raise
        concurrent_deposit(engine)
        account.balance -= 0  # keeps writing after the "commit"
        session.flush()

    with pytest.raises(sa_exc.InvalidRequestError, match=REFUSED):
        run_transaction(sessionmaker(bind=engine), debit)
    assert calls == 1  # not re-run
    # nothing of the debit; when fn caught the refusal, only the other client's deposit
    assert balances(engine) == ([105, 0] if caught else [100, 0])


def test_session_commit_refused_on_a_session_bind_too(engine: sa.Engine, tables: None) -> None:
    with Session(engine) as session:

        def debit(s: Session) -> None:
            account = s.get(Account, 1)
            assert account is not None
            account.balance -= 10
            s.commit()

        with pytest.raises(sa_exc.InvalidRequestError, match=REFUSED):
            run_transaction(session, debit)
        assert not session.in_transaction()
        session.commit()  # the guard is gone once run_transaction returned
    assert balances(engine) == [100, 0]


@pytest.mark.parametrize("then", ["return", "write-more"])
def test_session_rollback_then_return_is_refused_not_silent(
    engine: sa.Engine, tables: None, then: str
) -> None:
    def unit(session: Session) -> str:
        account = session.get(Account, 1)
        assert account is not None
        account.balance -= 10
        session.rollback()
        if then == "write-more":  # autobegins a second transaction
            other = session.get(Account, 2)
            assert other is not None
            other.balance += 10
        return "done"

    with pytest.raises(sa_exc.InvalidRequestError, match=ENDED):
        run_transaction(sessionmaker(bind=engine), unit)
    assert balances(engine) == [100, 0]  # nothing of either part committed


def test_rollback_then_raise_is_still_retried(engine: sa.Engine, tables: None) -> None:
    """The common ``except: session.rollback(); raise`` keeps working: the
    conflict it re-raises is retried and the debit is applied once."""
    calls = 0

    def debit(session: Session) -> int:
        nonlocal calls
        calls += 1
        try:
            account = session.get(Account, 1)
            assert account is not None
            if calls == 1:
                concurrent_deposit(engine)
            account.balance -= 10
            session.flush()
            return account.balance
        except sa_exc.DBAPIError:
            session.rollback()
            raise

    assert run_transaction(sessionmaker(bind=engine), debit) == 95
    assert calls == 2 and balances(engine) == [95, 0]


# -- Core, sync -----------------------------------------------------------------------------


def test_connection_commit_inside_is_refused(engine: sa.Engine, tables: None) -> None:
    calls = 0

    def debit(conn: sa.Connection) -> None:
        nonlocal calls
        calls += 1
        conn.execute(accounts.update().where(accounts.c.id == 1).values(balance=accounts.c.balance - 10))
        conn.commit()

    with pytest.raises(sa_exc.InvalidRequestError, match=REFUSED):
        run_transaction(engine, debit)
    assert calls == 1 and balances(engine) == [100, 0]
    with engine.connect() as conn:  # a Connection bind: rolled back, usable, unguarded
        with pytest.raises(sa_exc.InvalidRequestError, match=REFUSED):
            run_transaction(conn, debit)
        assert not conn.in_transaction()
        conn.execute(accounts.update().where(accounts.c.id == 2).values(balance=1))
        conn.commit()
    assert balances(engine) == [100, 1]


@pytest.mark.parametrize("caught", [False, True], ids=["raised", "caught-by-fn"])
def test_connection_commit_through_its_transaction_is_refused(
    engine: sa.Engine, tables: None, caught: bool
) -> None:
    """``conn.get_transaction().commit()`` goes round ``conn.commit()``: the
    dialect refuses it at the driver's COMMIT, and rolls the work back."""
    calls = 0

    def debit(conn: sa.Connection) -> None:
        nonlocal calls
        calls += 1
        conn.execute(accounts.update().where(accounts.c.id == 1).values(balance=accounts.c.balance - 10))
        transaction = conn.get_transaction()
        assert transaction is not None
        try:
            transaction.commit()
        except sa_exc.InvalidRequestError:
            if not caught:
                raise

    with pytest.raises(sa_exc.InvalidRequestError, match=ANY_COMMIT):
        run_transaction(engine, debit)
    assert calls == 1 and balances(engine) == [100, 0]
    with engine.connect() as conn:  # the connection is clean and unguarded afterwards
        conn.execute(accounts.update().where(accounts.c.id == 2).values(balance=1))
        conn.get_transaction().commit()  # type: ignore[union-attr]
    assert balances(engine) == [100, 1]


@pytest.mark.parametrize("road", ["connection().commit()", "get_transaction().commit()"])
def test_session_commit_round_the_session_is_refused(engine: sa.Engine, tables: None, road: str) -> None:
    def debit(session: Session) -> None:
        account = session.get(Account, 1)
        assert account is not None
        account.balance -= 10
        session.flush()
        if road == "connection().commit()":
            session.connection().commit()
        else:
            session.get_transaction().commit()  # type: ignore[union-attr]

    with pytest.raises(sa_exc.InvalidRequestError, match=ANY_COMMIT):
        run_transaction(sessionmaker(bind=engine), debit)
    assert balances(engine) == [100, 0]
    run_transaction(sessionmaker(bind=engine), lambda s: s.execute(accounts.update().values(balance=1)))
    assert balances(engine) == [1, 1]


def test_connection_rollback_then_return_is_refused(engine: sa.Engine, tables: None) -> None:
    def unit(conn: sa.Connection) -> None:
        conn.execute(accounts.update().where(accounts.c.id == 1).values(balance=0))
        conn.rollback()
        conn.execute(accounts.update().where(accounts.c.id == 2).values(balance=7))

    with pytest.raises(sa_exc.InvalidRequestError, match=ENDED):
        run_transaction(engine, unit)
    assert balances(engine) == [100, 0]


# -- the decorator --------------------------------------------------------------------------


def test_transactional_without_parentheses_is_refused_at_once(engine: sa.Engine, tables: None) -> None:
    ran = []
    with pytest.raises(TypeError, match=r"@transactional\(Session\)"):

        @transactional  # type: ignore[arg-type]
        def deposit(session: Session, amount: int) -> None:
            ran.append(amount)

    @transactional(sessionmaker(bind=engine))
    def deposit_ok(session: Session, amount: int) -> int:
        account = session.get(Account, 2)
        assert account is not None
        account.balance += amount
        return account.balance

    assert deposit_ok(3) == 3 and ran == [] and balances(engine) == [100, 3]


# -- COMMIT whose answer is lost ------------------------------------------------------------


def cut_at_commit(engine: sa.Engine, times: int) -> list[int]:
    """The next ``times`` COMMITs find their socket shut down: the connection
    ends with no error from the server, as DSQL ends one whose protocol message
    is over 10 MiB.  Returns a list that counts the cuts."""
    cuts: list[int] = []

    @event.listens_for(engine, "commit")
    def _cut(conn: sa.Connection) -> None:
        if len(cuts) < times:
            cuts.append(1)
            fd = conn.connection.driver_connection.fileno()  # type: ignore[union-attr]
            with socket.socket(fileno=os.dup(fd)) as sock:
                sock.shutdown(socket.SHUT_RDWR)

    return cuts


def test_connection_ending_during_commit_is_outcome_unknown(dsql_url: URL, tables: None) -> None:
    engine = sa.create_engine(dsql_url)
    try:
        cuts = cut_at_commit(engine, times=1)
        calls = 0

        def debit(conn: sa.Connection) -> None:
            nonlocal calls
            calls += 1
            conn.execute(accounts.update().where(accounts.c.id == 1).values(balance=accounts.c.balance - 10))

        with pytest.raises(CommitOutcomeUnknown, match="may or may not have committed"):
            run_transaction(engine, debit)
        assert calls == 1 and cuts == [1]
        assert stats(engine).commit_outcomes_unknown == 1 and stats(engine).commits == 0
        assert balances(engine) == [100, 0]  # here the COMMIT never arrived
    finally:
        engine.dispose()


def test_idempotent_unit_of_work_is_re_run_after_an_unknown_commit(
    dsql_url: URL, tables: None
) -> None:
    engine = sa.create_engine(dsql_url)
    try:
        cut_at_commit(engine, times=1)
        calls = 0

        def set_balance(conn: sa.Connection) -> None:  # safe to apply twice
            nonlocal calls
            calls += 1
            conn.execute(accounts.update().where(accounts.c.id == 1).values(balance=90))

        run_transaction(engine, set_balance, idempotent=True)
        assert calls == 2 and balances(engine) == [90, 0]
        snapshot = stats(engine)
        assert snapshot.commit_outcomes_unknown == 1 and snapshot.commits == 1
    finally:
        engine.dispose()


# -- asyncio (psycopg 3) --------------------------------------------------------------------


def run_async(dsql_url: URL, driver: str, main: Callable[[Any], Awaitable[None]]) -> None:
    if driver != "psycopg":
        pytest.skip("asyncio runs on psycopg 3 (auroradsql+psycopg_async); covered by the psycopg run")
    from sqlalchemy.ext.asyncio import create_async_engine

    async def outer() -> None:
        async_engine = create_async_engine(dsql_url.set(drivername="auroradsql+psycopg_async"))
        try:
            await main(async_engine)
        finally:
            await async_engine.dispose()

    asyncio.run(outer())


def test_async_session_commit_and_rollback_are_refused(
    dsql_url: URL, engine: sa.Engine, tables: None, driver: str
) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    calls = 0

    async def debit(session: AsyncSession) -> None:
        nonlocal calls
        calls += 1
        account = await session.get(Account, 1)
        assert account is not None
        account.balance -= 10
        await session.commit()

    async def give_up(session: AsyncSession) -> None:
        account = await session.get(Account, 1)
        assert account is not None
        account.balance -= 10
        await session.rollback()

    async def main(async_engine: Any) -> None:
        factory = async_sessionmaker(async_engine)
        with pytest.raises(sa_exc.InvalidRequestError, match=REFUSED):
            await run_transaction_async(factory, debit)
        with pytest.raises(sa_exc.InvalidRequestError, match=ENDED):
            await run_transaction_async(factory, give_up)

    run_async(dsql_url, driver, main)
    assert calls == 1 and balances(engine) == [100, 0]


def test_async_connection_commit_and_rollback_are_refused(
    dsql_url: URL, engine: sa.Engine, tables: None, driver: str
) -> None:
    from sqlalchemy.ext.asyncio import AsyncConnection

    debit = accounts.update().where(accounts.c.id == 1).values(balance=accounts.c.balance - 10)

    async def commits(conn: AsyncConnection) -> None:
        await conn.execute(debit)
        await conn.commit()

    async def rolls_back(conn: AsyncConnection) -> None:
        await conn.execute(debit)
        await conn.rollback()

    async def commits_its_transaction(conn: AsyncConnection) -> None:
        await conn.execute(debit)
        transaction = conn.get_transaction()
        assert transaction is not None
        await transaction.commit()

    async def main(async_engine: Any) -> None:
        with pytest.raises(sa_exc.InvalidRequestError, match=REFUSED):
            await run_transaction_async(async_engine, commits)
        with pytest.raises(sa_exc.InvalidRequestError, match=ENDED):
            await run_transaction_async(async_engine, rolls_back)
        with pytest.raises(sa_exc.InvalidRequestError, match=ANY_COMMIT):
            await run_transaction_async(async_engine, commits_its_transaction)
        with pytest.raises(TypeError, match="@transactional"):
            transactional(commits)  # type: ignore[arg-type]

    run_async(dsql_url, driver, main)
    assert balances(engine) == [100, 0]


def test_async_connection_ending_during_commit_is_outcome_unknown(
    dsql_url: URL, engine: sa.Engine, tables: None, driver: str
) -> None:
    from sqlalchemy.ext.asyncio import AsyncConnection

    async def debit(conn: AsyncConnection) -> None:
        await conn.execute(accounts.update().where(accounts.c.id == 1).values(balance=50))

    async def main(async_engine: Any) -> None:
        cut_at_commit(async_engine.sync_engine, times=2)
        with pytest.raises(CommitOutcomeUnknown):
            await run_transaction_async(async_engine, debit)
        await run_transaction_async(async_engine, debit, idempotent=True)  # cut, then re-run

    run_async(dsql_url, driver, main)
    assert balances(engine) == [50, 0]
