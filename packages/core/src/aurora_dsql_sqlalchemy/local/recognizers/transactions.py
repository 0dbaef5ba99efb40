"""Transactions: isolation levels, SET TRANSACTION, savepoints, two-phase commit, row locks."""

from __future__ import annotations

from ... import rules
from ...rules import RuleId
from ..tree import Node, const_text, options
from .base import Context, Recognizer

__all__ = ["TransactionRecognizer"]

_TRANSACTION_STATEMENTS: dict[str, tuple[RuleId, str]] = {
    "TRANS_STMT_SAVEPOINT": ("savepoint", "SAVEPOINT"),
    "TRANS_STMT_RELEASE": ("savepoint", "RELEASE SAVEPOINT"),
    "TRANS_STMT_ROLLBACK_TO": ("savepoint", "ROLLBACK TO SAVEPOINT"),
    "TRANS_STMT_PREPARE": ("two-phase-commit", "PREPARE TRANSACTION"),
    "TRANS_STMT_COMMIT_PREPARED": ("two-phase-commit", "COMMIT PREPARED"),
    "TRANS_STMT_ROLLBACK_PREPARED": ("two-phase-commit", "ROLLBACK PREPARED"),
}

_LOCK_STRENGTHS = {
    "LCS_FORKEYSHARE": "FOR KEY SHARE",
    "LCS_FORSHARE": "FOR SHARE",
    "LCS_FORNOKEYUPDATE": "FOR NO KEY UPDATE",
    "LCS_FORUPDATE": "FOR UPDATE",
}


def refuse_isolation(ctx: Context, value: Node | None, where: str) -> bool:
    """Reports an isolation level DSQL refuses; ``True`` if it did."""
    level = const_text(value)
    if level is None or level.upper() in rules.ISOLATION_LEVELS:
        return False
    level = level.upper()
    ctx.add("isolation-level", f"{where} {level}", level=level)
    return True


class TransactionRecognizer(Recognizer):
    def visit_TransactionStmt(self, node: Node, ctx: Context) -> None:
        kind = node.get("kind", "")
        refused = _TRANSACTION_STATEMENTS.get(kind)
        if refused is not None:
            rule_id, statement = refused
            name = node.get("savepoint_name") or node.get("gid") or ""
            ctx.add(rule_id, f"{statement} {name}".strip(), statement=statement)
        elif kind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
            level = options(node.get("options")).get("transaction_isolation")
            refuse_isolation(ctx, level, "BEGIN ISOLATION LEVEL")

    def visit_VariableSetStmt(self, node: Node, ctx: Context) -> None:
        kind = node.get("kind", "")
        name = node.get("name", "")
        if kind == "VAR_SET_MULTI" and name == "TRANSACTION":
            # DSQL names the level it refuses; any other SET TRANSACTION (also
            # REPEATABLE READ, READ ONLY) is refused as a setting.
            level = options(node.get("args")).get("transaction_isolation")
            if not refuse_isolation(ctx, level, "SET TRANSACTION ISOLATION LEVEL"):
                ctx.add("set-transaction", "SET TRANSACTION")
        elif kind == "VAR_SET_MULTI" and name == "SESSION CHARACTERISTICS":
            level = options(node.get("args")).get("transaction_isolation")
            refuse_isolation(ctx, level, "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL")
        elif kind == "VAR_SET_VALUE" and name.lower() in rules.TRANSACTION_CONTROL_SETTINGS:
            ctx.add("set-transaction", f"SET {name.lower()}")

    def visit_LockingClause(self, node: Node, ctx: Context) -> None:
        clause = _LOCK_STRENGTHS.get(node.get("strength", ""), "")
        if clause and clause not in rules.SUPPORTED_LOCKING_CLAUSES:
            ctx.add("locking-clause", f"SELECT ... {clause}", clause=clause)
