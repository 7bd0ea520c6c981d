//! Dashboards on a country's worth of dossiers: 10 million generated over a year across every
//! province, the roll-ups rebuilt from them, then the national dashboard and a province's
//! drill-down asked over HTTP, and the same figures computed by a plain GROUP BY over the
//! dossier table in the same run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{NaiveDate, NaiveTime};
use serde_json::Value;

use kernel::clock::{from_local, to_local};
use kernel::db::Db;

use crate::measure::{fmt_duration, percentile};

pub const START: &str = "<!-- bench:report:start -->";
pub const END: &str = "<!-- bench:report:end -->";

pub struct Args {
    pub dossiers: u64,
    pub per_province: usize,
    pub requests: usize,
    pub out: PathBuf,
    pub command: String,
    pub only: Option<String>,
}

fn step(msg: &str) {
    eprintln!("[bench] {msg}");
}

/// One kind of question, answered both ways.
struct Question {
    what: String,
    rollup: Vec<Duration>,
    plain: Vec<Duration>,
}

struct Backend {
    name: &'static str,
    version: String,
    generated: Duration,
    rebuilt: Duration,
    cells: u64,
    agencies: usize,
    questions: Vec<Question>,
}

/// Agencies of the benchmark: a commune People's Committee for each of the first
/// `per_province` communes of every province, imported into the catalogue.
async fn agencies(
    state: &motcua::AppState,
    per_province: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    let today = state.catalog.today();
    let units = state.catalog.units();
    let mut specs = Vec::new();
    let mut out = Vec::new();
    for (pi, p) in units.provinces(today).into_iter().enumerate() {
        for (k, c) in units
            .children(p.id, today)
            .into_iter()
            .take(per_province)
            .enumerate()
        {
            let code = format!("000.{k:02}.01.B{pi:02}");
            specs.push(serde_json::json!({
                "code": code, "name": format!("Ủy ban nhân dân {}, {}", c.name, p.name),
                "level": "commune", "unit": c.code, "address": c.name,
                "hours": "Thứ Hai đến Thứ Sáu, 7:30–17:00",
            }));
            out.push((code, p.code.clone()));
        }
    }
    let file = serde_json::to_vec(&serde_json::json!({ "agencies": specs }))?;
    let parsed = catalog::import::parse(&file, catalog::import::Format::Json)
        .map_err(|e| anyhow::anyhow!("bench agencies: {e:?}"))?;
    state
        .catalog
        .import(&parsed, "bench", &|_| {})
        .await
        .map_err(|e| anyhow::anyhow!("importing the bench agencies: {e}"))?;
    Ok(out)
}

type PlainRow = (String, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);

/// The figures of the national dashboard or of a province, by a plain GROUP BY over the
/// dossier table: flows in the period by agency, and the dossiers in progress and overdue
/// now. (The roll-ups also give supplement requests, ratings and the series; this gives
/// less.)
async fn plain(
    db: &Db,
    period: (NaiveDate, NaiveDate),
    today: NaiveDate,
    agencies: Option<&[String]>,
) -> anyhow::Result<BTreeMap<String, [i64; 10]>> {
    let midnight = |d: NaiveDate| from_local(d.and_time(NaiveTime::MIN));
    let (from, to) = (
        midnight(period.0),
        midnight(period.1 + chrono::Duration::days(1)),
    );
    let within = |col: &str| format!("{col} >= $1 AND {col} < $2");
    let mut sql = format!(
        "SELECT agency_code, \
         CAST(SUM(CASE WHEN {r} AND channel = 'online' THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN {r} AND channel <> 'online' THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN {t} AND outcome = 'early' THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN {t} AND outcome = 'on_time' THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN {t} AND outcome = 'late' THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN {c} AND status IN ('refused', 'stopped') THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN {f} AND fee_online IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN {f} AND fee_online IS NOT NULL THEN fee_online ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN received_at IS NOT NULL AND status IN ('received', 'processing', 'approved', 'rejected', 'supplement_requested') THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN received_at IS NOT NULL AND status IN ('received', 'processing', 'approved', 'rejected') AND appointment_date < $3 THEN 1 ELSE 0 END) AS BIGINT) \
         FROM dossiers",
        r = within("received_at"),
        t = within("returned_at"),
        c = within("closed_at"),
        f = within("fee_settled_at"),
    );
    if let Some(list) = agencies {
        let marks: Vec<String> = (0..list.len()).map(|i| format!("${}", i + 4)).collect();
        sql.push_str(&format!(" WHERE agency_code IN ({})", marks.join(", ")));
    }
    sql.push_str(" GROUP BY agency_code");
    let rows: Vec<PlainRow> = kernel::on_db!(db, c => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(from).bind(to).bind(today);
        for a in agencies.unwrap_or(&[]) {
            q = q.bind(a);
        }
        q.fetch_all(c).await
    })?;
    Ok(rows
        .into_iter()
        .map(|r| (r.0, [r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10]))
        .collect())
}

