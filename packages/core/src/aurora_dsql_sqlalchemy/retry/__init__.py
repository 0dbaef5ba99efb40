"""Units of work that survive Aurora DSQL's optimistic concurrency.

Aurora DSQL never makes a transaction wait for another: when two transactions
write the same rows, one of them fails, usually at COMMIT, with SQLSTATE
``40001`` (message code ``OC000``; ``OC001`` when the schema changed under
it).  Nothing of that transaction was kept, and the only remedy is to run the
*whole* unit of work again in a new transaction.  This module does that::

    from aurora_dsql_sqlalchemy.retry import run_transaction

    def transfer(conn):
        conn.execute(debit, {"id": 1, "amount": 10})
        conn.execute(credit, {"id": 2, "amount": 10})

    run_transaction(engine, transfer)

:func:`run_transaction` begins a transaction, calls ``fn`` with the
connection (or ORM session), commits, and when a *retryable* error comes up at
any statement or at COMMIT it rolls back, waits (exponential backoff with
jitter, see :class:`RetryPolicy`) and calls ``fn`` again with a fresh
transaction.  ``fn`` may therefore run more than once: it must not have side
effects outside the database that cannot be repeated (sending e-mail,
appending to a list it does not reset, ...).  Nor may it end the transaction
itself: ``commit()`` on its connection or session is refused while it runs
(before anything reaches the server: a commit followed by a conflict and a
re-run would apply part of the work twice), and a ``rollback()`` followed by
a normal return is refused too (nothing is committed, and the caller is told,
instead of a silent success).  To abandon the unit of work, raise.

What is retried (see :func:`classify`):

* SQLSTATE ``40001``: DSQL's ``OC000`` (data conflict) and ``OC001`` (schema
  changed), and PostgreSQL's own serialization failures (local mode, where
  the message carries no OC code);
* ``XX000`` "server unavailable", DSQL's transient server-side failure;
* a connection that dropped *before* COMMIT was sent.

What is never retried:

* any other error (a unique violation, a syntax error, an exception of your
  own): it is raised at once, after one attempt;
* ``54000`` transaction limits (more than 3,000 modified rows, 10 MiB, or 5
  minutes): raised as :class:`~aurora_dsql_sqlalchemy.errors.TransactionLimitExceeded`,
  since a retry would fail the same way; split the work with
  :func:`aurora_dsql_sqlalchemy.bulk.chunked_write`;
* a failure *during* COMMIT whose outcome cannot be known (the connection
  dropped, or the server failed without saying whether it committed): raised
  as :class:`~aurora_dsql_sqlalchemy.errors.CommitOutcomeUnknown`.  The
  transaction may have committed; check the data before running it again.
  This includes a connection that ends with no error at COMMIT (DSQL closes
  the connection on a protocol message over 10 MiB).  A unit of work that
  may safely be applied twice can opt in to a re-run with ``idempotent=True``.

When every attempt failed, :class:`~aurora_dsql_sqlalchemy.errors.RetriesExhausted`
is raised; its ``.attempts`` lists each attempt's error.

Configuration, most specific first: keyword arguments of the call (see
:class:`PolicyOverrides`), a ``retry_policy`` execution option of the engine
(or connection), then ``RETRY_POLICY``: retry for up to **30 seconds**,
however many attempts that takes, with waits growing from 32 ms to at most
500 ms, fully jittered.  A hot row written by a few dozen clients needs many
attempts, and the time a caller waits is what it can plan for; 30 s is EF
Core's default budget, and well inside DSQL's 5-minute transaction age::

    from aurora_dsql_sqlalchemy.retry import RetryPolicy

    engine = create_engine(url).execution_options(
        retry_policy=RetryPolicy(max_elapsed=5.0)
    )
    run_transaction(engine, work)                   # gives up after 5 s
    run_transaction(engine, work, max_retries=3)    # ... or after 3 retries

Per-engine counters (attempts, commits, retries, conflicts by OC code,
retries exhausted, commit outcomes unknown, faults by SQLSTATE) are kept for
operators: ``stats(engine)`` returns a :class:`RetryStats` snapshot, and
``stats(engine).summary()`` one line for a log.

Each retry is logged on the ``aurora_dsql_sqlalchemy.retry`` logger at INFO
(attempt, SQLSTATE, OC code, wait; never SQL text or parameters), and passed
to an ``on_retry`` callback (per call, or the ``on_retry`` execution option)
as a :class:`RetryEvent`, for metrics.

ORM: given a :class:`~sqlalchemy.orm.sessionmaker`, every attempt gets a new
session, so nothing from a failed attempt (identity map, pending or
half-flushed objects) leaks into the next.  Those sessions are opened with
``expire_on_commit=False`` and closed after COMMIT: the objects ``fn``
returns are detached but keep the values they had at COMMIT, so they can be
read after :func:`run_transaction` returns (load the relationships you need
inside ``fn``).  Given a :class:`~sqlalchemy.orm.Session` instead, the helper
uses it for every attempt and rolls it back between attempts (which expires
what it loaded and expunges what the failed attempt added); objects stay
attached to your session.

asyncio: :func:`run_transaction_async` takes an
:class:`~sqlalchemy.ext.asyncio.AsyncEngine`,
:class:`~sqlalchemy.ext.asyncio.AsyncConnection`,
:class:`~sqlalchemy.ext.asyncio.async_sessionmaker` or
:class:`~sqlalchemy.ext.asyncio.AsyncSession` and an ``async`` function.
The :func:`transactional` decorator covers both.

Your own retry loop can use :func:`is_retryable` (or :func:`classify` for the
details) on the exceptions it catches.
"""

from __future__ import annotations

from ._async import run_transaction_async
from ._attempts import RetryCallback, RetryEvent
from ._classify import Classification, ErrorKind, classify, is_retryable
from ._decorator import transactional
from ._policy import (
    RETRY_POLICY,
    Clock,
    PolicyFields,
    PolicyOverrides,
    RetryPolicy,
    backoff_delay,
    resolve_policy,
)
from ._stats import RetryStats, reset_stats, stats
from ._sync import run_transaction

__all__ = [
    "RETRY_POLICY",
    "Classification",
    "Clock",
    "ErrorKind",
    "PolicyFields",
    "PolicyOverrides",
    "RetryCallback",
    "RetryEvent",
    "RetryPolicy",
    "RetryStats",
    "backoff_delay",
    "classify",
    "is_retryable",
    "reset_stats",
    "resolve_policy",
    "run_transaction",
    "run_transaction_async",
    "stats",
    "transactional",
]

# The implementation modules are private: the public names belong here (as
# psycopg's do to ``psycopg``), in tracebacks, reprs and the documentation.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith(f"{__name__}._"):
        try:
            _obj.__module__ = __name__
        except (AttributeError, TypeError):  # aliases of typing constructs
            pass
del _name, _obj
