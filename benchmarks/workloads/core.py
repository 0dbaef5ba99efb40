"""Core: single-row selects by primary key, and insertmanyvalues.

``core_select``
    One connection, one transaction, N ``SELECT ... WHERE id = :id`` for
    keys spread over a pre-loaded table; the sum of the values read is checked.
``core_insert``
    N rows inserted with ``insert().returning(id)`` and a list of parameter
    sets (SQLAlchemy's insertmanyvalues: multi-row ``VALUES`` pages of 1,000),
    in transactions of 2,500 rows (DSQL allows 3,000 rows per transaction; the
    stock arm does the same).  Every id must come back, and the table must
    hold the N rows with the expected sum.
"""

from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa
from harness import Arm, Goal, Workload

metadata = sa.MetaData()

kv = sa.Table(
    "bench_kv",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("value", sa.Integer, nullable=False),
)

ins = sa.Table(
    "bench_ins",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("value", sa.Integer, nullable=False),
)

CHUNK = 2_500


def _create(ctx: Any, *tables: sa.Table) -> None:
    engine = ctx.engine("strict")
    metadata.drop_all(engine, tables=list(tables))
    metadata.create_all(engine, tables=list(tables))
    engine.dispose()


class CoreSelect(Workload):
    name = "core_select"
    goals: ClassVar[dict[str, Goal]] = {"translate": Goal(1.05), "strict": Goal(1.05)}

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.rows = 1_000 if ctx.quick else 10_000
        self.description = f"Core: {self.rows:,} single-row SELECTs by primary key"
        # a fixed, scattered key order
        self.keys = [(i * 7_919) % self.rows + 1 for i in range(self.rows)]
        self.expected = sum(self.keys)  # value == id

    def setup(self) -> None:
        _create(self.ctx, kv)
        with self.ctx.admin.connect() as conn:
            conn.execute(
                kv.insert(),
                [{"id": i, "name": f"name {i}", "value": i} for i in range(1, self.rows + 1)],
            )
            conn.exec_driver_sql("VACUUM ANALYZE bench_kv")

    def teardown(self) -> None:
        metadata.drop_all(self.ctx.admin, tables=[kv])

    def run(self, arm: Arm) -> Any:
        stmt = sa.select(kv.c.name, kv.c.value).where(kv.c.id == sa.bindparam("id"))
        total = 0
        names_ok = 0
        with arm.engine.connect() as conn:
            for key in self.keys:
                name, value = conn.execute(stmt, {"id": key}).one()
                total += value
                names_ok += name == f"name {key}"
            conn.commit()
        return total, names_ok

    def check(self, arm: Arm, result: Any) -> None:
        total, names_ok = result
        assert total == self.expected, (total, self.expected)
        assert names_ok == self.rows, names_ok


class CoreInsertManyValues(Workload):
    name = "core_insert"
    goals: ClassVar[dict[str, Goal]] = {"translate": Goal(1.05), "strict": Goal(1.05)}

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.rows = 1_000 if ctx.quick else 10_000
        self.description = (
            f"Core: insertmanyvalues of {self.rows:,} rows with RETURNING, "
            f"{CHUNK:,} rows per transaction"
        )
        self.params = [{"name": f"n{i}", "value": i} for i in range(self.rows)]

    def setup(self) -> None:
        _create(self.ctx, ins)

    def teardown(self) -> None:
        metadata.drop_all(self.ctx.admin, tables=[ins])

    def before(self, arm: Arm) -> None:
        with self.ctx.admin.connect() as conn:
            conn.exec_driver_sql("TRUNCATE bench_ins RESTART IDENTITY")

    def run(self, arm: Arm) -> Any:
        stmt = ins.insert().returning(ins.c.id)
        ids: list[int] = []
        for start in range(0, self.rows, CHUNK):
            with arm.engine.begin() as conn:
                ids.extend(conn.execute(stmt, self.params[start : start + CHUNK]).scalars())
        with arm.engine.connect() as conn:
            count, total = conn.execute(sa.select(sa.func.count(), sa.func.sum(ins.c.value))).one()
        return ids, count, total

    def check(self, arm: Arm, result: Any) -> None:
        ids, count, total = result
        assert len(ids) == self.rows and len(set(ids)) == self.rows, len(ids)
        assert count == self.rows, count
        assert total == sum(range(self.rows)), total


class CoreShortTransactions(CoreSelect):
    """Many short transactions, as a web application runs them: check out a
    pooled connection, one SELECT by key, commit, return the connection."""

    name = "core_checkout"
    goals: ClassVar[dict[str, Goal]] = {"translate": Goal(1.05), "strict": Goal(1.05)}

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.keys = self.keys[: 200 if ctx.quick else 2_000]
        self.rows_read = len(self.keys)
        self.expected = sum(self.keys)
        self.description = (
            f"Core: {self.rows_read:,} short transactions (pool checkout, SELECT by key, commit)"
        )

    def run(self, arm: Arm) -> Any:
        stmt = sa.select(kv.c.name, kv.c.value).where(kv.c.id == sa.bindparam("id"))
        total = 0
        names_ok = 0
        for key in self.keys:
            with arm.engine.begin() as conn:
                name, value = conn.execute(stmt, {"id": key}).one()
            total += value
            names_ok += name == f"name {key}"
        return total, names_ok

    def check(self, arm: Arm, result: Any) -> None:
        total, names_ok = result
        assert total == self.expected, (total, self.expected)
        assert names_ok == self.rows_read, names_ok


WORKLOADS: list[type[Workload]] = [CoreSelect, CoreInsertManyValues, CoreShortTransactions]
