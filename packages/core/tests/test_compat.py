"""The private SQLAlchemy names the dialect relies on (``_compat``) still exist
and behave as used: this fails loudly, naming the symbol, on a SQLAlchemy
release that moves one (CI runs it on SQLAlchemy 2.0 and 2.1)."""

from __future__ import annotations

import sqlalchemy as sa
from aurora_dsql_sqlalchemy import _compat


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
