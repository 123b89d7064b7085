"""A private PostgreSQL server from the installed binaries, with wal_level=logical (the shared server may not
have it): for the blue-green tests and benchmark. Started in a temporary folder on a free port, as the
`postgres` user when run as root, and stopped (immediate) and removed afterwards."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def server_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@contextmanager
def logical_postgres(*settings: str) -> Iterator[str]:
    """Yields the server's base URL (postgresql://postgres@127.0.0.1:PORT); `settings` as extra `-c` options."""
    bin_dir = server_binaries()
    if bin_dir is None:
        raise FileNotFoundError("no PostgreSQL server binaries under /usr/lib/postgresql")
    folder, port = tempfile.mkdtemp(prefix="mm-pg-logical-"), _free_port()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data = f"{folder}/data"
    try:
        _as_postgres(str(bin_dir / "initdb"), "-D", data, "-A", "trust", "-U", "postgres")
        options = " ".join(
            [f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c wal_level=logical -c fsync=off"]
            + [f"-c {s}" for s in settings]
        )
        _as_postgres(str(bin_dir / "pg_ctl"), "-D", data, "-l", f"{folder}/log", "-o", options, "-w", "start")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}"
        finally:
            _as_postgres(str(bin_dir / "pg_ctl"), "-D", data, "-m", "immediate", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*command: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)


@contextmanager
def binlog_mariadb() -> Iterator[str]:
    """A private MariaDB with log_bin and binlog_format=ROW (mariadb-install-db + mariadbd in a temporary folder),
    yielding its base URL (mysql://root@127.0.0.1:PORT); stopped and removed afterwards."""
    import time

    import pymysql

    if not (shutil.which("mariadb-install-db") and Path("/usr/sbin/mariadbd").exists()):
        raise FileNotFoundError("no mariadb-install-db / mariadbd")
    folder, port = tempfile.mkdtemp(prefix="mm-mariadb-binlog-"), _free_port()
    user = ["--user=root"] if os.geteuid() == 0 else []
    data = f"{folder}/data"
    subprocess.run(
        ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal", *user],
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = subprocess.Popen(
        [
            "/usr/sbin/mariadbd",
            "--no-defaults",
            f"--datadir={data}",
            f"--socket={folder}/sock",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--log-bin={data}/bin",
            "--binlog-format=ROW",
            "--server-id=1",
            "--innodb-flush-log-at-trx-commit=2",
            *user,
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(f"{folder}/log", "wb"),  # the server keeps it open
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=port, user="root").close()
                break
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield f"mysql://root@127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
