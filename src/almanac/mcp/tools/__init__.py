"""MCP tools, one module per area; each `register(server, resolve)`."""
