//! Administrators' pages and the password reset through the outbox (handed over at the desk,
//! or delivered by SMTP), on SQLite and PostgreSQL.

use std::sync::{Arc, Mutex};

use identity::demo::PASSWORD;
use testkit::{Backend, Spawn, TestApp, both, hidden, location, spawn_app};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const NEW_PASSWORD: &str = "Sông Hồng chảy qua Hà Nội";

async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
}

async fn text(app: &TestApp, path: &str, cookie: &str) -> (u16, String) {
    let r = app
        .get_with(path, cookie)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// Asks for a reset link through the form; returns the page.
async fn ask_reset(app: &TestApp, login: &str) -> String {
    let (cookie, token) = app
        .form_csrf("/quen-mat-khau")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let r = post_form(
        app,
        "/quen-mat-khau",
        &cookie,
        &[("csrf", &token), ("login", login)],
    )
    .await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap_or_default()
}

/// Submits the reset form for a token.
async fn reset(app: &TestApp, token: &str, pw: &str, pw2: &str) -> (u16, String) {
    let (cookie, csrf) = app
        .form_csrf(&format!("/dat-lai-mat-khau?token={token}"))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let r = post_form(
        app,
        "/dat-lai-mat-khau",
        &cookie,
        &[
            ("csrf", &csrf),
            ("token", token),
            ("password", pw),
            ("password2", pw2),
        ],
    )
    .await;
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

fn token_in(text: &str) -> String {
    text.split("/dat-lai-mat-khau?token=")
        .nth(1)
        .map(|s| {
            s.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect()
        })
        .unwrap_or_default()
}

async fn a_reset_link_is_handed_over_at_the_desk(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let citizen = "001095012345";
    let old_session = app
        .session(citizen, PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    // Locked out by wrong passwords.
    for _ in 0..7 {
        let r = app
            .post_login(citizen, "not the password", "/")
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_ne!(r.status(), 303);
    }
    // Known and unknown logins get the same answer.
    let known = ask_reset(&app, citizen).await;
    let unknown = ask_reset(&app, "079999999999").await;
    assert_eq!(known, unknown);
    assert!(known.contains("data-testid=\"sent\""));

    // The demo citizen has no e-mail address: the message waits for an administrator.
    let admin = app
        .admin_session("quantri", PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let (status, page) = text(&app, "/quan-tri/thu-di", &admin).await;
    assert_eq!(status, 200);
    assert!(page.contains(citizen) && page.contains("desk"), "{page}");
    let token = token_in(&page);
    assert_eq!(token.len(), 43, "{page}");
    // Nobody else reads the outbox; the refusal is audited.
    let (status, _) = text(&app, "/quan-tri/thu-di", &old_session).await;
    assert_eq!(status, 403);
    let denials: i64 = kernel::on_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'identity.access.deny'"
    ).fetch_one(p).await)
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(denials, 1);

    // A made-up link is refused; the real one shows the form.
    assert_eq!(
        text(
            &app,
            &format!("/dat-lai-mat-khau?token={}", "A".repeat(43)),
            "x=y"
        )
        .await
        .0,
        404
    );
    let (status, form) = text(&app, &format!("/dat-lai-mat-khau?token={token}"), "x=y").await;
    assert_eq!(status, 200);
    assert_eq!(hidden(&form, "token"), token);
    // Bad input keeps the link usable.
    assert_eq!(reset(&app, &token, NEW_PASSWORD, "khác").await.0, 422);
    let (status, page) = reset(&app, &token, "1234567890", "1234567890").await;
    assert_eq!(status, 422);
    assert!(page.contains("name=\"token\""), "the form stays");
    // Done: every old session ends, the lock is lifted, the new password works.
    let (status, page) = reset(&app, &token, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-testid=\"done\""));
    assert_eq!(
        app.get_with("/api/v1/me", &old_session)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
            .status(),
        401
    );
    let r = app
        .post_login(citizen, PASSWORD, "/")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 401, "the old password no longer works");
    assert!(app.session(citizen, NEW_PASSWORD).await.is_ok());
    // A link works once.
    assert_eq!(reset(&app, &token, NEW_PASSWORD, NEW_PASSWORD).await.0, 422);
    // Handed over: marked so.
    let id = hidden(&text(&app, "/quan-tri/thu-di", &admin).await.1, "id");
    let (_, page) = text(&app, "/quan-tri/thu-di", &admin).await;
    let r = post_form(
        &app,
        "/quan-tri/thu-di/da-giao",
        &admin,
        &[("csrf", &hidden(&page, "csrf")), ("id", &id)],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, page) = text(&app, "/quan-tri/thu-di", &admin).await;
    assert!(!page.contains("name=\"id\""), "nothing left to hand over");
}

