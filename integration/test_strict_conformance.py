"""Strict local mode answers like DSQL: two conformance tables.

``CASES``: for each statement-level DSQL rule, one statement DSQL rejects and
a close variant it accepts, run through a strict local-mode engine on a real
PostgreSQL.  The rejected one must fail with the rule's SQLSTATE and DSQL's
message (before reaching PostgreSQL, which would accept most of them); the
accepted one must succeed.

``OBSERVED``: what live clusters answered (DSQL-RULES.md, September-October
2026): statement -> SQLSTATE, DSQL's message as recorded, and what happens to
the transaction afterwards, run through the engine inside a transaction.
``rules.py`` must render the recorded message (so a DSQL change is one edit
to ``rules.py`` plus one row here).

The same pairs go through ``dsql-lint`` (AWS's linter, whose grammar comes
from a live cluster) as an independent oracle.  Where it disagrees with us,
the disagreement is listed in ``KNOWN_DISAGREEMENTS`` with the side we believe
and why; a new disagreement fails the test so that someone looks at it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy import rules
from aurora_dsql_sqlalchemy.local.checks import check_sql
from aurora_dsql_sqlalchemy.rules import RuleId
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

_257 = ", ".join(f"c{i} int" for i in range(257))
_256 = ", ".join(f"c{i} int" for i in range(256))


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
        "BEGIN ISOLATION LEVEL REPEATABLE READ",
    ),
    Case("set-transaction", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "SELECT 1"),
    Case("set-transaction", "SET default_transaction_isolation = 'repeatable read'", "SET TimeZone = 'UTC'"),
    Case(
        "merge",
        "MERGE INTO t USING p ON t.id = p.id WHEN MATCHED THEN DELETE",
        "DELETE FROM t USING p WHERE t.id = p.id",
    ),
    Case("tablesample", "SELECT id FROM t TABLESAMPLE SYSTEM (10)", "SELECT id FROM t ORDER BY random() LIMIT 1"),
    Case("unavailable-type", "SELECT line('{1,-1,0}')", "SELECT greatest(1, 2)"),
    Case("unavailable-type", "SELECT '0/16B6C50'::pg_lsn", "SELECT '0/16B6C50'::text"),
    Case("text-search-config", "SELECT to_tsvector('english', 'a fat cat')", "SELECT lower('a fat cat')"),
    Case("job-id", "CALL sys.wait_for_job('not-a-job')", "SELECT 'not-a-job'::text"),
    Case("call-subquery", "CALL sys.wait_for_job((SELECT 'x'))", "SELECT (SELECT 'x')"),
    Case("foreign-table", "CREATE FOREIGN TABLE f (a int) SERVER s", "CREATE TABLE f (a int PRIMARY KEY)"),
    Case("alter-type", "ALTER TYPE mood RENAME TO feeling", "CREATE DOMAIN feeling AS int"),
    Case("drop-type", "DROP TYPE mood", "DROP DOMAIN IF EXISTS mood"),
    Case(
        "validate-constraint",
        "ALTER TABLE t VALIDATE CONSTRAINT ck_a",
        "ALTER TABLE ASYNC t VALIDATE CONSTRAINT ck_a",
    ),
    Case("alter-column-statistics", "ALTER TABLE t ALTER COLUMN a SET STATISTICS 500", "ANALYZE t"),
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
        f"CREATE TABLE wide ({_257})",
        f"CREATE TABLE wide ({_256})",
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
    ("merge-1", "rejected"): (
        "dsql-lint accepts MERGE; live DSQL answers 0A000 'unsupported statement type: MERGE' "
        "(DSQL-RULES, observed). We believe the record."
    ),
    ("tablesample-1", "rejected"): "dsql-lint accepts TABLESAMPLE; DSQL refuses it (DSQL-RULES).",
    ("unavailable-type-1", "rejected"): (
        "dsql-lint does not check query-time types; live DSQL answers 0A000 'datatype line not "
        "supported' for SELECT line(...) (observed)."
    ),
    ("unavailable-type-2", "rejected"): "as unavailable-type-1 (pg_lsn).",
    ("text-search-config-1", "rejected"): (
        "dsql-lint does not check function arguments; live DSQL answers 42704 'text search "
        "configuration \"english\" does not exist' (observed)."
    ),
    ("job-id-1", "rejected"): (
        "dsql-lint does not check CALL arguments; live DSQL answers 22P02 'Unable to convert "
        "text to UUID' (observed)."
    ),
    ("call-subquery-1", "rejected"): (
        "dsql-lint does not check CALL arguments; DSQL (and PostgreSQL) answer 0A000 'cannot "
        "use subquery in CALL argument'."
    ),
    ("foreign-table-1", "rejected"): (
        "dsql-lint cannot parse CREATE FOREIGN TABLE (parse_error): agrees it is refused."
    ),
    ("alter-column-statistics-1", "rejected"): (
        "dsql-lint cannot parse SET STATISTICS (parse_error): agrees it is refused."
    ),
    (
        "columns-per-table-1",
        "rejected",
    ): "dsql-lint does not count columns; DSQL answers 54011 above 256.",
}


STRICT_SETUP = [
    # strict mode guards a key that can outgrow DSQL's limit when it creates it
    "CREATE TABLE keyed (k text PRIMARY KEY)",
]


@pytest.fixture
def schema(pg_url: URL, engine: sa.Engine, fresh_schema: None) -> Iterator[None]:
    """The objects the accepted statements use, created with the stock dialect
    (and those strict mode must create itself, with it)."""
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in SETUP:
            conn.exec_driver_sql(statement)
    admin.dispose()
    with engine.connect() as conn:
        for statement in STRICT_SETUP:
            conn.exec_driver_sql(statement)
            conn.commit()
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
        "ddl-per-transaction",  # the transaction shape: in OBSERVED and the execution tests
        "ddl-dml-mix",
        "transaction-aborted",  # what follows a refusal: in OBSERVED
        "drop-primary-key-column",  # needs the catalog: in CATALOG_CASES below
        "tables-per-database",
        "schemas-per-database",
        "sequences-per-database",
        "transaction-rows",
        "transaction-size",
        "transaction-age",
        "occ-data",
        "occ-schema",
        "indexes-per-table",  # needs the catalog: the lint command counts it
        "index-key-size",  # depends on the values written: in OBSERVED
    }
    wanted = {
        r.id for r in rules.RULES.values() if r.severity == "error"
    } - not_statement_rules
    assert wanted - {c.rule_id for c in CASES} == set()


# -- what live clusters answered (DSQL-RULES.md, 2026-12) ------------------------------------



@dataclass(frozen=True)
class Observed:
    """One recorded answer of a live DSQL cluster."""

    id: str
    sql: str
    """Sent with ``exec_driver_sql`` inside a transaction (after ``before``)."""
    sqlstate: str | None
    """``None``: DSQL accepts it."""
    message: str | None = None
    """DSQL's message as recorded (``None``: not recorded, or PostgreSQL's own syntax error)."""
    rule_id: RuleId | None = None
    """The rule that must render ``message``."""
    fields: dict[str, str] = field(default_factory=dict)
    after: Literal["aborted", "own-transaction", "kept"] = "aborted"
    """The transaction after a refusal: later statements fail with 25P02 until
    ROLLBACK.  Where the dialect shapes DDL the same way on DSQL as locally,
    what the user sees differs from raw DSQL: ``own-transaction``, DDL the
    server refuses after a transaction that only read, which the dialect ends
    first, so the DDL failed in a transaction of its own; ``kept``, DDL after
    writes, which the dialect refuses before sending it, so the transaction and
    its writes stay usable."""
    before: tuple[str, ...] = ()
    pending: str | None = None
    """Why strict mode does not match this row yet (the row is then a strict xfail)."""
    abort_pending: str | None = None
    """Why the transaction is not yet aborted as on DSQL after this refusal."""


_SETTING = 'setting configuration parameter "TRANSACTION" not supported'
_257 = ", ".join(f"c{i} int" for i in range(257))

OBSERVED = [
    Observed("set-transaction-rr", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "0A000", _SETTING, "set-transaction"),
    Observed("set-transaction-ro", "SET TRANSACTION READ ONLY", "0A000", _SETTING, "set-transaction"),
    Observed("set-default-isolation", "SET default_transaction_isolation = 'serializable'", "0A000", _SETTING, "set-transaction"),
    Observed(
        "set-transaction-serializable",
        "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        "0A000",
        "Unsupported isolation level: SERIALIZABLE",
        "isolation-level",
        {"level": "SERIALIZABLE"},
    ),
    Observed("begin-repeatable-read", "BEGIN ISOLATION LEVEL REPEATABLE READ", None),
    Observed("set-timezone", "SET TimeZone = 'UTC'", None),
    Observed(
        "for-share",
        "SELECT id FROM t FOR SHARE",
        "0A000",
        "locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported",
        "locking-clause",
        {"clause": "FOR SHARE"},
    ),
    Observed("for-key-share", "SELECT id FROM t FOR KEY SHARE", None),
    Observed("truncate", "TRUNCATE t", "0A000", "unsupported statement: Truncate", "truncate", {"statement": "Truncate"}),
    Observed(
        "create-extension",
        "CREATE EXTENSION pgcrypto",
        "0A000",
        "unsupported statement: CreateExtension",
        "extension",
        {"statement": "CreateExtension"},
    ),
    Observed("createdb", "CREATE DATABASE other", "0A000", "unsupported statement: Createdb", "server-admin", {"statement": "Createdb"}),
    Observed(
        "create-table-as",
        "CREATE TABLE t2 AS SELECT id FROM t",
        "0A000",
        "unsupported statement: CreateTableAs",
        "create-table-as",
        {"statement": "CreateTableAs"},
    ),
    Observed(
        "foreign-table",
        "CREATE FOREIGN TABLE f (a int) SERVER s",
        "0A000",
        "unsupported statement: CreateForeignTable",
        "foreign-table",
        {"statement": "CreateForeignTable"},
    ),
    Observed(
        "alter-system",
        "ALTER SYSTEM SET work_mem = '64MB'",
        "0A000",
        "unsupported statement: AlterSystem",
        "server-admin",
        {"statement": "AlterSystem"},
    ),
    Observed("listen", "LISTEN jobs", "0A000", "unsupported statement: Listen", "listen-notify", {"statement": "Listen"}),
    Observed("alter-type", "ALTER TYPE mood ADD VALUE 'happy'", "0A000", "ALTER TYPE not supported", "alter-type"),
    Observed("rename-type", "ALTER TYPE mood RENAME TO feeling", "0A000", "ALTER TYPE not supported", "alter-type"),
    Observed("drop-type", "DROP TYPE mood", "0A000", "unsupported object in DROP statement", "drop-type"),
    Observed(
        "merge",
        "MERGE INTO t USING p ON t.id = p.id WHEN MATCHED THEN DELETE",
        "0A000",
        "unsupported statement type: MERGE",
        "merge",
    ),
    Observed("tablesample", "SELECT id FROM t TABLESAMPLE SYSTEM (10)", "0A000", None, "tablesample"),
    Observed("line", "SELECT line('{1,-1,0}')", "0A000", "datatype line not supported", "unavailable-type", {"type": "line"}),
    Observed("pg-lsn", "SELECT '0/16B6C50'::pg_lsn", "0A000", "datatype pg_lsn not supported", "unavailable-type", {"type": "pg_lsn"}),
    Observed(
        "text-search",
        "SELECT to_tsvector('english', 'a fat cat')",
        "42704",
        'text search configuration "english" does not exist',
        "text-search-config",
        {"name": "english"},
    ),
    Observed(
        "validate-sync",
        "ALTER TABLE t VALIDATE CONSTRAINT ck_a",
        "0A000",
        "unsupported ALTER TABLE VALIDATE CONSTRAINT statement",
        "validate-constraint",
    ),
    Observed(
        "add-identity-column",
        "ALTER TABLE t ADD COLUMN z bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 1)",
        "0A000",
        "ALTER TABLE ADD COLUMN with constraint not supported",
        "add-column-constraint",
    ),
    Observed("set-statistics", "ALTER TABLE t ALTER COLUMN a SET STATISTICS 500", "0A000", None, "alter-column-statistics"),
    Observed(
        "wait-subquery",
        "CALL sys.wait_for_job((SELECT 'x'))",
        "0A000",
        "cannot use subquery in CALL argument",
        "call-subquery",
    ),
    Observed("wait-bad-id", "CALL sys.wait_for_job('not-a-job')", "22P02", "Unable to convert text to UUID", "job-id"),
    # PostgreSQL's parser refuses it as DSQL's does: the server's own syntax error
    Observed("qualified-index-name", "CREATE INDEX ASYNC public.ix_q ON t (a)", "42601", after="own-transaction"),
    Observed("index-sync", "CREATE INDEX ix_s ON t (a)", "0A000", "unsupported mode. please use CREATE INDEX ASYNC.", "index-async"),
    Observed("index-using", "CREATE INDEX ASYNC ix_u ON t USING btree (a)", "0A000", "USING not supported for CREATE INDEX", "index-using"),
    Observed(
        "index-desc",
        "CREATE INDEX ASYNC ix_d ON t (a DESC)",
        "0A000",
        "specifying sort order not supported for index keys",
        "index-sort-order",
    ),
    Observed("columns-257", f"CREATE TABLE wide ({_257})", "54011", "tables can have at most 255 columns", "columns-per-table"),
    Observed(
        "drop-primary-key-column",
        "ALTER TABLE t DROP COLUMN id",
        "0A000",
        "cannot drop primary key column id",
        "drop-primary-key-column",
        {"column": "id"},
        after="own-transaction",
    ),
    Observed(
        "two-ddl-in-one-query",
        "CREATE TABLE m1 (id int PRIMARY KEY); CREATE TABLE m2 (id int PRIMARY KEY)",
        "0A000",
        "multiple ddl statements not supported in a transaction",
        "ddl-per-transaction",
    ),
    Observed(
        "ddl-and-dml-in-one-query",
        "CREATE TABLE m1 (id int PRIMARY KEY); INSERT INTO p VALUES (7)",
        "0A000",
        "ddl and dml are not supported in the same transaction",
        "ddl-dml-mix",
    ),
    Observed(
        "grant-after-dml",
        "GRANT SELECT ON t TO PUBLIC",
        "0A000",
        "ddl and dml are not supported in the same transaction",
        "ddl-dml-mix",
        before=("INSERT INTO p VALUES (8)",),
        after="kept",
    ),
    Observed(
        "async-index-in-a-block",
        "BEGIN; CREATE INDEX ASYNC ix_b ON t (b); COMMIT",
        None,
    ),
    Observed(
        "key-size-2100",
        "INSERT INTO keyed VALUES (repeat('k', 2100))",
        "54000",
        "key size greater than 2000 bytes not supported",
        "index-key-size",
    ),
    Observed("key-size-1900", "INSERT INTO keyed VALUES (repeat('k', 1900))", None),
    Observed(
        "rows-3001",
        "INSERT INTO p SELECT g FROM generate_series(1000, 4000) AS g",
        "54000",
        "transaction row limit exceeded",
        "transaction-rows",
    ),
]


def _params(rows: list[Observed], *, aborting: bool = False) -> list[object]:
    return [
        pytest.param(
            row,
            id=row.id,
            marks=[pytest.mark.xfail(strict=True, reason=why)]
            if (why := row.pending or (row.abort_pending if aborting else None))
            else [],
        )
        for row in rows
    ]


def _run_in_transaction(conn: sa.Connection, row: Observed) -> None:
    conn.begin()
    for statement in row.before:
        conn.exec_driver_sql(statement)
    result = conn.exec_driver_sql(row.sql)
    if result.returns_rows:
        result.fetchall()


@pytest.mark.parametrize("row", _params(OBSERVED))
def test_answers_as_a_live_cluster(engine: sa.Engine, schema: None, row: Observed) -> None:
    with engine.connect() as conn:
        if row.sqlstate is None:
            _run_in_transaction(conn, row)
            conn.rollback()
            return
        with pytest.raises(sa.exc.DBAPIError) as raised:
            _run_in_transaction(conn, row)
        assert _sqlstate(raised.value) == row.sqlstate
        if row.message is not None:
            assert row.message in str(raised.value.orig)


REFUSED = [r for r in OBSERVED if r.sqlstate is not None and r.after == "aborted"]


@pytest.mark.parametrize("row", _params(REFUSED, aborting=True))
def test_a_refusal_aborts_the_transaction(engine: sa.Engine, schema: None, row: Observed) -> None:
    aborted = rules.RULES["transaction-aborted"].sqlstate
    with engine.connect() as conn:
        with pytest.raises(sa.exc.DBAPIError):
            _run_in_transaction(conn, row)
        # every later statement fails until ROLLBACK, and a second refusal answers 25P02 too
        for later in ("SELECT 1", "TRUNCATE t"):
            with pytest.raises(sa.exc.DBAPIError) as then:
                conn.exec_driver_sql(later)
            assert _sqlstate(then.value) == aborted, later
        conn.rollback()
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1  # usable again after ROLLBACK


@pytest.mark.parametrize("row", [r for r in OBSERVED if r.rule_id], ids=[r.id for r in OBSERVED if r.rule_id])
def test_rules_module_renders_the_recorded_answer(row: Observed) -> None:
    assert row.rule_id is not None
    rule = rules.RULES[row.rule_id]
    assert rule.sqlstate == row.sqlstate
    if row.message is None:
        assert not rule.observed, f"{rule.id}: rules.py says its message was recorded; add it to the row"
    else:
        assert rule.server_message(**row.fields) == row.message


# -- checks against the catalog: what the database already holds decides -----------------------

CATALOG_SETUP = [
    'CREATE TABLE "Mixed Case" ("Id" bigint PRIMARY KEY, "Note" text)',
    "CREATE SCHEMA conformance_other",
    'CREATE TABLE conformance_other."Qualified" (id bigint, "a.b" text, PRIMARY KEY (id))',
    'CREATE TABLE "100%" (id bigint PRIMARY KEY, n int)',
    "CREATE TABLE pair (a int, b int, note text, PRIMARY KEY (a, b))",
]


@dataclass(frozen=True)
class CatalogCase:
    """A statement DSQL refuses because of what the database holds, and a
    close variant it accepts.  ``state``: a query whose answer the refusal
    must not change (the statement did not happen, not even in part)."""

    id: str
    rule_id: RuleId
    rejected: str
    accepted: str
    state: str
    fields: dict[str, str] = field(default_factory=dict)
    at_limit: Literal["tables", "sequences", "schemas"] | None = None
    """The limit the database is brought to first: ``tables`` and ``sequences``
    lowered to what it holds (``create_engine(limits=...)``), ``schemas``
    reached for real (DSQL's 10) by creating schemas."""


_COLUMNS_OF = (
    "SELECT string_agg(attrelid::regclass || '.' || attname, ',' ORDER BY attrelid::regclass::text, attnum)"
    " FROM pg_attribute WHERE attnum > 0 AND NOT attisdropped AND attrelid IN"
    " ('t'::regclass, '\"Mixed Case\"'::regclass, 'conformance_other.\"Qualified\"'::regclass,"
    " '\"100%%\"'::regclass, 'pair'::regclass)"
)
_RELATIONS = "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relkind IN ('r', 'S')"
_SCHEMAS = "SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace"

CATALOG_CASES = [
    CatalogCase(
        "drop-pk-column",
        "drop-primary-key-column",
        "ALTER TABLE t DROP COLUMN id",
        "ALTER TABLE t DROP COLUMN note",
        _COLUMNS_OF,
        {"column": "id"},
    ),
    CatalogCase(
        "drop-pk-column-among-actions",
        "drop-primary-key-column",
        "ALTER TABLE t DROP COLUMN note, ADD COLUMN extra int, DROP COLUMN id",
        "ALTER TABLE t DROP COLUMN note, ADD COLUMN extra int, DROP COLUMN owner",
        _COLUMNS_OF,
        {"column": "id"},
    ),
    CatalogCase(
        "drop-pk-column-quoted",
        "drop-primary-key-column",
        'ALTER TABLE "Mixed Case" DROP COLUMN "Id"',
        'ALTER TABLE "Mixed Case" DROP COLUMN "Note"',
        _COLUMNS_OF,
        {"column": "Id"},
    ),
    CatalogCase(
        "drop-pk-column-qualified",
        "drop-primary-key-column",
        'ALTER TABLE IF EXISTS conformance_other."Qualified" DROP COLUMN id',
        'ALTER TABLE IF EXISTS conformance_other."Qualified" DROP COLUMN "a.b"',
        _COLUMNS_OF,
        {"column": "id"},
    ),
    CatalogCase(
        "drop-pk-column-percent",
        "drop-primary-key-column",
        'ALTER TABLE "100%%" DROP COLUMN id',
        'ALTER TABLE "100%%" DROP COLUMN n',
        _COLUMNS_OF,
        {"column": "id"},
    ),
    CatalogCase(
        "drop-pk-column-composite",
        "drop-primary-key-column",
        "ALTER TABLE pair DROP COLUMN b",
        "ALTER TABLE pair DROP COLUMN note",
        _COLUMNS_OF,
        {"column": "b"},
    ),
    CatalogCase(
        "tables-at-limit",
        "tables-per-database",
        "CREATE TABLE one_more (id bigint PRIMARY KEY)",
        "CREATE TABLE IF NOT EXISTS p (id int PRIMARY KEY)",
        _RELATIONS,
        at_limit="tables",
    ),
    CatalogCase(
        "tables-at-limit-in-another-schema",
        "tables-per-database",
        "CREATE TABLE conformance_other.one_more (id bigint PRIMARY KEY)",
        "CREATE VIEW one_more AS SELECT 1 AS id",
        _RELATIONS,
        at_limit="tables",
    ),
    CatalogCase(
        "sequences-at-limit",
        "sequences-per-database",
        "CREATE SEQUENCE one_more CACHE 1",
        "CREATE SEQUENCE IF NOT EXISTS s CACHE 1",
        _RELATIONS,
        at_limit="sequences",
    ),
    CatalogCase(
        "sequences-at-limit-identity",
        "sequences-per-database",
        "CREATE TABLE one_more (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 1) PRIMARY KEY)",
        "CREATE TABLE one_more (id uuid PRIMARY KEY DEFAULT gen_random_uuid())",
        _RELATIONS,
        at_limit="sequences",
    ),
    CatalogCase(
        "schemas-at-limit",
        "schemas-per-database",
        "CREATE SCHEMA conformance_eleventh",
        "CREATE SCHEMA IF NOT EXISTS conformance_other",
        _SCHEMAS,
        at_limit="schemas",
    ),
]

_UNCOUNTED_SCHEMAS = (
    "SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('public', 'sys', 'information_schema')"
    " AND NOT starts_with(nspname, 'pg_')"
)


@pytest.fixture
def catalog_schema(pg_url: URL, schema: None) -> Iterator[sa.Engine]:
    """SETUP and CATALOG_SETUP, made with the stock dialect; every
    ``conformance_*`` schema is dropped afterwards.  Yields that engine."""
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in CATALOG_SETUP:
            conn.exec_driver_sql(statement.replace("%", "%%"))
    try:
        yield admin
    finally:
        with admin.connect() as conn:
            for (name,) in conn.exec_driver_sql(
                "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, 'conformance_')"
            ):
                conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()


def _held(admin: sa.Engine, kind: Literal["tables", "sequences"]) -> int:
    """Tables or sequences in the database, as DSQL counts them."""
    relkinds = "'r', 'p'" if kind == "tables" else "'S'"
    with admin.connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                f" WHERE relkind IN ({relkinds}) AND nspname NOT IN ('information_schema', 'aurora_dsql_local')"
                " AND NOT starts_with(nspname, 'pg_')"
            ).scalar_one()
        )


