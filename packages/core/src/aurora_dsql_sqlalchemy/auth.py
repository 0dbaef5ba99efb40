"""IAM authentication for Aurora DSQL: endpoints, regions and auth tokens.

Aurora DSQL has no passwords.  A client connects with an *IAM auth token* as
the password: a SigV4-presigned URL for the ``dsql`` service, signed locally
with the caller's AWS credentials (no network call).  User ``admin`` needs a
``DbConnectAdmin`` token, every other role a ``DbConnect`` token.  A token is
checked only when a connection is opened; an open connection outlives it.

The dialect does all of this for you (see
:class:`aurora_dsql_sqlalchemy.connection.DSQLConnector`); this module holds
the pieces, usable on their own:

* :func:`is_dsql_host` / :func:`parse_host` / :func:`region_from_host` tell a
  DSQL endpoint (``<cluster-id>.dsql.<region>.on.aws``, the ``dsql-fips`` and
  PrivateLink ``dsql-<suffix>`` forms) from any other host, and read its region;
* :func:`token_action` picks the token kind for a database user;
* :class:`IAMTokenProvider` signs tokens with botocore and caches them until
  shortly before they expire, so refilling a pool of N connections signs once,
  not N times.

botocore is imported only when the first token is signed, so importing the
dialect stays fast and local mode never loads it.

Tokens are secrets: nothing here logs them, puts them in a ``repr`` or in an
exception message, and botocore's own DEBUG records of the signature are
dropped while a token is being signed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from sqlalchemy import exc as sa_exc

from .errors import DSQLAuthenticationError
from .rules import DSQL_HOST_PATTERN, TOKEN_LIFETIME_SECONDS

__all__ = [
    "ADMIN_USER",
    "MAX_TOKEN_SECONDS",
    "DSQLHost",
    "IAMTokenProvider",
    "TokenAction",
    "is_dsql_host",
    "parse_host",
    "region_from_host",
    "token_action",
]

ADMIN_USER: Final = "admin"
"""The one database role that authenticates with a ``DbConnectAdmin`` token."""

MAX_TOKEN_SECONDS: Final = 604_800
"""The longest token lifetime DSQL accepts (one week)."""

UNIX_SOCKET_TOKEN_HOST: Final = "localhost"
"""The host name a token is signed for when the connection goes through a unix
socket (only with ``iam_auth=True`` against a local server, for tests)."""

TokenAction = Literal["DbConnect", "DbConnectAdmin"]


# -- host names -----------------------------------------------------------------


@dataclass(frozen=True)
class DSQLHost:
    """A parsed Aurora DSQL endpoint."""

    host: str
    """The endpoint as given (without a trailing dot)."""
    cluster_id: str
    """The cluster identifier, the endpoint's first label."""
    region: str
    """The AWS region the cluster lives in."""


def is_dsql_host(host: str | None) -> bool:
    """True if ``host`` is an Aurora DSQL cluster endpoint.

    Recognised forms: ``<cluster-id>.dsql.<region>.on.aws``,
    ``<cluster-id>.dsql-fips.<region>.on.aws`` and the PrivateLink form
    ``<cluster-id>.dsql-<suffix>.<region>.on.aws``; case-insensitive, with or
    without a trailing dot.  Anything else (``localhost``, an IP address, a
    unix socket directory, ``None``) is not.
    """
    if not host:
        return False
    return DSQL_HOST_PATTERN.match(host.strip()) is not None


def looks_like_dsql_host(host: str | None) -> bool:
    """True if ``host`` is meant to be a DSQL endpoint, well-formed or not:
    it ends in ``.on.aws`` or has a ``dsql`` label."""
    if not host:
        return False
    name = host.strip().rstrip(".").lower()
    labels = name.split(".")
    return name.endswith(".on.aws") or any(
        label == "dsql" or label.startswith("dsql-") for label in labels[1:]
    )


