"""Powers and procedures documents (权责清单 / 执法流程, 事前公示) through the API, the public site and the
static export, on SQLite and PostgreSQL.

The legal reviewer of A (a publisher) uploads a 权责清单 as PDF, then a second version of it, and a
执法流程 as Markdown; the public page lists each document's current version with its download and
the older version as history; the files come back bit for bit with their type and name. What the
public site cannot serve safely — a Word file, HTML, an empty or oversized file — is refused naming
the file and what to do, and nothing is recorded. Each version is a row bound to the custody log."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from archive.verify import Report
from integrity import bindings as row_check
from publication import export as site_export
from publication import powers
from publication.bindings import POWERS_DOCUMENT
from publication.errors import PowersDocumentRefused
from publication.powers_models import PowersDocument
from tests.api_world import BACKENDS, B, World, user_of, world_for

API = "/api/v1"
PUBLISHER, AUDITOR, HANDLER = user_of("legal_reviewer"), user_of("auditor"), user_of("investigator")
OTHER = user_of("investigator", "b")
PDF1 = b"%PDF-1.4\n% powers v1\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PDF2 = PDF1.replace(b"v1", b"v2")
MD = "# 行政处罚执法流程\n\n1. 立案\n2. 调查取证\n3. 法制审核 -> 决定\n\n金额 < 5000 元的适用简易程序。\n".encode()


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip)


def upload(w: World, who: str, name: str, data: bytes, title: str, kind: str = "权责清单", mime: str = "application/pdf",
           **fields: str) -> Any:
    return w.client(who).post(f"{API}/publication/powers", files={"file": (name, data, mime)},
                              data={"title": title, "kind": kind, **fields})


def count(w: World) -> int:
    with w.archive.sessions() as db:
        return db.scalar(select(func.count()).select_from(PowersDocument)) or 0


def test_versions_are_uploaded_listed_served_and_exported(world: World, tmp_path: Path) -> None:
    r = upload(world, PUBLISHER, "权责清单.pdf", PDF1, "行政处罚权责清单")
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert v1["version"] == 1 and v1["current"] and v1["mime"] == "application/pdf"
    assert v1["sha256"] == hashlib.sha256(PDF1).hexdigest() and v1["unit_name"] == "东城分局"
    r = upload(world, PUBLISHER, "权责清单（2026修订）.pdf", PDF2, "行政处罚权责清单", note="增加行政强制事项")
    assert r.status_code == 201, r.text
    v2 = r.json()
    assert v2["version"] == 2 and v2["public_id"] != v1["public_id"]
    r = upload(world, PUBLISHER, "flow.md", MD, "行政处罚执法流程", kind="执法流程", mime="text/markdown")
    assert r.status_code == 201 and r.json()["mime"] == "text/markdown", r.text
    flow = r.json()
    # the publisher's list: every version, the newest current
    listed = {(d["title"], d["version"]): d for d in world.client(AUDITOR).get(f"{API}/publication/powers").json()}
    assert listed[("行政处罚权责清单", 2)]["current"] and not listed[("行政处罚权责清单", 1)]["current"]
    assert world.client(AUDITOR).get(f"{API}/publication/powers/{v1['id']}").json()["current"] is False
    assert world.client(OTHER).get(f"{API}/publication/powers/{v1['id']}").status_code == 404
    assert world.client(AUDITOR).post(f"{API}/publication/powers", files={"file": ("a.pdf", PDF1)},
                                      data={"title": "x", "kind": "权责清单"}).status_code == 403
    # the public page: the current version with its download, the old one as history
    anon = world.client()
    page = anon.get("/public/powers")
    assert page.status_code == 200 and "set-cookie" not in page.headers and page.headers["etag"]
    current = re.search(r"<caption>现行版本</caption>.*?</table>", page.text, re.S)
    history = page.text.split("<h2>历史版本</h2>")[1]
    assert current is not None
    assert f'/public/powers/{v2["public_id"]}' in current.group(0) and v1["public_id"] not in current.group(0)
    assert f'/public/powers/{v1["public_id"]}' in history and "第 1 版" in history
    assert f'/public/powers/{flow["public_id"]}' in current.group(0) and "执法流程" in current.group(0)
    hrefs = set(re.findall(r'href="([^"]*)"', page.text))
    assert hrefs == {"#main", "/public/notices", "/public/officers", "/public/powers", "/public/figures",
                     *(f"/public/powers/{d['public_id']}" for d in (v1, v2, flow))}
    for d in (v1, v2, flow):
        assert f">{d['id']}<" not in page.text and f"/{d['id']}\"" not in page.text
    # the files, bit for bit, with their type and name
    f = anon.get(f"/public/powers/{v2['public_id']}")
    assert f.status_code == 200 and f.content == PDF2 and f.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''%E6%9D%83" in f.headers["content-disposition"] and f.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in f.headers["content-security-policy"]
    assert anon.get(f"/public/powers/{v2['public_id']}", headers={"If-None-Match": f.headers["etag"]}).status_code == 304
    m = anon.get(f"/public/powers/{flow['public_id']}")
    assert m.content == MD and m.headers["content-type"] == "text/markdown; charset=utf-8"
    assert anon.get(f"/public/powers/{v1['public_id']}").content == PDF1
    assert anon.get("/public/powers/QZ-bcdfghjkmnpqrstv").status_code == 404
    assert anon.get(f"/public/powers/{v1['id']}").status_code in (404, 422)  # a row id is no public id
    # the static export: the same page but for links, and the files
    out = tmp_path / "site"
    with world.archive.sessions() as db:
        done = site_export.export(db, world.settings, out)
    assert done.documents == 3
    static = (out / "powers.html").read_text(encoding="utf-8")
    assert normalised(static) == normalised(page.text)
    for d, data in ((v1, PDF1), (v2, PDF2), (flow, MD)):
        ext = {"application/pdf": "pdf", "text/markdown": "md"}[d["mime"]]
        assert (out / "powers" / f"{d['public_id']}.{ext}").read_bytes() == data
        assert f'href="powers/{d["public_id"]}.{ext}"' in static


def normalised(page: str) -> str:
    page = re.sub(r'href="(?:\.\./)?powers/([A-Za-z-]+)\.(?:pdf|md|txt)"', r'href="doc:\1"', page)
    page = re.sub(r'href="/public/powers/([A-Za-z-]+)"', r'href="doc:\1"', page)
    page = re.sub(r'href="(?:\.\./)?index\.html"', 'href="list:1"', page)
    page = re.sub(r'href="(?:\.\./)?(officers|powers|figures)\.html"', r'href="part:\1"', page)
    page = re.sub(r'href="/public/(officers|powers|figures)"', r'href="part:\1"', page)
    return page.replace('href="/public/notices"', 'href="list:1"')


@pytest.mark.parametrize(("name", "data", "said"), [
    ("处罚流程.docx", b"PK\x03\x04" + bytes(range(256)) * 4, "不是 PDF 或 UTF-8 纯文本"),
    ("流程.html", "<html><body><script>alert(1)</script>流程</body></html>".encode(), "第 1 行含有 HTML 标记"),
    ("流程.md", "# 流程\n\n见 <a href=\"https://x\">这里</a>\n".encode(), "第 3 行含有 HTML 标记"),
    ("空.txt", b"", "是空文件"),
    ("二进制.txt", "正文\x00\x01".encode(), "含有控制字符"),
])
def test_what_the_public_site_cannot_serve_is_refused_naming_the_file(world: World, name: str, data: bytes,
                                                                      said: str) -> None:
    before, seq = count(world), world.last_seq()
    r = upload(world, PUBLISHER, name, data, "被拒的文件", mime="application/octet-stream")
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "powers_document_refused" and f"「{name}」{said}" in body["detail"]
    assert "再上传" in body["detail"] or "选择" in body["detail"]
    assert count(world) == before
    assert not [e for e in world.events_since(seq) if e.action == "powers_document_uploaded"]


def test_an_oversized_document_is_refused_with_the_limit(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(powers, "MAX_BYTES", 1000)
    r = upload(world, PUBLISHER, "大文件.pdf", PDF1 + b"%" * 1000, "大文件")
    assert r.status_code == 400 and r.json()["code"] == "powers_document_refused"
    assert f"「大文件.pdf」有 {len(PDF1) + 1000} 字节，超过 1000 字节的上限" in r.json()["detail"] and "拆分" in r.json()["detail"]
    with pytest.raises(PowersDocumentRefused, match="kind"):
        with world.archive.sessions() as db:
            powers.upload(db, world.archive.custody, unit_id=world.units[B], title="x", kind="年报", file_name="a.pdf",
                          data=PDF1, actor="test")


def test_each_version_is_bound_to_the_log_and_a_change_below_is_named(world: World) -> None:
    r = upload(world, PUBLISHER, "指南.txt", "行政许可服务指南\n".encode(), "行政许可服务指南", kind="服务指南",
               mime="text/plain", unit_code="110101")
    assert r.status_code == 201, r.text
    doc_id = r.json()["id"]
    events = [e for e in world.events_since(0) if e.action == "powers_document_uploaded"
              and f'"document_id":{doc_id},' in e.detail]
    assert len(events) == 1 and events[0].object_sha256 == r.json()["sha256"]
    assert f"publication_powers:{doc_id}" in events[0].detail and POWERS_DOCUMENT in row_check.BINDINGS

    def failures() -> list[str]:
        report = Report()
        row_check.check_rows(world.archive, report)
        return [f.detail for f in report.failures if "publication_powers" in f.detail]

    assert failures() == []
    with world.archive.sessions.begin() as db:  # the bytes changed below the application
        db.execute(update(PowersDocument).where(PowersDocument.id == doc_id).values(content=b"altered"))
    try:
        assert failures() == [f"publication_powers {doc_id}: content changed since its last custody event "
                              f"({events[0].seq})."]
    finally:
        with world.archive.sessions.begin() as db:
            db.execute(update(PowersDocument).where(PowersDocument.id == doc_id)
                       .values(content="行政许可服务指南\n".encode()))
    assert failures() == []
    r = upload(world, PUBLISHER, "指南.txt", b"x", "x", unit_code="110102")  # another unit's: refused, named
    assert r.status_code == 403 and "110102" in r.json()["detail"]


def test_the_console_form_uploads_a_version_and_shows_a_refusal_as_a_page(world: World) -> None:
    c = world.client(PUBLISHER)  # (a token: the console takes it as it takes the session; csrf is the session's)
    form = {"csrf": "", "title": "控制台上传的流程", "kind": "执法流程", "unit_code": "110101", "note": ""}
    r = c.post("/publication/powers", data=form, files={"file": ("流程.txt", "一、立案\n二、调查\n".encode(), "text/plain")},
               headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/publication/powers?done=uploaded", r.text
    page = c.get("/publication/powers", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "控制台上传的流程" in page.text and 'id="powers-form"' in page.text
    r = c.post("/publication/powers", data=form, files={"file": ("流程.doc", b"\xd0\xcf\x11\xe0" + bytes(300), "x")},
               headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert "「流程.doc」不是 PDF 或 UTF-8 纯文本" in r.text and "另存为 PDF" in r.text
    reader = world.client(AUDITOR).get("/publication/powers", headers={"Accept": "text/html"})
    assert reader.status_code == 200 and "控制台上传的流程" in reader.text and 'id="powers-form"' not in reader.text


def test_the_public_router_has_only_the_public_pages_and_sets_no_cookie(world: World) -> None:
    from api import public

    paths = {(m, r.path) for r in public.router.routes for m in getattr(r, "methods", ())}
    assert {p for _, p in paths} == {"/public", "/public/", "/public/notices", "/public/notices/{public_no}",
                                     "/public/officers", "/public/powers", "/public/powers/{public_id}",
                                     "/public/figures", "/public/figures/{year}"}
    assert {m for m, _ in paths} <= {"GET", "HEAD"}
    anon = world.client()
    for path in ("/public/officers", "/public/powers", "/public/powers/QZ-bcdfghjkmnpqrstv"):
        r = anon.get(path)
        assert r.status_code in (200, 404) and "set-cookie" not in r.headers
    # the internal routes of powers documents answer nothing without a session
    assert anon.get(f"{API}/publication/powers").status_code == 401
    assert anon.post(f"{API}/publication/powers", files={"file": ("a.pdf", PDF1)}, data={"title": "x", "kind": "其他"}
                     ).status_code == 401
    assert anon.get("/publication/powers", follow_redirects=False).status_code in (302, 303, 401)
