"""Unit tests: compile and logic only, no database, no driver needed."""

from __future__ import annotations

import pytest
from aurora_dsql_sqlalchemy.base import AuroraDSQLDialect


class _CompileOnlyDialect(AuroraDSQLDialect):
    """The core dialect without a driver: enough to compile SQL."""

    supports_statement_cache = True


@pytest.fixture
def dialect() -> AuroraDSQLDialect:
    return _CompileOnlyDialect()


@pytest.fixture
def dialect_factory():
    return _CompileOnlyDialect
