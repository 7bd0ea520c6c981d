//! `federation`: dossier status events from local nodes applied on the national node.
//!
//! A national node runs (SQLite, then PostgreSQL). Three local nodes register with it through
//! its API, signing with their own Ed25519 keys, and are approved. Each then pushes its share
//! of the events the way a local node's sync does: signed requests of `--batch` events, one
//! request in flight per node, the three nodes at once. Each dossier has five events
//! (submitted, received, processing, approved, returned), each after the one before it in its
//! node's stream; the streams interleave many dossiers. While a request is in flight the next
//! batch gathers in the outbox, so an event's lag is counted from the moment the request
//! before its own was sent to the moment the national node acknowledged its own: the time a
//! node's events wait when the node writes them as fast as the national node takes them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use serde_json::json;

use federation::rules::{self, H_DATE, H_NODE, H_NONCE, H_SIGNATURE};
use federation::{NodeKey, NodeMove, SyncAnswer, SyncBatch, SyncEvent};
use kernel::config::{FederationConfig, NodeRole};

use crate::measure::{fmt_duration, percentile};

pub const START: &str = "<!-- bench:federation:start -->";
pub const END: &str = "<!-- bench:federation:end -->";

const NODES: usize = 3;
const STEPS: [&str; 5] = [
    "submitted",
    "received",
    "processing",
    "approved",
    "returned",
];

pub struct Args {
    pub events: usize,
    pub batch: usize,
    pub out: PathBuf,
    pub command: String,
    pub only: Option<String>,
}

struct Backend {
    name: &'static str,
    version: String,
    events: usize,
    elapsed: Duration,
    lags: Vec<Duration>,
    requests: Vec<Duration>,
    dossiers: i64,
    stored: i64,
}

fn step(s: &str) {
    eprintln!("[bench] {s}");
}

/// The events of node `n`: `dossiers` dossiers in waves of 500, each wave's five steps in
/// turn, so that a request holds many dossiers and each dossier's events come in order.
fn events_of(n: usize, dossiers: usize) -> Vec<SyncEvent> {
    let at = Utc::now();
    let mut out = Vec::with_capacity(dossiers * STEPS.len());
    let wave = 500;
    for start in (0..dossiers).step_by(wave) {
        let end = (start + wave).min(dossiers);
        for (k, to) in STEPS.iter().enumerate() {
            for d in start..end {
                let id = format!("n{n}-d{d:07}");
                out.push(SyncEvent {
                    dossier_id: id.clone(),
                    seq: k as i64 + 1,
                    event_id: format!("{id}-{}", k + 1),
                    code: Some(format!("000.00.{:02}.H26-260302-{:04}", n + 1, d % 10_000)),
                    agency_code: format!("000.00.{:02}.H26", n + 1),
                    procedure_code: "2.001610".into(),
                    applicant_cccd: Some(format!("001095{:06}", d % 1_000_000)),
                    applicant_name: "Nguyễn Văn An".into(),
                    submitted_at: Some(at),
                    appointment_date: None,
                    written_at: at,
                    at,
                    action: "act".into(),
                    from_status: if k == 0 { "draft" } else { STEPS[k - 1] }.into(),
                    to_status: (*to).into(),
                    national_status: dossier::Status::parse(to).and_then(|s| s.national_code()),
                    comment: String::new(),
                    data: json!({}),
                    figures: Some(figures_at(k, at)),
                });
            }
        }
    }
    out
}

/// What a dossier adds to the figures after step `k`: received online at the second step,
/// returned on time at the last.
fn figures_at(k: usize, at: chrono::DateTime<Utc>) -> dossier::outbox::Figures {
    dossier::outbox::Figures {
        channel: Some("online".into()),
        status: Some(STEPS[k].into()),
        received_at: (k >= 1).then_some(at),
        returned_at: (k + 1 == STEPS.len()).then_some(at),
        outcome: (k + 1 == STEPS.len()).then(|| "on_time".into()),
        ..dossier::outbox::Figures::default()
    }
}

