"""DSQL's index key size limit, enforced by strict local mode on every write
(:mod:`aurora_dsql_sqlalchemy.local.keysize`), driven through the engine, the
ORM and the bulk COPY path as a user would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy import rules
from aurora_dsql_sqlalchemy.bulk import ChunkedWriteFailed, chunked_insert
from aurora_dsql_sqlalchemy.local.keysize import TRIGGER
from sqlalchemy import orm
from sqlalchemy.engine import URL

pytestmark = pytest.mark.usefixtures("fresh_schema")

RULE = rules.RULES["index-key-size"]
LIMIT = rules.LIMITS.index_key_bytes


def _sqlstate(error: sa.exc.DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)


def _refused(error: pytest.ExceptionInfo[sa.exc.DBAPIError]) -> None:
    assert _sqlstate(error.value) == RULE.sqlstate
    assert RULE.server_message() in str(error.value.orig)


def _triggers(conn: sa.Connection, table: str) -> list[str]:
    return list(
        conn.exec_driver_sql(
            f"SELECT tgname FROM pg_trigger WHERE tgrelid = '{table}'::regclass AND NOT tgisinternal"
        ).scalars()
    )


class Base(orm.DeclarativeBase):
    pass


class Tag(Base):
    __tablename__ = "tags"
    name: orm.Mapped[str] = orm.mapped_column(sa.Text, primary_key=True)


metadata = sa.MetaData()
# a secondary key on an unbounded column: checked on every write
docs = sa.Table(
    "docs", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("title", sa.Text, nullable=False), sa.Column("body", sa.Text), sa.Index("ix_docs_title", "title"),
)
# keys that cannot reach the limit (4 + 50 x 4 bytes): nothing to check
bounded = sa.Table(
    "bounded", metadata, sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(50), nullable=False), sa.Column("note", sa.Text),
    sa.Index("ix_bounded_code", "code", unique=True),
)


@pytest.fixture
def tags(engine: sa.Engine) -> Iterator[orm.sessionmaker[orm.Session]]:
    Base.metadata.create_all(engine)
    yield orm.sessionmaker(engine)


@pytest.fixture
def tables(engine: sa.Engine) -> None:
    metadata.create_all(engine)


def test_text_primary_key_over_the_limit_is_refused_and_aborts(
    engine: sa.Engine, tags: orm.sessionmaker[orm.Session]
) -> None:
    with tags() as session:
        session.add(Tag(name="x" * 2_100))
        with pytest.raises(sa.exc.DBAPIError) as refused:
            session.flush()
        _refused(refused)
        assert "HINT" in str(refused.value.orig)
    with engine.connect() as conn:
        conn.exec_driver_sql("INSERT INTO tags VALUES ('small')")
        with pytest.raises(sa.exc.DBAPIError) as refused:
            conn.exec_driver_sql(f"INSERT INTO tags VALUES (repeat('y', {LIMIT + 100}))")
        _refused(refused)
        with pytest.raises(sa.exc.DBAPIError) as then:  # aborted, as DSQL leaves it
            conn.exec_driver_sql("SELECT 1")
        assert _sqlstate(then.value) == rules.RULES["transaction-aborted"].sqlstate
        conn.rollback()
    with tags() as session:
        session.add(Tag(name="z" * 1_900))
        session.commit()
        assert session.scalars(sa.select(sa.func.length(Tag.name))).all() == [1_900]


def test_secondary_key_carries_the_primary_key(engine: sa.Engine, tables: None) -> None:
    fits = "a" * (LIMIT - 4)  # with the 4-byte integer key: exactly the limit
    with engine.begin() as conn:
        conn.execute(docs.insert(), {"id": 1, "title": fits, "body": "b" * 5_000})
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as refused:
        conn.execute(docs.insert(), {"id": 2, "title": fits + "a"})
    _refused(refused)
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as refused:  # an UPDATE that grows the key
        conn.execute(docs.update().where(docs.c.id == 1).values(title=docs.c.title + "!"))
    _refused(refused)
    with engine.begin() as conn:  # a column outside every key may grow freely
        conn.execute(docs.update().where(docs.c.id == 1).values(body=docs.c.body + "c" * 5_000))
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as refused:
        conn.execute(
            docs.insert().from_select(["id", "title"], sa.select(sa.literal(3), sa.func.repeat("q", LIMIT)))
        )
    _refused(refused)
    with engine.connect() as conn:  # an upsert's DO UPDATE is a write too
        upsert = sa.dialects.postgresql.insert(docs).values(id=1, title="t")
        with pytest.raises(sa.exc.DBAPIError) as refused:
            conn.execute(upsert.on_conflict_do_update(index_elements=["id"], set_={"title": fits + "zz"}))
    _refused(refused)
    with engine.connect() as conn:
        assert conn.execute(sa.select(docs.c.id, sa.func.length(docs.c.title))).all() == [(1, LIMIT - 4)]


def test_copy_is_checked(engine: sa.Engine, tables: None) -> None:
    rows = [{"id": i, "title": f"t{i}"} for i in range(50)] + [{"id": 50, "title": "w" * LIMIT}]
    with pytest.raises(ChunkedWriteFailed) as failed:
        chunked_insert(engine, docs, rows, method="copy")
    assert isinstance(failed.value.__cause__, sa.exc.DBAPIError)
    assert _sqlstate(failed.value.__cause__) == RULE.sqlstate
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(docs)) == 0
    assert chunked_insert(engine, docs, rows[:-1], method="copy").rows == 50


def test_keys_follow_the_ddl(engine: sa.Engine, tables: None) -> None:
    big = "m" * (LIMIT + 10)
    with engine.begin() as conn:  # no index on body yet
        conn.execute(docs.insert(), {"id": 1, "title": "t", "body": big})
    copy = docs.to_metadata(sa.MetaData())  # the module's table keeps its indexes
    sa.Index("ix_docs_body", copy.c.body).create(engine)  # CREATE INDEX ASYNC, emulated
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as refused:
        conn.execute(docs.insert(), {"id": 2, "title": "t", "body": big})
    _refused(refused)
    with engine.connect() as conn:
        conn.exec_driver_sql("DROP INDEX ix_docs_body")
        conn.commit()
        conn.execute(docs.insert(), {"id": 2, "title": "t", "body": big})
        conn.commit()
        conn.exec_driver_sql("ALTER TABLE docs RENAME COLUMN title TO heading")
        conn.commit()
        with pytest.raises(sa.exc.DBAPIError) as refused:  # the renamed column is still checked
            conn.exec_driver_sql("INSERT INTO docs (id, heading) VALUES (3, %(v)s)", {"v": big})
        _refused(refused)
        conn.rollback()
        conn.exec_driver_sql("ALTER TABLE docs DROP COLUMN heading")
        conn.commit()
        assert _triggers(conn, "docs") == []  # nothing left to check: an integer key
        conn.exec_driver_sql("INSERT INTO docs (id, body) VALUES (3, %(v)s)", {"v": big})
        conn.commit()


def test_bounded_keys_get_nothing_and_reflection_shows_nothing(engine: sa.Engine, tables: None) -> None:
    with engine.connect() as conn:
        assert _triggers(conn, "bounded") == []
        assert _triggers(conn, "docs") == [TRIGGER]
        inspector = sa.inspect(conn)
        assert [ix["name"] for ix in inspector.get_indexes("docs")] == ["ix_docs_title"]
        assert inspector.get_check_constraints("docs") == []
        assert "aurora_dsql_local" not in inspector.get_schema_names()

    import aurora_dsql_sqlalchemy.alembic_impl  # noqa: F401  (registers the impl)
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_schemas": True})
        assert compare_metadata(context, metadata) == []


def test_functions_of_dropped_tables_do_not_accumulate(engine: sa.Engine) -> None:
    for _ in range(3):
        Base.metadata.create_all(engine)
        Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with engine.connect() as conn:
        functions = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_proc WHERE pronamespace = 'aurora_dsql_local'::regnamespace"
            " AND proname LIKE %(functions)s",
            {"functions": "key\\_size\\_%"},
        ).scalar()
    assert functions == 1


def test_translate_mode_leaves_it_to_postgresql(dsql_url: URL) -> None:
    translating = sa.create_engine(dsql_url, local_mode="translate")
    try:
        Base.metadata.create_all(translating)
        with orm.Session(translating) as session:
            session.add(Tag(name="x" * 2_100))
            session.commit()
        with translating.connect() as conn:
            assert _triggers(conn, "tags") == []
    finally:
        translating.dispose()


@pytest.mark.parametrize(
    "options", [{"local_mode": "translate"}, {"relax": ["index-key-size"]}], ids=["translate", "relaxed"]
)
def test_only_strict_sessions_are_checked(
    engine: sa.Engine, tags: orm.sessionmaker[orm.Session], dsql_url: URL, pg_url: URL, options: dict[str, object]
) -> None:
    """The trigger a strict engine made checks its own sessions' writes only:
    other engines and clients write to the table as PostgreSQL lets them."""
    with engine.connect() as conn:
        assert _triggers(conn, "tags") == [TRIGGER]
    for url, kw in ((dsql_url, options), (pg_url, {})):
        other = sa.create_engine(url, **kw)
        try:
            with other.begin() as conn:
                conn.execute(Tag.__table__.insert(), {"name": f"{url.drivername}-" + "x" * 2_100})
        finally:
            other.dispose()
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Tag)) == 2


def test_an_engines_lower_limit_applies_to_its_writes(
    dsql_url: URL, tags: orm.sessionmaker[orm.Session]
) -> None:
    import dataclasses

    lower = sa.create_engine(dsql_url, limits=dataclasses.replace(rules.LIMITS, index_key_bytes=100))
    try:
        with lower.connect() as conn, pytest.raises(sa.exc.DBAPIError) as refused:
            conn.execute(Tag.__table__.insert(), {"name": "x" * 101})
        _refused(refused)
        with lower.begin() as conn:
            conn.execute(Tag.__table__.insert(), {"name": "x" * 100})
    finally:
        lower.dispose()


def test_an_update_that_keeps_the_key_passes(engine: sa.Engine, tables: None, dsql_url: URL) -> None:
    """A row whose key is already over the limit (written by a client strict
    mode does not check) can still have its other columns updated; a strict
    write that sets its key is refused."""
    unchecked = sa.create_engine(dsql_url, local_mode="translate")
    try:
        with unchecked.begin() as conn:
            conn.execute(docs.insert(), {"id": 1, "title": "o" * (LIMIT + 50)})
    finally:
        unchecked.dispose()
    with engine.begin() as conn:
        conn.execute(docs.update().values(body="edited"))
        conn.execute(docs.update().values(title=docs.c.title))  # the key as it was: not checked again
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as refused:
        conn.execute(docs.update().values(title=docs.c.title + "o"))
    _refused(refused)


@pytest.mark.parametrize("through", ["create_all", "text"])
def test_names_that_need_quoting(engine: sa.Engine, through: str) -> None:
    odd = sa.Table(
        'We"ird 100% Tags', sa.MetaData(),
        sa.Column("Key Col%", sa.BigInteger, primary_key=True), sa.Column("Note %", sa.Text),
    )
    with engine.connect() as conn:
        if through == "create_all":
            odd.create(conn)
            sa.Index("ix 50%", odd.c["Note %"]).create(conn)
        else:  # DDL the dialect did not compile: the checker's parse names the table
            conn.exec_driver_sql('CREATE TABLE "We""ird 100%% Tags" ("Key Col%%" bigint PRIMARY KEY, "Note %%" text)', {})
            conn.commit()
            conn.exec_driver_sql('CREATE INDEX ASYNC "ix 50%%" ON "We""ird 100%% Tags" ("Note %%")', {}).all()
        conn.commit()
        assert _triggers(conn, '"We""ird 100%% Tags"') == [TRIGGER]
        with pytest.raises(sa.exc.DBAPIError) as refused:
            conn.execute(odd.insert(), {"Key Col%": 1, "Note %": "k" * (LIMIT - 7)})
        _refused(refused)
        conn.rollback()
        conn.execute(odd.insert(), {"Key Col%": 1, "Note %": "k" * (LIMIT - 8)})
        conn.commit()
