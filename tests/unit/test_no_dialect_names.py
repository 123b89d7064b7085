"""Code outside the per-database modules asks a capability (dialects.base.Capabilities) or calls an engine
method, never a database's name: adding a database must not mean hunting `== "mysql"` through the code.

The test reads every module of server/migration_manager and fails on a comparison with a dialect name
(`dialect == "postgres"`, `kind != "sqlite"`, `x in ("postgres", "sqlite")`) or a literal tuple of dialect
names (`dialects = ("postgres",)`), except in the per-database packages (dialects/<db>/) and in ALLOWED below.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "server" / "migration_manager"
NAMES = {"postgres", "postgresql", "mysql", "mariadb", "sqlite"}

# The places that still name a database, each with why. Shrink it: give the place a capability or an engine
# method (or move it into its database's module) and take its line out. Counts are per file.
ALLOWED = {
    # Lexing and parsing: the SQL grammar itself differs (quotes, $$ bodies, DELIMITER, pglast or sqlglot).
    "migrations/sqltext.py": 7,
    "migrations/syntax.py": 2,
    "analysis/operations/parse.py": 1,  # PostgreSQL statements sqlglot gives up on are read by pglast
    "analysis/probes.py": 1,  # PostgreSQL folds unquoted names to lower case
    "analysis/schema/__init__.py": 2,  # serial types as stored; MySQL's names for unnamed constraints
    # The rules' tables of the databases each rule is written for (its lock or SQL behaviour).
    "analysis/rules/__init__.py": 1,
    "analysis/rules/rewriting_type_change.py": 1,
    "analysis/rules/not_null_scan.py": 1,
    "analysis/rules/mysql_online_ddl.py": 1,
    "analysis/rules/volatile_default.py": 2,  # and MariaDB's INSTANT ADD COLUMN
    "analysis/rules/not_null.py": 1,  # MariaDB/MySQL give existing rows an implicit value (0 or '')
    "analysis/rules/rename_in_use.py": 1,  # PostgreSQL's views follow a renamed table
    # Each database's rules for type changes and foreign keys between types.
    "analysis/simulate/type_rules.py": 3,
    # SQLite's rowid; MySQL's PRIMARY.
    "analysis/simulate/replay.py": 2,
    "analysis/operations/rename_table.py": 1,  # SQLite renames a table's autoindexes with it
    "analysis/operations/create_index.py": 1,  # where IF NOT EXISTS looks for an index name first
    "analysis/locks/__init__.py": 4,  # the server flavor read from the version text
    # Point-in-time restore: per-database steps not yet behind an engine method.
    "service/backups.py": 2,
    "urls.py": 1,  # a SQLite URL holds a path, not a host
}


def _names_a_dialect(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value in NAMES
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return bool(node.elts) and all(_names_a_dialect(element) for element in node.elts)
    return False


def _dialect_checks(tree: ast.AST) -> list[int]:
    """Lines comparing with a dialect name, or binding a literal tuple of them."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(_names_a_dialect(n) for n in [node.left, *node.comparators]):
            lines.append(node.lineno)
        elif (
            isinstance(node, (ast.Assign, ast.AnnAssign))
            and isinstance(node.value, (ast.Tuple, ast.List, ast.Set))
            and _names_a_dialect(node.value)
        ):
            lines.append(node.lineno)
    return sorted(lines)


def _found() -> dict[str, list[int]]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("dialects/"):  # each database's own home
            continue
        lines = _dialect_checks(ast.parse(path.read_text(), filename=str(path)))
        if lines:
            found[relative] = lines
    return found


def test_code_outside_the_database_modules_asks_capabilities_not_names():
    found = _found()
    unexpected = {f: lines for f, lines in found.items() if len(lines) > ALLOWED.get(f, 0)}
    assert not unexpected, (
        f"dialect names compared outside the per-database modules (file: lines): {unexpected}. Ask a capability "
        "(dialects.base.Capabilities) or an engine method instead; add to ALLOWED only with the reason why not."
    )


def test_the_allowlist_is_no_longer_than_what_remains():
    found = _found()
    stale = {f: (count, len(found.get(f, []))) for f, count in ALLOWED.items() if len(found.get(f, [])) < count}
    assert not stale, f"ALLOWED counts more than the code has (file: (allowed, found)); lower them: {stale}"


def test_the_scan_sees_a_comparison_and_a_dialect_tuple():
    tree = ast.parse('if engine.dialect == "mysql":\n    pass\nDIALECTS = ("postgres", "sqlite")\nok = x == "y"\n')
    assert _dialect_checks(tree) == [1, 3]
