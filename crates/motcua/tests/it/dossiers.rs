//! Dossiers over HTTP, on SQLite and PostgreSQL: filing online and at the desk, documents,
//! the desk's check, who may see what, bad input, and codes under concurrency.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use serde_json::{Value, json};
use testkit::{Backend, Spawn, TestApp, both, spawn_app};

/// Phường Hoàn Kiếm (Hà Nội) handles birth registration (1.001193) in the demo catalogue.
const AGENCY: &str = "000.00.51.H26";
const OTHER_AGENCY: &str = "000.00.51.H29";
const PROCEDURE: &str = "1.001193";
const DOCS: [&str; 3] = [
    "Tờ khai đăng ký khai sinh",
    "Giấy chứng sinh do cơ sở y tế cấp (hoặc văn bản của người làm chứng, giấy cam đoan về việc sinh)",
    "Văn bản ủy quyền có chứng thực, nếu người đi đăng ký không phải cha, mẹ, ông, bà hoặc người thân thích",
];
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn birth_form() -> Value {
    json!({
        "ho_ten_tre": "Nguyễn Minh Khôi",
        "ngay_sinh": "2026-02-20",
        "gioi_tinh": "Nam",
        "noi_sinh": "Bệnh viện Phụ sản Hà Nội",
        "dan_toc": "Kinh",
        "ho_ten_me": "Trần Thị Lan",
        "so_dinh_danh_nguoi_yeu_cau": "001095012345",
        "dien_thoai": "0912345678"
    })
}

/// A bearer token for a demo or test account, with the dossier scopes.
async fn token(app: &TestApp, login: &str) -> String {
    app.state
        .identity
        .issue_token(
            login,
            &[
                "dossiers:read".into(),
                "dossiers:write".into(),
                "dossiers:handle".into(),
                "profile".into(),
            ],
            30,
            "test",
            "test",
        )
        .await
        .unwrap_or_else(|e| panic!("token for {login}: {e}"))
}

async fn official(app: &TestApp, login: &str, agency: &str) -> String {
    official_as(app, login, agency, identity::Role::Reception).await
}

async fn official_as(app: &TestApp, login: &str, agency: &str, role: identity::Role) -> String {
    app.add_official(login, role, agency)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    token(app, login).await
}

