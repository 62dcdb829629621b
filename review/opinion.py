"""The legal review opinion (法制审核意见书) as a PDF whose Chinese text can be read back.

``render(data)`` lays out one round's outcome on A4: the case, the proposed decision, the element
checklist (要素 | 审核结论 | 说明) with long comments wrapped, the outcome (and the changed decision
for 变更), the opinion, the pinned materials, and the reviewer's signature line; every page carries
"第 N 页 共 M 页" and the archive's identity line.

The text is real text, not pictures: fpdf2 embeds a subset of a CJK font with a ToUnicode map, so
``pdftotext`` (and a person's copy-paste) gets the characters back. The font is ``[review] font`` when
set, else the first CJK font found on the system (Debian's fonts-noto-cjk first); a collection
(.ttc) is read by name to pick its Simplified Chinese face. A character the font lacks is refused
with its name, never drawn as an empty box.

The same data gives the same bytes: the PDF's creation date is the decision time, and nothing else
in the file depends on the clock or on chance, so a stored opinion can be rendered again and
compared byte for byte."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fontTools.ttLib import TTCollection, TTFont, TTLibError
from fpdf import FPDF
from fpdf.enums import Align, WrapMode, XPos, YPos
from fpdf.fonts import FontFace, TTFFont

from liuhen.config import OUTCOMES
from liuhen.words import said
from review.catalogue import Proposal, yuan
from review.errors import ReviewError

TITLE = "法制审核意见书"
ANSWERS: tuple[str, ...] = ("符合", "不符合", "不适用")

# Where CJK fonts live, most wanted first: Debian/Ubuntu fonts-noto-cjk, Fedora/Arch Noto CJK,
# Noto's single-face Simplified Chinese files, WenQuanYi, AR PL, then macOS and Windows.
FONT_CANDIDATES: tuple[Path, ...] = tuple(Path(p) for p in (
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-serif-cjk-fonts/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-sans-cjk-fonts/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifSC-Regular.otf",
    "/usr/share/fonts/opentype/noto/NotoSansSC-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/Supplemental/Songti.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/simsun.ttc",
    "C:/Windows/Fonts/msyh.ttc",
))

_FONT_HINT = ("安装中文字体：apt-get install fonts-noto-cjk（Fedora：google-noto-serif-cjk-fonts），或在 config.toml "
              "的 [review] font 指定一个 CJK 字体文件 / Install a CJK font (Debian/Ubuntu: apt-get install "
              "fonts-noto-cjk; Fedora: google-noto-serif-cjk-fonts) or set [review] font in config.toml to a "
              "CJK TrueType/OpenType font file.")


@dataclass(frozen=True)
class Decision:
    """A decision as the document prints it: the proposed one, or the changed one for 变更."""

    kind: str
    content: str
    legal_basis: str = ""
    discretion: str = ""
    amount: str = ""  # as people read it, e.g. "12,000.00 元"; empty: no amount

    @classmethod
    def of(cls, proposal: Proposal) -> Decision:
        return cls(kind=proposal.decision_kind, content=proposal.content, legal_basis=proposal.legal_basis,
                   discretion=proposal.discretion, amount=yuan(proposal.amount_fen))


@dataclass(frozen=True)
class OpinionData:
    """Everything the opinion prints; nothing else goes into the file."""

    agency: str  # the reviewing agency or unit, printed above the title
    case_number: str  # 统一登记编号
    case_title: str
    case_category: str
    round_no: int
    submitted_by: str
    submitted_at: datetime  # aware
    handling_unit: str
    proposed: Decision
    outcome: str  # one of liuhen.config.OUTCOMES
    opinion: str
    elements: Sequence[tuple[str, str, str]]  # (element, 符合/不符合/不适用, comment, may be empty)
    reviewer_name: str
    reviewer_account: str
    decided_at: datetime  # aware; printed in Asia/Shanghai
    documents: int  # pinned text-record versions
    recordings: int  # pinned linked recordings
    materials_sha256: str
    generator: str  # the archive's identity line, e.g. "留痕 liuhen 0.1.0"
    changed: Decision | None = None  # the changed decision, for 变更 only
    tz: str = "Asia/Shanghai"  # the zone the times are printed in

    def __post_init__(self) -> None:
        object.__setattr__(self, "elements", tuple((e, a, c) for e, a, c in self.elements))
        if self.outcome not in OUTCOMES:
            raise ReviewError(said(f"审核结论「{self.outcome}」无效", f"Unknown outcome {self.outcome!r}."),
                              said("请使用以下之一：" + "、".join(OUTCOMES) + "。", "Use one of: " + "、".join(OUTCOMES) + "."))
        if (self.outcome == "变更") != (self.changed is not None):
            raise ReviewError(said("变更的意见书必须且只能载明变更后的决定", "A 变更 opinion needs the changed decision, "
                                   "and only a 变更 opinion has one."),
                              said("结论为「变更」时请给出变更后的决定，其他结论不要给出。",
                                   "Give the changed proposal with outcome 变更, and none with any other outcome."))
        for element, answer, _ in self.elements:
            if answer not in ANSWERS:
                raise ReviewError(said(f"要素「{element}」的审核结论「{answer}」无效", f"The answer {answer!r} to "
                                       f"{element!r} is not one of {'/'.join(ANSWERS)}."),
                                  said("请对每个要素作出 符合、不符合 或 不适用 的结论。", "Answer every element with 符合, 不符合 or 不适用."))
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ReviewError(said(f"时区「{self.tz}」无效", f"Unknown time zone {self.tz!r}."),
                              said("请给出 IANA 时区名称，例如 Asia/Shanghai。", "Give an IANA zone name, e.g. Asia/Shanghai.")) from e
        for name, moment in (("decided_at", self.decided_at), ("submitted_at", self.submitted_at)):
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ReviewError(said(f"{name} 缺少时区", f"{name} is a naive datetime."),
                                  said("请传入带时区的时间（例如 datetime.now(UTC)）。", "Pass an aware datetime (e.g. datetime.now(UTC))."))


def when(moment: datetime, tz: str = "Asia/Shanghai") -> str:
    """2026年11月26日 10:30, in the given zone."""
    t = moment.astimezone(ZoneInfo(tz))
    return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"


def find_font(candidates: Sequence[Path] = FONT_CANDIDATES) -> Path:
    """The first CJK font file that exists among ``candidates``."""
    for path in candidates:
        if path.is_file():
            return path
    raise ReviewError(said("找不到中文字体，无法生成法制审核意见书", "No CJK font found for the review opinion PDF "
                           f"(looked for {', '.join(str(p) for p in candidates) or 'nothing'})."), _FONT_HINT)


def sc_face(path: Path) -> int:
    """The index of the Simplified Chinese face in a font collection (.ttc/.otc), read from the names
    (Noto CJK puts JP first, SC third); 0 for a single font or a collection without a recognisable SC
    face."""
    if path.suffix.lower() not in (".ttc", ".otc"):
        return 0
    try:
        collection = TTCollection(str(path), lazy=True)
    except (TTLibError, OSError, ValueError) as e:
        raise ReviewError(said(f"字体文件 {path} 无法读取", f"The font file {path} cannot be read: {e}."), _FONT_HINT) from e
    try:
        names = [_family(face) for face in collection.fonts]
    finally:
        collection.close()
    for marks in ((" SC",), ("SC",), (" CN", "GB", "Simplified", "SimSun", "宋体", "简")):
        for i, name in enumerate(names):
            if "Mono" not in name and any(m in name for m in marks):
                return i
    return 0


def _family(face: TTFont) -> str:
    table = face["name"]
    return str(table.getDebugName(16) or table.getDebugName(1) or "")


# 避头尾: marks that never begin a line, and marks that never end one
NO_START = "，。、；：？！）》」』】〕〉”’…％‰,.;:?!)]}%"
NO_END = "（《「『【〔〈“‘([{"


def breaks(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """``text`` in lines no wider than ``width`` (by ``measure``), broken between any two characters as
    Chinese is, but never with a closing mark at the start of a line (the character before it goes
    down with it) nor an opening mark at the end of one. Line breaks in ``text`` are kept."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line, used = "", 0.0
        for ch in paragraph:
            w = measure(ch)
            if line and used + w > width:
                cut = len(line)
                if ch in NO_START:
                    cut -= 1
                    while cut > 0 and line[cut] in NO_START:
                        cut -= 1
                while cut > 0 and line[cut - 1] in NO_END:
                    cut -= 1
                if cut <= 0:  # a line of marks only: break where it falls
                    cut = len(line)
                lines.append(line[:cut])
                line = line[cut:]
                used = sum(measure(c) for c in line)
            line += ch
            used += w
        lines.append(line)
    return lines


