"""A real Aurora DSQL cluster, from a URL alone: connect, schema, CRUD,
reflection, optimistic-concurrency conflicts, drop.  See conftest.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy import retry
from sqlalchemy import exc as sa_exc

if not os.environ.get("CLUSTER_ENDPOINT", "").strip():
    pytest.skip(
        "live Aurora DSQL suite: CLUSTER_ENDPOINT is not set (set CLUSTER_ENDPOINT="
        "<cluster-id>.dsql.<region>.on.aws, optionally CLUSTER_USER and REGION, and AWS "
        "credentials, to run it)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.live


def _ssl_in_use(conn: sa.Connection) -> bool:
    driver_conn: Any = conn.connection.driver_connection
    pgconn = getattr(driver_conn, "pgconn", None)  # psycopg 3
    if pgconn is not None:
        return bool(pgconn.ssl_in_use)
    return bool(driver_conn.info.ssl_in_use)  # psycopg2


def test_connect_from_url_alone(live_engine: sa.Engine) -> None:
    with live_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
        assert conn.exec_driver_sql("SELECT sys.dsql_major_version()").scalar() is not None
        assert _ssl_in_use(conn)
    dialect: Any = live_engine.dialect
    assert dialect.host_is_dsql and dialect.iam_auth
    assert getattr(dialect, "is_dsql", True) is True
    assert getattr(dialect, "local_mode", None) is None
    conns = [live_engine.connect() for _ in range(3)]
    for c in conns:
        c.close()
    provider = getattr(dialect.token_provider, "provider", dialect.token_provider)
    assert provider.signings == 1  # the pool filled with one token


@pytest.fixture
def schema(live_engine: sa.Engine, suffix: str) -> Iterator[tuple[sa.MetaData, sa.Table, sa.Table]]:
    metadata = sa.MetaData()
    owner = sa.Table(
        f"live_owner_{suffix}",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),  # BIGINT identity, CACHE 65536
        sa.Column("name", sa.String(100), nullable=False),
    )
    pet = sa.Table(
        f"live_pet_{suffix}",
        metadata,
        sa.Column("id", sa.Uuid, primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("owner_id", sa.BigInteger, sa.ForeignKey(owner.c.id), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("visits", sa.Integer, nullable=False, server_default="0"),
        sa.Index(f"ix_live_pet_owner_{suffix}", "owner_id"),
        sa.Index(f"ux_live_pet_name_{suffix}", "owner_id", "name", unique=True),
    )
    metadata.create_all(live_engine)  # each DDL in its own transaction, ASYNC indexes awaited
    try:
        yield metadata, owner, pet
    finally:
        metadata.drop_all(live_engine)
        inspector = sa.inspect(live_engine)
        assert not inspector.has_table(owner.name)
        assert not inspector.has_table(pet.name)


def test_schema_crud_and_reflection(
    live_engine: sa.Engine, schema: tuple[sa.MetaData, sa.Table, sa.Table]
) -> None:
    _, owner, pet = schema
    with live_engine.begin() as conn:
        owner_id = conn.execute(
            owner.insert().values(name="Ada").returning(owner.c.id)
        ).scalar_one()
        conn.execute(
            pet.insert(),
            [{"owner_id": owner_id, "name": n} for n in ("Rex", "Tom", "Kiki")],
        )
    with live_engine.begin() as conn:
        conn.execute(pet.update().where(pet.c.name == "Rex").values(visits=pet.c.visits + 1))
        conn.execute(pet.delete().where(pet.c.name == "Tom"))
    with live_engine.connect() as conn:
        rows = conn.execute(sa.select(pet.c.name, pet.c.visits).order_by(pet.c.name)).all()
    assert rows == [("Kiki", 0), ("Rex", 1)]

    with live_engine.connect() as conn, pytest.raises(sa_exc.IntegrityError):
        conn.execute(pet.insert().values(owner_id=owner_id, name="Rex"))
        conn.commit()

    inspector = sa.inspect(live_engine)
    assert "sys" not in inspector.get_schema_names()
    columns = {c["name"]: c for c in inspector.get_columns(pet.name)}
    assert set(columns) == {"id", "owner_id", "name", "visits"}
    assert isinstance(columns["name"]["type"], sa.String)
    assert inspector.get_pk_constraint(owner.name)["constrained_columns"] == ["id"]
    indexes = {i["name"]: i for i in inspector.get_indexes(pet.name)}
    assert indexes[f"ix_live_pet_owner_{pet.name[9:]}"]["column_names"] == ["owner_id"]
    assert indexes[f"ux_live_pet_name_{pet.name[9:]}"]["unique"]
    fks = inspector.get_foreign_keys(pet.name)
    assert [fk["referred_table"] for fk in fks] == [owner.name]


def test_occ_conflict_is_retryable(
    live_engine: sa.Engine, schema: tuple[sa.MetaData, sa.Table, sa.Table]
) -> None:
    _, owner, _ = schema
    with live_engine.begin() as conn:
        row_id = conn.execute(owner.insert().values(name="x").returning(owner.c.id)).scalar_one()

    first, second = live_engine.connect(), live_engine.connect()
    try:
        first.execute(owner.update().where(owner.c.id == row_id).values(name="first"))
        second.execute(owner.update().where(owner.c.id == row_id).values(name="second"))
        first.commit()
        with pytest.raises(sa_exc.DBAPIError) as info:
            second.commit()
        second.rollback()
    finally:
        first.close()
        second.close()
    orig: Any = info.value.orig
    assert (getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)) == "40001"
    assert "OC00" in str(orig)
    assert retry.is_retryable(info.value)

    def rename(conn: sa.Connection) -> None:
        conn.execute(owner.update().where(owner.c.id == row_id).values(name="retried"))

    retry.run_transaction(live_engine, rename)
    with live_engine.connect() as conn:
        assert conn.execute(sa.select(owner.c.name)).scalar_one() == "retried"
