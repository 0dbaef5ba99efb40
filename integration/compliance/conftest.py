"""SQLAlchemy's dialect compliance suite against ``auroradsql`` in local mode.

SQLAlchemy's pytest plugin drives the suite: it reads ``setup.cfg`` beside
this file (the requirements class, and named URLs for ``--db``) and takes the
database from ``--dburi``.  Without ``--dburi`` / ``--db`` this conftest
starts the embedded PostgreSQL (16, or the major in ``AURORA_DSQL_TEST_PG``;
or uses ``AURORA_DSQL_TEST_URL``) before the plugin reads the URL, and stops
it when the session ends (or, if the run is killed, its watchdog does):

* ``auroradsql+$AURORA_DSQL_TEST_DRIVER`` (``psycopg`` by default), strict
  local mode, with :class:`aurora_dsql_sqlalchemy.testing.requirements.Requirements`;
* ``--stock-postgresql``: the baseline, SQLAlchemy's own
  ``postgresql+psycopg`` dialect with SQLAlchemy's default ``SuiteRequirements``
  on the same server.

The schemas the suite uses (``test_schema``, ``test_schema_2``) are created on
the embedded server first.
"""

from __future__ import annotations

import os

import pytest

pytest.register_assert_rewrite("sqlalchemy.testing.assertions")

from sqlalchemy.testing.plugin import plugin_base  # noqa: E402
from sqlalchemy.testing.plugin import pytestplugin as _sqla  # noqa: E402
from sqlalchemy.testing.plugin.pytestplugin import *  # noqa: E402, F403

DRIVERS = ("psycopg", "psycopg2")
SUITE_SCHEMAS = ("test_schema", "test_schema_2")
STOCK_REQUIREMENTS = "sqlalchemy.testing.requirements:SuiteRequirements"

_server = None


def pytest_addoption(parser: pytest.Parser) -> None:
    _sqla.pytest_addoption(parser)
    parser.addoption(
        "--stock-postgresql",
        action="store_true",
        default=False,
        help="baseline: run the suite with postgresql+psycopg and SQLAlchemy's "
        "default SuiteRequirements on the same embedded server",
    )


def pytest_configure(config: pytest.Config) -> None:
    option = config.option
    if not (option.dburi or option.db) and not hasattr(config, "workerinput"):
        option.dburi = [_embedded_url(stock=option.stock_postgresql)]
    _sqla.pytest_configure(config)
    if option.stock_postgresql:
        plugin_base.file_config.set("sqla_testing", "requirement_cls", STOCK_REQUIREMENTS)
        _skip_pg_extensions()


def _skip_pg_extensions() -> None:
    """The embedded server has no contrib extensions; PostgreSQL's hook would
    CREATE EXTENSION citext / hstore, which no suite test needs."""
    from sqlalchemy.dialects.postgresql import provision as pg_provision  # noqa: F401  (registers first)
    from sqlalchemy.testing.provision import post_configure_engine

    post_configure_engine.for_db("postgresql")(lambda url, engine, follower_ident: None)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _server
    try:
        _sqla.pytest_unconfigure(config)
    finally:
        if _server is not None:
            _server.stop()
            _server = None


def _embedded_url(stock: bool) -> str:
    """Start (or take) the server, create the suite's schemas, return the URL."""
    global _server
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    url = os.environ.get("AURORA_DSQL_TEST_URL")
    if not url:
        from aurora_dsql_sqlalchemy.testing.embedded import EmbeddedPostgres

        _server = EmbeddedPostgres().start()
        url = _server.url
    base = make_url(url)
    driver = "psycopg" if stock else os.environ.get("AURORA_DSQL_TEST_DRIVER", "psycopg")
    if driver not in DRIVERS:
        raise pytest.UsageError(f"AURORA_DSQL_TEST_DRIVER must be one of {DRIVERS}, not {driver!r}")
    # the suite's schemas, made with the stock dialect of the installed driver
    admin = sa.create_engine(
        base.set(drivername=f"postgresql+{driver}"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        for name in SUITE_SCHEMAS:
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {name}")
    admin.dispose()
    drivername = f"postgresql+{driver}" if stock else f"auroradsql+{driver}"
    return base.set(drivername=drivername).render_as_string(hide_password=False)
