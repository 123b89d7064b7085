"""The surfaces a user reaches the service through: the command line (`cli/`) and the MCP server (`mcp/`).

A surface parses a request, calls one function of `migration_manager.service` and presents the report it
gets back; the decisions (what to run, whether it is allowed, the exit code) are the service's.
"""
