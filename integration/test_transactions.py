"""DSQL's transaction shape, checked on the server (local mode).

* ``create_all`` / ``drop_all`` run one DDL statement per transaction and never
  mix DDL with DML, whatever the engine settings.  The server itself is the
  witness: an event trigger records, for every DDL command, its transaction id
  and how many rows that transaction had already written.
* DDL after the user's own writes in the same transaction is refused with
  DSQL's error (SQLSTATE 0A000); the writes are never committed behind the
  user's back.
* Only REPEATABLE READ (and AUTOCOMMIT); no SAVEPOINT; no two-phase commit.
* No session setting DSQL refuses is ever sent (checked in the server's log).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy import rules
from aurora_dsql_sqlalchemy.errors import DSQLUnsupportedError
from sqlalchemy import exc as sa_exc
from sqlalchemy import orm
from sqlalchemy.engine import URL

pytestmark = pytest.mark.usefixtures("fresh_schema")


@pytest.fixture(scope="module")
def admin(pg_url: URL, driver: str) -> Iterator[sa.Engine]:
    # the plain PostgreSQL dialect with the driver under test (the only one installed in CI)
    eng = sa.create_engine(
        pg_url.set(drivername=f"postgresql+{driver}"), isolation_level="AUTOCOMMIT"
    )
    yield eng
    eng.dispose()


@pytest.fixture(params=["strict", "translate"])
def mode_engine(request: pytest.FixtureRequest, dsql_url: URL) -> Iterator[sa.Engine]:
    eng = sa.create_engine(dsql_url, local_mode=request.param)
    yield eng
    eng.dispose()


def sqlstate(error: BaseException) -> str | None:
    orig = getattr(error, "orig", error)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


# -- one DDL statement per transaction, never with DML ------------------------------------------

Audit = tuple[int, str, int, "str | None"]
"""(transaction id, command tag, tables written in that transaction so far, their names)"""

_AUDIT = """
CREATE SCHEMA ddl_audit;
CREATE TABLE ddl_audit.log (seq bigserial PRIMARY KEY, txid bigint, tag text, rows_written bigint, written text);
CREATE FUNCTION ddl_audit.record() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    -- not strict mode's own (its key-size checks): DSQL has neither, and strict mode refuses both from users
    IF tg_tag IN ('CREATE FUNCTION', 'DROP FUNCTION', 'CREATE TRIGGER', 'DROP TRIGGER', 'CREATE PROCEDURE') THEN
        RETURN;
    END IF;
    -- a transaction that wrote rows holds ROW EXCLUSIVE locks on those tables
    INSERT INTO ddl_audit.log (txid, tag, rows_written, written)
    SELECT txid_current(), tg_tag, count(*), string_agg(c.relname, ',')
    FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
    WHERE l.pid = pg_backend_pid() AND l.mode = 'RowExclusiveLock'
      AND c.relkind = 'r' AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'pg_toast'::regnamespace, 'ddl_audit'::regnamespace);
