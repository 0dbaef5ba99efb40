"""Faults injected between the driver and the server, survived as a user needs.

A :class:`proxy.FaultProxy` on 127.0.0.1 cuts connections at chosen points and
refuses new ones with Aurora DSQL's answers; real workloads run through it
with the retry helpers, on the driver of this environment (psycopg or
psycopg2) and on asyncio (psycopg 3).  A ledger row per unit of work shows
what was applied, and how often.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import botocore.session
import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy import CommitOutcomeUnknown
from aurora_dsql_sqlalchemy.connect_retry import ConnectRefused, ConnectRetryPolicy
from aurora_dsql_sqlalchemy.errors import DSQLAuthenticationError
from aurora_dsql_sqlalchemy.retry import run_transaction, run_transaction_async
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

QUICK = ConnectRetryPolicy(base_delay=0.01, max_delay=0.1, max_elapsed=2.0)
"""Short waits, so that the give-up cases end within a few seconds."""

RETRIES = {"max_retries": 5, "base_delay": 0.005}


@pytest.fixture
def proxied_engine(proxied_url: URL) -> Iterator[sa.Engine]:
    engine = sa.create_engine(proxied_url, pool_size=2, connect_retry=QUICK)
    _warm(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def cold_engine(proxied_url: URL) -> Iterator[sa.Engine]:
    """An engine through the proxy with no connection yet."""
    engine = sa.create_engine(proxied_url, connect_retry=QUICK)
    yield engine
    engine.dispose()


def _warm(engine: sa.Engine) -> None:
    """Connect once: the first connection runs local mode's one-time set-up
    (its own COMMIT), which the faults below must not hit."""
    with engine.connect() as conn:
        conn.scalar(sa.text("SELECT 1"))


def _unit(table: sa.Table, unit: str, calls: list[int]) -> Callable[[sa.Connection], None]:
    def work(conn: sa.Connection) -> None:
        calls.append(1)
        conn.execute(table.insert().values(unit=unit, amount=10))

    return work


# -- connections cut during a unit of work ---------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "forward"),
    [
        ("INSERT INTO fault_ledger", False),  # cut before the server sees the statement
        ("INSERT INTO fault_ledger", True),  # cut mid-statement: the server ran it, rolled back
    ],
    ids=["before-statement", "mid-statement"],
)
def test_connection_cut_before_commit_reruns_the_unit_once(
    proxied_engine: sa.Engine,
    fault_proxy: Any,
    ledger_table: sa.Table,
    applied: Callable[[str], int],
    pattern: str,
    forward: bool,
) -> None:
    unit, calls, retries = str(uuid.uuid4()), [], []
    fault_proxy.drop_on(pattern, forward=forward)
    run_transaction(
        proxied_engine, _unit(ledger_table, unit, calls), on_retry=retries.append, **RETRIES
    )
    assert len(calls) == 2
    assert [event.classification.kind for event in retries] == ["connection-lost"]
    assert applied(unit) == 1
    assert sum(fault_proxy.faults.values()) == 1


@pytest.mark.parametrize(
    ("forward", "committed"),
    [(True, 1), (False, 0)],
    ids=["commit-ran-answer-lost", "commit-never-arrived"],
)
def test_connection_cut_during_commit_is_outcome_unknown_never_rerun(
    proxied_engine: sa.Engine,
    fault_proxy: Any,
    ledger_table: sa.Table,
    applied: Callable[[str], int],
    forward: bool,
    committed: int,
) -> None:
    unit, calls = str(uuid.uuid4()), []
    fault_proxy.drop_on(r"^\s*COMMIT", forward=forward)
    with pytest.raises(CommitOutcomeUnknown):
        run_transaction(proxied_engine, _unit(ledger_table, unit, calls), **RETRIES)
    assert len(calls) == 1, "a unit whose COMMIT outcome is unknown must not be re-run blindly"
    assert applied(unit) == committed
    # the engine is usable at once: the cut connection was discarded
    with proxied_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT 1")) == 1


def test_idempotent_unit_can_opt_in_to_rerun_after_unknown_commit(
    proxied_engine: sa.Engine,
    fault_proxy: Any,
    ledger_table: sa.Table,
    applied: Callable[[str], int],
) -> None:
    """A unit that checks whether it already applied may be re-run by its caller."""
    unit, calls = str(uuid.uuid4()), []

    def idempotent(conn: sa.Connection) -> None:
        calls.append(1)
        done = conn.scalar(
            sa.select(sa.func.count()).select_from(ledger_table).where(ledger_table.c.unit == unit)
        )
        if not done:
            conn.execute(ledger_table.insert().values(unit=unit, amount=10))

    fault_proxy.drop_on(r"^\s*COMMIT", forward=True)
    try:
        run_transaction(proxied_engine, idempotent, **RETRIES)
    except CommitOutcomeUnknown:
        run_transaction(proxied_engine, idempotent, **RETRIES)  # the opt-in
    assert len(calls) == 2
    assert applied(unit) == 1


def test_connections_cut_while_pooled_next_checkout_works(
    proxied_url: URL, fault_proxy: Any, ledger_table: sa.Table, applied: Callable[[str], int]
) -> None:
    for pre_ping in (True, False):
        engine = sa.create_engine(proxied_url, pool_size=3, pool_pre_ping=pre_ping, connect_retry=QUICK)
        try:
            with engine.connect() as a, engine.connect() as b:
                a.scalar(sa.text("SELECT 1"))
                b.scalar(sa.text("SELECT 1"))
            assert fault_proxy.drop_all() == 2  # both idle in the pool
            unit, calls = str(uuid.uuid4()), []
            run_transaction(engine, _unit(ledger_table, unit, calls), **RETRIES)
            assert applied(unit) == 1
            # with pre-ping the dead connection is replaced at checkout; without,
            # the unit's first statement finds it dead and the unit is re-run
            assert len(calls) == (1 if pre_ping else 2)
        finally:
            engine.dispose()


def test_connection_closed_mid_result_without_error_next_checkout_works(
    proxied_engine: sa.Engine, fault_proxy: Any
) -> None:
    """The server's stream ends with no error (as when DSQL closes a connection
    over its 10 MiB message limit): the driver reports a lost connection, not a
    result, and the pool replaces it."""
    fault_proxy.close_after(50_000)
    big = sa.text("SELECT repeat('x', 1000) FROM generate_series(1, 1000)")
    with pytest.raises(sa.exc.DBAPIError) as info, proxied_engine.connect() as conn:
        conn.execute(big).all()
    assert info.value.connection_invalidated
    assert fault_proxy.faults["closed-after-bytes"] == 1
    with proxied_engine.connect() as conn:
        assert len(conn.execute(big).all()) == 1000


# -- asyncio -----------------------------------------------------------------------------


@pytest.fixture
def async_proxied_url(proxied_url: URL, driver: str) -> URL:
    if driver != "psycopg":
        pytest.skip("asyncio runs on psycopg 3 (auroradsql+psycopg_async); psycopg2 has no asyncio API")
    return proxied_url.set(drivername="auroradsql+psycopg_async")


def test_asyncio_cut_before_and_during_commit(
    async_proxied_url: URL, fault_proxy: Any, ledger_table: sa.Table, applied: Callable[[str], int]
) -> None:
    before, during, calls = str(uuid.uuid4()), str(uuid.uuid4()), []

    def unit(name: str) -> Callable[[AsyncConnection], Any]:
        async def work(conn: AsyncConnection) -> None:
            calls.append(name)
            await conn.execute(ledger_table.insert().values(unit=name, amount=10))

        return work

    async def main() -> None:
        engine = create_async_engine(async_proxied_url, connect_retry=QUICK)
        try:
            async with engine.connect() as conn:  # local mode's one-time set-up
                await conn.scalar(sa.text("SELECT 1"))
            fault_proxy.drop_on("INSERT INTO fault_ledger")
            await run_transaction_async(engine, unit(before), **RETRIES)
            fault_proxy.drop_on(r"^\s*COMMIT", forward=True)
            with pytest.raises(CommitOutcomeUnknown):
                await run_transaction_async(engine, unit(during), **RETRIES)
        finally:
            await engine.dispose()

    asyncio.run(main())
    assert calls == [before, before, during]
    assert applied(before) == 1
    assert applied(during) == 1


def test_asyncio_connect_refusals_retried_without_blocking_the_loop(
    async_proxied_url: URL, fault_proxy: Any
) -> None:
    fault_proxy.refuse("53400", "rate exceeded", count=3)
    ticks = []

    async def ticker() -> None:
        for _ in range(200):
            ticks.append(time.monotonic())
            await asyncio.sleep(0.005)

    async def main() -> None:
        engine = create_async_engine(
            async_proxied_url, connect_retry=ConnectRetryPolicy(base_delay=0.1, max_delay=0.2)
        )
        task = asyncio.create_task(ticker())
        try:
            async with engine.connect() as conn:
                assert await conn.scalar(sa.text("SELECT 1")) == 1
        finally:
            await engine.dispose()
            task.cancel()

    asyncio.run(main())
    assert fault_proxy.faults["refused-53400"] == 3
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps) < 0.09, "the backoff wait blocked the event loop"


# -- connect refusals ---------------------------------------------------------------------

REFUSALS = [
    ("53300", "too many connections"),
    ("53400", "rate exceeded"),
    ("08006", "waking up cluster, please retry later"),
]


@pytest.mark.parametrize(("sqlstate", "message"), REFUSALS, ids=["53300", "53400", "waking-up"])
def test_passing_refusals_are_retried_then_connect(
    cold_engine: sa.Engine, fault_proxy: Any, sqlstate: str, message: str
) -> None:
    fault_proxy.refuse(sqlstate, message, count=3)
    with cold_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT 1")) == 1
    assert fault_proxy.faults[f"refused-{sqlstate}"] == 3
    assert fault_proxy.connections == 4


@pytest.mark.parametrize(("sqlstate", "message"), REFUSALS, ids=["53300", "53400", "waking-up"])
def test_passing_refusals_give_up_in_bounded_time_with_a_clear_error(
    cold_engine: sa.Engine, fault_proxy: Any, sqlstate: str, message: str
) -> None:
    fault_proxy.refuse(sqlstate, message)
    started = time.monotonic()
    with pytest.raises(ConnectRefused, match=r"refused the connection \d+ times") as info:
        cold_engine.connect()
    assert time.monotonic() - started < QUICK.max_elapsed + 1.0
    assert info.value.attempts == fault_proxy.connections > 3
    assert message in str(info.value)


@pytest.fixture
def iam_engine(proxied_url: URL, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    """Tokens signed by botocore with fake keys (offline); the local server ignores them."""
    session = botocore.session.Session()
    session.set_credentials("AKIDEXAMPLEFAULTS", "fake-secret-for-signing-only")
    engine = sa.create_engine(
        proxied_url, iam_auth=True, region="us-east-1", aws_session=session, connect_retry=QUICK
    )
    yield engine
    engine.dispose()


DENIED = ("08006", "unable to accept connection, access denied")


def test_signature_expired_is_resigned_once(iam_engine: sa.Engine, fault_proxy: Any) -> None:
    fault_proxy.refuse(*DENIED, hint="Signature expired", count=1)
    with iam_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT 1")) == 1
    assert fault_proxy.connections == 2


def test_signature_expired_twice_is_a_clear_error(iam_engine: sa.Engine, fault_proxy: Any) -> None:
    fault_proxy.refuse(*DENIED, hint="Signature expired")
    with pytest.raises(DSQLAuthenticationError, match="twice"):
        iam_engine.connect()
    assert fault_proxy.connections == 2


def test_access_denied_without_the_hint_is_not_retried(iam_engine: sa.Engine, fault_proxy: Any) -> None:
    fault_proxy.refuse(*DENIED)
    with pytest.raises(DSQLAuthenticationError, match="Not retried"):
        iam_engine.connect()
    assert fault_proxy.connections == 1


def test_pool_warming_up_paces_itself_under_the_connection_rate(
    proxied_url: URL, fault_proxy: Any
) -> None:
    """The proxy enforces 100 new connections/s past a burst of 10 (DSQL's
    rate with a small burst, to keep the test short) and refuses with 53400.
    The pool is paced at half that (50/s, burst 5): arrival times jitter on a
    busy machine."""
    count, burst = 40, 10
    fault_proxy.rate_limit(100, burst, "53400", "rate exceeded")

    def warm(policy: ConnectRetryPolicy) -> float:
        engine = sa.create_engine(proxied_url, pool_size=count, max_overflow=0, connect_retry=policy)
        barrier = threading.Barrier(count)
        errors: list[BaseException] = []

        def open_one() -> None:
            try:
                barrier.wait(10)
                with engine.connect() as conn:
                    conn.scalar(sa.text("SELECT 1"))
                    time.sleep(0.5)  # all held at once: each is a new connection
            except BaseException as err:
                errors.append(err)

        started = time.monotonic()
        threads = [threading.Thread(target=open_one) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        elapsed = time.monotonic() - started
        engine.dispose()
        assert not errors, errors[:3]
        return elapsed

    warm(ConnectRetryPolicy(rate=50, burst=burst // 2, base_delay=0.01))
    paced_refusals = fault_proxy.faults["rate-refused-53400"]
    time.sleep(0.5)  # the proxy's bucket refills
    warm(ConnectRetryPolicy(rate=None, base_delay=0.01))
    unpaced_refusals = fault_proxy.faults["rate-refused-53400"] - paced_refusals
    print(f"warm-up of {count}: refused {paced_refusals} paced, {unpaced_refusals} unpaced")
    assert paced_refusals <= 2, "a paced pool stays under the server's rate"
    assert unpaced_refusals >= 10, "without pacing the same warm-up is refused (and retried)"

