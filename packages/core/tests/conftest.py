"""Unit tests: compile and logic only, no database, no driver needed."""

from __future__ import annotations

from pathlib import Path

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


@pytest.fixture
def hermetic_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake static AWS credentials and no configuration: signing a token needs no network."""
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
