"""The ``aurora-dsql-sqlalchemy`` command (also ``python -m aurora_dsql_sqlalchemy``).

``aurora-dsql-sqlalchemy lint TARGET...`` checks SQLAlchemy metadata, SQL
files or Alembic migrations against Aurora DSQL's rules; see
:mod:`aurora_dsql_sqlalchemy.lint`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    from . import __version__, lint

    parser = argparse.ArgumentParser(
        prog="aurora-dsql-sqlalchemy",
        description="Tools for SQLAlchemy on Amazon Aurora DSQL.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lint_parser = commands.add_parser(
        "lint",
        help="check SQLAlchemy metadata, .sql files or Alembic migrations against Aurora DSQL's rules",
        description=(lint.__doc__ or "").split("\n\n")[0],
    )
    lint.add_arguments(lint_parser)
    commands.add_parser("rules", help="print Aurora DSQL's rules as a Markdown table")
    args = parser.parse_args(argv)
    try:
        if args.command == "rules":
            from .rule_docs import markdown_table

            sys.stdout.write(markdown_table())
            sys.stdout.flush()
            return 0
        status = lint.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (``| head``): stop quietly, as command-line tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
