//! `exchange`: signed edXML packages through the document exchange hub, end to end, over
//! HTTP, on SQLite and on PostgreSQL.
//!
//! Four agencies are put on the hub through its API by the system administrator, each with
//! its own RSA key that the node's authority certifies, and a machine client of its own (its
//! document-management system). Every package is written and signed by its sender before
//! anything is timed, and so is the recipient's status `01` (arrived) answering it: signing is
//! the agencies' cost, not the hub's. One timed round is what the hub does for one document:
//! the sender's system posts the package (checked, signature verified, stored, receipt signed),
//! the recipient's system fetches it (the hand-over, receipt signed) and posts its signed
//! status (verified, recorded, receipt signed).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use base64::Engine;
use chrono::Utc;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{Value, json};

use exchange::edxml::{self, Attachment, StatusCode};
use kernel::pki::{self, KeyPair};

use crate::measure::{fmt_duration, percentile};

pub const START: &str = "<!-- bench:exchange:start -->";
pub const END: &str = "<!-- bench:exchange:end -->";

/// The agencies put on the hub: code (OrganId), name, and the notation of their documents.
/// Each sends to the next one, the last to the first.
const AGENCIES: &[(&str, &str, &str)] = &[
    ("000.00.21.H26", "Sở Nội vụ Thành phố Hà Nội", "SNV-VP"),
    ("000.00.22.H26", "Sở Xây dựng Thành phố Hà Nội", "SXD-VP"),
    ("000.00.23.H26", "Sở Y tế Thành phố Hà Nội", "SYT-VP"),
    (
        "000.00.24.H26",
        "Sở Giáo dục và Đào tạo Thành phố Hà Nội",
        "SGDDT-VP",
    ),
];

/// The random bytes of each attachment's binary stream.
const PADDING_BYTES: usize = 48 * 1024;

/// Documents sent through the national hub in 2022: about 13 million, the order of magnitude
/// reported for it (taken as given, not checked here); the yardstick of the rate.
const NATIONAL_PER_YEAR: f64 = 13_000_000.0;
/// Working hours in a year (250 days of 8 hours), for the rate if every document came in them.
const WORKING_HOURS_PER_YEAR: f64 = 2000.0;

pub struct Args {
    pub packages: usize,
    pub clients: usize,
    pub out: PathBuf,
    pub command: String,
    pub only: Option<String>,
}

fn step(msg: &str) {
    eprintln!("[bench] {msg}");
}

/// An agency's system: its key and certificate, and its machine client on the node.
struct System {
    organ_id: &'static str,
    name: &'static str,
    notation: &'static str,
    key: KeyPair,
    client_id: String,
    secret: String,
}

/// One document ready to go: the package and the status that answers it, both signed (the
/// signatures base64, as the header carries them).
struct Prepared {
    from: usize,
    to: usize,
    package: Bytes,
    signature: String,
    status: Bytes,
    status_signature: String,
}

/// What one round took, step by step.
#[derive(Clone, Copy)]
struct Round {
    post: Duration,
    fetch: Duration,
    answer: Duration,
    whole: Duration,
}

/// p50 and p99 of some durations.
#[derive(Clone, Copy)]
struct Spread {
    p50: Duration,
    p99: Duration,
}

fn spread(mut v: Vec<Duration>) -> Spread {
    v.sort_unstable();
    Spread {
        p50: percentile(&v, 50.0),
        p99: percentile(&v, 99.0),
    }
}

struct Backend {
    name: &'static str,
    version: String,
    setup: Duration,
    signing: Duration,
    rounds: usize,
    elapsed: Duration,
    whole: Spread,
    post: Spread,
    fetch: Spread,
    answer: Spread,
    package_bytes: usize,
    signature_bytes: usize,
    receipts: i64,
    audit_entries: i64,
    /// The rounds of one client alone, and how long they took.
    alone: usize,
    alone_elapsed: Duration,
    alone_whole: Spread,
}

