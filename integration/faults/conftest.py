"""Fixtures for the fault-injection tests: a :class:`proxy.FaultProxy` on
``127.0.0.1`` in front of the session's PostgreSQL, and a ledger table."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL


def _load_proxy() -> Any:
    # the tests run with --import-mode=importlib: load the sibling module by path
    name = "aurora_dsql_fault_proxy"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("proxy.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


FaultProxy = _load_proxy().FaultProxy


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "soak: the bounded fault soak run (AURORA_DSQL_SOAK_SECONDS, default 30)",
    )


@pytest.fixture
def fault_proxy(pg_url: URL) -> Iterator[Any]:
    """A fresh fault proxy in front of the test server, stopped after the test."""
    with FaultProxy.for_url(pg_url, lifetime=900.0) as proxy:
        yield proxy


@pytest.fixture
def make_proxy(pg_url: URL) -> Iterator[Callable[[], Any]]:
    """Start further proxies in front of the same server (stopped after the test)."""
    started: list[Any] = []

    def make() -> Any:
        proxy = FaultProxy.for_url(pg_url, lifetime=900.0).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()


@pytest.fixture
def proxied_url(fault_proxy: Any, dsql_url: URL) -> URL:
    """The strict local-mode URL, through the proxy."""
    return fault_proxy.url(dsql_url)  # type: ignore[no-any-return]


ledger_metadata = sa.MetaData()
ledger = sa.Table(
    "fault_ledger",
    ledger_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("unit", sa.String(36), nullable=False),
    sa.Column("amount", sa.Integer, nullable=False),
)
"""One row per applied unit of work; ``unit`` is deliberately not unique, so a
unit applied twice shows up as two rows."""


@pytest.fixture
def ledger_table(engine: sa.Engine, fresh_schema: None) -> sa.Table:
    ledger_metadata.create_all(engine)
    return ledger


@pytest.fixture
def applied(engine: sa.Engine, ledger_table: sa.Table) -> Callable[[str], int]:
    """How many times a unit of work is in the ledger (read directly, not through the proxy)."""

    def count(unit: str) -> int:
        with engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(ledger).where(ledger.c.unit == unit)
            return int(conn.scalar(query) or 0)

    return count
