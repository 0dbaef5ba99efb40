"""A bounded soak run: a mixed ORM workload while connections are cut at random.

Four threads run units of work with :func:`~aurora_dsql_sqlalchemy.retry.run_transaction`
on a sessionmaker through the fault proxy: each unit adds a ledger entry and
moves its amount onto one of three hot accounts, so concurrent units
conflict (strict local mode answers ``40001``, as DSQL does).  Every one to
three seconds the proxy injects a fault: all connections cut, a connection cut
before or mid-statement, or at COMMIT (before the server sees it, or after it
committed).  At the end every unit that ``run_transaction`` reported
committed is in the ledger exactly once, none is there twice, a unit reported
failed is absent, and the accounts add up to the ledger.

``AURORA_DSQL_SOAK_SECONDS`` sets the duration (default 30; loopback only;
every loop ends by that deadline).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy import CommitOutcomeUnknown, RetriesExhausted
from aurora_dsql_sqlalchemy.connect_retry import ConnectRetryPolicy
from aurora_dsql_sqlalchemy.retry import RetryEvent, run_transaction
from sqlalchemy.engine import URL
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

WORKERS = 4
HOT_ACCOUNTS = 3


class Base(DeclarativeBase):
    pass


class Entry(Base):
    __tablename__ = "soak_ledger"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit: Mapped[str] = mapped_column(sa.String(36))  # not unique: a duplicate must be visible
    amount: Mapped[int]


class Account(Base):
    __tablename__ = "soak_accounts"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    balance: Mapped[int]


FAULTS = ("drop-all", "cut-before-statement", "cut-mid-statement", "cut-commit-unsent", "cut-commit-ran")


def _inject(proxy: Any, kind: str) -> None:
    if kind == "drop-all":
        proxy.drop_all()
    elif kind == "cut-before-statement":
        proxy.drop_on("INSERT INTO soak_ledger")
    elif kind == "cut-mid-statement":
        proxy.drop_on("UPDATE soak_accounts", forward=True)
    else:
        proxy.drop_on(r"^\s*COMMIT", forward=kind == "cut-commit-ran")


@pytest.mark.soak
def test_soak_every_committed_unit_exactly_once(
    proxied_url: URL, fault_proxy: Any, engine: sa.Engine, fresh_schema: None
) -> None:
    seconds = float(os.environ.get("AURORA_DSQL_SOAK_SECONDS", "30"))
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        session.add_all(Account(id=i, balance=0) for i in range(HOT_ACCOUNTS))

    proxied = sa.create_engine(
        proxied_url, pool_size=WORKERS, connect_retry=ConnectRetryPolicy(base_delay=0.01)
    )
    with proxied.connect() as conn:  # local mode's one-time set-up, before any fault
        conn.scalar(sa.text("SELECT 1"))
    maker = sessionmaker(proxied)
    deadline = time.monotonic() + seconds
    outcomes: dict[str, str] = {}
    retries: Counter[str] = Counter()
    injected: Counter[str] = Counter()
    unexpected: list[BaseException] = []
    lock = threading.Lock()
    rng = random.Random(20261201)

    def on_retry(event: RetryEvent) -> None:
        with lock:
            retries[event.classification.kind] += 1

    def worker(seed: int) -> None:
        local = random.Random(seed)
        while time.monotonic() < deadline:
            unit, amount = str(uuid.uuid4()), local.randint(1, 100)
            account = local.randrange(HOT_ACCOUNTS)

            def work(session: Session, unit: str = unit, amount: int = amount, account: int = account) -> None:
                session.add(Entry(unit=unit, amount=amount))
                session.get_one(Account, account).balance += amount

            try:
                run_transaction(maker, work, max_retries=30, base_delay=0.002, on_retry=on_retry)
                outcome = "committed"
            except CommitOutcomeUnknown:
                outcome = "unknown"
            except RetriesExhausted:
                outcome = "exhausted"
            except Exception as err:  # reported below: the test fails on any
                outcome = "error"
                unexpected.append(err)
            with lock:
                outcomes[unit] = outcome

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(WORKERS)]
    for thread in threads:
        thread.start()
    while time.monotonic() < deadline - 0.5:
        time.sleep(min(rng.uniform(1.0, 3.0), max(deadline - time.monotonic(), 0)))
        kind = rng.choice(FAULTS)
        _inject(fault_proxy, kind)
        injected[kind] += 1
    for thread in threads:
        thread.join(seconds + 60)
    fault_proxy.clear()
    proxied.dispose()

    with engine.connect() as conn:
        counts = Counter(dict(conn.execute(
            sa.select(Entry.unit, sa.func.count()).group_by(Entry.unit)
        ).all()))
        ledger_total = conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(Entry.amount), 0)))
        balance_total = conn.scalar(sa.select(sa.func.sum(Account.balance)))
    by_outcome = Counter(outcomes.values())
    lost = [u for u, o in outcomes.items() if o == "committed" and counts[u] == 0]
    duplicated = [u for u, n in counts.items() if n > 1]
    applied_though_failed = [u for u, o in outcomes.items() if o in ("exhausted", "error") and counts[u]]
    unknown_applied = sum(1 for u, o in outcomes.items() if o == "unknown" and counts[u])
    print(
        f"\nsoak {seconds:.0f}s, {WORKERS} workers: units {dict(by_outcome)}"
        f" (outcome unknown: {by_outcome['unknown']}, of which applied {unknown_applied})"
        f"\n  faults injected (by the test): {dict(injected)}"
        f"\n  faults seen (by the proxy):    {dict(fault_proxy.faults)}"
        f"\n  retries: {dict(retries)}"
        f"\n  lost: {len(lost)}, duplicated: {len(duplicated)}, applied though reported failed: "
        f"{len(applied_though_failed)}"
    )
    assert not unexpected, unexpected[:3]
    assert not lost and not duplicated and not applied_though_failed
    assert ledger_total == balance_total
    assert by_outcome["committed"] > 10 * WORKERS
    assert sum(injected.values()) >= max(1, int(seconds / 4))
    assert retries["connection-lost"] > 0
