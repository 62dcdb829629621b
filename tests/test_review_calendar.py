"""Statutory working days for review deadlines: National Day and Spring Festival of 2024–2026 with their
调休 weekend working days, cross-checked day by day against the ``holidays`` package (an independent
compilation of the State Council's notices); an uncovered year is refused, never guessed; the
``[review.holidays]`` table adds a year and overrides a covered one."""

from __future__ import annotations

import datetime as dt
import random
from itertools import count
from pathlib import Path

import holidays
import pytest

from liuhen import config
from liuhen.config import HolidayYear
from liuhen.errors import ConfigError
from review.calendar import WorkCalendar
from review.errors import CalendarUncovered
from tests.conftest import write_config

D = dt.date
YEARS = (2024, 2025, 2026)


@pytest.fixture(scope="module")
def oracle() -> holidays.HolidayBase:
    return holidays.country_holidays("CN", years=range(2023, 2028))


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def test_every_day_of_2024_to_2026_is_a_working_day_exactly_when_the_holidays_package_says_so(oracle):
    cal = WorkCalendar()
    differ = [d for d in _days(D(2024, 1, 1), D(2026, 12, 31)) if cal.is_workday(d) != oracle.is_working_day(d)]
    assert differ == []


def test_the_weekend_working_days_are_working_days(oracle):
    # 调休上班 from the holidays package, and by hand from the State Council's notices: 国办发明电〔2023〕7号
    # (2024: 2月4日、2月18日、9月14日、9月29日、10月12日…), 国办发明电〔2024〕12号 (2025: 1月26日、2月8日、
    # 4月27日、9月28日、10月11日), 国办发明电〔2025〕7号 (2026: 1月4日、2月14日、2月28日、5月9日、9月20日、10月10日)
    by_hand = {D(2024, 2, 4), D(2024, 2, 18), D(2024, 9, 14), D(2024, 9, 29), D(2024, 10, 12),
               D(2025, 1, 26), D(2025, 2, 8), D(2025, 4, 27), D(2025, 9, 28), D(2025, 10, 11),
               D(2026, 1, 4), D(2026, 2, 14), D(2026, 2, 28), D(2026, 5, 9), D(2026, 9, 20), D(2026, 10, 10)}
    from_package = {d for d in oracle.weekend_workdays if d.year in YEARS}
    assert by_hand <= from_package
    cal = WorkCalendar()
    assert all(d.weekday() >= 5 and cal.is_workday(d) for d in from_package)
    assert not cal.is_workday(D(2026, 2, 21)) and not cal.is_workday(D(2025, 10, 4))  # ordinary holiday weekends


def test_the_holidays_on_weekdays_are_days_off(oracle):
    cal = WorkCalendar()
    off = [d for d in oracle if d.year in YEARS and d.weekday() < 5]
    assert len(off) > 30 and not any(cal.is_workday(d) for d in off)
    # 除夕 2024 (2月9日, a Friday) was not a holiday that year; from 2025 on it is
    assert cal.is_workday(D(2024, 2, 9)) and not cal.is_workday(D(2025, 1, 28))


DEADLINES = [
    # National Day (国庆)
    (D(2024, 9, 27), 5, D(2024, 10, 10)),  # 9/29 (Sun) is worked, 10/1–7 off
    (D(2024, 9, 30), 10, D(2024, 10, 18)),  # 10/12 (Sat) is worked
    (D(2025, 9, 26), 5, D(2025, 10, 10)),  # 9/28 (Sun) worked, 10/1–8 off (with 中秋)
    (D(2025, 9, 30), 5, D(2025, 10, 14)),  # 10/11 (Sat) worked
    (D(2026, 9, 18), 5, D(2026, 9, 24)),  # 9/20 (Sun) worked
    (D(2026, 9, 24), 5, D(2026, 10, 9)),  # 中秋 9/25 off, 10/1–7 off
    (D(2026, 9, 30), 10, D(2026, 10, 20)),  # 10/10 (Sat) worked
    # Spring Festival (春节)
    (D(2024, 2, 2), 5, D(2024, 2, 8)),  # 2/4 (Sun) worked
    (D(2024, 2, 8), 5, D(2024, 2, 21)),  # 2/9 worked, 2/10–17 off, 2/18 (Sun) worked
    (D(2025, 1, 24), 5, D(2025, 2, 7)),  # 1/26 (Sun) worked, 1/28–2/4 off
    (D(2025, 1, 27), 10, D(2025, 2, 17)),  # 2/8 (Sat) worked
    (D(2026, 2, 12), 5, D(2026, 2, 26)),  # 2/14 (Sat) worked, 2/15–23 off
    (D(2026, 2, 13), 10, D(2026, 3, 5)),  # 2/28 (Sat) worked
    # across a new year
    (D(2024, 12, 27), 5, D(2025, 1, 6)),  # 1/1 off
    (D(2025, 12, 30), 3, D(2026, 1, 5)),  # 1/1–3 off, 1/4 (Sun) worked
]


