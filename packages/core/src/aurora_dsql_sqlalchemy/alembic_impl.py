"""Alembic on Aurora DSQL (importing this module registers the implementation).

The implementation lives in :mod:`aurora_dsql_sqlalchemy.alembic`; see
:mod:`aurora_dsql_sqlalchemy.alembic.impl` for how migrations run on DSQL.
Importing this module registers :class:`AuroraDSQLImpl` for the
``auroradsql`` dialect and the autogenerate guard with Alembic.
"""

from __future__ import annotations

from .alembic.guards import _refuse_unsupported_ops as _refuse_unsupported_ops
from .alembic.guards import register_autogenerate_guard
from .alembic.impl import AuroraDSQLImpl

__all__ = ["AuroraDSQLImpl"]

register_autogenerate_guard()
