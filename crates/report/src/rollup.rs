//! The roll-ups: what a dossier adds to the figures, and how a change of it moves them.
//!
//! A dossier is described by its [`Facts`] (what its row says: when it was received and how,
//! when and how it was resolved, whether it is still open and until when...). What it adds to
//! the figures is a pure function of its facts ([`Cube::add`]); a change of the dossier moves
//! the figures by the difference between what it adds after and what it added before
//! ([`Cube::between`]). [`apply`] writes such a difference in the transaction of the change,
//! so the roll-ups are never behind the dossiers they count.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

use kernel::audit::Tx;
use kernel::on_tx;

/// The figures counted per agency, procedure and day, in the order of their columns.
pub const COLUMNS: [&str; 13] = [
    "received_online",
    "received_desk",
    "resolved_early",
    "resolved_on_time",
    "resolved_late",
    "sent_back",
    "supplements",
    "paid_online",
    "paid_amount",
    "rated_very_satisfied",
    "rated_satisfied",
    "rated_not_satisfied",
    "paid_desk",
];

/// The flows of one cell (or of a sum of cells).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Metrics {
    /// Received (tiếp nhận) from an online submission.
    pub received_online: i64,
    /// Received at the desk (in person or by post).
    pub received_desk: i64,
    /// Results returned before the appointment date.
    pub resolved_early: i64,
    /// Returned on the appointment date.
    pub resolved_on_time: i64,
    /// Returned after it, or after an apology moved it.
    pub resolved_late: i64,
    /// Sent back without a result: refused at the desk, or stopped by a notice.
    pub sent_back: i64,
    /// Requests for a supplement, at the desk or during processing.
    pub supplements: i64,
    /// Dossiers whose fees were paid through an online gateway.
    pub paid_online: i64,
    /// What those payments came to, in đồng.
    pub paid_amount: i64,
    pub rated_very_satisfied: i64,
    pub rated_satisfied: i64,
    pub rated_not_satisfied: i64,
    /// Dossiers whose fees were paid at the desk (not those exempt from them).
    pub paid_desk: i64,
}

impl Metrics {
    pub fn to_array(self) -> [i64; 13] {
        [
            self.received_online,
            self.received_desk,
            self.resolved_early,
            self.resolved_on_time,
            self.resolved_late,
            self.sent_back,
            self.supplements,
            self.paid_online,
            self.paid_amount,
            self.rated_very_satisfied,
            self.rated_satisfied,
            self.rated_not_satisfied,
            self.paid_desk,
        ]
    }

    pub fn from_array(a: [i64; 13]) -> Metrics {
        Metrics {
            received_online: a[0],
            received_desk: a[1],
            resolved_early: a[2],
            resolved_on_time: a[3],
            resolved_late: a[4],
            sent_back: a[5],
            supplements: a[6],
            paid_online: a[7],
            paid_amount: a[8],
            rated_very_satisfied: a[9],
            rated_satisfied: a[10],
            rated_not_satisfied: a[11],
            paid_desk: a[12],
        }
    }

    /// Adds `other` times `sign`.
    pub fn add(&mut self, other: &Metrics, sign: i64) {
        let mut a = self.to_array();
        for (x, y) in a.iter_mut().zip(other.to_array()) {
            *x += sign * y;
        }
        *self = Metrics::from_array(a);
    }

    pub fn is_zero(&self) -> bool {
        self.to_array().iter().all(|x| *x == 0)
    }

    pub fn received(&self) -> i64 {
        self.received_online + self.received_desk
    }

    pub fn resolved(&self) -> i64 {
        self.resolved_early + self.resolved_on_time + self.resolved_late
    }

    pub fn rated(&self) -> i64 {
        self.rated_very_satisfied + self.rated_satisfied + self.rated_not_satisfied
    }
}

/// Dossiers in progress in one cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Open {
    /// Being handled, the clock running.
    pub active: i64,
    /// Waiting for the applicant's supplement, the clock stopped.
    pub paused: i64,
}

impl Open {
    fn add(&mut self, other: &Open, sign: i64) {
        self.active += sign * other.active;
        self.paused += sign * other.paused;
    }
    pub fn is_zero(&self) -> bool {
        self.active == 0 && self.paused == 0
    }
}

