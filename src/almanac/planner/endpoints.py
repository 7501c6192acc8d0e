"""Planner API routes. Planning itself is not built yet; only its health is served."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/planner", tags=["planner"])
