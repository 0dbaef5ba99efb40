"""The pet-clinic examples, run as a user runs them, with ``--url`` naming a
PostgreSQL server through SQLAlchemy's stock dialect or through ours."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "pet-clinic-app"


@pytest.fixture
def database(pg_url: URL) -> Iterator[URL]:
    """A database of its own: the example drops and creates its tables."""
    name = f"example_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _run(script: str, url: URL) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--url", url.render_as_string(hide_password=False)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("done"), done.stdout
    return done.stdout


@pytest.mark.parametrize(
    ("script", "stock_driver"),
    [("app.py", None), ("app_async.py", "psycopg_async")],
)
def test_a_stock_postgresql_url_runs_and_says_so(
    database: URL, stock_driver: str | None, script: str
) -> None:
    url = database.set(drivername=f"postgresql+{stock_driver or database.get_driver_name()}")
    out = _run(script, url)
    assert "(mode: stock postgresql+psycopg" in out  # psycopg or psycopg2
    assert "dialect: DSQL's rules are not applied" in out


def test_an_auroradsql_url_runs_in_strict_local_mode(database: URL) -> None:
    out = _run("app.py", database.set(drivername=f"auroradsql+{database.get_driver_name()}"))
    assert "(mode: strict)" in out
