//! The sync outbox of a local node (see the migration `…_outbox.sql`): each event of a
//! dossier, numbered per dossier, written by the database in the event's own transaction while
//! the outbox is on, read here by the node's sync to the national node.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json;
use utoipa::ToSchema;

use kernel::db::Db;
use kernel::on_db;

use crate::DossierError;

type Result<T, E = DossierError> = std::result::Result<T, E>;

/// One event waiting in the outbox (or pushed already, for a replay), with what the dossier
/// was when it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct OutboxEvent {
    /// The outbox's own number: the order events were written in.
    pub outbox_id: i64,
    pub dossier_id: String,
    /// The event's number within its dossier, from 1, without gaps.
    pub seq: i64,
    pub event_id: String,
    /// The dossier's code (none for a draft).
    pub code: Option<String>,
    pub agency_code: String,
    pub procedure_code: String,
    pub applicant_cccd: Option<String>,
    pub applicant_name: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub appointment_date: Option<NaiveDate>,
    /// When the event was written to the outbox (the node's clock, for lag).
    pub written_at: DateTime<Utc>,
    /// When it happened (the dossier's clock).
    pub at: DateTime<Utc>,
    pub action: String,
    pub from_status: String,
    pub to_status: String,
    pub comment: String,
    #[schema(value_type = Object)]
    pub data: Json<Value>,
    /// What the dossier added to the report figures just after the event.
    #[sqlx(flatten)]
    pub figures: Figures,
}

/// What a dossier adds to the report figures at one moment: the columns of its row the
/// roll-ups read (all empty for an event written before the outbox carried them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Figures {
    /// `online` or `desk`.
    pub channel: Option<String>,
    pub status: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
    pub returned_at: Option<DateTime<Utc>>,
    /// `early`, `on_time` or `late`.
    pub outcome: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub fee_settled_at: Option<DateTime<Utc>>,
    /// Paid through an online gateway, in đồng.
    pub fee_online: Option<i64>,
    /// Paid at the desk, in đồng.
    pub fee_desk: Option<i64>,
    pub rating: Option<String>,
    pub rated_at: Option<DateTime<Utc>>,
}

impl Figures {
    /// The roll-ups' facts of a dossier of `agency` and `procedure`, due on `appointment`,
    /// with these figures; none when they were not carried.
    pub fn facts(
        &self,
        agency: &str,
        procedure: &str,
        appointment: Option<NaiveDate>,
    ) -> Option<report::rollup::Facts> {
        let (Some(channel), Some(status)) = (&self.channel, &self.status) else {
            return None;
        };
        let row = crate::figures::FactRow {
            agency_code: agency.to_string(),
            procedure_code: procedure.to_string(),
            channel: channel.clone(),
            status: status.clone(),
            received_at: self.received_at,
            appointment_date: appointment,
            returned_at: self.returned_at,
            outcome: self.outcome.clone(),
            closed_at: self.closed_at,
            fee_settled_at: self.fee_settled_at,
            fee_online: self.fee_online,
            fee_desk: self.fee_desk,
            rating: self.rating.clone(),
            rated_at: self.rated_at,
        };
        Some(row.facts())
    }
}

/// How far behind the outbox is.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Backlog {
    /// Whether events are being written to it.
    pub on: bool,
    /// Events written since it was turned on.
    pub written: i64,
    /// Events not pushed yet.
    pub pending: i64,
    /// When the oldest of them was written.
    pub oldest_pending: Option<DateTime<Utc>>,
    /// Events the national node refused (kept, with its reason).
    pub refused: i64,
    /// When the last event was pushed.
    pub last_pushed: Option<DateTime<Utc>>,
}

const SELECT: &str = "SELECT o.id AS outbox_id, o.dossier_id, o.seq, o.event_id, o.code, o.agency_code, o.procedure_code, \
     o.applicant_cccd, o.applicant_name, o.submitted_at, o.appointment_date, o.written_at, \
     e.at, e.action, e.from_status, e.to_status, e.comment, e.data, \
     o.channel, o.status, o.received_at, o.returned_at, o.outcome, o.closed_at, o.fee_settled_at, \
     o.fee_online, o.fee_desk, o.rating, o.rated_at \
     FROM dossier_outbox o JOIN dossier_events e ON e.id = o.event_id";

