//! Recomputing the roll-ups from the raw rows, and checking that the kept ones agree.
//!
//! The [`Source`] (the dossier system) gives the recomputation as SQL over its own tables;
//! this module groups it, writes it in place of the kept roll-ups ([`rebuild`]) or compares it
//! with them ([`check`]). A rebuild runs in one turn of the source's group commit, so no
//! change of a dossier lands in between; on PostgreSQL the roll-up tables are also locked
//! against other nodes for its length. A check reads one snapshot (a deferred transaction on
//! SQLite's WAL, repeatable read on PostgreSQL), in which the dossiers and the roll-ups written
//! with them always agree, and blocks nobody.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use kernel::audit::Tx;
use kernel::batch::Committer;
use kernel::db::Backend;
use kernel::on_tx;

use crate::rollup::COLUMNS;

/// The raw rows the roll-ups are recomputed from, as SQL over the source's own tables.
pub trait Source: Send + Sync {
    /// A SELECT of `agency, procedure, day` and the thirteen [`COLUMNS`], in that order, over
    /// the raw rows: a cell may come in several rows, which are summed.
    fn flows_sql(&self, backend: Backend) -> String;
    /// A SELECT of `agency, procedure, due, active, paused` over the dossiers in progress.
    fn open_sql(&self, backend: Backend) -> String;
    /// The group commit the source's changes go through.
    fn committer(&self) -> &Committer;
}

fn sums() -> String {
    COLUMNS
        .iter()
        .map(|c| format!("SUM({c}) AS {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn nonzero() -> String {
    COLUMNS
        .iter()
        .map(|c| format!("{c} <> 0"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The first day of the month of a date column, as a date.
pub(crate) fn month_expr(backend: Backend, col: &str) -> String {
    match backend {
        Backend::Sqlite => format!("strftime('%Y-%m-01', {col})"),
        Backend::Postgres => format!("CAST(date_trunc('month', {col}) AS DATE)"),
    }
}

/// The base roll-up as the raw rows give it.
fn flows_grouped(source: &dyn Source, backend: Backend) -> String {
    format!(
        "SELECT agency, procedure, day, {} FROM ({}) f GROUP BY agency, procedure, day",
        sums(),
        source.flows_sql(backend)
    )
}

fn open_grouped(source: &dyn Source, backend: Backend) -> String {
    format!(
        "SELECT agency, procedure, due, SUM(active) AS active, SUM(paused) AS paused FROM ({}) o GROUP BY agency, procedure, due",
        source.open_sql(backend)
    )
}

fn agency_daily_from_base() -> String {
    format!(
        "SELECT agency, day, {} FROM report_daily GROUP BY agency, day",
        sums()
    )
}

fn agency_monthly_from_base(backend: Backend) -> String {
    let m = month_expr(backend, "day");
    format!(
        "SELECT agency, {m} AS month, {} FROM report_daily GROUP BY agency, {m}",
        sums()
    )
}

const AGENCY_OPEN_FROM_BASE: &str = "SELECT agency, due, SUM(active) AS active, SUM(paused) AS paused FROM report_open GROUP BY agency, due";

const TABLES: [&str; 5] = [
    "report_daily",
    "report_agency_daily",
    "report_agency_monthly",
    "report_open",
    "report_agency_open",
];

async fn exec(tx: &mut Tx<'static>, sql: &str) -> Result<u64, sqlx::Error> {
    on_tx!(&mut *tx, c => sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut *c).await.map(|r| r.rows_affected()))
}

async fn count(tx: &mut Tx<'static>, sql: &str) -> Result<i64, sqlx::Error> {
    on_tx!(&mut *tx, c => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&mut *c).await)
}

async fn lock(tx: &mut Tx<'static>) -> Result<(), sqlx::Error> {
    if tx.backend() == Backend::Postgres {
        exec(
            tx,
            &format!("LOCK TABLE {} IN EXCLUSIVE MODE", TABLES.join(", ")),
        )
        .await?;
    }
    Ok(())
}

/// What a rebuild wrote.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rebuilt {
    pub cells: u64,
    pub agency_days: u64,
    pub agency_months: u64,
    pub open_cells: u64,
    pub at: DateTime<Utc>,
    pub millis: u128,
}

/// Replaces every roll-up by its recomputation from the raw rows, in one transaction.
pub async fn rebuild(
    source: &dyn Source,
    now: DateTime<Utc>,
) -> Result<Rebuilt, kernel::problem::Error> {
    let started = std::time::Instant::now();
    let mut w = source.committer().begin().await?;
    let tx = w.tx()?;
    let backend = tx.backend();
    lock(tx).await?;
    for t in TABLES {
        exec(tx, &format!("DELETE FROM {t}")).await?;
    }
    let cols = COLUMNS.join(", ");
    let cells = exec(
        tx,
        &format!(
            "INSERT INTO report_daily (agency, procedure, day, {cols}) {}",
            flows_grouped(source, backend)
        ),
    )
    .await?;
    let agency_days = exec(
        tx,
        &format!(
            "INSERT INTO report_agency_daily (agency, day, {cols}) {}",
            agency_daily_from_base()
        ),
    )
    .await?;
    let agency_months = exec(
        tx,
        &format!(
            "INSERT INTO report_agency_monthly (agency, month, {cols}) {}",
            agency_monthly_from_base(backend)
        ),
    )
    .await?;
    let open_cells = exec(
        tx,
        &format!(
            "INSERT INTO report_open (agency, procedure, due, active, paused) {}",
            open_grouped(source, backend)
        ),
    )
    .await?;
    exec(
        tx,
        &format!(
            "INSERT INTO report_agency_open (agency, due, active, paused) {AGENCY_OPEN_FROM_BASE}"
        ),
    )
    .await?;
    on_tx!(&mut *tx, c => sqlx::query(
        "INSERT INTO report_state (id, built_at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET built_at = excluded.built_at"
    ).bind(now).execute(&mut *c).await.map(|_| ()))?;
    w.commit().await?;
    Ok(Rebuilt {
        cells,
        agency_days,
        agency_months,
        open_cells,
        at: now,
        millis: started.elapsed().as_millis(),
    })
}

/// When the roll-ups were last rebuilt; none when never (a new or upgraded database).
pub async fn built_at(db: &kernel::db::Db) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    kernel::on_db!(db, c => sqlx::query_scalar("SELECT built_at FROM report_state WHERE id = 1").fetch_optional(c).await)
}

/// Cells where the kept roll-ups and the recomputation differ, one number per table and
/// direction; all zero when they agree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Check {
    /// Base cells the recomputation has and the kept roll-up lacks or has otherwise.
    pub flows_missing: i64,
    /// Base cells kept that the recomputation does not give.
    pub flows_extra: i64,
    pub open_missing: i64,
    pub open_extra: i64,
    /// Agency days, agency months and agency open cells that are not the sum of the base.
    pub agency_days_off: i64,
    pub agency_months_off: i64,
    pub agency_open_off: i64,
    /// Some cells that differ, as text, for the operator.
    pub samples: Vec<String>,
}

