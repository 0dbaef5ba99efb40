"""Reflection: ``MetaData.reflect()`` of a schema of many tables with indexes
and foreign keys (created once by the dialect, shared by all arms).  The
reflected tables, columns, indexes and foreign keys are compared with the
definitions."""

from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa
from harness import Arm, Goal, Workload

from workloads import schema200

SCHEMA = "bench_reflect"


class Reflection(Workload):
    name = "reflection"
    goals: ClassVar[dict[str, Goal]] = {"translate": Goal(1.05), "strict": Goal(1.05)}

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.tables = 20 if ctx.quick else 200
        self.description = (
            f"MetaData.reflect() of {self.tables} tables with 2 indexes and a foreign key each"
        )
        self.expected = schema200.expected_shape(schema200.build(SCHEMA, self.tables))

    def setup(self) -> None:
        with self.ctx.admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
        engine = self.ctx.engine("strict")
        schema200.build(SCHEMA, self.tables).create_all(engine)
        engine.dispose()

    def teardown(self) -> None:
        with self.ctx.admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")

    def run(self, arm: Arm) -> Any:
        metadata = sa.MetaData()
        metadata.reflect(arm.engine, schema=SCHEMA)
        return metadata

    def check(self, arm: Arm, result: Any) -> None:
        got = schema200.expected_shape(result)
        assert got == self.expected, sorted(set(got.items()) ^ set(self.expected.items()))[:3]


WORKLOADS: list[type[Workload]] = [Reflection]
