"""The context block's answer."""

from __future__ import annotations

from pydantic import BaseModel


class ContextOut(BaseModel):
    text: str
    token_budget: int
    tokens: int
    tokenizer: str
    sections: dict[str, list[str]]  # ids included, per section
    omitted: int  # candidate lines that did not fit
    took_ms: float
