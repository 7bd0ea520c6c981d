//! `payment`: gateway confirmations (IPN) verified and applied per second, over HTTP, on
//! SQLite and on PostgreSQL. Each confirmation is a signed `GET /api/v1/payments/ipn/sandbox`
//! for a distinct pending payment: the signature checked (HMAC-SHA512), the payment marked
//! paid, the agency's receipt number drawn, the dossier's fees settled with its event, the
//! message kept and the audit entries chained, all in one durable commit. Then the same
//! messages again (replays, answered "already confirmed"), and the signature check alone.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use dossier::{ActionInput, ActionKind, NewDossier};
use payment::Provider;
use payment::gateway::Outcome;

use crate::measure::{fmt_duration, percentile};

pub const START: &str = "<!-- bench:payment:start -->";
pub const END: &str = "<!-- bench:payment:end -->";

/// Reissuing an identity card: one document, one fee of 70,000 đ, paid when filed.
const PROCEDURE: &str = "1.012882";
const AGENCY: &str = "000.00.01.G01";
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

pub struct Args {
    pub payments: usize,
    pub clients: usize,
    pub out: PathBuf,
    pub command: String,
    pub only: Option<String>,
}

fn step(msg: &str) {
    eprintln!("[bench] {msg}");
}

/// One pass over every message.
struct Pass {
    ok: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Pass {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

struct Backend {
    name: &'static str,
    version: String,
    setup: Duration,
    applied: Pass,
    replayed: Pass,
    receipts: i64,
}

/// Sends every message once, `clients` at a time; each must be answered `want`.
async fn pass(
    http: &reqwest::Client,
    url: &str,
    messages: Arc<Vec<BTreeMap<String, String>>>,
    clients: usize,
    want: &'static str,
) -> anyhow::Result<Pass> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, url, messages, next) = (
            http.clone(),
            url.to_string(),
            messages.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(m) = messages.get(i) else { break };
                let t = Instant::now();
                let r = http.get(&url).query(m).send().await?;
                let v: serde_json::Value = r.json().await?;
                anyhow::ensure!(v["RspCode"] == want, "message {i}: {v}");
                samples.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(samples)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed();
    all.sort();
    Ok(Pass {
        ok: all.len(),
        elapsed,
        p50: percentile(&all, 50.0),
        p99: percentile(&all, 99.0),
    })
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
    let server = crate::node::serve(app);

    // The demo citizen files, uploads and submits each dossier, and starts paying it.
    step(&format!(
        "{name}: {} dossiers filed and waiting for payment",
        args.payments
    ));
    let id = &state.identity;
    let token = id
        .issue_token(
            "001095012345",
            &["dossiers:read".into(), "dossiers:write".into()],
            60,
            "bench",
            "bench",
        )
        .await
        .map_err(|e| anyhow::anyhow!("token: {e}"))?;
    let citizen = id
        .bearer(&token)
        .await
        .map_err(|e| anyhow::anyhow!("bearer: {e}"))?
        .context("the bench token was refused")?;
    let doc = state
        .catalog
        .procedure(PROCEDURE, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .spec
        .documents[0]
        .name
        .clone();
    let merchant = state
        .payments
        .merchant(Provider::Sandbox)
        .context("the sandbox gateway is on in the demo")?
        .clone();
    let setup_started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.clients.min(32) {
        let (state, citizen, doc, merchant, next) = (
            state.clone(),
            citizen.clone(),
            doc.clone(),
            merchant.clone(),
            next.clone(),
        );
        let total = args.payments;
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let new = NewDossier {
                    procedure: PROCEDURE.into(),
                    agency: Some(AGENCY.into()),
                    form: json!({
                        "ho_ten": format!("Nguyễn Văn An {i}"), "so_dinh_danh": "001095012345", "ngay_mat_the": "2026-01-10",
                        "hoan_canh": "Mất ví", "hinh_thuc_nhan": "Nhận tại nơi làm thủ tục", "dien_thoai": "0912345678"
                    })
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                    ..NewDossier::default()
                };
                let (d, _) = state.dossiers.create(&citizen, &new, None).await.map_err(|e| anyhow::anyhow!("file: {e}"))?;
                state.dossiers.upload(&d.id, &citizen, &doc, "to-khai.pdf", PDF).await.map_err(|e| anyhow::anyhow!("upload: {e}"))?;
                let d = state.dossiers.act(&d.id, &citizen, ActionKind::Submit, &ActionInput::default()).await.map_err(|e| anyhow::anyhow!("submit: {e}"))?;
                let code = d.code.context("a submitted dossier has a code")?;
                let started = state
                    .payments
                    .start(&code, &citizen, &payment::StartInput { provider: "sandbox".into(), choice: payment::fees::Choice::default() }, "127.0.0.1", true)
                    .await
                    .map_err(|e| anyhow::anyhow!("start: {e}"))?;
                let url = started.pay_url.context("a pending payment has a pay URL")?;
                let request: BTreeMap<String, String> = url::Url::parse(&url)?.query_pairs().into_owned().collect();
                out.push(merchant.notice_params(&request, Outcome::Success, &format!("{}", 20_000_000 + i), "NCB", chrono::Utc::now()));
            }
            Ok::<_, anyhow::Error>(out)
        }));
    }
    let mut messages = Vec::new();
    for t in tasks {
        messages.extend(t.await??);
    }
    let setup = setup_started.elapsed();
    let messages = Arc::new(messages);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients * 2)
        .build()?;
    let url = format!("http://{bound}/api/v1/payments/ipn/sandbox");
    step(&format!(
        "{name}: {} confirmations, {} clients",
        messages.len(),
        args.clients
    ));
    let applied = pass(&http, &url, messages.clone(), args.clients, "00").await?;
    step(&format!(
        "{name}: the same {} again (replays)",
        messages.len()
    ));
    let replayed = pass(&http, &url, messages.clone(), args.clients, "02").await?;
    let receipts: i64 = kernel::on_db!(&state.db, p => sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM receipts WHERE agency_code = $1").bind(AGENCY).fetch_one(p).await)?;
    anyhow::ensure!(
        receipts == messages.len() as i64,
        "{receipts} receipts for {} payments",
        messages.len()
    );
    let max: i64 = kernel::on_db!(&state.db, p => sqlx::query_scalar("SELECT CAST(MAX(number) AS BIGINT) FROM receipts WHERE agency_code = $1").bind(AGENCY).fetch_one(p).await)?;
    anyhow::ensure!(
        max == receipts,
        "receipt numbers have gaps: {receipts} receipts, the last is {max}"
    );
    server.stop().await;
    Ok(Backend {
        name,
        version,
        setup,
        applied,
        replayed,
        receipts,
    })
}

