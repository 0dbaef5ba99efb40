"""One rule broken by one construct: the representation every part of the dialect shares.

Strict local mode, the ``lint`` command, the Alembic implementation and the
compiler's refusals and warnings all report a :class:`Violation`: which
:class:`~aurora_dsql_sqlalchemy.rules.Rule` (by id), what broke it, the
values of the rule's message placeholders and, where known, a
:class:`Location`.  DSQL's message and our advice are rendered from the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .rules import RULES, Rule, RuleId, Severity

__all__ = ["Location", "Violation"]


@dataclass(frozen=True)
class Location:
    """Where a violation was found."""

    file: str | None = None
    line: int | None = None
    """1-based line (of the statement's first token, or of the column)."""
    statement: str | None = None
    """The SQL statement, as written, when the violation comes from SQL."""

    def __str__(self) -> str:
        if self.file is None:
            return f"<sql>:{self.line}" if self.line else "<schema>"
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Violation:
    """One DSQL rule that a construct breaks."""

    rule_id: RuleId
    """The key of the rule in :data:`aurora_dsql_sqlalchemy.rules.RULES`."""
    subject: str
    """The offending construct, in a few words (``"TRUNCATE orders"``)."""
    fields: Mapping[str, str] = field(default_factory=dict)
    """Values for the placeholders of the rule's message (``{"statement": "Truncate"}``)."""
    location: Location | None = field(default=None, compare=False)
    """Where it was found, when that is known."""

    @property
    def rule(self) -> Rule:
        """The :class:`~aurora_dsql_sqlalchemy.rules.Rule` broken."""
        return RULES[self.rule_id]

    @property
    def severity(self) -> Severity:
        return RULES[self.rule_id].severity

    def server_message(self) -> str:
        """The message text a DSQL cluster answers with."""
        return RULES[self.rule_id].server_message(**self.fields)

    def explain(self) -> str:
        """A sentence for people: what, which rule, what to do instead."""
        return RULES[self.rule_id].explain(self.subject)

    def at(self, location: Location | None) -> Violation:
        """The same violation, found at *location*."""
        return replace(self, location=location)
