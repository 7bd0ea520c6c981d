use super::*;
use proptest::prelude::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap_or_else(|| panic!("bad test date {y}-{m}-{day}"))
}

fn t(date: NaiveDate, h: u32, m: u32) -> NaiveDateTime {
    date.and_hms_opt(h, m, 0)
        .unwrap_or_else(|| panic!("bad test time"))
}

fn shipped() -> Calendar {
    Calendar::shipped().unwrap_or_else(|e| panic!("shipped calendar: {e}"))
}

#[test]
fn weekends_are_skipped() {
    let c = Calendar::weekdays_only();
    // Friday 2025-03-14 + 1 working day = Monday 17th.
    assert_eq!(c.add_working_days(d(2025, 3, 14), 1), d(2025, 3, 17));
    // Monday + 3 = Thursday.
    assert_eq!(c.add_working_days(d(2025, 3, 10), 3), d(2025, 3, 13));
    // Saturday + 1 = Monday.
    assert_eq!(c.add_working_days(d(2025, 3, 15), 1), d(2025, 3, 17));
    assert_eq!(c.add_working_days(d(2025, 3, 15), 0), d(2025, 3, 15));
    assert_eq!(c.working_days_between(d(2025, 3, 14), d(2025, 3, 21)), 5);
}

#[test]
fn tet_2025_stops_the_clock_for_nine_days() {
    let c = shipped();
    assert!(!c.is_working_day(d(2025, 1, 27)));
    assert!(!c.is_working_day(d(2025, 1, 31)));
    // Friday 24 January + 1 working day lands after Tết, on Monday 3 February.
    assert_eq!(c.add_working_days(d(2025, 1, 24), 1), d(2025, 2, 3));
    // A 5-day limit received on 22 January ends on 5 February.
    assert_eq!(c.add_working_days(d(2025, 1, 22), 5), d(2025, 2, 5));
    assert_eq!(c.working_days_between(d(2025, 1, 24), d(2025, 2, 3)), 1);
}

#[test]
fn national_day_and_its_adjacent_day() {
    let c = shipped();
    assert!(!c.is_working_day(d(2025, 9, 1)));
    assert!(!c.is_working_day(d(2025, 9, 2)));
    assert_eq!(c.add_working_days(d(2025, 8, 29), 1), d(2025, 9, 3));
}

#[test]
fn swapped_saturday_is_worked_and_swapped_friday_is_not() {
    let c = shipped();
    // 2025: Saturday 26 April worked, Friday 2 May off.
    assert!(c.is_working_day(d(2025, 4, 26)));
    assert!(!c.is_working_day(d(2025, 5, 2)));
    assert_eq!(c.add_working_days(d(2025, 4, 25), 1), d(2025, 4, 26));
    // Tuesday 29 April + 1: 30/4, 1/5, 2/5 off, then the weekend: Monday 5 May.
    assert_eq!(c.add_working_days(d(2025, 4, 29), 1), d(2025, 5, 5));
    // Hùng Kings' day 2025 is Monday 7 April.
    assert!(!c.is_working_day(d(2025, 4, 7)));
}

#[test]
fn shipped_data_covers_every_year_and_every_statutory_day() {
    let c = shipped();
    for y in 2024..=2030 {
        let names: Vec<&str> = c
            .year(y)
            .filter(|s| s.kind == DayKind::Holiday)
            .map(|s| s.name_en.as_str())
            .collect();
        for must in [
            "New Year's Day",
            "Lunar New Year (Tết)",
            "Hùng Kings' Commemoration Day",
            "Reunification Day",
            "International Labour Day",
            "National Day",
        ] {
            assert!(names.contains(&must), "{y} lacks {must}: {names:?}");
        }
        assert!(
            c.year(y).filter(|s| s.name_en.starts_with("Lunar")).count() >= 5,
            "{y}: Tết has five days"
        );
        assert!(c.day(d(y, 1, 1)).is_some());
        assert!(c.day(d(y, 4, 30)).is_some());
        assert!(c.day(d(y, 9, 2)).is_some());
    }
    for s in c.year(2026) {
        if s.kind == DayKind::WorkingDay {
            assert!(
                matches!(s.date.weekday(), Weekday::Sat | Weekday::Sun),
                "{s:?}"
            );
        }
    }
}