impl Backend {
    fn rate(&self) -> f64 {
        self.rounds as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    fn alone_rate(&self) -> f64 {
        self.alone as f64 / self.alone_elapsed.as_secs_f64().max(1e-9)
    }
}

/// A small deterministic generator (SplitMix64) for the attachments' random bytes.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A one-page PDF with an incremental update that adds a binary stream of `PADDING_BYTES`
/// random bytes (incompressible, as a scanned page is): about 50 KB, a valid PDF.
fn attachment_pdf(text: &str, seed: u64) -> anyhow::Result<Vec<u8>> {
    let mut pdf = exchange::demo::simple_pdf(text);
    let tail = String::from_utf8_lossy(&pdf[pdf.len().saturating_sub(64)..]).into_owned();
    let prev: usize = tail
        .split("startxref")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .context("the PDF has no startxref")?;
    let mut rng = SplitMix(seed);
    let mut random = Vec::with_capacity(PADDING_BYTES);
    while random.len() < PADDING_BYTES {
        random.extend_from_slice(&rng.next().to_le_bytes());
    }
    random.truncate(PADDING_BYTES);
    let object = pdf.len();
    pdf.extend_from_slice(format!("6 0 obj\n<< /Length {PADDING_BYTES} >>\nstream\n").as_bytes());
    pdf.extend_from_slice(&random);
    pdf.extend_from_slice(b"\nendstream\nendobj\n");
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!(
            "xref\n0 1\n0000000000 65535 f \n6 1\n{object:010} 00000 n \n\
             trailer\n<< /Size 7 /Root 1 0 R /Prev {prev} >>\nstartxref\n{xref}\n%%EOF\n"
        )
        .as_bytes(),
    );
    Ok(pdf)
}

/// Document `i`: from agency `i mod 4` to the next, numbered per sender, dated today.
fn document(systems: &[System], i: usize) -> anyhow::Result<Prepared> {
    let (from, to) = (i % systems.len(), (i + 1) % systems.len());
    let (s, r) = (&systems[from], &systems[to]);
    let number = u32::try_from(i / systems.len() + 1)?;
    let now = Utc::now();
    let local = now.with_timezone(&kernel::clock::vietnam_offset());
    let mut p = edxml::sample_package(s.organ_id, &[r.organ_id], number);
    p.header.from.organ_name = s.name.to_string();
    p.header.to[0].organ_name = r.name.to_string();
    p.header.code.code_notation = s.notation.to_string();
    p.header.promulgation_info.promulgation_date = local.date_naive();
    p.header.due_date = Some(local.date_naive() + chrono::Days::new(10));
    p.header.document_id = None;
    p.header.subject = format!(
        "Về việc phối hợp triển khai tiếp nhận hồ sơ trực tuyến toàn trình (văn bản số {number}/{})",
        s.notation
    );
    for t in &mut p.trace {
        t.timestamp = local;
    }
    p.attachments = vec![Attachment {
        content_id: "1".into(),
        name: format!("cong-van-{number}-{}.pdf", s.notation.to_lowercase()),
        content_type: "application/pdf".into(),
        description: "Văn bản đã ký số".into(),
        data: attachment_pdf(
            &format!("{} - Cong van so {number}/{}", s.organ_id, s.notation),
            i as u64,
        )?,
    }];
    let profile = edxml::Profile::default();
    let package = edxml::write(&p, &profile)?;
    let signature = pki::sign_detached(&s.key, &package, now)?;
    let mut status = edxml::sample_status(r.organ_id, &p, StatusCode::Arrived);
    status.from.organ_name = r.name.to_string();
    status.timestamp = local;
    let status = edxml::write_status(&status, &profile)?;
    let status_signature = pki::sign_detached(&r.key, &status, now)?;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    Ok(Prepared {
        from,
        to,
        signature: b64(&signature),
        status_signature: b64(&status_signature),
        package: Bytes::from(package),
        status: Bytes::from(status),
    })
}

/// Writes and signs `n` documents on every core.
async fn prepare(systems: Arc<Vec<System>>, n: usize) -> anyhow::Result<Vec<Prepared>> {
    let threads = std::thread::available_parallelism()
        .map(|c| c.get())
        .unwrap_or(1);
    let mut tasks = Vec::new();
    for t in 0..threads {
        let systems = systems.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            (t..n)
                .step_by(threads)
                .map(|i| Ok((i, document(&systems, i)?)))
                .collect::<anyhow::Result<Vec<_>>>()
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, p)| p).collect())
}

