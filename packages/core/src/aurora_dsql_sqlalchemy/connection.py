"""Connecting to Aurora DSQL: IAM tokens, TLS, connection lifetime.

A URL is all it takes::

    engine = create_engine("auroradsql+psycopg://admin@<cluster-id>.dsql.us-east-1.on.aws/postgres")

For a DSQL endpoint the dialect

* signs an IAM auth token for every new connection and passes it as the
  password (``DbConnectAdmin`` for ``admin``, ``DbConnect`` for other roles),
  with credentials from the standard AWS chain and the region read from the
  host name; tokens are cached and reused until shortly before they expire;
* turns TLS on: ``sslmode=verify-full`` with ``sslrootcert=system`` (the
  operating system's CA store; needs libpq >= 16), and refuses
  ``sslmode=disable``;
* recycles pooled connections before DSQL closes them at 60 minutes
  (``pool_recycle`` about 55 minutes, jittered per connection) and pre-pings
  them (``pool_pre_ping=True``), unless you set either yourself;
* tells an authentication failure from a transient one: a refused token is
  regenerated once, then :class:`~aurora_dsql_sqlalchemy.errors.DSQLAuthenticationError`
  says which credentials were used (never the token);
* treats a connection DSQL dropped (lifetime, network, failover) as a
  disconnect, so the pool discards it and the next checkout works.

Options, as ``create_engine`` keywords or URL query parameters (keywords win):

``region``
    AWS region to sign for; default: read from the host name.
``profile``
    AWS profile to take credentials from; default: the standard chain.
``token_duration``
    Token lifetime in seconds (default 900; DSQL checks it only at connect).
``iam_auth``
    ``True`` signs tokens for a host that is not a DSQL endpoint (a proxy, a
    local test server: give ``region`` too); ``False`` never signs.  Default:
    sign exactly for DSQL endpoints.
``aws_session`` (keyword only)
    A ``boto3.Session`` or ``botocore.session.Session`` whose credentials sign
    the tokens, instead of the standard chain.

A password in the URL, in ``connect_args`` or set by a ``do_connect`` event
always wins: no token is signed then.
"""

from __future__ import annotations

import random
import time
from typing import Any, Final

from sqlalchemy import event, util
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

from . import rules
from .auth import (
    IAMTokenProvider,
    is_dsql_host,
    looks_like_dsql_host,
    parse_host,
    token_action,
)
from .connect_retry import ConnectRetry, ConnectRetryPolicy, classify_connect_error
from .errors import DSQLAuthenticationError, sqlstate_of

__all__ = ["POOL_RECYCLE_JITTER", "ConnectionMixin"]

URL_OPTIONS: Final = ("region", "profile", "token_duration", "iam_auth")
"""URL query parameters the dialect consumes (they never reach the driver)."""

POOL_RECYCLE_JITTER: Final = 0.1
"""Each pooled connection is recycled at a random point in the last 10 % of
``pool_recycle``, so a pool filled at once does not reconnect all at once."""

LIBPQ_SYSTEM_ROOTCERT: Final = 160000
"""``sslrootcert=system`` needs libpq 16 or later."""

AMAZON_ROOT_CA_URL: Final = "https://www.amazontrust.com/repository/AmazonRootCA1.pem"

_VERIFYING_SSLMODES: Final = frozenset({"verify-ca", "verify-full"})

_DISCONNECT_SQLSTATES: Final = frozenset({"57P01", "57P02", "57P03"})
"""admin_shutdown, crash_shutdown, cannot_connect_now; plus class 08 (connection exception)."""

_DISCONNECT_MESSAGES: Final = (
    "terminating connection",
    "server closed the connection",
    "closed the connection unexpectedly",
    "connection has been closed",
    "connection is closed",
    "connection already closed",
    "the connection is lost",
    "connection is lost",
    "consuming input failed",
    "sending query failed",
    "could not receive data from server",
    "could not send data to server",
    "ssl connection has been closed unexpectedly",
    "ssl syscall error",
    "ssl error: decryption failed",
    "eof detected",
    "connection reset by peer",
    "broken pipe",
    "connection timed out",
)
"""What libpq, psycopg and psycopg2 say when the server side went away: DSQL
closing a session at 60 minutes sends no error code, only end of stream."""


def _as_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    return bool(util.asbool(value))


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    return None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(err).__name__


