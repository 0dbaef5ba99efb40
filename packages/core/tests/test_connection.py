"""Connect arguments, TLS defaults, pool defaults and disconnect detection.

No database: these check what the dialect hands to the driver and to the pool
(connecting is covered by integration/test_auth.py).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.auth import IAMTokenProvider
from aurora_dsql_sqlalchemy.engine import (
    create_async_dsql_engine,
    create_dsql_engine,
    dsql_url,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import registry
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

HOST = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"


def _installed(driver: str) -> bool:
    """The driver and its auroradsql dialect distribution are installed (each
    test environment installs one driver)."""
    try:
        importlib.import_module(driver)
        registry.load(f"auroradsql.{driver}")
    except (ImportError, sa_exc.NoSuchModuleError):
        return False
    return True


INSTALLED = tuple(d for d in ("psycopg", "psycopg2") if _installed(d))
DRIVERS = [
    pytest.param(d, marks=pytest.mark.skipif(d not in INSTALLED, reason=f"{d} not installed"))
    for d in ("psycopg", "psycopg2")
]
ANY_DRIVER = INSTALLED[0] if INSTALLED else "psycopg"
pytestmark = pytest.mark.skipif(not INSTALLED, reason="no auroradsql driver distribution installed")


@pytest.fixture(autouse=True)
def _no_real_aws(hermetic_aws: None) -> None:
    """Every test here signs with fake credentials (conftest's ``hermetic_aws``)."""


def connect_args(engine: sa.Engine) -> dict[str, Any]:
    _, cparams = engine.dialect.create_connect_args(engine.url)
    cparams.pop("context", None)  # psycopg's adapters map
    return dict(cparams)


@pytest.mark.parametrize("driver", DRIVERS)
def test_url_alone_gives_tls_and_iam(driver: str) -> None:
    engine = sa.create_engine(f"auroradsql+{driver}://admin@{HOST}/postgres")
    assert connect_args(engine) == {
        "host": HOST,
        "dbname": "postgres",
        "user": "admin",
        "sslmode": "verify-full",
        "sslrootcert": "system",
    }
    dialect: Any = engine.dialect
    assert dialect.host_is_dsql and dialect.iam_auth
    assert isinstance(dialect.token_provider, IAMTokenProvider)
    assert dialect.connector.token_region == "us-east-1"


@pytest.mark.parametrize("driver", DRIVERS)
def test_own_query_options_never_reach_the_driver(driver: str) -> None:
    engine = sa.create_engine(
        f"auroradsql+{driver}://app@{HOST}/postgres"
        "?region=eu-west-1&profile=reporting&token_duration=120&iam_auth=true&application_name=x"
    )
    args = connect_args(engine)
    for key in ("region", "profile", "token_duration", "iam_auth"):
        assert key not in args
    assert args["application_name"] == "x"
    provider = engine.dialect.token_provider  # type: ignore[attr-defined]
    assert (provider.region, provider.profile, provider.token_duration) == (
        "eu-west-1",
        "reporting",
        120,
    )


def test_keywords_win_over_url_query() -> None:
    engine = sa.create_engine(
        f"auroradsql+{ANY_DRIVER}://app@{HOST}/postgres?region=eu-west-1&token_duration=120",
        region="ap-south-1",
        token_duration=60,
        profile="ops",
    )
    dialect: Any = engine.dialect
    connect_args(engine)
    assert dialect.connector.token_region == "ap-south-1"
    assert dialect.token_provider.token_duration == 60
    assert dialect.token_provider.profile == "ops"


def test_user_password_wins_and_stays_hidden(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    engine = sa.create_engine(f"auroradsql+{ANY_DRIVER}://admin:s3cret-token@{HOST}/postgres")
    args = connect_args(engine)
    assert args["password"] == "s3cret-token"
    assert engine.dialect.token_provider is None  # type: ignore[attr-defined]
    assert "s3cret-token" not in str(engine.url)
    assert "s3cret-token" not in repr(engine)
    assert "s3cret-token" not in caplog.text


@pytest.mark.parametrize("mode", ["require", "verify-ca", "prefer"])
def test_explicit_sslmode_is_kept(mode: str) -> None:
    engine = sa.create_engine(f"auroradsql+{ANY_DRIVER}://admin@{HOST}/postgres?sslmode={mode}")
    args = connect_args(engine)
    assert args["sslmode"] == mode
    assert ("sslrootcert" in args) == (mode == "verify-ca")


def test_explicit_root_certificate_is_kept() -> None:
    engine = sa.create_engine(
        f"auroradsql+{ANY_DRIVER}://admin@{HOST}/postgres?sslrootcert=/etc/ca.pem"
    )
    args = connect_args(engine)
    assert (args["sslmode"], args["sslrootcert"]) == ("verify-full", "/etc/ca.pem")


@pytest.mark.parametrize("driver", DRIVERS)
def test_sslmode_disable_is_refused(driver: str) -> None:
    with pytest.raises(sa_exc.ArgumentError, match="TLS connections only"):
        sa.create_engine(f"auroradsql+{driver}://admin@{HOST}/postgres?sslmode=disable")


def test_sslmode_disable_in_connect_args_is_refused() -> None:
    engine = sa.create_engine(
        f"auroradsql+{ANY_DRIVER}://admin@{HOST}/postgres", connect_args={"sslmode": "disable"}
    )
    with pytest.raises(sa_exc.ArgumentError, match="TLS connections only"):
        engine.connect()


@pytest.mark.parametrize("driver", DRIVERS)
def test_libpq_version_is_read_from_the_driver(driver: str) -> None:
    engine = sa.create_engine(f"auroradsql+{driver}://admin@{HOST}/postgres")
    module: Any = importlib.import_module(driver)
    expected = module.extensions.libpq_version() if driver == "psycopg2" else module.pq.version()
    assert engine.dialect.connector.libpq_version() == expected  # type: ignore[attr-defined]


def test_old_libpq_gets_told_what_to_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = sa.create_engine(f"auroradsql+{ANY_DRIVER}://admin@{HOST}/postgres")
    monkeypatch.setattr(engine.dialect.connector, "libpq_version", lambda: 150004)  # type: ignore[attr-defined]
    with pytest.raises(sa_exc.ArgumentError) as info:
        engine.dialect.create_connect_args(engine.url)
    message = str(info.value)
    assert "libpq 15.4" in message
    assert "sslrootcert=/path/to/AmazonRootCA1.pem" in message
    assert "AmazonRootCA1.pem" in message and "sslmode=require" in message
    # with a root certificate given, an old libpq is fine
    url = engine.url.update_query_dict({"sslrootcert": "/etc/AmazonRootCA1.pem"})
    _, cparams = engine.dialect.create_connect_args(url)
    assert cparams["sslrootcert"] == "/etc/AmazonRootCA1.pem"


@pytest.mark.parametrize("host", ["localhost", "db.example.com"])
def test_other_hosts_are_plain_postgresql(host: str) -> None:
    engine = sa.create_engine(f"auroradsql+{ANY_DRIVER}://app@{host}/postgres")
    args = connect_args(engine)
    assert "sslmode" not in args and "password" not in args
    dialect: Any = engine.dialect
    assert not dialect.host_is_dsql and not dialect.iam_auth and dialect.token_provider is None


def test_malformed_dsql_host_is_an_error() -> None:
    with pytest.raises(sa_exc.ArgumentError, match="not an Aurora DSQL endpoint"):
        sa.create_engine(f"auroradsql+{ANY_DRIVER}://admin@abc.dsql.useast1.on.aws/postgres")


def test_iam_auth_can_be_forced_for_another_host() -> None:
    engine = sa.create_engine(
        f"auroradsql+{ANY_DRIVER}://app@/postgres?host=/tmp/sock", iam_auth=True, region="us-east-1"
    )
    args = connect_args(engine)
    dialect: Any = engine.dialect
    assert dialect.iam_auth and dialect.token_provider is not None
    assert "sslmode" not in args  # TLS defaults are for DSQL endpoints only


def test_forced_iam_auth_needs_a_region() -> None:
    with pytest.raises(sa_exc.ArgumentError, match="region="):
        sa.create_engine(f"auroradsql+{ANY_DRIVER}://app@proxy.internal/postgres", iam_auth=True)


def test_iam_auth_can_be_turned_off() -> None:
    engine = sa.create_engine(f"auroradsql+{ANY_DRIVER}://admin@{HOST}/postgres?iam_auth=false")
    connect_args(engine)
    assert engine.dialect.token_provider is None  # type: ignore[attr-defined]


def test_bad_token_duration() -> None:
    with pytest.raises(sa_exc.ArgumentError, match="token_duration"):
        sa.create_engine(f"auroradsql+{ANY_DRIVER}://admin@{HOST}/postgres?token_duration=soon")
    with pytest.raises(sa_exc.ArgumentError, match="604800"):
        sa.create_engine(f"auroradsql+{ANY_DRIVER}://admin@{HOST}/postgres", token_duration=10**7)


# -- pool defaults ---------------------------------------------------------------------


def _recycles_before_dsql_closes(pool: Any) -> bool:
    """Whether the pool gives each connection its own deadline (the dialect's
    checkout check) before DSQL's 60-minute limit."""
    return len(pool.dispatch.checkout) > 0 and len(pool.dispatch.connect) > 0


@pytest.mark.parametrize("driver", DRIVERS)
def test_pool_defaults(driver: str) -> None:
    engine = sa.create_engine(f"auroradsql+{driver}://admin@{HOST}/postgres")
    assert _recycles_before_dsql_closes(engine.pool)
    assert engine.pool._pre_ping is True


def test_user_pool_settings_are_honoured() -> None:
    engine = sa.create_engine(f"auroradsql+{ANY_DRIVER}://admin@{HOST}/postgres", pool_recycle=600)
    assert engine.pool._recycle == 600
    assert not _recycles_before_dsql_closes(engine.pool)  # the user's recycle, not ours
    assert engine.pool._pre_ping is True


def test_explicit_pool_choices_mean_what_sqlalchemy_documents() -> None:
    url = f"auroradsql+{ANY_DRIVER}://admin@{HOST}/postgres"
    engine = sa.create_engine(url, pool_pre_ping=False)
    assert engine.pool._pre_ping is False
    assert _recycles_before_dsql_closes(engine.pool)
    engine = sa.create_engine(url, pool_recycle=-1)
    assert engine.pool._recycle == -1 and not _recycles_before_dsql_closes(engine.pool)
    # a pool class of the user's own gets no defaults
    engine = sa.create_engine(url, poolclass=NullPool)
    assert engine.pool._pre_ping is False


def test_local_postgresql_gets_stock_pool_defaults() -> None:
    engine = sa.create_engine(f"auroradsql+{ANY_DRIVER}://app@localhost/postgres")
    assert engine.pool._pre_ping is False and not _recycles_before_dsql_closes(engine.pool)


def test_recycle_longer_than_dsql_allows_warns() -> None:
    with pytest.warns(sa_exc.SAWarning, match="60|3600"):
        sa.create_engine(f"auroradsql+{ANY_DRIVER}://admin@{HOST}/postgres", pool_recycle=7200)


# -- disconnects ----------------------------------------------------------------------------


def _dialect(driver: str) -> Any:
    return sa.create_engine(f"auroradsql+{driver}://admin@{HOST}/postgres").dialect


PSYCOPG_DISCONNECTS = [
    ("OperationalError", "consuming input failed: server closed the connection unexpectedly"),
    ("OperationalError", "the connection is lost"),
    ("OperationalError", "sending query failed: SSL SYSCALL error: EOF detected"),
    ("errors.AdminShutdown", "terminating connection due to administrator command"),
    ("errors.ConnectionFailure", "connection failure"),
    ("OperationalError", "connection is closed"),
]
PSYCOPG2_DISCONNECTS = [
    ("OperationalError", "server closed the connection unexpectedly"),
    ("OperationalError", "SSL SYSCALL error: EOF detected"),
    ("InterfaceError", "connection already closed"),
    ("OperationalError", "could not receive data from server: Connection reset by peer"),
]


def _error(driver: str, cls_path: str, message: str) -> Exception:
    target: Any = importlib.import_module(driver)
    for part in cls_path.split("."):
        target = getattr(target, part)
    return target(message)  # type: ignore[no-any-return]


@pytest.mark.parametrize("driver", DRIVERS)
def test_disconnects(driver: str) -> None:
    dialect = _dialect(driver)
    cases = PSYCOPG_DISCONNECTS if driver == "psycopg" else PSYCOPG2_DISCONNECTS
    for cls_path, message in cases:
        assert dialect.is_disconnect(_error(driver, cls_path, message), None, None), message


@pytest.mark.parametrize("driver", DRIVERS)
def test_not_disconnects(driver: str) -> None:
    dialect = _dialect(driver)
    auth = _error(
        driver,
        "OperationalError",
        'connection to server at "x" failed: FATAL:  unable to accept connection, access denied',
    )
    assert not dialect.is_disconnect(auth, None, None)
    occ = _error(driver, "OperationalError", "change conflicts with another transaction (OC000)")
    assert not dialect.is_disconnect(occ, None, None)
    assert not dialect.is_disconnect(ValueError("connection is closed"), None, None)


# -- create_dsql_engine -----------------------------------------------------------------------


def test_create_dsql_engine_matches_the_url_form() -> None:
    engine = create_dsql_engine(host=HOST, user="admin", driver=ANY_DRIVER)
    by_url = sa.create_engine(f"auroradsql+{ANY_DRIVER}://admin@{HOST}/postgres")
    assert str(engine.url) == str(by_url.url)
    assert connect_args(engine) == connect_args(by_url)
    assert _recycles_before_dsql_closes(engine.pool)


def test_create_dsql_engine_options() -> None:
    engine = create_dsql_engine(
        "abc123",
        "app",
        region="eu-west-1",
        token_duration_secs=300,
        driver=ANY_DRIVER,
        pool_size=3,
        echo=False,
    )
    assert engine.url.host == "abc123.dsql.eu-west-1.on.aws"
    assert engine.url.drivername == f"auroradsql+{ANY_DRIVER}"
    assert engine.pool.size() == 3
    provider = engine.dialect.token_provider  # type: ignore[attr-defined]
    assert (provider.region, provider.token_duration) == ("eu-west-1", 300)


def test_create_dsql_engine_errors() -> None:
    with pytest.raises(sa_exc.ArgumentError, match="region="):
        create_dsql_engine("abc123")
    with pytest.raises(sa_exc.ArgumentError, match="driver"):
        create_dsql_engine(HOST, driver="asyncpg")


@pytest.mark.skipif("psycopg" not in INSTALLED, reason="asyncio needs psycopg 3")
def test_create_async_dsql_engine() -> None:
    engine = create_async_dsql_engine(HOST, "admin")
    assert engine.url.drivername == "auroradsql+psycopg_async"
    assert _recycles_before_dsql_closes(engine.sync_engine.pool)
    assert engine.sync_engine.dialect.token_provider is not None  # type: ignore[attr-defined]


def test_dsql_url() -> None:
    url = dsql_url(HOST, "app", port=5432, driver=ANY_DRIVER)
    assert url == make_url(f"auroradsql+{ANY_DRIVER}://app@{HOST}:5432/postgres")


def test_create_dsql_engine_takes_the_connector_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.credentials import CredentialProvider, Credentials

    class Vault(CredentialProvider):  # type: ignore[misc]
        METHOD = "vault"

        def load(self) -> Credentials:
            return Credentials("AKIAVAULTEXAMPLE0001", "vault-secret", method=self.METHOD)

    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    engine = create_dsql_engine(
        "abc123", dbname="postgres", custom_credentials_provider=Vault(), driver=ANY_DRIVER
    )
    assert engine.url.host == "abc123.dsql.eu-north-1.on.aws"  # the configured region
    assert engine.url.database == "postgres"
    token = engine.dialect.token_provider.token(engine.url.host, "admin")  # type: ignore[attr-defined]
    assert "X-Amz-Credential=AKIAVAULTEXAMPLE0001%2F" in token
    assert "%2Feu-north-1%2Fdsql%2F" in token


def test_aws_session_signs_the_tokens() -> None:
    import boto3

    session = boto3.Session(
        aws_access_key_id="AKIASESSIONEXAMPLE01", aws_secret_access_key="session-secret"
    )
    engine = sa.create_engine(f"auroradsql+{ANY_DRIVER}://app@{HOST}/postgres", aws_session=session)
    connect_args(engine)
    token = engine.dialect.token_provider.token(HOST, "app")  # type: ignore[attr-defined]
    assert "X-Amz-Credential=AKIASESSIONEXAMPLE01%2F" in token


@pytest.mark.parametrize("driver", DRIVERS)
def test_auth_failures_are_told_apart(driver: str) -> None:
    dialect = _dialect(driver)
    expired = _error(
        driver,
        "OperationalError",
        'connection to server at "x" failed: FATAL:  unable to accept connection, access denied',
    )
    wrong = _error(driver, "OperationalError", "FATAL:  Wrong user to action mapping")
    transient = _error(driver, "OperationalError", "could not translate host name")
    connector = dialect.connector
    assert connector.is_auth_failure(expired) and connector.is_auth_failure(wrong)
    assert not connector.is_auth_failure(transient)
    assert not connector.is_auth_failure(RuntimeError("access denied"))  # not a driver error
    advice = str(connector.wrong_action_error("admin", wrong))
    assert "DbConnectAdmin" in advice and "every other role" in advice
    assert "generate_db_connect_admin_auth_token" in advice


def test_connect_args_sslmode_drops_the_default_root_certificate() -> None:
    dialect: Any = _dialect(ANY_DRIVER)
    dialect.create_connect_args(make_url(f"auroradsql+{ANY_DRIVER}://admin@{HOST}/postgres"))
    # libpq refuses sslrootcert=system with a non-verifying sslmode
    cparams = {"host": HOST, "sslmode": "require", "sslrootcert": "system"}
    dialect.connector.settle_tls(cparams)
    assert cparams == {"host": HOST, "sslmode": "require"}
    cparams = {"host": HOST, "sslmode": "verify-full", "sslrootcert": "system"}
    dialect.connector.settle_tls(cparams)
    assert cparams["sslrootcert"] == "system"
