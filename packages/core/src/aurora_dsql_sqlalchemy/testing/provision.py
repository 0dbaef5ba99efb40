"""Provisioning hooks of SQLAlchemy's test suite for the ``auroradsql`` dialect.

SQLAlchemy's testing plugin calls these hooks by backend name (see
``sqlalchemy/testing/provision.py``); PostgreSQL's own hooks are registered
for ``postgresql`` only, so the ones DSQL can use are registered here for
``auroradsql`` too, and the ones DSQL cannot use are replaced:

* no extra databases (DSQL has one, ``postgres``): ``create_db`` / ``drop_db``
  refuse, so run the suite without ``pytest-xdist`` followers;
* no temporary tables;
* PostgreSQL's clean-up and set-up hooks that use ``pg_backend_pid()``,
  prepared transactions, enum types or extensions stay unregistered here;
* the suite's two extra schemas are created when the engine is configured.

Importing this module registers the hooks; SQLAlchemy's plugin does so
through :meth:`sqlalchemy.engine.default.DefaultDialect.load_provisioning`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import provision as _pg_provision  # noqa: F401  (registers PostgreSQL's hooks)
from sqlalchemy.testing.provision import (
    create_db,
    drop_db,
    is_preferred_driver,
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


@is_preferred_driver.for_db(DIALECT)
def _is_preferred_driver(cfg: Any, engine: Any) -> bool:
    """Each run of the suite tests one driver, so that driver is the preferred
    one (SQLAlchemy's default compares it with whichever driver the bare
    ``auroradsql`` name resolves to)."""
    return True


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


# PostgreSQL's own hooks where DSQL behaves the same (SET search_path,
# INSERT ... ON CONFLICT).  The decorators in SQLAlchemy's module return the
# dispatcher, so the functions are taken from its registry.
for _hook in (set_default_schema_on_connection, upsert):
    _hook.for_db(DIALECT)(_hook.fns["postgresql"])
