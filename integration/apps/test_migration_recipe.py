"""The recipe for PostgreSQL migrations that meet DSQL's rules midway (issue 17.4).

Each step is an Alembic operation or a chunked statement that DSQL accepts,
run in strict local mode through Alembic's DSQL implementation: a NOT NULL
column with a default, a column type change, and a primary-key change.
"""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

CHUNK = 2000  # rows per transaction, under DSQL's 3,000


def backfill(conn: sa.Connection, sql: str) -> None:
    """Run an UPDATE/INSERT ... LIMIT chunk again and again, one commit each, until it touches nothing."""
    while conn.execute(sa.text(sql), {"chunk": CHUNK}).rowcount:
        conn.commit()
    conn.commit()


@pytest.fixture
def migration(urls, fresh_schema):
    engine = sa.create_engine(urls["auroradsql"])
    with engine.connect() as conn:
        op = Operations(MigrationContext.configure(conn, opts={"output_buffer": io.StringIO()}))
        op.create_table(
            "metrics",
            sa.Column("id", sa.BigInteger, sa.Identity(start=1, cache=1), primary_key=True),
            sa.Column("run", sa.String(32), nullable=False),
            sa.Column("value", sa.Float),
        )
        for _ in range(3):  # 4,500 rows: more than one transaction may write
            conn.execute(sa.text("INSERT INTO metrics (run, value) SELECT 'r' || (g % 7), g FROM generate_series(1, 1500) g"))
            conn.commit()
        yield conn, op
    engine.dispose()


def test_not_null_column_with_a_default(migration):
    conn, op = migration
    # PostgreSQL's one step: op.add_column("metrics", Column("step", BigInteger, nullable=False, server_default="0"))
    op.add_column("metrics", sa.Column("step", sa.BigInteger(), nullable=True))
    op.alter_column("metrics", "step", server_default="0")
    backfill(conn, "UPDATE metrics SET step = 0 WHERE id IN (SELECT id FROM metrics WHERE step IS NULL LIMIT :chunk)")
    op.create_check_constraint("metrics_step_not_null", "metrics", "step IS NOT NULL")
    conn.commit()

    assert conn.execute(sa.text("SELECT count(*), count(step) FROM metrics")).one() == (4500, 4500)
    conn.execute(sa.text("INSERT INTO metrics (run) VALUES ('new')"))
    conn.commit()
    assert conn.execute(sa.text("SELECT step FROM metrics WHERE run = 'new'")).scalar() == 0
    with pytest.raises(sa.exc.IntegrityError, match="metrics_step_not_null"):
        conn.execute(sa.text("INSERT INTO metrics (run, step) VALUES ('bad', NULL)"))
    conn.rollback()


def test_column_type_change(migration):
    conn, op = migration
    # PostgreSQL's one step: op.alter_column("metrics", "value", type_=Numeric(18, 6))
    op.add_column("metrics", sa.Column("value_new", sa.Numeric(18, 6), nullable=True))
    backfill(
        conn,
        "UPDATE metrics SET value_new = value WHERE id IN"
        " (SELECT id FROM metrics WHERE value_new IS NULL AND value IS NOT NULL LIMIT :chunk)",
    )
    op.drop_column("metrics", "value")
    op.alter_column("metrics", "value_new", new_column_name="value")
    conn.commit()

    columns = {c["name"]: c["type"] for c in sa.inspect(conn).get_columns("metrics")}
    assert isinstance(columns["value"], sa.Numeric) and columns["value"].scale == 6
    assert conn.execute(sa.text("SELECT sum(value) FROM metrics")).scalar() == 3 * 1500 * 1501 / 2


def test_primary_key_change(migration):
    conn, op = migration
    # PostgreSQL's steps: drop the key, op.create_primary_key("metrics_pkey", "metrics", ["run", "id"])
    op.create_table(
        "metrics_new",
        sa.Column("run", sa.String(32), primary_key=True),
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("value", sa.Float),
    )
    backfill(
        conn,
        "INSERT INTO metrics_new (run, id, value) SELECT run, id, value FROM metrics m"
        " WHERE id > coalesce((SELECT max(id) FROM metrics_new), 0) ORDER BY id LIMIT :chunk",
    )
    op.rename_table("metrics", "metrics_old")
    op.rename_table("metrics_new", "metrics")
    op.drop_table("metrics_old")
    conn.commit()

    assert sa.inspect(conn).get_pk_constraint("metrics")["constrained_columns"] == ["run", "id"]
    assert conn.execute(sa.text("SELECT count(*), count(DISTINCT id) FROM metrics")).one() == (4500, 4500)