async fn signed(
    http: &reqwest::Client,
    base: &str,
    key: &NodeKey,
    node: &str,
    path: &str,
    body: Vec<u8>,
) -> anyhow::Result<reqwest::Response> {
    let date = Utc::now().timestamp();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let message = rules::canonical("POST", path, node, date, &nonce, &body);
    Ok(http
        .post(format!("{base}{path}"))
        .header(H_NODE, node)
        .header(H_DATE, date.to_string())
        .header(H_NONCE, nonce)
        .header(H_SIGNATURE, key.sign(&message))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?)
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
    } = crate::node::start_as(
        database_url,
        FederationConfig {
            role: NodeRole::National,
            ..FederationConfig::default()
        },
    )
    .await?;
    let server = crate::node::serve(app);
    let base = format!("http://{bound}");
    let http = reqwest::Client::new();

    step(&format!(
        "{name}: {NODES} local nodes register and are approved"
    ));
    let mut keys = Vec::new();
    for n in 0..NODES {
        let key = NodeKey::generate()?;
        let node = format!("bench-{n}");
        let reg = json!({
            "node": node, "name": format!("Nút thử {n}"), "url": format!("http://127.0.0.1:{}", 9000 + n),
            "public_key": key.public(), "agencies": [format!("000.00.{:02}.H26", n + 1)],
        });
        let r = signed(
            &http,
            &base,
            &key,
            &node,
            "/api/v1/federation/register",
            reg.to_string().into_bytes(),
        )
        .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "registering {node}: {}",
            r.status()
        );
        federation::national::set_status(&state.db, Utc::now(), "bench", &node, NodeMove::Approve)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        keys.push((node, key));
    }
    let per_node = args.events / NODES;
    let dossiers = per_node / STEPS.len();
    let total = dossiers * STEPS.len() * NODES;
    step(&format!(
        "{name}: {total} events of {} dossiers made ({} per node)",
        dossiers * NODES,
        dossiers * STEPS.len()
    ));
    let streams: Vec<Vec<SyncEvent>> = (0..NODES).map(|n| events_of(n, dossiers)).collect();

    step(&format!("{name}: pushing, {} events a request", args.batch));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for ((node, key), events) in keys.into_iter().zip(streams) {
        let http = http.clone();
        let base = base.clone();
        let batch = args.batch;
        tasks.push(tokio::spawn(async move {
            let mut lags = Vec::new();
            let mut requests = Vec::new();
            let mut previous_sent: Option<Instant> = None;
            for chunk in events.chunks(batch) {
                let body = serde_json::to_vec(&SyncBatch {
                    events: chunk.to_vec(),
                })?;
                let sent = Instant::now();
                let r =
                    signed(&http, &base, &key, &node, "/api/v1/federation/events", body).await?;
                let status = r.status();
                let text = r.text().await?;
                anyhow::ensure!(status.is_success(), "{node}: the answer ({status}): {text}");
                let answer: SyncAnswer = serde_json::from_str(&text)
                    .with_context(|| format!("{node}: the answer ({status})"))?;
                let done = Instant::now();
                anyhow::ensure!(
                    answer.stored as usize == chunk.len() && answer.refused.is_empty(),
                    "{node}: {answer:?}"
                );
                requests.push(done - sent);
                let written = previous_sent.unwrap_or(sent);
                lags.extend(std::iter::repeat_n(done - written, chunk.len()));
                previous_sent = Some(sent);
            }
            Ok::<_, anyhow::Error>((lags, requests))
        }));
    }
    let mut lags = Vec::new();
    let mut requests = Vec::new();
    for t in tasks {
        let (l, r) = t.await??;
        lags.extend(l);
        requests.extend(r);
    }
    let elapsed = started.elapsed();
    lags.sort();
    requests.sort();

    step(&format!("{name}: checking what the national node holds"));
    let (stored, applied_dossiers): (i64, i64) = kernel::on_db!(&state.db, c => async {
        let s: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM federation_events").fetch_one(c).await?;
        let d: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM federation_dossiers WHERE applied_seq = 5 AND status = 'returned'").fetch_one(c).await?;
        Ok::<_, sqlx::Error>((s, d))
    }.await)?;
    anyhow::ensure!(
        stored as usize == total,
        "{stored} events stored of {total}"
    );
    anyhow::ensure!(
        applied_dossiers as usize == dossiers * NODES,
        "{applied_dossiers} dossiers fully applied of {}",
        dossiers * NODES
    );
    server.stop().await;
    Ok(Backend {
        name,
        version,
        events: total,
        elapsed,
        lags,
        requests,
        dossiers: applied_dossiers,
        stored,
    })
}

