"""The MCP server: wiring (`server`), tools, resources, prompts, the approval dialog and tool results."""
