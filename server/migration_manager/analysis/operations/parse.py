"""SQL statement text -> the operations it performs (`Operation`), for one dialect.

sqlglot reads all three dialects. Where it gives up (it returns a generic `Command`), PostgreSQL
statements go to pglast, PostgreSQL's own parser, and the few MySQL forms sqlglot does not know
(`RENAME TABLE`, `CREATE INDEX ... ALGORITHM=... LOCK=...`) are read by pattern. Names are
normalized as the server resolves them (unquoted PostgreSQL names folded to lower case). A statement no
parser understands becomes one `other` operation: analysis never crashes on SQL it cannot read.
Pure text in, data out: nothing here touches a database.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import threading
from collections.abc import Sequence
from functools import cache, lru_cache

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.generator import Generator
from sqlglot.helper import name_sequence
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.parser import Parser
from sqlglot.tokens import Tokenizer

from ... import dialects
from ..model import ColumnSpec, Operation

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "falling back to Command" is handled here

# Functions whose value changes per row: a DEFAULT calling one cannot be stored once in the
# catalog (PostgreSQL 11+ "fast default"), so ADD COLUMN rewrites every row.
VOLATILE_FUNCTIONS = {
    "random",
    "rand",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v4",
    "uuid",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "statement_timestamp",
    "txid_current",
    "uuid_short",
    "sys_guid",
    "random_bytes",
    "sysdate",
}
_VOLATILE_NODES = (exp.Rand, exp.Uuid)

_MYSQL_INDEX_OPTIONS = re.compile(r"\s*,?\s*\b(ALGORITHM|LOCK)\s*=?\s*(\w+)", re.IGNORECASE)
_RENAME_TABLE = re.compile(r"^\s*RENAME\s+TABLES?\s+(.+)$", re.IGNORECASE | re.DOTALL)
# INSERT INTO name [(columns)] VALUES ...: its operation is "insert into name", whatever the rows.
_NAME_PART = r'(?:[A-Za-z_][\w$]*|"(?:""|[^"])+"|`(?:``|[^`])+`)'
_INSERT_VALUES = re.compile(
    rf"^INSERT\s+INTO\s+(?P<name>{_NAME_PART}(?:\s*\.\s*{_NAME_PART})?)"
    r"\s*(?:\([^()'\"`]*\)\s*)?VALUES\b",
    re.IGNORECASE,
)


def script_operations(statements: Sequence[str], dialect: str) -> list[Operation]:
    """Every operation of a script, statement by statement (statement_index is 1-based)."""
    return [op for index, sql in enumerate(statements, start=1) for op in statement_operations(sql, dialect, index)]


def statement_operations(sql: str, dialect: str, index: int = 1) -> list[Operation]:
    if len(sql) > _KEPT_UP_TO:  # a bulk load's long INSERT: read again rather than kept a second time
        return list(_placed.__wrapped__(sql, dialect, index))
    return list(_placed(sql, dialect, index))


_KEPT_UP_TO = 4096  # characters


@lru_cache(maxsize=65536)
def _placed(sql: str, dialect: str, index: int) -> tuple[Operation, ...]:
    """The operations of `sql` as statement `index` of its script. Kept, like _operations: an apply asks for every
    statement of the plan four times (backup scope, schema replay, rules, archive plan), and a copy costs ~10 us.
    Shared by every caller: an Operation is frozen, so no caller can change what another one reads."""
    text = _text(sql)
    bulk_row = _INSERT_VALUES.match(text)
    # A bulk load's rows are not parsed: each one is hundreds of microseconds of sqlglot for a table name.
    ops = _insert_into(bulk_row["name"], dialect) if bulk_row else _operations(text, dialect)
    return tuple(op.model_copy(update={"statement": text, "statement_index": index}) for op in ops)


@lru_cache(maxsize=1024)
def _insert_into(name: str, dialect: str) -> tuple[Operation, ...]:
    """The operation of INSERT INTO name VALUES ...: read by the same parser as every statement, once per name."""
    return _operations(f"INSERT INTO {name} VALUES (NULL)", dialect)


@lru_cache(maxsize=65536)
def _operations(text: str, dialect: str) -> tuple[Operation, ...]:
    """Parsed once per statement text: one apply reads each script several times (schema replay,
    rules, DOWN check, backup scope), and sqlglot's parse is the costly part. Callers get copies.
    The cache holds every statement of a large plan: each pass reads them in the same order, so a
    cache smaller than the plan would miss on every one of them."""
    ahead = _read_ahead.pop((text, dialect), None)
    return ahead if ahead is not None else _parse(text, dialect)


def _parse(text: str, dialect: str) -> tuple[Operation, ...]:
    reader = _sqlglot_dialect(dialect)
    try:
        tree = _parse_one(text, reader)
    except (ParseError, TokenError, ValueError):
        tree = None
    if tree is None or isinstance(tree, exp.Command):
        ops = _fallback(text, dialect)
    else:
        # Names as the server resolves them: PostgreSQL folds unquoted names to lower case, and so on.
        ops = _from_tree(normalize_identifiers(tree, dialect=reader), reader)
    return tuple(ops or [Operation(kind="other")])


# ---- reading ahead on the other CPU ------------------------------------------------------------------------
_read_ahead: dict[tuple[str, str], tuple[Operation, ...]] = {}  # what read_ahead's child read, until asked
READ_AHEAD_FROM = 256  # statements not read yet: below, a fork and its pickles cost more than half the parse


def read_ahead(statements: Sequence[str], dialect: str) -> None:
    """Read `statements` before the checks ask for them, on two CPUs: a forked copy of this process parses the second
    half while this one parses the first, and sends back what it read (the parse is most of the checks' time on a
    plan of many statements). Only where that pays and is safe: enough statements not read yet, os.fork, and no
    other thread (a fork copies only the calling thread: one that held a lock would leave it held in the copy; the
    MCP server runs several, the CLI one). Whatever the child does not send back is read here when asked."""
    todo = list(dict.fromkeys(_text(sql) for sql in statements if len(sql) <= _KEPT_UP_TO))
    todo = [text for text in todo if not _INSERT_VALUES.match(text)]  # a bulk row: read by name, cheaply
    if len(todo) < READ_AHEAD_FROM or not hasattr(os, "fork") or threading.active_count() > 1:
        return
    mine, theirs = todo[: len(todo) // 2], todo[len(todo) // 2 :]
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the copy: parse, send, leave without running anything of the parent's (no atexit, no flush)
        code = 1
        try:
            os.close(reader)
            with os.fdopen(writer, "wb") as out:
                pickle.dump([_parse(text, dialect) for text in theirs], out, protocol=pickle.HIGHEST_PROTOCOL)
            code = 0
        finally:
            os._exit(code)
    os.close(writer)
    try:
        for text in mine:
            _operations(text, dialect)
        with os.fdopen(reader, "rb") as sent:
            read = pickle.load(sent)
    except (EOFError, pickle.UnpicklingError):  # the child failed: the checks read its half themselves
        read = []
    finally:
        os.waitpid(child, 0)
    _read_ahead.clear()
    _read_ahead.update(((text, dialect), ops) for text, ops in zip(theirs, read))


def _text(sql: str) -> str:
    """A statement as the parse cache keys it."""
    return sql.strip().rstrip(";").strip()


@cache
def _sqlglot_dialect(dialect: str) -> Dialect:
    """One Dialect object per name: given a name, sqlglot builds a new one for every parse and every
    `.sql()` call (a third of the time of reading a short statement)."""
    return Dialect.get_or_raise(dialect)


class _Reused(threading.local):
    """One sqlglot tokenizer, parser and generator per dialect, built on first use: `parse_one` and `.sql()`
    build new ones on every call, a quarter of the time of reading a short statement. Each keeps only the
    state of the statement in hand, which `tokenize`, `parse` and `generate` reset before they start (so one
    left mid-statement by a TokenError or ParseError reads the next afresh); but not across threads (the
    MCP server analyses on worker threads), hence one set per thread.
    Keyed by the dialect's id: sqlglot hashes a Dialect in Python, which costs as much as the lookup saves.
    Every Dialect here comes from `_sqlglot_dialect`, which keeps it for good, so no other object takes its id."""

    def __init__(self) -> None:
        self.tokenizers: dict[int, Tokenizer] = {}
        self.parsers: dict[int, Parser] = {}
        self.generators: dict[int, Generator] = {}


_reused = _Reused()


def _tokenizer(dialect: Dialect) -> Tokenizer:
    tokenizer = _reused.tokenizers.get(id(dialect))
    if tokenizer is None:
        tokenizer = _reused.tokenizers[id(dialect)] = dialect.tokenizer()
    return tokenizer


def _parser(dialect: Dialect) -> Parser:
    parser = _reused.parsers.get(id(dialect))
    if parser is None:
        parser = _reused.parsers[id(dialect)] = dialect.parser()
    return parser


def _generator(dialect: Dialect) -> Generator:
    generator = _reused.generators.get(id(dialect))
    if generator is None:
        generator = _reused.generators[id(dialect)] = dialect.generator()
    # The one state `generate` does not reset: the names it makes up for unnamed aliases (_t0, _t1, ...),
    # which a new generator would start again from _t0.
    generator._next_name = name_sequence("_t")
    return generator


def _parse_one(text: str, dialect: Dialect) -> exp.Expression:
    """`sqlglot.parse_one(text, read=dialect)` on this thread's tokenizer and parser."""
    tokenizer, parser = _tokenizer(dialect), _parser(dialect)
    try:
        trees = parser.parse(tokenizer.tokenize(text), text)
    finally:
        # Both would hold the statement's text and tokens until the next parse: a bulk statement's are large.
        tokenizer.tokenize("")
        parser.reset()
    if not trees or trees[0] is None:
        raise ParseError(f"No expression was parsed from '{text}'")
    return exp.Block(expressions=trees) if len(trees) > 1 else trees[0]


