"""Settings: declared once here, read from config.toml, overridden by the environment, passed down.

Each section of config.toml is a frozen class below whose fields carry their types and defaults;
nothing else repeats them. ``load`` reads the file (pydantic-settings' TOML source), lays the
``LIUHEN_<SECTION>__<KEY>`` environment variables over it (its environment source; nested
sections use more ``__``: ``LIUHEN_STATION__BAYS__BAY1__DEVICE``; a list or table is written as
JSON) and validates the result once. Relative paths, and a relative SQLite database, resolve
against the folder of the config file. A value that does not fit is a ``ConfigError`` naming the
key, the value, where it came from and what to do. Nothing here runs at import time.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from liuhen.errors import ConfigError
from liuhen.words import said

ENV_PREFIX = "LIUHEN_"
ENV_NESTING = "__"


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    """A relative path is relative to the config file's folder (``base_dir`` in the context of ``load``)."""
    value = value.expanduser()
    base = (info.context or {}).get("base_dir")
    return value if value.is_absolute() or base is None else base / value


def _resolve_sqlite(url: str, info: ValidationInfo) -> str:
    base = (info.context or {}).get("base_dir")
    prefix = "sqlite:///"
    if base is not None and url.startswith(prefix) and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        return prefix + str(base / url[len(prefix):])
    return url


# a path in config.toml: relative to the config file's folder
ConfigPath = Annotated[Path, AfterValidator(_resolve_path)]
def _resolve_optional(value: Path | None, info: ValidationInfo) -> Path | None:
    return None if value is None else _resolve_path(value, info)


# an optional path: an empty string means none
OptionalPath = Annotated[Path | None, BeforeValidator(lambda v: v or None), AfterValidator(_resolve_optional)]
# a database URL: sqlite:///relative.db is relative to the config file's folder
DatabaseUrl = Annotated[str, AfterValidator(_resolve_sqlite)]
# an optional text: an empty string (``token = ""``) means none
OptionalText = Annotated[str | None, BeforeValidator(lambda v: v or None)]

# Every section: defaults are validated too (so a default path resolves like a configured one), a
# section built as a default is validated again under load's context, a number is accepted where
# text is expected (``id = 7``), and unknown keys are ignored.
_SECTION = ConfigDict(validate_default=True, revalidate_instances="always", coerce_numbers_to_str=True,
                      extra="ignore")

DEFAULT_PATTERN = (
    r"^(?P<device>[A-Za-z0-9-]+)_(?P<officer>[A-Za-z0-9-]+)_(?P<start>\d{14})_(?P<seq>\d+)"
    r"\.(?i:mp4|mov|avi|mkv|wav|mp3|jpg|jpeg)$"
)


@dataclass(frozen=True, config=_SECTION)
class S3Settings:
    bucket: str = "liuhen-originals"
    endpoint_url: OptionalText = None
    region: str = "us-east-1"
    prefix: str = ""
    access_key_id: OptionalText = None  # unset: $AWS_ACCESS_KEY_ID
    secret_access_key: OptionalText = None  # unset: $AWS_SECRET_ACCESS_KEY
    multipart_threshold_mb: int = 64
    multipart_chunk_mb: int = 16
    object_lock_mode: str = "COMPLIANCE"
    object_lock_days: int = 0


@dataclass(frozen=True, config=_SECTION)
class ArchiveSettings:
    database_url: DatabaseUrl = "sqlite:///var/liuhen.db"
    store: Literal["local", "s3"] = "local"
    store_path: ConfigPath = Path("var/originals")
    upload_path: ConfigPath = Path("var/uploads")
    key_path: ConfigPath = Path("var/keys/archive.ed25519")
    # AES-256-GCM key that encrypts parties' personal data in the database (created 0600 on first run);
    # keep it off the database's disk and in the backups apart from the database
    data_key_path: ConfigPath = Path("var/keys/data.aes")
    checkpoint_every_events: int = 100
    checkpoint_every_minutes: float = 10.0


@dataclass(frozen=True, config=_SECTION)
class AnchorSettings:
    """Where every signed custody checkpoint is also written, outside the database (none by default)."""

    witness_dir: OptionalPath = None  # a folder on another disk: one new 0400 file per checkpoint
    s3_bucket: OptionalText = None  # a bucket with Object Lock (endpoint, region and keys from [s3])
    s3_prefix: str = "checkpoints/"
    s3_lock_mode: Literal["COMPLIANCE", "GOVERNANCE"] = "COMPLIANCE"
    s3_lock_days: int = Field(default=3650, ge=1)
    tsa_url: OptionalText = None  # an RFC 3161 time-stamping authority; its tokens are kept in the database
    tsa_ca_file: OptionalPath = None  # the TSA's CA certificate(s): each token is checked with openssl ts -verify


