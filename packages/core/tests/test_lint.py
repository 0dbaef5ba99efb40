"""The ``aurora-dsql-sqlalchemy lint`` command: SQL files and SQLAlchemy metadata."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from aurora_dsql_sqlalchemy.__main__ import main
from aurora_dsql_sqlalchemy.lint import lint_metadata, lint_sql, load_metadata
from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MIGRATION = textwrap.dedent(
    """\
    -- a migration written for PostgreSQL
    CREATE TABLE orders (
        id serial PRIMARY KEY,
        note text COLLATE "C",
        total numeric
    );
    CREATE INDEX ix_orders_note ON orders (note);

    CREATE INDEX ASYNC ix_orders_total ON orders (total);
    TRUNCATE orders;
    """
)


def test_sql_findings_have_file_line_rule_and_advice() -> None:
    found = lint_sql(MIGRATION, file="0001.sql")
    assert [(f.location, f.rule, f.severity) for f in found] == [
        ("0001.sql:2", "serial", "error"),
        ("0001.sql:2", "collate", "error"),
        ("0001.sql:2", "numeric-precision", "warning"),
        ("0001.sql:7", "index-async", "error"),
        ("0001.sql:10", "truncate", "error"),
    ]
    truncate = found[-1]
    assert truncate.sqlstate == "0A000"
    assert truncate.message == "unsupported statement: Truncate"
    assert "DELETE" in truncate.advice
    assert truncate.statement == "TRUNCATE orders"


def test_indexes_per_table_are_counted_across_a_file() -> None:
    # the primary key is an index too: 1 + 24 = 25 > 24
    sql = "CREATE TABLE t (id int PRIMARY KEY" + "".join(f", c{i} int" for i in range(24)) + ");\n"
    sql += "".join(f"CREATE INDEX ASYNC ix_{i} ON t (c{i});\n" for i in range(24))
    found = lint_sql(sql, file="m.sql")
    assert [(f.rule, f.line) for f in found] == [("indexes-per-table", 25)]
    assert lint_sql(sql.rsplit("CREATE INDEX", 1)[0]) == []


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    note: Mapped[str] = mapped_column(String(200))
    tags = mapped_column(ARRAY(String))


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    doc = mapped_column(JSONB)
    price = mapped_column(Numeric)
    __table_args__ = (
        Index("ix_items_doc", "doc"),
        Index("ix_items_order", "order_id", postgresql_using="hash"),
    )


def test_metadata_compile_refusals_and_ddl_are_findings() -> None:
    found = lint_metadata(Base.metadata)
    by_rule = {f.rule: f for f in found}
    assert set(by_rule) == {
        "column-type",
        "numeric-precision",
        "index-key-type",
        "index-using",
    }
    assert by_rule["numeric-precision"].severity == "warning"
    assert all(f.severity == "error" for f in found if f.rule != "numeric-precision")
    # located in this file: classes by their definition, indexes by their name
    here = Path(__file__).name
    column_type = by_rule["column-type"]
    assert column_type.file is not None and column_type.file.endswith(here)
    using = by_rule["index-using"]
    assert using.file is not None and using.file.endswith(here)
    assert using.line is not None and column_type.line is not None
    source = Path(__file__).read_text().splitlines()
    assert "ix_items_order" in source[using.line - 1]
    assert "tags = mapped_column(ARRAY(String))" in source[column_type.line - 1]  # the column's line


def test_clean_metadata_has_no_findings() -> None:
    metadata = MetaData()
    Table(
        "accounts",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("email", String(200), unique=True),
        Column("balance", Numeric(12, 2)),
        Index("ix_accounts_balance", "balance"),
    )
    Table(
        "entries",
        metadata,
        Column("id", BigInteger, primary_key=True),
        Column("account_id", ForeignKey("accounts.id")),
    )
    assert lint_metadata(metadata) == []


def test_too_many_indexes_in_metadata() -> None:
    metadata = MetaData()
    columns = [Column(f"c{i}", Integer) for i in range(24)]
    table = Table("wide", metadata, Column("id", Integer, primary_key=True), *columns)
    for i in range(24):
        Index(f"ix_wide_{i}", table.c[f"c{i}"])
    found = lint_metadata(metadata)
    assert [f.rule for f in found] == ["indexes-per-table"]


def test_command_on_sql_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "migrations" / "0001.sql"
    bad.parent.mkdir()
    bad.write_text(MIGRATION)
    good = tmp_path / "good.sql"
    good.write_text("CREATE TABLE t (id uuid PRIMARY KEY DEFAULT gen_random_uuid());\n")

    assert main(["lint", str(good)]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out

    assert main(["lint", str(tmp_path / "migrations")]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:10: error [truncate] TRUNCATE orders: unsupported statement: Truncate" in out
    assert "4 error(s), 1 warning(s)" in out

    assert main(["lint", "--format", "json", str(bad), str(good)]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["summary"] == {"errors": 4, "warnings": 1, "problems": 0}
    first = document["findings"][0]
    assert {k: first[k] for k in ("rule", "severity", "sqlstate", "file", "line", "location")} == {
        "rule": "serial",
        "severity": "error",
        "sqlstate": "42704",
        "file": str(bad),
        "line": 2,
        "location": f"{bad}:2",
    }

    relaxed = [
        "--relax",
        "serial",
        "--relax",
        "collate",
        "--relax",
        "index-async",
        "--relax",
        "truncate",
    ]
    assert main(["lint", *relaxed, str(bad)]) == 0  # the warning alone doesn't fail

    assert main(["lint", str(tmp_path / "missing.sql")]) == 2
    assert main(["lint", "--relax", "no-such-rule", str(good)]) == 2


def test_command_on_a_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "shop_models.py").write_text(
        textwrap.dedent(
            """\
            from sqlalchemy import Column, Integer, MetaData, String, Table
            from sqlalchemy.dialects.postgresql import INET

            metadata = MetaData()

            visits = Table(
                "visits",
                metadata,
                Column("id", Integer, primary_key=True),
                Column("addr", INET),
            )
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["lint", "shop_models:metadata"]) == 1
    out = capsys.readouterr().out
    assert "shop_models.py:10: error [column-type]" in out  # Column("addr", INET)
    assert load_metadata("shop_models") is load_metadata("shop_models:metadata")
    assert main(["lint", "shop_models:nothing"]) == 2
    assert main(["lint", "no_such_module_xyz:metadata"]) == 2


