"""Aurora DSQL's rules, as data.

This module is the single source of truth for what Aurora DSQL refuses and
what it limits.  The compilers, strict local mode, the ``lint`` command, the
retry helpers and the test-suite requirements all read from here; none of
them restates a rule.  When DSQL changes (it does, monthly), change it here.

Each :class:`Rule` records what DSQL refuses, the SQLSTATE and message a live
cluster answers with, *when* it answers (at the statement or at COMMIT), and
what to do instead.  Numeric limits live in :data:`LIMITS`; type families in
the ``*_TYPES`` sets.

Facts are as of 2026-10 (Aurora DSQL user guide, release notes, and results of
statements run on live clusters).  Foreign keys (2026-08-26), identity columns
and sequences (2026-02), json (2026-05) / jsonb (2026-06) columns, expression
(2026-08) and partial (2026-09) indexes are supported and are *not* rules.
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
    "rule",
]

FiresAt = Literal["statement", "commit", "connect"]
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Rule:
    """One thing Aurora DSQL refuses or limits."""

    id: str
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
    """When DSQL reports it: at the offending statement, or at COMMIT."""
    severity: Severity = "error"
    """``warning`` rules are accepted by DSQL but change what you get."""

    def server_message(self, **fields: object) -> str:
        """DSQL's message with its placeholders filled."""
        return self.message.format(**fields) if fields else self.message

    def explain(self, subject: str) -> str:
        """A user-facing sentence: what, which DSQL rule, what to do instead."""
        if self.severity == "warning":
            return f"{subject} [DSQL rule {self.id}]. {self.advice}"
        return (
            f"{subject}: Aurora DSQL does not support {self.title} "
            f"[rule {self.id}, SQLSTATE {self.sqlstate}]. {self.advice}"
        )


def _rules(*items: Rule) -> dict[str, Rule]:
    return {r.id: r for r in items}


_UNSUPPORTED = "unsupported statement: {statement}"

