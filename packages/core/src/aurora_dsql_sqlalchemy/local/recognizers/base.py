"""What every recogniser shares: the per-statement :class:`Context` and the
``visit_<NodeType>`` convention.

A recogniser is a small stateless class whose ``visit_<NodeType>(node, ctx)``
methods are called, during the one walk over a statement's parse tree, for
every node of that type (``visit_IndexStmt`` for ``{"IndexStmt": {...}}``),
in the spirit of SQLAlchemy's compilers.  It reports what it finds through
``ctx.add(rule_id, subject, **fields)`` and records facts later steps need
(the tables that get an index, the columns dropped) on the context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from ...rules import Limits, RuleId
from ...violations import Violation
from ..tree import Node

__all__ = ["Context", "Recognizer", "Visitor"]


class Context:
    """One statement being checked, and what the recognisers found in it."""

    __slots__ = (
        "created",
        "drop_targets",
        "dropped_columns",
        "found",
        "indexes",
        "is_async",
        "key_tables",
        "limits",
        "primary_keys",
        "statement",
    )

    def __init__(self, limits: Limits, statement: bytes, is_async: bool) -> None:
        self.limits = limits
        self.statement = statement
        """The statement's text (UTF-8), for what the tree does not keep (was USING written?)."""
        self.is_async = is_async
        """The statement was written with DSQL's ``ASYNC``."""
        self.found: list[Violation] = []
        self.indexes: list[str] = []
        """Tables that get an index (CREATE INDEX, PRIMARY KEY and UNIQUE in CREATE TABLE)."""
        self.dropped_columns: list[tuple[str, str]] = []
        """``(table, column)`` dropped: DSQL refuses it for a primary-key column (needs the catalog)."""
        self.drop_targets: list[tuple[str, str]] = []
        """``(quoted relation, column)`` of the same drops, for the catalog look-up."""
        self.primary_keys: dict[str, list[str]] = {}
        """Primary-key columns of the tables created."""
        self.key_tables: list[str | None] = []
        """Quoted tables whose index keys the statement may change (``None``:
        a ``DROP INDEX``, which names no table), for the key-size check."""
        self.created: list[tuple[str, str]] = []
        """``(kind, name)`` of each table, schema and sequence created (DSQL counts
        them; an identity column's sequence is a sequence)."""

    def add(self, rule_id: RuleId, subject: str, **fields: str) -> None:
        self.found.append(Violation(rule_id, subject, fields))


Visitor = Callable[[Node, Context], None]


class Recognizer:
    """Base of the recognisers: collects their ``visit_<NodeType>`` methods."""

    prefix: ClassVar[str] = "visit_"

    def visitors(self) -> dict[str, Visitor]:
        """``{node type: bound visit method}``."""
        return {
            name[len(self.prefix) :]: getattr(self, name)
            for name in dir(type(self))
            if name.startswith(self.prefix)
        }
