"""Indexes: DSQL's ``CREATE INDEX ASYNC`` grammar (no USING, sort order,
opclasses, COLLATE, storage options, CONCURRENTLY; at most 8 key columns; no
json/jsonb/bytea/interval/timetz keys)."""

from __future__ import annotations

from pglast import parser as _pg

from ... import rules
from ..tree import Node, relation, strings, type_of
from .base import Context, Recognizer

__all__ = ["IndexRecognizer"]


def _has_using(statement: bytes) -> bool:
    """``USING method`` was written (the parser fills in ``btree`` when it wasn't)."""
    if b"using" not in statement.lower():
        return False
    try:
        tokens = _pg.scan(statement.decode("utf-8", "replace"))
    except _pg.ParseError:
        return False
    for token in tokens:
        if token.name == "ASCII_40":  # the key list starts: USING comes before it
            return False
        if token.name == "USING":
            return True
    return False


class IndexRecognizer(Recognizer):
    def visit_IndexStmt(self, node: Node, ctx: Context) -> None:
        table = relation(node.get("relation"))
        ctx.indexes.append(table)
        name = node.get("idxname")
        subject = f"CREATE {'UNIQUE ' if node.get('unique') else ''}INDEX {name + ' ' if name else ''}ON {table}"
        if node.get("concurrent"):
            ctx.add("index-concurrently", subject, statement="CREATE INDEX CONCURRENTLY")
        elif not ctx.is_async:
            ctx.add("index-async", subject)
        if _has_using(ctx.statement):
            ctx.add("index-using", f"{subject} USING {node.get('accessMethod', '')}")
        if node.get("options"):
            ctx.add("index-storage", f"{subject} WITH (...)", statement="CREATE INDEX ... WITH")
        if node.get("tableSpace"):
            ctx.add("index-storage", f"{subject} TABLESPACE", statement="CREATE INDEX ... TABLESPACE")
        params = [p["IndexElem"] for p in node.get("indexParams", ()) if "IndexElem" in p]
        for param in params:
            self._key(param, subject, ctx)
        if len(params) > ctx.limits.index_key_columns:
            ctx.add("index-key-columns", f"{subject}: {len(params)} key columns")

    def _key(self, param: Node, subject: str, ctx: Context) -> None:
        key = param.get("name") or "(expression)"
        if param.get("ordering", "SORTBY_DEFAULT") != "SORTBY_DEFAULT":
            direction = "DESC" if param["ordering"] == "SORTBY_DESC" else "ASC"
            ctx.add("index-sort-order", f"{subject}: key {key} {direction}")
        if param.get("opclass"):
            ctx.add("index-opclass", f"{subject}: key {key} {'.'.join(strings(param['opclass']))}")
        if param.get("collation"):
            ctx.add("index-collate", f"{subject}: key {key} COLLATE")
        expr = param.get("expr") or {}
        if "TypeCast" in expr:
            cast = type_of(expr["TypeCast"].get("typeName"))
            if cast is not None and cast.is_one_of(rules.NON_INDEXABLE_KEY_TYPES):
                ctx.add("index-key-type", f"{subject}: key of type {cast.name}", type=cast.name)

    def visit_DropStmt(self, node: Node, ctx: Context) -> None:
        if node.get("concurrent"):
            ctx.add("index-concurrently", "DROP INDEX CONCURRENTLY", statement="DROP INDEX CONCURRENTLY")
