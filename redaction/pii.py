"""Personal data in Chinese text (个人信息识别): one place that finds and masks it, no database, no I/O.

:func:`find` returns :class:`Finding` values (kind, start, end, text, detail) sorted by position and
never overlapping; where two candidates overlap the longer one wins, and at equal length the more
specific kind (the order of :data:`PRIORITY`). :func:`mask` replaces each finding by a masked form
that leaves nothing of it readable to :func:`find`; :func:`natural_name` masks a person's name
(张某 / 张* / as written) for publication.

What is found
-------------
- ``id_number``: 18-character resident ID (GB 11643-1999): a plausible province code (11–15, 21–23,
  31–37, 41–46, 50–54, 61–65, 71, 81–83), a real birth date from 1900-01-01 up to today, and the
  ISO 7064 MOD 11-2 check character (``X`` or ``x`` for 10). Optional single spaces in 6-8-4 groups.
  15-digit IDs of before 1999 (no check digit: province code and a real 19YYMMDD date) are found
  too, with ``detail="15"``: they carry no checksum, so a person may drop them as false findings.
- ``mobile``: ``1[3-9]`` + 9 digits, optionally ``+86``/``＋86``/``0086`` in front, spaces or hyphens
  between the 3-4-4 groups.
- ``landline``: an area code (``010``, ``02x``, ``0xxx``) then a 7 or 8 digit number not starting
  with 0 or 1, written ``010-87654321``, ``(010)87654321``, ``（0571）8765432``, ``010 87654321`` or
  run together, optionally an extension (``转801``, ``分机801``, ``-801``, ``#801``, ``ext801``). A
  number without an area code is not found (it cannot be told from other 7–8 digit numbers).
- ``bank_card``: 16–19 digits passing the Luhn check, with an issuer prefix of the networks seen
  here (62/60 UnionPay, 4 Visa, 51–55 and 22–27 Mastercard, 35 JCB, 9 for the old 19-digit domestic cards),
  run together or in groups of four separated by single spaces.
- ``plate``: a province abbreviation, the issuing letter, an optional ``·``, then five characters
  (letters without I and O, at least three digits, the last may be 挂 学 警 港 澳 领), or six for
  new-energy plates (``D12345``, ``12345D``; D A B C E F G H J K); embassy plates ``使123456``.
- ``address``: a heuristic. The anchor is a road or estate word followed by a house number
  (``…路88号``, ``…街5号``, ``…巷``, ``…弄``, ``…胡同``, ``…道``, ``…里``, ``…村``, ``…组``,
  ``…小区3号楼``, ``…花园``, ``…公寓``, ``…大厦``, ``…家园``, ``…苑``); from there it takes the
  road name backwards (up to 12 Han characters or digits, stopping at punctuation, a lead word such
  as 住/住所地/地址/位于 or an administrative suffix) and the administrative levels before it (a
  province name, then names ending in 省 自治区 市 州 盟 地区 区 县 旗 镇 乡, each at most 11 characters),
  and forwards the building, unit, floor and room (``3号楼1单元502室``, ``3-1-502``, ``A座``).
  ``detail`` holds the administrative levels kept apart by ``|`` (``北京市|朝阳区``), so :func:`mask`
  can keep them. NOT caught: an address with no house number (``北京市朝阳区建国路``), a village
  with only a group number (``张村3组``), rural addresses written without road words, addresses
  in words (``八十八号``) or full-width digits, and a road name longer than 12 characters.
- ``email``: ``local@domain.tld``.

Never found: invalid IDs (check character, date, region), digit runs longer than a kind allows
(20-digit order numbers: every kind is bounded by ``(?<![0-9A-Za-z])…(?![0-9A-Za-z])``; Python's
``\\b`` does not separate Han characters from digits, so it is used nowhere), amounts, dates,
document numbers (京朝市监罚〔2024〕123号) and unified social credit codes (GB 32100, 18 characters
with their own check character). Credit codes are detected as ``credit_code`` only so that nothing
inside them is taken for an ID; :func:`find` leaves them out unless asked for ``credit_code``.
An 18-digit run that passes as an ID (region, date, check digit) or as a card (issuer prefix, Luhn)
is that, even where it is also a valid all-digit credit code: one valid ID or card in 31 is, and
the other choice would leave those readable. The price: an all-digit credit code of a social
organisation (51…–53…) that passes Luhn is masked as a card. Company codes (91…) never are: no
card of 18 digits starts with 9.

Speed
-----
Python's regular-expression engine skips ahead in C only while a pattern begins with a literal or a
character set. So there is one pre-filter per family that begins with its anchor set: digit runs
(``[0-9]`` then digits, letters, spaces, hyphens, brackets, 转/分机, one set), ``@`` for e-mail, a province
character for plates, a road or estate word followed by digits for addresses. Only around those few
candidates does the exact pattern of each kind run (``pattern.finditer(text, pos, endpos)`` on a
small window), and the checks (checksum, date, Luhn) are Python. ``bench/pii.py`` measures it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

KINDS = ("id_number", "mobile", "landline", "bank_card", "plate", "address", "email")
ALL = KINDS
CREDIT_CODE = "credit_code"
# at equal length, the earlier kind wins an overlap
PRIORITY = ("id_number", "bank_card", CREDIT_CODE, "mobile", "landline", "email", "plate", "address")
STYLES = ("stars", "full")
ADDRESS_KEEP = ("district", "city", "none")
NAME_STYLES = ("surname", "star", "full")


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal data: ``text == source[start:end]``; ``detail`` says what was checked
    (``"15"`` for an old ID, the administrative levels of an address)."""

    kind: str
    start: int
    end: int
    text: str
    detail: str = ""


