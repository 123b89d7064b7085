"""Everything postgres needs, in one place: engine, schema, stats, locks, backup, clone, archive."""