def _catalog_engine(dsql_url: URL, admin: sa.Engine, case: CatalogCase, **options: object) -> sa.Engine:
    """A strict engine with the database at ``case``'s limit."""
    if case.at_limit in ("tables", "sequences"):
        held = _held(admin, case.at_limit)
        options["limits"] = dataclasses.replace(rules.LIMITS, **{case.at_limit: held})
    engine = sa.create_engine(dsql_url, **options)
    if case.at_limit == "schemas":
        # DSQL's own limit, reached through the strict engine: its own schema
        # (aurora_dsql_local) must not count, or the last of these is refused
        with admin.connect() as conn:
            held = conn.exec_driver_sql(_UNCOUNTED_SCHEMAS + " AND nspname <> 'aurora_dsql_local'").scalar_one()
        with engine.connect() as conn:
            for number in range(held, rules.LIMITS.schemas):
                conn.exec_driver_sql(f"CREATE SCHEMA conformance_{number}")
        with admin.connect() as conn:
            held = conn.exec_driver_sql(_UNCOUNTED_SCHEMAS).scalar_one()
        assert held == rules.LIMITS.schemas + 1  # aurora_dsql_local included
    return engine


@pytest.mark.parametrize("case", CATALOG_CASES, ids=[c.id for c in CATALOG_CASES])
def test_catalog_refusal(dsql_url: URL, catalog_schema: sa.Engine, case: CatalogCase) -> None:
    """Refused with DSQL's SQLSTATE and message; nothing changed; the DDL ran in a
    transaction of its own (as the dialect runs DDL on DSQL), so the caller's
    connection goes on; a close variant is accepted."""
    engine = _catalog_engine(dsql_url, catalog_schema, case)
    rule = rules.RULES[case.rule_id]
    try:
        with catalog_schema.connect() as admin:
            before = admin.exec_driver_sql(case.state).scalar()
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")  # a transaction that only read
            with pytest.raises(sa.exc.DBAPIError) as raised:
                conn.exec_driver_sql(case.rejected)
            assert _sqlstate(raised.value) == rule.sqlstate
            assert str(raised.value.orig).startswith(rule.server_message(**case.fields))
            assert f"[rule {rule.id}]" in str(raised.value.orig)  # our advice, as the HINT
            assert "PL/pgSQL" not in str(raised.value.orig)  # no trail of the emulation
            assert conn.exec_driver_sql("SELECT 2").scalar() == 2  # own-transaction
            conn.rollback()
        with catalog_schema.connect() as admin:
            assert admin.exec_driver_sql(case.state).scalar() == before
        _run(engine, case.accepted)
    finally:
        engine.dispose()


