"""The DSQL rules module: consistent data that the checker, the compiler and
``lint`` all follow -- change a fact there and they move with it."""

from __future__ import annotations

import ast
import dataclasses
import re
import string
import typing
from collections.abc import Callable
from pathlib import Path

import aurora_dsql_sqlalchemy
import pytest
from aurora_dsql_sqlalchemy import rules
from aurora_dsql_sqlalchemy.errors import DSQLUnsupportedError
from aurora_dsql_sqlalchemy.lint import lint_sql
from aurora_dsql_sqlalchemy.local.checks import check_sql
from aurora_dsql_sqlalchemy.rule_docs import README_BEGIN, README_END, markdown_table

SOURCE = Path(aurora_dsql_sqlalchemy.__file__).parent
README = Path(__file__).parents[3] / "README.md"


def test_rule_ids_are_the_checked_literal() -> None:
    assert set(typing.get_args(rules.RuleId)) == set(rules.RULES)
    for rule_id, rule in rules.RULES.items():
        assert rule.id == rule_id
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule_id), rule_id


@pytest.mark.parametrize("rule", list(rules.RULES.values()), ids=list(rules.RULES))
def test_every_rule_reads_as_a_sentence(rule: rules.Rule) -> None:
    assert re.fullmatch(r"[0-9A-Z]{5}", rule.sqlstate), rule.sqlstate
    # titles and advice are rendered from LIMITS: nothing left unformatted
    assert "{" not in rule.title + rule.advice
    text = rule.explain("Thing 'x'")
    assert text.startswith("Thing 'x'") and rule.id in text and rule.advice in text
    fields = {name: "x" for _, name, _, _ in string.Formatter().parse(rule.message) if name}
    assert "{" not in rule.server_message(**fields)


def test_unknown_rule_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="savepoint"):
        rules.rule("no-such-rule")


def test_rule_ids_used_in_code_exist() -> None:
    """Every rule id the code names as a constant exists (mypy checks the typed
    call sites through ``RuleId``; this also covers the untyped ones)."""
    used: set[str] = set()
    shapes = {"DSQLUnsupportedError": 1, "_rule_error": 0, "rule": 0, "add": 0, "Violation": 0, "refused": 0}
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            position = shapes.get(str(name))
            if position is None or len(node.args) <= position:
                continue
            arg = node.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                used.add(arg.value)
    assert {"temporary-table", "index-key-columns", "ddl-dml-mix", "savepoint", "merge"} <= used  # the scan works
    assert sorted(used - set(rules.RULES)) == []
    assert set(rules.REFUSED_FUNCTIONS.values()) <= set(rules.RULES)


@pytest.mark.parametrize(
    ("cache", "valid"),
    [(1, True), (2, False), (100, False), (65535, False), (65536, True), (10**6, True), (0, False), (-1, False)],
)
def test_sequence_cache_rule(cache: int, valid: bool) -> None:
    assert rules.is_valid_sequence_cache(cache) is valid


# -- a limit changed in one place moves every enforcement point ---------------------------


def _index(n: int) -> str:
    return f"CREATE INDEX ASYNC ix ON t ({', '.join(f'c{i}' for i in range(n))})"


def _table(n: int) -> str:
    return f"CREATE TABLE w (id int PRIMARY KEY{''.join(f', c{i} int' for i in range(n - 1))})"


LIMIT_CASES: list[tuple[str, rules.RuleId, Callable[[int], str]]] = [
    ("index_key_columns", "index-key-columns", _index),
    ("columns_per_table", "columns-per-table", _table),
]


@pytest.mark.parametrize(("limit", "rule_id", "statement"), LIMIT_CASES, ids=[c[0] for c in LIMIT_CASES])
def test_a_limit_is_read_by_the_checker_and_lint(
    limit: str, rule_id: rules.RuleId, statement: Callable[[int], str]
) -> None:
    actual = getattr(rules.LIMITS, limit)
    assert check_sql(statement(actual)) == ()
    assert [v.rule_id for v in check_sql(statement(actual + 1))] == [rule_id]
    shrunk = dataclasses.replace(rules.LIMITS, **{limit: 3})
    assert check_sql(statement(3), shrunk) == ()
    assert [v.rule_id for v in check_sql(statement(4), shrunk)] == [rule_id]
    assert [f.rule for f in lint_sql(statement(4), limits=shrunk)] == [rule_id]
    assert lint_sql(statement(3), limits=shrunk) == []


