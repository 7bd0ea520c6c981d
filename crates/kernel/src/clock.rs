//! Time, passed in rather than read: rules take a `now`, and the server asks a [`Clock`], so
//! that tests can set the date (a deadline on the eve of Tết, say) without waiting for it.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};

/// Vietnam's offset from UTC (Asia/Ho_Chi_Minh has no daylight saving time).
pub fn vietnam_offset() -> FixedOffset {
    match FixedOffset::east_opt(7 * 3600) {
        Some(o) => o,
        None => unreachable!("UTC+7 is within chrono's range of offsets"),
    }
}

/// A UTC instant as local time in Vietnam.
pub fn to_local(t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&vietnam_offset()).naive_local()
}

/// A local time in Vietnam as a UTC instant.
pub fn from_local(t: NaiveDateTime) -> DateTime<Utc> {
    DateTime::<Utc>::from_naive_utc_and_offset(t - chrono::Duration::hours(7), Utc)
}

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stays where it is set, for tests and demos.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        match self.0.lock() {
            Ok(mut g) => *g = at,
            Err(poisoned) => *poisoned.into_inner() = at,
        }
    }

    pub fn advance(&self, by: chrono::Duration) {
        let now = self.now();
        self.set(now + by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        match self.0.lock() {
            Ok(g) => *g,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}
