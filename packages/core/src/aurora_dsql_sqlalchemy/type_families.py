"""The PostgreSQL type family of a SQLAlchemy type, as :mod:`aurora_dsql_sqlalchemy.rules`
spells it (``"jsonb"``, ``"time with time zone"``), for the compiler's refusals."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import types as sqltypes

__all__ = ["dsql_type_family"]


@functools.cache
def _families() -> tuple[tuple[type, str], ...]:
    from sqlalchemy.dialects import postgresql as pg

    return (
        (sqltypes.ARRAY, "array"),
        (pg.INET, "inet"),
        (pg.CIDR, "cidr"),
        (pg.MACADDR, "macaddr"),
        (pg.AbstractRange, "int4range"),
        (pg.AbstractMultiRange, "int4multirange"),
        (pg.HSTORE, "hstore"),
        (pg.TSVECTOR, "tsvector"),
        (pg.MONEY, "money"),
        (pg.BIT, "bit"),
        (pg.OID, "oid"),
        (pg.REGCLASS, "regclass"),
        (pg.JSONB, "jsonb"),
        (sqltypes.JSON, "json"),
        (sqltypes.LargeBinary, "bytea"),
        (sqltypes.Interval, "interval"),
    )


def dsql_type_family(type_: Any) -> str:
    """PostgreSQL's canonical name of a type's family, as rules.py spells it."""
    if isinstance(type_, sqltypes.Time) and getattr(type_, "timezone", False):
        return "time with time zone"
    cls = type(type_)
    family = _BY_CLASS.get(cls)
    if family is None:
        family = _BY_CLASS[cls] = next(
            (name for family_cls, name in _families() if issubclass(cls, family_cls)), cls.__name__.lower()
        )
    return family


_BY_CLASS: dict[type, str] = {}
"""The family of each type class seen (as many entries as type classes)."""
