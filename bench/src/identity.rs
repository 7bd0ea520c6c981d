//! `identity`: how many password checks one core makes per second at the chosen Argon2id cost
//! (a login's price), how many whole logins per second the service completes in process (the
//! check, the session row and its audit entry, on SQLite), and how many bearer-token checks it
//! answers per second in process. Keycloak's published sizing (15 password logins per second per
//! vCPU) is the reference the issue names; it is quoted, not measured here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use kernel::clock::SystemClock;
use kernel::config::Config;
use motcua::BuildOptions;

pub const START: &str = "<!-- bench:identity:start -->";
pub const END: &str = "<!-- bench:identity:end -->";

pub struct Args {
    pub seconds: u64,
    pub out: PathBuf,
    pub command: String,
}

/// Runs `f` for `secs` seconds on `threads` threads; returns calls per second.
fn rate_threads(secs: u64, threads: usize, f: impl Fn() + Sync) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while Instant::now() < deadline && n < 10_000_000 {
                        f();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    total as f64 / start.elapsed().as_secs_f64()
}

pub async fn run(args: Args) -> anyhow::Result<String> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let secs = args.seconds.max(1);

    eprintln!("[bench] Argon2id password checks, 1 thread and {cores} threads, {secs} s each");
    let phc =
        identity::password::hash("một mật khẩu thử nghiệm").map_err(|e| anyhow::anyhow!(e))?;
    let check = || {
        let _ = identity::password::verify("một mật khẩu thử nghiệm", &phc);
    };
    let one = rate_threads(secs, 1, check);
    let all = rate_threads(secs, cores, check);

    eprintln!("[bench] whole logins and bearer checks in process on SQLite, {secs} s each");
    let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let state = motcua::app::open_state(
        config,
        &BuildOptions {
            demo: true,
            clock: Arc::new(SystemClock),
            index_in_memory: true,
        },
    )
    .await?;
    let id = state.identity.clone();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut logins = 0u64;
    while Instant::now() < deadline && logins < 1_000_000 {
        id.login("tiepnhan", identity::demo::PASSWORD, "127.0.0.1", "bench")
            .await
            .map_err(|e| anyhow::anyhow!("login: {e}"))?;
        logins += 1;
    }
    let login_rate = logins as f64 / start.elapsed().as_secs_f64();

    let token = id
        .issue_token("tiepnhan", &["profile".to_string()], 30, "bench", "bench")
        .await
        .map_err(|e| anyhow::anyhow!("token: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut checks = 0u64;
    while Instant::now() < deadline && checks < 10_000_000 {
        let p = id
            .bearer(&token)
            .await
            .map_err(|e| anyhow::anyhow!("bearer: {e}"))?;
        anyhow::ensure!(p.is_some(), "the bench token was refused");
        checks += 1;
    }
    let bearer_rate = checks as f64 / start.elapsed().as_secs_f64();
    state.db.close().await;

    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let cpu = crate::search::cpu_model();
    let section = format!(
        "{START}\n## Identity: logins and token checks\n\n\
         - Command: `{cmd}`\n- Date: {date}\n- Machine: {cores} cores, {cpu}; motcua on SQLite\n\
         - Argon2id cost: m = {m} KiB, t = {t}, p = {p} (OWASP's first recommendation)\n\n\
         | what | per second |\n| --- | ---: |\n\
         | Argon2id password checks, 1 thread (= per core) | {one:.1} |\n\
         | Argon2id password checks, {cores} threads | {all:.1} |\n\
         | whole logins in process, 1 client (check + session row + audit entry) | {login_rate:.1} |\n\
         | bearer-token checks in process, 1 client (hash, look-up, account and roles) | {bearer_rate:.0} |\n\n\
         - Password logins per core: **{one:.1}/s**, against Keycloak's published sizing of 15 per vCPU: \
         {ratio:.1}×. The cost is the hash, on purpose; a node with more cores checks more in parallel \
         (hashing runs on blocking threads).\n\
         - The OpenID Connect token endpoint is not built yet, so code exchanges are not measured.\n{END}\n",
        cmd = args.command,
        m = identity::password::M_COST_KIB,
        t = identity::password::T_COST,
        p = identity::password::P_COST,
        ratio = one / 15.0,
    );
    crate::report::write_between(&args.out, &section, START, END)?;
    Ok(section)
}
