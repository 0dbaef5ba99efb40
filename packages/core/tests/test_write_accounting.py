"""Strict local mode's estimate of the bytes a transaction writes (DSQL's 10 MiB
limit): the same figure however the parameters come, by column or by value."""

from __future__ import annotations

from typing import Any

import pytest
from aurora_dsql_sqlalchemy.local.mode import _estimate_bytes
from sqlalchemy.sql.elements import quoted_name


def by_hand(rows: list[Any]) -> int:
    """8 bytes a value, the length instead for text and binary values."""
    total = 0
    for row in rows:
        for value in row.values() if isinstance(row, dict) else row:
            sized = isinstance(value, (str, bytes, bytearray, memoryview))
            total += len(value) if sized else 8
    return total


ROWS: dict[str, list[Any]] = {
    "dicts": [{"name": f"name {i}", "value": i} for i in range(3000)],
    "tuples": [(f"name {i}", i, b"\x00" * (i % 5)) for i in range(3000)],
    "text or NULL": [{"note": None if i % 3 else "x" * i} for i in range(300)],
    "str subclasses": [{"name": quoted_name("Quoted", True), "b": memoryview(b"abc")} for _ in range(10)],
    "dicts of other keys": [{"a": "xyz"}, {"b": "a much longer value"}, {"a": 1}],
    "rows of other widths": [("a",), ("bb", 2), ("ccc", 3, None)],
}


@pytest.mark.parametrize("shape", ROWS)
def test_many_rows_are_counted_as_value_by_value(shape: str) -> None:
    rows = ROWS[shape]
    assert _estimate_bytes(rows, True) == by_hand(rows)


def test_one_row_and_none() -> None:
    assert _estimate_bytes({"a": "xyz", "n": 1}, False) == 3 + 8
    assert _estimate_bytes([], True) == 0