async fn citizen(app: &TestApp, cccd: &str, born: (i32, u32, u32), female: bool) -> String {
    let new = identity::NewAccount {
        kind: identity::AccountKind::Citizen,
        username: None,
        full_name: "Phạm Thu Hà".into(),
        cccd: kernel::ids::Cccd::parse(cccd).ok(),
        tax_code: None,
        birth_date: chrono::NaiveDate::from_ymd_opt(born.0, born.1, born.2),
        sex: Some(if female {
            kernel::ids::Sex::Female
        } else {
            kernel::ids::Sex::Male
        }),
        phone: None,
        email: None,
        password: identity::demo::PASSWORD.into(),
        assurance: 2,
    };
    app.state
        .identity
        .create_account(&new, "test")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    token(app, cccd).await
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (u16, Value) {
    app.call(method, path, bearer, body).await
}

/// Files `n` dossiers at the desk, `at_once` at a time, the `i`th with the body `body(i)`;
/// their codes, in the order they were answered.
async fn file_many(
    app: &TestApp,
    desk: &str,
    n: usize,
    at_once: usize,
    body: impl Fn(usize) -> Value,
) -> Vec<String> {
    futures::stream::iter((0..n).map(body))
        .map(|b| async move {
            let (st, d) = send(app, "POST", "/api/v1/dossiers", desk, Some(b)).await;
            assert_eq!(st, 201, "{d}");
            d["code"].as_str().unwrap_or_default().to_string()
        })
        .buffer_unordered(at_once)
        .collect()
        .await
}

async fn upload(
    app: &TestApp,
    code: &str,
    bearer: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(&format!(
            "/api/v1/dossiers/{code}/documents?name={}&filename=scan.pdf",
            testkit::enc(name)
        )))
        .bearer_auth(bearer)
        .header("content-type", "application/pdf")
        .body(bytes)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn a_birth_registration_goes_from_draft_to_received(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let an = token(&app, "001095012345").await;
    let desk = official(&app, "tiepnhan.hk", AGENCY).await;
    let elsewhere = official(&app, "tiepnhan.hp", OTHER_AGENCY).await;
    let ha = citizen(&app, "079301000123", (2001, 3, 4), true).await;

    // A draft, with the form checked.
    let (st, d) = send(
        &app,
        "POST",
        "/api/v1/dossiers",
        &an,
        Some(json!({"procedure": PROCEDURE, "agency": AGENCY, "form": birth_form()})),
    )
    .await;
    assert_eq!(st, 201, "{d}");
    assert_eq!(d["status"], "draft");
    assert!(d["code"].is_null());
    let id = d["id"].as_str().unwrap_or_default().to_string();

    // Submitting before the documents are there lists what is missing.
    let (st, e) = send(
        &app,
        "POST",
        &format!("/api/v1/dossiers/{id}/actions/submit"),
        &an,
        None,
    )
    .await;
    assert_eq!(st, 422);
    assert_eq!(e["errors"].as_array().map(Vec::len), Some(3), "{e}");
    // Documents: the type comes from the bytes.
    let (st, e) = upload(&app, &id, &an, DOCS[0], b"MZ\x90\x00 not a pdf".to_vec()).await;
    assert_eq!(st, 422);
    assert!(
        e["detail_vi"].is_string() && e["errors"][0]["vi"].as_str().unwrap_or("").contains("PDF"),
        "{e}"
    );
    assert_eq!(upload(&app, &id, &an, DOCS[0], Vec::new()).await.0, 422);
    // Too large: refused with 413 before the body is read (the client may still be sending
    // when the answer comes and the connection closes), and nothing is kept.
    let big = vec![b'%'; 11 * 1024 * 1024];
    // Its own client: the connection it was cut off on must not serve the next request.
    let r = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/dossiers/{id}/documents?name=x")))
        .bearer_auth(&an)
        .body(big)
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }
    let kept: i64 = kernel::on_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM dossier_documents WHERE dossier_id = $1"
    ).bind(&id).fetch_one(p).await)
    .unwrap_or(-1);
    assert_eq!(kept, 0);
    for name in DOCS {
        let (st, doc) = upload(&app, &id, &an, name, PDF.to_vec()).await;
        assert_eq!(st, 201, "{doc}");
        assert_eq!(doc["media_type"], "application/pdf");
    }
    // Someone else cannot add to it, nor see it: not found, as if it did not exist.
    assert_eq!(upload(&app, &id, &ha, DOCS[0], PDF.to_vec()).await.0, 404);

    let (st, d) = send(
        &app,
        "POST",
        &format!("/api/v1/dossiers/{id}/actions/submit"),
        &an,
        None,
    )
    .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["status"], "submitted");
    assert_eq!(d["national_status"], 1);
    let code = d["code"].as_str().unwrap_or_default().to_string();
    assert_eq!(code, format!("{AGENCY}-260302-0001"));
    // Submitting again changes nothing.
    let (st, again) = send(
        &app,
        "POST",
        &format!("/api/v1/dossiers/{code}/actions/submit"),
        &an,
        None,
    )
    .await;
    assert_eq!((st, again["code"].as_str()), (200, Some(code.as_str())));

    // Who sees it.
    assert_eq!(
        send(&app, "GET", &format!("/api/v1/dossiers/{code}"), &ha, None)
            .await
            .0,
        404
    );
    assert_eq!(
        send(
            &app,
            "GET",
            &format!("/api/v1/dossiers/{code}"),
            &elsewhere,
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        send(
            &app,
            "POST",
            &format!("/api/v1/dossiers/{code}/actions/receive"),
            &elsewhere,
            None
        )
        .await
        .0,
        404
    );
    let (st, seen) = send(
        &app,
        "GET",
        &format!("/api/v1/dossiers/{code}"),
        &desk,
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(seen["documents"].as_array().map(Vec::len), Some(3));
    let reads: i64 = kernel::on_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'dossier.read'"
    ).fetch_one(p).await)
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        reads, 1,
        "the official's reading is audited, the applicant's own is not"
    );
    // The applicant cannot act for the desk.
    assert_eq!(
        send(
            &app,
            "POST",
            &format!("/api/v1/dossiers/{code}/actions/receive"),
            &an,
            None
        )
        .await
        .0,
        403
    );

    // The desk asks once for a supplement, listing what is missing.
    let path = format!("/api/v1/dossiers/{code}/actions/request_supplement");
    assert_eq!(
        send(&app, "POST", &path, &desk, Some(json!({"reasons": []})))
            .await
            .0,
        422
    );
    let (st, d) = send(
        &app,
        "POST",
        &path,
        &desk,
        Some(json!({"reasons": ["Giấy chứng sinh bản chụp không rõ"], "comment": "Chụp lại"})),
    )
    .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["status"], "supplement_requested");
    assert_eq!(d["reasons"][0], "Giấy chứng sinh bản chụp không rõ");
    assert_eq!(
        send(
            &app,
            "POST",
            &format!("/api/v1/dossiers/{code}/actions/receive"),
            &desk,
            None
        )
        .await
        .0,
        409
    );
    assert_eq!(upload(&app, &code, &an, DOCS[1], PDF.to_vec()).await.0, 201);
    let (st, d) = send(
        &app,
        "POST",
        &format!("/api/v1/dossiers/{code}/actions/supplement"),
        &an,
        None,
    )
    .await;
    assert_eq!((st, d["status"].as_str()), (200, Some("submitted")));
    let (st, e) = send(
        &app,
        "POST",
        &path,
        &desk,
        Some(json!({"reasons": ["Lần hai"]})),
    )
    .await;
    assert_eq!(st, 422, "only once: {e}");

    // Received at 09:00 on Monday 2 March 2026; birth registration is done the same day.
    let (st, d) = send(
        &app,
        "POST",
        &format!("/api/v1/dossiers/{code}/actions/receive"),
        &desk,
        None,
    )
    .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["status"], "received");
    assert_eq!(d["appointment_date"], "2026-03-02");
    let actions: Vec<&str> = d["events"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        actions,
        [
            "create",
            "submit",
            "request_supplement",
            "supplement",
            "receive"
        ]
    );

    // Downloads: the applicant's bytes come back unchanged.
    let doc_id = d["documents"][0]["id"].as_str().unwrap_or_default();
    let r = app
        .client
        .get(app.url(&format!("/api/v1/dossiers/{code}/documents/{doc_id}")))
        .bearer_auth(&an)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap_or_default().as_ref(), PDF);

    // Lists: one's own, and the agency's.
    // An's: this one, and the demo's two residence registrations at the ward police.
    let (_, mine) = send(&app, "GET", "/api/v1/dossiers", &an, None).await;
    let mine: Vec<&str> = mine
        .as_array()
        .map(|v| v.iter().filter_map(|d| d["code"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(mine.len(), 3, "{mine:?}");
    assert!(mine.contains(&code.as_str()));
    assert_eq!(
        mine.iter()
            .filter(|c| c.starts_with("000.01.01.G01-"))
            .count(),
        2
    );
    let (_, theirs) = send(&app, "GET", "/api/v1/dossiers?status=received", &desk, None).await;
    assert_eq!(theirs[0]["code"], code.as_str());
    let (_, none) = send(&app, "GET", "/api/v1/dossiers", &elsewhere, None).await;
    assert_eq!(none.as_array().map(Vec::len), Some(0));
    let (_, ha_list) = send(&app, "GET", "/api/v1/dossiers", &ha, None).await;
    assert_eq!(ha_list.as_array().map(Vec::len), Some(0));

    // Every step is in the audit chain, and the chain holds.
    let n = kernel::audit::verify(&app.state.db)
        .await
        .unwrap_or_else(|e| panic!("audit chain: {e}"));
    assert!(n > 10);
}

async fn bad_input_is_listed_and_nothing_is_stored(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let an = token(&app, "001095012345").await;
    let count = || async {
        kernel::on_db!(&app.state.db, p => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM dossiers").fetch_one(p).await)
            .unwrap_or(-1)
    };
    let before = count().await;
    let mut form = birth_form();
    form["ngay_sinh"] = json!("20/02/2026");
    form["gioi_tinh"] = json!("Khác");
    form["so_dinh_danh_nguoi_yeu_cau"] = json!("123");
    form["khong_co"] = json!("x");
    form["ho_ten_tre"] = json!("");
    let (st, e) = send(
        &app,
        "POST",
        "/api/v1/dossiers",
        &an,
        Some(json!({"procedure": PROCEDURE, "agency": AGENCY, "form": form})),
    )
    .await;
    assert_eq!(st, 422);
    let at: HashSet<&str> = e["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["at"].as_str()).collect())
        .unwrap_or_default();
    for f in [
        "form.ngay_sinh",
        "form.gioi_tinh",
        "form.so_dinh_danh_nguoi_yeu_cau",
        "form.khong_co",
        "form.ho_ten_tre",
    ] {
        assert!(at.contains(f), "{f} not listed: {e}");
    }
    assert!(e["errors"][0]["vi"].is_string() && e["errors"][0]["en"].is_string());
    let cases = [
        json!({"procedure": "9.999999", "form": {}}),
        json!({"procedure": PROCEDURE, "agency": "000.00.04.H26", "form": birth_form()}),
        json!({"procedure": PROCEDURE, "form": birth_form()}),
        json!({"procedure": PROCEDURE, "agency": AGENCY, "form": birth_form(), "extra": 1}),
        json!({"procedure": PROCEDURE, "agency": AGENCY, "form": birth_form(), "submit": true}),
        json!({"procedure": "2.000884", "agency": "000.00.52.H26", "form": {}}),
    ];
    for c in cases {
        let (st, e) = send(&app, "POST", "/api/v1/dossiers", &an, Some(c.clone())).await;
        assert_eq!(st, 422, "{c} → {e}");
        assert!(e["detail_vi"].is_string() && e["detail"].is_string(), "{e}");
    }
    let r = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .bearer_auth(&an)
        .header("content-type", "application/json")
        .body(vec![0xFF, 0xFE, b'{'])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(r.status().is_client_error());
    // Anonymous, or with a cookie but no CSRF header: refused.
    let r = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .json(&json!({"procedure": PROCEDURE, "agency": AGENCY, "form": birth_form()}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 401);
    let cookie = app
        .session("001095012345", identity::demo::PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let r = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .header("cookie", &cookie)
        .json(&json!({"procedure": PROCEDURE, "agency": AGENCY, "form": birth_form()}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 403);
    // A low assurance level is told so.
    let low = identity::NewAccount {
        kind: identity::AccountKind::Citizen,
        username: None,
        full_name: "Võ Văn Tám".into(),
        cccd: kernel::ids::Cccd::parse("079090000777").ok(),
        tax_code: None,
        birth_date: chrono::NaiveDate::from_ymd_opt(1990, 1, 1),
        sex: Some(kernel::ids::Sex::Male),
        phone: None,
        email: None,
        password: identity::demo::PASSWORD.into(),
        assurance: 1,
    };
    app.state
        .identity
        .create_account(&low, "test")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let low = token(&app, "079090000777").await;
    let (st, e) = send(
        &app,
        "POST",
        "/api/v1/dossiers",
        &low,
        Some(json!({"procedure": PROCEDURE, "agency": AGENCY, "form": birth_form()})),
    )
    .await;
    assert_eq!((st, e["code"].as_str()), (403, Some("assurance_too_low")));
    assert_eq!(count().await, before, "nothing was stored");

    // Idempotency: the same key gives the same dossier.
    let post = |key: &'static str| {
        app.client
            .post(app.url("/api/v1/dossiers"))
            .bearer_auth(&an)
            .header("idempotency-key", key)
            .json(&json!({"procedure": PROCEDURE, "agency": AGENCY, "form": birth_form()}))
            .send()
    };
    let first = post("k-1").await.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap_or_default();
    let second = post("k-1").await.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap_or_default();
    assert_eq!(first["id"], second["id"]);
    assert_eq!(count().await, before + 1);
}

async fn concurrent_submissions_get_unique_gap_free_codes(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let desk = official(&app, "tiepnhan.hk", AGENCY).await;
    let n = 1000;
    let codes = file_many(&app, &desk, n, 64, |i| {
        json!({
            "procedure": PROCEDURE, "agency": AGENCY, "form": birth_form(),
            "applicant": {"name": format!("Người nộp {i}"), "phone": "0912345678"}
        })
    })
    .await;
    let set: HashSet<&String> = codes.iter().collect();
    assert_eq!(set.len(), n, "unique");
    let mut numbers: Vec<u32> = codes
        .iter()
        .filter_map(|c| c.rsplit('-').next().and_then(|x| x.parse().ok()))
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=1000).collect::<Vec<u32>>(), "no gaps");
    // The answer to a submission is what reading the dossier back shows.
    let body = json!({
        "procedure": PROCEDURE, "agency": AGENCY, "form": birth_form(),
        "applicant": {"name": "Người nộp cuối", "phone": "0912345678", "email": "cuoi@example.vn"}
    });
    let (st, made) = send(&app, "POST", "/api/v1/dossiers", &desk, Some(body)).await;
    assert_eq!(st, 201, "{made}");
    let code = made["code"].as_str().unwrap_or_default();
    assert!(code.ends_with("-1001"), "{code}");
    let (st, read) = send(
        &app,
        "GET",
        &format!("/api/v1/dossiers/{code}"),
        &desk,
        None,
    )
    .await;
    assert_eq!(st, 200, "{read}");
    assert_eq!(made, read);
    // Stored in groups, the audit chain still holds every submission, in order.
    let entries = kernel::audit::verify(&app.state.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(entries >= 1000, "{entries} audit entries");
    assert!(
        codes
            .iter()
            .all(|c| c.starts_with(&format!("{AGENCY}-260302-")))
    );
}

async fn the_workflow_carries_a_dossier_to_its_return(b: Backend) {
    use identity::Role;
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    // Certificate of marital status (1.004873), three working days, at phường Cầu Giấy.
    let agency = "000.00.52.H26";
    let desk = official_as(&app, "tn.cg", agency, Role::Reception).await;
    let cv = official_as(&app, "cv.cg", agency, Role::Specialist).await;
    let tp = official_as(&app, "tp.cg", agency, Role::DepartmentHead).await;
    let ld = official_as(&app, "ld.cg", agency, Role::AgencyLeader).await;
    let form = json!({
        "ho_ten": "Lê Văn Nam", "so_dinh_danh": "001095012345", "ngay_sinh": "1995-05-05",
        "tinh_trang": "Chưa đăng ký kết hôn với ai", "muc_dich": "Đăng ký kết hôn", "dien_thoai": "0912345678"
    });
    let (st, d) = send(
        &app,
        "POST",
        "/api/v1/dossiers",
        &desk,
        Some(json!({
            "procedure": "1.004873", "agency": agency, "form": form,
            "applicant": {"name": "Lê Văn Nam", "cccd": "001095012345", "phone": "0912345678", "email": "nam@example.vn"}
        })),
    )
    .await;
    assert_eq!(st, 201, "{d}");
    let code = d["code"].as_str().unwrap_or_default().to_string();
    let act = |who: &str, action: &str, body: Value| {
        let path = format!("/api/v1/dossiers/{code}/actions/{action}");
        let who = who.to_string();
        let app = &app;
        async move { send(app, "POST", &path, &who, Some(body)).await }
    };
    // A body that is not JSON is refused (422) in both languages, and the dossier stays as it was.
    let r = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/dossiers/{code}/actions/receive")))
        .bearer_auth(&desk)
        .header("content-type", "application/json")
        .body("{\"comment\": ")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap_or_default();
    assert_eq!(e["code"], "invalid_input", "{e}");
    assert_eq!(e["errors"][0]["at"], "body", "{e}");
    assert!(
        e["errors"][0]["vi"]
            .as_str()
            .is_some_and(|t| t.contains("JSON"))
            && e["errors"][0]["en"]
                .as_str()
                .is_some_and(|t| t.contains("JSON")),
        "{e}"
    );
    let (_, d) = send(
        &app,
        "GET",
        &format!("/api/v1/dossiers/{code}"),
        &desk,
        None,
    )
    .await;
    assert_eq!(d["status"], "submitted");
    // Monday 2 March 09:00: received (an action with no body takes no input); due Thursday
    // 5 March; the specialist has 12 office hours.
    let (st, d) = send(
        &app,
        "POST",
        &format!("/api/v1/dossiers/{code}/actions/receive"),
        &desk,
        None,
    )
    .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["appointment_date"], "2026-03-05");
    assert_eq!(d["step"]["id"], "xu-ly");
    assert_eq!(d["step"]["role"], "specialist");
    assert_eq!(
        d["step_due_at"], "2026-03-03T08:00:00Z",
        "Tuesday 15:00 in Hà Nội"
    );
    // Only the step's role may act.
    assert_eq!(act(&tp, "forward", json!({})).await.0, 403);
    assert_eq!(act(&cv, "approve", json!({})).await.0, 409);
    let (st, d) = act(&cv, "forward", json!({"comment": "Đủ điều kiện"})).await;
    assert_eq!(
        (st, d["status"].as_str(), d["step"]["id"].as_str()),
        (200, Some("processing"), Some("duyet"))
    );
    // Sent back once, then forward again.
    let (st, d) = act(&tp, "send_back", json!({"comment": "Bổ sung ý kiến"})).await;
    assert_eq!((st, d["step"]["id"].as_str()), (200, Some("xu-ly")));
    assert_eq!(
        act(&cv, "forward", json!({"to": "ky"})).await.0,
        422,
        "not a next step"
    );
    assert_eq!(act(&cv, "forward", json!({})).await.0, 200);
    // Tuesday 09:00: the head asks the applicant for more; the clock stops until Wednesday 09:00.
    app.clock.advance(chrono::Duration::days(1));
    let (st, d) = act(
        &tp,
        "request_supplement",
        json!({"reasons": ["Bản sao giấy chứng nhận ly hôn"]}),
    )
    .await;
    assert_eq!(
        (st, d["status"].as_str()),
        (200, Some("supplement_requested"))
    );
    assert!(d["paused_at"].is_string());
    app.clock.advance(chrono::Duration::days(1));
    let (st, d) = act(&desk, "supplement", json!({"comment": "Đã nhận bản sao"})).await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["status"], "processing");
    assert_eq!(
        d["appointment_date"], "2026-03-06",
        "one working day paused moves the date by one"
    );
    assert!(d["paused_at"].is_null());
    let (st, d) = act(&tp, "forward", json!({})).await;
    assert_eq!((st, d["step"]["id"].as_str()), (200, Some("ky")));
    let (st, d) = act(&ld, "approve", json!({"comment": "Đồng ý"})).await;
    assert_eq!(
        (st, d["status"].as_str(), d["step"]["id"].as_str()),
        (200, Some("approved"), Some("tra"))
    );
    assert_eq!(
        act(&ld, "reject", json!({"reasons": ["x"]})).await.0,
        403,
        "the step is the desk's now"
    );
    assert_eq!(
        act(&desk, "return", json!({"method": "pigeon"})).await.0,
        422
    );
    let (st, d) = act(&desk, "return", json!({"method": "desk"})).await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["status"], "returned");
    assert_eq!(d["national_status"], 10);
    assert_eq!(
        d["outcome"], "early",
        "returned Wednesday 4 March, due Friday 6 March"
    );
    // The hand-overs, each with whether it was on time: the process control slip's data.
    let handovers: Vec<(String, bool)> = d["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["data"]["on_time"].is_boolean())
                .map(|e| {
                    (
                        e["action"].as_str().unwrap_or("").to_string(),
                        e["data"]["on_time"].as_bool().unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    // The head's step (4 office hours from Monday 09:00) was overdue before the pause.
    let expected: Vec<(String, bool)> = [
        ("forward", true),
        ("send_back", true),
        ("forward", true),
        ("forward", false),
        ("approve", true),
        ("return", true),
    ]
    .iter()
    .map(|(a, t)| (a.to_string(), *t))
    .collect();
    assert_eq!(handovers, expected);

    // The applicant heard of every change that concerns them, by e-mail through the outbox.
    let mail: Vec<String> = kernel::on_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT subject FROM outbox WHERE recipient = 'nam@example.vn' ORDER BY created_at, id"
    ).fetch_all(p).await)
    .unwrap_or_default();
    assert_eq!(mail.len(), 5, "{mail:?}");
    assert!(
        mail[0].contains(&code) && mail[0].contains("Đã nộp"),
        "{mail:?}"
    );
    assert!(mail[2].contains("Yêu cầu bổ sung"));
    assert!(mail[4].contains("Đã trả kết quả"));

    // Public tracking with the last four digits of the phone; nothing else opens it.
    let (st, t) = send(
        &app,
        "GET",
        &format!("/api/v1/tracking/{code}?digits=5678"),
        "x",
        None,
    )
    .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["status"], "returned");
    assert!(
        t.get("form").is_none() && t.get("documents").is_none(),
        "progress only: {t}"
    );
    let page = app
        .get(&format!("/tra-cuu-ho-so?ma={code}&so=5678"))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap_or_default()
            .contains("Đã trả kết quả")
    );
    let (st, e) = send(
        &app,
        "GET",
        "/api/v1/tracking/000.00.52.H26-260302-9999?digits=5678",
        "x",
        None,
    )
    .await;
    let (st2, e2) = send(
        &app,
        "GET",
        &format!("/api/v1/tracking/{code}?digits=1234"),
        "x",
        None,
    )
    .await;
    assert_eq!((st, st2), (404, 404));
    assert_eq!(
        e["code"], e2["code"],
        "unknown code and wrong digits look alike"
    );
    for _ in 0..4 {
        send(
            &app,
            "GET",
            &format!("/api/v1/tracking/{code}?digits=0000"),
            "x",
            None,
        )
        .await;
    }
    let (st, _) = send(
        &app,
        "GET",
        &format!("/api/v1/tracking/{code}?digits=5678"),
        "x",
        None,
    )
    .await;
    assert_eq!(st, 429, "guessing is stopped, even before the right digits");
    // An agency administrator changes the workflow; a broken one is refused.
    let admin = official_as(&app, "qt.cg", agency, Role::AgencyAdmin).await;
    let path = format!("/api/v1/workflows/{agency}/1.004873");
    let (st, mut w) = send(&app, "GET", &path, &admin, None).await;
    assert_eq!(st, 200);
    w["steps"][1]["next"] = json!([]);
    let (st, e) = send(&app, "PUT", &path, &admin, Some(w.clone())).await;
    assert_eq!(st, 422, "{e}");
    assert!(e.to_string().contains("No path reaches step ky"), "{e}");
    w["steps"][1]["next"] = json!(["ky"]);
    w["steps"][0]["hours"] = json!(4);
    assert_eq!(
        send(&app, "PUT", &path, &admin, Some(w.clone())).await.0,
        200
    );
    assert_eq!(
        send(&app, "PUT", &path, &cv, Some(w)).await.0,
        403,
        "not an administrator"
    );
    assert_eq!(
        send(
            &app,
            "GET",
            &format!("/api/v1/workflows/{OTHER_AGENCY}/1.004873"),
            &admin,
            None
        )
        .await
        .0,
        404
    );
}

async fn a_citizen_files_through_the_pages_and_the_desk_receives_it(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    official(&app, "tiepnhan.hk", AGENCY).await;
    let cookie = app
        .session("001095012345", identity::demo::PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    // The procedure page offers to file; the form is generated and prefilled from the account.
    let page = app
        .get(&format!("/thu-tuc/{PROCEDURE}"))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        page.text()
            .await
            .unwrap_or_default()
            .contains(&format!("/thu-tuc/{PROCEDURE}/nop"))
    );
    let r = app
        .get(&format!("/thu-tuc/{PROCEDURE}/nop"))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 303, "log in first");
    let r = app
        .get_with(&format!("/thu-tuc/{PROCEDURE}/nop"), &cookie)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap_or_default();
    assert!(
        html.contains("name=\"so_dinh_danh_nguoi_yeu_cau\" type=\"text\" value=\"001095012345\""),
        "prefilled"
    );
    assert!(html.contains("type=\"date\""));
    let csrf = testkit::hidden(&html, "csrf");
    let mut fields: Vec<(String, String)> = birth_form()
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    fields.push(("csrf".into(), csrf.clone()));
    fields.push(("agency".into(), AGENCY.into()));
    // A wrong date comes back with the message next to the field and the values kept.
    let mut wrong = fields.clone();
    for f in wrong.iter_mut() {
        if f.0 == "ngay_sinh" {
            f.1 = "20/02/2026".into();
        }
    }
    let r = app
        .client
        .post(app.url(&format!("/thu-tuc/{PROCEDURE}/nop")))
        .header("cookie", &cookie)
        .form(&wrong)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap_or_default();
    assert!(html.contains("data-testid=\"error-ngay_sinh\""), "{html}");
    assert!(html.contains("Nguyễn Minh Khôi"), "values kept");
    let r = app
        .client
        .post(app.url(&format!("/thu-tuc/{PROCEDURE}/nop")))
        .header("cookie", &cookie)
        .form(&fields)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 303);
    let to = testkit::location(&r);
    assert!(to.starts_with("/ho-so/"), "{to}");
    // Documents through the page's upload form (multipart), then submit.
    for name in DOCS {
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .text("name", name.to_string())
            .part(
                "file",
                reqwest::multipart::Part::bytes(PDF.to_vec()).file_name("to-khai.pdf"),
            );
        let r = app
            .client
            .post(app.url(&format!("{to}/tai-lieu")))
            .header("cookie", &cookie)
            .multipart(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(r.status(), 303);
    }
    let r = app
        .client
        .post(app.url(&format!("{to}/thao-tac")))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("action", "submit")])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 303);
    let code_page = testkit::location(&r);
    assert_eq!(code_page, format!("/ho-so/{AGENCY}-260302-0001"));
    let (_, html) = (
        0,
        app.get_with(&code_page, &cookie)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
            .text()
            .await
            .unwrap_or_default(),
    );
    assert!(html.contains("Đã nộp, chờ tiếp nhận"));
    assert_eq!(html.matches("/documents/").count(), 3);
    // "My dossiers".
    let list = app
        .get_with("/ho-so", &cookie)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(list.contains(&format!("{AGENCY}-260302-0001")));
    // The desk: its inbox lists it; it receives it from the page.
    let desk = app
        .session("tiepnhan.hk", identity::demo::PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let inbox = app
        .get_with("/ho-so", &desk)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(inbox.contains(&format!("{AGENCY}-260302-0001")));
    let html = app
        .get_with(&code_page, &desk)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(html.contains("data-action=\"receive\"") && html.contains("data-action=\"refuse\""));
    let desk_csrf = testkit::hidden(&html, "csrf");
    let r = app
        .client
        .post(app.url(&format!("{code_page}/thao-tac")))
        .header("cookie", &desk)
        .form(&[("csrf", desk_csrf.as_str()), ("action", "refuse")])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 422, "a refusal needs reasons");
    let r = app
        .client
        .post(app.url(&format!("{code_page}/thao-tac")))
        .header("cookie", &desk)
        .form(&[("csrf", desk_csrf.as_str()), ("action", "receive")])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 303);
    let html = app
        .get_with(&code_page, &desk)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(
        html.contains("Đã tiếp nhận") && html.contains("02/03/2026"),
        "received, due the same day"
    );
    // The applicant cannot act for the desk from the page either.
    let r = app
        .client
        .post(app.url(&format!("{code_page}/thao-tac")))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("action", "forward")])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 422);
}