def _at(f: Finding) -> tuple[int, int]:
    return f.start, f.end


# -- checks -------------------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
                       50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83})


def id_check_char(first17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character of the first 17 digits."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _date(y: int, m: int, d: int, today: dt.date) -> dt.date | None:
    try:
        born = dt.date(y, m, d)
    except ValueError:
        return None
    return born if dt.date(1900, 1, 1) <= born <= today else None


def valid_id(number: str, today: dt.date | None = None) -> bool:
    """An 18-character resident ID: province, birth date (not in the future) and check character."""
    n = number.upper()
    if len(n) != 18 or not n[:17].isdigit() or not (n[17].isdigit() or n[17] == "X"):
        return False
    if int(n[:2]) not in PROVINCES:
        return False
    if _date(int(n[6:10]), int(n[10:12]), int(n[12:14]), today or dt.date.today()) is None:
        return False
    return id_check_char(n[:17]) == n[17]


def valid_old_id(number: str, today: dt.date | None = None) -> bool:
    """A 15-digit ID of before 1999: province and a real 19YYMMDD birth date (no check digit)."""
    if len(number) != 15 or not number.isdigit() or int(number[:2]) not in PROVINCES:
        return False
    return _date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]), today or dt.date.today()) is not None


def luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        v = ord(c) - 48
        if i % 2:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return total % 10 == 0


_CARD_PREFIX = re.compile(r"62|60|4|5[1-5]|2[2-7]|35|9(?=[0-9]{18}$)")  # 9: the old 19-digit domestic cards

