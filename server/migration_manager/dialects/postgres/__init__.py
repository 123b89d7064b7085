"""PostgreSQL, all in one place: engine, schema, stats, locks, backup, clone, archive, and its Dialect."""

from __future__ import annotations

import re
from functools import cached_property

from ..base import Dialect, ServerClock


class Postgres(Dialect):
    name = "postgres"
    url_schemes = ("postgres", "postgresql")
    flavors = {"postgresql": "PostgreSQL"}
    serial_types = {"SERIAL": "INT", "BIGSERIAL": "BIGINT", "SMALLSERIAL": "SMALLINT"}  # int + a sequence default
    bare_name = re.compile(r"^[a-z_][a-z0-9_]*$")  # unquoted names fold to lower case
    transactional_ddl = True
    lock_kind = "advisory lock"
    client_tool = "psql"
    aggregate_filter = True
    distinct_check_first = True
    pipelined = True
    # transaction_timestamp() is when the transaction began, clock_timestamp() the time now
    server_clock = ServerClock(
        started="transaction_timestamp()",
        elapsed_ms="(extract(epoch FROM clock_timestamp() - transaction_timestamp()) * 1000)::bigint",
        now="clock_timestamp()",
    )
    server_parser = True
    concurrent_index = True
    not_valid_constraints = True
    lock_timeout_sql = "SET lock_timeout = '5s';"
    value_too_big = "make the statement fail"
    type_change_needs_using = True
    foreign_key_types = "family"
    table_level_ddl_locks = True
    table_lock_modes = True
    updatable_views = True

    @cached_property
    def reserved_words(self) -> frozenset[str]:
        from pglast import keywords

        return frozenset(keywords.RESERVED_KEYWORDS | keywords.TYPE_FUNC_NAME_KEYWORDS | keywords.COL_NAME_KEYWORDS)

    def is_lock_timeout(self, exc: BaseException) -> bool:
        return getattr(exc, "sqlstate", None) == "55P03"  # lock_not_available

    def is_statement_timeout(self, exc: BaseException) -> bool:
        return getattr(exc, "sqlstate", None) == "57014"  # query_canceled (statement_timeout)


DIALECT = Postgres()
