"""The private SQLAlchemy names the dialect still needs, in one place.

Each is used through a function here, so a SQLAlchemy release that moves one
breaks one line, and ``tests/test_compat.py`` says which.
"""

from __future__ import annotations

from sqlalchemy import schema as sa_schema

__all__ = ["copy_sequence"]


def copy_sequence(sequence: sa_schema.Sequence) -> sa_schema.Sequence:
    """A detached copy of ``sequence`` (``Sequence._copy``, SQLAlchemy 2.0 and 2.1)."""
    return sequence._copy()
