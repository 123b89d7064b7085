"""Constructs real projects' histories use, which the server runs cleanly: the schema simulation must
not call them errors or warnings (issue 11). Each case runs on the server too, so "clean" is the
server's verdict, not ours; and a real mistake after them is still an error."""

from __future__ import annotations

import pytest

from migration_manager.analysis.schema import read_schema
from migration_manager.analysis.simulate import simulate
from migration_manager.dialects import open_engine

from .simulate_cases import first_failure, shape_after_up_and_down, write_migrations

PG_CLEAN = {
    "multi-object DROP INDEX, then the indexes again": [
        (
            "CREATE TABLE t (id int PRIMARY KEY, a int, b int);\nCREATE INDEX t_a ON t (a);\nCREATE INDEX t_b ON t (b);",
            None,
        ),
        ("DROP INDEX t_a, t_b;", None),
        ("CREATE INDEX t_a ON t (a);\nCREATE INDEX t_b ON t (b);", None),
    ],
    "multi-object DROP TABLE and DROP VIEW, then the names again": [
        (
            "CREATE TABLE a (id int PRIMARY KEY);\nCREATE TABLE b (id int PRIMARY KEY);\n"
            "CREATE VIEW va AS SELECT id FROM a;\nCREATE VIEW vb AS SELECT id FROM b;",
            None,
        ),
        ("DROP VIEW va, vb;\nDROP TABLE a, b;", None),
        ("CREATE TABLE a (id int PRIMARY KEY);\nCREATE VIEW va AS SELECT id FROM a;", None),
    ],
    "materialized view: index, refresh, drop": [
        (
            "CREATE TABLE t (id int PRIMARY KEY, n int);\n"
            "CREATE MATERIALIZED VIEW t_mview AS SELECT id, n FROM t WITH NO DATA;\n"
            "CREATE UNIQUE INDEX t_mview_id ON t_mview (id);",
            "DROP MATERIALIZED VIEW t_mview;\nDROP TABLE t;",
        ),
        ("REFRESH MATERIALIZED VIEW t_mview;\nDROP MATERIALIZED VIEW IF EXISTS t_mview, t_other;", None),
    ],
    "int and bigint referencing serial and bigserial": [
        (
            "CREATE TABLE users (user_id serial PRIMARY KEY);\nCREATE TABLE files (file_id bigserial PRIMARY KEY, "
            "owner_id integer NOT NULL REFERENCES users (user_id));\n"
            "CREATE TABLE keys (file_id bigint PRIMARY KEY REFERENCES files (file_id));\n"
            "CREATE TABLE tags (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id int REFERENCES users (user_id));",
            "DROP TABLE tags, keys, files, users;",
        )
    ],
    "both sides of foreign keys widened in one migration": [
        (
            "CREATE TABLE users (user_id serial PRIMARY KEY);\n"
            "CREATE TABLE files (owner_id int REFERENCES users (user_id));",
            None,
        ),
        (
            "ALTER TABLE files ALTER COLUMN owner_id TYPE bigint;\nALTER TABLE users ALTER COLUMN user_id TYPE bigint;",
            None,
        ),
    ],
    "RENAME without COLUMN renames a column": [
        ("CREATE TABLE subs (id int PRIMARY KEY, storage_in_mbs int);", None),
        (
            "ALTER TABLE subs RENAME storage_in_mbs TO storage;\nCREATE INDEX subs_storage ON subs (storage);",
            "DROP INDEX subs_storage;\nALTER TABLE subs RENAME storage TO storage_in_mbs;",
        ),
    ],
    "a renamed table keeps its constraints and indexes": [
        (
            "CREATE TABLE old (id int CONSTRAINT old_pk PRIMARY KEY, code text CONSTRAINT old_code_key UNIQUE, n int);\n"
            "CREATE INDEX old_n ON old (n);\nCREATE TABLE child (old_id int CONSTRAINT child_fk REFERENCES old (id));",
            None,
        ),
        (
            "ALTER TABLE old RENAME TO new;\nALTER TABLE new DROP CONSTRAINT old_code_key;\nDROP INDEX old_n;\n"
            "ALTER TABLE child DROP CONSTRAINT child_fk;\nALTER TABLE new DROP CONSTRAINT old_pk;",
            None,
        ),
    ],
    "DO block and function that drop objects, re-created after": [
        (
            "CREATE TABLE t (id int PRIMARY KEY, a int);\nCREATE INDEX t_a ON t (a);\n"
            "CREATE TABLE c (t_id int CONSTRAINT c_t_fk REFERENCES t (id));",
            None,
        ),
        (
            "DO $$ BEGIN EXECUTE 'DROP INDEX t_a'; END $$;\nCREATE INDEX t_a ON t (a);\n"
            "CREATE FUNCTION drop_fk(tab text, fk text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
            "EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', tab, fk); END $$;\n"
            "SELECT drop_fk('c', 'c_t_fk');\nALTER TABLE c ADD CONSTRAINT c_t_fk FOREIGN KEY (t_id) REFERENCES t (id);",
            None,
        ),
    ],
    "a table made by a DO block, then altered": [
        (
            "DO $$ BEGIN CREATE TABLE made (id int PRIMARY KEY); END $$;\nALTER TABLE made ADD COLUMN note text;\n"
            "CREATE INDEX made_note ON made (note);",
            None,
        )
    ],
    "function and trigger": [
        (
            "CREATE TABLE t (id int PRIMARY KEY, n int);\nCREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN NEW.n := coalesce(NEW.n, 0) + 1; RETURN NEW; END $$;\n"
            "CREATE TRIGGER t_bump BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION bump();",
            "DROP TRIGGER t_bump ON t;\nDROP FUNCTION bump();\nDROP TABLE t;",
        )
    ],
}

