from tests.live_server import live_server, live_server_process  # noqa: F401