/// How a returned dossier ended, against its appointment date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Early,
    OnTime,
    Late,
}

impl Outcome {
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "early" => Some(Outcome::Early),
            "on_time" => Some(Outcome::OnTime),
            "late" => Some(Outcome::Late),
            _ => None,
        }
    }
}

/// The applicant's rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rating {
    VerySatisfied,
    Satisfied,
    NotSatisfied,
}

impl Rating {
    pub fn parse(s: &str) -> Option<Rating> {
        match s {
            "very_satisfied" => Some(Rating::VerySatisfied),
            "satisfied" => Some(Rating::Satisfied),
            "not_satisfied" => Some(Rating::NotSatisfied),
            _ => None,
        }
    }
}

/// What the roll-ups need to know of one dossier; days are local (UTC+7) days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The agency that received it (it keeps the code and returns the result).
    pub agency: String,
    pub procedure: String,
    pub online: bool,
    /// The day it was received, once it was.
    pub received: Option<NaiveDate>,
    /// The day its result (or rejection) was returned, and how that stood against the date.
    pub resolved: Option<(NaiveDate, Outcome)>,
    /// The day it was refused at the desk or stopped.
    pub sent_back: Option<NaiveDate>,
    /// While in progress: the day its result is due, and whether it waits for a supplement.
    pub open: Option<(NaiveDate, bool)>,
    /// The day its fees were paid through an online gateway, and the amount.
    pub paid_online: Option<(NaiveDate, i64)>,
    /// The day its fees were paid at the desk (fees waived do not count).
    pub paid_desk: Option<NaiveDate>,
    /// The day it was rated, and the rating.
    pub rating: Option<(NaiveDate, Rating)>,
}

/// A cell of the base roll-up.
pub type Key = (String, String, NaiveDate);

/// Figures by cell: what a set of dossiers adds, or how a change moves them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cube {
    pub flows: BTreeMap<Key, Metrics>,
    pub open: BTreeMap<Key, Open>,
}

impl Cube {
    fn flow(&mut self, f: &Facts, day: NaiveDate, sign: i64, set: impl Fn(&mut Metrics)) {
        let mut m = Metrics::default();
        set(&mut m);
        self.flows
            .entry((f.agency.clone(), f.procedure.clone(), day))
            .or_default()
            .add(&m, sign);
    }

    /// Adds what a dossier with these facts counts for, times `sign` (-1 takes it away).
    pub fn add(&mut self, f: &Facts, sign: i64) {
        if let Some(day) = f.received {
            let online = f.online;
            self.flow(f, day, sign, |m| {
                if online {
                    m.received_online = 1
                } else {
                    m.received_desk = 1
                }
            });
        }
        if let Some((day, outcome)) = f.resolved {
            self.flow(f, day, sign, |m| match outcome {
                Outcome::Early => m.resolved_early = 1,
                Outcome::OnTime => m.resolved_on_time = 1,
                Outcome::Late => m.resolved_late = 1,
            });
        }
        if let Some(day) = f.sent_back {
            self.flow(f, day, sign, |m| m.sent_back = 1);
        }
        if let Some((day, amount)) = f.paid_online {
            self.flow(f, day, sign, |m| {
                m.paid_online = 1;
                m.paid_amount = amount;
            });
        }
        if let Some(day) = f.paid_desk {
            self.flow(f, day, sign, |m| m.paid_desk = 1);
        }
        if let Some((day, rating)) = f.rating {
            self.flow(f, day, sign, |m| match rating {
                Rating::VerySatisfied => m.rated_very_satisfied = 1,
                Rating::Satisfied => m.rated_satisfied = 1,
                Rating::NotSatisfied => m.rated_not_satisfied = 1,
            });
        }
        if let Some((due, paused)) = f.open {
            let o = if paused {
                Open {
                    active: 0,
                    paused: 1,
                }
            } else {
                Open {
                    active: 1,
                    paused: 0,
                }
            };
            self.open
                .entry((f.agency.clone(), f.procedure.clone(), due))
                .or_default()
                .add(&o, sign);
        }
    }

