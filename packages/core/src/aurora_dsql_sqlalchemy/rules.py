"""Aurora DSQL's rules, as data.

This module is the single source of truth for what Aurora DSQL refuses and
what it limits.  The compilers, strict local mode, the ``lint`` command, the
Alembic implementation, the retry helpers and the test-suite requirements all
read from here; none of them restates a rule.  When DSQL changes (it does,
monthly), change it here -- and add a row to the conformance table
(``integration/test_strict_conformance.py``).

Each :class:`Rule` records what DSQL refuses, the SQLSTATE and message a live
cluster answers with, *when* it answers (at the statement or at COMMIT), and
what to do instead.  Numeric limits live in :data:`LIMITS` (titles and advice
are rendered from it, so a number is written once); type families in the
``*_TYPES`` sets; session facts (isolation, time zone, collation, access
method, roles) at the end.

Facts are as of 2026-12 (Aurora DSQL user guide, release notes, and results of
statements run on live clusters in September and October 2026).  Foreign keys
(2026-08-26), identity columns and sequences (2026-02), json (2026-05) / jsonb
(2026-06) columns, expression (2026-08) and partial (2026-09) indexes are
supported and are *not* rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "LIMITS",
    "RULES",
    "Limits",
    "Rule",
    "RuleId",
    "rule",
    "rules_firing_at",
]

FiresAt = Literal["statement", "commit", "connect"]
Severity = Literal["error", "warning"]

RuleId = Literal[
    "ddl-per-transaction", "ddl-dml-mix", "transaction-rows", "transaction-size", "transaction-age",
    "transaction-aborted", "isolation-level", "set-transaction", "locking-clause", "savepoint",
    "two-phase-commit", "lock-table", "listen-notify", "advisory-lock", "truncate", "merge",
    "session-setting", "session-function", "occ-data", "occ-schema", "index-async", "index-using",
    "index-sort-order", "index-concurrently", "index-opclass", "index-collate", "index-storage",
    "index-key-columns", "index-key-type", "indexes-per-table", "index-key-size", "job-id",
    "call-subquery", "temporary-table", "create-type", "alter-type", "drop-type", "extension",
    "foreign-table", "trigger", "materialized-view", "create-table-as", "partitioning",
    "inheritance", "tablespace", "collate", "row-level-security", "exclusion-constraint",
    "function-language", "do-block", "procedure", "server-admin", "tablesample", "serial",
    "sequence-cache", "identity-type", "column-type", "unavailable-type", "text-search-config",
    "add-column-constraint", "alter-column-type", "alter-column-statistics", "set-not-null",
    "primary-key-change", "drop-primary-key-column", "add-constraint", "validate-constraint",
    "columns-per-table", "tables-per-database", "schemas-per-database", "sequences-per-database",
    "numeric-precision",
]
"""Every rule id; mypy checks the ids the code names against this list."""


@dataclass(frozen=True)
class Limits:
    """DSQL's numeric limits, as live clusters enforce them.

    Strict local mode and ``lint`` enforce these; pass a modified copy
    (``dataclasses.replace(LIMITS, ...)``) to relax them.  Those marked
    *catalog* need the database's current state: the checker reports what a
    text adds (``indexed_tables``, ``created_objects`` of
    :class:`aurora_dsql_sqlalchemy.local.checks.Analysis`), ``lint`` counts it
    across a file or schema, and strict local mode against the database's
    catalog, on the server, in the statement's own round trip
    (:mod:`aurora_dsql_sqlalchemy.local.catalog`).  An engine takes a modified
    copy as ``create_engine(url, limits=...)``.
    """

    transaction_rows: int = 3_000
    """Rows one transaction may modify (3,000 passes; the next statement fails)."""
    transaction_bytes: int = 10 * 1024 * 1024
    """Bytes one transaction may write (an accounted size: rows plus index overheads)."""
    transaction_seconds: float = 300.0
    """Age of a transaction at COMMIT."""
    index_key_columns: int = 8
    indexes_per_table: int = 24
    """*catalog*: counting the primary-key index, UNIQUE constraints and indexes still building."""
    index_key_bytes: int = 2_000
    """Index key size in all (a secondary index also carries the primary key).
    As live clusters refuse it (``54000`` "key size greater than 2000 bytes not
    supported"); DSQL's quotas page says 1 KiB ("key size too large"), and the
    observation is followed.  Depends on the values written: strict local mode
    checks each write on the server (:mod:`aurora_dsql_sqlalchemy.local.keysize`)."""
    columns_per_table: int = 256
    """256 pass; 257 are refused (with a message that still says 255)."""
    tables: int = 1_000
    """*catalog*: tables in the database."""
    schemas: int = 10
    """*catalog*: schemas besides ``public`` and ``sys``."""
    sequences: int = 5_000
    """*catalog*: sequences in the database.  We count an identity column's
    sequence as one (DSQL backs identity columns with sequences, as PostgreSQL
    does; the record does not say whether they count)."""


#: DSQL's documented limits, as enforced by default.
LIMITS: Final = Limits()

UNCOUNTED_SCHEMAS: Final = frozenset({"public", "sys"})
"""The schemas :attr:`Limits.schemas` does not count.  Strict local mode also
leaves out its own ``aurora_dsql_local`` and PostgreSQL's ``pg_*`` and
``information_schema``, which DSQL shows no user."""

SEQUENCE_CACHE_LARGE_MIN: Final = 65_536
"""The smallest CACHE above 1 that DSQL accepts.  CACHE >= this gives unique
values that are unordered across sessions, with gaps (each session takes a
block); CACHE 1 follows PostgreSQL's uncached sequence behaviour."""

IDENTITY_CACHE_DEFAULT: Final = 1
"""The CACHE the dialect writes when the model gives none: 1, so an
autoincrement key keeps PostgreSQL's insertion order.  ``create_engine(...,
identity_cache=65536)`` trades that order for allocation throughput."""

NUMERIC_DEFAULT_PRECISION: Final = (18, 6)
"""What DSQL stores for ``numeric`` written without precision."""

_FACTS: Final = {
    "rows": f"{LIMITS.transaction_rows:,}",
    "mib": f"{LIMITS.transaction_bytes // (1024 * 1024)} MiB",
    "minutes": f"{LIMITS.transaction_seconds / 60:g} minutes",
    "key_columns": f"{LIMITS.index_key_columns}",
    "indexes": f"{LIMITS.indexes_per_table}",
    "key_bytes": f"{LIMITS.index_key_bytes:,} bytes",
    "columns": f"{LIMITS.columns_per_table}",
    "tables": f"{LIMITS.tables:,}",
    "schemas": f"{LIMITS.schemas}",
    "sequences": f"{LIMITS.sequences:,}",
    "cache": f"{IDENTITY_CACHE_DEFAULT}",
    "large_cache": f"{SEQUENCE_CACHE_LARGE_MIN}",
    "numeric": "numeric({},{})".format(*NUMERIC_DEFAULT_PRECISION),
    "numeric_scale": f"{NUMERIC_DEFAULT_PRECISION[1]}",
}
"""What titles and advice say, rendered from :data:`LIMITS` (server messages stay DSQL's text)."""


@dataclass(frozen=True)
class Rule:
    """One thing Aurora DSQL refuses or limits."""

    id: RuleId
    """Stable identifier, used in error messages, ``relax=`` lists and lint output."""
    title: str
    """What DSQL refuses, in a few words."""
    sqlstate: str
    """The SQLSTATE a DSQL cluster answers with."""
    message: str
    """DSQL's own message text; ``{placeholders}`` are filled per statement."""
    advice: str
    """What to do instead."""
    fires_at: FiresAt = "statement"
    """When DSQL reports it: at the offending statement, or at COMMIT.  Strict
    local mode checks the ``commit`` rules when the transaction commits."""
    severity: Severity = "error"
    """``warning`` rules are accepted by DSQL but change what you get."""
    observed: bool = True
    """The SQLSTATE and message were seen from a live cluster.  ``False``: the
    refusal is documented but its exact text was not recorded; the message is
    ours, in DSQL's style, and the conformance table checks the SQLSTATE only."""

    def server_message(self, **fields: object) -> str:
        """DSQL's message with its placeholders filled."""
        return self.message.format(**fields) if fields else self.message

    def hint(self) -> str:
        """Our advice as a ``HINT:`` line (as PostgreSQL prints one), to follow
        DSQL's own message in an error strict local mode raises."""
        return f"\nHINT:  {self.advice} [rule {self.id}]"

    def explain(self, subject: str) -> str:
        """A user-facing sentence: what, which DSQL rule, what to do instead."""
        if self.severity == "warning":
            return f"{subject} [DSQL rule {self.id}]. {self.advice}"
        return (
            f"{subject}: Aurora DSQL does not support {self.title} "
            f"[rule {self.id}, SQLSTATE {self.sqlstate}]. {self.advice}"
        )


def _rules(*items: Rule) -> dict[str, Rule]:
    return {
        r.id: Rule(
            r.id,
            r.title.format(**_FACTS),
            r.sqlstate,
            r.message,
            r.advice.format(**_FACTS),
            r.fires_at,
            r.severity,
            r.observed,
        )
        for r in items
    }


_UNSUPPORTED = "unsupported statement: {statement}"
"""Statements refused by kind: ``{statement}`` is the parse node in PostgreSQL's
spelling (``Truncate``, ``CreateExtension``, ``Createdb``, ``CreateTableAs``)."""

#: Every DSQL rule the dialect knows, by rule id (:attr:`Rule.id`).
RULES: Final[dict[str, Rule]] = _rules(
    # -- transactions -----------------------------------------------------
    Rule(
        "ddl-per-transaction",
        "more than one DDL statement in a transaction",
        "0A000",
        "multiple ddl statements not supported in a transaction",
        "Run each DDL statement in its own transaction: metadata.create_all() "
        "and the Alembic integration do this for you; commit between raw DDL statements "
        "(a text of several statements is one transaction).",
    ),
    Rule(
        "ddl-dml-mix",
        "DDL and DML in the same transaction",
        "0A000",
        "ddl and dml are not supported in the same transaction",
        "Commit (or roll back) the data changes first, then run the DDL in a "
        "transaction of its own.",
    ),
    Rule(
        "transaction-rows",
        "more than {rows} modified rows in one transaction",
        "54000",
        "transaction row limit exceeded",
        "Split the write into transactions of at most {rows} rows: "
        "aurora_dsql_sqlalchemy.bulk.chunked_write() does this with OCC retries.",
    ),
    Rule(
        "transaction-size",
        "more than {mib} written in one transaction",
        "54000",
        "transaction size limit 10mb exceeded",
        "Write in smaller transactions: aurora_dsql_sqlalchemy.bulk.chunked_write() "
        "sizes chunks by estimated bytes.",
        fires_at="commit",
    ),
    Rule(
        "transaction-age",
        "transactions older than {minutes}",
        "54000",
        "transaction age limit of 300s exceeded",
        "Keep each transaction under {minutes}; split long batch jobs into chunks.",
        fires_at="commit",
    ),
    Rule(
        "transaction-aborted",
        "statements after an error in the same transaction",
        "25P02",
        "current transaction is aborted, commands ignored until end of transaction block",
        "Roll the transaction back after any error (a refusal too) and retry it "
        "whole; do not catch the error and carry on in the same transaction.",
    ),
    Rule(
        "isolation-level",
        "isolation levels other than REPEATABLE READ",
        "0A000",
        "Unsupported isolation level: {level}",
        "DSQL always runs REPEATABLE READ (snapshot at BEGIN); remove the "
        "isolation_level setting, or use AUTOCOMMIT.",
    ),
    Rule(
        "set-transaction",
        "SET TRANSACTION and default_transaction_isolation",
        "0A000",
        'setting configuration parameter "TRANSACTION" not supported',
        "Remove the statement: every DSQL transaction is REPEATABLE READ "
        "(BEGIN ISOLATION LEVEL REPEATABLE READ is accepted).",
    ),
    Rule(
        "locking-clause",
        "FOR SHARE / FOR NO KEY UPDATE row locks",
        "0A000",
        "locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported",
        "Use with_for_update() (FOR UPDATE) or "
        "with_for_update(read=True, key_share=True) (FOR KEY SHARE).",
    ),
    Rule(
        "savepoint",
        "SAVEPOINT, RELEASE and ROLLBACK TO (nested transactions)",
        "0A000",
        _UNSUPPORTED,
        "Don't use Session.begin_nested() / Connection.begin_nested(); retry the "
        "whole transaction instead (aurora_dsql_sqlalchemy.retry.run_transaction).",
        observed=False,
    ),
    Rule(
        "two-phase-commit",
        "two-phase commit",
        "0A000",
        _UNSUPPORTED,
        "Use ordinary single-phase transactions.",
        observed=False,
    ),
    Rule(
        "lock-table",
        "LOCK TABLE",
        "0A000",
        _UNSUPPORTED,
        "DSQL uses optimistic concurrency: use SELECT ... FOR UPDATE on the rows "
        "involved and retry on conflict.",
    ),
    Rule(
        "listen-notify",
        "LISTEN / NOTIFY / UNLISTEN",
        "0A000",
        _UNSUPPORTED,
        "Use a queue outside the database (SQS, EventBridge) or poll a table.",
    ),
    Rule(
        "advisory-lock",
        "advisory-lock functions",
        "0A000",
        "function {function} not supported",
        "Use a lock row updated with SELECT ... FOR UPDATE, and retry on conflict.",
        observed=False,
    ),
    Rule(
        "truncate",
        "TRUNCATE",
        "0A000",
        _UNSUPPORTED,
        "DELETE in chunks of at most {rows} rows "
        "(aurora_dsql_sqlalchemy.bulk.chunked_delete), or drop and re-create the table.",
    ),
    Rule(
        "merge",
        "MERGE",
        "0A000",
        "unsupported statement type: MERGE",
        "Use INSERT ... ON CONFLICT, or UPDATE then INSERT in one retried transaction.",
    ),
    Rule(
        "session-setting",
        "this session setting",
        "0A000",
        'setting configuration parameter "{name}" not supported',
        "Remove the setting (SET TimeZone and RESET ALL are accepted).",
    ),
    Rule(
        "session-function",
        "this server function",
        "0A000",
        "function {function} not supported",
        "Remove the call; DSQL has no backend process ids or server-side locks.",
        observed=False,
    ),
    # -- optimistic concurrency (retryable, not refusals) ---------------------
    Rule(
        "occ-data",
        "concurrent writes to the same rows (optimistic concurrency)",
        "40001",
        "change conflicts with another transaction (OC000)",
        "Re-run the whole transaction: aurora_dsql_sqlalchemy.retry.run_transaction().",
        fires_at="commit",
    ),
    Rule(
        "occ-schema",
        "schema changes under a running transaction",
        "40001",
        "schema has been updated by another transaction (OC001)",
        "Re-run the whole transaction: aurora_dsql_sqlalchemy.retry.run_transaction().",
    ),
    # -- indexes -------------------------------------------------------------
    Rule(
        "index-async",
        "synchronous CREATE INDEX",
        "0A000",
        "unsupported mode. please use CREATE INDEX ASYNC.",
        "Write CREATE INDEX ASYNC (the auroradsql dialect always does) and wait "
        "for the job: CALL sys.wait_for_job('<job_id>').",
    ),
    Rule(
        "index-using",
        "index access methods (USING ...)",
        "0A000",
        "USING not supported for CREATE INDEX",
        "Drop the USING clause / postgresql_using option; DSQL builds its own "
        "btree-like index.",
    ),
    Rule(
        "index-sort-order",
        "ASC/DESC on index keys",
        "0A000",
        "specifying sort order not supported for index keys",
        "Declare the key without a direction: a DSQL index is scanned both ways.",
    ),
    Rule(
        "index-concurrently",
        "CREATE/DROP INDEX CONCURRENTLY",
        "0A000",
        _UNSUPPORTED,
        "Drop CONCURRENTLY: CREATE INDEX ASYNC never blocks writers.",
        observed=False,
    ),
    Rule(
        "index-opclass",
        "operator classes on index keys",
        "0A000",
        "operator classes not supported for index keys",
        "Remove the operator class (postgresql_ops).",
        observed=False,
    ),
    Rule(
        "index-collate",
        "COLLATE on index keys",
        "0A000",
        "COLLATE not supported for index keys",
        "Remove the COLLATE; DSQL has only the C collation.",
        observed=False,
    ),
    Rule(
        "index-storage",
        "index storage options (WITH (...), TABLESPACE)",
        "0A000",
        _UNSUPPORTED,
        "Remove postgresql_with / postgresql_tablespace from the index.",
        observed=False,
    ),
    Rule(
        "index-key-columns",
        "more than {key_columns} key columns in an index",
        "54011",
        "cannot use more than 8 columns in an index",
        "Use at most {key_columns} key columns; move the rest into INCLUDE "
        "(auroradsql_include=[...]).",
    ),
    Rule(
        "index-key-type",
        "index keys of type json, jsonb, bytea, interval or timetz",
        "0A000",
        "data type {type} has no default operator class for access method btree_index",
        "Index an immutable expression of the value instead (e.g. a text cast of a "
        "json field), or put the column in INCLUDE.",
    ),
    Rule(
        "indexes-per-table",
        "more than {indexes} indexes on one table (the primary key, UNIQUE "
        "constraints and builds in progress count)",
        "54000",
        "too many indexes on table (max 24)",
        "Drop unused indexes, or combine them using INCLUDE columns.",
        observed=False,
    ),
    Rule(
        "index-key-size",
        "index keys larger than {key_bytes}",
        "54000",
        "key size greater than 2000 bytes not supported",
        "Index a shorter value (a prefix or a hash expression); a secondary index "
        "also carries the primary key.",
    ),
    Rule(
        "job-id",
        "a job id that is not a UUID",
        "22P02",
        "Unable to convert text to UUID",
        "Pass the job_id exactly as CREATE INDEX ASYNC / ALTER TABLE ASYNC returned it.",
    ),
    Rule(
        "call-subquery",
        "subqueries in CALL arguments",
        "0A000",
        "cannot use subquery in CALL argument",
        "Read the job_id first, then CALL sys.wait_for_job('<job_id>') with it.",
    ),
    # -- tables, columns, constraints ------------------------------------------
    Rule(
        "temporary-table",
        "temporary tables",
        "0A000",
        _UNSUPPORTED,
        "Use an ordinary table (with a session or job id column) or a CTE / VALUES list.",
        observed=False,
    ),
    Rule(
        "create-type",
        "CREATE TYPE (enum and composite types)",
        "0A000",
        _UNSUPPORTED,
        "Use sqlalchemy.Enum (the dialect stores it as VARCHAR with a CHECK "
        "constraint) or CREATE DOMAIN.",
        observed=False,
    ),
    Rule(
        "alter-type",
        "ALTER TYPE and renaming a type",
        "0A000",
        "ALTER TYPE not supported",
        "DSQL has no user-defined types to alter; use a domain (ALTER DOMAIN) or "
        "a CHECK constraint.",
    ),
    Rule(
        "drop-type",
        "DROP TYPE",
        "0A000",
        "unsupported object in DROP statement",
        "DSQL has no user-defined types to drop; DROP DOMAIN works.",
    ),
    Rule(
        "extension",
        "CREATE EXTENSION",
        "0A000",
        _UNSUPPORTED,
        "Extensions are unavailable; gen_random_uuid() and the built-in functions are there.",
    ),
    Rule(
        "foreign-table",
        "foreign tables, servers and data wrappers",
        "0A000",
        _UNSUPPORTED,
        "Load the data into an ordinary table, or query the other database from the application.",
    ),
    Rule(
        "trigger",
        "triggers",
        "0A000",
        _UNSUPPORTED,
        "Do the work in the application (SQLAlchemy ORM events run client-side).",
        observed=False,
    ),
    Rule(
        "materialized-view",
        "materialized views",
        "0A000",
        _UNSUPPORTED,
        "Use a view, or a table refreshed by the application.",
        observed=False,
    ),
    Rule(
        "create-table-as",
        "CREATE TABLE AS / SELECT INTO",
        "0A000",
        _UNSUPPORTED,
        "CREATE TABLE with explicit columns, then INSERT ... SELECT in chunks.",
    ),
    Rule(
        "partitioning",
        "table partitioning",
        "0A000",
        _UNSUPPORTED,
        "Remove postgresql_partition_by; DSQL distributes tables itself.",
        observed=False,
    ),
    Rule(
        "inheritance",
        "table inheritance (INHERITS)",
        "0A000",
        _UNSUPPORTED,
        "Remove postgresql_inherits; use ORM inheritance mapped to separate tables.",
        observed=False,
    ),
    Rule(
        "tablespace",
        "tablespaces and table storage options",
        "0A000",
        _UNSUPPORTED,
        "Remove postgresql_tablespace / postgresql_with / postgresql_using.",
        observed=False,
    ),
    Rule(
        "collate",
        "COLLATE on columns",
        "0A000",
        _UNSUPPORTED,
        "Remove collation=...; DSQL has only the C collation.",
        observed=False,
    ),
    Rule(
        "row-level-security",
        "row-level security",
        "0A000",
        _UNSUPPORTED,
        "Filter rows in the application or in a view.",
        observed=False,
    ),
    Rule(
        "exclusion-constraint",
        "exclusion constraints",
        "0A000",
        _UNSUPPORTED,
        "Check the condition in the application inside a retried transaction.",
        observed=False,
    ),
    Rule(
        "function-language",
        "functions in languages other than SQL",
        "0A000",
        _UNSUPPORTED,
        "Write the function in LANGUAGE sql, or do the work in the application.",
        observed=False,
    ),
    Rule(
        "do-block",
        "DO blocks",
        "0A000",
        _UNSUPPORTED,
        "Run the statements from the application.",
        observed=False,
    ),
    Rule(
        "procedure",
        "CREATE PROCEDURE",
        "0A000",
        _UNSUPPORTED,
        "Use a LANGUAGE sql function, or run the statements from the application.",
        observed=False,
    ),
    Rule(
        "server-admin",
        "server administration statements (ALTER SYSTEM, VACUUM, CREATE DATABASE, ...)",
        "0A000",
        _UNSUPPORTED,
        "DSQL manages the server and has one database, postgres.",
    ),
    Rule(
        "tablesample",
        "TABLESAMPLE",
        "0A000",
        _UNSUPPORTED,
        "Sample in the query instead: ORDER BY random() LIMIT n, or a WHERE on a hash of the key.",
        observed=False,
    ),
    Rule(
        "serial",
        "SERIAL columns",
        "42704",
        'type "{type}" does not exist',
        "Use BIGINT GENERATED BY DEFAULT AS IDENTITY (CACHE {cache}) (the dialect "
        "emits this for integer autoincrement keys) or a UUID key with gen_random_uuid().",
    ),
    Rule(
        "sequence-cache",
        "sequences and identity columns without CACHE 1 or CACHE >= {large_cache}",
        "0A000",
        "CREATE SEQUENCE is not supported without an explicit cache size 1 or >= 65536",
        "Write CACHE 1 (PostgreSQL's order; each value a coordinated allocation) or CACHE "
        "{large_cache} or more (unordered, with gaps; faster); the dialect writes CACHE "
        "{cache} unless you set Identity(cache=...) / Sequence(cache=...) or "
        "create_engine(..., identity_cache=...).",
    ),
    Rule(
        "identity-type",
        "identity columns and sequences of a type other than BIGINT",
        "0A000",
        "datatype {type} not supported, identity column type must be bigint",
        "Declare the column BigInteger (the dialect emits BIGINT for integer identity columns).",
    ),
    Rule(
        "column-type",
        "this data type as a column type",
        "0A000",
        "datatype {type} not supported",
        "Store the value in a supported type (text, jsonb, bytea) and cast it in "
        "queries; arrays, inet and ranges work only in expressions and parameters.",
    ),
    Rule(
        "unavailable-type",
        "geometric types, pg_lsn, xml, money and hstore (not even in queries)",
        "0A000",
        "datatype {type} not supported",
        "Compute the value in the application, or store its parts in supported columns.",
    ),
    Rule(
        "text-search-config",
        "text search configurations",
        "42704",
        'text search configuration "{name}" does not exist',
        "Full-text search is unavailable: match with ILIKE, or search outside the "
        "database (OpenSearch).",
    ),
    Rule(
        "add-column-constraint",
        "ALTER TABLE ADD COLUMN with a DEFAULT, NOT NULL, constraint or identity",
        "0A000",
        "ALTER TABLE ADD COLUMN with constraint not supported",
        "Add the column nullable without a default, backfill it in chunks, then "
        "ALTER COLUMN ... SET DEFAULT (NOT NULL cannot be added later; use a CHECK "
        "constraint NOT VALID + VALIDATE instead).",
    ),
    Rule(
        "alter-column-type",
        "ALTER COLUMN ... TYPE",
        "0A000",
        _UNSUPPORTED,
        "Add a new column of the new type, backfill it in chunks, switch readers, "
        "then drop the old column.",
        observed=False,
    ),
    Rule(
        "alter-column-statistics",
        "ALTER COLUMN ... SET STATISTICS",
        "0A000",
        _UNSUPPORTED,
        "Remove it: DSQL keeps its own statistics (ANALYZE and CREATE STATISTICS work).",
        observed=False,
    ),
    Rule(
        "set-not-null",
        "ALTER COLUMN ... SET NOT NULL",
        "0A000",
        _UNSUPPORTED,
        "Add a CHECK (col IS NOT NULL) constraint NOT VALID, then VALIDATE it asynchronously.",
        observed=False,
    ),
    Rule(
        "primary-key-change",
        "adding, dropping or changing a primary key",
        "0A000",
        _UNSUPPORTED,
        "Declare the primary key in CREATE TABLE; to change it, create a new table and copy.",
        observed=False,
    ),
    Rule(
        "drop-primary-key-column",
        "dropping a primary-key column",
        "0A000",
        "cannot drop primary key column {column}",
        "A primary key cannot change: create a new table with the new key and copy the rows.",
    ),
    Rule(
        "add-constraint",
        "ALTER TABLE ADD CONSTRAINT without NOT VALID",
        "0A000",
        "unsupported ALTER TABLE ADD CONSTRAINT statement",
        "Add FOREIGN KEY / CHECK constraints NOT VALID, then "
        "ALTER TABLE ASYNC ... VALIDATE CONSTRAINT (the dialect does both); add a "
        "UNIQUE constraint as CREATE UNIQUE INDEX ASYNC + ADD CONSTRAINT ... UNIQUE USING INDEX.",
    ),
    Rule(
        "validate-constraint",
        "a synchronous VALIDATE CONSTRAINT",
        "0A000",
        "unsupported ALTER TABLE VALIDATE CONSTRAINT statement",
        "Write ALTER TABLE ASYNC ... VALIDATE CONSTRAINT and wait for the job "
        "(the dialect does this after adding a constraint NOT VALID).",
    ),
    Rule(
        "columns-per-table",
        "more than {columns} columns in a table",
        "54011",
        "tables can have at most 255 columns",
        "Split the table.",
    ),
    Rule(
        "tables-per-database",
        "more than {tables} tables",
        "54000",
        "too many tables",
        "Drop unused tables, or keep several kinds of record in one table.",
        observed=False,
    ),
    Rule(
        "schemas-per-database",
        "more than {schemas} schemas besides public and sys",
        "54000",
        "too many schemas",
        "Drop unused schemas; a test suite's per-run schemas must be dropped after the run.",
        observed=False,
    ),
    Rule(
        "sequences-per-database",
        "more than {sequences} sequences",
        "54000",
        "too many sequences",
        "Use UUID keys (gen_random_uuid()) where ordered values are not needed.",
        observed=False,
    ),
    Rule(
        "numeric-precision",
        "NUMERIC without a precision",
        "01000",
        "numeric without precision is stored as numeric(18,6)",
        "Give Numeric(precision, scale) explicitly: without it DSQL stores "
        "{numeric} and rounds values beyond {numeric_scale} decimal places.",
        severity="warning",
    ),
)


def rule(rule_id: str) -> Rule:
    """The rule with this id (``KeyError`` names the known ids if it doesn't exist)."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"unknown DSQL rule {rule_id!r}; known: {', '.join(sorted(RULES))}") from None


def rules_firing_at(when: FiresAt) -> tuple[Rule, ...]:
    """The rules DSQL reports at *when* (``"commit"``: what strict local mode
    checks when a transaction commits)."""
    return tuple(r for r in RULES.values() if r.fires_at == when)


# -- identity columns and sequences ------------------------------------------


def is_valid_sequence_cache(cache: int) -> bool:
    """DSQL accepts CACHE 1 or CACHE >= 65536, nothing in between."""
    return cache == 1 or cache >= SEQUENCE_CACHE_LARGE_MIN


# -- types ---------------------------------------------------------------------
# Names are PostgreSQL's canonical type names (as format_type() prints them,
# lower case, without modifiers).

RUNTIME_ONLY_TYPES: Final = frozenset(
    {
        "array", "inet", "cidr", "macaddr", "macaddr8", "int4range", "int8range",
        "numrange", "tsrange", "tstzrange", "daterange", "int4multirange",
        "int8multirange", "nummultirange", "tsmultirange", "tstzmultirange",
        "datemultirange",
    }
)
"""Types DSQL has in expressions, casts and parameters, but not as column types."""

UNAVAILABLE_TYPES: Final = frozenset(
    {
        "xml", "money", "tsvector", "tsquery", "hstore", "point", "line", "lseg",
        "box", "path", "polygon", "circle", "bit", "bit varying", "oid", "regclass",
        "pg_lsn",
    }
)
"""Types DSQL does not have as column types, nor as runtime-only types (besides
user-defined enum/composite types).  The column types DSQL has: smallint,
integer, bigint, real, double precision, numeric (precision up to 1000, as
PostgreSQL), boolean, char, varchar, text, bytea, date, time, timetz,
timestamp, timestamptz, interval, uuid, json and jsonb."""

QUERY_UNAVAILABLE_TYPES: Final = frozenset(
    {"point", "line", "lseg", "box", "path", "polygon", "circle", "pg_lsn", "xml", "money", "hstore"}
)
"""Types DSQL lacks even in queries (``SELECT line(...)``, ``'...'::money``)."""

TEXT_SEARCH_FUNCTIONS: Final = frozenset(
    {
        "to_tsvector", "to_tsquery", "plainto_tsquery", "phraseto_tsquery",
        "websearch_to_tsquery", "ts_headline", "json_to_tsvector", "jsonb_to_tsvector",
    }
)
"""Functions whose first argument (of several) names a text search configuration:
DSQL has none."""

NON_INDEXABLE_KEY_TYPES: Final = frozenset(
    {"json", "jsonb", "bytea", "interval", "time with time zone"}
)
"""Column types that cannot be index keys (they may be INCLUDE columns)."""


# -- sessions and transactions -------------------------------------------------

ISOLATION_LEVEL: Final = "REPEATABLE READ"
"""The only isolation level DSQL runs (snapshot taken at BEGIN)."""

ISOLATION_LEVELS: Final = frozenset({ISOLATION_LEVEL})

ISOLATION_LEVEL_VALUES: Final = (ISOLATION_LEVEL, "AUTOCOMMIT")
"""What ``Dialect.get_isolation_level_values`` should answer: DSQL's level, and
the client-side AUTOCOMMIT mode."""

TIME_ZONE: Final = "UTC"
"""A DSQL session's time zone unless ``SET TimeZone`` changes it."""

SESSION_DEFAULTS: Final = {"default_transaction_isolation": ISOLATION_LEVEL.lower(), "timezone": TIME_ZONE}
"""DSQL's session settings, as PostgreSQL names them (local mode sets them on each connection)."""

COLLATION: Final = "C"
"""DSQL's only collation."""

TRANSACTION_CONTROL_SETTINGS: Final = frozenset(
    {"transaction_isolation", "default_transaction_isolation", "transaction_read_only",
     "transaction_deferrable"}
)
"""``SET`` of these answers like ``SET TRANSACTION`` (rule ``set-transaction``)."""

REFUSED_SESSION_SETTINGS: Final = frozenset(
    {
        "statement_timeout",
        "client_min_messages",
        "role",
        "session_authorization",
        "default_transaction_read_only",
    }
)
"""Settings DSQL refuses in ``SET`` and as startup parameters."""

REFUSED_FUNCTIONS: Final[dict[str, RuleId]] = {
    "pg_backend_pid": "session-function",
    "pg_advisory_lock": "advisory-lock",
    "pg_advisory_lock_shared": "advisory-lock",
    "pg_advisory_unlock": "advisory-lock",
    "pg_advisory_unlock_all": "advisory-lock",
    "pg_advisory_unlock_shared": "advisory-lock",
    "pg_advisory_xact_lock": "advisory-lock",
    "pg_advisory_xact_lock_shared": "advisory-lock",
    "pg_try_advisory_lock": "advisory-lock",
    "pg_try_advisory_lock_shared": "advisory-lock",
    "pg_try_advisory_xact_lock": "advisory-lock",
    "pg_try_advisory_xact_lock_shared": "advisory-lock",
}
"""Functions DSQL refuses, mapped to the rule id."""

FUNCTION_LANGUAGES: Final = frozenset({"sql"})

SUPPORTED_LOCKING_CLAUSES: Final = frozenset({"FOR UPDATE", "FOR KEY SHARE"})

# -- optimistic concurrency, retries, connections --------------------------------

OCC_SQLSTATE: Final = "40001"
OCC_CODE_PATTERN: Final = re.compile(r"\bOC00[01]\b")
"""DSQL puts the conflict kind only in the message; its wording has changed
twice, so match the code, never the text."""

SERVER_UNAVAILABLE: Final = ("XX000", re.compile(r"server unavailable", re.IGNORECASE))
"""A transient server-side failure DSQL asks clients to retry."""

AUTH_FAILED: Final = ("08006", re.compile(r"access denied", re.IGNORECASE))
"""Expired IAM token or role session: not transient, do not retry blindly."""

WRONG_TOKEN_ACTION: Final = re.compile(r"wrong user to action mapping", re.IGNORECASE)

# -- connect-time refusals (read by connect_retry) -----------------------------

CONNECT_REFUSALS: Final = (
    ("too-many-connections", "53300", re.compile(r"too many connections", re.IGNORECASE)),
    ("rate-exceeded", "53400", re.compile(r"rate exceeded", re.IGNORECASE)),
    ("waking-up", None, re.compile(r"waking up cluster", re.IGNORECASE)),
)
"""Transient refusals of a new connection: (kind, SQLSTATE, message pattern).
More than 10,000 connections (``53300``); more than 100 new connections a
second past a burst of 1,000 (``53400`` "rate exceeded"); an idle cluster
scaled to zero answering "waking up cluster, please retry later" (no SQLSTATE
recorded).  libpq reports a startup error without its SQLSTATE, so the
message decides when the SQLSTATE is missing.  Retry with backoff."""

SIGNATURE_EXPIRED_HINT: Final = re.compile(r"signature expired", re.IGNORECASE)
"""The HINT of an ``08006`` "access denied" that a freshly signed token cures:
re-sign once.  Without it the credentials themselves were refused: no retry."""

#: PostgreSQL's ``lock_not_available``: what a writer that would wait for
#: another transaction's row lock gets in strict local mode (a short
#: ``lock_timeout``), answered as DSQL's data conflict (``occ-data``) instead.
POSTGRESQL_LOCK_NOT_AVAILABLE: Final = "55P03"

#: Connections a cluster accepts at once (more: ``53300``).
MAX_CONNECTIONS: Final = 10_000
#: New connections a cluster accepts per second (more: ``53400`` rate exceeded) ...
NEW_CONNECTIONS_PER_SECOND: Final = 100
#: ... with bursts of up to this many.
NEW_CONNECTIONS_BURST: Final = 1_000


def __getattr__(name: str) -> object:
    # RetryPolicy and RETRY_POLICY are client policy, not DSQL facts: they live in
    # aurora_dsql_sqlalchemy.retry; still importable from here for existing code
    if name in ("RetryPolicy", "RETRY_POLICY"):
        from . import retry

        return getattr(retry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


CONNECTION_LIFETIME_SECONDS: Final = 3_600
POOL_RECYCLE_SECONDS: Final = 3_300
"""Recycle pooled connections before DSQL closes them (AWS's connector uses 3,300 s)."""

TOKEN_LIFETIME_SECONDS: Final = 900
"""Default IAM auth token lifetime (15 minutes); DSQL checks it only at connect."""

MAX_TOKEN_LIFETIME_SECONDS: Final = 7 * 24 * 3_600
"""The longest IAM auth token lifetime DSQL accepts (one week)."""

ADMIN_ROLE: Final = "admin"
"""The role whose token is signed with ``DbConnectAdmin`` (every other role: ``DbConnect``)."""

SYSTEM_SCHEMAS: Final = frozenset({"sys"})
"""DSQL's own schemas: never listed, reflected or autogenerated."""

INDEX_ACCESS_METHOD: Final = "btree_index"
"""DSQL's only index access method, as ``pg_am.amname`` names it."""

LOCAL_INDEX_ACCESS_METHOD: Final = "btree"
"""What PostgreSQL (local mode) builds for DSQL's index."""

INDEX_ACCESS_METHODS: Final = frozenset({INDEX_ACCESS_METHOD, LOCAL_INDEX_ACCESS_METHOD})
"""Index access methods as ``pg_am.amname`` names them: DSQL's only one
(``btree_index``) and PostgreSQL's ``btree`` (local mode).  DSQL refuses
``USING``, so reflection reports no ``using`` option for these."""

JOB_FAILURE_SQLSTATES: Final = frozenset({"23505", "23503", "23514", "23502"})
"""Errors of a synchronous build (unique, foreign-key, check, not-null
violations) that DSQL reports as a *failed job* of an ASYNC statement instead."""

DUPLICATE_KEY_SQLSTATE: Final = "23505"
DUPLICATE_KEY_JOB_DETAILS: Final = "found duplicate key(s)"
"""How ``sys.jobs.details`` begins for a UNIQUE build over duplicate rows."""

UNIQUE_ENFORCED_WHILE_BUILDING: Final = False
"""Whether a UNIQUE index refuses duplicates while its job still runs.

The live record (September-October 2026) says no: duplicates written during
the build make the *job* fail ("found duplicate key(s) ...") and leave the
index INVALID, which then enforces uniqueness until dropped.  One AWS
troubleshooting page lists ``23505`` "duplicate against a unique index still
building", which contradicts that.  We follow the record (observed behaviour
beats prose), so a schema is usable only once its index jobs succeeded: the
dialect waits for them by default."""

JOB_ID_PATTERN: Final = re.compile(
    r"^(?:[a-z2-7]{26}|\{?[0-9a-f]{8}-?(?:[0-9a-f]{4}-?){3}[0-9a-f]{12}\}?|[0-9a-f]{32})$",
    re.IGNORECASE,
)
"""A job id DSQL can convert to a UUID: its own 26-character base32 form, or a UUID's text forms."""

DSQL_DETECTION_FUNCTION: Final = ("sys", "dsql_major_version")
"""A function that exists only on DSQL: how the dialect tells DSQL from PostgreSQL."""

DSQL_HOST_PATTERN: Final = re.compile(
    r"^(?P<cluster>[a-z0-9]+)\.dsql(?:-[a-z0-9]+)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\.on\.aws\.?$",
    re.IGNORECASE,
)
"""``<cluster-id>.dsql.<region>.on.aws``, and the suffixed forms: ``dsql-fips``, and
the PrivateLink form ``<cluster-id>.dsql-<suffix>.<region>.on.aws`` (e.g. ``dsql-fnh4``)."""

AUTH_FAILURE_PATTERN: Final = re.compile(
    r"access denied|IAM authentication failed|password authentication failed"
    r"|token has expired",
    re.IGNORECASE,
)
"""Connect-time refusals of the password (the IAM token): DSQL's ``08006`` "unable to
accept connection, access denied" (expired token or role session), its "IAM
authentication failed for user", and PostgreSQL's ``28P01`` (local mode with a
password-authenticated role).  Not transient: regenerate the token once, never loop."""
