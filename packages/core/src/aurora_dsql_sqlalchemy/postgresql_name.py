"""The Aurora DSQL dialect under PostgreSQL's name: ``postgresql+auroradsql://``.

Some libraries choose their SQL by the dialect's name: advanced-alchemy's
``GUID``, sqlalchemy-utils' ``UUIDType`` and fastapi-users' ``GUID`` compile
to a native ``uuid`` only when ``dialect.name == "postgresql"`` (and to
``BINARY(16)``, a type neither PostgreSQL nor DSQL has, or ``CHAR(32)``
otherwise); an experiment tracker accepts only URL schemes it knows.  Such
code works unchanged with these URLs, which SQLAlchemy resolves through the
distributions' entry points::

    postgresql+auroradsql://admin@<cluster>.dsql.<region>.on.aws/postgres
    postgresql+auroradsql_psycopg://...         # a driver named explicitly
    postgresql+auroradsql_psycopg_async://...   # (create_async_engine takes either)
    postgresql+auroradsql_psycopg2://...

``postgresql+auroradsql`` uses the first driver installed (psycopg 3, then
psycopg2), as ``auroradsql://`` does.  Prefer it where a library parses the
URL itself: an underscore is not allowed in a URL scheme, so
``urllib.parse`` reads no scheme at all from ``postgresql+auroradsql_psycopg``.

The dialect is the ``auroradsql+<driver>`` dialect in every respect (DDL
rules, IAM auth, strict local mode, retries, the ``auroradsql_*`` options),
except that its ``name`` is ``"postgresql"``.  What keys on the name:

* ``with_variant(..., "auroradsql")`` still wins, in DDL and at run time,
  over a ``"postgresql"`` variant, which applies otherwise (as on
  ``auroradsql``);
* Alembic finds the Aurora DSQL implementation (registered under
  ``postgresql`` as a subclass of Alembic's own that hands the DSQL
  dialects to :class:`~aurora_dsql_sqlalchemy.alembic.impl.AuroraDSQLImpl`
  and is Alembic's PostgreSQL implementation for every other dialect);
* name-keyed hooks of SQLAlchemy itself -- ``@compiles(X, "postgresql")``,
  ``DDL(...).execute_if(dialect="postgresql")``, dialect-specific hints and
  prefixes -- apply, and their ``"auroradsql"`` spellings do not: register
  such hooks under both names, or use the ``auroradsql+<driver>`` URL.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

from sqlalchemy.dialects import registry

from .base import AuroraDSQLDialect
from .compiler import AuroraDSQLTypeCompiler

__all__ = ["as_postgresql"]

OWN_NAME = AuroraDSQLDialect.name

_DRIVERS = {
    # attribute named by an entry point -> the auroradsql dialect it renames
    "auroradsql": "auroradsql",  # the first driver installed, as for auroradsql://
    "psycopg": "auroradsql.psycopg",
    "psycopg_async": "auroradsql.psycopg_async",
    "psycopg2": "auroradsql.psycopg2",
}


class _TypeCompiler(AuroraDSQLTypeCompiler):
    """Compiles ``with_variant(..., "auroradsql")`` types as their variant,
    where SQLAlchemy would look for the dialect's name only."""

    def process(self, type_: Any, **kw: Any) -> str:
        ours = type_._variant_mapping.get(OWN_NAME)
        return super().process(type_ if ours is None else ours, **kw)


class _TypeMemos(weakref.WeakKeyDictionary):  # type: ignore[type-arg]
    """The dialect's per-type cache (``Dialect._type_memos``), filled with
    the ``auroradsql`` variant's implementation for a type that has one:
    SQLAlchemy picks the variant named like the dialect before asking it."""

    def __init__(self, dialect: Any) -> None:
        super().__init__()
        self._dialect = weakref.ref(dialect)

    def __contains__(self, type_: object) -> bool:
        if super().__contains__(type_):
            return True
        ours = getattr(type_, "_variant_mapping", {}).get(OWN_NAME)
        if ours is None:
            return False
        self[type_] = ours._dialect_info(self._dialect())  # one memo for both
        return True


def _type_memos(dialect: Any) -> _TypeMemos:
    return _TypeMemos(dialect)


@functools.cache
def as_postgresql(dialect_cls: type[AuroraDSQLDialect]) -> type[AuroraDSQLDialect]:
    """``dialect_cls`` (an ``auroradsql`` driver dialect) named ``postgresql``.

    The class the ``postgresql+auroradsql_<driver>`` entry points load; its
    asyncio counterpart (``create_async_engine``) is renamed the same way.
    """
    _register_alembic_impl()

    def get_async_dialect_cls(cls: type, url: Any) -> type:
        return as_postgresql(dialect_cls.get_async_dialect_cls(url))  # type: ignore[arg-type]

    namespace = {
        "__module__": __name__,
        "__doc__": f"{dialect_cls.__doc__ or dialect_cls.__name__}\n\nNamed ``postgresql``: see :mod:`{__name__}`.",
        "name": "postgresql",
        "supports_statement_cache": True,
        "type_compiler_cls": _TypeCompiler,
        "_type_memos": functools.cached_property(_type_memos),
        "get_async_dialect_cls": classmethod(get_async_dialect_cls),
    }
    return type(f"{dialect_cls.__name__}_as_postgresql", (dialect_cls,), namespace)


def __getattr__(attr: str) -> type[AuroraDSQLDialect]:
    # the targets of the driver distributions' entry points, e.g.
    # "postgresql.auroradsql_psycopg" = "aurora_dsql_sqlalchemy.postgresql_name:psycopg"
    target = _DRIVERS.get(attr)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
    return as_postgresql(registry.load(target))


# -- Alembic ---------------------------------------------------------------------------------
# Alembic picks its implementation by ``dialect.name`` alone
# (``DefaultImpl.get_by_dialect``), and runs autogenerate comparators by it.


@functools.cache
def _register_alembic_impl() -> None:
    """Register, under ``postgresql``, Alembic's PostgreSQL implementation
    that hands the Aurora DSQL dialects to ``AuroraDSQLImpl``."""
    try:
        from alembic.autogenerate import comparators
        from alembic.ddl.postgresql import PostgresqlImpl
        from alembic.util import DispatchPriority, PriorityDispatchResult
    except ImportError:  # no Alembic (or one older than the core supports)
        return

    from . import alembic_impl

    class PostgresqlOrAuroraDSQLImpl(PostgresqlImpl):
        """Alembic's PostgreSQL implementation; ``AuroraDSQLImpl`` for an
        Aurora DSQL dialect named ``postgresql``."""

        __dialect__ = "postgresql"

        def __new__(cls, dialect: Any, *args: Any, **kw: Any) -> Any:
            if isinstance(dialect, AuroraDSQLDialect):
                return alembic_impl.AuroraDSQLImpl(dialect, *args, **kw)
            return super().__new__(cls)

    def refuse_unsupported_ops(autogen_context: Any, upgrade_ops: Any) -> Any:
        if isinstance(autogen_context.dialect, AuroraDSQLDialect):
            return alembic_impl._refuse_unsupported_ops(autogen_context, upgrade_ops)
        return PriorityDispatchResult.CONTINUE

    comparators.dispatch_for(
        "autogenerate", qualifier="postgresql", priority=DispatchPriority.LAST
    )(refuse_unsupported_ops)
