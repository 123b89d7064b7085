"""Noise on real projects' histories: what `validate` and `apply` say about migrations the raw client applies.

    python tests/bench/bench_histories.py [--cache DIR] [--only NAME,...] [--show]

The histories are fetched public projects' migration folders, kept in a cache folder outside the
repository (default `$XDG_CACHE_HOME/migration-manager/histories`, never committed), one folder per
history named `<name>.<dialect>` (dialect: postgres, mysql or sqlite) holding golang-migrate files
(`<version>_<name>.up.sql`, optional `.down.sql`). With no cache folder, the bench says so and exits 0.

Per history, on an empty database each time: the raw client (psql, mariadb, sqlite3) applies the UP
files one by one and the history is cut at the first file it rejects (as a user on this server version
would); then `db-migrate validate` on that cut, counting the errors and warnings of its findings (the UP replay;
the DOWN check's warnings, about rollbacks, in a column of their own), then `db-migrate apply --yes`. Goal
(issue 11): no error and at most one UP warning per ten migrations.
`--show` prints each error and warning.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

DB_MIGRATE = str(Path(sys.executable).with_name("db-migrate"))
PG_HOST = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
MY_HOST = ["-h", "127.0.0.1", "-P", "3306", "-uroot"]
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "migration-manager" / "histories"


class Database:
    """One empty database of a dialect: its URL for db-migrate and the raw client's command for a file."""

    def __init__(self, dialect: str, folder: Path):
        self.dialect, self.name = dialect, f"mm_noise_{uuid.uuid4().hex[:10]}"
        self.path = folder / f"{self.name}.db"
        if dialect == "postgres":
            _run(["psql", *PG_HOST, "-X", "-q", "-d", "postgres", "-c", f'CREATE DATABASE "{self.name}"'])
        elif dialect == "mysql":
            _run(["mariadb", *MY_HOST, "-e", f"CREATE DATABASE `{self.name}`"])

    @property
    def url(self) -> str:
        return {
            "postgres": f"postgresql://postgres@127.0.0.1:5432/{self.name}",
            "mysql": f"mysql://root@127.0.0.1:3306/{self.name}",
            "sqlite": f"sqlite:///{self.path}",
        }[self.dialect]

    def client_accepts(self, script: Path) -> bool:
        command = {
            "postgres": ["psql", *PG_HOST, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.name, "-f", str(script)],
            "mysql": ["sh", "-c", f"mariadb {' '.join(MY_HOST)} {self.name} < '{script}'"],
            "sqlite": ["sh", "-c", f"sqlite3 -bail '{self.path}' < '{script}'"],
        }[self.dialect]
        return subprocess.run(command, capture_output=True).returncode == 0

    def drop(self) -> None:
        if self.dialect == "postgres":
            _run(
                [
                    "psql",
                    *PG_HOST,
                    "-X",
                    "-q",
                    "-d",
                    "postgres",
                    "-c",
                    f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)',
                ]
            )
        elif self.dialect == "mysql":
            _run(["mariadb", *MY_HOST, "-e", f"DROP DATABASE IF EXISTS `{self.name}`"])


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True)


def client_cut(history: Path, dialect: str, work: Path) -> tuple[list[Path], str]:
    """The UP files the raw client applies in a row from an empty database, and the first it rejects."""
    ups = sorted(history.glob("*.up.sql"), key=_version)
    database = Database(dialect, work)
    try:
        for index, up in enumerate(ups):
            if not database.client_accepts(up):
                return ups[:index], up.name
        return ups, ""
    finally:
        database.drop()


def _version(path: Path) -> int:
    return int(path.name.split("_", 1)[0])


def ours(ups: list[Path], dialect: str, work: Path) -> dict:
    """validate's errors and warnings, and apply's outcome, on a copy of the cut history."""
    folder = work / f"migrations_{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    for up in ups:
        shutil.copy(up, folder)
        down = up.with_name(up.name[: -len(".up.sql")] + ".down.sql")
        if down.exists():
            shutil.copy(down, folder)
    database = Database(dialect, work)
    try:
        base = [DB_MIGRATE, "--url", database.url, "--dir", str(folder), "--json"]
        validate = json.loads(
            subprocess.run([*base, "validate"], capture_output=True, text=True, cwd=work).stdout or "{}"
        )
        applied = subprocess.run([*base, "--yes", "apply"], capture_output=True, text=True, cwd=work)
        report = json.loads(applied.stdout or "{}")
        findings = validate.get("findings") or []
        return {
            "findings": [f for f in findings if f["severity"] in ("error", "warning")],
            "counts": Counter(f["severity"] + ("" if f["direction"] == "up" else "-down") for f in findings),
            "validate_error": _message(validate),
            "apply": report.get("outcome") or _message(report)[:100] or f"exit {applied.returncode}",
        }
    finally:
        database.drop()


def _message(report: dict) -> str:
    """The error of a report: an error object (a refused command) or a string (a failed run)."""
    error = report.get("error") or ""
    return error.get("message", "") if isinstance(error, dict) else str(error)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--only", default="", help="comma-separated history names")
    parser.add_argument("--show", action="store_true", help="print each error and warning")
    args = parser.parse_args()
    histories = sorted(p for p in args.cache.glob("*.*") if p.is_dir()) if args.cache.is_dir() else []
    if args.only:
        histories = [h for h in histories if h.name in args.only.split(",")]
    if not histories:
        print(f"no histories in {args.cache} (see this script's docstring); nothing measured")
        return 0
    print(
        f"{'history':28} {'migrations':>14} {'errors':>6} {'warnings':>8} {'DOWN-check':>10} {'goal':>5}  "
        "apply / first file the client rejects"
    )
    missed = 0
    for history in histories:
        dialect = history.name.rsplit(".", 1)[1]
        with tempfile.TemporaryDirectory(prefix="mm_noise_") as tmp:
            ups, rejected = client_cut(history, dialect, Path(tmp))
            total = len(list(history.glob("*.up.sql")))
            got = ours(ups, dialect, Path(tmp))
        errors, warnings = got["counts"]["error"], got["counts"]["warning"]
        down_warnings = got["counts"]["warning-down"] + got["counts"]["error-down"]
        ok = errors == 0 and warnings <= len(ups) / 10 and not got["validate_error"]
        missed += not ok
        print(
            f"{history.name:28} {len(ups):>6} of {total:<5} {errors:>6} {warnings:>8} {down_warnings:>10} "
            f"{'ok' if ok else 'MISS':>5}  "
            f"{got['apply']}{' / ' + rejected if rejected else ''}{' / ' + got['validate_error'] if got['validate_error'] else ''}"
        )
        if args.show:
            for finding in got["findings"]:
                print(
                    f"    {finding['severity']:7} {finding['migration']} {finding['rule']}: {finding['message'][:160]}"
                )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