/// Turns the outbox on: from now, every dossier event is also written to it. Idempotent.
pub async fn turn_on(db: &Db, now: DateTime<Utc>) -> Result<()> {
    on_db!(db, c => sqlx::query(
        "INSERT INTO dossier_outbox_on (id, since) VALUES (1, $1) ON CONFLICT (id) DO NOTHING"
    ).bind(now).execute(c).await.map(|_| ()))?;
    Ok(())
}

/// Up to `limit` events not pushed yet, in the order they were written (so each dossier's in
/// its own order).
pub async fn pending(db: &Db, limit: usize) -> Result<Vec<OutboxEvent>> {
    let sql = format!("{SELECT} WHERE o.pushed_at IS NULL ORDER BY o.id LIMIT $1");
    let rows = on_db!(db, c => sqlx::query_as::<_, OutboxEvent>(sqlx::AssertSqlSafe(sql))
        .bind(limit as i64).fetch_all(c).await)?;
    Ok(rows)
}

/// Every event of one dossier in the outbox, in order.
pub async fn of_dossier(db: &Db, dossier_id: &str) -> Result<Vec<OutboxEvent>> {
    let sql = format!("{SELECT} WHERE o.dossier_id = $1 ORDER BY o.seq");
    let rows = on_db!(db, c => sqlx::query_as::<_, OutboxEvent>(sqlx::AssertSqlSafe(sql))
        .bind(dossier_id).fetch_all(c).await)?;
    Ok(rows)
}

/// Marks events pushed at `at`; `refused` ones keep the national node's reason.
pub async fn mark_pushed(
    db: &Db,
    pushed: &[i64],
    refused: &[(i64, String)],
    at: DateTime<Utc>,
) -> Result<()> {
    if !pushed.is_empty() {
        let ids = Value::from(pushed.to_vec()).to_string();
        match db {
            Db::Sqlite(c) => {
                sqlx::query("UPDATE dossier_outbox SET pushed_at = $1, refused = NULL WHERE id IN (SELECT value FROM json_each($2))")
                    .bind(at).bind(&ids).execute(c).await?;
            }
            Db::Postgres(c) => {
                sqlx::query("UPDATE dossier_outbox SET pushed_at = $1, refused = NULL WHERE id IN (SELECT value::bigint FROM jsonb_array_elements_text($2::jsonb))")
                    .bind(at).bind(&ids).execute(c).await?;
            }
        }
    }
    for (id, why) in refused {
        on_db!(db, c => sqlx::query("UPDATE dossier_outbox SET pushed_at = $1, refused = $2 WHERE id = $3")
            .bind(at).bind(why).bind(id).execute(c).await.map(|_| ()))?;
    }
    Ok(())
}

/// Sends again every event written since `since`: answers how many. The national node
/// ignores the ones it has.
pub async fn replay_from(db: &Db, since: DateTime<Utc>) -> Result<u64> {
    let n = on_db!(db, c => sqlx::query(
        "UPDATE dossier_outbox SET pushed_at = NULL, refused = NULL WHERE written_at >= $1"
    ).bind(since).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(n)
}

/// How far behind the outbox is.
pub async fn backlog(db: &Db) -> Result<Backlog> {
    let on: i64 = on_db!(db, c => sqlx::query_scalar("SELECT COUNT(*) FROM dossier_outbox_on")
        .fetch_one(c).await)?;
    type Counts = (
        i64,
        Option<i64>,
        Option<DateTime<Utc>>,
        Option<i64>,
        Option<DateTime<Utc>>,
    );
    let (written, pending, oldest, refused, last): Counts = on_db!(db, c => sqlx::query_as(
        "SELECT COUNT(*), SUM(CASE WHEN pushed_at IS NULL THEN 1 ELSE 0 END), \
         MIN(CASE WHEN pushed_at IS NULL THEN written_at END), \
         SUM(CASE WHEN refused IS NOT NULL THEN 1 ELSE 0 END), MAX(pushed_at) FROM dossier_outbox"
    ).fetch_one(c).await)?;
    Ok(Backlog {
        on: on > 0,
        written,
        pending: pending.unwrap_or(0),
        oldest_pending: oldest,
        refused: refused.unwrap_or(0),
        last_pushed: last,
    })
}
