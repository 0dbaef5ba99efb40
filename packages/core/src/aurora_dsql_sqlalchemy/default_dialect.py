"""What the bare dialect name ``auroradsql`` means.

``create_engine("auroradsql://...")`` and SQLAlchemy's lookup of
``auroradsql_*`` options both ask for the name without a driver.  It resolves,
through SQLAlchemy's dialect registry (the driver distributions' entry points;
the core imports no driver), to the first driver installed: psycopg 3, then
psycopg2.  With no driver installed it is the core dialect alone, which
compiles SQL and DDL (the ``lint`` command uses that) but cannot connect.
"""

from __future__ import annotations

from sqlalchemy import exc
from sqlalchemy.dialects import registry

from .base import AuroraDSQLDialect

__all__ = ["dialect"]

_PREFERRED_DRIVERS = ("auroradsql.psycopg", "auroradsql.psycopg2")


class AuroraDSQLDialect_nodriver(AuroraDSQLDialect):
    """The core dialect with no driver: compiles, but cannot connect."""

    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> None:  # type: ignore[override]
        from .drivers import install_hint

        raise ImportError(f"No driver for the auroradsql dialect is installed: {install_hint()}.")


def _resolve() -> type:
    for name in _PREFERRED_DRIVERS:
        try:
            return registry.load(name)  # type: ignore[no-any-return]
        except (exc.NoSuchModuleError, ImportError):  # not installed, or its driver missing
            continue
    return AuroraDSQLDialect_nodriver


dialect = _resolve()