def parse_host(host: str) -> DSQLHost:
    """Split a DSQL endpoint into cluster id and region.

    Raises :class:`sqlalchemy.exc.ArgumentError` naming the expected form if
    ``host`` is not a DSQL endpoint.
    """
    match = DSQL_HOST_PATTERN.match(host.strip()) if host else None
    if match is None:
        raise sa_exc.ArgumentError(
            f"{host!r} is not an Aurora DSQL endpoint: expected "
            "'<cluster-id>.dsql.<region>.on.aws' (or the dsql-fips / PrivateLink "
            "'<cluster-id>.dsql-<suffix>.<region>.on.aws' form), e.g. "
            "'abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws'. Copy the endpoint "
            "from the DSQL console or `aws dsql get-cluster`, or pass region= "
            "explicitly for another host name."
        )
    return DSQLHost(
        host=host.strip().rstrip("."),
        cluster_id=match.group("cluster").lower(),
        region=match.group("region").lower(),
    )


def region_from_host(host: str) -> str:
    """The AWS region in a DSQL endpoint (``abc.dsql.eu-west-1.on.aws`` ->
    ``eu-west-1``); :class:`sqlalchemy.exc.ArgumentError` for other hosts."""
    return parse_host(host).region


def token_action(user: str | None) -> TokenAction:
    """``DbConnectAdmin`` for the ``admin`` role, ``DbConnect`` for every other role."""
    return "DbConnectAdmin" if user == ADMIN_USER else "DbConnect"


def token_host(host: str | None) -> str:
    """The host name a token is signed for: the endpoint itself, or
    :data:`UNIX_SOCKET_TOKEN_HOST` for a unix socket directory (local tests)."""
    if not host or host.startswith(("/", "@")):
        return UNIX_SOCKET_TOKEN_HOST
    return host.strip().rstrip(".")


# -- keeping botocore quiet about signatures -------------------------------------

_signing = threading.local()


