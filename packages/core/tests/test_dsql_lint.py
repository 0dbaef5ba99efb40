"""dsql-lint (AWS's DSQL linter, grammar derived from a live cluster) is an
independent check of the DDL the dialect emits.

A broad MetaData, with every type and option the dialect supports, is
compiled through ``create_all`` on a mock engine; the statements (and the
validation steps the execution layer runs after them) go to ``dsql-lint
--format json``, which must report no ERROR and no WARNING.  The same
MetaData compiled by the stock PostgreSQL dialect is flagged, which proves
the linter is really looking.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.compiler import DSQLSchemaWarning
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.schema import AddConstraint, CreateSequence

DSQL_LINT = shutil.which("dsql-lint")
pytestmark = pytest.mark.skipif(
    DSQL_LINT is None, reason="dsql-lint is not installed (pip install dsql-lint)"
)


def broad_metadata() -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "owners",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),  # -> BIGINT identity
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("email", sa.String(200)),
        sa.Column("kind", sa.Enum("person", "company", name="owner_kind")),
        sa.Column("status", pg.ENUM("active", "closed", name="owner_status")),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("balance", sa.Numeric(12, 2)),
        sa.Column("legacy_amount", sa.Numeric),  # warns, still valid DDL
        sa.Index("ix_owners_email", "email", auroradsql_include=["name"]),
        sa.Index("ix_owners_name_lower", sa.func.lower(sa.column("name"))),
        sa.UniqueConstraint("email", name="uq_owners_email"),
        sa.CheckConstraint("balance >= 0", name="ck_owners_balance"),
    )
    pets = sa.Table(
        "pets",
        metadata,
        sa.Column(
            "id", pg.UUID(as_uuid=True), primary_key=True, server_default=sa.func.gen_random_uuid()
        ),
        sa.Column(
            "owner_id", sa.Integer, sa.ForeignKey("owners.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.Text),
        sa.Column("born", sa.Date),
        sa.Column("weight", sa.Float),
        sa.Column("score", sa.Double),
        sa.Column("small", sa.SmallInteger),
        sa.Column("big", sa.BigInteger),
        sa.Column("real", sa.REAL),
        sa.Column("alive", sa.Boolean, server_default=sa.true()),
        sa.Column("code", sa.CHAR(4)),
        sa.Column("photo", sa.LargeBinary),
        sa.Column("feeding", sa.Time),
        sa.Column("feeding_tz", sa.Time(timezone=True)),
        sa.Column("seen", sa.DateTime),
        sa.Column("age", sa.Interval),
        sa.Column("meta", sa.JSON),
        sa.Column("doc", pg.JSONB),
        sa.Column("doc2", sa.JSON().with_variant(pg.JSONB(), "postgresql")),
        sa.Column("tags", pg.ARRAY(sa.Text).with_variant(sa.Text(), "auroradsql")),
        sa.Column("uid", sa.Uuid, default=sa.text("gen_random_uuid()")),
        sa.Column("double_big", sa.BigInteger, sa.Computed("big * 2")),
    )
    sa.Index("ix_pets_owner", pets.c.owner_id, pets.c.name.nulls_first())
    sa.Index("ix_pets_name_desc", pets.c.name.desc())  # direction dropped, with a warning
    sa.Index("ix_pets_btree", pets.c.born, postgresql_using="btree")
    sa.Index(
        "uq_pets_code",
        pets.c.code,
        unique=True,
        auroradsql_nulls_not_distinct=True,
        auroradsql_where=pets.c.alive.is_(True),
    )
    sa.Index(
        "ix_pets_pg_aliases",
        pets.c.seen,
        postgresql_include=["weight"],
        postgresql_where=pets.c.weight > 1,
        postgresql_nulls_not_distinct=True,
        unique=True,
    )
    sa.Index("ix_pets_doc_kind", pets.c.doc["kind"].astext)
    sa.Index(
        "ix_pets_eight",
        *[pets.c[c] for c in ("name", "born", "weight", "score", "small", "big", "code", "seen")],
    )
    sa.Table(
        "counters",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(always=True, cache=1), primary_key=True),
        sa.Column("ticket", sa.Integer, sa.Identity(start=100)),
        sa.Column("n", sa.Integer, sa.Sequence("counter_n_seq")),
    )
    sa.Table(
        "links",
        metadata,
        sa.Column("a", sa.Integer, sa.ForeignKey("owners.id"), primary_key=True),
        sa.Column("b", sa.Integer, sa.ForeignKey("owners.id"), primary_key=True),
        sa.Column(
            "next_id", sa.Integer, sa.ForeignKey("nodes.id", name="fk_links_node", use_alter=True)
        ),
    )
    sa.Table(
        "nodes",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("link_a", sa.Integer),
        sa.Column("link_b", sa.Integer),
        sa.ForeignKeyConstraint(["link_a", "link_b"], ["links.a", "links.b"], name="fk_nodes_link"),
    )
    return metadata


def emitted_ddl(metadata: sa.MetaData, dialect: Any) -> list[str]:
    """The statements create_all sends (and their validation follow-ups)."""
    statements: list[str] = []

    def dump(element: Any, *multiparams: Any, **params: Any) -> None:
        compiled = element.compile(dialect=dialect)
        text = str(compiled).strip()
        if text:
            statements.append(text)
        statements.extend(getattr(compiled, "followup_statements", []))

    from sqlalchemy.engine.mock import MockConnection

    engine = MockConnection(dialect, dump)  # create_mock_engine() without a URL (or a driver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DSQLSchemaWarning)
        metadata.create_all(engine, checkfirst=False)
        owners = metadata.tables["owners"]
        late = sa.CheckConstraint(owners.c.name != "", name="ck_owners_name_not_empty")
        owners.append_constraint(late)
        dump(AddConstraint(late))
        dump(CreateSequence(sa.Sequence("standalone_seq", start=1, cache=70000)))
    return [s.replace("%%", "%") for s in statements]


def lint(statements: list[str], tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "schema.sql"
    path.write_text("".join(f"{s};\n\n" for s in statements))
    result = subprocess.run(
        [DSQL_LINT, "--format", "json", str(path)],  # type: ignore[list-item]
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["files"][0]["error"] is None
    return report


def _describe(report: dict[str, Any]) -> str:
    return "\n".join(
        f"{d['rule']} (line {d['line']}): {d['message']} | {d['statement_preview']}"
        for d in report["files"][0]["diagnostics"]
    )


def test_dialect_ddl_passes_dsql_lint(tmp_path: Path, dialect: Any) -> None:
    statements = emitted_ddl(broad_metadata(), dialect)
    text = "\n".join(statements)
    # the DDL really covers what it claims to
    for expected in (
        "CREATE INDEX ASYNC",
        "CREATE UNIQUE INDEX ASYNC",
        "INCLUDE (",
        "NULLS NOT DISTINCT",
        "NULLS FIRST",
        " WHERE ",
        "GENERATED BY DEFAULT AS IDENTITY (CACHE 1)",
        "GENERATED ALWAYS AS IDENTITY (CACHE 1)",
        "CREATE SEQUENCE counter_n_seq AS BIGINT CACHE 1",
        "FOREIGN KEY",
        "NOT VALID",
        "ALTER TABLE ASYNC links VALIDATE CONSTRAINT fk_links_node",
        "ALTER TABLE ASYNC owners VALIDATE CONSTRAINT ck_owners_name_not_empty",
        "JSONB",
        "UUID",
        "CHECK (kind IN ('person', 'company'))",
    ):
        assert expected in text, expected
    assert "SERIAL" not in text and "USING" not in text and "CREATE TYPE" not in text

    report = lint(statements, tmp_path)
    summary = report["summary"]
    assert summary["errors"] == 0 and summary["warnings"] == 0, _describe(report)
    # INFO-level notes too: there should be none
    assert report["files"][0]["diagnostics"] == [], _describe(report)


def test_stock_postgresql_ddl_is_flagged(tmp_path: Path) -> None:
    """The oracle is live: what the plain PostgreSQL dialect emits for the same schema fails it."""
    metadata = broad_metadata()
    statements = emitted_ddl(metadata, PGDialect())
    report = lint(statements, tmp_path)
    rules_hit = {d["rule"] for d in report["files"][0]["diagnostics"]}
    assert report["summary"]["errors"] + report["summary"]["warnings"] > 0
    assert "index_async" in rules_hit  # plain CREATE INDEX
