"""Autogenerate comparisons: a database created from the same models compares equal.

DSQL's ``btree_index`` access method, the identity column the dialect makes
of an integer autoincrement key, enums stored as checked VARCHARs, NUMERIC
stored as ``numeric(18,6)``, volatile server defaults such as
``gen_random_uuid()`` and, with ``foreign_keys=False``, the foreign keys the
dialect leaves out are not reported as changes.
"""

from __future__ import annotations

import re
from typing import Any

from alembic.ddl.postgresql import PostgresqlImpl
from sqlalchemy import schema as sa_schema
from sqlalchemy import types as sqltypes

from .. import keys, rules
from ..compiler import dialect_option

__all__ = ["AutogenerateComparison"]


class AutogenerateComparison(PostgresqlImpl):
    """The comparison half of :class:`~aurora_dsql_sqlalchemy.alembic.impl.AuroraDSQLImpl`."""

    def _dialect_options(self, item: Any) -> tuple[Any, ...]:
        if dialect_option(item, "nulls_not_distinct"):
            return ("nulls_not_distinct",)
        return ()

    def adjust_reflected_dialect_options(self, reflected_object: Any, kind: str) -> dict[str, Any]:
        options = super().adjust_reflected_dialect_options(reflected_object, kind)
        # DSQL's own access method (btree_index), never written by the dialect
        if str(options.get("postgresql_using", "")).lower() in rules.INDEX_ACCESS_METHODS:
            options.pop("postgresql_using")
        return options

    def compare_type(self, inspector_column: Any, metadata_column: Any) -> bool:
        metadata_type = metadata_column.type.dialect_impl(self.dialect)
        if isinstance(metadata_type, sqltypes.Integer) and isinstance(
            inspector_column.type, sqltypes.BigInteger
        ):
            # The dialect creates integer keys and the columns carrying their
            # values BIGINT (keys.py).  Never propose narrowing one back: the
            # values fit, and DSQL cannot ALTER COLUMN TYPE anyway.
            return False
        if isinstance(metadata_type, sqltypes.Enum) and isinstance(
            inspector_column.type, sqltypes.String
        ):
            length = getattr(metadata_type, "length", None)
            return bool(length and inspector_column.type.length not in (None, length))
        if (
            isinstance(metadata_type, sqltypes.Numeric)
            and not isinstance(metadata_type, sqltypes.Float)
            and metadata_type.precision is None
            and isinstance(inspector_column.type, sqltypes.Numeric)
            and (inspector_column.type.precision, inspector_column.type.scale)
            in ((None, None), rules.NUMERIC_DEFAULT_PRECISION)
        ):
            return False  # DSQL stores numeric without precision as numeric(18,6)
        return bool(super().compare_type(inspector_column, metadata_column))

    def _is_identity_key(self, column: Any) -> bool:
        return keys.is_identity_key(column, self.dialect)

    def _compare_identity_default(self, metadata_identity: Any, inspector_identity: Any) -> Any:
        diff, ignored, is_alter = super()._compare_identity_default(
            metadata_identity, inspector_identity
        )
        cache = getattr(self.dialect, "identity_cache", rules.IDENTITY_CACHE_DEFAULT)
        if metadata_identity is None and _is_dialect_identity(inspector_identity, cache):
            # the identity the dialect makes of an integer autoincrement key
            return set(), ignored, False
        if (
            "cache" in diff
            and getattr(metadata_identity, "cache", None) is None
            and getattr(inspector_identity, "cache", None) == cache
        ):
            # the dialect writes CACHE <identity_cache> when the model gives none
            diff.discard("cache")
            is_alter = bool(diff) or bool(metadata_identity) != bool(inspector_identity)
        return diff, ignored, is_alter

    def compare_server_default(
        self,
        inspector_column: Any,
        metadata_column: Any,
        rendered_metadata_default: Any,
        rendered_inspector_default: Any,
    ) -> bool:
        if self._is_identity_key(metadata_column) and metadata_column.server_default is None:
            return False  # the identity the dialect made of an autoincrement key
        if rendered_metadata_default is not None and rendered_inspector_default is not None:
            if _normalize_default(rendered_metadata_default) == _normalize_default(
                rendered_inspector_default
            ):
                return False
            if _is_function_call(rendered_metadata_default) or _is_function_call(
                rendered_inspector_default
            ):
                # volatile functions (gen_random_uuid(), now()) never compare equal by value
                return True
        return bool(
            super().compare_server_default(
                inspector_column,
                metadata_column,
                rendered_metadata_default,
                rendered_inspector_default,
            )
        )

    def correct_for_autogen_foreignkeys(self, conn_fks: Any, metadata_fks: Any) -> None:
        super().correct_for_autogen_foreignkeys(conn_fks, metadata_fks)
        if not getattr(self.dialect, "foreign_keys", True):
            metadata_fks.clear()  # foreign_keys=False: the dialect never creates them



def _is_dialect_identity(identity: Any, cache: int) -> bool:
    """``BIGINT GENERATED BY DEFAULT AS IDENTITY (CACHE <cache>)`` with no other option."""
    return (
        isinstance(identity, sa_schema.Identity)
        and not identity.always
        and identity.cache == cache
        and (identity.start or 1) == 1
        and (identity.increment or 1) == 1
        and not identity.cycle
    )


_CAST = re.compile(r"::[a-z ]+(\(\d+(,\s*\d+)?\))?", re.IGNORECASE)


def _normalize_default(text: str) -> str:
    text = _CAST.sub("", str(text)).strip().lower().replace('"', "")
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return text.replace(" ", "")


def _is_function_call(text: str) -> bool:
    return bool(re.search(r"[a-z_]\w*\s*\(", _normalize_default(text)))
