"""MariaDB and MySQL, all in one place: engine, schema, stats, locks, backup, clone, archive, and their Dialect."""

from __future__ import annotations

from functools import cached_property

from ..base import Dialect, ServerClock

LOCK_WAIT_ERRORS = {1205, 3572}  # lock wait timeout, NOWAIT
STATEMENT_TIMEOUT_ERRORS = {1969, 3024}  # MariaDB max_statement_time, MySQL MAX_EXECUTION_TIME


class MySQL(Dialect):
    name = "mysql"
    url_schemes = ("mysql", "mariadb")
    flavors = {"mysql": "MySQL", "mariadb": "MariaDB"}
    identifier_quote = "`"
    serial_types = {"SERIAL": "UBIGINT"}  # BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE
    lock_kind = "GET_LOCK"
    multi_statements = True
    # run_then_record sets @mm_started first: the time its statements began (UTC, as the history keeps times)
    server_clock = ServerClock(
        started="@mm_started",
        elapsed_ms="TIMESTAMPDIFF(MICROSECOND, @mm_started, UTC_TIMESTAMP(6)) DIV 1000",
        now="UTC_TIMESTAMP(6)",
    )
    client_tool = "mariadb"
    sorted_grouping = "SQL_BIG_RESULT"
    schema_is_database = True
    lock_timeout_sql = "SET SESSION lock_wait_timeout = 5;"
    value_too_big = "make it fail in strict SQL mode, and are cut or clamped to fit without it"
    table_level_ddl_locks = True  # metadata locks
    online_ddl_algorithms = True
    implicit_column_values = True
    updatable_views = True

    @cached_property
    def reserved_words(self) -> frozenset[str]:
        from sqlglot.dialects.mysql import MySQL

        return frozenset(MySQL.Generator.RESERVED_KEYWORDS)

    def server_flavor(self, version_text: str) -> tuple[str, tuple[int, ...]]:
        if "mariadb" not in version_text.lower():
            return super().server_flavor(version_text)
        # "10.11.6-MariaDB-1:10.11.6+maria~ubu2204": what follows the first "-" is the build's
        return "mariadb", super().server_flavor(version_text.split("-")[0])[1]

    def is_lock_timeout(self, exc: BaseException) -> bool:
        args = getattr(exc, "args", ())
        return bool(args) and args[0] in LOCK_WAIT_ERRORS

    def is_statement_timeout(self, exc: BaseException) -> bool:
        args = getattr(exc, "args", ())
        return bool(args) and args[0] in STATEMENT_TIMEOUT_ERRORS


DIALECT = MySQL()
