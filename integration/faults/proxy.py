"""A fault-injecting PostgreSQL proxy for the tests, on loopback only.

:class:`FaultProxy` listens on ``127.0.0.1`` (an ephemeral port) and forwards
each client connection to the test PostgreSQL (a Unix socket, as the embedded
server has, or a ``127.0.0.1`` TCP port).  It understands just enough of the
PostgreSQL protocol to inject the faults Aurora DSQL's clients meet:

* :meth:`~FaultProxy.drop_all`: cut every open connection now (no error, as a
  network failure or a failover looks to the client);
* :meth:`~FaultProxy.drop_on`: cut the next connection whose client sends a
  query matching a pattern (e.g. ``COMMIT``), either before the server sees it
  or after the server ran it but before the answer reaches the client;
* :meth:`~FaultProxy.refuse`: answer new connections with a server error
  (SQLSTATE, message, optional HINT), as DSQL refuses them at connect;
* :meth:`~FaultProxy.rate_limit`: refuse new connections past a token bucket
  (DSQL's 100 new connections/s, burst 1,000);
* :meth:`~FaultProxy.close_after`: close the next connection silently once
  the server has sent that many more bytes to the client (DSQL's answer to a
  protocol message over 10 MiB).

With :attr:`~FaultProxy.ask_password` set, the proxy asks each client for a
password (cleartext, as DSQL receives IAM tokens inside TLS) and records it in
:attr:`~FaultProxy.passwords` before forwarding the connection: what an
endpoint was sent, as a test can check it.

Every fault injected is counted in :attr:`FaultProxy.faults` (per kind).  The
proxy runs an asyncio loop in a daemon thread; :meth:`~FaultProxy.stop` (or
leaving the ``with`` block) closes everything, and it stops by itself after
``lifetime`` seconds in any case.
"""

from __future__ import annotations

import asyncio
import re
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType

from sqlalchemy.engine import URL

LOOPBACK = "127.0.0.1"
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
MAX_STARTUP_BYTES = 10_000
CHUNK = 65_536


def error_response(sqlstate: str, message: str, hint: str | None = None) -> bytes:
    """A FATAL ``ErrorResponse`` message."""
    fields = b"SFATAL\0VFATAL\0C" + sqlstate.encode() + b"\0M" + message.encode() + b"\0"
    if hint:
        fields += b"H" + hint.encode() + b"\0"
    fields += b"\0"
    return b"E" + struct.pack("!I", len(fields) + 4) + fields


@dataclass
class _Refusal:
    sqlstate: str
    message: str
    hint: str | None
    remaining: int | None  # None: until cleared


@dataclass
class _DropRule:
    pattern: re.Pattern[bytes]
    forward: bool
    remaining: int