async fn the_demo_has_dossiers_in_every_state(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let rows: Vec<(String, Option<String>)> = kernel::on_db!(&app.state.db, p => sqlx::query_as(
        "SELECT status, outcome FROM dossiers WHERE agency_code = '000.00.02.H26' ORDER BY status"
    ).fetch_all(p).await)
    .unwrap_or_default();
    let states: HashSet<&str> = rows.iter().map(|(s, _)| s.as_str()).collect();
    for s in [
        "draft",
        "submitted",
        "supplement_requested",
        "refused",
        "received",
        "processing",
        "approved",
        "returned",
    ] {
        assert!(states.contains(s), "no demo dossier is {s}: {rows:?}");
    }
    let handled: Vec<(String, String)> = kernel::on_db!(&app.state.db, p => sqlx::query_as(
        "SELECT handler_agency, step FROM dossiers WHERE agency_code = '000.00.02.H26' AND handler_agency IS NOT NULL"
    ).fetch_all(p).await)
    .unwrap_or_default();
    assert_eq!(
        handled,
        vec![("000.00.04.H26".to_string(), "xu-ly".to_string())],
        "one dossier is at the Department of Finance's first step"
    );
    let outcomes: HashSet<&str> = rows.iter().filter_map(|(_, o)| o.as_deref()).collect();
    assert!(
        outcomes.contains("early") && outcomes.contains("late"),
        "{outcomes:?}"
    );
    // The desk's inbox marks the overdue one; the demo business sees its own draft.
    let desk = app
        .session("tiepnhan", identity::demo::PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let inbox = app
        .get_with("/ho-so", &desk)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(
        inbox.contains("due-overdue"),
        "an overdue dossier is marked"
    );
    let business = app
        .session("0100109106", identity::demo::PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mine = app
        .get_with("/ho-so", &business)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(mine.contains("(bản nháp)"), "{mine}");
    // The desk finds a dossier by the applicant's name typed without diacritics, or by code.
    let found: serde_json::Value = app
        .get_with("/api/v1/dossiers?q=tran%20van%20hung", &desk)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .json()
        .await
        .unwrap_or_default();
    let names: Vec<&str> = found
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d["applicant_name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(names, ["Trần Văn Hùng"], "{found}");
    let code = found[0]["code"].as_str().unwrap_or_default().to_string();
    let tail = code.rsplit('-').next().unwrap_or_default().to_string();
    let by_code: serde_json::Value = app
        .get_with(
            &format!("/api/v1/dossiers?q={}", code.to_lowercase()),
            &desk,
        )
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(by_code.as_array().map(Vec::len), Some(1), "{tail}");
    let page = app
        .get_with("/ho-so?q=%25", &desk)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(
        !page.contains("due-ok") && !page.contains("due-overdue"),
        "a % matches nothing literally"
    );
    // The leader's list of what is overdue or due soon; the desk has none.
    let leader = app
        .session("lanhdao", identity::demo::PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let page = app
        .get_with("/ho-so", &leader)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(page.contains("data-testid=\"due-soon\""), "{page}");
    let due: serde_json::Value = app
        .get_with("/api/v1/due-dossiers", &leader)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .json()
        .await
        .unwrap_or_default();
    assert!(
        due.as_array()
            .is_some_and(|a| a.iter().any(|d| d["status"] == "processing")),
        "{due}"
    );
    let none: serde_json::Value = app
        .get_with("/api/v1/due-dossiers", &desk)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(none.as_array().map(Vec::len), Some(0));
    // A restart does not add them again.
    let before = rows.len();
    let (data, url) = app.stop().await.unwrap_or_else(|e| panic!("{e:#}"));
    let app = testkit::spawn_on(data, url, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let after: i64 = kernel::on_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM dossiers WHERE agency_code = '000.00.02.H26'"
    ).fetch_one(p).await)
    .unwrap_or(-1);
    assert_eq!(usize::try_from(after).unwrap_or(0), before);
    assert!(kernel::audit::verify(&app.state.db).await.is_ok());
}

async fn an_apology_moves_the_date_once_and_the_dossier_counts_late(b: Backend) {
    use identity::Role;
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let agency = "000.00.52.H26";
    let desk = official_as(&app, "tn.cg", agency, Role::Reception).await;
    let cv = official_as(&app, "cv.cg", agency, Role::Specialist).await;
    let tp = official_as(&app, "tp.cg", agency, Role::DepartmentHead).await;
    let ld = official_as(&app, "ld.cg", agency, Role::AgencyLeader).await;
    let file = || async {
        let (st, d) = send(&app, "POST", "/api/v1/dossiers", &desk, Some(json!({
            "procedure": "1.004873", "agency": agency,
            "form": {"ho_ten": "Lê Văn Nam", "so_dinh_danh": "001095012345", "ngay_sinh": "1995-05-05",
                     "tinh_trang": "Chưa đăng ký kết hôn với ai", "muc_dich": "Đăng ký kết hôn", "dien_thoai": "0912345678"},
            "applicant": {"name": "Lê Văn Nam", "phone": "0912345678"}
        }))).await;
        assert_eq!(st, 201, "{d}");
        let code = d["code"].as_str().unwrap_or_default().to_string();
        let (st, d) = send(
            &app,
            "POST",
            &format!("/api/v1/dossiers/{code}/actions/receive"),
            &desk,
            None,
        )
        .await;
        assert_eq!(
            (st, d["appointment_date"].as_str()),
            (200, Some("2026-03-05"))
        );
        code
    };
    let first = file().await;
    let late = file().await;
    let apologize = |code: &str, body: Value| {
        let path = format!("/api/v1/dossiers/{code}/actions/apologize");
        let cv = cv.clone();
        let app = &app;
        async move { send(app, "POST", &path, &cv, Some(body)).await }
    };
    let reasons = json!(["Chờ kết quả xác minh từ nơi cư trú trước đây"]);
    assert_eq!(
        apologize(&first, json!({"reasons": reasons})).await.0,
        422,
        "no date"
    );
    assert_eq!(
        apologize(
            &first,
            json!({"reasons": reasons, "new_date": "2026-03-04"})
        )
        .await
        .0,
        422,
        "earlier"
    );
    assert_eq!(
        apologize(
            &first,
            json!({"reasons": reasons, "new_date": "2026-03-07"})
        )
        .await
        .0,
        422,
        "a Saturday"
    );
    assert_eq!(
        apologize(&first, json!({"new_date": "2026-03-09"})).await.0,
        422,
        "no reason"
    );
    let (st, d) = apologize(
        &first,
        json!({"reasons": reasons, "new_date": "2026-03-09"}),
    )
    .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["appointment_date"], "2026-03-09");
    assert_eq!(d["extended_from"], "2026-03-05");
    assert_eq!(
        apologize(
            &first,
            json!({"reasons": reasons, "new_date": "2026-03-10"})
        )
        .await
        .0,
        422,
        "only once"
    );
    // On the appointment day itself it is too late to apologise.
    app.clock.advance(chrono::Duration::days(3));
    let (st, e) = apologize(&late, json!({"reasons": reasons, "new_date": "2026-03-09"})).await;
    assert_eq!(st, 422);
    assert!(e.to_string().contains("at least one working day"), "{e}");
    // That one is stopped by a notice instead, with its reason; nothing more can be done.
    let stop = format!("/api/v1/dossiers/{late}/actions/stop");
    assert_eq!(send(&app, "POST", &stop, &cv, Some(json!({}))).await.0, 422);
    let (st, d) = send(
        &app,
        "POST",
        &stop,
        &cv,
        Some(json!({"reasons": ["Người nộp đề nghị dừng"]})),
    )
    .await;
    assert_eq!(
        (st, d["status"].as_str(), d["national_status"].as_u64()),
        (200, Some("stopped"), Some(8))
    );
    assert_eq!(
        send(
            &app,
            "POST",
            &format!("/api/v1/dossiers/{late}/actions/forward"),
            &cv,
            Some(json!({}))
        )
        .await
        .0,
        409
    );
    // Finished before the new date, the first still counts as late.
    for (who, action) in [(&cv, "forward"), (&tp, "forward"), (&ld, "approve")] {
        assert_eq!(
            send(
                &app,
                "POST",
                &format!("/api/v1/dossiers/{first}/actions/{action}"),
                who,
                Some(json!({}))
            )
            .await
            .0,
            200
        );
    }
    let (st, d) = send(
        &app,
        "POST",
        &format!("/api/v1/dossiers/{first}/actions/return"),
        &desk,
        Some(json!({"method": "desk"})),
    )
    .await;
    assert_eq!((st, d["outcome"].as_str()), (200, Some("late")));
    // Only the applicant rates; a walk-in applicant has no account, and the desk cannot.
    let (st, _) = send(
        &app,
        "POST",
        &format!("/api/v1/dossiers/{first}/actions/rate"),
        &desk,
        Some(json!({"rating": "satisfied"})),
    )
    .await;
    assert_eq!(st, 403);
}

/// GETs a file with a bearer token: the status, the content type and the bytes.
async fn fetch(app: &TestApp, path: &str, bearer: &str) -> (u16, String, Vec<u8>) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, r.bytes().await.unwrap_or_default().to_vec())
}

