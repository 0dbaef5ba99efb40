"""The recognisers of DSQL's rules, one small module per area.

Each recogniser's ``visit_<NodeType>`` methods are called during the single
walk over a statement's parse tree (see :mod:`aurora_dsql_sqlalchemy.local.checks`).
To teach the checker a new DSQL rule: add the rule to
:mod:`aurora_dsql_sqlalchemy.rules`, a ``visit_`` method to the recogniser
of its area (or a new recogniser to :data:`RECOGNIZERS`), and a case to the
tests.
"""

from __future__ import annotations

from .alter import AlterTableRecognizer
from .base import Context, Recognizer, Visitor
from .indexes import IndexRecognizer
from .keys import KeyRecognizer
from .objects import ObjectRecognizer
from .queries import QueryRecognizer
from .session import SessionRecognizer
from .tables import TableRecognizer
from .transactions import TransactionRecognizer

__all__ = ["RECOGNIZERS", "Context", "Recognizer", "dispatch_table"]

#: Every recogniser, in the order their findings are reported.
RECOGNIZERS: tuple[Recognizer, ...] = (
    TransactionRecognizer(),
    SessionRecognizer(),
    ObjectRecognizer(),
    IndexRecognizer(),
    TableRecognizer(),
    AlterTableRecognizer(),
    QueryRecognizer(),
    KeyRecognizer(),
)


def dispatch_table(recognizers: tuple[Recognizer, ...] = RECOGNIZERS) -> dict[str, tuple[Visitor, ...]]:
    """``{node type: the visit methods of every recogniser for it}``, in order."""
    table: dict[str, list[Visitor]] = {}
    for recognizer in recognizers:
        for node_type, visit in recognizer.visitors().items():
            table.setdefault(node_type, []).append(visit)
    return {node_type: tuple(visits) for node_type, visits in table.items()}
