"""The statement splitter and the checksum normalizer, per dialect."""

from __future__ import annotations

import pytest

from migration_manager.errors import MigrationFileError
from migration_manager.migrations.sqltext import (
    is_transaction_control,
    normalize,
    refused_transaction_control,
    split,
    tokens,
)


def test_postgres_dollar_quoted_body_stays_one_statement() -> None:
    sql = """CREATE FUNCTION touch() RETURNS trigger AS $$
BEGIN
  NEW.updated_at := now(); RETURN NEW;
END; $$ LANGUAGE plpgsql;
CREATE TABLE t (id int);"""
    parts = split(sql, "postgres")
    assert len(parts) == 2
    assert parts[0].startswith("CREATE FUNCTION touch()") and parts[0].endswith("LANGUAGE plpgsql")
    assert parts[1] == "CREATE TABLE t (id int)"


def test_postgres_tagged_dollar_quotes_and_strings_with_semicolons() -> None:
    sql = "INSERT INTO t VALUES ('a;b', $tag$ x;y $tag$, E'it\\'s;');\nSELECT ';'"
    assert split(sql, "postgres") == ["INSERT INTO t VALUES ('a;b', $tag$ x;y $tag$, E'it\\'s;')", "SELECT ';'"]


def test_postgres_comments_with_semicolons_do_not_split() -> None:
    sql = "-- first; still a comment\nCREATE TABLE a (id int); /* block; comment */\nCREATE TABLE b (id int);"
    parts = split(sql, "postgres")
    assert len(parts) == 2
    assert normalize(parts[0], "postgres") == "CREATE TABLE a (id int)"
    assert normalize(parts[1], "postgres") == "CREATE TABLE b (id int)"


def test_postgres_unterminated_quote_is_a_file_error() -> None:
    with pytest.raises(MigrationFileError, match="Cannot split"):
        split("INSERT INTO t VALUES ('oops);", "postgres")


def test_mysql_strings_backslashes_and_hash_comments() -> None:
    sql = "INSERT INTO t VALUES ('it\\'s; fine', \"x;y\"); # trailing; comment\nSELECT `a;b` FROM t;"
    parts = split(sql, "mysql")
    assert [normalize(p, "mysql") for p in parts] == [
        "INSERT INTO t VALUES ('it\\'s; fine', \"x;y\")",
        "SELECT `a;b` FROM t",
    ]


def test_mysql_routine_body_without_delimiter_is_kept_whole() -> None:
    sql = """CREATE PROCEDURE p() BEGIN
  IF 1 THEN SELECT 1; END IF;
  WHILE 0 DO SET @x = 0; END WHILE;
  CASE WHEN 1 THEN SELECT 2; END CASE;
END;
CREATE TABLE t (id int);"""
    parts = split(sql, "mysql")
    assert len(parts) == 2
    assert parts[0].startswith("CREATE PROCEDURE p()") and parts[0].endswith("END")
    assert parts[1] == "CREATE TABLE t (id int)"


def test_mysql_delimiter_blocks_respect_quotes() -> None:
    sql = """DELIMITER //
CREATE PROCEDURE p() BEGIN SELECT '//'; SELECT 2; END //
DELIMITER ;
INSERT INTO t VALUES ('a;b'); SELECT "x;y";
"""
    assert split(sql, "mysql") == [
        "CREATE PROCEDURE p() BEGIN SELECT '//'; SELECT 2; END",
        "INSERT INTO t VALUES ('a;b')",
        'SELECT "x;y"',
    ]


def test_mysql_trigger_with_begin_end_is_one_statement() -> None:
    sql = "CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.b = 2; END;\nSELECT 1;"
    assert split(sql, "mysql") == [
        "CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.b = 2; END",
        "SELECT 1",
    ]


def test_sqlite_trigger_body_is_one_statement() -> None:
    sql = "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO l VALUES (';'); UPDATE l SET a = 1; END;\nCREATE TABLE x (a int);"
    assert split(sql, "sqlite") == [
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO l VALUES (';'); UPDATE l SET a = 1; END",
        "CREATE TABLE x (a int)",
    ]


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_blank_and_comment_only_pieces_are_dropped(dialect: str) -> None:
    assert split("-- nothing here\n;\n  ;\n/* nor here */", dialect) == []


@pytest.mark.parametrize(
    "statement",
    ["BEGIN", "begin;", "COMMIT", "START TRANSACTION", "COMMIT WORK", "END", "BEGIN TRANSACTION", "END TRANSACTION"],
)
def test_transaction_control_is_recognised(statement: str) -> None:
    assert is_transaction_control(statement, "postgres")


@pytest.mark.parametrize(
    "statement", ["BEGIN ATOMIC SELECT 1; END", "COMMITTED_AT int", "CREATE TABLE begin_x (a int)"]
)
def test_other_statements_are_not_transaction_control(statement: str) -> None:
    assert not is_transaction_control(statement, "postgres")


