"""The catalogue (重大执法决定法制审核目录清单): which intended decisions are major, and why.

A decision is major when a hand mark says so, or when any rule of ``[review] catalogue`` matches:
every condition the rule gives holds (case category, decision kind, amount at or above the
threshold of the handling unit's level, a hearing held). A hand mark "not major" overrides the
rules only for the case it was set on, with its reason on the record."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from hashing.custody import canonical
from liuhen.config import CatalogueRule, ReviewSettings
from liuhen.words import said
from review.errors import ReviewError

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Proposal:
    """A proposed (or changed, or recorded) decision."""

    decision_kind: str
    content: str
    legal_basis: str = ""
    discretion: str = ""
    amount_fen: int | None = None  # 罚没金额 in fen (分); None: no amount

    @property
    def sha256(self) -> str:
        return proposal_hash(self.decision_kind, self.content, self.amount_fen)


def proposal_hash(kind: str, content: str, amount_fen: int | None) -> str:
    """The hash a decision is compared by: its kind, its content without white space (Chinese text
    has no spaces between words, so re-typing line breaks or spacing is not a different decision),
    and its amount."""
    body = canonical({"kind": kind.strip(), "content": _SPACE.sub("", content), "amount_fen": amount_fen})
    return hashlib.sha256(body).hexdigest()


MAX_YUAN = Decimal(10) ** 15  # a thousand trillion yuan: above any fine, within a 64-bit count of fen


def parse_amount(text: str | None) -> int | None:
    """Yuan as typed (``12000``, ``1.2万``, ``12,000.50``) to fen; empty: None."""
    if text is None or not str(text).strip():
        return None
    t = str(text).strip().replace(",", "").replace("，", "").removesuffix("元")
    scale = Decimal(1)
    if t.endswith("万"):
        t, scale = t[:-1], Decimal(10000)
    try:
        value = Decimal(t) * scale
    except InvalidOperation as e:
        raise ReviewError(said(f"金额「{text}」不是数字", f"The amount {text!r} is not a number."),
                          said("请以元为单位填写金额，例如 12000 或 1.2万。", "Give the amount in yuan, e.g. 12000 or 1.2万.")) from e
    if not value.is_finite() or value > MAX_YUAN:  # (NaN, Infinity, 1e400: no amount, and no database holds it)
        raise ReviewError(said(f"金额「{text}」不是有效金额", f"The amount {text!r} is not a usable amount."),
                          said("请以元为单位填写金额，例如 12000 或 1.2万。", "Give the amount in yuan, e.g. 12000 or 1.2万."))
    if value < 0:
        raise ReviewError(said(f"金额「{text}」为负", f"The amount {text!r} is negative."), said("请填写 0 或以上的金额（元）。", "Give 0 or more yuan."))
    return int((value * 100).to_integral_value())


def yuan(fen: int | None) -> str:
    """Fen as yuan for people: 1200000 -> 12,000.00 元."""
    return "" if fen is None else f"{Decimal(fen) / 100:,.2f} 元"


@dataclass(frozen=True)
class Majority:
    major: bool
    reasons: tuple[str, ...]  # each in words, e.g. 目录：吊销许可证件、降低资质等级


def rule_matches(rule: CatalogueRule, *, category: str, level: str, decision_kind: str | None,
                 amount_fen: int | None, hearing: bool) -> bool:
    if rule.categories and category not in rule.categories:
        return False
    if rule.decision_kinds and decision_kind not in rule.decision_kinds:
        return False
    if rule.hearing is not None and rule.hearing != hearing:
        return False
    threshold = rule.min_amount_by_level.get(level, rule.min_amount) if rule.min_amount_by_level else rule.min_amount
    if rule.min_amount_by_level and level not in rule.min_amount_by_level and rule.min_amount is None:
        return False  # no threshold for this level
    if threshold is not None and (amount_fen is None or amount_fen < int(Decimal(str(threshold)) * 100)):
        return False
    return True


def judge(settings: ReviewSettings, *, category: str, unit_code: str, decision_kind: str | None,
          amount_fen: int | None, hearing: bool, mark: tuple[bool, str] | None = None) -> Majority:
    """Whether the intended decision is major, with every reason. ``mark`` is the latest hand mark
    (major?, reason), which wins over the rules."""
    if mark is not None:
        major, why = mark
        return Majority(major, (f"人工{'认定为' if major else '认定不属于'}重大执法决定：{why}",))
    level = settings.level_of(unit_code)
    reasons = tuple(f"目录：{r.label}" for r in settings.catalogue
                    if rule_matches(r, category=category, level=level, decision_kind=decision_kind,
                                    amount_fen=amount_fen, hearing=hearing))
    return Majority(bool(reasons), reasons)


LEVELS = {"province": "省级", "city": "市级", "county": "县级"}


def describe(settings: ReviewSettings) -> list[dict[str, object]]:
    """The catalogue as rows for people and ``--json``: each rule's label and conditions in words."""
    out: list[dict[str, object]] = []
    for r in settings.catalogue:
        conditions = []
        if r.categories:
            conditions.append("案件类别为 " + "、".join(r.categories))
        if r.decision_kinds:
            conditions.append("决定种类为 " + "、".join(r.decision_kinds))
        if r.min_amount is not None:
            conditions.append(f"金额不低于 {r.min_amount:,.0f} 元")
        if r.min_amount_by_level:
            conditions.append("金额不低于 " + "，".join(f"{LEVELS.get(k, k)} {v:,.0f} 元"
                                                  for k, v in r.min_amount_by_level.items()))
        if r.hearing is not None:
            conditions.append("经过听证" if r.hearing else "未经听证")
        out.append({"label": r.label, "conditions": conditions, "categories": list(r.categories),
                    "decision_kinds": list(r.decision_kinds), "min_amount": r.min_amount,
                    "min_amount_by_level": dict(r.min_amount_by_level), "hearing": r.hearing})
    return out
