"""`python -m migration_manager.surfaces.mcp`: the `migration-manager-mcp` server."""

from .server import main

main()
