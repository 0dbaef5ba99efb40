""":func:`transactional`, the decorator form of the retry helpers."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from ._async import check_async_bind, run_transaction_async
from ._policy import check_options
from ._sync import check_sync_bind, run_transaction

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._policy import PolicyOverrides

__all__ = ["transactional"]

P = ParamSpec("P")
R = TypeVar("R")


def transactional(
    bind: Any, **options: Unpack[PolicyOverrides]
) -> Callable[[Callable[Concatenate[Any, P], R]], Callable[P, R]]:
    """Decorator form of :func:`run_transaction` / :func:`run_transaction_async`.

    The decorated function takes the connection or session as its first
    argument; callers pass only the rest::

        @transactional(Session)          # a sessionmaker
        def rename(session, user_id, name):
            session.get(User, user_id).name = name

        rename(42, "Ada")                # retried on OCC conflicts

    ``async def`` functions are run with :func:`run_transaction_async` (give
    an async engine or ``async_sessionmaker``).  The engine or session factory
    is required: ``@transactional`` without it is refused at once.
    """
    if inspect.isfunction(bind) or inspect.ismethod(bind):
        raise TypeError(
            f"@transactional needs the engine or session factory to run {bind.__name__}() "
            "with: write @transactional(Session) (or @transactional(engine)), not "
            "@transactional alone."
        )
    check_options(options, "transactional")

    def decorate(fn: Callable[Concatenate[Any, P], R]) -> Callable[P, R]:
        if inspect.iscoroutinefunction(fn):
            check_async_bind(bind)

            @functools.wraps(fn)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                async def unit(target: Any) -> Any:
                    return await fn(target, *args, **kwargs)

                return await run_transaction_async(bind, unit, **options)

            return run_async  # type: ignore[return-value]

        check_sync_bind(bind)

        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            return run_transaction(bind, lambda target: fn(target, *args, **kwargs), **options)

        return run

    return decorate
