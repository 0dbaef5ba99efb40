"""An embedded PostgreSQL 16 for local mode, tests and examples.

Starts a private PostgreSQL server from the ``pgserver`` wheel (PostgreSQL
16.2, DSQL's major version: no Docker, no system install) in a temporary
directory, listening only on a Unix socket.  When run as root, ``pgserver``
runs the server as an unprivileged ``pgserver`` system user.  Leaving the
``with`` block (or interpreter exit) stops the server and deletes its data
directory::

    from aurora_dsql_sqlalchemy.testing.embedded import EmbeddedPostgres

    with EmbeddedPostgres() as pg:
        engine = create_engine(pg.sqlalchemy_url("auroradsql+psycopg"))

Install with ``pip install aurora-dsql-sqlalchemy[local]``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy.engine import URL, make_url

__all__ = ["EmbeddedPostgres"]

log = logging.getLogger("aurora_dsql_sqlalchemy.testing")
logging.getLogger("pgserver").setLevel(logging.WARNING)


class EmbeddedPostgres:
    """A throwaway PostgreSQL server; ``url`` is a libpq-style ``postgresql://`` URL."""

    def __init__(self) -> None:
        self._server: Any = None
        self._parent: Path | None = None
        self.url: str = ""
        self.start_seconds: float = 0.0

    def start(self) -> EmbeddedPostgres:
        try:
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells)
                warnings.simplefilter("ignore")
                import pgserver
        except ImportError as missing:  # pragma: no cover - depends on install
            raise RuntimeError(
                "The embedded PostgreSQL needs the 'pgserver' wheel: "
                "pip install aurora-dsql-sqlalchemy[local]"
            ) from missing
        started = time.perf_counter()
        # a short path: the server's Unix socket lives in the data directory
        self._parent = Path(tempfile.mkdtemp(prefix="adsql-", dir="/tmp"))
        self._server = pgserver.get_server(self._parent / "pg", cleanup_mode="delete")
        self.url = self._server.get_uri()
        self.start_seconds = time.perf_counter() - started
        log.info("embedded PostgreSQL started in %.2fs: %s", self.start_seconds, self.url)
        return self

    def sqlalchemy_url(self, drivername: str = "auroradsql+psycopg", database: str = "postgres") -> URL:
        """The server as a SQLAlchemy URL with the given dialect+driver."""
        url = make_url(self.url).set(drivername=drivername, database=database)
        return url

    def stop(self) -> None:
        """Stop the server and delete its data directory."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
        if self._parent is not None:
            shutil.rmtree(self._parent, ignore_errors=True)
            self._parent = None

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
