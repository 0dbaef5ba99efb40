"""Hostile names and values never break or inject into the emitted DDL (property test).

Table, column, index and constraint names (including those given as strings in
``auroradsql_include=[...]``) and enum values are drawn from quotes,
semicolons, percent signs, reserved words, unicode and mixed case.  Every
statement the dialect emits must parse with PostgreSQL's own parser (pglast,
after removing DSQL's ``ASYNC``, which PostgreSQL lacks) as *exactly one*
statement, and every name and value must come back unchanged.  The
integration suite executes the same DDL on PostgreSQL (integration/test_ddl.py).
"""

from __future__ import annotations

import re
from typing import Any

import pglast
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.schema import AddConstraint, CreateIndex, CreateTable, DropIndex, DropTable

RESERVED = [
    "select",
    "table",
    "user",
    "order",
    "group",
    "from",
    "where",
    "index",
    "column",
    "check",
    "primary",
    "default",
    "all",
    "drop",
    "async",
    "include",
    "nulls",
    "Select",
    "END",
]
NASTY = [
    '"; DROP TABLE x; --',
    "a'); DROP TABLE y; --",
    "x%s",
    "%(id)s",
    "100%",
    "MixedCase",
    "ünïcødé",
    "日本語",
    "emoji😀",
    "a.b",
    " ",
    "\\",
    "$1",
    "ASYNC",
]
_SPECIAL = st.sampled_from(list("\"';%$ -().,\\`*/:?{}[]"))
_CHAR = st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn"), blacklist_characters="\x00")


def _fits(name: str) -> bool:
    # PostgreSQL truncates identifiers to 63 bytes; stay well under it
    return 0 < len(name.encode()) <= 60


hostile_names = st.one_of(
    st.sampled_from(RESERVED),
    st.sampled_from(NASTY),
    st.text(alphabet=st.one_of(_SPECIAL, _CHAR), min_size=1, max_size=14),
).filter(_fits)

hostile_values = st.text(alphabet=st.one_of(_SPECIAL, _CHAR), min_size=0, max_size=12)


