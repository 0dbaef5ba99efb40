"""IAM auth tokens: token kind, host names and regions, signing, caching.

Tokens are signed for real by botocore, with fake credentials: signing is a
local computation, no network is involved.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aurora_dsql_sqlalchemy.auth import (
    DSQLHost,
    IAMTokenProvider,
    is_dsql_host,
    looks_like_dsql_host,
    parse_host,
    region_from_host,
    token_action,
    token_host,
)
from aurora_dsql_sqlalchemy.errors import DSQLAuthenticationError
from sqlalchemy import create_engine
from sqlalchemy import exc as sa_exc

HOST = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture(autouse=True)
def hermetic_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials in the environment, no config files, no instance metadata."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def parse_token(token: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit("https://" + token)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return parts.netloc, query


def assert_token(token: str, host: str, action: str, region: str, expires: int) -> dict[str, str]:
    """A DSQL token is '<host>/?Action=...&X-Amz-...': a SigV4 presigned URL without scheme."""
    assert token.startswith(f"{host}/?Action={action}&")
    netloc, query = parse_token(token)
    assert netloc == host
    assert query["Action"] == action
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    key, day, signed_region, service, terminator = query["X-Amz-Credential"].split("/")
    assert (signed_region, service, terminator) == (region, "dsql", "aws4_request")
    assert len(day) == 8 and day.isdigit()
    assert query["X-Amz-Expires"] == str(expires)
    assert query["X-Amz-SignedHeaders"] == "host"
    signature = query["X-Amz-Signature"]
    assert len(signature) == 64 and all(c in "0123456789abcdef" for c in signature)
    assert SECRET_KEY not in token
    query["_key"] = key
    return query


# -- token kind ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "action"),
    [
        ("admin", "DbConnectAdmin"),
        ("app", "DbConnect"),
        ("app_admin", "DbConnect"),
        ("Admin", "DbConnect"),  # role names are case-sensitive: only "admin" is the admin
        (None, "DbConnect"),
    ],
)
def test_token_kind_per_user(user: str | None, action: str) -> None:
    assert token_action(user) == action


# -- host names and regions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "cluster", "region"),
    [
        (HOST, "abcdefghijklmnopqrstuvwxyz", "us-east-1"),
        ("abc123.dsql.eu-west-2.on.aws", "abc123", "eu-west-2"),
        ("abc123.dsql.ap-southeast-4.on.aws", "abc123", "ap-southeast-4"),
        ("abc123.dsql.us-gov-west-1.on.aws", "abc123", "us-gov-west-1"),
        ("abc123.dsql-fips.us-east-2.on.aws", "abc123", "us-east-2"),
        ("abc123.dsql-fnh4.us-east-1.on.aws", "abc123", "us-east-1"),  # PrivateLink
        ("ABC123.DSQL.US-WEST-2.ON.AWS", "abc123", "us-west-2"),
        ("abc123.dsql.eu-central-1.on.aws.", "abc123", "eu-central-1"),  # trailing dot
        ("  abc123.dsql.ca-central-1.on.aws ", "abc123", "ca-central-1"),
    ],
)
def test_dsql_host_forms(host: str, cluster: str, region: str) -> None:
    assert is_dsql_host(host)
    parsed = parse_host(host)
    assert parsed == DSQLHost(host=host.strip().rstrip("."), cluster_id=cluster, region=region)
    assert region_from_host(host) == region


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "localhost",
        "127.0.0.1",
        "::1",
        "/tmp/pg-socket",
        "db.example.com",
        "dsql.us-east-1.api.aws",  # the control-plane endpoint, not a cluster
        "abc.dsql.us-east-1.amazonaws.com",
        "abc.dsql.useast1.on.aws",  # malformed region
        "abc.dsql.on.aws",  # no region
        "abc.rds.us-east-1.on.aws",
        "abc_def.dsql.us-east-1.on.aws",  # cluster ids are alphanumeric
        "x.abc.dsql.us-east-1.on.aws",  # extra label
    ],
)
def test_not_dsql_hosts(host: str | None) -> None:
    assert not is_dsql_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "abc.dsql.useast1.on.aws",
        "abc.dsql.on.aws",
        "abc_def.dsql.us-east-1.on.aws",
        "localhost",
        "",
    ],
)
def test_invalid_host_gives_a_clear_error(host: str) -> None:
    with pytest.raises(sa_exc.ArgumentError) as info:
        region_from_host(host)
    message = str(info.value)
    assert repr(host) in message
    assert "<cluster-id>.dsql.<region>.on.aws" in message
    assert "region=" in message


def test_looks_like_dsql_host() -> None:
    assert looks_like_dsql_host("abc.dsql.useast1.on.aws")
    assert looks_like_dsql_host(HOST)
    assert not looks_like_dsql_host("db.example.com")
    assert not looks_like_dsql_host("/tmp/socket")
    assert not looks_like_dsql_host(None)


def test_token_host_for_unix_sockets() -> None:
    assert token_host(HOST) == HOST
    assert token_host(HOST + ".") == HOST
    assert token_host("/tmp/pg") == "localhost"
    assert token_host(None) == "localhost"


# -- signing ---------------------------------------------------------------------------


def test_admin_and_user_tokens_are_real_sigv4_presigned_urls() -> None:
    provider = IAMTokenProvider()
    admin = assert_token(provider.token(HOST, "admin"), HOST, "DbConnectAdmin", "us-east-1", 900)
    user = assert_token(provider.token(HOST, "app"), HOST, "DbConnect", "us-east-1", 900)
    assert admin["_key"] == user["_key"] == ACCESS_KEY
    assert "X-Amz-Security-Token" not in admin


def test_region_override_and_duration() -> None:
    provider = IAMTokenProvider(region="eu-west-1", token_duration=3600)
    assert_token(provider.token(HOST, "admin"), HOST, "DbConnectAdmin", "eu-west-1", 3600)


def test_session_token_is_included(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLESESSIONTOKEN")
    token = IAMTokenProvider().token(HOST, "app")
    _, query = parse_token(token)
    assert query["X-Amz-Security-Token"] == "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"


@pytest.mark.parametrize("duration", [0, -5, 604_801])
def test_token_duration_is_validated(duration: int) -> None:
    with pytest.raises(sa_exc.ArgumentError, match="between 1 and 604800"):
        IAMTokenProvider(token_duration=duration)


def test_profile_is_selectable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[default]\naws_access_key_id = AKIADEFAULTEXAMPLE01\naws_secret_access_key = s1\n"
        "[reporting]\naws_access_key_id = AKIAREPORTINGEXAMPL\naws_secret_access_key = s2\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    default = IAMTokenProvider().token(HOST, "app")
    chosen = IAMTokenProvider(profile="reporting").token(HOST, "app")
    assert parse_token(default)[1]["X-Amz-Credential"].startswith("AKIADEFAULTEXAMPLE01/")
    assert parse_token(chosen)[1]["X-Amz-Credential"].startswith("AKIAREPORTINGEXAMPL/")
    described = IAMTokenProvider(profile="reporting").describe_identity(HOST, "app")
    assert "'reporting'" in described and "AKIA...AMPL" in described
    assert "shared credentials file" in described


def test_unknown_profile_names_it_and_the_profiles_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text("[reporting]\naws_access_key_id = AKIAREPORTINGEXAMPL\naws_secret_access_key = s2\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    engine = create_engine(f"auroradsql://app@{HOST}/postgres?profile=reportng")
    with pytest.raises(DSQLAuthenticationError) as info:
        engine.connect()  # signing fails before any network connection is tried
    message = str(info.value)
    assert "AWS profile 'reportng' (the profile option) is not configured" in message
    assert str(credentials) in message and "Profiles found there: reporting." in message
    assert "pass profile=" not in message  # the user did pass one


def test_unknown_profile_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "nope")
    with pytest.raises(DSQLAuthenticationError) as info:
        IAMTokenProvider().token(HOST, "app")
    message = str(info.value)
    assert "AWS profile 'nope' (from AWS_PROFILE) is not configured" in message
    assert "Profiles found there: none." in message


def test_missing_credentials_say_what_to_configure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(DSQLAuthenticationError) as info:
        IAMTokenProvider().token(HOST, "admin")
    message = str(info.value)
    assert "DbConnectAdmin" in message and HOST in message and "us-east-1" in message
    assert "aws sso login" in message or "aws configure" in message


def test_region_needed_for_other_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(sa_exc.ArgumentError, match="region="):
        IAMTokenProvider().token("proxy.internal", "admin")
    monkeypatch.setenv("AWS_REGION", "sa-east-1")
    token = IAMTokenProvider().token("proxy.internal", "admin")
    assert_token(token, "proxy.internal", "DbConnectAdmin", "sa-east-1", 900)


# -- caching ---------------------------------------------------------------------------


def test_tokens_are_reused_until_shortly_before_expiry() -> None:
    clock = FakeClock()
    provider = IAMTokenProvider(token_duration=900, clock=clock)
    first = provider.token(HOST, "admin")
    for _ in range(50):  # a pool refilling 50 connections
        assert provider.token(HOST, "admin") == first
    assert provider.signings == 1
    clock.now += 900 - 60 - 1  # default margin: 60 s before expiry
    assert provider.token(HOST, "admin") == first
    assert provider.signings == 1
    clock.now += 1
    provider.token(HOST, "admin")
    assert provider.signings == 2


def test_short_lifetimes_keep_a_proportional_margin() -> None:
    clock = FakeClock()
    provider = IAMTokenProvider(token_duration=10, clock=clock)
    provider.token(HOST, "app")
    clock.now += 7.9  # margin: a fifth of 10 s
    provider.token(HOST, "app")
    assert provider.signings == 1
    clock.now += 0.2
    provider.token(HOST, "app")
    assert provider.signings == 2


def test_cache_is_per_action_host_and_region() -> None:
    clock = FakeClock()
    provider = IAMTokenProvider(clock=clock)
    provider.token(HOST, "admin")
    provider.token(HOST, "app")
    provider.token(HOST, "reporting")  # same DbConnect token: it names no user
    assert provider.signings == 2
    provider.token("other1.dsql.us-east-1.on.aws", "app")
    provider.token(HOST, "app", region="us-west-2")
    assert provider.signings == 4


def test_invalidate_only_the_refused_token() -> None:
    provider = IAMTokenProvider(clock=FakeClock())
    admin = provider.token(HOST, "admin")
    provider.token(HOST, "app")
    provider.invalidate("not-a-token-we-gave")
    provider.token(HOST, "admin")
    assert provider.signings == 2
    provider.invalidate(admin)
    provider.token(HOST, "admin")
    provider.token(HOST, "app")
    assert provider.signings == 3
    provider.invalidate()
    provider.token(HOST, "app")
    assert provider.signings == 4


def test_concurrent_refill_signs_once() -> None:
    provider = IAMTokenProvider(clock=FakeClock())
    barrier = threading.Barrier(8)
    tokens: list[str] = []

    def connect() -> None:
        barrier.wait()
        tokens.append(provider.token(HOST, "admin"))

    threads = [threading.Thread(target=connect) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert provider.signings == 1
    assert len(set(tokens)) == 1


# -- secrets -----------------------------------------------------------------------------


def test_tokens_never_reach_logs_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    provider = IAMTokenProvider(clock=FakeClock())
    token = provider.token(HOST, "admin")
    signature = parse_token(token)[1]["X-Amz-Signature"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert signature not in logged
    assert token not in repr(provider)
    assert token not in repr(provider._cache)
    described = provider.describe_identity(HOST, "admin")
    assert signature not in described and SECRET_KEY not in described
    assert "AKIA...MPLE" in described and "environment variables" in described
