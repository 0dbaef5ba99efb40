"""Reflection post-processing, fed the shapes SQLAlchemy's PostgreSQL
reflection produces from DSQL's catalog (no database).

DSQL's catalog differs from PostgreSQL's in three ways the dialect hides:
its index access method is ``btree_index``, the primary key's index lists
every other column as INCLUDE, and the ``sys`` schema is DSQL's own.  The
dicts below are what ``PGDialect.get_multi_*`` return for such a catalog
(integration/test_reflection.py makes PostgreSQL's catalog look like that
and runs the real queries).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from aurora_dsql_sqlalchemy.base import AuroraDSQLDialect
from aurora_dsql_sqlalchemy.reflection import (
    declared_options,
    dsql_index,
    dsql_pk_constraint,
    dsql_unique_constraint,
    is_primary_key_index,
)
from sqlalchemy import Column, Index, MetaData, Numeric, String, Table, UniqueConstraint
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine.reflection import ObjectKind, ObjectScope
from sqlalchemy.schema import CreateIndex

INDEX_OPTIONS = declared_options(AuroraDSQLDialect, Index)
UNIQUE_OPTIONS = declared_options(AuroraDSQLDialect, UniqueConstraint)

# -- what PGDialect reflects from DSQL's catalog ---------------------------------------

DSQL_PK_INDEX: dict[str, Any] = {
    "name": "account_pkey",
    "unique": True,
    "column_names": ["id"],
    "duplicates_constraint": "account_pkey",
    "include_columns": ["name", "email", "balance", "doc"],
    "dialect_options": {
        "postgresql_using": "btree_index",
        "postgresql_include": ["name", "email", "balance", "doc"],
    },
}

DSQL_USER_INDEX: dict[str, Any] = {
    "name": "ix_account_email",
    "unique": True,
    "column_names": ["email"],
    "include_columns": ["name"],
    "dialect_options": {
        "postgresql_using": "btree_index",
        "postgresql_where": "(balance > 0)",
        "postgresql_include": ["name"],
        "postgresql_nulls_not_distinct": True,
    },
}

DSQL_EXPRESSION_INDEX: dict[str, Any] = {
    "name": "ix_account_lower_name",
    "unique": False,
    "column_names": [None],
    "expressions": ["lower((name)::text)"],
    "dialect_options": {"postgresql_using": "btree_index", "postgresql_include": []},
}

DSQL_PK: dict[str, Any] = {
    "constrained_columns": ["id"],
    "name": "account_pkey",
    "comment": None,
    "dialect_options": {"postgresql_include": ["name", "email", "balance", "doc"]},
}

DSQL_UNIQUE: dict[str, Any] = {
    "column_names": ["name", "email"],
    "name": "uq_account_name_email",
    "comment": None,
    "dialect_options": {
        "postgresql_include": [],
        "postgresql_nulls_not_distinct": False,
    },
}


def _index(index: dict[str, Any]) -> dict[str, Any]:
    return dsql_index(index, declared=INDEX_OPTIONS)


# -- declared options ----------------------------------------------------------------------


def test_the_dialect_declares_the_index_options_it_reflects() -> None:
    assert {"include", "where", "nulls_not_distinct"} == INDEX_OPTIONS
    assert "nulls_not_distinct" in UNIQUE_OPTIONS


# -- indexes ---------------------------------------------------------------------------------


def test_user_index_reports_auroradsql_options_and_no_access_method() -> None:
    assert _index(DSQL_USER_INDEX) == {
        "name": "ix_account_email",
        "unique": True,
        "column_names": ["email"],
        "include_columns": ["name"],
        "dialect_options": {
            "auroradsql_where": "(balance > 0)",
            "auroradsql_include": ["name"],
            "auroradsql_nulls_not_distinct": True,
        },
    }


def test_options_are_reported_under_one_spelling_only() -> None:
    options = _index(DSQL_USER_INDEX)["dialect_options"]
    assert not [key for key in options if key.startswith("postgresql_")]


def test_expression_index_keeps_its_expressions_and_empty_include() -> None:
    # SQLAlchemy's own suite expects "<dialect>_include": [] for a plain index
    assert _index(DSQL_EXPRESSION_INDEX) == {
        "name": "ix_account_lower_name",
        "unique": False,
        "column_names": [None],
        "expressions": ["lower((name)::text)"],
        "dialect_options": {"auroradsql_include": []},
    }


@pytest.mark.parametrize("method", ["btree_index", "btree", "BTREE_INDEX"])
def test_btree_access_methods_are_not_reported(method: str) -> None:
    index = {
        "name": "ix",
        "unique": False,
        "column_names": ["a"],
        "dialect_options": {"postgresql_using": method},
    }
    assert _index(index) == {"name": "ix", "unique": False, "column_names": ["a"]}


def test_other_postgresql_options_keep_their_key() -> None:
    # e.g. a GIN index made with raw SQL on PostgreSQL in local mode, or
    # SQLAlchemy 2.1's flag for an index whose ASYNC build has not finished
    options = {
        "postgresql_using": "gin",
        "postgresql_ops": {"a": "jsonb_path_ops"},
        "postgresql_with": {"fillfactor": "70"},
        "postgresql_invalid": True,
    }
    index = {
        "name": "ix",
        "unique": False,
        "column_names": ["a"],
        "dialect_options": options,
    }
    assert _index(index)["dialect_options"] == options


def test_the_reflected_dict_is_not_modified() -> None:
    original = copy.deepcopy(DSQL_USER_INDEX)
    _index(DSQL_USER_INDEX)
    assert original == DSQL_USER_INDEX


def test_prefix_follows_the_dialect_name() -> None:
    index = dsql_index(DSQL_USER_INDEX, prefix="other_", declared={"where"})
    assert index["dialect_options"] == {
        "other_where": "(balance > 0)",
        "postgresql_include": ["name"],
        "postgresql_nulls_not_distinct": True,
    }


# -- the primary key and its index ------------------------------------------------------------


def test_primary_key_index_is_recognised_by_the_constraint_name() -> None:
    assert is_primary_key_index(DSQL_PK_INDEX, "account_pkey")
    assert not is_primary_key_index(DSQL_USER_INDEX, "account_pkey")
    assert not is_primary_key_index(DSQL_PK_INDEX, None)


def test_primary_key_reports_no_include_columns() -> None:
    assert dsql_pk_constraint(DSQL_PK) == {
        "constrained_columns": ["id"],
        "name": "account_pkey",
        "comment": None,
    }


def test_primary_key_keeps_other_options() -> None:
    pk = {**DSQL_PK, "dialect_options": {"postgresql_include": ["a"], "x_other": 1}}
    assert dsql_pk_constraint(pk)["dialect_options"] == {"x_other": 1}


def test_table_without_primary_key() -> None:
    assert dsql_pk_constraint({"constrained_columns": [], "name": None}) == {
        "constrained_columns": [],
        "name": None,
    }


# -- unique constraints ------------------------------------------------------------------------


def test_unique_constraint_defaults_are_not_reported() -> None:
    assert dsql_unique_constraint(DSQL_UNIQUE, declared=UNIQUE_OPTIONS) == {
        "column_names": ["name", "email"],
        "name": "uq_account_name_email",
        "comment": None,
    }


def test_unique_constraint_nulls_not_distinct_and_include() -> None:
    uc = {
        **DSQL_UNIQUE,
        "dialect_options": {
            "postgresql_include": ["doc"],
            "postgresql_nulls_not_distinct": True,
        },
    }
    include_key = ("auroradsql_" if "include" in UNIQUE_OPTIONS else "postgresql_") + "include"
    assert dsql_unique_constraint(uc, declared=UNIQUE_OPTIONS)["dialect_options"] == {
        "auroradsql_nulls_not_distinct": True,
        include_key: ["doc"],
    }


# -- the dialect, over rows shaped like DSQL's ---------------------------------------------------

KEY = (None, "account")
OTHER = (None, "ledger")


class _DSQLCatalogRows(PGDialect):
    """What PGDialect's get_multi_* methods yield for a DSQL catalog whose
    primary-key index is not flagged ``indisprimary``."""

    calls: list[str]

    def get_schema_names(self, connection: Any, **kw: Any) -> list[str]:
        return ["information_schema", "public", "sys"]

    def get_multi_indexes(self, *args: Any, **kw: Any) -> Any:
        self.calls.append("indexes")
        return {
            KEY: [copy.deepcopy(DSQL_PK_INDEX), copy.deepcopy(DSQL_USER_INDEX)],
            OTHER: [],
        }.items()

    def get_multi_pk_constraint(self, *args: Any, **kw: Any) -> Any:
        self.calls.append("pk")
        return iter(
            [
                (KEY, copy.deepcopy(DSQL_PK)),
                (OTHER, {"constrained_columns": [], "name": None}),
            ]
        )

    def get_multi_unique_constraints(self, *args: Any, **kw: Any) -> Any:
        return {KEY: [copy.deepcopy(DSQL_UNIQUE)], OTHER: []}.items()


class _Dialect(AuroraDSQLDialect, _DSQLCatalogRows):
    """The dialect's own overrides, above catalog rows shaped like DSQL's."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = []


