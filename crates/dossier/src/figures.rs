//! What the dossiers tell the report roll-ups: a dossier's facts (read in the transaction of
//! each change, before and after it), and the recomputation of every figure from the raw
//! rows as SQL over this crate's tables.
//!
//! The two must say the same thing: a dossier is received on the local day of `received_at`
//! (online or at the desk by its channel), resolved on the day of `returned_at` with its
//! `outcome`, sent back on the day of `closed_at` when refused or stopped, paid online on the
//! day of `fee_settled_at` when `fee_online` holds the amount (at the desk when `fee_desk`
//! holds a positive amount), rated on the day of
//! `rated_at`; every `request_supplement` event counts on its day; and a received dossier
//! not yet returned, refused or stopped is in progress until its appointment date (paused
//! while waiting for a supplement). The report crate's check compares the roll-ups kept by
//! the first with the second.

use chrono::{DateTime, NaiveDate, Utc};
use kernel::clock::to_local;
use kernel::db::Backend;
use kernel::on_db;

use report::rollup::{Cube, Facts, Outcome, Rating};

use crate::Dossiers;

/// Statuses of a dossier in progress once received.
const OPEN: &str = "('received', 'processing', 'approved', 'rejected', 'supplement_requested')";

/// A dossier's row, as far as the figures go.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct FactRow {
    pub agency_code: String,
    pub procedure_code: String,
    pub channel: String,
    pub status: String,
    pub received_at: Option<DateTime<Utc>>,
    pub appointment_date: Option<NaiveDate>,
    pub returned_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub fee_settled_at: Option<DateTime<Utc>>,
    pub fee_online: Option<i64>,
    pub fee_desk: Option<i64>,
    pub rating: Option<String>,
    pub rated_at: Option<DateTime<Utc>>,
}

fn day(t: DateTime<Utc>) -> NaiveDate {
    to_local(t).date()
}

impl FactRow {
    pub fn facts(&self) -> Facts {
        let open = matches!(
            self.status.as_str(),
            "received" | "processing" | "approved" | "rejected" | "supplement_requested"
        );
        Facts {
            agency: self.agency_code.clone(),
            procedure: self.procedure_code.clone(),
            online: self.channel == "online",
            received: self.received_at.map(day),
            resolved: match (
                self.returned_at,
                self.outcome.as_deref().and_then(Outcome::parse),
            ) {
                (Some(t), Some(o)) => Some((day(t), o)),
                _ => None,
            },
            sent_back: self
                .closed_at
                .filter(|_| matches!(self.status.as_str(), "refused" | "stopped"))
                .map(day),
            open: match self.received_at {
                Some(r) if open => Some((
                    self.appointment_date.unwrap_or_else(|| day(r)),
                    self.status == "supplement_requested",
                )),
                _ => None,
            },
            paid_online: match (self.fee_settled_at, self.fee_online) {
                (Some(t), Some(a)) => Some((day(t), a)),
                _ => None,
            },
            paid_desk: match (self.fee_settled_at, self.fee_desk) {
                (Some(t), Some(a)) if a > 0 => Some(day(t)),
                _ => None,
            },
            rating: match (
                self.rated_at,
                self.rating.as_deref().and_then(Rating::parse),
            ) {
                (Some(t), Some(r)) => Some((day(t), r)),
                _ => None,
            },
        }
    }
}

/// Moves the roll-ups by a change of one dossier, with the writer's other writes; `supplement`
/// when the change was a request for one, on that day. The change waits for the group, where
/// the changes of all its writers are merged and written together ([`group_work`]).
pub(crate) fn record_later(
    w: &mut kernel::batch::Write,
    before: &FactRow,
    after: &FactRow,
    supplement: Option<NaiveDate>,
) {
    let mut c = Cube::between(Some(&before.facts()), Some(&after.facts()));
    if let Some(d) = supplement {
        c.supplement(&after.agency_code, &after.procedure_code, d);
    }
    if !c.is_empty() {
        w.later(Box::new(c));
    }
}

/// The group commit's work on the dossiers' committer: the events its writers left
/// ([`crate::event_later`]), in their order and one statement, their applicants' notices
/// likewise, then their roll-up changes,
/// merged into one cube and written in one statement per table. An item of another kind
/// fails the group rather than being lost.
pub(crate) fn group_work() -> kernel::batch::GroupWork {
    std::sync::Arc::new(|tx, items| {
        Box::pin(async move {
            let mut events = Vec::new();
            let mut mails = Vec::new();
            let mut all = Cube::default();
            for item in items {
                let item = match item.downcast::<crate::LaterEvent>() {
                    Ok(e) => {
                        events.push(e.0);
                        continue;
                    }
                    Err(other) => other,
                };
                let item = match item.downcast::<crate::LaterMail>() {
                    Ok(m) => {
                        mails.push(m.0);
                        continue;
                    }
                    Err(other) => other,
                };
                match item.downcast::<Cube>() {
                    Ok(c) => all.merge(&c),
                    Err(_) => {
                        return Err(kernel::problem::Error::Config(
                            "a dossier write left work of an unknown kind for its group".into(),
                        ));
                    }
                }
            }
            crate::bulk::insert_events(tx, events).await?;
            crate::bulk::insert_mails(tx, mails).await?;
            all.prune();
            report::rollup::apply(tx, &all).await?;
            Ok(())
        })
    })
}

fn local_day(backend: Backend, col: &str) -> String {
    match backend {
        Backend::Sqlite => format!("date({col}, '+7 hours')"),
        Backend::Postgres => {
            format!("CAST(({col} AT TIME ZONE 'UTC') + INTERVAL '7 hours' AS DATE)")
        }
    }
}

