//! The working-day calendar that legal deadlines count in.
//!
//! Civil servants work Monday to Friday, except public holidays (Labour Code 2019, art. 112),
//! compensatory days off, and days that the Government's yearly notice gives off; a Saturday may
//! be swapped into a working day. The known days for 2024 to 2030 ship as data
//! (`data/holidays.csv`); an administrator's edits are stored in the database and win over the
//! shipped rows. Office hours default to 07:00–11:30 and 13:30–17:00, eight hours a day.
//!
//! Everything here is pure: dates in, dates out. [`store`] loads and saves the days.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

pub mod store;

/// What a listed day is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A public holiday (not worked).
    Holiday,
    /// A day off that is not itself a holiday: compensatory, or given by the yearly notice.
    DayOff,
    /// A weekend day worked in exchange for a swapped day off.
    WorkingDay,
    /// An ordinary day, listed to undo a shipped row (an administrator's correction).
    Normal,
}

impl DayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::DayOff => "day_off",
            DayKind::WorkingDay => "working_day",
            DayKind::Normal => "normal",
        }
    }

    pub fn parse(s: &str) -> Option<DayKind> {
        match s {
            "holiday" => Some(DayKind::Holiday),
            "day_off" => Some(DayKind::DayOff),
            "working_day" => Some(DayKind::WorkingDay),
            "normal" => Some(DayKind::Normal),
            _ => None,
        }
    }
}

/// One listed day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecialDay {
    pub date: NaiveDate,
    pub kind: DayKind,
    pub name_vi: String,
    pub name_en: String,
    pub source: String,
}

/// Daily office sessions, in local time, sorted and not overlapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeHours {
    sessions: Vec<(NaiveTime, NaiveTime)>,
}

impl OfficeHours {
    /// Sessions must be non-empty, each start before its end, in order without overlap.
    pub fn new(sessions: Vec<(NaiveTime, NaiveTime)>) -> Option<OfficeHours> {
        if sessions.is_empty() {
            return None;
        }
        for (i, (a, b)) in sessions.iter().enumerate() {
            if a >= b {
                return None;
            }
            if i > 0 && sessions[i - 1].1 > *a {
                return None;
            }
        }
        Some(OfficeHours { sessions })
    }

    /// Minutes of work in one working day.
    pub fn minutes_per_day(&self) -> i64 {
        self.sessions
            .iter()
            .map(|(a, b)| (*b - *a).num_minutes())
            .sum()
    }

    pub fn sessions(&self) -> &[(NaiveTime, NaiveTime)] {
        &self.sessions
    }
}

impl Default for OfficeHours {
    fn default() -> Self {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN);
        OfficeHours {
            sessions: vec![(t(7, 0), t(11, 30)), (t(13, 30), t(17, 0))],
        }
    }
}

/// The calendar: listed days over the Monday-to-Friday rule, and office hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    days: BTreeMap<NaiveDate, SpecialDay>,
    hours: OfficeHours,
}

/// The calendar shipped with motcua (see `data/HOLIDAYS.md`).
pub const SHIPPED_CSV: &str = include_str!("../../data/holidays.csv");

/// An error in calendar data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct CalendarDataError {
    pub line: usize,
    pub reason: String,
}

/// Reads calendar rows in the shipped CSV format (`date,kind,name_vi,name_en,source`).
pub fn parse_csv(text: &str) -> Result<Vec<SpecialDay>, CalendarDataError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').collect();
        if cols.len() != 5 {
            return Err(CalendarDataError {
                line: line_no,
                reason: format!("expected 5 columns, found {}", cols.len()),
            });
        }
        let date = NaiveDate::parse_from_str(cols[0].trim(), "%Y-%m-%d").map_err(|e| {
            CalendarDataError {
                line: line_no,
                reason: format!("bad date {:?}: {e}", cols[0]),
            }
        })?;
        let kind = DayKind::parse(cols[1].trim()).ok_or_else(|| CalendarDataError {
            line: line_no,
            reason: format!("unknown kind {:?}", cols[1]),
        })?;
        out.push(SpecialDay {
            date,
            kind,
            name_vi: cols[2].trim().to_string(),
            name_en: cols[3].trim().to_string(),
            source: cols[4].trim().to_string(),
        });
    }
    Ok(out)
}

