#!/usr/bin/env python3
"""Personal-data detection (``redaction.pii.find``) against a plain digit scan, in the same run.

Generates ``--mb`` MB (UTF-8, MB = 10^6 bytes) of Chinese administrative decision text — parties,
facts, dates, amounts, document numbers, order numbers, credit codes, articles of law — with
personal data planted at known places (IDs with correct check digits, mobiles, landlines, Luhn-valid
cards, plates, addresses, e-mails; one after every ``--every`` sentences, by default 8: about one
per 440 characters), then times, ``--repeat`` rounds
in a rotated order:

* ``digits``: ``sum(1 for _ in re.finditer(r"\\d+", text))`` — the floor any detector of numbers pays;
* ``find``: ``redaction.pii.find(text)`` with every kind.

Reports the median seconds, MB/s of each, the ratio (find time ÷ digit scan time) — by the wall
clock and by the process's CPU time (steadier on a shared machine), with the load average — and checks the
findings: every planted item found at its place, nothing else found. Goal: ≥ 20 MB/s for ``find``.

    .venv/bin/python bench/pii.py                  # 50 MB, 3 rounds
    .venv/bin/python bench/pii.py --mb 5 --repeat 1 --json
    .venv/bin/python bench/pii.py --every 3          # denser: one item per ~180 characters
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redaction import pii  # noqa: E402

GOAL_MBPS = 20.0
TODAY = dt.date(2026, 11, 26)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
ROADS = ("建国路", "中山路", "人民大街", "解放路", "文三路", "南京东路", "长安街", "和平里", "幸福巷")
PLACES = (("北京市", "朝阳区"), ("上海市", "黄浦区"), ("浙江省杭州市", "西湖区"), ("广东省广州市", "天河区"),
          ("四川省成都市", "武侯区"))
FILLER = ("经查，当事人于{date}在其经营场所销售不符合食品安全标准的食品，货值金额{amount}元，违法所得{gain}元。",
          "上述事实有现场检查笔录、询问笔录、产品检验报告（编号{order}）等证据证实。",
          "当事人的行为违反了《中华人民共和国食品安全法》第{art}条第{para}款的规定。",
          "依据《中华人民共和国行政处罚法》第{art}条，本局决定：没收违法所得{gain}元，并处罚款{amount}元。",
          "本局于{date}立案调查，{date}向当事人送达《行政处罚告知书》（京朝市监罚告〔{year}〕{no}号）。",
          "统一社会信用代码{credit}，法定代表人{name}。",
          "订单号{order}，交易流水号{order}。",
          "如不服本决定，可在收到本决定书之日起六十日内向北京市朝阳区人民政府申请行政复议，或者六个月内依法向人民法院提起行政诉讼。")
# with ``decoys``: resident ID numbers whose check digit is wrong, which no detector may report (areas of
# Beijing, Tianjin, Hebei, Liaoning: no bank card network starts so, so none passes as a card either)
DECOYS = ("当事人提供的证件号{bad_id}经核查校验位不符，不予采信。",)
_CREDIT = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_W = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _credit(rng: random.Random) -> str:
    body = "9111" + f"{rng.randrange(10**4):04d}" + "MA0" + "".join(rng.choice("0123456789ABCDEF") for _ in range(6))
    total = sum(_CREDIT.index(c) * w for c, w in zip(body, _CREDIT_W, strict=True))
    return body + _CREDIT[(31 - total % 31) % 31]


def _item(rng: random.Random) -> tuple[str, str]:
    k = rng.randrange(7)
    if k == 0:
        born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000))
        first = f"{rng.choice([110105, 310101, 330106, 440106, 510107])}{born:%Y%m%d}{rng.randrange(1000):03d}"
        return "id_number", first + pii.id_check_char(first)
    if k == 1:
        return "mobile", f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
    if k == 2:
        return "landline", f"0{rng.choice(['10', '21', '571', '755'])}-{rng.randrange(2, 10)}{rng.randrange(10**7):07d}"
    if k == 3:
        body = "6222" + "".join(rng.choice("0123456789") for _ in range(14))
        return "bank_card", next(body + d for d in "0123456789" if pii.luhn(body + d))
    if k == 4:
        return "plate", f"{rng.choice('京沪粤苏浙川')}{rng.choice('ABCDEF')}·{rng.randrange(10**5):05d}"
    if k == 5:
        return "email", f"user{rng.randrange(10**6)}@example.com"
    prov, district = rng.choice(PLACES)
    return "address", f"{prov}{district}{rng.choice(ROADS)}{rng.randrange(1, 300)}号{rng.randrange(1, 20)}号楼{rng.randrange(1, 6)}单元{rng.randrange(101, 2500)}室"


LEADS = {"id_number": "，身份证号", "mobile": "，联系电话", "landline": "，办公电话", "bank_card": "，银行账号",
         "plate": "，涉案车辆", "email": "，电子邮箱", "address": "，住所"}


def _bad_id(rng: random.Random) -> str:
    born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000))
    first = f"{rng.choice([110101, 120103, 130102, 210102])}{born:%Y%m%d}{rng.randrange(1000):03d}"
    right = pii.id_check_char(first)
    return first + rng.choice([c for c in "0123456789X" if c != right])


def generate(mb: float, seed: int = 1, every: int = 8, decoys: bool = False) -> tuple[str, list[tuple[int, str, str]]]:
    """The text and its planted items ``(position, kind, text)``; ``decoys`` adds sentences with invalid
    ID numbers among the filler (order numbers and credit codes are always there)."""
    rng = random.Random(seed)
    filler = FILLER + DECOYS if decoys else FILLER
    parts: list[str] = []
    planted: list[tuple[int, str, str]] = []
    pos = size = 0
    target = int(mb * 1e6)
    while size < target:
        for _ in range(every):
            s = rng.choice(filler).format(
                date=f"{rng.randrange(2015, 2026)}年{rng.randrange(1, 13)}月{rng.randrange(1, 29)}日",
                amount=f"{rng.randrange(100, 10**6):,}", gain=f"{rng.randrange(10, 10**5)}.{rng.randrange(100):02d}",
                order="".join(rng.choice("0123456789") for _ in range(20)), art=rng.randrange(1, 150),
                para=rng.randrange(1, 6), year=rng.randrange(2015, 2026), no=rng.randrange(1, 9999),
                credit=_credit(rng), name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                bad_id=_bad_id(rng) if decoys else "")
            parts.append(s)
            pos += len(s)
            size += len(s.encode())
        kind, item = _item(rng)
        lead = LEADS[kind] + ("：" if kind == "address" else "")
        parts.append(lead)
        pos += len(lead)
        planted.append((pos, kind, item))
        parts.append(item + "。")
        pos += len(item) + 1
        size += len((lead + item + "。").encode())
    return "".join(parts), planted


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--mb", type=float, default=50.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--every", type=int, default=8, help="filler sentences between two planted items")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    text, planted = generate(a.mb, every=a.every)
    mb = len(text.encode()) / 1e6
    digits = re.compile(r"\d+")
    times: dict[str, list[float]] = {"digits": [], "find": []}
    cpu: dict[str, list[float]] = {"digits": [], "find": []}
    found: list[pii.Finding] = []
    for r in range(a.repeat):
        for name in (("digits", "find") if r % 2 == 0 else ("find", "digits")):
            t0, c0 = time.perf_counter(), time.process_time()
            if name == "digits":
                n_runs = sum(1 for _ in digits.finditer(text))
            else:
                found = pii.find(text, today=TODAY)
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    got = {(f.start, f.kind, f.text) for f in found}
    want = set(planted)
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    find_mbps = round(mb / med["find"], 1)
    out: dict[str, object] = {"mb": round(mb, 2), "chars": len(text), "planted": len(planted), "digit_runs": n_runs,
           "digits_s": round(med["digits"], 3), "find_s": round(med["find"], 3),
           "digits_mbps": round(mb / med["digits"], 1), "find_mbps": find_mbps,
           "ratio": round(med["find"] / med["digits"], 2), "missed": len(want - got), "extra": len(got - want),
           "cpu_digits_mbps": round(mb / med_cpu["digits"], 1), "cpu_find_mbps": round(mb / med_cpu["find"], 1),
           "cpu_ratio": round(med_cpu["find"] / med_cpu["digits"], 2), "load": round(os.getloadavg()[0], 1),
           "goal_mbps": GOAL_MBPS, "python": sys.version.split()[0]}
    out["ok"] = find_mbps >= GOAL_MBPS and want == got
    if a.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        for k, v in out.items():
            print(f"{k:12} {v}")
        for p in sorted(want - got)[:5]:
            print("missed", p)
        for p in sorted(got - want)[:5]:
            print("extra ", p)
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