/// Answers the JSON of a call that must answer `want`.
async fn answer_of(r: reqwest::Response, want: u16, what: &str) -> anyhow::Result<Value> {
    let st = r.status().as_u16();
    let text = r.text().await?;
    anyhow::ensure!(st == want, "{what}: {st} {text}");
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Puts the agencies on the hub through the API, each with its own key certified by the
/// node, and registers a machine client for each.
async fn agencies(
    http: &reqwest::Client,
    base: &str,
    state: &motcua::AppState,
) -> anyhow::Result<Vec<System>> {
    let admin = state
        .identity
        .issue_token("quantri", &["exchange:admin".into()], 1, "bench", "bench")
        .await
        .map_err(|e| anyhow::anyhow!("token: {e}"))?;
    let mut out = Vec::new();
    for (organ_id, name, notation) in AGENCIES {
        let r = http
            .post(format!("{base}/api/v1/exchange/agencies"))
            .bearer_auth(&admin)
            .json(&json!({"organ_id": organ_id, "name": name}))
            .send()
            .await?;
        answer_of(r, 200, &format!("agency {organ_id}")).await?;
        // The agency's system makes its own key; the node certifies the public half.
        let (cn, org) = (organ_id.to_string(), name.to_string());
        let own =
            tokio::task::spawn_blocking(move || pki::new_self_signed(&cn, &org, Utc::now(), 1))
                .await??;
        let public = own
            .key()
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| anyhow::anyhow!("public key: {e}"))?;
        let r = http
            .post(format!(
                "{base}/api/v1/exchange/agencies/{organ_id}/certificates"
            ))
            .bearer_auth(&admin)
            .json(&json!({"public_key_pem": public}))
            .send()
            .await?;
        let c = answer_of(r, 201, &format!("certificate of {organ_id}")).await?;
        anyhow::ensure!(
            c["source"] == "issued" && c["key_held"] == false,
            "certificate of {organ_id}: {c}"
        );
        let cert = pki::parse_certificate_pem(
            c["certificate_pem"]
                .as_str()
                .context("the certificate's PEM")?,
        )?;
        let key = KeyPair::new(own.key().clone(), cert)?;
        let (client, secret) = state
            .identity
            .register_client(
                &identity::oidc::ClientSpec {
                    name: format!("Phần mềm quản lý văn bản, {name}"),
                    scopes: vec!["documents:exchange".into()],
                    machine: true,
                    confidential: true,
                    agency: Some(organ_id.to_string()),
                    ..identity::oidc::ClientSpec::default()
                },
                "bench",
            )
            .await
            .map_err(|e| anyhow::anyhow!("client of {organ_id}: {e}"))?;
        out.push(System {
            organ_id,
            name,
            notation,
            key,
            client_id: client.client_id,
            secret: secret.context("a machine client has a secret")?,
        });
    }
    Ok(out)
}

/// An access token of a system's machine client (client credentials).
async fn token(http: &reqwest::Client, base: &str, s: &System) -> anyhow::Result<String> {
    let r = http
        .post(format!("{base}/oidc/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", s.client_id.as_str()),
            ("client_secret", s.secret.as_str()),
            ("scope", "documents:exchange"),
        ])
        .send()
        .await?;
    let v = answer_of(r, 200, &format!("token of {}", s.organ_id)).await?;
    Ok(v["access_token"]
        .as_str()
        .context("no access token")?
        .to_string())
}

/// An access token for each system, in order.
async fn access_tokens(
    http: &reqwest::Client,
    base: &str,
    systems: &[System],
) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for s in systems {
        out.push(token(http, base, s).await?);
    }
    Ok(out)
}