/// Whether `openssl cms -verify` accepts `sig` over `content` with `cert` as the trust anchor.
fn openssl_verifies(dir: &std::path::Path, content: &[u8], sig: &[u8], cert: &[u8]) -> bool {
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{e}"));
        p
    };
    let (c, s, a) = (
        write("result.pdf", content),
        write("result.p7s", sig),
        write("agency.pem", cert),
    );
    let out = std::process::Command::new("openssl")
        .args([
            "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any",
        ])
        .arg("-in")
        .arg(&s)
        .arg("-content")
        .arg(&c)
        .arg("-CAfile")
        .arg(&a)
        .args(["-out", "/dev/null"])
        .output()
        .unwrap_or_else(|e| panic!("openssl: {e}"));
    out.status.success()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

async fn slips_print_and_the_leader_signs_the_result(b: Backend) {
    use identity::Role;
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let an = token(&app, "001095012345").await;
    let ha = citizen(&app, "079301000123", (2001, 3, 4), true).await;
    let desk = official_as(&app, "tn.hk", AGENCY, Role::Reception).await;
    let cv = official_as(&app, "cv.hk", AGENCY, Role::Specialist).await;
    let tp = official_as(&app, "tp.hk", AGENCY, Role::DepartmentHead).await;
    let ld = official_as(&app, "ld.hk", AGENCY, Role::AgencyLeader).await;
    let elsewhere = official(&app, "tiepnhan.hp", OTHER_AGENCY).await;
    let act = |who: &str, code: &str, action: &str, body: Value| {
        let path = format!("/api/v1/dossiers/{code}/actions/{action}");
        let who = who.to_string();
        let app = &app;
        async move { send(app, "POST", &path, &who, Some(body)).await }
    };
    let slip = |who: &str, code: &str, kind: &str| {
        let path = format!("/api/v1/dossiers/{code}/slips/{kind}");
        let who = who.to_string();
        let app = &app;
        async move { fetch(app, &path, &who).await }
    };

    // Filed online by the citizen, with its documents.
    let (st, d) = send(
        &app,
        "POST",
        "/api/v1/dossiers",
        &an,
        Some(json!({"procedure": PROCEDURE, "agency": AGENCY, "form": birth_form()})),
    )
    .await;
    assert_eq!(st, 201, "{d}");
    let id = d["id"].as_str().unwrap_or_default().to_string();
    for name in DOCS {
        assert_eq!(upload(&app, &id, &an, name, PDF.to_vec()).await.0, 201);
    }
    let (st, d) = act(&an, &id, "submit", json!({})).await;
    assert_eq!(st, 200, "{d}");
    let code = d["code"].as_str().unwrap_or_default().to_string();
    // Not received yet: no receipt, and no slip of a kind that does not exist.
    let (st, _, body) = slip(&an, &code, "receipt").await;
    assert_eq!(st, 404);
    let e: Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(e["code"], "not_issued", "{e}");
    assert!(
        e["detail_vi"].as_str().unwrap_or("").contains("không có") && e["detail"].is_string(),
        "bilingual: {e}"
    );
    assert_eq!(slip(&an, &code, "bogus").await.0, 404);

    // The desk asks for a supplement: its slip lists what is missing.
    let (st, _) = act(
        &desk,
        &code,
        "request_supplement",
        json!({"reasons": ["Giấy chứng sinh bản chụp không rõ"]}),
    )
    .await;
    assert_eq!(st, 200);
    let (st, ct, pdf) = slip(&an, &code, "supplement").await;
    assert_eq!((st, ct.as_str()), (200, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(
        contains(&pdf, code.as_bytes()),
        "the code is in the PDF's metadata"
    );
    assert_eq!(act(&an, &code, "supplement", json!({})).await.0, 200);
    let (st, d) = act(&desk, &code, "receive", json!({})).await;
    assert_eq!(st, 200, "{d}");

    // Received: the receipt and the control slip exist, for the applicant and the agency, and
    // for nobody else.
    for kind in ["receipt", "control", "supplement"] {
        for who in [&an, &desk, &cv] {
            let (st, ct, pdf) = slip(who, &code, kind).await;
            assert_eq!((st, ct.as_str()), (200, "application/pdf"), "{kind}");
            assert!(pdf.starts_with(b"%PDF-") && contains(&pdf, code.as_bytes()));
        }
        assert_eq!(slip(&ha, &code, kind).await.0, 404, "{kind}");
        assert_eq!(slip(&elsewhere, &code, kind).await.0, 404, "{kind}");
    }
    for kind in ["refusal", "apology", "stop"] {
        assert_eq!(slip(&an, &code, kind).await.0, 404, "{kind}");
    }
    // Not without logging in.
    let r = app
        .client
        .get(app.url(&format!("/api/v1/dossiers/{code}/slips/receipt")))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 401, "not without logging in");

    // Nothing signed yet: no result, no certificate.
    assert_eq!(
        fetch(&app, &format!("/api/v1/dossiers/{code}/result"), &desk)
            .await
            .0,
        404
    );
    let cert_path = format!("/api/v1/agencies/{AGENCY}/certificate");
    assert_eq!(
        app.get(&cert_path)
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0),
        404
    );

    // Through the workflow; the leader approves, which signs the result.
    for (who, action) in [(&cv, "forward"), (&tp, "forward"), (&ld, "approve")] {
        let (st, d) = act(who, &code, action, json!({"comment": "Đồng ý"})).await;
        assert_eq!(st, 200, "{action}: {d}");
    }
    let (_, d) = send(&app, "GET", &format!("/api/v1/dossiers/{code}"), &ld, None).await;
    assert_eq!(d["status"], "approved");
    assert!(d["result"]["pdf_sha256"].is_string(), "{d}");
    let approve = d["events"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["action"] == "approve"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        approve["data"]["result"]["pdf_sha256"],
        d["result"]["pdf_sha256"]
    );
    // The agency's officials have it at once; the applicant once it is returned.
    let (st, ct, pdf) = fetch(&app, &format!("/api/v1/dossiers/{code}/result"), &desk).await;
    assert_eq!((st, ct.as_str()), (200, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-") && contains(&pdf, code.as_bytes()));
    let (st, _, body) = fetch(&app, &format!("/api/v1/dossiers/{code}/result"), &an).await;
    assert_eq!(st, 404, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        fetch(&app, &format!("/api/v1/dossiers/{code}/result"), &ha)
            .await
            .0,
        404
    );
    let (st, d) = act(&desk, &code, "return", json!({"method": "online"})).await;
    assert_eq!((st, d["return_method"].as_str()), (200, Some("online")));
    let (st, _, pdf) = fetch(&app, &format!("/api/v1/dossiers/{code}/result"), &an).await;
    assert_eq!(st, 200);
    let (st, ct, sig) = fetch(
        &app,
        &format!("/api/v1/dossiers/{code}/result/signature"),
        &an,
    )
    .await;
    assert_eq!((st, ct.as_str()), (200, "application/pkcs7-signature"));
    let cert = app
        .get(&cert_path)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(cert.status(), 200, "public");
    let cert = cert.bytes().await.unwrap_or_default().to_vec();
    assert!(cert.starts_with(b"-----BEGIN CERTIFICATE-----"));

    // The signature holds with openssl, and a changed byte breaks it.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        openssl_verifies(dir.path(), &pdf, &sig, &cert),
        "openssl accepts it"
    );
    let mut tampered = pdf.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    assert!(
        !openssl_verifies(dir.path(), &tampered, &sig, &cert),
        "a changed byte fails"
    );

    // The applicant's downloads are in the history and the audit chain.
    let (_, d) = send(&app, "GET", &format!("/api/v1/dossiers/{code}"), &an, None).await;
    let downloads = d["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["action"] == "download_result")
                .count()
        })
        .unwrap_or(0);
    assert_eq!(downloads, 2);
    let audited: i64 = kernel::on_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('dossier.download_result', 'dossier.result.read', 'dossier.signing_key.create') \
         AND subject IN ($1, $2)"
    ).bind(format!("dossier/{id}")).bind(format!("agency/{AGENCY}")).fetch_one(p).await)
    .unwrap_or(-1);
    assert_eq!(audited, 4, "two downloads, the desk's reading, the key");

    // At the desk: refused, then a refusal slip and nothing else.
    let walk_in = |name: &str| {
        json!({"procedure": PROCEDURE, "agency": AGENCY, "form": birth_form(),
               "applicant": {"name": name, "phone": "0987654321"}})
    };
    let (st, d) = send(
        &app,
        "POST",
        "/api/v1/dossiers",
        &desk,
        Some(walk_in("Trần Văn Bình")),
    )
    .await;
    assert_eq!(st, 201, "{d}");
    let refused = d["code"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        act(
            &desk,
            &refused,
            "refuse",
            json!({"reasons": ["Không thuộc thẩm quyền"]})
        )
        .await
        .0,
        200
    );
    let (st, _, pdf) = slip(&desk, &refused, "refusal").await;
    assert!(st == 200 && contains(&pdf, refused.as_bytes()));
    for kind in ["receipt", "control", "supplement", "apology", "stop"] {
        assert_eq!(slip(&desk, &refused, kind).await.0, 404, "{kind}");
    }

    // Apologised for, then stopped: both slips. (Certificate of marital status at phường Cầu
    // Giấy: three working days, so an apology is still possible on the day of receipt.)
    let cg = "000.00.52.H26";
    let desk_cg = official_as(&app, "tn.cg", cg, Role::Reception).await;
    let cv_cg = official_as(&app, "cv.cg", cg, Role::Specialist).await;
    let (st, d) = send(&app, "POST", "/api/v1/dossiers", &desk_cg, Some(json!({
        "procedure": "1.004873", "agency": cg,
        "form": {"ho_ten": "Lê Văn Nam", "so_dinh_danh": "001095012345", "ngay_sinh": "1995-05-05",
                 "tinh_trang": "Chưa đăng ký kết hôn với ai", "muc_dich": "Đăng ký kết hôn", "dien_thoai": "0912345678"},
        "applicant": {"name": "Lê Văn Nam", "phone": "0912345678"}
    }))).await;
    assert_eq!(st, 201, "{d}");
    let slow = d["code"].as_str().unwrap_or_default().to_string();
    assert_eq!(act(&desk_cg, &slow, "receive", json!({})).await.0, 200);
    assert_eq!(slip(&cv_cg, &slow, "apology").await.0, 404);
    let (st, e) = act(
        &cv_cg,
        &slow,
        "apologize",
        json!({"reasons": ["Chờ kết quả xác minh"], "new_date": "2026-03-09"}),
    )
    .await;
    assert_eq!(st, 200, "{e}");
    let (st, _, pdf) = slip(&cv_cg, &slow, "apology").await;
    assert!(st == 200 && contains(&pdf, slow.as_bytes()));
    assert_eq!(
        slip(&desk, &slow, "apology").await.0,
        404,
        "another agency's official"
    );
    assert_eq!(slip(&cv_cg, &slow, "stop").await.0, 404);
    assert_eq!(
        act(
            &cv_cg,
            &slow,
            "stop",
            json!({"reasons": ["Người nộp đề nghị dừng"]})
        )
        .await
        .0,
        200
    );
    for kind in ["stop", "control", "receipt", "apology"] {
        let (st, _, pdf) = slip(&desk_cg, &slow, kind).await;
        assert!(st == 200 && contains(&pdf, slow.as_bytes()), "{kind}");
    }

    // Pages: the dossier page links the slips and the result; the page routes serve them with
    // the session.
    let cookie = app
        .session("001095012345", identity::demo::PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let page = app
        .get_with(&format!("/ho-so/{code}"), &cookie)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .text()
        .await
        .unwrap_or_default();
    for link in [
        format!("/ho-so/{code}/phieu/receipt"),
        format!("/ho-so/{code}/phieu/control"),
        format!("/ho-so/{code}/ket-qua"),
        format!("/ho-so/{code}/ket-qua.p7s"),
    ] {
        assert!(page.contains(&link), "{link}");
        let r = app
            .get_with(&link, &cookie)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(r.status(), 200, "{link}");
    }
    assert!(!page.contains("/phieu/refusal"));
    let r = app
        .get_with(&format!("/ho-so/{code}/phieu/refusal"), &cookie)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 404);
    let r = app
        .get(&format!("/ho-so/{code}/ket-qua"))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 303, "log in first");

    let n = kernel::audit::verify(&app.state.db)
        .await
        .unwrap_or_else(|e| panic!("audit chain: {e}"));
    assert!(n > 20);
}

