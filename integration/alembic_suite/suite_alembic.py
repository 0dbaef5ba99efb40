"""Alembic's third-party dialect suite (``alembic.testing.suite``) on Aurora DSQL's dialect."""

from alembic.testing.suite import *  # noqa: F403
