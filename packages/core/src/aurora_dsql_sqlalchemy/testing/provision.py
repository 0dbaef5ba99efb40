"""Provisioning hooks of SQLAlchemy's test suite for the ``auroradsql`` dialect.

SQLAlchemy's testing plugin calls these hooks by backend name (see
``sqlalchemy/testing/provision.py``); PostgreSQL's own hooks are registered
for ``postgresql`` only, so the ones DSQL can use are registered here for
``auroradsql`` too, and the ones DSQL cannot use are replaced:

* no extra databases (DSQL has one, ``postgres``): ``create_db`` / ``drop_db``
  refuse, so run the suite without ``pytest-xdist`` followers;
* no temporary tables;
* no ``pg_backend_pid()``, prepared transactions, enum types or extensions,
  which PostgreSQL's clean-up hooks rely on;
* the suite's two extra schemas are created when the engine is configured.

Importing this module registers the hooks; the compliance suite's conftest
does so.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import provision as pg_provision
from sqlalchemy.testing.provision import (
    create_db,
    drop_db,
    post_configure_engine,
    set_default_schema_on_connection,
    temp_table_keyword_args,
    upsert,
)

from ..errors import DSQLUnsupportedError

__all__ = ["SUITE_SCHEMAS"]

DIALECT = "auroradsql"

SUITE_SCHEMAS = ("test_schema", "test_schema_2")
"""The schemas SQLAlchemy's suite expects besides the default one (DSQL allows 10)."""


@create_db.for_db(DIALECT)
def _create_db(cfg: Any, eng: Any, ident: str) -> None:
    raise DSQLUnsupportedError(f"CREATE DATABASE {ident} (a pytest-xdist follower)", "server-admin")


@drop_db.for_db(DIALECT)
def _drop_db(cfg: Any, eng: Any, ident: str) -> None:
    raise DSQLUnsupportedError(f"DROP DATABASE {ident}", "server-admin")


@temp_table_keyword_args.for_db(DIALECT)
def _temp_table_keyword_args(cfg: Any, eng: Any) -> dict[str, Any]:
    raise DSQLUnsupportedError("A temporary table for the test suite", "temporary-table")


@post_configure_engine.for_db(DIALECT)
def _create_suite_schemas(url: Any, engine: Any, follower_ident: Any) -> None:
    """Create ``test_schema`` and ``test_schema_2`` (each DDL in its own transaction)."""
    with engine.connect() as conn:
        existing = set(conn.dialect.get_schema_names(conn))
        for name in SUITE_SCHEMAS:
            if name not in existing:
                conn.exec_driver_sql(f"CREATE SCHEMA {name}")
        conn.commit()


# What PostgreSQL's hooks do that DSQL supports as well.
set_default_schema_on_connection.for_db(DIALECT)(pg_provision._postgresql_set_default_schema_on_connection)
upsert.for_db(DIALECT)(pg_provision._upsert)