def test_python_dash_m_runs_the_command(tmp_path: Path) -> None:
    sql = tmp_path / "x.sql"
    sql.write_text("LOCK TABLE t;\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "aurora_dsql_sqlalchemy",
            "lint",
            "--format",
            "json",
            str(sql),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["findings"][0]["rule"] == "lock-table"


def test_sequences_are_compiled_and_checked() -> None:
    from sqlalchemy import Sequence

    metadata = MetaData()
    Sequence("good_seq", metadata=metadata)  # the dialect writes CACHE 65536
    Sequence("bad_seq", cache=100, metadata=metadata)
    found = lint_metadata(metadata)
    assert [f.rule for f in found] == ["sequence-cache"]
    assert "100" in found[0].object + found[0].message


# -- the command as a user runs it (issue 15) ------------------------------------------------


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aurora_dsql_sqlalchemy", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )


def test_psql_meta_commands_are_skipped_and_typos_reported(tmp_path: Path) -> None:
    script = tmp_path / "schema.sql"
    script.write_text(
        "\\set ON_ERROR_STOP on\n"
        "CREATE TABLE t (id serial PRIMARY KEY, tags text[]);\n"
        "SELEC oops;\n"
        "TRUNCATE t;\n"
    )
    result = _cli("lint", str(script))
    assert result.returncode == 2, result.stdout + result.stderr  # something was not checked
    out = result.stdout
    assert f"{script}:2: error [serial]" in out
    assert f"{script}:2: error [column-type]" in out
    assert f"{script}:4: error [truncate]" in out
    assert f"{script}:3: not checked: cannot parse 'SELEC oops'" in out
    assert "3 error(s), 0 warning(s), 1 not checked" in out


def test_a_target_with_nothing_to_check_is_not_clean(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _cli("lint", str(empty))
    assert result.returncode == 2
    assert "nothing to check" in result.stdout


MIGRATION_PY = """\
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"


def upgrade():
    op.add_column("orders", sa.Column("note", sa.Text(), nullable=False))
    op.execute("TRUNCATE orders")
    op.alter_column("orders", "total", type_=sa.BigInteger())
    op.create_index("ix_orders_note", "orders", ["note"])


def downgrade():
    op.drop_column("orders", "note")
"""


def test_alembic_migrations_folder(tmp_path: Path) -> None:
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (tmp_path / "migrations" / "env.py").write_text("raise RuntimeError('env.py is not a migration')\n")
    (versions / "0002_note.py").write_text(MIGRATION_PY)
    result = _cli("lint", "--format", "json", str(tmp_path / "migrations"))
    assert result.returncode == 1, result.stdout + result.stderr
    found = json.loads(result.stdout)["findings"]
    assert [(f["rule"], f["line"]) for f in found] == [
        ("add-column-constraint", 9),
        ("truncate", 10),
        ("alter-column-type", 11),
    ]
    assert all(f["file"].endswith("0002_note.py") for f in found)


def test_every_violation_of_a_table_at_its_column(tmp_path: Path) -> None:
    (tmp_path / "wide_models.py").write_text(
        textwrap.dedent(
            """\
            from sqlalchemy import Column, Integer, MetaData, Numeric, String, Table
            from sqlalchemy.dialects.postgresql import ARRAY, INET

            metadata = MetaData()

            hosts = Table(
                "hosts",
                metadata,
                Column("id", Integer, primary_key=True),
                Column("tags", ARRAY(String)),
                Column("addr", INET),
                Column("price", Numeric()),
            )
            """
        )
    )
    result = _cli("lint", "wide_models:metadata", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("wide_models.py:")]
    assert [line.split(" [")[0] for line in lines] == [
        "wide_models.py:10: error",
        "wide_models.py:11: error",
        "wide_models.py:12: warning",
    ]


def test_version_broken_pipe_and_module_without_attribute(tmp_path: Path) -> None:
    version = _cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("aurora-dsql-sqlalchemy ")
    script = tmp_path / "many.sql"
    script.write_text("".join(f"TRUNCATE t{i};\n" for i in range(5000)))
    piped = subprocess.run(
        f"{sys.executable} -m aurora_dsql_sqlalchemy lint {script} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr, piped.stderr
    assert piped.stdout.count("\n") == 1
    missing = _cli("lint", "no_such_pkg_xyz.models", cwd=tmp_path)
    assert missing.returncode == 2
    assert "module:attribute" in missing.stderr and "Traceback" not in missing.stderr
