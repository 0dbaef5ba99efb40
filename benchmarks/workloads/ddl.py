"""DDL: ``MetaData.create_all()`` of many tables with indexes and foreign keys.

Every run creates the tables in a schema of its own (created and dropped
outside the timed region), so every statement text is new to the dialect's
per-text caches, as it is when an application creates its schema once.
The dialect runs each DDL statement in its own transaction and each index
as a DSQL job (``CREATE INDEX ASYNC``, emulated locally, then
``CALL sys.wait_for_job``); stock SQLAlchemy runs them all in one
transaction; ``stock_autocommit`` is stock SQLAlchemy with one statement
per transaction, the shape DSQL imposes.  The check reads the catalog: every table and index exists.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import sqlalchemy as sa
from harness import Arm, Goal, Workload

from workloads import schema200

_counter = itertools.count()


class CreateAll(Workload):
    name = "ddl"
    arms = ("stock_autocommit", "translate", "strict")
    second_baseline = "stock_autocommit"
    # the floor is DSQL's shape (one DDL statement per transaction), not stock's one transaction
    goals: ClassVar[dict[str, Goal]] = {
        "translate": Goal(1.05, base="stock_autocommit"),
        "strict": Goal(1.10, base="stock_autocommit"),
    }

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.tables = 20 if ctx.quick else 200
        self.description = (
            f"create_all() of {self.tables} tables with 2 indexes and a foreign key each"
        )

    def make_arm(self, label: str) -> Arm:
        if label == "stock_autocommit":
            # stock SQLAlchemy with DSQL's transaction shape: one DDL per transaction
            return Arm(label, self.ctx.engine("stock", isolation_level="AUTOCOMMIT"))
        return super().make_arm(label)

    def before(self, arm: Arm) -> None:
        schema = f"bench_ddl_{next(_counter)}"
        with self.ctx.admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        arm.extra["schema"] = schema
        arm.extra["metadata"] = schema200.build(schema, self.tables)

    def run(self, arm: Arm) -> Any:
        arm.extra["metadata"].create_all(arm.engine)

    def check(self, arm: Arm, result: Any) -> None:
        with self.ctx.admin.connect() as conn:
            tables, indexes = conn.execute(
                sa.text(
                    "SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = :s), "
                    "(SELECT count(*) FROM pg_indexes WHERE schemaname = :s)"
                ),
                {"s": arm.extra["schema"]},
            ).one()
        assert tables == self.tables, tables
        assert indexes == 3 * self.tables, indexes  # primary key, name, code

    def after(self, arm: Arm) -> None:
        with self.ctx.admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {arm.extra['schema']} CASCADE")


WORKLOADS: list[type[Workload]] = [CreateAll]
