"""CLI help and MCP argument descriptions come from the request models, so the two surfaces say the same thing."""

from __future__ import annotations

import argparse

import pytest

from migration_manager.requests import ApplyRequest, RollbackRequest, TargetRequest
from migration_manager.surfaces.cli.app import build_parser
from migration_manager.surfaces.mcp.server import build_server


def option_help(command: str, option: str) -> str:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return next(a.help for a in commands.choices[command]._actions if option in a.option_strings)


def tool_argument(tool: str, argument: str) -> str:
    tools = build_server()._tool_manager
    return tools.get_tool(tool).parameters["properties"][argument]["description"]


@pytest.mark.parametrize(
    ("model", "field", "command", "option", "tool", "argument"),
    [
        (RollbackRequest, "emergency", "rollback", "--emergency", "rollback", "emergency"),
        (RollbackRequest, "steps", "rollback", "--steps", "rollback", "steps"),
        (ApplyRequest, "to_version", "apply", "--to", "apply", "to_version"),
        (TargetRequest, "env", "status", "--env", "status", "env"),
    ],
)
def test_both_surfaces_describe_a_field_with_the_models_words(model, field, command, option, tool, argument) -> None:
    words = model.model_fields[field].description
    assert words and option_help(command, option) == words
    assert tool_argument(tool, argument).startswith(words)  # the MCP side may add what only a model needs to hear
