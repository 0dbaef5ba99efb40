"""Smoke test of the benchmark runner: ``benchmarks/run.py --quick`` runs the
ORM and Core workloads on the test server, checks their results, and prints
a ratio per workload and arm."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

RUNNER = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
RATIO_LINE = re.compile(
    r"^(?P<workload>\w+)\s+(?P<arm>\w+)\s+\d+\s+[\d,.]+\s+[\d,.]+\s+(?P<ratio>\d+\.\d{3})x\s"
)


def _run(pg_url: URL, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AURORA_DSQL_TEST_URL=pg_url.render_as_string(hide_password=False))
    return subprocess.run(
        [sys.executable, str(RUNNER), *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


def test_runner_prints_ratios(pg_url: URL, driver: str, fresh_schema: None) -> None:
    done = _run(pg_url, "--quick", "--only", "orm,core,auth", "--driver", driver)
    assert done.returncode == 0, done.stdout + done.stderr
    ratios = {
        (m["workload"], m["arm"]): float(m["ratio"])
        for m in map(RATIO_LINE.match, done.stdout.splitlines())
        if m
    }
    expected = {
        (workload, arm)
        for workload in ("orm", "core_select", "core_insert", "core_checkout")
        for arm in ("translate", "strict")
    } | {("connect", arm) for arm in ("translate", "iam", "iam_sign_each")}
    assert set(ratios) == expected, done.stdout
    assert all(0.0 < ratio < 100.0 for ratio in ratios.values()), ratios
    assert "machine:" in done.stdout


def _synchronous_commit(pg_url: URL) -> str:
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SHOW synchronous_commit").scalar())
    finally:
        engine.dispose()


def test_server_setting_is_reported_and_reset_after_the_run(
    pg_url: URL, driver: str, fresh_schema: None, tmp_path: Path
) -> None:
    before = _synchronous_commit(pg_url)
    report = tmp_path / "ddl.json"
    done = _run(
        pg_url, "--quick", "--only", "ddl", "--driver", driver,
        "--server-setting", "synchronous_commit=OFF", "--json", str(report),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # as a new session of the run reports it (the server's spelling, not the argument's)
    assert "server settings: synchronous_commit=off" in done.stdout
    assert json.loads(report.read_text())["server_settings"] == {"synchronous_commit": "off"}
    arms = {m["arm"] for m in map(RATIO_LINE.match, done.stdout.splitlines()) if m and m["workload"] == "ddl"}
    assert arms == {"stock_autocommit", "translate", "strict"}, done.stdout
    assert _synchronous_commit(pg_url) == before  # the database's setting is reset


def test_server_setting_the_server_refuses_fails_the_run(pg_url: URL, driver: str) -> None:
    before = _synchronous_commit(pg_url)
    done = _run(
        pg_url, "--quick", "--only", "ddl", "--driver", driver,
        "--server-setting", "application_name=bench", "--server-setting", "synchronous_commit=sideways",
    )
    assert done.returncode != 0
    assert 'invalid value for parameter "synchronous_commit"' in done.stderr
    assert _synchronous_commit(pg_url) == before
    engine = sa.create_engine(pg_url)
    try:  # the setting applied before the refused one is reset too
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW application_name").scalar() != "bench"
    finally:
        engine.dispose()


def test_server_setting_must_be_name_equals_value(pg_url: URL) -> None:
    done = _run(pg_url, "--quick", "--only", "ddl", "--server-setting", "synchronous_commit")
    assert done.returncode == 2
    assert "expected NAME=VALUE" in done.stderr