@dataclass(frozen=True, config=_SECTION)
class BaySettings:
    device: str | None = None
    officer: str | None = None


@dataclass(frozen=True, config=_SECTION)
class StationSettings:
    id: str = "station-1"
    dock_root: ConfigPath = Path("var/dock")
    state_path: ConfigPath = Path("var/station")
    archive_url: OptionalText = None
    token: OptionalText = None
    stable_seconds: float = 2.0
    poll_seconds: float = 1.0
    delete_after_offload: bool = False
    timezone: str = "Asia/Shanghai"
    chunk_mb: int = 4
    filename_pattern: str = DEFAULT_PATTERN
    bays: dict[str, BaySettings] = Field(default_factory=dict)
    # `liuhen serve` also runs this station on dock_root (embedded default; no effect with archive_url)
    embedded: bool = True
    # read recorders at most this fast (MB/s); 0: as fast as they deliver
    read_limit_mb_s: float = 0.0
    # files copied and hashed at once (each its own pipeline); 0: one per core (1 with read_limit_mb_s)
    parallel: int = Field(default=0, ge=0)

    @property
    def staging_path(self) -> Path:
        return self.state_path / "staging"


@dataclass(frozen=True, config=_SECTION)
class WorkerSettings:
    embedded: bool = True  # run media workers as threads inside liuhen's own process
    threads: int = 1
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    encoder: str = "libx264"  # or h264_nvenc where a GPU is present
    proxy_max_height: int = 720  # the height of a transcoded proxy
    remux_max_height: int = 2160  # a browser-safe source up to this height is remuxed, not re-encoded


@dataclass(frozen=True, config=_SECTION)
class FixitySettings:
    period_days: float = Field(default=30.0, gt=0)  # every stored object is re-hashed at least this often
    embedded: bool = True  # `liuhen serve` and `liuhen worker` run the audit on a schedule
    interval_minutes: float = Field(default=60.0, gt=0)  # how often the scheduler looks for objects due
    threads: int = Field(default=0, ge=0)  # hashing threads; 0: one per core
    lease_seconds: float = Field(default=600.0, gt=0)  # an audit's claim on the objects it is hashing


@dataclass(frozen=True, config=_SECTION)
class AuthSettings:
    idle_minutes: float = Field(default=30.0, gt=0)  # a console session idle this long is ended
    session_max_hours: float = Field(default=12.0, gt=0)  # a console session ends this long after sign-in
    token_max_days: float = Field(default=90.0, gt=0)  # an API token stops working this long after it was issued
    # failed logins for one user name (known or not) before each further one waits, doubling from
    # throttle_base_s up to throttle_max_s; a good login clears it; never a permanent lock
    account_free_attempts: int = Field(default=5, ge=1)
    address_free_attempts: int = Field(default=20, ge=1)  # the same, per client address
    throttle_base_s: float = Field(default=2.0, gt=0)
    throttle_max_s: float = Field(default=900.0, gt=0)
    throttle_forget_minutes: float = Field(default=60.0, gt=0)  # failures older than this are forgotten
    # password checks (argon2) at once; 0: one fewer than the cores, so signed-in users keep one
    login_workers: int = Field(default=0, ge=0)
    login_wait_s: float = Field(default=2.0, gt=0)  # a login waiting longer for a worker is refused as busy
    refusal_delay_s: float = Field(default=1.0, ge=0)  # a refused sign-in on the console answers no sooner
    min_password: int = Field(default=10, ge=8)  # password length; administrators: min_password_admin
    min_password_admin: int = Field(default=12, ge=8)
    session_cookie: str = "liuhen_session"


@dataclass(frozen=True, config=_SECTION)
class WebSettings:
    # request bodies above these sizes are refused (413) before they are read
    max_body_kb: int = Field(default=1024, ge=1)  # every JSON request and form
    max_record_mb: int = Field(default=200, ge=1)  # a text-record upload (and a filled form)
    max_chunk_mb: int = Field(default=16, ge=1)  # one intake chunk: at least every station's [station] chunk_mb
    link_seconds: float = Field(default=60.0, gt=0)  # a download link works once, for this long


