"""Keeps the unit of work from ending the transaction the helper owns.

The function given to ``run_transaction`` may run more than once, so a
``commit()`` inside it could apply its first half twice (once committed by
it, again by the re-run after a conflict), and a ``rollback()`` inside it
drops the work while the helper would report success.  While the function
runs, :class:`TransactionGuard` makes ``commit()`` of its connection or
session raise at the call, before anything reaches the server, and afterwards
checks that the transaction the helper began is still the one in progress.

Shadowing ``commit`` on this one object for the duration of the call costs
nothing elsewhere, and the asyncio wrappers reach it too
(``AsyncSession.commit()`` calls the sync session's).  Other roads to a
COMMIT (``conn.get_transaction().commit()``, ``session.connection().commit()``,
``session.get_transaction().commit()``) are stopped one level down: the guard
marks the pooled connections of its transaction, and the Aurora DSQL
dialect's ``do_commit`` asks it first (:func:`~aurora_dsql_sqlalchemy.context.state_at_commit`), which
rolls the driver's transaction back and raises, so nothing is committed.
(With another dialect those roads are caught after the function returns.)
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Final, NoReturn

from sqlalchemy import event
from sqlalchemy import exc as sa_exc

from ..context import GUARD_KEY

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

    __slots__ = ("api", "label", "marked", "previous", "refusal", "target", "transaction")

    def __init__(self, target: Any, label: str, api: str) -> None:
        self.target = target
        self.label = label
        self.api = api
        self.transaction = target.get_transaction()
        self.refusal: Misuse | None = None
        self.previous: object = _ABSENT
        self.marked: list[Any] = []

    def __enter__(self) -> TransactionGuard:
        attributes = vars(self.target)
        self.previous = attributes.get("commit", _ABSENT)
        attributes["commit"] = self._refuse_commit
        if hasattr(self.target, "get_bind"):  # a Session: its connections come as it needs them
            event.listen(self.target, "after_begin", self._session_connection)
        else:
            self._mark(self.target.connection)
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
        if hasattr(self.target, "get_bind"):
            event.remove(self.target, "after_begin", self._session_connection)
        for pooled in self.marked:
            if pooled.info.get(GUARD_KEY) is self:
                del pooled.info[GUARD_KEY]
        self.marked.clear()
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

    def _mark(self, pooled_connection: Any) -> None:
        pooled_connection.info[GUARD_KEY] = self
        self.marked.append(pooled_connection)

    def _session_connection(self, session: Any, transaction: Any, connection: Any) -> None:
        self._mark(connection.connection)

    def refuse_driver_commit(self, pooled_connection: Any) -> NoReturn:
        """A COMMIT reached the driver while the unit of work runs: roll the
        driver's transaction back (SQLAlchemy has already given up on it) and
        refuse."""
        pooled_connection.rollback()
        self._refuse_commit(what=f"A COMMIT other than {self.label}.commit() (get_transaction().commit(), ...)")

    def _refuse_commit(self, *args: object, what: str | None = None, **kwargs: object) -> NoReturn:
        self.refusal = Misuse(
            f"{what or f'{self.label}.commit()'} was called inside the function given to "
            f"{self.api}(): refused, nothing was committed. {self.api}() commits when the "
            "function returns, and runs it again after a conflict, so a commit inside it "
            "could apply part of the work twice. Remove the commit() call (to commit steps "
            f"separately, call {self.api}() once per step)."
        )
        raise self.refusal