def _sql(node: exp.Expression, dialect: Dialect, copy: bool = True) -> str:
    """`node.sql(dialect, copy=copy)` on this thread's generator."""
    return _generator(dialect).generate(node, copy=copy)


# ---- sqlglot trees -------------------------------------------------------------------------
def _from_tree(tree: exp.Expression, dialect: Dialect) -> list[Operation]:
    if isinstance(tree, exp.Alter) and (tree.args.get("kind") or "TABLE").upper() == "TABLE":
        return _alter_table(tree, dialect)
    if isinstance(tree, exp.Create):
        return _create(tree, dialect)
    if isinstance(tree, exp.Drop):
        return _drop(tree)
    if isinstance(tree, exp.TruncateTable):
        return [Operation(kind="truncate", **_name(t)) for t in tree.expressions]
    if isinstance(tree, (exp.Update, exp.Delete)):
        where = tree.args.get("where")
        assigned = (
            [a.this.name for a in tree.expressions if isinstance(a, exp.EQ) and isinstance(a.this, exp.Column)]
            if isinstance(tree, exp.Update)
            else []
        )
        return [
            Operation(
                kind="update" if isinstance(tree, exp.Update) else "delete",
                **_name(tree.this),
                columns=assigned,
                where=_sql(where.this, dialect) if where else None,
            )
        ]
    if isinstance(tree, exp.Insert):
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        return [Operation(kind="insert", **_name(target))]
    if isinstance(tree, exp.Set):
        return [_setting(item, dialect) for item in tree.expressions]
    return [Operation(kind="other")]


