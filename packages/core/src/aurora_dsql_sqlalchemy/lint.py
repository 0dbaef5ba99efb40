"""``aurora-dsql-sqlalchemy lint``: which of Aurora DSQL's rules a schema breaks, before deploying it.

Three kinds of target::

    aurora-dsql-sqlalchemy lint myapp.models:Base          # SQLAlchemy metadata
    aurora-dsql-sqlalchemy lint schema.sql sql/            # SQL files (folders: every *.sql)
    aurora-dsql-sqlalchemy lint migrations/                # Alembic migrations (*.py with upgrade())

``module:attribute`` imports the module (the current directory is on the
import path) and takes the attribute: a ``MetaData``, a declarative base or
``registry``, or anything with a ``.metadata``.  The schema is rendered the
way ``metadata.create_all()`` renders it with the ``auroradsql`` dialect
(every CREATE TABLE / CREATE INDEX / CREATE SEQUENCE / ALTER TABLE, in order);
what the dialect refuses to compile is a finding (every column of a table,
each at its line), and so is every rule the emitted DDL breaks.  SQL files are
split into statements by PostgreSQL's own parser; DSQL-only syntax (``CREATE
INDEX ASYNC`` ...) is understood and psql meta-commands (``\\set ...``) are
skipped.  An Alembic migration's ``upgrade()`` runs offline through the
dialect's Alembic implementation, so each operation and the SQL of each
``op.execute`` meet the same refusals as ``alembic upgrade``.

Each finding names the place (``file:line`` where it can be found), the
object, the rule id (see :mod:`aurora_dsql_sqlalchemy.rules`), DSQL's message
and what to do instead.  ``--format json`` prints them as JSON; ``--relax
RULE`` ignores a rule (as ``create_engine(..., relax=[...])`` does).  The exit
status is 1 when any finding is an error, 2 when a target cannot be read, a
statement cannot be parsed or a target holds nothing to check, and 0
otherwise (warnings alone don't fail).

Strict local mode, the Alembic implementation and this command share one
checker (:mod:`aurora_dsql_sqlalchemy.local.checks`) and one violation model
(:class:`~aurora_dsql_sqlalchemy.violations.Violation`), so a schema that
lints clean is one local mode accepts.  Limits across a file or schema are
checked here too: indexes per table (counting the primary key and UNIQUE
constraints) and dropping a primary-key column of a table the file creates.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .lint_sources import (
    LintError,
    Places,
    describe,
    is_migration,
    load_metadata,
    looks_like_module,
    run_migration,
)
from .rules import LIMITS, RULES, Limits, RuleId
from .violations import Location, Violation

__all__ = ["Finding", "LintError", "Problem", "Report", "lint_metadata", "lint_paths", "lint_sql", "main"]


@dataclass(frozen=True)
class Finding:
    """One DSQL rule broken by one object or statement: a located :class:`Violation`."""

    violation: Violation

    @property
    def where(self) -> Location:
        return self.violation.location or Location()

    @property
    def rule(self) -> str:
        """Rule id (a key of :data:`~aurora_dsql_sqlalchemy.rules.RULES`)."""
        return self.violation.rule_id

    @property
    def severity(self) -> str:
        """``error`` (DSQL refuses it) or ``warning`` (accepted, but differs from PostgreSQL)."""
        return self.violation.severity

    @property
    def sqlstate(self) -> str:
        return self.violation.rule.sqlstate

    @property
    def object(self) -> str:
        """What breaks the rule (``"CREATE INDEX ix_orders_note ON orders"``)."""
        return self.violation.subject

    @property
    def message(self) -> str:
        """DSQL's message (the rule's title where the construct leaves placeholders open)."""
        rule = self.violation.rule
        try:
            return rule.message.format(**self.violation.fields)
        except (KeyError, IndexError):
            return f"Aurora DSQL does not support {rule.title}"

    @property
    def advice(self) -> str:
        return self.violation.rule.advice

    @property
    def file(self) -> str | None:
        return self.where.file

    @property
    def line(self) -> int | None:
        return self.where.line

    @property
    def statement(self) -> str | None:
        """The SQL, when the finding comes from a statement."""
        return self.where.statement

    @property
    def location(self) -> str:
        return str(self.where) if self.file is not None else "<schema>"

    def to_json(self) -> dict[str, Any]:
        keys = ("rule", "severity", "sqlstate", "object", "message", "advice", "file", "line", "statement", "location")
        return {key: getattr(self, key) for key in keys}


@dataclass(frozen=True)
class Problem:
    """Something that could not be checked: a statement that does not parse, a
    construct SQLAlchemy cannot compile, a target with nothing to check."""

    where: Location
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"file": self.where.file, "line": self.where.line, "message": self.message}


@dataclass
class Report:
    """What linting some targets found."""

    findings: list[Finding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def extend(self, other: Report) -> None:
        self.findings.extend(other.findings)
        self.problems.extend(other.problems)


_LIMIT_OF = {"table": "tables", "schema": "schemas", "sequence": "sequences"}
_RULE_OF: dict[str, RuleId] = {
    "table": "tables-per-database",
    "schema": "schemas-per-database",
    "sequence": "sequences-per-database",
}

# -- SQL text -----------------------------------------------------------------------------


def lint_sql(
    sql: str, *, file: str | None = None, limits: Limits = LIMITS, placeholders: bool = False
) -> list[Finding]:
    """Findings for SQL text (one or many statements); *file* is used for locations."""
    return _check_sql(sql, file, limits, placeholders).findings


def _check_sql(sql: str, file: str | None, limits: Limits, placeholders: bool) -> Report:
    from .local.checks import analyze

    # a file is a script (psql -f sends each statement on its own), not one query
    analysis = analyze(
        sql, limits, placeholders=placeholders, meta_commands=True, split=True, one_transaction=False
    )
    report = Report()
    if not analysis.parsed:
        report.problems.append(Problem(Location(file, 1), "cannot be parsed"))
        return report

    def at(location: Location | None, line: int | None = None) -> Location:
        where = location or Location()
        return Location(file, line or where.line, where.statement)

    found = [Finding(v.at(at(v.location))) for v in analysis.violations]
    per_table: Counter[str] = Counter()
    for table, line in analysis.indexed_tables:
        per_table[table] += 1
        if per_table[table] == limits.indexes_per_table + 1:
            subject = f"table {table}: index number {per_table[table]}"
            found.append(Finding(Violation("indexes-per-table", subject, location=at(None, line))))
    for table, column, line in analysis.dropped_columns:
        if column in analysis.primary_keys.get(table, ()):
            violation = Violation("drop-primary-key-column", f"ALTER TABLE {table} DROP COLUMN {column}", {"column": column})
            found.append(Finding(violation.at(at(None, line))))
    created: Counter[str] = Counter()
    for kind, name, line in analysis.created_objects:
        created[kind] += 1
        limit = getattr(limits, _LIMIT_OF[kind])
        if created[kind] == limit + 1:
            subject = f"{kind} {name}: {kind} number {created[kind]} in one file"
            found.append(Finding(Violation(_RULE_OF[kind], subject, location=at(None, line))))
    report.findings = sorted(found, key=lambda f: f.line or 0)
    for where in analysis.unparsed:
        statement, _, error = (where.statement or "").partition("\n")
        report.problems.append(Problem(at(where), f"cannot parse {statement!r}: {error.strip(' ()')}"))
    return report


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from sorted(p for p in path.rglob("*") if p.suffix in (".sql", ".py") and p.is_file())
    elif path.is_file():
        yield path
    else:
        raise LintError(f"{path}: no such file or directory")


def lint_paths(paths: Iterable[str | Path], *, limits: Limits = LIMITS) -> list[Finding]:
    """Findings for ``.sql`` files and Alembic migrations (folders are searched for both)."""
    report = Report()
    for path in paths:
        report.extend(_lint_path(Path(path), limits))
    return report.findings


def _lint_path(path: Path, limits: Limits) -> Report:
    report = Report()
    checked = 0
    for file in _files(path):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise LintError(f"{file}: {error}") from error
        if file.suffix == ".py":
            if not is_migration(file, text):
                continue
            violations, problem = run_migration(file)
            report.findings.extend(Finding(v) for v in violations)
            if problem:
                report.problems.append(Problem(Location(str(file)), problem))
        else:
            report.extend(_check_sql(text, str(file), limits, False))
        checked += 1
    if not checked:
        report.problems.append(Problem(Location(str(path)), "nothing to check (no .sql files or Alembic migrations)"))
    return report


# -- SQLAlchemy metadata --------------------------------------------------------------------


def lint_metadata(metadata: Any, *, limits: Limits = LIMITS, dialect: Any = None) -> list[Finding]:
    """Findings for a ``MetaData``: the DDL ``create_all()`` would emit on DSQL, checked.

    *dialect* defaults to the core ``auroradsql`` dialect with its default options.
    """
    return _lint_metadata(metadata, limits, dialect).findings


def _lint_metadata(metadata: Any, limits: Limits, dialect: Any) -> Report:
    from sqlalchemy import schema as sa_schema
    from sqlalchemy.engine.mock import MockConnection

    if dialect is None:
        from .base import AuroraDSQLDialect

        dialect = AuroraDSQLDialect()
    places = Places(metadata)
    report = Report()

    def check(element: Any, *multiparams: Any, **params: Any) -> None:
        target = getattr(element, "element", None)
        file, line = places.of(target)
        seen: set[tuple[str, str]] = set()
        if isinstance(element, sa_schema.CreateTable) and target is not None:
            for column in target.columns:
                column_place = Location(*places.of_column(column))
                _compile(sa_schema.CreateColumn(column), dialect, column_place, describe(target), report, seen)
        sql = _compile(element, dialect, Location(file, line), describe(target), report, seen)
        if sql is None:
            return
        for finding in _check_sql(sql, None, limits, True).findings:
            if (finding.rule, "") in seen:
                continue  # the compiler already said it
            where = Location(file, line, sql.strip())
            report.findings.append(Finding(finding.violation.at(where)))

    metadata.create_all(MockConnection(dialect, check), checkfirst=False)
    for table in metadata.sorted_tables:
        indexes = len(table.indexes) + (1 if table.primary_key.columns else 0)
        indexes += sum(isinstance(c, sa_schema.UniqueConstraint) for c in table.constraints)
        if indexes > limits.indexes_per_table:
            violation = Violation("indexes-per-table", f"table {table.fullname}: {indexes} indexes")
            report.findings.append(Finding(violation.at(Location(*places.of(table)))))
    return report


def _compile(
    element: Any, dialect: Any, where: Location, name: str, report: Report, seen: set[tuple[str, str]]
) -> str | None:
    """Compile one DDL element, recording the compiler's refusals and warnings
    (once each: *seen* holds ``(rule, subject)`` already reported)."""
    from sqlalchemy import exc as sa_exc

    from .errors import DSQLSchemaWarning, DSQLUnsupportedError

    def record(violation: Violation) -> None:
        key = (violation.rule_id, violation.subject)
        if key not in seen:
            seen.update({key, (violation.rule_id, "")})
            report.findings.append(Finding(violation.at(where)))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sql = str(element.compile(dialect=dialect))
        except DSQLUnsupportedError as error:
            record(error.violation)
            return None
        except sa_exc.CompileError as error:
            report.problems.append(Problem(where, f"{name}: SQLAlchemy cannot compile it: {error}"))
            return None
    for warning in caught:
        if isinstance(warning.message, DSQLSchemaWarning) and warning.message.violation is not None:
            record(warning.message.violation)
    return sql


# -- the command ----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "targets",
        nargs="+",
        metavar="TARGET",
        help="module:attribute (a MetaData, declarative base or registry), .sql files, "
        "Alembic migrations, or folders of them",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--relax", action="append", default=[], metavar="RULE", help="ignore this rule id (repeatable)")


def _lint_target(target: str) -> Report:
    if ":" in target and not os.path.exists(target):
        return _lint_metadata(load_metadata(target), LIMITS, None)
    if not os.path.exists(target) and looks_like_module(target):
        try:
            return _lint_metadata(load_metadata(target), LIMITS, None)
        except LintError as error:
            raise LintError(
                f"{target}: not a file or folder, and not importable as metadata ({error}); "
                "to lint SQLAlchemy metadata write module:attribute (e.g. myapp.models:Base)"
            ) from None
    return _lint_path(Path(target), LIMITS)


def run(args: argparse.Namespace, out: Any = None) -> int:
    """Lint the targets of a parsed command line; returns the exit status."""
    out = out or sys.stdout
    unknown = [r for r in args.relax if r not in RULES]
    if unknown:
        print(f"unknown rule id(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    report = Report()
    try:
        for target in args.targets:
            report.extend(_lint_target(target))
    except LintError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    found = [f for f in report.findings if f.rule not in args.relax]
    errors = sum(f.severity == "error" for f in found)
    warnings_ = len(found) - errors
    if args.format == "json":
        document = {
            "findings": [f.to_json() for f in found],
            "problems": [p.to_json() for p in report.problems],
            "summary": {"errors": errors, "warnings": warnings_, "problems": len(report.problems)},
        }
        json.dump(document, out, indent=2)
        out.write("\n")
    else:
        for f in found:
            out.write(f"{f.location}: {f.severity} [{f.rule}] {f.object}: {f.message}\n")
            if f.advice:
                out.write(f"    {f.advice}\n")
        for problem in report.problems:
            out.write(f"{problem.where}: not checked: {problem.message}\n")
        summary = f"{errors} error(s), {warnings_} warning(s)"
        if report.problems:
            summary += f", {len(report.problems)} not checked"
        out.write(summary + "\n")
    if report.problems:
        return 2
    return 1 if errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``lint`` on its own (``aurora-dsql-sqlalchemy lint`` is the usual entry)."""
    parser = argparse.ArgumentParser(prog="aurora-dsql-sqlalchemy lint", description=(__doc__ or "").split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
