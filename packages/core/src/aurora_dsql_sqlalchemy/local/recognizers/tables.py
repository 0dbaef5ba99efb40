"""Tables, columns and sequences: CREATE TABLE options, column types, SERIAL,
identity and sequence caches, key types, the column limit, CREATE TABLE AS."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ... import rules
from ..tree import (
    SERIAL_TYPES,
    Node,
    PgType,
    const_text,
    number,
    options,
    relation,
    strings,
    type_of,
)
from .base import Context, Recognizer

__all__ = ["TableRecognizer", "check_cache", "check_column", "persistence"]

_TABLE_OPTIONS = (
    # CreateStmt field -> (rule, subject suffix, statement)
    ("tablespacename", "tablespace", "TABLESPACE", "TABLESPACE"),
    ("options", "tablespace", "WITH (...)", "WITH (storage parameters)"),
    ("ofTypename", "create-type", "OF type", "CREATE TABLE OF"),
)


def persistence(ctx: Context, rangevar: Node | None, statement: str, name: str) -> None:
    """TEMPORARY (and UNLOGGED, a storage option DSQL doesn't have)."""
    kind = rangevar.get("relpersistence") if rangevar else None
    if kind == "t":
        ctx.add("temporary-table", f"{statement} {name}", statement=statement)
    elif kind == "u":
        unlogged = statement.replace("TEMPORARY", "UNLOGGED")
        ctx.add("tablespace", f"{unlogged} {name}", statement=unlogged)


def check_column(ctx: Context, table: str, column: Node, *, identity: bool = True) -> PgType | None:
    """Checks one column definition; returns its type."""
    subject = f"column {table}.{column.get('colname', '?')}"
    column_type = type_of(column.get("typeName"))
    if column_type is not None and column_type.builtin:
        if column_type.name in SERIAL_TYPES and not column_type.array:
            ctx.add("serial", f"{subject} {column_type.name.upper()}", type=column_type.name)
        elif (
            column_type.array
            or column_type.name in rules.RUNTIME_ONLY_TYPES
            or column_type.name in rules.UNAVAILABLE_TYPES
        ):
            ctx.add("column-type", f"{subject} {column_type.display}", type=column_type.display)
        elif column_type.name == "numeric" and not column_type.modifiers:
            ctx.add("numeric-precision", f"{subject} NUMERIC")
    if column.get("collClause"):
        ctx.add("collate", f"{subject} COLLATE", statement="COLLATE")
    for item in column.get("constraints", ()) if identity else ():
        constraint = item.get("Constraint", {})
        if constraint.get("contype") == "CONSTR_IDENTITY":
            ctx.created.append(("sequence", f"{table}.{column.get('colname', '?')} (identity)"))
            if column_type is not None and column_type.builtin and column_type.name != "bigint":
                ctx.add("identity-type", f"{subject} {column_type.display} IDENTITY", type=column_type.display)
            check_cache(ctx, f"{subject} IDENTITY", constraint.get("options"), required=True)
    return column_type


def check_cache(ctx: Context, subject: str, items: Iterable[Node] | None, *, required: bool) -> None:
    values = options(items)
    if "cache" not in values:
        if required:
            ctx.add("sequence-cache", f"{subject} without CACHE")
        return
    cache = number(values["cache"])
    if cache is None or not cache.is_integer() or not rules.is_valid_sequence_cache(int(cache)):
        ctx.add("sequence-cache", f"{subject} CACHE {const_text(values['cache'])}")


def _sequence_type(ctx: Context, subject: str, items: Iterable[Node] | None) -> None:
    sequence_type = type_of(options(items).get("as"))
    if sequence_type is not None and sequence_type.builtin and sequence_type.name != "bigint":
        ctx.add("identity-type", f"{subject} AS {sequence_type.display}", type=sequence_type.display)


class TableRecognizer(Recognizer):
    def visit_CreateStmt(self, node: Node, ctx: Context) -> None:
        table = relation(node.get("relation"))
        ctx.created.append(("table", table))
        persistence(ctx, node.get("relation"), "CREATE TEMPORARY TABLE", table)
        if node.get("partspec"):
            ctx.add("partitioning", f"CREATE TABLE {table} PARTITION BY", statement="PARTITION BY")
        if node.get("partbound"):
            ctx.add("partitioning", f"CREATE TABLE {table} PARTITION OF", statement="PARTITION OF")
        elif node.get("inhRelations"):
            parents = ", ".join(relation(r) for r in node["inhRelations"])
            ctx.add("inheritance", f"CREATE TABLE {table} INHERITS ({parents})", statement="INHERITS")
        for key, rule_id, suffix, statement in _TABLE_OPTIONS:
            if node.get(key):
                ctx.add(rule_id, f"CREATE TABLE {table} {suffix}", statement=statement)  # type: ignore[arg-type]
        if node.get("accessMethod"):
            ctx.add("tablespace", f"CREATE TABLE {table} USING {node['accessMethod']}", statement="USING")

        columns: dict[str, PgType | None] = {}
        constraints: list[tuple[Node, str | None]] = []
        for element in node.get("tableElts", ()):
            if "ColumnDef" in element:
                column = element["ColumnDef"]
                colname = column.get("colname", "?")
                columns[colname] = check_column(ctx, table, column)
                constraints.extend((c["Constraint"], colname) for c in column.get("constraints", ()) if "Constraint" in c)
            elif "Constraint" in element:
                constraints.append((element["Constraint"], None))
        for constraint, colname in constraints:
            self._constraint(ctx, table, constraint, colname, columns)
        if len(columns) > ctx.limits.columns_per_table:
            ctx.add("columns-per-table", f"CREATE TABLE {table}: {len(columns)} columns")

    def _constraint(
        self, ctx: Context, table: str, constraint: Node, colname: str | None, columns: Mapping[str, PgType | None]
    ) -> None:
        kind = constraint.get("contype")
        if kind == "CONSTR_EXCLUSION":
            ctx.add("exclusion-constraint", f"CREATE TABLE {table}: EXCLUDE", statement="EXCLUDE")
            return
        if kind not in ("CONSTR_PRIMARY", "CONSTR_UNIQUE"):
            return
        ctx.indexes.append(table)
        if constraint.get("indexname"):
            return
        keys = [colname] if colname is not None else strings(constraint.get("keys"))
        label = "PRIMARY KEY" if kind == "CONSTR_PRIMARY" else "UNIQUE"
        if kind == "CONSTR_PRIMARY":
            ctx.primary_keys[table] = keys
        for key in keys:
            key_type = columns.get(key)
            if key_type is not None and key_type.is_one_of(rules.NON_INDEXABLE_KEY_TYPES):
                ctx.add("index-key-type", f"{table}: {label} key {key} of type {key_type.name}", type=key_type.name)
        if len(keys) > ctx.limits.index_key_columns:
            ctx.add("index-key-columns", f"{table}: {label} with {len(keys)} key columns")

    def visit_CreateSeqStmt(self, node: Node, ctx: Context) -> None:
        name = relation(node.get("sequence"))
        ctx.created.append(("sequence", name))
        persistence(ctx, node.get("sequence"), "CREATE TEMPORARY SEQUENCE", name)
        _sequence_type(ctx, f"sequence {name}", node.get("options"))
        check_cache(ctx, f"CREATE SEQUENCE {name}", node.get("options"), required=True)

    def visit_AlterSeqStmt(self, node: Node, ctx: Context) -> None:
        name = relation(node.get("sequence"))
        _sequence_type(ctx, f"sequence {name}", node.get("options"))
        check_cache(ctx, f"ALTER SEQUENCE {name}", node.get("options"), required=False)

    def visit_CreateTableAsStmt(self, node: Node, ctx: Context) -> None:
        into = node.get("into") or {}
        name = relation(into.get("rel"))
        if node.get("objtype") == "OBJECT_MATVIEW":
            ctx.add("materialized-view", f"CREATE MATERIALIZED VIEW {name}", statement="CreateTableAs")
        else:
            persistence(ctx, into.get("rel"), "CREATE TEMPORARY TABLE", name)
            ctx.add("create-table-as", f"CREATE TABLE {name} AS", statement="CreateTableAs")

    def visit_SelectStmt(self, node: Node, ctx: Context) -> None:
        into = node.get("intoClause")
        if into:
            name = relation(into.get("rel"))
            persistence(ctx, into.get("rel"), "CREATE TEMPORARY TABLE", name)
            ctx.add("create-table-as", f"SELECT INTO {name}", statement="CreateTableAs")

    def visit_CreateSchemaStmt(self, node: Node, ctx: Context) -> None:
        ctx.created.append(("schema", str(node.get("schemaname", "?"))))

    def visit_ViewStmt(self, node: Node, ctx: Context) -> None:
        persistence(ctx, node.get("view"), "CREATE TEMPORARY VIEW", relation(node.get("view")))