def test_indexes_per_table_limit_moves_lint() -> None:
    sql = "CREATE TABLE t (id int PRIMARY KEY, a int, b int);\n"
    sql += "CREATE INDEX ASYNC ix_a ON t (a);\nCREATE INDEX ASYNC ix_b ON t (b);\n"
    assert lint_sql(sql) == []
    shrunk = dataclasses.replace(rules.LIMITS, indexes_per_table=2)
    assert [(f.rule, f.line) for f in lint_sql(sql, limits=shrunk)] == [("indexes-per-table", 3)]


def test_catalog_limits_move_lint() -> None:
    sql = "".join(f"CREATE SCHEMA s{i};\n" for i in range(3))
    assert lint_sql(sql) == []
    shrunk = dataclasses.replace(rules.LIMITS, schemas=2)
    assert [(f.rule, f.line) for f in lint_sql(sql, limits=shrunk)] == [("schemas-per-database", 3)]


def test_dropping_a_primary_key_column_the_file_created() -> None:
    sql = "CREATE TABLE t (id int PRIMARY KEY, note text);\nALTER TABLE t DROP COLUMN note;\nALTER TABLE t DROP COLUMN id;\n"
    (finding,) = lint_sql(sql)
    assert (finding.rule, finding.line, finding.message) == ("drop-primary-key-column", 3, "cannot drop primary key column id")


def test_commit_rules_are_the_ones_fired_at_commit() -> None:
    at_commit = rules.rules_firing_at("commit")
    assert at_commit and all(r.fires_at == "commit" for r in at_commit)
    assert set(rules.rules_firing_at("statement")).isdisjoint(at_commit)


def test_occ_pattern_matches_every_known_wording() -> None:
    for message in (
        "change conflicts with another transaction (OC000)",
        "schema has been updated by another transaction (OC001)",
        "mutation conflicts with another transaction, retry as needed (OC000)",
        "schema has been updated by another transaction, please retry: (OC001)",
    ):
        assert rules.OCC_CODE_PATTERN.search(message), message
    assert not rules.OCC_CODE_PATTERN.search("OC0001 something")


def test_dsql_host_pattern() -> None:
    assert rules.DSQL_HOST_PATTERN.match("abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws")
    assert rules.DSQL_HOST_PATTERN.match("abc.dsql-fnh4.eu-west-2.on.aws")
    assert not rules.DSQL_HOST_PATTERN.match("localhost")


def test_job_ids_dsql_can_read() -> None:
    assert rules.JOB_ID_PATTERN.match("u2kfnc4wcfhvbmigrfigp3q5ie")
    assert rules.JOB_ID_PATTERN.match("6f1c1b1e-9c2f-4f60-8f0e-8f6f7d5f2a11")
    assert not rules.JOB_ID_PATTERN.match("job-42")


def test_error_carries_the_violation() -> None:
    error = DSQLUnsupportedError("Table 't' (TEMPORARY)", "temporary-table")
    assert error.rule is rules.RULES["temporary-table"]
    assert error.violation.rule_id == "temporary-table" and error.subject == "Table 't' (TEMPORARY)"
    assert str(error).startswith("Table 't' (TEMPORARY): Aurora DSQL does not support temporary tables")


def test_rules_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    from aurora_dsql_sqlalchemy.__main__ import main

    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert out == markdown_table()
    assert out.count("\n") == len(rules.RULES) + 2
    assert "| `truncate` |" in out


def _readme_table() -> str | None:
    text = README.read_text(encoding="utf-8") if README.exists() else ""
    if README_BEGIN not in text or README_END not in text:
        return None
    return text.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip("\n") + "\n"


def test_readme_rules_table_is_generated_from_rules() -> None:
    assert _readme_table() is not None, "README.md lost the rules table markers"
    assert _readme_table() == markdown_table()
