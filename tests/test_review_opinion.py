"""The legal review opinion (法制审核意见书): a PDF whose Chinese text reads back with pdftotext, the same
bytes for the same data, and a refusal that says what to install when no CJK font is there."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from liuhen.config import DEFAULT_ELEMENTS
from review.catalogue import Proposal
from review.errors import ReviewError
from review.opinion import FONT_CANDIDATES, Decision, OpinionData, breaks, find_font, render, sc_face, when

LONG = ("执法记录仪录像显示，执法人员于现场出示执法证件并告知当事人陈述申辩权利；询问笔录与现场检查笔录"
        "记载的时间、地点一致，录像覆盖检查全过程，未发现中断。")
ANSWERS = ("符合", "不符合", "不适用")
OPINION = ("经审核，本案事实清楚，证据确凿充分，程序合法，但拟处罚款数额与本局裁量基准中「一般情节」的幅度不符，"
           "建议变更为罚款人民币二万元。\n请承办单位按变更后的决定制作行政处罚决定书。")


def sample() -> OpinionData:
    elements = [(element, ANSWERS[i % 3], LONG * (i % 4)) for i, element in enumerate(DEFAULT_ELEMENTS)]
    return OpinionData(
        agency="某市交通运输综合行政执法支队", case_number="LH-2026-000123", case_title="张某某未取得道路运输经营许可从事经营案",
        case_category="道路运输", round_no=2, submitted_by="李明（liming）",
        submitted_at=datetime(2026, 11, 20, 1, 15, tzinfo=UTC), handling_unit="第一执法大队",
        proposed=Decision.of(Proposal(decision_kind="罚款", content="对当事人处以罚款人民币三万元。",
                                      legal_basis="《中华人民共和国道路运输条例》第六十三条", discretion="一般情节",
                                      amount_fen=3_000_000)),
        outcome="变更", changed=Decision(kind="罚款", content="对当事人处以罚款人民币二万元。", amount="20,000.00 元"),
        opinion=OPINION, elements=elements, reviewer_name="王审核", reviewer_account="wangsh",
        decided_at=datetime(2026, 11, 26, 2, 30, tzinfo=UTC), documents=40, recordings=60,
        materials_sha256="3f" * 32, generator="留痕 liuhen 0.1.0")


def pdftotext(pdf: bytes, tmp: Path) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.fail("pdftotext is not installed; run `make setup` (apt-get install -y poppler-utils)")
    path = tmp / "opinion.pdf"
    path.write_bytes(pdf)
    return subprocess.run([exe, "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def squeeze(text: str) -> str:
    """Without white space: pdftotext breaks lines, lays columns out with spaces and drops the narrow
    spaces between CJK characters."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def opinion() -> bytes:
    return render(sample())


def test_opinion_text_reads_back_in_chinese(opinion: bytes, tmp_path: Path) -> None:
    text = pdftotext(opinion, tmp_path)
    flat = squeeze(text)
    data = sample()
    assert opinion.startswith(b"%PDF-")
    for needle in ("法制审核意见书", data.case_number, data.case_title, "审核结论变更", data.reviewer_name,
                   "审核人：王审核（wangsh）", "日期：2026年11月26日10:30", "提请时间2026年11月20日09:15",
                   squeeze(data.opinion), "对当事人处以罚款人民币二万元。", "30,000.00元", "20,000.00元",
                   data.materials_sha256, "留痕liuhen0.1.0"):
        assert needle in flat, needle
    # every element with its answer: the row in the layout puts the answer after the element's name
    # (-layout prints a long comment's lines beside the row's middle, so the comment reads whole once
    # the element names and answer words are taken out of the text)
    lines = text.splitlines()
    body = flat
    for word in (*DEFAULT_ELEMENTS, *ANSWERS):
        body = body.replace(word, "")
    for element, answer, comment in data.elements:
        row = [ln for ln in lines if re.search(rf"^\s*{re.escape(element)}\s", ln)]
        assert len(row) == 1 and row[0].split()[1] == answer, (element, row)
        assert squeeze(comment) in body, element
    # long comments make several pages, each numbered of the total
    pages = text.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 2
    for n, page in enumerate(pages, start=1):
        assert f"第{n}页共{len(pages)}页" in squeeze(page)


