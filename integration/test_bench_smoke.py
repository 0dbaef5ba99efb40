"""Smoke test of the benchmark runner: ``benchmarks/run.py --quick`` runs the
ORM and Core workloads on the test server, checks their results, and prints
a ratio per workload and arm."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import URL

RUNNER = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
RATIO_LINE = re.compile(
    r"^(?P<workload>\w+)\s+(?P<arm>\w+)\s+\d+\s+[\d,.]+\s+[\d,.]+\s+(?P<ratio>\d+\.\d{3})x\s"
)


def test_runner_prints_ratios(pg_url: URL, driver: str, fresh_schema: None) -> None:
    env = dict(os.environ, AURORA_DSQL_TEST_URL=pg_url.render_as_string(hide_password=False))
    done = subprocess.run(
        [
            sys.executable,
            str(RUNNER),
            "--quick",
            "--only",
            "orm,core,auth",
            "--driver",
            driver,
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
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
