"""Almanac: a self-hostable planning and memory system."""

__version__ = "0.1.0"
