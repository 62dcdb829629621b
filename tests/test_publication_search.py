"""The public site's search (``publication.service.public_notices``): the bigram index of migration 0020
answers exactly the rows the plain ``LIKE`` does, and a search's count stops at a cap ("N 条以上") while
the pages still lead on; the whole list is always counted exactly.

Notices are written straight into a migrated database (with the unit, cases and records they name):
what is tested is the search over what is stored, not how notices come to be published."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import ColumnElement, Engine, func, or_, select, text
from sqlalchemy.orm import Session

from app.runtime import upgrade
from hashing.keys import DataKey
from liuhen import db as liuhen_db
from publication import service, site
from publication.models import Notice

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
PARTIES = ("杭州市西湖区星光餐饮管理有限公司", "杭州市西湖区星光科技有限公司", "广州市天河区华联商贸有限公司", "王某",
           "ABC贸易有限公司", "abc贸易有限公司", "百分之100%折扣_店", "星", "成都市武侯区鑫源超市", "")
DOCS = ("杭西市监罚〔2025〕123号", "杭西市监罚〔2025〕1234号", "穗天环罚〔2026〕7号", "蓉武市监罚〔2024〕88号", "")
QUERIES = ("星光", "星光餐饮", "杭州市西湖区星光科技有限公司", "有限公司", "ABC", "abc", "aBc", "100%", "%", "_店",
           "〔2025〕123号", "〔2025〕12", "市监罚", "星", "某", "5〕", "光科", "不存在的公司", "西湖区星光科技有限公司X",
           "\\", "罚〔")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    e = liuhen_db.make_engine(database_url)
    upgrade(e, data_key=DataKey(os.urandom(32)))
    yield e
    e.dispose()


def load(engine: Engine, n: int, *, party: str | None = None) -> None:
    """``n`` notices in every state, the public ones published over time, some at the same instant."""
    with engine.begin() as c:
        c.execute(text("INSERT INTO units (id, code, name, created_at) VALUES (1, 'U1', '单位', :t)"), {"t": T0})
        c.execute(text("INSERT INTO cases (id, number, year, seq, category, title, unit_id, status, created_at, "
                       "created_by) VALUES (1, 'C-1', 2026, 1, '行政处罚', '案', 1, 'closed', :t, 'test')"), {"t": T0})
        c.execute(text("INSERT INTO text_records (id, case_id, kind, title, created_at, created_by) "
                       "VALUES (1, 1, '决定书', '决定书', :t, 'test')"), {"t": T0})
    states = ("published", "published", "withdrawn", "draft", "superseded", "published")
    with Session(engine) as db:
        for i in range(n):
            state = states[i % len(states)]
            public = state in service.PUBLIC_STATES
            at = T0 + dt.timedelta(hours=i // 3)  # three at a time share an instant: the id breaks the tie
            db.add(Notice(public_no=f"GS2026-t{i:08d}", case_id=1, unit_id=1, record_id=1, record_version=1,
                          category="行政处罚", decision_kind="罚款", doc_number=DOCS[i % len(DOCS)],
                          party=party if party is not None else PARTIES[i % len(PARTIES)], facts="事实",
                          legal_basis="依据", decision="决定", agency="某局", decided_on=at.date(), days=7,
                          due_on=at.date(), masks="{}", state=state, created_by="test",
                          published_at=at if public else None, published_by="test" if public else None,
                          published_on=at.date() if public else None,
                          withdrawn_at=at if state == "withdrawn" else None,
                          withdrawn_by="test" if state == "withdrawn" else None,
                          withdraw_reason="撤销" if state == "withdrawn" else None))
        db.commit()


def plain(db: Session, q: str, page: int, size: int) -> tuple[list[str], int]:
    """The search without the index: ``LIKE`` over every published or withdrawn notice, counted exactly."""
    where: list[ColumnElement[bool]] = [Notice.state.in_(service.PUBLIC_STATES)]
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(or_(Notice.party.like(like, escape="\\"), Notice.doc_number.like(like, escape="\\")))
    total = db.scalar(select(func.count()).select_from(Notice).where(*where)) or 0
    nos = db.scalars(select(Notice.public_no).where(*where).order_by(Notice.published_at.desc(), Notice.id.desc())
                     .offset((page - 1) * size).limit(size))
    return list(nos), total


@pytest.mark.postgres
def test_the_bigram_index_answers_the_same_rows_as_the_plain_search(pg_url: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    e = liuhen_db.make_engine(pg_url)
    try:
        upgrade(e, data_key=DataKey(os.urandom(32)))
        load(e, 300)
        with e.begin() as c:
            c.execute(text("ANALYZE publication_notices"))
        for force_index in (False, True):
            with Session(e) as db:
                if force_index:  # the index path, whatever the planner would pick for so few rows (rolled back)
                    db.execute(text("DROP INDEX ix_publication_published"))
                    db.execute(text("SET LOCAL enable_seqscan = off"))
                    plan = "\n".join(db.scalars(text(
                        "EXPLAIN SELECT id FROM publication_notices WHERE published_at IS NOT NULL AND "
                        "search_grams @> CAST(:g AS TEXT[])"), {"g": service.grams("星光")}))
                    assert "ix_publication_search" in plan
                # the rarest pieces through the index (every piece counted rare), or every piece common: the
                # newest-first window answers alone (it holds every notice), answers a common word and leaves
                # the rest to the whole index (a window of 40 of the 300), or is too small to answer any
                for rare, window in ((2.0, 100000), (0.0, 100000), (0.0, 40), (0.0, 3)):
                    monkeypatch.setattr(service, "RARE", rare)
                    monkeypatch.setattr(service, "WINDOW", window)
                    for q in QUERIES:
                        for page in (1, 2, 4):
                            got, total = service.public_notices(db, q=q, page=page, size=7)
                            want, want_total = plain(db, q, page, 7)
                            assert [n.public_no for n in got] == want, (q, page, force_index, window)
                            assert total == want_total and not isinstance(total, site.AtLeast), (q, page)
    finally:
        e.dispose()


@pytest.mark.postgres
def test_the_grams_of_a_query_are_those_the_database_cuts(pg_url: str) -> None:
    e = liuhen_db.make_engine(pg_url)
    try:
        upgrade(e, data_key=DataKey(os.urandom(32)))
        with e.connect() as c:
            for party, doc in (("杭州市星光餐饮有限公司", "杭西市监罚〔2025〕123号"), ("aAbB%_\\", ""), ("星", "x")):
                got = c.scalar(text("SELECT publication_grams(:p, :d)"), {"p": party, "d": doc})
                assert sorted(got) == sorted(set(service.grams(party)) | set(service.grams(doc)))
        load(e, 12)  # the stored column is the function of the row's fields
        with e.connect() as c:
            for party, doc, stored in c.execute(text("SELECT party, doc_number, search_grams FROM publication_notices")):
                assert sorted(stored) == sorted(set(service.grams(party)) | set(service.grams(doc)))
    finally:
        e.dispose()


def test_a_search_counts_up_to_the_cap_then_says_more_and_the_pages_lead_on(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "SEARCH_CAP", 5)
    load(engine, 60, party="杭州市西湖区星光餐饮管理有限公司")  # 40 public notices, all matching
    with Session(engine) as db:
        whole, exact = service.public_notices(db, page=1, size=4)
        assert exact == 40 and not isinstance(exact, site.AtLeast)  # the whole list: always exact
        seen: list[str] = []
        page = 1
        while True:
            items, total = service.public_notices(db, q="星光餐饮", page=page, size=4)
            want, want_total = plain(db, "星光餐饮", page, 4)
            assert [n.public_no for n in items] == want and want_total == 40
            offset = (page - 1) * 4
            if offset + 5 < 40:  # more than the cap past the page's first: at least offset + cap
                assert isinstance(total, site.AtLeast) and total == offset + 5
            else:
                assert total == 40 and not isinstance(total, site.AtLeast)
            pages = -(-total // 4)
            html = site.list_page(items, page=page, pages=pages, total=total, q="星光餐饮", links=site.live_links())
            if isinstance(total, site.AtLeast):
                assert f"共 {offset + 5} 条以上" in html and f"第 {page} 页" in html and " / " not in html
            else:
                assert "共 40 条</p>" in html and f"第 {page} / 10 页" in html
            assert ('rel="next"' in html) == (page < 10)  # the pages lead on to the last one
            seen += [n.public_no for n in items]
            if page == pages:
                break
            page += 1
        assert seen == plain(db, "星光餐饮", 1, 100)[0] and page == 10
        assert [n.public_no for n in whole] == plain(db, "", 1, 4)[0]


def test_the_live_list_reaches_the_newest_notices_and_the_export_every_one(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "REACH", 12)
    load(engine, 60, party="杭州市西湖区星光餐饮管理有限公司")  # 40 public notices
    with Session(engine) as db:
        items, total = service.public_notices(db, page=3, size=4)  # notices 9-12: the last page in reach
        assert [n.public_no for n in items] == plain(db, "", 3, 4)[0]
        assert isinstance(total, site.AtLeast) and total == 12
        html = site.list_page(items, page=3, pages=3, total=total, q="", links=site.live_links())
        assert "共 12 条以上" in html and "更早的公示请按当事人名称或文书编号查询" in html and 'rel="next"' not in html
        assert service.public_notices(db, page=4, size=4) == ([], site.AtLeast(12))  # past the reach: nothing
        _, found = service.public_notices(db, q="星光餐饮", page=1, size=4)
        assert isinstance(found, site.AtLeast) and found == 12
        assert service.public_total(db) == 40
        every = [n.public_no for page in service.public_pages(db, size=7) for n in page]
        assert every == plain(db, "", 1, 100)[0]  # the export's pages: all 40, newest first, none twice
