"""Local mode: Aurora DSQL behaviour on a plain PostgreSQL."""
