"""Unit tests for aurora_dsql_sqlalchemy.retry: classification, backoff, policy
resolution and the retry loop.

No database server: errors are real driver exception objects (psycopg 3,
psycopg2) wrapped the way SQLAlchemy wraps them; the loop runs on an
in-process SQLite engine, with ``fn`` raising the errors a DSQL cluster would.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import psycopg
import psycopg.errors as pg3
import psycopg2.errors as pg2
import pytest
from aurora_dsql_sqlalchemy import rules
from aurora_dsql_sqlalchemy.errors import (
    CommitOutcomeUnknown,
    RetriesExhausted,
    TransactionLimitExceeded,
)
from aurora_dsql_sqlalchemy.retry import (
    RETRY_POLICY,
    Clock,
    RetryEvent,
    RetryPolicy,
    RetryStats,
    backoff_delay,
    classify,
    is_retryable,
    reset_stats,
    resolve_policy,
    run_transaction,
    stats,
    transactional,
)
from sqlalchemy import Integer, String, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

FAST = RetryPolicy(max_retries=3, base_delay=0.0, max_delay=0.0)

OC000 = "change conflicts with another transaction (OC000)"
OC001 = "schema has been updated by another transaction (OC001)"
OC000_OLD = "mutation conflicts with another transaction, retry as needed (OC000)"
OC001_OLD = "schema has been updated by another transaction, please retry: (OC001)"
PG_SERIALIZATION = "could not serialize access due to concurrent update"


class Pg2Error(pg2.Error):
    """psycopg2 sets ``pgcode`` only on errors it builds from a server answer;
    this stands in for one (its pgcode/pgerror are class attributes)."""

    pgcode: str | None = None
    pgerror: str | None = None


def pg2_error(sqlstate: str, message: str) -> pg2.Error:
    cls = type(
        f"Pg2_{sqlstate}",
        (Pg2Error,),
        {"pgcode": sqlstate, "pgerror": f"ERROR:  {message}\n"},
    )
    return cls(message)


def wrapped(orig: Exception, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    """The exception SQLAlchemy raises for ``orig``."""
    return sa_exc.DBAPIError.instance(
        "UPDATE accounts SET balance = %(secret)s",
        {"secret": "hunter2"},
        orig,
        pg2.Error if isinstance(orig, pg2.Error) else psycopg.Error,
        connection_invalidated=invalidated,
    )


# -- classify -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "kind", "code"),
    [
        (OC000, "occ-data", "OC000"),
        (OC001, "occ-schema", "OC001"),
        (OC000_OLD, "occ-data", "OC000"),
        (OC001_OLD, "occ-schema", "OC001"),
        (PG_SERIALIZATION, "serialization", None),
    ],
)
@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_40001_is_retryable_and_reports_the_oc_code(
    message: str, kind: str, code: str | None, driver: str
) -> None:
    orig = pg3.SerializationFailure(message) if driver == "psycopg" else pg2_error("40001", message)
    for exc in (orig, wrapped(orig)):
        verdict = classify(exc)
        assert verdict.retryable
        assert verdict.kind == kind
        assert verdict.sqlstate == "40001"
        assert verdict.oc_code == code
        assert is_retryable(exc)
    if code:
        assert verdict.rule_id == kind
        assert code in verdict.describe()


def test_40001_stays_retryable_at_commit() -> None:
    verdict = classify(wrapped(pg3.SerializationFailure(OC000)), at_commit=True)
    assert verdict.retryable and verdict.kind == "occ-data"


def test_occ_rules_in_rules_module_classify_as_retryable() -> None:
    for rule_id in ("occ-data", "occ-schema"):
        r = rules.rule(rule_id)
        assert classify(pg3.SerializationFailure(r.server_message())).kind == rule_id


def test_server_unavailable_is_retryable_but_not_at_commit() -> None:
    exc = wrapped(pg3.InternalError_("server unavailable"))
    assert classify(exc).kind == "server-unavailable"
    assert is_retryable(exc)
    assert classify(exc, at_commit=True).kind == "commit-outcome-unknown"
    assert not classify(exc, at_commit=True).retryable
    assert not is_retryable(wrapped(pg3.InternalError_("something else broke")))
    assert is_retryable(pg2_error("XX000", "Server Unavailable"))


@pytest.mark.parametrize(
    ("sqlstate", "message"),
    [
        ("23505", 'duplicate key value violates unique constraint "t_pkey"'),
        ("42601", 'syntax error at or near "SELEC"'),
        ("0A000", "unsupported statement: TRUNCATE"),
        (
            "25P02",
            "current transaction is aborted, commands ignored until end of transaction block",
        ),
    ],
)
def test_other_errors_are_not_retryable(sqlstate: str, message: str) -> None:
    for orig in (pg3.lookup(sqlstate)(message), pg2_error(sqlstate, message)):
        verdict = classify(wrapped(orig))
        assert not verdict.retryable
        assert verdict.kind == "other"
        assert verdict.sqlstate == sqlstate


@pytest.mark.parametrize("rule_id", ["transaction-rows", "transaction-size", "transaction-age"])
def test_transaction_limits_are_recognised(rule_id: str) -> None:
    message = rules.rule(rule_id).server_message()
    verdict = classify(wrapped(pg3.ProgramLimitExceeded(message)))
    assert verdict.kind == "transaction-limit"
    assert verdict.rule_id == rule_id
    assert not verdict.retryable
    other_54000 = classify(pg2_error("54000", rules.rule("indexes-per-table").server_message()))
    assert other_54000.kind == "other"


def test_dropped_connection_retryable_before_commit_unknown_at_commit() -> None:
    exc = wrapped(
        psycopg.OperationalError("server closed the connection unexpectedly"),
        invalidated=True,
    )
    assert classify(exc).kind == "connection-lost"
    assert is_retryable(exc)
    at_commit = classify(exc, at_commit=True)
    assert at_commit.kind == "commit-outcome-unknown" and not at_commit.retryable
    # a driver error without any server answer at COMMIT: unknown too
    assert classify(
        wrapped(psycopg.OperationalError("consuming input failed")), at_commit=True
    ).kind == ("commit-outcome-unknown")
    # ... but before COMMIT, without invalidation, it is just an error
    assert not is_retryable(wrapped(psycopg.OperationalError("consuming input failed")))


def test_auth_failure_is_not_retryable_even_when_the_connection_is_invalidated() -> None:
    orig = pg3.lookup("08006")("unable to accept connection, access denied")
    assert not is_retryable(wrapped(orig, invalidated=True))


def test_explicit_cause_chains_are_followed_and_helper_errors_are_final() -> None:
    class AppError(Exception):
        pass

    try:
        try:
            raise wrapped(pg3.SerializationFailure(OC000))
        except sa_exc.DBAPIError as inner:
            raise AppError("saving order failed") from inner
    except AppError as outer:
        assert is_retryable(outer)
    assert not is_retryable(ValueError("x"))
    assert not is_retryable(CommitOutcomeUnknown("?"))
    assert classify(CommitOutcomeUnknown("?")).kind == "commit-outcome-unknown"
    assert not is_retryable(RetriesExhausted("gave up", []))


def test_describe_carries_no_sql_or_parameters() -> None:
    label = classify(wrapped(pg3.SerializationFailure(OC000))).describe()
    assert label == "SQLSTATE 40001 (OC000)"
    assert classify(wrapped(pg3.SerializationFailure(PG_SERIALIZATION))).describe() == (
        "SQLSTATE 40001 (serialization)"
    )


# -- backoff and policy ---------------------------------------------------------------------------


def test_default_is_bounded_by_elapsed_time_not_by_a_count() -> None:
    p = RETRY_POLICY
    assert p.max_retries is None and p.max_attempts is None
    assert p.max_elapsed == 30.0
    # as the README and RetryPolicy's docs say: from 32 ms, capped at 500 ms, full jitter
    assert (p.base_delay, p.max_delay, p.jitter) == (0.032, 0.5, 1.0)
    assert rules.RETRY_POLICY is RETRY_POLICY  # still importable from its old home
    assert rules.RetryPolicy is RetryPolicy
    with pytest.raises(ValueError, match="needs a bound"):
        RetryPolicy(max_elapsed=None)
    assert RetryPolicy(max_retries=3, max_elapsed=None).max_attempts == 4


def test_backoff_is_exponential_capped_and_jittered() -> None:
    no_jitter = RetryPolicy(base_delay=0.001, max_delay=0.1, jitter=0.0)
    assert [backoff_delay(no_jitter, n) for n in (1, 2, 3, 4)] == [
        0.001,
        0.002,
        0.004,
        0.008,
    ]
    assert backoff_delay(no_jitter, 20) == 0.1
    assert backoff_delay(no_jitter, 10_000) == 0.1  # no overflow

    full = RetryPolicy(base_delay=0.001, max_delay=0.1, jitter=1.0)
    assert backoff_delay(full, 8, rand=lambda: 0.0) == pytest.approx(0.1)
    assert backoff_delay(full, 8, rand=lambda: 0.999999) == pytest.approx(0.0, abs=1e-6)
    rng = random.Random(7)
    samples = [backoff_delay(full, 8, rand=rng.random) for _ in range(500)]
    assert 0 <= min(samples) < 0.01 and 0.09 < max(samples) <= 0.1

    default = RETRY_POLICY
    for n in range(1, 6):
        d = backoff_delay(default, n)
        ceiling = min(default.max_delay, default.base_delay * 2 ** (n - 1))
        assert ceiling * (1 - default.jitter) <= d <= ceiling


def test_policy_resolution_order() -> None:
    engine = create_engine("sqlite://")
    assert resolve_policy(engine) is RETRY_POLICY
    tuned = RetryPolicy(max_retries=9)
    tuned_engine = engine.execution_options(retry_policy=tuned)
    assert resolve_policy(tuned_engine) is tuned
    assert resolve_policy(sessionmaker(bind=tuned_engine)) is tuned
    assert resolve_policy(Session(tuned_engine)) is tuned
    assert resolve_policy(tuned_engine, max_retries=2).max_retries == 2
    assert resolve_policy(tuned_engine, max_retries=2).base_delay == tuned.base_delay
    assert resolve_policy(tuned_engine, policy=FAST) is FAST
    with tuned_engine.connect() as conn:
        assert resolve_policy(conn) is tuned
    with pytest.raises(TypeError, match="RetryPolicy"):
        resolve_policy(engine.execution_options(retry_policy={"max_retries": 1}))
    with pytest.raises(ValueError, match="max_retries"):
        resolve_policy(engine, max_retries=-1)


# -- the loop ---------------------------------------------------------------------------------------


@pytest.fixture
def engine() -> Engine:
    eng = create_engine("sqlite://")
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1, 0)"))
    return eng


@dataclass
class Flaky:
    """A unit of work that fails with ``errors`` (one per attempt) before succeeding."""

    errors: list[BaseException]
    calls: int = 0

    def __call__(self, conn: Connection) -> int:
        self.calls += 1
        conn.execute(text("UPDATE t SET n = n + 1 WHERE id = 1"))
        if self.errors:
            raise self.errors.pop(0)
        return int(conn.scalar(text("SELECT n FROM t WHERE id = 1")))


def occ() -> sa_exc.DBAPIError:
    return wrapped(pg3.SerializationFailure(OC000))


def value(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT n FROM t WHERE id = 1")))


def test_retries_until_success_and_reports_each_retry(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[RetryEvent] = []
    work = Flaky([occ(), wrapped(pg3.SerializationFailure(OC001))])
    with caplog.at_level(logging.DEBUG, logger="aurora_dsql_sqlalchemy.retry"):
        result = run_transaction(engine, work, policy=FAST, on_retry=events.append)
    assert result == 1 and work.calls == 3
    assert value(engine) == 1  # failed attempts were rolled back
    assert [(e.attempt, e.max_attempts, e.sqlstate) for e in events] == [
        (1, 4, "40001"),
        (2, 4, "40001"),
    ]
    assert [e.classification.oc_code for e in events] == ["OC000", "OC001"]
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 2
    assert "attempt 1 of 4" in infos[0].getMessage() and "40001" in infos[0].getMessage()
    assert "OC000" in infos[0].getMessage() and "ms" in infos[0].getMessage()
    assert "hunter2" not in caplog.text and "UPDATE accounts" not in caplog.text


def test_gives_up_with_every_cause(engine: Engine) -> None:
    errors = [occ() for _ in range(10)]
    work = Flaky(list(errors))
    with pytest.raises(RetriesExhausted) as info:
        run_transaction(engine, work, policy=FAST, max_retries=2)
    assert work.calls == 3
    assert info.value.attempts == errors[:3]
    assert info.value.__cause__ is errors[2]
    assert "3 attempts" in str(info.value) and "attempt 3: SQLSTATE 40001 (OC000)" in str(
        info.value
    )
    assert value(engine) == 0


def test_long_failure_lists_are_summarised(engine: Engine) -> None:
    errors = [occ() for _ in range(7)] + [wrapped(pg3.SerializationFailure(OC001))]
    with pytest.raises(RetriesExhausted) as info:
        run_transaction(engine, Flaky(list(errors)), policy=FAST, max_retries=7)
    message = str(info.value)
    assert "SQLSTATE 40001 (OC000) x 7, SQLSTATE 40001 (OC001) x 1" in message
    assert "last attempt 8: SQLSTATE 40001 (OC001)" in message
    assert info.value.attempts == errors


def test_gives_up_when_the_time_budget_is_spent(engine: Engine) -> None:
    work = Flaky([occ() for _ in range(100)])
    policy = RetryPolicy(
        max_retries=100, base_delay=0.02, max_delay=0.02, jitter=0.0, max_elapsed=0.05
    )
    with pytest.raises(RetriesExhausted, match="budget"):
        run_transaction(engine, work, policy=policy)
    assert 1 <= work.calls <= 4  # fewer when the machine is slow, never more


@pytest.mark.parametrize(
    "error",
    [
        wrapped(pg3.UniqueViolation('duplicate key value violates unique constraint "t_pkey"')),
        wrapped(pg2_error("42601", 'syntax error at or near "SELEC"')),
        ValueError("application bug"),
    ],
)
def test_non_retryable_errors_are_raised_after_one_attempt(
    engine: Engine, error: BaseException
) -> None:
    events: list[RetryEvent] = []
    work = Flaky([error])
    with pytest.raises(type(error)) as info:
        run_transaction(engine, work, policy=FAST, on_retry=events.append)
    assert info.value is error
    assert work.calls == 1 and events == []
    assert value(engine) == 0


def test_transaction_limit_is_a_clear_error_never_retried(engine: Engine) -> None:
    limit = wrapped(pg3.ProgramLimitExceeded(rules.rule("transaction-rows").server_message()))
    work = Flaky([limit])
    with pytest.raises(TransactionLimitExceeded, match="chunked_write") as info:
        run_transaction(engine, work, policy=FAST)
    assert work.calls == 1
    assert info.value.__cause__ is limit
    assert "3,000" in str(info.value)


def fail_commit_with(engine: Engine, errors: list[BaseException]) -> None:
    """Make the next COMMITs fail with ``errors`` (as the driver's commit would)."""

    @event.listens_for(engine, "commit")
    def _fail(conn: Connection) -> None:
        if errors:
            raise errors.pop(0)


def test_conflict_at_commit_is_retried(engine: Engine) -> None:
    fail_commit_with(engine, [occ(), occ()])
    work = Flaky([])
    assert run_transaction(engine, work, policy=FAST) == 1
    assert work.calls == 3


def test_connection_lost_at_commit_is_outcome_unknown(engine: Engine) -> None:
    lost = wrapped(
        psycopg.OperationalError("server closed the connection unexpectedly"),
        invalidated=True,
    )
    fail_commit_with(engine, [lost])
    work = Flaky([])
    with pytest.raises(CommitOutcomeUnknown, match="may or may not have committed") as info:
        run_transaction(engine, work, policy=FAST)
    assert work.calls == 1
    assert info.value.__cause__ is lost


def test_connection_lost_before_commit_is_retried(engine: Engine) -> None:
    lost = wrapped(
        psycopg.OperationalError("server closed the connection unexpectedly"),
        invalidated=True,
    )
    work = Flaky([lost])
    assert run_transaction(engine, work, policy=FAST) == 1
    assert work.calls == 2


def test_engine_policy_and_hook_from_execution_options(engine: Engine) -> None:
    events: list[RetryEvent] = []
    tuned = engine.execution_options(
        retry_policy=RetryPolicy(max_retries=1, base_delay=0), on_retry=events.append
    )
    work = Flaky([occ(), occ()])
    with pytest.raises(RetriesExhausted):
        run_transaction(tuned, work)
    assert work.calls == 2 and len(events) == 1
    work = Flaky([occ(), occ()])
    assert run_transaction(tuned, work, max_retries=2) == 1


def test_connection_bind_and_its_transaction_state(engine: Engine) -> None:
    with engine.connect() as conn:
        assert run_transaction(conn, Flaky([occ()]), policy=FAST) == 1
        conn.execute(text("SELECT 1"))  # autobegin
        with pytest.raises(sa_exc.InvalidRequestError, match="no transaction in progress"):
            run_transaction(conn, Flaky([]), policy=FAST)


def test_unknown_bind_type() -> None:
    with pytest.raises(TypeError, match="run_transaction_async"):
        run_transaction("sqlite://", lambda c: None)  # type: ignore[call-overload]


def test_decorator(engine: Engine) -> None:
    pending = [occ()]

    @transactional(engine, policy=FAST)
    def add(conn: Connection, amount: int, *, times: int = 1) -> int:
        conn.execute(text("UPDATE t SET n = n + :a WHERE id = 1"), {"a": amount * times})
        if pending:
            raise pending.pop()
        return int(conn.scalar(text("SELECT n FROM t")))

    assert add(5, times=2) == 10
    assert add.__name__ == "add"


# -- ORM ----------------------------------------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


@pytest.fixture
def orm_engine() -> Engine:
    eng = create_engine("sqlite://")
    Base.metadata.create_all(eng)
    with Session(eng) as s, s.begin():
        s.add(Item(id=1, name="one"))
    return eng


def test_sessionmaker_gives_each_attempt_a_clean_session(orm_engine: Engine) -> None:
    factory = sessionmaker(bind=orm_engine)  # expire_on_commit=True by default
    sessions: list[Session] = []
    pending = [occ()]

    def unit(session: Session) -> Item:
        sessions.append(session)
        assert not session.new and not session.dirty
        assert len(session.identity_map) == 0  # nothing from the failed attempt
        item = session.get(Item, 1)
        assert item is not None
        item.name = f"renamed by attempt {len(sessions)}"
        session.add(Item(id=2, name="two"))
        session.flush()  # half-flushed when the error hits
        if pending:
            raise pending.pop()
        return item

    item = run_transaction(factory, unit, policy=FAST)
    assert len(sessions) == 2 and sessions[0] is not sessions[1]
    # usable after return: detached but loaded, no DetachedInstanceError
    assert item.name == "renamed by attempt 2"
    with Session(orm_engine) as s:
        assert sorted((i.id, i.name) for i in s.query(Item)) == [
            (1, "renamed by attempt 2"),
            (2, "two"),
        ]


def test_session_bind_is_rolled_back_between_attempts(orm_engine: Engine) -> None:
    pending = [occ()]
    with Session(orm_engine) as session:
        calls = 0

        def unit(s: Session) -> Item:
            nonlocal calls
            calls += 1
            assert not s.new  # the failed attempt's new object is gone
            item = s.get(Item, 1)
            assert item is not None and item.name == "one"  # not the failed attempt's change
            item.name = "changed"
            s.add(Item(id=3, name="three"))
            if pending:
                raise pending.pop()
            return item

        item = run_transaction(session, unit, policy=FAST)
        assert calls == 2
        assert item in session and item.name == "changed"


def test_flush_errors_are_statement_errors_not_commit_errors(
    orm_engine: Engine,
) -> None:
    # A flush that fails inside the helper (here: a duplicate key in SQLite) is
    # raised as itself, never as CommitOutcomeUnknown.
    factory = sessionmaker(bind=orm_engine)
    with pytest.raises(sa_exc.IntegrityError):
        run_transaction(factory, lambda s: s.add(Item(id=1, name="dup")), policy=FAST)


# -- keyword arguments, clock, decorator misuse ----------------------------------------------------


def test_a_misspelt_keyword_is_a_type_error(engine: Engine) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'max_retry'"):
        run_transaction(engine, Flaky([]), max_retry=3)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="unexpected keyword argument 'retries'"):
        transactional(engine, retries=3)  # type: ignore[call-arg]


