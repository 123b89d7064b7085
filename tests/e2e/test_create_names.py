"""`create` names: Unicode letters kept (NFC) and found again by apply and status; path separators, '..'
and names too long for the filesystem refused with a clear error and no file written."""

from __future__ import annotations

import json
import unicodedata

import pytest

from dbcheck import Project, query

UNICODE = "Ünïcödé 名前"
STORED = unicodedata.normalize("NFC", "ünïcödé_名前")


def written(project: Project) -> list[str]:
    return sorted(p.name for p in project.migrations.iterdir())


def test_a_unicode_name_is_kept_and_found_again_by_apply_and_status(any_url: str, project: Project) -> None:
    project.url = any_url
    # Decomposed input (as macOS file dialogs give it) is stored composed: one spelling for every reader.
    created = json.loads(project.run("create", unicodedata.normalize("NFD", UNICODE), "--json").stdout)
    assert created["name"] == STORED and written(project) == [f"{created['version']}_{STORED}.sql"]
    path = project.migrations / written(project)[0]
    path.write_text(
        path.read_text()
        .replace("  -- Your SQL here", "  CREATE TABLE t (id integer);")
        .replace("  -- Rollback SQL here", "  DROP TABLE t;")
    )
    done = project.run("apply", "--yes")
    assert done.returncode == 0, done.stderr
    status = json.loads(project.run("status", "--json").stdout)
    assert [(m["name"], m["state"]) for m in status["applied"]] == [(STORED, "applied")] and not status["pending"]
    assert query(any_url, "SELECT name FROM schema_migrations") == [(STORED,)]


def test_a_python_migration_with_a_unicode_name_runs(sqlite_url: str, project: Project) -> None:
    project.url = sqlite_url
    created = json.loads(project.run("create", "données", "--python", "--json").stdout)
    path = project.migrations / f"{created['version']}_données.py"
    path.write_text(
        'def up(ctx):\n    ctx.execute("CREATE TABLE d (id integer)")\n\n\n'
        'def down(ctx):\n    ctx.execute("DROP TABLE d")\n'
    )
    assert project.run("apply", "--yes").returncode == 0
    assert query(sqlite_url, "SELECT name FROM schema_migrations") == [("données",)]


@pytest.mark.parametrize("name", ["../outside", "a/b", "a\\b", "..", "up..down"])
def test_path_separators_and_dot_dot_are_refused(project: Project, name: str) -> None:
    done = project.run("create", name)
    text = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2 and "Traceback" not in text, text
    assert "contains a path separator or '..'" in text and "Next step: Give the name only" in text
    assert written(project) == [] and not (project.root / "outside").exists()


@pytest.mark.parametrize("name, size", [("a" * 300, 319), ("名" * 80, 259)])
def test_a_name_too_long_for_the_filesystem_says_the_limit(project: Project, name: str, size: int) -> None:
    done = project.run("create", name)
    text = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2 and "Traceback" not in text and "OSError" not in text, text
    # 14-digit version + "_" + name + ".sql"; ext4/tmpfs allow 255 bytes, so the name may have 236.
    assert f"the file name would be {size} bytes, and this filesystem allows 255 bytes per file name" in text
    assert "at most 236 bytes in UTF-8" in text and "No file was written" in text
    assert written(project) == []
    assert project.run("create", name[:78]).returncode == 0  # 78 CJK letters = 234 bytes: fits


def test_nothing_but_punctuation_is_refused(project: Project) -> None:
    done = project.run("create", "!!! ---")
    assert done.returncode == 2 and "has no letter or digit" in done.stderr and written(project) == []
