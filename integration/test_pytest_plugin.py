"""The bundled pytest plugin, driven as a user drives it: a test suite of
their own, run by pytest in a subprocess against ``AURORA_DSQL_TEST_URL``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

USER_SUITE = '''
import sqlalchemy as sa

metadata = sa.MetaData()
orders = sa.Table(
    "orders", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("note", sa.String(50)),
    sa.Index("ix_orders_note", "note"),  # CREATE INDEX ASYNC: a job in local mode
)


def test_schema_through_dsql_engine(dsql_engine):
    metadata.create_all(dsql_engine)
    with dsql_engine.begin() as conn:
        conn.execute(orders.insert(), [{"note": "first"}])


def test_an_engine_of_my_own_sees_the_same_tables(dsql_database_url):
    engine = sa.create_engine(dsql_database_url)
    try:
        assert sa.inspect(engine).get_table_names() == ["orders"]
        with engine.connect() as conn:
            assert conn.execute(sa.select(orders.c.note)).scalar_one() == "first"
    finally:
        engine.dispose()
'''


def _schemas_and_tables(url: URL) -> tuple[list[str], list[str]]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            schemas = conn.scalars(sa.text(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                "AND nspname <> 'information_schema' ORDER BY 1"
            )).all()
            tables = conn.scalars(sa.text(
                "SELECT schemaname || '.' || tablename FROM pg_tables "
                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
            )).all()
        return list(schemas), list(tables)
    finally:
        engine.dispose()


def _count_jobs(url: URL) -> int:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(sa.text("SELECT count(*) FROM aurora_dsql_local.jobs")))
    finally:
        engine.dispose()


@pytest.mark.parametrize("local_mode_used_before", [False, True], ids=["fresh-db", "local-schema-present"])
def test_fixtures_agree_and_leave_nothing_behind(
    pg_url: URL, tmp_path: Path, local_mode_used_before: bool
) -> None:
    name = f"plugin_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    user_db = pg_url.set(database=name)
    try:
        if local_mode_used_before:  # the database already has local mode's schema
            engine = sa.create_engine(user_db.set(drivername=f"auroradsql+{pg_url.get_driver_name()}"))
            with engine.connect():
                pass
            engine.dispose()
        before = _schemas_and_tables(user_db)
        (tmp_path / "test_app.py").write_text(textwrap.dedent(USER_SUITE))
        env = {
            **os.environ,
            "AURORA_DSQL_TEST_URL": user_db.render_as_string(hide_password=False),
        }
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_app.py"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "2 passed" in done.stdout, done.stdout
        assert _schemas_and_tables(user_db) == before
        if local_mode_used_before:
            assert before == (["aurora_dsql_local", "public"], ["aurora_dsql_local.jobs"])
            assert _count_jobs(user_db) == 0
        else:
            assert before == (["public"], [])
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