def _alter_table(tree: exp.Alter, dialect: Dialect) -> list[Operation]:
    base = {
        **_name(tree.this),
        "if_exists": bool(tree.args.get("exists")),
        "not_valid": bool(tree.args.get("not_valid")),
    }
    for option in tree.args.get("options") or []:
        if isinstance(option, exp.AlgorithmProperty):
            base["algorithm"] = option.this.name.upper()
        elif isinstance(option, exp.LockProperty):
            base["lock"] = option.this.name.upper()
    ops: list[Operation] = []
    for action in tree.args.get("actions") or []:
        ops += _alter_action(action, base, dialect)
    return ops


def _alter_action(action: exp.Expression, base: dict, dialect: Dialect) -> list[Operation]:
    if isinstance(action, exp.ColumnDef):
        spec = _column_spec(action, dialect)
        return [
            _op(
                "add_column",
                base,
                column=spec.name,
                new_type=spec.type,
                nullable=spec.nullable,
                default=spec.default,
                default_volatile=_volatile_default(action),
                if_not_exists=bool(action.args.get("exists")),
            )
        ]
    if isinstance(action, exp.AlterColumn):
        return [_alter_column(action, base, dialect)]
    if isinstance(action, exp.ModifyColumn):  # MySQL MODIFY / CHANGE: the column is redefined in full
        return _modify_column(action, base, dialect)
    if isinstance(action, exp.Drop):
        return [_drop_in_alter(action, base)]
    if isinstance(action, exp.DropPrimaryKey):
        return [_op("drop_constraint", base, constraint_type="primary_key")]
    if isinstance(action, exp.RenameColumn):
        return [_op("rename_column", base, column=action.this.name, new_name=action.args["to"].name)]
    if isinstance(action, exp.AlterRename):
        return [_rename(action, base)]
    if isinstance(action, exp.AddConstraint):
        return [op for item in action.expressions for op in _constraint(item, base, dialect)]
    column = _bare_dropped_column(action, dialect)
    if column:
        return [_op("drop_column", base, column=column)]
    return [_op("other", base)]


