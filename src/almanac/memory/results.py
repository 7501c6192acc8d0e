"""What a remember call stored, turned into its API answers."""

from __future__ import annotations

from almanac.memory.schemas import RememberBatchOut, RememberOut


class RememberResult:
    """What `remember_many` stored, in the order of its items."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.promoted: list[int | None] = []
        self.duplicates: list[int] = []
        self.stored_in = ["postgres"]

    def add(self, event_id: int, fact_id: int | None, duplicate: int | None = None) -> None:
        if duplicate is not None:
            self.duplicates.append(duplicate)
        self.ids.append(event_id)
        self.promoted.append(fact_id)

    def one(self) -> RememberOut:
        """The answer for a single remembered item."""
        return RememberOut(
            id=self.ids[0],
            stored_in=list(self.stored_in),
            promoted_to_fact_id=self.promoted[0],
            duplicate=bool(self.duplicates),
        )

    def batch(self) -> RememberBatchOut:
        """The answer for a batch."""
        return RememberBatchOut(
            ids=self.ids, duplicates=self.duplicates, stored_in=list(self.stored_in)
        )
