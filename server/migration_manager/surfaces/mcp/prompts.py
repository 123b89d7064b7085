"""MCP prompts for the common flows: plan a zero-downtime change, review a migration."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer


def register_prompts(server: MCPServer) -> None:
    @server.prompt(title="Plan a zero-downtime schema change")
    def plan_zero_downtime_change(change: str, env: str = "production") -> str:
        """Turn a described schema change into a safe sequence of migrations for a live database."""
        return (
            f"Plan this schema change for the '{env}' environment without downtime: {change}\n\n"
            "1. Call the status tool for that environment and read the current state.\n"
            "2. Read skill_resources/strategies.md and skill_resources/zero-downtime-playbooks.md (or the "
            "migration-manager skill) and choose a strategy; explain the choice in one sentence.\n"
            "3. Split the change into expand / backfill / contract migrations, each with an UP and a DOWN, one "
            "risky statement per migration. Say which application deploy goes between them.\n"
            "4. For each migration: create it, write it, then validate, analyze and dry_run, and report the lock "
            "level, the rows touched and the estimated duration from the tool output.\n"
            "5. Do not apply: list the apply steps for the human, who approves them."
        )

    @server.prompt(title="Review a migration")
    def review_migration(version: str, env: str = "dev") -> str:
        """Review one migration for safety before it reaches a live database."""
        return (
            f"Review migration {version} for the '{env}' environment.\n\n"
            "1. Read it from the migrations://files resource (UP and DOWN).\n"
            f"2. Call validate and analyze (version {version}) for '{env}'.\n"
            "3. Report: does the DOWN really undo the UP; each finding with its real impact (rows, lock, "
            "duration) and the safer rewrite; statements that cannot run in a transaction; data loss.\n"
            "4. Give a verdict: safe to apply / apply with the listed changes / do not apply."
        )
