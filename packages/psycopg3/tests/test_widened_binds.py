"""psycopg 3 renders bind casts: a parameter compared with or written to an
integer key the dialect widened to BIGINT is cast ``::BIGINT``, so a value
past 2**31 never overflows; other integers keep ``::INTEGER`` (functions such
as ``substr(text, integer)`` have no BIGINT form)."""

from __future__ import annotations

import sqlalchemy as sa


def compiled(statement: sa.ClauseElement) -> str:
    engine = sa.create_engine("auroradsql+psycopg://u@h/postgres")
    return str(statement.compile(engine, compile_kwargs={"render_postcompile": True}))


def tables() -> tuple[sa.Table, sa.Table]:
    metadata = sa.MetaData()
    parent = sa.Table("parent", metadata, sa.Column("id", sa.Integer, primary_key=True))
    child = sa.Table(
        "child",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("parent.id")),
        sa.Column("count", sa.Integer),
    )
    return parent, child


def test_binds_against_widened_keys_are_cast_bigint() -> None:
    parent, child = tables()
    text = compiled(
        sa.select(child).where(
            child.c.parent_id == 5, child.c.count == 3, child.c.id.in_([1, 2])
        )
    )
    assert "child.parent_id = %(parent_id_1)s::BIGINT" in text
    assert "child.count = %(count_1)s::INTEGER" in text
    assert "IN (%(id_1_1)s::BIGINT, %(id_1_2)s::BIGINT)" in text
    insert = compiled(sa.insert(child).values(parent_id=1, count=2))
    assert "VALUES (%(parent_id)s::BIGINT, %(count)s::INTEGER)" in insert
    assert "%(id_1)s::BIGINT" in compiled(sa.select(parent).where(parent.c.id == 1))


def test_other_integer_binds_keep_their_cast() -> None:
    assert "%(substr_3)s::INTEGER" in compiled(sa.select(sa.func.substr("abc", 2)))