@pytest.mark.parametrize(("start", "n", "due"), DEADLINES, ids=[f"{s}+{n}" for s, n, _ in DEADLINES])
def test_deadlines_across_national_day_and_spring_festival(oracle, start, n, due):
    cal = WorkCalendar()
    assert cal.add_workdays(start, n) == due == oracle.get_nth_working_day(start, n)
    assert cal.workdays_between(start, due) == n and cal.workdays_between(due, start) == -n
    assert cal.is_workday(due)


def test_random_deadlines_and_counts_agree_with_the_holidays_package(oracle):
    cal, rng = WorkCalendar(), random.Random(13)
    days = _days(D(2024, 1, 1), D(2026, 11, 30))
    for _ in range(2000):
        start, n = rng.choice(days), rng.randint(1, 20)
        assert cal.add_workdays(start, n) == oracle.get_nth_working_day(start, n), (start, n)
        a, b = sorted(rng.sample(days, 2))
        expected = sum(1 for d in _days(a + dt.timedelta(days=1), b) if oracle.is_working_day(d))
        assert cal.workdays_between(a, b) == expected and cal.workdays_between(b, a) == -expected, (a, b)
        assert cal.workdays_between(a, a) == 0


def test_overdue_counts_working_days_after_the_due_date():
    cal = WorkCalendar()
    due = D(2025, 9, 30)
    assert cal.workdays_between(due, D(2025, 10, 8)) == 0  # the whole holiday: not yet overdue
    assert cal.workdays_between(due, D(2025, 10, 13)) == 4  # 10/9, 10/10, 10/11 (Sat, worked), 10/13
    assert cal.workdays_between(D(2025, 9, 26), due) == 3  # three working days left on Friday 9/26


def test_due_on_counts_from_the_date_of_submission_in_the_sites_zone():
    cal = WorkCalendar()
    # 16:30 UTC on Friday 2026-02-13 is 00:30 on Saturday 2/14 in Beijing, a 调休 working day
    submitted = dt.datetime(2026, 2, 13, 16, 30, tzinfo=dt.UTC)
    assert cal.due_on(submitted, 5, "Asia/Shanghai") == D(2026, 2, 28)  # 2/24, 25, 26, 27, 28 (Sat, worked)
    assert cal.due_on(submitted, 5, "UTC") == D(2026, 2, 27)  # 2/14, 24, 25, 26, 27
    with pytest.raises(ValueError, match="naive"):
        cal.due_on(dt.datetime(2026, 2, 13, 16, 30), 5, "Asia/Shanghai")
    with pytest.raises(ValueError):
        cal.add_workdays(D(2026, 2, 13), 0)


def test_an_uncovered_year_is_refused_naming_the_year_and_what_to_do():
    cal = WorkCalendar()
    assert cal.covered(2026) and not cal.covered(2031)
    with pytest.raises(CalendarUncovered) as e:
        cal.is_workday(D(2031, 5, 6))
    text = e.value.diagnostics()
    assert "2031" in e.value.detail and "[review.holidays.2031]" in e.value.action
    assert "国务院办公厅关于2031年部分节假日安排的通知" in text and "chinesecalendar" in e.value.action
    assert e.value.code == "calendar_uncovered"