    /// A request for a supplement: an event, not a state of the dossier.
    pub fn supplement(&mut self, agency: &str, procedure: &str, day: NaiveDate) {
        self.flows
            .entry((agency.to_string(), procedure.to_string(), day))
            .or_default()
            .supplements += 1;
    }

    /// How the figures move when a dossier's facts go from `before` to `after`.
    pub fn between(before: Option<&Facts>, after: Option<&Facts>) -> Cube {
        let mut c = Cube::default();
        if let Some(b) = before {
            c.add(b, -1);
        }
        if let Some(a) = after {
            c.add(a, 1);
        }
        c.prune();
        c
    }

    /// Drops cells that do not move.
    pub fn prune(&mut self) {
        self.flows.retain(|_, m| !m.is_zero());
        self.open.retain(|_, o| !o.is_zero());
    }

    /// Adds another cube.
    pub fn merge(&mut self, other: &Cube) {
        for (k, m) in &other.flows {
            self.flows.entry(k.clone()).or_default().add(m, 1);
        }
        for (k, o) in &other.open {
            self.open.entry(k.clone()).or_default().add(o, 1);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty() && self.open.is_empty()
    }
}

/// The first day of a day's month: the key of the monthly roll-up.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn upsert(table: &str, keys: &[&str]) -> String {
    let n = keys.len();
    let cols = COLUMNS.join(", ");
    let params: Vec<String> = (1..=n + COLUMNS.len()).map(|i| format!("${i}")).collect();
    let sets: Vec<String> = COLUMNS
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}, {cols}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
        keys.join(", "),
        params.join(", "),
        keys.join(", "),
        sets.join(", ")
    )
}

static UPSERT_DAILY: LazyLock<String> =
    LazyLock::new(|| upsert("report_daily", &["agency", "procedure", "day"]));
static UPSERT_AGENCY_DAILY: LazyLock<String> =
    LazyLock::new(|| upsert("report_agency_daily", &["agency", "day"]));
static UPSERT_AGENCY_MONTHLY: LazyLock<String> =
    LazyLock::new(|| upsert("report_agency_monthly", &["agency", "month"]));

const UPSERT_OPEN: &str = "INSERT INTO report_open (agency, procedure, due, active, paused) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (agency, procedure, due) DO UPDATE SET active = report_open.active + excluded.active, paused = report_open.paused + excluded.paused";
const UPSERT_AGENCY_OPEN: &str = "INSERT INTO report_agency_open (agency, due, active, paused) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (agency, due) DO UPDATE SET active = report_agency_open.active + excluded.active, paused = report_agency_open.paused + excluded.paused";

macro_rules! bind_metrics {
    ($q:expr, $m:expr) => {{
        let mut q = $q;
        for v in $m.to_array() {
            q = q.bind(v);
        }
        q
    }};
}

