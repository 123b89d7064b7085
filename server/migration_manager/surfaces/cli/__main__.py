"""`python -m migration_manager.surfaces.cli`: the `db-migrate` command."""

from .app import entry

entry()
