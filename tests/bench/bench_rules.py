"""The PostgreSQL rules corpus, side by side with squawk (when `squawk` is installed: `pip install squawk-cli`).

    python tests/bench/bench_rules.py

For each migration of tests/analysis/test_rules_postgres.py (seeded exactly as there): our findings
(rule, severity, the counted figure) and the time of the whole analysis (catalog reads and probes
included), then squawk's rules and time on the same SQL (one process per file, as a CI runs it;
`--assume-in-transaction`, timeouts excluded because migration-manager sets lock_timeout per
statement). Totals: per label, how many migrations each tool flags (a dangerous or lock-heavy one should
be flagged, a safe one should not), and the time of our analysis as a ratio to squawk's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.analysis.rule_cases import analyze, seeded_database  # noqa: E402 -- imported after sys.path is set above
from tests.analysis.test_rules_postgres import DANGEROUS, SAFE, SEED, STATIC  # noqa: E402 -- imported after sys.path is set above


def corpus() -> list[tuple[str, list[str]]]:
    labelled = [("dangerous", m) for m, *_ in DANGEROUS] + [("lock-heavy", [s]) for s, _ in STATIC]
    return labelled + [("safe", m) for m in SAFE]


def ours(url: str, migration: list[str]) -> tuple[list[str], float]:
    started = time.perf_counter()
    findings = analyze(url, migration)
    took = time.perf_counter() - started
    shown = [
        f"{f.rule}:{f.severity}" + (f" {f.rows_affected:,}" if f.rows_affected else "")
        for f in findings
        if f.severity != "info"
    ]
    return shown, took


def squawk(binary: str, folder: Path, index: int, migration: list[str]) -> tuple[list[str], float]:
    path = folder / f"{index:03d}.sql"
    path.write_text(";\n".join(migration) + ";\n")
    started = time.perf_counter()
    result = subprocess.run(
        [
            binary,
            "--reporter",
            "json",
            "--assume-in-transaction",
            "--exclude=require-lock-timeout,require-statement-timeout",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - started
    found = json.loads(result.stdout or "[]")
    return sorted({f"{f['rule_name']}:{f['level'].lower()}" for f in found}), took


def _score(flagged: dict, tool: str, label: str, total: int) -> str:
    hits = flagged.get((tool, label), 0)
    return f"{total - hits if label == 'safe' else hits}/{total}"


def main() -> None:
    binary = shutil.which("squawk") or str(Path(sys.executable).with_name("squawk"))
    has_squawk = Path(binary).exists()
    totals = {"ours": 0.0, "squawk": 0.0}
    flagged: dict[tuple[str, str], int] = {}  # (tool, label) -> migrations with at least one finding
    with seeded_database("postgres", SEED) as url, tempfile.TemporaryDirectory() as folder:
        for index, (label, migration) in enumerate(corpus()):
            mine, mine_time = ours(url, migration)
            totals["ours"] += mine_time
            flagged["ours", label] = flagged.get(("ours", label), 0) + bool(mine)
            print(f"[{label}] {' ; '.join(migration)[:110]}")
            print(f"    migration-manager {mine_time * 1000:6.1f} ms: {', '.join(mine) or '-'}")
            if has_squawk:
                theirs, their_time = squawk(binary, Path(folder), index, migration)
                totals["squawk"] += their_time
                flagged["squawk", label] = flagged.get(("squawk", label), 0) + bool(theirs)
                print(f"    squawk            {their_time * 1000:6.1f} ms: {', '.join(theirs) or '-'}")
    count = len(corpus())
    print()
    for label in ("dangerous", "lock-heavy", "safe"):
        total = sum(1 for lbl, _ in corpus() if lbl == label)
        want = "quiet on" if label == "safe" else "flags"
        figures = [f"migration-manager {want} {_score(flagged, 'ours', label, total)}"]
        if has_squawk:
            figures.append(f"squawk {want} {_score(flagged, 'squawk', label, total)}")
        print(f"{label:>10} ({total}): " + "; ".join(figures))
    print(
        f"{count} migrations. migration-manager: {totals['ours'] * 1000 / count:.1f} ms per migration "
        "(parse, catalog, lock model, data probes on the seeded tables)"
    )
    if has_squawk:
        print(
            f"squawk: {totals['squawk'] * 1000 / count:.1f} ms per migration (static, one process per file); "
            f"ratio migration-manager / squawk = {totals['ours'] / totals['squawk']:.2f}x"
        )
    else:
        print("squawk is not installed (pip install squawk-cli): no side-by-side comparison.")


if __name__ == "__main__":
    main()