#[test]
fn an_edit_overrides_a_shipped_day() {
    let mut c = shipped();
    c.set(SpecialDay {
        date: d(2025, 5, 2),
        kind: DayKind::Normal,
        name_vi: "Ngày làm việc bình thường".into(),
        name_en: "Ordinary working day".into(),
        source: "test".into(),
    });
    assert!(c.is_working_day(d(2025, 5, 2)));
}

#[test]
fn working_hours_follow_office_sessions() {
    let c = Calendar::weekdays_only();
    let mon = d(2025, 3, 10);
    // 8 hours from 07:00 Monday ends at 17:00 Monday, not Tuesday morning.
    assert_eq!(c.add_working_hours(t(mon, 7, 0), 8 * 60), t(mon, 17, 0));
    // 1 hour from 11:00 crosses lunch: 30 minutes before, 30 after 13:30.
    assert_eq!(c.add_working_hours(t(mon, 11, 0), 60), t(mon, 14, 0));
    // Starting after hours begins next morning.
    assert_eq!(
        c.add_working_hours(t(mon, 18, 0), 30),
        t(d(2025, 3, 11), 7, 30)
    );
    // Friday 16:00 + 2 hours: 1 on Friday, 1 on Monday.
    assert_eq!(
        c.add_working_hours(t(d(2025, 3, 14), 16, 0), 120),
        t(d(2025, 3, 17), 8, 0)
    );
    assert_eq!(
        c.working_time_between(t(mon, 7, 0), t(mon, 17, 0)),
        Duration::hours(8)
    );
    assert_eq!(
        c.working_time_between(t(mon, 11, 0), t(mon, 14, 0)),
        Duration::hours(1)
    );
    assert_eq!(
        c.working_time_between(t(mon, 12, 0), t(mon, 13, 0)),
        Duration::zero()
    );
    assert_eq!(
        c.working_time_between(t(d(2025, 3, 14), 16, 0), t(d(2025, 3, 17), 8, 0)),
        Duration::hours(2)
    );
    assert_eq!(
        c.working_time_between(t(mon, 9, 0), t(mon, 8, 0)),
        Duration::zero()
    );
}

#[test]
fn working_hours_skip_tet() {
    let c = shipped();
    let fri = d(2025, 1, 24);
    assert_eq!(
        c.add_working_hours(t(fri, 16, 0), 120),
        t(d(2025, 2, 3), 8, 0)
    );
}

#[test]
fn office_hours_must_be_ordered() {
    let h = |a: u32, b: u32| {
        (
            NaiveTime::from_hms_opt(a, 0, 0).unwrap_or_default(),
            NaiveTime::from_hms_opt(b, 0, 0).unwrap_or_default(),
        )
    };
    assert!(OfficeHours::new(vec![]).is_none());
    assert!(OfficeHours::new(vec![h(9, 8)]).is_none());
    assert!(OfficeHours::new(vec![h(8, 12), h(11, 17)]).is_none());
    assert_eq!(
        OfficeHours::new(vec![h(8, 12), h(13, 17)]).map(|o| o.minutes_per_day()),
        Some(480)
    );
    assert_eq!(OfficeHours::default().minutes_per_day(), 480);
}

fn any_date() -> impl Strategy<Value = NaiveDate> {
    (0i64..(365 * 7)).prop_map(|n| d(2024, 1, 1) + Duration::days(n))
}

proptest! {
    #[test]
    fn adding_n_working_days_then_counting_back_gives_n(start in any_date(), n in 0u16..400) {
        let c = shipped();
        let end = c.add_working_days(start, n);
        prop_assert_eq!(c.working_days_between(start, end), i64::from(n));
        prop_assert!(n == 0 || c.is_working_day(end));
    }

    #[test]
    fn adding_minutes_then_measuring_gives_the_minutes(start in any_date(), h in 0u32..24, m in 0u32..60, minutes in 0u32..(480 * 30)) {
        let c = shipped();
        let s = t(start, h, m);
        let e = c.add_working_hours(s, minutes);
        prop_assert!(e >= s);
        prop_assert_eq!(c.working_time_between(s, e), Duration::minutes(i64::from(minutes)));
    }

    #[test]
    fn a_working_day_is_never_a_holiday(day in any_date()) {
        let c = shipped();
        if let Some(s) = c.day(day) && matches!(s.kind, DayKind::Holiday | DayKind::DayOff) {
            prop_assert!(!c.is_working_day(day));
        }
    }
}
