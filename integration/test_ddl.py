"""The DDL the dialect emits runs on PostgreSQL (local mode) and behaves as declared.

Every test creates its schema with ``create_all`` through the ``auroradsql``
dialect (strict local mode unless stated), then checks the result in the
catalog and by using it: identity and UUID keys generate values, enum CHECKs,
NULLS NOT DISTINCT and foreign keys are enforced, indexes carry their
INCLUDE / WHERE / NULLS options.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.compiler import DSQLSchemaWarning
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import URL
from sqlalchemy.schema import AddConstraint

pytestmark = pytest.mark.usefixtures("fresh_schema")


@pytest.fixture(scope="module")
def admin(pg_url: URL, driver: str) -> Iterator[sa.Engine]:
    """The plain PostgreSQL dialect, to look at the catalog."""
    # the plain PostgreSQL dialect with the driver under test (the only one installed in CI)
    eng = sa.create_engine(
        pg_url.set(drivername=f"postgresql+{driver}"), isolation_level="AUTOCOMMIT"
    )
    yield eng
    eng.dispose()


def indexdef(admin: sa.Engine, name: str) -> str:
    with admin.connect() as conn:
        value = conn.execute(
            sa.text(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname = :n"
            ),
            {"n": name},
        ).scalar()
    assert value is not None, f"index {name!r} does not exist"
    return str(value)


def sqlstate(error: sa_exc.DBAPIError) -> str | None:
    orig = error.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def shop_metadata() -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "customers",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("email", sa.String(100)),
        sa.Column("kind", sa.Enum("person", "company", name="customer_kind"), nullable=False),
        sa.Column("doc", pg.JSONB),
        sa.Index("ix_customers_email", "email", auroradsql_include=["name", "kind"]),
        sa.Index("uq_customers_email", "email", unique=True, auroradsql_nulls_not_distinct=True),
        sa.Index("ix_customers_lower_name", sa.func.lower(sa.column("name"))),
    )
    orders = sa.Table(
        "orders",
        metadata,
        sa.Column(
            "id", pg.UUID(as_uuid=True), primary_key=True, default=sa.text("gen_random_uuid()")
        ),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("total", sa.Numeric(12, 2), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("ticket", sa.Integer, sa.Identity()),
    )
    sa.Index(
        "ix_orders_open",
        orders.c.customer_id,
        orders.c.note.nulls_first(),
        auroradsql_where=orders.c.total > 0,
    )
    sa.Table(
        "payments",
        metadata,
        sa.Column("id", sa.Uuid, primary_key=True, server_default=sa.func.gen_random_uuid()),
        sa.Column(
            "order_id", pg.UUID(as_uuid=True), sa.ForeignKey("orders.id", ondelete="CASCADE")
        ),
        sa.Column("seq", sa.BigInteger, sa.Sequence("payment_seq")),
    )
    return metadata


def test_create_all_and_use(engine: sa.Engine, admin: sa.Engine) -> None:
    metadata = shop_metadata()
    metadata.create_all(engine)
    customers, orders, payments = (metadata.tables[n] for n in ("customers", "orders", "payments"))

    # identity and UUID keys generate values (client default and server default)
    with engine.begin() as conn:
        cid = conn.execute(
            customers.insert().values(name="Ann", email="a@x", kind="person")
        ).inserted_primary_key[0]  # type: ignore[index]
        assert isinstance(cid, int)
        oid = conn.execute(orders.insert().values(customer_id=cid, total=10)).inserted_primary_key[
            0
        ]  # type: ignore[index]
        assert isinstance(oid, uuid.UUID)
        pid = conn.execute(
            payments.insert()
            .values(order_id=oid, seq=sa.Sequence("payment_seq").next_value())
            .returning(payments.c.id)
        ).scalar_one()
        assert isinstance(pid, uuid.UUID)
        ticket = conn.execute(sa.select(orders.c.ticket)).scalar_one()
        assert isinstance(ticket, int)

    with admin.connect() as conn:
        types: dict[str, Any] = dict(
            conn.execute(
                sa.text(
                    "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'public'"
                )
            )
            .all()
        )
        caches: dict[str, Any] = dict(
            conn.execute(
                sa.text(
                    "SELECT sequencename, cache_size FROM pg_sequences WHERE schemaname = 'public'"
                )
            )
            .all()
        )
    assert types["customers.id"] == "bigint"  # Integer autoincrement key -> BIGINT identity
    assert types["orders.ticket"] == "bigint"  # Identity() on Integer -> BIGINT
    assert types["customers.kind"] == "character varying"  # no CREATE TYPE
    assert types["orders.id"] == "uuid"
    # CACHE 1 unless the model or identity_cache= says otherwise: PostgreSQL's order
    assert caches == {"customers_id_seq": 1, "orders_ticket_seq": 1, "payment_seq": 1}

    assert indexdef(admin, "ix_customers_email").endswith(
        "USING btree (email) INCLUDE (name, kind)"
    )
    assert indexdef(admin, "uq_customers_email").endswith("(email) NULLS NOT DISTINCT")
    assert "(lower((name)::text))" in indexdef(admin, "ix_customers_lower_name")
    assert indexdef(admin, "ix_orders_open").endswith(
        "(customer_id, note NULLS FIRST) WHERE (total > (0)::numeric)"
    )

    # enum CHECK, foreign key and NULLS NOT DISTINCT are enforced
    for bad in (
        customers.insert().values(name="Bob", kind="robot"),  # 23514
        orders.insert().values(customer_id=999999, total=1),  # 23503
    ):
        with pytest.raises(sa_exc.IntegrityError), engine.begin() as conn:
            conn.execute(bad)
    with engine.begin() as conn:
        conn.execute(customers.insert().values(name="NoMail", kind="company"))
    with pytest.raises(sa_exc.IntegrityError) as info, engine.begin() as conn:
        conn.execute(
            customers.insert().values(name="NoMail2", kind="company")
        )  # a second NULL email
    assert sqlstate(info.value) == "23505"

    metadata.drop_all(engine)
    with admin.connect() as conn:
        left = conn.execute(
            sa.text("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")
        ).scalar()
    assert left == 0


def test_integer_keys(engine: sa.Engine, admin: sa.Engine) -> None:
    metadata = sa.MetaData()
    small = sa.Table(
        "small_keys",
        metadata,
        sa.Column("id", sa.SmallInteger, primary_key=True),
        sa.Column("v", sa.Text),
    )
    comp = sa.Table(
        "comp_keys",
        metadata,
        sa.Column("a", sa.Integer, primary_key=True),
        sa.Column("b", sa.Integer, primary_key=True),
    )
    child = sa.Table(
        "child_keys",
        metadata,
        sa.Column("id", sa.Integer, sa.ForeignKey("small_keys.id"), primary_key=True),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        key = conn.execute(small.insert().values(v="x")).inserted_primary_key[0]  # type: ignore[index]
        conn.execute(comp.insert().values(a=1, b=2))
        conn.execute(child.insert().values(id=key))
    with admin.connect() as conn:
        identity: dict[str, Any] = dict(
            conn.execute(
                sa.text(
                    "SELECT table_name || '.' || column_name, is_identity FROM information_schema.columns "
                    "WHERE table_schema = 'public'"
                )
            )
            .all()
        )
    assert identity == {
        "small_keys.id": "YES",
        "small_keys.v": "NO",
        "comp_keys.a": "NO",
        "comp_keys.b": "NO",
        "child_keys.id": "NO",
    }


def test_foreign_keys_false(dsql_url: URL, admin: sa.Engine) -> None:
    engine = sa.create_engine(dsql_url, foreign_keys=False)
    try:
        metadata = sa.MetaData()
        sa.Table("p", metadata, sa.Column("id", sa.Integer, primary_key=True))
        child = sa.Table(
            "c",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("p_id", sa.Integer, sa.ForeignKey("p.id")),
        )
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(child.insert().values(p_id=12345))  # no constraint: accepted
    finally:
        engine.dispose()
    with admin.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT count(*) FROM pg_constraint WHERE contype = 'f'")).scalar()
            == 0
        )


def test_cycle_and_added_constraints_are_validated(engine: sa.Engine, admin: sa.Engine) -> None:
    metadata = sa.MetaData()
    a = sa.Table(
        "a",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("b_id", sa.Integer, sa.ForeignKey("b.id", name="fk_a_b", use_alter=True)),
        sa.Column("n", sa.Integer),
    )
    sa.Table(
        "b",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a_id", sa.Integer, sa.ForeignKey("a.id")),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(a.insert().values(n=5))
    check = sa.CheckConstraint(a.c.n > 0, name="ck_a_n")
    a.append_constraint(check)
    with engine.connect() as conn:
        conn.execute(AddConstraint(check))
        conn.commit()
    with admin.connect() as conn:
        rows: dict[str, Any] = dict(
            conn.execute(
                sa.text(
                    "SELECT conname, convalidated FROM pg_constraint WHERE conname IN ('fk_a_b', 'ck_a_n')"
                )
            )
            .all()
        )
    assert rows == {"fk_a_b": True, "ck_a_n": True}  # NOT VALID, then VALIDATE ran
    with pytest.raises(sa_exc.IntegrityError), engine.begin() as conn:
        conn.execute(a.insert().values(n=-1))
    metadata.drop_all(engine)


def test_desc_key_is_emitted_without_direction(engine: sa.Engine, admin: sa.Engine) -> None:
    metadata = sa.MetaData()
    t = sa.Table(
        "events",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime),
    )
    sa.Index("ix_events_at_desc", t.c.at.desc())
    with pytest.warns(DSQLSchemaWarning, match="ix_events_at_desc"):
        metadata.create_all(engine)
    assert indexdef(admin, "ix_events_at_desc").endswith("USING btree (at)")


def test_strict_index_keys_refuses_before_sending(dsql_url: URL, admin: sa.Engine) -> None:
    engine = sa.create_engine(dsql_url, strict_index_keys=True)
    try:
        metadata = sa.MetaData()
        t = sa.Table(
            "events",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("at", sa.DateTime),
        )
        sa.Index("ix_events_at_desc", t.c.at.desc())
        with pytest.raises(sa_exc.CompileError, match="index-sort-order"):
            metadata.create_all(engine)
    finally:
        engine.dispose()
    with admin.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_events_at_desc'")
            ).scalar()
            == 0
        )


def test_numeric_without_precision_warns(engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "ledger",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("amount", sa.Numeric),
    )
    with pytest.warns(DSQLSchemaWarning, match=r"ledger\.amount"):
        metadata.create_all(engine)


def test_refusals_send_nothing(engine: sa.Engine, admin: sa.Engine) -> None:
    from aurora_dsql_sqlalchemy.errors import DSQLUnsupportedError

    for table in (
        sa.Table(
            "t_arr",
            sa.MetaData(),
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("v", pg.ARRAY(sa.Integer)),
        ),
        sa.Table(
            "t_tmp",
            sa.MetaData(),
            sa.Column("id", sa.Integer, primary_key=True),
            prefixes=["TEMPORARY"],
        ),
        sa.Table(
            "t_coll", sa.MetaData(), sa.Column("id", sa.String(5, collation="C"), primary_key=True)
        ),
    ):
        with pytest.raises(DSQLUnsupportedError):
            table.create(engine)
    with admin.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM pg_class WHERE relname LIKE 't\\_%'")
            ).scalar()
            == 0
        )


# -- hostile names, executed ------------------------------------------------------------------

_CHAR = st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn"))
_NAME = st.one_of(
    st.sampled_from(
        [
            "select",
            "user",
            "Order",
            "%s",
            "%(x)s",
            '"; DROP TABLE x; --',
            "a'b",
            "ünï",
            "日本",
            "A b",
        ]
    ),
    st.text(
        alphabet=st.one_of(st.sampled_from(list("\"';%$ -()\\")), _CHAR), min_size=1, max_size=10
    ),
).filter(lambda n: len(n.encode()) <= 40)
_VALUE = st.text(
    alphabet=st.one_of(st.sampled_from(list("\"';%\\")), _CHAR), min_size=0, max_size=8
)


# no shrinking: each example runs DDL on the server; a failure prints its example as found
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(
    names=st.lists(_NAME, min_size=5, max_size=5, unique_by=lambda n: n),
    values=st.lists(_VALUE, min_size=1, max_size=3, unique=True),
)
def test_hostile_names_execute_and_round_trip(
    dsql_url: URL, admin: sa.Engine, names: list[str], values: list[str]
) -> None:
    table_name, id_name, a_name, b_name, index_name = names
    metadata = sa.MetaData()
    t = sa.Table(
        table_name,
        metadata,
        sa.Column(id_name, sa.Integer, primary_key=True),
        sa.Column(a_name, sa.String(40)),
        sa.Column(b_name, sa.Enum(*values, name="e")),
    )
    sa.Index(
        index_name,
        t.c[a_name],
        unique=True,
        auroradsql_include=[b_name],
        auroradsql_where=t.c[a_name] != values[0],
    )
    engine = sa.create_engine(dsql_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(t.insert(), [{a_name: f"v{i}", b_name: v} for i, v in enumerate(values)])
            assert sorted(conn.execute(sa.select(t.c[b_name])).scalars()) == sorted(values)
        with admin.connect() as conn:
            relations = set(
                conn.execute(
                    sa.text(
                        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
                    )
                ).scalars()
            )
            columns = list(
                conn.execute(
                    sa.text(
                        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) AND attnum > 0 ORDER BY attnum"
                    ),
                    {"t": '"' + table_name.replace('"', '""') + '"'},
                ).scalars()
            )
        assert {table_name, index_name} <= relations
        assert columns == [id_name, a_name, b_name]
        metadata.drop_all(engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))


def test_create_all_in_translate_mode(dsql_url: URL) -> None:
    engine = sa.create_engine(dsql_url, local_mode="translate")
    try:
        metadata = shop_metadata()
        metadata.create_all(engine)
        assert engine.dialect.local_mode == "translate"  # type: ignore[attr-defined]
        metadata.drop_all(engine)
    finally:
        engine.dispose()