/// HMAC-SHA512 checks of one confirmation per second, on one core.
fn verify_rate() -> anyhow::Result<f64> {
    let m = payment::Merchant::new(
        Provider::Sandbox,
        "http://127.0.0.1/",
        "MOTCUA01",
        b"0123456789abcdef0123456789abcdef",
    );
    let mut request = BTreeMap::new();
    for (k, v) in [
        ("vnp_TmnCode", "MOTCUA01"),
        ("vnp_Amount", "7000000"),
        ("vnp_TxnRef", "261201ABCDEF0123456789"),
        (
            "vnp_OrderInfo",
            "Nop phi le phi ho so 000.00.01.G01-261201-0001",
        ),
        ("vnp_CurrCode", "VND"),
    ] {
        request.insert(k.to_string(), v.to_string());
    }
    let n = m.notice_params(
        &request,
        Outcome::Success,
        "20000001",
        "NCB",
        chrono::Utc::now(),
    );
    let started = Instant::now();
    let mut count = 0u64;
    while started.elapsed() < Duration::from_secs(2) {
        for _ in 0..1000 {
            anyhow::ensure!(m.read(&n).is_ok(), "the message does not verify");
        }
        count += 1000;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

pub async fn run(args: Args) -> anyhow::Result<String> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let only = args.only.as_deref();
    let backends =
        crate::node::on_each_database(only, |name, url| run_backend(name, url, &args)).await?;
    let verify = verify_rate()?;
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let cpu = crate::search::cpu_model();
    let mut s = format!(
        "{START}\n## Payments: gateway confirmations (IPN)\n\n\
         - Command: `{cmd}`\n- Date: {date}\n- Machine: {cores} cores, {cpu}\n\n\
         Each confirmation is the sandbox gateway's signed `GET /api/v1/payments/ipn/sandbox` for \
         its own pending payment: the HMAC-SHA512 signature and the amount checked, the payment \
         marked paid, the agency's next receipt number drawn, the dossier's fees settled with its \
         event, the message kept, the audit entries chained, and one durable commit (shared by \
         the writers waiting at that moment) before the answer `00`. The replays send the same \
         messages again: each is read, found already confirmed, kept, and answered `02`. \
         {n} payments, {clients} concurrent clients.\n\n\
         | database | what | per second | p50 | p99 |\n| --- | --- | ---: | ---: | ---: |\n",
        cmd = args.command,
        n = args.payments,
        clients = args.clients,
    );
    for b in &backends {
        for (what, p) in [
            ("confirmations applied", &b.applied),
            ("replays refused", &b.replayed),
        ] {
            s.push_str(&format!(
                "| {} | {what} | {:.0} | {} | {} |\n",
                b.name,
                p.rate(),
                fmt_duration(p.p50),
                fmt_duration(p.p99)
            ));
        }
    }
    s.push('\n');
    for b in &backends {
        s.push_str(&format!(
            "- {}: {}. Setup (filing, uploading, submitting and starting {} payments in process) took {:.1} s. {} receipts, numbered 1 to {} without a gap.\n",
            b.name,
            b.version,
            args.payments,
            b.setup.as_secs_f64(),
            b.receipts,
            b.receipts,
        ));
    }
    s.push_str(&format!(
        "- The signature check alone (parse, HMAC-SHA512 over the sorted parameters, constant-time compare): {verify:.0} messages per second on one core.\n\n{END}\n"
    ));
    if only.is_none() {
        crate::report::write_between(&args.out, &s, START, END)?;
    }
    Ok(s)
}
