"""Confirm the schema simulation's errors on the real engine before they block anything.

The simulation (analysis/simulate) reads SQL; a construct it does not model can make it refuse a statement
the server runs. So when it finds errors (never otherwise: no cost on a clean plan), the scripts are replayed
statement by statement on a schema-only scratch copy on the same server (`clone.make_copy(schema_only=True)`:
no rows, named and guarded like `db-migrate test`'s copies, so a killed run's copy is found as a leftover),
up to the last statement the simulation flagged, each migration as the runner runs it (one transaction, or
statement by statement), each statement under a savepoint so one failure does not hide the next. A flagged
statement the server refuses is confirmed (with the server's message); one it runs is demoted to a warning.
When the copy cannot be made or the replay cannot reach a statement, the error stays, marked not confirmed,
with the reason. The environment's database is only read (the copy is made from it); the copy is always
dropped.
"""

from __future__ import annotations

import re
from contextlib import closing, nullcontext
from itertools import groupby

from .. import clone
from ..analysis.model import Finding
from ..dialects import Engine, open_engine
from ..migrations.model import Migration, Script
from ..urls import parse_url, redact
from .context import Connection
from .runner import is_dml, mode_for

STATEMENT_TIMEOUT_MS = 30_000  # a replay on a copy without rows is quick: never let it hang a validate
ACCEPTED = (
    "the server accepted this statement on a schema-only copy of the database, so it is not an error "
    "(the simulation does not model this construct)."
)

# Statements whose effect would reach beyond the copy: server-wide objects (roles, databases, tablespaces,
# settings), files and other sessions. They are not replayed; an error flagged on one stays unconfirmed.
_OUTSIDE_THE_COPY = re.compile(
    r"\b(CREATE|ALTER|DROP|RENAME)\s+(ROLE|USER|GROUP|DATABASE|TABLESPACE|SUBSCRIPTION|SERVER|EVENT)\b"
    # statement words, at the start of a statement (or of one inside a DO block / dynamic SQL string)
    r"|(?:^|[;'$]|\b(?:BEGIN|THEN|ELSE|LOOP)\b)\s*(?:GRANT|REVOKE|ALTER\s+SYSTEM|ATTACH|DETACH|FLUSH|KILL|PURGE"
    r"|SHUTDOWN|INSTALL|UNINSTALL|USE|CHANGE\s+MASTER|(?:START|STOP)\s+(?:SLAVE|REPLICA)|LOAD\s+DATA)\b"
    r"|\bSET\s+(GLOBAL|PERSIST|PERSIST_ONLY|PASSWORD)\b|@@global\.|\bON\s+(DATABASE|ROLE|TABLESPACE)\b"
    r"|\b(REASSIGN|DROP)\s+OWNED\b|\bCOPY\b[^;]*\b(TO|FROM)\s+(PROGRAM\b|')|\bINTO\s+(OUT|DUMP)FILE\b"
    r"|\bVACUUM\s+INTO\b"
    r"|\b(dblink\w*|lo_import|lo_export|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_file_write"
    r"|load_file|load_extension)\s*\(",
    re.IGNORECASE,
)
# On MariaDB/MySQL a schema is a database (PostgreSQL's live in the copy), and a qualified name may reach
# another database, the environment's own among them.
_MYSQL_SCHEMA = r"\b(CREATE|ALTER|DROP)\s+SCHEMA\b"
_QUALIFIER = r"(?<![\w$`]){name}\s*\.|`{name}`\s*\."


def confirm_on_server(conn: Connection, migrations: list[Migration], findings: list[Finding], direction: str) -> None:
    """Marks each error of `findings` confirmed, accepted (demoted to a warning) or not confirmed, in place."""
    errors = [f for f in findings if f.severity == "error"]
    if not errors or not conn.project.settings.validation.confirmOnServer:
        return
    try:
        copy = clone.make_copy(conn.project.target.url, schema_only=True)
    except Exception as exc:  # noqa: BLE001 - no copy (privileges, tools, server): the errors stay, unconfirmed
        _unconfirmed(errors, f"the schema-only scratch copy could not be made: {_one_line(exc)}")
        return
    try:
        Replay(conn, copy, errors).run(migrations, direction)
    except Exception as exc:  # noqa: BLE001 - the session to the copy failed: what was not judged stays an error
        _unconfirmed([f for f in errors if f.server_check is None], f"the replay on the copy stopped: {_one_line(exc)}")
    finally:
        _drop(copy, errors)