class FakeClock(Clock):
    """Time that moves only when the loop waits (plus ``step`` per reading)."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 1000.0
        self.step = step
        self.waits: list[float] = []

    def monotonic(self) -> float:
        self.now += self.step
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_default_budget_is_thirty_seconds_of_retrying(engine: Engine) -> None:
    clock = FakeClock(step=0.05)  # each attempt "takes" 50 ms
    work = Flaky([occ() for _ in range(100_000)])
    with pytest.raises(RetriesExhausted, match="30 s budget") as info:
        run_transaction(engine, work, clock=clock)
    assert 29.0 < clock.now - 1000.0 <= 30.1
    assert work.calls == len(info.value.attempts) > 50  # far more than a handful
    assert max(clock.waits) <= RETRY_POLICY.max_delay


def test_a_hot_row_that_clears_within_the_budget_commits(engine: Engine) -> None:
    clock = FakeClock(step=0.001)
    # 80 conflicts in a row: about 20 s of waits (at most 500 ms each, 250 on average)
    work = Flaky([occ() for _ in range(80)])
    assert run_transaction(engine, work, clock=clock) == 1
    assert work.calls == 81
    assert clock.now - 1000.0 < 30.0 and max(clock.waits) <= RETRY_POLICY.max_delay


def test_transactional_without_arguments_is_refused_when_applied() -> None:
    def body(session: Session) -> None:
        raise AssertionError("never runs")

    with pytest.raises(TypeError, match=r"write @transactional\(Session\)"):
        transactional(body)
    with pytest.raises(TypeError, match="run_transaction_async"):
        transactional("sqlite://")(body)


def test_commit_and_rollback_inside_are_refused_with_the_data_unchanged(
    engine: Engine, orm_engine: Engine
) -> None:
    def commits(conn: Connection) -> None:
        conn.execute(text("UPDATE t SET n = 5"))
        conn.commit()

    with pytest.raises(sa_exc.InvalidRequestError, match=r"conn.commit\(\) was called inside"):
        run_transaction(engine, commits, policy=FAST)
    assert value(engine) == 0

    def rolls_back(session: Session) -> None:
        item = session.get(Item, 1)
        assert item is not None
        item.name = "lost"
        session.rollback()

    with pytest.raises(sa_exc.InvalidRequestError, match=r"session.rollback\(\)"):
        run_transaction(sessionmaker(bind=orm_engine), rolls_back, policy=FAST)
    with Session(orm_engine) as s:
        assert s.get(Item, 1).name == "one"  # type: ignore[union-attr]
    assert not is_retryable(sa_exc.InvalidRequestError("x"))


# -- per-engine counters ---------------------------------------------------------------------------


def test_per_engine_counters(engine: Engine) -> None:
    reset_stats(engine)
    other = create_engine("sqlite://")
    run_transaction(engine, Flaky([occ(), wrapped(pg3.SerializationFailure(OC001))]), policy=FAST)
    run_transaction(engine, Flaky([wrapped(pg3.SerializationFailure(PG_SERIALIZATION))]), policy=FAST)
    with pytest.raises(RetriesExhausted):
        run_transaction(engine, Flaky([occ(), occ()]), policy=FAST, max_retries=1)
    with pytest.raises(sa_exc.IntegrityError):
        run_transaction(engine, Flaky([wrapped(pg3.UniqueViolation("dup"))]), policy=FAST)
    fail_commit_with(
        engine,
        [wrapped(psycopg.OperationalError("server closed the connection"), invalidated=True)],
    )
    with pytest.raises(CommitOutcomeUnknown):
        run_transaction(engine, Flaky([]), policy=FAST)

    snapshot = stats(engine.execution_options(retry_policy=FAST))  # shares its parent's
    assert snapshot == stats(sessionmaker(bind=engine))
    assert snapshot.attempts == 3 + 2 + 2 + 1 + 1
    assert snapshot.commits == 2 and snapshot.retries == 2 + 1 + 1
    assert dict(snapshot.conflicts) == {"OC000": 3, "OC001": 1, "40001": 1}
    assert snapshot.retries_exhausted == 1 and snapshot.commit_outcomes_unknown == 1
    assert dict(snapshot.faults) == {"40001": 5, "23505": 1, "commit-outcome-unknown": 1}
    summary = snapshot.summary()
    assert "9 attempts, 2 committed, 4 retries" in summary
    assert "OC000 x 3, OC001 x 1, other 40001 x 1" in summary
    assert "hunter2" not in summary and "UPDATE" not in summary and "sqlite" not in summary
    assert stats(other) == RetryStats()
    reset_stats(engine)
    assert stats(engine).attempts == 0
