"""``aurora-dsql-sqlalchemy lint``: which of Aurora DSQL's rules a schema breaks, before deploying it.

Two kinds of target::

    aurora-dsql-sqlalchemy lint myapp.models:Base          # SQLAlchemy metadata
    aurora-dsql-sqlalchemy lint migrations/ schema.sql     # SQL files (folders: every *.sql)

``module:attribute`` imports the module (the current directory is on the
import path) and takes the attribute: a ``MetaData``, a declarative base or
``registry``, or anything with a ``.metadata``.  The schema is rendered the
way ``metadata.create_all()`` renders it with the ``auroradsql`` dialect
(every CREATE TABLE / CREATE INDEX / CREATE SEQUENCE / ALTER TABLE, in order);
what the dialect refuses to compile is a finding, and so is every rule the
emitted DDL breaks.  SQL files are split into statements by PostgreSQL's own
parser; DSQL-only syntax (``CREATE INDEX ASYNC`` ...) is understood.

Each finding names the place (``file:line`` where it can be found), the
object, the rule id (see :mod:`aurora_dsql_sqlalchemy.rules`), DSQL's message
and what to do instead.  ``--format json`` prints them as JSON; ``--relax
RULE`` ignores a rule (as ``create_engine(..., relax=[...])`` does).  The exit
status is 1 when any finding is an error, 2 when a target cannot be read, and
0 otherwise (warnings alone don't fail).

Strict local mode and this command share the checker
(:mod:`aurora_dsql_sqlalchemy.local.checks`) and the rules, so a schema
that lints clean is one local mode accepts.  Limits across a schema are
checked here too: indexes per table (counting the primary key and UNIQUE
constraints) and key columns.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import re
import sys
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .rules import LIMITS, RULES, Limits

__all__ = ["Finding", "LintError", "lint_metadata", "lint_paths", "lint_sql", "main"]


@dataclass(frozen=True)
class Finding:
    """One DSQL rule broken by one object or statement."""

    rule: str
    """Rule id (a key of :data:`~aurora_dsql_sqlalchemy.rules.RULES`)."""
    severity: str
    """``error`` (DSQL refuses it) or ``warning`` (accepted, but differs from PostgreSQL)."""
    sqlstate: str
    object: str
    """What breaks the rule (``"CREATE INDEX ix_orders_note ON orders"``)."""
    message: str
    """DSQL's message, or the dialect's explanation for what it refuses to compile."""
    advice: str
    """What to do instead."""
    file: str | None = None
    line: int | None = None
    statement: str | None = None
    """The SQL, when the finding comes from a statement."""

    @property
    def location(self) -> str:
        if self.file is None:
            return "<schema>"
        return f"{self.file}:{self.line}" if self.line else self.file


class LintError(Exception):
    """A target could not be read (bad path, import error, not a MetaData)."""


def _finding(rule_id: str, obj: str, message: str, **where: Any) -> Finding:
    rule = RULES.get(rule_id)
    if rule is None:  # not a DSQL rule: e.g. SQLAlchemy itself could not compile
        return Finding(rule_id, "error", "", obj, message, "", **where)
    return Finding(
        rule.id, rule.severity, rule.sqlstate, obj, message, rule.advice, **where
    )


# -- SQL text -----------------------------------------------------------------------------


def lint_sql(
    sql: str,
    *,
    file: str | None = None,
    limits: Limits = LIMITS,
    placeholders: bool = False,
) -> list[Finding]:
    """Findings for SQL text (one or many statements); *file* is used for locations."""
    from .local.checks import created_indexes, find_violations

    found = [
        _finding(
            f.violation.rule_id,
            f.violation.subject,
            f.violation.server_message(),
            file=file,
            line=f.line,
            statement=f.statement,
        )
        for f in find_violations(sql, limits, placeholders=placeholders, warnings=True)
    ]
    per_table: Counter[str] = Counter()
    for table, line in created_indexes(sql, placeholders=placeholders):
        per_table[table] += 1
        if per_table[table] == limits.indexes_per_table + 1:
            found.append(
                _finding(
                    "indexes-per-table",
                    f"table {table}: index number {per_table[table]}",
                    RULES["indexes-per-table"].server_message(),
                    file=file,
                    line=line,
                )
            )
    return sorted(found, key=lambda f: f.line or 0)


def _sql_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.sql") if p.is_file())
        elif path.is_file():
            yield path
        else:
            raise LintError(f"{path}: no such file or directory")


def lint_paths(
    paths: Iterable[str | Path], *, limits: Limits = LIMITS
) -> list[Finding]:
    """Findings for ``.sql`` files (folders are searched for ``*.sql``)."""
    found: list[Finding] = []
    for path in _sql_files(Path(p) for p in paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise LintError(f"{path}: {error}") from error
        found.extend(lint_sql(text, file=str(path), limits=limits))
    return found


# -- SQLAlchemy metadata --------------------------------------------------------------------

_RULE_IN_TEXT = re.compile(r"\[rule ([a-z0-9-]+),")


def lint_metadata(
    metadata: Any, *, limits: Limits = LIMITS, dialect: Any = None
) -> list[Finding]:
    """Findings for a ``MetaData``: the DDL ``create_all()`` would emit on DSQL, checked.

    *dialect* defaults to the core ``auroradsql`` dialect with its default options.
    """
    from sqlalchemy import exc as sa_exc
    from sqlalchemy import schema as sa_schema
    from sqlalchemy.engine.mock import MockConnection

    from .errors import DSQLUnsupportedError

    if dialect is None:
        from .base import AuroraDSQLDialect

        dialect = AuroraDSQLDialect()
    places = _Places(metadata)
    found: list[Finding] = []

    def check(element: Any, *multiparams: Any, **params: Any) -> None:
        target = getattr(element, "element", None)
        file, line = places.of(target)
        name = _describe(target)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                sql = str(element.compile(dialect=dialect))
            except DSQLUnsupportedError as error:
                # the explanation without the subject and advice the finding has apart
                message = (
                    str(error)
                    .removeprefix(f"{error.subject}: ")
                    .replace(error.rule.advice, "")
                )
                found.append(
                    _finding(
                        error.rule.id,
                        error.subject,
                        message.strip(),
                        file=file,
                        line=line,
                    )
                )
                return
            except sa_exc.CompileError as error:
                found.append(
                    _finding("compile-error", name, str(error), file=file, line=line)
                )
                return
        warned = set()
        for warning in caught:
            match = _RULE_IN_TEXT.search(str(warning.message))
            if match and match.group(1) in RULES:
                warned.add(match.group(1))
                found.append(
                    _finding(
                        match.group(1), name, str(warning.message), file=file, line=line
                    )
                )
        for finding in lint_sql(sql, limits=limits, placeholders=True):
            if finding.rule in warned:
                continue  # the compiler already said it
            found.append(
                Finding(
                    **{
                        **asdict(finding),
                        "file": file,
                        "line": line,
                        "statement": sql.strip(),
                    }
                )
            )

    metadata.create_all(MockConnection(dialect, check), checkfirst=False)
    for table in metadata.sorted_tables:
        indexes = len(table.indexes) + (1 if table.primary_key.columns else 0)
        indexes += sum(
            isinstance(c, sa_schema.UniqueConstraint) for c in table.constraints
        )
        if indexes > limits.indexes_per_table:
            file, line = places.of(table)
            found.append(
                _finding(
                    "indexes-per-table",
                    f"table {table.fullname}: {indexes} indexes",
                    RULES["indexes-per-table"].server_message(),
                    file=file,
                    line=line,
                )
            )
    return found


def _describe(obj: Any) -> str:
    from sqlalchemy import schema as sa_schema

    if isinstance(obj, sa_schema.Table):
        return f"table {obj.fullname}"
    if isinstance(obj, sa_schema.Index):
        return f"index {obj.name} on {obj.table.fullname if obj.table is not None else '?'}"
    if isinstance(obj, sa_schema.Sequence):
        return f"sequence {obj.name}"
    if isinstance(obj, sa_schema.Constraint):
        return f"constraint {obj.name or type(obj).__name__} on {obj.table.fullname}"
    return type(obj).__name__


class _Places:
    """Where tables, indexes and sequences are defined: ``(file, line)``.

    Mapped classes are found with :mod:`inspect`; other objects by searching
    the source files of the modules that hold them for their quoted name.
    """

    def __init__(self, metadata: Any) -> None:
        self._tables: dict[Any, tuple[str, int | None]] = {}
        self._files: list[str] = []
        from sqlalchemy import schema as sa_schema

        tables = {id(t) for t in metadata.tables.values()}
        for module in list(sys.modules.values()):
            file = getattr(module, "__file__", None)
            if not file or not _is_user_file(file):
                continue
            try:
                members = list(vars(module).values())
            except TypeError:
                continue
            holds = False
            for value in members:
                table = (
                    getattr(value, "__table__", None)
                    if inspect.isclass(value)
                    else value
                )
                if not isinstance(table, sa_schema.Table) or id(table) not in tables:
                    continue
                holds = True
                if inspect.isclass(value) and value.__module__ == module.__name__:
                    try:
                        self._tables[table] = (file, inspect.getsourcelines(value)[1])
                    except (OSError, TypeError):
                        pass
            if holds:
                self._files.append(file)

    def of(self, obj: Any) -> tuple[str | None, int | None]:
        from sqlalchemy import schema as sa_schema

        if obj is None:
            return None, None
        if isinstance(obj, sa_schema.Table) and obj in self._tables:
            return _relative(self._tables[obj][0]), self._tables[obj][1]
        name = getattr(obj, "name", None)
        if name:
            for file in self._files:
                line = _line_of_name(file, str(name))
                if line is not None:
                    return _relative(file), line
        table = getattr(obj, "table", None)
        if table is not None and table is not obj:
            return self.of(table)
        return None, None


def _is_user_file(file: str) -> bool:
    markers = (
        f"{os.sep}site-packages{os.sep}",
        f"{os.sep}dist-packages{os.sep}",
        f"{os.sep}lib{os.sep}python",
    )
    here = os.path.dirname(os.path.abspath(__file__))
    return (
        file.endswith(".py")
        and not any(m in file for m in markers)
        and not file.startswith(here)
    )


def _line_of_name(file: str, name: str) -> int | None:
    pattern = re.compile(r"""["']""" + re.escape(name) + r"""["']""")
    try:
        with open(file, encoding="utf-8") as source:
            for number, text in enumerate(source, 1):
                if pattern.search(text):
                    return number
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _relative(file: str) -> str:
    try:
        return os.path.relpath(file)
    except ValueError:
        return file