@pytest.mark.parametrize(
    "statement",
    [
        "ROLLBACK",
        "rollback work",
        "ROLLBACK AND CHAIN",
        "ABORT",
        "/* x */ Abort;",
        "BEGIN ISOLATION LEVEL SERIALIZABLE",
        "START TRANSACTION READ ONLY",
        "COMMIT AND CHAIN",
        "BEGIN TRANSACTION NOT DEFERRABLE",
    ],
)
def test_transaction_control_the_runner_cannot_do_is_refused(statement: str) -> None:
    for dialect in ("postgres", "mysql", "sqlite"):
        assert refused_transaction_control(statement, dialect, one_transaction=True)
        assert not is_transaction_control(statement, dialect)


@pytest.mark.parametrize("statement", ["SAVEPOINT s", "ROLLBACK TO SAVEPOINT s", "rollback work to s", "RELEASE s"])
def test_savepoints_need_the_runners_one_transaction(statement: str) -> None:
    assert refused_transaction_control(statement, "postgres", one_transaction=True) is None
    assert "statement by statement" in refused_transaction_control(statement, "mysql", one_transaction=False)


@pytest.mark.parametrize(
    "statement",
    [
        "BEGIN",
        "COMMIT",
        "END",
        "BEGIN NOT ATOMIC SELECT 1; END",
        "ROLLBACKS",
        "SELECT 'ROLLBACK'",
        "CREATE TABLE abort (a int)",
    ],
)
def test_other_statements_are_not_refused(statement: str) -> None:
    assert refused_transaction_control(statement, "mysql", one_transaction=False) is None


def test_normalize_ignores_comments_and_whitespace_but_not_string_contents() -> None:
    a = normalize("CREATE  TABLE t (\n  a int -- note\n);", "postgres")
    b = normalize("/* header */ CREATE TABLE t ( a int );", "postgres")
    assert a == b == "CREATE TABLE t ( a int )"
    assert normalize("SELECT 'a  b'", "postgres") != normalize("SELECT 'a b'", "postgres")


# Checksums recorded in the history tables must never change: these values were computed by the
# character-by-character lexer that the regular-expression lexer replaced.
PINNED_CHECKSUMS = {
    "postgres": (
        "-- c\nCREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; -- x\n $body$ LANGUAGE sql;\n"
        "INSERT INTO t VALUES ('a''b;c', E'\\\\', \"Q\"\"x\", $$d;$$) /* x; */;\nSELECT x$y$ FROM t;\n",
        "v1:cf3c23fad9622a2c092ec0bebc9f156339bc38244756209b84eb119545ec2798",
    ),
    "mysql": (
        '# c\nINSERT INTO t VALUES (\'a\\\'b;c\', "d""e", `f``g`) -- x;\n;\n'
        "UPDATE t SET a = 'x'  /* c; */ WHERE b = 'y\\\\';\n",
        "v1:06a632c61e3de5ca97173336ff489a88fd06a3a3625764d51f023d1f6df93fc9",
    ),
    "sqlite": (
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET a = 'x;y'; -- c\nEND;\n"
        'SELECT  [a] ,\t"b"\n FROM t;\n',
        "v1:0802752cf8c2fc3bc507a4f10f5bd3cd68899183303b82a30d879db143f585d7",
    ),
}


@pytest.mark.parametrize("dialect", sorted(PINNED_CHECKSUMS))
def test_checksums_of_quoted_and_commented_scripts_are_stable(dialect: str) -> None:
    from migration_manager.migrations.formats.common import checksum, sql_script

    text, expected = PINNED_CHECKSUMS[dialect]
    assert checksum(sql_script(text, dialect), dialect) == expected


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_tokens_cover_the_text_exactly_even_when_unterminated(dialect: str) -> None:
    for text in ("'open", "/* open", "$tag$ open", "`open", "a -- c", "x$y$ 'it''s' \\", "'a\\"):
        assert "".join(t for _, t in tokens(text, dialect)) == text


def test_postgres_statement_the_parser_rejects_is_kept() -> None:
    """pglast's scanner split dropped it (and everything after the unbalanced parenthesis): the
    migration ran without it and was recorded as applied."""
    sql = "CREATE TABLE zz (id int);\nALTER TABLE zz ADD COLUMN (;\n"
    assert split(sql, "postgres") == ["CREATE TABLE zz (id int)", "ALTER TABLE zz ADD COLUMN (;"]
    assert split("ALTER TABLE zz ADD COLUMN (;", "postgres") == ["ALTER TABLE zz ADD COLUMN (;"]
    assert split("SELECT 1; not sql at all; SELECT 2 )", "postgres") == ["SELECT 1", "not sql at all", "SELECT 2 )"]


def test_postgres_begin_atomic_body_is_one_statement() -> None:
    sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\nSELECT 3;"
    assert split(sql, "postgres") == [
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END",
        "SELECT 3",
    ]


