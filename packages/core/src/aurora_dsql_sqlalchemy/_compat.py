"""The private SQLAlchemy names the dialect still needs, in one place.

Each is used through a function here, so a SQLAlchemy release that moves one
breaks one line, and ``tests/test_compat.py`` says which.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import schema as sa_schema
from sqlalchemy import types as sqltypes

__all__ = ["copy_sequence", "variant_mapping"]


def copy_sequence(sequence: sa_schema.Sequence) -> sa_schema.Sequence:
    """A detached copy of ``sequence`` (``Sequence._copy``, SQLAlchemy 2.0 and 2.1)."""
    return sequence._copy()


def variant_mapping(type_: sqltypes.TypeEngine[Any]) -> Mapping[str, sqltypes.TypeEngine[Any]]:
    """The ``with_variant()`` types of ``type_`` by dialect name (``TypeEngine._variant_mapping``)."""
    return type_._variant_mapping