@dataclass(frozen=True, config=_SECTION)
class ExportSettings:
    # exports of several recordings or of a case are made by a job into this folder, and each zip is
    # removed keep_hours after it was made (a single recording's export is streamed, never kept)
    path: ConfigPath = Path("var/exports")
    keep_hours: float = Field(default=24.0, gt=0)


@dataclass(frozen=True, config=_SECTION)
class RedactionSettings:
    """Privacy redaction (``redaction``): how boxes are hidden, how the detector samples, the jobs' limits."""

    pad: float = Field(default=0.2, ge=0, le=1)  # every box grown by this fraction of its size on each side
    cells: int = Field(default=8, ge=2, le=64)  # mosaic cells across a hidden box (fewer: coarser)
    encoder: str = "libx264"  # or h264_nvenc where a GPU is present (never replaced silently)
    sample_every: int = Field(default=5, ge=1, le=60)  # the detector looks at every Nth frame; the plan records
    # the interval (detector.hold_s) and every render holds a detected box that long past its last sample
    threshold: float = Field(default=0.2, gt=0, lt=1)  # the detector's score threshold (recall first)
    cpu_seconds: int = Field(default=0, ge=0)  # a render's CPU limit per ffmpeg; 0: none
    memory_mb: int = Field(default=2048, ge=0)  # a render's memory limit per ffmpeg (libx264); 0: none
    timeout_seconds: float = Field(default=0, ge=0)  # a render's wall-clock limit; 0: 120 s + 4 x duration


# The enforcement steps (执法环节) and what the AV checklist (音像记录事项清单) asks of each:
# "full" = the whole act on audio/video (全程音像记录), "av" = audio/video required, "text" = text
# records suffice. From the seed plans; every agency configures its own in [cases].
DEFAULT_STEPS: tuple[str, ...] = (
    "立案", "调查", "取证", "现场检查", "询问", "证据保全", "查封扣押", "强制拆除", "听证", "审查", "法制审核",
    "决定", "直接送达", "留置送达", "公告送达", "执行", "结案", "归档")
Requirement = Literal["full", "av", "text"]
DEFAULT_CHECKLIST: Mapping[str, Requirement] = {
    "查封扣押": "full", "强制拆除": "full", "询问": "full",
    "现场检查": "av", "取证": "av", "证据保全": "av", "听证": "av", "执行": "av", "留置送达": "av", "公告送达": "av",
}
DEFAULT_CATEGORIES: tuple[str, ...] = ("行政处罚", "行政强制", "行政检查", "行政许可", "行政征收", "其他")


@dataclass(frozen=True, config=_SECTION)
class CaseSettings:
    # unified registration number (统一登记编号); {unit} {year} {seq}; numbers run per unit and year
    number_format: str = "{unit}-{year}-{seq:06d}"
    steps: tuple[str, ...] = DEFAULT_STEPS
    categories: tuple[str, ...] = DEFAULT_CATEGORIES
    checklist: dict[str, Requirement] = Field(default_factory=lambda: dict(DEFAULT_CHECKLIST))
    gap_tolerance_s: float = Field(default=2.0, ge=0)  # a gap in full-process recording longer than this is flagged

    def requirement(self, step_kind: str) -> str:
        return self.checklist.get(step_kind, "text")

    @field_validator("number_format")
    @classmethod
    def _fillable(cls, fmt: str) -> str:
        try:
            fmt.format(unit="X", year=2026, seq=1)
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"it cannot be filled ({e}); use only {{unit}}, {{year}} and {{seq}} "
                             "(e.g. {seq:06d})") from e
        if any(f"{{{part}" not in fmt for part in ("unit", "year", "seq")):
            raise ValueError("it lacks {unit}, {year} or {seq}; numbers run per unit and year, so without all "
                             "three they would repeat. Put all three in it, e.g. {unit}-{year}-{seq:06d}")
        return fmt

    @field_validator("checklist")
    @classmethod
    def _known_steps(cls, checklist: dict[str, Requirement], info: ValidationInfo) -> dict[str, Requirement]:
        unknown = sorted(set(checklist) - set(info.data.get("steps", checklist)))
        if unknown:
            raise ValueError(f"it names steps that are not in [cases] steps: {', '.join(unknown)}. Add them to the "
                             "step list or remove them from the checklist")
        return checklist