/// One round: the package posted by its sender, fetched by its recipient, answered `01`.
async fn round(
    http: &reqwest::Client,
    base: &str,
    tokens: &[String],
    p: &Prepared,
    i: usize,
) -> anyhow::Result<Round> {
    let t0 = Instant::now();
    let r = http
        .post(format!("{base}/api/v1/exchange/documents"))
        .bearer_auth(&tokens[p.from])
        .header("content-type", "application/xml")
        .header("x-motcua-signature", &p.signature)
        .body(p.package.clone())
        .send()
        .await?;
    let d = answer_of(r, 201, &format!("package {i}")).await?;
    let post = t0.elapsed();
    let id = d["id"].as_str().context("the document has no id")?;

    let t1 = Instant::now();
    let r = http
        .get(format!("{base}/api/v1/exchange/documents/{id}/package"))
        .bearer_auth(&tokens[p.to])
        .send()
        .await?;
    let st = r.status().as_u16();
    let sig = r
        .headers()
        .get("x-motcua-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = r.bytes().await?;
    anyhow::ensure!(st == 200, "package {i} fetched: {st}");
    anyhow::ensure!(
        body == p.package && sig.as_deref() == Some(p.signature.as_str()),
        "package {i} came back changed"
    );
    let fetch = t1.elapsed();

    let t2 = Instant::now();
    let r = http
        .post(format!("{base}/api/v1/exchange/statuses"))
        .bearer_auth(&tokens[p.to])
        .header("content-type", "application/xml")
        .header("x-motcua-signature", &p.status_signature)
        .body(p.status.clone())
        .send()
        .await?;
    let d = answer_of(r, 201, &format!("status of package {i}")).await?;
    anyhow::ensure!(
        d["deliveries"][0]["status"] == "01" && d["deliveries"][0]["fetched_at"].is_string(),
        "status of package {i}: {d}"
    );
    Ok(Round {
        post,
        fetch,
        answer: t2.elapsed(),
        whole: t0.elapsed(),
    })
}

/// Rounds run by one client alone after the concurrent ones: a tenth as many, 20 to 200.
fn alone_rounds(packages: usize) -> usize {
    (packages / 10).clamp(20, 200)
}

/// Runs the rounds of `range`, `clients` at a time; what each took, and the whole time.
async fn pass(
    http: &reqwest::Client,
    base: &str,
    tokens: &Arc<Vec<String>>,
    prepared: &Arc<Vec<Prepared>>,
    range: std::ops::Range<usize>,
    clients: usize,
) -> anyhow::Result<(Vec<Round>, Duration)> {
    let next = Arc::new(AtomicUsize::new(range.start));
    let end = range.end;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let (http, base, tokens, prepared, next) = (
            http.clone(),
            base.to_string(),
            tokens.clone(),
            prepared.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rounds = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    break;
                }
                let p = prepared.get(i).context("a round past the packages")?;
                rounds.push(round(&http, &base, &tokens, p, i).await?);
            }
            Ok::<_, anyhow::Error>(rounds)
        }));
    }
    let mut rounds = Vec::with_capacity(range.len());
    for t in tasks {
        rounds.extend(t.await??);
    }
    Ok((rounds, started.elapsed()))
}

