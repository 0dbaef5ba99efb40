"""Alembic's own third-party dialect suite (``alembic.testing.suite``), in local mode.

The suite runs on SQLAlchemy's testing plugin, which must not load into this
test session, so it runs as its own pytest process rooted at
``integration/alembic_suite`` (its ``pytest.ini`` / ``setup.cfg``) against
this session's server.  Every skip names the DSQL rule behind it
(``alembic_suite/dsql_alembic_plugin.py`` and ``dsql_alembic_requirements.py``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import URL

SUITE = Path(__file__).resolve().parent / "alembic_suite"


def test_alembic_suite(dsql_url: URL, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(SUITE / "pytest.ini"),
            "--rootdir",
            str(SUITE),
            str(SUITE / "suite_alembic.py"),
            "--dburi",
            dsql_url.render_as_string(hide_password=False),
            "-q",
            "-rs",
        ],
        cwd=tmp_path,  # Alembic's suite writes its scratch directory here
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    counts = {
        kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)
    }
    print(f"alembic.testing.suite ({dsql_url.drivername}): {summary}")
    assert result.returncode == 0 and counts.get("passed", 0) > 90, output[-6000:]
    skips = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    assert all("DSQL rule" in line for line in skips), "\n".join(skips)
