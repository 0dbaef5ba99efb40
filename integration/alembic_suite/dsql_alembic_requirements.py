"""What Alembic's suite may expect of Aurora DSQL.

Alembic's defaults close several requirements a plain backend may lack; DSQL
has them (foreign-key actions and DEFERRABLE since 2026-08, identity columns
since 2026-02, generated STORED columns, COMMENT ON, AUTOCOMMIT), so they are
opened here.  The tests DSQL cannot pass are skipped in
``dsql_alembic_plugin.SKIPPED``, each naming the DSQL rule.
"""

from alembic.testing import exclusions
from alembic.testing.requirements import SuiteRequirements


class DSQLAlembicRequirements(SuiteRequirements):
    @property
    def autocommit_isolation(self):
        """AUTOCOMMIT is a client-side mode DSQL accepts."""
        return exclusions.open()

    @property
    def fk_ondelete_is_reflected(self):
        return exclusions.open()

    @property
    def fk_onupdate_is_reflected(self):
        return exclusions.open()

    @property
    def fk_initially(self):
        return exclusions.open()

    @property
    def fk_deferrable(self):
        return exclusions.open()

    @property
    def fk_deferrable_is_reflected(self):
        return exclusions.open()

    @property
    def computed_columns(self):
        """Generated STORED columns."""
        return exclusions.open()

    @property
    def identity_columns(self):
        return exclusions.open()

    @property
    def identity_columns_alter(self):
        return exclusions.open()
