"""``create_dsql_engine``: an engine from a host and a user, for people coming
from AWS's Aurora DSQL connector.

With AWS's connector you write ``dsql.connect(host=..., user=..., region=...)``
and get a driver connection.  Here the same arguments give a SQLAlchemy
engine, with everything the dialect does for a DSQL URL (IAM token per new
connection, TLS verify-full, pool recycle before the 60-minute limit,
pre-ping)::

    from aurora_dsql_sqlalchemy.engine import create_dsql_engine

    engine = create_dsql_engine(
        host="abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws",
        user="admin",
    )

is the same as::

    engine = create_engine(
        "auroradsql+psycopg://admin@abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws/postgres"
    )

The connector's other arguments are accepted too: ``host`` may be a bare
cluster identifier (the region is then ``region=`` or the configured AWS
region), ``dbname``, ``port``, ``profile``, ``token_duration_secs`` and
``custom_credentials_provider`` (a botocore credential provider, tried before
the standard chain).  Every other keyword goes to
:func:`sqlalchemy.create_engine` (``echo``, ``pool_size``, ``connect_args``,
``local_mode``, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["create_async_dsql_engine", "create_dsql_engine", "dsql_url"]

_SYNC_DRIVERS = ("psycopg", "psycopg2")
_ASYNC_DRIVERS = ("psycopg_async",)


def dsql_url(
    host: str,
    user: str = "admin",
    *,
    region: str | None = None,
    database: str = "postgres",
    port: int | None = None,
    driver: str = "psycopg",
) -> URL:
    """The ``auroradsql+<driver>://`` URL for a cluster.

    ``host`` is the cluster endpoint (``<id>.dsql.<region>.on.aws``), or a bare
    cluster identifier together with ``region``.
    """
    host = host.strip()
    if "." not in host and "/" not in host:
        region = region or _configured_region()
        if not region:
            raise sa_exc.ArgumentError(
                f"host={host!r} looks like a cluster identifier: pass region= as well "
                "(or set AWS_REGION), or the full endpoint '<cluster-id>.dsql.<region>.on.aws'."
            )
        host = f"{host.lower()}.dsql.{region}.on.aws"
    return URL.create(
        f"auroradsql+{driver}",
        username=user,
        host=host,
        port=port,
        database=database,
    )


def _configured_region(profile: str | None = None) -> str | None:
    """The region from ``AWS_REGION`` or the AWS configuration (profile-aware)."""
    import os

    if os.environ.get("AWS_REGION"):
        return os.environ["AWS_REGION"]
    import botocore.session  # type: ignore[import-untyped,unused-ignore]

    region = botocore.session.Session(profile=profile).get_config_variable("region")
    return str(region) if region else None


def _engine_kwargs(
    region: str | None,
    profile: str | None,
    token_duration: float | None,
    engine_kwargs: dict[str, Any],
) -> dict[str, Any]:
    # the connector's spellings
    legacy = engine_kwargs.pop("token_duration_secs", None)
    if token_duration is None:
        token_duration = legacy
    provider = engine_kwargs.pop("custom_credentials_provider", None)
    aws_session = engine_kwargs.pop("aws_session", None)
    if provider is not None:
        if aws_session is not None:
            raise sa_exc.ArgumentError("pass custom_credentials_provider or aws_session, not both")
        import botocore.session  # type: ignore[import-untyped,unused-ignore]

        aws_session = botocore.session.Session(profile=profile)
        aws_session.get_component("credential_provider").insert_before("env", provider)
    options = {
        "region": region,
        "profile": profile,
        "token_duration": token_duration,
        "aws_session": aws_session,
    }
    return {**{k: v for k, v in options.items() if v is not None}, **engine_kwargs}


def create_dsql_engine(
    host: str,
    user: str = "admin",
    *,
    region: str | None = None,
    profile: str | None = None,
    token_duration: float | None = None,
    database: str = "postgres",
    port: int | None = None,
    driver: str = "psycopg",
    dbname: str | None = None,
    **engine_kwargs: Any,
) -> Engine:
    """An :class:`~sqlalchemy.engine.Engine` for an Aurora DSQL cluster.

    :param host: cluster endpoint, or cluster identifier with ``region``.
    :param user: database role; ``admin`` gets ``DbConnectAdmin`` tokens,
        any other role ``DbConnect`` tokens.
    :param region: AWS region; default: read from the endpoint.
    :param profile: AWS profile for credentials; default: the standard chain.
    :param token_duration: IAM token lifetime in seconds (default 900);
        ``token_duration_secs`` is accepted too.
    :param database: database name (``dbname`` is accepted too); DSQL has ``postgres``.
    :param driver: ``"psycopg"`` (default) or ``"psycopg2"``.
    :param engine_kwargs: passed to :func:`sqlalchemy.create_engine`.
    """
    if driver not in _SYNC_DRIVERS:
        raise sa_exc.ArgumentError(
            f"driver={driver!r}: use one of {_SYNC_DRIVERS} "
            "(create_async_dsql_engine() for asyncio)"
        )
    url = dsql_url(host, user, region=region, database=dbname or database, port=port, driver=driver)
    return create_engine(url, **_engine_kwargs(region, profile, token_duration, engine_kwargs))


def create_async_dsql_engine(
    host: str,
    user: str = "admin",
    *,
    region: str | None = None,
    profile: str | None = None,
    token_duration: float | None = None,
    database: str = "postgres",
    port: int | None = None,
    driver: str = "psycopg_async",
    dbname: str | None = None,
    **engine_kwargs: Any,
) -> AsyncEngine:
    """The asyncio twin of :func:`create_dsql_engine` (psycopg 3's async
    connection): an :class:`~sqlalchemy.ext.asyncio.AsyncEngine`."""
    from sqlalchemy.ext.asyncio import create_async_engine

    if driver not in _ASYNC_DRIVERS:
        raise sa_exc.ArgumentError(f"driver={driver!r}: use one of {_ASYNC_DRIVERS}")
    url = dsql_url(host, user, region=region, database=dbname or database, port=port, driver=driver)
    return create_async_engine(
        url, **_engine_kwargs(region, profile, token_duration, engine_kwargs)
    )
