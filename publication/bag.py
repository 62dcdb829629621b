"""The case bag's parts above cases (``liuhen export --case``, ``GET /api/v1/cases/{id}/export``, an
export job of a case): legal review's rounds (``review.export.bag_part``, ``data/case/review/``) and
the case's decision notices, in ``data/case/publication/``:

* ``notices.json``: every notice of the case in every state (draft, published, withdrawn,
  superseded), oldest first: its public number, the decision text record and version it was drafted
  from, the fields exactly as they are (or would be) public, where each mask stands and why, the
  deadline, who drafted, published and withdrew it and when, the withdrawal's reason, and
  ``html_sha256``: the SHA-256 of the public page as it was checked and published;
* ``notice-<public number>.html``: the public page of each published or withdrawn notice as it was
  published, rendered again, with ``page_sha256`` and ``same_as_published`` in ``notices.json`` (its
  SHA-256 equals ``html_sha256``; false only when the site's layout changed since: the text is the
  notice's, the frame today's), and ``notice-<public number>-withdrawn.html`` (``withdrawn_page``):
  a withdrawn notice's page as the public sees it now, marked withdrawn with the reason.

A notice's history (drafted, masked, published, refused, withdrawn, superseded) is in the case's
own custody events (``data/case/events.jsonl``): every one of them names the case."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.models import Case
from liuhen.config import Settings
from publication import service, site
from publication.models import FIELDS, Notice
from review.export import bag_part as review_part

FOLDER = "publication"


def _iso(t: Any) -> str | None:
    return t.isoformat() if t is not None else None


def notices_part(db: Session, case: Case, *, tz: str = "Asia/Shanghai") -> dict[str, bytes]:
    """The case's notices for its bag: path under ``data/case/`` -> bytes (nothing when it has none)."""
    rows = list(db.scalars(select(Notice).where(Notice.case_id == case.id).order_by(Notice.id)))
    if not rows:
        return {}
    out: dict[str, bytes] = {}
    docs: list[dict[str, Any]] = []
    for n in rows:
        doc: dict[str, Any] = {
            "public_no": n.public_no, "record_id": n.record_id, "record_version": n.record_version,
            "state": n.state, "category": n.category, "decision_kind": n.decision_kind,
            **{f: getattr(n, f) for f in FIELDS}, "agency": n.agency, "decided_on": _iso(n.decided_on),
            "days": n.days, "due_on": _iso(n.due_on), "masks": service.masks_of(n),
            "created_at": _iso(n.created_at), "created_by": n.created_by, "published_at": _iso(n.published_at),
            "published_by": n.published_by, "published_on": _iso(n.published_on), "html_sha256": n.html_sha256,
            "withdrawn_at": _iso(n.withdrawn_at), "withdrawn_by": n.withdrawn_by,
            "withdraw_reason": n.withdraw_reason}
        if n.state in service.PUBLIC_STATES:
            shown = service.public_of(n, tz)
            as_published = dataclasses.replace(shown, withdrawn_on=None, withdraw_reason=None)
            page = site.notice_page(as_published, site.live_links()).encode("utf-8")
            name = f"notice-{n.public_no}.html"
            out[f"{FOLDER}/{name}"] = page
            digest = hashlib.sha256(page).hexdigest()
            doc.update(page=f"data/case/{FOLDER}/{name}", page_sha256=digest,
                       same_as_published=digest == n.html_sha256)
            if shown.withdrawn:
                name = f"notice-{n.public_no}-withdrawn.html"
                out[f"{FOLDER}/{name}"] = site.notice_page(shown, site.live_links()).encode("utf-8")
                doc["withdrawn_page"] = f"data/case/{FOLDER}/{name}"
        docs.append(doc)
    out[f"{FOLDER}/notices.json"] = (json.dumps({"case": case.number, "notices": docs}, ensure_ascii=False,
                                                indent=2, sort_keys=True) + "\n").encode("utf-8")
    return out


def bag_part(settings: Settings) -> Callable[[Session, Case], dict[str, bytes]]:
    """Every part above cases of a case's bag: its legal review and its notices (dates in the site's
    ``[station] timezone``), for ``cases.export.prepare_case(..., extra=bag_part(settings))``."""
    tz = settings.station.timezone

    def part(db: Session, case: Case) -> dict[str, bytes]:
        return {**review_part(db, case), **notices_part(db, case, tz=tz)}

    return part


__all__ = ["bag_part", "notices_part"]