async fn count(db: &kernel::db::Db, sql: &'static str) -> anyhow::Result<i64> {
    Ok(kernel::on_db!(db, p => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await)?)
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
    let base = format!("http://{bound}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients * 2)
        .build()?;

    let setup_started = Instant::now();
    step(&format!(
        "{name}: {} agencies put on the hub, each with its own certified key and machine client",
        AGENCIES.len()
    ));
    let systems = Arc::new(agencies(&http, &base, &state).await?);
    let total = args.packages + alone_rounds(args.packages);
    step(&format!(
        "{name}: {total} packages and their statuses written and signed"
    ));
    let signing_started = Instant::now();
    let prepared = Arc::new(prepare(systems.clone(), total).await?);
    let signing = signing_started.elapsed();
    let package_bytes =
        prepared.iter().map(|p| p.package.len()).sum::<usize>() / prepared.len().max(1);
    let signature_bytes = prepared
        .iter()
        .map(|p| {
            base64::engine::general_purpose::STANDARD
                .decode(&p.signature)
                .map(|s| s.len())
                .unwrap_or(0)
        })
        .sum::<usize>()
        / prepared.len().max(1);
    // Access tokens last ten minutes: taken last, just before each pass.
    let tokens = Arc::new(access_tokens(&http, &base, &systems).await?);
    let setup = setup_started.elapsed();
    step(&format!(
        "{name}: setup took {:.1} s, writing and signing {:.1} s of it",
        setup.as_secs_f64(),
        signing.as_secs_f64()
    ));

    let main = 0..args.packages;
    step(&format!(
        "{name}: {} rounds (post, fetch, answer), {} clients",
        main.len(),
        args.clients
    ));
    let (rounds, elapsed) = pass(&http, &base, &tokens, &prepared, main, args.clients).await?;
    step(&format!(
        "{name}: {} rounds in {:.1} s = {:.1}/s",
        rounds.len(),
        elapsed.as_secs_f64(),
        rounds.len() as f64 / elapsed.as_secs_f64().max(1e-9)
    ));
    let alone = args.packages..prepared.len();
    step(&format!("{name}: {} more rounds, one client", alone.len()));
    let tokens = Arc::new(access_tokens(&http, &base, &systems).await?);
    let (alone, alone_elapsed) = pass(&http, &base, &tokens, &prepared, alone, 1).await?;

    // What the hub kept must be exactly what was sent.
    let db = &state.db;
    let n = i64::try_from(prepared.len())?;
    let documents = count(
        db,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM exchange_documents",
    )
    .await?;
    let answered = count(
        db,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM exchange_deliveries WHERE status = '01' AND fetched_at IS NOT NULL",
    )
    .await?;
    let statuses = count(
        db,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM exchange_statuses WHERE package_sha256 IS NOT NULL",
    )
    .await?;
    let receipts = count(db, "SELECT CAST(COUNT(*) AS BIGINT) FROM exchange_receipts").await?;
    anyhow::ensure!(
        documents == n && answered == n && statuses == n && receipts == 3 * n,
        "{documents} documents, {answered} answered, {statuses} statuses, {receipts} receipts for {n} packages"
    );
    let gaps = count(
        db,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT agency FROM exchange_register WHERE direction = 'out' \
         GROUP BY agency, year HAVING MAX(number) <> COUNT(*)) g",
    )
    .await?;
    anyhow::ensure!(gaps == 0, "{gaps} registers of documents sent have gaps");
    let audit_entries = kernel::audit::verify(db)
        .await
        .map_err(|e| anyhow::anyhow!("the audit chain: {e}"))?;
    server.stop().await;
    let take = |f: fn(&Round) -> Duration| spread(rounds.iter().map(f).collect());
    Ok(Backend {
        name,
        version,
        setup,
        signing,
        rounds: rounds.len(),
        elapsed,
        whole: take(|r| r.whole),
        post: take(|r| r.post),
        fetch: take(|r| r.fetch),
        answer: take(|r| r.answer),
        package_bytes,
        signature_bytes,
        receipts,
        audit_entries,
        alone: alone.len(),
        alone_elapsed,
        alone_whole: spread(alone.iter().map(|r| r.whole).collect()),
    })
}

/// What the hub's own work costs one core, per operation (means over about a second each).
struct Costs {
    verify: Duration,
    sign: Duration,
    key_read: Duration,
    /// A package-sized blob stored as the hub stores it (file and folder flushed).
    blob: Duration,
}

impl Costs {
    /// The hub's cryptography in one round, as its code runs it: two signatures verified
    /// (the package's and the status's), three receipts signed, and its keys read from PEM
    /// five times (the root's at each of the two verifications, the receipt key's at each of
    /// the three receipts).
    fn crypto_per_round(&self) -> Duration {
        self.verify * 2 + self.sign * 3
    }
}

/// Blobs a round stores: the package and the status with their signatures, and three
/// receipts with theirs.
const BLOBS_PER_ROUND: u32 = 10;

fn mean_of(mut f: impl FnMut(u32) -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut n = 0u32;
    while n < 20 || started.elapsed() < Duration::from_secs(1) {
        f(n)?;
        n += 1;
    }
    Ok(started.elapsed() / n)
}

