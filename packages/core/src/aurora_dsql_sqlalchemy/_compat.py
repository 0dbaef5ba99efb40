"""The private SQLAlchemy names the dialect still needs, in one place.

Each is used through a name here, so a SQLAlchemy release that moves one
breaks one line, and ``tests/test_compat.py`` says which (CI runs it on
SQLAlchemy 2.0 and 2.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import schema as sa_schema
from sqlalchemy import types as sqltypes
from sqlalchemy.util import concurrency as _concurrency

__all__ = [
    "PRIVATE_DIALECT_FLAGS",
    "PRIVATE_REFLECTION_HOOK",
    "await_",
    "copy_sequence",
    "in_greenlet",
    "variant_mapping",
]


def copy_sequence(sequence: sa_schema.Sequence) -> sa_schema.Sequence:
    """A detached copy of ``sequence`` (``Sequence._copy``, SQLAlchemy 2.0 and 2.1)."""
    return sequence._copy()


def variant_mapping(type_: sqltypes.TypeEngine[Any]) -> Mapping[str, sqltypes.TypeEngine[Any]]:
    """The ``with_variant()`` types of ``type_`` by dialect name (``TypeEngine._variant_mapping``)."""
    return type_._variant_mapping


in_greenlet = _concurrency.in_greenlet
"""Whether the caller runs in SQLAlchemy's asyncio greenlet (public, but in a
private module)."""

await_: Any = getattr(_concurrency, "await_", None) or _concurrency.await_only
"""Wait for an awaitable from SQLAlchemy's greenlet (``await_only`` in 2.0,
``await_`` in 2.1)."""

PRIVATE_DIALECT_FLAGS: Final = (
    "_supports_create_index_concurrently",
    "_supports_drop_index_concurrently",
    "_backslash_escapes",
)
"""``PGDialect`` attributes the dialect sets (DSQL has no CONCURRENTLY;
standard_conforming_strings is on before the first connection)."""

PRIVATE_REFLECTION_HOOK: Final = "_pg_class_filter_scope_schema"
"""The ``PGDialect`` method every catalog query of tables goes through; the
dialect narrows it to hide DSQL's ``sys`` schema."""
