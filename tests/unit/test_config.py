"""Configuration sources, their precedence, interpolation, environments and maintenance windows."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from migration_manager.config import in_maintenance_window, interpolate, load_settings, resolve_target
from migration_manager.errors import ConfigError
from migration_manager.urls import parse_url, redact


def settings_json(root: Path, data: dict, name: str = "settings.json") -> None:
    (root / ".claude").mkdir(exist_ok=True)
    (root / ".claude" / name).write_text(json.dumps({"skills": {"migration-manager": data}}))


@pytest.fixture(autouse=True)
def no_outside_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "MM_ENV"):
        monkeypatch.delenv(name, raising=False)


def test_no_config_gives_embedded_sqlite_in_the_project(tmp_path: Path) -> None:
    target = resolve_target(load_settings(tmp_path), tmp_path, None, None)
    assert target.url == f"sqlite:///{tmp_path / '.migration-manager' / 'local.db'}"
    assert target.implicit and (tmp_path / ".migration-manager").is_dir()


def test_database_url_is_used_when_nothing_is_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/x")
    target = resolve_target(load_settings(tmp_path), tmp_path, None, None)
    assert (target.name, target.url) == ("DATABASE_URL", "postgresql://app@db/x")


def test_later_sources_override_earlier_ones(tmp_path: Path) -> None:
    settings_json(
        tmp_path,
        {
            "lockWaitSeconds": 5,
            "historyTable": "from_json",
            "environments": {"dev": {"url": "sqlite:///json.db"}},
            "rollback": {"autoOnFailure": False, "keepBackups": 3},
        },
    )
    settings_json(
        tmp_path,
        {"historyTable": "from_local", "environments": {"dev": {"url": "sqlite:///local.db"}}},
        "settings.local.json",
    )
    (tmp_path / "migration-manager.yaml").write_text("historyTable: from_yaml\nrollback:\n  keepBackups: 9\n")
    settings = load_settings(tmp_path)
    assert settings.historyTable == "from_yaml"
    assert settings.lockWaitSeconds == 5  # only settings.json set it
    assert settings.rollback.autoOnFailure is False and settings.rollback.keepBackups == 9  # merged, not replaced
    assert settings.environments["dev"].url == "sqlite:///local.db"
    assert len(settings.sources) == 3


def test_yaml_may_nest_under_the_skill_key(tmp_path: Path) -> None:
    (tmp_path / "migration-manager.yaml").write_text("migration-manager:\n  migrationsDir: db/migrate\n")
    assert load_settings(tmp_path).migrationsDir == "db/migrate"


def test_mm_env_and_flags_pick_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_json(
        tmp_path, {"environments": {"dev": {"url": "sqlite:///dev.db"}, "staging": {"url": "sqlite:///staging.db"}}}
    )
    settings = load_settings(tmp_path)
    assert resolve_target(settings, tmp_path, None, None).name == "dev"
    monkeypatch.setenv("MM_ENV", "staging")
    assert resolve_target(settings, tmp_path, None, None).name == "staging"
    assert resolve_target(settings, tmp_path, "dev", None).name == "dev"
    assert resolve_target(settings, tmp_path, None, "sqlite:///other.db").url == "sqlite:///other.db"


def test_production_is_never_chosen_implicitly(tmp_path: Path) -> None:
    settings_json(tmp_path, {"environments": {"production": {"url": "sqlite:///p.db", "requireApproval": True}}})
    with pytest.raises(ConfigError, match="none was chosen"):
        resolve_target(load_settings(tmp_path), tmp_path, None, None)


def test_unknown_environment_lists_the_known_ones(tmp_path: Path) -> None:
    settings_json(tmp_path, {"environments": {"dev": {"url": "sqlite:///d.db"}, "prod": {"url": "sqlite:///p.db"}}})
    with pytest.raises(ConfigError) as caught:
        resolve_target(load_settings(tmp_path), tmp_path, "stagin", None)
    assert "Unknown environment 'stagin'" in caught.value.message and "dev, prod" in caught.value.message


def test_misspelt_key_is_an_error_not_ignored(tmp_path: Path) -> None:
    settings_json(tmp_path, {"environments": {"prod": {"url": "sqlite:///p.db", "requireAproval": True}}})
    with pytest.raises(ConfigError, match="requireAproval"):
        load_settings(tmp_path)


def test_broken_json_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text("{ not json")
    with pytest.raises(ConfigError, match=r"Cannot read .*settings.json") as caught:
        load_settings(tmp_path)
    assert caught.value.next_step == "Fix the JSON."


def test_interpolation_reads_variables_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PASS", "s3cret")
    monkeypatch.delenv("DB_HOST", raising=False)
    assert interpolate("postgresql://app:${DB_PASS}@${DB_HOST:-localhost}/db") == "postgresql://app:s3cret@localhost/db"


def test_interpolated_user_and_password_are_percent_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = "p@ss/w:rd#?% x"
    monkeypatch.setenv("DB_PASS", raw)
    monkeypatch.setenv("DB_USER", "me@corp")
    monkeypatch.setenv("DB_HOST", "db.example")
    url = interpolate("mysql://${DB_USER}:${DB_PASS}@${DB_HOST}:3306/app")
    assert url == "mysql://me%40corp:p%40ss%2Fw%3Ard%23%3F%25%20x@db.example:3306/app"
    parsed = parse_url(url)
    assert (parsed.user, parsed.password, parsed.host, parsed.database) == ("me@corp", raw, "db.example", "app")
    # A default holding URL syntax is still a value; a whole URL in a variable is left as it is.
    monkeypatch.delenv("NOPE_UNSET", raising=False)
    assert parse_url(interpolate("postgresql://app:${NOPE_UNSET:-a/b@c}@h/db")).password == "a/b@c"
    monkeypatch.setenv("WHOLE_URL", "postgresql://app:s3cret@h:5432/db")
    assert interpolate("${WHOLE_URL}") == "postgresql://app:s3cret@h:5432/db"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root:Qz7@Kx8/Wv3@127.0.0.1/db",
        "mysql://root:Qz7@Kx8#Wv3@127.0.0.1/db",
        "postgresql://app:Qz7 Kx8@h/db",
        "postgresql://app:Qz7@Kx8?Wv3@h/db",
    ],
)
def test_a_literal_url_with_an_unencoded_password_is_refused_without_showing_it(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_url(url)
    text = caught.value.explain()
    assert "must percent-encode" in text and "%40" in text
    password = url.split(":", 2)[2].rsplit("@", 1)[0]
    assert all(fragment not in text for fragment in re.split(r"[@/#? ]", password) if len(fragment) > 1)


def test_redact_hides_a_password_written_with_a_raw_at_sign() -> None:
    assert (
        redact("Cannot connect to mysql://u:p@ss@h:3306/db: denied")
        == "Cannot connect to mysql://u:***@h:3306/db: denied"
    )


def test_interpolation_of_an_unset_variable_says_which(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_UNSET", raising=False)
    with pytest.raises(ConfigError, match=r"\$\{NOPE_UNSET\}"):
        interpolate("postgresql://app:${NOPE_UNSET}@h/db")


def test_environment_url_is_interpolated_and_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGING_PW", "hunter2")
    settings_json(tmp_path, {"environments": {"staging": {"url": "postgresql://app:${STAGING_PW}@db/x"}}})
    target = resolve_target(load_settings(tmp_path), tmp_path, "staging", None)
    assert target.url == "postgresql://app:hunter2@db/x"
    assert "hunter2" not in target.display_url and "hunter2" not in repr(target)
    assert "hunter2" not in repr(load_settings(tmp_path).environments["staging"])


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://u:pw@h/db",
        "mysql://u:pw@h:3306/db?ssl=1",
        "x postgresql://u:pw@h/db y",
        "postgresql://u@h/db?password=pw&a=b",
    ],
)
def test_redact_removes_passwords(text: str) -> None:
    assert "pw" not in redact(text).replace("postgresql", "")


def test_parse_url_errors_never_echo_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_url("postgresql://u:topsecret@h:notaport/db")
    assert "topsecret" not in caught.value.explain()


@pytest.mark.parametrize(
    "window, now, inside",
    [
        ("02:00-04:00 UTC", "2026-01-05T03:00:00+00:00", True),
        ("02:00-04:00 UTC", "2026-01-05T04:00:00+00:00", False),
        ("22:00-02:00", "2026-01-05T23:30:00+00:00", True),
        ("22:00-02:00", "2026-01-06T01:30:00+00:00", True),
        ("22:00-02:00", "2026-01-06T12:00:00+00:00", False),
        ("Sat,Sun 01:00-05:00 Europe/Paris", "2026-01-10T01:00:00+00:00", True),  # Saturday 02:00 in Paris
        ("Sat,Sun 01:00-05:00 Europe/Paris", "2026-01-12T01:00:00+00:00", False),  # Monday
        ("Sun 23:00-01:00 UTC", "2026-01-12T00:30:00+00:00", True),  # Monday 00:30 belongs to Sunday's window
    ],
)
def test_maintenance_window(window: str, now: str, inside: bool) -> None:
    assert in_maintenance_window(window, datetime.fromisoformat(now).astimezone(UTC)) is inside


@pytest.mark.parametrize("window", ["sometime", "02:00-04:00 Mars/Olympus", "Funday 01:00-02:00"])
def test_bad_maintenance_window_is_a_config_error(window: str) -> None:
    with pytest.raises(ConfigError):
        in_maintenance_window(window)
