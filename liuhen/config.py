"""Settings: loaded once from config.toml, overridden by the environment, passed down.

Relative paths resolve against the folder of the config file. Any key can be overridden
with ``LIUHEN_<SECTION>__<KEY>`` (e.g. ``LIUHEN_ARCHIVE__DATABASE_URL``); nested sections use
more ``__`` (``LIUHEN_STATION__BAYS__BAY1__DEVICE``). Nothing here runs at import time.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from liuhen.errors import ConfigError

DEFAULT_PATTERN = (
    r"^(?P<device>[A-Za-z0-9-]+)_(?P<officer>[A-Za-z0-9-]+)_(?P<start>\d{14})_(?P<seq>\d+)"
    r"\.(?i:mp4|mov|avi|mkv|wav|mp3|jpg|jpeg)$"
)


@dataclass(frozen=True)
class S3Settings:
    bucket: str = "liuhen-originals"
    endpoint_url: str | None = None
    region: str = "us-east-1"
    prefix: str = ""
    access_key_id: str | None = None
    secret_access_key: str | None = None
    multipart_threshold_mb: int = 64
    multipart_chunk_mb: int = 16
    object_lock_mode: str = "COMPLIANCE"
    object_lock_days: int = 0


@dataclass(frozen=True)
class ArchiveSettings:
    database_url: str
    store: str  # "local" | "s3"
    store_path: Path
    upload_path: Path
    key_path: Path
    checkpoint_every_events: int = 100
    checkpoint_every_minutes: float = 10.0


@dataclass(frozen=True)
class BaySettings:
    device: str | None = None
    officer: str | None = None


@dataclass(frozen=True)
class StationSettings:
    id: str
    dock_root: Path
    state_path: Path
    archive_url: str | None = None
    token: str | None = None
    stable_seconds: float = 2.0
    poll_seconds: float = 1.0
    delete_after_offload: bool = False
    timezone: str = "Asia/Shanghai"
    chunk_mb: int = 4
    filename_pattern: str = DEFAULT_PATTERN
    bays: Mapping[str, BaySettings] = field(default_factory=dict)
    # `liuhen serve` also runs this station on dock_root (embedded default; no effect with archive_url)
    embedded: bool = True
    # read recorders at most this fast (MB/s); 0: as fast as they deliver
    read_limit_mb_s: float = 0.0

    @property
    def staging_path(self) -> Path:
        return self.state_path / "staging"


@dataclass(frozen=True)
class WorkerSettings:
    embedded: bool = True  # run media workers as threads inside liuhen's own process
    threads: int = 1
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    encoder: str = "libx264"  # or h264_nvenc where a GPU is present
    proxy_max_height: int = 720  # the height of a transcoded proxy
    remux_max_height: int = 2160  # a browser-safe source up to this height is remuxed, not re-encoded


@dataclass(frozen=True)
class AuthSettings:
    idle_minutes: float = 30.0  # a console session idle this long is ended
    lockout_attempts: int = 5  # failed logins in a row that lock the account
    # 0: a locked account stays locked until an administrator unlocks it (`unlock`);
    # more: the lock also lifts by itself this many minutes after it was set
    lockout_minutes: float = 0.0
    session_cookie: str = "liuhen_session"


# The enforcement steps (执法环节) and what the AV checklist (音像记录事项清单) asks of each:
# "full" = the whole act on audio/video (全程音像记录), "av" = audio/video required, "text" = text
# records suffice. From the seed plans; every agency configures its own in [cases].
DEFAULT_STEPS: tuple[str, ...] = (
    "立案", "调查", "取证", "现场检查", "询问", "证据保全", "查封扣押", "强制拆除", "听证", "审查", "法制审核",
    "决定", "直接送达", "留置送达", "公告送达", "执行", "结案", "归档")
DEFAULT_CHECKLIST: Mapping[str, str] = {
    "查封扣押": "full", "强制拆除": "full", "询问": "full",
    "现场检查": "av", "取证": "av", "证据保全": "av", "听证": "av", "执行": "av", "留置送达": "av", "公告送达": "av",
}
DEFAULT_CATEGORIES: tuple[str, ...] = ("行政处罚", "行政强制", "行政检查", "行政许可", "行政征收", "其他")


@dataclass(frozen=True)
class CaseSettings:
    # unified registration number (统一登记编号); {unit} {year} {seq}; numbers run per unit and year
    number_format: str = "{unit}-{year}-{seq:06d}"
    steps: tuple[str, ...] = DEFAULT_STEPS
    categories: tuple[str, ...] = DEFAULT_CATEGORIES
    checklist: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CHECKLIST))
    gap_tolerance_s: float = 2.0  # a gap in full-process recording longer than this is flagged

    def requirement(self, step_kind: str) -> str:
        return self.checklist.get(step_kind, "text")


@dataclass(frozen=True)
class Settings:
    config_path: Path | None
    base_dir: Path
    archive: ArchiveSettings
    station: StationSettings
    s3: S3Settings
    workers: WorkerSettings = field(default_factory=WorkerSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    cases: CaseSettings = field(default_factory=CaseSettings)


def _env_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith("LIUHEN_") or "__" not in name:
            continue
        parts = [p.lower() for p in name[len("LIUHEN_"):].split("__")]
        node = raw
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"Environment variable {name} overrides a key that is not a section.",
                                  "Remove it or fix its name.")
        node[parts[-1]] = value


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    return str(v).strip().lower() in {"1", "true", "yes", "on"}


def _path(base: Path, v: Any) -> Path:
    p = Path(str(v)).expanduser()
    return p if p.is_absolute() else (base / p)


def _sqlite_relative(url: str, base: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        return prefix + str(base / url[len(prefix):])
    return url


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get("LIUHEN_CONFIG", "config.toml"))


def load(path: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read config.toml (or the given file) once and return frozen settings."""
    environ = os.environ if environ is None else environ
    cfg_path = Path(path) if path is not None else default_config_path(environ)
    raw: dict[str, Any] = {}
    if cfg_path.exists():
        try:
            raw = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"The config file {cfg_path} is not valid TOML: {e}.",
                              "Fix the line named above and run the command again.") from e
        base = cfg_path.resolve().parent
    elif path is not None:
        raise ConfigError(f"The config file {cfg_path} does not exist.",
                          "Pass --config with the path of an existing config.toml.")
    else:
        base = Path.cwd()
        cfg_path = None  # type: ignore[assignment]
    _env_overrides(raw, environ)

    a = raw.get("archive", {})
    archive = ArchiveSettings(
        database_url=_sqlite_relative(str(a.get("database_url", "sqlite:///var/liuhen.db")), base),
        store=str(a.get("store", "local")),
        store_path=_path(base, a.get("store_path", "var/originals")),
        upload_path=_path(base, a.get("upload_path", "var/uploads")),
        key_path=_path(base, a.get("key_path", "var/keys/archive.ed25519")),
        checkpoint_every_events=int(a.get("checkpoint_every_events", 100)),
        checkpoint_every_minutes=float(a.get("checkpoint_every_minutes", 10.0)),
    )
    if archive.store not in {"local", "s3"}:
        raise ConfigError(f"archive.store is {archive.store!r}; it must be \"local\" or \"s3\".",
                          "Fix archive.store in the config file.")

    s = raw.get("station", {})
    bays = {
        str(name): BaySettings(device=b.get("device"), officer=b.get("officer"))
        for name, b in (s.get("bays") or {}).items()
    }
    station = StationSettings(
        id=str(s.get("id", "station-1")),
        dock_root=_path(base, s.get("dock_root", "var/dock")),
        state_path=_path(base, s.get("state_path", "var/station")),
        archive_url=(s.get("archive_url") or None),
        token=(s.get("token") or None),
        stable_seconds=float(s.get("stable_seconds", 2.0)),
        poll_seconds=float(s.get("poll_seconds", 1.0)),
        delete_after_offload=_bool(s.get("delete_after_offload", False)),
        timezone=str(s.get("timezone", "Asia/Shanghai")),
        chunk_mb=int(s.get("chunk_mb", 4)),
        filename_pattern=str(s.get("filename_pattern", DEFAULT_PATTERN)),
        bays=bays,
        embedded=_bool(s.get("embedded", True)),
        read_limit_mb_s=float(s.get("read_limit_mb_s", 0.0)),
    )

    s3r = raw.get("s3", {})
    s3 = S3Settings(
        bucket=str(s3r.get("bucket", "liuhen-originals")),
        endpoint_url=(s3r.get("endpoint_url") or None),
        region=str(s3r.get("region", "us-east-1")),
        prefix=str(s3r.get("prefix", "")),
        access_key_id=(s3r.get("access_key_id") or environ.get("AWS_ACCESS_KEY_ID") or None),
        secret_access_key=(s3r.get("secret_access_key") or environ.get("AWS_SECRET_ACCESS_KEY") or None),
        multipart_threshold_mb=int(s3r.get("multipart_threshold_mb", 64)),
        multipart_chunk_mb=int(s3r.get("multipart_chunk_mb", 16)),
        object_lock_mode=str(s3r.get("object_lock_mode", "COMPLIANCE")),
        object_lock_days=int(s3r.get("object_lock_days", 0)),
    )
    w = raw.get("workers", {})
    workers = WorkerSettings(
        embedded=_bool(w.get("embedded", True)),
        threads=int(w.get("threads", 1)),
        lease_seconds=float(w.get("lease_seconds", 60.0)),
        poll_seconds=float(w.get("poll_seconds", 1.0)),
        encoder=str(w.get("encoder", "libx264")),
        proxy_max_height=int(w.get("proxy_max_height", 720)),
        remux_max_height=int(w.get("remux_max_height", 2160)),
    )
    au = raw.get("auth", {})
    auth = AuthSettings(
        idle_minutes=float(au.get("idle_minutes", 30.0)),
        lockout_attempts=int(au.get("lockout_attempts", 5)),
        lockout_minutes=float(au.get("lockout_minutes", 0.0)),
        session_cookie=str(au.get("session_cookie", "liuhen_session")),
    )
    if auth.idle_minutes <= 0 or auth.lockout_attempts < 1 or auth.lockout_minutes < 0:
        raise ConfigError(
            f"[auth] has idle_minutes={auth.idle_minutes}, lockout_attempts={auth.lockout_attempts}, "
            f"lockout_minutes={auth.lockout_minutes}; idle_minutes must be above 0, lockout_attempts at "
            "least 1 and lockout_minutes 0 or more.",
            "Fix the [auth] section of the config file.")
    cases = _cases(raw.get("cases", {}))
    return Settings(config_path=cfg_path, base_dir=base, archive=archive, station=station, s3=s3,
                    workers=workers, auth=auth, cases=cases)


