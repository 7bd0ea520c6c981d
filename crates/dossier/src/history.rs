//! Generated dossier history: a year (or any span) of past dossiers written straight to the
//! tables, for the demo's dashboards and for the report benchmarks. Each generated dossier is
//! a plausible one: received online or at the desk on a working day, due after its time
//! limit in working days, returned early, on time or late (how often late depends on the
//! province, so the rankings differ), refused or stopped now and then, some asked for a
//! supplement, some paid online, some rated; those whose result is not back yet are in
//! progress at the first step of the standard workflow. Codes continue each agency's daily
//! counter, so they never collide with real ones. Nothing here goes through the roll-ups:
//! rebuild them after (`report::Reports::rebuild`).

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use sqlx::types::Json;

use kernel::clock::from_local;
use kernel::db::Db;
use kernel::sample::Rng;
use kernel::{on_db, on_tx};

use crate::Result;
use crate::workflow::Workflow;

/// The actor generated rows are made by.
pub const ACTOR: &str = "system:history";

/// An agency, its province, and the procedures it handles: code, version and time limit in
/// working days.
pub type Handled = (String, String, Vec<(String, i64, u16)>);

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Agencies with their province (for how often they are late) and the procedures they
    /// handle: code, version and time limit in working days.
    pub agencies: Vec<Handled>,
    /// First and last day of submissions.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Today: results due later are not back yet, and nothing happens after it.
    pub today: NaiveDate,
    pub dossiers: u64,
    pub seed: u64,
}

const FAMILY: [&str; 10] = [
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
];
const MIDDLE: [&str; 6] = ["Văn", "Thị", "Hữu", "Minh", "Thanh", "Ngọc"];
const GIVEN: [&str; 12] = [
    "An", "Bình", "Cường", "Dung", "Giang", "Hà", "Hải", "Hoa", "Khánh", "Lan", "Minh", "Trang",
];
const AMOUNTS: [i64; 6] = [10_000, 15_000, 20_000, 50_000, 70_000, 100_000];

fn working(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn add_working_days(mut d: NaiveDate, n: u16) -> NaiveDate {
    let mut left = n.max(1);
    while left > 0 {
        d += Duration::days(1);
        if working(d) {
            left -= 1;
        }
    }
    d
}

fn at(day: NaiveDate, minutes_after_eight: u64) -> DateTime<Utc> {
    let t = NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN)
        + Duration::minutes(i64::try_from(minutes_after_eight).unwrap_or(0));
    from_local(day.and_time(t))
}

