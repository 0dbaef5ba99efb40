"""Several endpoints for one database: multi-Region clusters and failover.

A multi-Region Aurora DSQL cluster is two peered Regional clusters over one
logical database (a third, witness Region has no endpoint).  Name both
endpoints in one URL, the preferred one first, as libpq's host list::

    engine = create_engine(
        "auroradsql+psycopg://admin@/postgres"
        "?host=<cluster-1>.dsql.us-east-1.on.aws"
        "&host=<cluster-2>.dsql.us-east-2.on.aws"
    )

and every new connection

* goes to the first endpoint that answers, in the order given;
* gets an IAM token signed for *that* endpoint, in its own Region (read from
  its name; for other host names give one region per host,
  ``?region=us-east-1,us-east-2``; a single ``region`` applies to all);
* skips, for :data:`HOLD_SECONDS`, an endpoint that just failed to answer, so
  that while one Region is down each connection costs one attempt, not two;
  after that the preferred endpoint is tried again (fail-back).

An endpoint that refuses with a server answer (authentication, too many
connections, rate exceeded) is not skipped: that answer says something about
the cluster, not about the endpoint's reachability, and is handled as for a
single endpoint.  ``connect_timeout`` defaults to
:data:`DEFAULT_CONNECT_TIMEOUT` seconds with several endpoints, so an endpoint
that stops answering without refusing does not hold a connection attempt
for the operating system's TCP timeout.

What this gives, and what it does not: connections already open to the lost
endpoint fail (the pool discards them), and
:func:`~aurora_dsql_sqlalchemy.retry.run_transaction` re-runs a unit of work
whose connection was lost before COMMIT on a new connection, which lands on
the surviving endpoint.  A connection lost *during* COMMIT is
:class:`~aurora_dsql_sqlalchemy.errors.CommitOutcomeUnknown`: the other
Region may or may not have the commit, so only a unit of work that is safe
to apply twice (``idempotent=True``) is re-run.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, replace
from typing import Any, Final

from sqlalchemy import exc as sa_exc

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "HOLD_SECONDS", "Endpoint", "Endpoints", "did_not_answer"]

HOLD_SECONDS: Final = 30.0
"""How long an endpoint that failed to answer is tried last."""

DEFAULT_CONNECT_TIMEOUT: Final = 10
"""``connect_timeout`` (seconds, per endpoint) when several endpoints are named
and none is given."""


_UNANSWERED: Final = re.compile(
    r"connection refused|timeout expired|timed out|could not translate host name"
    r"|name or service not known|no route to host|network is unreachable"
    r"|server closed the connection unexpectedly|connection reset",
    re.IGNORECASE,
)
"""How libpq and the drivers say that nothing answered at an address (no
server message: the endpoint is unreachable, not refusing)."""


def did_not_answer(error: BaseException) -> bool:
    """Whether a failed connection attempt got no answer from the server."""
    return _UNANSWERED.search(str(error)) is not None


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of the host list: host, port (``None``: the default) and
    the region its tokens are signed for (``None``: decided by the signer)."""

    host: str
    port: str | None
    region: str | None

    def connect_params(self, cparams: MutableMapping[str, Any]) -> dict[str, Any]:
        """The driver's connect parameters for this endpoint alone."""
        params = {**cparams, "host": self.host}
        params.pop("port", None)
        if self.port:
            params["port"] = self.port
        return params


class Endpoints:
    """The endpoints of a host list, preferred first, with a short memory of
    those that failed to answer (shared by the engine's connection attempts)."""

    def __init__(
        self,
        endpoints: tuple[Endpoint, ...],
        hold_seconds: float = HOLD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoints = endpoints
        self.hold_seconds = hold_seconds
        self._clock = clock
        self._held_until: dict[Endpoint, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_params(cls, cparams: MutableMapping[str, Any], region: str | None) -> Endpoints | None:
        """The endpoints of ``cparams``' host list (``host="a,b"``, ``port="1,2"``
        as SQLAlchemy passes ``?host=a:1&host=b:2``), or ``None`` for one host."""
        host = cparams.get("host")
        if not isinstance(host, str) or "," not in host:
            return None
        hosts = [part.strip() for part in host.split(",")]
        ports = _spread("port", str(cparams["port"]).split(",") if cparams.get("port") else [], hosts)
        regions = _spread("region", region.split(",") if region else [], hosts)
        return cls(
            tuple(
                Endpoint(h, _blank_as_none(p), _blank_as_none(r))
                for h, p, r in zip(hosts, ports, regions, strict=True)
            )
        )

    def with_regions(self, resolve: Callable[[str], str]) -> Endpoints:
        """These endpoints, each with a region (``resolve(host)`` where none was given)."""
        return Endpoints(
            tuple(replace(e, region=e.region or resolve(e.host)) for e in self.endpoints),
            self.hold_seconds,
            self._clock,
        )

    def __iter__(self) -> Iterator[Endpoint]:
        return iter(self.endpoints)

    def in_order(self) -> list[Endpoint]:
        """The endpoints to try, preferred first; those held after a failure last."""
        now = self._clock()
        with self._lock:
            held = {e for e, until in self._held_until.items() if until > now}
        return [e for e in self.endpoints if e not in held] + [e for e in self.endpoints if e in held]

    def failed(self, endpoint: Endpoint) -> None:
        """``endpoint`` did not answer: try it last for a while."""
        with self._lock:
            self._held_until[endpoint] = self._clock() + self.hold_seconds

    def answered(self, endpoint: Endpoint) -> None:
        with self._lock:
            self._held_until.pop(endpoint, None)


def _blank_as_none(value: str | None) -> str | None:
    return (value or "").strip() or None


def _spread(what: str, values: list[str], hosts: list[str]) -> list[str | None]:
    """libpq's rule for a list beside the host list: one value applies to
    every host, otherwise one per host."""
    if not values:
        return [None] * len(hosts)
    if len(values) == 1:
        return values * len(hosts)  # type: ignore[return-value]
    if len(values) != len(hosts):
        raise sa_exc.ArgumentError(
            f"{len(hosts)} hosts but {len(values)} values of {what} ({','.join(values)}): "
            f"give one {what} for all hosts, or one per host in the same order."
        )
    return values  # type: ignore[return-value]