/// A minimal SMTP server that keeps what it is sent.
async fn fake_smtp() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 fake ESMTP\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(d) = data.as_mut() {
                        if line == "." {
                            if let Ok(mut g) = keep.lock() {
                                g.push(std::mem::take(d));
                            }
                            data = None;
                            let _ = w.write_all(b"250 queued\r\n").await;
                        } else {
                            d.push_str(&line);
                            d.push('\n');
                        }
                        continue;
                    }
                    let verb = line.split_whitespace().next().unwrap_or("").to_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-fake\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go on\r\n"
                        }
                        "QUIT" => {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    (format!("smtp://{addr}"), got)
}

async fn reset_mail_goes_out_by_smtp(b: Backend) {
    let (url, got) = fake_smtp().await;
    let app = spawn_app(
        b,
        Spawn {
            smtp_url: Some(url),
            ..Spawn::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let new = identity::NewAccount {
        kind: identity::AccountKind::Citizen,
        username: None,
        full_name: "Lê Thị Hoa".into(),
        cccd: kernel::ids::Cccd::parse("079301000123").ok(),
        tax_code: None,
        birth_date: chrono::NaiveDate::from_ymd_opt(2001, 3, 4),
        sex: Some(kernel::ids::Sex::Female),
        phone: None,
        email: Some("hoa@example.vn".into()),
        password: PASSWORD.into(),
        assurance: 1,
    };
    app.state
        .identity
        .create_account(&new, "test")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    ask_reset(&app, "079301000123").await;
    let mut mail = String::new();
    for _ in 0..100 {
        if let Some(m) = got.lock().ok().and_then(|g| g.first().cloned()) {
            mail = m;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(mail.contains("hoa@example.vn"), "{mail}");
    // The body may be quoted-printable or base64: read it through a decoder-free check on
    // the outbox, which records the delivery, and take the link from there.
    // The mailer records the delivery once the server has accepted the message, which may be
    // a moment after the server has it.
    let mut sent = Vec::new();
    for _ in 0..100 {
        sent = app
            .state
            .identity
            .outbox(10)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if sent.first().is_some_and(|m| m.sent_at.is_some()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].channel, "email");
    assert!(sent[0].sent_at.is_some(), "marked sent");
    let token = token_in(&sent[0].body);
    assert_eq!(reset(&app, &token, NEW_PASSWORD, NEW_PASSWORD).await.0, 200);
    assert!(app.session("079301000123", NEW_PASSWORD).await.is_ok());
}

async fn administrators_manage_roles_and_clients_from_pages(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    // An agency administrator grants a role in their own agency only.
    let agency_admin = app
        .admin_session("quantri.coquan", PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let (status, page) = text(&app, "/quan-tri/tai-khoan", &agency_admin).await;
    assert_eq!(status, 200);
    assert!(page.contains("tiepnhan"), "sees the agency's officials");
    assert!(!page.contains("001095012345"), "not the citizens");
    assert!(
        !page.contains("value=\"system_admin\""),
        "cannot hand out national roles"
    );
    let csrf = hidden(&page, "csrf");
    let r = post_form(
        &app,
        "/quan-tri/tai-khoan/vai-tro",
        &agency_admin,
        &[
            ("csrf", &csrf),
            ("login", "tiepnhan"),
            ("role", "specialist"),
            ("agency", identity::demo::AGENCY),
            ("op", "grant"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap_or_default()
            .contains("Đã giao vai trò Chuyên viên cho tiepnhan")
    );
    let r = post_form(
        &app,
        "/quan-tri/tai-khoan/vai-tro",
        &agency_admin,
        &[
            ("csrf", &csrf),
            ("login", "tiepnhan"),
            ("role", "specialist"),
            ("agency", "000.00.00.H57"),
            ("op", "grant"),
        ],
    )
    .await;
    assert_eq!(r.status(), 403, "another agency");
    let r = post_form(
        &app,
        "/quan-tri/tai-khoan/vai-tro",
        &agency_admin,
        &[
            ("csrf", &csrf),
            ("login", "tiepnhan"),
            ("role", "system_admin"),
            ("agency", ""),
            ("op", "grant"),
        ],
    )
    .await;
    assert_eq!(r.status(), 403, "a national role");
    let r = post_form(
        &app,
        "/quan-tri/tai-khoan/vai-tro",
        &agency_admin,
        &[
            ("csrf", "wrong"),
            ("login", "tiepnhan"),
            ("role", "specialist"),
            ("agency", identity::demo::AGENCY),
            ("op", "revoke"),
        ],
    )
    .await;
    assert_eq!(r.status(), 403, "CSRF");
    // Clients are the system administrator's.
    assert_eq!(text(&app, "/quan-tri/ung-dung", &agency_admin).await.0, 403);
    let sys = app
        .admin_session("quantri", PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let (status, page) = text(&app, "/quan-tri/ung-dung", &sys).await;
    assert_eq!(status, 200);
    let csrf = hidden(&page, "csrf");
    // A system administrator grants in any existing agency, not in one that does not exist.
    let (_, page) = text(&app, "/quan-tri/tai-khoan?q=tiep", &sys).await;
    assert!(
        page.contains("tiepnhan") && !page.contains("chuyenvien"),
        "filtered"
    );
    let r = post_form(
        &app,
        "/quan-tri/tai-khoan/vai-tro",
        &sys,
        &[
            ("csrf", &csrf),
            ("login", "tiepnhan"),
            ("role", "reception"),
            ("agency", "999.99.99.X99"),
            ("op", "grant"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap_or_default()
            .contains("Không có cơ quan mã 999.99.99.X99")
    );
    // Register a client: a plain-HTTP redirect to another host is refused, then fixed.
    let bad = post_form(
        &app,
        "/quan-tri/ung-dung",
        &sys,
        &[
            ("csrf", &csrf),
            ("name", "Cổng tỉnh"),
            ("kind", "confidential"),
            ("redirect_uris", "http://cong.tinh.vn/cb"),
            ("scope", "openid"),
            ("scope", "profile"),
        ],
    )
    .await;
    assert_eq!(bad.status(), 422);
    assert!(
        bad.text()
            .await
            .unwrap_or_default()
            .contains("Cần dùng HTTPS")
    );
    let ok = post_form(
        &app,
        "/quan-tri/ung-dung",
        &sys,
        &[
            ("csrf", &csrf),
            ("name", "Cổng tỉnh"),
            ("kind", "confidential"),
            (
                "redirect_uris",
                "https://cong.tinh.vn/cb\nhttps://cong.tinh.vn/cb2",
            ),
            ("scope", "openid"),
            ("scope", "profile"),
        ],
    )
    .await;
    assert_eq!(ok.status(), 200);
    let page = ok.text().await.unwrap_or_default();
    let client_id = page
        .split("data-testid=\"client-id\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_default()
        .to_string();
    assert!(page.contains("data-testid=\"client-secret\">mcs_"));
    let c = app
        .state
        .identity
        .client(&client_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("client {client_id} not stored"));
    assert_eq!(
        c.redirect_uris,
        vec!["https://cong.tinh.vn/cb", "https://cong.tinh.vn/cb2"]
    );
    assert_eq!(c.scopes, vec!["openid", "profile"]);
    // Turned off from the page.
    let r = post_form(
        &app,
        "/quan-tri/ung-dung/trang-thai",
        &sys,
        &[
            ("csrf", &csrf),
            ("client_id", &client_id),
            ("disabled", "true"),
        ],
    )
    .await;
    assert_eq!(location(&r), "/quan-tri/ung-dung");
    let c = app.state.identity.client(&client_id).await.ok().flatten();
    assert!(c.is_some_and(|c| c.disabled));
}

async fn a_business_names_the_citizens_who_act_for_it(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let business = app
        .session("0100109106", PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let citizen = app
        .session("001095012345", PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let (status, page) = text(&app, "/tai-khoan", &business).await;
    assert_eq!(status, 200);
    assert!(page.contains("Chưa có người đại diện"));
    let csrf = hidden(&page, "csrf");
    // A malformed number, then one nobody registered.
    let r = post_form(
        &app,
        "/tai-khoan/dai-dien",
        &business,
        &[("csrf", &csrf), ("cccd", "12345"), ("op", "add")],
    )
    .await;
    assert_eq!(r.status(), 422);
    let r = post_form(
        &app,
        "/tai-khoan/dai-dien",
        &business,
        &[("csrf", &csrf), ("cccd", "079301000123"), ("op", "add")],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap_or_default()
            .contains("Không có công dân có số định danh 079301000123")
    );
    let r = post_form(
        &app,
        "/tai-khoan/dai-dien",
        &business,
        &[("csrf", &csrf), ("cccd", "001095012345"), ("op", "add")],
    )
    .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap_or_default();
    assert!(page.contains("Nguyễn Văn An"), "listed");
    // The citizen sees it, on the page and in the API.
    let (_, page) = text(&app, "/tai-khoan", &citizen).await;
    assert!(page.contains("data-testid=\"represents\"") && page.contains("0100109106"));
    let me: serde_json::Value = app
        .get_with("/api/v1/me", &citizen)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(me["represents"], serde_json::json!(["0100109106"]));
    // A citizen cannot name representatives; the business removes one.
    let citizen_csrf = hidden(&text(&app, "/tai-khoan", &citizen).await.1, "csrf");
    let r = post_form(
        &app,
        "/tai-khoan/dai-dien",
        &citizen,
        &[
            ("csrf", &citizen_csrf),
            ("cccd", "001095012345"),
            ("op", "add"),
        ],
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = post_form(
        &app,
        "/tai-khoan/dai-dien",
        &business,
        &[("csrf", &csrf), ("cccd", "001095012345"), ("op", "remove")],
    )
    .await;
    assert_eq!(r.status(), 200);
    let me: serde_json::Value = app
        .get_with("/api/v1/me", &citizen)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .json()
        .await
        .unwrap_or_default();
    assert!(me.get("represents").is_none(), "{me}");
}

both!(
    a_business_names_the_citizens_who_act_for_it,
    a_reset_link_is_handed_over_at_the_desk,
    reset_mail_goes_out_by_smtp,
    administrators_manage_roles_and_clients_from_pages
);
