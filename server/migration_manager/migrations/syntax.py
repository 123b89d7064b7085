"""Does each statement parse for its dialect? Each problem names the file's line.

Each dialect's `syntax` part parses (dialects/<db>/syntax.py): PostgreSQL with pglast (its own parser), SQLite
with SQLite itself, MariaDB/MySQL with sqlglot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import dialects
from .model import Migration, Script


@dataclass(frozen=True)
class SyntaxProblem:
    """A statement the dialect's parser rejects: where it is and the parser's message."""

    direction: str  # "up" | "down"
    index: int  # 1-based, in the script
    line: int  # in the file; 0 when the file cannot be matched
    message: str
    statement: str

    def describe(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.direction.upper()} statement {self.index}{where}: {self.message}"


def syntax_errors(migration: Migration, dialect: str) -> list[str]:
    return [problem.describe() for problem in syntax_problems(migration, dialect)]


def syntax_problems(
    migration: Migration, dialect: str, directions: tuple[str, ...] = ("up", "down")
) -> list[SyntaxProblem]:
    scripts = {"up": (migration.up, migration.path), "down": (migration.down, migration.down_path or migration.path)}
    problems = []
    with dialects.get(dialect).part("syntax").statement_checker() as statement_error:
        for direction in directions:
            script, path = scripts[direction]
            if script is None:
                continue
            for index, (statement, first_line) in enumerate(statement_lines(script, path), start=1):
                problem = statement_error(statement)
                if problem:
                    message, line_in_statement = problem
                    line = first_line + line_in_statement if first_line else 0
                    problems.append(SyntaxProblem(direction, index, line, message, statement))
    return problems


def statement_lines(script: Script, path: Path | None) -> list[tuple[str, int]]:
    """Each statement with the file line it starts on (0 when the file cannot be matched)."""
    try:
        text = path.read_text(encoding="utf-8") if path else ""
    except OSError:
        text = ""
    cursor = text.find(script.source) if script.source and script.source in text else 0
    # Lines are counted from the previous statement on, never from the top: a file of 400k statements
    # would otherwise be read 400k times over.
    counted_to, line = 0, 1
    found = []
    for statement in script.statements:
        at = text.find(statement, cursor)
        if at < 0:
            found.append((statement, 0))
            continue
        cursor = at + len(statement)
        start = at + len(statement) - len(statement.lstrip())
        line += text.count("\n", counted_to, start)
        counted_to = start
        found.append((statement, line))
    return found