@pytest.mark.parametrize("case", CATALOG_CASES, ids=[c.id for c in CATALOG_CASES])
def test_catalog_rule_relaxed_reaches_postgresql(
    dsql_url: URL, catalog_schema: sa.Engine, case: CatalogCase
) -> None:
    engine = _catalog_engine(dsql_url, catalog_schema, case, relax=[case.rule_id])
    try:
        with catalog_schema.connect() as admin:
            before = admin.exec_driver_sql(case.state).scalar()
        _run(engine, case.rejected)
        with catalog_schema.connect() as admin:
            assert admin.exec_driver_sql(case.state).scalar() != before
    finally:
        engine.dispose()


def test_every_catalog_rule_is_in_the_table() -> None:
    catalog_rules = {"drop-primary-key-column", "tables-per-database", "schemas-per-database", "sequences-per-database"}
    assert catalog_rules - {c.rule_id for c in CATALOG_CASES} == set()


def test_catalog_checks_not_in_translate_mode(dsql_url: URL, catalog_schema: sa.Engine) -> None:
    engine = sa.create_engine(dsql_url, local_mode="translate")
    try:
        _run(engine, "ALTER TABLE t DROP COLUMN id")
    finally:
        engine.dispose()


def test_a_count_follows_drops_and_other_sessions(dsql_url: URL, catalog_schema: sa.Engine) -> None:
    """Strict mode counts what the database holds, not what the engine made:
    tables another session creates count, and a dropped table frees its place."""
    held = _held(catalog_schema, "tables")
    engine = sa.create_engine(dsql_url, limits=dataclasses.replace(rules.LIMITS, tables=held + 2))
    refused = rules.RULES["tables-per-database"].sqlstate
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE c1 (id bigint PRIMARY KEY)")  # held + 1
            with catalog_schema.connect() as admin:  # another session: held + 2
                admin.exec_driver_sql("CREATE TABLE c2 (id bigint PRIMARY KEY)")
            with pytest.raises(sa.exc.DBAPIError) as raised:
                conn.exec_driver_sql("CREATE TABLE c3 (id bigint PRIMARY KEY)")
            assert _sqlstate(raised.value) == refused
            conn.exec_driver_sql("DROP TABLE c1")
            conn.exec_driver_sql("CREATE TABLE c3 (id bigint PRIMARY KEY)")
            with pytest.raises(sa.exc.DBAPIError):
                conn.exec_driver_sql("CREATE TABLE c4 (id bigint PRIMARY KEY)")
    finally:
        engine.dispose()


