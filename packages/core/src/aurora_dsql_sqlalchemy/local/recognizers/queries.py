"""Queries: what DSQL lacks even at query time (TABLESAMPLE, MERGE, geometric
types, pg_lsn, text search configurations) and ``CALL sys.wait_for_job`` arguments."""

from __future__ import annotations

from typing import Any

from ... import rules
from ..tree import Node, const_text, relation, strings, type_of
from .base import Context, Recognizer
from .session import function_name

__all__ = ["QueryRecognizer"]

_TYPE_CONSTRUCTORS = rules.QUERY_UNAVAILABLE_TYPES & frozenset(
    {"point", "line", "lseg", "box", "path", "polygon", "circle"}
)


def _has_subquery(node: Any) -> bool:
    if isinstance(node, dict):
        return "SubLink" in node or any(_has_subquery(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_subquery(v) for v in node)
    return False


class QueryRecognizer(Recognizer):
    def visit_RangeTableSample(self, node: Node, ctx: Context) -> None:
        ctx.add("tablesample", f"{relation(node.get('relation'))} TABLESAMPLE", statement="TableSample")

    def visit_MergeStmt(self, node: Node, ctx: Context) -> None:
        ctx.add("merge", f"MERGE INTO {relation(node.get('relation'))}")

    def visit_TypeCast(self, node: Node, ctx: Context) -> None:
        cast = type_of(node.get("typeName"))
        if cast is None:
            return
        if cast.is_one_of(rules.QUERY_UNAVAILABLE_TYPES):
            ctx.add("unavailable-type", f"cast to {cast.name}", type=cast.name)
        elif cast.is_one_of(frozenset({"regconfig"})):
            name = const_text(node.get("arg"))
            if name is not None:
                ctx.add("text-search-config", f"'{name}'::regconfig", name=name)

    def visit_FuncCall(self, node: Node, ctx: Context) -> None:
        name = function_name(node)
        if name in _TYPE_CONSTRUCTORS:
            ctx.add("unavailable-type", f"{name}()", type=name)
        elif name in rules.TEXT_SEARCH_FUNCTIONS:
            args = node.get("args") or []
            config = const_text(args[0]) if len(args) > 1 and "A_Const" in args[0] else None
            if config is not None:
                ctx.add("text-search-config", f"{name}('{config}', ...)", name=config)

    def visit_CallStmt(self, node: Node, ctx: Context) -> None:
        call = node.get("funccall") or {}
        if [n.lower() for n in strings(call.get("funcname"))] != ["sys", "wait_for_job"]:
            return
        args = call.get("args") or []
        if _has_subquery(args):
            ctx.add("call-subquery", "CALL sys.wait_for_job((SELECT ...))")
            return
        job_id = const_text(args[0]) if args and "A_Const" in args[0] else None
        if job_id is not None and not rules.JOB_ID_PATTERN.match(job_id):
            ctx.add("job-id", f"CALL sys.wait_for_job('{job_id}')")
