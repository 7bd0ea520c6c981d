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
use serde_json::json;
use utoipa::ToSchema;

use kernel::audit::Tx;
use kernel::batch::Committer;
use kernel::db::Backend;
use kernel::on_tx;

use crate::BoxFuture;
use crate::rollup::{COLUMNS, Cube};

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

/// Figures that are not rows of the source's tables: on a national node, the dossiers of
/// every local node, as the last event applied to each describes them. They are recomputed
/// inside the rebuild's or the check's own transaction, so they agree with what it reads.
pub trait Remote: Send + Sync {
    /// What every such dossier adds to the figures.
    fn cube<'a>(&'a self, tx: &'a mut Tx<'static>) -> BoxFuture<'a, Result<Cube, sqlx::Error>>;
}

/// The remote figures as one JSON parameter (`$1` of the queries that recompute), none
/// when there are none.
fn remote_param(c: &Cube) -> Option<String> {
    let flows: Vec<_> = c
        .flows
        .iter()
        .filter(|(_, m)| !m.is_zero())
        .map(|((a, p, d), m)| json!({"a": a, "p": p, "d": d, "m": m.to_array()}))
        .collect();
    let open: Vec<_> = c
        .open
        .iter()
        .filter(|(_, o)| !o.is_zero())
        .map(|((a, p, d), o)| json!({"a": a, "p": p, "d": d, "x": o.active, "y": o.paused}))
        .collect();
    if flows.is_empty() && open.is_empty() {
        return None;
    }
    Some(json!({"flows": flows, "open": open}).to_string())
}

/// The remote cells of the base roll-up, read from the JSON parameter `$1`.
fn remote_flows_sql(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => {
            let cols: Vec<String> = COLUMNS
                .iter()
                .enumerate()
                .map(|(i, c)| format!("f.value->>'$.m[{i}]' AS {c}"))
                .collect();
            format!(
                "SELECT f.value->>'a' AS agency, f.value->>'p' AS procedure, f.value->>'d' AS day, {} FROM json_each($1, '$.flows') f",
                cols.join(", ")
            )
        }
        Backend::Postgres => {
            let cols: Vec<String> = COLUMNS
                .iter()
                .enumerate()
                .map(|(i, c)| format!("CAST(f->'m'->>{i} AS BIGINT) AS {c}"))
                .collect();
            format!(
                "SELECT f->>'a' AS agency, f->>'p' AS procedure, CAST(f->>'d' AS DATE) AS day, {} FROM jsonb_array_elements(CAST($1 AS JSONB)->'flows') f",
                cols.join(", ")
            )
        }
    }
}

/// The remote dossiers in progress, read from the JSON parameter `$1`.
fn remote_open_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "SELECT o.value->>'a' AS agency, o.value->>'p' AS procedure, o.value->>'d' AS due, o.value->>'x' AS active, o.value->>'y' AS paused FROM json_each($1, '$.open') o"
        }
        Backend::Postgres => {
            "SELECT o->>'a' AS agency, o->>'p' AS procedure, CAST(o->>'d' AS DATE) AS due, CAST(o->>'x' AS BIGINT) AS active, CAST(o->>'y' AS BIGINT) AS paused FROM jsonb_array_elements(CAST($1 AS JSONB)->'open') o"
        }
    }
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

/// The base roll-up as the raw rows give it, with the remote cells when there are some.
fn flows_grouped(source: &dyn Source, backend: Backend, remote: bool) -> String {
    let mut rows = source.flows_sql(backend);
    if remote {
        rows = format!("{rows} UNION ALL {}", remote_flows_sql(backend));
    }
    format!(
        "SELECT agency, procedure, day, {} FROM ({rows}) f GROUP BY agency, procedure, day",
        sums(),
    )
}

fn open_grouped(source: &dyn Source, backend: Backend, remote: bool) -> String {
    let mut rows = source.open_sql(backend);
    if remote {
        rows = format!("{rows} UNION ALL {}", remote_open_sql(backend));
    }
    format!(
        "SELECT agency, procedure, due, SUM(active) AS active, SUM(paused) AS paused FROM ({rows}) o GROUP BY agency, procedure, due",
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
    exec_with(tx, sql, None).await
}

/// Runs a statement, binding the remote figures as `$1` when it reads them.
async fn exec_with(
    tx: &mut Tx<'static>,
    sql: &str,
    remote: Option<&str>,
) -> Result<u64, sqlx::Error> {
    on_tx!(&mut *tx, c => {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
        if let Some(r) = remote {
            q = q.bind(r.to_string());
        }
        q.execute(&mut *c).await.map(|r| r.rows_affected())
    })
}

async fn count(tx: &mut Tx<'static>, sql: &str, remote: Option<&str>) -> Result<i64, sqlx::Error> {
    on_tx!(&mut *tx, c => {
        let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()));
        if let Some(r) = remote {
            q = q.bind(r.to_string());
        }
        q.fetch_one(&mut *c).await
    })
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
    remote: Option<&dyn Remote>,
    now: DateTime<Utc>,
) -> Result<Rebuilt, kernel::problem::Error> {
    let started = std::time::Instant::now();
    let mut w = source.committer().begin().await?;
    let tx = w.tx()?;
    let backend = tx.backend();
    lock(tx).await?;
    // Read after the lock: a remote change waits for the roll-ups, so none is half in.
    let remote = match remote {
        Some(r) => remote_param(&r.cube(tx).await?),
        None => None,
    };
    for t in TABLES {
        exec(tx, &format!("DELETE FROM {t}")).await?;
    }
    let cols = COLUMNS.join(", ");
    let cells = exec_with(
        tx,
        &format!(
            "INSERT INTO report_daily (agency, procedure, day, {cols}) {}",
            flows_grouped(source, backend, remote.is_some())
        ),
        remote.as_deref(),
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
    let open_cells = exec_with(
        tx,
        &format!(
            "INSERT INTO report_open (agency, procedure, due, active, paused) {}",
            open_grouped(source, backend, remote.is_some())
        ),
        remote.as_deref(),
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
    remote: Option<&dyn Remote>,
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
    let remote = match remote {
        Some(r) => remote_param(&r.cube(tx).await?),
        None => None,
    };
    let r = remote.as_deref();
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
    let recomputed = flows_grouped(source, backend, r.is_some());
    let kept_open = "SELECT agency, procedure, due, active, paused FROM report_open WHERE active <> 0 OR paused <> 0";
    let open = open_grouped(source, backend, r.is_some());
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
        flows_missing: count(tx, &except_count(&recomputed, &kept), r).await?,
        flows_extra: count(tx, &except_count(&kept, &recomputed), r).await?,
        open_missing: count(tx, &except_count(&open, kept_open), r).await?,
        open_extra: count(tx, &except_count(kept_open, &open), r).await?,
        agency_days_off: count(tx, &except_count(&base_days, &kept_agency_days), None).await?
            + count(tx, &except_count(&kept_agency_days, &base_days), None).await?,
        agency_months_off: count(tx, &except_count(&base_months, &kept_agency_months), None)
            .await?
            + count(tx, &except_count(&kept_agency_months, &base_months), None).await?,
        agency_open_off: count(tx, &except_count(&base_open, kept_agency_open), None).await?
            + count(tx, &except_count(kept_agency_open, &base_open), None).await?,
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
        c.samples = on_tx!(&mut *tx, conn => {
            let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.as_str()));
            if let Some(r) = r {
                q = q.bind(r.to_string());
            }
            q.fetch_all(&mut *conn).await
        })?;
    }
    snapshot.commit().await?;
    Ok(c)
}