def build(names: list[str], values: list[str]) -> dict[str, Any]:
    """A schema whose every name is hostile: returns the objects by role."""
    table_name, id_name, a_name, b_name, index_name, check_name, child_name, fk_name = names
    metadata = sa.MetaData()
    table = sa.Table(
        table_name,
        metadata,
        sa.Column(id_name, sa.Integer, primary_key=True),
        sa.Column(a_name, sa.String(40)),
        sa.Column(b_name, sa.Enum(*values, name="e")),
    )
    index = sa.Index(
        index_name,
        table.c[a_name].nulls_first(),
        unique=True,
        auroradsql_include=[b_name],  # a string option: quoted like a column name
        auroradsql_nulls_not_distinct=True,
        auroradsql_where=table.c[a_name] != values[0],
    )
    check = sa.CheckConstraint(table.c[id_name] > 0, name=check_name)
    table.append_constraint(check)
    child = sa.Table(
        child_name,
        metadata,
        sa.Column(id_name, sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(a_name, sa.Integer, sa.ForeignKey(table.c[id_name], name=fk_name)),
    )
    fk = next(iter(child.foreign_key_constraints))
    return {
        "metadata": metadata,
        "table": table,
        "index": index,
        "check": check,
        "child": child,
        "fk": fk,
    }


def driver_text(compiled: Any) -> str:
    """The statement as the server receives it: the dialect's paramstyle
    doubles "%" and the driver (always given a parameter set) undoes it."""
    return str(compiled).replace("%%", "%")


def without_async(sql: str) -> str:
    """PostgreSQL lacks DSQL's ASYNC: remove the one keyword after CREATE [UNIQUE] INDEX / ALTER TABLE."""
    return re.sub(
        r"^(\s*(?:CREATE\s+(?:UNIQUE\s+)?INDEX|ALTER\s+TABLE))\s+ASYNC\b", r"\1", sql, count=1
    )


def parse_one(sql: str) -> Any:
    statements = pglast.parse_sql(without_async(sql))
    assert len(statements) == 1, sql  # nothing injected
    return statements[0].stmt


def constants(node: Any) -> list[str]:
    """Every string constant in a pglast AST (as dicts)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("@") == "A_Const" and isinstance(value.get("val"), dict):
                sval = value["val"].get("sval")
                if sval is not None:
                    found.append(sval)
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(node(skip_none=True))
    return found


def compile_all(objs: dict[str, Any], dialect: Any) -> dict[str, Any]:
    return {
        "create_table": CreateTable(objs["table"]).compile(dialect=dialect),
        "create_child": CreateTable(objs["child"]).compile(dialect=dialect),
        "create_index": CreateIndex(objs["index"]).compile(dialect=dialect),
        "add_check": AddConstraint(objs["check"]).compile(dialect=dialect),
        "add_fk": AddConstraint(objs["fk"]).compile(dialect=dialect),
        "drop_index": DropIndex(objs["index"]).compile(dialect=dialect),
        "drop_table": DropTable(objs["table"]).compile(dialect=dialect),
    }


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    names=st.lists(hostile_names, min_size=8, max_size=8, unique=True),
    values=st.lists(hostile_values, min_size=1, max_size=4, unique=True),
)
def test_hostile_names_round_trip(dialect: Any, names: list[str], values: list[str]) -> None:
    table_name, id_name, a_name, b_name, index_name, check_name, child_name, fk_name = names
    objs = build(names, values)
    compiled = compile_all(objs, dialect)

    create = parse_one(driver_text(compiled["create_table"]))
    assert type(create).__name__ == "CreateStmt"
    assert create.relation.relname == table_name
    column_defs = [e for e in create.tableElts if type(e).__name__ == "ColumnDef"]
    assert [c.colname for c in column_defs] == [id_name, a_name, b_name]
    # the enum's CHECK lists exactly the values, unchanged
    assert sorted(set(constants(create))) == sorted(set(values))

    child = parse_one(driver_text(compiled["create_child"]))
    assert child.relation.relname == child_name
    (fk,) = [
        e
        for e in child.tableElts
        if type(e).__name__ == "Constraint" and e.contype.name == "CONSTR_FOREIGN"
    ]
    assert fk.conname == fk_name and fk.pktable.relname == table_name
    assert [s.sval for s in fk.pk_attrs] == [id_name]

    index = parse_one(driver_text(compiled["create_index"]))
    assert type(index).__name__ == "IndexStmt"
    assert driver_text(compiled["create_index"]).startswith("CREATE UNIQUE INDEX ASYNC ")
    assert index.idxname == index_name
    assert index.relation.relname == table_name
    assert [p.name for p in index.indexParams] == [a_name]
    assert [p.name for p in index.indexIncludingParams] == [b_name]
    assert index.nulls_not_distinct is True
    assert index.accessMethod == "btree"  # pglast's default: no USING was written
    assert constants(index) == [values[0]]

    for key in ("add_check", "add_fk"):
        alter = parse_one(driver_text(compiled[key]))
        assert type(alter).__name__ == "AlterTableStmt"
        (command,) = alter.cmds
        assert command.def_.skip_validation is True  # NOT VALID
        expected = check_name if key == "add_check" else fk_name
        assert command.def_.conname == expected
        (validate,) = compiled[key].followup_statements
        validate_stmt = parse_one(validate.replace("%%", "%"))
        assert validate.startswith("ALTER TABLE ASYNC ")
        (validate_cmd,) = validate_stmt.cmds
        assert validate_cmd.name == expected

    assert parse_one(driver_text(compiled["drop_index"])).objects[0][-1].sval == index_name
    assert parse_one(driver_text(compiled["drop_table"])).objects[0][-1].sval == table_name


@pytest.mark.parametrize("name", NASTY + RESERVED)
def test_each_nasty_name_as_include_string(dialect: Any, name: str) -> None:
    t = sa.Table("t", sa.MetaData(), sa.Column("k", sa.Integer), sa.Column(name, sa.Integer))
    text = driver_text(
        CreateIndex(sa.Index("ix", t.c.k, auroradsql_include=[name])).compile(dialect=dialect)
    )
    index = parse_one(text)
    assert [p.name for p in index.indexIncludingParams] == [name]


@pytest.mark.parametrize("word", ["collation", "concurrently", "lateral", "system_user", "tablesample"])
def test_postgresql_reserved_words_missing_from_sqlalchemy_are_quoted(dialect: Any, word: str) -> None:
    table = sa.Table(word, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column(word, sa.Text))
    ddl = str(CreateTable(table).compile(dialect=dialect))
    assert f'"{word}" TEXT' in ddl
    assert len(pglast.parse_sql(ddl)) == 1
