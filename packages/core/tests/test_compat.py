"""The private SQLAlchemy names the dialect relies on (``_compat``) still exist
and behave as used: this fails loudly, naming the symbol, on a SQLAlchemy
release that moves one (CI runs it on SQLAlchemy 2.0 and 2.1)."""

from __future__ import annotations

import asyncio
import inspect

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy import _compat
from aurora_dsql_sqlalchemy.base import AuroraDSQLDialect
from sqlalchemy.dialects.postgresql.base import PGDialect


def test_sequence_copy_is_detached_and_equal() -> None:
    sequence = sa.Sequence("s", start=5, cache=1, schema="x", metadata=sa.MetaData())
    copy = _compat.copy_sequence(sequence)
    assert copy is not sequence
    assert (copy.name, copy.start, copy.cache, copy.schema) == ("s", 5, 1, "x")
    copy.data_type = sa.BigInteger()
    assert sequence.data_type is None


def test_variant_mapping_lists_with_variant_types() -> None:
    uuid = sa.String(36).with_variant(sa.Uuid(), "postgresql")
    assert set(_compat.variant_mapping(uuid)) == {"postgresql"}
    assert dict(_compat.variant_mapping(sa.Integer())) == {}


@pytest.mark.parametrize("flag", _compat.PRIVATE_DIALECT_FLAGS)
def test_pg_dialect_flags_exist(flag: str) -> None:
    # the dialect overrides them; PGDialect must still read them
    assert hasattr(PGDialect, flag), f"PGDialect.{flag} moved"
    assert getattr(AuroraDSQLDialect, flag) is False


def test_reflection_hook_exists_with_the_signature_used() -> None:
    hook = getattr(PGDialect, _compat.PRIVATE_REFLECTION_HOOK, None)
    assert hook is not None, f"PGDialect.{_compat.PRIVATE_REFLECTION_HOOK} moved"
    params = list(inspect.signature(hook).parameters)
    assert params[:4] == ["self", "query", "schema", "scope"] and "pg_class_table" in params


def test_greenlet_helpers_run_a_coroutine_from_sqlalchemy_greenlet() -> None:
    pytest.importorskip("greenlet")
    from sqlalchemy.util.concurrency import greenlet_spawn

    assert _compat.in_greenlet() is False

    def in_spawned() -> tuple[bool, int]:
        return _compat.in_greenlet(), _compat.await_(asyncio.sleep(0, result=7))

    assert asyncio.run(greenlet_spawn(in_spawned)) == (True, 7)