/// One SELECT of the union: the twelve figures, `set` giving those that are not zero.
fn part(
    backend: Backend,
    from: &str,
    at: &str,
    set: &[(&str, &str)],
    cond: &str,
    agency: &str,
    procedure: &str,
) -> String {
    let cols: Vec<String> = report::rollup::COLUMNS
        .iter()
        .map(|c| {
            let v = set
                .iter()
                .find(|(n, _)| n == c)
                .map(|(_, v)| v.to_string())
                .unwrap_or_else(|| "0".into());
            format!("{v} AS {c}")
        })
        .collect();
    format!(
        "SELECT {agency} AS agency, {procedure} AS procedure, {} AS day, {} FROM {from} WHERE {cond}",
        local_day(backend, at),
        cols.join(", ")
    )
}

impl report::Source for Dossiers {
    fn flows_sql(&self, backend: Backend) -> String {
        let d = |at: &str, set: &[(&str, &str)], cond: &str| {
            part(
                backend,
                "dossiers",
                at,
                set,
                cond,
                "agency_code",
                "procedure_code",
            )
        };
        [
            d(
                "received_at",
                &[
                    ("received_online", "CASE WHEN channel = 'online' THEN 1 ELSE 0 END"),
                    ("received_desk", "CASE WHEN channel = 'online' THEN 0 ELSE 1 END"),
                ],
                "received_at IS NOT NULL",
            ),
            d(
                "returned_at",
                &[
                    ("resolved_early", "CASE WHEN outcome = 'early' THEN 1 ELSE 0 END"),
                    ("resolved_on_time", "CASE WHEN outcome = 'on_time' THEN 1 ELSE 0 END"),
                    ("resolved_late", "CASE WHEN outcome = 'late' THEN 1 ELSE 0 END"),
                ],
                "returned_at IS NOT NULL AND outcome IN ('early', 'on_time', 'late')",
            ),
            d(
                "closed_at",
                &[("sent_back", "1")],
                "closed_at IS NOT NULL AND status IN ('refused', 'stopped')",
            ),
            d(
                "fee_settled_at",
                &[("paid_online", "1"), ("paid_amount", "fee_online")],
                "fee_settled_at IS NOT NULL AND fee_online IS NOT NULL",
            ),
            d(
                "fee_settled_at",
                &[("paid_desk", "1")],
                "fee_settled_at IS NOT NULL AND fee_desk > 0",
            ),
            d(
                "rated_at",
                &[
                    ("rated_very_satisfied", "CASE WHEN rating = 'very_satisfied' THEN 1 ELSE 0 END"),
                    ("rated_satisfied", "CASE WHEN rating = 'satisfied' THEN 1 ELSE 0 END"),
                    ("rated_not_satisfied", "CASE WHEN rating = 'not_satisfied' THEN 1 ELSE 0 END"),
                ],
                "rated_at IS NOT NULL AND rating IN ('very_satisfied', 'satisfied', 'not_satisfied')",
            ),
            part(
                backend,
                "dossier_events e JOIN dossiers x ON x.id = e.dossier_id",
                "e.at",
                &[("supplements", "1")],
                "e.action = 'request_supplement'",
                "x.agency_code",
                "x.procedure_code",
            ),
        ]
        .join(" UNION ALL ")
    }

    fn open_sql(&self, backend: Backend) -> String {
        format!(
            "SELECT agency_code AS agency, procedure_code AS procedure, COALESCE(appointment_date, {}) AS due, \
             CASE WHEN status = 'supplement_requested' THEN 0 ELSE 1 END AS active, \
             CASE WHEN status = 'supplement_requested' THEN 1 ELSE 0 END AS paused \
             FROM dossiers WHERE received_at IS NOT NULL AND status IN {OPEN}",
            local_day(backend, "received_at")
        )
    }

    fn committer(&self) -> &kernel::batch::Committer {
        &self.writer
    }
}

#[derive(sqlx::FromRow)]
struct LateRow {
    code: String,
    procedure_code: String,
    agency_code: String,
    appointment_date: NaiveDate,
    step: Option<String>,
}

impl report::OverdueSource for Dossiers {
    fn overdue<'a>(
        &'a self,
        agencies: Option<&'a [String]>,
        procedure: Option<&'a str>,
        today: NaiveDate,
        limit: i64,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = std::result::Result<Vec<report::OverdueLine>, kernel::problem::Error>,
                > + Send
                + 'a,
        >,
    > {
        Box::pin(async move {
            // The index of dossiers in progress is partial: the query repeats its condition.
            let mut sql = format!(
                "SELECT COALESCE(code, id) AS code, procedure_code, agency_code, appointment_date, step FROM dossiers \
                 WHERE status IN {OPEN} AND status <> 'supplement_requested' AND received_at IS NOT NULL \
                 AND appointment_date < $1 AND ($2 = '' OR procedure_code = $2)"
            );
            if let Some(list) = agencies {
                if list.is_empty() {
                    return Ok(Vec::new());
                }
                let marks: Vec<String> = (0..list.len()).map(|i| format!("${}", i + 4)).collect();
                sql.push_str(&format!(" AND agency_code IN ({})", marks.join(", ")));
            }
            sql.push_str(" ORDER BY appointment_date, code LIMIT $3");
            let rows: Vec<LateRow> = on_db!(&self.db, c => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(today).bind(procedure.unwrap_or("")).bind(limit);
                for a in agencies.unwrap_or(&[]) {
                    q = q.bind(a);
                }
                q.fetch_all(c).await
            })?;
            Ok(rows
                .into_iter()
                .map(|r| report::OverdueLine {
                    days_late: (today - r.appointment_date).num_days(),
                    code: r.code,
                    procedure: r.procedure_code,
                    agency: r.agency_code,
                    appointment_date: r.appointment_date,
                    step: r.step,
                })
                .collect())
        })
    }
}