def test_a_count_far_from_the_limit_is_renewed(dsql_url: URL, catalog_schema: sa.Engine) -> None:
    """Far from a limit a session adds what its statements make to its last
    count; what others made shows at the next count, at most
    ``RECOUNT_AFTER_SECONDS`` later."""
    from aurora_dsql_sqlalchemy.local.catalog import RECOUNT_AFTER_SECONDS

    held = _held(catalog_schema, "tables")
    engine = sa.create_engine(dsql_url, limits=dataclasses.replace(rules.LIMITS, tables=held + 30))
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE r0 (id bigint PRIMARY KEY)")
            with catalog_schema.connect() as admin:  # another session fills the database
                for number in range(1, 31):
                    admin.exec_driver_sql(f"CREATE TABLE r{number} (id bigint PRIMARY KEY)")
            time.sleep(RECOUNT_AFTER_SECONDS + 0.2)
            with pytest.raises(sa.exc.DBAPIError) as raised:
                conn.exec_driver_sql("CREATE TABLE r31 (id bigint PRIMARY KEY)")
            assert _sqlstate(raised.value) == rules.RULES["tables-per-database"].sqlstate
    finally:
        engine.dispose()


def _count_metadata(tables: int, identity: bool = False) -> sa.MetaData:
    metadata = sa.MetaData()
    for number in range(tables):
        key = sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True) if identity else sa.Column(
            "id", sa.BigInteger, primary_key=True, autoincrement=False
        )
        sa.Table(f"many{number:02}", metadata, key, sa.Column("name", sa.String(20), index=True))
    return metadata


