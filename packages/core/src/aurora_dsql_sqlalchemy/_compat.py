"""Private SQLAlchemy names the dialect still relies on, in one place.

Each is read here and nowhere else in the dialect's runtime modules, and
``tests/test_compat.py`` checks every one of them on each supported SQLAlchemy
minor, so a release that moves one fails loudly in CI instead of quietly
changing behaviour.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from sqlalchemy.util import concurrency as _concurrency

__all__ = ["PRIVATE_DIALECT_FLAGS", "await_", "in_greenlet", "variant_mapping"]

_T = TypeVar("_T")

in_greenlet = _concurrency.in_greenlet
"""Whether the caller runs in SQLAlchemy's asyncio greenlet."""

# 2.1 renamed await_only to await_
await_: Any = getattr(_concurrency, "await_", None) or _concurrency.await_only


def await_awaitable(awaitable: Awaitable[_T]) -> _T:
    """Wait for ``awaitable`` from SQLAlchemy's greenlet."""
    return await_(awaitable)  # type: ignore[no-any-return]


def variant_mapping(type_: Any) -> Mapping[str, Any]:
    """``TypeEngine._variant_mapping``: the ``with_variant`` types by dialect name."""
    return type_._variant_mapping  # type: ignore[no-any-return]


PRIVATE_DIALECT_FLAGS = (
    "_supports_create_index_concurrently",
    "_supports_drop_index_concurrently",
    "_backslash_escapes",
)
"""``PGDialect`` class attributes the dialect sets (DSQL has no CONCURRENTLY;
standard_conforming_strings is on before the first connection)."""

PRIVATE_REFLECTION_HOOK = "_pg_class_filter_scope_schema"
"""``PGDialect`` method every catalog query of tables goes through
(reflection narrows it to hide DSQL's ``sys`` schema)."""
