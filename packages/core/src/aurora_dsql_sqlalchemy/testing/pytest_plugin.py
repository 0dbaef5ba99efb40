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
    The test database as a ``sqlalchemy.engine.URL`` with an
    ``auroradsql+<driver>`` drivername, whose connections work in a schema of
    their own (``?options=-c search_path=dsql_test_...``), created for the
    test session and dropped, with everything in it, at its end.  An engine
    you build from it (``create_engine(dsql_database_url)``) sees what
    ``dsql_engine`` created.  The server is the PostgreSQL named by the
    environment variable ``AURORA_DSQL_TEST_URL`` (any ``postgresql://`` or
    ``postgresql+<driver>://`` URL; it must be PostgreSQL, not a DSQL
    cluster), or else an embedded PostgreSQL 16 started for the session from
    the ``pgserver`` wheel (the core's ``[local]`` extra) and deleted at the
    end.  The driver is the one in that URL, else ``AURORA_DSQL_TEST_DRIVER``,
    else psycopg (3) when installed, else psycopg2.

    Nothing is left behind in a database named by ``AURORA_DSQL_TEST_URL``:
    besides the session's schema, the ``aurora_dsql_local`` schema local mode creates for
    its emulated index jobs is dropped again if the session created it (or,
    if it was there before, the job rows the session added are deleted),
    unless another test session is still using the database.

``dsql_engine``
    A strict local-mode ``Engine`` on ``dsql_database_url``; so each session
    starts from an empty schema, even on a shared server.  Clean up between
    tests as your suite prefers (for example ``metadata.drop_all(dsql_engine)``).

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
from contextlib import ExitStack, contextmanager
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
    """The test database, in this session's own schema, as an
    ``auroradsql+<driver>`` URL (see the module documentation)."""
    configured = os.environ.get(URL_VARIABLE)
    with ExitStack() as stack:
        if configured:
            url = _as_dsql_url(configured)
        else:
            from .embedded import EmbeddedPostgres

            url = _as_dsql_url(stack.enter_context(EmbeddedPostgres()).url)
        schema = stack.enter_context(_session_schema(url))
        given = url.query.get("options") or ()  # a str, or a tuple when repeated
        given = (given,) if isinstance(given, str) else given
        options = " ".join([*given, f"-c search_path={schema}"])
        yield url.update_query_dict({"options": options})


@pytest.fixture(scope="session")
def dsql_engine_options() -> dict[str, Any]:
    """Extra ``create_engine()`` keywords for ``dsql_engine``; override it to relax rules."""
    return {}


@pytest.fixture(scope="session")
def dsql_engine(
    dsql_database_url: URL, dsql_engine_options: dict[str, Any]
) -> Iterator[Engine]:
    """A strict local-mode engine working in this session's fresh schema."""
    import sqlalchemy as sa

    engine = sa.create_engine(dsql_database_url, **dsql_engine_options)
    try:
        yield engine
    finally:
        engine.dispose()


_SCHEMA_PREFIX = "dsql_test_"


@contextmanager
def _session_schema(url: URL) -> Iterator[str]:
    """A fresh schema for the session; dropped at the end with what local mode added."""
    import uuid

    import sqlalchemy as sa

    from ..local.jobs import LOCAL_SCHEMA

    schema = f"{_SCHEMA_PREFIX}{uuid.uuid4().hex[:12]}"
    # Set-up around the tests, not code under test: the stock PostgreSQL dialect.
    driver = url.drivername.partition("+")[2]
    admin = sa.create_engine(
        url.set(drivername=f"postgresql+{driver}"),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )
    try:
        with admin.connect() as conn:
            had_jobs_schema, started = conn.execute(
                sa.text("SELECT to_regnamespace(:name) IS NOT NULL, now()"),
                {"name": LOCAL_SCHEMA},
            ).one()
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield schema
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            _remove_local_jobs(conn, had_jobs_schema, started)
    finally:
        admin.dispose()


def _remove_local_jobs(conn: Any, had_jobs_schema: bool, started: Any) -> None:
    """Undo what local mode added to the database for this session, unless
    another session (another schema of this plugin) may still need it."""
    import sqlalchemy as sa

    from ..local.jobs import LOCAL_SCHEMA

    others = conn.scalar(
        sa.text("SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, :prefix)"),
        {"prefix": _SCHEMA_PREFIX},
    )
    if others:
        return
    if not had_jobs_schema:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{LOCAL_SCHEMA}" CASCADE')
    elif conn.scalar(sa.text(f"SELECT to_regclass('{LOCAL_SCHEMA}.jobs') IS NOT NULL")):
        conn.execute(
            sa.text(f"DELETE FROM {LOCAL_SCHEMA}.jobs WHERE start_time >= :started"),
            {"started": started},
        )