# Retention (保存期限). Where each default comes from:
# - 未分类 180 days: 《公安机关现场执法视音频记录工作规定》 keeps on-site footage not used as evidence at
#   least six months; the seed plans (002) tie the rest to the law and to the limitation periods below.
# - 重点标记 and 涉案 (after the case is closed) 1,826 days (five years): 《行政诉讼法》 art. 46 — no suit
#   is heard more than five years after the act (twenty for real property: give such categories
#   permanent or a longer class in [retention.case_categories]).
# - 永久: kept without end (e.g. footage an agency must archive permanently).
@dataclass(frozen=True, config=_SECTION)
class RetentionClass:
    label: str  # shown to users, e.g. 未分类
    days: int | None = Field(default=None, ge=1)  # kept this many days (from recording; a case class: from closing)
    permanent: bool = False

    @model_validator(mode="after")
    def _one_rule(self) -> RetentionClass:
        if self.permanent == (self.days is not None):
            raise ValueError("give a class either days = N or permanent = true (exactly one of them)")
        return self


DEFAULT_RETENTION_CLASSES: Mapping[str, RetentionClass] = {
    "unclassified": RetentionClass(label="未分类", days=180),
    "important": RetentionClass(label="重点标记", days=1826),
    "case": RetentionClass(label="涉案", days=1826),
    "permanent": RetentionClass(label="永久", permanent=True),
}


@dataclass(frozen=True, config=_SECTION)
class RetentionSettings:
    classes: dict[str, RetentionClass] = Field(default_factory=lambda: dict(DEFAULT_RETENTION_CLASSES))
    default_class: str = "unclassified"  # footage nobody classified
    important_class: str = "important"  # what the important mark (重点标记) keeps it for
    case_class: str = "case"  # linked to a case of a category not named in case_categories: kept while the case is
    #                           open, then this class's days from closing
    case_categories: dict[str, str] = Field(default_factory=dict)  # case category -> class (days from closing)
    grace_days: int = Field(default=30, ge=0)  # pending disposal this long, restorable, before bytes go
    require_approval: bool = True  # a second person approves each destruction (never the one who scheduled it)
    embedded: bool = True  # `liuhen serve` runs the disposal run itself
    interval_hours: float = Field(default=24.0, gt=0)  # how often it does

    def cls(self, name: str) -> RetentionClass:
        return self.classes[name]

    def class_of_category(self, category: str) -> str:
        return self.case_categories.get(category, self.case_class)

    @model_validator(mode="after")
    def _known_classes(self) -> RetentionSettings:
        named = {"default_class": self.default_class, "important_class": self.important_class,
                 "case_class": self.case_class}
        named.update({f"case_categories.{k}": v for k, v in self.case_categories.items()})
        unknown = {where: v for where, v in named.items() if v not in self.classes}
        if unknown:
            raise ValueError("it names retention classes that are not defined: " + ", ".join(
                f"{where} = {v!r}" for where, v in sorted(unknown.items())) + ". Define them under "
                "[retention.classes.<name>] (label and days or permanent) or use one of: " + ", ".join(
                sorted(self.classes)))
        return self


# Legal review of major decisions (重大执法决定法制审核). Defaults from the seed plans (000–004): the
# ten elements of the review checklist (法制审核要素清单), the outcomes, a catalogue of what makes a
# decision major (重大执法决定法制审核目录清单), deadlines in statutory working days.
DEFAULT_ELEMENTS: tuple[str, ...] = (
    "主体合法", "执法资格", "事实清楚", "证据确凿充分合法", "适用法律准确", "裁量基准适当", "程序合法",
    "未超越/滥用职权", "文书规范齐备", "涉嫌犯罪移送")
DEFAULT_DECISION_KINDS: tuple[str, ...] = (
    "警告", "通报批评", "罚款", "较大数额罚款", "没收违法所得", "没收非法财物", "暂扣许可证", "降低资质等级",
    "吊销许可证", "责令停产停业", "责令关闭", "限制从业", "行政拘留", "不予行政处罚", "行政强制", "行政许可", "其他")
OUTCOMES: tuple[str, ...] = ("同意", "变更", "纠正", "补充材料", "移送司法机关", "不同意")
PASSING_OUTCOMES: tuple[str, ...] = ("同意", "变更")


