"""Which memory becomes a fact on `remember`: a salient one whose metadata names the
subject and the fact's type (the fact is then written with the memory)."""

from __future__ import annotations

from pydantic import ValidationError

from almanac.errors import ValidationFailed
from almanac.http_problems import error_message
from almanac.memory.schemas import FactIn, RememberIn

_SUBJECT_KEYS = ("subject_type", "subject_id", "fact_type")
# A promoted fact's fields, by where the memory said them: what a refusal names.
_PROMOTED_FIELDS = {
    "subject_type": "metadata.subject_type",
    "subject_id": "metadata.subject_id",
    "fact_type": "metadata.fact_type",
    "category": "metadata.category",
    "content": "content",
    "salience_score": "salience_score",
    "client_id": "client_id",
    "valid_from": "occurred_at",
}


def promotable(item: RememberIn, threshold: float) -> FactIn | None:
    """The fact `item` becomes, or None; a 422 naming the memory's field when its metadata
    names a subject that cannot become a fact (a fact is not silently dropped)."""
    meta = item.metadata
    if item.salience_score < threshold:
        return None
    if not all(isinstance(meta.get(k), str) and meta.get(k) for k in _SUBJECT_KEYS):
        return None
    category = meta.get("category")
    try:
        return FactIn(
            subject_type=meta["subject_type"],
            subject_id=meta["subject_id"],
            fact_type=meta["fact_type"],
            content=item.content,
            salience_score=item.salience_score,
            category=category if isinstance(category, str) and category else None,
            client_id=item.client_id,
            valid_from=item.occurred_at,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = str(first["loc"][0]) if first["loc"] else ""
        err = dict(first)
        raise ValidationFailed(
            "metadata names a subject but cannot become a fact: "
            f"{error_message(err).removeprefix('Value error, ')}",
            field=_PROMOTED_FIELDS.get(loc, "metadata"),
        ) from exc
