"""migration-manager: safe, validated, reversible database migrations."""

__version__ = "0.1.0"