impl Check {
    pub fn agrees(&self) -> bool {
        self.flows_missing == 0
            && self.flows_extra == 0
            && self.open_missing == 0
            && self.open_extra == 0
            && self.agency_days_off == 0
            && self.agency_months_off == 0
            && self.agency_open_off == 0
    }
}

fn except_count(a: &str, b: &str) -> String {
    format!("SELECT COUNT(*) FROM (SELECT * FROM ({a}) x EXCEPT SELECT * FROM ({b}) y) d")
}

/// Compares the kept roll-ups with their recomputation from the raw rows, in one read-only
/// snapshot: writers go on meanwhile and do not disturb it.
pub async fn check(
    db: &kernel::db::Db,
    source: &dyn Source,
) -> Result<Check, kernel::problem::Error> {
    let mut snapshot = match db {
        kernel::db::Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
        kernel::db::Db::Postgres(p) => {
            let mut t = p.begin().await?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *t)
                .await?;
            Tx::Postgres(t)
        }
    };
    let tx = &mut snapshot;
    let backend = tx.backend();
    let cols = COLUMNS.join(", ");
    let kept = format!(
        "SELECT agency, procedure, day, {cols} FROM report_daily WHERE {}",
        nonzero()
    );
    let kept_agency_days = format!(
        "SELECT agency, day, {cols} FROM report_agency_daily WHERE {}",
        nonzero()
    );
    let kept_agency_months = format!(
        "SELECT agency, month, {cols} FROM report_agency_monthly WHERE {}",
        nonzero()
    );
    let recomputed = flows_grouped(source, backend);
    let kept_open = "SELECT agency, procedure, due, active, paused FROM report_open WHERE active <> 0 OR paused <> 0";
    let open = open_grouped(source, backend);
    let base_days = format!(
        "SELECT * FROM ({}) b WHERE {}",
        agency_daily_from_base(),
        nonzero()
    );
    let base_months = format!(
        "SELECT * FROM ({}) b WHERE {}",
        agency_monthly_from_base(backend),
        nonzero()
    );
    let base_open =
        format!("SELECT * FROM ({AGENCY_OPEN_FROM_BASE}) b WHERE active <> 0 OR paused <> 0");
    let kept_agency_open = "SELECT agency, due, active, paused FROM report_agency_open WHERE active <> 0 OR paused <> 0";
    let mut c = Check {
        flows_missing: count(tx, &except_count(&recomputed, &kept)).await?,
        flows_extra: count(tx, &except_count(&kept, &recomputed)).await?,
        open_missing: count(tx, &except_count(&open, kept_open)).await?,
        open_extra: count(tx, &except_count(kept_open, &open)).await?,
        agency_days_off: count(tx, &except_count(&base_days, &kept_agency_days)).await?
            + count(tx, &except_count(&kept_agency_days, &base_days)).await?,
        agency_months_off: count(tx, &except_count(&base_months, &kept_agency_months)).await?
            + count(tx, &except_count(&kept_agency_months, &base_months)).await?,
        agency_open_off: count(tx, &except_count(&base_open, kept_agency_open)).await?
            + count(tx, &except_count(kept_agency_open, &base_open)).await?,
        samples: Vec::new(),
    };
    if c.flows_missing + c.flows_extra > 0 {
        let day = match backend {
            Backend::Sqlite => "CAST(day AS TEXT)",
            Backend::Postgres => "CAST(day AS TEXT)",
        };
        let sql = format!(
            "SELECT 'recomputed ' || agency || ' ' || procedure || ' ' || {day} FROM (SELECT * FROM ({recomputed}) x EXCEPT SELECT * FROM ({kept}) y) d \
             UNION ALL SELECT 'kept ' || agency || ' ' || procedure || ' ' || {day} FROM (SELECT * FROM ({kept}) x EXCEPT SELECT * FROM ({recomputed}) y) e LIMIT 20"
        );
        c.samples = on_tx!(&mut *tx, conn => sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(&mut *conn).await)?;
    }
    snapshot.commit().await?;
    Ok(c)
}
