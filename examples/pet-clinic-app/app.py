"""The pet clinic on Aurora DSQL, or on an embedded PostgreSQL in local mode.

    python app.py                                   # embedded PostgreSQL, strict local mode
    python app.py --url "auroradsql+psycopg://admin@<id>.dsql.<region>.on.aws/postgres"
    DATABASE_URL=... python app.py

It creates the schema (ASYNC indexes, waited for), inserts owners, pets,
vets and visits, queries them back with joins, updates, deletes, and drops
the schema again, printing what it does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, selectinload

sys.path.insert(0, str(Path(__file__).parent))
from models import Base, Owner, Pet, Specialty, Vet, Visit, describe_mode


def run(url: URL | str) -> None:
    engine = create_engine(url)
    print(f"connecting to {make_url(url).render_as_string(hide_password=True)}")
    try:
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        print(f"created tables: {', '.join(sorted(Base.metadata.tables))} "
              f"(mode: {describe_mode(engine.dialect)})")

        with Session(engine) as session, session.begin():
            surgery = Specialty(name="surgery")
            dentistry = Specialty(name="dentistry")
            carter = Vet(name="James Carter", specialties=[surgery])
            leary = Vet(name="Helen Leary", specialties=[surgery, dentistry])
            george = Owner(name="George Franklin", city="Madison", telephone="6085551023")
            betty = Owner(name="Betty Davis", city="Sun Prairie", telephone="6085551749")
            leo = Pet(name="Leo", species="cat", birth_date=dt.date(2020, 9, 7), owner=george)
            basil = Pet(name="Basil", species="hamster", birth_date=dt.date(2022, 8, 6), owner=betty)
            session.add_all([carter, leary, george, betty, leo, basil])
            session.add_all([
                Visit(pet=leo, vet=carter, visit_date=dt.date(2026, 1, 4), description="rabies shot"),
                Visit(pet=leo, vet=leary, visit_date=dt.date(2026, 3, 4), description="dental check"),
                Visit(pet=basil, vet=leary, visit_date=dt.date(2026, 2, 1), description="neutered"),
            ])
        print("inserted 2 owners, 2 pets, 2 vets, 2 specialties, 3 visits")

        with Session(engine) as session:
            rows = session.execute(
                select(Owner.name, Pet.name, func.count(Visit.id))
                .join(Owner.pets)
                .join(Pet.visits)
                .group_by(Owner.name, Pet.name)
                .order_by(Owner.name)
            ).all()
            for owner, pet, visits in rows:
                print(f"  {owner} owns {pet}: {visits} visit(s)")
            assert [tuple(r) for r in rows] == [("Betty Davis", "Basil", 1), ("George Franklin", "Leo", 2)]
            vets = session.scalars(select(Vet).options(selectinload(Vet.specialties)).order_by(Vet.name)).all()
            for vet in vets:
                print(f"  vet {vet.name}: {', '.join(sorted(s.name for s in vet.specialties))}")

        with Session(engine) as session, session.begin():
            leo = session.scalars(select(Pet).where(Pet.name == "Leo")).one()
            leo.name = "Leonardo"
            print("renamed Leo to Leonardo")

        with Session(engine) as session, session.begin():
            betty = session.scalars(select(Owner).where(Owner.name == "Betty Davis")).one()
            session.delete(betty)
            print("deleted Betty Davis with her pets and their visits")

        with Session(engine) as session:
            pets = session.scalars(select(Pet.name)).all()
            visits = session.scalar(select(func.count(Visit.id)))
            print(f"remaining pets: {pets}; visits: {visits}")
            assert pets == ["Leonardo"] and visits == 2
    finally:
        Base.metadata.drop_all(engine)
        print("dropped tables")
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL"), help="SQLAlchemy URL (default: embedded PostgreSQL)")
    parser.add_argument("--driver", default="psycopg", choices=["psycopg", "psycopg2"])
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        url = args.url
        if not url:
            from aurora_dsql_sqlalchemy.testing.embedded import EmbeddedPostgres

            pg = stack.enter_context(EmbeddedPostgres())
            print(f"started an embedded PostgreSQL in {pg.start_seconds:.2f}s (local mode)")
            url = pg.sqlalchemy_url(f"auroradsql+{args.driver}")
        run(url)
    print("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
