"""Settings: where they come from, what they mean, and which database a command targets.

Sources, later ones winning: built-in defaults < .claude/settings.json
(`skills.migration-manager`) < .claude/settings.local.json < migration-manager.yaml
< environment variables (MM_ENV, DATABASE_URL) < command-line flags.
`${VAR}` / `${VAR:-default}` inside URLs are read from the environment (percent-encoded in user:password@).
No configuration at all gives an embedded SQLite database in the project folder.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError
from .urls import parse_url, redact

SKILL_KEY = "migration-manager"
LOCAL_DB = ".migration-manager/local.db"
BLUE_GREEN_DIR = ".migration-manager/blue-green"
_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_WINDOW = re.compile(
    r"^\s*(?:(?P<days>[A-Za-z,\- ]+?)\s+)?(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*(?P<tz>\S+)?\s*$"
)
_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Strict(BaseModel):
    # A misspelt key (say "requireAproval") must fail loudly, not silently drop a safety rule.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ValidationSettings(Strict):
    preCheck: bool = True
    confirmOnServer: bool = Field(
        True,
        description="replay the simulation's errors on a schema-only scratch copy "
        "before they block: only errors the server raises stay errors",
    )
    safetyCheck: bool = True
    performanceAnalysis: bool = True


class RollbackSettings(Strict):
    autoOnFailure: bool = True
    keepBackups: int = Field(7, description="days a pre-migration backup (and an archive table never restored) is kept")
    archiveDestroyedData: bool = Field(
        True,
        description="copy what DROP COLUMN / DROP TABLE / a narrowing type "
        "change destroys into an archive table, and put it back on rollback",
    )


class OfflineSettings(Strict):
    """The offline strategy's commands: shell commands run in the project folder (MM_ENV names the environment)."""

    stop: str | None = Field(None, description="stops the application or puts it in maintenance mode")
    start: str | None = Field(None, description="starts the application again; run even when the migration failed")
    commandTimeoutSeconds: float = Field(300, gt=0, description="how long stop or start may take before it fails")


class OnlineSettings(Strict):
    """The online strategies' batches (backfill, shadow copy): their pace, and when they hold back."""

    batchTargetMs: int = Field(
        100,
        gt=0,
        description="the batch size adapts so that one batch takes about this long (a write to a row of the batch "
        "waits up to this)",
    )
    maxReplicaLagMs: int = Field(1500, gt=0, description="hold back while a replica lags more than this")
    maxThreadsRunning: int = Field(25, gt=0, description="hold back while more sessions than this run a statement")
    lockTimeoutMs: int = Field(
        500,
        gt=0,
        description="a step that needs a strong table lock (ADD COLUMN, SET NOT NULL, the swap) waits at most this "
        "for it: writes arriving meanwhile queue behind it",
    )
    lockRetries: int = Field(10, ge=0, description="retries of such a step, with backoff and jitter")
    maxWaitSeconds: float = Field(
        600,
        gt=0,
        description="held back this long (or a signal unreadable this long: fail closed), the batches stop; "
        "the next run resumes from the last batch",
    )


class Environment(Strict):
    url: str
    requireApproval: bool = False
    maintenanceWindow: str | None = None
    offline: OfflineSettings | None = Field(None, description="this environment's offline commands (else the global)")
    replicas: list[str] = Field(
        default_factory=list,
        description="replica URLs whose lag the online batches watch (MariaDB/MySQL: a primary does not know its "
        "replicas' lag; PostgreSQL reads pg_stat_replication without them)",
    )
    greenUrl: str | None = Field(
        None, description="blue-green: where green lives (default: a new database beside blue on the same server)"
    )
    blueGreenWithoutReplication: Literal["refuse", "freeze-writes"] = Field(
        "refuse",
        description="blue-green where logical replication is off: refuse, or copy with blue's writes frozen from "
        "the copy until the switch (or complete)",
    )

    def __repr__(self) -> str:
        return f"Environment(url={redact(self.url)!r}, requireApproval={self.requireApproval})"


