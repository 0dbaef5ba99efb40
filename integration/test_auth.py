"""IAM tokens reach the driver, refused tokens stop, dropped connections heal.

The embedded server trusts unix-socket connections, so each test gets a role
of its own with a ``local all <role> scram-sha-256`` line at the top of
pg_hba.conf: for that role the server really checks the password, and its
password is set to the IAM token the dialect signs (``iam_auth=True`` forces
token auth for this non-DSQL host).  Tokens are signed by botocore with fake
credentials; signing needs no network.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy import rules
from aurora_dsql_sqlalchemy.auth import IAMTokenProvider
from aurora_dsql_sqlalchemy.errors import DSQLAuthenticationError
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

REGION = "us-east-1"
KEY_A = "AKIAIOSFODNN7EXAMPLE"
KEY_B = "AKIAI44QH8DHBEXAMPLE"


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_A)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def admin(pg_url: URL) -> Iterator[sa.Engine]:
    eng = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    yield eng
    eng.dispose()


def run_raw(admin: sa.Engine, sql: str) -> Any:
    """Run SQL below SQLAlchemy's statement logging (it carries passwords)."""
    raw = admin.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(sql)
        row = cursor.fetchone() if cursor.description else None
        cursor.close()
        raw.commit()
        return row
    finally:
        raw.close()


def set_password(admin: sa.Engine, role: str, password: str) -> None:
    run_raw(admin, f"ALTER ROLE \"{role}\" PASSWORD '{password.replace(chr(39), chr(39) * 2)}'")


@pytest.fixture
def iam_role(admin: sa.Engine) -> Iterator[str]:
    """A login role whose password the server checks (scram-sha-256)."""
    role = f"iam_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        hba = Path(conn.exec_driver_sql("SHOW hba_file").scalar_one())
        if not hba.is_file():
            pytest.skip(f"password checks need the server's pg_hba.conf on this machine ({hba})")
        original = hba.read_text()
        hba.write_text(f"local all {role} scram-sha-256\n{original}")
        conn.exec_driver_sql("SELECT pg_reload_conf()")
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN SUPERUSER')
    try:
        yield role
    finally:
        with admin.connect() as conn:
            hba.write_text(original)
            conn.exec_driver_sql("SELECT pg_reload_conf()")
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                f"WHERE usename = '{role}'"
            )
            # local mode may have created its sys schema as this role: keep it
            conn.exec_driver_sql(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER')
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')


def iam_engine(dsql_url: URL, role: str, **kw: Any) -> sa.Engine:
    return sa.create_engine(
        dsql_url.set(username=role, password=None), iam_auth=True, region=REGION, **kw
    )


def provider_of(engine: sa.Engine) -> IAMTokenProvider:
    provider = engine.dialect.token_provider  # type: ignore[attr-defined]
    provider = getattr(provider, "provider", provider)  # the asyncio dialect wraps it
    assert isinstance(provider, IAMTokenProvider)
    return provider


def socket_host(url: URL) -> str | None:
    return url.host or url.query.get("host")  # type: ignore[return-value]


def test_token_is_the_password(
    admin: sa.Engine, iam_role: str, dsql_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    engine = iam_engine(dsql_url, iam_role, pool_size=5)
    provider = provider_of(engine)
    token = provider.token(socket_host(dsql_url), iam_role, REGION)
    assert token.startswith("localhost/?Action=DbConnect&")
    set_password(admin, iam_role, token)

    caplog.set_level(logging.DEBUG)
    try:
        conns = [engine.connect() for _ in range(5)]  # a pool filling up
        assert conns[0].exec_driver_sql("SELECT current_user").scalar_one() == iam_role
        reprs = [repr(c.connection.dbapi_connection) for c in conns]
        for conn in conns:
            conn.close()
        assert provider.signings == 1  # five connections, one signature
        signature = token.rsplit("X-Amz-Signature=", 1)[1]
        for text in (caplog.text, str(engine.url), repr(engine), repr(engine.url), *reprs):
            assert token not in text and signature not in text
    finally:
        engine.dispose()


def test_refused_token_stops_after_one_regeneration(
    admin: sa.Engine, iam_role: str, dsql_url: URL
) -> None:
    set_password(admin, iam_role, "not-the-token")
    engine = iam_engine(dsql_url, iam_role)
    provider = provider_of(engine)
    started = time.monotonic()
    try:
        with pytest.raises(DSQLAuthenticationError) as info:
            engine.connect()
    finally:
        engine.dispose()
    assert time.monotonic() - started < 10
    assert provider.signings == 2  # the cached token, then one fresh one
    message = str(info.value)
    assert iam_role in message and "DbConnect" in message
    assert "AKIA...MPLE" in message and "environment variables" in message
    assert REGION in message and "X-Amz-Signature" not in message
    assert "password authentication failed" in message
    assert "X-Amz" not in repr(info.value.__cause__)


def test_regenerated_token_after_credential_rotation_connects(
    admin: sa.Engine, iam_role: str, dsql_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.auth

    # freeze SigV4's clock so the token signed with the new key is predictable
    frozen = datetime.datetime(2026, 11, 27, 12, 0, 0)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: frozen)
    host = socket_host(dsql_url)
    engine = iam_engine(dsql_url, iam_role)
    provider = provider_of(engine)
    old = provider.token(host, iam_role, REGION)  # cached, signed with key A

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_B)  # the credentials rotate
    new = IAMTokenProvider(region=REGION).token(host, iam_role)
    assert new != old
    set_password(admin, iam_role, new)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT current_user").scalar_one() == iam_role
    finally:
        engine.dispose()
    assert provider.signings == 2


def test_user_password_wins(admin: sa.Engine, iam_role: str, dsql_url: URL) -> None:
    set_password(admin, iam_role, "plain-Passw0rd")
    engine = sa.create_engine(
        dsql_url.set(username=iam_role, password="plain-Passw0rd"), iam_auth=True, region=REGION
    )
    try:
        assert engine.dialect.token_provider is None  # type: ignore[attr-defined]
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT current_user").scalar_one() == iam_role
        assert "plain-Passw0rd" not in str(engine.url)
    finally:
        engine.dispose()

    wrong = sa.create_engine(
        dsql_url.set(username=iam_role, password="stale"), iam_auth=True, region=REGION
    )
    try:
        with pytest.raises(DSQLAuthenticationError, match="password supplied") as info:
            wrong.connect()
        assert "stale" not in str(info.value).replace(iam_role, "")
    finally:
        wrong.dispose()


def test_async_engine_uses_tokens(
    admin: sa.Engine, iam_role: str, dsql_url: URL, driver: str
) -> None:
    if driver != "psycopg":
        pytest.skip("asyncio is psycopg 3 only")
    from sqlalchemy.ext.asyncio import create_async_engine

    url = dsql_url.set(drivername="auroradsql+psycopg_async", username=iam_role, password=None)
    engine = create_async_engine(url, iam_auth=True, region=REGION)
    provider = provider_of(engine.sync_engine)
    set_password(admin, iam_role, provider.token(socket_host(dsql_url), iam_role, REGION))

    async def main() -> str:
        try:
            async with engine.connect() as conn:
                return (await conn.exec_driver_sql("SELECT current_user")).scalar_one()
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == iam_role


# -- dropped connections and recycling -----------------------------------------------------


def terminate(admin: sa.Engine, application_name: str) -> int:
    with admin.connect() as conn:
        return len(
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                f"WHERE application_name = '{application_name}'"
            ).all()
        )


