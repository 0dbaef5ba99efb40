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
* recycles pooled connections before DSQL closes them at 60 minutes (each
  connection at its own deadline between 49.5 and 55 minutes) and pre-pings
  them, unless you set ``pool_recycle`` / ``pool_pre_ping`` yourself: then
  your setting means exactly what SQLAlchemy documents (``pool_recycle=-1``
  never recycles, ``pool_pre_ping=False`` never pings).  A ``poolclass``
  of your own gets no defaults;
* tells an authentication failure from a transient one: a refused token is
  regenerated once, then :class:`~aurora_dsql_sqlalchemy.errors.DSQLAuthenticationError`
  says which credentials were used (never the token);
* treats a connection DSQL dropped (lifetime, network, failover) as a
  disconnect, so the pool discards it and the next checkout works.

Options, as ``create_engine`` keywords or URL query parameters (keywords
win; see :mod:`aurora_dsql_sqlalchemy.options`):

``region``
    AWS region to sign for; default: read from the host name.  With several
    hosts (``?host=a&host=b``, a multi-Region cluster), one per host
    (``us-east-1,us-east-2``) or one for all; see
    :mod:`~aurora_dsql_sqlalchemy.endpoints`.
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
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import event, util
from sqlalchemy import exc as sa_exc

from . import rules
from .auth import (
    IAMTokenProvider,
    is_dsql_host,
    looks_like_dsql_host,
    parse_host,
    token_action,
)
from .connect_retry import ConnectRetry, ConnectRetryPolicy, classify_connect_error
from .endpoints import DEFAULT_CONNECT_TIMEOUT, Endpoints, did_not_answer
from .errors import DSQLAuthenticationError, sqlstate_of

if TYPE_CHECKING:
    from sqlalchemy.pool import Pool

    from .options import DialectOptions

__all__ = ["POOL_RECYCLE_JITTER", "DSQLConnector"]

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


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(err).__name__


