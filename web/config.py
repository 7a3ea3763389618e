"""The hub's configuration: one typed tree, read once at start-up.

Sources, later ones winning: the defaults declared here, an optional TOML file
(``LECTUREHUB_CONFIG`` or ``--config``), then ``LECTUREHUB_*`` environment variables
named after the setting's path (``LECTUREHUB_SERVER_PORT`` for ``server.port``).

Every setting carries its help text in the field metadata; ``docs/configuration.md``
must document each one (a test checks this).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from web.client_address import parse_networks

ENV_PREFIX = "LECTUREHUB_"


class ConfigError(ValueError):
    """A setting has a value that cannot be used."""


def setting(default: Any, help: str) -> Any:
    """Declare a setting with its default and its help text."""
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class ServerConfig:
    host: str = setting("127.0.0.1", "Address the HTTP server listens on.")
    port: int = setting(8080, "TCP port the HTTP server listens on.")
    public_url: str = setting(
        "", "URL users reach the hub at, used in links; empty means http://host:port."
    )
    secret_key: str = setting(
        "",
        "Key that signs and encrypts session cookies (32+ characters). Empty: one is "
        "generated on first start and kept in <data_dir>/secret_key.",
    )
    secure_cookies: bool = setting(
        False, "Mark session cookies Secure (set when the hub is served over HTTPS)."
    )
    session_max_age: int = setting(12 * 3600, "Seconds a login session stays valid.")
    login_attempts_per_minute: int = setting(
        10,
        "Failed logins allowed per username and per client address in a minute (counted in "
        "each server process on its own).",
    )
    trusted_proxies: list[str] = setting(
        [],
        "Addresses or CIDR networks of the reverse proxies in front of the hub. Only a request "
        "from one of them has its X-Forwarded-For believed (the right-most address that is not "
        "a trusted proxy is the client); empty: the header is ignored.",
    )
    default_locale: str = setting("zh_CN", "Language of the interface by default (zh_CN, en).")
    time_zone: str = setting(
        "Asia/Shanghai", "Time zone in which pages show times and forms read them (IANA name)."
    )
    max_upload_bytes: int = setting(
        2 * 1024 * 1024, "Largest request body accepted, in bytes (roster uploads included)."
    )
    roster_max_rows: int = setting(2000, "Most member rows one roster import may contain.")


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = setting(
        "",
        "SQLAlchemy async URL, e.g. postgresql+asyncpg://user@host/db. Empty: an embedded "
        "SQLite file <data_dir>/lecturehub.sqlite3.",
    )
    echo: bool = setting(False, "Log every SQL statement (debugging only).")


@dataclass(frozen=True)
class MediaConfig:
    ice_servers: list[str] = setting(
        [], "STUN/TURN server URLs handed to browsers and used by the server (none by default)."
    )
    turn_username: str = setting("", "Username for the TURN servers, if they need one.")
    turn_password: str = setting("", "Password for the TURN servers, if they need one.")
    announced_address: str = setting(
        "", "Address the server announces in its ICE candidates (for a server behind NAT)."
    )
    max_participants_per_room: int = setting(300, "Participants one live room admits at most.")
    join_timeout: float = setting(
        20.0, "Seconds a participant has to complete the handshake and connect media."
    )
    heartbeat_interval: float = setting(
        10.0, "Seconds between heartbeats on the signalling socket."
    )
    outbox_size: int = setting(
        256, "Signalling messages queued for one participant before it is disconnected."
    )
    max_message_bytes: int = setting(65536, "Largest signalling message accepted, in bytes.")


@dataclass(frozen=True)
class RecordingConfig:
    ffmpeg_binary: str = setting(
        "", "Path of the ffmpeg binary; empty uses the one shipped by imageio-ffmpeg."
    )
    concurrency: int = setting(1, "Post-processing jobs run at the same time.")
    parallel_chunks: int = setting(
        1,
        "ffmpeg processes that encode pieces of a composite replay's video at the same time "
        "(then joined without re-encoding); 1 uses one process. Pieces are at least 30 s "
        "long; each decodes its inputs from their start.",
    )
    remux_audio_parts: int = setting(
        2,
        "ffmpeg processes that encode pieces of a remuxed replay's audio (a single H.264 video "
        "track, copied) at the same time, then joined frame by frame without re-encoding; 1 "
        "uses one process. Pieces are at least 30 s long.",
    )
    audio_sample_rate: int = setting(
        24000,
        "Sample rate of the replay's AAC audio, in Hz (24000 keeps speech up to 12 kHz; 48000 "
        "cost the AAC encoder 1.3-1.6 times the CPU).",
    )
    retention_days: int = setting(
        0, "Days a recording is kept after its meeting; 0 keeps recordings forever."
    )


@dataclass(frozen=True)
class AttendanceConfig:
    present_ratio: float = setting(
        0.8, "Share of the meeting's actual duration a member must be present to count present."
    )
    late_minutes: int = setting(10, "Minutes after the start after which a member counts late.")
    early_leave_minutes: int = setting(
        10, "Minutes before the end before which leaving counts as leaving early."
    )
    reconnect_merge_seconds: int = setting(
        60, "Gaps in presence shorter than this are merged (a reconnect)."
    )
    makeup_ratio: float = setting(
        0.9, "Share of the recording a member must watch to complete a make-up."
    )
    makeup_days: int = setting(30, "Days after a meeting a make-up is due.")
    yearly_hours: float = setting(32.0, "Study hours a member should earn in a calendar year.")
    yearly_hours_leaders: float = setting(
        56.0, "Study hours for branch secretaries and committee members in a calendar year."
    )
    scheduler_interval: float = setting(
        300.0,
        "Seconds between runs of the attendance scheduler (records after a meeting, make-ups, "
        "reminders); 0 turns it off.",
    )
    rollcall_code_minutes: int = setting(
        5, "Minutes a roll-call code shown on a site's screen stays valid."
    )


@dataclass(frozen=True)
class Config:
    data_dir: Path = setting(Path("var"), "Directory for the database, recordings and keys.")
    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    recording: RecordingConfig = field(default_factory=RecordingConfig)
    attendance: AttendanceConfig = field(default_factory=AttendanceConfig)

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'lecturehub.sqlite3').resolve()}"

    @property
    def public_url(self) -> str:
        return self.server.public_url or f"http://{self.server.host}:{self.server.port}"


T = TypeVar("T")


def setting_paths(cls: type = Config, prefix: str = "") -> list[tuple[str, str, Any]]:
    """Every leaf setting as (dotted path, help, default), in declaration order."""
    out: list[tuple[str, str, Any]] = []
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        path = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hints[f.name]):
            out.extend(setting_paths(hints[f.name], path + "."))
        else:
            if f.default is not dataclasses.MISSING:
                default: Any = f.default
            else:
                default = f.default_factory()  # type: ignore[operator]
            out.append((path, f.metadata["help"], default))
    return out


def _coerce(value: Any, kind: Any, path: str) -> Any:
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(value)
        if kind is int or kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return kind(value)
        if kind is Path:
            return Path(value)
        if kind == list[str]:
            if isinstance(value, str):
                return [part.strip() for part in value.split(",") if part.strip()]
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return list(value)
            raise ValueError(value)
        if kind is str:
            if not isinstance(value, str):
                raise ValueError(value)
            return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {path}: cannot use {value!r}") from exc
    raise ConfigError(f"setting {path}: unsupported type {kind}")


def _build(cls: type[T], values: Mapping[str, Any], env: Mapping[str, str], prefix: str) -> T:
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(prefix + u for u in unknown))}")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        kind = hints[f.name]
        path = prefix + f.name
        if dataclasses.is_dataclass(kind):
            section = values.get(f.name, {})
            if not isinstance(section, Mapping):
                raise ConfigError(f"setting {path} must be a table")
            kwargs[f.name] = _build(cast(type, kind), section, env, path + ".")
            continue
        env_name = ENV_PREFIX + path.replace(".", "_").upper()
        if env_name in env:
            kwargs[f.name] = _coerce(env[env_name], kind, path)
        elif f.name in values:
            kwargs[f.name] = _coerce(values[f.name], kind, path)
    return cls(**kwargs)


def load_config(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Read the configuration: defaults < TOML file < environment."""
    env = os.environ if env is None else env
    path = path or env.get(ENV_PREFIX + "CONFIG") or None
    values: dict[str, Any] = {}
    if path:
        try:
            values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read configuration file {path}: {exc}") from exc
    config = _build(Config, values, env, "")
    if config.server.secret_key and len(config.server.secret_key) < 32:
        raise ConfigError("setting server.secret_key must be at least 32 characters")
    if config.server.default_locale not in {"zh_CN", "en"}:
        raise ConfigError("setting server.default_locale must be zh_CN or en")
    try:
        parse_networks(config.server.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(f"setting server.trusted_proxies: {exc}") from exc
    try:
        ZoneInfo(config.server.time_zone)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise ConfigError(
            f"setting server.time_zone: unknown zone {config.server.time_zone!r}"
        ) from exc
    return config


def ensure_secret_key(config: Config) -> str:
    """The session key: configured, or generated once and kept in the data directory."""
    if config.server.secret_key:
        return config.server.secret_key
    key_file = config.data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text(encoding="ascii").strip()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key)
    return key