def _multi(method: Any) -> dict[Any, Any]:
    return dict(
        method(None, schema=None, filter_names=None, scope=ObjectScope.ANY, kind=ObjectKind.ANY)
    )


def test_mixin_drops_the_primary_key_index_and_renames_options() -> None:
    dialect = _Dialect()
    indexes = _multi(dialect.get_multi_indexes)
    assert [index["name"] for index in indexes[KEY]] == ["ix_account_email"]
    assert indexes[KEY][0]["dialect_options"] == _index(DSQL_USER_INDEX)["dialect_options"]
    assert indexes[OTHER] == []
    assert "account_pkey" not in repr(indexes)  # not even its INCLUDE list
    assert dialect.calls == ["indexes", "pk"]


def test_mixin_reports_the_primary_key_without_include() -> None:
    pks = _multi(_Dialect().get_multi_pk_constraint)
    assert pks[KEY] == {
        "constrained_columns": ["id"],
        "name": "account_pkey",
        "comment": None,
    }
    assert pks[OTHER] == {"constrained_columns": [], "name": None}


def test_mixin_unique_constraints() -> None:
    uniques = _multi(_Dialect().get_multi_unique_constraints)
    assert uniques[KEY] == [
        {
            "column_names": ["name", "email"],
            "name": "uq_account_name_email",
            "comment": None,
        }
    ]