RULES: Final[dict[str, Rule]] = _rules(
    # -- transactions -----------------------------------------------------
    Rule(
        "ddl-per-transaction",
        "more than one DDL statement in a transaction",
        "0A000",
        "multiple ddl statements not supported in a transaction",
        "Run each DDL statement in its own transaction: metadata.create_all() "
        "and the Alembic integration do this for you; commit between raw DDL statements.",
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
        "more than 3,000 modified rows in one transaction",
        "54000",
        "transaction row limit exceeded",
        "Split the write into transactions of at most 3,000 rows: "
        "aurora_dsql_sqlalchemy.bulk.chunked_write() does this with OCC retries.",
    ),
    Rule(
        "transaction-size",
        "more than 10 MiB written in one transaction",
        "54000",
        "transaction size limit 10mb exceeded",
        "Write in smaller transactions: aurora_dsql_sqlalchemy.bulk.chunked_write() "
        "sizes chunks by estimated bytes.",
        fires_at="commit",
    ),
    Rule(
        "transaction-age",
        "transactions older than 5 minutes",
        "54000",
        "transaction age limit of 300s exceeded",
        "Keep each transaction under 5 minutes; split long batch jobs into chunks.",
        fires_at="commit",
    ),
    Rule(
        "isolation-level",
        "isolation levels other than REPEATABLE READ",
        "0A000",
        "unsupported isolation level: {level}",
        "DSQL always runs REPEATABLE READ (snapshot at BEGIN); remove the "
        "isolation_level setting, or use AUTOCOMMIT.",
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
    ),
    Rule(
        "two-phase-commit",
        "two-phase commit",
        "0A000",
        _UNSUPPORTED,
        "Use ordinary single-phase transactions.",
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
    ),
    Rule(
        "truncate",
        "TRUNCATE",
        "0A000",
        _UNSUPPORTED,
        "DELETE in chunks of at most 3,000 rows "
        "(aurora_dsql_sqlalchemy.bulk.chunked_delete), or drop and re-create the table.",
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
    ),
    Rule(
        "index-opclass",
        "operator classes on index keys",
        "0A000",
        "operator classes not supported for index keys",
        "Remove the operator class (postgresql_ops).",
    ),
    Rule(
        "index-collate",
        "COLLATE on index keys",
        "0A000",
        "COLLATE not supported for index keys",
        "Remove the COLLATE; DSQL has only the C collation.",
    ),
    Rule(
        "index-storage",
        "index storage options (WITH (...), TABLESPACE)",
        "0A000",
        _UNSUPPORTED,
        "Remove postgresql_with / postgresql_tablespace from the index.",
    ),
    Rule(
        "index-key-columns",
        "more than 8 key columns in an index",
        "54011",
        "cannot use more than 8 columns in an index",
        "Use at most 8 key columns; move the rest into INCLUDE (auroradsql_include=[...]).",
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
        "more than 24 indexes on one table",
        "54000",
        "too many indexes on table (max 24)",
        "Drop unused indexes, or combine them using INCLUDE columns.",
    ),
    Rule(
        "index-key-size",
        "index keys larger than 1 KiB",
        "54000",
        "index row size exceeds maximum of 1024 bytes",
        "Index a shorter value (a prefix or a hash expression).",
    ),
    # -- tables, columns, constraints ------------------------------------------
    Rule(
        "temporary-table",
        "temporary tables",
        "0A000",
        _UNSUPPORTED,
        "Use an ordinary table (with a session or job id column) or a CTE / VALUES list.",
    ),
    Rule(
        "create-type",
        "CREATE TYPE (enum and composite types)",
        "0A000",
        _UNSUPPORTED,
        "Use sqlalchemy.Enum (the dialect stores it as VARCHAR with a CHECK "
        "constraint) or CREATE DOMAIN.",
    ),
    Rule(
        "extension",
        "CREATE EXTENSION",
        "0A000",
        _UNSUPPORTED,
        "Extensions are unavailable; gen_random_uuid() and the built-in functions are there.",
    ),
    Rule(
        "trigger",
        "triggers",
        "0A000",
        _UNSUPPORTED,
        "Do the work in the application (SQLAlchemy ORM events run client-side).",
    ),
    Rule(
        "materialized-view",
        "materialized views",
        "0A000",
        _UNSUPPORTED,
        "Use a view, or a table refreshed by the application.",
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
    ),
    Rule(
        "inheritance",
        "table inheritance (INHERITS)",
        "0A000",
        _UNSUPPORTED,
        "Remove postgresql_inherits; use ORM inheritance mapped to separate tables.",
    ),
    Rule(
        "tablespace",
        "tablespaces and table storage options",
        "0A000",
        _UNSUPPORTED,
        "Remove postgresql_tablespace / postgresql_with / postgresql_using.",
    ),
    Rule(
        "collate",
        "COLLATE on columns",
        "0A000",
        _UNSUPPORTED,
        "Remove collation=...; DSQL has only the C collation.",
    ),
    Rule(
        "row-level-security",
        "row-level security",
        "0A000",
        _UNSUPPORTED,
        "Filter rows in the application or in a view.",
    ),
    Rule(
        "exclusion-constraint",
        "exclusion constraints",
        "0A000",
        _UNSUPPORTED,
        "Check the condition in the application inside a retried transaction.",
    ),
    Rule(
        "function-language",
        "functions in languages other than SQL",
        "0A000",
        _UNSUPPORTED,
        "Write the function in LANGUAGE sql, or do the work in the application.",
    ),
    Rule(
        "do-block",
        "DO blocks",
        "0A000",
        _UNSUPPORTED,
        "Run the statements from the application.",
    ),
    Rule(
        "procedure",
        "CREATE PROCEDURE",
        "0A000",
        _UNSUPPORTED,
        "Use a LANGUAGE sql function, or run the statements from the application.",
    ),
    Rule(
        "server-admin",
        "server administration statements (ALTER SYSTEM, VACUUM, CREATE DATABASE, ...)",
        "0A000",
        _UNSUPPORTED,
        "DSQL manages the server and has one database, postgres.",
    ),
    Rule(
        "serial",
        "SERIAL columns",
        "42704",
        'type "{type}" does not exist',
        "Use BIGINT GENERATED BY DEFAULT AS IDENTITY (CACHE 65536) (the dialect "
        "emits this for integer autoincrement keys) or a UUID key with gen_random_uuid().",
    ),
    Rule(
        "sequence-cache",
        "sequences and identity columns without CACHE 1 or CACHE >= 65536",
        "0A000",
        "CREATE SEQUENCE is not supported without an explicit cache size 1 or >= 65536",
        "Write CACHE 1 (ordered, slower) or CACHE 65536 or more (unordered, with gaps); "
        "the dialect writes CACHE 65536 unless you set Identity(cache=...) / Sequence(cache=...).",
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
    ),
    Rule(
        "set-not-null",
        "ALTER COLUMN ... SET NOT NULL",
        "0A000",
        _UNSUPPORTED,
        "Add a CHECK (col IS NOT NULL) constraint NOT VALID, then VALIDATE it asynchronously.",
    ),
    Rule(
        "primary-key-change",
        "adding, dropping or changing a primary key",
        "0A000",
        _UNSUPPORTED,
        "Declare the primary key in CREATE TABLE; to change it, create a new table and copy.",
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
        "columns-per-table",
        "more than 255 columns in a table",
        "54011",
        "tables can have at most 255 columns",
        "Split the table.",
    ),
    Rule(
        "numeric-precision",
        "NUMERIC without a precision",
        "01000",
        "numeric without precision is stored as numeric(18,6)",
        "Give Numeric(precision, scale) explicitly: without it DSQL stores "
        "numeric(18,6) and rounds values beyond 6 decimal places.",
        severity="warning",
    ),
)