class Settings(Strict):
    strategy: Literal["offline", "online", "shadow", "blue-green", "blue_green", "auto"] = Field(
        "offline",
        description="how migrations run (skill_resources/strategies.md): offline = the SQL as written; online, "
        "shadow and auto keep writes going; a file's `-- strategy:` header or `apply --strategy` wins",
    )
    autoBackup: bool = True
    offline: OfflineSettings = OfflineSettings()
    online: OnlineSettings = OnlineSettings()
    validation: ValidationSettings = ValidationSettings()
    rollback: RollbackSettings = RollbackSettings()
    environments: dict[str, Environment] = {}
    defaultEnvironment: str | None = None
    migrationsDir: str = "migrations"
    historyTable: str = Field("schema_migrations", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    backupDir: str = ".migration-manager/backups"
    author: str | None = None
    lockWaitSeconds: float = Field(120, description="how long a run waits for another run's migration lock")
    ddlLockTimeoutMs: int | None = Field(
        5000,
        description="lock_timeout for each migration statement; null or 0: "
        "none (the server's own, which waits forever; missing-lock-timeout warns)",
    )
    ddlLockRetries: int = Field(3, description="retries of a migration whose statement hit lock_timeout")
    statementTimeoutMs: int | None = None
    sources: list[str] = Field(default_factory=list, exclude=True)

    def redacted(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        for env in data["environments"].values():
            env["url"] = redact(env["url"])
            if env.get("greenUrl"):
                env["greenUrl"] = redact(env["greenUrl"])
        return data


class BlueGreenState(BaseModel):
    """A blue-green deployment of one environment (strategies/blue_green.py), kept in the project folder: which
    side serves (the one place `db-migrate url` reads), where green is, and the replication between them."""

    environment: str
    active: Literal["blue", "green"] = "blue"
    phase: Literal["cloning", "ready", "switched", "switched-back", "completed"] = "cloning"
    green_database: str
    forward: str = Field(description="replication blue -> green (publication, slot and subscription name)")
    reverse: str | None = Field(None, description="replication green -> blue after the switch")
    blue_schema: str = Field("", description="fingerprint of blue's schema when green was cloned: DDL since refuses")
    frozen_since: str | None = Field(
        None,
        description="without replication: when blue's writes were frozen for the copy (ISO time), until the switch",
    )
    events: list[str] = Field(default_factory=list)

    @staticmethod
    def path(project_dir: Path, environment: str) -> Path:
        return project_dir / BLUE_GREEN_DIR / f"{environment}.json"

    @classmethod
    def load(cls, project_dir: Path, environment: str) -> BlueGreenState | None:
        path = cls.path(project_dir, environment)
        return cls.model_validate_json(path.read_text()) if path.exists() else None

    def save(self, project_dir: Path) -> None:
        """Written to a temporary file and renamed: a reader sees the old side or the new, never half a file."""
        path = self.path(project_dir, self.environment)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(self.model_dump_json(indent=2))
        os.replace(temporary, path)


class Target(BaseModel):
    """The database one command runs against."""

    name: str
    url: str = Field(repr=False)
    require_approval: bool = False
    maintenance_window: str | None = None
    implicit: bool = False  # chosen without --env/--url (embedded SQLite or DATABASE_URL)
    active: Literal["blue", "green"] | None = None  # blue-green: the side `url` is (None: no deployment)

    @property
    def display_url(self) -> str:
        return redact(self.url)


def load_settings(project_dir: Path) -> Settings:
    merged: dict[str, Any] = {}
    sources: list[str] = []
    for path in (project_dir / ".claude" / "settings.json", project_dir / ".claude" / "settings.local.json"):
        if path.exists():
            data = _read_json(path).get("skills", {}).get(SKILL_KEY)
            if data:
                _deep_merge(merged, data)
                sources.append(str(path))
    yaml_path = project_dir / "migration-manager.yaml"
    if yaml_path.exists():
        _deep_merge(merged, _read_yaml(yaml_path))
        sources.append(str(yaml_path))
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(
            "The migration-manager configuration is invalid:\n" + redact(_explain(exc)),
            state="Nothing was run.",
            next_step=f"Fix the setting in {', '.join(sources) or 'your configuration'}.",
        ) from None
    settings.sources = sources
    return settings


def resolve_target(settings: Settings, project_dir: Path, env: str | None, url: str | None) -> Target:
    if env and url:
        raise ConfigError("Give either --env or --url, not both.", next_step="Drop one of them.")
    if url:
        return Target(name="(url)", url=interpolate(url))
    env = env or os.environ.get("MM_ENV") or settings.defaultEnvironment
    if env:
        return _named(settings, env, project_dir)
    if settings.environments:
        return _named(settings, _default_environment(settings), project_dir)
    if os.environ.get("DATABASE_URL"):
        return Target(name="DATABASE_URL", url=interpolate(os.environ["DATABASE_URL"]), implicit=True)
    path = project_dir / LOCAL_DB
    path.parent.mkdir(parents=True, exist_ok=True)
    return Target(name="local", url=f"sqlite:///{path}", implicit=True)


def _named(settings: Settings, env: str, project_dir: Path) -> Target:
    found = settings.environments.get(env)
    if found is None:
        known = ", ".join(sorted(settings.environments)) or "none configured"
        raise ConfigError(
            f"Unknown environment '{env}'. Known environments: {known}.",
            state="Nothing was run.",
            next_step="Use one of those names, or add it under skills.migration-manager.environments "
            "in .claude/settings.json.",
        )
    url = interpolate(found.url)
    parse_url(url)  # fail early, with a redacted message, on a malformed URL
    deployment = BlueGreenState.load(project_dir, env)
    if deployment is not None and deployment.active == "green":
        url = green_url(found, deployment.green_database)
    return Target(
        name=env,
        url=url,
        require_approval=found.requireApproval,
        maintenance_window=found.maintenanceWindow,
        active=deployment.active if deployment else None,
    )


def green_url(environment: Environment, green_database: str) -> str:
    """Where an environment's green side lives: greenUrl, else blue's server with the green database."""
    if environment.greenUrl:
        return interpolate(environment.greenUrl)
    parts = urlsplit(interpolate(environment.url))
    return urlunsplit(parts._replace(path="/" + quote(green_database)))


def _default_environment(settings: Settings) -> str:
    """Only ever default to a development database, never to one that needs approval."""
    names = list(settings.environments)
    for candidate in ("dev", "development", "local"):
        if candidate in settings.environments:
            return candidate
    if len(names) == 1 and not settings.environments[names[0]].requireApproval:
        return names[0]
    raise ConfigError(
        f"Several environments are configured ({', '.join(names)}) and none was chosen.",
        state="Nothing was run.",
        next_step="Pass --env NAME (or set MM_ENV, or defaultEnvironment in the configuration).",
    )


def interpolate(url: str) -> str:
    """Fill in `${VAR}` / `${VAR:-default}`. A value that lands in the user name or password is
    percent-encoded: it is text, not URL syntax (a password "p@ss/w:rd#" would otherwise be cut at
    the "@" and its tail taken for the host name)."""
    userinfo_end = _userinfo_end(url)

    def value(match: re.Match[str]) -> str:
        name, default = match["name"], match["default"]
        if name in os.environ:
            found = os.environ[name]
        elif default is not None:
            found = default
        else:
            raise ConfigError(
                f"The database URL refers to ${{{name}}}, which is not set in the environment.",
                state="Nothing was run.",
                next_step=f"export {name}=... (or use ${{{name}:-default}} in the URL).",
            )
        return quote(found, safe="") if match.start() < userinfo_end else found

    return _VAR.sub(value, url)


def _userinfo_end(url: str) -> int:
    """Where the user:password@ part of a URL template ends (its "@"), or -1 when it has none."""
    masked = _VAR.sub(lambda m: "x" * len(m[0]), url)  # a default may hold "/" or "@": not URL syntax
    scheme_end = masked.find("://")
    if scheme_end < 0:
        return -1
    authority = re.split(r"[/?#]", masked[scheme_end + 3 :], maxsplit=1)[0]
    at = authority.rfind("@")
    return scheme_end + 3 + at if at >= 0 else -1


def in_maintenance_window(window: str, now: datetime | None = None) -> bool:
    """'02:00-04:00 UTC', 'Sat,Sun 01:00-05:00 Europe/Paris', '22:00-02:00' (wraps midnight; UTC default)."""
    match = _WINDOW.match(window)
    if not match:
        raise ConfigError(
            f"maintenanceWindow '{window}' is not understood.",
            next_step="Write it like '02:00-04:00 UTC' or 'Sat,Sun 01:00-05:00 Europe/Paris'.",
        )
    zone = _zone(match["tz"] or "UTC", window)
    days = _days(match["days"], window) if match["days"] else None  # a bad day name fails at any hour
    local = (now or datetime.now(UTC)).astimezone(zone)
    start, end = time.fromisoformat(match["start"].zfill(5)), time.fromisoformat(match["end"].zfill(5))
    current = local.time().replace(tzinfo=None)
    if start <= end:
        inside, opened = start <= current < end, local
    else:  # wraps midnight: after 00:00 the window belongs to the day it opened
        inside = current >= start or current < end
        opened = local if current >= start else local - timedelta(days=1)
    if inside and days is not None:
        inside = opened.weekday() in days
    return inside


def _zone(name: str, window: str):
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"Unknown time zone '{name}' in maintenanceWindow '{window}'.",
            next_step="Use UTC or an IANA zone name like Europe/Paris.",
        ) from None


def _days(spec: str, window: str) -> set[int]:
    days: set[int] = set()
    for part in spec.lower().replace(" ", "").split(","):
        ends = [p[:3] for p in part.split("-")]
        if any(e not in _DAYS for e in ends):
            raise ConfigError(f"Unknown day '{part}' in maintenanceWindow '{window}'.", next_step="Use Mon..Sun.")
        first, last = _DAYS.index(ends[0]), _DAYS.index(ends[-1])
        days.update(range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)])
    return days


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}", state="Nothing was run.", next_step="Fix the JSON.") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # only a project with migration-manager.yaml pays its import (~15 ms of every command)

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}", state="Nothing was run.", next_step="Fix the YAML.") from None
    return data.get(SKILL_KEY, data) if isinstance(data, dict) else {}


def _deep_merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value


def _explain(exc: ValidationError) -> str:
    return "\n".join(f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
