"""The in-memory schema the simulation changes (pure: no database)."""

from __future__ import annotations

from migration_manager.analysis.schema import Column, ColumnType, Snapshot, Table
from migration_manager.analysis.simulate import simulate
from migration_manager.dialects.postgres.schema import NAMING

from .simulate_cases import write_migrations


def _snapshot() -> Snapshot:
    users = Table("users", columns={"id": Column("id", ColumnType.parse("bigint", "postgres"), False)})
    return Snapshot("postgres", NAMING, tables={"users": users}, name="public")


def test_a_copy_and_its_original_never_see_each_others_changes():
    original = _snapshot()
    copy = original.copy()
    copy.edit("users").columns.pop("id")
    assert "id" in original.table("users").columns
    original.edit("users").columns["email"] = Column("email", ColumnType.parse("text", "postgres"))
    assert "email" not in copy.table("users").columns
    assert copy.touched == original.touched == {"users"}
    assert copy.changed_tables(original, among=copy.touched | original.touched) == {"users"}
    untouched = original.copy()
    assert untouched.touched == original.touched == set()
    assert untouched.changed_tables(original, among={"users"}) == set()


def test_a_copy_knows_the_tables_added_dropped_or_edited_since():
    original = _snapshot()
    copy = original.copy()
    copy.put(Table("orders"))
    copy.remove("users")
    assert copy.touched == {"orders", "users"} and original.touched == set()
    assert original.changed_tables(copy, among=copy.touched) == {"orders", "users"}


def test_successive_migrations_on_one_table_with_correct_downs_have_no_findings(tmp_path):
    migrations = write_migrations(
        tmp_path,
        "postgres",
        [
            ("ALTER TABLE users ADD COLUMN email text;", "ALTER TABLE users DROP COLUMN email;"),
            ("CREATE INDEX users_email ON users (email);", "DROP INDEX users_email;"),
            (
                "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
                "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;",
            ),
        ],
    )
    schema = _snapshot()
    assert simulate(schema, migrations) == []
    assert set(schema.table("users").columns) == {"id"}, "the snapshot given is never changed"


def test_a_python_migration_makes_later_missing_objects_uncertain(tmp_path):
    (tmp_path / "1_data.py").write_text(
        "def up(ctx):\n    ctx.execute('CREATE TABLE audit (id int)')\n\n"
        "def down(ctx):\n    ctx.execute('DROP TABLE audit')\n"
    )
    from migration_manager.migrations.formats import read_file

    python = read_file(tmp_path / "1_data.py", "postgres")
    later = write_migrations(tmp_path / "sql", "postgres", [("ALTER TABLE audit ADD COLUMN note text;", None)])
    findings = simulate(_snapshot(), [python, *later])
    assert [(f.rule, f.severity) for f in findings] == [("schema-missing-table", "warning")]


def test_foreign_keys_and_index_names_are_found_after_renames_and_in_copies_only(tmp_path):
    # The lookups that replaced whole-schema scans: a renamed table keeps its foreign keys and index
    # names, and what one copy adds is not seen by the snapshot it was copied from.
    findings = simulate(
        _snapshot(),
        write_migrations(
            tmp_path / "a",
            "postgres",
            [
                (
                    "CREATE TABLE a (id bigint PRIMARY KEY);\nCREATE TABLE b (a_id bigint REFERENCES a (id));\n"
                    "CREATE INDEX b_a ON b (a_id);\nALTER TABLE b RENAME TO c;",
                    None,
                ),
                ("DROP TABLE a;", None),
                ("CREATE INDEX b_a ON users (id);", None),
            ],
        ),
    )
    assert [(f.rule, f.migration) for f in findings] == [
        ("schema-still-referenced", "2"),
        ("schema-duplicate-name", "3"),
    ]
    assert "c." in findings[0].message
    original = _snapshot()
    copy = original.copy()
    assert simulate(copy, write_migrations(tmp_path / "b", "postgres", [("CREATE INDEX x ON users (id);", None)])) == []
    assert not original.relation_exists("x") and original.index_table("x") is None
