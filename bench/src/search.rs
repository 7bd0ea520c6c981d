//! The `search` benchmark, start to end: build the catalogue on SQLite and the same procedures
//! in PostgreSQL, score both on the labelled queries, load them in process, over HTTP and
//! directly, time the binary's startup and watch its memory, then report.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

use std::sync::Arc;

use catalog::import::Parsed;
use catalog::model::CatalogFile;
use catalog::{Catalog, CatalogError};
use kernel::clock::SystemClock;
use kernel::config::{Config, SearchConfig};
use motcua::{Application, BuildOptions};

use crate::measure::{self, Load, Relevance, Target};
use crate::postgres::{self, Pg};
use crate::process;
use crate::queries::QUERIES;
use crate::report::{self, Results};

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Args {
    pub procedures: usize,
    pub seconds: u64,
    pub clients: usize,
    pub out: PathBuf,
    pub seed: u64,
    pub startup_runs: usize,
    pub motcua_bin: Option<PathBuf>,
    pub command: String,
}

/// The HTTP search API as a target.
#[derive(Clone)]
struct Http {
    client: reqwest::Client,
    url: String,
}

impl Http {
    fn new(base: &str, clients: usize) -> anyhow::Result<Http> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(clients.max(1))
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Http {
            client,
            url: format!("{base}/api/v1/procedures"),
        })
    }

    async fn send(&self, q: &str) -> anyhow::Result<reqwest::Response> {
        let r = self
            .client
            .get(&self.url)
            .query(&[("q", q), ("page_size", "10"), ("facets", "false")])
            .send()
            .await?;
        if !r.status().is_success() {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            anyhow::bail!("GET {} q={q:?}: {status}: {body}", self.url);
        }
        Ok(r)
    }
}

