"""pytest fixtures for testing your application against Aurora DSQL's rules, locally.

Installed with ``aurora-dsql-sqlalchemy``, the plugin is loaded by pytest
automatically (entry point ``auroradsql``) but does nothing until a test asks
for one of its fixtures: then it starts (or connects to) a PostgreSQL and
gives an engine in *strict local mode*, which refuses what DSQL refuses, with
DSQL's SQLSTATE and message::

    from sqlalchemy import text

    def test_orders(dsql_engine):
        Base.metadata.create_all(dsql_engine)
        with dsql_engine.begin() as conn:
            conn.execute(text("TRUNCATE orders"))  # fails, as on DSQL (0A000)

Fixtures (session scope):

``dsql_database_url``
    The database as a ``sqlalchemy.engine.URL`` with an ``auroradsql+<driver>``
    drivername.  The server is the PostgreSQL named by the environment variable
    ``AURORA_DSQL_TEST_URL`` (any ``postgresql://`` or ``postgresql+<driver>://``
    URL; it must be PostgreSQL, not a DSQL cluster), or else an embedded
    PostgreSQL 16 started for the session from the ``pgserver`` wheel
    (``pip install aurora-dsql-sqlalchemy[local]``) and deleted at the end.
    The driver is the one in that URL, else ``AURORA_DSQL_TEST_DRIVER``, else
    psycopg (3) when installed, else psycopg2.

``dsql_engine``
    A strict local-mode ``Engine`` whose connections work in a schema of their
    own, created for the test session and dropped (with everything in it) at
    its end; so each session starts from an empty schema, even on a shared
    server.  Clean up between tests as your suite prefers (for example
    ``metadata.drop_all(dsql_engine)``).

``dsql_engine_options``
    Extra ``create_engine()`` keywords for ``dsql_engine`` (none by default).
    Override it in a ``conftest.py`` to relax rules or change limits::

        @pytest.fixture(scope="session")
        def dsql_engine_options():
            return {"relax": ["truncate"]}

The module imports only pytest when it loads; SQLAlchemy, the dialect and the
server are touched only by a test that uses a fixture.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Engine

__all__ = ["dsql_database_url", "dsql_engine", "dsql_engine_options"]

URL_VARIABLE = "AURORA_DSQL_TEST_URL"
DRIVER_VARIABLE = "AURORA_DSQL_TEST_DRIVER"
_DRIVERS = ("psycopg", "psycopg2")


def _driver(drivername: str) -> str:
    """The DBAPI driver to use: the URL's own, else the environment's, else what is installed."""
    _, _, named = drivername.partition("+")
    for candidate in (named, os.environ.get(DRIVER_VARIABLE, "")):
        if candidate in _DRIVERS:
            return candidate
        if candidate == "psycopg_async":
            return "psycopg"
    from importlib.util import find_spec

    return "psycopg" if find_spec("psycopg") is not None else "psycopg2"


def _as_dsql_url(raw: str) -> URL:
    from sqlalchemy.engine import make_url

    url = make_url(raw)
    return url.set(drivername=f"auroradsql+{_driver(url.drivername)}")


@pytest.fixture(scope="session")
def dsql_database_url() -> Iterator[URL]:
    """The test database as an ``auroradsql+<driver>`` URL (see the module documentation)."""
    configured = os.environ.get(URL_VARIABLE)
    if configured:
        yield _as_dsql_url(configured)
        return
    from .embedded import EmbeddedPostgres

    with EmbeddedPostgres() as server:
        yield _as_dsql_url(server.url)


@pytest.fixture(scope="session")
def dsql_engine_options() -> dict[str, Any]:
    """Extra ``create_engine()`` keywords for ``dsql_engine``; override it to relax rules."""
    return {}


@pytest.fixture(scope="session")
def dsql_engine(
    dsql_database_url: URL, dsql_engine_options: dict[str, Any]
) -> Iterator[Engine]:
    """A strict local-mode engine working in a fresh schema for this test session."""
    import uuid

    import sqlalchemy as sa

    schema = f"dsql_test_{uuid.uuid4().hex[:12]}"
    # The schema is created and dropped with the stock PostgreSQL dialect: that
    # is set-up around the tests, not code under test.
    driver = dsql_database_url.drivername.partition("+")[2]
    admin = sa.create_engine(
        dsql_database_url.set(drivername=f"postgresql+{driver}"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    options = dict(dsql_engine_options)
    connect_args = {
        "options": f"-c search_path={schema}",
        **options.pop("connect_args", {}),
    }
    engine = sa.create_engine(dsql_database_url, connect_args=connect_args, **options)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
