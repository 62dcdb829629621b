"""Statutory working days (法定工作日) for review deadlines.

A working day is a weekday that is not an official holiday, or a weekend day the State Council made a
working day (调休上班). Which days those are comes from the ``chinesecalendar`` package (the State
Council's yearly notices, 国务院办公厅关于…部分节假日安排的通知) or, for a year in ``[review.holidays]``,
from that table laid over the weekends: the table wins over the package for its year, so a site can
correct or add a year without waiting for a release. A date in a year neither covers is a
``CalendarUncovered`` error naming the year, never a guess from the weekends alone.

Periods follow the law's counting: the day the period starts is not counted (期间开始的日，不计算在
期间内), so a review of N working days submitted on day D is due on the N-th working day after D.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Mapping, Set
from functools import cache
from itertools import accumulate
from zoneinfo import ZoneInfo

import chinese_calendar

from liuhen.config import HolidayYear, ReviewSettings
from liuhen.words import said
from review.errors import CalendarUncovered


class _Year:
    """One year's working days: a flag per day and the running count, for O(1) counts and lookups."""

    __slots__ = ("first", "flags", "counts")

    def __init__(self, year: int, flags: tuple[bool, ...]) -> None:
        self.first = dt.date(year, 1, 1)
        self.flags = flags  # flags[i]: is day i of the year (0 = 1 January) a working day
        self.counts = list(accumulate(int(f) for f in flags))  # counts[i]: working days from 1 January to day i

    @property
    def total(self) -> int:
        return self.counts[-1]

    def index(self, d: dt.date) -> int:
        return (d - self.first).days


class WorkCalendar:
    """Working days from ``chinesecalendar`` and an override table (year -> ``HolidayYear``).

    Each year is computed once, on first use, and kept. Every method raises ``CalendarUncovered``
    for a date in a year it does not cover.
    """

    def __init__(self, overrides: Mapping[int, HolidayYear] | None = None) -> None:
        self._overrides: dict[int, HolidayYear] = dict(overrides or {})
        self._years: dict[int, _Year] = {}

    @classmethod
    def from_settings(cls, settings: ReviewSettings) -> WorkCalendar:
        return cls(settings.holidays)

    # what is covered

    def covered(self, year: int) -> bool:
        """Whether this calendar knows ``year``'s holidays (override table or ``chinesecalendar``)."""
        return year in self._overrides or _package_covers(year)

    def _year(self, year: int) -> _Year:
        known = self._years.get(year)
        if known is not None:
            return known
        table = self._overrides.get(year)
        if table is not None:  # the table wins over the package for its year
            flags = _flags(year, off=frozenset(table.off), work=frozenset(table.work))
        elif _package_covers(year):
            flags = _package_year(year)
        else:
            raise _uncovered(year)
        made = self._years[year] = _Year(year, flags)
        return made

    # the questions

    def is_workday(self, d: dt.date) -> bool:
        y = self._year(d.year)
        return y.flags[y.index(d)]

    def add_workdays(self, start: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``start`` (``start`` itself is not counted; ``n`` >= 1)."""
        if n < 1:
            raise ValueError(f"add_workdays counts 1 or more working days, not {n}")
        y = self._year(start.year)
        i = y.index(start)
        target = y.counts[i] + n  # the running count (within start's year) the answer reaches
        year = start.year
        while target > y.total:  # the answer lies in a later year
            target -= y.total
            year += 1
            y = self._year(year)
        return y.first + dt.timedelta(days=bisect_left(y.counts, target))

    def workdays_between(self, a: dt.date, b: dt.date) -> int:
        """Working days after ``a`` up to and including ``b``; negative (the same count) when ``b`` is before ``a``.

        ``workdays_between(due, today)`` is how many working days a review is overdue (> 0) or how many are
        left (<= 0, as a negative count).
        """
        if b < a:
            return -self.workdays_between(b, a)
        whole_years = sum(self._year(year).total for year in range(a.year, b.year))  # 1 January of a's to b's year
        return whole_years + self._running(b) - self._running(a)

    def _running(self, d: dt.date) -> int:
        """Working days from 1 January of ``d``'s year up to and including ``d``."""
        y = self._year(d.year)
        return y.counts[y.index(d)]

    def due_on(self, submitted_at: dt.datetime, days: int, tz: str) -> dt.date:
        """The day a review of ``days`` working days submitted at ``submitted_at`` is due: the ``days``-th working
        day after the submission's date in the zone ``tz`` (e.g. the site's ``[web] timezone``)."""
        if submitted_at.tzinfo is None:
            raise ValueError("naive datetime given; a submission time carries its time zone")
        return self.add_workdays(submitted_at.astimezone(ZoneInfo(tz)).date(), days)


@cache
def _package_years() -> range:
    """The years ``chinesecalendar`` has the State Council's notices for (its own test of a supported date)."""
    known = chinese_calendar.holidays.keys()
    return range(min(known).year, max(known).year + 1)


def _package_covers(year: int) -> bool:
    return year in _package_years()


@cache
def _package_year(year: int) -> tuple[bool, ...]:
    """``chinesecalendar.is_workday`` for every day of ``year``, read from its tables once (its function re-checks
    the supported years on every call, 60 µs a day)."""
    return _flags(year, off=chinese_calendar.holidays.keys(), work=chinese_calendar.workdays.keys())


def _flags(year: int, *, off: Set[dt.date], work: Set[dt.date]) -> tuple[bool, ...]:
    """Whether each day of ``year`` is a working day: a weekend day listed in ``work``, or a weekday not in ``off``."""
    first = dt.date(year, 1, 1)
    dates = (first + dt.timedelta(days=i) for i in range((dt.date(year + 1, 1, 1) - first).days))
    return tuple(d in work or (d.weekday() < 5 and d not in off) for d in dates)


def _package_version() -> str:
    return str(getattr(chinese_calendar, "__version__", "?"))


def _uncovered(year: int) -> CalendarUncovered:
    return CalendarUncovered(
        said(f"{year} 年的法定节假日和调休未知", f"The official holidays and adjusted working days (调休) of {year} are not "
             f"known: chinesecalendar {_package_version()} does not cover {year} and config has no [review.holidays.{year}]; "
             "liuhen does not guess a statutory deadline from weekends alone."),
        said(f"请在 config.toml 中添加 [review.holidays.{year}]，按国务院办公厅关于{year}年部分节假日安排的通知填写 off = [落在工作日的假日] 和 work = [调为工作日的周末]；或在 chinesecalendar 发布覆盖该年的版本后更新（pip install -U chinesecalendar）。", f"Add [review.holidays.{year}] to config.toml with off = [the holidays that fall on weekdays] and work = [the "
             f"weekend days that are working days] from the State Council's notice (国务院办公厅关于{year}年部分节假日安排的"
             "通知), or update chinesecalendar (pip install -U chinesecalendar) once a release covers the year."))
