"""``/api/v1/me``: who is signed in, and what they may do."""

from __future__ import annotations

from fastapi import APIRouter

from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, Me
from auth import policy
from auth.models import Unit

router = APIRouter(responses={**ERRORS}, dependencies=[StrictQuery])


@router.get("/me", response_model=Me, tags=["accounts"], summary="Who is signed in, and what they may do")
def me(archive: ArchiveDep, p: CurrentUser) -> Me:
    with archive.reads() as db:
        unit = db.get(Unit, p.unit_id)
        assert unit is not None
        return Me(username=p.username, display_name=p.display_name, role=p.role,
                  role_label=policy.ROLE_LABELS.get(p.role, p.role), unit_id=unit.id, unit_code=unit.code,
                  unit_name=unit.name, permissions=sorted(policy.PERMISSIONS.get(p.role, frozenset())),
                  csrf_token=p.csrf_token)