class DSQLConnector:
    """How the dialect connects: connect arguments, IAM tokens, TLS, pool
    defaults and disconnect detection.  One per dialect; the dialect's
    ``create_connect_args`` / ``connect`` / ``is_disconnect`` /
    ``get_dialect_pool_class`` delegate here."""

    host_is_dsql: bool = False
    """Whether the URL's host is an Aurora DSQL endpoint."""
    iam_auth: bool = False
    """Whether new connections get an IAM token as password."""
    token_provider: IAMTokenProvider | None = None
    """The engine's token signer and cache (``None`` without IAM auth, or when
    a password was given in the URL)."""
    token_region: str | None = None
    """The region tokens are signed for (one host)."""
    endpoints: Endpoints | None = None
    """The endpoints of a host list, each with its own region (``None``: one host);
    see :mod:`~aurora_dsql_sqlalchemy.endpoints`."""

    def __init__(
        self, dialect: Any, aws_session: Any = None, retry: ConnectRetryPolicy | None = None
    ) -> None:
        self.dialect = dialect
        self.aws_session = aws_session
        self.retry = ConnectRetry(retry)
        self._tls_defaults: dict[str, str] = {}

    # -- connect arguments --------------------------------------------------------

    def connect_args(self, options: DialectOptions, cparams: MutableMapping[str, Any]) -> None:
        """Complete the driver's connect parameters for ``options`` (in place)."""
        self.endpoints = Endpoints.from_params(cparams, options.region)
        hosts = [e.host for e in self.endpoints] if self.endpoints else [cparams.get("host")]
        requested = options.iam_auth
        self.host_is_dsql = any(is_dsql_host(host) for host in hosts)
        for host in hosts:
            if host and not is_dsql_host(host) and looks_like_dsql_host(host) and requested is None:
                parse_host(host)  # raises, naming the expected form
        self.iam_auth = bool(self.host_is_dsql if requested is None else requested)
        if self.host_is_dsql:
            self._apply_tls_defaults(cparams)
        if self.endpoints is not None:
            cparams.setdefault("connect_timeout", DEFAULT_CONNECT_TIMEOUT)
        self.token_provider = None
        if self.iam_auth and cparams.get("password") is None:
            provider = IAMTokenProvider(
                region=None if self.endpoints else options.region,  # endpoints carry their own
                profile=options.profile,
                token_duration=options.token_duration,
                session=self.aws_session,
            )
            if self.endpoints is None:
                self.token_region = provider.resolve_region(hosts[0])
            else:  # each endpoint is signed for its own Region
                self.endpoints = self.endpoints.with_regions(provider.resolve_region)
            # asyncio: sign (and refresh credentials) off the event loop
            self.token_provider = (
                _ThreadedTokenProvider(provider) if self.dialect.is_async else provider  # type: ignore[assignment]
            )

    def libpq_version(self) -> int | None:
        """libpq's version as an integer (160002 = 16.2), or None if unknown."""
        dbapi = getattr(self.dialect, "dbapi", None)
        extensions = getattr(dbapi, "extensions", None)
        if extensions is not None and hasattr(extensions, "libpq_version"):  # psycopg2
            return int(extensions.libpq_version())
        pq = getattr(dbapi, "pq", None)
        if pq is not None and hasattr(pq, "version"):  # psycopg (3)
            return int(pq.version())
        return None

    def _apply_tls_defaults(self, cparams: MutableMapping[str, Any]) -> None:
        sslmode = cparams.get("sslmode")
        _refuse_plaintext(sslmode)
        self._tls_defaults = {}
        if sslmode is None:
            cparams["sslmode"] = self._tls_defaults["sslmode"] = "verify-full"
            sslmode = "verify-full"
        if sslmode in _VERIFYING_SSLMODES and not cparams.get("sslrootcert"):
            version = self.libpq_version()
            if version is not None and version < LIBPQ_SYSTEM_ROOTCERT:
                if "sslmode" not in self._tls_defaults:
                    return  # the user chose verification: libpq's own default root cert applies
                major, minor = divmod(version, 10000)
                raise sa_exc.ArgumentError(
                    f"Aurora DSQL needs TLS, and the dialect verifies the server with the "
                    f"system CA store (sslrootcert=system), which needs libpq >= 16; "
                    f"{getattr(self.dialect, 'driver', 'the driver')} uses libpq {major}.{minor % 100}. "
                    f"Download the Amazon root CA ({AMAZON_ROOT_CA_URL}) and add "
                    "'?sslrootcert=/path/to/AmazonRootCA1.pem' to the URL (or "
                    "connect_args={'sslrootcert': ...}), or install a driver built with "
                    "libpq 16+ (psycopg[binary] >= 3.2, psycopg2-binary >= 2.9.10), or pass "
                    "'?sslmode=require' to encrypt without verifying the server."
                )
            cparams["sslrootcert"] = self._tls_defaults["sslrootcert"] = "system"

    # -- connecting -------------------------------------------------------------------

    def connect(self, open_: Callable[..., Any], cargs: tuple[Any, ...], cparams: dict[str, Any]) -> Any:
        """Open a driver connection with ``open_`` (the driver dialect's
        ``connect``), paced and retried on DSQL's passing refusals (see
        :mod:`~aurora_dsql_sqlalchemy.connect_retry`)."""
        return self.retry.connect(
            lambda: self._connect_signed(open_, cargs, cparams),
            sleep=ConnectRetry.sleeper(bool(self.dialect.is_async)),
        )

    def _connect_signed(
        self, open_: Callable[..., Any], cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> Any:
        """One connection attempt (to the first endpoint that answers, given
        several), with an IAM token as password when needed."""
        if self.host_is_dsql:
            self.settle_tls(cparams)
        endpoints = self.endpoints
        if endpoints is None:
            return self._connect_to(open_, cargs, cparams, self.token_region)
        unanswered: Exception | None = None
        for endpoint in endpoints.in_order():
            try:
                connection = self._connect_to(open_, cargs, endpoint.connect_params(cparams), endpoint.region)
            except Exception as err:
                if not (self._driver_error(err) and did_not_answer(err)):
                    raise
                endpoints.failed(endpoint)
                unanswered = err
                continue
            endpoints.answered(endpoint)
            return connection
        assert unanswered is not None
        raise unanswered

    def _connect_to(
        self,
        open_: Callable[..., Any],
        cargs: tuple[Any, ...],
        cparams: dict[str, Any],
        region: str | None,
    ) -> Any:
        """A connection to ``cparams``' one host, signed for ``region``."""
        provider = self.token_provider
        if provider is None or cparams.get("password") is not None:
            return self._connect_with_password(open_, cargs, cparams)

        host, user = cparams.get("host"), cparams.get("user")
        token = provider.token(host, user, region)
        try:
            return open_(*cargs, **{**cparams, "password": token})
        except Exception as err:
            if not self.is_auth_failure(err):
                raise
            if rules.WRONG_TOKEN_ACTION.search(str(err)):
                raise self.wrong_action_error(user, err) from err
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
        token = provider.token(host, user, region)
        try:
            return open_(*cargs, **{**cparams, "password": token})
        except Exception as err:
            if not self.is_auth_failure(err):
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

    def _connect_with_password(
        self, open_: Callable[..., Any], cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> Any:
        try:
            return open_(*cargs, **cparams)
        except Exception as err:
            if not (self.host_is_dsql or self.iam_auth) or not self.is_auth_failure(err):
                raise
            user = cparams.get("user")
            if rules.WRONG_TOKEN_ACTION.search(str(err)):
                raise self.wrong_action_error(user, err) from err
            raise DSQLAuthenticationError(
                f"Aurora DSQL refused the password supplied for user {user!r}: "
                f"{_first_line(err)}. A password in the URL, in connect_args or from a "
                "do_connect event is used as is, so no IAM token was signed; tokens "
                "expire (15 minutes by default). Remove the password to let the dialect "
                "sign a fresh token for every connection."
            ) from err

    def _driver_error(self, err: BaseException) -> bool:
        dbapi = getattr(self.dialect, "loaded_dbapi", None) or getattr(self.dialect, "dbapi", None)
        error_cls = getattr(dbapi, "Error", None)
        return error_cls is not None and isinstance(err, error_cls)

    def is_auth_failure(self, err: BaseException) -> bool:
        """Whether ``err`` is the driver refusing the password (the token)."""
        if not self._driver_error(err):
            return False
        text = str(err)
        return bool(
            rules.AUTH_FAILURE_PATTERN.search(text) or rules.WRONG_TOKEN_ACTION.search(text)
        )

    @staticmethod
    def wrong_action_error(user: str | None, err: BaseException) -> DSQLAuthenticationError:
        return DSQLAuthenticationError(
            f"Aurora DSQL: {_first_line(err)}. User 'admin' must connect with a "
            "DbConnectAdmin token and every other role with a DbConnect token "
            f"(user {user!r} needs {token_action(user)}). If you generate the token "
            "yourself, use generate_db_connect_admin_auth_token only for 'admin'; or "
            "drop the password and let the dialect sign the right kind."
        )

    def settle_tls(self, cparams: dict[str, Any]) -> None:
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

    def is_disconnect(self, e: Any) -> bool:
        """A connection DSQL dropped, beyond what the driver dialect recognises."""
        if not self._driver_error(e):
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

    def pool_class(self, base: type[Pool]) -> type[Pool]:
        """The pool class for this engine: ``base`` with DSQL's defaults when
        connecting to DSQL (or with IAM auth), else ``base`` itself."""
        if not (self.host_is_dsql or self.token_provider is not None):
            return base  # a PostgreSQL server (local mode): no lifetime limit, no pre-ping round trip
        return _dsql_pool(base)


_DSQL_POOLS: dict[type, type] = {}


def _dsql_pool(base: type[Pool]) -> type[Pool]:
    """``base`` whose ``pool_pre_ping`` / ``pool_recycle`` default to DSQL's needs.

    Not given: pre-ping on, and every connection recycled at its own jittered
    deadline before DSQL's 60-minute limit.  Given (also ``pool_pre_ping=False``
    or ``pool_recycle=-1``): exactly what SQLAlchemy documents."""

    def __init__(
        self: Any, creator: Any, recycle: int | None = None, pre_ping: bool | None = None, **kw: Any
    ) -> None:
        if recycle is not None and recycle > rules.CONNECTION_LIFETIME_SECONDS:
            util.warn(
                f"pool_recycle={recycle} is longer than the {rules.CONNECTION_LIFETIME_SECONDS} s "
                "Aurora DSQL lets a connection live; connections will be dropped by the "
                "server first (pre-ping catches them). Leave pool_recycle unset for the "
                "dialect's default."
            )
        base.__init__(  # type: ignore[misc]
            self,
            creator,
            recycle=-1 if recycle is None else recycle,
            pre_ping=True if pre_ping is None else pre_ping,
            **kw,
        )
        if recycle is None:
            _install_recycle_jitter(self, rules.POOL_RECYCLE_SECONDS, POOL_RECYCLE_JITTER)

    cls = _DSQL_POOLS.get(base)
    if cls is None:
        namespace = {"__init__": __init__, "__module__": __name__}
        cls = _DSQL_POOLS[base] = type(f"DSQL{base.__name__}", (base,), namespace)
    return cls


class _ThreadedTokenProvider:
    """Wraps an :class:`~aurora_dsql_sqlalchemy.auth.IAMTokenProvider` for asyncio:
    ``token()`` (a cached token, or signing one) and ``describe_identity()``
    (reads credentials) run in a worker thread, awaited from the greenlet
    SQLAlchemy connects in, so the event loop keeps running meanwhile."""

    def __init__(self, provider: IAMTokenProvider) -> None:
        self.provider = provider

    def __getattr__(self, name: str) -> Any:
        return getattr(self.provider, name)

    def token(self, host: str | None, user: str | None, region: str | None = None) -> str:
        return _in_thread(self.provider.token, host, user, region)  # type: ignore[no-any-return]

    def describe_identity(self, host: str | None, user: str | None) -> str:
        return _in_thread(self.provider.describe_identity, host, user)  # type: ignore[no-any-return]


def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` in a worker thread and wait for it without blocking the event
    loop (from SQLAlchemy's greenlet); called elsewhere, just run it."""
    import asyncio

    from ._compat import await_, in_greenlet

    if not in_greenlet():
        return fn(*args)
    return await_(asyncio.to_thread(fn, *args))


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
