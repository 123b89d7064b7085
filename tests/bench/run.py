"""`make bench`: run every tests/bench/bench_*.py as its own process and print its figures.

Each bench is a standalone script (`python tests/bench/bench_x.py --help`) that measures its
baseline in the same run and prints each figure as a ratio to it. This runner only discovers,
runs and summarizes; `make bench BENCH=apply` runs the ones whose name contains "apply".
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    only = os.environ.get("BENCH", "")
    scripts = sorted(p for p in HERE.glob("bench_*.py") if only in p.stem)
    if not scripts:
        print(f"no benchmark matches BENCH={only!r}", file=sys.stderr)
        return 2
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent.parent)
        print(f"--- {script.stem}: exit {code}, {time.perf_counter() - started:.1f} s", flush=True)
        if code:
            failed.append(script.stem)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