/// How the run compares with the target (a million events in 60 s), scaled to its size.
fn target(events: usize, elapsed: Duration) -> String {
    let allowed = 60.0 * events as f64 / 1_000_000.0;
    let took = elapsed.as_secs_f64();
    if took <= allowed {
        format!("Within the target: {:.2}× its rate", allowed / took)
    } else {
        format!(
            "Misses the target: {:.2}× its rate, {:.1} s over",
            allowed / took,
            took - allowed
        )
    }
}

pub async fn run(args: Args) -> anyhow::Result<String> {
    anyhow::ensure!(
        args.events >= NODES * STEPS.len(),
        "--events must be at least {}",
        NODES * STEPS.len()
    );
    anyhow::ensure!(
        (1..=federation::MAX_BATCH_EVENTS).contains(&args.batch),
        "--batch between 1 and {}",
        federation::MAX_BATCH_EVENTS
    );
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let whole = Instant::now();
    let backends = crate::node::on_each_database(args.only.as_deref(), |name, url| {
        run_backend(name, url, &args)
    })
    .await?;
    let date = Utc::now().format("%Y-%m-%d %H:%M UTC");
    let cpu = crate::search::cpu_model();
    let mut s = format!(
        "{START}\n## Federation: status events applied on the national node\n\n\
         - Command: `{cmd}`\n- Date: {date}; the whole run took {w:.0} s\n\
         - Machine: {cores} cores, {cpu}; the three senders run on the same cores as the node\n\n\
         Three local nodes register with a national node through its API (each signing with its \
         own Ed25519 key) and are approved. Each pushes its share of the events as a local node's \
         sync does: signed requests (`POST /api/v1/federation/events`: signature, time window and \
         nonce checked; every event stored once by node, dossier and number; each dossier's \
         events applied in order as far as they run without a gap; the node's counters and an \
         audit entry; one durable commit per request) of {batch} events, one request in flight \
         per node, the three at once. Every dossier has five events (submitted, received, \
         processing, approved, returned) in its node's stream in order, interleaved with 499 \
         other dossiers'. Lag: from when the request before an event's own was sent (while it is \
         in flight, the next batch gathers in the outbox) to when the national node acknowledged \
         the event. Target: 1 million events in under 60 s.\n\n\
         | database | events | time | events per second | p50 lag | p99 lag | p99 request |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        cmd = args.command,
        w = whole.elapsed().as_secs_f64(),
        batch = args.batch,
    );
    for b in &backends {
        s.push_str(&format!(
            "| {} | {} | {:.1} s | **{:.0}** | {} | {} | {} |\n",
            b.name,
            b.events,
            b.elapsed.as_secs_f64(),
            b.events as f64 / b.elapsed.as_secs_f64(),
            fmt_duration(percentile(&b.lags, 50.0)),
            fmt_duration(percentile(&b.lags, 99.0)),
            fmt_duration(percentile(&b.requests, 99.0)),
        ));
    }
    s.push('\n');
    for b in &backends {
        s.push_str(&format!(
            "- {}: {}. Checked after the run: {} events stored, {} dossiers at their fifth event (`returned`), none waiting. {}.\n",
            b.name,
            b.version,
            b.stored,
            b.dossiers,
            target(b.events, b.elapsed),
        ));
    }
    s.push_str("- No peer: the national portal's sync service is not published, and no other was run here. For scale: 122.7 million dossiers had synchronised status in 2022, about 4 status events a second on average over the year if each had ten.\n");
    s.push_str(&format!("\n{END}\n"));
    if args.only.is_none() {
        crate::report::write_between(&args.out, &s, START, END)?;
    }
    Ok(s)
}
