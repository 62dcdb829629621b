"""After a disposal the evidence is a tombstone: its record answers, its bytes are said to be destroyed
(when, by which disposal) — never "missing, restore from backup" — on the API, the CLI and in a case
bag; and on an S3 store with versioning, every version goes. Real archive (SQLite, PostgreSQL; moto's
S3 server as its own process), real files through the real station, the real app over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from starlette.testclient import TestClient

from app.web import create_app
from auth import service as accounts
from cases.models import Case
from cases.service import close_case
from liuhen.db import utcnow
from tests.retention_world import ACTOR, OTHER, UNIT, RWorld, _open_world
from tests.s3fixture import S3Server, s3_server  # noqa: F401
from tests.test_disposal import DAY, LATER, approve, destroy, sched

PASSWORD = "一个足够长的测试口令-tombstone"


def _destroyed_in_closed_case(w: RWorld, recorded: str) -> tuple[int, int]:
    """A recording linked to a case that is then closed, destroyed after the case's years: (evidence, case)."""
    (x,) = w.fresh(1, recorded=recorded)
    case_id = w.case(link=[x], title="已结案 销毁后导出")
    with w.archive.sessions.begin() as db:
        case = db.get(Case, case_id)
        assert case is not None
        close_case(db, w.archive.custody, case=case, actor=ACTOR)
    far = 6 * 366 * DAY
    did = sched(w, [x], now=utcnow() + far)[x]
    approve(w, did, OTHER)
    assert x in destroy(w, after=far + LATER).destroyed
    return x, case_id


def _token(w: RWorld, username: str, role: str) -> str:
    with w.archive.sessions.begin() as db:
        u = accounts.add_user(db, w.archive.custody, username=username, password=PASSWORD, role=role, unit_code=UNIT,
                              display_name=username, actor="test", settings=w.settings.auth)
        return accounts.issue_api_token(db, w.archive.custody, user=u, name="tombstone", actor="test")


def test_a_destroyed_evidence_answers_its_record_and_says_its_bytes_were_destroyed(rworld: RWorld,
                                                                                   tmp_path: Path) -> None:
    x, case_id = _destroyed_in_closed_case(rworld, "20200301093000")
    client = TestClient(create_app(rworld.archive))
    client.headers["Authorization"] = f"Bearer {_token(rworld, f'inv-tomb-{rworld.backend}', 'investigator')}"
    r = client.get(f"/api/v1/evidence/{x}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["retention"]["disposal"]["state"] == "destroyed" and len(body["sha256"]) == 64
    for path in (f"/api/v1/evidence/{x}/original/link", f"/api/v1/evidence/{x}/export/link",
                 f"/api/v1/evidence/{x}/media/poster"):
        r = client.get(path) if path.endswith("poster") else client.post(path)
        assert r.status_code == 410 and r.json()["code"] == "destroyed", (path, r.text)
        assert "销毁" in r.json()["detail"] and "restore it from backup" not in r.json()["detail"]
    r = client.post(f"/api/v1/evidence/{x}/verify")
    assert r.status_code == 200 and r.json()["outcome"] == "destroyed" and not r.json()["ok"]
    assert "destroyed under the retention rules" in r.json()["failures"][0]
    # the CLI: exporting it says so (exit 1, in words); the case bag keeps the link, marked, without the original
    cli = [sys.executable, "-m", "app.cli", "--config", str(rworld.settings.config_path)]
    r2 = subprocess.run([*cli, "export", str(x), "--out", str(tmp_path / "one"), "--json"], capture_output=True,
                        text=True, timeout=120, cwd=rworld.folder)
    assert r2.returncode == 1 and json.loads(r2.stdout)["code"] == "destroyed", r2.stdout + r2.stderr
    r3 = subprocess.run([*cli, "export", "--case", str(rworld.case_row(case_id).number), "--out",
                         str(tmp_path / "case"), "--json"], capture_output=True, text=True, timeout=120,
                        cwd=rworld.folder)
    assert r3.returncode == 0, r3.stdout + r3.stderr
    doc = json.loads((tmp_path / "case" / "data" / "case" / "case.json").read_text())
    assert doc["destroyed_recordings"] == [x]
    assert [lk["destroyed"] for st in doc["steps"] for lk in st["links"]] == [True]
    assert not list((tmp_path / "case" / "data").glob("originals/**/*.JPG"))


def test_on_s3_with_versioning_a_disposal_removes_every_version(s3_server: S3Server,  # noqa: F811
                                                                 tmp_path: Path) -> None:
    bucket = s3_server.make_bucket(versioned=True)
    s3 = s3_server.settings(bucket)
    settings, archive, unit_id, other_id, drop = _open_world(tmp_path, "sqlite", "[retention]\ngrace_days = 0\n")
    from archive.s3 import S3Store

    archive.store = S3Store.from_settings(s3)  # the grown store: every original from here on goes to S3
    try:
        w = RWorld(settings, archive, unit_id, other_id, tmp_path, "sqlite")
        (x,) = w.fresh(1, recorded="20100101093000")
        with archive.sessions() as db:
            from archive.models import Evidence

            key = db.scalars(select(Evidence.store_key).where(Evidence.id == x)).one()
        c = s3_server.client()
        # an older version and a delete marker of the same key (what a versioned bucket keeps of overwrites)
        c.put_object(Bucket=bucket, Key=key + ".tmp", Body=b"x")  # (another key: must survive)
        c.put_object(Bucket=bucket, Key=key, Body=c.get_object(Bucket=bucket, Key=key)["Body"].read())
        versions = [v for v in c.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", []) if v["Key"] == key]
        assert len(versions) == 2
        did = sched(w, [x], actor=ACTOR)[x]
        approve(w, did, OTHER)
        assert x in destroy(w, after=DAY).destroyed
        listing = c.list_object_versions(Bucket=bucket, Prefix=key)
        assert [v for v in listing.get("Versions", []) if v["Key"] == key] == []
        assert [m for m in listing.get("DeleteMarkers", []) if m["Key"] == key] == []
        assert [v["Key"] for v in listing.get("Versions", [])] == [key + ".tmp"]
    finally:
        archive.close()
        if callable(drop):
            drop()
