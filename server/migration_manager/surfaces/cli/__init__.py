"""The `db-migrate` command: argument parsing and dispatch (`app`), terminal presentation (`render`)."""
