"""What Aurora DSQL supports, for SQLAlchemy's dialect compliance suite.

SQLAlchemy's suite (``sqlalchemy.testing.suite``) asks a *requirements* class
which features the database has.  :class:`Requirements` opens every feature
DSQL supports (it is PostgreSQL 16 underneath: CTEs, window functions,
RETURNING, identity columns, sequences, json/jsonb, views, comments, computed
columns, foreign keys, ...) and closes only what DSQL refuses; each closed
requirement names the rule in :mod:`aurora_dsql_sqlalchemy.rules` that
refuses it, and the skip reason the suite prints says so::

    [sqla_testing]
    requirement_cls = aurora_dsql_sqlalchemy.testing.requirements:Requirements

The integration suite runs it in strict local mode on an embedded PostgreSQL
(``integration/compliance``); the same class works against a DSQL cluster
(``--dburi auroradsql+psycopg://admin@<id>.dsql.<region>.on.aws/postgres``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.testing import exclusions
from sqlalchemy.testing.requirements import SuiteRequirements

from .. import rules

__all__ = ["Requirements", "postgresql_lacks", "refused"]

_ISOLATION = [*sorted(rules.ISOLATION_LEVELS), "AUTOCOMMIT"]


def postgresql_lacks(what: str) -> Any:
    """A closed requirement PostgreSQL 16 itself lacks (so DSQL, its
    compatible subset, lacks it too); stock ``postgresql`` skips it as well."""
    return exclusions.closed(f"PostgreSQL 16, and so Aurora DSQL, has no {what}")


def refused(rule_id: str) -> Any:
    """A closed requirement whose skip reason names the DSQL rule."""
    rule = rules.rule(rule_id)
    return exclusions.closed(f"Aurora DSQL does not support {rule.title} [rule {rule.id}]")


def _reflects_table_options(config: Any) -> bool:
    from sqlalchemy.engine.default import DefaultDialect

    return type(config.db.dialect).get_table_options is not DefaultDialect.get_table_options


class Requirements(SuiteRequirements):  # type: ignore[misc]
    """The compliance-suite requirements of the ``auroradsql`` dialect.

    Left closed as SQLAlchemy ships them, because they describe *other*
    databases' behaviour rather than a feature: ``foreign_keys_reflect_as_index``,
    ``unique_index_reflect_as_unique_constraints``, ``non_updating_cascade``,
    ``emulated_lastrowid*``; and ``async_dialect`` (the suite runs the sync drivers).
    """

    # -- closed: what DSQL refuses (each names its rule) --------------------------

    @property
    def temporary_tables(self) -> Any:
        return refused("temporary-table")

    @property
    def temp_table_reflection(self) -> Any:
        return refused("temporary-table")

    @property
    def temp_table_reflect_indexes(self) -> Any:
        return refused("temporary-table")

    @property
    def temp_table_names(self) -> Any:
        return refused("temporary-table")

    @property
    def has_temp_table(self) -> Any:
        return refused("temporary-table")

    @property
    def temporary_views(self) -> Any:
        return refused("temporary-table")

    @property
    def temp_table_comment_reflection(self) -> Any:
        return refused("temporary-table")

    @property
    def create_temp_table_as(self) -> Any:  # SQLAlchemy 2.1
        return refused("temporary-table")

    @property
    def create_table_as(self) -> Any:  # SQLAlchemy 2.1
        return refused("create-table-as")

    @property
    def savepoints(self) -> Any:
        return refused("savepoint")

    @property
    def two_phase_transactions(self) -> Any:
        return refused("two-phase-commit")

    @property
    def materialized_views(self) -> Any:
        return refused("materialized-view")

    @property
    def materialized_views_reflect_pk(self) -> Any:
        return refused("materialized-view")

    @property
    def array_type(self) -> Any:
        # arrays exist in expressions and parameters, not as column types
        return refused("column-type")

    @property
    def column_collation_reflection(self) -> Any:
        return refused("collate")

    @property
    def indexes_with_ascdesc(self) -> Any:
        return refused("index-sort-order")

    @property
    def reflect_indexes_with_ascdesc(self) -> Any:
        return refused("index-sort-order")

    @property
    def reflect_indexes_with_ascdesc_as_expression(self) -> Any:
        return refused("index-sort-order")

    @property
    def get_isolation_level_values(self) -> Any:
        # The dialect lists what DSQL accepts (REPEATABLE READ, AUTOCOMMIT): an
        # unknown name fails with SQLAlchemy's ArgumentError listing them; a
        # PostgreSQL level DSQL lacks raises DSQLUnsupportedError (isolation-level).
        return exclusions.open()

    # -- closed: what PostgreSQL 16 itself lacks ------------------------------------

    @property
    def fetch_percent(self) -> Any:
        return postgresql_lacks("FETCH FIRST ... PERCENT")

    @property
    def supports_lastrowid(self) -> Any:
        return postgresql_lacks("cursor.lastrowid (RETURNING is used)")

    @property
    def dbapi_lastrowid(self) -> Any:
        return postgresql_lacks("cursor.lastrowid (RETURNING is used)")

    @property
    def nvarchar_types(self) -> Any:
        return postgresql_lacks("NVARCHAR / NCHAR types")

    @property
    def repeated_remote_col_foreign_keys(self) -> Any:  # SQLAlchemy 2.1
        return postgresql_lacks("foreign keys referencing one remote column twice")

    @property
    def reflect_table_options(self) -> Any:
        # SQLAlchemy 2.1's PostgreSQL dialect reflects table options (a DSQL
        # table has none: tablespaces, storage parameters, partitioning and
        # inheritance are refused); 2.0's has no get_table_options().
        return exclusions.only_if(
            _reflects_table_options,
            "SQLAlchemy 2.0's PostgreSQL dialect has no table-options reflection",
        )

    @property
    def computed_columns_virtual(self) -> Any:
        return postgresql_lacks("VIRTUAL generated columns (only STORED)")

    # -- isolation: REPEATABLE READ only (and AUTOCOMMIT) -------------------------

    @property
    def isolation_level(self) -> Any:
        return exclusions.open()

    @property
    def autocommit(self) -> Any:
        return exclusions.open()

    def get_isolation_levels(self, config: Any) -> dict[str, Any]:
        return {"default": "REPEATABLE READ", "supported": list(_ISOLATION)}

    # -- open: PostgreSQL 16 features DSQL has -------------------------------------

    @property
    def table_ddl_if_exists(self) -> Any:
        return exclusions.open()

    @property
    def index_ddl_if_exists(self) -> Any:
        return exclusions.open()

    @property
    def uuid_data_type(self) -> Any:
        return exclusions.open()

    @property
    def table_value_constructor(self) -> Any:
        return exclusions.open()

    @property
    def deferrable_fks(self) -> Any:
        return exclusions.open()

    @property
    def repeated_column_foreign_keys(self) -> Any:
        return exclusions.open()

    @property
    def boolean_col_expressions(self) -> Any:
        return exclusions.open()

    @property
    def nullsordering(self) -> Any:
        return exclusions.open()

    @property
    def intersect(self) -> Any:
        return exclusions.open()

    @property
    def except_(self) -> Any:
        return exclusions.open()

    @property
    def window_functions(self) -> Any:
        return exclusions.open()

    @property
    def window_range(self) -> Any:  # SQLAlchemy 2.1
        return exclusions.open()

    @property
    def window_range_numeric(self) -> Any:  # SQLAlchemy 2.1
        return exclusions.open()

    @property
    def window_range_non_numeric(self) -> Any:  # SQLAlchemy 2.1
        return exclusions.open()

    @property
    def aggregate_order_by(self) -> Any:  # SQLAlchemy 2.1
        return exclusions.open()

    @property
    def ctes(self) -> Any:
        return exclusions.open()

    @property
    def ctes_with_update_delete(self) -> Any:
        return exclusions.open()

    @property
    def ctes_with_values(self) -> Any:
        return exclusions.open()

    @property
    def ctes_on_dml(self) -> Any:
        return exclusions.open()

    @property
    def tuple_in(self) -> Any:
        return exclusions.open()

    @property
    def tuple_in_w_empty(self) -> Any:
        return exclusions.open()

    @property
    def views(self) -> Any:
        return exclusions.open()

    @property
    def create_or_replace_view(self) -> Any:  # SQLAlchemy 2.1
        return exclusions.open()

    @property
    def cross_schema_fk_reflection(self) -> Any:
        return exclusions.open()

    @property
    def foreign_key_constraint_name_reflection(self) -> Any:
        return exclusions.open()

    @property
    def implicit_default_schema(self) -> Any:
        return exclusions.open()

    @property
    def default_schema_name_switch(self) -> Any:
        return exclusions.open()

    @property
    def reflects_pk_names(self) -> Any:
        return exclusions.open()

    @property
    def comment_reflection(self) -> Any:
        return exclusions.open()

    @property
    def comment_reflection_full_unicode(self) -> Any:
        return exclusions.open()

    @property
    def constraint_comment_reflection(self) -> Any:
        return exclusions.open()

    @property
    def schema_create_delete(self) -> Any:
        return exclusions.open()

    @property
    def foreign_key_constraint_option_reflection_ondelete(self) -> Any:
        return exclusions.open()

    @property
    def fk_constraint_option_reflection_ondelete_restrict(self) -> Any:
        return exclusions.open()

    @property
    def fk_constraint_option_reflection_ondelete_noaction(self) -> Any:
        return exclusions.open()

    @property
    def foreign_key_constraint_option_reflection_onupdate(self) -> Any:
        return exclusions.open()

    @property
    def fk_constraint_option_reflection_onupdate_restrict(self) -> Any:
        return exclusions.open()

    @property
    def index_reflects_included_columns(self) -> Any:
        return exclusions.open()

    @property
    def indexes_with_expressions(self) -> Any:
        return exclusions.open()

    @property
    def reflect_indexes_with_expressions(self) -> Any:
        return exclusions.open()

    @property
    def unique_constraints_reflect_as_index(self) -> Any:
        return exclusions.open()

    @property
    def inline_check_constraint_reflection(self) -> Any:
        return exclusions.open()

    @property
    def check_constraint_reflection(self) -> Any:
        return exclusions.open()

    @property
    def unicode_ddl(self) -> Any:
        return exclusions.open()

    @property
    def datetime_interval(self) -> Any:
        return exclusions.open()

    @property
    def datetime_literals(self) -> Any:
        return exclusions.open()

    @property
    def datetime_timezone(self) -> Any:
        return exclusions.open()

    @property
    def time_timezone(self) -> Any:
        return exclusions.open()

    @property
    def timestamp_microseconds(self) -> Any:
        return exclusions.open()

    @property
    def datetime_historic(self) -> Any:
        return exclusions.open()

    @property
    def datetime_timezone_historic(self) -> Any:
        return exclusions.open()

    @property
    def date_historic(self) -> Any:
        return exclusions.open()

    @property
    def json_type(self) -> Any:
        return exclusions.open()

    @property
    def precision_numerics_enotation_small(self) -> Any:
        return exclusions.open()

    @property
    def precision_numerics_many_significant_digits(self) -> Any:
        return exclusions.open()

    @property
    def precision_numerics_retains_significant_digits(self) -> Any:
        return exclusions.open()

    @property
    def server_defaults(self) -> Any:
        return exclusions.open()

    @property
    def expression_server_defaults(self) -> Any:
        return exclusions.open()

    @property
    def infinity_floats(self) -> Any:
        return exclusions.open()

    @property
    def update_from(self) -> Any:
        return exclusions.open()

    @property
    def delete_from(self) -> Any:
        return exclusions.open()

    @property
    def order_by_label_with_expression(self) -> Any:
        return exclusions.open()

    @property
    def computed_columns(self) -> Any:
        return exclusions.open()

    @property
    def computed_columns_stored(self) -> Any:
        return exclusions.open()

    @property
    def computed_columns_reflect_persisted(self) -> Any:
        return exclusions.open()

    @property
    def computed_columns_default_persisted(self) -> Any:
        return exclusions.open()

    @property
    def supports_distinct_on(self) -> Any:
        return exclusions.open()

    @property
    def identity_columns(self) -> Any:
        return exclusions.open()

    @property
    def identity_columns_standard(self) -> Any:
        return exclusions.open()

    @property
    def regexp_match(self) -> Any:
        return exclusions.open()

    @property
    def regexp_replace(self) -> Any:
        return exclusions.open()

    @property
    def fetch_first(self) -> Any:
        return exclusions.open()

    @property
    def fetch_ties(self) -> Any:
        return exclusions.open()

    @property
    def fetch_no_order_by(self) -> Any:
        return exclusions.open()

    @property
    def fetch_offset_with_options(self) -> Any:
        return exclusions.open()

    @property
    def fetch_expression(self) -> Any:
        return exclusions.open()

    @property
    def supports_bitwise_or(self) -> Any:
        return exclusions.open()

    @property
    def supports_bitwise_and(self) -> Any:
        return exclusions.open()

    @property
    def supports_bitwise_not(self) -> Any:
        return exclusions.open()

    @property
    def supports_bitwise_xor(self) -> Any:
        return exclusions.open()

    @property
    def supports_bitwise_shift(self) -> Any:
        return exclusions.open()

    @property
    def mod_operator_as_percent_sign(self) -> Any:
        return exclusions.open()

    @property
    def percent_schema_names(self) -> Any:
        return exclusions.open()

    @property
    def legacy_unconditional_json_extract(self) -> Any:
        return exclusions.open()

    @property
    def json_deserializer_binary(self) -> Any:
        # psycopg 3 hands JSON to json_deserializer as bytes (as with stock postgresql+psycopg)
        return exclusions.only_if(lambda config: config.db.dialect.driver == "psycopg")

    @property
    def indexes_check_column_order(self) -> Any:
        return exclusions.open()

    @property
    def skip_autocommit_rollback(self) -> Any:
        return exclusions.open()

    @property
    def float_or_double_precision_behaves_generically(self) -> Any:
        return exclusions.open()

    def get_order_by_collation(self, config: Any) -> str:
        # DSQL has one collation, C
        return "C"

    @property
    def reflect_tables_no_columns(self) -> Any:
        return exclusions.open()