async fn each_dossier_keeps_the_rules_it_was_received_under(b: Backend) {
    use chrono::{TimeZone, Utc};
    use identity::Role;
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let agency = "000.00.52.H26";
    let desk = official_as(&app, "tn.qd", agency, Role::Reception).await;
    let cv = official_as(&app, "cv.qd", agency, Role::Specialist).await;
    let file = |n: u32| {
        let app = &app;
        let desk = desk.clone();
        async move {
            let form = json!({
                "ho_ten": "Lê Văn Nam", "so_dinh_danh": "001095012345", "ngay_sinh": "1995-05-05",
                "tinh_trang": "Chưa đăng ký kết hôn với ai", "muc_dich": "Đăng ký kết hôn", "dien_thoai": "0912345678"
            });
            let (st, d) = send(
                app,
                "POST",
                "/api/v1/dossiers",
                &desk,
                Some(json!({
                    "procedure": "1.004873", "agency": agency, "form": form,
                    "applicant": {"name": format!("Lê Văn Nam {n}"), "phone": "0912345678"}
                })),
            )
            .await;
            assert_eq!(st, 201, "{d}");
            let code = d["code"].as_str().unwrap_or_default().to_string();
            let (st, d) = send(
                app,
                "POST",
                &format!("/api/v1/dossiers/{code}/actions/receive"),
                &desk,
                Some(json!({})),
            )
            .await;
            assert_eq!(st, 200, "{d}");
            (code, d)
        }
    };
    let stop = |code: String| {
        let app = &app;
        let cv = cv.clone();
        async move {
            send(
                app,
                "POST",
                &format!("/api/v1/dossiers/{code}/actions/stop"),
                &cv,
                Some(json!({"reasons": ["Người nộp đề nghị dừng"]})),
            )
            .await
        }
    };
    // Monday 30 June 2025, 09:00 in Hà Nội: the last day of Decree 61/2018.
    app.clock.set(
        Utc.with_ymd_and_hms(2025, 6, 30, 2, 0, 0)
            .single()
            .unwrap_or_default(),
    );
    let (old, d) = file(1).await;
    assert_eq!(d["rules"], "nd61-2018", "{d}");
    let (st, _, pdf) = fetch(
        &app,
        &format!("/api/v1/dossiers/{old}/slips/receipt"),
        &desk,
    )
    .await;
    assert_eq!(st, 200);
    assert!(contains(&pdf, b"nd61-2018"), "the receipt is the 2018 form");
    // Tuesday 1 July 2025: Decree 118/2025 and the forms of Circular 03/2025.
    app.clock.set(
        Utc.with_ymd_and_hms(2025, 7, 1, 2, 0, 0)
            .single()
            .unwrap_or_default(),
    );
    let (new, d) = file(2).await;
    assert_eq!(d["rules"], "nd118-2025", "{d}");
    let (st, _, pdf) = fetch(
        &app,
        &format!("/api/v1/dossiers/{new}/slips/receipt"),
        &desk,
    )
    .await;
    assert_eq!(st, 200);
    assert!(contains(&pdf, b"nd118-2025") && !contains(&pdf, b"nd61-2018"));
    // The old dossier is still judged by the old rules: they have no stop notice.
    let (st, e) = stop(old.clone()).await;
    assert_eq!(st, 422, "{e}");
    assert!(
        e["errors"].to_string().contains("61/2018") || e.to_string().contains("61/2018"),
        "names the rules: {e}"
    );
    let (_, d) = send(&app, "GET", &format!("/api/v1/dossiers/{old}"), &desk, None).await;
    assert_eq!(
        (d["status"].as_str(), d["rules"].as_str()),
        (Some("received"), Some("nd61-2018"))
    );
    // The new one may be stopped, and its notice is form 05 of 2025.
    let (st, d) = stop(new.clone()).await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["status"], "stopped");
    let (st, _, pdf) = fetch(&app, &format!("/api/v1/dossiers/{new}/slips/stop"), &desk).await;
    assert_eq!(st, 200);
    assert!(contains(&pdf, b"nd118-2025"));
}