def _cases(c: dict[str, Any]) -> CaseSettings:
    steps = tuple(str(x) for x in c.get("steps", DEFAULT_STEPS))
    checklist = {str(k): str(v) for k, v in (c.get("checklist") or DEFAULT_CHECKLIST).items()}
    bad = {k: v for k, v in checklist.items() if v not in ("full", "av", "text")}
    if bad:
        raise ConfigError(f"[cases.checklist] has {bad}; each step needs \"full\", \"av\" or \"text\".",
                          "Fix the checklist in the config file.")
    unknown = sorted(set(checklist) - set(steps))
    if unknown:
        raise ConfigError(f"[cases.checklist] names steps that are not in [cases] steps: {', '.join(unknown)}.",
                          "Add them to the step list or remove them from the checklist.")
    fmt = str(c.get("number_format", "{unit}-{year}-{seq:06d}"))
    try:
        fmt.format(unit="X", year=2026, seq=1)
    except (KeyError, IndexError, ValueError) as e:
        raise ConfigError(f"[cases] number_format {fmt!r} cannot be filled: {e}.",
                          "Use only {unit}, {year} and {seq} (e.g. {seq:06d}).") from e
    if any(f"{{{part}" not in fmt for part in ("unit", "year", "seq")):
        raise ConfigError(f"[cases] number_format {fmt!r} lacks {{unit}}, {{year}} or {{seq}}; numbers run per unit "
                          "and year, so without all three they would repeat.",
                          "Put {unit}, {year} and {seq} in the format, e.g. {unit}-{year}-{seq:06d}.")
    tol = float(c.get("gap_tolerance_s", 2.0))
    if tol < 0:
        raise ConfigError(f"[cases] gap_tolerance_s is {tol}; it must be 0 or more.", "Fix it in the config file.")
    return CaseSettings(number_format=fmt, steps=steps,
                        categories=tuple(str(x) for x in c.get("categories", DEFAULT_CATEGORIES)),
                        checklist=checklist, gap_tolerance_s=tol)
