//! Crash safety: the real binary is killed with SIGKILL ten times while officials file dossiers;
//! after each restart every dossier whose filing was acknowledged is there, and at the end the
//! audit chain verifies. On SQLite (WAL, synchronous=FULL) and PostgreSQL.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use testkit::{Backend, both};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_motcua");

fn command(data: &std::path::Path, db: &Option<String>) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data").arg(data);
    if let Some(url) = db {
        c.arg("--database").arg(url);
    }
    c.env("MOTCUA_LOG_FILTER", "warn")
        .env("MOTCUA_DEMO_HISTORY", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Starts `serve --demo` and waits until it answers.
async fn start(data: &std::path::Path, db: &Option<String>) -> (Child, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = command(data, db)
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not start at {base}");
}

/// A session of the demo desk official, and its CSRF token.
pub(crate) async fn desk_session(base: &str) -> (String, String) {
    try_desk_session(base)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// [`desk_session`], or why it could not be had (a node being restarted, say).
pub(crate) async fn try_desk_session(base: &str) -> Result<(String, String), String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let r = client
        .get(format!("{base}/dang-nhap"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let csrf_cookie = testkit::set_cookie(&r, "motcua_csrf").unwrap_or_default();
    let token = csrf_cookie
        .split_once('=')
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    let r = client
        .post(format!("{base}/dang-nhap"))
        .header("cookie", &csrf_cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("login", "tiepnhan"),
            ("password", identity::demo::PASSWORD),
            ("next", "/tai-khoan"),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let session = testkit::set_cookie(&r, "motcua_session").ok_or("no session")?;
    let page = client
        .get(format!("{base}/tai-khoan"))
        .header("cookie", &session)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    let csrf = testkit::hidden(&page, "csrf");
    if csrf.is_empty() {
        return Err("no CSRF token on the account page".into());
    }
    Ok((session, csrf))
}

async fn acknowledged_dossiers_survive_kill_9(b: Backend) {
    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = testkit::fresh_database(b)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let mut session = None;
    for round in 0..10u64 {
        let (mut child, base) = start(data.path(), &db).await;
        // Everything acknowledged before the last kill is still there.
        let client = reqwest::Client::new();
        let (cookie, csrf) = match &session {
            Some(s) => s,
            None => session.insert(desk_session(&base).await),
        }
        .clone();
        let codes: Vec<String> = acknowledged.lock().map(|g| g.clone()).unwrap_or_default();
        for code in &codes {
            let r = client
                .get(format!("{base}/api/v1/dossiers/{code}"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            assert_eq!(
                status, 200,
                "round {round}: acknowledged {code} is missing: {body}"
            );
        }
        // File from eight clients until the server dies.
        let mut tasks = Vec::new();
        for t in 0..8 {
            let (client, base, cookie, csrf, ack) = (
                client.clone(),
                base.clone(),
                cookie.clone(),
                csrf.clone(),
                acknowledged.clone(),
            );
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let body = json!({
                        "procedure": "2.001610", "agency": "000.00.02.H26",
                        "form": {
                            "ten_doanh_nghiep": format!("Công ty {round}-{t}-{i}"), "dia_chi_tru_so": "Hà Nội",
                            "von_dieu_le": 100, "nganh_nghe": "Thương mại", "loai_chu_so_huu": "Cá nhân",
                            "nguoi_dai_dien": "Nguyễn Văn An", "so_dinh_danh_nguoi_dai_dien": "001095012345",
                            "dien_thoai": "0912345678", "email": "an@example.vn"
                        },
                        "applicant": {"name": "Nguyễn Văn An", "phone": "0912345678"}
                    });
                    let Ok(r) = client
                        .post(format!("{base}/api/v1/dossiers"))
                        .header("cookie", &cookie)
                        .header("x-csrf-token", &csrf)
                        .json(&body)
                        .send()
                        .await
                    else {
                        break;
                    };
                    if r.status() != 201 {
                        let status = r.status();
                        let text = r.text().await.unwrap_or_default();
                        assert!(status.is_server_error() || text.is_empty(), "{status}: {text}");
                        break;
                    }
                    let Ok(v) = r.json::<serde_json::Value>().await else {
                        break;
                    };
                    if let (Some(code), Ok(mut g)) = (v["code"].as_str(), ack.lock()) {
                        g.push(code.to_string());
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(400 + 97 * round)).await;
        child.start_kill().unwrap_or_else(|e| panic!("{e}"));
        let _ = child.wait().await;
        for t in tasks {
            let _ = t.await;
        }
    }
    let codes = acknowledged.lock().map(|g| g.len()).unwrap_or(0);
    assert!(codes > 50, "only {codes} filings were acknowledged");
    // A last start finds them all; then the audit chain verifies.
    let (mut child, base) = start(data.path(), &db).await;
    let (cookie, _) = session.unwrap_or_default();
    let list: Vec<String> = acknowledged.lock().map(|g| g.clone()).unwrap_or_default();
    let client = reqwest::Client::new();
    for code in &list {
        let r = client
            .get(format!("{base}/api/v1/dossiers/{code}"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 200, "{code} is missing");
    }
    child.start_kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = child.wait().await;
    let out = command(data.path(), &db)
        .args(["audit", "verify"])
        .stdout(Stdio::piped())
        .output()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "audit verify failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

both!(acknowledged_dossiers_survive_kill_9);
