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

def postgresql_lacks(what: str) -> Any:
    """A closed requirement PostgreSQL 16 itself lacks (so DSQL, its
    compatible subset, lacks it too); stock ``postgresql`` skips it as well."""
    return exclusions.closed(f"PostgreSQL 16, and so Aurora DSQL, has no {what}")


def refused(rule_id: rules.RuleId) -> Any:
    """A closed requirement whose skip reason names the DSQL rule."""
    rule = rules.rule(rule_id)
    return exclusions.closed(f"Aurora DSQL does not support {rule.title} [rule {rule.id}]")


def _reflects_table_options(config: Any) -> bool:
    from sqlalchemy.engine.default import DefaultDialect

    return type(config.db.dialect).get_table_options is not DefaultDialect.get_table_options


def _lists_dsql_isolation_levels(config: Any) -> bool:
    return set(config.db.dialect.get_isolation_level_values(None)) == set(rules.ISOLATION_LEVEL_VALUES)


class Requirements(SuiteRequirements):  # type: ignore[misc]
    """The compliance-suite requirements of the ``auroradsql`` dialect.

    Left closed as SQLAlchemy ships them, because they describe *other*
    databases' behaviour rather than a feature: ``foreign_keys_reflect_as_index``,
    ``unique_index_reflect_as_unique_constraints``, ``non_updating_cascade``,
    ``emulated_lastrowid*``; and ``async_dialect`` (the suite runs the sync drivers).
    """

    # -- closed: what DSQL refuses (each names its rule) --------------------------

    temporary_tables = refused("temporary-table")
    temp_table_reflection = refused("temporary-table")
    temp_table_reflect_indexes = refused("temporary-table")
    temp_table_names = refused("temporary-table")
    has_temp_table = refused("temporary-table")
    temporary_views = refused("temporary-table")
    temp_table_comment_reflection = refused("temporary-table")
    create_temp_table_as = refused("temporary-table")  # SQLAlchemy 2.1
    create_table_as = refused("create-table-as")  # SQLAlchemy 2.1
    savepoints = refused("savepoint")
    two_phase_transactions = refused("two-phase-commit")
    materialized_views = refused("materialized-view")
    materialized_views_reflect_pk = refused("materialized-view")
    array_type = refused("column-type")  # arrays exist in expressions and parameters, not as column types
    column_collation_reflection = refused("collate")
    indexes_with_ascdesc = refused("index-sort-order")
    reflect_indexes_with_ascdesc = refused("index-sort-order")
    reflect_indexes_with_ascdesc_as_expression = refused("index-sort-order")

    # The suite checks that get_isolation_level_values() lists what the database
    # accepts; it opens itself once the dialect answers DSQL's levels
    # (rules.ISOLATION_LEVEL_VALUES) instead of PostgreSQL's five.
    get_isolation_level_values = exclusions.only_if(
        _lists_dsql_isolation_levels,
        f"the dialect lists PostgreSQL's isolation levels, not DSQL's {rules.ISOLATION_LEVEL_VALUES}",
    )

    # -- closed: what PostgreSQL 16 itself lacks ------------------------------------

    fetch_percent = postgresql_lacks("FETCH FIRST ... PERCENT")
    supports_lastrowid = postgresql_lacks("cursor.lastrowid (RETURNING is used)")
    dbapi_lastrowid = postgresql_lacks("cursor.lastrowid (RETURNING is used)")
    nvarchar_types = postgresql_lacks("NVARCHAR / NCHAR types")
    # SQLAlchemy 2.1:
    repeated_remote_col_foreign_keys = postgresql_lacks("foreign keys referencing one remote column twice")

    # SQLAlchemy 2.1's PostgreSQL dialect reflects table options (a DSQL table
    # has none: tablespaces, storage parameters, partitioning and inheritance
    # are refused); 2.0's has no get_table_options().
    reflect_table_options = exclusions.only_if(
        _reflects_table_options, "SQLAlchemy 2.0's PostgreSQL dialect has no table-options reflection"
    )
    computed_columns_virtual = postgresql_lacks("VIRTUAL generated columns (only STORED)")

    # -- isolation: REPEATABLE READ only (and AUTOCOMMIT) -------------------------

    isolation_level = exclusions.open()
    autocommit = exclusions.open()

    def get_isolation_levels(self, config: Any) -> dict[str, Any]:
        return {"default": rules.ISOLATION_LEVEL, "supported": list(rules.ISOLATION_LEVEL_VALUES)}

    # -- open: PostgreSQL 16 features DSQL has -------------------------------------

    table_ddl_if_exists = exclusions.open()
    index_ddl_if_exists = exclusions.open()
    uuid_data_type = exclusions.open()
    table_value_constructor = exclusions.open()
    deferrable_fks = exclusions.open()
    repeated_column_foreign_keys = exclusions.open()
    boolean_col_expressions = exclusions.open()
    nullsordering = exclusions.open()
    intersect = exclusions.open()
    except_ = exclusions.open()
    window_functions = exclusions.open()
    window_range = exclusions.open()  # SQLAlchemy 2.1
    window_range_numeric = exclusions.open()  # SQLAlchemy 2.1
    window_range_non_numeric = exclusions.open()  # SQLAlchemy 2.1
    aggregate_order_by = exclusions.open()  # SQLAlchemy 2.1
    ctes = exclusions.open()
    ctes_with_update_delete = exclusions.open()
    ctes_with_values = exclusions.open()
    ctes_on_dml = exclusions.open()
    tuple_in = exclusions.open()
    tuple_in_w_empty = exclusions.open()
    views = exclusions.open()
    create_or_replace_view = exclusions.open()  # SQLAlchemy 2.1
    cross_schema_fk_reflection = exclusions.open()
    foreign_key_constraint_name_reflection = exclusions.open()
    implicit_default_schema = exclusions.open()
    default_schema_name_switch = exclusions.open()
    reflects_pk_names = exclusions.open()
    comment_reflection = exclusions.open()
    comment_reflection_full_unicode = exclusions.open()
    constraint_comment_reflection = exclusions.open()
    schema_create_delete = exclusions.open()
    foreign_key_constraint_option_reflection_ondelete = exclusions.open()
    fk_constraint_option_reflection_ondelete_restrict = exclusions.open()
    fk_constraint_option_reflection_ondelete_noaction = exclusions.open()
    foreign_key_constraint_option_reflection_onupdate = exclusions.open()
    fk_constraint_option_reflection_onupdate_restrict = exclusions.open()
    index_reflects_included_columns = exclusions.open()
    indexes_with_expressions = exclusions.open()
    reflect_indexes_with_expressions = exclusions.open()
    unique_constraints_reflect_as_index = exclusions.open()
    inline_check_constraint_reflection = exclusions.open()
    check_constraint_reflection = exclusions.open()
    unicode_ddl = exclusions.open()
    datetime_interval = exclusions.open()
    datetime_literals = exclusions.open()
    datetime_timezone = exclusions.open()
    time_timezone = exclusions.open()
    timestamp_microseconds = exclusions.open()
    datetime_historic = exclusions.open()
    datetime_timezone_historic = exclusions.open()
    date_historic = exclusions.open()
    json_type = exclusions.open()
    precision_numerics_enotation_small = exclusions.open()
    precision_numerics_many_significant_digits = exclusions.open()
    precision_numerics_retains_significant_digits = exclusions.open()
    server_defaults = exclusions.open()
    expression_server_defaults = exclusions.open()
    infinity_floats = exclusions.open()
    update_from = exclusions.open()
    delete_from = exclusions.open()
    order_by_label_with_expression = exclusions.open()
    computed_columns = exclusions.open()
    computed_columns_stored = exclusions.open()
    computed_columns_reflect_persisted = exclusions.open()
    computed_columns_default_persisted = exclusions.open()
    supports_distinct_on = exclusions.open()
    identity_columns = exclusions.open()
    identity_columns_standard = exclusions.open()
    regexp_match = exclusions.open()
    regexp_replace = exclusions.open()
    fetch_first = exclusions.open()
    fetch_ties = exclusions.open()
    fetch_no_order_by = exclusions.open()
    fetch_offset_with_options = exclusions.open()
    fetch_expression = exclusions.open()
    supports_bitwise_or = exclusions.open()
    supports_bitwise_and = exclusions.open()
    supports_bitwise_not = exclusions.open()
    supports_bitwise_xor = exclusions.open()
    supports_bitwise_shift = exclusions.open()
    mod_operator_as_percent_sign = exclusions.open()
    percent_schema_names = exclusions.open()
    legacy_unconditional_json_extract = exclusions.open()
    # psycopg 3 hands JSON to json_deserializer as bytes (as with stock postgresql+psycopg)
    json_deserializer_binary = exclusions.only_if(lambda config: config.db.dialect.driver == "psycopg")
    indexes_check_column_order = exclusions.open()
    skip_autocommit_rollback = exclusions.open()
    float_or_double_precision_behaves_generically = exclusions.open()

    reflect_tables_no_columns = exclusions.open()

    def get_order_by_collation(self, config: Any) -> str:
        return rules.COLLATION  # DSQL's only collation
