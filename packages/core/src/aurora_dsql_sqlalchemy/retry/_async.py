""":func:`run_transaction_async`: the asyncio flavour of the retry loop.

``sqlalchemy.ext.asyncio`` is imported only when this flavour is used: it
needs greenlet, which SQLAlchemy 2.1 no longer requires.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ._attempts import drive_async, transaction_steps
from ._guard import TransactionGuard
from ._policy import Clock
from ._sync import label_of, new_attempts, require_idle

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import (
        AsyncConnection,
        AsyncEngine,
        AsyncSession,
        async_sessionmaker,
    )
    from typing_extensions import Unpack

    from ._policy import PolicyOverrides

__all__ = ["run_transaction_async"]

T = TypeVar("T")

_API = "run_transaction_async"


class _AsyncUnit:
    """An attempt on an :class:`~sqlalchemy.ext.asyncio.AsyncConnection` or
    :class:`~sqlalchemy.ext.asyncio.AsyncSession`."""

    __slots__ = ("owned", "target")

    def __init__(self, target: AsyncConnection | AsyncSession, *, owned: bool) -> None:
        self.target = target
        self.owned = owned

    async def begin(self) -> None:
        require_idle(self.target, _API)
        await self.target.begin()

    async def run(self, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        from sqlalchemy.ext.asyncio import AsyncSession

        target = self.target
        sync_target = target.sync_session if isinstance(target, AsyncSession) else target.sync_connection
        with TransactionGuard(sync_target, label_of(target), _API):
            result = await fn(target)
        if isinstance(target, AsyncSession):
            await target.flush()
        return result

    async def commit(self) -> None:
        await self.target.commit()

    async def rollback(self) -> None:
        await self.target.rollback()

    async def close(self) -> None:
        if self.owned:
            await self.target.close()


class _AsyncFlavour:
    __slots__ = ("bind", "clock")

    def __init__(self, bind: object, clock: Clock) -> None:
        check_async_bind(bind)
        self.bind = bind
        self.clock = clock

    async def open(self) -> _AsyncUnit:
        from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

        bind: Any = self.bind
        if isinstance(bind, AsyncEngine):
            return _AsyncUnit(await bind.connect(), owned=True)
        if isinstance(bind, async_sessionmaker):
            return _AsyncUnit(bind(expire_on_commit=False), owned=True)
        return _AsyncUnit(bind, owned=False)

    async def sleep(self, seconds: float) -> None:
        await self.clock.sleep_async(seconds)


def check_async_bind(bind: object) -> None:
    from sqlalchemy.ext.asyncio import (
        AsyncConnection,
        AsyncEngine,
        AsyncSession,
        async_sessionmaker,
    )

    if not isinstance(bind, (AsyncEngine, AsyncConnection, async_sessionmaker, AsyncSession)):
        raise TypeError(
            "run_transaction_async() takes an AsyncEngine, AsyncConnection, "
            f"async_sessionmaker or AsyncSession, not {type(bind).__name__}"
        )


@overload
async def run_transaction_async(
    bind: AsyncEngine | AsyncConnection,
    fn: Callable[[AsyncConnection], Awaitable[T]],
    **options: Unpack[PolicyOverrides],
) -> T: ...
@overload
async def run_transaction_async(
    bind: async_sessionmaker[Any] | AsyncSession,
    fn: Callable[[AsyncSession], Awaitable[T]],
    **options: Unpack[PolicyOverrides],
) -> T: ...
async def run_transaction_async(
    bind: Any, fn: Callable[[Any], Awaitable[T]], **options: Unpack[PolicyOverrides]
) -> T:
    """The asyncio form of :func:`run_transaction`: ``fn`` is an ``async``
    function taking an :class:`~sqlalchemy.ext.asyncio.AsyncConnection` or
    :class:`~sqlalchemy.ext.asyncio.AsyncSession`; waits use
    :func:`asyncio.sleep`.  Same policy, refusals, errors, events and counters."""
    attempts = new_attempts(bind, options, _API)
    flavour = _AsyncFlavour(bind, attempts.clock)
    result: T = await drive_async(transaction_steps(flavour, fn, attempts))
    return result
