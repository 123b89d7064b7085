"""skill_resources/rules-catalog.md, generated from the rule files so the docs cannot drift.

python -m migration_manager.analysis.catalog skill_resources/rules-catalog.md
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap
from pathlib import Path

from .rules import LockRule, Rule, all_rules

HEADER = """# Rules catalog

Generated from `server/migration_manager/analysis/rules/` by
`python -m migration_manager.analysis.catalog skill_resources/rules-catalog.md`: edit the rule files, not this page.

Every finding names its rule id. Severity: **danger** and **error** stop `apply` / `rollback` for a human's
approval; **warning** is shown; **info** confirms a check passed (e.g. a dropped column was empty). Counts come
from the live tables (exact, or sampled with a stated 95% interval on huge tables); each finding carries the probe
query that lists the rows behind its number, and a safe rewrite where one exists.
"""
_EXAMPLE = re.compile(r"^(Bad|Good)\b.*:$")


def catalog() -> str:
    rules = all_rules()
    lines = [HEADER, "| rule | severity | databases | what it catches |", "| --- | --- | --- | --- |"]
    lines += [f"| [`{r.id}`](#{r.id}) | {r.severity} | {', '.join(r.runs_on())} | {r.title} |" for r in rules]
    for rule in rules:
        lines += ["", *_section(rule)]
    return "\n".join(lines) + "\n"


def _section(rule: Rule) -> list[str]:
    severity = rule.severity
    if isinstance(rule, LockRule):
        severity += f" (danger from ~{rule.large_table_rows:,} rows)"
    lines = [
        f"## {rule.id}",
        "",
        f"**{rule.title}** · severity {severity} · {', '.join(rule.runs_on())} · operations: {', '.join(rule.kinds)}",
        "",
    ]
    prose: list[str] = []
    example: list[str] | None = None
    for line in inspect.cleandoc(rule.__doc__ or "").splitlines():
        if _EXAMPLE.match(line):
            lines += _flush(prose, example)
            prose, example = [], []
            lines += [f"*{line}*", ""]
        elif example is not None and (line.startswith(" ") or not line.strip()):
            example.append(line)
        else:
            prose.append(line)
    lines += _flush(prose, example)
    lines += [f"**Probe:** {rule.probe}", "", f"**Recommendation:** {rule.recommendation}"]
    return lines


def _flush(prose: list[str], example: list[str] | None) -> list[str]:
    out = [" ".join(p.split()) for p in "\n".join(prose).split("\n\n") if p.strip()]
    out = [line for paragraph in out for line in (paragraph, "")]
    if example:
        out += ["```sql", textwrap.dedent("\n".join(example)).strip("\n"), "```", ""]
    return out


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    text = catalog()
    if args:
        Path(args[0]).write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