_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUE = {c: i for i, c in enumerate(_CREDIT_CHARS)}
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def valid_credit_code(code: str) -> bool:
    """A unified social credit code (GB 32100-2015): 18 characters and its MOD 31 check character."""
    if len(code) != 18 or any(c not in _CREDIT_VALUE for c in code):
        return False
    total = sum(_CREDIT_VALUE[c] * w for c, w in zip(code[:17], _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_CHARS[(31 - total % 31) % 31] == code[17]


# -- patterns -----------------------------------------------------------------------------------

_L = r"(?<![0-9A-Za-z])"
_R = r"(?![0-9A-Za-z])"
_SEP = " \t\u00a0-"
_SEP_SET = frozenset(_SEP)

# the pre-filter: a digit, then what can continue a number-like token
# (one set, not an alternation: the engine runs a set in C; the look-behind after the first digit
# drops at once every start inside a run; shorter than 7: too short for any kind)
_CLUSTER = re.compile(r"[0-9](?<![0-9].)[0-9A-Za-z \-()（）#转分机]{6,}")
_JOIN = frozenset("+＋(（ -")  # what may stand before a number and belong to it
_PLAIN_LENGTHS = frozenset({10, 11, 12, 15, 16, 17, 18, 19})  # a bare digit run that may hold a kind
_NUMERIC: tuple[tuple[str, re.Pattern[str]], ...] = (
    (CREDIT_CODE, re.compile(_L + r"[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}" + _R)),
    ("id_number", re.compile(_L + r"[1-9][0-9]{5} ?(?:18|19|20)[0-9]{6} ?[0-9]{3}[0-9Xx]" + _R)),
    ("id_number", re.compile(_L + r"[1-9][0-9]{14}" + _R)),
    ("mobile", re.compile(r"(?:(?<![0-9A-Za-z+＋])(?:[+＋]86|0086)[ \-]?|" + _L + r")1[3-9][0-9](?:[ \-]?[0-9]{4}){2}" + _R)),
    ("landline", re.compile(r"(?:[(（]0(?:10|2[0-9]|[3-9][0-9]{2})[)）][ \-]?|" + _L + r"0(?:10|2[0-9]|[3-9][0-9]{2})[ \-]?)"
                            r"[2-9][0-9]{6,7}(?:(?:转|分机|-|#|ext\.?)[0-9]{1,6})?" + _R)),
    ("bank_card", re.compile(_L + r"(?:[0-9]{16,19}|[0-9]{4}(?: [0-9]{4}){3}(?: [0-9]{1,3})?)" + _R)),
)

_PROV_CHARS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PL = "A-HJ-NP-Z"
_PLATE = re.compile(
    rf"[{_PROV_CHARS}使](?:(?<=使)[·・. ]?[0-9]{{3}} ?[0-9]{{3}}"
    rf"|(?<![使])[{_PL}][·・. \-]?(?:[DABCEFGHJK][{_PL}0-9][0-9]{{4}}|[0-9]{{5}}[DABCEFGHJK]"
    rf"|[{_PL}0-9]{{4}}[{_PL}0-9挂学警港澳领]))" + _R)

_EMAIL_AT = re.compile(r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])")
_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")

_ROAD_WORDS = "路|街|巷|弄|胡同|道|里|村|组|小区|花园|公寓|大厦|家园|苑"
_ADDRESS_CORE = re.compile(rf"(?:{_ROAD_WORDS})[0-9]{{1,5}}(?:号楼|号院|号|弄|栋|幢|座)")
_ADDRESS_TAIL = re.compile(r"(?:[0-9]{1,5}(?:号楼|号院|号|弄|栋|幢|座|单元|层|楼|室|户)|[A-Za-z](?:座|栋|幢)"
                           r"|[0-9]{1,5}(?:-[0-9]{1,5}){1,2}(?:室|号)?)*")
_ADMIN_SUFFIX = ("自治区", "自治州", "地区", "省", "市", "州", "盟", "区", "县", "旗", "镇", "乡")
_CITY_LEVEL = ("自治区", "自治州", "地区", "省", "市", "州", "盟")
_PROVINCE_NAMES = ("北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建",
                   "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海",
                   "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门")
_PROVINCE_RE = re.compile("|".join(_PROVINCE_NAMES))
_LEAD = re.compile(r"^.*(?:户籍所在地|户籍地|住所地|居住地|经营场所|经营地址|注册地址|住址|地址|住所|现住|家住|位于|住|在|于|至|到|址|系|为|是)")
_STOP = frozenset("，,。.；;：:、（）()「」“”\"' \t\r\n　《》〔〕[]【】!！?？")
_ADMIN_LAST = frozenset("省区市州盟县旗镇乡")


def _is_han(c: str) -> bool:
    return "\u4e00" <= c <= "\u9fff"


def _address(text: str, at: int, end: int) -> Finding | None:
    """The address around an anchor ``text[at:end]`` (road or estate word + number), or None."""
    tail = _ADDRESS_TAIL.match(text, end)
    if tail is not None:
        end = tail.end()
    # the road name: Han characters or digits back to punctuation or an administrative level
    i = at
    while i > 0 and at - i < 12:
        c = text[i - 1]
        if c in _STOP or c in _ADMIN_LAST or not (_is_han(c) or c.isdigit()):
            break
        i -= 1
    name = text[i:at]
    lead = _LEAD.match(name)
    if lead is not None:
        i += lead.end()
    if i == at:
        return None
    street = i
    # administrative levels before it, each ending in a suffix
    levels: list[str] = []
    j = street
    while j > 0 and text[j - 1] in _ADMIN_LAST:
        k = j - 1
        while k > 0 and j - k < 11:
            c = text[k - 1]
            if not _is_han(c) or c in _STOP or (c in _ADMIN_LAST and j - k >= 2):
                break
            k -= 1
        seg = text[k:j]
        lead = _LEAD.match(seg[:-1])
        if lead is not None:
            seg = seg[lead.end():]
        prov = _PROVINCE_RE.search(seg, 1)  # 住所地北京市: the level starts at the province's name
        if prov is not None:
            seg = seg[prov.start():]
        if len(seg) < 2:
            break
        levels.insert(0, seg)
        j -= len(seg)
        if j != k:  # cut at a lead word or a province name: what is before is not the address
            break
    start = street - sum(len(s) for s in levels)
    return Finding("address", start, end, text[start:end], "|".join(levels))


# a bare digit run (nothing around it to join): only the patterns its length allows
_CR, _ID18, _ID15, _MOB, _TEL, _CARD = _NUMERIC
_BY_LENGTH = {10: (_TEL,), 11: (_MOB, _TEL), 12: (_TEL,), 15: (_ID15,), 16: (_CARD,), 17: (_CARD,),
              18: (_CR, _ID18, _CARD), 19: (_CARD,)}


def _numeric(text: str, ws: int, we: int, today: dt.date, out: list[Finding],
             patterns: tuple[tuple[str, re.Pattern[str]], ...] = _NUMERIC) -> None:
    for kind, pattern in patterns:
        for m in pattern.finditer(text, ws, we):
            s = m.group()
            digits = s.replace(" ", "").replace("-", "")
            if not _SEP_SET.isdisjoint(s):  # a grouped form: no digit group may run on before or after
                a, b = m.start(), m.end()
                if (a >= 2 and text[a - 1] in _SEP and text[a - 2].isdigit()) or (
                        b + 1 < len(text) and text[b] in _SEP and text[b + 1].isdigit()):
                    continue
            detail = ""
            if kind == CREDIT_CODE:
                if not valid_credit_code(s):
                    continue
            elif kind == "id_number":
                if len(digits) == 18:
                    if not valid_id(digits, today):
                        continue
                elif valid_old_id(digits, today):
                    detail = "15"
                else:
                    continue
            elif kind == "bank_card":
                if not (_CARD_PREFIX.match(digits) and luhn(digits)):
                    continue
            out.append(Finding(kind, m.start(), m.end(), s, detail))


def _resolve(found: list[Finding]) -> list[Finding]:
    """Longest first, then the more specific kind; the rest of an overlap is dropped. Candidates are
    swept in order of start into groups that overlap (almost always a group of one); only within a
    group are they compared, so the whole is linear in the number of candidates."""
    rank = {k: i for i, k in enumerate(PRIORITY)}
    found.sort(key=_at)
    out: list[Finding] = []
    i, n = 0, len(found)
    while i < n:
        j, end = i + 1, found[i].end
        while j < n and found[j].start < end:
            end = max(end, found[j].end)
            j += 1
        if j == i + 1:
            out.append(found[i])
        else:
            chosen: list[Finding] = []
            for f in sorted(found[i:j], key=lambda f: (f.start - f.end, rank[f.kind], f.start)):
                if all(f.end <= c.start or f.start >= c.end for c in chosen):
                    chosen.append(f)
            out.extend(sorted(chosen, key=_at))
        i = j
    return out


def find(text: str, kinds: Iterable[str] = ALL, *, today: dt.date | None = None) -> list[Finding]:
    """Every piece of personal data of ``kinds`` in ``text``, sorted, never overlapping.

    ``today`` bounds birth dates (default: the current date)."""
    want = frozenset(kinds)
    unknown = want - set(KINDS) - {CREDIT_CODE}
    if unknown:
        raise ValueError(f"unknown kinds: {sorted(unknown)}")
    today = today or dt.date.today()
    found: list[Finding] = []
    if want & {"id_number", "mobile", "landline", "bank_card", CREDIT_CODE}:
        ws_floor = 0
        for m in _CLUSTER.finditer(text):
            a, b = m.start(), m.end()
            before = text[a - 1] if a else ""
            if before not in _JOIN and not (before.isascii() and before.isalnum()):
                g = m.group()
                if g.isdigit():
                    if b - a in _PLAIN_LENGTHS:
                        _numeric(text, a, b, today, found, _BY_LENGTH[b - a])
                    continue  # else the common case: an order number, a date
                if g.isalnum() and g.isascii():  # a code: only a credit code or an ID ending in X
                    if b - a == 18:
                        if g[-1] in "Xx" and g[:-1].isdigit():
                            _numeric(text, a, b, today, found, (_CR, _ID18))
                        elif CREDIT_CODE in want:
                            _numeric(text, a, b, today, found, (_CR,))
                    continue
            ws = a
            while ws > ws_floor and (text[ws - 1].isascii() and text[ws - 1].isalnum() or text[ws - 1] in _JOIN):
                ws -= 1
                if a - ws > 24:
                    break
            _numeric(text, max(ws, ws_floor), b, today, found)
            ws_floor = b
    if "plate" in want:
        for m in _PLATE.finditer(text):
            serial = m.group()[2:]
            if m.group()[0] == "使" or sum(c.isdigit() for c in serial) >= 3:
                found.append(Finding("plate", m.start(), m.end(), m.group()))
    if "email" in want:
        for m in _EMAIL_AT.finditer(text):
            i = m.start()
            while i > 0 and m.start() - i < 64 and text[i - 1] in _EMAIL_LOCAL:
                i -= 1
            while i < m.start() and text[i] in ".-+%":
                i += 1
            if i < m.start():
                found.append(Finding("email", i, m.end(), text[i:m.end()]))
    if "address" in want:
        for m in _ADDRESS_CORE.finditer(text):
            f = _address(text, m.start(), m.end())
            if f is not None:
                found.append(f)
    return [f for f in _resolve(found) if f.kind in want]


# -- masking ------------------------------------------------------------------------------------

def _stars_keep(s: str, head: int, tail: int) -> str:
    """Every digit or letter of ``s`` starred except the first ``head`` and last ``tail`` of them."""
    idx = [i for i, c in enumerate(s) if c.isascii() and c.isalnum()]
    hide = set(idx[head:len(idx) - tail if tail else len(idx)])
    return "".join("*" if i in hide else c for i, c in enumerate(s))


def masked(f: Finding, *, style: str = "stars", address_keep: str = "district") -> str:
    """The masked form of one finding (``style="full"``: every character a star)."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}: one of {STYLES}")
    if address_keep not in ADDRESS_KEEP:
        raise ValueError(f"unknown address_keep {address_keep!r}: one of {ADDRESS_KEEP}")
    s = f.text
    if style == "full":
        return "*" * len(s)
    if f.kind == "id_number":
        return _stars_keep(s, 6, 4) if len(s.replace(" ", "")) == 18 else _stars_keep(s, 6, 3)
    if f.kind == "mobile":
        core = re.search(r"1[3-9][0-9][ \-]?[0-9]{4}[ \-]?[0-9]{4}$", s)
        at = core.start() if core else 0
        return s[:at] + _stars_keep(s[at:], 3, 4)
    if f.kind == "landline":
        m = re.match(r"([(（]?0(?:10|2[0-9]|[3-9][0-9]{2})[)）]?[ \-]?)([0-9]+)(.*)$", s)
        if m is None:
            return "*" * len(s)
        return m.group(1) + "*" * (len(m.group(2)) - 4) + m.group(2)[-4:] + m.group(3)
    if f.kind == "bank_card":
        return "****" + s.replace(" ", "")[-4:]
    if f.kind == "plate":
        head = 1 if s[0] == "使" else 2
        return s[:head] + "".join(c if c in "·・. -" else "*" for c in s[head:])
    if f.kind == "email":
        at = s.index("@")
        return s[0] + "***" + s[at:]
    if f.kind == "address":
        levels = [x for x in f.detail.split("|") if x] if f.detail else []
        if address_keep == "city":
            levels = [x for x in levels[:2] if x.endswith(_CITY_LEVEL)]
            while levels and not s.startswith("".join(levels)):
                levels.pop()
        elif address_keep == "none":
            levels = []
        keep = "".join(levels)
        return (keep if s.startswith(keep) else "") + "******"
    return "*" * len(s)


def mask(text: str, findings: Sequence[Finding], *, style: str = "stars", address_keep: str = "district") -> str:
    """``text`` with every finding replaced by its masked form (findings must not overlap)."""
    out: list[str] = []
    pos = 0
    for f in sorted(findings, key=_at):
        if f.start < pos:
            raise ValueError(f"overlapping findings at {f.start}")
        if text[f.start:f.end] != f.text:
            raise ValueError(f"finding {f.kind} at {f.start}..{f.end} does not match the text")
        out.append(text[pos:f.start])
        out.append(masked(f, style=style, address_keep=address_keep))
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


_COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
                      "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "百里", "呼延", "万俟", "澹台", "公羊",
                      "闻人", "赫连", "申屠", "钟离", "东郭", "太史", "濮阳", "淳于", "单于", "司空", "第五")


def natural_name(name: str, style: str = "surname") -> str:
    """A person's name for publication: ``surname`` 张某 (欧阳某), ``star`` 张* / 张** (one star per
    character hidden), ``full`` as written. A name with ``·`` (transliterated) keeps its first
    character likewise."""
    if style not in NAME_STYLES:
        raise ValueError(f"unknown name style {style!r}: one of {NAME_STYLES}")
    n = name.strip()
    if not n:
        raise ValueError("empty name")
    if style == "full":
        return n
    head = n[:2] if len(n) > 2 and n.startswith(_COMPOUND_SURNAMES) else n[0]
    if style == "surname":
        return head + "某"
    return head + "*" * max(1, len(n) - len(head))
