"""A `# noqa` says why beside it: `# noqa: CODE -- reason`. ruff checks the rest (`make lint`)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUPPRESSION = re.compile(r"#\s*noqa\b(?P<rest>.*)$")
WITH_REASON = re.compile(r":\s*[A-Z]+[0-9]+(\s*,\s*[A-Z]+[0-9]+)*\s+-+\s+\S")


def unexplained_suppressions(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = SUPPRESSION.search(line)
            if match and not WITH_REASON.match(match.group("rest")):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_every_noqa_gives_its_reason():
    here = Path(__file__).resolve()  # its examples are strings, not suppressions
    paths = [p for folder in ("server", "tests", "scripts") for p in (ROOT / folder).rglob("*.py") if p != here]
    assert unexplained_suppressions(paths) == []


def test_a_bare_noqa_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    bare = tmp_path / "bare.py"
    bare.write_text("import os  # noqa: F401\nimport re  # noqa\nimport sys  # noqa: F401 -- re-exported\n")
    assert unexplained_suppressions([bare]) == ["bare.py:1: import os  # noqa: F401", "bare.py:2: import re  # noqa"]