def _sent_creates(engine: sa.Engine) -> list[str]:
    sent: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().startswith("CREATE TABLE"):
            sent.append(statement)

    return sent


@pytest.mark.parametrize("kind", ["tables", "sequences"])
def test_create_all_counts_on_the_client_and_refuses_at_the_limit(
    dsql_url: URL, catalog_schema: sa.Engine, kind: Literal["tables", "sequences"]
) -> None:
    """Inside create_all(), strict mode keeps the count of tables and sequences
    on the client and sends a CREATE TABLE without the server's count while the
    database is more than a tenth of the limit below it; nearer, each one
    carries the count, and the one past the limit is refused with DSQL's error
    and does not happen."""
    held = _held(catalog_schema, kind)
    room = 25
    engine = sa.create_engine(dsql_url, limits=dataclasses.replace(rules.LIMITS, **{kind: held + room}))
    sent = _sent_creates(engine)
    try:
        with pytest.raises(sa.exc.DBAPIError) as raised:
            _count_metadata(room + 5, identity=kind == "sequences").create_all(engine)
        assert _sqlstate(raised.value) == rules.RULES[f"{kind}-per-database"].sqlstate
        assert _held(catalog_schema, kind) == held + room
        counted = ["check_counts" in statement for statement in sent]
        assert len(counted) == room + 1
        limit = held + room
        uncounted = limit - limit // 10 - held  # the CREATEs that leave more than a tenth free
        assert counted == [False] * uncounted + [True] * (room + 1 - uncounted)
    finally:
        engine.dispose()