@dataclass(frozen=True, config=_SECTION)
class CatalogueRule:
    """One entry of the catalogue: a decision is major when every condition the rule gives holds
    (a rule that gives none is refused)."""

    label: str  # shown to users: why the case is major, e.g. 较大数额罚款（县级 1 万元以上）
    categories: tuple[str, ...] = ()  # case categories ([cases] categories); empty: any
    decision_kinds: tuple[str, ...] = ()  # decision kinds ([review] decision_kinds); empty: any
    min_amount: float | None = Field(default=None, ge=0)  # yuan, at every unit level
    min_amount_by_level: dict[str, float] = Field(default_factory=dict)  # yuan, by unit level ([review] unit_levels)
    hearing: bool | None = None  # true: only when a hearing (听证 step) was held

    @model_validator(mode="after")
    def _some_condition(self) -> CatalogueRule:
        if not (self.categories or self.decision_kinds or self.min_amount is not None or self.min_amount_by_level
                or self.hearing is not None):
            raise ValueError(f"the catalogue rule {self.label!r} gives no condition, so it would make every decision "
                             "major; give categories, decision_kinds, min_amount, min_amount_by_level or hearing")
        return self


DEFAULT_CATALOGUE: tuple[CatalogueRule, ...] = (
    CatalogueRule(label="责令停产停业、责令关闭、限制从业", decision_kinds=("责令停产停业", "责令关闭", "限制从业")),
    CatalogueRule(label="吊销许可证件、降低资质等级", decision_kinds=("吊销许可证", "降低资质等级")),
    CatalogueRule(label="较大数额罚款、没收（省级 20 万元、市级 5 万元、县级 1 万元以上）",
                  decision_kinds=("罚款", "较大数额罚款", "没收违法所得", "没收非法财物"),
                  min_amount_by_level={"province": 200000, "city": 50000, "county": 10000}),
    CatalogueRule(label="经过听证程序作出的决定", hearing=True),
    CatalogueRule(label="行政拘留", decision_kinds=("行政拘留",)),
)


@dataclass(frozen=True, config=_SECTION)
class HolidayYear:
    """A year's official holidays and adjusted working days (调休), for a year the ``chinesecalendar``
    package does not cover yet: from the State Council's notice (国务院办公厅关于…部分节假日安排的通知)."""

    off: tuple[dt.date, ...] = ()  # days off that would be working days (holidays on weekdays)
    work: tuple[dt.date, ...] = ()  # weekend days that are working days (调休上班)


Prefill = Literal["certificates", "procedure", "documents"]
DEFAULT_PREFILL: Mapping[str, Prefill] = {"执法资格": "certificates", "程序合法": "procedure", "文书规范齐备": "documents"}
DEFAULT_REQUIRED_STEPS: Mapping[str, tuple[str, ...]] = {
    "default": ("立案", "调查"), "吊销许可证": ("立案", "调查", "听证"), "责令停产停业": ("立案", "调查", "听证"),
    "较大数额罚款": ("立案", "调查", "听证")}

DEFAULT_REQUIRED_DOCUMENTS: Mapping[str, tuple[str, ...]] = {
    "default": ("立案审批表", "询问笔录"), "行政强制": ("立案审批表", "查封扣押决定书")}


