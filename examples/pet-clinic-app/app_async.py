"""The pet clinic with asyncio: ``auroradsql+psycopg_async`` and ``AsyncSession``.

    python app_async.py                       # embedded PostgreSQL, strict local mode
    python app_async.py --url "auroradsql+psycopg_async://admin@<id>.dsql.<region>.on.aws/postgres"
    DATABASE_URL=... python app_async.py

The same models as ``app.py`` (``models.py``).  The schema is created with
``run_sync(metadata.create_all)`` (each DDL statement in its own transaction,
ASYNC index jobs waited for), writes go through
:func:`aurora_dsql_sqlalchemy.retry.run_transaction_async`, which re-runs the
unit of work on an optimistic-concurrency conflict, and IAM tokens (on DSQL)
are signed in a worker thread so connecting never blocks the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
from contextlib import ExitStack
from pathlib import Path

from aurora_dsql_sqlalchemy.retry import run_transaction_async
from sqlalchemy import func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import selectinload

sys.path.insert(0, str(Path(__file__).parent))
from models import Base, Owner, Pet, Specialty, Vet, Visit, describe_mode


async def add_clinic(session: AsyncSession) -> None:
    surgery = Specialty(name="surgery")
    dentistry = Specialty(name="dentistry")
    carter = Vet(name="James Carter", specialties=[surgery])
    leary = Vet(name="Helen Leary", specialties=[surgery, dentistry])
    george = Owner(name="George Franklin", city="Madison", telephone="6085551023")
    betty = Owner(name="Betty Davis", city="Sun Prairie", telephone="6085551749")
    leo = Pet(name="Leo", species="cat", birth_date=dt.date(2020, 9, 7), owner=george)
    basil = Pet(name="Basil", species="hamster", birth_date=dt.date(2022, 8, 6), owner=betty)
    session.add_all([carter, leary, george, betty, leo, basil])
    session.add_all(
        [
            Visit(pet=leo, vet=carter, visit_date=dt.date(2026, 1, 4), description="rabies shot"),
            Visit(pet=leo, vet=leary, visit_date=dt.date(2026, 3, 4), description="dental check"),
            Visit(pet=basil, vet=leary, visit_date=dt.date(2026, 2, 1), description="neutered"),
        ]
    )


async def rename_leo(session: AsyncSession) -> None:
    leo = (await session.scalars(select(Pet).where(Pet.name == "Leo"))).one()
    leo.name = "Leonardo"


async def delete_betty(session: AsyncSession) -> None:
    betty = (
        await session.scalars(
            select(Owner)
            .where(Owner.name == "Betty Davis")
            .options(selectinload(Owner.pets).selectinload(Pet.visits))
        )
    ).one()
    await session.delete(betty)


async def run(url: URL | str) -> None:
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    print(f"connecting to {make_url(url).render_as_string(hide_password=True)}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
            await conn.run_sync(Base.metadata.create_all)
        print(
            f"created tables: {', '.join(sorted(Base.metadata.tables))} "
            f"(mode: {describe_mode(engine.dialect)})"
        )

        await run_transaction_async(sessions, add_clinic)
        print("inserted 2 owners, 2 pets, 2 vets, 2 specialties, 3 visits")

        async with sessions() as session:
            rows = (
                await session.execute(
                    select(Owner.name, Pet.name, func.count(Visit.id))
                    .join(Owner.pets)
                    .join(Pet.visits)
                    .group_by(Owner.name, Pet.name)
                    .order_by(Owner.name)
                )
            ).all()
            for owner, pet, visits in rows:
                print(f"  {owner} owns {pet}: {visits} visit(s)")
            assert [tuple(r) for r in rows] == [
                ("Betty Davis", "Basil", 1),
                ("George Franklin", "Leo", 2),
            ]
            vets = (
                await session.scalars(
                    select(Vet).options(selectinload(Vet.specialties)).order_by(Vet.name)
                )
            ).all()
            for vet in vets:
                print(f"  vet {vet.name}: {', '.join(sorted(s.name for s in vet.specialties))}")

        await run_transaction_async(sessions, rename_leo)
        print("renamed Leo to Leonardo")
        await run_transaction_async(sessions, delete_betty)
        print("deleted Betty Davis with her pets and their visits")

        async with sessions() as session:
            pets = (await session.scalars(select(Pet.name))).all()
            visits = await session.scalar(select(func.count(Visit.id)))
            print(f"remaining pets: {list(pets)}; visits: {visits}")
            assert list(pets) == ["Leonardo"] and visits == 2
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
        print("dropped tables")
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("DATABASE_URL"),
        help="SQLAlchemy URL (default: embedded PostgreSQL)",
    )
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        url = args.url
        if not url:
            from aurora_dsql_sqlalchemy.testing.embedded import EmbeddedPostgres

            pg = stack.enter_context(EmbeddedPostgres())
            print(f"started an embedded PostgreSQL in {pg.start_seconds:.2f}s (local mode)")
            url = pg.sqlalchemy_url("auroradsql+psycopg_async")
        asyncio.run(run(url))
    print("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
