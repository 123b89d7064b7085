"""`db-migrate`: the shell surface. Parses arguments, calls one service function, renders its report.

Global options work before or after the command (`db-migrate --env prod status` and
`db-migrate status --env prod` alike). Approval is asked here, never in the service.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ... import __version__
from ...errors import ApprovalRequired, MigrationError
from ...requests import (
    OUTSIDE_WINDOW,
    AnalyzeRequest,
    ApplyRequest,
    BackupRequest,
    BaselineRequest,
    ResolveRequest,
    RestoreRequest,
    RollbackRequest,
    TargetRequest,
    TestRequest,
    described,
)
from ...urls import redact

if TYPE_CHECKING:
    from ...reports import Report

STATUS_ROWS = 20  # applied migrations `status` lists on a terminal; --all and --json give every one

EXIT_INTERNAL = 70

STRATEGIES = ["offline", "online", "shadow", "blue-green", "auto"]  # strategies.NAMES, without importing it


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--env",
        "--environment",
        dest="env",
        default=default,
        metavar="NAME",
        help=described(TargetRequest, "env"),
    )
    parser.add_argument("--url", default=default, help=described(TargetRequest, "url"))
    parser.add_argument(
        "--dir",
        dest="migrations_dir",
        default=default,
        type=Path,
        metavar="PATH",
        help=described(TargetRequest, "migrations_dir"),
    )
    parser.add_argument(
        "--project",
        dest="project_dir",
        default=argparse.SUPPRESS if suppress else Path.cwd(),
        type=Path,
        metavar="PATH",
        help=described(TargetRequest, "project_dir"),
    )
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS if suppress else False, help="print the report as JSON"
    )
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="approve the shown plan without asking (a human decision)",
    )
    parser.add_argument(
        "--lock-timeout",
        dest="lock_wait_seconds",
        type=float,
        default=default,
        metavar="SECONDS",
        help=described(TargetRequest, "lock_wait_seconds"),
    )
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS if suppress else False, help="show tracebacks"
    )


class UsageError(Exception):
    """A command line argparse refuses; raised instead of exiting so --json can answer in JSON."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser, self.message = parser, message


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise UsageError(self, message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="db-migrate", description="Safe database migrations.")
    parser.add_argument("--version", action="version", version=f"migration-manager {__version__}")
    _global_options(parser, suppress=False)
    common = _Parser(add_help=False)
    _global_options(common, suppress=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text, parents=[common])

    create = command("create", "create a new migration file from the template")
    create.add_argument("name")
    create.add_argument(
        "--sql",
        dest="format",
        action="store_const",
        const="sql",
        default="sql",
        help="native SQL file with -- UP / -- DOWN sections (default)",
    )
    create.add_argument(
        "--python",
        dest="format",
        action="store_const",
        const="python",
        help="Python data migration with up(ctx) / down(ctx)",
    )
    status = command("status", "current version, applied history, pending, dirty state")
    status.add_argument(
        "--all",
        action="store_true",
        help=f"list every applied migration (default: the newest {STATUS_ROWS} and any with a problem)",
    )
    command("validate", "check files, versions, checksums and history before applying")
    analyze = command("analyze", "what the pending migrations would do to the data, locks and traffic; changes nothing")
    analyze.add_argument("version", nargs="?", help=described(AnalyzeRequest, "version"))
    analyze.add_argument("--strategy", choices=STRATEGIES, help=described(AnalyzeRequest, "strategy"))
    apply = command("apply", "apply pending migrations")
    apply.add_argument("--to", dest="to_version", metavar="VERSION", help=described(ApplyRequest, "to_version"))
    apply.add_argument("--dry-run", action="store_true", help=described(ApplyRequest, "dry_run"))
    apply.add_argument("--allow-out-of-order", action="store_true", help=described(ApplyRequest, "allow_out_of_order"))
    apply.add_argument("--outside-window", action="store_true", help=described(ApplyRequest, "outside_window"))
    apply.add_argument(
        "--strategy",
        choices=STRATEGIES,
        help="how the migrations run where their file names none (default: the strategy setting); "
        "see skill_resources/strategies.md",
    )
    complete = command("complete", "run the contract phase of expanded online / shadow migrations (see status)")
    complete.add_argument("version", nargs="?", help="only this migration (default: every expanded one, oldest first)")
    complete.add_argument("--dry-run", action="store_true", help="show the contract steps; change nothing")
    complete.add_argument("--outside-window", action="store_true", help=OUTSIDE_WINDOW)
    rollback = command("rollback", "run DOWN scripts, newest first (default: the last migration)")
    group = rollback.add_mutually_exclusive_group()
    group.add_argument("--to", dest="to_version", metavar="VERSION", help=described(RollbackRequest, "to_version"))
    group.add_argument("--steps", type=int, metavar="N", help=described(RollbackRequest, "steps"))
    group.add_argument("--all", action="store_true", help=described(RollbackRequest, "all"))
    rollback.add_argument("--dry-run", action="store_true", help=described(RollbackRequest, "dry_run"))
    rollback.add_argument("--outside-window", action="store_true", help=described(RollbackRequest, "outside_window"))
    rollback.add_argument(
        "--emergency",
        action="store_true",
        help=described(RollbackRequest, "emergency"),
    )
    resolve = command("resolve", "get out of a dirty state, or accept an intended checksum change")
    resolve.add_argument("version")
    how = resolve.add_mutually_exclusive_group(required=True)
    for flag, text in (
        ("--retry", "re-run the dirty migration from the statement that failed"),
        ("--mark-applied", "you finished it by hand: record it as applied"),
        ("--mark-not-applied", "you undid it by hand: record it as not applied"),
        ("--accept-checksum", "the edit of this applied file is intended: record the new checksum"),
    ):
        how.add_argument(flag, dest="action", action="store_const", const=flag[2:], help=text)
    resolve.add_argument("--outside-window", action="store_true", help=described(ResolveRequest, "outside_window"))
    baseline = command(
        "baseline", "adopt an existing database: record migrations up to VERSION as applied, without running them"
    )
    baseline.add_argument("--to", dest="to_version", required=True, metavar="VERSION")
    baseline.add_argument("--outside-window", action="store_true", help=described(BaselineRequest, "outside_window"))
    history = command("history", "the history table and the append-only event log")
    history.add_argument("--limit", type=int, default=50, help="how many events (newest first)")
    test = command(
        "test",
        "rehearse the pending migrations on a scratch copy: apply, validate, roll back, compare, "
        "drop the copy (the environment is only read)",
    )
    test.add_argument("to_version", nargs="?", metavar="VERSION", help=described(TestRequest, "to_version"))
    compare = command("compare", "which migrations are applied in which environment")
    compare.add_argument("environments", nargs="*", metavar="ENV")
    switch = command(
        "switch", "blue-green: make green the active database (a short write freeze on blue); --back returns"
    )
    switch.add_argument("--back", action="store_true", help="return to blue, with the writes made on green")
    switch.add_argument("--dry-run", action="store_true", help="say what would happen; change nothing")
    command("url", "the environment's active database URL (blue-green: the side that serves now), for deploy scripts")
    _backup_commands(command)
    return parser