@dataclass
class _Bucket:
    rate: float
    burst: float
    sqlstate: str
    message: str
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class _Link:
    """One client connection and its upstream."""

    def __init__(self, proxy: FaultProxy, client: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.mute = False  # drop the server's answers (a forwarded message whose answer is lost)
        self.close_after: int | None = None

    def cut(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()


class FaultProxy:
    """A TCP proxy on ``127.0.0.1`` in front of a PostgreSQL server, injecting faults.

    :param unix_socket_dir: the server's Unix socket directory (``host=`` of
        the embedded server's URL), or
    :param upstream_port: the server's port (on ``127.0.0.1``, or in the
        socket's file name).
    :param lifetime: seconds after which the proxy stops by itself.
    """

    def __init__(
        self,
        *,
        unix_socket_dir: str | None = None,
        upstream_port: int = 5432,
        lifetime: float = 600.0,
    ) -> None:
        self._unix_path = None if unix_socket_dir is None else f"{unix_socket_dir}/.s.PGSQL.{upstream_port}"
        self._upstream_port = upstream_port
        self._lifetime = lifetime
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._ready = threading.Event()
        self._server: asyncio.base_events.Server | None = None
        self._links: set[_Link] = set()
        self._refusal: _Refusal | None = None
        self._drops: list[_DropRule] = []
        self._bucket: _Bucket | None = None
        self._close_after: int | None = None
        self._lock = threading.Lock()
        self.port = 0
        self.faults: Counter[str] = Counter()
        """Faults injected, per kind."""
        self.connections = 0
        """Client connections accepted (refused ones included)."""
        self.ask_password = False
        """Ask every client for a password before forwarding (see the module docs)."""
        self.passwords: list[str] = []
        """The passwords clients sent, in order (with :attr:`ask_password`)."""

    @classmethod
    def for_url(cls, url: URL, **kw: float) -> FaultProxy:
        """A proxy in front of the server a (libpq- or SQLAlchemy-style) URL names."""
        host = url.query.get("host") or url.host
        if isinstance(host, tuple):
            host = host[0]
        query_port = url.query.get("port")
        if isinstance(query_port, tuple):
            query_port = query_port[0]
        port = int(url.port or query_port or 5432)  # a socket URL may carry the port in its query
        if host and str(host).startswith("/"):
            return cls(unix_socket_dir=str(host), upstream_port=port, **kw)  # type: ignore[arg-type]
        if host not in (LOOPBACK, "localhost"):
            raise ValueError(f"the fault proxy forwards to loopback only, not {host!r}")
        return cls(upstream_port=port, **kw)  # type: ignore[arg-type]

    def url(self, url: URL) -> URL:
        """``url`` pointed at this proxy."""
        query = {k: v for k, v in url.query.items() if k not in ("host", "port")}
        return url.set(host=LOOPBACK, port=self.port, query=query)

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._shutdown)
            self._thread.join(10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, LOOPBACK, 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._loop.call_later(self._lifetime, self._shutdown)
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.cut()
        self._loop.call_later(0.05, self._loop.stop)

    # -- controls (any thread) -----------------------------------------------------------

    def drop_all(self) -> int:
        """Cut every open connection now; returns how many."""
        done = threading.Event()
        count = [0]

        def cut() -> None:
            count[0] = len(self._links)
            for link in list(self._links):
                link.cut()
            self.faults["dropped"] += count[0]
            # abort() closes the sockets on the loop's next pass: return after it
            self._loop.call_soon(done.set)

        self._loop.call_soon_threadsafe(cut)
        done.wait(5)
        return count[0]

    def drop_on(self, pattern: str, *, forward: bool = False, count: int = 1) -> None:
        """Cut the next ``count`` connections whose client sends a query
        (simple or extended protocol) matching ``pattern`` (a regular
        expression, case-insensitive, searched in the SQL text).

        ``forward=False``: the server never sees the message.  ``forward=True``:
        the server gets it and runs it, its answer is lost, then the
        connection is cut (a COMMIT that committed, with the client left not
        knowing)."""
        with self._lock:
            self._drops.append(_DropRule(re.compile(pattern.encode(), re.I), forward, count))

    def refuse(self, sqlstate: str, message: str, hint: str | None = None, count: int | None = None) -> None:
        """Answer the next ``count`` new connections (all, if ``None``, until
        :meth:`clear`) with a FATAL error instead of forwarding them."""
        with self._lock:
            self._refusal = _Refusal(sqlstate, message, hint, count)

    def rate_limit(self, per_second: float, burst: int, sqlstate: str, message: str) -> None:
        """Refuse new connections past a token bucket of ``burst`` filled at ``per_second``."""
        with self._lock:
            self._bucket = _Bucket(per_second, burst, sqlstate, message, tokens=float(burst))

    def close_after(self, nbytes: int) -> None:
        """Close the next connection that gets a query, once the server has sent
        ``nbytes`` more bytes to the client after it; no error is sent."""
        with self._lock:
            self._close_after = nbytes

    def clear(self) -> None:
        """Stop injecting faults (open connections stay)."""
        with self._lock:
            self._refusal = None
            self._drops.clear()
            self._bucket = None
            self._close_after = None

    @property
    def open_connections(self) -> int:
        return len(self._links)

    # -- the protocol --------------------------------------------------------------

    def _refusal_for_new(self) -> bytes | None:
        with self._lock:
            refusal = self._refusal
            if refusal is not None:
                if refusal.remaining is not None:
                    refusal.remaining -= 1
                    if refusal.remaining <= 0:
                        self._refusal = None
                self.faults[f"refused-{refusal.sqlstate}"] += 1
                return error_response(refusal.sqlstate, refusal.message, refusal.hint)
            bucket = self._bucket
            if bucket is not None and not bucket.take():
                self.faults[f"rate-refused-{bucket.sqlstate}"] += 1
                return error_response(bucket.sqlstate, bucket.message)
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        link = _Link(self, writer)
        self._links.add(link)
        try:
            startup = await self._startup(reader, writer)
            if startup is None:
                return
            refused = self._refusal_for_new()
            if refused is not None:
                writer.write(refused)
                await writer.drain()
                return
            if self.ask_password:
                self.passwords.append(await self._password(reader, writer))
            if self._unix_path is not None:
                up_reader, up_writer = await asyncio.open_unix_connection(self._unix_path)
            else:
                up_reader, up_writer = await asyncio.open_connection(LOOPBACK, self._upstream_port)
            link.upstream = up_writer
            up_writer.write(startup)
            await asyncio.gather(
                self._client_to_server(link, reader, up_writer),
                self._server_to_client(link, up_reader, writer),
            )
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self._links.discard(link)
            link.cut()

    async def _startup(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes | None:
        """Answer SSL/GSS requests with 'N' (plain TCP on loopback); return the
        startup message, or ``None`` for a cancel request (forwarded)."""
        for _ in range(3):
            head = await reader.readexactly(8)
            length, code = struct.unpack("!II", head)
            if not 8 <= length <= MAX_STARTUP_BYTES:
                return None
            body = await reader.readexactly(length - 8)
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                writer.write(b"N")
                await writer.drain()
                continue
            if code == CANCEL_REQUEST:
                await self._forward_cancel(head + body)
                return None
            return head + body
        return None

    @staticmethod
    async def _password(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        """Ask for a cleartext password (``AuthenticationCleartextPassword``) and
        read the client's ``PasswordMessage``; the server then answers the
        forwarded startup with its own authentication (``AuthenticationOk``)."""
        writer.write(b"R" + struct.pack("!II", 8, 3))
        await writer.drain()
        kind, length = struct.unpack("!cI", await reader.readexactly(5))
        body = await reader.readexactly(length - 4)
        if kind != b"p":
            raise ConnectionError(f"expected a password message, got {kind!r}")
        return body.rstrip(b"\0").decode()

    async def _forward_cancel(self, message: bytes) -> None:
        if self._unix_path is not None:
            _, up = await asyncio.open_unix_connection(self._unix_path)
        else:
            _, up = await asyncio.open_connection(LOOPBACK, self._upstream_port)
        up.write(message)
        await up.drain()
        up.close()

    def _matching_drop(self, message: bytes) -> _DropRule | None:
        kind = message[:1]
        if kind not in (b"Q", b"P"):
            return None
        with self._lock:
            if not self._drops:
                return None
            body = message[5:]
            if kind == b"P":  # Parse: statement name, then the query
                body = body.partition(b"\0")[2]
            text = body.partition(b"\0")[0]
            for rule in self._drops:
                if rule.pattern.search(text):
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._drops.remove(rule)
                    return rule
        return None

    async def _client_to_server(
        self, link: _Link, reader: asyncio.StreamReader, upstream: asyncio.StreamWriter
    ) -> None:
        while True:
            head = await reader.readexactly(5)
            (length,) = struct.unpack("!I", head[1:])
            message = head + await reader.readexactly(length - 4)
            if self._close_after is not None and message[:1] in (b"Q", b"P"):
                with self._lock:
                    link.close_after, self._close_after = self._close_after, None
            rule = self._matching_drop(message)
            if rule is not None and not rule.forward:
                self.faults["dropped-before-query"] += 1
                link.cut()
                return
            if rule is not None:
                link.mute = True  # the server runs it; its answer is lost
                self.faults["dropped-after-query"] += 1
            upstream.write(message)
            await upstream.drain()
            # a simple query, or the Sync ending an extended-protocol exchange
            if link.mute and message[:1] in (b"Q", b"S"):
                await asyncio.sleep(0.3)
                link.cut()
                return

    async def _server_to_client(
        self, link: _Link, reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                return
            if link.mute:
                continue
            if link.close_after is not None:
                if len(data) >= link.close_after:
                    client.write(data[: link.close_after])
                    await client.drain()
                    self.faults["closed-after-bytes"] += 1
                    link.cut()
                    return
                link.close_after -= len(data)
            client.write(data)
            await client.drain()
