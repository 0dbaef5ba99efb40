"""The DSQL rules module is consistent data, and the code refers only to rules it holds."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import aurora_dsql_sqlalchemy
import pytest
from aurora_dsql_sqlalchemy import rules
from aurora_dsql_sqlalchemy.errors import DSQLUnsupportedError

SOURCE = Path(aurora_dsql_sqlalchemy.__file__).parent


def test_rule_ids_match_keys_and_are_kebab_case() -> None:
    for rule_id, rule in rules.RULES.items():
        assert rule.id == rule_id
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule_id), rule_id


@pytest.mark.parametrize("rule", list(rules.RULES.values()), ids=list(rules.RULES))
def test_every_rule_is_complete(rule: rules.Rule) -> None:
    assert re.fullmatch(r"[0-9A-Z]{5}", rule.sqlstate), rule.sqlstate
    assert rule.title and rule.message and rule.advice
    assert rule.fires_at in ("statement", "commit", "connect")
    assert rule.severity in ("error", "warning")
    text = rule.explain("Thing 'x'")
    assert text.startswith("Thing 'x'")
    assert rule.id in text and rule.advice in text


def test_server_message_placeholders() -> None:
    assert rules.rule("session-setting").server_message(name="statement_timeout") == (
        'setting configuration parameter "statement_timeout" not supported'
    )
    assert (
        rules.rule("ddl-dml-mix").server_message()
        == "ddl and dml are not supported in the same transaction"
    )


def test_dsql_sqlstates_and_messages() -> None:
    """The SQLSTATEs and texts live DSQL clusters answer with, not an emulator's."""
    expected = {
        "ddl-per-transaction": ("0A000", "multiple ddl statements not supported in a transaction"),
        "ddl-dml-mix": ("0A000", "ddl and dml are not supported in the same transaction"),
        "transaction-rows": ("54000", "transaction row limit exceeded"),
        "transaction-size": ("54000", "transaction size limit 10mb exceeded"),
        "transaction-age": ("54000", "transaction age limit of 300s exceeded"),
        "index-async": ("0A000", "unsupported mode. please use CREATE INDEX ASYNC."),
        "index-using": ("0A000", "USING not supported for CREATE INDEX"),
        "index-sort-order": ("0A000", "specifying sort order not supported for index keys"),
        "locking-clause": (
            "0A000",
            "locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported",
        ),
        "add-constraint": ("0A000", "unsupported ALTER TABLE ADD CONSTRAINT statement"),
        "index-key-columns": ("54011", None),
        "serial": ("42704", None),
    }
    for rule_id, (sqlstate, message) in expected.items():
        rule = rules.rule(rule_id)
        assert rule.sqlstate == sqlstate, rule_id
        if message is not None:
            assert rule.message == message, rule_id
    assert rules.rule("transaction-size").fires_at == "commit"
    assert rules.rule("transaction-age").fires_at == "commit"
    assert rules.rule("transaction-rows").fires_at == "statement"
    assert rules.rule("numeric-precision").severity == "warning"


def test_unknown_rule_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="savepoint"):
        rules.rule("no-such-rule")


def test_rule_ids_used_in_code_exist() -> None:
    """Every rule id the code names (DSQLUnsupportedError(subject, id), _rule_error(id),
    rules.rule(id)) exists in RULES."""
    used: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            position = {"DSQLUnsupportedError": 1, "_rule_error": 0, "rule": 0}.get(str(name))
            if position is None or len(node.args) <= position:
                continue
            arg = node.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                used.add(arg.value)
    assert {
        "temporary-table",
        "index-key-columns",
        "ddl-dml-mix",
        "savepoint",
    } <= used  # the scan works
    assert sorted(used - set(rules.RULES)) == []


@pytest.mark.parametrize(
    ("cache", "valid"),
    [
        (1, True),
        (2, False),
        (100, False),
        (65535, False),
        (65536, True),
        (10**6, True),
        (0, False),
        (-1, False),
    ],
)
def test_sequence_cache_rule(cache: int, valid: bool) -> None:
    assert rules.is_valid_sequence_cache(cache) is valid


def test_limits() -> None:
    limits = rules.LIMITS
    assert limits.transaction_rows == 3000
    assert limits.transaction_bytes == 10 * 1024 * 1024
    assert limits.transaction_seconds == 300
    assert limits.index_key_columns == 8
    assert limits.indexes_per_table == 24
    assert limits.columns_per_table == 255
    assert rules.IDENTITY_CACHE_DEFAULT == 65536
    assert rules.NUMERIC_DEFAULT_PRECISION == (18, 6)


def test_type_families_are_consistent() -> None:
    assert not rules.COLUMN_TYPES & rules.RUNTIME_ONLY_TYPES
    assert not rules.COLUMN_TYPES & rules.UNAVAILABLE_TYPES
    assert not rules.RUNTIME_ONLY_TYPES & rules.UNAVAILABLE_TYPES
    assert rules.NON_INDEXABLE_KEY_TYPES <= rules.COLUMN_TYPES
    assert {"json", "jsonb", "uuid", "numeric", "interval"} <= rules.COLUMN_TYPES
    assert {"array", "inet", "int4range", "tstzrange"} <= rules.RUNTIME_ONLY_TYPES


def test_session_and_transaction_facts() -> None:
    assert {"REPEATABLE READ"} == rules.ISOLATION_LEVELS
    assert {
        "statement_timeout",
        "client_min_messages",
        "role",
        "default_transaction_read_only",
    } <= (rules.REFUSED_SESSION_SETTINGS)
    assert "timezone" not in {s.lower() for s in rules.REFUSED_SESSION_SETTINGS}
    assert {"FOR UPDATE", "FOR KEY SHARE"} == rules.SUPPORTED_LOCKING_CLAUSES
    for function, rule_id in rules.REFUSED_FUNCTIONS.items():
        assert rule_id in rules.RULES, function


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


def test_error_carries_the_rule() -> None:
    error = DSQLUnsupportedError("Table 't' (TEMPORARY)", "temporary-table")
    assert error.rule is rules.RULES["temporary-table"]
    assert str(error).startswith(
        "Table 't' (TEMPORARY): Aurora DSQL does not support temporary tables"
    )
