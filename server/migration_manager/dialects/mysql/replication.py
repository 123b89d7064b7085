"""MariaDB / MySQL binary-log replay for blue-green deployments (strategies/blue_green.py).

The copy: `mariadb-dump --single-transaction --master-data=2` gives the rows and the binary-log position of one
consistent snapshot; a follower process (`mariadb-binlog --read-from-remote-server --stop-never` from that
position, the source database's row events rewritten to the target, piped into the `mariadb` client) then
replays every later write. It runs detached, outliving the command, and is found again by its pid file in
`<tmp>/migration-manager-bg/<name>.json` (with the target and the position); stop kills it. Row-based logging is
required (binlog_format=ROW: the row events carry primary keys, and BINLOG row events do not fire the target's
triggers). The follower is on the machine that ran `apply`, and the target on the source's server.

The write freeze: MariaDB has no read-only switch per database, so BEFORE INSERT/UPDATE/DELETE triggers on every
table of the frozen database refuse writes (SIGNAL 45000); sessions still connected after `bound_s` are ended.
Replayed row events are not refused (they do not fire triggers). Catch-up is proven by a marker row written into
`_mm_bg_marker` on the source and waited for on the target.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from contextlib import closing
from pathlib import Path

from ...errors import CopyFailed, MigrationError
from ...urls import DatabaseURL, parse_url, redact
from .. import Engine, open_engine
from . import DIALECT
from .backup import connection_args, password_env
from .clone import admin_session, drop

quote = DIALECT.quote

POLL_S = 0.01
SEQUENCES_REPLICATED = True  # AUTO_INCREMENT follows the replayed rows
MARKER = "_mm_bg_marker"
FREEZE_TRIGGER = "_mm_freeze_"
FROZEN_MESSAGE = "frozen by db-migrate switch: use the active database (db-migrate url)"


class ReplicationFailed(MigrationError):
    kind = "replication_failed"
    exit_code = 9


def replication_off(engine: Engine) -> str | None:
    log_bin, binlog_format = engine.query("SELECT @@log_bin, @@binlog_format")[0]
    if int(log_bin) and binlog_format == "ROW":
        return None
    return (
        f"binary logging is {'on' if int(log_bin) else 'off'} with binlog_format={binlog_format}: blue-green replays "
        "the binary log, which needs log_bin and binlog_format=ROW (server settings, then a restart). Without it "
        "use the offline strategy (a stated downtime)"
    )


def problems(engine: Engine, exclude: tuple[str, ...]) -> list[str]:
    found = [off] if (off := replication_off(engine)) else []
    rows = engine.query(
        "SELECT t.table_name FROM information_schema.tables t WHERE t.table_schema = DATABASE() "
        "AND t.table_type = 'BASE TABLE' AND NOT EXISTS (SELECT 1 FROM information_schema.table_constraints c "
        "WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.constraint_type = 'PRIMARY KEY') "
        "ORDER BY 1"
    )
    for (table,) in rows:
        if table not in exclude and not table.startswith("_mm_"):
            found.append(
                f"table {table} has no primary key: its replayed UPDATEs and DELETEs would match rows by every "
                "column, slowly and ambiguously. Add a primary key"
            )
    return found


def tables(engine: Engine, exclude: tuple[str, ...]) -> list[str]:
    rows = engine.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
        "AND table_type = 'BASE TABLE' ORDER BY 1"
    )
    return [r[0] for r in rows if r[0] not in exclude and not r[0].startswith("_mm_")]


def columns(engine: Engine, table: str) -> list[str]:
    rows = engine.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = %s "
        "ORDER BY ordinal_position",
        [table],
    )
    return [r[0] for r in rows]


def schema_fingerprint(engine: Engine, exclude: tuple[str, ...]) -> str:
    rows = engine.query(
        "SELECT MD5(COALESCE(GROUP_CONCAT(x ORDER BY x SEPARATOR '|'), '')) FROM ("
        " SELECT CONCAT(table_name, '.', column_name, ':', column_type, is_nullable) AS x FROM information_schema.columns"
        " WHERE table_schema = DATABASE() AND table_name NOT LIKE '\\_mm\\_%%'"
        " UNION ALL SELECT CONCAT(table_name, ' ', index_name, ' ', column_name) FROM information_schema.statistics"
        " WHERE table_schema = DATABASE() AND table_name NOT LIKE '\\_mm\\_%%') s"
    )
    return rows[0][0]


# ---- the green database ----------------------------------------------------------------------
def create_copy(source: DatabaseURL, name: str, data_tables: tuple[str, ...]) -> str:
    """The schema only: the rows (the history's too) come with the position in subscribe()."""
    with closing(admin_session(source)) as admin:
        admin.execute(f"CREATE DATABASE {quote(name)}")
    try:
        _pipe(source, ["--no-data", "--routines", "--triggers"], name)
    except BaseException:
        drop(source, name)
        raise
    return "mariadb-dump --no-data, then the rows at one binary-log position, then mariadb-binlog replays every write"


def drop_database(server: DatabaseURL, name: str) -> None:
    drop(server, name)


def database_exists(server: DatabaseURL, name: str) -> bool:
    with closing(admin_session(server)) as admin:
        return bool(admin.query("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [name]))


# ---- replication -------------------------------------------------------------------------------
def make_slot(source_url: str, name: str, columns_of: dict[str, list[str]]) -> None:
    """Where replay starts: the marker table, and the source's binary-log position now (kept in the follower's
    file until subscribe() starts it). The follower replays whole rows (columns_of is PostgreSQL's)."""
    with closing(open_engine(source_url)) as source:
        source.execute(f"CREATE TABLE IF NOT EXISTS {MARKER} (id varchar(40) PRIMARY KEY)")
        position = _position(source)
    _write_state(name, {"source": parse_url(source_url).database, "position": position})


def subscribe(source_url: str, target_url: str, name: str, *, copy_data: bool) -> None:
    """Start the follower into the target; copy_data: first the rows, at the position they were read at."""
    source, target = parse_url(source_url), parse_url(target_url)
    state = _read_state(name) or {}
    engine = open_engine(target_url)
    try:  # the marker rows of wait_caught_up land here
        engine.execute(f"CREATE TABLE IF NOT EXISTS {MARKER} (id varchar(40) PRIMARY KEY)")
    finally:
        engine.close()
    if copy_data:
        dump = _pipe(source, ["--no-create-info", "--single-transaction", "--master-data=2"], target.database)
        state["position"] = _dumped_position(dump)
    command = _follower_command(source, target, state["position"])
    process = subprocess.Popen(  # shell=True: a pipe of the two client tools, its words quoted
        command,
        shell=True,
        start_new_session=True,  # outlives this command; stop() ends its whole group
        stdout=subprocess.DEVNULL,
        stderr=open(_state_path(name).with_suffix(".log"), "ab"),  # the child keeps it open
        env={**os.environ, **password_env(source)},
    )
    _write_state(name, {**state, "source": source.database, "target": target.database, "pid": process.pid})


def stop(source_url: str, target_url: str, name: str) -> None:
    state = _read_state(name)
    if state and state.get("pid"):
        try:
            os.killpg(state["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
    _state_path(name).unlink(missing_ok=True)
    _state_path(name).with_suffix(".log").unlink(missing_ok=True)


def wait_synced(target_url: str, name: str, timeout_s: float) -> None:
    """The rows were loaded by subscribe() before the follower started: only check it runs (it starts its
    pipe first: give it a moment)."""
    deadline = time.monotonic() + min(timeout_s, 5)
    while not _alive(name) and time.monotonic() < deadline:
        time.sleep(POLL_S * 10)
    if not _alive(name):
        raise ReplicationFailed(
            f"The binary-log follower {name} stopped: {_log_tail(name)}",
            state="Blue is unchanged and serves; green is being dropped.",
            next_step="Fix the cause above and run the blue-green apply again.",
        )


def wait_streaming(source: Engine, name: str, timeout_s: float) -> None:
    wait_synced("", name, timeout_s)


def lag_bytes(source: Engine, name: str) -> int | None:
    """Not measured: the follower does not report its position (catch-up is proven by a marker row)."""
    return None


def wait_caught_up(source: Engine, name: str, timeout_s: float) -> None:
    """Write a marker row on the source and wait until the follower replayed it into the target."""
    state = _read_state(name)
    if not state or not _alive(name):
        raise ReplicationFailed(
            f"The binary-log follower {name} is not running: the copy no longer receives the source's writes. "
            + (_log_tail(name) if state else ""),
            state="Nothing was switched; the source serves (any freeze was lifted).",
            next_step="`db-migrate complete` drops the stale copy; the blue-green apply then makes a new one.",
        )
    marker = uuid.uuid4().hex
    source.execute(f"INSERT INTO {MARKER} (id) VALUES (%s)", [marker])
    deadline = time.monotonic() + timeout_s
    while not source.query(f"SELECT 1 FROM {quote(state['target'])}.{MARKER} WHERE id = %s", [marker]):
        if time.monotonic() > deadline:
            raise ReplicationFailed(
                f"The copy did not replay the source's last write within {timeout_s:g} s.",
                state="Nothing was switched; the source serves (any freeze was lifted).",
                next_step="Look at the follower's log: " + str(_state_path(name).with_suffix(".log")),
            )
        time.sleep(POLL_S)


# ---- the write freeze ------------------------------------------------------------------------------
def freeze(server: DatabaseURL, database: str, bound_s: float, exclude: tuple[str, ...] = ()) -> list[str]:
    """Triggers refuse every write to the database's tables but `exclude` (the tool's history: only the tool
    writes it), each waiting for the table's running transactions at most `bound_s`; then every other session
    using the database is ended."""
    with closing(open_engine(_with_database(server, database))) as engine:
        engine.execute(f"SET SESSION lock_wait_timeout = {max(1, round(bound_s))}")
        _off_the_binary_log(engine)
        for table in tables(engine, exclude):
            for event in ("INSERT", "UPDATE", "DELETE"):
                engine.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {quote(_trigger(table, event))} BEFORE {event} ON {quote(table)} "
                    f"FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{FROZEN_MESSAGE}'"
                )
        ended = engine.query(
            "SELECT id, CONCAT(user, '@', host, ': ', command) FROM information_schema.processlist "
            "WHERE db = %s AND id <> CONNECTION_ID() AND command NOT IN ('Binlog Dump', 'Daemon')",
            [database],
        )
        for session, _ in ended:
            try:
                engine.execute(f"KILL {int(session)}")
            except Exception:  # noqa: BLE001 - it ended on its own meanwhile
                pass
        return [f"{session} ({what})" for session, what in ended]


def unfreeze(server: DatabaseURL, database: str) -> None:
    with closing(open_engine(_with_database(server, database))) as engine:
        _off_the_binary_log(engine)
        for (trigger,) in engine.query(
            "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE() "
            "AND trigger_name LIKE %s",
            [FREEZE_TRIGGER.replace("_", "\\_") + "%"],
        ):
            engine.execute(f"DROP TRIGGER IF EXISTS {quote(trigger)}")


def copy_sequences(source: Engine, target: Engine) -> int:
    """AUTO_INCREMENT follows the replayed rows: nothing to carry over."""
    return 0


def row_counts(engine: Engine, names: list[str]) -> dict[str, int]:
    return {t: engine.query(f"SELECT COUNT(*) FROM {quote(t)}")[0][0] for t in names}


# ---- helpers -------------------------------------------------------------------------------------
def _off_the_binary_log(engine: Engine) -> None:
    """The freeze's triggers are not replayed onto the other side (needs SUPER or BINLOG ADMIN; without it they
    are, and the hand-over drops them there)."""
    try:
        engine.execute("SET SESSION sql_log_bin = 0")
    except Exception:  # noqa: BLE001 - a missing privilege: the hand-over's unfreeze covers it
        pass


def _trigger(table: str, event: str) -> str:
    return f"{FREEZE_TRIGGER}{event.lower()[:3]}_{table}"[:64]


def _position(engine: Engine) -> list:
    file, position = engine.query("SHOW MASTER STATUS")[0][:2]
    return [file, int(position)]


def _dumped_position(dump: str) -> list:
    for line in dump.splitlines():
        if "CHANGE MASTER TO" in line:
            file = line.split("MASTER_LOG_FILE='", 1)[1].split("'", 1)[0]
            position = int(line.split("MASTER_LOG_POS=", 1)[1].split(";", 1)[0].split(",", 1)[0])
            return [file, position]
    raise ReplicationFailed("mariadb-dump gave no binary-log position (is log_bin on?).", state="Green was dropped.")


def _pipe(source: DatabaseURL, flags: list[str], target_database: str) -> str:
    """mariadb-dump of the source into the target database; returns the dump's comment header (the position)."""
    dump_tool = shutil.which("mariadb-dump") or "mysqldump"
    client = shutil.which("mariadb") or "mysql"
    env = {**os.environ, **password_env(source)}
    dumped = subprocess.run(
        [dump_tool, *connection_args(source), *flags, source.database], capture_output=True, env=env
    )
    if dumped.returncode == 0:
        loaded = subprocess.run(
            [client, *connection_args(source), target_database], input=dumped.stdout, capture_output=True, env=env
        )
    if dumped.returncode or loaded.returncode:
        errors = dumped.stderr.decode(errors="replace") + (
            loaded.stderr.decode(errors="replace") if not dumped.returncode else ""
        )
        raise CopyFailed(
            f"mariadb-dump | mariadb of {source.redacted} into {target_database} failed: {redact(errors.strip())[-600:]}",
            state="Blue is unchanged; green is being dropped.",
            next_step="Fix the cause above (privileges, client tools) and run again.",
        )
    return dumped.stdout[:4000].decode(errors="replace")


def _follower_command(source: DatabaseURL, target: DatabaseURL, position: list) -> str:
    file, start = position
    args = " ".join(connection_args(source))
    rewrite = f"--rewrite-db={source.database}->{target.database}"
    return (
        f"mariadb-binlog --read-from-remote-server {args} --stop-never --skip-gtid-strict-mode "
        f"--start-position={int(start)} --database={_shell_word(source.database)} {_shell_word(rewrite)} "
        f"{_shell_word(file)} | mariadb {args} {_shell_word(target.database)}"
    )


def _shell_word(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _with_database(server: DatabaseURL, database: str) -> str:
    from ...clone import with_database

    return with_database(server, database)


def _state_path(name: str) -> Path:
    folder = Path(tempfile.gettempdir()) / "migration-manager-bg"
    folder.mkdir(exist_ok=True)
    return folder / f"{name}.json"


def _write_state(name: str, state: dict) -> None:
    _state_path(name).write_text(json.dumps(state))


def _read_state(name: str) -> dict | None:
    path = _state_path(name)
    return json.loads(path.read_text()) if path.exists() else None


def _alive(name: str) -> bool:
    state = _read_state(name)
    if not state or not state.get("pid"):
        return False
    try:
        os.killpg(state["pid"], 0)
    except ProcessLookupError:
        return False
    return subprocess.run(["pgrep", "-g", str(state["pid"]), "mariadb-binlog"], capture_output=True).returncode == 0


def _log_tail(name: str) -> str:
    log = _state_path(name).with_suffix(".log")
    return redact(log.read_text(errors="replace").strip()[-400:]) if log.exists() else ""
