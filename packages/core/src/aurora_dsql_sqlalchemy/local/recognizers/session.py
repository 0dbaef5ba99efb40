"""Sessions: refused settings and server functions (backend pids, advisory locks, NOTIFY)."""

from __future__ import annotations

from ... import rules
from ..tree import Node, const_text, strings
from .base import Context, Recognizer

__all__ = ["SessionRecognizer", "function_name"]


def function_name(node: Node) -> str | None:
    """The name of a built-in function call (unqualified or ``pg_catalog.``), lower case."""
    names = [n.lower() for n in strings(node.get("funcname"))]
    if not names or (len(names) > 1 and names[0] != "pg_catalog"):
        return None
    return names[-1]


class SessionRecognizer(Recognizer):
    def visit_VariableSetStmt(self, node: Node, ctx: Context) -> None:
        setting = node.get("name", "").lower()
        if setting in rules.REFUSED_SESSION_SETTINGS:
            verb = "RESET" if node.get("kind") == "VAR_RESET" else "SET"
            ctx.add("session-setting", f"{verb} {setting}", name=setting)

    def visit_FuncCall(self, node: Node, ctx: Context) -> None:
        name = function_name(node)
        if name is None:
            return
        rule_id = rules.REFUSED_FUNCTIONS.get(name)
        if rule_id is not None:
            ctx.add(rule_id, f"{name}()", function=name)
        elif name == "pg_notify":
            ctx.add("listen-notify", "pg_notify()", statement="Notify", function=name)
        elif name == "set_config":
            args = node.get("args") or []
            setting = (const_text(args[0]) or "").lower() if args else ""
            if setting in rules.REFUSED_SESSION_SETTINGS:
                ctx.add("session-setting", f"set_config('{setting}', ...)", name=setting)