def _backup_commands(command) -> None:
    backup = command("backup", "backups of the environment: list (default), create, prune expired ones")
    backup.add_argument(
        "backup_action", nargs="?", choices=["list", "create", "prune"], default="list", metavar="list|create|prune"
    )
    backup.add_argument(
        "--all", dest="all_environments", action="store_true", help=described(BackupRequest, "all_environments")
    )
    backup.add_argument("--outside-window", action="store_true", help=described(BackupRequest, "outside_window"))
    restore = command("restore", "restore a backup into the environment (after approval), or --into another database")
    which = restore.add_mutually_exclusive_group(required=True)
    which.add_argument("backup_id", nargs="?", metavar="BACKUP_ID", help=described(RestoreRequest, "backup_id"))
    which.add_argument("--latest", action="store_true", help=described(RestoreRequest, "latest"))
    which.add_argument(
        "--timestamp",
        metavar="T",
        help=described(RestoreRequest, "timestamp"),
    )
    restore.add_argument("--into", dest="into_url", metavar="URL", help=described(RestoreRequest, "into_url"))
    restore.add_argument("--dry-run", action="store_true", help=described(RestoreRequest, "dry_run"))
    restore.add_argument("--outside-window", action="store_true", help=described(RestoreRequest, "outside_window"))


