"""The public pages (公示网站), as plain functions of public values: the live router (``api.public``) and
the static export (``liuhen publish export``) call the same functions, so their pages are the same.

What a page may show is a ``PublicNotice``: the public number, the masked fields, dates, the agency,
and whether it was withdrawn and why. It carries no internal id (no case, record, unit or row id), and
nothing here reads the database: ``publication.service.public_notices`` hands these values over.

Links are made by a ``Links`` value: the live site's (``/public/...``) or the export's (relative
files), the only difference between the two sets of pages besides the search form, which needs the
server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

LANG = "zh-CN"
SITE_TITLE = "行政执法公示"


@dataclass(frozen=True)
class PublicNotice:
    public_no: str
    category: str
    decision_kind: str | None
    doc_number: str
    party: str
    facts: str
    legal_basis: str
    decision: str
    agency: str
    decided_on: dt.date
    published_on: dt.date | None
    withdrawn_on: dt.date | None = None
    withdraw_reason: str | None = None

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_on is not None


class AtLeast(int):
    """A count that stopped at a cap: at least this many matched (shown 「N 条以上」, the pages as far as
    it counted). A search counts its matches only so far past the page it shows
    (``publication.service.SEARCH_CAP``), and the live list and a search reach only the newest
    ``publication.service.REACH`` notices; the static export counts every notice exactly."""


@dataclass(frozen=True)
class PublicOfficer:
    """An officer with a certificate valid today (执法人员公示): one per valid certificate. Officers are
    public by law; no officer, unit or certificate row id."""

    name: str
    unit: str
    certificate_no: str  # 执法证号
    category: str
    area: str
    valid_until: dt.date


@dataclass(frozen=True)
class PublicDocument:
    """One version of a powers document (权责清单 / 执法流程 …): known by its random ``public_id``."""

    public_id: str
    title: str
    kind: str
    unit: str
    version: int
    uploaded_on: dt.date
    file_name: str
    mime: str
    size: int
    sha256: str

    @property
    def ext(self) -> str:
        return {"application/pdf": "pdf", "text/markdown": "md"}.get(self.mime, "txt")


@dataclass(frozen=True)
class PublicPowers:
    """A document as the public sees it: its current (newest) version and the older ones, newest first."""

    current: PublicDocument
    history: tuple[PublicDocument, ...] = ()


def _live_officers_page(n: int, q: str, unit: str) -> str:
    from urllib.parse import urlencode

    params = {k: v for k, v in (("q", q), ("unit", unit), ("page", str(n) if n > 1 else "")) if v}
    return "/public/officers" + ("?" + urlencode(params) if params else "")


def _live_document(d: PublicDocument) -> str:
    return f"/public/powers/{d.public_id}"


@dataclass(frozen=True)
class Links:
    """Where a page links: ``notice(no)``, ``page(n, q)``, ``home``; ``search``: whether to show the search form."""

    notice: Callable[[str], str]
    page: Callable[[int, str], str]
    home: str
    search: bool  # the live site has a search form; static files cannot answer it
    officers: str = "/public/officers"  # 执法人员 (事前公示: officers with valid certificates)
    powers: str = "/public/powers"  # 权责清单 (the agency's powers and procedures, as it uploaded them)
    figures: str = "/public/figures"  # 年度数据 (the approved annual enforcement figures)
    figures_year: Callable[[int], str] = lambda year: f"/public/figures/{year}"  # one year's approved figures
    # a page of the officers' list (page, q, unit), and a powers document's file
    officers_page: Callable[[int, str, str], str] = field(default_factory=lambda: _live_officers_page)
    document: Callable[[PublicDocument], str] = field(default_factory=lambda: _live_document)


def live_links() -> Links:
    from urllib.parse import urlencode

    def page(n: int, q: str) -> str:
        params = {k: v for k, v in (("q", q), ("page", str(n) if n > 1 else "")) if v}
        return "/public/notices" + ("?" + urlencode(params) if params else "")

    return Links(notice=lambda no: f"/public/notices/{no}", page=page, home="/public/notices", search=True)


def static_links(depth: int) -> Links:
    """Links between exported files: ``index.html``, ``page-N.html`` and ``notices/<no>.html``;
    ``depth`` 1 for a page inside ``notices/``."""
    up = "../" * depth
    return Links(notice=lambda no: f"{up}notices/{no}.html",
                 page=lambda n, q: f"{up}index.html" if n <= 1 else f"{up}page-{n}.html",
                 home=f"{up}index.html", search=False, officers=f"{up}officers.html", powers=f"{up}powers.html",
                 figures=f"{up}figures.html", figures_year=lambda year: f"{up}figures-{year}.html",
                 officers_page=lambda n, q, unit: f"{up}officers.html" if n <= 1 else f"{up}officers-page-{n}.html",
                 document=lambda d: f"{up}{document_file(d)}")


def document_file(d: PublicDocument) -> str:
    """Where the static export writes a powers document's file (relative to the site's root)."""
    return f"powers/{d.public_id}.{d.ext}"


_STYLE = ("body{font-family:system-ui,'Noto Sans CJK SC','Microsoft YaHei',sans-serif;max-width:52rem;margin:0 auto;"
          "padding:1rem;line-height:1.7;color:#1a1a1a}a{color:#0b4f9c}table{border-collapse:collapse;width:100%}"
          "th,td{border:1px solid #999;padding:.4rem;text-align:left;vertical-align:top}"
          ".withdrawn{color:#8a1f11;font-weight:bold}.skip{position:absolute;left:-999px}.skip:focus{left:1rem}"
          "dt{font-weight:bold}dd{margin:0 0 .6rem 0;white-space:pre-wrap}")


def _layout(title: str, body: str, links: Links) -> str:
    return ("<!DOCTYPE html>\n"
            f'<html lang="{LANG}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} - {SITE_TITLE}</title><style>{_STYLE}</style></head>\n"
            '<body><a class="skip" href="#main">跳到正文</a>\n'
            f'<header><p><a href="{escape(links.home)}">{SITE_TITLE}</a></p>\n'
            f'<nav aria-label="栏目"><a href="{escape(links.home)}">执法决定</a> | '
            f'<a href="{escape(links.officers)}">执法人员</a> | <a href="{escape(links.powers)}">权责清单</a> | '
            f'<a href="{escape(links.figures)}">年度数据</a></nav></header>\n'
            f'<main id="main">\n{body}</main>\n'
            "<footer><p>本网站公示的行政执法决定信息已依法隐去个人身份证件号码、联系电话、住址等个人信息。</p></footer>\n"
            "</body></html>\n")


def _date(d: dt.date | None) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d is not None else ""


def list_page(items: Sequence[PublicNotice], *, page: int, pages: int, total: int, q: str, links: Links) -> str:
    """The notices, newest first, one page of them; ``q`` the search it answers (organisation or document number)."""
    parts = ["<h1>行政执法决定公示</h1>\n"]
    if links.search:
        parts.append('<form class="search" role="search" method="get" action="/public/notices">'
                     '<label for="q">按当事人名称或文书编号查询</label> '
                     f'<input id="q" name="q" type="search" value="{escape(q)}" maxlength="100"> '
                     '<button type="submit">查询</button></form>\n')
    count = f"{int(total)} 条以上" if isinstance(total, AtLeast) else f"{total} 条"
    parts.append(f"<p>查询「{escape(q)}」：共 {count}</p>\n" if q else f"<p>共 {count}</p>\n")
    if items:
        parts.append('<table><caption>行政执法决定</caption><thead><tr><th scope="col">文书编号</th>'
                     '<th scope="col">当事人</th><th scope="col">执法类别</th><th scope="col">决定日期</th>'
                     '<th scope="col">状态</th></tr></thead><tbody>\n')
        for n in items:
            state = '<span class="withdrawn">已撤回</span>' if n.withdrawn else "公示中"
            parts.append(f'<tr><td><a href="{escape(links.notice(n.public_no))}">{escape(n.doc_number or n.public_no)}'
                         f"</a></td><td>{escape(n.party)}</td><td>{escape(n.category)}</td>"
                         f"<td>{_date(n.decided_on)}</td><td>{state}</td></tr>\n")
        parts.append("</tbody></table>\n")
    else:
        parts.append("<p>没有符合条件的公示信息。</p>\n")
    if isinstance(total, AtLeast) and page >= pages:  # the live list's reach (publication.service.REACH)
        parts.append(f"<p>此处列出最近的 {int(total)} 条；更早的公示请按当事人名称或文书编号查询。</p>\n")
    if pages > 1:
        nav = ['<nav aria-label="分页"><p>']
        if page > 1:
            nav.append(f'<a href="{escape(links.page(page - 1, q))}" rel="prev">上一页</a> ')
        nav.append(f"第 {page} 页" if isinstance(total, AtLeast) else f"第 {page} / {pages} 页")
        if page < pages:
            nav.append(f' <a href="{escape(links.page(page + 1, q))}" rel="next">下一页</a>')
        nav.append("</p></nav>\n")
        parts.append("".join(nav))
    return _layout("行政执法决定公示", "".join(parts), links)


def notice_page(n: PublicNotice, links: Links) -> str:
    """One notice; a withdrawn one says so at the top, with the date and reason, and keeps its text."""
    parts = [f"<h1>行政执法决定公示：{escape(n.doc_number or n.public_no)}</h1>\n"]
    if n.withdrawn:
        parts.append(f'<p class="withdrawn" role="status">本公示已于{_date(n.withdrawn_on)}撤回。撤回理由：'
                     f"{escape(n.withdraw_reason or '')}</p>\n")
    rows = (("公示编号", n.public_no), ("文书编号", n.doc_number), ("执法机关", n.agency), ("当事人", n.party),
            ("执法类别", n.category), ("决定种类", n.decision_kind or ""), ("主要违法事实", n.facts),
            ("法律依据", n.legal_basis), ("执法决定", n.decision), ("决定日期", _date(n.decided_on)),
            ("公示日期", _date(n.published_on)))
    parts.append("<dl>\n" + "".join(f"<dt>{k}</dt><dd>{escape(v)}</dd>\n" for k, v in rows if v) + "</dl>\n")
    parts.append(f'<p><a href="{escape(links.home)}">返回公示列表</a></p>\n')
    return _layout(f"{n.doc_number or n.public_no}", "".join(parts), links)


def _pager(page: int, pages: int, link: Callable[[int], str]) -> str:
    if pages <= 1:
        return ""
    nav = ['<nav aria-label="分页"><p>']
    if page > 1:
        nav.append(f'<a href="{escape(link(page - 1))}" rel="prev">上一页</a> ')
    nav.append(f"第 {page} / {pages} 页")
    if page < pages:
        nav.append(f' <a href="{escape(link(page + 1))}" rel="next">下一页</a>')
    nav.append("</p></nav>\n")
    return "".join(nav)


def officers_page(items: Sequence[PublicOfficer], *, page: int, pages: int, total: int, q: str, unit: str,
                  units: Sequence[str], as_of: dt.date, links: Links) -> str:
    """执法人员公示: the officers holding a certificate valid on ``as_of``, by unit then name, one page of
    them; ``q`` (a name or certificate number) and ``unit`` (a unit's name) what the list answers."""
    parts = ["<h1>行政执法人员公示</h1>\n",
             f"<p>以下为截至{_date(as_of)}持有有效行政执法证件的执法人员。证件过期、注销或尚未生效的不在此列。</p>\n"]
    if links.search:
        options = "".join(f'<option value="{escape(u)}"{" selected" if u == unit else ""}>{escape(u)}</option>'
                          for u in units)
        parts.append('<form class="search" role="search" method="get" action="/public/officers">'
                     '<label for="q">按姓名或执法证号查询</label> '
                     f'<input id="q" name="q" type="search" value="{escape(q)}" maxlength="100"> '
                     '<label for="unit">执法单位</label> '
                     f'<select id="unit" name="unit"><option value="">全部</option>{options}</select> '
                     '<button type="submit">查询</button></form>\n')
    if q or unit:
        parts.append(f"<p>查询「{escape(' '.join(x for x in (unit, q) if x))}」：共 {total} 条</p>\n")
    else:
        parts.append(f"<p>共 {total} 条</p>\n")
    if items:
        parts.append('<table><caption>行政执法人员</caption><thead><tr><th scope="col">姓名</th>'
                     '<th scope="col">执法单位</th><th scope="col">执法证号</th><th scope="col">执法类别</th>'
                     '<th scope="col">执法区域</th><th scope="col">有效期至</th></tr></thead><tbody>\n')
        for o in items:
            parts.append(f"<tr><td>{escape(o.name)}</td><td>{escape(o.unit)}</td><td>{escape(o.certificate_no)}</td>"
                         f"<td>{escape(o.category)}</td><td>{escape(o.area)}</td><td>{_date(o.valid_until)}</td></tr>\n")
        parts.append("</tbody></table>\n")
    else:
        parts.append("<p>没有符合条件的执法人员。</p>\n")
    parts.append(_pager(page, pages, lambda n: links.officers_page(n, q, unit)))
    return _layout("行政执法人员公示", "".join(parts), links)


def _size(n: int) -> str:
    return f"{n} 字节" if n < 1024 else (f"{n / 1024:.0f} KB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MB")


def _doc_link(d: PublicDocument, links: Links, text: str) -> str:
    kind = {"pdf": "PDF", "md": "Markdown", "txt": "文本"}[d.ext]
    return f'<a href="{escape(links.document(d))}">{escape(text)}</a>（{kind}，{_size(d.size)}）'


def powers_page(docs: Sequence[PublicPowers], links: Links) -> str:
    """权责清单与执法流程: each document's current version with its download, and its older versions."""
    parts = ["<h1>权责清单与执法流程</h1>\n",
             "<p>本机关依法公示的行政执法职责、权限、依据和程序。每份文件公示其现行版本，历史版本附后。</p>\n"]
    if docs:
        parts.append('<table><caption>现行版本</caption><thead><tr><th scope="col">名称</th><th scope="col">类别</th>'
                     '<th scope="col">执法单位</th><th scope="col">版本</th><th scope="col">发布日期</th>'
                     '<th scope="col">下载</th></tr></thead><tbody>\n')
        for p in docs:
            d = p.current
            parts.append(f"<tr><td>{escape(d.title)}</td><td>{escape(d.kind)}</td><td>{escape(d.unit)}</td>"
                         f"<td>第 {d.version} 版</td><td>{_date(d.uploaded_on)}</td>"
                         f"<td>{_doc_link(d, links, d.file_name)}</td></tr>\n")
        parts.append("</tbody></table>\n")
        older = [p for p in docs if p.history]
        if older:
            parts.append("<h2>历史版本</h2>\n<ul>\n")
            for p in older:
                items = "".join(f"<li>第 {h.version} 版（{_date(h.uploaded_on)}）：{_doc_link(h, links, h.file_name)}"
                                "</li>" for h in p.history)
                parts.append(f"<li>{escape(p.current.unit)}：{escape(p.current.title)}<ul>{items}</ul></li>\n")
            parts.append("</ul>\n")
    else:
        parts.append("<p>尚未公示文件。</p>\n")
    return _layout("权责清单与执法流程", "".join(parts), links)


def not_found(links: Links) -> str:
    return _layout("未找到", "<h1>未找到该公示</h1>\n<p>请核对公示编号，或返回公示列表查询。</p>\n"
                   f'<p><a href="{escape(links.home)}">返回公示列表</a></p>\n', links)


# ---------------------------------------------------------------------------- annual figures (年度行政执法数据)


@dataclass(frozen=True)
class PublicFigures:
    """One unit's approved figures of one year: the agency's name, the day they were approved, and the
    snapshot as approved (``publication.figures.Figures.to_dict``); the page shows names and counts,
    never a unit's code or any row id."""

    agency: str
    year: int
    approved_on: dt.date
    figures: dict[str, Any]


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def _count_table(caption: str, head: str, rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return f"<p>{escape(caption)}：无</p>\n"
    body = "".join(f"<tr><td>{escape(str(r['label']))}</td><td>{int(r['count'])}</td></tr>\n" for r in rows)
    return (f'<table><caption>{escape(caption)}</caption><thead><tr><th scope="col">{escape(head)}</th>'
            f'<th scope="col">数量</th></tr></thead><tbody>\n{body}</tbody></table>\n')


def figures_index_page(items: Sequence[PublicFigures], links: Links) -> str:
    """The years whose figures were approved, newest first, each with the units that approved them."""
    parts = ["<h1>年度行政执法数据</h1>\n"]
    if not items:
        parts.append("<p>尚未公开年度行政执法数据。</p>\n")
    else:
        parts.append('<table><caption>已公开的年度数据</caption><thead><tr><th scope="col">年度</th>'
                     '<th scope="col">执法机关</th><th scope="col">公开日期</th></tr></thead><tbody>\n')
        for f in items:
            parts.append(f'<tr><td><a href="{escape(links.figures_year(f.year))}">{f.year}年</a></td>'
                         f"<td>{escape(f.agency)}</td><td>{_date(f.approved_on)}</td></tr>\n")
        parts.append("</tbody></table>\n")
    return _layout("年度行政执法数据", "".join(parts), links)


def figures_year_page(year: int, items: Sequence[PublicFigures], links: Links) -> str:
    """The approved figures of ``year``, one section per unit."""
    parts = [f"<h1>{year}年度行政执法数据</h1>\n"]
    if not items:
        parts.append(f"<p>{year}年度的行政执法数据尚未公开。</p>\n")
    for f in items:
        d = f.figures
        a, r, c = d["amounts"], d["reviews"], d["coverage"]
        rows = (("执法决定总数", f"{int(d['decisions'])} 件"),
                ("罚没金额合计", f"{_yuan(int(a['total_fen']))} 元（{int(a['stated'])} 件决定载明金额；"
                 f"{int(a['not_stated'])} 件未填写金额；{int(a['unknown'])} 件金额未知，未计入）"),
                ("法制审核", f"{int(r['rounds'])} 件（已审结 {int(r['decided'])} 件，超期 {int(r['overdue'])} 件）"),
                ("全过程记录核查", f"{int(c['cases'])} 件案件，音像记录完整 {int(c['ok'])} 件，有缺失 {int(c['flagged'])} 件"),
                ("执法决定公示", f"{int(d['notices'])} 件"),
                ("统计截至", escape(str(d["as_of"]))), ("公开日期", _date(f.approved_on)))
        parts.append(f"<section><h2>{escape(f.agency)}</h2>\n<dl>\n"
                     + "".join(f"<dt>{k}</dt><dd>{v}</dd>\n" for k, v in rows) + "</dl>\n")
        parts.append(_count_table("按决定种类", "决定种类", d["by_kind"]))
        parts.append(_count_table("按执法类别", "执法类别", d["by_category"]))
        parts.append(_count_table("法制审核结论", "审核结论", r["by_outcome"]))
        parts.append(_count_table("公示情况", "公示情况", d["by_status"]))
        parts.append("</section>\n")
    parts.append(f'<p><a href="{escape(links.figures)}">返回年度数据列表</a></p>\n')
    return _layout(f"{year}年度行政执法数据", "".join(parts), links)