def test_mixin_skips_the_primary_key_lookup_without_unique_indexes() -> None:
    class NoUnique(_Dialect):
        def get_multi_indexes(self, *args: Any, **kw: Any) -> Any:
            self.calls.append("indexes")
            return [(KEY, [copy.deepcopy(DSQL_EXPRESSION_INDEX)])]

    dialect = NoUnique()
    assert [ix["name"] for ix in _multi(dialect.get_multi_indexes)[KEY]] == [
        "ix_account_lower_name"
    ]
    assert dialect.calls == ["indexes"]


def test_sys_schema_is_not_listed() -> None:
    assert _Dialect().get_schema_names(None) == ["information_schema", "public"]


# -- the catalog queries -------------------------------------------------------------------------


@pytest.mark.parametrize("schema", [None, "public", "sys"])
def test_table_queries_exclude_the_sys_schema(
    dialect: AuroraDSQLDialect, schema: str | None
) -> None:
    query = dialect._table_oids_query(schema, False, ObjectScope.ANY, ObjectKind.TABLE)
    compiled = query.compile(dialect=dialect)
    assert "pg_namespace.nspname != %(nspname_" in str(compiled)
    assert "sys" in compiled.params.values()


# -- reflected indexes compile back -----------------------------------------------------------------


def _account() -> Table:
    return Table(
        "account",
        MetaData(),
        Column("id", String(36), primary_key=True),
        Column("name", String(50)),
        Column("email", String(100)),
        Column("balance", Numeric(12, 2)),
    )


def test_index_built_from_reflection_compiles_to_create_index_async(
    dialect: AuroraDSQLDialect,
) -> None:
    table = _account()
    reflected = _index(DSQL_USER_INDEX)
    index = Index(
        reflected["name"],
        *(table.c[name] for name in reflected["column_names"]),
        unique=reflected["unique"],
        **reflected["dialect_options"],
    )
    assert str(CreateIndex(index).compile(dialect=dialect)) == (
        "CREATE UNIQUE INDEX ASYNC ix_account_email ON account (email) "
        "INCLUDE (name) NULLS NOT DISTINCT WHERE (balance > 0)"
    )


@pytest.mark.parametrize("spelling", ["auroradsql", "postgresql"])
def test_model_index_in_either_spelling_compiles_like_the_reflected_one(
    dialect: AuroraDSQLDialect, spelling: str
) -> None:
    table = _account()
    options: dict[str, Any] = {
        f"{spelling}_include": ["name"],
        f"{spelling}_nulls_not_distinct": True,
        f"{spelling}_where": table.c.balance > 0,
    }
    model = Index("ix_account_email", table.c.email, unique=True, **options)
    assert str(CreateIndex(model).compile(dialect=dialect)) == (
        "CREATE UNIQUE INDEX ASYNC ix_account_email ON account (email) "
        "INCLUDE (name) NULLS NOT DISTINCT WHERE balance > 0"
    )
