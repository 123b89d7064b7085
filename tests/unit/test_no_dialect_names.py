"""Code outside the per-database packages asks a capability (a dialects.base.Dialect flag) or calls a Dialect or
engine method, never a database's name: adding a database must not mean hunting `== "mysql"` through the code.

The test reads every module of server/migration_manager and fails where one asks a dialect's name: a comparison
(`dialect == "postgres"`, `kind != "sqlite"`, `x in ("postgres", "sqlite")`), a literal tuple of names bound to a
variable (`dialects = ("postgres",)`), a dict keyed by one (`{"mysql": ...}`), a lookup or call with one
(`table["mysql"]`, `.get("postgres")`, `build(text, dialect="sqlite")`) or a `case "mysql":`; except in dialects/
(each database's package, the registry and base) and in ALLOWED below. `Literal["postgres", ...]` is a type.
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
    "migrations/sqltext.py": 14,
    "analysis/operations/parse.py": 1,  # PostgreSQL statements sqlglot gives up on are read by pglast
}


def _names_a_dialect(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value in NAMES
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return bool(node.elts) and all(_names_a_dialect(element) for element in node.elts)
    return False


def _is_literal_type(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "Literal") or (
        isinstance(node, ast.Attribute) and node.attr == "Literal"
    )


def _dialect_checks(tree: ast.AST) -> list[int]:
    """Lines that ask a dialect's name: a comparison with one, a literal tuple of them bound to a name, a dict keyed
    by one, a lookup by one (`table["mysql"]`, `.get("postgres")`, `parse(..., dialect="sqlite")`) or a match case."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            named = [node.left, *node.comparators]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, (ast.Tuple, ast.List, ast.Set)):
            named = [node.value]
        elif isinstance(node, ast.Dict):
            named = [key for key in node.keys if key is not None]
        elif isinstance(node, ast.Subscript) and not _is_literal_type(node.value):  # Literal["a", "b"] is a type
            named = [node.slice]
        elif isinstance(node, ast.Call):
            named = [*node.args, *(keyword.value for keyword in node.keywords)]
        elif isinstance(node, ast.MatchValue):
            named = [node.value]
        else:
            continue
        if any(_names_a_dialect(n) for n in named):
            lines.append(node.lineno)
    return sorted(set(lines))


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
        "(dialects.get(name).<flag>) or a Dialect or engine method instead; add to ALLOWED only with the reason why not."
    )


def test_the_allowlist_is_no_longer_than_what_remains():
    found = _found()
    stale = {f: (count, len(found.get(f, []))) for f, count in ALLOWED.items() if len(found.get(f, [])) < count}
    assert not stale, f"ALLOWED counts more than the code has (file: (allowed, found)); lower them: {stale}"


def test_the_scan_sees_each_way_of_asking_a_name():
    code = [
        'if engine.dialect == "mysql":',  # 1
        "    pass",
        'DIALECTS = ("postgres", "sqlite")',  # 3
        'ok = x == "y" and f("y") and t["y"] and {"y": 1}',
        'LABELS = {"postgresql": "PostgreSQL"}',  # 5
        'found = TOOLS.get("mariadb")',  # 6
        'tree = parse(text, dialect="sqlite")',  # 7
        'name = NAMES["postgres"]',  # 8
        'dialect: Literal["postgres", "mysql"]',  # a type, not a question
        "match kind:",
        '    case "mysql":',  # 11
        "        pass",
    ]
    assert _dialect_checks(ast.parse("\n".join(code) + "\n")) == [1, 3, 5, 6, 7, 8, 11]
