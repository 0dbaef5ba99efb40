"""sqlalchemy-utils' types, which choose a native PostgreSQL type by dialect name."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
import sqlalchemy_utils
from sqlalchemy.engine import URL

from .conftest import column_types

KEY = uuid.UUID("6a1c7c1e-3e0b-4a7e-9d55-2f8f8d8f5b10")


def store_and_read(url: URL) -> dict:
    metadata = sa.MetaData()
    thing = sa.Table(
        "thing",
        metadata,
        sa.Column("id", sqlalchemy_utils.UUIDType(binary=False), primary_key=True),
        sa.Column("data", sqlalchemy_utils.JSONType),
        sa.Column("email", sqlalchemy_utils.EmailType(100)),
    )
    engine = sa.create_engine(url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(thing.insert(), {"id": KEY, "data": {"tags": ["a", "b"]}, "email": "Ada@Example.org"})
        with engine.connect() as conn:
            row = conn.execute(sa.select(thing).where(thing.c.id == KEY)).one()
        return {
            "row": (row.id, row.data, row.email),
            "types": column_types(url, "thing"),
            "exists": sqlalchemy_utils.database_exists(url),
        }
    finally:
        engine.dispose()


def test_native_types_through_the_postgresql_name(run_on):
    expected = run_on("postgresql", store_and_read)
    assert expected["types"] == {"id": "uuid", "data": "json", "email": "character varying"}
    assert run_on("postgresql+auroradsql", store_and_read) == expected


def test_values_round_trip_under_the_auroradsql_name(run_on):
    # Under "auroradsql" the types fall back to generic ones (CHAR(32) for
    # the UUID, text for JSON): the values still read back the same.
    observed = run_on("auroradsql", store_and_read)
    expected = run_on("postgresql", store_and_read)
    assert observed["row"] == expected["row"]
    assert observed["types"]["id"] != "uuid"