/// Writes a change of the figures in the caller's transaction: the base cells, the agency's
/// days and months, and the dossiers in progress.
pub async fn apply(tx: &mut Tx<'static>, change: &Cube) -> Result<(), sqlx::Error> {
    if change.is_empty() {
        return Ok(());
    }
    let mut by_day: BTreeMap<(&str, NaiveDate), Metrics> = BTreeMap::new();
    let mut by_month: BTreeMap<(&str, NaiveDate), Metrics> = BTreeMap::new();
    for ((agency, procedure, day), m) in &change.flows {
        on_tx!(&mut *tx, c => bind_metrics!(sqlx::query(UPSERT_DAILY.as_str()).bind(agency).bind(procedure).bind(day), m)
            .execute(&mut *c).await.map(|_| ()))?;
        by_day.entry((agency, *day)).or_default().add(m, 1);
        by_month
            .entry((agency, month_of(*day)))
            .or_default()
            .add(m, 1);
    }
    for ((agency, day), m) in &by_day {
        on_tx!(&mut *tx, c => bind_metrics!(sqlx::query(UPSERT_AGENCY_DAILY.as_str()).bind(agency).bind(day), m)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    for ((agency, month), m) in &by_month {
        on_tx!(&mut *tx, c => bind_metrics!(sqlx::query(UPSERT_AGENCY_MONTHLY.as_str()).bind(agency).bind(month), m)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    let mut open_by_agency: BTreeMap<(&str, NaiveDate), Open> = BTreeMap::new();
    for ((agency, procedure, due), o) in &change.open {
        on_tx!(&mut *tx, c => sqlx::query(UPSERT_OPEN).bind(agency).bind(procedure).bind(due).bind(o.active).bind(o.paused)
            .execute(&mut *c).await.map(|_| ()))?;
        if o.active < 0 || o.paused < 0 {
            on_tx!(&mut *tx, c => sqlx::query("DELETE FROM report_open WHERE agency = $1 AND procedure = $2 AND due = $3 AND active = 0 AND paused = 0")
                .bind(agency).bind(procedure).bind(due).execute(&mut *c).await.map(|_| ()))?;
        }
        open_by_agency.entry((agency, *due)).or_default().add(o, 1);
    }
    for ((agency, due), o) in &open_by_agency {
        if o.is_zero() {
            continue;
        }
        on_tx!(&mut *tx, c => sqlx::query(UPSERT_AGENCY_OPEN).bind(agency).bind(due).bind(o.active).bind(o.paused)
            .execute(&mut *c).await.map(|_| ()))?;
        if o.active < 0 || o.paused < 0 {
            on_tx!(&mut *tx, c => sqlx::query("DELETE FROM report_agency_open WHERE agency = $1 AND due = $2 AND active = 0 AND paused = 0")
                .bind(agency).bind(due).execute(&mut *c).await.map(|_| ()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or(NaiveDate::MIN)
    }

    fn facts() -> Facts {
        Facts {
            agency: "A".into(),
            procedure: "1.000001".into(),
            online: true,
            received: None,
            resolved: None,
            sent_back: None,
            open: None,
            paid_online: None,
            paid_desk: None,
            rating: None,
        }
    }

    #[test]
    fn receiving_counts_a_flow_and_an_open_dossier() {
        let before = facts();
        let mut after = facts();
        after.received = Some(day(2));
        after.open = Some((day(9), false));
        let c = Cube::between(Some(&before), Some(&after));
        let k = ("A".to_string(), "1.000001".to_string(), day(2));
        assert_eq!(c.flows.get(&k).map(|m| m.received_online), Some(1));
        assert_eq!(c.flows.len(), 1);
        let due = ("A".to_string(), "1.000001".to_string(), day(9));
        assert_eq!(
            c.open.get(&due),
            Some(&Open {
                active: 1,
                paused: 0
            })
        );
    }

    #[test]
    fn returning_moves_open_to_resolved_and_leaves_received_alone() {
        let mut before = facts();
        before.received = Some(day(2));
        before.open = Some((day(9), false));
        let mut after = before.clone();
        after.open = None;
        after.resolved = Some((day(10), Outcome::Late));
        let c = Cube::between(Some(&before), Some(&after));
        assert_eq!(c.flows.len(), 1);
        let k = ("A".to_string(), "1.000001".to_string(), day(10));
        assert_eq!(c.flows.get(&k).map(|m| m.resolved_late), Some(1));
        let due = ("A".to_string(), "1.000001".to_string(), day(9));
        assert_eq!(
            c.open.get(&due),
            Some(&Open {
                active: -1,
                paused: 0
            })
        );
    }

    #[test]
    fn a_change_that_moves_nothing_is_empty() {
        let mut f = facts();
        f.received = Some(day(2));
        assert!(Cube::between(Some(&f), Some(&f)).is_empty());
        let mut c = Cube::default();
        c.add(&f, 1);
        c.merge(&Cube::between(Some(&f), None));
        c.prune();
        assert!(c.is_empty());
    }

    #[test]
    fn upserts_add_every_column() {
        let s = upsert("report_daily", &["agency", "procedure", "day"]);
        assert!(s.contains("$16"));
        assert!(!s.contains("$17"));
        assert!(s.contains(
            "rated_not_satisfied = report_daily.rated_not_satisfied + excluded.rated_not_satisfied"
        ));
        assert!(s.contains("paid_desk = report_daily.paid_desk + excluded.paid_desk"));
    }
}
