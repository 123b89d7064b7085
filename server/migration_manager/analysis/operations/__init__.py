"""What statements do, as `Operation`s: `parse` reads SQL text into them (sqlglot, pglast)."""

from __future__ import annotations

from .parse import script_operations, statement_operations

__all__ = ["script_operations", "statement_operations"]
