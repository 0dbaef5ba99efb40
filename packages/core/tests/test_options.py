"""Every dialect option works the same as a create_engine keyword and in the URL.

No database: these check what the dialect makes of its options and what it
hands to the driver (the driver never sees the dialect's own options).
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.errors import DSQLUnsupportedError
from aurora_dsql_sqlalchemy.options import URL_OPTIONS, DialectOptions, OptionError
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import registry


def _driver() -> str | None:
    for name in ("psycopg", "psycopg2"):
        try:
            importlib.import_module(name)
            registry.load(f"auroradsql.{name}")
        except (ImportError, sa_exc.NoSuchModuleError):
            continue
        return name
    return None


DRIVER = _driver()
pytestmark = pytest.mark.skipif(DRIVER is None, reason="no auroradsql driver distribution installed")
LOCAL = "localhost/db"

# option -> (URL text, keyword value, what the dialect then holds)
CASES: dict[str, tuple[str, Any, Any]] = {
    "local_mode": ("translate", "translate", "translate"),
    "relax": ("truncate,temporary-table", ["truncate", "temporary-table"], {"truncate", "temporary-table"}),
    "wait_for_jobs": ("false", False, False),
    "foreign_keys": ("false", False, False),
    "identity_cache": ("65536", 65536, 65536),
    "strict_index_keys": ("true", True, True),
    "region": ("eu-west-1", "eu-west-1", "eu-west-1"),
    "profile": ("ops", "ops", "ops"),
    "token_duration": ("120", 120, 120.0),
    "iam_auth": ("false", False, False),
}


def _held(dialect: Any, option: str) -> Any:
    return {
        "relax": lambda: set(dialect.relaxed_rules),
        "identity_cache": lambda: dialect.identity_cache,
        "wait_for_jobs": lambda: dialect.wait_for_jobs and dialect.job_waiter.enabled,
    }.get(option, lambda: getattr(dialect.options, option))()


def _engine(query: str = "", **kw: Any) -> sa.Engine:
    engine = sa.create_engine(f"auroradsql+{DRIVER}://app@{LOCAL}{query}", **kw)
    engine.dialect.create_connect_args(engine.url)  # what connecting does first
    return engine


def test_the_table_covers_every_option() -> None:
    assert set(CASES) == set(URL_OPTIONS)


@pytest.mark.parametrize("option", sorted(CASES))
def test_option_in_the_url(option: str) -> None:
    text, _, held = CASES[option]
    engine = _engine(f"?{option}={text}")
    assert _held(engine.dialect, option) == held
    _, cparams = engine.dialect.create_connect_args(engine.url)
    assert option not in cparams  # never reaches the driver


@pytest.mark.parametrize("option", sorted(CASES))
def test_option_as_keyword(option: str) -> None:
    _, keyword, held = CASES[option]
    engine = _engine(**{option: keyword})
    assert _held(engine.dialect, option) == held


def test_keyword_wins_over_url_for_every_option() -> None:
    engine = _engine(
        "?local_mode=strict&foreign_keys=true&wait_for_jobs=true&relax=truncate&identity_cache=1",
        local_mode="translate",
        foreign_keys=False,
        wait_for_jobs=False,
        relax=["temporary-table"],
        identity_cache=65536,
    )
    dialect: Any = engine.dialect
    assert dialect.options.local_mode == "translate"
    assert dialect.foreign_keys is False and dialect.wait_for_jobs is False
    assert dialect.relaxed_rules == {"temporary-table"}
    assert dialect.identity_cache == 65536


def test_url_options_do_not_reach_the_driver() -> None:
    query = "&".join(f"{name}={text}" for name, (text, _, _) in CASES.items() if name != "iam_auth")
    engine = _engine(f"?{query}&application_name=x")
    _, cparams = engine.dialect.create_connect_args(engine.url)
    assert cparams["application_name"] == "x"
    assert not set(cparams) & set(URL_OPTIONS)


def test_url_foreign_keys_reach_the_compiler() -> None:
    engine = _engine("?foreign_keys=false")
    metadata = sa.MetaData()
    sa.Table("a", metadata, sa.Column("id", sa.BigInteger, primary_key=True))
    child = sa.Table(
        "b", metadata, sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("a_id", sa.ForeignKey("a.id"))
    )
    assert "REFERENCES" not in str(sa.schema.CreateTable(child).compile(dialect=engine.dialect))


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("?iam_auth=maybe", "iam_auth='maybe'"),
        ("?wait_for_jobs=sometimes", "wait_for_jobs='sometimes'"),
        ("?foreign_keys=2", "foreign_keys='2'"),
        ("?identity_cache=lots", "identity_cache='lots'"),
        ("?token_duration=soon", "token_duration='soon'"),
        ("?local_mode=loose", "local_mode='loose'"),
    ],
)
def test_a_bad_value_names_the_option(query: str, named: str) -> None:
    with pytest.raises(OptionError) as info:
        _engine(query)
    assert named in str(info.value)
    assert isinstance(info.value, sa_exc.ArgumentError) and isinstance(info.value, ValueError)


def test_a_bad_keyword_names_the_option() -> None:
    with pytest.raises(OptionError, match="strict_index_keys='perhaps'"):
        _engine(strict_index_keys="perhaps")
    with pytest.raises(KeyError, match="unknown DSQL rule 'no-such-rule'"):
        _engine("?relax=no-such-rule")


def test_identity_cache_is_checked_against_dsql_either_way() -> None:
    with pytest.raises(DSQLUnsupportedError):
        _engine(identity_cache=100)
    with pytest.raises(DSQLUnsupportedError):
        _engine("?identity_cache=100")


def test_options_parse_alone() -> None:
    options = DialectOptions.from_keywords(relax="truncate", wait_for_jobs="no")
    assert options.relax == {"truncate"} and options.wait_for_jobs is False
    completed = options.with_url_query({"relax": "savepoint", "foreign_keys": "off"})
    assert completed.relax == {"truncate"}  # the keyword wins
    assert completed.foreign_keys is False