def test_create_all_counts_again_what_other_sessions_made(dsql_url: URL, catalog_schema: sa.Engine) -> None:
    """The count create_all() keeps on the client is renewed after
    ``RECOUNT_AFTER_SECONDS``, as the server's own is: tables another session
    made meanwhile count."""
    from aurora_dsql_sqlalchemy.local.catalog import RECOUNT_AFTER_SECONDS

    held = _held(catalog_schema, "tables")
    engine = sa.create_engine(dsql_url, limits=dataclasses.replace(rules.LIMITS, tables=held + 40))
    metadata = _count_metadata(3)

    @sa.event.listens_for(metadata.tables["many00"], "after_create")
    def others_fill_the_database(target: sa.Table, connection: sa.Connection, **kw: object) -> None:
        with catalog_schema.connect() as admin:
            for number in range(39):
                admin.exec_driver_sql(f"CREATE TABLE other{number} (id bigint PRIMARY KEY)")
        time.sleep(RECOUNT_AFTER_SECONDS + 0.2)

    try:
        with pytest.raises(sa.exc.DBAPIError) as raised:
            metadata.create_all(engine)
        assert _sqlstate(raised.value) == rules.RULES["tables-per-database"].sqlstate
        assert _held(catalog_schema, "tables") == held + 40
    finally:
        engine.dispose()


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
