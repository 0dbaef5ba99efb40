"""Two endpoints over one database: a unit of work survives losing one.

A multi-Region Aurora DSQL cluster has two peered Regional endpoints over
one logical database.  Here two fault proxies in front of one PostgreSQL
stand in for them, named in one URL as a host list
(``?host=a:port&host=b:port``): a new connection goes to the first that
answers, with an IAM token signed for that endpoint's own Region, and
:func:`~aurora_dsql_sqlalchemy.retry.run_transaction` re-runs a unit whose
connection was lost on a new connection -- to the surviving endpoint.  The
proxies ask for a password and record the tokens each endpoint received.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.retry import run_transaction, run_transaction_async
from sqlalchemy.engine import URL

UNITS = 30
FAIL_AT = 10
REGIONS = ("us-east-1", "us-east-2")


def host_list_url(url: URL, *proxies: Any, **query: str) -> URL:
    """``url`` naming every proxy, in order, as its host list."""
    kept = {k: v for k, v in url.query.items() if k not in ("host", "port")}
    hosts = [f"127.0.0.1:{proxy.port}" for proxy in proxies]
    return url.set(host=None, port=None, query={**kept, **query, "host": hosts})


def signed_for(token: str) -> tuple[str, str]:
    """(host, region) an IAM auth token was signed for."""
    parts = urlsplit(f"https://{token}")
    credential = parse_qs(parts.query)["X-Amz-Credential"][0]  # key/date/region/service/aws4_request
    return parts.hostname or "", credential.split("/")[2]


@pytest.fixture
def aws_session() -> Any:
    """Fake static credentials: signing a token needs no network."""
    import botocore.session

    session = botocore.session.Session()
    session.set_credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    return session


def test_units_move_to_the_surviving_endpoint(
    dsql_url: URL,
    make_proxy: Callable[[], Any],
    ledger_table: sa.Table,
    applied: Callable[[str], int],
) -> None:
    first, second = make_proxy(), make_proxy()
    hosts = [f"127.0.0.1:{first.port}", f"127.0.0.1:{second.port}"]
    query = {k: v for k, v in dsql_url.query.items() if k not in ("host", "port")}
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


def test_each_endpoint_gets_a_token_for_its_own_region_and_units_survive_losing_one(
    dsql_url: URL,
    make_proxy: Callable[[], Any],
    ledger_table: sa.Table,
    applied: Callable[[str], int],
    aws_session: Any,
) -> None:
    first, second = make_proxy(), make_proxy()
    first.ask_password = second.ask_password = True
    url = host_list_url(dsql_url, first, second, iam_auth="true", region=",".join(REGIONS))
    engine = sa.create_engine(url, aws_session=aws_session, pool_size=2)
    units = [str(uuid.uuid4()) for _ in range(UNITS)]
    retries: list[Any] = []

    def insert(conn: sa.Connection, unit: str, index: int) -> None:
        conn.execute(ledger_table.insert().values(unit=unit, amount=1))
        if index == FAIL_AT and first.open_connections:
            first.stop()  # the preferred Region goes away mid-transaction, before COMMIT
            conn.execute(sa.text("SELECT 1"))  # the connection is lost here

    try:
        for index, unit in enumerate(units):
            run_transaction(
                engine, lambda conn, u=unit, i=index: insert(conn, u, i), on_retry=retries.append
            )
    finally:
        engine.dispose()
    assert [applied(unit) for unit in units] == [1] * UNITS
    assert first.passwords and second.passwords
    assert {signed_for(token) for token in first.passwords} == {("127.0.0.1", REGIONS[0])}
    assert {signed_for(token) for token in second.passwords} == {("127.0.0.1", REGIONS[1])}
    assert [event.classification.kind for event in retries] == ["connection-lost"]


def test_asyncio_units_move_to_the_surviving_endpoint(
    dsql_url: URL,
    driver: str,
    make_proxy: Callable[[], Any],
    ledger_table: sa.Table,
    applied: Callable[[str], int],
    aws_session: Any,
) -> None:
    if driver != "psycopg":
        pytest.skip("asyncio needs psycopg 3")
    from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

    first, second = make_proxy(), make_proxy()
    first.ask_password = second.ask_password = True
    url = host_list_url(dsql_url, first, second, iam_auth="true", region=",".join(REGIONS))
    units = [str(uuid.uuid4()) for _ in range(12)]

    async def main() -> None:
        engine = create_async_engine(url.set(drivername="auroradsql+psycopg_async"), aws_session=aws_session)
        try:
            for index, unit in enumerate(units):
                if index == 4:
                    first.stop()

                async def insert(conn: AsyncConnection, unit: str = unit) -> None:
                    await conn.execute(ledger_table.insert().values(unit=unit, amount=1))

                await run_transaction_async(engine, insert)
        finally:
            await engine.dispose()

    asyncio.run(main())
    assert [applied(unit) for unit in units] == [1] * len(units)
    assert {signed_for(token)[1] for token in first.passwords} == {REGIONS[0]}
    assert {signed_for(token)[1] for token in second.passwords} == {REGIONS[1]}
