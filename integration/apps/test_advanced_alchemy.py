"""advanced-alchemy's base models and repositories (Litestar's persistence layer).

Its ``GUID`` type is native ``uuid`` only when ``dialect.name ==
"postgresql"`` and ``BINARY(16)`` otherwise, a type neither PostgreSQL nor
DSQL has: its UUID bases work through ``postgresql+auroradsql``.
"""

from __future__ import annotations

import warnings

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .conftest import column_types

with warnings.catch_warnings():
    # its own use of APIs SQLAlchemy 2.1 deprecates (declarative_mixin) is not under test
    warnings.simplefilter("ignore", sa.exc.SADeprecationWarning)
    from advanced_alchemy import base as aa_base
    from advanced_alchemy.repository import SQLAlchemySyncRepository


class Author(aa_base.UUIDAuditBase):
    __tablename__ = "apps_author"
    name: Mapped[str] = mapped_column(sa.String(50))
    books: Mapped[list[Book]] = relationship(back_populates="author", lazy="selectin")


class Book(aa_base.BigIntAuditBase):
    __tablename__ = "apps_book"
    title: Mapped[str] = mapped_column(sa.String(50))
    author_id: Mapped[object] = mapped_column(sa.ForeignKey("apps_author.id"))
    author: Mapped[Author] = relationship(back_populates="books")


class Review(aa_base.BigIntBase):
    __tablename__ = "apps_review"
    book_id: Mapped[int] = mapped_column(sa.ForeignKey("apps_book.id"))
    stars: Mapped[int]


class Authors(SQLAlchemySyncRepository[Author]):
    model_type = Author


class Books(SQLAlchemySyncRepository[Book]):
    model_type = Book


TABLES = [Author.__table__, Book.__table__, Review.__table__]


def library(url: URL) -> dict:
    engine = sa.create_engine(url)
    try:
        aa_base.orm_registry.metadata.create_all(engine, tables=TABLES)
        with Session(engine) as session:
            authors, books = Authors(session=session), Books(session=session)
            ada, bob = authors.add_many([Author(name="ada"), Author(name="bob")])
            books.add_many([Book(title=t, author=ada) for t in ("x", "y")] + [Book(title="z", author=bob)])
            session.commit()
            listed, total = books.get_many_and_count(order_by=[("id", False)])
            found = authors.get_one(name="ada")
            return {
                "total": total,
                "titles": [b.title for b in listed],
                "ids": [b.id for b in listed],
                "ada": (type(found.id).__name__, sorted(b.title for b in found.books)),
                "types": column_types(url, "apps_author")["id"],
            }
    finally:
        engine.dispose()


def test_uuid_and_bigint_bases_through_the_postgresql_name(run_on):
    expected = run_on("postgresql", library)
    assert expected["types"] == "uuid" and expected["ids"] == [1, 2, 3]
    assert run_on("postgresql+auroradsql", library) == expected


def test_the_auroradsql_name_meets_binary16(run_on):
    # what issue 17.3 reported: the generic fallback is a type PostgreSQL lacks
    with pytest.raises(sa.exc.ProgrammingError, match='type "binary" does not exist'):
        run_on("auroradsql", library)