class _Opinion(FPDF):
    """A4 with the page footer: the identity line and 第 N 页 共 M 页."""

    def __init__(self, generator: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.generator = generator

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("cjk", size=8)
        self.set_text_color(110)
        self.cell(0, 6, self.generator, align=Align.L)
        self.set_x(self.l_margin)
        self.cell(0, 6, f"第 {self.page_no()} 页 共 {{nb}} 页", align=Align.R)
        self.set_text_color(0)


def _texts(data: OpinionData) -> list[str]:
    out = [TITLE, data.agency, data.case_number, data.case_title, data.case_category, data.submitted_by,
           data.handling_unit, data.outcome, data.opinion, data.reviewer_name, data.reviewer_account,
           data.materials_sha256, data.generator, when(data.decided_at, data.tz), _LABELS]
    for d in (data.proposed, data.changed):
        if d is not None:
            out += [d.kind, d.content, d.legal_basis, d.discretion, d.amount]
    for row in data.elements:
        out += list(row)
    return out


# every fixed word the layout prints, so the font is checked for them too
_LABELS = ("统一登记编号案件名称类别承办单位提请人时间审核轮次第轮一二三四五六、拟作出的决定种类内容法律依据裁量基准金额"
           "要素结论说明意见变更后材料文书份录像段人日期页共年月：（）·SHA-0123456789")


def _check_glyphs(pdf: FPDF, path: Path, data: OpinionData) -> None:
    face = pdf.fonts["cjk"]
    cmap = face.cmap if isinstance(face, TTFFont) else {}  # codepoint -> glyph of the face in use
    missing = sorted({ch for text in _texts(data) for ch in text if not ch.isspace() and ord(ch) not in cmap})
    if missing:
        raise ReviewError(said(f"字体 {path} 缺少这些字：{''.join(missing)}", f"The font {path} has no glyph for "
                               f"{''.join(missing)!r}."), _FONT_HINT)


def render(data: OpinionData, *, font: Path | None = None) -> bytes:
    """The opinion as PDF bytes; the same data and font give the same bytes."""
    path = font if font is not None else find_font()
    if not path.is_file():
        raise ReviewError(said(f"字体文件 {path} 不存在", f"The font file {path} does not exist."), _FONT_HINT)
    pdf = _Opinion(data.generator)
    try:
        pdf.add_font("cjk", "", str(path), collection_font_number=sc_face(path))
    except (TTLibError, OSError, ValueError, KeyError) as e:
        raise ReviewError(said(f"字体文件 {path} 无法使用", f"The font file {path} cannot be used: {e}."), _FONT_HINT) from e
    face = pdf.fonts["cjk"]
    if isinstance(face, TTFFont):
        # the subset keeps the whole face's bounding boxes (a box around every glyph is still a box
        # around the few used) instead of measuring each glyph's outline again: half the time of a render
        face.ttfont.recalcBBoxes = False
    _check_glyphs(pdf, path, data)
    pdf.set_creation_date(data.decided_at)
    pdf.set_title(f"{TITLE} {data.case_number} 第{data.round_no}轮")
    pdf.set_subject(data.case_title)
    pdf.set_author(data.agency)
    pdf.set_creator(data.generator)
    pdf.set_lang("zh-CN")
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(auto=True, margin=22)
    pdf.add_page()
    _Layout(pdf, data).write()
    return bytes(pdf.output())


# the tables' columns in mm, adding up to the text width of A4 within 20 mm margins (170 mm); the text
# inside a cell keeps _PAD mm from its borders
_PAIR_COLS = (32.0, 138.0)  # label | value
_ELEMENT_COLS = (42.0, 22.0, 106.0)  # 审核要素 | 审核结论 | 说明
_PAD = 1.5


class _Layout:
    """The body of the document, top to bottom."""

    def __init__(self, pdf: FPDF, data: OpinionData) -> None:
        self.pdf = pdf
        self.data = data

    def write(self) -> None:
        pdf, d = self.pdf, self.data
        pdf.set_font("cjk", size=12)
        pdf.cell(0, 7, d.agency, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("cjk", size=20)
        pdf.cell(0, 13, TITLE, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("cjk", size=10)
        pdf.cell(0, 6, f"{d.case_number} · 第 {d.round_no} 轮", align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
        self.pairs([("统一登记编号", d.case_number), ("案件名称", d.case_title), ("案件类别", d.case_category),
                    ("承办单位", d.handling_unit), ("提请人", d.submitted_by),
                    ("提请时间", when(d.submitted_at, d.tz)), ("审核轮次", f"第 {d.round_no} 轮")])
        self.heading("一、拟作出的决定")
        self.pairs(self.decision(d.proposed))
        self.heading("二、审核要素")
        self.elements()
        self.heading("三、审核结论")
        self.pairs([("审核结论", d.outcome)])
        if d.changed is not None:
            self.paragraph("变更后的决定：")
            self.pairs(self.decision(d.changed))
        self.heading("四、审核意见")
        self.paragraph(d.opinion)
        self.heading("五、审核材料")
        self.pairs([("文书", f"{d.documents} 份"), ("录像", f"{d.recordings} 段"),
                    ("材料 SHA-256", d.materials_sha256)], small={"材料 SHA-256"})
        self.signature()

    @staticmethod
    def decision(x: Decision) -> list[tuple[str, str]]:
        rows = [("决定种类", x.kind), ("决定内容", x.content)]
        rows += [(k, v) for k, v in (("法律依据", x.legal_basis), ("裁量基准", x.discretion), ("金额", x.amount)) if v]
        return rows

    def heading(self, text: str) -> None:
        self.pdf.ln(4)
        self.pdf.set_font("cjk", size=13)
        self.pdf.cell(0, 8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.set_font("cjk", size=10.5)

    def wrap(self, text: str, width: float) -> str:
        """``text`` broken for a box ``width`` wide (less a hair, so fpdf never breaks it again)."""
        return "\n".join(breaks(text, width - 0.3, self.pdf.get_string_width))

    def paragraph(self, text: str) -> None:
        pdf = self.pdf
        pdf.set_font("cjk", size=10.5)
        pdf.multi_cell(0, 6, self.wrap(text, pdf.epw - 2 * pdf.c_margin), align=Align.L, wrapmode=WrapMode.CHAR,
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def pairs(self, rows: Sequence[tuple[str, str]], *, small: Collection[str] = ()) -> None:
        """Label | value rows, the value wrapped (in a smaller size for the labels in ``small``: a
        digest fits on one line)."""
        pdf = self.pdf
        pdf.set_font("cjk", size=10.5)
        with pdf.table(col_widths=_PAIR_COLS, first_row_as_headings=False, wrapmode=WrapMode.CHAR,
                       line_height=6, padding=_PAD, text_align=(Align.L, Align.L)) as table:
            for label, value in rows:
                row = table.row()
                row.cell(label, style=FontFace(fill_color=(238, 238, 238)))
                if label in small:
                    row.cell(value, style=FontFace(size_pt=8.5))
                else:
                    row.cell(self.wrap(value, _PAIR_COLS[1] - 2 * _PAD))

    def elements(self) -> None:
        """The checklist: 审核要素 | 审核结论 | 说明, headings repeated on every page it spans."""
        pdf = self.pdf
        pdf.set_font("cjk", size=10.5)
        with pdf.table(col_widths=_ELEMENT_COLS, wrapmode=WrapMode.CHAR, line_height=6, padding=_PAD,
                       headings_style=FontFace(emphasis="", fill_color=(225, 225, 225)),
                       text_align=(Align.L, Align.C, Align.L)) as table:
            head = table.row()
            for text in ("审核要素", "审核结论", "说明"):
                head.cell(text)
            for element, answer, comment in self.data.elements:
                row = table.row()
                row.cell(element)
                row.cell(answer)
                row.cell(self.wrap(comment, _ELEMENT_COLS[2] - 2 * _PAD))

    def signature(self) -> None:
        pdf, d = self.pdf, self.data
        pdf.ln(10)
        pdf.set_font("cjk", size=11)
        if pdf.will_page_break(16):
            pdf.add_page()
        pdf.cell(0, 8, f"审核人：{d.reviewer_name}（{d.reviewer_account}）", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.cell(0, 8, f"日期：{when(d.decided_at, d.tz)}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