/// Times, on one thread, what the hub does for each round besides the database.
fn costs() -> anyhow::Result<Costs> {
    let now = Utc::now();
    let ca = pki::new_ca("bench CA", now, 1)?;
    let (hub, _) = pki::issue(&ca, "bench-hub", "bench", None, now, 1)?;
    let hub = hub.context("a key is made")?;
    let (key_pem, cert_pem) = (hub.key_pem()?, hub.certificate_pem()?);
    let systems: Vec<System> = AGENCIES[..2]
        .iter()
        .map(|(organ_id, name, notation)| System {
            organ_id,
            name,
            notation,
            key: hub.clone(),
            client_id: String::new(),
            secret: String::new(),
        })
        .collect();
    let p = document(&systems, 0)?;
    let signature = base64::engine::general_purpose::STANDARD.decode(&p.signature)?;
    let receipt = serde_json::to_vec_pretty(&json!({
        "receipt": "0190f5a2-7c1e-7d3a-9b1f-2f6c9e0d4a11", "kind": "delivered",
        "document": "0190f5a2-7c1e-7d3a-9b1f-2f6c9e0d4a12", "agency": AGENCIES[1].0,
        "issued_at": now.to_rfc3339(), "hub_certificate": hub.serial_hex(),
        "facts": {"document_id": format!("{},2026/01/01,1/SNV-VP", AGENCIES[0].0), "package_sha256": "0".repeat(64),
                  "from": AGENCIES[0].0, "to": AGENCIES[1].0},
    }))?;
    // In a folder of the same file system as the node's data folder.
    let folder = tempfile::tempdir()?;
    let blobs = kernel::blob::BlobStore::open(folder.path())?;
    let mut blob = p.package.to_vec();
    Ok(Costs {
        verify: mean_of(|_| {
            pki::verify_detached(&signature, &p.package, &[])?;
            Ok(())
        })?,
        sign: mean_of(|_| {
            pki::sign_detached(&hub, &receipt, now)?;
            Ok(())
        })?,
        key_read: mean_of(|_| {
            KeyPair::from_pem(&key_pem, &cert_pem)?;
            Ok(())
        })?,
        blob: mean_of(|n| {
            // Other bytes each time, as every blob of a round is new.
            blob.truncate(p.package.len());
            blob.extend_from_slice(&n.to_le_bytes());
            blobs.put(&blob)?;
            Ok(())
        })?,
    })
}

/// The load averages of the machine (1, 5 and 15 minutes).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