def test_a_deadline_running_into_an_uncovered_year_is_refused_not_guessed():
    cal = WorkCalendar()
    first_unknown = next(y for y in count(2026) if not cal.covered(y))
    with pytest.raises(CalendarUncovered, match=str(first_unknown)):
        cal.add_workdays(D(first_unknown - 1, 12, 28), 10)
    with pytest.raises(CalendarUncovered, match=str(first_unknown)):
        cal.workdays_between(D(first_unknown - 1, 12, 1), D(first_unknown, 1, 5))


# an illustrative table for 2027 (Spring Festival falls on Saturday 6 February 2027); not the State Council's
SPRING_2027 = HolidayYear(off=(D(2027, 1, 1), D(2027, 2, 8), D(2027, 2, 9), D(2027, 2, 10), D(2027, 2, 11),
                               D(2027, 2, 12)),
                          work=(D(2027, 2, 20),))


def test_an_override_table_covers_2027():
    cal = WorkCalendar({2027: SPRING_2027})
    assert cal.covered(2027) and not cal.covered(2031)
    assert not cal.is_workday(D(2027, 2, 8)) and cal.is_workday(D(2027, 2, 20))  # off Monday, worked Saturday
    assert not cal.is_workday(D(2027, 2, 13)) and cal.is_workday(D(2027, 2, 15))  # a plain weekend, a plain Monday
    assert cal.add_workdays(D(2027, 2, 5), 5) == D(2027, 2, 19)  # 2/15, 16, 17, 18, 19
    assert cal.add_workdays(D(2027, 2, 5), 6) == D(2027, 2, 20)
    assert cal.add_workdays(D(2026, 12, 30), 3) == D(2027, 1, 5)  # 12/31, (1/1 off), 1/4, 1/5
    assert cal.workdays_between(D(2026, 12, 30), D(2027, 1, 5)) == 3


def test_an_override_table_wins_over_the_package_for_its_year():
    # the table is the whole year: a date it does not list is a plain weekday or weekend
    cal = WorkCalendar({2025: HolidayYear(off=(D(2025, 10, 9),), work=(D(2025, 10, 12),))})
    assert cal.is_workday(D(2025, 10, 1)) and not cal.is_workday(D(2025, 10, 9))
    assert cal.is_workday(D(2025, 10, 12)) and not cal.is_workday(D(2025, 9, 28))
    assert not cal.is_workday(D(2024, 10, 1))  # 2024 is still the package's
    assert WorkCalendar().is_workday(D(2025, 9, 28)) and not WorkCalendar().is_workday(D(2025, 10, 1))


def test_the_holidays_table_loads_from_config(tmp_path: Path):
    cfg = write_config(tmp_path, "sqlite:///var/liuhen.db", """
[review.days]
default = 5
"责令停产停业" = 10

[review.holidays.2027]
off = [2027-01-01, 2027-02-08, 2027-02-09, 2027-02-10, 2027-02-11, 2027-02-12]
work = ["2027-02-20"]
""")
    s = config.load(cfg, environ={})
    assert s.review.holidays == {2027: SPRING_2027} and s.review.days_for("责令停产停业") == 10
    cal = WorkCalendar.from_settings(s.review)
    assert cal.covered(2027) and cal.is_workday(D(2027, 2, 20)) and not cal.is_workday(D(2027, 2, 8))
    submitted = dt.datetime(2027, 2, 5, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert cal.due_on(submitted, s.review.days_for("罚款"), "Asia/Shanghai") == D(2027, 2, 19)


@pytest.mark.parametrize(("table", "says"), [
    ("off = [2026-10-01]", "[review.holidays.2027] off lists 2026-10-01, which is not in 2027"),
    ("off = [2027-02-20]\nwork = [2027-02-20]", "[review.holidays.2027] lists 2027-02-20 both as off and as work"),
])
def test_a_holidays_table_that_contradicts_itself_is_refused(tmp_path: Path, table, says):
    cfg = write_config(tmp_path, "sqlite:///var/liuhen.db", f"[review.holidays.2027]\n{table}\n")
    with pytest.raises(ConfigError) as e:
        config.load(cfg, environ={})
    assert says in e.value.diagnostics()