MYSQL_CLEAN = {
    "a procedure (DELIMITER block) that drops a foreign key and an index, re-added after": [
        (
            "CREATE TABLE p (id int PRIMARY KEY);\n"
            "CREATE TABLE c (id int PRIMARY KEY, p_id int, n int, CONSTRAINT c_p_fk FOREIGN KEY (p_id) REFERENCES p (id), "
            "KEY c_n (n));",
            None,
        ),
        (
            "DELIMITER //\nCREATE PROCEDURE drop_key(IN tab VARCHAR(64), IN what VARCHAR(200))\nBEGIN\n"
            "  SET @s = CONCAT('ALTER TABLE ', tab, ' DROP ', what);\n"
            "  PREPARE st FROM @s; EXECUTE st; DEALLOCATE PREPARE st;\nEND //\nDELIMITER ;\n"
            "CALL drop_key('c', 'FOREIGN KEY c_p_fk');\nCALL drop_key('c', 'INDEX c_n');\nDROP PROCEDURE drop_key;\n"
            "ALTER TABLE c ADD CONSTRAINT c_p_fk FOREIGN KEY (p_id) REFERENCES p (id);\nCREATE INDEX c_n ON c (n);",
            None,
        ),
    ],
    "multi-object DROP TABLE and DROP VIEW": [
        (
            "CREATE TABLE a (id int PRIMARY KEY);\nCREATE TABLE b (id int PRIMARY KEY);\n"
            "CREATE VIEW va AS SELECT id FROM a;\nCREATE VIEW vb AS SELECT id FROM b;",
            None,
        ),
        ("DROP VIEW va, vb;\nDROP TABLE a, b;", None),
        ("CREATE TABLE a (id int PRIMARY KEY);\nCREATE VIEW va AS SELECT id FROM a;", None),
    ],
    "IF NOT EXISTS index whose name exists, on a column that does not (the name is looked at first)": [
        ("CREATE TABLE t (id int PRIMARY KEY, a int);\nCREATE INDEX t_a ON t (a);", None),
        (
            "ALTER TABLE t DROP COLUMN a;\nCREATE TABLE t2 (id int PRIMARY KEY, a int);\nCREATE INDEX t_a ON t2 (a);\n"
            "CREATE INDEX IF NOT EXISTS t_a ON t2 (gone);",
            None,
        ),
    ],
    "bigint unsigned referencing SERIAL": [
        (
            "CREATE TABLE p (id SERIAL PRIMARY KEY);\n"
            "CREATE TABLE c (p_id BIGINT UNSIGNED, FOREIGN KEY (p_id) REFERENCES p (id));",
            None,
        )
    ],
    "RENAME TABLE keeps indexes and foreign keys": [
        (
            "CREATE TABLE p (id int PRIMARY KEY);\n"
            "CREATE TABLE c (id int PRIMARY KEY, p_id int, CONSTRAINT c_fk FOREIGN KEY (p_id) REFERENCES p (id));",
            None,
        ),
        (
            "RENAME TABLE p TO parent, c TO child;\nALTER TABLE child DROP FOREIGN KEY c_fk;\nDROP INDEX c_fk ON child;",
            None,
        ),
    ],
}


SQLITE_CLEAN = {
    "table rebuild: a referenced table dropped and replaced": [
        ("CREATE TABLE p (id int PRIMARY KEY);\nCREATE TABLE c (p_id int REFERENCES p (id));", None),
        (
            "CREATE TABLE _p_tmp (id int PRIMARY KEY, note text);\nINSERT INTO _p_tmp (id) SELECT id FROM p;\n"
            "DROP TABLE p;\nALTER TABLE _p_tmp RENAME TO p;",
            None,
        ),
    ],
    "constraint names are read and ignored: the same name in two tables and on an index": [
        (
            "CREATE TABLE a (id int, CONSTRAINT same UNIQUE (id));\n"
            "CREATE TABLE b (id int CONSTRAINT same PRIMARY KEY, a_id int REFERENCES a (id));\n"
            "CREATE INDEX same ON b (a_id);",
            None,
        )
    ],
    "IF NOT EXISTS index whose name exists, on a column that does not; DROP without COLUMN": [
        ("CREATE TABLE t (id int PRIMARY KEY, a int, b int);\nCREATE INDEX t_ab ON t (a);", None),
        (
            "ALTER TABLE t DROP b;\nCREATE INDEX IF NOT EXISTS t_ab ON t (a, b);\nDROP INDEX t_ab;\n"
            "ALTER TABLE t ADD COLUMN b text;",
            None,
        ),
    ],
    "a uuid column referencing a text key": [
        (
            "CREATE TABLE p (id text PRIMARY KEY);\nCREATE TABLE c (p_id uuid REFERENCES p (id), n int REFERENCES p (id));",
            None,
        )
    ],
    "a foreign key to a table created later (SQLite checks foreign keys only when rows are written)": [
        ("CREATE TABLE c (id int PRIMARY KEY, p_id text REFERENCES p (id));", "DROP TABLE c;"),
        (
            "CREATE TABLE p (id text PRIMARY KEY);\nINSERT INTO p (id) VALUES ('a');\n"
            "INSERT INTO c (id, p_id) VALUES (1, 'a');",
            "DROP TABLE p;",
        ),
    ],
}

