"""Real applications, unchanged, on stock PostgreSQL and on Aurora DSQL's dialect.

Each module drives one open-source library through its own public API, once
on ``postgresql+<driver>`` and once on ``auroradsql+<driver>`` in strict
local mode on the same server (or through ``postgresql+auroradsql``, the
dialect named ``postgresql``, where the library recognises PostgreSQL by
name), and asserts that what the library's users see is the same.

Ids follow insertion order across connections (identity ``CACHE 1`` by
default) and every column holding a key's values is as wide as the key: the
tests assert both as PostgreSQL behaves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL


@pytest.fixture
def urls(pg_url: URL, dsql_url: URL, driver: str) -> dict[str, URL]:
    """The one server under each name a user would write."""
    return {
        "postgresql": pg_url,
        "auroradsql": dsql_url,
        "postgresql+auroradsql": pg_url.set(drivername=f"postgresql+auroradsql_{driver}"),
    }


def _reset(pg_url: URL) -> None:
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("SET lock_timeout = '30s'")  # a session left open fails loudly
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
        conn.exec_driver_sql(
            "DO $$ BEGIN IF to_regclass('sys.jobs') IS NOT NULL THEN DELETE FROM sys.jobs; END IF; END $$"
        )
    admin.dispose()


@pytest.fixture
def run_on(urls: dict[str, URL], pg_url: URL) -> Iterator[Callable[..., Any]]:
    """``run_on(name, scenario)``: ``scenario(url)`` on an empty ``public`` schema."""

    def run(name: str, scenario: Callable[[URL], Any]) -> Any:
        _reset(pg_url)
        return scenario(urls[name])

    yield run
    _reset(pg_url)


def query(pg_url: URL, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of a catalog query, read as a stock PostgreSQL client."""
    eng = sa.create_engine(pg_url)
    try:
        with eng.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params)]
    finally:
        eng.dispose()


def column_types(pg_url: URL, table: str) -> dict[str, str]:
    rows = query(
        pg_url,
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = :t ORDER BY ordinal_position",
        t=table,
    )
    return dict(rows)  # type: ignore[arg-type]


def narrower_than_their_keys(pg_url: URL) -> list[tuple[Any, ...]]:
    """Foreign-key columns of a narrower type than the key they reference."""
    return query(
        pg_url,
        """
        SELECT c.conrelid::regclass::text, a.attname, format_type(a.atttypid, a.atttypmod),
               format_type(fa.atttypid, fa.atttypmod)
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
        JOIN pg_attribute fa ON fa.attrelid = c.confrelid
             AND fa.attnum = c.confkey[array_position(c.conkey, a.attnum)]
        WHERE c.contype = 'f' AND a.atttypid <> fa.atttypid
        ORDER BY 1, 2
        """,
    )
