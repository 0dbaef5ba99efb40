"""Table names that need quoting work in every local-mode path.

Spaces, double and single quotes, mixed case and non-ASCII letters: created,
written, reflected and dropped through strict local mode on the real server,
and DSQL's limit of indexes per table is enforced for them (a catalog lookup
that passed such a name unquoted raised "invalid name syntax" on PostgreSQL
15 and silently skipped the check on 16).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy import rules
from sqlalchemy import exc as sa_exc

NAMES = ["my table", 'He said "hi"', "it's", "MixedCase", "ünïcødé 名前"]


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a wrapped psycopg (``sqlstate``) or psycopg2 (``pgcode``) error."""
    return next(filter(None, (getattr(error.__cause__, a, None) for a in ("sqlstate", "pgcode"))), None)


def _table(name: str, metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("Some Col", sa.String(20), unique=True),
        sa.Column("v", sa.Integer, index=True),
    )


@pytest.mark.parametrize("name", NAMES)
def test_create_write_reflect_drop(engine: sa.Engine, fresh_schema: None, name: str) -> None:
    metadata = sa.MetaData()
    table = _table(name, metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": i, "Some Col": f"r{i}", "v": i} for i in range(3)])
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 3
    inspector = sa.inspect(engine)
    assert name in inspector.get_table_names()
    # the unique column is a unique index (the dialect builds it ASYNC)
    indexes = {ix["column_names"][0]: ix["unique"] for ix in inspector.get_indexes(name)}
    assert indexes == {"Some Col": True, "v": False}
    reflected = sa.MetaData()
    reflected.reflect(engine)
    assert set(reflected.tables[name].c.keys()) == {"id", "Some Col", "v"}
    metadata.drop_all(engine)
    assert name not in sa.inspect(engine).get_table_names()


@pytest.mark.parametrize("name", NAMES)
def test_index_limit_fires_for_names_that_need_quoting(
    engine: sa.Engine, fresh_schema: None, name: str
) -> None:
    limit = rules.LIMITS.indexes_per_table
    rule = rules.rule("indexes-per-table")
    metadata = sa.MetaData()
    table = _table(name, metadata)  # primary key, unique, one index: 3 of the 24
    metadata.create_all(engine)
    with engine.connect() as conn:
        for i in range(limit - 3):
            sa.Index(f"ix_extra_{i}", table.c.v, table.c.id).create(conn)
        # the next one, compiled or as text, is refused as DSQL refuses it
        with pytest.raises(sa_exc.DBAPIError) as compiled:
            sa.Index("ix_one_too_many", table.c.id).create(conn)
        assert sqlstate(compiled.value) == rule.sqlstate
        quoted = '"' + name.replace('"', '""') + '"'
        with pytest.raises(sa_exc.DBAPIError) as text:
            conn.exec_driver_sql(
                f"CREATE INDEX ASYNC ix_text_too_many ON {quoted} (id)".replace("%", "%%")
            )
        assert sqlstate(text.value) == rule.sqlstate
        assert rule.server_message() in str(text.value)
    assert len(sa.inspect(engine).get_indexes(name)) == limit - 1  # all but the primary key
