"""What an MCP tool hands back: a short text summary, the report as bounded structured content, and
the full report as a resource when anything had to be left out.

Claude Code cuts a tool result at about 25,000 tokens, and a 200-migration apply or rollback report is
hundreds of kilobytes. So the text says counts, the first failures and the next step; the structured
content keeps the report's shape but at most a few items per list (failures first) and shortened long
texts, saying what it left out (`omitted`) and where the rest is (`full_report`, a
migrations://reports/{id} resource kept in memory for the last runs). A failed operation comes back
with isError set, its state and its next step; next steps name tools, not CLI commands.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field, create_model

from ...reports import AnalyzeReport, BackupReport, RunReport, StatusReport, TestReport, ValidateReport
from ..text import (
    analyze_blocks,
    backup_blocks,
    first_that_matter,
    lines_of,
    run_blocks,
    status_blocks,
    test_blocks,
    validate_lines,
)

REPORTS_URI = "migrations://reports"
STRUCTURED_BUDGET = 24_000  # bytes of JSON; sent twice (structured + text copy), well under ~25k tokens
LIST_KEEPS = (20, 10, 5, 2, 1)  # items kept per list, fewer until the report fits the budget
TEXT_KEEP = 1_000  # characters of one long text (a statement's SQL, a Python migration's source)
SUMMARY_ITEMS = 10  # migrations, steps or findings listed in the text summary


# ---- the result ----------------------------------------------------------------------------
class ReportStore:
    """The last full reports of this server process, readable as migrations://reports/{id}."""

    keep_last = 20

    def __init__(self) -> None:
        self.reports: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()
        self._ids = itertools.count(1)

    def keep(self, headline: str, data: dict[str, Any]) -> str:
        report_id = f"report-{next(self._ids)}"
        self.reports[report_id] = (headline, data)
        while len(self.reports) > self.keep_last:
            self.reports.popitem(last=False)
        return f"{REPORTS_URI}/{report_id}"


@dataclass
class ServerState:
    """What the server keeps while it runs: the project it serves and the full reports it kept. It is the typed
    lifespan context every tool call reads (`state_of(ctx)`); resources without a context get it at registration."""

    project_dir: Path
    reports: ReportStore = field(default_factory=ReportStore)


def state_of(ctx: Context) -> ServerState:
    return ctx.request_context.lifespan_context


def report_store(ctx: Context) -> ReportStore:
    return state_of(ctx).reports


@functools.cache
def bounded_output(model: type[BaseModel]) -> type[BaseModel]:
    """The report's schema plus what a bounded result says about its cuts (the tools' output schema)."""
    return create_model(
        model.__name__,
        __base__=model,
        omitted=(
            dict[str, int],
            Field(
                default_factory=dict,
                description="items (or characters) left out of this result, by path, to keep it small",
            ),
        ),
        full_report=(
            str | None,
            Field(None, description="resource URI of the complete report, when anything was left out"),
        ),
    )


def tool_result(ctx: Context, report: BaseModel, summary: str) -> CallToolResult:
    """The report as a tool result; isError when the operation itself failed (not a dry run that found errors)."""
    data = worded(report.model_dump(mode="json"))
    shown, omitted = bounded(data)
    lines = [summary] + error_lines(data.get("error"), summary)
    shown["omitted"], shown["full_report"] = omitted, None
    if omitted:
        shown["full_report"] = report_store(ctx).keep(summary.splitlines()[0], data)
        lines.append(
            f"This result leaves out {_omitted_text(omitted)}; read the resource {shown['full_report']} "
            "for the complete report."
        )
    failed = data.get("outcome") == "failed" and not data.get("dry_run", False)
    return CallToolResult(
        content=[
            TextContent(type="text", text=tool_words("\n".join(lines))),
            TextContent(type="text", text=json.dumps(shown)),
        ],
        structured_content=shown,
        is_error=failed,
    )


def error_lines(error: dict[str, Any] | None, summary: str) -> list[str]:
    """A failed run's state and next step, unless the summary already says them."""
    if not error:
        return []
    lines = [f"Database state: {error['state']}"] if error.get("state") and "Database state:" not in summary else []
    if error.get("next_step") and "Next step:" not in summary:
        lines.append(f"Next step: {error['next_step']}")
    return lines


