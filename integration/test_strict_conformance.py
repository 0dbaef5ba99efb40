"""Strict local mode answers like DSQL: a conformance table.

For each statement-level DSQL rule: one statement DSQL rejects and a close
variant it accepts, run through a strict local-mode engine on a real
PostgreSQL.  The rejected one must fail with the rule's SQLSTATE and DSQL's
message (before reaching PostgreSQL, which would accept most of them); the
accepted one must succeed.

The same pairs go through ``dsql-lint`` (AWS's linter, whose grammar comes
from a live cluster) as an independent oracle.  Where it disagrees with us,
the disagreement is listed in ``KNOWN_DISAGREEMENTS`` with the side we believe
and why; a new disagreement fails the test so that someone looks at it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy import rules
from aurora_dsql_sqlalchemy.local.checks import check_sql
from sqlalchemy.engine import URL

SETUP = [
    (
        "CREATE TABLE t (id bigint PRIMARY KEY, a int, b int, n int, note text, doc jsonb, owner text,"
        " p_id int, c1 int, c2 int, c3 int, c4 int, c5 int, c6 int, c7 int, c8 int, c9 int)"
    ),
    "CREATE TABLE p (id int PRIMARY KEY)",
    "CREATE TABLE locks (id int PRIMARY KEY)",
    "CREATE TABLE nopk (id int, note text)",
    "CREATE UNIQUE INDEX ix_n ON t (n)",
    "CREATE SEQUENCE s CACHE 1",
    "ALTER TABLE t ADD CONSTRAINT ck_a CHECK (a > 0) NOT VALID",
]

_256 = ", ".join(f"c{i} int" for i in range(256))
_255 = ", ".join(f"c{i} int" for i in range(255))


@dataclass(frozen=True)
class Case:
    rule_id: str
    rejected: str
    accepted: str

    @property
    def sqlstate(self) -> str:
        return rules.RULES[self.rule_id].sqlstate


CASES = [
    Case(
        "isolation-level",
        "BEGIN ISOLATION LEVEL SERIALIZABLE",
        "BEGIN ISOLATION LEVEL REPEATABLE READ",
    ),
    Case(
        "isolation-level",
        "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    ),
    Case("locking-clause", "SELECT id FROM t FOR SHARE", "SELECT id FROM t FOR UPDATE"),
    Case(
        "locking-clause",
        "SELECT id FROM t FOR NO KEY UPDATE",
        "SELECT id FROM t FOR KEY SHARE",
    ),
    Case("savepoint", "SAVEPOINT sp_1", "SELECT 'SAVEPOINT sp_1'"),
    Case("savepoint", "ROLLBACK TO SAVEPOINT sp_1", "ROLLBACK"),
    Case("savepoint", "RELEASE SAVEPOINT sp_1", "COMMIT"),
    Case("two-phase-commit", "PREPARE TRANSACTION 'tx_1'", "COMMIT"),
    Case(
        "lock-table",
        "LOCK TABLE t IN ACCESS EXCLUSIVE MODE",
        "SELECT id FROM t FOR UPDATE",
    ),
    Case("listen-notify", "LISTEN jobs", "SELECT 'LISTEN jobs'"),
    Case("listen-notify", "NOTIFY jobs", "SELECT 1 /* NOTIFY jobs */"),
    Case(
        "listen-notify", "SELECT pg_notify('jobs', 'x')", "SELECT concat('jobs', 'x')"
    ),
    Case(
        "advisory-lock",
        "SELECT pg_advisory_xact_lock(42)",
        "SELECT id FROM locks WHERE id = 42 FOR UPDATE",
    ),
    Case(
        "advisory-lock",
        "SELECT pg_try_advisory_lock(1)",
        "SELECT id FROM locks WHERE id = 1 FOR KEY SHARE",
    ),
    Case("session-function", "SELECT pg_backend_pid()", "SELECT now()"),
    Case("truncate", "TRUNCATE t", "DELETE FROM t"),
    Case("session-setting", "SET statement_timeout = 1000", "SET TimeZone = 'UTC'"),
    Case("session-setting", "SET client_min_messages TO warning", "RESET ALL"),
    Case(
        "session-setting",
        "SELECT set_config('statement_timeout', '0', true)",
        "SELECT set_config('TimeZone', 'UTC', true)",
    ),
    Case(
        "index-async", "CREATE INDEX ix_a ON t (a)", "CREATE INDEX ASYNC ix_a ON t (a)"
    ),
    Case(
        "index-async",
        "CREATE UNIQUE INDEX ix_u ON p (id)",
        "CREATE UNIQUE INDEX ASYNC ix_u ON p (id)",
    ),
    Case(
        "index-using",
        "CREATE INDEX ASYNC ix_a ON t USING btree (a)",
        "CREATE INDEX ASYNC ix_a ON t (a)",
    ),
    Case(
        "index-sort-order",
        "CREATE INDEX ASYNC ix_a ON t (a DESC)",
        "CREATE INDEX ASYNC ix_a ON t (a NULLS FIRST)",
    ),
    Case(
        "index-concurrently",
        "CREATE INDEX CONCURRENTLY ix_a ON t (a)",
        "CREATE INDEX ASYNC ix_a ON t (a)",
    ),
    Case("index-concurrently", "DROP INDEX CONCURRENTLY ix_n", "DROP INDEX ix_n"),
    Case(
        "index-opclass",
        "CREATE INDEX ASYNC ix_a ON t (note text_pattern_ops)",
        "CREATE INDEX ASYNC ix_a ON t (note)",
    ),
    Case(
        "index-collate",
        'CREATE INDEX ASYNC ix_a ON t (note COLLATE "C")',
        "CREATE INDEX ASYNC ix_a ON t (note)",
    ),
    Case(
        "index-storage",
        "CREATE INDEX ASYNC ix_a ON t (a) WITH (fillfactor = 70)",
        "CREATE INDEX ASYNC ix_a ON t (a)",
    ),
    Case(
        "index-key-columns",
        "CREATE INDEX ASYNC ix_c ON t (c1, c2, c3, c4, c5, c6, c7, c8, c9)",
        "CREATE INDEX ASYNC ix_c ON t (c1, c2, c3, c4, c5, c6, c7, c8) INCLUDE (c9)",
    ),
    Case(
        "index-key-type",
        "CREATE TABLE k (doc jsonb PRIMARY KEY)",
        "CREATE TABLE k (id uuid PRIMARY KEY, doc jsonb)",
    ),
    Case(
        "index-key-type",
        "CREATE INDEX ASYNC ix_d ON t ((doc::jsonb))",
        "CREATE INDEX ASYNC ix_d ON t ((doc ->> 'kind'))",
    ),
    Case(
        "temporary-table",
        "CREATE TEMPORARY TABLE scratch (id int)",
        "CREATE TABLE scratch (id int PRIMARY KEY)",
    ),
    Case(
        "create-type",
        "CREATE TYPE mood AS ENUM ('sad', 'ok')",
        "CREATE DOMAIN mood AS varchar(3) CHECK (VALUE IN ('sad', 'ok'))",
    ),
    Case(
        "extension",
        "CREATE EXTENSION IF NOT EXISTS pgcrypto",
        "SELECT gen_random_uuid()",
    ),
    Case(
        "trigger",
        "CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION audit()",
        "CREATE FUNCTION audit() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    ),
    Case(
        "materialized-view",
        "CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n FROM t",
        "CREATE VIEW totals AS SELECT count(*) AS n FROM t",
    ),
    Case(
        "create-table-as",
        "CREATE TABLE t2 AS SELECT id FROM t",
        "INSERT INTO p (id) SELECT id FROM t",
    ),
    Case("create-table-as", "SELECT id INTO t2 FROM t", "SELECT id FROM t"),
    Case(
        "partitioning",
        "CREATE TABLE m (id int, at date) PARTITION BY RANGE (at)",
        "CREATE TABLE m (id int PRIMARY KEY, at date)",
    ),
    Case(
        "inheritance",
        "CREATE TABLE child (extra int) INHERITS (p)",
        "CREATE TABLE child (id int PRIMARY KEY, extra int)",
    ),
    Case(
        "tablespace",
        "CREATE TABLE x (id int PRIMARY KEY) TABLESPACE pg_default",
        "CREATE TABLE x (id int PRIMARY KEY)",
    ),
    Case(
        "tablespace",
        "CREATE TABLE x (id int PRIMARY KEY) WITH (fillfactor = 70)",
        "CREATE TABLE x (id int PRIMARY KEY)",
    ),
    Case(
        "collate",
        'CREATE TABLE c (id int PRIMARY KEY, name text COLLATE "C")',
        "CREATE TABLE c (id int PRIMARY KEY, name text)",
    ),
    Case(
        "row-level-security",
        "ALTER TABLE t ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE t RENAME COLUMN b TO b2",
    ),
    Case(
        "exclusion-constraint",
        "CREATE TABLE r (id int PRIMARY KEY, room int, EXCLUDE USING btree (room WITH =))",
        "CREATE TABLE r (id int PRIMARY KEY, room int, UNIQUE (room))",
    ),
    Case(
        "function-language",
        "CREATE FUNCTION one() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$",
        "CREATE FUNCTION one() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
    ),
    Case("do-block", "DO $$ BEGIN PERFORM 1; END $$", "SELECT 1"),
    Case(
        "procedure",
        "CREATE PROCEDURE pr() LANGUAGE sql AS $$ SELECT 1 $$",
        "CREATE FUNCTION pr() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
    ),
    Case("server-admin", "VACUUM t", "ANALYZE t"),
    Case(
        "serial",
        "CREATE TABLE s1 (id serial PRIMARY KEY)",
        "CREATE TABLE s1 (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 65536) PRIMARY KEY)",
    ),
    Case("sequence-cache", "CREATE SEQUENCE s2", "CREATE SEQUENCE s2 CACHE 1"),
    Case(
        "sequence-cache",
        "CREATE SEQUENCE s2 CACHE 1000",
        "CREATE SEQUENCE s2 CACHE 65536",
    ),
    Case(
        "sequence-cache",
        "ALTER SEQUENCE s CACHE 20",
        "ALTER SEQUENCE s RESTART WITH 10",
    ),
    Case(
        "sequence-cache",
        "CREATE TABLE i1 (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)",
        "CREATE TABLE i1 (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY)",
    ),
    Case(
        "identity-type",
        "CREATE TABLE i2 (id integer GENERATED BY DEFAULT AS IDENTITY (CACHE 65536) PRIMARY KEY)",
        "CREATE TABLE i2 (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 65536) PRIMARY KEY)",
    ),
    Case(
        "identity-type",
        "CREATE SEQUENCE s3 AS integer CACHE 1",
        "CREATE SEQUENCE s3 AS bigint CACHE 1",
    ),
    Case(
        "column-type",
        "CREATE TABLE ct (id int PRIMARY KEY, tags text[])",
        "CREATE TABLE ct (id int PRIMARY KEY, tags jsonb)",
    ),
    Case(
        "column-type",
        "CREATE TABLE ct (id int PRIMARY KEY, addr inet)",
        "CREATE TABLE ct (id int PRIMARY KEY, addr text)",
    ),
    Case(
        "column-type",
        "CREATE TABLE ct (id int PRIMARY KEY, span int4range)",
        "CREATE TABLE ct (id int PRIMARY KEY, doc json)",
    ),
    Case(
        "add-column-constraint",
        "ALTER TABLE t ADD COLUMN extra int DEFAULT 0",
        "ALTER TABLE t ADD COLUMN extra int",
    ),
    Case(
        "add-column-constraint",
        "ALTER TABLE t ADD COLUMN extra int NOT NULL",
        "ALTER TABLE t ADD COLUMN extra int NULL",
    ),
    Case(
        "alter-column-type",
        "ALTER TABLE t ALTER COLUMN a TYPE bigint",
        "ALTER TABLE t ALTER COLUMN a SET DEFAULT 0",
    ),
    Case(
        "set-not-null",
        "ALTER TABLE t ALTER COLUMN a SET NOT NULL",
        "ALTER TABLE t ALTER COLUMN a DROP NOT NULL",
    ),
    Case(
        "primary-key-change",
        "ALTER TABLE nopk ADD PRIMARY KEY (id)",
        "ALTER TABLE nopk DROP COLUMN note",
    ),
    Case(
        "add-constraint",
        "ALTER TABLE t ADD CONSTRAINT fk_p FOREIGN KEY (p_id) REFERENCES p (id)",
        "ALTER TABLE t ADD CONSTRAINT fk_p FOREIGN KEY (p_id) REFERENCES p (id) NOT VALID",
    ),
    Case(
        "add-constraint",
        "ALTER TABLE t ADD CONSTRAINT ck_b CHECK (b > 0)",
        "ALTER TABLE t ADD CONSTRAINT ck_b CHECK (b > 0) NOT VALID",
    ),
    Case(
        "add-constraint",
        "ALTER TABLE t ADD UNIQUE (n)",
        "ALTER TABLE t ADD CONSTRAINT uq_n UNIQUE USING INDEX ix_n",
    ),
    Case(
        "add-constraint",
        "ALTER TABLE t ADD CONSTRAINT ck_c CHECK (a < 10)",
        "ALTER TABLE ASYNC t VALIDATE CONSTRAINT ck_a",
    ),
    Case(
        "columns-per-table",
        f"CREATE TABLE wide ({_256})",
        f"CREATE TABLE wide ({_255})",
    ),
]


def _ids() -> list[str]:
    counts: dict[str, int] = {}
    ids = []
    for case in CASES:
        counts[case.rule_id] = counts.get(case.rule_id, 0) + 1
        ids.append(f"{case.rule_id}-{counts[case.rule_id]}")
    return ids


IDS = _ids()

# (case id, "rejected" | "accepted") -> what dsql-lint 0.2.22 says, and which side we believe.
# "cannot parse" entries are statements dsql-lint's own SQL parser does not know: it reports
# them (as parse_error), so it agrees they fail, but names no DSQL rule.
KNOWN_DISAGREEMENTS: dict[tuple[str, str], str] = {
    ("isolation-level-2", "accepted"): (
        "dsql-lint refuses every SET TRANSACTION; DSQL-RULES (live-cluster results) lists "
        "ISOLATION LEVEL REPEATABLE READ / READ ONLY / READ WRITE as accepted. We believe DSQL-RULES."
    ),
    ("locking-clause-1", "rejected"): (
        "dsql-lint has no FOR SHARE rule; DSQL answers 0A000 'locking clauses other than FOR "
        "UPDATE/FOR KEY SHARE are not supported' (live-cluster result). We believe ours."
    ),
    ("locking-clause-2", "rejected"): (
        "dsql-lint cannot parse FOR NO KEY UPDATE (parse_error); DSQL refuses it as locking-clause-1."
    ),
    ("two-phase-commit-1", "rejected"): (
        "dsql-lint cannot parse PREPARE TRANSACTION (reports parse_error, not a rule): it agrees "
        "the statement is refused, for the wrong reason."
    ),
    ("listen-notify-3", "rejected"): (
        "dsql-lint does not look into function calls (pg_notify). pg_notify is NOTIFY by another "
        "name; DSQL has no LISTEN/NOTIFY. We believe ours."
    ),
    ("advisory-lock-1", "rejected"): (
        "dsql-lint does not check function calls; DSQL documents advisory locks as unsupported."
    ),
    ("advisory-lock-2", "rejected"): "as advisory-lock-1.",
    (
        "session-function-1",
        "rejected",
    ): "dsql-lint does not check function calls (pg_backend_pid).",
    ("session-setting-1", "rejected"): (
        "dsql-lint does not check SET of a refused parameter; live DSQL answers 0A000 "
        "'setting configuration parameter \"statement_timeout\" not supported'. We believe ours."
    ),
    ("session-setting-2", "rejected"): "as session-setting-1 (client_min_messages).",
    ("session-setting-3", "rejected"): "as session-setting-1, via set_config().",
    ("index-opclass-1", "rejected"): (
        "dsql-lint accepts operator classes on index keys; DSQL's CREATE INDEX ASYNC grammar has "
        "no opclass. We believe ours."
    ),
    ("index-collate-1", "rejected"): (
        "dsql-lint accepts COLLATE on index keys; DSQL has only the C collation and refuses it. "
        "We believe ours."
    ),
    (
        "index-storage-1",
        "rejected",
    ): "dsql-lint accepts WITH (...) on an index; DSQL's grammar has none.",
    ("index-key-columns-1", "rejected"): (
        "dsql-lint does not count index keys; DSQL answers 54011 for more than 8."
    ),
    ("index-key-type-1", "rejected"): (
        "dsql-lint does not check key types; jsonb is not indexable on DSQL (user guide)."
    ),
    ("index-key-type-2", "rejected"): "as index-key-type-1 (expression cast to jsonb).",
    ("index-concurrently-2", "rejected"): (
        "dsql-lint cannot parse DROP INDEX CONCURRENTLY (parse_error): agrees it is refused."
    ),
    (
        "create-table-as-2",
        "rejected",
    ): "dsql-lint does not treat SELECT INTO as CREATE TABLE AS; it is.",
    ("exclusion-constraint-1", "rejected"): (
        "dsql-lint cannot parse EXCLUDE (parse_error): agrees it is refused."
    ),
    (
        "do-block-1",
        "rejected",
    ): "dsql-lint cannot parse DO (parse_error): agrees it is refused.",
    ("procedure-1", "rejected"): (
        "dsql-lint cannot parse CREATE PROCEDURE (parse_error): agrees it is refused."
    ),
    ("column-type-2", "rejected"): (
        "dsql-lint accepts inet columns; DSQL has inet only at query runtime, not as a column "
        "type (user guide, supported data types). We believe ours."
    ),
    ("column-type-3", "rejected"): "as column-type-2 (ranges).",
    (
        "columns-per-table-1",
        "rejected",
    ): "dsql-lint does not count columns; DSQL answers 54011 above 255.",
}


@pytest.fixture
def schema(pg_url: URL, fresh_schema: None) -> Iterator[None]:
    """The objects the accepted statements use, created with the stock dialect."""
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in SETUP:
            conn.exec_driver_sql(statement)
    admin.dispose()
    yield


def _sqlstate(error: sa.exc.DBAPIError) -> str | None:
    orig = error.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def _run(engine: sa.Engine, sql: str) -> None:
    with engine.connect() as conn:
        result = conn.exec_driver_sql(sql)
        if result.returns_rows:
            result.fetchall()
        conn.commit()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_rejected_with_dsql_sqlstate_and_message(
    engine: sa.Engine, schema: None, case: Case
) -> None:
    (expected, *_) = check_sql(case.rejected)
    with pytest.raises(sa.exc.DBAPIError) as raised:
        _run(engine, case.rejected)
    assert _sqlstate(raised.value) == case.sqlstate
    assert expected.server_message() in str(raised.value.orig)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_close_variant_accepted(engine: sa.Engine, schema: None, case: Case) -> None:
    _run(engine, case.accepted)


def test_every_statement_rule_is_in_the_table() -> None:
    not_statement_rules = {
        "ddl-per-transaction",  # the transaction shape: tested in the execution tests
        "ddl-dml-mix",
        "transaction-rows",
        "transaction-size",
        "transaction-age",
        "occ-data",
        "occ-schema",
        "indexes-per-table",  # needs the catalog: the lint command counts it
        "index-key-size",  # depends on the values written
    }
    wanted = {
        r.id for r in rules.RULES.values() if r.severity == "error"
    } - not_statement_rules
    assert wanted - {c.rule_id for c in CASES} == set()


def test_relaxed_rule_reaches_postgresql(dsql_url: URL, schema: None) -> None:
    relaxed = sa.create_engine(dsql_url, relax=["truncate"])
    try:
        _run(relaxed, "TRUNCATE t")
    finally:
        relaxed.dispose()


def _dsql_lint(statements: list[str]) -> dict[int, list[str]]:
    """dsql-lint's rule names per 1-based statement number (one statement per line)."""
    executable = shutil.which("dsql-lint")
    if executable is None:
        pytest.skip("dsql-lint is not installed (pip install dsql-lint)")
    text = "".join(" ".join(s.split()).rstrip(";") + ";\n" for s in statements)
    result = subprocess.run(
        [executable, "--format", "json", "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    found: dict[int, list[str]] = {}
    for file in json.loads(result.stdout)["files"]:
        for diagnostic in file["diagnostics"]:
            found.setdefault(diagnostic["line"], []).append(diagnostic["rule"])
    return found


def test_dsql_lint_agrees_or_the_disagreement_is_known() -> None:
    rejected = _dsql_lint([c.rejected for c in CASES])
    accepted = _dsql_lint([c.accepted for c in CASES])
    observed: dict[tuple[str, str], str] = {}
    for number, (case_id, case) in enumerate(zip(IDS, CASES, strict=True), 1):
        if number not in rejected:
            observed[(case_id, "rejected")] = f"dsql-lint accepts {case.rejected!r}"
        elif "parse_error" in rejected[number]:
            observed[(case_id, "rejected")] = (
                f"dsql-lint cannot parse {case.rejected!r}"
            )
        if number in accepted:
            observed[(case_id, "accepted")] = (
                f"dsql-lint refuses {case.accepted!r}: {accepted[number]}"
            )
    unknown = {
        key: why for key, why in observed.items() if key not in KNOWN_DISAGREEMENTS
    }
    assert unknown == {}, "new disagreements with dsql-lint: " + json.dumps(
        {f"{k[0]} {k[1]}": v for k, v in unknown.items()}, indent=2
    )


# -- the pytest plugin gives users the same strict engine -------------------------------------

PLUGIN_USER_TESTS = """
import sys

import pytest
import sqlalchemy as sa

metadata = sa.MetaData()
orders = sa.Table("orders", metadata, sa.Column("id", sa.Integer, primary_key=True))


def test_plugin_loads_nothing_heavy():
    for module in ("pglast", "pgserver", "aurora_dsql_sqlalchemy.testing.embedded"):
        assert module not in sys.modules, module


def test_fresh_schema(dsql_engine, dsql_database_url):
    assert dsql_database_url.get_backend_name() == "auroradsql"
    metadata.create_all(dsql_engine)
    with dsql_engine.begin() as conn:
        conn.execute(orders.insert(), [{"id": 1}, {"id": 2}])
    with dsql_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT current_schema()").scalar().startswith("dsql_test_")
        assert conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar() == 2


def test_strict(dsql_engine):
    with pytest.raises(sa.exc.DBAPIError) as raised:
        with dsql_engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE orders")
    orig = raised.value.orig
    assert (getattr(orig, "sqlstate", None) or orig.pgcode) == "0A000"
"""


PLUGIN_RELAXED_CONFTEST = """
import pytest


@pytest.fixture(scope="session")
def dsql_engine_options():
    return {"relax": ["truncate"]}
"""

PLUGIN_RELAXED_TEST = """
def test_relaxed(dsql_engine):
    with dsql_engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE relaxed (id int PRIMARY KEY)")
    with dsql_engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE relaxed")
"""


def _run_pytest(folder: Path, pg_url: URL) -> str:
    """Run a user's test suite in a pytest of its own, on the integration server."""
    import os
    import sys

    env = {
        **os.environ,
        "AURORA_DSQL_TEST_URL": pg_url.render_as_string(hide_password=False),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_pytest_plugin_fixture(pg_url: URL, tmp_path: Path) -> None:
    (tmp_path / "test_user_app.py").write_text(PLUGIN_USER_TESTS)
    assert "3 passed" in _run_pytest(tmp_path, pg_url)
    # the session's schema is gone afterwards
    admin = sa.create_engine(pg_url)
    with admin.connect() as conn:
        left = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, 'dsql_test_')"
        ).scalar()
    admin.dispose()
    assert left == 0


def test_pytest_plugin_engine_options(pg_url: URL, tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(PLUGIN_RELAXED_CONFTEST)
    (tmp_path / "test_relaxed.py").write_text(PLUGIN_RELAXED_TEST)
    assert "1 passed" in _run_pytest(tmp_path, pg_url)
