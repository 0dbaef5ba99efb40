"""Alembic on Aurora DSQL: the migration implementation (:mod:`.impl`), its
autogenerate comparisons (:mod:`.compare`) and the refusals of what DSQL cannot
apply (:mod:`.guards`).  Importing :mod:`aurora_dsql_sqlalchemy.alembic_impl`
registers the implementation with Alembic."""
