"""The ``aurora-dsql-sqlalchemy`` command (also ``python -m aurora_dsql_sqlalchemy``).

``aurora-dsql-sqlalchemy lint TARGET...`` checks SQLAlchemy metadata or SQL
files against Aurora DSQL's rules; see :mod:`aurora_dsql_sqlalchemy.lint`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    from . import lint

    parser = argparse.ArgumentParser(
        prog="aurora-dsql-sqlalchemy",
        description="Tools for SQLAlchemy on Amazon Aurora DSQL.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lint_parser = commands.add_parser(
        "lint",
        help="check SQLAlchemy metadata or .sql files against Aurora DSQL's rules",
        description=(lint.__doc__ or "").split("\n\n")[0],
    )
    lint.add_arguments(lint_parser)
    args = parser.parse_args(argv)
    return lint.run(args)


if __name__ == "__main__":
    sys.exit(main())