def backend_of(conn: sa.Connection) -> int:
    """The server process behind a connection (psycopg and psycopg2 both have
    ``info.backend_pid``; ``pg_backend_pid()`` is refused in strict local mode)."""
    return int(conn.connection.driver_connection.info.backend_pid)  # type: ignore[union-attr]


def test_connection_killed_in_the_pool_is_replaced(admin: sa.Engine, dsql_url: URL) -> None:
    app = f"kill_{uuid.uuid4().hex[:8]}"
    # IAM auth makes the engine a DSQL-style one: the pool defaults apply
    engine = sa.create_engine(
        dsql_url, pool_size=2, connect_args={"application_name": app}, iam_auth=True, region=REGION
    )
    try:
        with engine.connect() as conn:
            first = backend_of(conn)
        assert terminate(admin, app) == 1
        with engine.connect() as conn:  # pre-ping (a dialect default) finds it dead
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
            assert backend_of(conn) != first
    finally:
        engine.dispose()


def test_connection_killed_mid_use_is_a_disconnect(admin: sa.Engine, dsql_url: URL) -> None:
    app = f"kill_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(dsql_url, pool_size=2, connect_args={"application_name": app})
    try:
        conn = engine.connect()
        conn.exec_driver_sql("SELECT 1")
        first = backend_of(conn)
        assert terminate(admin, app) == 1
        with pytest.raises(sa_exc.DBAPIError) as info:
            conn.exec_driver_sql("SELECT 1")
        assert info.value.connection_invalidated  # is_disconnect recognised it
        conn.close()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
            assert backend_of(conn) != first
    finally:
        engine.dispose()


def test_pool_recycle_is_honoured(dsql_url: URL) -> None:
    engine = sa.create_engine(dsql_url, pool_recycle=1)
    try:
        assert engine.pool._recycle == 1
        with engine.connect() as conn:
            first = backend_of(conn)
        time.sleep(1.1)
        with engine.connect() as conn:
            assert backend_of(conn) != first
    finally:
        engine.dispose()


def test_pool_defaults_are_for_dsql_only(dsql_url: URL) -> None:
    local = sa.create_engine(dsql_url)
    assert local.pool._recycle == -1 and not local.pool._pre_ping  # no extra round trip locally
    local.dispose()


def test_default_recycle_is_jittered_per_connection(dsql_url: URL) -> None:
    engine = sa.create_engine(dsql_url, pool_size=3, iam_auth=True, region=REGION)
    try:
        assert engine.pool._recycle == -1  # SQLAlchemy's own recycle stays off: per-connection deadlines
        conns = [engine.connect() for _ in range(3)]
        now = time.time()
        deadlines = [c.connection._connection_record.info["auroradsql_recycle_at"] for c in conns]
        first = backend_of(conns[0])
        for c in conns:
            c.close()
        for deadline in deadlines:
            assert (
                now + 0.89 * rules.POOL_RECYCLE_SECONDS
                <= deadline
                <= now + rules.POOL_RECYCLE_SECONDS
            )
        assert len(set(deadlines)) == 3  # connections made together do not expire together
        # a connection past its own deadline is replaced at checkout
        for record in list(engine.pool._pool.queue):  # type: ignore[attr-defined]
            record.info["auroradsql_recycle_at"] = time.time() - 1
        with engine.connect() as conn:
            assert backend_of(conn) != first
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    finally:
        engine.dispose()