class ConnectionMixin:
    """Connection behaviour of the Aurora DSQL dialect: mixed in before the
    driver dialect, so these methods wrap the driver's."""

    host_is_dsql: bool = False
    """Whether the URL's host is an Aurora DSQL endpoint (set by ``create_connect_args``)."""

    iam_auth: bool = False
    """Whether new connections get an IAM token as password."""

    token_provider: IAMTokenProvider | None = None
    """The engine's token signer and cache (``None`` without IAM auth, or when
    a password was given in the URL)."""

    def __init__(
        self,
        region: str | None = None,
        profile: str | None = None,
        token_duration: float | None = None,
        iam_auth: bool | None = None,
        aws_session: Any = None,
        connect_retry: ConnectRetryPolicy | None = None,
        **kw: Any,
    ) -> None:
        # positional-or-keyword on purpose: create_engine() forwards only the
        # keywords it finds in the positional part of a dialect's __init__
        super().__init__(**kw)
        self._iam_region = region
        self._iam_profile = profile
        self._iam_token_duration = token_duration
        self._iam_auth_requested = _as_bool(iam_auth)
        self._aws_session = aws_session
        self._token_region: str | None = None
        self._tls_defaults: dict[str, str] = {}
        self.connect_retry = ConnectRetry(connect_retry)

    # -- connect arguments --------------------------------------------------------

    def create_connect_args(self, url: URL) -> Any:
        query = url.query
        own = {key: query[key] for key in URL_OPTIONS if key in query}
        if own:
            url = url.difference_update_query(list(own))
        region = _first(self._iam_region, own.get("region"))
        profile = _first(self._iam_profile, own.get("profile"))
        duration = _first(self._iam_token_duration, own.get("token_duration"))
        requested = _first(self._iam_auth_requested, _as_bool(own.get("iam_auth")))

        cargs, cparams = super().create_connect_args(url)  # type: ignore[misc]
        host = cparams.get("host")
        self.host_is_dsql = is_dsql_host(host)
        if not self.host_is_dsql and looks_like_dsql_host(host) and requested is None:
            parse_host(host)  # raises, naming the expected form
        self.iam_auth = bool(self.host_is_dsql if requested is None else requested)

        if self.host_is_dsql:
            self._apply_tls_defaults(cparams)

        self.token_provider = None
        if self.iam_auth and cparams.get("password") is None:
            try:
                duration_s = None if duration is None else float(duration)
            except ValueError:
                raise sa_exc.ArgumentError(
                    f"token_duration={duration!r}: give a number of seconds"
                ) from None
            provider = IAMTokenProvider(
                region=region,
                profile=profile,
                token_duration=duration_s,
                session=self._aws_session,
            )
            self._token_region = provider.resolve_region(host)
            self.token_provider = provider
        return cargs, cparams

    def _libpq_version(self) -> int | None:
        """libpq's version as an integer (160002 = 16.2), or None if unknown."""
        dbapi = getattr(self, "dbapi", None)
        extensions = getattr(dbapi, "extensions", None)
        if extensions is not None and hasattr(extensions, "libpq_version"):  # psycopg2
            return int(extensions.libpq_version())
        pq = getattr(dbapi, "pq", None)
        if pq is not None and hasattr(pq, "version"):  # psycopg (3)
            return int(pq.version())
        return None

    def _apply_tls_defaults(self, cparams: dict[str, Any]) -> None:
        sslmode = cparams.get("sslmode")
        _refuse_plaintext(sslmode)
        self._tls_defaults = {}
        if sslmode is None:
            cparams["sslmode"] = self._tls_defaults["sslmode"] = "verify-full"
            sslmode = "verify-full"
        if sslmode in _VERIFYING_SSLMODES and not cparams.get("sslrootcert"):
            version = self._libpq_version()
            if version is not None and version < LIBPQ_SYSTEM_ROOTCERT:
                if "sslmode" not in self._tls_defaults:
                    return  # the user chose verification: libpq's own default root cert applies
                major, minor = divmod(version, 10000)
                raise sa_exc.ArgumentError(
                    f"Aurora DSQL needs TLS, and the dialect verifies the server with the "
                    f"system CA store (sslrootcert=system), which needs libpq >= 16; "
                    f"{getattr(self, 'driver', 'the driver')} uses libpq {major}.{minor % 100}. "
                    f"Download the Amazon root CA ({AMAZON_ROOT_CA_URL}) and add "
                    "'?sslrootcert=/path/to/AmazonRootCA1.pem' to the URL (or "
                    "connect_args={'sslrootcert': ...}), or install a driver built with "
                    "libpq 16+ (psycopg[binary] >= 3.2, psycopg2-binary >= 2.9.10), or pass "
                    "'?sslmode=require' to encrypt without verifying the server."
                )
            cparams["sslrootcert"] = self._tls_defaults["sslrootcert"] = "system"

    # -- connecting -------------------------------------------------------------------

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        """Open a driver connection, paced and retried on DSQL's passing refusals
        (see :mod:`~aurora_dsql_sqlalchemy.connect_retry`)."""
        return self.connect_retry.connect(
            lambda: self._connect_signed(cargs, cparams),
            sleep=ConnectRetry.sleeper(bool(getattr(self, "is_async", False))),
        )

    def _connect_signed(self, cargs: tuple[Any, ...], cparams: dict[str, Any]) -> Any:
        """Open a driver connection, with an IAM token as password when needed."""
        if self.host_is_dsql:
            self._settle_tls(cparams)
        provider = self.token_provider
        if provider is None or cparams.get("password") is not None:
            return self._connect_with_password(cargs, cparams)

        host, user = cparams.get("host"), cparams.get("user")
        token = provider.token(host, user, self._token_region)
        try:
            return super().connect(*cargs, **{**cparams, "password": token})  # type: ignore[misc]
        except Exception as err:
            if not self._is_auth_failure(err):
                raise
            if rules.WRONG_TOKEN_ACTION.search(str(err)):
                raise self._wrong_action_error(user, err) from err
            if classify_connect_error(err) == "access-denied":  # no "Signature expired": re-signing cannot help
                raise DSQLAuthenticationError(
                    f"Aurora DSQL refused the IAM auth token: {_first_line(err)}. Not retried: "
                    f"the credentials were refused, not an expired signature. Credentials used: "
                    f"{provider.describe_identity(host, user)}."
                ) from err
            first = err
        # the token was refused: an expired role session, credentials rotated
        # since it was cached, a clock jump.  Sign once more, then stop.
        provider.invalidate(token)
        token = provider.token(host, user, self._token_region)
        try:
            return super().connect(*cargs, **{**cparams, "password": token})  # type: ignore[misc]
        except Exception as err:
            if not self._is_auth_failure(err):
                raise
            identity = provider.describe_identity(host, user)
            raise DSQLAuthenticationError(
                f"Aurora DSQL refused the IAM auth token twice (a cached one, then a "
                f"freshly signed one): {_first_line(err)}. Credentials used: {identity}. "
                f"Check that this IAM identity may call dsql:{token_action(user)} on the "
                "cluster, that a non-admin role is mapped to it (AWS IAM GRANT), and that "
                "an assumed role or SSO session has not expired (`aws sso login`). "
                f"First refusal: {_first_line(first)}"
            ) from err

    def _connect_with_password(self, cargs: tuple[Any, ...], cparams: dict[str, Any]) -> Any:
        try:
            return super().connect(*cargs, **cparams)  # type: ignore[misc]
        except Exception as err:
            if not (self.host_is_dsql or self.iam_auth) or not self._is_auth_failure(err):
                raise
            user = cparams.get("user")
            if rules.WRONG_TOKEN_ACTION.search(str(err)):
                raise self._wrong_action_error(user, err) from err
            raise DSQLAuthenticationError(
                f"Aurora DSQL refused the password supplied for user {user!r}: "
                f"{_first_line(err)}. A password in the URL, in connect_args or from a "
                "do_connect event is used as is, so no IAM token was signed; tokens "
                "expire (15 minutes by default). Remove the password to let the dialect "
                "sign a fresh token for every connection."
            ) from err

    def _is_auth_failure(self, err: BaseException) -> bool:
        dbapi = getattr(self, "loaded_dbapi", None) or getattr(self, "dbapi", None)
        error_cls = getattr(dbapi, "Error", None)
        if error_cls is not None and not isinstance(err, error_cls):
            return False
        text = str(err)
        return bool(
            rules.AUTH_FAILURE_PATTERN.search(text) or rules.WRONG_TOKEN_ACTION.search(text)
        )

    @staticmethod
    def _wrong_action_error(user: str | None, err: BaseException) -> DSQLAuthenticationError:
        return DSQLAuthenticationError(
            f"Aurora DSQL: {_first_line(err)}. User 'admin' must connect with a "
            "DbConnectAdmin token and every other role with a DbConnect token "
            f"(user {user!r} needs {token_action(user)}). If you generate the token "
            "yourself, use generate_db_connect_admin_auth_token only for 'admin'; or "
            "drop the password and let the dialect sign the right kind."
        )

    def _settle_tls(self, cparams: dict[str, Any]) -> None:
        """Re-check TLS after ``connect_args`` were merged in: refuse plaintext, and
        drop the default ``sslrootcert=system`` if the user chose a non-verifying
        mode (libpq refuses ``system`` with those)."""
        sslmode = cparams.get("sslmode")
        _refuse_plaintext(sslmode)
        if (
            sslmode not in _VERIFYING_SSLMODES
            and "sslrootcert" in self._tls_defaults
            and cparams.get("sslrootcert") == self._tls_defaults["sslrootcert"]
        ):
            del cparams["sslrootcert"]

    # -- disconnects -------------------------------------------------------------------

    def is_disconnect(self, e: Any, connection: Any, cursor: Any) -> bool:
        if super().is_disconnect(e, connection, cursor):  # type: ignore[misc]
            return True
        dbapi = getattr(self, "loaded_dbapi", None) or getattr(self, "dbapi", None)
        error_cls = getattr(dbapi, "Error", None)
        if error_cls is None or not isinstance(e, error_cls):
            return False
        text = str(e)
        if rules.AUTH_FAILURE_PATTERN.search(text):
            return False  # refused credentials are not a dropped connection
        code = sqlstate_of(e)
        if code and (code.startswith("08") or code in _DISCONNECT_SQLSTATES):
            return True
        first = text.partition("\n")[0].lower()
        return any(message in first for message in _DISCONNECT_MESSAGES)

    # -- pool defaults -------------------------------------------------------------------

    @classmethod
    def engine_created(cls, engine: Any) -> None:
        """Pool defaults for DSQL: recycle before the 60-minute limit (jittered per
        connection) and pre-ping, unless the engine was created with its own
        ``pool_recycle`` / ``pool_pre_ping``."""
        parent = getattr(super(), "engine_created", None)
        if parent is not None:
            parent(engine)
        dialect = engine.dialect
        if not (getattr(dialect, "host_is_dsql", False) or getattr(dialect, "token_provider", None)):
            return  # a PostgreSQL server (local mode): no lifetime limit, no pre-ping round trip
        pool = engine.pool
        recycle = getattr(pool, "_recycle", None)
        if recycle == -1:
            pool._recycle = rules.POOL_RECYCLE_SECONDS
            _install_recycle_jitter(pool, rules.POOL_RECYCLE_SECONDS, POOL_RECYCLE_JITTER)
        elif recycle is not None and recycle > rules.CONNECTION_LIFETIME_SECONDS:
            util.warn(
                f"pool_recycle={recycle} is longer than the {rules.CONNECTION_LIFETIME_SECONDS} s "
                "Aurora DSQL lets a connection live; connections will be dropped by the "
                "server first (pre-ping catches them). Leave pool_recycle unset for the "
                "dialect's default."
            )
        if hasattr(pool, "_pre_ping") and not pool._pre_ping:
            pool._pre_ping = True


def _refuse_plaintext(sslmode: Any) -> None:
    if sslmode == "disable":
        raise sa_exc.ArgumentError(
            "sslmode=disable: Aurora DSQL accepts TLS connections only. Leave sslmode "
            "unset (the dialect uses verify-full), or use sslmode=require to encrypt "
            "without verifying the server certificate."
        )


_RECYCLE_AT: Final = "auroradsql_recycle_at"


def _install_recycle_jitter(pool: Any, recycle: float, jitter: float) -> None:
    """Give every pooled connection its own deadline in ``[recycle * (1 - jitter),
    recycle]``; a checkout past it discards the connection and opens a new one."""

    def stamp(dbapi_connection: Any, record: Any) -> None:
        record.info[_RECYCLE_AT] = time.time() + recycle * (1 - jitter * random.random())

    def check(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        deadline = record.info.get(_RECYCLE_AT)
        if deadline is not None and time.time() >= deadline:
            raise sa_exc.DisconnectionError(
                "recycling a connection before Aurora DSQL's 60-minute limit"
            )

    event.listen(pool, "connect", stamp)
    event.listen(pool, "checkout", check)
