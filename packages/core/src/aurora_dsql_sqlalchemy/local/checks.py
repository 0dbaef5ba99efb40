"""Which of Aurora DSQL's rules a SQL text breaks, decided by PostgreSQL's own parser.

Strict local mode calls :func:`check_sql` once for each distinct statement text
the driver is about to send, whatever produced it (the dialect's compilers,
``text()``, ``exec_driver_sql``, Alembic's ``op.execute``), and answers a
violation the way DSQL would: with the rule's SQLSTATE and DSQL's message.
The ``lint`` command reads the same checks through :func:`find_violations`,
which also locates each finding and reports warnings.

The text is parsed with `pglast <https://pglast.readthedocs.io>`_, which embeds
PostgreSQL's parser, so a check sees what the server would see: a ``TRUNCATE``
inside a string literal or a comment is not a ``TRUNCATE``.  What the rules are
(SQLSTATE, message, advice, limits, type families) is read from
:mod:`aurora_dsql_sqlalchemy.rules`; this module only recognises them.

Two things are prepared before parsing:

* DSQL-only syntax is accepted: ``CREATE [UNIQUE] INDEX ASYNC`` and
  ``ALTER TABLE ASYNC ... VALIDATE CONSTRAINT`` (the word ``ASYNC`` is blanked
  out, and remembered: a ``CREATE INDEX`` without it breaks ``index-async``).
  ``CALL sys.wait_for_job(...)`` is ordinary PostgreSQL syntax.
* Driver placeholders (``%s``, ``%(name)s``, psycopg's ``%b``/``%t``, and ``%%``
  for a literal percent) are replaced by a parameter reference before parsing.

Replacements keep every character offset, so locations stay exact.  Text the
parser rejects yields no violation: the server reports the syntax error.

What a single statement cannot show is not checked here: per-table limits that
need the catalog (24 indexes per table, columns added by ``ALTER TABLE`` towards
the 255-column limit, dropping a primary-key column or constraint), index keys
whose type is only known from the catalog, and the transaction-shape, row,
size and age limits (the execution layer enforces those).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pglast import parser as _pg

from .. import rules
from ..rules import LIMITS, RULES, Limits

__all__ = ["Finding", "Violation", "check_sql", "find_violations"]

Node = dict[str, Any]


@dataclass(frozen=True)
class Violation:
    """One DSQL rule that a statement breaks."""

    rule_id: str
    """The key of the rule in :data:`aurora_dsql_sqlalchemy.rules.RULES`."""
    subject: str
    """The offending construct, in a few words (``"TRUNCATE orders"``)."""
    fields: Mapping[str, str] = field(default_factory=dict)
    """Values for the placeholders of the rule's message (``{"statement": "TRUNCATE"}``)."""

    @property
    def rule(self) -> rules.Rule:
        """The :class:`~aurora_dsql_sqlalchemy.rules.Rule` broken."""
        return RULES[self.rule_id]

    def server_message(self) -> str:
        """The message text a DSQL cluster answers with."""
        return RULES[self.rule_id].server_message(**self.fields)

    def explain(self) -> str:
        """A sentence for people: what, which rule, what to do instead."""
        return RULES[self.rule_id].explain(self.subject)


@dataclass(frozen=True)
class Finding:
    """A :class:`Violation` located in the text that was checked."""

    violation: Violation
    line: int
    """1-based line of the statement's first token."""
    statement: str
    """The statement's text (as written, without the trailing semicolon)."""


def check_sql(sql: str, limits: Limits = LIMITS) -> tuple[Violation, ...]:
    """All DSQL rules (of severity ``error``) that this SQL text violates.

    *sql* is what a driver receives: one or several statements, possibly with
    DSQL-only syntax and pyformat placeholders.  Text that PostgreSQL's parser
    cannot parse yields no violation.  *limits* may be a relaxed copy of
    :data:`~aurora_dsql_sqlalchemy.rules.LIMITS`.
    """
    return tuple(
        f.violation
        for f in find_violations(sql, limits)
        if RULES[f.violation.rule_id].severity == "error"
    )


def find_violations(
    sql: str,
    limits: Limits = LIMITS,
    *,
    placeholders: bool = True,
    warnings: bool = False,
) -> list[Finding]:
    """Every DSQL rule *sql* breaks, with the line and text of each statement.

    ``placeholders=False`` reads ``%`` literally (for ``.sql`` files rather than
    driver text); ``warnings=True`` adds ``warning`` rules (accepted by DSQL,
    but with a different result than PostgreSQL's).
    """
    prepared = _prepare(sql, placeholders)
    if prepared is None:
        return []
    text, stmts, async_offsets = prepared
    data = text.encode("utf-8")
    findings: list[Finding] = []
    original: bytes | None = None
    for raw in stmts:
        start = raw.get("stmt_location", 0)
        length = raw.get("stmt_len", 0) or len(data) - start
        is_async = any(start <= o < start + length for o in async_offsets)
        checker = _Checker(limits, data[start : start + length], is_async)
        checker.check(raw["stmt"])
        if not checker.found:
            continue
        if original is None:
            original = sql.encode("utf-8")  # same byte offsets as the prepared text
        statement = original[start : start + length].decode("utf-8", "replace").strip()
        chunk = data[start : start + length]
        first = start + len(chunk) - len(chunk.lstrip())
        line = data.count(b"\n", 0, first) + 1
        for violation in checker.found:
            if warnings or RULES[violation.rule_id].severity == "error":
                findings.append(Finding(violation, line, statement))
    return findings


