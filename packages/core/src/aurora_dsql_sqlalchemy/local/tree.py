"""Reading values out of pglast's JSON parse trees.

A node is ``{"NodeType": {fields}}``; these helpers turn the parts the
recognisers look at (names, constants, options, type names) into plain values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Node", "PgType", "const_text", "number", "options", "quoted_relation", "relation", "strings", "type_of",
]

Node = dict[str, Any]


def strings(items: Iterable[Node] | None) -> list[str]:
    """The ``String`` values of a list of name parts."""
    return [item["String"].get("sval", "") for item in items or () if "String" in item]


def relation(rangevar: Node | None) -> str:
    """``schema.name`` (or ``name``) of a ``RangeVar``."""
    if not rangevar:
        return "?"
    if "RangeVar" in rangevar:
        rangevar = rangevar["RangeVar"]
    name = rangevar.get("relname", "?")
    schema = rangevar.get("schemaname")
    return f"{schema}.{name}" if schema else name


def quoted_relation(rangevar: Node | None) -> str | None:
    """``"schema"."name"`` (or ``"name"``) of a ``RangeVar``, each part quoted as
    the parser keeps it (folded unless it was quoted): what ``to_regclass``
    needs to find a mixed-case or dotted name (also on PostgreSQL 15)."""
    if not rangevar:
        return None
    if "RangeVar" in rangevar:
        rangevar = rangevar["RangeVar"]
    parts = [rangevar.get("schemaname"), rangevar.get("relname")]
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts if part)


_CONST_KINDS = (("sval", ""), ("ival", 0), ("fval", ""), ("boolval", False))
_VALUE_NODES = (("String", "sval"), ("Integer", "ival"), ("Float", "fval"), ("Boolean", "boolval"))


def const_text(node: Node | None) -> str | None:
    """The value of a constant (string, number, keyword), as text."""
    if not node:
        return None
    if "A_Const" in node:
        node = node["A_Const"]
    for kind, default in _CONST_KINDS:
        if kind in node:
            return str(node[kind].get(kind, default))
    for kind, key in _VALUE_NODES:
        if kind in node:
            return str(node[kind].get(key, 0))
    if "TypeCast" in node:
        return const_text(node["TypeCast"].get("arg"))
    return None


def number(node: Node | None) -> float | None:
    text = const_text(node)
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def options(items: Iterable[Node] | None) -> dict[str, Node | None]:
    """``DefElem`` options by name."""
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
SERIAL_TYPES = frozenset({"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"})


@dataclass(frozen=True)
class PgType:
    """A type name as written in SQL."""

    name: str
    """Canonical name (format_type() style) for built-in types, else as written."""
    builtin: bool
    array: bool
    modifiers: bool

    @property
    def display(self) -> str:
        return self.name + ("[]" if self.array else "")

    def is_one_of(self, names: frozenset[str]) -> bool:
        """A built-in scalar type named in *names*."""
        return self.builtin and not self.array and self.name in names


def type_of(type_name: Node | None) -> PgType | None:
    """The :class:`PgType` of a ``TypeName`` node."""
    if not type_name:
        return None
    if "TypeName" in type_name:
        type_name = type_name["TypeName"]
    names = strings(type_name.get("names"))
    if not names:
        return None
    schema = names[0] if len(names) > 1 else None
    builtin = schema in (None, "pg_catalog")
    name = names[-1].lower() if builtin else ".".join(names)
    if builtin:
        name = _TYPE_NAMES.get(name, name)
    return PgType(name, builtin, bool(type_name.get("arrayBounds")), bool(type_name.get("typmods")))
