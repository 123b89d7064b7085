"""Database URLs: parse them, and redact them before they reach any output."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from .errors import ConfigError

if TYPE_CHECKING:
    from .dialects.base import Dialect

# Schemes of databases without a dialect (dialects/) yet: they parse, and open_engine says they are not supported.
OTHER_SCHEMES = {"mongodb": "mongodb", "mongodb+srv": "mongodb"}

# The password runs to the last "@" of the word: one written with a raw "@" is hidden whole, not cut there.
_PASSWORD_IN_URL = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>\S*)(?P<tail>@)", re.I)
# user:password@host written without a (well-formed) scheme, e.g. a mistyped "mysql//root:pw@host/db".
_PASSWORD_IN_USERINFO = re.compile(r"(?P<head>[^\s:/@'\"]+:)(?P<pw>[^\s@/'\"]+)(?P<tail>@)")
_PASSWORD_PARAM = re.compile(r"(?P<head>[?&](?:password|pwd|pass)=)(?P<pw>[^&\s]*)", re.I)


def redact(text: str) -> str:
    """Replace every password found in URLs (user:PASSWORD@ and ?password=) inside text by ***."""
    text = _PASSWORD_IN_URL.sub(lambda m: f"{m['head']}***{m['tail']}", text)
    text = _PASSWORD_IN_USERINFO.sub(lambda m: f"{m['head']}***{m['tail']}", text)
    return _PASSWORD_PARAM.sub(lambda m: f"{m['head']}***", text)


@dataclass(frozen=True)
class DatabaseURL:
    raw: str
    kind: str  # sqlite | postgres | mysql | mongodb
    user: str | None
    password: str | None
    host: str | None
    port: int | None
    database: str
    query: dict[str, str]

    @property
    def redacted(self) -> str:
        return redact(self.raw)

    def __repr__(self) -> str:  # never leak the password through a repr
        return f"DatabaseURL({self.redacted!r})"


def parse_url(url: str) -> DatabaseURL:
    """Parse a database URL; the error never echoes the password."""
    if not url or "://" not in url:
        raise ConfigError(
            f"'{redact(url or '')}' is not a database URL.",
            next_step="Use e.g. postgresql://user@host:5432/db, mysql://root@127.0.0.1:3306/db or "
            "sqlite:///path/to/file.db.",
        )
    parts = urlsplit(url)
    schemes = _schemes()
    found = schemes.get(parts.scheme.split("+")[0].lower()) or schemes.get(parts.scheme.lower())
    if found is None:
        raise ConfigError(
            f"Unsupported database scheme '{parts.scheme}' in {redact(url)}.",
            # The schemes of a database without a dialect yet (OTHER_SCHEMES) parse, but are not offered here.
            next_step="Supported: " + ", ".join(sorted(s for s in schemes if s not in OTHER_SCHEMES)) + ".",
        )
    dialect = None if isinstance(found, str) else found
    kind = dialect.name if dialect else found
    if dialect and dialect.file_database:
        # sqlite:///relative.db, sqlite:////abs/path.db, sqlite:///:memory:
        database = unquote(url.split("://", 1)[1])
        database = database[1:] if database.startswith("/") else database
        database = database.split("?", 1)[0]
        if not database:
            label, scheme = next(iter(dialect.flavors.values())), dialect.url_schemes[0]
            raise ConfigError(f"{label} URL {url} names no file.", next_step=f"Use {scheme}:///migrations.db")
        return DatabaseURL(url, kind, None, None, None, None, database, dict(parse_qsl(parts.query)))
    _refuse_unencoded(url, parts)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"The port in {redact(url)} is not a number.", next_step="Fix the URL.") from None
    return DatabaseURL(
        raw=url,
        kind=kind,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname,
        port=port,
        database=unquote(parts.path.lstrip("/")),
        query=dict(parse_qsl(parts.query)),
    )


@cache
def _schemes() -> dict[str, Dialect | str]:
    """URL scheme -> the Dialect it names (each dialect's url_schemes), or the kind of a database without one."""
    from . import dialects

    return {scheme: dialect for dialect in dialects.every() for scheme in dialect.url_schemes} | OTHER_SCHEMES


def _refuse_unencoded(url: str, parts: SplitResult) -> None:
    """A server URL never holds a space, a "#" fragment or an "@" after the host: those are characters of a
    user name or password written without percent-encoding, and the parts after them would be misread
    (part of the password shown as the host name in the error, the rest sent to the server)."""
    if not (re.search(r"\s", url) or parts.fragment or "@" in parts.path or "@" in parts.query):
        return
    scheme, rest = url.split("://", 1)
    user = re.split(r"[:@]", rest, maxsplit=1)[0]
    raise ConfigError(
        f"The {scheme}:// URL for user '{user}' has characters its password (or user name) must percent-encode: "
        "a space, @ / : # ? or % written as is (the URL is not shown: it would show part of the password).",
        next_step="Encode them (@ as %40, / as %2F, : as %3A, # as %23, ? as %3F, % as %25, a space as %20), "
        "e.g. python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=\"\"))' 'PASSWORD', "
        "or put the password in an environment variable and write ${VAR} in the URL (its value is encoded for you).",
    )
