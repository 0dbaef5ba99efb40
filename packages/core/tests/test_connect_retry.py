"""The connect policy: which refusals are retried, how long, how fast new connections open.

Driven through real sockets and a real server in ``integration/faults``; here
the decisions themselves, with a clock the test controls.
"""

from __future__ import annotations

import itertools

import pytest
from aurora_dsql_sqlalchemy.connect_retry import (
    ConnectPacer,
    ConnectRefused,
    ConnectRetry,
    ConnectRetryPolicy,
    classify_connect_error,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class OperationalError(Exception):
    """Shaped like a driver's connect error: libpq gives no SQLSTATE at connect."""


def refusal(text: str) -> OperationalError:
    return OperationalError(f'connection to server at "127.0.0.1", port 5432 failed: FATAL:  {text}')


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("too many connections", "too-many-connections"),
        ("rate exceeded", "rate-exceeded"),
        ("waking up cluster, please retry later", "waking-up"),
        ("unable to accept connection, access denied\nHINT:  Signature expired", "signature-expired"),
        ("unable to accept connection, access denied", "access-denied"),
        ("database \"nope\" does not exist", None),
    ],
)
def test_classify(text: str, kind: str | None) -> None:
    assert classify_connect_error(refusal(text)) == kind


def test_sqlstate_decides_when_present() -> None:
    err = OperationalError("refused")
    err.sqlstate = "53400"  # type: ignore[attr-defined]
    assert classify_connect_error(err) == "rate-exceeded"


def _retry(clock: Clock, **policy: float) -> ConnectRetry:
    return ConnectRetry(ConnectRetryPolicy(rate=None, **policy), rand=lambda: 0.0, clock=clock)  # type: ignore[arg-type]


def test_transient_refusal_retried_with_backoff_then_connects() -> None:
    clock = Clock()
    calls: list[float] = []

    def connect() -> str:
        calls.append(clock.now)
        if len(calls) < 4:
            raise refusal("rate exceeded")
        return "connection"

    assert _retry(clock, base_delay=0.1).connect(connect, sleep=clock.sleep) == "connection"
    assert [round(b - a, 3) for a, b in itertools.pairwise(calls)] == [0.1, 0.2, 0.4]


def test_transient_refusal_gives_up_within_max_elapsed() -> None:
    clock = Clock()

    def connect() -> str:
        raise refusal("waking up cluster, please retry later")

    with pytest.raises(ConnectRefused, match=r"waking-up.*still waking up") as info:
        _retry(clock, base_delay=0.5, max_delay=2.0, max_elapsed=5.0).connect(connect, sleep=clock.sleep)
    assert clock.now <= 5.0
    assert info.value.refusal == "waking-up"
    # attempts at 0, 0.5, 1.5 and 3.5 s; the next wait (2 s) would end past 5 s
    assert info.value.attempts == 4
    assert isinstance(info.value.__cause__, OperationalError)


def test_access_denied_without_hint_is_not_retried() -> None:
    clock = Clock()
    calls = []

    def connect() -> str:
        calls.append(1)
        raise refusal("unable to accept connection, access denied")

    with pytest.raises(OperationalError):
        _retry(clock).connect(connect, resign=lambda: None, sleep=clock.sleep)
    assert len(calls) == 1


def test_signature_expired_resigned_once_then_clear_error() -> None:
    clock = Clock()
    resigned = []

    def connect() -> str:
        raise refusal("unable to accept connection, access denied\nHINT:  Signature expired")

    with pytest.raises(ConnectRefused, match="freshly signed") as info:
        _retry(clock).connect(connect, resign=lambda: resigned.append(1), sleep=clock.sleep)
    assert resigned == [1]
    assert info.value.attempts == 2


def test_other_errors_raised_at_once() -> None:
    def connect() -> str:
        raise refusal('database "nope" does not exist')

    with pytest.raises(OperationalError):
        _retry(Clock()).connect(connect)


def test_pacer_holds_new_connections_to_the_rate_after_the_burst() -> None:
    clock = Clock()
    pacer = ConnectPacer(rate=100, burst=10, clock=clock)
    opened = []
    for _ in range(60):
        clock.sleep(pacer.wait())
        opened.append(clock.now)
    assert opened[9] == 0.0  # the burst opens at once
    assert opened[-1] == pytest.approx(0.5)  # 50 more at 100/s
    # never more than burst + rate * t connections by time t
    for index, at in enumerate(opened):
        assert index + 1 <= 10 + 100 * at + 1e-6
