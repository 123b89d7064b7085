"""Migrations on disk: formats, statements, checksums and the plan against history."""