_FRAGMENTS = [
    "CREATE TABLE t (id int)",
    "ALTER TABLE t ADD COLUMN (",
    "ALTER TABLE t ADD c int)",
    "foo bar",
    "SELECT ';' AS x",
    "SELECT (1",
    ")",
    "INSERT INTO t VALUES ('a;b', \"q;\")",
    "-- c; d\n",
    "/* x; ( */",
    "UPDATE t SET a = (1) WHERE b",
    "(",
    "  \n",
    "\u00fcn\u00ef",
    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END",
    "BEGIN",
    "END",
    'DROP TABLE "we""ird"',
]
_DIALECT_FRAGMENTS = {
    "postgres": ["SELECT $$ ; $$", "SELECT $a$ $$; $a$", "SELECT E'x;'"],
    "mysql": ["SELECT `a;b`", "# h;\n", "SELECT 'it\\'s;'"],
    "sqlite": ["SELECT `a;b`", "SELECT [a;b]"],
}


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_statements_and_comments_cover_the_whole_text(dialect: str) -> None:
    """Property: every character of a script is in one of its statements, in order, or is whitespace,
    a comment or a ';' between them. Over many random scripts, broken SQL included."""
    import random

    rng, fragments = random.Random(10), _FRAGMENTS + _DIALECT_FRAGMENTS[dialect]
    for _ in range(1500):
        text = "".join(
            rng.choice(fragments) + rng.choice(["; ", ";\n", " ", "\n", ""]) for _ in range(rng.randint(1, 8))
        )
        try:
            statements = split(text, dialect)
        except MigrationFileError:  # an unterminated $$ or comment: the whole file is refused
            continue
        assert _code(text, dialect) == [t for statement in statements for t in _code(statement, dialect)], text


def _code(sql: str, dialect: str) -> list[str]:
    return [text for kind, text in tokens(sql, dialect) if kind not in ("ws", "comment") and text != ";"]


@pytest.mark.parametrize(
    ("sql", "statements"),
    [
        ("SELECT 1 -- x; y", ["SELECT 1 -- x; y"]),  # no ';' outside the comment: one statement, never cut inside it
        ("SELECT 'a\\';' # x; y", ["SELECT 'a\\';' # x; y"]),  # the string runs on past \' and the ';'
        ("SELECT 'it''s;' /* ; */ ; SELECT \"q;\" , `c;`;", ["SELECT 'it''s;' /* ; */", 'SELECT "q;" , `c;`']),
        ("INSERT INTO t VALUES (1, 'unterminated); SELECT 2;", ["INSERT INTO t VALUES (1, 'unterminated); SELECT 2;"]),
        (
            "/* lead */ INSERT INTO t VALUES (1); CREATE PROCEDURE p() BEGIN SELECT 1; END; SELECT 3",
            ["/* lead */ INSERT INTO t VALUES (1)", "CREATE PROCEDURE p() BEGIN SELECT 1; END", "SELECT 3"],
        ),
    ],
)
def test_mysql_plain_statements_end_where_the_lexer_ends_them(sql: str, statements: list[str]) -> None:
    assert split(sql, "mysql") == statements


def test_mysql_fast_split_matches_the_lexer_on_random_scripts() -> None:
    """Statements taken whole by the pattern (all but CREATE and comment-first ones) split as the lexer splits."""
    import random

    from migration_manager.migrations.sqltext import _next_statement, _split_mysql_semicolons

    def lexer_only(sql: str) -> list[str]:
        statements, at = [], 0
        while at < len(sql):
            statement, at = _next_statement(sql, at)
            statements.append(statement)
        return [s for s in statements if s.strip()]

    pieces = [
        "'",
        '"',
        "`",
        ";",
        "\\",
        "--",
        "-",
        "/*",
        "*/",
        "/",
        "#",
        "\n",
        " ",
        "x",
        "''",
        "'a\\';",
        "-- c; d\n",
        "INSERT INTO t VALUES (1, 'a;b');",
        "CREATE ",
        "PROCEDURE p() ",
        "BEGIN ",
        "END",
        "IF ",
        "END IF",
    ]
    chooser = random.Random(14)
    for _ in range(20_000):
        sql = "".join(chooser.choice(pieces) for _ in range(chooser.randint(1, 12)))
        assert [s for s in _split_mysql_semicolons(sql) if s.strip()] == lexer_only(sql), sql


def test_postgres_text_between_parsed_statements_splits_as_the_lexer_splits() -> None:
    """The text pglast leaves between statements (usually ";\\n") is split with str.split when nothing in it can
    open a string, a comment or a parenthesis: the same pieces as the lexer's, on random text."""
    import random

    from migration_manager.migrations.sqltext import _split_like_psql

    def lexer_only(sql: str) -> list[str]:
        statements, current, depth = [], "", 0
        for kind, text in tokens(sql, "postgres"):
            if kind == "punct" and text == ";" and depth == 0:
                statements, current = [*statements, current], ""
                continue
            current += text
            if kind == "punct" and text in "()":
                depth = depth + 1 if text == "(" else max(depth - 1, 0)
        return [*statements, current]

    pieces = [";", ";\n", " ", "\n", "\t", "\u00a0", "x", "end", ")", "(", "'", '"', "$a$", "-", "--", "/", "/*", "é"]
    chooser = random.Random(15)
    for _ in range(20_000):
        sql = "".join(chooser.choice(pieces) for _ in range(chooser.randint(0, 10)))
        assert _split_like_psql(sql) == lexer_only(sql), sql
