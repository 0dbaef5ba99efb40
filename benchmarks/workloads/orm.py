"""ORM unit of work: insert objects with relationships, query back with joins,
update, delete.

Authors own books (one-to-many, ``delete-orphan`` cascade).  Every run starts
from empty tables (truncated, untimed), and does four transactions, each well
under DSQL's 3,000-row limit: insert the authors with their books, read them
back with a joined eager load and a join query, change every book, delete
every author (and, by cascade, every book).  The tables are created once, by
the dialect, and shared by all arms, so the server does the same work for
each and only the client side differs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa
from harness import Arm, Goal, Workload
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
)


class Base(DeclarativeBase):
    metadata = sa.MetaData()


class Author(Base):
    __tablename__ = "bench_author"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    email: Mapped[str] = mapped_column(sa.String(120))
    books: Mapped[list[Book]] = relationship(
        back_populates="author", cascade="all, delete-orphan", order_by="Book.id"
    )


class Book(Base):
    __tablename__ = "bench_book"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("bench_author.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    pages: Mapped[int] = mapped_column(sa.Integer)
    author: Mapped[Author] = relationship(back_populates="books")


class OrmUnitOfWork(Workload):
    name = "orm"
    goals: ClassVar[dict[str, Goal]] = {
        "translate": Goal(1.05),
        "strict": Goal(1.10),
    }

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        # 1,000 objects: 200 authors with 4 books each
        self.authors = 40 if ctx.quick else 200
        self.books_per_author = 4
        objects = self.authors * (1 + self.books_per_author)
        self.description = (
            f"ORM: insert {objects} objects (authors + books), joined load, update, delete"
        )

    def setup(self) -> None:
        engine = self.ctx.engine("strict")
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        engine.dispose()

    def teardown(self) -> None:
        Base.metadata.drop_all(self.ctx.admin)

    def before(self, arm: Arm) -> None:
        with self.ctx.admin.connect() as conn:
            conn.exec_driver_sql("TRUNCATE bench_book, bench_author RESTART IDENTITY")

    def run(self, arm: Arm) -> Any:
        expected_pages = 0
        with Session(arm.engine) as session:
            # 1. insert, in one unit of work
            for a in range(self.authors):
                author = Author(name=f"author {a}", email=f"a{a}@example.com")
                for b in range(self.books_per_author):
                    pages = 100 + (a * 7 + b) % 300
                    expected_pages += pages
                    author.books.append(Book(title=f"book {a}/{b}", pages=pages))
                session.add(author)
            session.commit()

            # 2. query back: joined eager load, and a join with an aggregate
            authors = (
                session.scalars(
                    sa.select(Author).options(joinedload(Author.books)).order_by(Author.id)
                )
                .unique()
                .all()
            )
            loaded_books = sum(len(author.books) for author in authors)
            loaded_pages = sum(book.pages for author in authors for book in author.books)
            per_author = session.execute(
                sa.select(Author.name, sa.func.count(Book.id), sa.func.sum(Book.pages))
                .join(Author.books)
                .group_by(Author.id, Author.name)
                .order_by(Author.id)
            ).all()
            session.commit()

            # 3. update every book (the unit of work batches the UPDATEs)
            authors = (
                session.scalars(sa.select(Author).options(joinedload(Author.books))).unique().all()
            )
            for author in authors:
                author.email = author.email.upper()
                for book in author.books:
                    book.pages += 1
            session.commit()
            pages_after_update = session.scalar(sa.select(sa.func.sum(Book.pages)))
            session.commit()

            # 4. delete every author; the cascade deletes the books
            for author in session.scalars(
                sa.select(Author).options(joinedload(Author.books))
            ).unique():
                session.delete(author)
            session.commit()
            left = sum(
                session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
                for model in (Book, Author)
            )
            session.commit()
        return {
            "expected_pages": expected_pages,
            "authors": len(authors),
            "loaded_books": loaded_books,
            "loaded_pages": loaded_pages,
            "per_author": per_author,
            "pages_after_update": pages_after_update,
            "left": left,
        }

    def check(self, arm: Arm, result: Any) -> None:
        books = self.authors * self.books_per_author
        assert result["authors"] == self.authors, result["authors"]
        assert result["loaded_books"] == books, result["loaded_books"]
        assert result["loaded_pages"] == result["expected_pages"]
        assert len(result["per_author"]) == self.authors
        assert all(count == self.books_per_author for _, count, _ in result["per_author"])
        assert sum(pages for _, _, pages in result["per_author"]) == result["expected_pages"]
        assert result["pages_after_update"] == result["expected_pages"] + books
        assert result["left"] == 0, result["left"]


WORKLOADS: list[type[Workload]] = [OrmUnitOfWork]
