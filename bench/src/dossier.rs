//! `dossier`: submissions and tracking look-ups over HTTP at 64 concurrent clients, on SQLite
//! and on PostgreSQL, against the ceiling of the same server (a constant endpoint); then whole
//! five-step lifecycles through the workflow engine, in process, against SpiffWorkflow running
//! the same process (`bench/spiff/`), both persisting every step. The lifecycles run once ending
//! in an approval (the signed result document made) and once in a refusal (no document), and the
//! result document is timed alone, so that the engine's cost and the document's show apart.
//!
//! Every acknowledged write here is durable: SQLite runs in WAL mode with `synchronous=FULL`
//! and PostgreSQL with `synchronous_commit=on` (its default, checked). What makes the numbers
//! is the group commit of `kernel::batch`, not weaker durability.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use dossier::{ActionInput, ActionKind, Applicant, NewDossier};
use identity::{Principal, Role};
use motcua::Application;

use crate::measure::{fmt_duration, percentile};

pub const START: &str = "<!-- bench:dossier:start -->";
pub const END: &str = "<!-- bench:dossier:end -->";

/// Birth registration: filed at six communes of the demo, no waiting days.
const SUBMITTED: &str = "1.001193";
const SUBMIT_AGENCIES: [&str; 6] = [
    "000.00.51.H26",
    "000.00.52.H26",
    "000.00.51.H29",
    "000.00.51.H56",
    "000.00.51.H57",
    "000.00.51.H17",
];
/// Certificate of marital status: the standard four-step workflow after receipt.
const LIFECYCLE: &str = "1.004873";
const LIFECYCLE_AGENCY: &str = "000.00.52.H26";

pub struct Args {
    pub seconds: u64,
    pub clients: usize,
    pub out: PathBuf,
    pub command: String,
    /// A Python with SpiffWorkflow; none to skip the peer.
    pub python: Option<PathBuf>,
    /// Run on this database alone (`sqlite` or `postgres`), print, and leave the file as it is.
    pub only: Option<String>,
}

fn step(msg: &str) {
    eprintln!("[bench] {msg}");
}