def bounded(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """The report cut to STRUCTURED_BUDGET: fewer items per list until it fits, and what was left out, by path."""
    for keep in LIST_KEEPS:
        omitted: dict[str, int] = {}
        shown = _trim(data, keep, "", omitted)
        if len(json.dumps(shown)) <= STRUCTURED_BUDGET:
            break
    return shown, omitted


def _trim(value: Any, keep: int, path: str, omitted: dict[str, int]) -> Any:
    if isinstance(value, dict):
        return {k: _trim(v, keep, f"{path}.{k}" if path else k, omitted) for k, v in value.items()}
    if isinstance(value, list):
        chosen = first_that_matter(value, keep)
        if len(chosen) < len(value):
            omitted[path] = omitted.get(path, 0) + len(value) - len(chosen)
        return [_trim(v, keep, f"{path}[]", omitted) for v in chosen]
    if isinstance(value, str) and len(value) > TEXT_KEEP:
        omitted[f"{path} (characters)"] = omitted.get(f"{path} (characters)", 0) + len(value) - TEXT_KEEP
        return value[:TEXT_KEEP] + "…"
    return value


def _omitted_text(omitted: dict[str, int]) -> str:
    parts = [f"{n:,} {path}" for path, n in omitted.items() if "(characters)" not in path]
    return ", ".join(parts[:4]) + (" and more" if len(parts) > 4 else "") or "the end of some long texts"


# ---- next steps as tool calls ---------------------------------------------------------------
_CLI = re.compile(
    r"`?db-migrate(?P<env>\s+--env\s+[\w.-]+)?\s+(?P<verb>[a-z]+)"
    r"(?P<args>(?:\s+(?:--(?:to|steps|env)\s+[\w.{}]+|--[a-z-]+(?![\w-])|\d[\w.]*|[A-Z]{2,}\b|list\b|create\b))*)`?"
)
_SAME_VERB = {"status", "validate", "analyze", "test", "compare", "create", "apply", "rollback", "baseline", "restore"}
_RESOLVE_ACTIONS = {
    "--retry": "retry",
    "--mark-applied": "mark-applied",
    "--mark-not-applied": "mark-not-applied",
    "--accept-checksum": "accept-checksum",
}


def tool_words(text: str) -> str:
    """Replace `db-migrate ...` commands by the tool call that does the same ("the `resolve` tool (...)")."""
    return _CLI.sub(_as_tool_call, text)


def _as_tool_call(match: re.Match[str]) -> str:
    verb, words = match["verb"], match["args"].split()
    flags = {w for w in words if w.startswith("--")}
    values = dict(zip(words, words[1:]))
    positional = [
        w
        for i, w in enumerate(words)
        if not w.startswith("--") and (i == 0 or words[i - 1] not in ("--to", "--steps", "--env"))
    ]
    args: dict[str, str] = {"env": match["env"].split()[-1]} if match["env"] else {}
    if verb == "apply" and "--dry-run" in flags:
        verb = "dry_run"
    if verb == "backup" and positional[:1] in (["list"], ["create"]):
        args["action"] = positional.pop(0)
    elif verb == "resolve" and positional and flags & set(_RESOLVE_ACTIONS):
        verb, args["version"] = "resolve", positional.pop(0)
        args["action"] = next(_RESOLVE_ACTIONS[f] for f in flags if f in _RESOLVE_ACTIONS)
    elif verb == "history":
        return f"the migrations://history/{args.get('env', '<env>')} resource"
    elif verb not in _SAME_VERB | {"dry_run"} or "--into" in flags or "--emergency" in flags:
        return match[0]  # no tool does exactly this: keep the CLI command
    if "--to" in values:
        args["version" if verb == "baseline" else "to_version"] = values["--to"]
    if "--steps" in values:
        args["steps"] = values["--steps"]
    if positional:
        args[
            {"create": "name", "restore": "backup_id", "analyze": "version", "baseline": "version"}.get(verb, "arg")
        ] = positional[0]
    listed = ", ".join(f"{k}={v}" for k, v in args.items())
    return f"the `{verb}` tool" + (f" ({listed})" if listed else "")


def worded(data: dict[str, Any]) -> dict[str, Any]:
    """The report's own next steps, as tool calls (the rest of the report is the CLI's --json as is)."""
    for key in ("next_action", "message"):
        if isinstance(data.get(key), str):
            data[key] = tool_words(data[key])
    if isinstance(data.get("error"), dict):
        data["error"] = {k: tool_words(v) if isinstance(v, str) else v for k, v in data["error"].items()}
    return data


# ---- summaries (the short text beside the structured report) -----------------------------
def status_text(r: StatusReport) -> str:
    blocks = status_blocks(r, rows=SUMMARY_ITEMS, rest="(in the structured result)", limit=SUMMARY_ITEMS)
    return "\n".join(lines_of(blocks))


def backup_text(r: BackupReport) -> str:
    return "\n".join(lines_of(backup_blocks(r, limit=SUMMARY_ITEMS)))


def validate_text(r: ValidateReport) -> str:
    lines = validate_lines(r, limit=SUMMARY_ITEMS)
    if any(f.severity in ("error", "danger") for f in r.findings):
        lines.append(
            "Next: the analyze tool shows each finding with its counts and a safer rewrite; fix them before "
            "applying (a danger needs the human's approval, an error stops the apply)."
        )
    return "\n".join(lines)


def analyze_text(r: AnalyzeReport) -> str:
    return "\n".join(lines_of(analyze_blocks(r, limit=SUMMARY_ITEMS)))


def run_text(r: RunReport) -> str:
    return "\n".join(lines_of(run_blocks(r, limit=SUMMARY_ITEMS)))


def test_text(r: TestReport) -> str:
    lines = lines_of(test_blocks(r, limit=SUMMARY_ITEMS))
    if r.outcome == "failed":
        lines.append(
            "Next step: fix the migration or the data the failed step names, then call the test tool again "
            "(the environment itself was not changed)."
        )
    return "\n".join(lines)
