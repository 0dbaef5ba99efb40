"""Preparing SQL text for PostgreSQL's parser, keeping every offset.

Three things are done before parsing, each replacing characters one for one
so that locations stay exact:

* DSQL-only syntax is accepted: ``CREATE [UNIQUE] INDEX ASYNC`` and
  ``ALTER TABLE ASYNC ... VALIDATE CONSTRAINT`` (the word ``ASYNC`` is blanked
  out, and remembered: a ``CREATE INDEX`` without it breaks ``index-async``).
* Driver placeholders (``%s``, ``%(name)s``, psycopg's ``%b``/``%t``, and ``%%``
  for a literal percent) are replaced by a parameter reference.
* For ``.sql`` files, psql meta-commands (``\\set ON_ERROR_STOP on``) are blanked.

When the whole text does not parse, :func:`prepare` splits it into statements
with PostgreSQL's scanner and parses each alone, so one typo does not hide the
rest of a file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pglast import parser as _pg

__all__ = ["Prepared", "RawStatement", "Unparsed", "prepare"]

_PLACEHOLDER = re.compile(r"%%|%[sbt]|%\([^()%]*\)[sbt]")
_ASYNC_WORD = re.compile(r"async", re.IGNORECASE)
_META_COMMAND = re.compile(r"^[ \t]*\\[^\n]*", re.MULTILINE)


@dataclass(frozen=True)
class RawStatement:
    """One parsed statement: its tree and where it is in the text (UTF-8 bytes)."""

    node: dict[str, Any]
    start: int
    length: int
    is_async: bool


@dataclass(frozen=True)
class Unparsed:
    """A statement PostgreSQL's parser rejects."""

    start: int
    length: int
    error: str


@dataclass(frozen=True)
class Prepared:
    data: bytes
    """The prepared text, UTF-8 encoded (parse-tree locations count these bytes)."""
    statements: tuple[RawStatement, ...]
    unparsed: tuple[Unparsed, ...] = ()

    def line_of(self, start: int, length: int) -> int:
        """1-based line of the first token of the statement at *start*."""
        chunk = self.data[start : start + length]
        first = start + len(chunk) - len(chunk.lstrip())
        return self.data.count(b"\n", 0, first) + 1


def _fill(fill: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        token = match.group()
        if token == "%%":
            return "% "
        return fill + " " * (len(token) - len(fill))

    return replace


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group())


def prepare(sql: str, placeholders: bool, *, meta_commands: bool = False, split: bool = False) -> Prepared | None:
    """The parsed statements of *sql* (``None``: nothing parses and *split* is off).

    ``split=True`` parses statement by statement when the whole text fails,
    and reports the statements that do not parse.
    """
    if meta_commands and "\\" in sql:
        sql = _META_COMMAND.sub(_blank, sql)
    candidates = [sql]
    if placeholders and "%" in sql:
        # A parameter reference parses wherever a value can go; where it can't
        # (e.g. ``SET x = %s``), a literal does.
        candidates = [_PLACEHOLDER.sub(_fill("$1"), sql), _PLACEHOLDER.sub(_fill("0"), sql)]
    for text in candidates:
        async_offsets: list[int] = []
        if _ASYNC_WORD.search(text):
            text, async_offsets = _remove_async(text)
        try:
            parsed = json.loads(_pg.parse_sql_json(text))
        except _pg.ParseError:
            continue
        data = text.encode("utf-8")
        return Prepared(data, tuple(_statements(parsed.get("stmts", []), len(data), async_offsets)))
    if not split:
        return None
    return _prepare_each(candidates[0])


def _statements(stmts: list[dict[str, Any]], size: int, async_offsets: list[int], base: int = 0) -> list[RawStatement]:
    found = []
    for raw in stmts:
        start = raw.get("stmt_location", 0)
        length = raw.get("stmt_len", 0) or size - start
        is_async = any(base + start <= o < base + start + length for o in async_offsets)
        found.append(RawStatement(raw["stmt"], base + start, length, is_async))
    return found


def _prepare_each(text: str) -> Prepared:
    """Parse the statements of *text* one by one (split by the scanner at ``;``)."""
    async_offsets: list[int] = []
    if _ASYNC_WORD.search(text):
        text, async_offsets = _remove_async(text)
    data = text.encode("utf-8")
    statements: list[RawStatement] = []
    unparsed: list[Unparsed] = []
    for start, end in _spans(text):
        chunk = text[start:end]
        if not chunk.strip():
            continue
        base = len(text[:start].encode("utf-8"))
        size = len(chunk.encode("utf-8"))
        try:
            parsed = json.loads(_pg.parse_sql_json(chunk))
        except _pg.ParseError as error:
            unparsed.append(Unparsed(base, size, str(error)))
            continue
        statements.extend(_statements(parsed.get("stmts", []), size, async_offsets, base))
    return Prepared(data, tuple(statements), tuple(unparsed))


def _spans(text: str) -> list[tuple[int, int]]:
    """Character ranges of the statements of *text*, split at the scanner's ``;``."""
    try:
        tokens = _pg.scan(text)
    except _pg.ParseError:
        return [(0, len(text))]
    spans, start = [], 0
    for token in tokens:
        if token.name == "ASCII_59":
            spans.append((start, token.start))
            start = token.end + 1
    spans.append((start, len(text)))
    return spans


def _remove_async(text: str) -> tuple[str, list[int]]:
    """Blank out DSQL's ``ASYNC`` in ``CREATE [UNIQUE] INDEX ASYNC`` / ``ALTER TABLE ASYNC``."""
    try:
        tokens = _pg.scan(text)
    except _pg.ParseError:
        return text, []
    words = [(t.name, text[t.start : t.end + 1].lower(), t.start) for t in tokens]
    chars = list(text)
    removed: list[int] = []
    statement_start = True
    for i, (name, _, _) in enumerate(words):
        if name == "ASCII_59":
            statement_start = True
            continue
        if not statement_start:
            continue
        statement_start = False
        kinds = [w[0] for w in words[i : i + 4]]
        if kinds[:2] == ["CREATE", "INDEX"]:
            at = i + 2
        elif kinds[:3] == ["CREATE", "UNIQUE", "INDEX"]:
            at = i + 3
        elif kinds[:2] == ["ALTER", "TABLE"]:
            at = i + 2
        else:
            continue
        if at < len(words) and words[at][0] == "IDENT" and words[at][1] == "async":
            offset = words[at][2]
            chars[offset : offset + 5] = " " * 5
            removed.append(offset)
    if not removed:
        return text, []
    blanked = "".join(chars)
    # scan() counts characters; the parser's locations count UTF-8 bytes.
    return blanked, [len(text[:o].encode("utf-8")) for o in removed]