def _bare_dropped_column(action: exp.Expression, dialect: Dialect) -> str | None:
    """The column of SQLite's and MySQL's `DROP c` (COLUMN left out), which sqlglot keeps as a command."""
    if not (isinstance(action, exp.Command) and action.this.upper() == "DROP"):
        return None
    try:
        dropped = _parse_one(str(action.expression).strip(), dialect)
    except (ParseError, TokenError, ValueError):
        return None
    return dropped.name if isinstance(dropped, exp.Column) else None


def _rename(action: exp.AlterRename, base: dict) -> Operation:
    """RENAME TO t2 renames the table; PostgreSQL's `RENAME c1 TO c2` (COLUMN left out) renames a column,
    which sqlglot reads as a rename to c1 with `TO c2` left over in the options."""
    options = action.parent.args.get("options") or []  # the ALTER TABLE's
    to = next((o.this for o in options if isinstance(o, exp.ToTableProperty)), None)
    if to is not None:
        return _op("rename_column", base, column=action.this.name, new_name=to.name)
    return _op("rename_table", base, new_name=action.this.name)


def _alter_column(action: exp.AlterColumn, base: dict, dialect: Dialect) -> Operation:
    column = action.this.name
    if action.args.get("dtype"):
        using = action.args.get("using")
        return _op(
            "alter_column_type",
            base,
            column=column,
            new_type=_sql(action.args["dtype"], dialect),
            using=_sql(using, dialect) if isinstance(using, exp.Expression) else None,
        )
    if action.args.get("allow_null") is False:
        return _op("set_not_null", base, column=column)
    if action.args.get("allow_null") is True:
        return _op("drop_not_null", base, column=column)
    if action.args.get("default") is not None:
        default = action.args["default"]
        return _op(
            "set_default", base, column=column, default=_sql(default, dialect), default_volatile=_is_volatile(default)
        )
    if action.args.get("drop"):
        return _op("drop_default", base, column=column)
    return _op("other", base, column=column)


def _modify_column(action: exp.ModifyColumn, base: dict, dialect: Dialect) -> list[Operation]:
    spec = _column_spec(action.this, dialect)
    old_name = action.args.get("rename_from")
    column = old_name.name if old_name is not None else spec.name
    ops = [
        _op(
            "alter_column_type",
            base,
            column=column,
            new_type=spec.type,
            nullable=spec.nullable,
            default=spec.default,
            new_name=spec.name if old_name is not None else None,
        )
    ]
    if not spec.nullable:
        ops.append(_op("set_not_null", base, column=column))
    if old_name is not None and old_name.name != spec.name:
        ops.append(_op("rename_column", base, column=column, new_name=spec.name))
    return ops


def _drop_in_alter(action: exp.Drop, base: dict) -> Operation:
    kind = (action.args.get("kind") or "COLUMN").upper()
    targets = _dropped(action)
    name = targets[0].name if targets else None
    common = {**base, "if_exists": bool(action.args.get("exists")), "cascade": bool(action.args.get("cascade"))}
    if kind == "COLUMN":
        return _op("drop_column", common, column=name)
    if kind == "INDEX":
        return _op("drop_index", common, index_name=name)
    constraint_type = "foreign_key" if kind == "FOREIGN KEY" else "check" if kind == "CHECK" else None
    return _op("drop_constraint", common, constraint_name=name, constraint_type=constraint_type)


def _constraint(item: exp.Expression, base: dict, dialect: Dialect) -> list[Operation]:
    """ADD CONSTRAINT name <kind> ..., ADD UNIQUE (..), ADD PRIMARY KEY (..), MySQL ADD INDEX (..)."""
    name = None
    if isinstance(item, exp.Constraint):
        name = item.this.name
        return [op for part in item.expressions for op in _constraint(part, {**base, "constraint_name": name}, dialect)]
    if isinstance(item, exp.ForeignKey):
        reference = item.args["reference"].this
        return [
            _op(
                "add_constraint",
                base,
                constraint_type="foreign_key",
                columns=[c.name for c in item.expressions],
                ref_table=reference.this.name,
                ref_columns=[c.name for c in reference.expressions],
            )
        ]
    if isinstance(item, exp.CheckColumnConstraint):
        return [_op("add_constraint", base, constraint_type="check", check=_sql(item.this, dialect))]
    if isinstance(item, exp.UniqueColumnConstraint):
        schema = item.this
        columns = [c.name for c in schema.expressions] if isinstance(schema, exp.Schema) else []
        index = schema.this.name if isinstance(schema, exp.Schema) and schema.this is not None else None
        return [
            _op(
                "add_constraint",
                base,
                constraint_type="unique",
                unique=True,
                columns=columns,
                index_name=index,
                constraint_name=base.get("constraint_name") or index,
            )
        ]
    if isinstance(item, exp.PrimaryKey):
        return [
            _op(
                "add_constraint",
                base,
                constraint_type="primary_key",
                unique=True,
                columns=[c.name for c in item.expressions],
            )
        ]
    if isinstance(item, exp.ExcludeColumnConstraint):
        return [_op("add_constraint", base, constraint_type="exclude")]
    if isinstance(item, exp.IndexColumnConstraint):  # MySQL ADD INDEX / KEY / FULLTEXT / SPATIAL
        kind = (item.args.get("kind") or "").upper() or None
        return [
            _op(
                "create_index",
                base,
                index_name=item.this.name if item.this else None,
                columns=[c.name for c in item.expressions],
                detail=kind,
            )
        ]
    return [_op("other", base)]


def _create(tree: exp.Create, dialect: Dialect) -> list[Operation]:
    kind = (tree.args.get("kind") or "").upper()
    if kind == "INDEX":
        index = tree.this
        params = index.args.get("params")
        ordered = params.args.get("columns") or [] if params else []
        plain = [o.this for o in ordered if isinstance(o.this, exp.Column)]
        where = params.args.get("where") if params else None
        using = params.args.get("using") if params else None
        return [
            Operation(
                kind="create_index",
                **_name(index.args["table"]),
                index_name=index.this.name if index.this else None,
                columns=[c.name for c in plain],
                expression_index=len(plain) != len(ordered),
                unique=bool(tree.args.get("unique")),
                expressions=[_sql(o.this, dialect, copy=False) for o in ordered],  # see _column_spec
                concurrently=bool(tree.args.get("concurrently")),
                if_not_exists=bool(tree.args.get("exists")),
                where=_sql(where.this, dialect) if where else None,
                detail=using.name if using else None,
            )
        ]
    if kind == "TABLE":
        schema = tree.this
        table = schema.this if isinstance(schema, exp.Schema) else schema
        columns = (
            [e for e in schema.expressions if isinstance(e, exp.ColumnDef)] if isinstance(schema, exp.Schema) else []
        )
        constraints = [
            op
            for e in (schema.expressions if isinstance(schema, exp.Schema) else [])
            if not isinstance(e, exp.ColumnDef)
            for op in _constraint(e, _name(table), dialect)
        ]
        constraints += _inline_constraints(columns, table, dialect)
        return [
            Operation(
                kind="create_table",
                **_name(table),
                if_not_exists=bool(tree.args.get("exists")),
                column_specs=[_column_spec(c, dialect) for c in columns],
                constraints=[c for c in constraints if c.kind == "add_constraint"],
            )
        ]
    if kind == "VIEW":  # views and materialized views: a relation whose columns the analysis does not read
        return [
            Operation(
                kind="create_view",
                **_name(tree.this if isinstance(tree.this, exp.Table) else tree.this.this),
                if_not_exists=bool(tree.args.get("exists") or tree.args.get("replace")),
            )
        ]
    return [Operation(kind="other")]


def _inline_constraints(columns: list[exp.ColumnDef], table: exp.Table, dialect: Dialect) -> list[Operation]:
    """`col int [CONSTRAINT name] REFERENCES users(id)` and `col int CHECK (...)` inside CREATE TABLE:
    a foreign key or check like any other (named as written, else as the server names it)."""
    found = []
    for column in columns:
        for constraint in column.args.get("constraints") or []:
            kind, name = constraint.args.get("kind"), constraint.this.name if constraint.this else None
            if isinstance(kind, exp.Reference):
                target = kind.this
                found.append(
                    Operation(
                        kind="add_constraint",
                        **_name(table),
                        constraint_type="foreign_key",
                        constraint_name=name,
                        columns=[column.name],
                        ref_table=target.this.name,
                        ref_columns=[c.name for c in target.expressions],
                    )
                )
            elif isinstance(kind, exp.CheckColumnConstraint):
                found.append(
                    Operation(
                        kind="add_constraint",
                        **_name(table),
                        constraint_type="check",
                        constraint_name=name,
                        columns=[column.name],
                        check=_sql(kind.this, dialect),
                    )
                )
    return found


def _drop(tree: exp.Drop) -> list[Operation]:
    kind = (tree.args.get("kind") or "").upper()
    common = {"if_exists": bool(tree.args.get("exists")), "cascade": bool(tree.args.get("cascade"))}
    if kind == "TABLE":
        return [Operation(kind="drop_table", **_name(t), **common) for t in _dropped(tree)]
    if kind == "INDEX":
        on = tree.args.get("cluster")  # MySQL DROP INDEX ix ON table
        table = _name(on.this) if isinstance(on, exp.OnProperty) else {}
        return [
            _op("drop_index", table, index_name=t.name, concurrently=bool(tree.args.get("concurrently")), **common)
            for t in _dropped(tree)
        ]
    if kind == "VIEW":
        return [Operation(kind="drop_view", **_name(t), **common) for t in _dropped(tree)]
    return [Operation(kind="other")]


def _dropped(drop: exp.Drop) -> list[exp.Expression]:
    """What a DROP names (sqlglot keeps them under `tables` for every kind of object)."""
    return list(drop.args.get("tables") or drop.expressions or [])


def _setting(item: exp.Expression, dialect: Dialect) -> Operation:
    assignment = item.this
    if not isinstance(assignment, exp.EQ):
        return Operation(kind="set")
    name = assignment.this.name.lower()
    value = (
        assignment.expression.name
        if isinstance(assignment.expression, exp.Literal)
        else _sql(assignment.expression, dialect)
    )
    kind = (
        "set_lock_timeout"
        if name in ("lock_timeout", "lock_wait_timeout", "innodb_lock_wait_timeout")
        else "set_statement_timeout"
        if name in ("statement_timeout", "max_statement_time", "max_execution_time")
        else "set"
    )
    return Operation(kind=kind, column=name, value=value)


# ---- pieces ----------------------------------------------------------------------------------
def _name(table: exp.Expression | None) -> dict:
    if not isinstance(table, exp.Table):
        return {}
    return {"table": table.name, "schema_name": table.db or None}


def _column_spec(column: exp.ColumnDef, dialect: Dialect) -> ColumnSpec:
    kinds = [c.args.get("kind") for c in column.args.get("constraints") or []]
    default = next((k.this for k in kinds if isinstance(k, exp.DefaultColumnConstraint)), None)
    primary = any(isinstance(k, exp.PrimaryKeyColumnConstraint) for k in kinds)
    not_null = any(isinstance(k, exp.NotNullColumnConstraint) and not k.args.get("allow_null") for k in kinds)
    dtype = column.args.get("kind")
    key_name = next(
        (
            c.this.name
            for c in column.args.get("constraints") or []
            if c.this is not None
            and isinstance(c.args.get("kind"), (exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint))
        ),
        None,
    )
    # A primary key is NOT NULL, except in SQLite, where only a written NOT NULL makes it so (rowid tables).
    nullable = not (not_null or primary and dialects.get(dialect).primary_key_not_null)
    # copy=False: sqlglot copies what it prints first (~45 of the ~55 us a type costs); a type or an index column is
    # never read again, and the tree is thrown away once read.
    return ColumnSpec(
        name=column.name,
        type=_sql(dtype, dialect, copy=False) if dtype else "",
        nullable=nullable,
        default=_sql(default, dialect) if default is not None else None,
        primary_key=primary,
        unique=any(isinstance(k, exp.UniqueColumnConstraint) for k in kinds),
        key_name=key_name,
    )


def _volatile_default(column: exp.ColumnDef) -> bool | None:
    default = column.find(exp.DefaultColumnConstraint)
    return _is_volatile(default.this) if default is not None else None


def _is_volatile(expression: exp.Expression) -> bool:
    for node in expression.walk():
        if isinstance(node, _VOLATILE_NODES):
            return True
        if isinstance(node, exp.Func) and node.sql_name().lower() in VOLATILE_FUNCTIONS:
            return True
        if isinstance(node, exp.Anonymous) and str(node.this).lower() in VOLATILE_FUNCTIONS:
            return True
    return False


# ---- what sqlglot leaves as a Command ------------------------------------------------------
def _fallback(text: str, dialect: str) -> list[Operation]:
    if dialect == "postgres":
        return _pglast_operations(text)
    rename = _RENAME_TABLE.match(text)
    if rename:  # MySQL RENAME TABLE a TO b, c TO d
        pairs = [p.split() for p in rename.group(1).split(",")]
        return [
            Operation(kind="rename_table", table=_unquote(p[0]), new_name=_unquote(p[2]))
            for p in pairs
            if len(p) == 3 and p[1].upper() == "TO"
        ]
    options = dict((k.upper(), v.upper()) for k, v in _MYSQL_INDEX_OPTIONS.findall(text))
    if options:  # CREATE INDEX ... ALGORITHM=INPLACE LOCK=NONE: read it without the options
        stripped = _MYSQL_INDEX_OPTIONS.sub("", text)
        try:
            tree = _parse_one(stripped, _sqlglot_dialect(dialect))
        except (ParseError, TokenError, ValueError):
            return []
        if isinstance(tree, exp.Command):
            return []
        return [
            op.model_copy(update={"algorithm": options.get("ALGORITHM"), "lock": options.get("LOCK")})
            for op in _from_tree(tree, _sqlglot_dialect(dialect))
        ]
    return []


