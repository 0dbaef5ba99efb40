"""What Alembic operations DSQL cannot apply, decided by the SQL checker.

An operation is refused by compiling it the way Alembic would send it and
running strict local mode's checker (:func:`aurora_dsql_sqlalchemy.local.checks.analyze`)
on the SQL: one recogniser for the dialect, the ``lint`` command and
Alembic.  Only what the SQL no longer shows is checked on the objects: a
primary-key column added (``ADD COLUMN`` says nothing of the key) and a
foreign key on an added column (Alembic sends it as a second statement, after
the column was added).

``alembic revision --autogenerate`` runs the same checks on each detected
change to an existing table's columns (Alembic >= 1.18: ``add_column``,
``alter_column``, the changes whose recipe on DSQL is a different migration),
by rendering it offline through this implementation; a refusal is one line on the command line (a
:class:`DSQLAutogenerateRefusal` is an Alembic ``CommandError``), not a
traceback.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from alembic.util import CommandError
from sqlalchemy import schema as sa_schema
from sqlalchemy.sql import elements

from ..errors import DSQLUnsupportedError
from ..rules import LIMITS, RuleId
from ..violations import Violation

__all__ = ["DSQLAutogenerateRefusal", "column_refusal", "register_autogenerate_guard", "violations_of"]


class DSQLAutogenerateRefusal(DSQLUnsupportedError, CommandError):
    """``alembic revision --autogenerate`` found a change DSQL cannot apply.

    A :class:`~aurora_dsql_sqlalchemy.errors.DSQLUnsupportedError` and an
    Alembic ``CommandError``, so the command line prints it as one message.
    """


def sql_of(construct: Any, dialect: Any) -> str | None:
    """The SQL text a construct sends (``None``: DML and other constructs not checked)."""
    if isinstance(construct, str):
        return construct
    if isinstance(construct, elements.TextClause):
        return construct.text
    if isinstance(construct, sa_schema.ExecutableDDLElement):
        return str(construct.compile(dialect=dialect))
    return None


def violations_of(sql: str, tolerated: Iterable[RuleId] = ()) -> tuple[Violation, ...]:
    """The errors strict local mode's checker finds in *sql* (minus *tolerated* rules)."""
    from ..local.checks import analyze

    skip = set(tolerated)
    return tuple(v for v in analyze(sql, LIMITS).errors if v.rule_id not in skip)


def column_refusal(table_name: str, column: Any) -> DSQLUnsupportedError | None:
    """What the SQL of ``op.add_column`` does not show: a primary-key column, a foreign key."""
    if column.primary_key:
        return DSQLUnsupportedError(f"op.add_column({table_name!r}, {column.name!r}, primary_key=True)", "primary-key-change")
    if column.foreign_keys:
        return DSQLUnsupportedError(
            f"op.add_column({table_name!r}, {column.name!r}) with a foreign key", "add-column-constraint"
        )
    return None


def _refuse_unsupported_ops(autogen_context: Any, upgrade_ops: Any) -> Any:
    """Runs last in ``alembic revision --autogenerate``: a detected change DSQL
    cannot apply fails here, with the rule and the recipe, instead of producing
    a migration that fails midway on the server."""
    from alembic.operations import Operations, ops
    from alembic.runtime.migration import MigrationContext
    from alembic.util import PriorityDispatchResult

    _CHANGES_TO_EXISTING_COLUMNS = (ops.AddColumnOp, ops.AlterColumnOp)
    dialect = autogen_context.migration_context.impl.dialect
    scratch = MigrationContext.configure(dialect=dialect, opts={"as_sql": True, "output_buffer": io.StringIO()})
    operations = Operations(scratch)

    def walk(items: Any) -> None:
        for op in items:
            if isinstance(op, ops.OpContainer):
                walk(op.ops)
                continue
            if not isinstance(op, _CHANGES_TO_EXISTING_COLUMNS):
                continue  # new objects: refused (if at all) by the same checks at upgrade / --sql
            try:
                operations.invoke(op)
            except DSQLUnsupportedError as refused:
                violation = replace(refused.violation, subject=f"Autogenerate: {refused.violation.subject}")
                raise DSQLAutogenerateRefusal(
                    violation.subject, violation.rule_id, refused.detail, violation=violation
                ) from None
            except Exception:
                continue

    walk(upgrade_ops.ops)
    return PriorityDispatchResult.CONTINUE


def register_autogenerate_guard() -> None:
    """Register the guard with Alembic's autogenerate comparators (Alembic >= 1.18)."""
    try:
        from alembic.autogenerate import comparators
        from alembic.util import DispatchPriority
    except ImportError:  # Alembic < 1.18: no priorities; the impl still refuses at upgrade/--sql
        return
    comparators.dispatch_for("autogenerate", qualifier="auroradsql", priority=DispatchPriority.LAST)(
        _refuse_unsupported_ops
    )
