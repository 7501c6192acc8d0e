"""The MCP server: Almanac's tools, resources and prompts over stdio and Streamable HTTP.

Every tool is a thin client of the REST API that forwards the caller's API key, so
validation, scopes and errors live in one place (the API)."""

# Headers that carry the caller's identity; forwarded unchanged to the API. Here (no SDK
# import) so that `/mcp` can check a key before the SDK is loaded.
AUTH_HEADERS = ("authorization", "x-api-key")
