"""The Zep Cloud double, one per test (`tests.doubles.zep_cloud`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.doubles.zep_cloud import FakeZep


@pytest.fixture
def zep() -> Iterator[FakeZep]:
    with FakeZep() as server:
        yield server