impl Calendar {
    pub fn new(days: impl IntoIterator<Item = SpecialDay>, hours: OfficeHours) -> Calendar {
        Calendar {
            days: days.into_iter().map(|d| (d.date, d)).collect(),
            hours,
        }
    }

    /// The shipped calendar with default office hours.
    pub fn shipped() -> Result<Calendar, CalendarDataError> {
        Ok(Calendar::new(
            parse_csv(SHIPPED_CSV)?,
            OfficeHours::default(),
        ))
    }

    /// Weekends only: no listed days. Useful as a baseline in tests.
    pub fn weekdays_only() -> Calendar {
        Calendar::new(Vec::new(), OfficeHours::default())
    }

    pub fn hours(&self) -> &OfficeHours {
        &self.hours
    }

    pub fn day(&self, date: NaiveDate) -> Option<&SpecialDay> {
        self.days.get(&date)
    }

    /// Listed days of a year, in order.
    pub fn year(&self, year: i32) -> impl Iterator<Item = &SpecialDay> {
        let from = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MIN);
        let to = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(NaiveDate::MAX);
        self.days.range(from..=to).map(|(_, d)| d)
    }

    /// Replaces or adds one listed day.
    pub fn set(&mut self, day: SpecialDay) {
        self.days.insert(day.date, day);
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.days.get(&date).map(|d| d.kind) {
            Some(DayKind::Holiday | DayKind::DayOff) => false,
            Some(DayKind::WorkingDay) => true,
            Some(DayKind::Normal) | None => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// The first working day strictly after `date`.
    pub fn next_working_day(&self, date: NaiveDate) -> NaiveDate {
        let mut d = date;
        loop {
            d = d.succ_opt().unwrap_or(NaiveDate::MAX);
            if d == NaiveDate::MAX || self.is_working_day(d) {
                return d;
            }
        }
    }

    /// The `n`-th working day after `start` (`start` itself is not counted); `n = 0` gives
    /// `start`. A dossier received on Monday with a 3-day limit is due on Thursday.
    pub fn add_working_days(&self, start: NaiveDate, n: u16) -> NaiveDate {
        let mut d = start;
        for _ in 0..n {
            d = self.next_working_day(d);
        }
        d
    }

    /// Working days in `(from, to]`; negative when `to` is before `from`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if to < from {
            return -self.working_days_between(to, from);
        }
        from.iter_days()
            .skip(1)
            .take_while(|d| *d <= to)
            .filter(|d| self.is_working_day(*d))
            .count() as i64
    }

    /// The local time reached after `minutes` of office time from `start`. Time outside office
    /// hours does not count; landing exactly at the end of a session stays there.
    pub fn add_working_hours(&self, start: NaiveDateTime, minutes: u32) -> NaiveDateTime {
        let mut left = i64::from(minutes);
        let mut day = start.date();
        let mut from = start.time();
        loop {
            if self.is_working_day(day) {
                for (a, b) in self.hours.sessions() {
                    if from >= *b {
                        continue;
                    }
                    let begin = from.max(*a);
                    let available = (*b - begin).num_minutes();
                    if left <= available {
                        return day.and_time(begin) + Duration::minutes(left);
                    }
                    left -= available;
                }
            }
            if day == NaiveDate::MAX {
                return day.and_time(NaiveTime::MIN);
            }
            day = day.succ_opt().unwrap_or(NaiveDate::MAX);
            from = NaiveTime::MIN;
        }
    }

    /// Office time between two local times; zero when `to` is not after `from`.
    pub fn working_time_between(&self, from: NaiveDateTime, to: NaiveDateTime) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let mut total = Duration::zero();
        let mut day = from.date();
        while day <= to.date() {
            if self.is_working_day(day) {
                for (a, b) in self.hours.sessions() {
                    let s = day.and_time(*a).max(from);
                    let e = day.and_time(*b).min(to);
                    if e > s {
                        total += e - s;
                    }
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        total
    }
}

#[cfg(test)]
mod tests;
