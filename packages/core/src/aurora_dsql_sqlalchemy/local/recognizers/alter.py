"""ALTER TABLE: what DSQL refuses of its actions (column type, SET NOT NULL,
constrained ADD COLUMN, constraints without NOT VALID, synchronous VALIDATE,
SET STATISTICS, primary-key changes, storage options)."""

from __future__ import annotations

from ...rules import RuleId
from ..tree import Node, quoted_relation, relation
from .base import Context, Recognizer
from .tables import check_cache, check_column

__all__ = ["AlterTableRecognizer"]

_REFUSED: dict[str, tuple[RuleId, str]] = {
    "AT_AlterColumnType": ("alter-column-type", "ALTER COLUMN TYPE"),
    "AT_SetNotNull": ("set-not-null", "ALTER COLUMN SET NOT NULL"),
    "AT_SetStatistics": ("alter-column-statistics", "ALTER COLUMN SET STATISTICS"),
    "AT_SetTableSpace": ("tablespace", "SET TABLESPACE"),
    "AT_SetRelOptions": ("tablespace", "SET (storage parameters)"),
    "AT_SetAccessMethod": ("tablespace", "SET ACCESS METHOD"),
    "AT_AttachPartition": ("partitioning", "ATTACH PARTITION"),
    "AT_DetachPartition": ("partitioning", "DETACH PARTITION"),
    "AT_AddInherit": ("inheritance", "INHERIT"),
    "AT_EnableRowSecurity": ("row-level-security", "ENABLE ROW LEVEL SECURITY"),
    "AT_ForceRowSecurity": ("row-level-security", "FORCE ROW LEVEL SECURITY"),
}
_COLUMN_ACTIONS = frozenset({"AT_AlterColumnType", "AT_SetNotNull", "AT_SetStatistics"})

CONSTRAINT_WORDS = {
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


class AlterTableRecognizer(Recognizer):
    def visit_AlterTableStmt(self, node: Node, ctx: Context) -> None:
        if node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE":
            return
        table = relation(node.get("relation"))
        for item in node.get("cmds", ()):
            command = item.get("AlterTableCmd")
            if command is not None:
                self._command(ctx, table, command, node.get("relation"))

    def _command(self, ctx: Context, table: str, command: Node, rangevar: Node | None) -> None:
        subtype = command.get("subtype", "")
        column = command.get("name") or "?"
        definition = command.get("def") or {}
        refused = _REFUSED.get(subtype)
        if refused is not None:
            rule_id, statement = refused
            if subtype in _COLUMN_ACTIONS:
                subject = f"ALTER TABLE {table} ALTER COLUMN {column} {statement.removeprefix('ALTER COLUMN ')}"
            else:
                subject = f"ALTER TABLE {table} {statement}"
            ctx.add(rule_id, subject, statement=statement)
        elif subtype == "AT_AddColumn" and "ColumnDef" in definition:
            self._add_column(ctx, table, definition["ColumnDef"])
        elif subtype == "AT_AddConstraint" and "Constraint" in definition:
            self._add_constraint(ctx, table, definition["Constraint"])
        elif subtype == "AT_ValidateConstraint" and not ctx.is_async:
            ctx.add("validate-constraint", f"ALTER TABLE {table} VALIDATE CONSTRAINT {column}")
        elif subtype == "AT_DropColumn":
            ctx.dropped_columns.append((table, column))
            ctx.drop_targets.append((quoted_relation(rangevar) or table, column))
        elif subtype == "AT_AddIdentity" and "Constraint" in definition:
            subject = f"ALTER TABLE {table} ALTER COLUMN {column} ADD IDENTITY"
            ctx.created.append(("sequence", f"{table}.{column} (identity)"))
            check_cache(ctx, subject, definition["Constraint"].get("options"), required=True)
        elif subtype == "AT_SetIdentity":
            items = definition.get("List", {}).get("items")
            check_cache(ctx, f"ALTER TABLE {table} ALTER COLUMN {column} SET", items, required=False)

    def _add_column(self, ctx: Context, table: str, column_def: Node) -> None:
        # an identity here is refused as a constraint: its CACHE does not matter
        check_column(ctx, table, column_def, identity=False)
        extras = [
            c["Constraint"].get("contype", "")
            for c in column_def.get("constraints", ())
            if "Constraint" in c and c["Constraint"].get("contype") != "CONSTR_NULL"
        ]
        if extras:
            what = ", ".join(sorted({CONSTRAINT_WORDS.get(e, e) for e in extras}))
            ctx.add("add-column-constraint", f"ALTER TABLE {table} ADD COLUMN {column_def.get('colname', '?')} ... {what}")

    def _add_constraint(self, ctx: Context, table: str, constraint: Node) -> None:
        kind = constraint.get("contype", "")
        name = constraint.get("conname")
        named = f"CONSTRAINT {name} " if name else ""
        subject = f"ALTER TABLE {table} ADD {named}{CONSTRAINT_WORDS.get(kind, kind)}"
        if kind == "CONSTR_PRIMARY":
            ctx.add("primary-key-change", subject, statement="ALTER TABLE ADD PRIMARY KEY")
        elif kind == "CONSTR_EXCLUSION":
            ctx.add("exclusion-constraint", subject, statement="EXCLUDE")
        elif kind == "CONSTR_NOTNULL":
            ctx.add("set-not-null", subject, statement="ALTER TABLE ADD CONSTRAINT NOT NULL")
        elif kind == "CONSTR_UNIQUE" and not constraint.get("indexname"):
            ctx.add("add-constraint", subject)
        elif kind in ("CONSTR_FOREIGN", "CONSTR_CHECK") and not constraint.get("skip_validation"):
            ctx.add("add-constraint", f"{subject} without NOT VALID")
