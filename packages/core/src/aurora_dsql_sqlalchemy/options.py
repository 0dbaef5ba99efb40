"""The dialect's options: one parser for ``create_engine`` keywords and URL query.

Every option below can be given either way, with the same meaning and the
same checks::

    create_engine("auroradsql+psycopg://app@localhost/db?local_mode=translate&relax=truncate")
    create_engine("auroradsql+psycopg://app@localhost/db", local_mode="translate", relax=["truncate"])

**Precedence: a keyword wins over the URL, and the URL wins over the
default** -- for every option alike.  The dialect's own query parameters are
removed from the URL before the driver sees it.  A value that cannot be
parsed raises :class:`OptionError` (an
:class:`~sqlalchemy.exc.ArgumentError` and a ``ValueError``) naming the option, e.g.
``OptionError: iam_auth='maybe': give true or false``.

===================== ================================ ===========================================
option                 values                           meaning
===================== ================================ ===========================================
``local_mode``         ``strict`` / ``translate``       against PostgreSQL: enforce DSQL's rules, or
                                                        only translate DSQL syntax (default strict)
``relax``              rule ids, comma separated        strict mode: switch these rules off
``wait_for_jobs``      bool (default true)              ``create_all()`` waits for its index jobs
``foreign_keys``       bool (default true)              emit foreign keys in DDL
``identity_cache``     int                              ``CACHE`` of identity columns and sequences
``strict_index_keys``  bool (default false)             a DESC index key is an error, not a warning
``region``             AWS region                       region to sign IAM tokens for
``profile``            AWS profile                      credentials to sign with
``token_duration``     seconds                          IAM token lifetime
``iam_auth``           bool                             sign tokens (default: for DSQL hosts only)
===================== ================================ ===========================================

``limits`` (a :class:`~aurora_dsql_sqlalchemy.rules.Limits`), ``connect_retry`` (a
:class:`~aurora_dsql_sqlalchemy.connect_retry.ConnectRetryPolicy`) and
``aws_session`` are objects and therefore keyword-only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Final, Literal

from sqlalchemy import exc as sa_exc

from . import rules

__all__ = ["URL_OPTIONS", "DialectOptions", "LocalModeName", "OptionError"]

LocalModeName = Literal["strict", "translate"]
LOCAL_MODES: Final = ("strict", "translate")

_TRUE: Final = frozenset({"1", "true", "yes", "on", "t", "y"})
_FALSE: Final = frozenset({"0", "false", "no", "off", "f", "n"})


class OptionError(sa_exc.ArgumentError, ValueError):
    """A dialect option with a value the dialect cannot use (names the option)."""


class UnknownRuleError(OptionError, KeyError):
    """``relax=`` names a rule id that does not exist."""

    def __str__(self) -> str:  # KeyError would show the message quoted
        return str(self.args[0])


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise OptionError(f"{name}={value!r}: give true or false")


def _int(name: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise OptionError(f"{name}={value!r}: give a whole number") from None


def _seconds(name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{name}={value!r}: give a number of seconds") from None


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise OptionError(f"{name}={value!r}: give a non-empty string")
    return value.strip()


def _local_mode(name: str, value: Any) -> LocalModeName:
    if value not in LOCAL_MODES:
        raise OptionError(f"{name}={value!r}: give one of {', '.join(LOCAL_MODES)}")
    return value  # type: ignore[no-any-return]


def _rule_ids(name: str, value: Any) -> frozenset[str]:
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else value
    ids = frozenset(str(item).strip() for item in items if str(item).strip())
    for rule_id in sorted(ids):
        if rule_id not in rules.RULES:
            raise UnknownRuleError(
                f"{name}={value!r}: unknown DSQL rule {rule_id!r}; "
                f"known: {', '.join(sorted(rules.RULES))}"
            )
    return ids


_PARSERS: Final[Mapping[str, Callable[[str, Any], Any]]] = {
    "local_mode": _local_mode,
    "relax": _rule_ids,
    "wait_for_jobs": _bool,
    "foreign_keys": _bool,
    "identity_cache": _int,
    "strict_index_keys": _bool,
    "region": _text,
    "profile": _text,
    "token_duration": _seconds,
    "iam_auth": _bool,
}

URL_OPTIONS: Final = tuple(_PARSERS)
"""URL query parameters the dialect consumes (they never reach the driver)."""


@dataclass(frozen=True)
class DialectOptions:
    """The dialect's options after parsing (``None``: not given, the default applies)."""

    local_mode: LocalModeName | None = None
    relax: frozenset[str] = frozenset()
    wait_for_jobs: bool = True
    foreign_keys: bool = True
    identity_cache: int | None = None
    strict_index_keys: bool = False
    region: str | None = None
    profile: str | None = None
    token_duration: float | None = None
    iam_auth: bool | None = None
    given: frozenset[str] = field(default=frozenset(), compare=False)
    """The options given as keywords (they win over the URL)."""

    @classmethod
    def from_keywords(cls, **keywords: Any) -> DialectOptions:
        """Options from ``create_engine`` keywords (``None`` means not given)."""
        values = {
            name: _PARSERS[name](name, value)
            for name, value in keywords.items()
            if value is not None
        }
        options = cls(**values, given=frozenset(values))
        options.check()
        return options

    def with_url_query(self, query: Mapping[str, Any]) -> DialectOptions:
        """These options completed from a URL's query: a keyword given wins."""
        values = {}
        for name in URL_OPTIONS:
            if name in query and name not in self.given:
                raw = query[name]
                if isinstance(raw, tuple):  # ?relax=a&relax=b
                    raw = ",".join(raw) if name == "relax" else raw[-1]
                values[name] = _PARSERS[name](name, raw)
        if not values:
            return self
        options = replace(self, **values)
        options.check()
        return options

    @property
    def sequence_cache(self) -> int:
        return rules.IDENTITY_CACHE_DEFAULT if self.identity_cache is None else self.identity_cache

    def check(self) -> None:
        if self.identity_cache is not None and not rules.is_valid_sequence_cache(self.identity_cache):
            from .errors import DSQLUnsupportedError

            raise DSQLUnsupportedError(f"identity_cache={self.identity_cache}", "sequence-cache")

    def __repr__(self) -> str:  # only what was set, for log lines and errors
        shown = (f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.name != "given")
        return f"DialectOptions({', '.join(shown)})"
