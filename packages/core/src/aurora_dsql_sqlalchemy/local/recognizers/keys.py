"""Which tables a statement may change the index keys of (no rule of its own:
strict mode checks DSQL's key size on the server after such a statement,
see :mod:`aurora_dsql_sqlalchemy.local.keysize`).  A ``CREATE TABLE`` whose
keys' column types bound them below the limit (integers, uuid, short
``varchar(n)``) names no table: there is nothing to check."""

from __future__ import annotations

from typing import Final

from ..tree import Node, const_text, quoted_relation, strings, type_of
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


_WIDTHS: Final = {
    "smallint": 2, "integer": 4, "bigint": 8, "boolean": 1, "date": 4, "real": 4, "double precision": 8,
    "timestamp without time zone": 8, "timestamp with time zone": 8, "time without time zone": 8, "uuid": 16,
}
_CHARACTERS: Final = frozenset({"character varying", "character"})
_MAX_CHARACTER_BYTES: Final = 4
"""UTF-8's longest character: a bound whatever the server's encoding."""


def _most_bytes(column: Node | None) -> int | None:
    """The most bytes a value of the column takes in a key, from its type as
    written (``None``: unbounded or not known; the server then works it out)."""
    type_name = (column or {}).get("typeName") or {}
    found = type_of(type_name)
    if found is None or not found.builtin or found.array:
        return None
    if found.name in _WIDTHS:
        return _WIDTHS[found.name]
    modifiers: list[Node] = type_name.get("typmods") or []
    length = const_text(modifiers[0]) if found.name in _CHARACTERS and len(modifiers) == 1 else None
    return int(length) * _MAX_CHARACTER_BYTES if length is not None and length.isdigit() else None


def _constraints(element: Node) -> list[Node]:
    if "Constraint" in element:
        return [element["Constraint"]]
    column = element.get("ColumnDef") or {}
    return [c["Constraint"] for c in column.get("constraints", ()) if "Constraint" in c]


class KeyRecognizer(Recognizer):
    def visit_CreateStmt(self, node: Node, ctx: Context) -> None:
        elements = node.get("tableElts", ())
        if any("TableLikeClause" in e for e in elements):  # LIKE may copy indexes
            ctx.key_tables.append(quoted_relation(node.get("relation")))
            return
        columns = {e["ColumnDef"].get("colname"): e["ColumnDef"] for e in elements if "ColumnDef" in e}
        keys: list[tuple[str, list[str]]] = []
        for element in elements:
            column = element.get("ColumnDef", {}).get("colname")
            for constraint in _constraints(element):
                kind = constraint.get("contype")
                if kind in _KEYED:
                    keys.append((kind, [column] if column is not None else strings(constraint.get("keys"))))
        primary = next((names for kind, names in keys if kind == "CONSTR_PRIMARY"), [])
        for kind, names in keys:
            key = set(names) | (set(primary) if kind != "CONSTR_PRIMARY" else set())
            most = [_most_bytes(columns.get(name)) for name in key]
            if None in most or sum(m for m in most if m is not None) > ctx.limits.index_key_bytes:
                ctx.key_tables.append(quoted_relation(node.get("relation")))
                return

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
