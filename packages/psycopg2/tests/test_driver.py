"""The psycopg2 driver package: entry point, error objects, engine construction (no database)."""

from __future__ import annotations

from typing import Any

import psycopg2
import psycopg2.errors
import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.base import AuroraDSQLDialect
from aurora_dsql_sqlalchemy_psycopg2 import AuroraDSQLDialect_psycopg2
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import registry
from sqlalchemy.engine import URL

HOST = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"


def test_entry_point_resolves() -> None:
    assert registry.load("auroradsql.psycopg2") is AuroraDSQLDialect_psycopg2
    assert issubclass(AuroraDSQLDialect_psycopg2, AuroraDSQLDialect)
    assert (
        AuroraDSQLDialect_psycopg2.name == "auroradsql"
        and AuroraDSQLDialect_psycopg2.driver == "psycopg2"
    )
    engine = sa.create_engine(f"auroradsql+psycopg2://admin@{HOST}/postgres")
    assert isinstance(engine.dialect, AuroraDSQLDialect_psycopg2)


@pytest.mark.parametrize(
    ("sqlstate", "cls", "sa_cls"),
    [
        ("0A000", psycopg2.errors.FeatureNotSupported, sa_exc.NotSupportedError),
        ("40001", psycopg2.errors.SerializationFailure, sa_exc.OperationalError),
        ("54000", psycopg2.errors.ProgramLimitExceeded, sa_exc.OperationalError),
        ("42704", psycopg2.errors.UndefinedObject, sa_exc.ProgrammingError),
        ("25P02", psycopg2.errors.InFailedSqlTransaction, sa_exc.InternalError),
    ],
)
def test_error_objects_carry_pgcode(sqlstate: str, cls: Any, sa_cls: Any) -> None:
    message = "ddl and dml are not supported in the same transaction"
    error: Any = AuroraDSQLDialect_psycopg2()._server_error(sqlstate, message)
    assert isinstance(error, cls) and isinstance(error, psycopg2.Error)
    assert error.pgcode == sqlstate
    assert error.pgerror == message
    assert str(error) == message
    wrapped = sa_exc.DBAPIError.instance("CREATE INDEX ASYNC ...", None, error, psycopg2.Error)
    assert isinstance(wrapped, sa_cls)
    assert wrapped.orig is error


def test_seed_engine_constructs_with_its_settings() -> None:
    engine = sa.create_engine(
        URL.create("auroradsql+psycopg2", username="admin", host=HOST, database="postgres"),
        connect_args={"sslmode": "verify-full", "sslrootcert": "/etc/ssl/AmazonRootCA1.pem"},
        pool_size=5,
        max_overflow=10,
    )
    assert isinstance(engine.dialect, AuroraDSQLDialect_psycopg2)
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
    assert seen["sslrootcert"] == "/etc/ssl/AmazonRootCA1.pem"
    engine.dispose()


def test_auroradsql_options_work_with_only_this_driver() -> None:
    """``auroradsql_*`` options resolve the bare dialect name ``auroradsql``, which only the
    psycopg distribution's entry point provides; with psycopg2 alone the core registers it."""
    from sqlalchemy.schema import CreateIndex

    engine = sa.create_engine(f"auroradsql+psycopg2://admin@{HOST}/postgres")
    t = sa.Table("t", sa.MetaData(), sa.Column("a", sa.Integer), sa.Column("b", sa.Integer))
    index = sa.Index("ix_t_a", t.c.a, auroradsql_include=["b"], auroradsql_nulls_not_distinct=True)
    assert str(CreateIndex(index).compile(engine)) == (
        "CREATE INDEX ASYNC ix_t_a ON t (a) INCLUDE (b) NULLS NOT DISTINCT"
    )


def test_libpq_transaction_status_names_psycopg2s_own_values() -> None:
    """The core's libpq constants are psycopg2's: an open, an aborted and an
    idle transaction are told apart as the dialect needs (DDL, refusals)."""
    from aurora_dsql_sqlalchemy.base import libpq_transaction_status
    from psycopg2 import extensions

    assert libpq_transaction_status(extensions.TRANSACTION_STATUS_IDLE) == "idle"
    assert libpq_transaction_status(extensions.TRANSACTION_STATUS_INTRANS) == "open"
    assert libpq_transaction_status(extensions.TRANSACTION_STATUS_ACTIVE) == "open"
    assert libpq_transaction_status(extensions.TRANSACTION_STATUS_INERROR) == "failed"