# -- preparing the text ------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"%%|%[sbt]|%\([^()%]*\)[sbt]")
_ASYNC_WORD = re.compile(r"async", re.IGNORECASE)


def _fill(fill: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        token = match.group()
        if token == "%%":
            return "% "
        return fill + " " * (len(token) - len(fill))

    return replace


def _prepare(sql: str, placeholders: bool) -> tuple[str, list[Node], list[int]] | None:
    """(text to check, parsed statements, byte offsets of the removed ASYNC words)."""
    candidates = [sql]
    if placeholders and "%" in sql:
        # A parameter reference parses wherever a value can go; where it can't
        # (e.g. ``SET x = %s``), a literal does.
        candidates = [
            _PLACEHOLDER.sub(_fill("$1"), sql),
            _PLACEHOLDER.sub(_fill("0"), sql),
        ]
    for text in candidates:
        async_offsets: list[int] = []
        if _ASYNC_WORD.search(text):
            text, async_offsets = _remove_async(text)
        try:
            parsed = json.loads(_pg.parse_sql_json(text))
        except _pg.ParseError:
            continue
        return text, parsed.get("stmts", []), async_offsets
    return None


def _remove_async(text: str) -> tuple[str, list[int]]:
    """Blank out DSQL's ``ASYNC`` in ``CREATE [UNIQUE] INDEX ASYNC`` / ``ALTER TABLE ASYNC``."""
    try:
        tokens = _pg.scan(text)
    except _pg.ParseError:
        return text, []
    words = [(t.name, text[t.start : t.end + 1].lower(), t.start) for t in tokens]
    chars = list(text)
    removed: list[int] = []
    statement_start = True
    for i, (name, _, _) in enumerate(words):
        if name == "ASCII_59":
            statement_start = True
            continue
        if not statement_start:
            continue
        statement_start = False
        kinds = [w[0] for w in words[i : i + 4]]
        if kinds[:2] == ["CREATE", "INDEX"]:
            at = i + 2
        elif kinds[:3] == ["CREATE", "UNIQUE", "INDEX"]:
            at = i + 3
        elif kinds[:2] == ["ALTER", "TABLE"]:
            at = i + 2
        else:
            continue
        if at < len(words) and words[at][0] == "IDENT" and words[at][1] == "async":
            offset = words[at][2]
            chars[offset : offset + 5] = " " * 5
            removed.append(offset)
    if not removed:
        return text, []
    blanked = "".join(chars)
    # scan() counts characters; the parser's locations count UTF-8 bytes.
    return blanked, [len(text[:o].encode("utf-8")) for o in removed]


# -- reading parse-tree values -----------------------------------------------------------


def _strings(items: Iterable[Node] | None) -> list[str]:
    return [item["String"].get("sval", "") for item in items or () if "String" in item]


def _relation(rangevar: Node | None) -> str:
    if not rangevar:
        return "?"
    if "RangeVar" in rangevar:
        rangevar = rangevar["RangeVar"]
    name = rangevar.get("relname", "?")
    schema = rangevar.get("schemaname")
    return f"{schema}.{name}" if schema else name


def _const_text(node: Node | None) -> str | None:
    """The value of a constant (string, number, keyword), as text."""
    if not node:
        return None
    if "A_Const" in node:
        node = node["A_Const"]
    for kind, key in (
        ("sval", "sval"),
        ("ival", "ival"),
        ("fval", "fval"),
        ("boolval", "boolval"),
    ):
        if kind in node:
            value = node[kind].get(
                key, 0 if kind == "ival" else False if kind == "boolval" else ""
            )
            return str(value)
    for kind, key in (
        ("String", "sval"),
        ("Integer", "ival"),
        ("Float", "fval"),
        ("Boolean", "boolval"),
    ):
        if kind in node:
            return str(node[kind].get(key, 0))
    if "TypeCast" in node:
        return _const_text(node["TypeCast"].get("arg"))
    return None


def _number(node: Node | None) -> float | None:
    text = _const_text(node)
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _options(items: Iterable[Node] | None) -> dict[str, Node | None]:
    found: dict[str, Node | None] = {}
    for item in items or ():
        if "DefElem" in item:
            found[item["DefElem"].get("defname", "")] = item["DefElem"].get("arg")
    return found


_TYPE_NAMES: dict[str, str] = {
    "int2": "smallint",
    "int4": "integer",
    "int": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "float": "double precision",
    "decimal": "numeric",
    "bool": "boolean",
    "bpchar": "character",
    "char": "character",
    "varchar": "character varying",
    "time": "time without time zone",
    "timetz": "time with time zone",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "varbit": "bit varying",
}
_SERIAL_TYPES = frozenset(
    {"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"}
)


@dataclass(frozen=True)
class _Type:
    name: str
    """Canonical name (format_type() style) for built-in types, else as written."""
    builtin: bool
    array: bool
    modifiers: bool

    @property
    def display(self) -> str:
        return self.name + ("[]" if self.array else "")


def _type(type_name: Node | None) -> _Type | None:
    if not type_name:
        return None
    if "TypeName" in type_name:
        type_name = type_name["TypeName"]
    names = _strings(type_name.get("names"))
    if not names:
        return None
    schema = names[0] if len(names) > 1 else None
    builtin = schema in (None, "pg_catalog")
    name = names[-1].lower() if builtin else ".".join(names)
    if builtin:
        name = _TYPE_NAMES.get(name, name)
    return _Type(
        name,
        builtin,
        bool(type_name.get("arrayBounds")),
        bool(type_name.get("typmods")),
    )


# -- the checks ----------------------------------------------------------------------------

_TRANSACTION_STATEMENTS = {
    "TRANS_STMT_SAVEPOINT": ("savepoint", "SAVEPOINT"),
    "TRANS_STMT_RELEASE": ("savepoint", "RELEASE SAVEPOINT"),
    "TRANS_STMT_ROLLBACK_TO": ("savepoint", "ROLLBACK TO SAVEPOINT"),
    "TRANS_STMT_PREPARE": ("two-phase-commit", "PREPARE TRANSACTION"),
    "TRANS_STMT_COMMIT_PREPARED": ("two-phase-commit", "COMMIT PREPARED"),
    "TRANS_STMT_ROLLBACK_PREPARED": ("two-phase-commit", "ROLLBACK PREPARED"),
}

_REFUSED_STATEMENTS: dict[str, tuple[str, str]] = {
    # parse-tree node -> (rule id, statement as DSQL names it)
    "TruncateStmt": ("truncate", "TRUNCATE"),
    "LockStmt": ("lock-table", "LOCK TABLE"),
    "ListenStmt": ("listen-notify", "LISTEN"),
    "NotifyStmt": ("listen-notify", "NOTIFY"),
    "UnlistenStmt": ("listen-notify", "UNLISTEN"),
    "CompositeTypeStmt": ("create-type", "CREATE TYPE"),
    "CreateEnumStmt": ("create-type", "CREATE TYPE"),
    "CreateRangeStmt": ("create-type", "CREATE TYPE"),
    "CreateExtensionStmt": ("extension", "CREATE EXTENSION"),
    "CreateTrigStmt": ("trigger", "CREATE TRIGGER"),
    "CreateEventTrigStmt": ("trigger", "CREATE EVENT TRIGGER"),
    "RefreshMatViewStmt": ("materialized-view", "REFRESH MATERIALIZED VIEW"),
    "CreateTableSpaceStmt": ("tablespace", "CREATE TABLESPACE"),
    "CreatePolicyStmt": ("row-level-security", "CREATE POLICY"),
    "AlterPolicyStmt": ("row-level-security", "ALTER POLICY"),
    "DoStmt": ("do-block", "DO"),
    "AlterSystemStmt": ("server-admin", "ALTER SYSTEM"),
    "CreatedbStmt": ("server-admin", "CREATE DATABASE"),
    "DropdbStmt": ("server-admin", "DROP DATABASE"),
    "AlterDatabaseStmt": ("server-admin", "ALTER DATABASE"),
    "AlterDatabaseSetStmt": ("server-admin", "ALTER DATABASE"),
    "ClusterStmt": ("server-admin", "CLUSTER"),
    "CheckPointStmt": ("server-admin", "CHECKPOINT"),
    "LoadStmt": ("server-admin", "LOAD"),
}

_LOCK_STRENGTHS = {
    "LCS_FORKEYSHARE": "FOR KEY SHARE",
    "LCS_FORSHARE": "FOR SHARE",
    "LCS_FORNOKEYUPDATE": "FOR NO KEY UPDATE",
    "LCS_FORUPDATE": "FOR UPDATE",
}

_ISOLATION_SETTINGS = frozenset(
    {"transaction_isolation", "default_transaction_isolation"}
)

_ALTER_TABLE_REFUSED: dict[str, tuple[str, str]] = {
    "AT_AlterColumnType": ("alter-column-type", "ALTER COLUMN TYPE"),
    "AT_SetNotNull": ("set-not-null", "ALTER COLUMN SET NOT NULL"),
    "AT_SetTableSpace": ("tablespace", "SET TABLESPACE"),
    "AT_SetRelOptions": ("tablespace", "SET (storage parameters)"),
    "AT_SetAccessMethod": ("tablespace", "SET ACCESS METHOD"),
    "AT_AttachPartition": ("partitioning", "ATTACH PARTITION"),
    "AT_DetachPartition": ("partitioning", "DETACH PARTITION"),
    "AT_AddInherit": ("inheritance", "INHERIT"),
    "AT_EnableRowSecurity": ("row-level-security", "ENABLE ROW LEVEL SECURITY"),
    "AT_ForceRowSecurity": ("row-level-security", "FORCE ROW LEVEL SECURITY"),
}


class _Checker:
    """Walks one statement's parse tree and collects the violations."""

    def __init__(self, limits: Limits, statement: bytes, is_async: bool) -> None:
        self.limits = limits
        self.statement = statement
        self.is_async = is_async
        self.found: list[Violation] = []
        self._handlers: dict[str, Callable[[Node], None]] = {
            "TransactionStmt": self._transaction,
            "VariableSetStmt": self._set,
            "LockingClause": self._locking_clause,
            "FuncCall": self._function,
            "IndexStmt": self._index,
            "DropStmt": self._drop,
            "CreateStmt": self._create_table,
            "CreateSeqStmt": self._create_sequence,
            "AlterSeqStmt": self._alter_sequence,
            "AlterTableStmt": self._alter_table,
            "CreateTableAsStmt": self._create_table_as,
            "SelectStmt": self._select,
            "ViewStmt": self._view,
            "DefineStmt": self._define,
            "CreateFunctionStmt": self._create_function,
            "VacuumStmt": self._vacuum,
        }

    def add(self, rule_id: str, subject: str, **fields: str) -> None:
        self.found.append(Violation(rule_id, subject, fields))

    def check(self, node: Any) -> None:
        """Visit every node of the tree (a node is ``{"NodeType": {fields}}``)."""
        if isinstance(node, dict):
            for key, value in node.items():
                if key[:1].isupper() and isinstance(value, dict):
                    refused = _REFUSED_STATEMENTS.get(key)
                    if refused is not None:
                        self._refused(key, value, *refused)
                    handler = self._handlers.get(key)
                    if handler is not None:
                        handler(value)
                self.check(value)
        elif isinstance(node, list):
            for item in node:
                self.check(item)

    # statements refused as a whole

    def _refused(self, kind: str, node: Node, rule_id: str, statement: str) -> None:
        target = ""
        if kind == "TruncateStmt" or kind == "LockStmt":
            target = ", ".join(_relation(r) for r in node.get("relations", ()))
        elif kind in ("ListenStmt", "NotifyStmt", "UnlistenStmt"):
            target = node.get("conditionname", "*")
        elif kind in ("CreateExtensionStmt", "CreatedbStmt", "DropdbStmt"):
            target = node.get("extname") or node.get("dbname") or ""
        elif kind == "CreateTrigStmt":
            target = f"{node.get('trigname', '')} ON {_relation(node.get('relation'))}"
        elif kind in ("CompositeTypeStmt",):
            target = _relation(node.get("typevar"))
        elif kind in ("CreateEnumStmt", "CreateRangeStmt"):
            target = ".".join(_strings(node.get("typeName")))
        elif kind == "RefreshMatViewStmt":
            target = _relation(node.get("relation"))
        elif kind in ("CreatePolicyStmt", "AlterPolicyStmt"):
            target = f"{node.get('policy_name', '')} ON {_relation(node.get('table'))}"
        subject = f"{statement} {target}".strip()
        self.add(rule_id, subject, statement=statement)

    def _vacuum(self, node: Node) -> None:
        if node.get("is_vacuumcmd"):
            self.add("server-admin", "VACUUM", statement="VACUUM")

    def _define(self, node: Node) -> None:
        if node.get("kind") == "OBJECT_TYPE":
            name = ".".join(_strings(node.get("defnames")))
            self.add("create-type", f"CREATE TYPE {name}", statement="CREATE TYPE")

    def _create_function(self, node: Node) -> None:
        name = ".".join(_strings(node.get("funcname")))
        if node.get("is_procedure"):
            self.add(
                "procedure", f"CREATE PROCEDURE {name}", statement="CREATE PROCEDURE"
            )
            return
        language = _const_text(_options(node.get("options")).get("language"))
        if language is not None and language.lower() not in rules.FUNCTION_LANGUAGES:
            self.add(
                "function-language",
                f"CREATE FUNCTION {name} LANGUAGE {language}",
                statement=f"CREATE FUNCTION ... LANGUAGE {language}",
            )

    # transactions and sessions

    def _transaction(self, node: Node) -> None:
        kind = node.get("kind", "")
        refused = _TRANSACTION_STATEMENTS.get(kind)
        if refused is not None:
            rule_id, statement = refused
            name = node.get("savepoint_name") or node.get("gid") or ""
            self.add(rule_id, f"{statement} {name}".strip(), statement=statement)
        elif kind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
            self._isolation(
                _options(node.get("options")).get("transaction_isolation"),
                "BEGIN ISOLATION LEVEL",
            )

    def _isolation(self, value: Node | None, where: str) -> None:
        level = _const_text(value)
        if level is None or level.upper() in rules.ISOLATION_LEVELS:
            return
        level = level.upper()
        self.add("isolation-level", f"{where} {level}", level=level)

    def _set(self, node: Node) -> None:
        kind = node.get("kind", "")
        name = node.get("name", "")
        if kind == "VAR_SET_MULTI" and name in (
            "TRANSACTION",
            "SESSION CHARACTERISTICS",
        ):
            where = (
                "SET TRANSACTION"
                if name == "TRANSACTION"
                else "SET SESSION CHARACTERISTICS AS TRANSACTION"
            )
            where += " ISOLATION LEVEL"
            self._isolation(
                _options(node.get("args")).get("transaction_isolation"), where
            )
            return
        setting = name.lower()
        if setting in _ISOLATION_SETTINGS and kind == "VAR_SET_VALUE":
            args = node.get("args") or [None]
            self._isolation(args[0], f"SET {setting} TO")
        elif setting in rules.REFUSED_SESSION_SETTINGS:
            verb = "RESET" if kind == "VAR_RESET" else "SET"
            self.add("session-setting", f"{verb} {setting}", name=setting)

    def _locking_clause(self, node: Node) -> None:
        clause = _LOCK_STRENGTHS.get(node.get("strength", ""), "")
        if clause and clause not in rules.SUPPORTED_LOCKING_CLAUSES:
            self.add("locking-clause", f"SELECT ... {clause}", clause=clause)

    def _function(self, node: Node) -> None:
        names = [n.lower() for n in _strings(node.get("funcname"))]
        if not names or (len(names) > 1 and names[0] != "pg_catalog"):
            return
        name = names[-1]
        rule_id = rules.REFUSED_FUNCTIONS.get(name)
        if rule_id is not None:
            self.add(rule_id, f"{name}()", function=name)
        elif name == "pg_notify":
            self.add("listen-notify", "pg_notify()", statement="NOTIFY", function=name)
        elif name == "set_config":
            args = node.get("args") or []
            setting = (_const_text(args[0]) or "").lower() if args else ""
            if setting in rules.REFUSED_SESSION_SETTINGS:
                self.add(
                    "session-setting", f"set_config('{setting}', ...)", name=setting
                )

    # indexes

    def _index(self, node: Node) -> None:
        table = _relation(node.get("relation"))
        name = node.get("idxname")
        subject = f"CREATE {'UNIQUE ' if node.get('unique') else ''}INDEX {name + ' ' if name else ''}ON {table}"
        if node.get("concurrent"):
            self.add(
                "index-concurrently", subject, statement="CREATE INDEX CONCURRENTLY"
            )
        elif not self.is_async:
            self.add("index-async", subject)
        if self._index_has_using():
            self.add("index-using", f"{subject} USING {node.get('accessMethod', '')}")
        if node.get("options"):
            self.add(
                "index-storage",
                f"{subject} WITH (...)",
                statement="CREATE INDEX ... WITH",
            )
        if node.get("tableSpace"):
            self.add(
                "index-storage",
                f"{subject} TABLESPACE",
                statement="CREATE INDEX ... TABLESPACE",
            )
        params = [
            p["IndexElem"] for p in node.get("indexParams", ()) if "IndexElem" in p
        ]
        for param in params:
            key = param.get("name") or "(expression)"
            if param.get("ordering", "SORTBY_DEFAULT") != "SORTBY_DEFAULT":
                direction = "DESC" if param["ordering"] == "SORTBY_DESC" else "ASC"
                self.add("index-sort-order", f"{subject}: key {key} {direction}")
            if param.get("opclass"):
                self.add(
                    "index-opclass",
                    f"{subject}: key {key} {'.'.join(_strings(param['opclass']))}",
                )
            if param.get("collation"):
                self.add("index-collate", f"{subject}: key {key} COLLATE")
            expr = param.get("expr") or {}
            if "TypeCast" in expr:
                cast = _type(expr["TypeCast"].get("typeName"))
                if (
                    cast
                    and cast.builtin
                    and not cast.array
                    and cast.name in rules.NON_INDEXABLE_KEY_TYPES
                ):
                    self.add(
                        "index-key-type",
                        f"{subject}: key of type {cast.name}",
                        type=cast.name,
                    )
        if len(params) > self.limits.index_key_columns:
            self.add("index-key-columns", f"{subject}: {len(params)} key columns")

    def _index_has_using(self) -> bool:
        """``USING method`` was written (the parser fills in ``btree`` when it wasn't)."""
        if b"using" not in self.statement.lower():
            return False
        text = self.statement.decode("utf-8", "replace")
        try:
            tokens = _pg.scan(text)
        except _pg.ParseError:
            return False
        for token in tokens:
            if token.name == "ASCII_40":  # the key list starts: USING comes before it
                return False
            if token.name == "USING":
                return True
        return False

    def _drop(self, node: Node) -> None:
        if node.get("concurrent"):
            self.add(
                "index-concurrently",
                "DROP INDEX CONCURRENTLY",
                statement="DROP INDEX CONCURRENTLY",
            )

    # tables and columns

    def _create_table(self, node: Node) -> None:
        table = _relation(node.get("relation"))
        self._persistence(node.get("relation"), "CREATE TEMPORARY TABLE", table)
        if node.get("partspec"):
            self.add(
                "partitioning",
                f"CREATE TABLE {table} PARTITION BY",
                statement="PARTITION BY",
            )
        if node.get("partbound"):
            self.add(
                "partitioning",
                f"CREATE TABLE {table} PARTITION OF",
                statement="PARTITION OF",
            )
        elif node.get("inhRelations"):
            parents = ", ".join(_relation(r) for r in node["inhRelations"])
            self.add(
                "inheritance",
                f"CREATE TABLE {table} INHERITS ({parents})",
                statement="INHERITS",
            )
        if node.get("tablespacename"):
            self.add(
                "tablespace", f"CREATE TABLE {table} TABLESPACE", statement="TABLESPACE"
            )
        if node.get("options"):
            self.add(
                "tablespace",
                f"CREATE TABLE {table} WITH (...)",
                statement="WITH (storage parameters)",
            )
        if node.get("accessMethod"):
            self.add(
                "tablespace",
                f"CREATE TABLE {table} USING {node['accessMethod']}",
                statement="USING",
            )
        if node.get("ofTypename"):
            self.add(
                "create-type",
                f"CREATE TABLE {table} OF type",
                statement="CREATE TABLE OF",
            )

        columns: dict[str, _Type | None] = {}
        constraints: list[tuple[Node, str | None]] = []
        for element in node.get("tableElts", ()):
            if "ColumnDef" in element:
                column = element["ColumnDef"]
                colname = column.get("colname", "?")
                columns[colname] = self._column(table, column)
                for item in column.get("constraints", ()):
                    if "Constraint" in item:
                        constraints.append((item["Constraint"], colname))
            elif "Constraint" in element:
                constraints.append((element["Constraint"], None))
        for constraint, colname in constraints:
            self._table_constraint(table, constraint, colname, columns)
        if len(columns) > self.limits.columns_per_table:
            self.add(
                "columns-per-table", f"CREATE TABLE {table}: {len(columns)} columns"
            )

    def _persistence(self, rangevar: Node | None, statement: str, name: str) -> None:
        persistence = rangevar.get("relpersistence") if rangevar else None
        if persistence == "t":
            self.add("temporary-table", f"{statement} {name}", statement=statement)
        elif persistence == "u":  # UNLOGGED: a storage option DSQL doesn't have
            unlogged = statement.replace("TEMPORARY", "UNLOGGED")
            self.add("tablespace", f"{unlogged} {name}", statement=unlogged)

    def _column(self, table: str, column: Node) -> _Type | None:
        """Checks one column definition; returns its type."""
        colname = column.get("colname", "?")
        subject = f"column {table}.{colname}"
        column_type = _type(column.get("typeName"))
        if column_type is not None and column_type.builtin:
            if column_type.name in _SERIAL_TYPES and not column_type.array:
                self.add(
                    "serial",
                    f"{subject} {column_type.name.upper()}",
                    type=column_type.name,
                )
            elif (
                column_type.array
                or column_type.name in rules.RUNTIME_ONLY_TYPES
                or column_type.name in rules.UNAVAILABLE_TYPES
            ):
                self.add(
                    "column-type",
                    f"{subject} {column_type.display}",
                    type=column_type.display,
                )
            elif column_type.name == "numeric" and not column_type.modifiers:
                self.add("numeric-precision", f"{subject} NUMERIC")
        if column.get("collClause"):
            self.add("collate", f"{subject} COLLATE", statement="COLLATE")
        for item in column.get("constraints", ()):
            constraint = item.get("Constraint", {})
            if constraint.get("contype") == "CONSTR_IDENTITY":
                self._identity(subject, constraint, column_type)
        return column_type

    def _identity(
        self, subject: str, constraint: Node, column_type: _Type | None
    ) -> None:
        if (
            column_type is not None
            and column_type.builtin
            and column_type.name != "bigint"
        ):
            self.add(
                "identity-type",
                f"{subject} {column_type.display} IDENTITY",
                type=column_type.display,
            )
        self._cache(f"{subject} IDENTITY", constraint.get("options"), required=True)

    def _cache(
        self, subject: str, options: Iterable[Node] | None, *, required: bool
    ) -> None:
        values = _options(options)
        if "cache" not in values:
            if required:
                self.add("sequence-cache", f"{subject} without CACHE")
            return
        cache = _number(values["cache"])
        if (
            cache is None
            or not cache.is_integer()
            or not rules.is_valid_sequence_cache(int(cache))
        ):
            self.add(
                "sequence-cache", f"{subject} CACHE {_const_text(values['cache'])}"
            )

    def _table_constraint(
        self,
        table: str,
        constraint: Node,
        colname: str | None,
        columns: Mapping[str, _Type | None],
    ) -> None:
        kind = constraint.get("contype")
        if kind == "CONSTR_EXCLUSION":
            self.add(
                "exclusion-constraint",
                f"CREATE TABLE {table}: EXCLUDE",
                statement="EXCLUDE",
            )
            return
        if kind not in ("CONSTR_PRIMARY", "CONSTR_UNIQUE") or constraint.get(
            "indexname"
        ):
            return
        keys = [colname] if colname is not None else _strings(constraint.get("keys"))
        label = "PRIMARY KEY" if kind == "CONSTR_PRIMARY" else "UNIQUE"
        for key in keys:
            key_type = columns.get(key)
            if (
                key_type is not None
                and key_type.builtin
                and not key_type.array
                and key_type.name in rules.NON_INDEXABLE_KEY_TYPES
            ):
                self.add(
                    "index-key-type",
                    f"{table}: {label} key {key} of type {key_type.name}",
                    type=key_type.name,
                )
        if len(keys) > self.limits.index_key_columns:
            self.add(
                "index-key-columns", f"{table}: {label} with {len(keys)} key columns"
            )

    def _create_sequence(self, node: Node) -> None:
        name = _relation(node.get("sequence"))
        self._persistence(node.get("sequence"), "CREATE TEMPORARY SEQUENCE", name)
        self._sequence_type(f"sequence {name}", node.get("options"))
        self._cache(f"CREATE SEQUENCE {name}", node.get("options"), required=True)

    def _alter_sequence(self, node: Node) -> None:
        name = _relation(node.get("sequence"))
        self._sequence_type(f"sequence {name}", node.get("options"))
        self._cache(f"ALTER SEQUENCE {name}", node.get("options"), required=False)

    def _sequence_type(self, subject: str, options: Iterable[Node] | None) -> None:
        declared = _options(options).get("as")
        sequence_type = _type(declared)
        if (
            sequence_type is not None
            and sequence_type.builtin
            and sequence_type.name != "bigint"
        ):
            self.add(
                "identity-type",
                f"{subject} AS {sequence_type.display}",
                type=sequence_type.display,
            )

    def _create_table_as(self, node: Node) -> None:
        into = node.get("into") or {}
        name = _relation(into.get("rel"))
        if node.get("objtype") == "OBJECT_MATVIEW":
            self.add(
                "materialized-view",
                f"CREATE MATERIALIZED VIEW {name}",
                statement="CREATE MATERIALIZED VIEW",
            )
        else:
            self._persistence(into.get("rel"), "CREATE TEMPORARY TABLE", name)
            self.add(
                "create-table-as",
                f"CREATE TABLE {name} AS",
                statement="CREATE TABLE AS",
            )

    def _select(self, node: Node) -> None:
        into = node.get("intoClause")
        if into:
            name = _relation(into.get("rel"))
            self._persistence(into.get("rel"), "CREATE TEMPORARY TABLE", name)
            self.add("create-table-as", f"SELECT INTO {name}", statement="SELECT INTO")

    def _view(self, node: Node) -> None:
        self._persistence(
            node.get("view"), "CREATE TEMPORARY VIEW", _relation(node.get("view"))
        )

    def _alter_table(self, node: Node) -> None:
        if node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE":
            return
        table = _relation(node.get("relation"))
        for item in node.get("cmds", ()):
            command = item.get("AlterTableCmd")
            if command is not None:
                self._alter_table_command(table, command)

    def _alter_table_command(self, table: str, command: Node) -> None:
        subtype = command.get("subtype", "")
        column = command.get("name") or "?"
        definition = command.get("def") or {}
        refused = _ALTER_TABLE_REFUSED.get(subtype)
        if refused is not None:
            rule_id, statement = refused
            if subtype in ("AT_AlterColumnType", "AT_SetNotNull"):
                subject = f"ALTER TABLE {table} ALTER COLUMN {column} {statement.removeprefix('ALTER COLUMN ')}"
            else:
                subject = f"ALTER TABLE {table} {statement}"
            self.add(rule_id, subject, statement=statement)
        elif subtype == "AT_AddColumn" and "ColumnDef" in definition:
            column_def = definition["ColumnDef"]
            self._column(table, column_def)
            extras = [
                c["Constraint"].get("contype", "")
                for c in column_def.get("constraints", ())
                if "Constraint" in c and c["Constraint"].get("contype") != "CONSTR_NULL"
            ]
            if extras:
                what = ", ".join(sorted({_CONSTRAINT_WORDS.get(e, e) for e in extras}))
                self.add(
                    "add-column-constraint",
                    f"ALTER TABLE {table} ADD COLUMN {column_def.get('colname', '?')} ... {what}",
                )
        elif subtype == "AT_AddConstraint" and "Constraint" in definition:
            self._add_constraint(table, definition["Constraint"])
        elif subtype == "AT_AddIdentity" and "Constraint" in definition:
            self._cache(
                f"ALTER TABLE {table} ALTER COLUMN {column} ADD IDENTITY",
                definition["Constraint"].get("options"),
                required=True,
            )
        elif subtype == "AT_SetIdentity":
            items = definition.get("List", {}).get("items")
            self._cache(
                f"ALTER TABLE {table} ALTER COLUMN {column} SET", items, required=False
            )

    def _add_constraint(self, table: str, constraint: Node) -> None:
        kind = constraint.get("contype", "")
        name = constraint.get("conname")
        subject = f"ALTER TABLE {table} ADD {'CONSTRAINT ' + name + ' ' if name else ''}{_CONSTRAINT_WORDS.get(kind, kind)}"
        if kind == "CONSTR_PRIMARY":
            self.add(
                "primary-key-change", subject, statement="ALTER TABLE ADD PRIMARY KEY"
            )
        elif kind == "CONSTR_EXCLUSION":
            self.add("exclusion-constraint", subject, statement="EXCLUDE")
        elif kind == "CONSTR_NOTNULL":
            self.add(
                "set-not-null", subject, statement="ALTER TABLE ADD CONSTRAINT NOT NULL"
            )
        elif kind == "CONSTR_UNIQUE" and not constraint.get("indexname"):
            self.add("add-constraint", subject)
        elif kind in ("CONSTR_FOREIGN", "CONSTR_CHECK") and not constraint.get(
            "skip_validation"
        ):
            self.add("add-constraint", f"{subject} without NOT VALID")


_CONSTRAINT_WORDS = {
    "CONSTR_NOTNULL": "NOT NULL",
    "CONSTR_DEFAULT": "DEFAULT",
    "CONSTR_IDENTITY": "IDENTITY",
    "CONSTR_GENERATED": "GENERATED",
    "CONSTR_CHECK": "CHECK",
    "CONSTR_PRIMARY": "PRIMARY KEY",
    "CONSTR_UNIQUE": "UNIQUE",
    "CONSTR_EXCLUSION": "EXCLUDE",
    "CONSTR_FOREIGN": "FOREIGN KEY",
}


def created_indexes(sql: str, *, placeholders: bool = False) -> list[tuple[str, int]]:
    """``(table, line)`` for each index *sql* creates: ``CREATE INDEX`` and the
    ``PRIMARY KEY`` / ``UNIQUE`` constraints of ``CREATE TABLE``.

    The ``lint`` command adds these up per table to check DSQL's limit of
    indexes per table across a migration file (a single statement can't show it).
    """
    prepared = _prepare(sql, placeholders)
    if prepared is None:
        return []
    text, stmts, _ = prepared
    data = text.encode("utf-8")
    found: list[tuple[str, int]] = []
    for raw in stmts:
        start = raw.get("stmt_location", 0)
        chunk = data[start : start + (raw.get("stmt_len", 0) or len(data) - start)]
        line = data.count(b"\n", 0, start + len(chunk) - len(chunk.lstrip())) + 1
        stmt = raw["stmt"]
        if "IndexStmt" in stmt:
            found.append((_relation(stmt["IndexStmt"].get("relation")), line))
        elif "CreateStmt" in stmt:
            create = stmt["CreateStmt"]
            table = _relation(create.get("relation"))
            for element in create.get("tableElts", ()):
                items = element.get("ColumnDef", {}).get("constraints", ())
                if "Constraint" in element:
                    items = [element]
                for item in items:
                    kind = item.get("Constraint", {}).get("contype")
                    if kind in ("CONSTR_PRIMARY", "CONSTR_UNIQUE"):
                        found.append((table, line))
    return found