/// One generated dossier's row.
struct Gen {
    id: String,
    code: String,
    procedure: String,
    version: i64,
    agency: String,
    name: String,
    fold: String,
    channel: &'static str,
    status: &'static str,
    days: i64,
    submitted_at: DateTime<Utc>,
    received_at: Option<DateTime<Utc>>,
    appointment: Option<NaiveDate>,
    workflow: Option<Json<Workflow>>,
    step: Option<&'static str>,
    step_due_at: Option<DateTime<Utc>>,
    decided_at: Option<DateTime<Utc>>,
    returned_at: Option<DateTime<Utc>>,
    method: Option<&'static str>,
    outcome: Option<&'static str>,
    rating: Option<&'static str>,
    rated_at: Option<DateTime<Utc>>,
    rule_set: Option<&'static str>,
    closed_at: Option<DateTime<Utc>>,
    fee_settled_at: Option<DateTime<Utc>>,
    fee_online: Option<i64>,
    fee_desk: Option<i64>,
    reasons: Json<Vec<&'static str>>,
    updated_at: DateTime<Utc>,
    supplement_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, code, procedure_code, procedure_version, agency_code, applicant_name, applicant_fold, channel, status, form, \
     time_limit_days, reasons, submitted_at, received_at, appointment_date, created_by, created_at, updated_at, workflow, step, \
     step_started_at, step_due_at, decided_at, returned_at, return_method, outcome, rating, rated_at, rule_set, closed_at, \
     fee_settled_at, fee_online, fee_desk";
const PER_ROW: usize = 33;
/// Rows per INSERT statement (within both databases' limits on parameters).
const ROWS: usize = 16;

fn insert_sql(n: usize) -> String {
    let mut s = format!("INSERT INTO dossiers ({COLUMNS}) VALUES ");
    for r in 0..n {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..PER_ROW {
            if c > 0 {
                s.push(',');
            }
            s.push_str(&format!("${}", r * PER_ROW + c + 1));
        }
        s.push(')');
    }
    s
}

macro_rules! bind_gen {
    ($q:expr, $g:expr) => {
        $q.bind(&$g.id)
            .bind(&$g.code)
            .bind(&$g.procedure)
            .bind($g.version)
            .bind(&$g.agency)
            .bind(&$g.name)
            .bind(&$g.fold)
            .bind($g.channel)
            .bind($g.status)
            .bind(Json(serde_json::Value::Object(serde_json::Map::new())))
            .bind($g.days)
            .bind(&$g.reasons)
            .bind($g.submitted_at)
            .bind($g.received_at)
            .bind($g.appointment)
            .bind(ACTOR)
            .bind($g.submitted_at)
            .bind($g.updated_at)
            .bind(&$g.workflow)
            .bind($g.step)
            .bind($g.received_at)
            .bind($g.step_due_at)
            .bind($g.decided_at)
            .bind($g.returned_at)
            .bind($g.method)
            .bind($g.outcome)
            .bind($g.rating)
            .bind($g.rated_at)
            .bind($g.rule_set)
            .bind($g.closed_at)
            .bind($g.fee_settled_at)
            .bind($g.fee_online)
            .bind($g.fee_desk)
    };
}

/// Writes a batch of generated dossiers and their supplement requests in one transaction.
async fn write(db: &Db, batch: &[Gen]) -> Result<()> {
    let mut tx = kernel::audit::Tx::begin(db).await?;
    for chunk in batch.chunks(ROWS) {
        let sql = insert_sql(chunk.len());
        on_tx!(&mut tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for g in chunk {
                q = bind_gen!(q, g);
            }
            q.execute(&mut *c).await.map(|_| ())
        })?;
    }
    let events: Vec<&Gen> = batch.iter().filter(|g| g.supplement_at.is_some()).collect();
    for chunk in events.chunks(ROWS * 3) {
        let mut sql = String::from(
            "INSERT INTO dossier_events (id, dossier_id, at, actor, action, from_status, to_status, comment, data) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, '{ACTOR}', 'request_supplement', 'submitted', 'supplement_requested', '', '{{}}')",
                i * 3 + 1,
                i * 3 + 2,
                i * 3 + 3
            ));
        }
        on_tx!(&mut tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for g in chunk {
                q = q.bind(format!("{}-s", g.id)).bind(&g.id).bind(g.supplement_at);
            }
            q.execute(&mut *c).await.map(|_| ())
        })?;
    }
    tx.commit().await?;
    Ok(())
}

