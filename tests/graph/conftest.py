from tests.planner.conftest import library  # noqa: F401 - the workflow library fixture