def load_metadata(target: str) -> Any:
    """Import ``module:attribute`` and return its ``MetaData``."""
    from sqlalchemy import MetaData

    module_name, _, attribute = target.partition(":")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as error:
        raise LintError(
            f"{target}: cannot import {module_name!r}: {error!r}"
        ) from error
    for part in attribute.split(".") if attribute else ["metadata"]:
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise LintError(
                f"{target}: {module_name} has no attribute {attribute!r}"
            ) from None
    if not isinstance(obj, MetaData):
        obj = getattr(obj, "metadata", obj)
    if not isinstance(obj, MetaData):
        raise LintError(
            f"{target}: {type(obj).__name__} is not a MetaData, declarative base or registry"
        )
    return obj


# -- the command ----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "targets",
        nargs="+",
        metavar="TARGET",
        help="module:attribute (a MetaData, declarative base or registry), or .sql files / folders",
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format"
    )
    parser.add_argument(
        "--relax",
        action="append",
        default=[],
        metavar="RULE",
        help="ignore this rule id (repeatable)",
    )


def run(args: argparse.Namespace, out: Any = None) -> int:
    """Lint the targets of a parsed command line; returns the exit status."""
    out = out or sys.stdout
    unknown = [r for r in args.relax if r not in RULES]
    if unknown:
        print(f"unknown rule id(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    found: list[Finding] = []
    try:
        for target in args.targets:
            if ":" in target and not os.path.exists(target):
                found.extend(lint_metadata(load_metadata(target)))
            else:
                found.extend(lint_paths([target]))
    except LintError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    found = [f for f in found if f.rule not in args.relax]
    errors = sum(f.severity == "error" for f in found)
    warnings_ = len(found) - errors
    if args.format == "json":
        document = {
            "findings": [{**asdict(f), "location": f.location} for f in found],
            "summary": {"errors": errors, "warnings": warnings_},
        }
        json.dump(document, out, indent=2)
        out.write("\n")
    else:
        for f in found:
            out.write(
                f"{f.location}: {f.severity} [{f.rule}] {f.object}: {f.message}\n"
            )
            if f.advice:
                out.write(f"    {f.advice}\n")
        out.write(f"{errors} error(s), {warnings_} warning(s)\n")
    return 1 if errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``lint`` on its own (``aurora-dsql-sqlalchemy lint`` is the usual entry)."""
    parser = argparse.ArgumentParser(
        prog="aurora-dsql-sqlalchemy lint", description=__doc__.split("\n")[0]
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
