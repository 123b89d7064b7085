"""The README, docs/, SKILL.md, skill_resources/ and the slash commands say only what the code does: every
relative link leads to a file (and its #anchor to a heading there), every docs/ page is reachable from the
README, and every `db-migrate` subcommand and option they show exists in the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from migration_manager.surfaces.cli.app import build_parser

REPO = Path(__file__).resolve().parents[2]
PAGES = [
    REPO / "README.md",
    REPO / "SKILL.md",
    *sorted((REPO / "docs").glob("*.md")),
    *sorted((REPO / "skill_resources").glob("*.md")),
    *sorted((REPO / ".claude" / "commands" / "sc").glob("*.md")),
]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
# A command as the docs show it: an inline code span, or a line of a fenced block, up to a comment.
INLINE_COMMAND = re.compile(r"`(db-migrate [^`]+)`")
BLOCK_COMMAND = re.compile(r"^\s*(db-migrate [^#\n]*)", re.M)
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def page_id(page: Path) -> str:
    return str(page.relative_to(REPO))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces become hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


def cli_vocabulary() -> tuple[set[str], set[str]]:
    """The CLI's subcommands and every option any of them (or the main parser) accepts."""
    parser = build_parser()  # argparse keeps subcommands and options in its private _actions
    subparsers = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    options = {o for a in parser._actions for o in a.option_strings}
    for sub in subparsers.choices.values():
        options |= {o for a in sub._actions for o in a.option_strings}
    return set(subparsers.choices), options


def shown_commands(page: Path) -> list[str]:
    text = page.read_text()
    blocks = "\n".join(FENCE.findall(text))
    return INLINE_COMMAND.findall(FENCE.sub("", text)) + BLOCK_COMMAND.findall(blocks)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_leads_to_a_file_and_heading(page: Path) -> None:
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto: ...
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(target)
    assert not broken, f"{page_id(page)}: {broken}"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    orphans = [p.name for p in sorted((REPO / "docs").glob("*.md")) if f"docs/{p.name}" not in readme]
    assert not orphans, orphans


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_db_migrate_command_shown_exists(page: Path) -> None:
    subcommands, options = cli_vocabulary()
    unknown = []
    for command in shown_commands(page):
        words = command.split()[1:]
        if words and re.fullmatch(r"[a-z][a-z-]*", words[0]) and words[0] not in subcommands:
            unknown.append(f"{command}: no subcommand {words[0]}")
        unknown += [f"{command}: no option {o}" for o in OPTION.findall(command) if o not in options]
    assert not unknown, unknown


def test_the_vocabulary_check_sees_the_readme_commands() -> None:
    """Guards the test above against matching nothing."""
    shown = shown_commands(REPO / "README.md")
    assert len(shown) >= 10 and any("--emergency" in c for c in shown)


@pytest.mark.parametrize("page", ["README.md", "skill_resources/configuration.md"])
def test_the_configuration_shown_is_accepted_by_the_loader(page: str, tmp_path: Path) -> None:
    from migration_manager.config import load_settings

    shown = re.findall(r"^```json\n(.*?)^```", (REPO / page).read_text(), re.S | re.M)
    settings = [block for block in shown if '"migration-manager"' in block]
    assert settings, f"{page} shows no configuration"
    (tmp_path / ".claude").mkdir()
    for block in settings:
        (tmp_path / ".claude" / "settings.json").write_text(block)
        assert load_settings(tmp_path).environments  # a misspelt key would raise ConfigError
