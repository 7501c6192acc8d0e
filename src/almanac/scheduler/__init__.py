"""Scheduling: placing a plan's tasks into a calendar."""