class Replay:
    """The pending scripts run on the copy, judging each flagged statement by what the server does."""

    def __init__(self, conn: Connection, copy: clone.ScratchCopy, errors: list[Finding]) -> None:
        self.conn, self.copy = conn, copy
        self.database, self.copy_database = parse_url(conn.project.target.url).database, parse_url(copy.url).database
        self.flagged: dict[tuple[str | None, int | None], list[Finding]] = {}
        for finding in errors:
            self.flagged.setdefault((finding.migration, finding.statement_index), []).append(finding)

    def run(self, migrations: list[Migration], direction: str) -> None:
        with closing(open_engine(self.copy.url)) as engine:
            engine.set_session_timeouts(STATEMENT_TIMEOUT_MS, STATEMENT_TIMEOUT_MS)
            outside = _outside_names(engine)
            for migration in migrations:
                if not self.flagged:
                    return  # past the last flagged statement: nothing left to judge
                script = migration.up if direction == "up" else migration.down
                if script is None:
                    continue
                if script.is_python:
                    self._stop(
                        f"the Python migration {migration.version} runs before it, and its code is not run on the copy"
                    )
                    return
                self._script(engine, migration.version, script, outside)
            self._stop("the replay did not reach it")

    def _script(self, engine: Engine, version: str, script: Script, outside: re.Pattern[str] | None) -> None:
        numbered = list(enumerate(script.statements, start=1))
        if mode_for(self.conn.engine, script)[0] == "transaction":
            with engine.transaction():
                self._statements(engine, version, numbered, outside, savepoint=True)
            return
        # Statement by statement, as the runner runs it; but each run of DML statements in one transaction, each
        # under a savepoint: on the scratch copy, committing rows together changes nothing a verdict sees, and a
        # commit per INSERT (an fsync on MariaDB, ~2 ms) made a bulk load of 449k rows a quarter of an hour.
        for dml, statements in groupby(numbered, key=lambda numbered_sql: is_dml(numbered_sql[1])):
            if not self.flagged:
                return
            with engine.transaction() if dml else nullcontext():
                self._statements(engine, version, list(statements), outside, savepoint=dml)

    def _statements(
        self,
        engine: Engine,
        version: str,
        statements: list[tuple[int, str]],
        outside: re.Pattern[str] | None,
        *,
        savepoint: bool,
    ) -> None:
        for index, sql in statements:
            if not self.flagged:
                return  # past the last flagged statement: nothing left to judge
            flagged = self.flagged.pop((version, index), [])
            if _OUTSIDE_THE_COPY.search(sql) or (outside and outside.search(sql)):
                _unconfirmed(
                    flagged,
                    "not replayed on the copy: the statement may change things outside this "
                    "database (roles, other databases, files, server settings)",
                )
                continue
            problem = self._statement(engine, sql, savepoint=savepoint)
            if problem:  # the server names the copy: say the environment's database, as apply would see it
                problem = problem.replace(self.copy_database, self.database)
            for finding in flagged:
                _judge(finding, problem)

    def _statement(self, engine: Engine, sql: str, *, savepoint: bool) -> str | None:
        """None when the server ran it, else its message. In a transaction a savepoint undoes the failed
        statement alone (PostgreSQL would otherwise refuse every later one), as a per-statement run does."""
        if savepoint:
            engine.execute("SAVEPOINT mm_server_check")
        problem = None
        try:
            engine.execute(sql)
        except Exception as exc:
            if not engine.is_connected():
                raise
            if savepoint:
                engine.execute("ROLLBACK TO SAVEPOINT mm_server_check")
            problem = _one_line(exc)
        if savepoint:
            engine.execute("RELEASE SAVEPOINT mm_server_check")
        return problem

    def _stop(self, reason: str) -> None:
        _unconfirmed([f for group in self.flagged.values() for f in group], reason)
        self.flagged.clear()


def _judge(finding: Finding, problem: str | None) -> None:
    if problem is not None:
        finding.server_check, finding.server_message = "confirmed", problem
        return
    finding.server_check, finding.severity = "accepted", "warning"
    finding.server_message = "the server accepted it on a schema-only copy"
    finding.recommendation = "Nothing to fix: the server ran this statement on a copy of the schema."
    finding.message += " But " + ACCEPTED


def _unconfirmed(findings: list[Finding], reason: str) -> None:
    for finding in findings:
        finding.server_check, finding.server_message = "not-confirmed", reason


def _outside_names(engine: Engine) -> re.Pattern[str] | None:
    """Where a schema is a database (MariaDB/MySQL): statements that reach another database (see _MYSQL_SCHEMA)."""
    if not engine.caps.schema_is_database:
        return None
    current = engine.query("SELECT DATABASE()")[0][0]
    others = [r[0] for r in engine.query("SHOW DATABASES") if r[0] != current]
    return re.compile("|".join([_MYSQL_SCHEMA] + [_QUALIFIER.format(name=re.escape(n)) for n in others]), re.IGNORECASE)


def _drop(copy: clone.ScratchCopy, errors: list[Finding]) -> None:
    try:
        copy.drop()
    except Exception as exc:  # noqa: BLE001 - the verdicts stand; say the copy is left (status lists it)
        for finding in errors:
            finding.server_message = (finding.server_message or "") + (
                f" (the scratch copy {redact(copy.name)} could not be dropped: {_one_line(exc)}; drop it by hand)"
            )


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return redact(" ".join(text.split()))[:400] or type(exc).__name__
