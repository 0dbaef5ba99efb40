"""Statement compilation for Aurora DSQL: row locks (no database).

DSQL takes ``FOR UPDATE`` and ``FOR KEY SHARE``; ``FOR SHARE`` and ``FOR NO
KEY UPDATE`` are refused at compile time, naming the rule and the alternative.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.errors import DSQLUnsupportedError
from sqlalchemy import exc as sa_exc
from sqlalchemy import orm

metadata = sa.MetaData()
accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("balance", sa.Numeric(12, 2)),
)


class Base(orm.DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "orm_accounts"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)


def sql(element: object, dialect: Any) -> str:
    return " ".join(str(element.compile(dialect=dialect)).split())  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kw", "clause"),
    [
        ({}, "FOR UPDATE"),
        ({"nowait": True}, "FOR UPDATE NOWAIT"),
        ({"skip_locked": True}, "FOR UPDATE SKIP LOCKED"),
        ({"read": True, "key_share": True}, "FOR KEY SHARE"),
        ({"read": True, "key_share": True, "nowait": True}, "FOR KEY SHARE NOWAIT"),
    ],
)
def test_supported_row_locks(dialect: Any, kw: dict[str, Any], clause: str) -> None:
    stmt = sa.select(accounts.c.id).where(accounts.c.id == 1).with_for_update(**kw)
    assert sql(stmt, dialect) == (
        f"SELECT accounts.id FROM accounts WHERE accounts.id = %(id_1)s {clause}"
    )


def test_for_update_of(dialect: Any) -> None:
    stmt = sa.select(accounts.c.id).with_for_update(of=accounts)
    assert sql(stmt, dialect).endswith("FOR UPDATE OF accounts")


@pytest.mark.parametrize(
    ("kw", "clause"),
    [({"read": True}, "FOR SHARE"), ({"key_share": True}, "FOR NO KEY UPDATE")],
)
def test_refused_row_locks(dialect: Any, kw: dict[str, Any], clause: str) -> None:
    stmt = sa.select(accounts.c.id).with_for_update(**kw)
    with pytest.raises(DSQLUnsupportedError) as info:
        stmt.compile(dialect=dialect)
    error = info.value
    assert isinstance(error, sa_exc.CompileError)
    assert error.rule.id == "locking-clause"
    message = str(error)
    assert clause in message  # the construct
    assert "rule locking-clause" in message  # the rule
    assert "with_for_update()" in message and "FOR KEY SHARE" in message  # the alternative


def test_orm_row_locks(dialect: Any) -> None:
    stmt = sa.select(Account).with_for_update()
    assert sql(stmt, dialect).endswith("FOR UPDATE")
    with pytest.raises(DSQLUnsupportedError):
        sa.select(Account).with_for_update(read=True).compile(dialect=dialect)


def test_plain_select_unchanged(dialect: Any) -> None:
    stmt = sa.select(accounts).where(accounts.c.balance > 0).order_by(accounts.c.id.desc()).limit(5)
    assert sql(stmt, dialect) == (
        "SELECT accounts.id, accounts.balance FROM accounts WHERE accounts.balance > %(balance_1)s "
        "ORDER BY accounts.id DESC LIMIT %(param_1)s"
    )


@pytest.mark.parametrize("kw", [{"read": True}, {"key_share": True}])
def test_compiler_and_checker_agree(dialect: Any, kw: dict[str, Any]) -> None:
    """What the compiler refuses is what strict mode refuses in PostgreSQL's SQL for it."""
    from aurora_dsql_sqlalchemy.local.checks import check_sql
    from sqlalchemy.dialects import postgresql

    stmt = sa.select(accounts.c.id).with_for_update(**kw)
    with pytest.raises(DSQLUnsupportedError) as info:
        stmt.compile(dialect=dialect)
    pg_sql = str(stmt.compile(dialect=postgresql.dialect()))
    assert [v.rule_id for v in check_sql(pg_sql)] == [info.value.violation.rule_id]
