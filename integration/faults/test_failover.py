"""Two endpoints over one database: a unit of work survives losing one.

A multi-Region Aurora DSQL cluster has two peered Regional endpoints over
one logical database.  Here two fault proxies in front of one PostgreSQL
stand in for them, named in one URL as libpq's host list
(``?host=a:port&host=b:port``): libpq connects to the first that answers,
and :func:`~aurora_dsql_sqlalchemy.retry.run_transaction` re-runs a unit
whose connection was lost on a new connection -- to the surviving endpoint.
(Signing a separate IAM token per endpoint's Region is not done yet: a host
list works today with a password, as in local mode.)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from aurora_dsql_sqlalchemy.retry import run_transaction
from sqlalchemy.engine import URL

UNITS = 30
FAIL_AT = 10


def test_units_move_to_the_surviving_endpoint(
    dsql_url: URL,
    make_proxy: Callable[[], Any],
    ledger_table: sa.Table,
    applied: Callable[[str], int],
) -> None:
    first, second = make_proxy(), make_proxy()
    hosts = [f"127.0.0.1:{first.port}", f"127.0.0.1:{second.port}"]
    query = {k: v for k, v in dsql_url.query.items() if k != "host"}
    url = dsql_url.set(host=None, port=None, query={**query, "host": hosts})
    engine = sa.create_engine(url, pool_size=2)
    units = [str(uuid.uuid4()) for _ in range(UNITS)]
    retries: list[Any] = []
    try:
        for index, unit in enumerate(units):
            if index == FAIL_AT:
                first.stop()  # the preferred endpoint goes away, with its connections
                used_first = first.connections
            run_transaction(
                engine,
                lambda conn, unit=unit: conn.execute(ledger_table.insert().values(unit=unit, amount=1)),
                on_retry=retries.append,
                max_retries=5,
                base_delay=0.01,
            )
    finally:
        engine.dispose()
    assert [applied(unit) for unit in units] == [1] * UNITS
    assert used_first >= 1 and first.connections == used_first
    assert second.connections >= 1
    assert [event.classification.kind for event in retries] == ["connection-lost"]