@dataclass(frozen=True, config=_SECTION)
class ReviewSettings:
    # statutory working days the reviewer has, by decision kind; "default" for the rest
    days: dict[str, int] = Field(default_factory=lambda: {"default": 5, "责令停产停业": 10, "吊销许可证": 10,
                                                          "责令关闭": 10})
    catalogue: tuple[CatalogueRule, ...] = DEFAULT_CATALOGUE
    decision_kinds: tuple[str, ...] = DEFAULT_DECISION_KINDS
    elements: tuple[str, ...] = DEFAULT_ELEMENTS  # the checklist, answered item by item
    # what liuhen pre-fills itself: element -> check ("certificates" | "procedure" | "documents")
    prefill: dict[str, Prefill] = Field(default_factory=lambda: dict(DEFAULT_PREFILL))
    # the steps a decision needs before it, in this order, by decision kind ("default" for the rest)
    required_steps: dict[str, tuple[str, ...]] = Field(default_factory=lambda: dict(DEFAULT_REQUIRED_STEPS))
    # the text records (执法文书 kinds) a decision needs, by decision kind ("default" for the rest)
    required_documents: dict[str, tuple[str, ...]] = Field(default_factory=lambda: dict(DEFAULT_REQUIRED_DOCUMENTS))
    decision_steps: tuple[str, ...] = ("决定",)  # steps that record a decision: gated on a major case
    decision_records: tuple[str, ...] = ("决定书", "行政处罚决定书")  # text-record kinds that are decisions: gated
    penalty_categories: tuple[str, ...] = ("行政处罚",)  # reviewing these needs 法律职业资格 the first time
    unit_levels: dict[str, Literal["province", "city", "county"]] = Field(default_factory=dict)  # unit code -> level
    # whose queue a unit's submissions go to: handling unit code -> reviewing unit code (法制机构); default: its own
    reviewer_units: dict[str, str] = Field(default_factory=dict)
    require_qualification: bool = True  # a first-time reviewer of penalty decisions needs 法律职业资格
    default_level: Literal["province", "city", "county"] = "county"
    holidays: dict[int, HolidayYear] = Field(default_factory=dict)  # years chinesecalendar does not cover yet
    font: OptionalPath = None  # a CJK TrueType/OpenType font for the opinion PDF; None: found on the system

    def days_for(self, decision_kind: str) -> int:
        return self.days.get(decision_kind, self.days["default"])

    def steps_for(self, decision_kind: str) -> tuple[str, ...]:
        return self.required_steps.get(decision_kind, self.required_steps.get("default", ()))

    def documents_for(self, decision_kind: str) -> tuple[str, ...]:
        return self.required_documents.get(decision_kind, self.required_documents.get("default", ()))

    def level_of(self, unit_code: str) -> str:
        return self.unit_levels.get(unit_code, self.default_level)

    @model_validator(mode="after")
    def _consistent(self) -> ReviewSettings:
        problems = []
        if "default" not in self.days:
            problems.append('[review.days] lacks "default" (the working days for every other decision kind)')
        problems += [f"[review.days] {k} = {v}: give 1 or more working days" for k, v in self.days.items() if v < 1]
        kinds = set(self.decision_kinds) | {"default"}
        for where, table in (("days", self.days), ("required_steps", self.required_steps),
                             ("required_documents", self.required_documents)):
            problems += [f"[review.{where}] names {k!r}, which is not in [review] decision_kinds"
                         for k in table if k not in kinds]
        for rule in self.catalogue:
            problems += [f"the catalogue rule {rule.label!r} names decision kind {k!r}, which is not in [review] "
                         "decision_kinds" for k in rule.decision_kinds if k not in kinds]
        problems += [f"[review.prefill] names {k!r}, which is not in [review] elements" for k in self.prefill
                     if k not in self.elements]
        if len(set(self.elements)) != len(self.elements):
            problems.append("[review] elements names an element twice")
        for year, listed in self.holidays.items():
            problems += [f"[review.holidays.{year}] {where} lists {d.isoformat()}, which is not in {year}"
                         for where, dates in (("off", listed.off), ("work", listed.work)) for d in dates if d.year != year]
            problems += [f"[review.holidays.{year}] lists {d.isoformat()} both as off and as work"
                         for d in sorted(set(listed.off) & set(listed.work))]
        if problems:
            raise ValueError("; ".join(problems))
        return self


# Publication (行政执法公示): decisions published within statutory working days from the day they are
# made (000, 001: licensing and penalty 7, others 20; 002: coercion and levies 7 as well). The deadline
# of a decision is looked up by its decision kind, then by its case's category, then "default".
DEFAULT_PUBLICATION_DEADLINES: Mapping[str, int] = {
    "行政处罚": 7, "行政许可": 7, "行政强制": 7, "行政征收": 7, "default": 20}


@dataclass(frozen=True, config=_SECTION)
class PublicationSettings:
    # statutory working days from the decision to its public notice: decision kind or case category -> days
    deadlines: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_PUBLICATION_DEADLINES))
    person_name: Literal["surname", "star", "full"] = "surname"  # a natural person's name: 张某 | 张* | as written
    page_size: int = Field(default=20, ge=1, le=200)  # notices per public page
    cache_seconds: int = Field(default=60, ge=0)  # Cache-Control max-age of the public pages
    rate_per_minute: int = Field(default=120, ge=1)  # public requests one client may make a minute

    def days_for(self, decision_kind: str | None, category: str | None) -> int:
        for k in (decision_kind, category):
            if k and k in self.deadlines:
                return self.deadlines[k]
        return self.deadlines["default"]

    @model_validator(mode="after")
    def _consistent(self) -> PublicationSettings:
        problems = []
        if "default" not in self.deadlines:
            problems.append('[publication] deadlines lacks "default" (the working days of every other decision)')
        problems += [f"[publication] deadlines {k} = {v}: give 1 or more working days"
                     for k, v in self.deadlines.items() if v < 1]
        if problems:
            raise ValueError("; ".join(problems))
        return self


