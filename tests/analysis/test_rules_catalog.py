"""The rules catalog the skill loads is the one the rule files produce, and every rule is complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from migration_manager.analysis.catalog import catalog
from migration_manager.analysis.rules import all_rules

CATALOG = Path(__file__).resolve().parents[2] / "skill_resources" / "rules-catalog.md"


def test_committed_catalog_matches_the_rule_files():
    assert CATALOG.read_text() == catalog(), (
        "skill_resources/rules-catalog.md is stale: run "
        "`python -m migration_manager.analysis.catalog skill_resources/rules-catalog.md`"
    )


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.id)
def test_every_rule_explains_itself_with_bad_and_good_sql(rule):
    assert rule.id and rule.title and rule.kinds and rule.recommendation and rule.probe
    assert rule.severity in ("info", "warning", "danger", "error")
    assert "Bad" in rule.__doc__ and "Good" in rule.__doc__
    assert f"## {rule.id}\n" in catalog()


def test_rule_ids_are_unique():
    ids = [r.id for r in all_rules()]
    assert len(ids) == len(set(ids)) >= 15
