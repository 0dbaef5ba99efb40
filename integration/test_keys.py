"""Integer keys keep PostgreSQL's meaning in strict local mode (issue: real applications).

``Column(Integer, primary_key=True)`` means PostgreSQL's SERIAL to every
SQLAlchemy user: values in insertion order, across every connection of the
pool.  DSQL makes the key a BIGINT identity, so every column that carries the
key's values (foreign keys, sequence-fed columns) and every bind parameter
compared with them must be BIGINT as well, or values past 2**31 overflow.
Each test drives the dialect through ``create_all`` and ordinary Core/ORM
statements on the real server and compares with what the server holds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import orm
from sqlalchemy.engine import URL

pytestmark = pytest.mark.usefixtures("fresh_schema")

BEYOND_INT4 = 2**31 + 7


def keyed_metadata(start: int | None = None) -> sa.MetaData:
    metadata = sa.MetaData()
    identity = sa.Identity(start=start) if start else None
    parent_id = (
        sa.Column("id", sa.Integer, identity, primary_key=True)
        if identity
        else sa.Column("id", sa.Integer, primary_key=True)
    )
    sa.Table("parent", metadata, parent_id, sa.Column("name", sa.String(40)))
    sa.Table(
        "child",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("parent.id"), nullable=False),
        sa.Column("ticket", sa.Integer, sa.Sequence("child_ticket_seq", start=start or 1)),
    )
    return metadata


def column_types(engine: sa.Engine) -> dict[tuple[str, str], str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name IN ('parent', 'child')"
            )
        )
        return {(t, c): d for t, c, d in rows}


@pytest.fixture
def pool_of_two(dsql_url: URL) -> Iterator[sa.Engine]:
    eng = sa.create_engine(dsql_url, pool_size=2, max_overflow=0)
    yield eng
    eng.dispose()


def insert_alternating(engine: sa.Engine, table: sa.Table, count: int) -> list[int]:
    """Insert ``count`` rows, each through the other of two pooled connections."""
    ids = []
    first, second = engine.connect(), engine.connect()
    try:
        for n in range(count):
            conn = (first, second)[n % 2]
            ids.append(conn.execute(table.insert().values(name=f"p{n}")).inserted_primary_key[0])
            conn.commit()
    finally:
        first.close()
        second.close()
    return ids


def test_autoincrement_keys_follow_insertion_order_across_connections(
    pool_of_two: sa.Engine,
) -> None:
    metadata = keyed_metadata()
    metadata.create_all(pool_of_two)
    ids = insert_alternating(pool_of_two, metadata.tables["parent"], 6)
    assert ids == [1, 2, 3, 4, 5, 6]  # what PostgreSQL's SERIAL gives


def test_identity_cache_is_the_explicit_throughput_choice(dsql_url: URL) -> None:
    engine = sa.create_engine(dsql_url, pool_size=2, max_overflow=0, identity_cache=65536)
    try:
        metadata = keyed_metadata()
        metadata.create_all(engine)
        ids = insert_alternating(engine, metadata.tables["parent"], 4)
    finally:
        engine.dispose()
    # each connection takes its own block of 65,536 values: unique, unordered
    assert len(set(ids)) == 4
    assert max(ids) - min(ids) >= 65536


def test_columns_carrying_widened_keys_are_bigint(engine: sa.Engine) -> None:
    keyed_metadata().create_all(engine)
    types = column_types(engine)
    assert types[("parent", "id")] == "bigint"
    assert types[("child", "parent_id")] == "bigint"  # a foreign key to it
    assert types[("child", "ticket")] == "bigint"  # fed by a (BIGINT) sequence


def test_values_past_int4_fit_every_carrier_and_bind(engine: sa.Engine) -> None:
    metadata = keyed_metadata(start=BEYOND_INT4)
    metadata.create_all(engine)
    parent, child = metadata.tables["parent"], metadata.tables["child"]
    with engine.begin() as conn:
        parent_id = conn.execute(parent.insert().values(name="big")).inserted_primary_key[0]
        assert parent_id == BEYOND_INT4
        conn.execute(child.insert().values(parent_id=parent_id))
        # compared as bind parameters (psycopg casts them: ::BIGINT, not ::INTEGER)
        row = conn.execute(
            sa.select(child.c.parent_id, child.c.ticket).where(
                child.c.parent_id == parent_id, child.c.parent_id.in_([parent_id, 1])
            )
        ).one()
        assert row == (BEYOND_INT4, BEYOND_INT4)
        conn.execute(child.update().where(child.c.parent_id == parent_id).values(parent_id=parent_id))


def test_orm_relationships_over_big_keys(engine: sa.Engine) -> None:
    class Base(orm.DeclarativeBase):
        pass

    class Author(Base):
        __tablename__ = "parent"
        id: orm.Mapped[int] = orm.mapped_column(sa.Identity(start=BEYOND_INT4), primary_key=True)
        name: orm.Mapped[str] = orm.mapped_column(sa.String(40))
        books: orm.Mapped[list[Book]] = orm.relationship(back_populates="author")

    class Book(Base):
        __tablename__ = "child"
        id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
        parent_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("parent.id"))
        author: orm.Mapped[Author] = orm.relationship(back_populates="books")

    Base.metadata.create_all(engine)
    with orm.Session(engine) as session:
        session.add(Author(name="a", books=[Book(), Book()]))
        session.commit()
    with orm.Session(engine) as session:
        author = session.get(Author, BEYOND_INT4)
        assert author is not None and len(author.books) == 2
        assert [b.id for b in author.books] == [1, 2]


def test_autogenerate_sees_no_change_for_widened_columns(engine: sa.Engine) -> None:
    metadata = keyed_metadata()
    metadata.create_all(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []
