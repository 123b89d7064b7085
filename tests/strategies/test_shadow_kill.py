"""A shadow change killed with SIGKILL during the copy resumes; killed while it waits for its cut-over window, it
rolls back clean. The writer writes throughout; no row is lost, duplicated or stale either way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

from shadow_cases import ALTER, AMOUNT_TYPE, POLICY, amount_type, expected, rows_of, seed, writing

from dbcheck import apply_ok, connect, history, kind, make_project, query, tables, wait_for, write_native
from migration_manager.dialects import dialect_part, open_engine
from migration_manager.strategies import shadow

RUN = textwrap.dedent(
    """
    import sys
    from migration_manager.dialects import open_engine
    from migration_manager.strategies import shadow
    from migration_manager.strategies.batches import BatchPolicy
    import os, time
    url, statement, events = sys.argv[1:4]
    def report(what, progress):
        out.write(f"{what} {progress.rows}\\n")
        while what == "verify" and os.path.exists(events + ".hold"):  # the test opens its transaction meanwhile
            time.sleep(0.05)
    with open(events, "w", buffering=1) as out:
        shadow.start(open_engine(url), statement, policy=BatchPolicy(first_size=20, max_size=20, target_s=0.01),
                     progress=report)
    """
)


def _start_in_process(url: str, tmp_path):
    events = tmp_path / "events"
    process = subprocess.Popen([sys.executable, "-c", RUN, url, ALTER[kind(url)], str(events)])
    return process, events


def _saw(events, what: str) -> bool:
    return events.exists() and any(line.startswith(what) for line in events.read_text().splitlines())


def _kill(process) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def test_killed_during_the_copy_resumes(server_url, tmp_path):
    seeded = seed(server_url)
    with writing(server_url, tmp_path) as writer:
        process, events = _start_in_process(server_url, tmp_path)
        wait_for(lambda: _copied(server_url) >= 300 or process.poll() is not None, "the copy to be under way")
        _kill(process)
        engine = open_engine(server_url)
        assert shadow.phase(engine, "orders") == "copying"
        assert shadow.leftovers(engine)[0].clears.startswith("`db-migrate apply` resumes")
        report = shadow.start(engine, ALTER[kind(server_url)], policy=POLICY)
        writer.wait_for_writes(50)
    assert report.phase == "swapped"
    assert rows_of(server_url, "orders") == expected(seeded, writer)
    assert rows_of(server_url, "_mm_old_orders") == expected(seeded, writer)
    assert amount_type(server_url) == AMOUNT_TYPE[kind(server_url)][1]
    engine.close()


def _copied(url: str) -> int:
    return query(url, "SELECT count(*) FROM _mm_new_orders")[0][0] if "_mm_new_orders" in tables(url) else 0


def test_killed_waiting_for_the_cut_over_rolls_back_clean(server_url, tmp_path):
    seeded = seed(server_url)
    with writing(server_url, tmp_path) as writer:
        hold = tmp_path / "events.hold"
        hold.touch()
        process, events = _start_in_process(server_url, tmp_path)
        wait_for(lambda: _saw(events, "verify") or process.poll() is not None, "the verify to start")
        blocker = _long_transaction(server_url)  # opened after the triggers: the swap is what waits for it
        hold.unlink()
        wait_for(lambda: _saw(events, "swap") or process.poll() is not None, "the cut-over to wait", timeout=120)
        assert process.poll() is None, "the cut-over did not wait for the open transaction"
        _kill(process)
        engine = open_engine(server_url)
        # The server ends a killed client's waiting rename on its own (MariaDB: at its max_statement_time; had the
        # blocker ended first, it would have run: the swap is atomic either way). Let it end, then let go.
        waiting = shadow.Shadow("orders", ["id"], {})
        wait_for(
            lambda: not dialect_part(engine.dialect, "shadow").long_transactions(engine, waiting, 3600),
            "the rename to give up",
        )
        blocker.close()
        assert shadow.phase(engine, "orders") == "copying"
        assert shadow.rollback(engine, "orders") == "copying"
        writer.wait_for_writes(50)
    assert rows_of(server_url, "orders") == expected(seeded, writer)
    assert amount_type(server_url) == AMOUNT_TYPE[kind(server_url)][0]
    assert not {"_mm_new_orders", "_mm_old_orders"} & tables(server_url)
    assert shadow.leftovers(engine) == []
    engine.close()


def _long_transaction(url: str):
    """A session inside a transaction that has read the table: a rename would queue behind it."""
    conn = connect(url)
    if kind(url) == "postgres":
        conn.autocommit = False
        conn.execute("SELECT 1 FROM orders WHERE id = -1")
    else:
        conn.autocommit(False)
        conn.cursor().execute("SELECT 1 FROM orders WHERE id = -1 LOCK IN SHARE MODE")
    return conn


# apply in a process of its own, its shadow copy slowed to 20-row batches so the test can kill it halfway.
SLOW_APPLY = textwrap.dedent(
    """
    import sys, time
    from functools import partial
    from pathlib import Path
    from migration_manager import service
    from migration_manager.strategies import batches, shadow

    def slow(*args, **kwargs):
        step = batches.range_step(*args, **kwargs)
        return lambda after, size: (time.sleep(0.02), step(after, size))[1]

    shadow.range_step = slow
    shadow.BatchPolicy = partial(batches.BatchPolicy, first_size=20, max_size=20)
    service.apply(service.ApplyRequest(project_dir=Path(sys.argv[1]), env="dev", approved=True))
    """
)


def test_a_killed_apply_resumes_its_copy_from_the_recorded_checkpoint(server_url, tmp_path):
    seeded = seed(server_url)
    project = make_project(tmp_path / "proj", server_url, autoBackup=False)
    path = write_native(project, "1", "retype", ALTER[kind(server_url)], "SELECT 1")
    path.write_text("-- strategy: shadow\n" + path.read_text())
    with writing(server_url, tmp_path) as writer:
        run = subprocess.Popen([sys.executable, "-c", SLOW_APPLY, str(project)])
        wait_for(lambda: _recorded_rows(server_url) >= 300 or run.poll() is not None, "a recorded checkpoint")
        _kill(run)
        assert _recorded_rows(server_url) >= 300  # (on a loaded machine the copy may have ended: then it resumes after)
        apply_ok(project)  # resumes: the rows before the checkpoint are not copied again
        writer.wait_for_writes(50)
    assert history(server_url)["1"][0] == "expanded"
    assert rows_of(server_url, "orders") == expected(seeded, writer)
    assert amount_type(server_url) == AMOUNT_TYPE[kind(server_url)][1]


def _recorded_rows(url: str) -> int:
    try:
        found = query(url, "SELECT checkpoint FROM schema_migrations WHERE version = '1'")
    except Exception:  # noqa: BLE001 - the history (or its strategy columns) does not exist yet
        return 0
    return json.loads(found[0][0])["rows"] if found and found[0][0] else 0
