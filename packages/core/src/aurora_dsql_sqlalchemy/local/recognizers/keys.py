"""Which tables a statement may change the index keys of (no rule of its own:
strict mode checks DSQL's key size on the server after such a statement,
see :mod:`aurora_dsql_sqlalchemy.local.keysize`)."""

from __future__ import annotations

from typing import Final

from ..tree import Node, quoted_relation
from .base import Context, Recognizer

__all__ = ["KeyRecognizer"]

_KEYED: Final = frozenset({"CONSTR_PRIMARY", "CONSTR_UNIQUE"})

_REKEYING: Final = frozenset(
    {"AT_AddConstraint", "AT_AddIndex", "AT_AddIndexConstraint", "AT_AlterColumnType", "AT_DropColumn"}
)
"""ALTER TABLE actions that may add, change or remove a key column (the
per-table check names its columns, so a dropped one must go from it too);
``ADD COLUMN`` only with a PRIMARY KEY or UNIQUE constraint."""


def _rekeys(command: Node) -> bool:
    subtype = command.get("subtype")
    if subtype == "AT_AddColumn":
        return any(c.get("contype") in _KEYED for c in _constraints(command.get("def") or {}))
    return subtype in _REKEYING


def _constraints(element: Node) -> list[Node]:
    if "Constraint" in element:
        return [element["Constraint"]]
    column = element.get("ColumnDef") or {}
    return [c["Constraint"] for c in column.get("constraints", ()) if "Constraint" in c]


class KeyRecognizer(Recognizer):
    def visit_CreateStmt(self, node: Node, ctx: Context) -> None:
        if any(c.get("contype") in _KEYED for e in node.get("tableElts", ()) for c in _constraints(e)):
            ctx.key_tables.append(quoted_relation(node.get("relation")))

    def visit_IndexStmt(self, node: Node, ctx: Context) -> None:
        ctx.key_tables.append(quoted_relation(node.get("relation")))

    def visit_AlterTableStmt(self, node: Node, ctx: Context) -> None:
        if node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE":
            return
        commands = (item.get("AlterTableCmd") or {} for item in node.get("cmds", ()))
        if any(_rekeys(command) for command in commands):
            ctx.key_tables.append(quoted_relation(node.get("relation")))

    def visit_RenameStmt(self, node: Node, ctx: Context) -> None:
        if node.get("renameType") == "OBJECT_COLUMN" and node.get("relationType") == "OBJECT_TABLE":
            ctx.key_tables.append(quoted_relation(node.get("relation")))

    def visit_DropStmt(self, node: Node, ctx: Context) -> None:
        if node.get("removeType") == "OBJECT_INDEX":
            ctx.key_tables.append(None)  # names the index, not its table: every guarded table