END $$;
CREATE EVENT TRIGGER ddl_audit_end ON ddl_command_end EXECUTE FUNCTION ddl_audit.record();
"""


@pytest.fixture
def ddl_audit(admin: sa.Engine, engine: sa.Engine) -> Iterator[Callable[[], list[Audit]]]:
    """Records every DDL command the server runs; call it for the rows since the last call."""
    with engine.connect():
        pass  # local mode's one-time setup (its emulated sys schema) happens before recording
    with admin.connect() as conn:
        conn.exec_driver_sql(_AUDIT)
    last = [0]

    def since_last() -> list[Audit]:
        with admin.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT seq, txid, tag, rows_written, written FROM ddl_audit.log WHERE seq > %(s)s ORDER BY seq",
                {"s": last[0]},
            ).all()
        if rows:
            last[0] = rows[-1][0]
        return [(r[1], r[2], r[3], r[4]) for r in rows]

    try:
        yield since_last
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql("DROP EVENT TRIGGER ddl_audit_end; DROP SCHEMA ddl_audit CASCADE")


def schema() -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "owners",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(40), index=True),
        sa.Column(
            "pet_id", sa.Integer, sa.ForeignKey("pets.id", name="fk_owner_pet", use_alter=True)
        ),
    )
    sa.Table(
        "pets",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id")),
        sa.Column("tag", sa.Integer, sa.Sequence("pet_tag_seq")),
        sa.Index("uq_pets_tag", "tag", unique=True),
    )
    return metadata


EXPECTED_CREATE = Counter(
    {
        "CREATE TABLE": 2,
        "CREATE INDEX": 2,
        "CREATE SEQUENCE": 1,
        "ALTER TABLE": 2,
    }  # ADD ... NOT VALID, VALIDATE
)


def _run(
    style: str,
    dsql_url: URL,
    action: Callable[[sa.MetaData, sa.Connection | sa.Engine], None],
    metadata: sa.MetaData,
) -> None:
    if style == "autocommit":
        engine = sa.create_engine(dsql_url, isolation_level="AUTOCOMMIT")
    elif style == "repeatable_read":
        engine = sa.create_engine(dsql_url, isolation_level="REPEATABLE READ")
    else:
        engine = sa.create_engine(dsql_url)
    try:
        if style in ("engine", "autocommit", "repeatable_read"):
            action(metadata, engine)
        elif style == "begin":
            with engine.begin() as conn:
                conn.execute(sa.text("SELECT 1"))  # a read first: the transaction is already open
                action(metadata, conn)
        elif style == "connect":
            with engine.connect() as conn:
                action(metadata, conn)
                conn.commit()
        elif style == "session":
            with orm.Session(engine) as session:
                session.execute(sa.text("SELECT 1"))
                action(metadata, session.connection())
                session.commit()
        else:
            raise AssertionError(style)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "style", ["engine", "autocommit", "repeatable_read", "begin", "connect", "session"]
)
def test_create_all_and_drop_all_one_ddl_per_transaction(
    style: str, dsql_url: URL, ddl_audit: Callable[[], list[Audit]]
) -> None:
    metadata = schema()
    ddl_audit()  # discard anything before
    _run(style, dsql_url, lambda m, bind: m.create_all(bind), metadata)
    created = ddl_audit()
    assert Counter(tag for _, tag, _, _ in created) == EXPECTED_CREATE
    txids = [txid for txid, _, _, _ in created]
    assert len(set(txids)) == len(txids), f"DDL statements shared a transaction: {created}"
    assert all(rows == 0 for _, _, rows, _ in created), (
        f"DDL ran in a transaction that wrote rows: {created}"
    )

    _run(style, dsql_url, lambda m, bind: m.drop_all(bind), metadata)
    dropped = ddl_audit()
    tags = Counter(tag for _, tag, _, _ in dropped)
    assert tags["DROP TABLE"] == 2 and tags["DROP SEQUENCE"] == 1
    txids = [txid for txid, _, _, _ in dropped]
    assert len(set(txids)) == len(txids), f"DDL statements shared a transaction: {dropped}"
    assert all(rows == 0 for _, _, rows, _ in dropped)


def test_data_then_schema_in_one_block_each_in_own_transaction(
    engine: sa.Engine, ddl_audit: Callable[[], list[Audit]]
) -> None:
    metadata = sa.MetaData()
    t = sa.Table(
        "notes", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("body", sa.Text)
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert().values(body="x"))
    ddl_audit()
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE INDEX ASYNC ix_notes_body ON notes (body)"))
        conn.execute(sa.text("COMMENT ON TABLE notes IS 'hello'"))
        conn.commit()
    audit = ddl_audit()
    assert [tag for _, tag, _, _ in audit] == ["CREATE INDEX", "COMMENT"]
    assert len({txid for txid, _, _, _ in audit}) == 2


def test_rows_written_inside_create_all_stay_in_the_callers_transaction(mode_engine: sa.Engine) -> None:
    """The DDL of a create_all() commits statement by statement (the driver's
    autocommit stays on from one DDL statement to the next); a row an
    ``after_create`` listener writes still goes into the caller's transaction,
    which the caller's failure rolls back, and the connection goes back to
    the pool as it came out of it."""
    metadata = sa.MetaData()
    seeded = sa.Table(
        "seeded",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("body", sa.String(20), index=True),
        sa.Index("ix_seeded_id_body", "id", "body"),
    )

    @sa.event.listens_for(seeded, "after_create")
    def seed(target: sa.Table, connection: sa.Connection, **kw: Any) -> None:
        connection.execute(seeded.insert().values(id=1, body="first"))
        raise RuntimeError("the caller fails after the seed row")

    with pytest.raises(RuntimeError, match="seed row"):
        metadata.create_all(mode_engine)
    with mode_engine.connect() as conn:
        assert conn.connection.dbapi_connection.autocommit is False
        # the table and both indexes exist (each committed on its own); the row was rolled back
        assert conn.execute(sa.select(sa.func.count()).select_from(seeded)).scalar() == 0
        indexes = conn.execute(sa.text("SELECT count(*) FROM pg_indexes WHERE tablename = 'seeded'")).scalar()
        assert indexes == 3
    sa.event.remove(seeded, "after_create", seed)

    # the same on a Connection the caller keeps using: its next write is in a transaction
    seeded.drop(mode_engine)
    with mode_engine.connect() as conn:
        metadata.create_all(conn)
        conn.execute(seeded.insert().values(id=2, body="second"))
        assert conn.in_transaction()
        conn.rollback()
        assert conn.execute(sa.select(sa.func.count()).select_from(seeded)).scalar() == 0


# -- the dialect never commits on the user's behalf -----------------------------------------------


@pytest.fixture
def notes(mode_engine: sa.Engine) -> sa.Table:
    metadata = sa.MetaData()
    t = sa.Table(
        "notes",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("body", sa.String(20)),
    )
    metadata.create_all(mode_engine)
    return t


def _bodies(engine: sa.Engine, table: sa.Table) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(table.c.body)).scalars())


def test_ddl_after_dml_is_refused_not_committed(mode_engine: sa.Engine, notes: sa.Table) -> None:
    index = sa.Index("ix_notes_body", notes.c.body)
    with mode_engine.connect() as conn:
        conn.execute(notes.insert().values(body="pending"))
        with pytest.raises(sa_exc.DBAPIError) as info:
            index.create(conn)
        assert sqlstate(info.value) == "0A000"
        assert rules.rule("ddl-dml-mix").message in str(info.value)
        # nothing was committed behind the user's back ...
        assert _bodies(mode_engine, notes) == []
        # ... and the user's transaction is intact
        assert conn.execute(sa.select(notes.c.body)).scalars().all() == ["pending"]
        conn.rollback()
    assert _bodies(mode_engine, notes) == []
    with mode_engine.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_notes_body'")
            ).scalar()
            == 0
        )


def test_ddl_after_dml_refused_then_user_commits(mode_engine: sa.Engine, notes: sa.Table) -> None:
    with mode_engine.connect() as conn:
        conn.execute(notes.insert().values(body="kept"))
        with pytest.raises(sa_exc.DBAPIError):
            conn.execute(sa.text("ALTER TABLE notes ADD COLUMN extra text"))
        conn.commit()  # the user decides
    assert _bodies(mode_engine, notes) == ["kept"]
    with mode_engine.connect() as conn:
        conn.execute(
            sa.text("ALTER TABLE notes ADD COLUMN extra text")
        )  # now in its own transaction
        conn.commit()


def test_orm_flush_then_ddl_refused(mode_engine: sa.Engine, notes: sa.Table) -> None:
    with orm.Session(mode_engine) as session:
        session.execute(notes.insert().values(body="orm"))
        with pytest.raises(sa_exc.DBAPIError) as info:
            session.execute(sa.text("CREATE INDEX ASYNC ix_n ON notes (body)"))
        assert sqlstate(info.value) == "0A000"
        session.rollback()
    assert _bodies(mode_engine, notes) == []


def test_ddl_after_reads_only_is_fine(mode_engine: sa.Engine, notes: sa.Table) -> None:
    with mode_engine.begin() as conn:
        conn.execute(sa.select(notes)).all()
        sa.Index("ix_notes_body2", notes.c.body).create(conn)
        conn.execute(notes.insert().values(body="after"))  # a new transaction begins for the DML
    assert _bodies(mode_engine, notes) == ["after"]


# -- isolation, savepoints, two-phase ----------------------------------------------------------------


@pytest.mark.parametrize("level", ["SERIALIZABLE", "READ COMMITTED", "READ UNCOMMITTED"])
def test_other_isolation_levels_refused(dsql_url: URL, level: str) -> None:
    engine = sa.create_engine(dsql_url, isolation_level=level)
    try:
        with pytest.raises(DSQLUnsupportedError) as info, engine.connect():
            pass
        assert info.value.rule.id == "isolation-level" and level in str(info.value)
    finally:
        engine.dispose()


@pytest.mark.parametrize("level", ["SERIALIZABLE", "READ COMMITTED"])
def test_other_isolation_levels_refused_per_connection(engine: sa.Engine, level: str) -> None:
    with engine.connect() as conn, pytest.raises(DSQLUnsupportedError, match="REPEATABLE READ"):
        conn.execution_options(isolation_level=level)


def test_repeatable_read_and_autocommit(dsql_url: URL, engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert conn.get_isolation_level() == "REPEATABLE READ"
        assert conn.execute(sa.text("SHOW transaction_isolation")).scalar() == "repeatable read"
    rr = sa.create_engine(dsql_url, isolation_level="REPEATABLE READ")
    ac = sa.create_engine(dsql_url, isolation_level="AUTOCOMMIT")
    try:
        with rr.connect() as conn:
            assert conn.execute(sa.text("SHOW transaction_isolation")).scalar() == "repeatable read"
        with ac.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        rr.dispose()
        ac.dispose()


def test_session_begin_nested_refused(engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    t = sa.Table("kept", metadata, sa.Column("id", sa.Integer, primary_key=True))
    metadata.create_all(engine)
    with orm.Session(engine) as session:
        session.execute(t.insert().values(id=1))
        with pytest.raises(DSQLUnsupportedError) as info:
            session.begin_nested()  # refused at once, not at the first statement inside
        assert info.value.rule.id == "savepoint"
        assert "begin_nested" in str(info.value) and "rule savepoint" in str(info.value)
        # the outer transaction is untouched and still the user's to commit
        assert session.in_transaction() and not session.in_nested_transaction()
        session.commit()
    with engine.connect() as conn:
        assert conn.execute(sa.select(t.c.id)).scalars().all() == [1]
    with (
        orm.Session(engine) as session,
        pytest.raises(DSQLUnsupportedError),
        session.begin_nested(),
    ):
        pass


def test_connection_begin_nested_refused(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
        with pytest.raises(DSQLUnsupportedError, match="savepoint"):
            conn.begin_nested()


def test_two_phase_refused(engine: sa.Engine) -> None:
    with engine.connect() as conn, pytest.raises(DSQLUnsupportedError, match="two-phase"):
        conn.begin_twophase()


def test_row_locks_run(engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    t = sa.Table(
        "acct", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.Integer)
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert().values(v=1))
    with engine.begin() as conn:
        assert conn.execute(sa.select(t.c.v).with_for_update()).scalar() == 1
        assert (
            conn.execute(sa.select(t.c.v).with_for_update(read=True, key_share=True)).scalar() == 1
        )
        with pytest.raises(DSQLUnsupportedError, match="FOR SHARE"):
            conn.execute(sa.select(t.c.v).with_for_update(read=True))
        with pytest.raises(DSQLUnsupportedError, match="FOR NO KEY UPDATE"):
            conn.execute(sa.select(t.c.v).with_for_update(key_share=True))


# -- session settings ----------------------------------------------------------------------------------

_LOGGED = re.compile(
    r"LOG:\s+(?:statement|execute [^:]*):\s(.*?)(?=\n\S+ \S+ UTC \[|\Z)", re.DOTALL
)
_SET = re.compile(r"^\s*(?:SET|RESET)\b|set_config\s*\(", re.IGNORECASE)
# what local mode itself sends to PostgreSQL (never to DSQL); TimeZone is accepted by DSQL
_ALLOWED_SET = re.compile(
    r"^\s*(SET\s+(SESSION\s+)?TIME\s*ZONE|SET\s+SESSION\s+CHARACTERISTICS\s+AS\s+TRANSACTION\s+ISOLATION\s+LEVEL\s+REPEATABLE\s+READ)",
    re.IGNORECASE,
)


def _plain_workload(engine: sa.Engine, owners: sa.Table) -> None:
    with engine.begin() as conn:
        conn.execute(owners.insert().values(name="a"))
        conn.execute(sa.select(owners).with_for_update()).all()
    with orm.Session(engine) as session:
        session.execute(owners.update().values(name="b"))
        session.commit()


def _options_workload(engine: sa.Engine, owners: sa.Table) -> None:
    _plain_workload(engine, owners)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ")
        conn.execute(sa.select(owners)).all()
    with engine.connect() as conn:
        conn.execution_options(postgresql_readonly=True)
        conn.execute(sa.select(owners)).all()
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.select(owners)).all()
    with engine.connect() as conn:
        sa.Index("ix_owners_late", owners.c.name, owners.c.id).create(conn)


@pytest.mark.parametrize(
    "workload", [_plain_workload, _options_workload], ids=["plain", "with_options"]
)
def test_no_refused_session_setting_is_sent(
    dsql_url: URL,
    admin: sa.Engine,
    driver: str,
    workload: Callable[[sa.Engine, sa.Table], None],
    request: pytest.FixtureRequest,
) -> None:
    with admin.connect() as conn:
        try:
            start = len(conn.execute(sa.text("SELECT pg_read_file('log')")).scalar() or "")
        except sa_exc.DBAPIError:
            pytest.skip(
                "this server's log is not readable as <data_directory>/log (not the embedded server)"
            )
    # log_statement=all for the dialect's sessions only (a startup option set by the test, not the dialect)
    engine = sa.create_engine(
        dsql_url, connect_args={"options": "-c log_statement=all"}, pool_pre_ping=True
    )
    try:
        metadata = schema()
        metadata.create_all(engine)
        workload(engine, metadata.tables["owners"])
        metadata.drop_all(engine)
    finally:
        engine.dispose()
    with admin.connect() as conn:
        log = str(conn.execute(sa.text("SELECT pg_read_file('log')")).scalar())[start:]
    statements = [s.strip() for s in _LOGGED.findall(log)]
    assert any("CREATE TABLE owners" in s for s in statements), (
        "the log did not capture the dialect's statements"
    )
    # local mode's own emulation, installed on PostgreSQL only: its procedures
    # keep a session's catalog count with set_config() (local/catalog.py)
    settings = [s for s in statements if _SET.search(s) and not s.startswith("DO $install$")]
    refused = [
        s
        for s in settings
        if any(name in s.lower() for name in rules.REFUSED_SESSION_SETTINGS)
        or not _ALLOWED_SET.match(s)
    ]
    assert refused == [], f"session settings DSQL refuses were sent: {sorted(set(refused))}"
    assert not [
        s
        for s in statements
        if re.match(r"^\s*(SAVEPOINT|RELEASE|ROLLBACK\s+TO)\b", s, re.IGNORECASE)
    ]
