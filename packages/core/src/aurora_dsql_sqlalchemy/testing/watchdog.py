"""Stops an embedded PostgreSQL when the process that started it dies.

:class:`~aurora_dsql_sqlalchemy.testing.embedded.EmbeddedPostgres` runs this
file as a separate Python process (standard library only, no package import)
with a pipe as its standard input, before it starts the server.  The parent
never writes to the pipe; when the parent ends -- normally, by an exception,
or killed with SIGKILL -- the operating system closes the pipe's write end and
the read here returns end-of-file.  That is more reliable than polling a pid,
which can be reused.  Then the watchdog

1. sends the postmaster (read from ``postmaster.pid`` in the data directory)
   SIGQUIT, PostgreSQL's immediate shutdown (what ``pg_ctl stop -m immediate``
   sends; ``pg_ctl`` itself refuses to run as root), and SIGKILL if it is still
   there after a few seconds;
2. deletes the temporary directory (data directory and Unix socket) and the
   socket directory, if PostgreSQL put the socket elsewhere;
3. exits.

After a clean :meth:`~aurora_dsql_sqlalchemy.testing.embedded.EmbeddedPostgres.stop`
there is nothing left to do and it exits at once.  Every wait is bounded.

Usage: ``python watchdog.py ROOT`` where ``ROOT`` is the temporary directory
holding the data directory ``ROOT/pg``.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

QUIT_WAIT_SECONDS = 5.0
KILL_WAIT_SECONDS = 2.0
STARTUP_GRACE_SECONDS = 3.0
POLL_SECONDS = 0.02


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): signal 0 succeeded
    # "pid (comm) STATE ...": comm may contain spaces or parentheses
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def _postmaster(pgdata: Path) -> tuple[int | None, Path | None]:
    """The postmaster's pid and socket directory from ``postmaster.pid``."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None, None
    pid = int(lines[0]) if lines and lines[0].strip().isdigit() else None
    socket_dir = Path(lines[4]) if len(lines) > 4 and lines[4].strip() else None
    return pid, socket_dir


def _is_postgres(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust postmaster.pid
    return b"postgres" in cmdline


def clean_up(root: Path) -> None:
    """Stop the server whose data directory is ``root/pg`` and delete ``root``."""
    pgdata = root / "pg"
    pid, socket_dir = _postmaster(pgdata)
    deadline = time.monotonic() + STARTUP_GRACE_SECONDS
    while pid is None and (pgdata / "PG_VERSION").exists() and time.monotonic() < deadline:
        # the parent died while pg_ctl was starting the server: pg_ctl goes on
        time.sleep(POLL_SECONDS * 5)
        pid, socket_dir = _postmaster(pgdata)
    if pid is not None and alive(pid) and _is_postgres(pid):
        try:
            os.kill(pid, signal.SIGQUIT)
        except ProcessLookupError:
            pass
        if not _wait_gone(pid, QUIT_WAIT_SECONDS):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _wait_gone(pid, KILL_WAIT_SECONDS)
    shutil.rmtree(root, ignore_errors=True)
    if socket_dir is not None and root not in socket_dir.parents and socket_dir != root:
        for name in (".s.PGSQL.5432", ".s.PGSQL.5432.lock"):
            try:
                (socket_dir / name).unlink()
            except OSError:
                pass
        try:
            socket_dir.rmdir()  # pgserver made it for this server only; kept if not empty
        except OSError:
            pass


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: watchdog.py ROOT", file=sys.stderr)
        return 2
    root = Path(argv[1])
    # Ctrl-C reaches the whole foreground group; the parent handles it and
    # this process cleans up only once the parent is gone.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        while sys.stdin.buffer.read(65536):
            pass  # the parent writes nothing; read until end-of-file
    finally:
        clean_up(root)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
