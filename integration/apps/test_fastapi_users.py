"""fastapi-users' SQLAlchemy models, whose ``GUID`` is native ``uuid`` only
when ``dialect.name == "postgresql"`` (``CHAR(36)`` otherwise).

fastapi-users-db-sqlalchemy pins SQLAlchemy < 2.1: hatch installs it in the
SQLAlchemy 2.0 environments only, and this module runs there.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.orm import DeclarativeBase, Session

from .conftest import column_types

if sa.__version__ >= "2.1":
    pytest.skip("fastapi-users-db-sqlalchemy requires SQLAlchemy < 2.1", allow_module_level=True)

from fastapi_users_db_sqlalchemy import (
    SQLAlchemyBaseOAuthAccountTableUUID,
    SQLAlchemyBaseUserTableUUID,
)


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


class OAuthAccount(SQLAlchemyBaseOAuthAccountTableUUID, Base):
    pass


def accounts(url: URL) -> dict:
    engine = sa.create_engine(url)
    try:
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            ada = User(email="ada@example.org", hashed_password="x")
            session.add(ada)
            session.flush()
            session.add(OAuthAccount(user_id=ada.id, oauth_name="github", access_token="t", account_id="1",
                                     account_email="ada@example.org"))
            session.commit()
            found = session.scalars(sa.select(User).where(User.email == "ada@example.org")).one()
            linked = session.scalars(sa.select(OAuthAccount).where(OAuthAccount.user_id == found.id)).one()
            return {
                "user": (type(found.id).__name__, found.is_active, found.is_superuser),
                "linked": linked.oauth_name,
                "types": (column_types(url, "user")["id"], column_types(url, "oauth_account")["user_id"]),
            }
    finally:
        engine.dispose()


def test_uuid_users_through_the_postgresql_name(run_on):
    expected = run_on("postgresql", accounts)
    assert expected["types"] == ("uuid", "uuid")
    assert run_on("postgresql+auroradsql", accounts) == expected


def test_the_auroradsql_name_falls_back_to_char36(run_on):
    # what issue 15.9 reported: the same users, but keys stored as text
    observed = run_on("auroradsql", accounts)
    expected = run_on("postgresql", accounts)
    # CHAR(36); psycopg 3's dialect adapts it to VARCHAR(36)
    assert observed["types"] in {("character", "character"), ("character varying", "character varying")}
    assert observed["user"] == expected["user"] and observed["linked"] == expected["linked"]
