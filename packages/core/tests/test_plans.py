"""How the execution layer plans a statement text (no database)."""

from __future__ import annotations

import pytest
from aurora_dsql_sqlalchemy.local.jobs import LOCAL_SCHEMA, localize
from aurora_dsql_sqlalchemy.statements import Kind, classify


@pytest.mark.parametrize(
    "sql",
    [
        "WITH x AS (SELECT id FROM t) SELECT * FROM t FOR UPDATE",
        "WITH x AS (SELECT 'delete' AS word) SELECT * FROM x",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r",
    ],
)
def test_reading_ctes_are_queries(sql: str) -> None:
    assert classify(sql).kind is Kind.QUERY


@pytest.mark.parametrize(
    "sql",
    [
        "WITH gone AS (DELETE FROM t RETURNING id) SELECT count(*) FROM gone",
        "WITH u AS MATERIALIZED (UPDATE t SET v = 1 RETURNING id) SELECT * FROM u",
        "WITH x AS (SELECT id FROM s) INSERT INTO t SELECT id FROM x",
    ],
)
def test_writing_ctes_are_writes(sql: str) -> None:
    assert classify(sql).kind is Kind.DML


def test_what_sqlalchemy_knows_decides() -> None:
    assert classify("WITH x AS (DELETE FROM t) SELECT 1", Kind.QUERY).kind is Kind.QUERY
    assert classify("SELECT 1", Kind.DML).kind is Kind.DML


def test_async_removed_everywhere_in_a_multi_statement_text() -> None:
    plan = classify("BEGIN; CREATE INDEX ASYNC a ON t (x); CREATE UNIQUE INDEX ASYNC b ON t (y); COMMIT")
    assert plan.kind is Kind.CONTROL
    assert plan.local_sql == "BEGIN; CREATE INDEX a ON t (x); CREATE UNIQUE INDEX b ON t (y); COMMIT"
    job = classify("CREATE INDEX ASYNC a ON t (x); ALTER TABLE ASYNC t VALIDATE CONSTRAINT c")
    assert job.job == "index"
    assert job.local_sql == "CREATE INDEX a ON t (x); ALTER TABLE t VALIDATE CONSTRAINT c"


@pytest.mark.parametrize(
    ("sql", "local"),
    [
        ("SELECT * FROM sys.jobs", f"SELECT * FROM {LOCAL_SCHEMA}.jobs"),
        ('SELECT * FROM "sys"."jobs"', f"SELECT * FROM {LOCAL_SCHEMA}.jobs"),
        ("CALL SYS.wait_for_job(%s)", f"CALL {LOCAL_SCHEMA}.wait_for_job(%s)"),
    ],
)
def test_dsql_job_names_point_to_the_emulation(sql: str, local: str) -> None:
    assert localize(sql) == local


@pytest.mark.parametrize(
    "sql", ["SELECT * FROM mysys.jobs", "SELECT sys.jobsx FROM t", "SELECT * FROM sys.dsql_major_version()"]
)
def test_other_names_are_left_alone(sql: str) -> None:
    assert localize(sql) is None