/// Copies every generated dossier (and its supplement request) `copies` more times, with new
/// ids and codes (`…r1`, `…r2`): the same year, that many times busier, written by the
/// database itself in a few statements, for loads of millions. Answers the rows added.
pub async fn replicate(db: &Db, copies: u32, progress: &(dyn Fn(u64) + Sync)) -> Result<u64> {
    let rest: Vec<&str> = COLUMNS.split(',').map(str::trim).skip(2).collect();
    let rest = rest.join(", ");
    let mut added = 0;
    for k in 1..=copies {
        let mut tx = kernel::audit::Tx::begin(db).await?;
        let rows = format!(
            "INSERT INTO dossiers ({COLUMNS}) SELECT id || 'r{k}', code || 'r{k}', {rest} FROM dossiers \
             WHERE created_by = '{ACTOR}' AND id NOT LIKE '%r%'"
        );
        let events = format!(
            "INSERT INTO dossier_events (id, dossier_id, at, actor, action, from_status, to_status, comment, data) \
             SELECT e.id || 'r{k}', e.dossier_id || 'r{k}', e.at, e.actor, e.action, e.from_status, e.to_status, e.comment, e.data \
             FROM dossier_events e WHERE e.actor = '{ACTOR}' AND e.dossier_id NOT LIKE '%r%'"
        );
        let n = on_tx!(&mut tx, c => sqlx::query(sqlx::AssertSqlSafe(rows)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        on_tx!(&mut tx, c => sqlx::query(sqlx::AssertSqlSafe(events)).execute(&mut *c).await.map(|_| ()))?;
        tx.commit().await?;
        added += n;
        progress(added);
    }
    Ok(added)
}

/// Whether generated dossiers are stored already.
pub async fn generated(db: &Db) -> Result<bool> {
    let n: Option<String> = on_db!(db, c => sqlx::query_scalar(
        "SELECT id FROM dossiers WHERE created_by = $1 LIMIT 1"
    ).bind(ACTOR).fetch_optional(c).await)?;
    Ok(n.is_some())
}

/// Generates `spec.dossiers` dossiers; answers how many were written. `progress` hears the
/// count after each batch.
pub async fn generate(db: &Db, spec: &Spec, progress: &(dyn Fn(u64) + Sync)) -> Result<u64> {
    let pairs: Vec<(usize, usize)> = spec
        .agencies
        .iter()
        .enumerate()
        .flat_map(|(a, (_, _, procs))| (0..procs.len()).map(move |p| (a, p)))
        .collect();
    if pairs.is_empty() || spec.dossiers == 0 || spec.from > spec.to {
        return Ok(0);
    }
    let mut rng = Rng::new(spec.seed);
    let days: Vec<NaiveDate> = spec
        .from
        .iter_days()
        .take_while(|d| *d <= spec.to)
        .filter(|d| working(*d))
        .collect();
    if days.is_empty() {
        return Ok(0);
    }
    // Counters go on from the numbers already given.
    let known: Vec<(String, String, i64)> = on_db!(db, c => sqlx::query_as(
        "SELECT agency_code, day, last FROM dossier_counters"
    ).fetch_all(c).await)?;
    let mut counters: HashMap<(usize, NaiveDate), i64> = HashMap::new();
    let index: HashMap<&str, usize> = spec
        .agencies
        .iter()
        .enumerate()
        .map(|(i, (a, _, _))| (a.as_str(), i))
        .collect();
    for (agency, day, last) in known {
        if let (Some(i), Ok(d)) = (
            index.get(agency.as_str()),
            NaiveDate::parse_from_str(&day, "%y%m%d"),
        ) {
            counters.insert((*i, d), last);
        }
    }
    // How often each province is late: from 1% to 19%, by its code.
    let late_share = |province: &str| -> f64 {
        let h = province
            .bytes()
            .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
        0.01 + (h % 10) as f64 * 0.02
    };
    let mut workflows: HashMap<u16, Json<Workflow>> = HashMap::new();
    let per_day = spec.dossiers as f64 / days.len() as f64;
    let mut written = 0u64;
    let mut batch: Vec<Gen> = Vec::with_capacity(10_000);
    let mut made = 0u64;
    for (di, day) in days.iter().enumerate() {
        let target = ((di + 1) as f64 * per_day).round() as u64;
        while made < target.min(spec.dossiers) {
            made += 1;
            let (a, p) = *rng.pick(&pairs);
            let (agency, province, procs) = &spec.agencies[a];
            let (procedure, version, limit) = &procs[p];
            let n = counters.entry((a, *day)).or_insert(0);
            *n += 1;
            let code = format!("{agency}-{}-{:04}", day.format("%y%m%d"), n);
            let name = format!(
                "{} {} {}",
                rng.pick(&FAMILY),
                rng.pick(&MIDDLE),
                rng.pick(&GIVEN)
            );
            let online = rng.chance(0.62);
            let submitted_at = at(*day, rng.below(8 * 60));
            let mut g = Gen {
                id: format!("h{:x}-{made:010}", spec.seed),
                code,
                procedure: procedure.clone(),
                version: *version,
                agency: agency.clone(),
                fold: kernel::text::fold(&name),
                name,
                channel: if online { "online" } else { "desk" },
                status: "processing",
                days: i64::from(*limit),
                submitted_at,
                received_at: None,
                appointment: None,
                workflow: None,
                step: None,
                step_due_at: None,
                decided_at: None,
                returned_at: None,
                method: None,
                outcome: None,
                rating: None,
                rated_at: None,
                rule_set: None,
                closed_at: None,
                fee_settled_at: None,
                fee_online: None,
                fee_desk: None,
                reasons: Json(Vec::new()),
                updated_at: submitted_at,
                supplement_at: None,
            };
            if online && rng.chance(0.15) {
                g.fee_online = Some(*rng.pick(&AMOUNTS));
                g.fee_settled_at = Some(submitted_at + Duration::minutes(3));
            }
            if rng.chance(0.07) {
                g.supplement_at = Some(submitted_at + Duration::minutes(30));
            }
            if rng.chance(0.03) {
                g.status = "refused";
                g.reasons = Json(vec!["Hồ sơ không thuộc thẩm quyền giải quyết"]);
                g.closed_at = Some(submitted_at + Duration::minutes(40));
                g.updated_at = submitted_at + Duration::minutes(40);
                batch.push(g);
                continue;
            }
            let received =
                submitted_at + Duration::minutes(20 + i64::try_from(rng.below(60)).unwrap_or(0));
            let due = add_working_days(*day, *limit);
            g.received_at = Some(received);
            g.appointment = Some(due);
            g.rule_set = Some(crate::rules::in_force(*day).id.as_str());
            g.updated_at = received;
            if !online && rng.chance(0.2) {
                // Fees paid at the desk on receipt.
                g.fee_desk = Some(*rng.pick(&AMOUNTS));
                g.fee_settled_at = Some(received);
            }
            if rng.chance(0.01) {
                g.status = "stopped";
                g.reasons = Json(vec!["Người nộp đề nghị dừng giải quyết"]);
                let c = received + Duration::days(1);
                g.closed_at = Some(c);
                g.updated_at = c;
                batch.push(g);
                continue;
            }
            let late = rng.chance(late_share(province));
            let back = if late {
                due + Duration::days(1 + i64::try_from(rng.below(6)).unwrap_or(0))
            } else if rng.chance(0.3) {
                due
            } else {
                let span = (due - *day).num_days().max(1);
                (*day
                    + Duration::days(
                        i64::try_from(rng.below(u64::try_from(span).unwrap_or(1))).unwrap_or(0),
                    ))
                .max(*day)
            };
            if back >= spec.today {
                // Not back yet: in progress at the first step.
                let wf = workflows
                    .entry(*limit)
                    .or_insert_with(|| Json(Workflow::standard(*limit)))
                    .clone();
                g.step = Some("xu-ly");
                g.step_due_at = Some(at(due, 0));
                g.workflow = Some(wf);
                batch.push(g);
                continue;
            }
            let returned = at(back, 60 + rng.below(7 * 60)).max(received + Duration::minutes(30));
            g.status = "returned";
            g.outcome = Some(if back < due {
                "early"
            } else if back == due {
                "on_time"
            } else {
                "late"
            });
            g.decided_at = Some(returned - Duration::minutes(30));
            g.returned_at = Some(returned);
            g.method = Some(*rng.pick(&["desk", "post", "online"]));
            g.updated_at = returned;
            if rng.chance(0.35) && back + Duration::days(1) < spec.today {
                g.rating = Some(*rng.pick(&[
                    "very_satisfied",
                    "very_satisfied",
                    "satisfied",
                    "satisfied",
                    "not_satisfied",
                ]));
                let r = returned + Duration::days(1);
                g.rated_at = Some(r);
                g.updated_at = r;
            }
            batch.push(g);
        }
        if batch.len() >= 10_000 || di + 1 == days.len() {
            write(db, &batch).await?;
            written += batch.len() as u64;
            batch.clear();
            progress(written);
        }
    }
    // The counters remember the numbers given, so real dossiers of those days go on after.
    let mut tx = kernel::audit::Tx::begin(db).await?;
    let names: Vec<&str> = spec.agencies.iter().map(|(a, _, _)| a.as_str()).collect();
    for ((a, day), last) in &counters {
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO dossier_counters (agency_code, day, last) VALUES ($1, $2, $3) \
             ON CONFLICT (agency_code, day) DO UPDATE SET last = CASE WHEN dossier_counters.last > excluded.last THEN dossier_counters.last ELSE excluded.last END"
        ).bind(names[*a]).bind(day.format("%y%m%d").to_string()).bind(*last).execute(&mut *c).await.map(|_| ()))?;
    }
    tx.commit().await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_days_skip_weekends() {
        let fri = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or(NaiveDate::MIN);
        assert_eq!(add_working_days(fri, 1), fri + Duration::days(3));
        assert_eq!(add_working_days(fri, 5), fri + Duration::days(7));
    }

    #[test]
    fn statements_fit_the_parameter_limits() {
        const { assert!(ROWS * PER_ROW < 32_766) };
        let s = insert_sql(2);
        assert!(s.ends_with(&format!("${})", 2 * PER_ROW)));
        assert_eq!(COLUMNS.split(',').count(), PER_ROW);
    }
}