@dataclass(frozen=True, config=ConfigDict(validate_default=True, extra="ignore"))
class Settings:
    """Everything liuhen is configured with; ``load`` makes one."""

    config_path: Path | None = None  # None: no config file, only defaults and the environment
    base_dir: Path = Field(default_factory=Path.cwd)  # relative paths resolve against this folder
    archive: ArchiveSettings = ArchiveSettings()
    station: StationSettings = StationSettings()
    s3: S3Settings = S3Settings()
    anchors: AnchorSettings = AnchorSettings()
    workers: WorkerSettings = WorkerSettings()
    auth: AuthSettings = AuthSettings()
    fixity: FixitySettings = FixitySettings()
    cases: CaseSettings = CaseSettings()
    web: WebSettings = WebSettings()
    exports: ExportSettings = ExportSettings()
    retention: RetentionSettings = RetentionSettings()
    review: ReviewSettings = ReviewSettings()
    publication: PublicationSettings = PublicationSettings()
    redaction: RedactionSettings = RedactionSettings()

    @model_validator(mode="after")
    def _known_case_categories(self) -> Settings:
        unknown = sorted(set(self.retention.case_categories) - set(self.cases.categories))
        if unknown:
            raise ValueError("[retention.case_categories] names case categories that are not in [cases] categories: "
                             + ", ".join(unknown) + ". Use one of: " + "、".join(self.cases.categories))
        steps = set(self.cases.steps)
        review = self.review
        bad = sorted({c for r in review.catalogue for c in r.categories} - set(self.cases.categories)) + sorted(
            set(review.penalty_categories) - set(self.cases.categories))
        if bad:
            raise ValueError("[review] names case categories that are not in [cases] categories: " + ", ".join(bad)
                             + ". Use one of: " + "、".join(self.cases.categories))
        bad = sorted({s for seq in review.required_steps.values() for s in seq} | set(review.decision_steps))
        bad = [s for s in bad if s not in steps]
        if bad:
            raise ValueError("[review] names steps that are not in [cases] steps: " + ", ".join(bad)
                             + ". Use one of: " + "、".join(self.cases.steps))
        return self


class _SourceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_NESTING, case_sensitive=False)


# ``Settings`` as pydantic-settings' sources read them (a BaseSettings with the same fields). Settings
# itself is validated apart from them, with load's folder in the context of validation; a BaseSettings
# validates through its own __init__, which passes no context on.
_FIELDS: dict[str, Any] = {n: (f.annotation, f) for n, f in Settings.__pydantic_fields__.items()}  # type: ignore[attr-defined]
_Sources = create_model("_Sources", __base__=_SourceSettings, **_FIELDS)


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over a given environment (``load``'s ``environ``), not
    necessarily ``os.environ``."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = _overrides(environ)
        super().__init__(_Sources)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value for name, value in self.environ.items()}


def _overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """The LIUHEN_<SECTION>__<KEY> variables; names without ``__`` (``LIUHEN_CONFIG``) are not settings."""
    return {name: value for name, value in environ.items()
            if name.startswith(ENV_PREFIX) and ENV_NESTING in name[len(ENV_PREFIX):]}


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get("LIUHEN_CONFIG", "config.toml"))


