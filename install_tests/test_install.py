"""Installing the distributions as a user would: ``pip install`` of the
clone's folders into fresh virtual environments (dependencies from PyPI).

Each scenario has one venv, made once for this module; pip's cache keeps
reruns fast.  These tests do not depend on the SQLAlchemy x driver matrix,
so they run once (``hatch run install:all``), not in every test environment.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = str(ROOT / "packages" / "core")
PSYCOPG = str(ROOT / "packages" / "psycopg3")
AWS_RELEASE = "aurora-dsql-sqlalchemy==1.3.0"  # AWS's own dialect, same import name


class Venv:
    """A fresh virtual environment, driven through its own executables."""

    def __init__(self, path: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        self.path = path
        self.bin = path / "bin"

    def pip(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.bin / "python"), "-m", "pip", "install", "--disable-pip-version-check", *args],
            capture_output=True, text=True,
        )
        if ok:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def python(self, code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return self.run("python", "-c", textwrap.dedent(code), cwd=cwd)

    def run(self, exe: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / exe), *args], capture_output=True, text=True, cwd=cwd, timeout=300
        )


def _versions(venv: Venv) -> str:
    done = venv.python(
        """
        import importlib.metadata as m
        import aurora_dsql_sqlalchemy as core
        print(m.version("aurora-dsql-sqlalchemy"), core.__version__)
        """
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def core_only(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """``pip install ./packages/core``: the core alone, no driver distribution."""
    venv = Venv(tmp_path_factory.mktemp("core-only") / "venv")
    venv.pip(CORE)
    return venv


@pytest.fixture(scope="module")
def with_driver() -> Iterator[Venv]:
    """The README's command: ``pip install "./packages/core[local]" ./packages/psycopg3``."""
    # Not under pytest's private (0700) temporary folder: run as root, the
    # embedded PostgreSQL runs as an unprivileged user that must reach its binaries.
    folder = Path(tempfile.mkdtemp(prefix="aurora-dsql-install-"))
    folder.chmod(0o755)
    try:
        venv = Venv(folder / "venv")
        venv.pip(f"{CORE}[local]", PSYCOPG)
        yield venv
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_installing_from_the_clone_gives_our_core(core_only: Venv) -> None:
    installed, imported = _versions(core_only).split()
    assert installed == imported
    assert installed.startswith("2."), installed


def test_lint_works_with_only_the_core(core_only: Venv, tmp_path: Path) -> None:
    (tmp_path / "schema.sql").write_text("CREATE TABLE t (id bigint PRIMARY KEY);\nTRUNCATE t;\n")
    (tmp_path / "models.py").write_text(textwrap.dedent(
        """
        from sqlalchemy import ARRAY, Column, Integer, MetaData, String, Table

        metadata = MetaData()
        Table("orders", metadata, Column("id", Integer, primary_key=True), Column("tags", ARRAY(String)))
        """
    ))
    done = core_only.run("aurora-dsql-sqlalchemy", "lint", "schema.sql", "models:metadata", cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[truncate]" in done.stdout and "[column-type]" in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("drivername", "distribution", "folder"),
    [
        ("auroradsql+psycopg2", "aurora-dsql-sqlalchemy-psycopg2", "./packages/psycopg2"),
        ("auroradsql+psycopg", "aurora-dsql-sqlalchemy-psycopg", "./packages/psycopg3"),
    ],
)
def test_a_missing_driver_distribution_is_named(
    core_only: Venv, drivername: str, distribution: str, folder: str
) -> None:
    done = core_only.python(
        f"""
        import sqlalchemy as sa
        try:
            sa.create_engine("{drivername}://admin@localhost/postgres")
        except ImportError as err:
            print(err)
        """
    )
    assert done.returncode == 0, done.stderr
    assert f"pip install {distribution}" in done.stdout, done.stdout
    assert f"pip install ./packages/core {folder}" in done.stdout, done.stdout


def test_the_bare_dialect_name_without_a_driver_says_what_to_install(core_only: Venv) -> None:
    done = core_only.python(
        """
        import sqlalchemy as sa
        try:
            sa.create_engine("auroradsql://admin@localhost/postgres")
        except ImportError as err:
            print(err)
        """
    )
    assert "pip install ./packages/core ./packages/psycopg3" in done.stdout, done.stdout + done.stderr


def test_the_readme_command_gives_a_working_local_mode(with_driver: Venv) -> None:
    done = with_driver.python(
        """
        import importlib.metadata as m
        from importlib.metadata import entry_points

        import sqlalchemy as sa
        from sqlalchemy.dialects import registry
        from aurora_dsql_sqlalchemy import run_transaction
        from aurora_dsql_sqlalchemy.testing.embedded import EmbeddedPostgres
        from aurora_dsql_sqlalchemy_psycopg import AuroraDSQLDialect_psycopg

        print(m.version("aurora-dsql-sqlalchemy"), m.version("aurora-dsql-sqlalchemy-psycopg"))
        # the core and the driver distribution both register the name: same class
        eps = [ep for ep in entry_points(group="sqlalchemy.dialects") if ep.name == "auroradsql.psycopg"]
        assert len(eps) == 2 and all(ep.load() is AuroraDSQLDialect_psycopg for ep in eps), eps
        assert registry.load("auroradsql.psycopg") is AuroraDSQLDialect_psycopg
        with EmbeddedPostgres() as pg:
            engine = sa.create_engine(pg.sqlalchemy_url("auroradsql+psycopg"))
            run_transaction(engine, lambda conn: conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (id bigint PRIMARY KEY)"))
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql("TRUNCATE t")
            except sa.exc.NotSupportedError as err:
                print("refused:", type(err.orig).__name__)
            engine.dispose()
        """
    )
    assert done.returncode == 0, done.stdout + done.stderr
    versions, refused = done.stdout.strip().splitlines()
    assert [v.split(".")[0] for v in versions.split()] == ["2", "2"], versions
    assert refused == "refused: FeatureNotSupported"


def test_pip_never_mixes_our_driver_with_aws_core(tmp_path: Path) -> None:
    venv = Venv(tmp_path / "venv")
    # the driver folder alone: its core (2.x) is not on PyPI, and 1.x never satisfies it
    alone = venv.pip(PSYCOPG, ok=False)
    assert alone.returncode != 0
    assert "aurora-dsql-sqlalchemy<3,>=2.0" in alone.stdout + alone.stderr, alone.stdout + alone.stderr
    assert venv.python("import aurora_dsql_sqlalchemy").returncode != 0  # nothing was installed

    # next to AWS's 1.x: pip refuses to combine them ...
    venv.pip(AWS_RELEASE)
    refused = venv.pip(PSYCOPG, ok=False)
    assert refused.returncode != 0
    assert "aurora-dsql-sqlalchemy<3,>=2.0" in refused.stdout + refused.stderr
    # ... and forced together, importing the driver says what to install
    venv.pip("--no-deps", PSYCOPG)
    done = venv.python("import aurora_dsql_sqlalchemy_psycopg")
    assert "ImportError" in done.stderr
    assert "needs the aurora-dsql-sqlalchemy core 2.x" in done.stderr, done.stderr
    assert "pip install ./packages/core" in done.stderr, done.stderr
