"""The driver distributions, as the core knows them: names and install commands.

The core imports no driver.  Each ``auroradsql+<driver>`` dialect lives in a
distribution of its own (``aurora-dsql-sqlalchemy-psycopg``,
``aurora-dsql-sqlalchemy-psycopg2``), which registers it with SQLAlchemy.

The core registers the same dialect names too, pointing here: when the
driver distribution is installed, the attribute is its dialect class, so
SQLAlchemy's registry gets the same class whichever of the two entry points
it reads first; when it is not, loading it raises an :class:`ImportError`
that names the distribution to install, instead of SQLAlchemy's bare
``NoSuchModuleError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

__all__ = ["DRIVERS", "Driver", "install_hint"]


@dataclass(frozen=True)
class Driver:
    """One driver distribution: where its dialect lives and how to install it."""

    distribution: str
    package: str
    folder: str  # under packages/ in a clone of the repository

    def install_command(self) -> str:
        return (
            f"pip install {self.distribution} (from a clone of the repository: "
            f"pip install ./packages/core ./packages/{self.folder})"
        )


_PSYCOPG = Driver("aurora-dsql-sqlalchemy-psycopg", "aurora_dsql_sqlalchemy_psycopg", "psycopg3")
_PSYCOPG2 = Driver("aurora-dsql-sqlalchemy-psycopg2", "aurora_dsql_sqlalchemy_psycopg2", "psycopg2")

DRIVERS: dict[str, tuple[Driver, str]] = {
    # entry-point attribute: (distribution, dialect class in its package)
    "psycopg": (_PSYCOPG, "AuroraDSQLDialect_psycopg"),
    "psycopg_async": (_PSYCOPG, "AuroraDSQLDialect_psycopg_async"),
    "psycopg2": (_PSYCOPG2, "AuroraDSQLDialect_psycopg2"),
}


def install_hint() -> str:
    """What to install for a working ``auroradsql`` dialect: any one driver."""
    return (
        "install a driver distribution: "
        f"{_PSYCOPG.install_command()}, or {_PSYCOPG2.distribution} for psycopg2"
    )


def __getattr__(name: str) -> type:
    """The dialect class for entry point ``auroradsql.<name>``."""
    if name not in DRIVERS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    driver, cls_name = DRIVERS[name]
    try:
        module = import_module(driver.package)
    except ModuleNotFoundError as err:
        if err.name != driver.package:
            raise  # the driver package is there but something it imports is not
        raise ImportError(
            f"The auroradsql+{name} dialect is in the {driver.distribution} "
            f"distribution, which is not installed: {driver.install_command()}."
        ) from None
    return getattr(module, cls_name)  # type: ignore[no-any-return]
