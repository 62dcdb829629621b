"""Personal data in Chinese text (redaction.pii): what is found, with exact spans, what is left alone,
and that a masked text gives nothing back."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redaction import pii
from redaction.pii import Finding, find, id_check_char, luhn, mask, natural_name

TODAY = dt.date(2026, 11, 26)
_CREDIT = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_W = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def make_id(region: str = "110105", born: dt.date = dt.date(1990, 3, 7), seq: str = "123") -> str:
    first = f"{region}{born:%Y%m%d}{seq}"
    return first + id_check_char(first)


def make_card(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return next(body + d for d in "0123456789" if luhn(body + d))


def make_credit(body17: str) -> str:
    total = sum(_CREDIT.index(c) * w for c, w in zip(body17, _CREDIT_W, strict=True))
    return body17 + _CREDIT[(31 - total % 31) % 31]


def spans(text: str, **kw: object) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in find(text, today=TODAY, **kw)]  # type: ignore[arg-type]


def only(text: str, kind: str, item: str) -> None:
    """``item`` is found exactly once, as ``kind``, at its exact place, and nothing else is."""
    found = find(text, today=TODAY)
    at = text.index(item)
    assert found == [Finding(kind, at, at + len(item), item, found[0].detail if found else "")], found


# -- found, with exact spans, between Han characters -------------------------------------------

def test_resident_id_between_han_characters_is_found_with_its_span() -> None:
    number = make_id()
    only(f"身份证号{number}的当事人", "id_number", number)
    x = next(make_id(seq=f"{s:03d}") for s in range(1000) if make_id(seq=f"{s:03d}").endswith("X"))
    only(f"号码{x.lower()}，已核实", "id_number", x.lower())
    only(f"号码{x}已核实", "id_number", x)
    spaced = f"{number[:6]} {number[6:14]} {number[14:]}"
    only(f"公民身份号码{spaced}。", "id_number", spaced)


def test_old_fifteen_digit_id_is_found_and_marked_as_such() -> None:
    found = find("旧身份证110105900307123换发", today=TODAY)
    assert [(f.kind, f.text, f.detail) for f in found] == [("id_number", "110105900307123", "15")]


def test_invalid_ids_are_left_alone() -> None:
    good = make_id()
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    assert spans(f"号码{wrong_check}无效") == []
    first = "11010519900230123"  # 30 February
    assert spans(f"号码{first + id_check_char(first)}无效") == []
    future = make_id(born=dt.date(2027, 1, 1))
    assert spans(f"号码{future}无效") == []
    no_region = make_id(region="990105")
    assert spans(f"号码{no_region}无效") == []
    assert spans("旧号110105901332123无效") == []  # month 13


def test_mobiles_in_all_their_writings() -> None:
    for m in ("13812345678", "+8613812345678", "+86 138 1234 5678", "0086-138-1234-5678", "＋86 19912345678",
              "138-1234-5678"):
        only(f"联系电话{m}，", "mobile", m)
    assert spans("电话13812345678和15900001111") == [("mobile", "13812345678"), ("mobile", "15900001111")]
    assert spans("电话13812345678 15900001111") == [("mobile", "13812345678"), ("mobile", "15900001111")]
    assert spans("号码12812345678无效") == []  # 12x is no mobile prefix
    assert spans("编号138123456789") == []  # twelve digits


def test_landlines_with_area_code_brackets_and_extension() -> None:
    for t in ("010-87654321", "(010)87654321", "（0571）8765432", "0571 87654321", "02187654321",
              "010-87654321转801", "0755-23456789-12", "010-87654321分机3"):
        only(f"办公电话{t}。", "landline", t)
    assert spans("号码87654321") == []  # no area code: cannot be told from other numbers


def test_bank_cards_pass_luhn_plain_or_grouped() -> None:
    rng = random.Random(7)
    for prefix, n in (("62", 16), ("62", 19), ("4", 16), ("52", 16), ("9558", 19)):
        card = make_card(prefix, n, rng)
        only(f"卡号{card}的账户", "bank_card", card)
    card = make_card("6222", 16, rng)
    grouped = " ".join(card[i:i + 4] for i in range(0, 16, 4))
    only(f"卡号：{grouped}。", "bank_card", grouped)
    card19 = make_card("6217", 19, rng)
    grouped19 = " ".join(card19[i:i + 4] for i in range(0, 19, 4))
    only(f"卡号{grouped19}转账", "bank_card", grouped19)
    bad = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert spans(f"卡号{bad}的账户") == []


def test_plates_ordinary_new_energy_and_special() -> None:
    for p in ("京A12345", "京A·12345", "沪B·D12345", "粤B12345D", "苏E·A1234", "京A1234警", "辽B1234学",
              "鲁Q1234挂", "粤Z1234港", "沪A1234领", "使014578", "新A·F1234"[:0] + "新AF12345"):
        only(f"车牌号{p}的车辆", "plate", p)
    assert spans("京朝市监罚字") == []
    assert spans("京A·BCDEF") == []  # fewer than three digits
    assert spans("(2024)京0105刑初123号") == []


def test_addresses_from_the_administrative_levels_to_the_room() -> None:
    addr = "北京市朝阳区建国路88号3号楼1单元502室"
    found = find(f"当事人住所地{addr}，现住该处", today=TODAY)
    assert [(f.kind, f.text, f.detail) for f in found] == [("address", addr, "北京市|朝阳区")]
    for a, levels in (("浙江省杭州市西湖区文三路259号", "浙江省|杭州市|西湖区"),
                      ("上海市黄浦区南京东路100弄5号601室", "上海市|黄浦区"),
                      ("建国路88号", ""),
                      ("广州市天河区阳光小区3号楼2单元1101室", "广州市|天河区"),
                      ("内蒙古自治区呼和浩特市新城区中山路12号", "内蒙古自治区|呼和浩特市|新城区")):
        found = find(f"住址：{a}。", today=TODAY)
        assert [(f.kind, f.text, f.detail) for f in found] == [("address", a, levels)], a
    assert spans("北京市朝阳区建国路") == []  # no house number: not caught (documented)


def test_email() -> None:
    only("邮箱zhang.san+case@example.com.cn联系", "email", "zhang.san+case@example.com.cn")
    assert spans("发送至@example.com") == []


# -- left alone -------------------------------------------------------------------------------

def test_order_numbers_credit_codes_amounts_dates_and_document_numbers_are_left_alone() -> None:
    credit = make_credit("91110105MA01ABCD2")
    text = (f"订单号20240305123456789012，统一社会信用代码{credit}，罚款人民币5000元，合计12,345.67元，"
            "2024年3月5日，2024-03-05，20240305，京朝市监罚〔2024〕123号，（2024）京0105行初123号，第12条第3款。")
    assert spans(text) == []
    assert spans(text, kinds=["credit_code"]) == [("credit_code", credit)]


def test_an_id_that_is_also_a_valid_credit_code_is_an_id() -> None:
    both = next(c for n in range(1000) if pii.valid_credit_code(c := make_id(seq=f"{n:03d}")))
    assert spans(f"代码{both}。") == [("id_number", both)]
    assert spans("代码91110105000000001X。".replace("1X", make_credit("91110105000000001")[-2:])) == []


def test_an_id_inside_a_longer_run_is_not_found() -> None:
    number = make_id()
    assert spans(f"流水号{number}12") == []
    assert spans(f"流水号9{number}") == []
    assert spans(f"编码A{number}") == []


# -- masking ----------------------------------------------------------------------------------

def test_masks_per_kind() -> None:
    number = make_id()
    rng = random.Random(3)
    card = make_card("6222", 19, rng)
    text = (f"身份证{number}，手机13812345678，电话010-87654321，卡号{card}，车牌京A·D12345，"
            "邮箱zhang@example.com，住北京市朝阳区建国路88号3号楼1单元502室。")
    out = mask(text, find(text, today=TODAY))
    assert out == (f"身份证{number[:6]}********{number[-4:]}，手机138****5678，电话010-****4321，卡号****{card[-4:]}，"
                   "车牌京A·******，邮箱z***@example.com，住北京市朝阳区******。")
    city = mask(text, find(text, ["address"], today=TODAY), address_keep="city")
    assert city.endswith("住北京市******。")
    full = mask(text, find(text, ["mobile"], today=TODAY), style="full")
    assert "手机***********，" in full


def test_mask_refuses_findings_that_do_not_match_the_text() -> None:
    with pytest.raises(ValueError):
        mask("电话13812345678", [Finding("mobile", 0, 2, "xx")])


def test_natural_names() -> None:
    assert natural_name("张三") == "张某"
    assert natural_name("张三丰", "star") == "张**"
    assert natural_name("张三", "star") == "张*"
    assert natural_name("欧阳修") == "欧阳某"
    assert natural_name("张三", "full") == "张三"
    with pytest.raises(ValueError):
        natural_name(" ")


# -- properties ---------------------------------------------------------------------------------

HAN = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), max_size=12)
REGIONS = st.sampled_from(sorted(pii.PROVINCES)).flatmap(
    lambda p: st.integers(0, 9999).map(lambda r: f"{p:02d}{r:04d}"))
BIRTHS = st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY)


@settings(max_examples=300, deadline=None)
@given(before=HAN, after=HAN, region=REGIONS, born=BIRTHS, seq=st.integers(0, 999))
def test_any_valid_id_between_han_text_is_found(before: str, after: str, region: str, born: dt.date,
                                                seq: int) -> None:
    number = make_id(region, born, f"{seq:03d}")
    text = before + number + after
    found = find(text, ["id_number"], today=TODAY)
    assert Finding("id_number", len(before), len(before) + 18, number) in found


@settings(max_examples=300, deadline=None)
@given(before=HAN, after=HAN, digits=st.text(alphabet="0123456789", min_size=20, max_size=40))
def test_a_run_of_twenty_or_more_digits_is_never_found(before: str, after: str, digits: str) -> None:
    assert find(before + digits + after, today=TODAY) == []


ITEMS = st.one_of(
    st.builds(lambda r, b, s: make_id(r, b, f"{s:03d}"), REGIONS, BIRTHS, st.integers(0, 999)),
    st.builds(lambda a, b: f"1{a}{b:09d}", st.sampled_from("3456789"), st.integers(0, 10**9 - 1)),
    st.builds(lambda a, d, b: f"0{a}-{d}{b:07d}", st.sampled_from(["10", "21", "571", "755"]), st.integers(2, 9),
              st.integers(0, 10**7 - 1)),
    st.builds(lambda seed, n: make_card("62", n, random.Random(seed)), st.integers(), st.integers(16, 19)),
    st.builds(lambda p, n: f"{p}A{n:05d}", st.sampled_from(list("京沪粤苏浙")), st.integers(0, 99999)),
    st.builds(lambda u: f"{u}@example.com", st.text(alphabet="abcxyz019", min_size=1, max_size=8)),
    st.builds(lambda r, n: f"{r}路{n}号", st.sampled_from(["建国", "中山", "人民"]), st.integers(1, 999)),
)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.tuples(HAN, ITEMS), min_size=1, max_size=5), tail=HAN,
       style=st.sampled_from(pii.STYLES), keep=st.sampled_from(pii.ADDRESS_KEEP))
def test_masked_text_gives_nothing_back(parts: list[tuple[str, str]], tail: str, style: str, keep: str) -> None:
    text = "，".join(h + "，" + item for h, item in parts) + "。" + tail
    found = find(text, today=TODAY)
    assert len(found) >= len(parts)
    masked = mask(text, found, style=style, address_keep=keep)
    assert find(masked, today=TODAY) == []
