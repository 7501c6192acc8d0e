"""Test doubles for services that cannot be reached from here (named plainly)."""