/// What one load phase saw.
struct Phase {
    ok: usize,
    errors: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `clients` loops of `hit` for `secs`; `hit` gets the client and iteration numbers.
async fn phase<F, Fut>(clients: usize, secs: u64, hit: F) -> anyhow::Result<Phase>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let hit = Arc::new(hit);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let hit = hit.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut errors = 0usize;
            let mut first = None;
            let mut i = 0usize;
            while Instant::now() < deadline && samples.len() < 5_000_000 {
                let t = Instant::now();
                match hit(c, i).await {
                    Ok(()) => samples.push(t.elapsed()),
                    Err(e) => {
                        errors += 1;
                        first.get_or_insert(e);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                i += 1;
            }
            (samples, errors, first)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first = None;
    for t in tasks {
        let (s, e, f) = t.await?;
        all.extend(s);
        errors += e;
        if first.is_none() {
            first = f;
        }
    }
    let elapsed = started.elapsed();
    if let Some(e) = first {
        if all.is_empty() {
            return Err(e.context("every request failed"));
        }
        eprintln!("  warning: {errors} failed requests, the first: {e:#}");
    }
    all.sort_unstable();
    Ok(Phase {
        ok: all.len(),
        errors,
        elapsed,
        p50: percentile(&all, 50.0),
        p99: percentile(&all, 99.0),
    })
}

/// What one database gave.
struct Backend {
    name: &'static str,
    version: String,
    ceiling: Phase,
    submissions: Phase,
    tracking: Phase,
    /// Commits and the submissions they held, during the submission phase.
    groups: (u64, u64),
    /// Approved, then refused.
    lifecycles: Vec<Lifecycles>,
    lifecycle_clients: usize,
}

async fn account(
    app: &Application,
    login: &str,
    role: Role,
    agency: &str,
) -> anyhow::Result<(String, Principal)> {
    let id = &app.state().identity;
    let new = identity::NewAccount {
        kind: identity::AccountKind::Official,
        username: Some(login.into()),
        full_name: format!("Cán bộ {login}"),
        cccd: None,
        tax_code: None,
        birth_date: None,
        sex: None,
        phone: None,
        email: None,
        password: identity::demo::PASSWORD.into(),
        assurance: 1,
    };
    id.create_account(&new, "bench")
        .await
        .map_err(|e| anyhow::anyhow!("account {login}: {e}"))?;
    id.grant(login, role, Some(agency), "bench")
        .await
        .map_err(|e| anyhow::anyhow!("role of {login}: {e}"))?;
    let token = id
        .issue_token(
            login,
            &[
                "dossiers:read".into(),
                "dossiers:write".into(),
                "dossiers:handle".into(),
            ],
            60,
            "bench",
            "bench",
        )
        .await
        .map_err(|e| anyhow::anyhow!("token of {login}: {e}"))?;
    let principal = id
        .bearer(&token)
        .await
        .map_err(|e| anyhow::anyhow!("bearer of {login}: {e}"))?
        .context("the bench token was refused")?;
    Ok((token, principal))
}

fn birth_form(i: usize) -> Value {
    json!({
        "ho_ten_tre": format!("Nguyễn Minh Khôi {i}"),
        "ngay_sinh": "2026-02-20",
        "gioi_tinh": "Nam",
        "noi_sinh": "Bệnh viện Phụ sản Hà Nội",
        "dan_toc": "Kinh",
        "ho_ten_me": "Trần Thị Lan",
        "so_dinh_danh_nguoi_yeu_cau": "001095012345",
        "dien_thoai": "0912345678"
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
        data,
    } = crate::node::start(database_url).await?;
    let mut desks = Vec::new();
    for (i, agency) in SUBMIT_AGENCIES.iter().enumerate() {
        desks.push(
            account(&app, &format!("bench.tn{i}"), Role::Reception, agency)
                .await?
                .0,
        );
    }
    let (_, desk) = account(&app, "bench.lc.tn", Role::Reception, LIFECYCLE_AGENCY).await?;
    let (_, cv) = account(&app, "bench.lc.cv", Role::Specialist, LIFECYCLE_AGENCY).await?;
    let (_, tp) = account(&app, "bench.lc.tp", Role::DepartmentHead, LIFECYCLE_AGENCY).await?;
    let (_, ld) = account(&app, "bench.lc.ld", Role::AgencyLeader, LIFECYCLE_AGENCY).await?;
    let server = crate::node::serve(app);
    let base = format!("http://{bound}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients * 2)
        .build()?;
    let clients = args.clients;
    let secs = args.seconds;

    step(&format!(
        "{name}: the ceiling, GET /healthz, {clients} clients, {secs} s"
    ));
    let ceiling = {
        let http = http.clone();
        let url = format!("{base}/healthz");
        phase(clients, secs, move |_, _| {
            let http = http.clone();
            let url = url.clone();
            async move {
                let r = http.get(&url).send().await?;
                anyhow::ensure!(r.status() == 200, "healthz: {}", r.status());
                r.bytes().await?;
                Ok(())
            }
        })
        .await?
    };

    step(&format!(
        "{name}: submissions, POST /api/v1/dossiers, {clients} clients, {secs} s"
    ));
    let codes = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let before = state.dossiers.submission_counts();
    let submissions = {
        let http = http.clone();
        let url = format!("{base}/api/v1/dossiers");
        let desks = Arc::new(desks);
        let codes = codes.clone();
        phase(clients, secs, move |c, i| {
            let http = http.clone();
            let url = url.clone();
            let desks = desks.clone();
            let codes = codes.clone();
            async move {
                let a = c % SUBMIT_AGENCIES.len();
                let body = json!({
                    "procedure": SUBMITTED, "agency": SUBMIT_AGENCIES[a], "form": birth_form(i),
                    "applicant": {"name": format!("Người nộp {c}-{i}"), "phone": "0912345678", "email": "nguoinop@example.vn"}
                });
                let r = http
                    .post(&url)
                    .bearer_auth(&desks[a])
                    .json(&body)
                    .send()
                    .await?;
                let status = r.status();
                let v: Value = r.json().await?;
                anyhow::ensure!(status == 201, "submission: {status} {v}");
                let code = v["code"].as_str().context("no code")?.to_string();
                if let Ok(mut all) = codes.lock() {
                    all.push(code);
                }
                Ok(())
            }
        })
        .await?
    };
    let after = state.dossiers.submission_counts();
    let groups = (after.0 - before.0, after.1 - before.1);
    let codes: Vec<String> = codes.lock().map(|c| c.clone()).unwrap_or_default();
    anyhow::ensure!(!codes.is_empty(), "no submission was acknowledged");

    step(&format!(
        "{name}: tracking look-ups, {clients} clients, {secs} s"
    ));
    let tracking = {
        let http = http.clone();
        let codes = Arc::new(codes);
        let base = base.clone();
        phase(clients, secs, move |c, i| {
            let http = http.clone();
            let codes = codes.clone();
            let base = base.clone();
            async move {
                let code = &codes[(c * 7919 + i * 104_729) % codes.len()];
                let r = http
                    .get(format!("{base}/api/v1/tracking/{code}?digits=5678"))
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 200, "tracking: {}", r.status());
                r.bytes().await?;
                Ok(())
            }
        })
        .await?
    };

    let lifecycle_clients = clients;
    let people = Arc::new((desk, cv, tp, ld));
    let mut lifecycles = Vec::new();
    for decision in [Decision::Approve, Decision::Reject] {
        step(&format!(
            "{name}: five-step lifecycles in process, {}, {lifecycle_clients} at once, {secs} s",
            decision.what()
        ));
        lifecycles.push(
            lifecycle_phase(&state.dossiers, &people, decision, lifecycle_clients, secs).await?,
        );
    }
    server.stop().await;
    state.db.close().await;
    drop(data);
    Ok(Backend {
        name,
        version,
        ceiling,
        submissions,
        tracking,
        groups,
        lifecycles,
        lifecycle_clients,
    })
}

/// How the leader decides in a lifecycle phase.
#[derive(Clone, Copy)]
enum Decision {
    /// Approves: the result document is made, signed with the agency's key and stored.
    Approve,
    /// Refuses with a reason: no document.
    Reject,
}

impl Decision {
    fn what(self) -> &'static str {
        match self {
            Decision::Approve => "approved with a signed result",
            Decision::Reject => "refused at the decision (no result document)",
        }
    }
}

/// One lifecycle phase: what it saw, and the dossiers' commits and the writers they held.
struct Lifecycles {
    decision: Decision,
    phase: Phase,
    groups: (u64, u64),
    /// Batches of actions stored together, and the actions they held.
    actions: (u64, u64),
    /// Where the group commit's time went in the phase.
    timings: kernel::batch::Timings,
}

/// `clients` officials' sessions running whole lifecycles for `secs`: filed at the desk,
/// received, forwarded twice, decided as `decision` says, and returned.
async fn lifecycle_phase(
    d: &Arc<dossier::Dossiers>,
    people: &Arc<(Principal, Principal, Principal, Principal)>,
    decision: Decision,
    clients: usize,
    secs: u64,
) -> anyhow::Result<Lifecycles> {
    let before = d.write_counts();
    let acted = d.action_counts();
    let timed = d.write_timings();
    let phase = {
        let d = d.clone();
        let people = people.clone();
        phase(clients, secs, move |c, i| {
            let d = d.clone();
            let people = people.clone();
            async move {
                let (desk, cv, tp, ld) = &*people;
                let new = NewDossier {
                    procedure: LIFECYCLE.into(),
                    agency: Some(LIFECYCLE_AGENCY.into()),
                    form: json!({
                        "ho_ten": "Lê Văn Nam", "so_dinh_danh": "001095012345", "ngay_sinh": "1995-05-05",
                        "tinh_trang": "Chưa đăng ký kết hôn với ai", "muc_dich": "Đăng ký kết hôn", "dien_thoai": "0912345678"
                    })
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                    submit: true,
                    applicant: Some(Applicant {
                        name: format!("Lê Văn Nam {c}-{i}"),
                        cccd: Some("001095012345".into()),
                        phone: Some("0912345678".into()),
                        email: None,
                    }),
                    ..NewDossier::default()
                };
                let (created, _) = d.create(desk, &new, None).await.map_err(|e| anyhow::anyhow!("create: {e}"))?;
                let code = created.code.context("no code")?;
                let plain = ActionInput::default();
                let refusal = ActionInput {
                    reasons: vec!["Người yêu cầu không đủ điều kiện theo quy định".into()],
                    ..ActionInput::default()
                };
                let back = ActionInput {
                    method: Some("desk".into()),
                    ..ActionInput::default()
                };
                let decide = match decision {
                    Decision::Approve => (ActionKind::Approve, &plain),
                    Decision::Reject => (ActionKind::Reject, &refusal),
                };
                for (who, action, input) in [
                    (desk, ActionKind::Receive, &plain),
                    (cv, ActionKind::Forward, &plain),
                    (tp, ActionKind::Forward, &plain),
                    (ld, decide.0, decide.1),
                    (desk, ActionKind::Return, &back),
                ] {
                    d.act(&code, who, action, input)
                        .await
                        .map_err(|e| anyhow::anyhow!("{}: {e}", action.as_str()))?;
                }
                Ok(())
            }
        })
        .await?
    };
    let after = d.write_counts();
    let acts = d.action_counts();
    Ok(Lifecycles {
        decision,
        groups: (after.0 - before.0, after.1 - before.1),
        actions: (acts.0 - acted.0, acts.1 - acted.1),
        timings: d.write_timings().since(&timed),
        phase,
    })
}

/// What the result document costs alone, on one thread: rendering a one-page result sheet
/// like the one an approval makes, and signing it (CMS, RSA-2048, the agency's key kind).
struct DocumentCost {
    render: Duration,
    sign: Duration,
    pdf_bytes: usize,
}

impl DocumentCost {
    /// Documents one core makes in a second, rendered and signed.
    fn per_core(&self) -> f64 {
        1.0 / (self.render + self.sign).as_secs_f64().max(1e-9)
    }
}

fn document_cost(secs: u64) -> anyhow::Result<DocumentCost> {
    use dossier::slips::{Block, Sheet, render};
    let now = chrono::Utc::now();
    let key = kernel::pki::new_self_signed("Ủy ban nhân dân xã", "motcua", now, 1)?;
    let sheet = |i: usize| {
        Sheet {
        parent: Some("Ủy ban nhân dân Thành phố Hà Nội".into()),
        agency: "Ủy ban nhân dân phường Ba Đình".into(),
        date: now.date_naive(),
        title: "Kết quả giải quyết thủ tục hành chính".into(),
        subtitle: Some(format!("Hồ sơ {LIFECYCLE_AGENCY}-260101-{i:04}")),
        blocks: vec![
            Block::Field("Thủ tục hành chính".into(), "Cấp Giấy xác nhận tình trạng hôn nhân (mã 1.004873)".into()),
            Block::Field("Người nộp hồ sơ".into(), format!("Lê Văn Nam {i}")),
            Block::Field("Số định danh cá nhân".into(), "001095012345".into()),
            Block::Field("Ngày tiếp nhận".into(), "08:30 ngày 02/03/2026".into()),
            Block::Field("Ngày hẹn trả kết quả".into(), "05/03/2026".into()),
            Block::Heading("Thông tin đã khai:".into()),
            Block::Field("Họ và tên".into(), "Lê Văn Nam".into()),
            Block::Field("Ngày sinh".into(), "05/05/1995".into()),
            Block::Field("Tình trạng hôn nhân".into(), "Chưa đăng ký kết hôn với ai".into()),
            Block::Field("Mục đích sử dụng".into(), "Đăng ký kết hôn".into()),
            Block::Heading("Quyết định:".into()),
            Block::Para("Ủy ban nhân dân phường Ba Đình chấp thuận (phê duyệt) yêu cầu giải quyết thủ tục hành chính nêu trên của Ông/Bà Lê Văn Nam.".into()),
        ],
        signatures: vec![("CHỦ TỊCH".into(), "(Đã ký số)".into(), "Trần Văn Lãnh".into())],
        footer: format!("Hồ sơ {LIFECYCLE_AGENCY}-260101-{i:04}"),
        meta_title: "Kết quả giải quyết thủ tục hành chính".into(),
        keywords: vec![],
        created: now,
    }
    };
    let until = Instant::now() + Duration::from_secs(secs);
    let (mut render_time, mut sign_time, mut n, mut bytes) =
        (Duration::ZERO, Duration::ZERO, 0u32, 0);
    while Instant::now() < until || n == 0 {
        let t0 = Instant::now();
        let pdf = render(&sheet(n as usize)).map_err(|e| anyhow::anyhow!("render: {e}"))?;
        let t1 = Instant::now();
        let sig = kernel::pki::sign_detached(&key, &pdf, now)?;
        let t2 = Instant::now();
        anyhow::ensure!(!sig.is_empty(), "empty signature");
        render_time += t1 - t0;
        sign_time += t2 - t1;
        bytes = pdf.len();
        n += 1;
    }
    Ok(DocumentCost {
        render: render_time / n,
        sign: sign_time / n,
        pdf_bytes: bytes,
    })
}

/// The peer's pinned version.
const SPIFF: &str = "SpiffWorkflow==3.2.0";

/// A Python with SpiffWorkflow: a virtual environment under `target/`, made on first use.
pub fn spiff_python() -> anyhow::Result<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/spiff-venv");
    let python = venv.join("bin/python");
    let ready = Command::new(&python)
        .args(["-c", "import SpiffWorkflow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ready {
        return Ok(python);
    }
    step(&format!("installing {SPIFF} into {}", venv.display()));
    let ok = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .status()
        .context("cannot run python3 -m venv")?
        .success();
    anyhow::ensure!(ok, "python3 -m venv failed");
    let ok = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", SPIFF])
        .status()
        .context("cannot run pip")?
        .success();
    anyhow::ensure!(ok, "pip install {SPIFF} failed");
    Ok(python)
}

/// SpiffWorkflow's lifecycles per second, persisted and not.
struct Spiff {
    version: String,
    persisted: f64,
    in_memory: f64,
    processes: u64,
}

fn spiff(python: &Path, secs: u64) -> anyhow::Result<Spiff> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("spiff/run.py");
    let run = |persist: bool| -> anyhow::Result<Value> {
        let mut cmd = Command::new(python);
        cmd.arg(&script).arg("--seconds").arg(secs.to_string());
        if persist {
            cmd.arg("--persist");
        }
        let out = cmd.output().context("cannot run SpiffWorkflow")?;
        anyhow::ensure!(
            out.status.success(),
            "SpiffWorkflow failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(serde_json::from_slice(&out.stdout)?)
    };
    step(&format!(
        "SpiffWorkflow: the same five-step process, persisted, {secs} s"
    ));
    let p = run(true)?;
    step(&format!(
        "SpiffWorkflow: the same process in memory, {secs} s"
    ));
    let m = run(false)?;
    Ok(Spiff {
        version: p["version"].as_str().unwrap_or("?").to_string(),
        persisted: p["per_second"].as_f64().unwrap_or(0.0),
        in_memory: m["per_second"].as_f64().unwrap_or(0.0),
        processes: p["processes"].as_u64().unwrap_or(1),
    })
}

pub async fn run(args: Args) -> anyhow::Result<String> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let only = args.only.as_deref();
    let backends =
        crate::node::on_each_database(only, |name, url| run_backend(name, url, &args)).await?;
    let spiff = match &args.python {
        Some(py) => Some(spiff(py, args.seconds)?),
        None => None,
    };
    step("the result document alone: rendered and signed on one thread, 3 s");
    let doc = document_cost(3)?;

    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let cpu = crate::search::cpu_model();
    let mut s = format!(
        "{START}\n## Dossiers: submissions, tracking and the workflow engine\n\n\
         - Command: `{cmd}`\n- Date: {date}\n- Machine: {cores} cores, {cpu}\n\
         - Every acknowledged write is on disk before the answer: the benchmark checks \
         `synchronous=FULL` (SQLite, WAL) and `synchronous_commit=on` (PostgreSQL) before it starts.\n\n\
         ### Over HTTP, {clients} concurrent clients, {secs} s each\n\n\
         A submission is `POST /api/v1/dossiers` by a one-stop desk official (bearer token) for a \
         walk-in applicant: the form checked, the code `<agency>-YYMMDD-NNNN` taken, the dossier, \
         its event, its audit entry and the e-mail notice stored. Six communes share the load. \
         A look-up is `GET /api/v1/tracking/{{code}}?digits=…` on a dossier just made. The ceiling \
         is `GET /healthz` on the same server.\n\n\
         | database | what | per second | p50 | p99 | share of the ceiling |\n\
         | --- | --- | ---: | ---: | ---: | ---: |\n",
        cmd = args.command,
        clients = args.clients,
        secs = args.seconds,
    );
    for b in &backends {
        let ceiling = b.ceiling.rate();
        for (what, p) in [
            ("ceiling (`/healthz`)", &b.ceiling),
            ("submissions", &b.submissions),
            ("tracking look-ups", &b.tracking),
        ] {
            s.push_str(&format!(
                "| {} | {what} | {:.0} | {} | {} | {:.1}% |\n",
                b.name,
                p.rate(),
                fmt_duration(p.p50),
                fmt_duration(p.p99),
                100.0 * p.rate() / ceiling.max(1e-9),
            ));
        }
    }
    s.push('\n');
    for b in &backends {
        let (commits, writes) = b.groups;
        s.push_str(&format!(
            "- {}: {}. {} submissions stored in {} groups ({:.1} per group); {} failed requests in all phases.\n",
            b.name,
            b.version,
            writes,
            commits,
            writes as f64 / commits.max(1) as f64,
            b.ceiling.errors + b.submissions.errors + b.tracking.errors,
        ));
    }
    s.push_str(&format!(
        "\n### The workflow engine: five-step lifecycles, persisted\n\n\
         One lifecycle files a dossier at the desk, then receives it, forwards it twice \
         (specialist, department head), decides it (the leader) and returns it: five actions, each \
         its own durable transaction with its event, audit entry and due times, by {} concurrent \
         officials' sessions in process. It is run twice: the leader approves, which makes the \
         result document (an A4 PDF), signs it with the agency's key (CMS, RSA-2048) and stores \
         both files; then the leader refuses with a reason, which makes no document, so that the \
         engine's own cost shows apart from the document's. SpiffWorkflow runs the same five user \
         tasks in a row (`bench/spiff/dossier.bpmn`, no document), saving the serialized workflow \
         to SQLite (WAL, `synchronous=FULL`) after the start and after every task, in one process \
         per core.\n\n\
         | engine | decision | lifecycles per second | p50 | p99 |\n| --- | --- | ---: | ---: | ---: |\n",
        backends.first().map(|b| b.lifecycle_clients).unwrap_or(0)
    ));
    for b in &backends {
        for l in &b.lifecycles {
            s.push_str(&format!(
                "| motcua on {} | {} | {:.0} | {} | {} |\n",
                b.name,
                l.decision.what(),
                l.phase.rate(),
                fmt_duration(l.phase.p50),
                fmt_duration(l.phase.p99)
            ));
        }
    }
    if let Some(sp) = &spiff {
        s.push_str(&format!(
            "| SpiffWorkflow {} ({} processes), persisted | no document | {:.0} | | |\n\
             | SpiffWorkflow {} ({} processes), in memory only (not durable; for reference) | no document | {:.0} | | |\n\n",
            sp.version, sp.processes, sp.persisted, sp.version, sp.processes, sp.in_memory
        ));
        for b in &backends {
            for l in &b.lifecycles {
                s.push_str(&format!(
                    "- motcua on {}, {}, against SpiffWorkflow persisted: **{:.1}×**; against SpiffWorkflow in memory: {:.1}×.\n",
                    b.name,
                    l.decision.what(),
                    l.phase.rate() / sp.persisted.max(1e-9),
                    l.phase.rate() / sp.in_memory.max(1e-9),
                ));
            }
        }
    } else {
        s.push_str("\nSpiffWorkflow was not run (no `--python`).\n\n");
    }
    s.push_str(&format!(
        "- The result document alone, on one thread: rendering the one-page result sheet takes {} \
         ({} bytes of PDF) and signing it {}, so one core makes {:.0} signed results a second and \
         the {cores} cores at most {:.0}, with nothing else to do.\n",
        fmt_duration(doc.render),
        doc.pdf_bytes,
        fmt_duration(doc.sign),
        doc.per_core(),
        doc.per_core() * cores as f64,
    ));
    if let Some(sp) = &spiff {
        s.push_str(&format!(
            "- Ten times SpiffWorkflow persisted would be {:.0} lifecycles a second.\n",
            10.0 * sp.persisted
        ));
    }
    for b in &backends {
        for l in &b.lifecycles {
            let (commits, writes) = l.groups;
            let (batches, actions) = l.actions;
            s.push_str(&format!(
                "- motcua on {}, {}: {} actions in {} batches ({:.1} per batch); {} writers (batches of actions, groups of new dossiers, the rest) in {} commits ({:.1} per commit); {} failed lifecycles.\n",
                b.name,
                l.decision.what(),
                actions,
                batches,
                actions as f64 / batches.max(1) as f64,
                writes,
                commits,
                writes as f64 / commits.max(1) as f64,
                l.phase.errors,
            ));
        }
    }
    s.push_str(
        "\nThe shared transaction is held by one writer at a time, so the writers' turns and the \
         ends of groups (their events, notices, figures and audit entries written, the commit and \
         its flush) add up to how busy it was:\n\n\
         | engine | decision | turns | µs a turn | of which the savepoint | group ends | ms a group end | busy |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for b in &backends {
        for l in &b.lifecycles {
            let t = &l.timings;
            let busy = (t.held + t.closing).as_secs_f64() / l.phase.elapsed.as_secs_f64().max(1e-9);
            s.push_str(&format!(
                "| motcua on {} | {} | {} | {:.0} | {:.0} µs | {} | {:.2} | {:.0}% |\n",
                b.name,
                l.decision.what(),
                t.turns,
                t.held.as_secs_f64() * 1e6 / t.turns.max(1) as f64,
                t.savepoints.as_secs_f64() * 1e6 / t.turns.max(1) as f64,
                t.groups,
                t.closing.as_secs_f64() * 1e3 / t.groups.max(1) as f64,
                100.0 * busy,
            ));
        }
    }
    s.push_str(&format!("{END}\n"));
    if only.is_none() {
        crate::report::write_between(&args.out, &s, START, END)?;
    }
    Ok(s)
}
