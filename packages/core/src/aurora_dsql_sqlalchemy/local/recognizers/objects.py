"""Objects DSQL does not have: statements refused by kind (TRUNCATE, CREATE
EXTENSION, triggers, foreign tables, ...), user-defined types, procedures,
functions in other languages, server administration."""

from __future__ import annotations

from ... import rules
from ...rules import RuleId
from ..tree import Node, const_text, options, relation, strings
from .base import Context, Recognizer, Visitor

__all__ = ["REFUSED_STATEMENTS", "ObjectRecognizer"]

REFUSED_STATEMENTS: dict[str, RuleId] = {
    # parse-tree node -> rule; DSQL's message names the node ("unsupported statement: Truncate")
    "TruncateStmt": "truncate",
    "LockStmt": "lock-table",
    "ListenStmt": "listen-notify",
    "NotifyStmt": "listen-notify",
    "UnlistenStmt": "listen-notify",
    "CompositeTypeStmt": "create-type",
    "CreateEnumStmt": "create-type",
    "CreateRangeStmt": "create-type",
    "CreateExtensionStmt": "extension",
    "AlterExtensionStmt": "extension",
    "CreateForeignTableStmt": "foreign-table",
    "CreateForeignServerStmt": "foreign-table",
    "CreateFdwStmt": "foreign-table",
    "CreateUserMappingStmt": "foreign-table",
    "ImportForeignSchemaStmt": "foreign-table",
    "CreateTrigStmt": "trigger",
    "CreateEventTrigStmt": "trigger",
    "RefreshMatViewStmt": "materialized-view",
    "CreateTableSpaceStmt": "tablespace",
    "CreatePolicyStmt": "row-level-security",
    "AlterPolicyStmt": "row-level-security",
    "DoStmt": "do-block",
    "AlterSystemStmt": "server-admin",
    "CreatedbStmt": "server-admin",
    "DropdbStmt": "server-admin",
    "AlterDatabaseStmt": "server-admin",
    "AlterDatabaseSetStmt": "server-admin",
    "ClusterStmt": "server-admin",
    "CheckPointStmt": "server-admin",
    "LoadStmt": "server-admin",
}

_ALTER_TYPE_STATEMENTS = ("AlterEnumStmt", "AlterTypeStmt")


def _target(kind: str, node: Node) -> str:
    """What a refused statement names, for the subject."""
    if kind in ("TruncateStmt", "LockStmt"):
        return ", ".join(relation(r) for r in node.get("relations", ()))
    if kind in ("ListenStmt", "NotifyStmt", "UnlistenStmt"):
        return str(node.get("conditionname", "*"))
    if kind in ("CreateExtensionStmt", "CreatedbStmt", "DropdbStmt", "AlterExtensionStmt"):
        return str(node.get("extname") or node.get("dbname") or "")
    if kind == "CreateTrigStmt":
        return f"{node.get('trigname', '')} ON {relation(node.get('relation'))}"
    if kind == "CompositeTypeStmt":
        return relation(node.get("typevar"))
    if kind in ("CreateEnumStmt", "CreateRangeStmt"):
        return ".".join(strings(node.get("typeName")))
    if kind in ("RefreshMatViewStmt",):
        return relation(node.get("relation"))
    if kind == "CreateForeignTableStmt":
        return relation((node.get("base") or {}).get("relation"))
    if kind in ("CreatePolicyStmt", "AlterPolicyStmt"):
        return f"{node.get('policy_name', '')} ON {relation(node.get('table'))}"
    return ""


def _words(kind: str) -> str:
    """``CreateForeignTableStmt`` -> ``CREATE FOREIGN TABLE`` (for people)."""
    name = kind.removesuffix("Stmt")
    out = "".join(f" {c}" if c.isupper() else c for c in name).strip().upper()
    return {"CREATEDB": "CREATE DATABASE", "DROPDB": "DROP DATABASE", "CREATE TRIG": "CREATE TRIGGER"}.get(out, out)


class ObjectRecognizer(Recognizer):
    def visitors(self) -> dict[str, Visitor]:
        found = super().visitors()
        for kind in REFUSED_STATEMENTS:
            found[kind] = self._refuser(kind)
        for kind in _ALTER_TYPE_STATEMENTS:
            found[kind] = self._alter_type
        return found

    def _refuser(self, kind: str) -> Visitor:
        rule_id = REFUSED_STATEMENTS[kind]
        statement = kind.removesuffix("Stmt")

        def refuse(node: Node, ctx: Context) -> None:
            ctx.add(rule_id, f"{_words(kind)} {_target(kind, node)}".strip(), statement=statement)

        return refuse

    def _alter_type(self, node: Node, ctx: Context) -> None:
        ctx.add("alter-type", f"ALTER TYPE {'.'.join(strings(node.get('typeName')))}")

    def visit_RenameStmt(self, node: Node, ctx: Context) -> None:
        if node.get("renameType") == "OBJECT_TYPE":
            ctx.add("alter-type", f"ALTER TYPE ... RENAME TO {node.get('newname', '')}")

    def visit_AlterOwnerStmt(self, node: Node, ctx: Context) -> None:
        if node.get("objectType") == "OBJECT_TYPE":
            ctx.add("alter-type", "ALTER TYPE ... OWNER TO")

    def visit_AlterObjectSchemaStmt(self, node: Node, ctx: Context) -> None:
        if node.get("objectType") == "OBJECT_TYPE":
            ctx.add("alter-type", "ALTER TYPE ... SET SCHEMA")

    def visit_DropStmt(self, node: Node, ctx: Context) -> None:
        if node.get("removeType") == "OBJECT_TYPE":
            ctx.add("drop-type", "DROP TYPE")
        elif node.get("removeType") == "OBJECT_FOREIGN_TABLE":
            ctx.add("foreign-table", "DROP FOREIGN TABLE", statement="Drop")

    def visit_VacuumStmt(self, node: Node, ctx: Context) -> None:
        if node.get("is_vacuumcmd"):
            ctx.add("server-admin", "VACUUM", statement="Vacuum")

    def visit_DefineStmt(self, node: Node, ctx: Context) -> None:
        if node.get("kind") == "OBJECT_TYPE":
            name = ".".join(strings(node.get("defnames")))
            ctx.add("create-type", f"CREATE TYPE {name}", statement="Define")

    def visit_CreateFunctionStmt(self, node: Node, ctx: Context) -> None:
        name = ".".join(strings(node.get("funcname")))
        if node.get("is_procedure"):
            ctx.add("procedure", f"CREATE PROCEDURE {name}", statement="CreateProcedure")
            return
        language = const_text(options(node.get("options")).get("language"))
        if language is not None and language.lower() not in rules.FUNCTION_LANGUAGES:
            ctx.add(
                "function-language",
                f"CREATE FUNCTION {name} LANGUAGE {language}",
                statement=f"CREATE FUNCTION ... LANGUAGE {language}",
            )