def rule(rule_id: str) -> Rule:
    """The rule with this id (``KeyError`` names the known ids if it doesn't exist)."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"unknown DSQL rule {rule_id!r}; known: {', '.join(sorted(RULES))}") from None


@dataclass(frozen=True)
class Limits:
    """DSQL's numeric limits.  Strict local mode enforces these; pass a
    modified copy (``dataclasses.replace(LIMITS, ...)``) to relax them."""

    transaction_rows: int = 3_000
    transaction_bytes: int = 10 * 1024 * 1024
    transaction_seconds: float = 300.0
    index_key_columns: int = 8
    indexes_per_table: int = 24
    index_key_bytes: int = 1024
    columns_per_table: int = 255
    row_bytes: int = 2 * 1024 * 1024
    value_bytes: int = 1024 * 1024
    tables: int = 1_000
    schemas: int = 10
    sequences: int = 5_000
    connection_seconds: float = 3_600.0


LIMITS: Final = Limits()

# -- identity columns and sequences ------------------------------------------

IDENTITY_CACHE_DEFAULT: Final = 65_536
"""The CACHE the dialect writes when the user gives none (unordered values, with gaps)."""


def is_valid_sequence_cache(cache: int) -> bool:
    """DSQL accepts CACHE 1 or CACHE >= 65536, nothing in between."""
    return cache == 1 or cache >= IDENTITY_CACHE_DEFAULT


# -- types ---------------------------------------------------------------------
# Names are PostgreSQL's canonical type names (as format_type() prints them,
# lower case, without modifiers).

COLUMN_TYPES: Final = frozenset(
    {
        "smallint", "integer", "bigint", "real", "double precision", "numeric",
        "boolean", "character", "character varying", "text", "bytea", "date",
        "time without time zone", "time with time zone",
        "timestamp without time zone", "timestamp with time zone", "interval",
        "uuid", "json", "jsonb",
    }
)
"""Types DSQL accepts as column types."""

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
    }
)
"""Types DSQL does not have at all (besides user-defined enum/composite types)."""

NON_INDEXABLE_KEY_TYPES: Final = frozenset(
    {"json", "jsonb", "bytea", "interval", "time with time zone"}
)
"""Column types that cannot be index keys (they may be INCLUDE columns)."""

NUMERIC_DEFAULT_PRECISION: Final = (18, 6)
"""What DSQL stores for ``numeric`` written without precision."""

MAX_NUMERIC_PRECISION: Final = 1_000

# -- sessions and transactions -------------------------------------------------

ISOLATION_LEVELS: Final = frozenset({"REPEATABLE READ"})
"""The only isolation level DSQL runs (AUTOCOMMIT is a client-side mode)."""

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

REFUSED_FUNCTIONS: Final = {
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

SYSTEM_SCHEMAS: Final = frozenset({"sys"})
"""DSQL's own schemas: never listed, reflected or autogenerated."""

INDEX_ACCESS_METHODS: Final = frozenset({"btree_index", "btree"})
"""Index access methods as ``pg_am.amname`` names them: DSQL's only one
(``btree_index``) and PostgreSQL's ``btree`` (local mode).  DSQL refuses
``USING``, so reflection reports no ``using`` option for these."""

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
