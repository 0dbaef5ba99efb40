"""A host list names the endpoints of a multi-Region cluster: parsing, order,
holding an endpoint that did not answer, and one region per endpoint.

No database here: connecting through two endpoints, one lost mid-workload, is
integration/faults/test_failover.py.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.endpoints import (
    DEFAULT_CONNECT_TIMEOUT,
    HOLD_SECONDS,
    Endpoint,
    Endpoints,
    did_not_answer,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import registry

EAST = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
WEST = "zyxwvutsrqponmlkjihgfedcba.dsql.us-west-2.on.aws"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_host_list_with_ports_and_regions_spread_as_libpq_does() -> None:
    endpoints = Endpoints.from_params({"host": "a,b", "port": ",5433"}, None)
    assert endpoints is not None
    assert list(endpoints) == [Endpoint("a", None, None), Endpoint("b", "5433", None)]
    one_region = Endpoints.from_params({"host": "a,b", "port": "5432"}, "eu-west-1")
    assert one_region is not None
    assert [(e.port, e.region) for e in one_region] == [("5432", "eu-west-1")] * 2
    assert Endpoints.from_params({"host": EAST}, None) is None  # one host: no list


def test_a_region_per_host_must_match_the_hosts() -> None:
    with pytest.raises(sa_exc.ArgumentError, match=r"2 hosts but 3 values of region"):
        Endpoints.from_params({"host": "a,b"}, "us-east-1,us-east-2,eu-west-1")


def test_an_endpoint_that_did_not_answer_is_tried_last_then_again() -> None:
    clock = Clock()
    a, b = Endpoint("a", None, None), Endpoint("b", None, None)
    endpoints = Endpoints((a, b), clock=clock)
    assert endpoints.in_order() == [a, b]
    endpoints.failed(a)
    assert endpoints.in_order() == [b, a]  # while a Region is down: one attempt per connection
    clock.now += HOLD_SECONDS + 1
    assert endpoints.in_order() == [a, b]  # fail-back to the preferred endpoint
    endpoints.failed(a)
    endpoints.answered(a)
    assert endpoints.in_order() == [a, b]


@pytest.mark.parametrize(
    ("message", "unanswered"),
    [
        ('connection to server at "127.0.0.1", port 1 failed: Connection refused', True),
        ("connection failed: timeout expired", True),
        ('could not translate host name "x.dsql.us-east-1.on.aws" to address', True),
        ("server closed the connection unexpectedly", True),
        ("FATAL:  too many connections for role", False),
        ("FATAL:  password authentication failed for user", False),
    ],
)
def test_did_not_answer_tells_unreachable_from_refused(message: str, unanswered: bool) -> None:
    assert did_not_answer(Exception(message)) is unanswered


def _driver() -> str | None:
    for driver in ("psycopg", "psycopg2"):
        try:
            registry.load(f"auroradsql.{driver}")
        except (ImportError, sa_exc.NoSuchModuleError):
            continue
        return driver
    return None


def _signed_region(token: str) -> str:
    query = parse_qs(urlsplit(f"https://{token}").query)
    return query["X-Amz-Credential"][0].split("/")[2]


@pytest.mark.skipif(_driver() is None, reason="no auroradsql driver distribution installed")
def test_each_dsql_endpoint_is_signed_in_its_own_region(hermetic_aws: None) -> None:
    engine = sa.create_engine(f"auroradsql+{_driver()}://admin@/postgres?host={EAST}&host={WEST}")
    _, cparams = engine.dialect.create_connect_args(engine.url)
    connector = engine.dialect.connector  # type: ignore[attr-defined]
    assert [(e.host, e.region) for e in connector.endpoints] == [(EAST, "us-east-1"), (WEST, "us-west-2")]
    assert cparams["sslmode"] == "verify-full" and cparams["connect_timeout"] == DEFAULT_CONNECT_TIMEOUT
    tokens = [connector.token_provider.token(e.host, "admin", e.region) for e in connector.endpoints]
    assert [t.split("/")[0] for t in tokens] == [EAST, WEST]
    assert [_signed_region(t) for t in tokens] == ["us-east-1", "us-west-2"]


@pytest.mark.skipif(_driver() is None, reason="no auroradsql driver distribution installed")
def test_a_malformed_endpoint_in_the_list_is_named() -> None:
    with pytest.raises(sa_exc.ArgumentError, match=r"'oops.dsql.on.aws' is not an Aurora DSQL endpoint"):
        sa.create_engine(f"auroradsql+{_driver()}://admin@/postgres?host={EAST}&host=oops.dsql.on.aws")
