from tests.live_server import live_server  # noqa: F401
