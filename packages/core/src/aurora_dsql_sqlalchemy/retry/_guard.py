"""Keeps the unit of work from ending the transaction the helper owns.

The function given to ``run_transaction`` may run more than once, so a
``commit()`` inside it could apply its first half twice (once committed by
it, again by the re-run after a conflict), and a ``rollback()`` inside it
drops the work while the helper would report success.  While the function
runs, :class:`TransactionGuard` makes ``commit()`` of its connection or
session raise at the call, before anything reaches the server, and afterwards
checks that the transaction the helper began is still the one in progress.

Why not an event: the Core ``commit`` event fires after SQLAlchemy has
already marked the transaction inactive (it could not then be rolled back on
a caller's connection), and an engine-wide listener would cost a dispatch on
every commit of every connection.  Shadowing ``commit`` on this one object
for the duration of the call costs nothing elsewhere, and the asyncio
wrappers reach it too (``AsyncSession.commit()`` calls the sync session's).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Final, NoReturn

from sqlalchemy import exc as sa_exc

__all__ = ["Misuse", "TransactionGuard"]

_ABSENT: Final = object()


class Misuse(sa_exc.InvalidRequestError):
    """The unit of work tried to end the helper's transaction.  Final: never
    retried, whatever error it was raised from."""


class TransactionGuard:
    """A context manager around one call of the unit of work.

    ``target`` is the sync :class:`~sqlalchemy.engine.Connection` or
    :class:`~sqlalchemy.orm.Session` (for asyncio: its ``sync_connection`` /
    ``sync_session``); ``label`` names what the user holds, e.g. ``session``.
    """

    __slots__ = ("api", "label", "previous", "refusal", "target", "transaction")

    def __init__(self, target: Any, label: str, api: str) -> None:
        self.target = target
        self.label = label
        self.api = api
        self.transaction = target.get_transaction()
        self.refusal: Misuse | None = None
        self.previous: object = _ABSENT

    def __enter__(self) -> TransactionGuard:
        attributes = vars(self.target)
        self.previous = attributes.get("commit", _ABSENT)
        attributes["commit"] = self._refuse_commit
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        attributes = vars(self.target)
        if self.previous is _ABSENT:
            attributes.pop("commit", None)
        else:
            attributes["commit"] = self.previous
        if self.refusal is not None and exc is not self.refusal:
            # the function caught the refusal: still refuse the whole unit of work
            raise self.refusal from exc
        if exc is None and not self._still_ours():
            raise Misuse(
                f"The function given to {self.api}() ended the transaction {self.api}() "
                f"had begun ({self.label}.rollback(), {self.label}.close(), or an error "
                "it caught, such as a failed flush) and then returned normally: nothing of "
                "it was committed. To abandon the unit of work, raise an exception from "
                f"the function instead; {self.api}() rolls back and raises it."
            )

    def _still_ours(self) -> bool:
        current = self.target.get_transaction()
        return current is self.transaction and bool(getattr(current, "is_active", False))

    def _refuse_commit(self, *args: object, **kwargs: object) -> NoReturn:
        self.refusal = Misuse(
            f"{self.label}.commit() was called inside the function given to {self.api}(): "
            f"refused, nothing was committed. {self.api}() commits when the function "
            "returns, and runs it again after a conflict, so a commit inside it could "
            "apply part of the work twice. Remove the commit() call (to commit steps "
            f"separately, call {self.api}() once per step)."
        )
        raise self.refusal
