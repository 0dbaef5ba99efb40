"""Alembic on Aurora DSQL.

Importing :mod:`aurora_dsql_sqlalchemy` registers this implementation with
Alembic for the ``auroradsql`` dialect when Alembic is installed, so
``alembic init``, ``alembic revision --autogenerate`` and ``alembic upgrade``
work with an ``auroradsql+...`` URL and the stock ``env.py``.

One DDL statement per transaction
    DSQL runs one DDL statement per transaction and refuses DDL and DML in the
    same transaction (``0A000``); Alembic writes ``alembic_version`` (DML) in
    the transaction of each migration.  This implementation declares
    ``transactional_ddl = False``, so Alembic opens one transaction per
    migration (``transaction_per_migration`` behaviour, whatever ``env.py``
    says), and the dialect's execution layer runs each DDL statement in a
    transaction of its own (driver autocommit).  The ``alembic_version``
    write is therefore alone in the migration's transaction and commits at
    the end of the migration.  Data changes inside a migration
    (``op.execute("UPDATE ...")``, ``op.bulk_insert``) share that transaction:
    put them *after* the migration's DDL, inside
    ``with op.get_context().autocommit_block(): ...``, or in a migration of
    their own, and keep them under DSQL's 3,000-row limit.  Run migrations
    from the stock ``env.py`` (``engine.connect()``): inside your own
    ``engine.begin()`` every version write shares one transaction and the
    second migration's DDL is refused.

If a migration fails halfway
    Each DDL statement has already committed when the next one runs, so a
    migration that fails at its third statement leaves the first two applied
    while ``alembic_version`` still names the previous revision (the version
    row is written only after the whole migration ran).  The error says which
    statements were applied (also logged at ERROR on the ``alembic`` logger).
    To resume: undo those statements by hand (or make the migration skip
    them, e.g. ``op.create_table(..., if_not_exists=True)``), fix the cause,
    and run ``alembic upgrade`` again.  If every statement ran and only the
    version write failed (an OCC conflict, also at COMMIT; a lost
    connection), the schema is at the new revision: run ``alembic stamp
    <revision>``.  Keeping one operation per migration makes both cases trivial.

Constraints, indexes and columns the DSQL way
    * ``op.create_index`` emits ``CREATE INDEX ASYNC`` and waits for the job
      (``create_engine(..., wait_for_jobs=False)`` to not wait);
      ``auroradsql_include`` / ``postgresql_include`` columns are honoured.
    * ``op.create_foreign_key`` / ``op.create_check_constraint`` add the
      constraint ``NOT VALID`` and validate it with ``ALTER TABLE ASYNC ...
      VALIDATE CONSTRAINT``, waiting for the job.
    * ``op.create_unique_constraint`` builds ``CREATE UNIQUE INDEX ASYNC`` named
      like the constraint, waits for it, then ``ALTER TABLE ... ADD CONSTRAINT
      name UNIQUE USING INDEX name``.
    * What DSQL cannot do is refused before anything is sent, online and in
      ``--sql`` mode, with :class:`~aurora_dsql_sqlalchemy.errors.DSQLUnsupportedError`
      naming the rule and the recipe: every statement an operation sends
      (``op.execute`` text included) goes through strict local mode's
      checker first (:mod:`aurora_dsql_sqlalchemy.alembic.guards`), so
      ``add_column`` with a server default, NOT NULL, a constraint or
      identity (``add-column-constraint``), ``alter_column(type_=...)``
      (``alter-column-type``), ``alter_column(nullable=False)``
      (``set-not-null``), primary-key changes (``primary-key-change``) and
      anything else the checker knows are refused.  ``alembic revision
      --autogenerate`` refuses the same changes when it detects them
      (Alembic >= 1.18), in one line.

Offline mode (``alembic upgrade --sql``)
    No BEGIN/COMMIT is written: run the script with autocommit (psql does by
    default), so each statement is its own transaction.  After each ASYNC
    statement a comment shows the ``CALL sys.wait_for_job(...)`` to run with
    the ``job_id`` it returned before the next statement.

Autogenerate
    A database created from the same models compares equal: DSQL's
    ``btree_index`` access method, the identity column the dialect makes of an
    integer autoincrement key, enums stored as checked VARCHARs, NUMERIC
    stored as ``numeric(18,6)``, volatile server defaults such as
    ``gen_random_uuid()`` and, with ``foreign_keys=False``, the foreign keys
    the dialect leaves out are not reported as changes.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from alembic.ddl import postgresql as pg_alembic
from sqlalchemy import schema as sa_schema
from sqlalchemy import types as sqltypes
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import dml

from .. import rules
from ..compiler import dialect_option
from ..errors import DSQLUnsupportedError
from ..rules import RuleId
from ..statements import Kind, classify
from ..violations import Location, Violation
from . import guards
from .compare import AutogenerateComparison

__all__ = ["AuroraDSQLImpl"]

# Alembic renders ALTER COLUMN ... TYPE only for dialects named "postgresql";
# the checker must see it to refuse it (DSQL has no ALTER COLUMN TYPE).
compiles(pg_alembic.PostgresqlColumnType, "auroradsql")(pg_alembic.visit_column_type)

log = logging.getLogger("alembic.runtime.migration")

_WAIT_HINT = (
    "-- Aurora DSQL: the statement above returns a job_id; run "
    "CALL sys.wait_for_job('<job_id>') before the next statement."
)


class AuroraDSQLImpl(AutogenerateComparison):
    """Alembic's operations for Aurora DSQL (registered for ``auroradsql``)."""

    __dialect__ = "auroradsql"
    transactional_ddl = False
    """One transaction per migration; each DDL statement commits on its own."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.applied_ddl: list[str] = []
        """DDL statements of the running migration that have committed."""
        self.version_table = self.context_opts.get("version_table", "alembic_version")
        self.collect: list[Violation] | None = None
        """``lint``: record refusals here (with their line in ``source_file``) instead of raising."""
        self.source_file: str | None = None
        self._tolerated: tuple[RuleId, ...] = ()

    # -- refusing what DSQL cannot apply ----------------------------------------------------

    def _accepts(self, construct: Any) -> bool:
        """Runs strict local mode's checker on the SQL of *construct*: ``False``
        when :attr:`collect` recorded a refusal (else the refusal is raised)."""
        try:
            sql = guards.sql_of(construct, self.dialect)
        except DSQLUnsupportedError as refused:  # the compiler refuses it
            return self._refuse(refused)
        if sql is None:
            return True
        found = guards.violations_of(sql, self._tolerated)
        return not found or self._refuse(DSQLUnsupportedError.from_violation(found[0]), found)

    def _refuse(self, refused: DSQLUnsupportedError, found: tuple[Violation, ...] = ()) -> bool:
        if self.collect is None:
            raise refused
        location = Location(self.source_file, self._caller_line())
        self.collect.extend(v.at(location) for v in (found or (refused.violation,)))
        return False

    def _caller_line(self) -> int | None:
        """The line of the migration file that called the operation being refused."""
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.source_file:
                return frame.f_lineno
            frame = frame.f_back  # type: ignore[assignment]
        return None

    # -- running statements ------------------------------------------------------------

    def start_migrations(self) -> None:
        super().start_migrations()
        self.applied_ddl = []

    def _exec(self, construct: Any, *args: Any, **kw: Any) -> Any:
        if not self._accepts(construct):
            return None
        if self.as_sql:
            return self._exec_offline(construct, *args, **kw)
        version_write = self._version_write(construct)
        try:
            result = super()._exec(construct, *args, **kw)
        except Exception as error:
            self._report_partial_migration(error, version_write)
            raise
        if version_write is not None:
            self.applied_ddl = []  # the migration is recorded
        elif self._is_ddl(construct):
            self.applied_ddl.append(self._describe(construct))
        return result

    def _exec_offline(self, construct: Any, *args: Any, **kw: Any) -> Any:
        super()._exec(construct, *args, **kw)
        if isinstance(construct, str) or not isinstance(construct, sa_schema.ExecutableDDLElement):
            return None
        compiled = construct.compile(dialect=self.dialect)
        if classify(str(compiled)).job is not None:
            self.static_output(_WAIT_HINT)
        for followup in getattr(compiled, "followup_statements", ()):
            self.static_output(followup + self.command_terminator)
            if classify(followup).job is not None:
                self.static_output(_WAIT_HINT)
        return None

    def _version_write(self, construct: Any) -> str | None:
        """``"<revision>"`` (or ``""``) if ``construct`` writes the version table."""
        if (
            isinstance(construct, (dml.Insert, dml.Update, dml.Delete))
            and getattr(construct.table, "name", None) == self.version_table
        ):
            return str(construct.compile().params.get("version_num") or "")
        return None

    def _is_ddl(self, construct: Any) -> bool:
        if isinstance(construct, sa_schema.ExecutableDDLElement):
            return True
        text = getattr(construct, "text", construct)
        return isinstance(text, str) and classify(text).kind is Kind.DDL

    def _describe(self, construct: Any) -> str:
        if isinstance(construct, str):
            return construct
        try:
            return " ".join(str(construct.compile(dialect=self.dialect)).split())
        except Exception:  # describing only, never failing
            return type(construct).__name__

    def _report_partial_migration(self, error: Exception, version_write: str | None) -> None:
        notes = []
        if rules.RULES["ddl-dml-mix"].message in str(error):
            notes.append(
                "Aurora DSQL: this migration changed data and then ran DDL in the same "
                "transaction. Run the data change in "
                "`with op.get_context().autocommit_block(): ...`, after the DDL, or in a "
                "migration of its own."
            )
        if version_write is not None:
            message = (
                "Aurora DSQL: the migration's statements ran (each DDL statement commits "
                "on its own) but writing alembic_version failed; the schema is at the "
                f"new revision while alembic_version is not. Check the schema, then run "
                f"`alembic stamp {version_write or '<revision>'}`."
            )
        elif self.applied_ddl:
            applied = "\n".join(f"  {i}. {s}" for i, s in enumerate(self.applied_ddl, 1))
            message = (
                "Aurora DSQL: this migration failed after these DDL statements had already "
                "committed (DSQL runs each DDL statement in its own transaction):\n"
                f"{applied}\nalembic_version still names the previous revision. Undo them "
                "(or make the migration skip them, e.g. if_not_exists=True), fix the cause, "
                "and run `alembic upgrade` again."
            )
        else:
            message = ""
        notes.extend(filter(None, [message]))
        for note in notes:
            log.error(note)
            if hasattr(error, "add_note"):  # Python >= 3.11; the log has it on 3.10
                error.add_note(note)

    # -- operations ------------------------------------------------------------------------

    def add_column(self, table_name: str, column: Any, *args: Any, **kw: Any) -> None:
        refused = guards.column_refusal(table_name, column)
        if refused is not None and not self._refuse(refused):
            return
        super().add_column(table_name, column, *args, **kw)

    def alter_column(self, table_name: str, column_name: str, **kw: Any) -> None:
        if kw.get("nullable") is False and kw.get("existing_nullable") is False:
            # already NOT NULL: Alembic still writes SET NOT NULL, a no-op DSQL need not see refused
            self._tolerated = ("set-not-null",)
        try:
            super().alter_column(table_name, column_name, **kw)
        finally:
            self._tolerated = ()

    def add_constraint(self, const: Any, **kw: Any) -> None:
        if isinstance(const, sa_schema.UniqueConstraint):
            self._add_unique_constraint(const)
            return
        super().add_constraint(const, **kw)

    def _add_unique_constraint(self, const: Any) -> None:
        """DSQL's recipe: a UNIQUE ASYNC index named like the constraint, wait for
        its job, then ``ADD CONSTRAINT name UNIQUE USING INDEX name``."""
        table = const.table
        if const.name is None:
            refused = DSQLUnsupportedError(
                f"op.create_unique_constraint on {table.name!r} without a name",
                "add-constraint",
                "Give the constraint a name: DSQL adds it from an index of that name.",
            )
            self._refuse(refused)
            return
        index = sa_schema.Index(const.name, *const.columns, unique=True, _table=table)
        nulls_not_distinct = dialect_option(const, "nulls_not_distinct")
        if nulls_not_distinct is not None:
            index.dialect_options["auroradsql"]["nulls_not_distinct"] = nulls_not_distinct
        result = self._exec(sa_schema.CreateIndex(index))
        if result is not None and not getattr(self.dialect, "wait_for_jobs", True):
            # ADD CONSTRAINT ... USING INDEX needs the built index: wait even so
            job_id = result.scalar()
            if job_id is not None:
                self.dialect.wait_for_job(  # type: ignore[attr-defined]
                    self.connection.connection.dbapi_connection,  # type: ignore[union-attr]
                    str(job_id),
                    f"Index {const.name!r} on {table.name!r}",
                )
        preparer = self.dialect.identifier_preparer
        self._exec(
            sa_schema.DDL(
                f"ALTER TABLE {preparer.format_table(table)} "
                f"ADD CONSTRAINT {preparer.format_constraint(const)} "
                f"UNIQUE USING INDEX {preparer.quote(const.name)}"
            )
        )

    def drop_constraint(self, const: Any, **kw: Any) -> None:
        if isinstance(const, sa_schema.PrimaryKeyConstraint):  # DROP CONSTRAINT does not say it is the key
            refused = DSQLUnsupportedError(f"op.drop_constraint({const.name!r}, type_='primary')", "primary-key-change")
            if not self._refuse(refused):
                return
        super().drop_constraint(const, **kw)

    def create_index(self, index: Any, **kw: Any) -> None:
        include = index.dialect_options["auroradsql"].get("include") or ()
        for name in include:
            if isinstance(name, str) and name not in index.table.c:
                index.table.append_column(sa_schema.Column(name, sqltypes.NullType))
        super().create_index(index, **kw)
