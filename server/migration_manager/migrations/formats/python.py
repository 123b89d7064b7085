"""Python migrations for data changes: `VERSION_name.py` defining `up(ctx)` and optionally `down(ctx)`.

`ctx.execute(sql, params)` and `ctx.query(sql, params)` run on the migration's connection,
inside its transaction where the database allows it; `ctx.dialect` and `ctx.param` tell
which SQL to write. The module is read with `ast` here and imported only when it runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ...errors import MigrationFileError
from ..model import Migration, Script
from .common import build, headers, version_and_name


def matches(path: Path, text: str) -> bool:
    return path.suffix == ".py" and not path.name.startswith("__")


def read(path: Path, text: str, dialect: str) -> Migration:
    version, name = version_and_name(path.stem, path)
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise MigrationFileError(
            f"{path.name}: Python syntax error on line {exc.lineno}: {exc.msg}", next_step="Fix the file."
        ) from None
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    if "up" not in functions:
        raise MigrationFileError(f"{path.name}: defines no up(ctx) function.", next_step="Add def up(ctx): ...")
    no_tx = any(
        isinstance(n, ast.Assign)
        and any(getattr(t, "id", "") == "transactional" for t in n.targets)
        and isinstance(n.value, ast.Constant)
        and n.value.value is False
        for n in tree.body
    )
    up = Script(source=text, python_callable="up", no_transaction=no_tx)
    down = Script(source=text, python_callable="down", no_transaction=no_tx) if "down" in functions else None
    meta = headers(text.replace("#", "--"))
    return build(path, "python", version, name, up, down, dialect, meta)