def main(argv: list[str] | None = None, *, own_process: bool = False) -> int:
    """own_process: this process runs this one command and exits (the `db-migrate` script), so its start-up
    objects may be exempted from garbage collection."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        return _usage_error(exc, json_output="--json" in argv)
    from .render import Renderer

    if own_process:
        _collect_less()

    renderer = Renderer(json_output=args.json)
    try:
        return _dispatch(args, renderer)
    except MigrationError as exc:
        renderer.error(exc)
        return exc.exit_code
    except BrokenPipeError:  # `db-migrate status | head`: the reader left; the work itself is done
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        renderer.error(
            Interrupted(
                "Interrupted.",
                state="Whatever statement was running is rolled back (PostgreSQL, "
                "SQLite) or left dirty at that statement (MariaDB); the migration lock is released "
                "with this process.",
                next_step="Run `db-migrate status`.",
            )
        )
        return Interrupted.exit_code
    except Exception as exc:  # noqa: BLE001 - last resort: never a raw traceback for a user
        if args.debug:
            traceback.print_exc()
        renderer.error(
            InternalError(
                f"Internal error: {redact(str(exc))} ({type(exc).__name__}).",
                state="Unknown: run `db-migrate status` to see the database state.",
                next_step="Re-run with --debug for details, and report it.",
            )
        )
        return EXIT_INTERNAL


class Interrupted(MigrationError):
    kind = "interrupted"
    exit_code = 130


class InternalError(MigrationError):
    kind = "internal_error"
    exit_code = EXIT_INTERNAL


def _usage_error(exc: UsageError, *, json_output: bool) -> int:
    if json_output:
        print(
            json.dumps(
                {
                    "error": "usage_error",
                    "message": f"{exc.parser.prog}: {exc.message}",
                    "state": "Nothing was run.",
                    "next_step": f"See `{exc.parser.prog} --help`.",
                    "exit_code": 2,
                },
                indent=2,
            )
        )
    else:
        exc.parser.print_usage(sys.stderr)
        print(f"{exc.parser.prog}: error: {exc.message}", file=sys.stderr)
    return 2


def _target(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "project_dir": args.project_dir,
        "env": args.env,
        "url": args.url,
        "migrations_dir": args.migrations_dir,
        "lock_wait_seconds": args.lock_wait_seconds,
    }


def _dispatch(args: argparse.Namespace, renderer) -> int:
    from ... import service

    target = _target(args)
    if args.command == "create":
        return _show(service.create(service.CreateRequest(**target, name=args.name, format=args.format)), renderer)
    if args.command == "status":
        renderer.status_rows = None if args.all else STATUS_ROWS
        return _show(service.status(service.TargetRequest(**target)), renderer)
    if args.command == "validate":
        return _show(service.validate(service.TargetRequest(**target), progress=renderer.progress), renderer)
    if args.command == "test":
        request = service.TestRequest(**target, to_version=args.to_version)
        return _show(service.test(request, progress=renderer.progress), renderer)
    if args.command == "analyze":
        request = service.AnalyzeRequest(**target, version=args.version, strategy=args.strategy)
        return _show(service.analyze(request), renderer)
    if args.command == "compare":
        return _show(service.compare(service.CompareRequest(**target, environments=args.environments)), renderer)
    if args.command == "apply":
        request = service.ApplyRequest(
            **target,
            to_version=args.to_version,
            dry_run=args.dry_run,
            allow_out_of_order=args.allow_out_of_order,
            outside_window=args.outside_window,
            strategy=args.strategy,
        )
        from ...strategies.deployment import apply_with_strategy  # offline / blue-green drive the deployment

        return _run(apply_with_strategy, request, args, renderer)
    if args.command == "complete":
        request = service.CompleteRequest(
            **target, version=args.version, dry_run=args.dry_run, outside_window=args.outside_window
        )
        from ...strategies.deployment import complete_with_strategy  # a blue-green deployment ends here too

        return _run(complete_with_strategy, request, args, renderer)
    if args.command == "rollback":
        request = service.RollbackRequest(
            **target,
            to_version=args.to_version,
            steps=args.steps,
            all=args.all,
            dry_run=args.dry_run,
            outside_window=args.outside_window,
            emergency=args.emergency,
        )
        return _run(service.rollback, request, args, renderer)
    if args.command == "resolve":
        request = service.ResolveRequest(
            **target, version=args.version, action=args.action, outside_window=args.outside_window
        )
        return _run(service.resolve, request, args, renderer)
    if args.command == "baseline":
        return _run(
            lambda request, progress: service.baseline(request),
            service.BaselineRequest(**target, version=args.to_version, outside_window=args.outside_window),
            args,
            renderer,
        )
    if args.command == "backup":
        request = service.BackupRequest(
            **target,
            action=args.backup_action,
            all_environments=args.all_environments,
            outside_window=args.outside_window,
        )
        if args.backup_action == "prune":  # drops archive tables: the approval gate of every history write
            return _run(service.backup, request, args, renderer)
        return _show(service.backup(request, progress=renderer.progress), renderer)
    if args.command == "restore":
        request = service.RestoreRequest(
            **target,
            backup_id=args.backup_id,
            latest=args.latest,
            into_url=args.into_url,
            timestamp=args.timestamp,
            dry_run=args.dry_run,
            outside_window=args.outside_window,
        )
        return _run(service.restore, request, args, renderer)
    if args.command in ("switch", "url"):
        return _blue_green(args, target, renderer)
    if args.command == "history":
        return _show(service.history(service.TargetRequest(**target), limit=args.limit), renderer)
    raise AssertionError(args.command)


def _blue_green(args: argparse.Namespace, target: dict[str, Any], renderer) -> int:
    from ...strategies import blue_green

    if args.command == "url":  # the bare URL (with its password) is what a deploy script reads
        side = blue_green.active_url(blue_green.TargetRequest(**target))
        if args.json:
            renderer.show(side)
        else:
            print(side.url)
        return 0
    request = blue_green.SwitchRequest(**target, back=args.back, dry_run=args.dry_run)
    return _run(blue_green.switch, request, args, renderer)


def _run(use_case, request: BaseModel, args: argparse.Namespace, renderer) -> int:
    report = use_case(request, progress=renderer.progress)
    if report.outcome != "needs-approval":
        return _show(report, renderer)
    if args.json and not args.yes:  # one JSON document: the plan that needs approval
        return _show(report, renderer)
    if not args.json:  # --json --yes prints only the final report (stdout stays one JSON document)
        renderer.show(report)
    if not (args.yes or renderer.confirm("Proceed?")):
        renderer.plain(
            "Not approved: nothing was changed."
            + ("" if sys.stdin.isatty() else " (No terminal to ask on: a human can approve with --yes.)")
        )
        return ApprovalRequired.exit_code
    approved = request.model_copy(update={"approved": True, "approved_plan_id": report.plan_id})
    return _show(use_case(approved, progress=renderer.progress), renderer)


def _show(report: Report, renderer) -> int:
    """Present the report; the exit code is the report's own."""
    renderer.show(report)
    return report.exit_code


def _collect_less() -> None:
    """The modules just imported live until exit, and a command builds much that lives as long (statements,
    their parsed operations, schema snapshots): Python's collector would walk them all again and again (~10-20%
    of the checks' CPU on 1,000 migrations). Freeze what exists and collect young objects less often; cycles
    are still collected."""
    import gc

    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


def entry() -> None:
    sys.exit(main(own_process=True))


if __name__ == "__main__":
    entry()