impl Target for Http {
    async fn codes(&self, q: &str) -> anyhow::Result<Vec<String>> {
        let v: serde_json::Value = self.send(q).await?.json().await?;
        Ok(v["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["code"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn hit(&self, q: &str) -> anyhow::Result<()> {
        self.send(q).await?.bytes().await?;
        Ok(())
    }
}

fn step(msg: &str) {
    eprintln!("[bench] {msg}");
}

fn catalog_err(e: CatalogError) -> anyhow::Error {
    match e {
        CatalogError::Rejected(problems) => {
            let first: Vec<String> = problems
                .iter()
                .take(5)
                .map(|p| format!("{}: {}", p.at, p.en))
                .collect();
            anyhow::anyhow!(
                "{} bad records, first: {}",
                problems.len(),
                first.join("; ")
            )
        }
        e => anyhow::Error::new(e),
    }
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn summary(name: &str, l: &Load) {
    step(&format!(
        "{name}: {} requests in {:.1} s = {:.0}/s, p50 {}, p99 {}{}",
        l.requests,
        l.elapsed.as_secs_f64(),
        l.throughput(),
        measure::fmt_duration(l.p50),
        measure::fmt_duration(l.p99),
        if l.errors > 0 {
            format!(", {} errors", l.errors)
        } else {
            String::new()
        }
    ));
}

fn misses(r: &Relevance, names: &HashMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut empty = Vec::new();
    for (q, first) in &r.misses {
        match first {
            Some(code) => {
                let name: String = names
                    .get(code)
                    .map(|n| n.chars().take(60).collect())
                    .unwrap_or_default();
                out.push(format!(
                    "“{}” ({}; first {code} «{name}»)",
                    q.text,
                    q.category.label()
                ));
            }
            None => empty.push(format!("“{}”", q.text)),
        }
    }
    if !empty.is_empty() {
        out.push(format!(
            "no result at all for {}: {}",
            empty.len(),
            empty.join(", ")
        ));
    }
    out
}

/// The 1, 5 and 15-minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Runs the benchmark; returns the report section (already written to `args.out`).
pub async fn run(args: Args) -> anyhow::Result<String> {
    let wall = Instant::now();
    let loadavg = loadavg();
    let bin = process::motcua_binary(args.motcua_bin.as_deref())?;
    let work = tempfile::tempdir().context("cannot create a temporary folder")?;
    let admin = testkit::pg::admin_url()
        .await
        .context("no PostgreSQL for the benchmark")?;
    let pg_url = testkit::pg::fresh_database()
        .await
        .context("cannot create the benchmark's PostgreSQL database")?;
    let result = run_on(&args, &bin, work.path(), &pg_url, wall, loadavg).await;
    postgres::drop_database(&admin, &pg_url).await;
    let results = result?;
    let section = results.markdown();
    report::write_section(&args.out, &section)?;
    step(&format!("wrote {}", args.out.display()));
    Ok(section)
}

async fn run_on(
    args: &Args,
    bin: &std::path::Path,
    work: &std::path::Path,
    pg_url: &str,
    wall: Instant,
    loadavg: String,
) -> anyhow::Result<Results> {
    let secs = Duration::from_secs(args.seconds.max(1));
    let clients = args.clients.max(1);
    let data_dir = work.join("data");
    let logs = work.join("logs");
    std::fs::create_dir_all(&logs)?;
    let mut setup = Vec::new();

    // 1. motcua on SQLite: the demo, then the generated procedures through the catalogue's import.
    step(&format!(
        "opening motcua on SQLite in {} with the demo catalogue",
        data_dir.display()
    ));
    let t = Instant::now();
    let config = Config {
        data_dir: data_dir.clone(),
        database_url: None,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Config::default()
    };
    let app = Application::build(
        config,
        BuildOptions {
            demo: true,
            ..Default::default()
        },
    )
    .await?;
    setup.push(("motcua open + demo".to_string(), t.elapsed()));
    let catalog = app.state().catalog.clone();
    let lookup = catalog.lookup();
    let fields: Vec<String> = lookup.fields.keys().cloned().collect();
    let agencies: Vec<kernel::ids::AgencyCode> = lookup
        .agencies
        .values()
        .map(|a| a.spec.code.clone())
        .collect();
    let generated = catalog::generate::procedures(args.procedures, args.seed, &fields, &agencies);
    let n = generated.len();
    step(&format!(
        "importing {n} generated procedures into SQLite (one transaction, then the index)"
    ));
    let t = Instant::now();
    let parsed = Parsed {
        procedure_lines: (1..=n).collect(),
        file: CatalogFile {
            procedures: generated,
            ..Default::default()
        },
        ..Default::default()
    };
    let every = (n / 10).max(1);
    let progress = move |i: usize| {
        if i.is_multiple_of(every) {
            eprintln!(
                "[bench]   {i}/{n} written ({:.0} s)",
                t.elapsed().as_secs_f64()
            );
        }
    };
    let report = catalog
        .import(&parsed, "bench:generate", &progress)
        .await
        .map_err(catalog_err)?;
    drop(parsed);
    let import_time = t.elapsed();
    setup.push((
        format!("SQLite import of {n} (catalogue import, index included)"),
        import_time,
    ));
    step(&format!(
        "imported {} new procedures in {:.1} s",
        report.procedures_added,
        import_time.as_secs_f64()
    ));

    // The same procedures into PostgreSQL.
    let t = Instant::now();
    let file = catalog.export().await.map_err(catalog_err)?;
    setup.push(("export".to_string(), t.elapsed()));
    let total = file.procedures.len();
    let names: HashMap<String, String> = file
        .procedures
        .iter()
        .map(|p| (p.code.clone(), p.name.clone()))
        .collect();
    step(&format!("loading {total} procedures into PostgreSQL"));
    let pool = postgres::connect(pg_url, clients as u32).await?;
    let pg_version = postgres::version(&pool)
        .await
        .unwrap_or_else(|_| "?".into());
    let (rows, pg_time) = postgres::load(&pool, &file).await?;
    drop(file);
    setup.push((
        format!("PostgreSQL load of {rows} (inserts, GIN index, ANALYZE)"),
        pg_time,
    ));
    step(&format!(
        "PostgreSQL loaded in {:.1} s",
        pg_time.as_secs_f64()
    ));
    let pg = Pg(pool.clone());

    // 2. Relevance: every labelled query once on each (also a warm-up).
    let c = catalog.clone();
    let (motcua_answers, motcua_matched) =
        tokio::task::spawn_blocking(move || measure::catalog_answers(&c, QUERIES)).await??;
    let pg_answers = measure::answers(&pg, QUERIES).await?;
    let mut pg_matched = Vec::with_capacity(QUERIES.len());
    for q in QUERIES {
        pg_matched.push(pg.matched(q.text).await?);
    }
    let motcua_rel = measure::relevance(QUERIES, &motcua_answers);
    let pg_rel = measure::relevance(QUERIES, &pg_answers);
    step(&format!(
        "recall@10: motcua {:.1} %, PostgreSQL {:.1} %",
        motcua_rel.all.recall() * 100.0,
        pg_rel.all.recall() * 100.0
    ));

    // 3. Latency and throughput.
    step(&format!(
        "motcua in process, 1 thread, {} s",
        secs.as_secs()
    ));
    let catalog_1 = measure::catalog_load(catalog.clone(), QUERIES, 1, secs, false).await?;
    summary("motcua in process x1", &catalog_1);
    step(&format!("motcua in process, {clients} threads"));
    let catalog_n = measure::catalog_load(catalog.clone(), QUERIES, clients, secs, false).await?;
    summary(&format!("motcua in process x{clients}"), &catalog_n);
    step("PostgreSQL, 1 client");
    let pg_1 = measure::load(&pg, QUERIES, 1, secs).await?;
    summary("PostgreSQL x1", &pg_1);
    step(&format!(
        "PostgreSQL, {clients} clients on a pool of {clients}"
    ));
    let pg_n = measure::load(&pg, QUERIES, clients, secs).await?;
    summary(&format!("PostgreSQL x{clients}"), &pg_n);
    pool.close().await;
    step("diagnostic: motcua in process with facet counts, 1 thread");
    let facets_1 = measure::catalog_load(catalog.clone(), QUERIES, 1, secs, true).await?;
    summary("motcua in process with facets x1", &facets_1);

    // Diagnostic: the same catalogue with fuzzy matching off (an in-memory index built from the
    // same database), to show what the typo tolerance costs and what it buys.
    step("diagnostic: motcua with fuzzy matching off (in-memory index from the same database)");
    let t = Instant::now();
    let no_fuzzy = Arc::new(
        Catalog::open(
            app.state().db.clone(),
            None,
            Arc::new(SystemClock),
            SearchConfig {
                fuzzy_min_chars: 1000,
                ..catalog.search_config().clone()
            },
        )
        .await
        .map_err(catalog_err)?,
    );
    setup.push((
        "in-memory index without fuzzy matching (diagnostic)".to_string(),
        t.elapsed(),
    ));
    let c = no_fuzzy.clone();
    let (no_fuzzy_answers, no_fuzzy_matched) =
        tokio::task::spawn_blocking(move || measure::catalog_answers(&c, QUERIES)).await??;
    let no_fuzzy_rel = measure::relevance(QUERIES, &no_fuzzy_answers);
    let no_fuzzy_1 = measure::catalog_load(no_fuzzy.clone(), QUERIES, 1, secs, false).await?;
    summary("motcua without fuzzy x1", &no_fuzzy_1);
    drop(no_fuzzy);

    // Over HTTP, on a server in this process.
    let addr = app.local_addr()?;
    drop(lookup);
    drop(catalog);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let http = Http::new(&format!("http://{addr}"), clients)?;
    let http_answers = measure::answers(&http, QUERIES).await?;
    let http_differs = http_answers
        .iter()
        .zip(&motcua_answers)
        .filter(|(a, b)| a != b)
        .count();
    step(&format!("motcua over HTTP at {addr}, 1 client"));
    let http_1 = measure::load(&http, QUERIES, 1, secs).await?;
    summary("motcua HTTP x1", &http_1);
    step(&format!("motcua over HTTP, {clients} clients"));
    let http_n = measure::load(&http, QUERIES, clients, secs).await?;
    summary(&format!("motcua HTTP x{clients}"), &http_n);
    drop(http);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .context("the in-process server did not stop within 60 s")???;

    // 4. The binary: startup on a fresh folder, then on the benchmark's folder; memory.
    let mut startup_fresh = Vec::new();
    for i in 0..args.startup_runs.max(1) {
        let dir = work.join(format!("fresh-{i}"));
        let (server, took) = process::start(bin, &dir, true, &logs).await?;
        step(&format!(
            "fresh data folder, --demo: healthy after {} ms",
            took.as_millis()
        ));
        startup_fresh.push(took);
        server.stop();
    }
    let mut startup_full = Vec::new();
    let mut last = None;
    for i in 0..args.startup_runs.max(1) {
        let (server, took) = process::start(bin, &data_dir, false, &logs).await?;
        let rebuilt = server.log_contains("building the search index");
        step(&format!(
            "data folder with {total} procedures: healthy after {} ms{}",
            took.as_millis(),
            if rebuilt {
                " (rebuilt its search index)"
            } else {
                ""
            }
        ));
        startup_full.push((took, rebuilt));
        if i + 1 == args.startup_runs.max(1) {
            last = Some(server);
        } else {
            server.stop();
        }
    }
    let server = last.context("no server left running")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle_kib = server.rss_kib()?;
    step(&format!(
        "binary RSS idle: {} KiB; {clients}-client HTTP load",
        rss_idle_kib
    ));
    let http = Http::new(&server.base(), clients)?;
    let (stop_sampling, sampler) = process::sample_rss(server.pid());
    let binary_n = measure::load(&http, QUERIES, clients, secs).await;
    let _ = stop_sampling.send(());
    let rss_peak_kib = sampler.await?;
    let binary_n = binary_n?;
    summary(&format!("motcua binary HTTP x{clients}"), &binary_n);
    drop(http);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after_kib = server.rss_kib()?;
    let hwm_kib = server.hwm_kib()?;
    server.stop();

    Ok(Results {
        command: args.command.clone(),
        date: chrono::Utc::now(),
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        cpu: cpu_model(),
        loadavg: format!("{loadavg} before the run, {} after", self::loadavg()),
        pg_version,
        generated: n,
        total,
        queries: QUERIES.len(),
        clients,
        seconds: secs.as_secs(),
        setup,
        catalog_1,
        catalog_n,
        pg_1,
        pg_n,
        http_1,
        http_n,
        binary_n,
        motcua_misses: misses(&motcua_rel, &names),
        pg_misses: misses(&pg_rel, &names),
        motcua: motcua_rel,
        pg: pg_rel,
        no_fuzzy_1,
        facets_1,
        no_fuzzy: no_fuzzy_rel,
        matched_motcua: measure::median_counts(QUERIES, &motcua_matched),
        matched_no_fuzzy: measure::median_counts(QUERIES, &no_fuzzy_matched),
        matched_pg: measure::median_counts(QUERIES, &pg_matched),
        http_differs,
        startup_fresh,
        startup_full,
        rss_idle_kib,
        rss_peak_kib,
        rss_after_kib,
        hwm_kib,
        wall: wall.elapsed(),
    })
}
