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
            pdf_worker: None,
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

    eprintln!("[bench] OpenID Connect code exchanges, in process and over HTTP, {secs} s each");
    let (in_process, over_http, clients) = code_exchanges(&state, secs).await?;
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
         | bearer-token checks in process, 1 client (hash, look-up, account and roles) | {bearer_rate:.0} |\n\
         | OpenID Connect code exchanges in process, 1 client | {in_process:.0} |\n\
         | the same through `POST /oidc/token` over HTTP, {clients} concurrent clients (secret in HTTP Basic) | {over_http:.0} |\n\n\
         - Password logins per core: **{one:.1}/s**, against Keycloak's published sizing of 15 per vCPU: \
         {ratio:.1}×. The cost is the hash, on purpose; a node with more cores checks more in parallel \
         (hashing runs on blocking threads).\n\
         - A code exchange checks the client secret, the code and its PKCE verifier, signs one RS256 ID \
         token (2048-bit key) and writes a token family, an access and a refresh token and an audit entry. \
         The codes are made beforehand through the same authorization the consent page uses; that time \
         is not counted.\n{END}\n",
        cmd = args.command,
        m = identity::password::M_COST_KIB,
        t = identity::password::T_COST,
        p = identity::password::P_COST,
        ratio = one / 15.0,
    );
    crate::report::write_between(&args.out, &section, START, END)?;
    Ok(section)
}

/// Code exchanges per second: in process, then through the token endpoint over HTTP with a
/// few concurrent clients. Codes are made beforehand and not timed.
async fn code_exchanges(state: &motcua::AppState, secs: u64) -> anyhow::Result<(f64, f64, usize)> {
    use std::collections::HashMap;
    let id = state.identity.clone();
    let (client, secret) = id
        .register_client(
            &identity::oidc::ClientSpec {
                name: "bench".into(),
                redirect_uris: vec!["https://rp.example/cb".into()],
                scopes: vec!["openid".into(), "profile".into()],
                confidential: true,
                ..Default::default()
            },
            "bench",
        )
        .await
        .map_err(|e| anyhow::anyhow!("client: {e}"))?;
    let secret = secret.unwrap_or_default();
    let session = id
        .login(
            "001095012345",
            identity::demo::PASSWORD,
            "127.0.0.1",
            "bench",
        )
        .await
        .map_err(|e| anyhow::anyhow!("login: {e}"))?;
    let session_hash = identity::token_hash(&session.token);
    let verifier = "bench-verifier-0123456789-0123456789-0123456789";
    let q: HashMap<String, String> = [
        ("response_type", "code"),
        ("client_id", client.client_id.as_str()),
        ("redirect_uri", "https://rp.example/cb"),
        ("scope", "openid profile"),
        ("code_challenge", identity::oidc::s256(verifier).as_str()),
        ("code_challenge_method", "S256"),
        ("nonce", "n"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let req = id
        .check_authorize(&q)
        .await
        .map_err(|e| anyhow::anyhow!("authorize: {e:?}"))?;
    let new_code = || async {
        let url = id
            .approve(
                &req,
                &session.principal.id,
                &session_hash,
                chrono::Utc::now(),
                false,
            )
            .await
            .map_err(|e| anyhow::anyhow!("approve: {e}"))?;
        url.split("code=")
            .nth(1)
            .and_then(|s| s.split('&').next())
            .map(str::to_string)
            .context("no code")
    };
    // In process.
    let mut spent = Duration::ZERO;
    let mut n = 0u64;
    while spent < Duration::from_secs(secs) && n < 1_000_000 {
        let code = new_code().await?;
        let form: HashMap<String, String> = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://rp.example/cb"),
            ("code_verifier", verifier),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let auth = identity::oidc::ClientAuth {
            client_id: Some(client.client_id.clone()),
            secret: Some(secret.clone()),
            basic: false,
        };
        let t = Instant::now();
        let r = id.token(&form, &auth).await;
        spent += t.elapsed();
        anyhow::ensure!(r.is_ok(), "exchange refused: {:?}", r.err());
        n += 1;
    }
    let in_process = n as f64 / spent.as_secs_f64();

    // Over HTTP, against the real router.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = motcua::routes::router(state.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    let clients = 4usize;
    let per = ((secs as f64) * in_process * 1.5 / clients as f64).ceil() as usize + 10;
    let mut batches = Vec::new();
    for _ in 0..clients {
        let mut codes = Vec::with_capacity(per);
        for _ in 0..per.min(20_000) {
            codes.push(new_code().await?);
        }
        batches.push(codes);
    }
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/oidc/token");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for codes in batches {
        let http = http.clone();
        let url = url.clone();
        let cid = client.client_id.clone();
        let secret = secret.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            for code in codes {
                if Instant::now() >= deadline {
                    break;
                }
                let r = http
                    .post(&url)
                    .basic_auth(&cid, Some(&secret))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", "https://rp.example/cb"),
                        ("code_verifier", verifier),
                    ])
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 200, "exchange over HTTP: {}", r.status());
                done += 1;
            }
            Ok::<u64, anyhow::Error>(done)
        }));
    }
    let mut total = 0u64;
    for t in tasks {
        total += t.await??;
    }
    let over_http = total as f64 / start.elapsed().as_secs_f64();
    server.abort();
    Ok((in_process, over_http, clients))
}