class _DropWhileSigning(logging.Filter):
    """Drops botocore's DEBUG records (canonical request, signature) emitted
    while this module signs a token: together they are the token."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_signing, "active", False)


_FILTER: Final = _DropWhileSigning()
_QUIET_LOGGERS: Final = ("botocore.auth", "botocore.signers", "botocore.hooks")
_filter_lock = threading.Lock()
_filter_installed = False


def _install_log_filter() -> None:
    global _filter_installed
    with _filter_lock:
        if not _filter_installed:
            for name in _QUIET_LOGGERS:
                logging.getLogger(name).addFilter(_FILTER)
            _filter_installed = True


# -- tokens -------------------------------------------------------------------------


@dataclass
class _CachedToken:
    token: str = field(repr=False)
    signed_at: float
    reuse_until: float


_CREDENTIAL_SOURCES: Final = {
    "env": "environment variables",
    "shared-credentials-file": "the shared credentials file",
    "config-file": "the AWS config file",
    "assume-role": "an assumed role (profile role_arn)",
    "assume-role-with-web-identity": "a web-identity role",
    "sso": "IAM Identity Center (SSO)",
    "container-role": "the container role",
    "iam-role": "the instance role (IMDS)",
    "custom-process": "a credential_process",
    "explicit": "explicit credentials",
}


def _mask(access_key: str | None) -> str:
    if not access_key:
        return "<none>"
    return f"{access_key[:4]}...{access_key[-4:]}" if len(access_key) > 8 else "****"


class IAMTokenProvider:
    """Signs Aurora DSQL auth tokens and caches them.

    One provider serves one engine.  :meth:`token` returns a cached token while
    it has more than ``refresh_margin`` seconds to live (default: a fifth of the
    lifetime, at most 60 s), so a pool refilling N connections signs once; a
    token signed with temporary credentials is also renewed before those
    credentials expire (DSQL refuses a token whose role session has ended).

    :param region: region to sign for; default: the region in the endpoint,
        then the AWS configuration (``AWS_REGION``, the profile's region).
    :param profile: AWS profile (``~/.aws/config``) to take credentials from;
        default: the standard credential chain (environment, profile
        ``AWS_PROFILE``/default, SSO, container and instance roles).
    :param token_duration: token lifetime in seconds (default 900, at most one week).
    :param session: a ``botocore.session.Session`` (or ``boto3.Session``) to
        use instead of building one from ``profile``.
    :param clock: wall-clock function, replaceable in tests.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        profile: str | None = None,
        token_duration: float | None = None,
        session: Any = None,
        clock: Callable[[], float] = time.time,
        refresh_margin: float | None = None,
    ) -> None:
        duration = TOKEN_LIFETIME_SECONDS if token_duration is None else token_duration
        duration = int(duration)
        if not 1 <= duration <= MAX_TOKEN_SECONDS:
            raise sa_exc.ArgumentError(
                f"token_duration={duration}: an Aurora DSQL token lives between "
                f"1 and {MAX_TOKEN_SECONDS} seconds (one week); the default is "
                f"{TOKEN_LIFETIME_SECONDS}."
            )
        self.region = region
        self.profile = profile
        self.token_duration = duration
        self.refresh_margin = (
            min(60.0, duration / 5) if refresh_margin is None else float(refresh_margin)
        )
        self._clock = clock
        # a boto3.Session wraps a botocore session
        self._user_session = getattr(session, "_session", session)
        self._session: Any = self._user_session
        self._clients: dict[str, Any] = {}
        self._cache: dict[tuple[str, str, str], _CachedToken] = {}
        self._lock = threading.Lock()
        self.signings = 0
        """How many tokens this provider has signed (for tests and benchmarks)."""

    def __repr__(self) -> str:
        return (
            f"IAMTokenProvider(region={self.region!r}, profile={self.profile!r}, "
            f"token_duration={self.token_duration})"
        )

    # -- public API ------------------------------------------------------------

    def resolve_region(self, host: str | None) -> str:
        """The region to sign for: explicit, else from the endpoint, else from
        the AWS configuration; :class:`~sqlalchemy.exc.ArgumentError` if none."""
        if self.region:
            return self.region
        if host and is_dsql_host(host):
            return region_from_host(host)
        configured = os.environ.get("AWS_REGION") or self._botocore_session().get_config_variable(
            "region"
        )
        if configured:
            return str(configured)
        raise sa_exc.ArgumentError(
            f"No AWS region for host {host!r}: it is not a DSQL endpoint, so the "
            "region cannot be read from it. Pass region='us-east-1' (create_engine "
            "keyword or ?region= in the URL), set AWS_REGION, or give the profile a region."
        )

    def token(self, host: str | None, user: str | None, region: str | None = None) -> str:
        """A valid token for ``user`` on ``host``: cached, or freshly signed."""
        action = token_action(user)
        name = token_host(host)
        region = region or self.resolve_region(host)
        key = (name.lower(), action, region)
        with self._lock:
            now = self._clock()
            cached = self._cache.get(key)
            if cached is not None and now < cached.reuse_until:
                return cached.token
            token, reuse_until = self._sign(name, action, region, now)
            self._cache[key] = _CachedToken(token, now, reuse_until)
            return token

    def invalidate(self, token: str | None = None) -> None:
        """Forget a refused token (all tokens if ``token`` is None), and re-read
        the credential chain before the next signing, so a role session or
        profile renewed meanwhile is picked up.  Only the first of several
        connections that saw the same token refused triggers a new signing."""
        with self._lock:
            if token is None:
                self._cache.clear()
            else:
                stale = [k for k, v in self._cache.items() if v.token == token]
                if not stale:
                    return
                for k in stale:
                    del self._cache[k]
            if self._user_session is None:
                self._session = None
                self._clients.clear()

    def describe_identity(self, host: str | None, user: str | None) -> str:
        """Which credentials a token for ``user`` on ``host`` is signed with,
        for error messages: never the token or the secret key."""
        parts = [
            f"user {user!r} with a {token_action(user)} token",
            f"host {token_host(host)!r}",
        ]
        try:
            parts.append(f"region {self.resolve_region(host)!r}")
        except sa_exc.ArgumentError:
            parts.append("no region")
        parts.append(f"AWS profile {self.profile!r}" if self.profile else "default AWS profile")
        try:
            creds = self._botocore_session().get_credentials()
        except Exception as err:
            parts.append(f"credentials unavailable ({type(err).__name__})")
        else:
            if creds is None:
                parts.append("no AWS credentials found")
            else:
                method = getattr(creds, "method", None) or "unknown source"
                source = _CREDENTIAL_SOURCES.get(method, method)
                parts.append(f"access key {_mask(creds.access_key)} from {source}")
        parts.append(f"token lifetime {self.token_duration}s")
        return ", ".join(parts)

    # -- internals ---------------------------------------------------------------

    def _botocore_session(self) -> Any:
        if self._session is None:
            import botocore.session  # type: ignore[import-untyped,unused-ignore]

            self._session = botocore.session.Session(profile=self.profile)
        return self._session

    def _client(self, region: str) -> Any:
        client = self._clients.get(region)
        if client is None:
            client = self._botocore_session().create_client("dsql", region_name=region)
            self._clients[region] = client
        return client

    def _sign(self, host: str, action: TokenAction, region: str, now: float) -> tuple[str, float]:
        import botocore.exceptions  # type: ignore[import-untyped,unused-ignore]

        _install_log_filter()
        try:
            client = self._client(region)
            _signing.active = True
            try:
                if action == "DbConnectAdmin":
                    token = client.generate_db_connect_admin_auth_token(
                        Hostname=host, Region=region, ExpiresIn=self.token_duration
                    )
                else:
                    token = client.generate_db_connect_auth_token(
                        Hostname=host, Region=region, ExpiresIn=self.token_duration
                    )
            finally:
                _signing.active = False
        except botocore.exceptions.ProfileNotFound:
            raise DSQLAuthenticationError(self._missing_profile_message()) from None
        except botocore.exceptions.BotoCoreError as err:
            raise DSQLAuthenticationError(
                f"Could not sign an Aurora DSQL auth token ({action}) for host "
                f"{host!r} in {region}: {err}. Configure AWS credentials (environment "
                "variables, `aws configure`, `aws sso login`, or an instance/task "
                "role), or pass profile='name' to pick a profile."
            ) from None
        self.signings += 1
        reuse_until = now + self.token_duration - self.refresh_margin
        expiry = self._credentials_expiry()
        if expiry is not None:
            reuse_until = min(reuse_until, expiry - self.refresh_margin)
        return token, reuse_until

    def _missing_profile_message(self) -> str:
        """The profile asked for (the ``profile`` option or ``AWS_PROFILE``) is not configured."""
        import botocore.session  # type: ignore[import-untyped,unused-ignore]

        if self.profile:
            asked = f"AWS profile {self.profile!r} (the profile option)"
        else:
            named = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
            asked = f"AWS profile {named!r} (from AWS_PROFILE)"
        try:
            available = sorted(botocore.session.Session().available_profiles)
        except Exception:  # an unreadable file: the message still names the profile
            available = []
        files = " and ".join(
            os.environ.get(variable) or default
            for variable, default in (
                ("AWS_CONFIG_FILE", "~/.aws/config"),
                ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
            )
        )
        return (
            f"Could not sign an Aurora DSQL auth token: {asked} is not configured in "
            f"{files}. Profiles found there: {', '.join(available) or 'none'}. Correct "
            "the name, add the profile (`aws configure --profile NAME`, or "
            "`aws configure sso`), or leave the profile out to use the standard "
            "credential chain."
        )

    def _credentials_expiry(self) -> float | None:
        """When temporary credentials (role, SSO) end, as a ``time.time()`` value."""
        creds = self._botocore_session().get_credentials()
        expiry = getattr(creds, "_expiry_time", None)
        if expiry is None:
            return None
        try:
            return float(expiry.timestamp())
        except (AttributeError, TypeError, ValueError):
            return None
