"""SQLAlchemy's dialect compliance suite, run as it is shipped."""

from sqlalchemy.testing.suite import *  # noqa: F401,F403
