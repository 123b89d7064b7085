"""The Dialect objects: one per database, found by name, each with its one quote() and its capabilities."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import pytest

from migration_manager import dialects
from migration_manager.analysis.locks import Server
from migration_manager.errors import ConfigError
from migration_manager.urls import parse_url


def test_each_name_finds_its_dialect_and_an_unknown_one_is_refused():
    assert [d.name for d in dialects.every()] == list(dialects.NAMES)
    assert dialects.get("postgres") is dialects.get("postgres")
    with pytest.raises(ConfigError, match="mongodb is not supported"):
        dialects.get("mongodb")


def test_quote_doubles_the_quote_inside_a_name():
    assert dialects.get("postgres").quote('we"ird') == '"we""ird"'
    assert dialects.get("sqlite").quote("order items") == '"order items"'
    assert dialects.get("mysql").quote("we`ird") == "`we``ird`"
    assert dialects.get("mysql").quote('we"ird') == '`we"ird`'


def test_a_name_is_written_bare_only_where_the_server_reads_it_back_unchanged():
    postgres, mysql = dialects.get("postgres"), dialects.get("mysql")
    assert postgres.as_written("users") == "users"
    assert postgres.as_written("Users") == '"Users"'  # PostgreSQL folds bare names to lower case
    assert mysql.as_written("Users") == "Users"
    assert mysql.as_written("select") == "`select`"
    assert dialects.get("sqlite").as_written("user") == '"user"'  # a keyword of another server: quoted


def test_the_server_flavor_comes_from_the_version_text():
    mariadb = Server.parse("mysql", "10.11.6-MariaDB-1:10.11.6+maria~ubu2204")
    assert (mariadb.flavor, mariadb.version, mariadb.label) == ("mariadb", (10, 11, 6), "MariaDB 10.11")
    assert Server.parse("mysql", "8.0.36").label == "MySQL 8.0"
    assert Server.parse("postgres", "PostgreSQL 16.2 on x86_64").label == "PostgreSQL 16.2"


def test_lock_timeouts_are_told_apart_by_each_dialect():
    class PgError(Exception):
        sqlstate = "55P03"

    assert dialects.get("postgres").is_lock_timeout(PgError())
    assert dialects.get("mysql").is_lock_timeout(Exception(1205, "Lock wait timeout exceeded"))
    assert not dialects.get("mysql").is_lock_timeout(Exception(1062, "Duplicate entry"))
    assert dialects.get("sqlite").is_lock_timeout(sqlite3.OperationalError("database is locked"))


def test_statement_timeouts_are_told_apart_by_each_dialect():
    class Canceled(Exception):
        sqlstate = "57014"

    assert dialects.get("postgres").is_statement_timeout(Canceled())
    assert not dialects.get("postgres").is_lock_timeout(Canceled())
    assert dialects.get("mysql").is_statement_timeout(Exception(1969, "Query execution was interrupted"))
    assert dialects.get("sqlite").is_statement_timeout(sqlite3.OperationalError("interrupted"))
    assert not dialects.get("sqlite").is_statement_timeout(sqlite3.OperationalError("database is locked"))


def test_url_schemes_come_from_the_dialects():
    assert parse_url("mariadb://root@127.0.0.1/db").kind == "mysql"
    assert parse_url("postgresql+psycopg://u@h/db").kind == "postgres"
    assert parse_url("sqlite:///x.db").database == "x.db"
    assert parse_url("mongodb://h/db").kind == "mongodb"
    with pytest.raises(ConfigError, match="SQLite URL sqlite:// names no file"):
        parse_url("sqlite://")


def test_a_wrong_url_suggests_only_databases_this_version_runs():
    """mongodb:// parses (open_engine then says it is not supported yet): the hints never offer it."""
    for url in ("oracle://scott@db/orcl", "not a url"):
        with pytest.raises(ConfigError) as refused:
            parse_url(url)
        assert "mongodb" not in refused.value.next_step and "postgresql" in refused.value.next_step


PACKAGE = Path(__file__).resolve().parents[2] / "server" / "migration_manager"
# Quoting functions written before Dialect.quote existed, still to be replaced by it (`quote = DIALECT.quote`).
STILL_QUOTING_THEMSELVES = {"dialects/mysql/shadow.py", "dialects/postgres/shadow.py"}


def _doubles_a_quote(node: ast.AST) -> bool:
    """`name.replace('"', '""')` or `name.replace("`", "``")`: a quoting function of its own."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "replace"
        and [a.value for a in node.args if isinstance(a, ast.Constant)] in (['"', '""'], ["`", "``"])
    )


def test_names_are_quoted_by_the_dialect_alone():
    found = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(_doubles_a_quote(node) for node in ast.walk(ast.parse(path.read_text())))
    }
    assert found - {"dialects/base.py"} <= STILL_QUOTING_THEMSELVES, (
        "quote names with dialects.get(name).quote (engine.caps.quote), not a function of your own"
    )
