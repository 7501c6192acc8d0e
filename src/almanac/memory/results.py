"""What a remember call stored, turned into its API answers; whether a retry is the same;
whether an item's expiry can be stored."""

from __future__ import annotations

from datetime import datetime

from almanac.errors import Conflict, ValidationFailed
from almanac.memory.schemas import RememberBatchOut, RememberIn, RememberOut
from almanac.models import Event


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


# The metadata that says whom a memory is about (recall's client scope reads it) or
# what fact it becomes: other metadata a retry may restamp (a send time) is not compared.
_SUBJECT_KEYS = ("subject_type", "subject_id", "fact_type")


def differing_fields(item: RememberIn, existing: Event) -> list[str]:
    """What a memory retried under an idempotency key says differently from the stored one:
    its text, or whose and where it is (client, session, scope, type, source, the subject
    its metadata names). Such a "retry" is another memory; answered as a duplicate, it
    would be filed under the first one's client, out of its own client's recall. Its time
    is not compared: a retry may stamp the time it was sent."""
    differs = [
        name
        for name, stored in (
            ("content", existing.content),
            ("client_id", existing.client_id),
            ("session_id", existing.session_id),
            ("memory_scope", existing.memory_scope),
            ("event_type", existing.event_type),
            ("event_source", existing.event_source),
        )
        if getattr(item, name) != stored
    ]
    stored_meta = existing.metadata_ or {}
    if any(item.metadata.get(k) != stored_meta.get(k) for k in _SUBJECT_KEYS):
        differs.append("metadata")
    return differs


def check_duplicate(item: RememberIn, existing: Event) -> None:
    """A 409 naming what differs when `item` is not the memory stored under its key."""
    differs = differing_fields(item, existing)
    if differs:
        raise Conflict(
            f"idempotency_key {item.idempotency_key!r} was already used for a different "
            f"memory (it differs in {', '.join(differs)}); use a new key for a new memory",
            errors=[{"field": f, "message": "differs from the stored memory"} for f in differs],
        )


def in_item(exc: ValidationFailed, pos: int) -> ValidationFailed:
    """A batch item's refusal, its field named under `items[pos]` (a batch of 1,000 said
    only "expires_at")."""
    field = exc.errors[0]["field"] if exc.errors else None
    where = f"items[{pos}]" + (f".{field}" if field else "")
    out = ValidationFailed(f"{where}: {exc.message}", field=where)
    out.errors[0]["message"] = exc.message  # the field says where; the message, why
    return out


def check_expiry(item: RememberIn, now: datetime) -> None:
    """Refuse an expiry already past, or not after the memory occurred."""
    if item.expires_at is None:
        return
    # An expired memory is never recalled nor read by id: it was stored (a 201 and an id)
    # and gone at once, as if remembered.
    if item.expires_at <= now:
        raise ValidationFailed(
            "expires_at must be in the future: a memory that has already expired is never recalled",
            field="expires_at",
        )
    if item.occurred_at is not None and item.expires_at <= item.occurred_at:
        raise ValidationFailed("expires_at must be after occurred_at", field="expires_at")
