"""Asynchronous index builds and constraint validations are jobs, and the dialect waits for them.

DSQL answers ``CREATE INDEX ASYNC`` with a job id; a UNIQUE index over
duplicate rows fails *as a job*, after the statement succeeded.  ``create_all``,
``Table.create`` and ``Index.create`` wait for the jobs they started and raise
:class:`~aurora_dsql_sqlalchemy.errors.IndexJobFailed`, naming the index;
``wait_for_jobs=False`` turns waiting off.  Local mode emulates ``sys.jobs`` and
``sys.wait_for_job`` on PostgreSQL, so this runs unchanged against DSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.errors import IndexJobFailed
from sqlalchemy.engine import URL
from sqlalchemy.schema import AddConstraint

pytestmark = pytest.mark.usefixtures("fresh_schema")


def jobs(engine: sa.Engine) -> list[tuple[str, str, str | None, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT job_type, status, details, object_name FROM sys.jobs ORDER BY start_time, job_id"
            )
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


@pytest.fixture
def people(engine: sa.Engine) -> sa.Table:
    """A table that already holds duplicate emails."""
    metadata = sa.MetaData()
    t = sa.Table(
        "people",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(50)),
        sa.Column("age", sa.Integer),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            t.insert(),
            [{"email": "a@x", "age": 1}, {"email": "a@x", "age": -5}, {"email": "b@x", "age": 3}],
        )
    return t


@pytest.fixture
def no_wait_engine(dsql_url: URL) -> Iterator[sa.Engine]:
    eng = sa.create_engine(dsql_url, wait_for_jobs=False)
    yield eng
    eng.dispose()


def test_create_all_waits_for_index_jobs(engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "items",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sku", sa.String(20), unique=False),
        sa.Column("name", sa.String(50)),
        sa.Index("uq_items_sku", "sku", unique=True),
        sa.Index("ix_items_name", "name"),
    )
    metadata.create_all(engine)
    # on return every job has ended, successfully: the schema is usable
    finished = jobs(engine)
    assert sorted((t, s) for t, s, _, _ in finished) == [("INDEX_BUILD", "completed")] * 2
    assert any("uq_items_sku" in name for _, _, _, name in finished)


def test_each_index_build_in_create_all_answers_its_own_job_id(engine: sa.Engine) -> None:
    """Every CREATE INDEX ASYNC of a create_all() answers a one-column row with
    the id of its own job, as DSQL does, for a listener that reads it."""
    metadata = sa.MetaData()
    for name in ("a", "b", "c"):
        sa.Table(
            f"jobs_{name}",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("code", sa.String(20)),
            sa.Index(f"ix_jobs_{name}_code", "code"),
            sa.Index(f"uq_jobs_{name}_id_code", "id", "code", unique=True),
        )
    answered: dict[str, tuple[list[str], str]] = {}

    def read_job_row(conn: Any, clause: Any, multiparams: Any, params: Any, options: Any, result: Any) -> None:
        if isinstance(clause, sa.schema.CreateIndex):
            answered[clause.element.name] = (list(result.keys()), result.scalar_one())

    sa.event.listen(engine, "after_execute", read_job_row)
    try:
        metadata.create_all(engine)
    finally:
        sa.event.remove(engine, "after_execute", read_job_row)
    assert len(answered) == 6
    assert {tuple(keys) for keys, _ in answered.values()} == {("job_id",)}
    with engine.connect() as conn:
        recorded = dict(
            conn.execute(
                sa.text("SELECT job_id, object_name FROM sys.jobs WHERE object_name LIKE 'Index %'")
            ).all()
        )
    for index, (_, job_id) in answered.items():
        assert index in recorded[job_id], (index, job_id, recorded)


def test_unique_index_over_duplicates_fails_naming_the_index(
    engine: sa.Engine, people: sa.Table
) -> None:
    index = sa.Index("uq_people_email", people.c.email, unique=True)
    with pytest.raises(IndexJobFailed) as info:
        index.create(engine)
    error = info.value
    assert "uq_people_email" in str(error) and "uq_people_email" in error.subject
    assert error.details and "duplicate" in error.details
    assert error.job_id
    ((job_type, status, details, _),) = jobs(engine)
    assert (job_type, status) == ("INDEX_BUILD", "failed") and "duplicate" in str(details)


def test_table_create_with_failing_index_via_metadata(engine: sa.Engine, people: sa.Table) -> None:
    """create_all on an existing table skips it; Index.create inside a connection block fails at its end."""
    with pytest.raises(IndexJobFailed, match="uq_people_email2"), engine.connect() as conn:
        sa.Index("uq_people_email2", people.c.email, unique=True).create(conn)


def test_one_failure_among_several_jobs(engine: sa.Engine, people: sa.Table) -> None:
    metadata = sa.MetaData()
    other = sa.Table(
        "other",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("v", sa.Integer),
        sa.Index("ix_other_v", "v"),
    )
    metadata.create_all(engine)
    assert other.name in sa.inspect(engine).get_table_names()
    with pytest.raises(IndexJobFailed, match="uq_people_email3"), engine.connect() as conn:
        sa.Index("ix_people_age", people.c.age).create(conn)
        sa.Index("uq_people_email3", people.c.email, unique=True).create(conn)
    statuses = sorted(s for _, s, _, _ in jobs(engine))
    assert statuses == ["completed", "completed", "failed"]


def test_wait_for_jobs_false(no_wait_engine: sa.Engine, people: sa.Table) -> None:
    index = sa.Index("uq_people_email", people.c.email, unique=True)
    index.create(no_wait_engine)  # returns without waiting, so without raising
    ((job_type, status, _, _),) = jobs(no_wait_engine)
    assert job_type == "INDEX_BUILD" and status == "failed"
    with no_wait_engine.connect() as conn:
        job_id = conn.execute(sa.text("SELECT job_id FROM sys.jobs")).scalar_one()
        conn.rollback()  # wait outside a transaction, as after the DDL itself
        dbapi_conn = conn.connection.dbapi_connection
        with pytest.raises(IndexJobFailed, match=job_id):
            no_wait_engine.dialect.wait_for_job(dbapi_conn, job_id, "uq_people_email")  # type: ignore[attr-defined]


def test_wait_for_jobs_from_url(dsql_url: URL, people: sa.Table) -> None:
    engine = sa.create_engine(dsql_url.update_query_dict({"wait_for_jobs": "false"}))
    try:
        sa.Index("uq_people_email", people.c.email, unique=True).create(engine)
        assert engine.dialect.wait_for_jobs is False  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_create_index_async_returns_a_job_id(engine: sa.Engine, people: sa.Table) -> None:
    with engine.connect() as conn:
        result = conn.exec_driver_sql("CREATE INDEX ASYNC ix_people_age ON people (age)")
        (job_id,) = result.one()
        conn.commit()
    assert isinstance(job_id, str) and job_id
    with engine.connect() as conn:
        succeeded = conn.exec_driver_sql("CALL sys.wait_for_job(%(id)s)", {"id": job_id}).scalar()
    assert succeeded is True


def test_constraint_validation_job(engine: sa.Engine, people: sa.Table) -> None:
    good = sa.CheckConstraint(people.c.id > 0, name="ck_people_id")
    bad = sa.CheckConstraint(people.c.age > 0, name="ck_people_age")
    for constraint in (good, bad):
        people.append_constraint(constraint)
    with engine.connect() as conn:
        conn.execute(AddConstraint(good))
        conn.commit()
    with pytest.raises(IndexJobFailed, match="ck_people_age"), engine.connect() as conn:
        conn.execute(AddConstraint(bad))
    assert sorted((t, s) for t, s, _, _ in jobs(engine)) == [
        ("VALIDATE_CONSTRAINT", "completed"),
        ("VALIDATE_CONSTRAINT", "failed"),
    ]


def test_failed_create_does_not_stop_later_waiting(dsql_url: URL, people: sa.Table) -> None:
    """A create() that fails half-way (here at compile time) must not leave the pooled
    connection thinking a DDL operation is still open (it would never wait again)."""
    from aurora_dsql_sqlalchemy.errors import DSQLUnsupportedError
    from sqlalchemy.dialects import postgresql as pg

    engine = sa.create_engine(dsql_url, pool_size=1, max_overflow=0)
    try:
        bad = sa.Table(
            "bad",
            sa.MetaData(),
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("v", pg.INET),
        )
        with pytest.raises(DSQLUnsupportedError):
            bad.create(engine)
        with pytest.raises(IndexJobFailed, match="uq_people_email"):
            sa.Index("uq_people_email", people.c.email, unique=True).create(engine)
    finally:
        engine.dispose()


def test_jobs_of_a_create_all_that_fails_half_way_are_recorded(dsql_url: URL) -> None:
    """Inside create_all() local jobs are recorded together at its end; when it
    fails before its end, the indexes already built are recorded all the same."""
    from aurora_dsql_sqlalchemy.errors import DSQLUnsupportedError
    from sqlalchemy.dialects import postgresql as pg

    engine = sa.create_engine(dsql_url, pool_size=1, max_overflow=0)
    try:
        metadata = sa.MetaData()
        sa.Table("a_first", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.Integer, index=True))
        sa.Table("b_bad", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", pg.INET))
        with pytest.raises(DSQLUnsupportedError):
            metadata.create_all(engine)
        assert [(t, s, n) for t, s, _, n in jobs(engine)] == [
            ("INDEX_BUILD", "completed", "Index 'ix_a_first_v' on 'a_first'")
        ]
    finally:
        engine.dispose()