async fn an_applicant_without_e_mail_is_told_by_text_message(b: Backend) {
    use axum::{Json, Router, http::HeaderMap, routing::post};
    // A gateway that takes every message and keeps it with the token it came with.
    let got: Arc<std::sync::Mutex<Vec<(String, Value)>>> = Arc::default();
    let keep = got.clone();
    let gateway = Router::new().route(
        "/send",
        post(move |h: HeaderMap, Json(v): Json<Value>| {
            let keep = keep.clone();
            async move {
                let auth = h
                    .get("authorization")
                    .and_then(|a| a.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                if let Ok(mut g) = keep.lock() {
                    g.push((auth, v));
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, gateway).await;
    });
    let app = spawn_app(
        b,
        Spawn {
            sms_url: Some(format!("http://{addr}/send")),
            ..Spawn::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let desk = official(&app, "tn.sms", AGENCY).await;
    let (st, d) = send(
        &app,
        "POST",
        "/api/v1/dossiers",
        &desk,
        Some(json!({
            "procedure": PROCEDURE, "agency": AGENCY, "form": birth_form(),
            "applicant": {"name": "Người nộp không có thư", "phone": "0987654321"}
        })),
    )
    .await;
    assert_eq!(st, 201, "{d}");
    let code = d["code"].as_str().unwrap_or_default().to_string();
    let (st, _) = send(
        &app,
        "POST",
        &format!("/api/v1/dossiers/{code}/actions/receive"),
        &desk,
        Some(json!({})),
    )
    .await;
    assert_eq!(st, 200);
    // Both changes reach the phone, through the gateway, with the token.
    let mut seen = Vec::new();
    for _ in 0..100 {
        // (The demo's applicants have phones too: only this one's messages count here.)
        seen = got
            .lock()
            .map(|g| {
                g.iter()
                    .filter(|(_, v)| v["to"] == "0987654321")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if seen.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    for (auth, v) in &seen {
        assert_eq!(auth, "Bearer test-sms-token");
        assert_eq!(v["to"], "0987654321");
        let text = v["text"].as_str().unwrap_or_default();
        assert!(
            text.contains(&code) && text.contains("tra-cuu-ho-so?ma="),
            "{text}"
        );
        assert!(text.is_ascii(), "no diacritics: {text}");
    }
    assert!(
        seen[1].1["text"]
            .as_str()
            .unwrap_or("")
            .contains("da tiep nhan"),
        "{seen:?}"
    );
    // The outbox shows them delivered (recorded once the gateway has answered).
    let mut sent = 0i64;
    for _ in 0..100 {
        sent = kernel::on_db!(&app.state.db, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE channel = 'sms' AND recipient = '0987654321' AND sent_at IS NOT NULL"
        ).fetch_one(p).await)
        .unwrap_or(0);
        if sent == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sent, 2);
}

/// Liên thông: the ward's specialist hands a dossier to the city's Department of Justice, whose
/// officials take it through their own steps and decide; the result comes back to the ward's
/// desk, which returns it. Officials of a third agency see nothing.
async fn a_transferred_dossier_comes_back_to_the_desk_that_received_it(b: Backend) {
    use identity::Role;
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let home = "000.00.52.H26";
    let sotp = "000.00.03.H26";
    let desk = official_as(&app, "tn.lt", home, Role::Reception).await;
    let cv = official_as(&app, "cv.lt", home, Role::Specialist).await;
    let their_desk = official_as(&app, "tn.stp", sotp, Role::Reception).await;
    let their_cv = official_as(&app, "cv.stp", sotp, Role::Specialist).await;
    let their_tp = official_as(&app, "tp.stp", sotp, Role::DepartmentHead).await;
    let their_ld = official_as(&app, "ld.stp", sotp, Role::AgencyLeader).await;
    let stranger = official_as(&app, "cv.hk", AGENCY, Role::Specialist).await;
    let form = json!({
        "ho_ten": "Lê Văn Nam", "so_dinh_danh": "001095012345", "ngay_sinh": "1995-05-05",
        "tinh_trang": "Chưa đăng ký kết hôn với ai", "muc_dich": "Đăng ký kết hôn", "dien_thoai": "0912345678"
    });
    let (st, d) = send(
        &app,
        "POST",
        "/api/v1/dossiers",
        &desk,
        Some(json!({
            "procedure": "1.004873", "agency": home, "form": form,
            "applicant": {"name": "Lê Văn Nam", "cccd": "001095012345", "phone": "0912345678"}
        })),
    )
    .await;
    assert_eq!(st, 201, "{d}");
    let code = d["code"].as_str().unwrap_or_default().to_string();
    let act = |who: &str, action: &str, body: Value| {
        let path = format!("/api/v1/dossiers/{code}/actions/{action}");
        let who = who.to_string();
        let app = &app;
        async move { send(app, "POST", &path, &who, Some(body)).await }
    };
    assert_eq!(act(&desk, "receive", json!({})).await.0, 200);
    assert_eq!(
        act(&desk, "transfer", json!({"agency": sotp, "comment": "x"}))
            .await
            .0,
        403,
        "only the step's role"
    );
    // Each wrong transfer is refused with a reason, and changes nothing.
    for (body, field) in [
        (json!({"comment": "Đề nghị xác minh"}), "agency"),
        (
            json!({"agency": "000.99.99.X00", "comment": "Đề nghị xác minh"}),
            "agency",
        ),
        (
            json!({"agency": home, "comment": "Đề nghị xác minh"}),
            "agency",
        ),
        (json!({"agency": sotp, "comment": "   "}), "comment"),
    ] {
        let (st, e) = act(&cv, "transfer", body.clone()).await;
        assert_eq!(st, 422, "{body} → {e}");
        assert_eq!(e["errors"][0]["at"], field, "{e}");
        assert!(
            e["errors"][0]["vi"].is_string() && e["errors"][0]["en"].is_string(),
            "{e}"
        );
    }
    let (st, d) = send(&app, "GET", &format!("/api/v1/dossiers/{code}"), &cv, None).await;
    assert_eq!((st, d["handler_agency"].clone()), (200, Value::Null));
    assert_eq!(d["step"]["id"], "xu-ly");

    // The third agency cannot see it, before or after.
    let path = format!("/api/v1/dossiers/{code}");
    assert_eq!(send(&app, "GET", &path, &their_cv, None).await.0, 404);
    let (st, d) = act(
        &cv,
        "transfer",
        json!({"agency": sotp, "comment": "Đề nghị Sở Tư pháp xác minh tình trạng hôn nhân"}),
    )
    .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["handler_agency"], sotp);
    assert_eq!(d["status"], "processing");
    assert_eq!(d["step"]["id"], "xu-ly");
    assert_eq!(d["step"]["role"], "specialist");
    let last = &d["events"][d["events"].as_array().map_or(0, |a| a.len()) - 1];
    assert_eq!(last["action"], "transfer");
    assert_eq!(last["data"]["from_agency"], home);
    assert_eq!(last["data"]["to_agency"], sotp);
    assert_eq!(send(&app, "GET", &path, &stranger, None).await.0, 404);
    // Public tracking names the step it is at, and the agency that will return it.
    let step_name = d["step"]["name"].as_str().unwrap_or_default().to_string();
    assert!(!step_name.is_empty());
    let (st, t) = send(
        &app,
        "GET",
        &format!("/api/v1/tracking/{code}?digits=5678"),
        "x",
        None,
    )
    .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(
        (
            t["status"].as_str(),
            t["step"].as_str(),
            t["agency_code"].as_str()
        ),
        (Some("processing"), Some(step_name.as_str()), Some(home))
    );
    // The ward's specialist may still read it but no longer act; the department's may.
    assert_eq!(send(&app, "GET", &path, &cv, None).await.0, 200);
    assert_eq!(act(&cv, "forward", json!({})).await.0, 403);
    let (st, list) = send(&app, "GET", "/api/v1/dossiers", &their_cv, None).await;
    assert_eq!(st, 200);
    assert!(
        list.as_array().is_some_and(|a| a
            .iter()
            .any(|l| l["code"] == code.as_str() && l["handler_agency"] == sotp)),
        "in the department's inbox: {list}"
    );
    assert_eq!(act(&their_cv, "forward", json!({})).await.0, 200);
    assert_eq!(act(&their_tp, "forward", json!({})).await.0, 200);
    let (st, d) = act(&their_ld, "approve", json!({"comment": "Đồng ý"})).await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["status"], "approved");
    assert_eq!(d["step"]["id"], "tra");
    assert_eq!(
        d["result"]["agency_code"], sotp,
        "signed by the deciding agency"
    );
    // The result goes back to the ward's desk.
    assert_eq!(
        act(&their_desk, "return", json!({"method": "desk"}))
            .await
            .0,
        403
    );
    let (st, d) = act(&desk, "return", json!({"method": "desk"})).await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["status"], "returned");
    // The signature verifies with the department's certificate.
    let (st, _, pdf) = fetch(&app, &format!("/api/v1/dossiers/{code}/result"), &desk).await;
    assert_eq!(st, 200);
    let (st, _, sig) = fetch(
        &app,
        &format!("/api/v1/dossiers/{code}/result/signature"),
        &desk,
    )
    .await;
    assert_eq!(st, 200);
    let (st, _, cert) = fetch(&app, &format!("/api/v1/agencies/{sotp}/certificate"), &desk).await;
    assert_eq!(st, 200);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    assert!(openssl_verifies(dir.path(), &pdf, &sig, &cert));
    let n = kernel::audit::verify(&app.state.db)
        .await
        .unwrap_or_else(|e| panic!("audit chain: {e}"));
    assert!(n > 8);
}

/// The console's bulk actions: each dossier answered on its own, the wrong ones refused with a
/// reason and left as they were.
async fn bulk_actions_take_each_dossier_on_its_own(b: Backend) {
    use identity::Role;
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let agency = "000.00.52.H26";
    let desk = official_as(&app, "tn.bulk", agency, Role::Reception).await;
    let cv = official_as(&app, "cv.bulk", agency, Role::Specialist).await;
    let tp = official_as(&app, "tp.bulk", agency, Role::DepartmentHead).await;
    let ld = official_as(&app, "ld.bulk", agency, Role::AgencyLeader).await;
    let outsider = official_as(&app, "tn.bulk.hk", AGENCY, Role::Reception).await;
    let mut codes = Vec::new();
    for i in 0..3 {
        let (st, d) = send(
            &app,
            "POST",
            "/api/v1/dossiers",
            &desk,
            Some(json!({
                "procedure": "1.004873", "agency": agency,
                "form": {
                    "ho_ten": "Lê Văn Nam", "so_dinh_danh": "001095012345", "ngay_sinh": "1995-05-05",
                    "tinh_trang": "Chưa đăng ký kết hôn với ai", "muc_dich": "Đăng ký kết hôn", "dien_thoai": "0912345678"
                },
                "applicant": {"name": format!("Người nộp {i}"), "cccd": "001095012345", "phone": "0912345678"}
            })),
        )
        .await;
        assert_eq!(st, 201, "{d}");
        codes.push(d["code"].as_str().unwrap_or_default().to_string());
    }
    let bulk = |who: &str, action: &str, body: Value| {
        let path = format!("/api/v1/dossier-actions/{action}");
        let who = who.to_string();
        let app = &app;
        async move { send(app, "POST", &path, &who, Some(body)).await }
    };
    let status_of = |code: &str| {
        let path = format!("/api/v1/dossiers/{code}");
        let desk = desk.clone();
        let app = &app;
        async move { send(app, "GET", &path, &desk, None).await.1["status"].clone() }
    };
    // Wrong requests: nothing is done.
    let too_many: Vec<String> = (0..101).map(|i| format!("X-{i}")).collect();
    for (action, body, field) in [
        ("receive", json!({"dossiers": []}), "dossiers"),
        ("receive", json!({"dossiers": ["  "]}), "dossiers"),
        ("receive", json!({"dossiers": too_many}), "dossiers"),
        ("refuse", json!({"dossiers": [codes[0]]}), "action"),
        ("fly", json!({"dossiers": [codes[0]]}), "action"),
    ] {
        let (st, e) = bulk(&desk, action, body).await;
        assert_eq!(st, 422, "{action}: {e}");
        assert_eq!(e["errors"][0]["at"], field, "{e}");
        assert!(e["detail_vi"].is_string() && e["detail"].is_string());
    }
    let (st, e) = bulk(
        &desk,
        "receive",
        json!({"dossiers": [codes[0]], "extra": 1}),
    )
    .await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(status_of(&codes[0]).await, "submitted");
    // Another agency's desk: each dossier is simply not found, and stays as it was.
    let (st, r) = bulk(&outsider, "receive", json!({"dossiers": codes})).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (r["done"].as_u64(), r["failed"].as_u64()),
        (Some(0), Some(3))
    );
    assert!(
        r["results"]
            .as_array()
            .is_some_and(|a| a.iter().all(|i| i["status"] == 404))
    );
    for c in &codes {
        assert_eq!(status_of(c).await, "submitted");
    }
    // Two received; a repeat is dropped; an unknown code is not found.
    let (st, r) = bulk(
        &desk,
        "receive",
        json!({"dossiers": [codes[0], codes[1], codes[0], "000.00.52.H26-990101-0001"]}),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    let got: Vec<(String, u64, Value)> = r["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    (
                        i["dossier"].as_str().unwrap_or("").to_string(),
                        i["status"].as_u64().unwrap_or(0),
                        i["dossier_status"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        got,
        vec![
            (codes[0].clone(), 200, json!("received")),
            (codes[1].clone(), 200, json!("received")),
            ("000.00.52.H26-990101-0001".to_string(), 404, Value::Null),
        ]
    );
    assert_eq!(r["results"][2]["problem"]["code"], "dossier_not_found");
    // Again: the received ones are in the wrong state now, the third is received.
    let (_, r) = bulk(&desk, "receive", json!({"dossiers": codes})).await;
    let statuses: Vec<u64> = r["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["status"].as_u64().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(statuses, vec![409, 409, 200]);
    // The desk may not forward for the specialist.
    let (_, r) = bulk(&desk, "forward", json!({"dossiers": codes})).await;
    assert_eq!(r["failed"], 3);
    assert!(
        r["results"]
            .as_array()
            .is_some_and(|a| a.iter().all(|i| i["status"] == 403))
    );
    // Through the steps, and the leader signs all three at once.
    for who in [&cv, &tp] {
        let (_, r) = bulk(who, "forward", json!({"dossiers": codes})).await;
        assert_eq!(r["done"], 3, "{r}");
    }
    let (_, r) = bulk(
        &ld,
        "approve",
        json!({"dossiers": codes, "input": {"comment": "Đồng ý"}}),
    )
    .await;
    assert_eq!(r["done"], 3, "{r}");
    let (_, r) = bulk(&desk, "return", json!({"dossiers": codes})).await;
    assert_eq!(r["failed"], 3, "a return needs its method: {r}");
    assert_eq!(r["results"][0]["status"], 422);
    let (_, r) = bulk(
        &desk,
        "return",
        json!({"dossiers": codes, "input": {"method": "desk"}}),
    )
    .await;
    assert_eq!(r["done"], 3, "{r}");
    for c in &codes {
        let (_, d) = send(&app, "GET", &format!("/api/v1/dossiers/{c}"), &desk, None).await;
        assert_eq!(d["status"], "returned");
        assert!(d["result"]["pdf_sha256"].is_string(), "{d}");
    }
    let n = kernel::audit::verify(&app.state.db)
        .await
        .unwrap_or_else(|e| panic!("audit chain: {e}"));
    assert!(n > 15);
}

/// Work of a kind the dossiers' group does not know fails the group: the writes beside it
/// are not stored, and nothing is silently dropped.
async fn unknown_group_work_fails_the_group(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let count = || async {
        kernel::on_db!(&app.state.db, p => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_log").fetch_one(p).await)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let before = count().await;
    let entry = kernel::audit::Entry {
        actor: "test",
        action: "test.group_work",
        subject: "test/1",
        data: json!({}),
    };
    let committer = app.state.dossiers.committer();
    let mut w = committer.begin().await.unwrap_or_else(|e| panic!("{e}"));
    w.audit_later(app.clock_now(), &entry);
    w.later(Box::new(7_u8));
    assert!(w.commit().await.is_err(), "an unknown item fails the group");
    assert_eq!(count().await, before, "nothing of the group is stored");
    // The committer goes on: the next group stores its writes.
    let mut w = committer.begin().await.unwrap_or_else(|e| panic!("{e}"));
    w.audit_later(app.clock_now(), &entry);
    w.commit().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(count().await, before + 1);
}

both!(
    concurrent_actions_are_stored_together_and_one_wins_per_dossier,
    unknown_group_work_fails_the_group,
    bulk_actions_take_each_dossier_on_its_own,
    a_transferred_dossier_comes_back_to_the_desk_that_received_it,
    an_applicant_without_e_mail_is_told_by_text_message,
    each_dossier_keeps_the_rules_it_was_received_under,
    slips_print_and_the_leader_signs_the_result,
    an_apology_moves_the_date_once_and_the_dossier_counts_late,
    the_demo_has_dossiers_in_every_state,
    a_citizen_files_through_the_pages_and_the_desk_receives_it,
    the_workflow_carries_a_dossier_to_its_return,
    a_birth_registration_goes_from_draft_to_received,
    bad_input_is_listed_and_nothing_is_stored,
    concurrent_submissions_get_unique_gap_free_codes
);

/// Actions that arrive together are stored together, each with its own check: of three desks
/// receiving the same dossier at once exactly one succeeds, and actions of different kinds
/// stored in one statement each change only what they change.
async fn concurrent_actions_are_stored_together_and_one_wins_per_dossier(b: Backend) {
    use identity::Role;
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let agency = "000.00.52.H26";
    let desk = official_as(&app, "tn.cg", agency, Role::Reception).await;
    let cv = official_as(&app, "cv.cg", agency, Role::Specialist).await;
    let n = 48;
    let codes = file_many(&app, &desk, n, 16, |i| {
        json!({
            "procedure": "1.004873", "agency": agency,
            "form": {
                "ho_ten": "Lê Văn Nam", "so_dinh_danh": "001095012345", "ngay_sinh": "1995-05-05",
                "tinh_trang": "Chưa đăng ký kết hôn với ai", "muc_dich": "Đăng ký kết hôn", "dien_thoai": "0912345678"
            },
            "applicant": {"name": format!("Lê Văn Nam {i}"), "phone": "0912345678"}
        })
    })
    .await;
    let act = |who: &str, code: &str, action: &str, body: Value| {
        let path = format!("/api/v1/dossiers/{code}/actions/{action}");
        let (app, who, code) = (&app, who.to_string(), code.to_string());
        async move {
            let (st, d) = send(app, "POST", &path, &who, Some(body)).await;
            (code, st, d)
        }
    };
    let (batches0, stored0) = app.state.dossiers.action_counts();
    // Three receipts of every dossier, all at once.
    let tries: Vec<_> = codes
        .iter()
        .flat_map(|c| (0..3).map(move |_| c.clone()))
        .collect();
    let answers: Vec<(String, u16, Value)> = futures::stream::iter(tries)
        .map(|c| act(&desk, &c, "receive", json!({})))
        .buffer_unordered(3 * n)
        .collect()
        .await;
    for c in &codes {
        let mine: Vec<&(String, u16, Value)> = answers.iter().filter(|a| &a.0 == c).collect();
        let ok = mine.iter().filter(|a| a.1 == 200).count();
        let lost = mine.iter().filter(|a| a.1 == 409).count();
        assert_eq!((ok, lost), (1, 2), "{c}: {mine:?}");
        let won = mine.iter().find(|a| a.1 == 200).map(|a| &a.2);
        assert_eq!(won.map(|d| d["status"].clone()), Some(json!("received")));
    }
    let (batches1, stored1) = app.state.dossiers.action_counts();
    assert!(stored1 - stored0 >= n as u64, "{stored0} → {stored1}");
    assert!(
        batches1 - batches0 < stored1 - stored0,
        "actions arriving together share batches: {} batches for {} actions",
        batches1 - batches0,
        stored1 - stored0
    );
    // One receipt event each, whatever lost.
    let receipts: i64 = kernel::on_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id WHERE e.action = 'receive' AND d.agency_code = $1"
    ).bind(agency).fetch_one(p).await)
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(receipts, n as i64);
    // Forwards and supplement requests at once: each dossier changes only as its own action says.
    let answers: Vec<(String, u16, Value)> = futures::stream::iter(codes.iter().enumerate())
        .map(|(i, c)| {
            if i % 2 == 0 {
                act(&cv, c, "forward", json!({}))
            } else {
                act(
                    &cv,
                    c,
                    "request_supplement",
                    json!({"reasons": [format!("Bản sao số {i}")]}),
                )
            }
        })
        .buffer_unordered(n)
        .collect()
        .await;
    for (c, st, answer) in &answers {
        assert_eq!(*st, 200, "{c}: {answer}");
        let (_, d) = send(&app, "GET", &format!("/api/v1/dossiers/{c}"), &cv, None).await;
        assert_eq!(&d, answer, "the answer is the row as stored");
        let i = codes.iter().position(|x| x == c).unwrap_or(usize::MAX);
        if i % 2 == 0 {
            assert_eq!(d["status"], "processing", "{d}");
            assert_eq!(d["step"]["id"], "duyet", "{d}");
            assert!(d["paused_at"].is_null(), "{d}");
            assert_eq!(d["reasons"], json!([]), "{d}");
        } else {
            assert_eq!(d["status"], "supplement_requested", "{d}");
            assert_eq!(d["step"]["id"], "xu-ly", "{d}");
            assert!(d["paused_at"].is_string(), "{d}");
            assert_eq!(d["reasons"], json!([format!("Bản sao số {i}")]), "{d}");
            assert!(d["appointment_date"].is_string(), "{d}");
        }
    }
    let entries = kernel::audit::verify(&app.state.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(entries >= 3 * n as i64, "{entries} audit entries");
}