pub async fn run(args: Args) -> anyhow::Result<String> {
    anyhow::ensure!(args.packages > 0, "--packages must be at least 1");
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let load_before = load_average();
    let started = Instant::now();
    let only = args.only.as_deref();
    let backends =
        crate::node::on_each_database(only, |name, url| run_backend(name, url, &args)).await?;
    let load_after = load_average();
    step("what the hub does besides the database, on one core");
    let costs = tokio::task::spawn_blocking(costs).await??;
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let cpu = crate::search::cpu_model();
    let national = NATIONAL_PER_YEAR / (365.0 * 86_400.0);
    let working = NATIONAL_PER_YEAR / (WORKING_HOURS_PER_YEAR * 3600.0);
    let (package_kb, signature_b) = backends
        .first()
        .map(|b| (b.package_bytes as f64 / 1024.0, b.signature_bytes))
        .unwrap_or_default();
    let mut s = format!(
        "{START}\n## Document exchange: signed packages end to end\n\n\
         - Command: `{cmd}`\n- Date: {date}; the whole run took {whole:.0} s\n\
         - Machine: {cores} cores, {cpu}; load average {load_before} before the run, {load_after} after; \
         the clients run on the same cores as the node\n\n\
         {agencies} agencies are put on the hub through its API by the system administrator, each with \
         its own RSA-2048 key whose public half the node's authority certifies (`public_key_pem`), and \
         a machine client registered for it (client credentials, scope `documents:exchange`); each \
         agency sends to the next. Before anything is timed, the packages are written and signed by \
         their senders: each a dispatch (công văn) in edXML with a one-page PDF attached that carries \
         a {pad} KB stream of random bytes (a package is {package_kb:.1} KB with the attachment in \
         base64; its detached CMS signature {signature_b} bytes), and for each the recipient's status \
         `01` (arrived), signed by the recipient. One round, timed: the sender's system posts the \
         package (`POST /api/v1/exchange/documents`: parsed, the caller checked for the sending \
         agency, the signature verified against the registry, the package and signature stored, then \
         the document, its delivery, its number in the sender's register, the hub's signed `accepted` \
         receipt and the audit entry in one durable commit); the recipient's system fetches it \
         (`GET …/documents/{{id}}/package`: the hand-over, with a signed `delivered` receipt and its \
         commit; bytes and signature checked identical); and posts its signed status \
         (`POST /api/v1/exchange/statuses`: verified, recorded with a signed `status` receipt, one \
         commit). {n} rounds with {clients} concurrent clients, each running rounds back to back; then \
         {alone} more rounds with one client alone.\n\n\
         | database | what | per second | p50 | p99 |\n| --- | --- | ---: | ---: | ---: |\n",
        cmd = args.command,
        whole = started.elapsed().as_secs_f64(),
        agencies = AGENCIES.len(),
        n = args.packages,
        alone = alone_rounds(args.packages),
        pad = PADDING_BYTES / 1024,
        clients = args.clients,
    );
    for b in &backends {
        s.push_str(&format!(
            "| {} | **whole round** (post, fetch, answer), {} clients | **{:.1}** | {} | {} |\n",
            b.name,
            args.clients,
            b.rate(),
            fmt_duration(b.whole.p50),
            fmt_duration(b.whole.p99)
        ));
        for (what, x) in [
            ("post the package (accepted)", &b.post),
            ("fetch it (hand-over)", &b.fetch),
            ("post the status `01`", &b.answer),
        ] {
            s.push_str(&format!(
                "| {} | {what} | | {} | {} |\n",
                b.name,
                fmt_duration(x.p50),
                fmt_duration(x.p99)
            ));
        }
        s.push_str(&format!(
            "| {} | whole round, one client alone | {:.1} | {} | {} |\n",
            b.name,
            b.alone_rate(),
            fmt_duration(b.alone_whole.p50),
            fmt_duration(b.alone_whole.p99)
        ));
    }
    s.push('\n');
    for b in &backends {
        s.push_str(&format!(
            "- {}: {}. {} rounds in {:.1} s with {} clients: {:.1}× the rate of one client alone. \
             Setup took {:.1} s (agencies, keys and clients; writing and signing the packages and \
             statuses, {:.1} s of it). Checked after the run: {} documents each fetched once and at \
             `01`, {} receipts, every sender's register numbered without a gap, the audit chain \
             verified ({} entries).\n",
            b.name,
            b.version,
            b.rounds,
            b.elapsed.as_secs_f64(),
            args.clients,
            b.rate() / b.alone_rate().max(1e-9),
            b.setup.as_secs_f64(),
            b.signing.as_secs_f64(),
            b.rounds + b.alone,
            b.receipts,
            b.audit_entries,
        ));
    }
    s.push_str(
        "- No peer: the national hub's throughput is not published, and no other hub was run here.\n",
    );
    let ratios: Vec<String> = backends
        .iter()
        .map(|b| format!("{} {:.0}×", b.name, b.rate() / national))
        .collect();
    s.push_str(&format!(
        "- Scale: about 13 million documents went through the national hub in 2022 (the order of \
         magnitude reported for it; not checked here), {national:.2} documents per second on average \
         over the year, or {working:.1} per second if all of them came in 2,000 working hours. The \
         measured rate is that average times: {}. A document to several recipients costs the hub one \
         accept, and one hand-over and one answer per recipient.\n",
        ratios.join(", ")
    ));
    let crypto = costs.crypto_per_round();
    let blobs = costs.blob * BLOBS_PER_ROUND;
    s.push_str(&format!(
        "- Where a round's time goes besides the database, measured alone on one core: a package's \
         signature verified in {}, a receipt signed in {}, a key read from its PEM in {} (the node \
         reads its own keys once and keeps them); a round verifies two signatures and signs three \
         receipts: {} of CPU. It also stores {BLOBS_PER_ROUND} blobs (the package and the status \
         with their signatures, three receipts with theirs), each written and flushed with its \
         folder before the request goes on: {} each here, {} per round, on blocking threads (with \
         the receipts' signing) so that the async workers keep serving. And each of the round's \
         three writes is a transaction of its own, committed alone (the hub does not go through \
         the kernel's group commit), so concurrent rounds take turns at the database's write lock \
         and its flush.\n\n{END}\n",
        fmt_duration(costs.verify),
        fmt_duration(costs.sign),
        fmt_duration(costs.key_read),
        fmt_duration(crypto),
        fmt_duration(costs.blob),
        fmt_duration(blobs),
    ));
    if only.is_none() {
        crate::report::write_between(&args.out, &s, START, END)?;
    }
    Ok(s)
}
