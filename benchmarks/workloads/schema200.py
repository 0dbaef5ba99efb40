"""A schema of many tables with indexes and foreign keys, for the DDL and
reflection workloads: table ``t000`` .. ``tNNN``, each with an identity
primary key, a foreign key to the previous table, an index on ``name`` and a
unique index on ``code``."""

from __future__ import annotations

import sqlalchemy as sa


def build(schema: str | None, tables: int) -> sa.MetaData:
    metadata = sa.MetaData(schema=schema)
    for i in range(tables):
        columns: list[sa.Column] = [
            sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
            sa.Column("name", sa.String(60), nullable=False),
            sa.Column("code", sa.String(20), nullable=False),
            sa.Column("amount", sa.Numeric(12, 2)),
            sa.Column("created", sa.DateTime(timezone=True), server_default=sa.func.now()),
        ]
        if i:
            prefix = f"{schema}." if schema else ""
            columns.append(
                sa.Column("parent_id", sa.BigInteger, sa.ForeignKey(f"{prefix}t{i - 1:03}.id"))
            )
        table = sa.Table(f"t{i:03}", metadata, *columns)
        sa.Index(f"ix_t{i:03}_name", table.c.name)
        sa.Index(f"uq_t{i:03}_code", table.c.code, unique=True)
    return metadata


def expected_shape(
    metadata: sa.MetaData,
) -> dict[str, tuple[frozenset[str], int, frozenset[str]]]:
    """Per table name: (index names, foreign key count, column names)."""
    return {
        table.name: (
            frozenset(str(index.name) for index in table.indexes),
            len(table.foreign_keys),
            frozenset(table.c.keys()),
        )
        for table in metadata.tables.values()
    }