# vaultwarden's 12-step rebuild (new_x, copy, DROP x, RENAME new_x TO x) of a table other tables reference,
# with a DOWN that adds the dropped column back: other tables' foreign keys name x and survive the DROP,
# the renamed table's key index takes x's name, and constraint names (new_x_pkey or x_pkey) mean nothing.
SQLITE_REBUILD = [
    (
        "CREATE TABLE ciphers (uuid text NOT NULL PRIMARY KEY, name text NOT NULL, favorite boolean NOT NULL DEFAULT 0);\n"
        "CREATE TABLE attachments (id text PRIMARY KEY, cipher_uuid text NOT NULL REFERENCES ciphers (uuid));",
        "DROP TABLE attachments;\nDROP TABLE ciphers;",
    ),
    (
        "CREATE TABLE new_ciphers (uuid text NOT NULL PRIMARY KEY, name text NOT NULL);\n"
        "INSERT INTO new_ciphers (uuid, name) SELECT uuid, name FROM ciphers;\nDROP TABLE ciphers;\n"
        "ALTER TABLE new_ciphers RENAME TO ciphers;",
        "ALTER TABLE ciphers ADD COLUMN favorite boolean NOT NULL DEFAULT 0;",
    ),
]


def _noise(engine, migrations) -> list:
    return [f for f in simulate(read_schema(engine), migrations) if f.severity in ("error", "warning")]


def _assert_clean(url: str, dialect: str, directory, scripts) -> None:
    engine = open_engine(url)
    try:
        migrations = write_migrations(directory, dialect, scripts)
        assert _noise(engine, migrations) == []
        assert first_failure(engine, migrations) is None, "the server must run it: the case is not a real history's"
    finally:
        engine.close()


@pytest.mark.postgres
@pytest.mark.parametrize("name", list(PG_CLEAN))
def test_postgres_history_construct_is_clean(pg_url, tmp_path, name):
    _assert_clean(pg_url, "postgres", tmp_path, PG_CLEAN[name])


@pytest.mark.mysql
@pytest.mark.parametrize("name", list(MYSQL_CLEAN))
def test_mariadb_history_construct_is_clean(mysql_url, tmp_path, name):
    _assert_clean(mysql_url, "mysql", tmp_path, MYSQL_CLEAN[name])


@pytest.mark.parametrize("name", list(SQLITE_CLEAN))
def test_sqlite_history_construct_is_clean(sqlite_url, tmp_path, name):
    _assert_clean(sqlite_url, "sqlite", tmp_path, SQLITE_CLEAN[name])


def test_sqlite_rebuild_of_a_referenced_table_is_undone_by_its_down(sqlite_url, tmp_path):
    engine = open_engine(sqlite_url)
    try:
        create, rebuild = write_migrations(tmp_path, "sqlite", SQLITE_REBUILD)
        assert simulate(read_schema(engine), [create, rebuild]) == []
        assert first_failure(engine, [create]) is None
        before, after = shape_after_up_and_down(engine, rebuild)
        assert before == after, "the simulation said the DOWN undoes the UP: so must the server"
        assert [fk[2:4] for fk in engine.query("PRAGMA foreign_key_list(attachments)")] == [("ciphers", "cipher_uuid")]
    finally:
        engine.close()


@pytest.mark.postgres
def test_unreadable_statement_makes_names_unknown_until_defined_again(pg_url, tmp_path):
    """A DO block's names are unknown (no verdict), but once a later statement defines the table again,
    a real mistake on it is an error, and the server agrees."""
    engine = open_engine(pg_url)
    try:
        migrations = write_migrations(
            tmp_path,
            "postgres",
            [
                (
                    "DO $$ BEGIN EXECUTE 'DROP TABLE IF EXISTS ghost'; END $$;\nCREATE TABLE ghost (id int PRIMARY KEY);",
                    None,
                ),
                ("ALTER TABLE ghost DROP COLUMN nope;", None),
            ],
        )
        found = _noise(engine, migrations)
        assert [(f.rule, f.severity, f.migration, f.statement_index) for f in found] == [
            ("schema-missing-column", "error", "2", 1)
        ]
        assert first_failure(engine, migrations)[:2] == ("2", 1)
    finally:
        engine.close()
