"""The psycopg 3 driver package: entry points, error objects, engine construction (no database)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.base import AuroraDSQLDialect
from aurora_dsql_sqlalchemy_psycopg import (
    AuroraDSQLDialect_psycopg,
    AuroraDSQLDialect_psycopg_async,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import registry
from sqlalchemy.engine import URL

HOST = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("auroradsql", AuroraDSQLDialect_psycopg),
        ("auroradsql.psycopg", AuroraDSQLDialect_psycopg),
        ("auroradsql.psycopg_async", AuroraDSQLDialect_psycopg_async),
    ],
)
def test_entry_points_resolve(name: str, cls: type) -> None:
    assert registry.load(name) is cls
    assert issubclass(cls, AuroraDSQLDialect)
    assert cls.name == "auroradsql" and cls.driver == "psycopg"


def test_urls_pick_the_dialects() -> None:
    pytest.importorskip(
        "greenlet", reason="SQLAlchemy's asyncio support needs greenlet (sqlalchemy[asyncio])"
    )
    from sqlalchemy.ext.asyncio import create_async_engine

    assert isinstance(
        sa.create_engine(f"auroradsql://admin@{HOST}/postgres").dialect, AuroraDSQLDialect_psycopg
    )
    assert isinstance(
        sa.create_engine(f"auroradsql+psycopg://admin@{HOST}/postgres").dialect,
        AuroraDSQLDialect_psycopg,
    )
    async_engine = create_async_engine(f"auroradsql+psycopg://admin@{HOST}/postgres")
    assert isinstance(async_engine.dialect, AuroraDSQLDialect_psycopg_async)
    assert async_engine.dialect.is_async
    async_engine = create_async_engine(f"auroradsql+psycopg_async://admin@{HOST}/postgres")
    assert isinstance(async_engine.dialect, AuroraDSQLDialect_psycopg_async)


@pytest.mark.parametrize(
    ("sqlstate", "cls", "sa_cls"),
    [
        ("0A000", psycopg.errors.FeatureNotSupported, sa_exc.NotSupportedError),
        ("40001", psycopg.errors.SerializationFailure, sa_exc.OperationalError),
        ("54000", psycopg.errors.ProgramLimitExceeded, sa_exc.OperationalError),
        ("42704", psycopg.errors.UndefinedObject, sa_exc.ProgrammingError),
        ("25P02", psycopg.errors.InFailedSqlTransaction, sa_exc.InternalError),
    ],
)
def test_error_objects_carry_sqlstate(sqlstate: str, cls: Any, sa_cls: Any) -> None:
    for dialect_cls in (AuroraDSQLDialect_psycopg, AuroraDSQLDialect_psycopg_async):
        error = dialect_cls()._server_error(
            sqlstate, "ddl and dml are not supported in the same transaction"
        )
        assert isinstance(error, cls) and isinstance(error, psycopg.Error)
        assert error.sqlstate == sqlstate
        assert str(error) == "ddl and dml are not supported in the same transaction"
        wrapped = sa_exc.DBAPIError.instance("CREATE INDEX ASYNC ...", None, error, psycopg.Error)
        assert isinstance(wrapped, sa_cls)
        assert wrapped.orig is error


def test_seed_engine_constructs_with_its_settings() -> None:
    engine = sa.create_engine(
        URL.create("auroradsql+psycopg", username="admin", host=HOST, database="postgres"),
        connect_args={"sslmode": "verify-full", "sslrootcert": "/etc/ssl/AmazonRootCA1.pem"},
        pool_size=5,
        max_overflow=10,
    )
    assert isinstance(engine.dialect, AuroraDSQLDialect_psycopg)
    assert engine.pool.size() == 5  # type: ignore[attr-defined]
    assert engine.pool._max_overflow == 10  # type: ignore[attr-defined]

    seen: dict[str, Any] = {}

    class Stop(Exception):
        pass

    @sa.event.listens_for(engine, "do_connect")
    def capture(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        seen.update(cparams)
        raise Stop

    with pytest.raises(Stop):
        engine.connect()
    assert seen["host"] == HOST and seen["user"] == "admin" and seen["dbname"] == "postgres"
    assert seen["sslmode"] == "verify-full"
    assert seen["sslrootcert"] == "/etc/ssl/AmazonRootCA1.pem"  # the user's value wins
    engine.dispose()


def test_core_does_not_import_a_driver() -> None:
    code = (
        "import sys, aurora_dsql_sqlalchemy, aurora_dsql_sqlalchemy.base, aurora_dsql_sqlalchemy.compiler, "
        "aurora_dsql_sqlalchemy.execution\n"
        "bad = [m for m in ('psycopg', 'psycopg2', 'aurora_dsql_sqlalchemy_psycopg', "
        "'aurora_dsql_sqlalchemy_psycopg2') if m in sys.modules]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_libpq_transaction_status_names_psycopgs_own_values() -> None:
    """The core's libpq constants are psycopg's: an open, an aborted and an
    idle transaction are told apart as the dialect needs (DDL, refusals)."""
    from aurora_dsql_sqlalchemy.base import libpq_transaction_status

    status = psycopg.pq.TransactionStatus
    assert libpq_transaction_status(status.IDLE) == "idle"
    assert libpq_transaction_status(status.INTRANS) == "open"
    assert libpq_transaction_status(status.ACTIVE) == "open"
    assert libpq_transaction_status(status.INERROR) == "failed"
