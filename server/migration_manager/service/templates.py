"""Templates `db-migrate create` writes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    suffix: str
    text: str


SQL = Template("sql", """\
-- Migration: {name}
-- Created: {created}
-- author: {author}
-- Statements between BEGIN and COMMIT run in one transaction together with the history
-- row (PostgreSQL, SQLite). MySQL/MariaDB commit each DDL statement: progress is recorded
-- per statement. Write "-- no-transaction" above "-- UP" for CREATE INDEX CONCURRENTLY.

-- UP
BEGIN;
  -- Your SQL here
COMMIT;

-- DOWN
BEGIN;
  -- Rollback SQL here
COMMIT;
""")

PYTHON = Template("py", '''\
"""Migration: {name}. Created {created} by {author}.

ctx.execute(sql, params) / ctx.query(sql, params) run on the migration's connection, inside its
transaction where the database allows it; ctx.param is the placeholder ("?" or "%s").
"""


def up(ctx):
    raise NotImplementedError("write the forward change")


def down(ctx):
    raise NotImplementedError("write the reverse change")
''')

TEMPLATES = {"sql": SQL, "python": PYTHON}
