"""Where the ``lint`` command's targets come from: importing metadata, finding
the line that defines a table, column or index, and running Alembic migrations
offline so the Alembic implementation's refusals see every operation."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import io
import os
import re
import sys
from pathlib import Path
from typing import Any

from .violations import Violation

__all__ = ["LintError", "Places", "describe", "is_migration", "load_metadata", "run_migration"]


class LintError(Exception):
    """A target could not be read (bad path, import error, not a MetaData)."""


_MODULE_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def describe(obj: Any) -> str:
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


class Places:
    """Where tables, columns, indexes and sequences are defined: ``(file, line)``.

    Mapped classes are found with :mod:`inspect` (a column by its attribute
    in the class body); other objects by searching the source files of the
    modules that hold them for their quoted name.
    """

    def __init__(self, metadata: Any) -> None:
        from sqlalchemy import schema as sa_schema

        self._tables: dict[Any, tuple[str, int]] = {}
        self._files: list[str] = []
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
                table = getattr(value, "__table__", None) if inspect.isclass(value) else value
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
                line = _line_of(file, _quoted(str(name)))
                if line is not None:
                    return _relative(file), line
        table = getattr(obj, "table", None)
        if table is not None and table is not obj:
            return self.of(table)
        return None, None

    def of_column(self, column: Any) -> tuple[str | None, int | None]:
        """The line that declares *column*: its attribute in a mapped class,
        else its quoted name after the table's line; else the table's place."""
        table = column.table
        file, line = self.of(table)
        if file is None or line is None:
            return file, line
        if table in self._tables:
            pattern = re.compile(rf"^\s*{re.escape(column.key)}\s*[:=]|{_quoted(column.name).pattern}")
        else:
            pattern = _quoted(column.name)
        found = _line_of(self._tables.get(table, (file,))[0], pattern, after=line)
        return file, found or line


def _quoted(name: str) -> re.Pattern[str]:
    return re.compile(r"""["']""" + re.escape(name) + r"""["']""")


def _is_user_file(file: str) -> bool:
    markers = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}", f"{os.sep}lib{os.sep}python")
    here = os.path.dirname(os.path.abspath(__file__))
    return file.endswith(".py") and not any(m in file for m in markers) and not file.startswith(here)


def _line_of(file: str, pattern: re.Pattern[str], after: int = 0) -> int | None:
    try:
        with open(file, encoding="utf-8") as source:
            for number, text in enumerate(source, 1):
                if number > after and pattern.search(text):
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
    """Import ``module:attribute`` (or ``module``, whose ``metadata``) and return its ``MetaData``."""
    from sqlalchemy import MetaData

    module_name, _, attribute = target.partition(":")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as error:
        raise LintError(f"{target}: cannot import {module_name!r}: {error!r}") from error
    for part in attribute.split(".") if attribute else ["metadata"]:
        try:
            obj = getattr(obj, part)
        except AttributeError:
            if not attribute:
                raise LintError(
                    f"{target}: module {module_name} has no 'metadata'; name the object to lint "
                    f"as module:attribute (e.g. {module_name}:Base)"
                ) from None
            raise LintError(f"{target}: {module_name} has no attribute {attribute!r}") from None
    if not isinstance(obj, MetaData):
        obj = getattr(obj, "metadata", obj)
    if not isinstance(obj, MetaData):
        raise LintError(f"{target}: {type(obj).__name__} is not a MetaData, declarative base or registry")
    return obj


def looks_like_module(target: str) -> bool:
    """``myapp.models``: a module path rather than a file name."""
    return bool(_MODULE_PATH.match(target)) and not target.endswith((".sql", ".py"))


def is_migration(path: Path, text: str) -> bool:
    """An Alembic migration script: it defines ``upgrade()`` and a revision."""
    return "def upgrade(" in text and re.search(r"^revision\b", text, re.MULTILINE) is not None


def run_migration(path: Path) -> tuple[list[Violation], str | None]:
    """Run a migration's ``upgrade()`` offline through the Alembic implementation,
    recording each refusal at the line that called the operation.  Returns the
    violations and, if ``upgrade()`` could not run to the end, why."""
    try:
        from alembic.operations import Operations
        from alembic.runtime.migration import MigrationContext
    except ImportError:
        return [], "Alembic is not installed (pip install alembic)"
    from . import alembic_impl  # noqa: F401  (registers the implementation)
    from .base import AuroraDSQLDialect

    context = MigrationContext.configure(
        dialect=AuroraDSQLDialect(), opts={"as_sql": True, "output_buffer": io.StringIO()}
    )
    impl = context.impl
    impl.collect = []  # type: ignore[attr-defined]
    impl.source_file = str(path.resolve())  # type: ignore[attr-defined]
    spec = importlib.util.spec_from_file_location(f"_dsql_lint_{path.stem}", path.resolve())
    if spec is None or spec.loader is None:
        return [], "cannot be loaded"
    module = importlib.util.module_from_spec(spec)
    problem = None
    try:
        with Operations.context(context):
            spec.loader.exec_module(module)
            module.upgrade()
    except Exception as error:  # a migration that reads the database, or a bug in it
        problem = f"upgrade() stopped: {error!r}"
    shown = _relative(str(path))
    found = [
        v.at(v.location and type(v.location)(shown, v.location.line, v.location.statement))
        for v in impl.collect  # type: ignore[attr-defined]
    ]
    return found, problem
