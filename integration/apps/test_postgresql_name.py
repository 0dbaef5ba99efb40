"""``postgresql+auroradsql``: the dialect named ``postgresql`` keeps every DSQL behaviour."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from aurora_dsql_sqlalchemy.alembic_impl import AuroraDSQLImpl
from aurora_dsql_sqlalchemy.errors import DSQLUnsupportedError
from sqlalchemy import orm


@pytest.fixture
def renamed(urls):
    engine = sa.create_engine(urls["postgresql+auroradsql"])
    yield engine
    engine.dispose()


def test_strict_local_mode(renamed, fresh_schema):
    assert renamed.dialect.name == "postgresql"
    metadata = sa.MetaData()
    table = sa.Table("kept", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("n", sa.Integer))
    sa.Index("ix_kept_n", table.c.n)
    metadata.create_all(renamed)
    assert [ix["name"] for ix in sa.inspect(renamed).get_indexes("kept")] == ["ix_kept_n"]
    with renamed.begin() as conn, pytest.raises(sa.exc.NotSupportedError, match="TRUNCATE"):
        conn.exec_driver_sql("TRUNCATE kept")
    # the ORM's listener recognises the dialect by class, not by name
    with orm.Session(renamed) as session, pytest.raises(DSQLUnsupportedError) as refused:
        session.execute(table.insert().values(id=1, n=1))
        session.begin_nested()
    assert refused.value.rule.id == "savepoint"


def test_alembic_online_uses_the_dsql_implementation(renamed, fresh_schema):
    with renamed.connect() as conn:
        context = MigrationContext.configure(conn, opts={"output_buffer": io.StringIO()})
        assert type(context.impl) is AuroraDSQLImpl
        op = Operations(context)
        op.create_table("made", sa.Column("id", sa.Integer, primary_key=True))
        with pytest.raises(DSQLUnsupportedError) as refused:
            op.add_column("made", sa.Column("flag", sa.Boolean, nullable=False, server_default="false"))
        assert refused.value.rule.id == "add-column-constraint"
    assert sa.inspect(renamed).get_table_names() == ["made"]
