"""Static and data-aware analysis of migrations: statements -> operations -> findings."""