def _pglast_operations(text: str) -> list[Operation]:
    """The ALTER TABLE forms sqlglot does not read, from PostgreSQL's own parser."""
    import pglast
    from pglast import ast
    from pglast.enums import AlterTableType, ConstrType, ObjectType

    try:
        statement = pglast.parse_sql(text)[0].stmt
    except pglast.parser.ParseError:
        return []
    if isinstance(statement, ast.DropStmt):
        return _pglast_drop(statement)
    if isinstance(statement, ast.CreateTableAsStmt) and statement.objtype == ObjectType.OBJECT_MATVIEW:
        return [
            Operation(
                kind="create_view",
                table=statement.into.rel.relname,
                schema_name=statement.into.rel.schemaname,
                if_not_exists=bool(statement.if_not_exists),
            )
        ]
    if not isinstance(statement, ast.AlterTableStmt):
        return []
    table = {"table": statement.relation.relname, "schema_name": statement.relation.schemaname}
    ops = []
    for cmd in statement.cmds or ():
        if cmd.subtype == AlterTableType.AT_ValidateConstraint:
            ops.append(_op("validate_constraint", table, constraint_name=cmd.name))
        elif cmd.subtype == AlterTableType.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
            contype = {ConstrType.CONSTR_PRIMARY: "primary_key", ConstrType.CONSTR_UNIQUE: "unique"}.get(
                cmd.def_.contype
            )
            # ADD ... USING INDEX: the unique index already exists, so no scan and no duplicates to find.
            ops.append(
                _op(
                    "add_constraint",
                    table,
                    constraint_type=contype,
                    unique=contype is not None,
                    constraint_name=cmd.def_.conname,
                    index_name=cmd.def_.indexname,
                    detail="using index" if cmd.def_.indexname else None,
                )
            )
        else:
            ops.append(_op("other", table))
    return ops


def _pglast_drop(statement) -> list[Operation]:
    """DROP TABLE / INDEX / VIEW / MATERIALIZED VIEW naming several objects (`DROP INDEX a, b`), which
    sqlglot does not read: one operation per object. Other objects (types, functions...) stay `other`."""
    from pglast.enums import DropBehavior, ObjectType

    kind = {
        ObjectType.OBJECT_TABLE: "drop_table",
        ObjectType.OBJECT_INDEX: "drop_index",
        ObjectType.OBJECT_VIEW: "drop_view",
        ObjectType.OBJECT_MATVIEW: "drop_view",
    }.get(statement.removeType)
    if kind is None:
        return []
    common = {
        "if_exists": bool(statement.missing_ok),
        "cascade": statement.behavior == DropBehavior.DROP_CASCADE,
        "concurrently": bool(statement.concurrent),
    }
    ops = []
    for names in statement.objects:
        *schema, name = [n.sval for n in names]
        where = {"index_name": name} if kind == "drop_index" else {"table": name}
        ops.append(Operation(kind=kind, schema_name=schema[-1] if schema else None, **where, **common))
    return ops


def _unquote(name: str) -> str:
    return name.strip('`"').split(".")[-1].strip('`"')


def _op(kind: str, base: dict, **fields) -> Operation:
    """An operation from the statement-wide fields (`base`) and its own, its own taking precedence."""
    return Operation(kind=kind, **{**base, **fields})
