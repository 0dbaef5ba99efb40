"""Opt-in suite against a real Aurora DSQL cluster.

Runs only when ``CLUSTER_ENDPOINT`` is set (``<cluster-id>.dsql.<region>.on.aws``);
``CLUSTER_USER`` (default ``admin``) and ``REGION`` (default: read from the
endpoint) are optional.  Credentials come from the standard AWS chain
(``AWS_PROFILE`` selects a profile).  Without ``CLUSTER_ENDPOINT`` every test
here is skipped, with the reason printed (``-rs``)::

    CLUSTER_ENDPOINT=abc.dsql.us-east-1.on.aws python -m pytest integration/live -rs -v

Every object the suite creates has a random suffix and is dropped again.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

SKIP_REASON = (
    "live Aurora DSQL suite: CLUSTER_ENDPOINT is not set (set CLUSTER_ENDPOINT="
    "<cluster-id>.dsql.<region>.on.aws, optionally CLUSTER_USER and REGION, and AWS "
    "credentials, to run it)"
)
ENDPOINT = os.environ.get("CLUSTER_ENDPOINT", "").strip()


@pytest.fixture(scope="session")
def live_url(driver: str) -> URL:
    """The cluster as an ``auroradsql+<driver>`` URL: no password, no TLS options."""
    if not ENDPOINT:
        pytest.skip(SKIP_REASON)
    user = os.environ.get("CLUSTER_USER", "admin")
    query = {"region": os.environ["REGION"]} if os.environ.get("REGION") else {}
    return URL.create(
        f"auroradsql+{driver}", username=user, host=ENDPOINT, database="postgres", query=query
    )


@pytest.fixture(scope="session")
def live_engine(live_url: URL) -> Iterator[sa.Engine]:
    engine = sa.create_engine(live_url)
    yield engine
    engine.dispose()


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:8]