def test_same_data_same_bytes(opinion: bytes) -> None:
    assert render(sample()) == opinion
    assert b"/CreationDate (D:20261126023000Z)" in opinion  # the decision time, not the clock


def test_missing_font_is_refused_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ReviewError) as e:
        render(sample(), font=tmp_path / "no-such-font.ttc")
    assert "no-such-font.ttc" in e.value.detail and "fonts-noto-cjk" in e.value.action
    assert "[review] font" in e.value.action
    with pytest.raises(ReviewError) as e:
        find_font([tmp_path / "a.ttc", tmp_path / "b.otf"])
    assert "fonts-noto-cjk" in e.value.action


def test_a_file_that_is_not_a_font_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.ttc"
    bogus.write_bytes(b"not a font at all" * 10)
    with pytest.raises(ReviewError) as e:
        render(sample(), font=bogus)
    assert "bogus.ttc" in e.value.detail


def test_collection_face_is_simplified_chinese() -> None:
    path = find_font()
    assert path in FONT_CANDIDATES
    if "NotoS" in path.name and path.suffix == ".ttc":
        assert sc_face(path) == 2  # Noto CJK: JP, KR, SC, TC, HK


def test_data_is_checked() -> None:
    data = sample()
    with pytest.raises(ReviewError, match="变更"):
        replace(data, changed=None)
    with pytest.raises(ReviewError, match="变更"):
        replace(data, outcome="同意")
    with pytest.raises(ReviewError, match="Unknown outcome"):
        replace(data, outcome="通过", changed=None)
    with pytest.raises(ReviewError, match="主体合法"):
        replace(data, elements=[("主体合法", "是", "")])
    with pytest.raises(ReviewError, match="naive"):
        replace(data, decided_at=datetime(2026, 11, 26, 10, 30))
    with pytest.raises(ReviewError, match="time zone"):
        replace(data, tz="Mars/Olympus")
    assert replace(data, outcome="补充材料", changed=None).outcome == "补充材料"
    assert when(datetime(2026, 3, 5, 16, 5, tzinfo=UTC)) == "2026年3月6日 00:05"


def test_a_character_the_font_lacks_is_refused_not_boxed() -> None:
    with pytest.raises(ReviewError) as e:
        render(replace(sample(), opinion="见附件\U000F0001"))  # a private-use character no font draws
    assert "\U000F0001" in e.value.detail and "[review] font" in e.value.action


def test_lines_never_begin_with_a_closing_mark_nor_end_with_an_opening_one() -> None:
    def one(ch: str) -> float:  # every character one unit wide
        return 1.0

    assert breaks("甲乙丙丁戊己", 3, one) == ["甲乙丙", "丁戊己"]
    assert breaks("甲乙丙。丁戊", 3, one) == ["甲乙", "丙。丁", "戊"]  # 。 goes down with 丙
    assert breaks("甲乙丙」。丁", 4, one) == ["甲乙", "丙」。丁"]  # two closing marks: both go down
    assert breaks("甲乙《丙丁》", 3, one) == ["甲乙", "《丙", "丁》"]  # 《 goes down, 丁 with 》
    assert breaks("第一段\n第二段很长", 3, one) == ["第一段", "第二段", "很长"]
    assert breaks("。。。。", 2, one) == ["。。", "。。"]  # marks only: broken where it falls
    text = LONG * 3 + OPINION
    for line in breaks(text, 17, one):
        assert len(line) <= 17
        assert line[:1] not in "，。、；：？！）》」" and line[-1:] not in "（《「"
    assert "".join(breaks(text, 17, one)) == text.replace("\n", "")