/// The plain figures summed, in the roll-ups' terms, to compare with a dashboard's answer.
fn plain_totals(rows: &BTreeMap<String, [i64; 10]>) -> [i64; 10] {
    let mut t = [0; 10];
    for r in rows.values() {
        for (a, b) in t.iter_mut().zip(r) {
            *a += b;
        }
    }
    t
}

fn answer_totals(f: &Value) -> [i64; 10] {
    let n = |k: &str| f["totals"][k].as_i64().unwrap_or(-1);
    let o = |k: &str| f["open"][k].as_i64().unwrap_or(-1);
    [
        n("received_online"),
        n("received_desk"),
        n("resolved_early"),
        n("resolved_on_time"),
        n("resolved_late"),
        n("sent_back"),
        n("paid_online"),
        n("paid_amount"),
        o("in_progress"),
        o("overdue"),
    ]
}

async fn run_backend(
    name: &'static str,
    database_url: Option<String>,
    args: &Args,
) -> anyhow::Result<Backend> {
    let crate::node::Node {
        app,
        state,
        bound,
        version,
        data: _data,
    } = crate::node::start(database_url).await?;
    let list = agencies(&state, args.per_province).await?;
    step(&format!(
        "{name}: {} agencies in {} provinces",
        list.len(),
        list.iter()
            .map(|a| &a.1)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    ));
    // Procedures: the demo's, a dozen per agency.
    let file = state
        .catalog
        .export()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let procs: Vec<(String, i64, u16)> = file
        .procedures
        .iter()
        .map(|p| (p.code.to_string(), 1, p.time_limit_days.max(1)))
        .collect();
    anyhow::ensure!(!procs.is_empty(), "the demo has procedures");
    let mut rng = kernel::sample::Rng::new(7);
    let handled = list
        .iter()
        .map(|(a, p)| {
            let mine: Vec<_> = (0..12).map(|_| rng.pick(&procs).clone()).collect();
            (a.clone(), p.clone(), mine)
        })
        .collect();
    let today = to_local(chrono::Utc::now()).date();
    // A tenth generated one by one, then copied nine times by the database itself.
    let copies: u32 = if args.dossiers >= 1_000_000 { 9 } else { 0 };
    let base = args.dossiers / u64::from(copies + 1);
    let spec = dossier::history::Spec {
        agencies: handled,
        from: today - chrono::Duration::days(365),
        to: today - chrono::Duration::days(1),
        today,
        dossiers: base,
        seed: 2026,
    };
    step(&format!(
        "{name}: generating {base} dossiers, then {copies} copies of them"
    ));
    let started = Instant::now();
    let step_every = (args.dossiers / 10).max(1);
    let last = std::sync::atomic::AtomicU64::new(0);
    dossier::history::generate(&state.db, &spec, &|n| {
        if n / step_every > last.load(std::sync::atomic::Ordering::Relaxed) {
            last.store(n / step_every, std::sync::atomic::Ordering::Relaxed);
            eprintln!(
                "[bench] {name}: {n} dossiers written ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    })
    .await
    .map_err(|e| anyhow::anyhow!("generating: {e}"))?;
    dossier::history::replicate(&state.db, copies, &|n| {
        eprintln!(
            "[bench] {name}: {n} copies written ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    })
    .await
    .map_err(|e| anyhow::anyhow!("copying: {e}"))?;
    let generated = started.elapsed();
    if let Db::Postgres(p) = &state.db {
        sqlx::query("ANALYZE").execute(p).await?;
    }
    step(&format!("{name}: rebuilding the roll-ups"));
    let started = Instant::now();
    let rebuilt_report = state
        .reports
        .rebuild()
        .await
        .map_err(|e| anyhow::anyhow!("rebuild: {e}"))?;
    let rebuilt = started.elapsed();
    if let Db::Postgres(p) = &state.db {
        sqlx::query("ANALYZE").execute(p).await?;
    }

    let server = crate::node::serve(app);
    let token = state
        .identity
        .issue_token("vanhanh", &["reports:read".into()], 1, "bench", "bench")
        .await
        .map_err(|e| anyhow::anyhow!("token: {e}"))?;
    let http = reqwest::Client::new();
    // The busiest province: the one with the most agencies (they are alike).
    let mut per: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (a, p) in &list {
        per.entry(p.as_str()).or_default().push(a.clone());
    }
    let (province, its) = per
        .iter()
        .max_by_key(|(_, v)| v.len())
        .map(|(p, v)| (p.to_string(), v.clone()))
        .context("no province")?;
    let year = (today - chrono::Duration::days(364), today);
    let month = (report::rollup::month_of(today), today);
    let mut questions = Vec::new();
    for (what, query, period, scope) in [
        (
            "national dashboard, last 12 months",
            String::new(),
            year,
            None,
        ),
        ("national dashboard, this month", String::new(), month, None),
        (
            "province drill-down, last 12 months",
            format!("province={province}&"),
            year,
            Some(its.clone()),
        ),
    ] {
        let url = format!(
            "http://{bound}/api/v1/reports/figures?{query}from={}&to={}",
            period.0, period.1
        );
        let mut times = Vec::new();
        let mut answer = Value::Null;
        for i in 0..args.requests + 3 {
            let t = Instant::now();
            let r = http.get(&url).bearer_auth(&token).send().await?;
            anyhow::ensure!(r.status().is_success(), "{url}: {}", r.status());
            answer = r.json().await?;
            if i >= 3 {
                times.push(t.elapsed());
            }
        }
        let mut plain_times = Vec::new();
        let mut plain_rows = BTreeMap::new();
        for _ in 0..3 {
            let t = Instant::now();
            plain_rows = plain(&state.db, period, today, scope.as_deref()).await?;
            plain_times.push(t.elapsed());
        }
        anyhow::ensure!(
            plain_totals(&plain_rows) == answer_totals(&answer),
            "{what}: the roll-ups say {:?}, the GROUP BY {:?}",
            answer_totals(&answer),
            plain_totals(&plain_rows)
        );
        times.sort();
        plain_times.sort();
        step(&format!(
            "{name}: {what}: p50 {} against {} by GROUP BY",
            fmt_duration(percentile(&times, 50.0)),
            fmt_duration(percentile(&plain_times, 50.0))
        ));
        questions.push(Question {
            what: what.to_string(),
            rollup: times,
            plain: plain_times,
        });
    }
    server.stop().await;
    Ok(Backend {
        name,
        version,
        generated,
        rebuilt,
        cells: rebuilt_report.cells,
        agencies: list.len(),
        questions,
    })
}

pub async fn run(args: Args) -> anyhow::Result<String> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let only = args.only.as_deref();
    let backends =
        crate::node::on_each_database(only, |name, url| run_backend(name, url, &args)).await?;
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let cpu = crate::search::cpu_model();
    let mut s = format!(
        "{START}\n## Reports: dashboards on {n} dossiers\n\n\
         - Command: `{cmd}`\n- Date: {date}\n- Machine: {cores} cores, {cpu}\n\n\
         {n} dossiers over the last 365 days across {agencies} agencies in every province: a tenth \
         generated one by one (`dossier::history`: received online or at the desk, returned early, \
         on time or late, refused, stopped, paid online, rated, or still in progress), then copied \
         nine times with new ids and codes; the roll-ups rebuilt from them, then \
         each question asked {req} times over HTTP (`GET /api/v1/reports/figures`, the national \
         operator's token; three warm-up asks first), and the same figures computed 3 times by a plain \
         GROUP BY over the dossier table in the same run (flows in the period and dossiers in progress \
         and overdue, by agency; it leaves out the series, supplements and ratings that the dashboard \
         also gives). The two answers are checked equal before anything is reported.\n\n\
         | database | question | roll-ups p50 | roll-ups max | plain GROUP BY p50 | ratio |\n| --- | --- | ---: | ---: | ---: | ---: |\n",
        n = args.dossiers,
        cmd = args.command,
        agencies = backends.first().map(|b| b.agencies).unwrap_or(0),
        req = args.requests,
    );
    for b in &backends {
        for q in &b.questions {
            let r = percentile(&q.rollup, 50.0);
            let p = percentile(&q.plain, 50.0);
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {:.0}× |\n",
                b.name,
                q.what,
                fmt_duration(r),
                fmt_duration(q.rollup.last().copied().unwrap_or_default()),
                fmt_duration(p),
                p.as_secs_f64() / r.as_secs_f64().max(1e-9)
            ));
        }
    }
    s.push('\n');
    for b in &backends {
        s.push_str(&format!(
            "- {}: {}. Generating the dossiers took {:.0} s; rebuilding the roll-ups from them ({} base cells) {:.1} s.\n",
            b.name,
            b.version,
            b.generated.as_secs_f64(),
            b.cells,
            b.rebuilt.as_secs_f64(),
        ));
    }
    s.push_str(&format!("\n{END}\n"));
    if only.is_none() {
        crate::report::write_between(&args.out, &s, START, END)?;
    }
    Ok(s)
}