def load(path: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read config.toml (or the given file) once and return frozen settings."""
    environ = os.environ if environ is None else environ
    cfg_path: Path | None = Path(path) if path is not None else default_config_path(environ)
    if cfg_path is not None and cfg_path.exists():
        try:
            from_file = TomlConfigSettingsSource(_Sources, toml_file=cfg_path)()
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(said(f"配置文件 {cfg_path} 不是有效的 TOML：{e}", f"The config file {cfg_path} is not valid TOML: {e}."),
                              said("请修正上面指出的那一行，然后重新运行命令。", "Fix the line named above and run the command again.")) from e
        base = cfg_path.resolve().parent
    elif path is not None:
        raise ConfigError(said(f"配置文件 {cfg_path} 不存在", f"The config file {cfg_path} does not exist."),
                          said("请用 --config 指定一个已有 config.toml 的路径。", "Pass --config with the path of an existing config.toml."))
    else:
        from_file, base, cfg_path = {}, Path.cwd(), None

    from_env = _from_environment(environ)
    values = _aws_credentials(_laid_over(from_file, from_env), environ)
    try:
        return TypeAdapter(Settings).validate_python({**values, "config_path": cfg_path, "base_dir": base},
                                                     context={"base_dir": base})
    except ValidationError as e:
        raise _config_error(e, cfg_path, from_file, environ) from e


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    try:
        return _Environment(environ)()
    except ValueError as e:  # pydantic-settings' SettingsError: a list or table that is not JSON
        bad = [name for name, value in sorted(_overrides(environ).items()) if not _readable({name: value})]
        raise ConfigError(said(f"无法读取环境变量 {', '.join(bad) or 'LIUHEN_…'}：{e.__cause__ or e}", f"The environment variable {', '.join(bad) or 'LIUHEN_…'} could not be read: "
                               f"{e.__cause__ or e}."),
                          said("环境变量中的列表或表格用 JSON 书写（例如 LIUHEN_CASES__STEPS='[\"立案\", \"结案\"]'）；请修正或取消该变量。", "A list or table in an environment variable is written as JSON (e.g. "
                               "LIUHEN_CASES__STEPS='[\"立案\", \"结案\"]'); fix the variable or unset it.")) from e


def _readable(environ: Mapping[str, str]) -> bool:
    try:
        _Environment(environ)()
    except ValueError:
        return False
    return True


def _laid_over(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    """``high`` over ``low``, table by table (an environment variable replaces one key, not its section)."""
    out = dict(low)
    for key, value in high.items():
        below = out.get(key)
        out[key] = _laid_over(below, value) if isinstance(value, dict) and isinstance(below, dict) else value
    return out


def _aws_credentials(values: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """S3 keys not set in [s3] (or LIUHEN_S3__…) come from the usual AWS variables."""
    s3 = values.get("s3", {})
    if not isinstance(s3, dict):
        return values
    s3 = dict(s3)
    for key, var in (("access_key_id", "AWS_ACCESS_KEY_ID"), ("secret_access_key", "AWS_SECRET_ACCESS_KEY")):
        s3[key] = s3.get(key) or environ.get(var) or None
    return {**values, "s3": s3}


def _config_error(e: ValidationError, cfg_path: Path | None, from_file: dict[str, Any],
                  environ: Mapping[str, str]) -> ConfigError:
    """One sentence per value that does not fit: which key, which value, where it came from, what is wrong;
    then what to do about each."""
    problems: list[str] = []
    fixes: dict[str, list[str]] = {}  # what to do ({keys}: the keys it applies to) -> those keys
    for err in e.errors(include_url=False):
        names = [str(part) for part in err["loc"] if not isinstance(part, int)]
        if not names:  # a check across sections (its message names the keys)
            problems.append(err["msg"].removeprefix("Value error, ") + ".")
            fixes.setdefault(f"fix them in {cfg_path or 'a config file (--config)'}", [])
            continue
        where = f"[{names[0]}] {'.'.join(names[1:])}".rstrip()
        var = ENV_PREFIX + ENV_NESTING.join(names).upper()
        from_env = sorted(n for n in _overrides(environ) if n.upper() == var or n.upper().startswith(var + ENV_NESTING))
        if from_env:
            origin, fix = f"the environment variable {', '.join(from_env)}", f"fix or unset {', '.join(from_env)}"
        elif _holds(from_file, names):
            origin, fix = f"the config file {cfg_path}", f"fix {{keys}} in {cfg_path}"
        else:  # a default that does not fit a configured value (the checklist's steps, say)
            origin, fix = "the defaults", f"set {{keys}} in {cfg_path or 'a config file (--config)'}"
        why = err["msg"].removeprefix("Value error, ")
        if err["type"] in ("dataclass_type", "model_type", "dict_type"):
            why = "it must be a table of keys, not a single value"
        problems.append(f"{where} is {err['input']!r} in {origin}: {why}.")
        fixes.setdefault(fix, []).append(where)
    todo = "; ".join(fix.replace("{keys}", " and ".join(keys)) for fix, keys in fixes.items())
    return ConfigError(" ".join(problems), todo[:1].upper() + todo[1:] + ".")


def _holds(table: Any, names: list[str]) -> bool:
    for name in names:
        if not isinstance(table, dict) or name not in table:
            return False
        table = table[name]
    return True
