"""The Planner API: from an intent to an approved plan (see ARCHITECTURE.md)."""
