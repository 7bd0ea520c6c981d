//! Payments over HTTP, on SQLite and PostgreSQL: the sandbox gateway's redirect, return and
//! IPN; forged, replayed and wrong messages; a late success after a timeout; two tabs; the
//! desk's cash; exemptions; receipts without gaps; refunds and reconciliation.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use testkit::{Backend, Spawn, TestApp, both, spawn_app};

use payment::Provider;
use payment::gateway::Outcome;

/// Permanent residence registration (1.004222): paid when filed; 20,000 đ at the desk,
/// 10,000 đ online, nothing for beneficiaries (the third line). The demo has one paid online
/// at this agency (its receipt is number 1), and one waiting.
const PROCEDURE: &str = "1.004222";
const AGENCY: &str = "000.01.01.G01";
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn form() -> Value {
    json!({
        "ho_ten": "Nguyễn Văn An", "so_dinh_danh": "001095012345", "ngay_sinh": "1995-01-15",
        "dia_chi_thuong_tru_moi": "Số 5 phố Tràng Tiền, phường Hoàn Kiếm, Hà Nội",
        "can_cu_cho_o": "Nhà thuộc sở hữu của mình", "dien_thoai": "0912345678"
    })
}

async fn token(app: &TestApp, login: &str) -> String {
    app.state
        .identity
        .issue_token(
            login,
            &[
                "dossiers:read".into(),
                "dossiers:write".into(),
                "dossiers:handle".into(),
                "payments:admin".into(),
                "payments:read".into(),
            ],
            30,
            "test",
            "test",
        )
        .await
        .unwrap_or_else(|e| panic!("token for {login}: {e}"))
}

async fn official(app: &TestApp, login: &str, role: identity::Role) -> String {
    app.add_official(login, role, AGENCY)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    token(app, login).await
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

/// Files and submits a residence registration as `who`; returns its code.
async fn file(app: &TestApp, who: &str) -> String {
    let (st, d) = send(
        app,
        "POST",
        "/api/v1/dossiers",
        who,
        Some(json!({"procedure": PROCEDURE, "agency": AGENCY, "form": form()})),
    )
    .await;
    assert_eq!(st, 201, "{d}");
    let id = d["id"].as_str().unwrap_or_default().to_string();
    let spec = app
        .state
        .catalog
        .procedure(PROCEDURE, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for doc in &spec.spec.documents {
        let r = app
            .client
            .post(app.url(&format!(
                "/api/v1/dossiers/{id}/documents?name={}&filename=scan.pdf",
                testkit::enc(&doc.name)
            )))
            .bearer_auth(who)
            .header("content-type", "application/pdf")
            .body(PDF.to_vec())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(r.status().as_u16(), 201);
    }
    let (st, d) = send(
        app,
        "POST",
        &format!("/api/v1/dossiers/{id}/actions/submit"),
        who,
        None,
    )
    .await;
    assert_eq!(st, 200, "{d}");
    d["code"].as_str().unwrap_or_default().to_string()
}

/// The signed parameters of a pay URL.
fn request_of(pay_url: &str) -> BTreeMap<String, String> {
    url::Url::parse(pay_url)
        .unwrap_or_else(|e| panic!("{pay_url}: {e}"))
        .query_pairs()
        .into_owned()
        .collect()
}

/// What the sandbox gateway would send for `request` ending with `outcome`.
fn notice(
    app: &TestApp,
    request: &BTreeMap<String, String>,
    outcome: Outcome,
    gateway_txn: &str,
) -> BTreeMap<String, String> {
    let m = app
        .state
        .payments
        .merchant(Provider::Sandbox)
        .unwrap_or_else(|| panic!("the sandbox is on in tests"));
    m.notice_params(request, outcome, gateway_txn, "NCB", app.clock_now())
}

async fn ipn(app: &TestApp, params: &BTreeMap<String, String>) -> String {
    let r = app
        .client
        .get(app.url("/api/v1/payments/ipn/sandbox"))
        .query(params)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap_or_default();
    v["RspCode"].as_str().unwrap_or_default().to_string()
}

async fn start(app: &TestApp, code: &str, who: &str, body: Value) -> (u16, Value) {
    send(
        app,
        "POST",
        &format!("/api/v1/dossiers/{code}/payments"),
        who,
        Some(body),
    )
    .await
}

async fn count(app: &TestApp, sql: &'static str, code: &str) -> i64 {
    kernel::on_db!(&app.state.db, p => sqlx::query_scalar::<_, i64>(sql).bind(code).fetch_one(p).await).unwrap_or(-1)
}

async fn paying_in_the_sandbox_settles_the_dossier_once(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let an = token(&app, "001095012345").await;
    let desk = official(&app, "tiepnhan.ca", identity::Role::Reception).await;
    let code = file(&app, &an).await;

    // Paid when filed: the desk cannot receive it before.
    let (st, e) = send(
        &app,
        "POST",
        &format!("/api/v1/dossiers/{code}/actions/receive"),
        &desk,
        None,
    )
    .await;
    assert_eq!(
        (st, e["type"].as_str().map(|t| t.ends_with("fee_due"))),
        (409, Some(true)),
        "{e}"
    );
    assert!(e["detail_vi"].as_str().unwrap_or("").contains("phí"), "{e}");

    // The lists show it unpaid.
    let unpaid = |list: &Value| {
        list.as_array()
            .and_then(|v| v.iter().find(|d| d["code"] == code.as_str()))
            .map(|d| d["fee_unpaid"].clone())
    };
    let (_, list) = send(&app, "GET", "/api/v1/dossiers", &an, None).await;
    assert_eq!(unpaid(&list), Some(json!("submission")), "{list}");
    let (st, f) = send(
        &app,
        "GET",
        &format!("/api/v1/dossiers/{code}/payments"),
        &an,
        None,
    )
    .await;
    assert_eq!(st, 200, "{f}");
    assert_eq!(
        (
            f["due"].as_str(),
            f["settled"].as_bool(),
            f["can_pay"].as_bool()
        ),
        (Some("submission"), Some(false), Some(true))
    );
    assert_eq!(f["lines"].as_array().map(Vec::len), Some(3));

    // Paying is part of filing: the applicant's token that may only read gets 403, for a
    // payment as for an upload, and nothing is stored.
    let reader = app
        .state
        .identity
        .issue_token("001095012345", &["dossiers:read".into()], 1, "test", "test")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (st, e) = start(
        &app,
        &code,
        &reader,
        json!({"provider": "sandbox", "choice": {"cases": [1]}}),
    )
    .await;
    assert_eq!((st, e["code"].as_str()), (403, Some("forbidden")), "{e}");
    assert!(
        e["detail_vi"].as_str().is_some_and(|t| !t.is_empty()),
        "{e}"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM payments WHERE dossier_code = $1",
            &code
        )
        .await,
        0
    );
    let documents = "SELECT COUNT(*) FROM dossier_documents d JOIN dossiers x ON x.id = d.dossier_id WHERE x.code = $1";
    let before = count(&app, documents, &code).await;
    let r = app
        .client
        .post(app.url(&format!(
            "/api/v1/dossiers/{code}/documents?name=extra&filename=scan.pdf"
        )))
        .bearer_auth(&reader)
        .header("content-type", "application/pdf")
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(count(&app, documents, &code).await, before);
    assert!(before > 0);

    // Bad choices are refused with the field named.
    let (st, e) = start(&app, &code, &an, json!({"provider": "sandbox"})).await;
    assert_eq!(
        (st, e["errors"][0]["at"].as_str()),
        (422, Some("cases")),
        "{e}"
    );
    let (st, _) = start(
        &app,
        &code,
        &an,
        json!({"provider": "sandbox", "choice": {"cases": [0, 1]}}),
    )
    .await;
    assert_eq!(st, 422);
    let (st, _) = start(
        &app,
        &code,
        &an,
        json!({"provider": "paypal", "choice": {"cases": [1]}}),
    )
    .await;
    assert_eq!(st, 422);
    // Only the applicant pays online; the desk may not pretend to.
    let (st, _) = start(
        &app,
        &code,
        &desk,
        json!({"provider": "sandbox", "choice": {"cases": [1]}}),
    )
    .await;
    assert_eq!(st, 403);

    let (st, s) = start(
        &app,
        &code,
        &an,
        json!({"provider": "sandbox", "choice": {"cases": [1]}}),
    )
    .await;
    assert_eq!(st, 201, "{s}");
    assert_eq!(
        (
            s["payment"]["status"].as_str(),
            s["payment"]["amount"].as_i64()
        ),
        (Some("pending"), Some(10_000))
    );
    let pay_url = s["pay_url"].as_str().unwrap_or_default().to_string();
    assert!(
        pay_url.starts_with(&app.url("/cong-thanh-toan-thu-nghiem?")),
        "{pay_url}"
    );
    let request = request_of(&pay_url);
    assert_eq!(request["vnp_Amount"], "1000000");
    // A second tab gets the same payment, not a second one.
    let (st, again) = start(
        &app,
        &code,
        &an,
        json!({"provider": "sandbox", "choice": {"cases": [1]}}),
    )
    .await;
    assert_eq!(
        (st, again["payment"]["id"].as_str()),
        (201, s["payment"]["id"].as_str())
    );
    // The sandbox page checks what it is given.
    assert_eq!(
        app.client
            .get(pay_url.replace("vnp_Amount=1000000", "vnp_Amount=100"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0),
        422
    );
    assert_eq!(
        app.client
            .get(&pay_url)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0),
        200
    );

    let paid = notice(&app, &request, Outcome::Success, "14000001");
    // The browser comes back before the gateway confirms: nothing changes, and it says so.
    let ret = format!("/thanh-toan/ket-qua/sandbox?{}", serde_urlencoded(&paid));
    let r = app.get(&ret).await.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.text()
            .await
            .unwrap_or_default()
            .contains("return-waiting")
    );
    let (_, f) = send(
        &app,
        "GET",
        &format!("/api/v1/dossiers/{code}/payments"),
        &an,
        None,
    )
    .await;
    assert_eq!(f["payments"][0]["status"], "pending");

    // Forged, wrong and unknown messages change nothing.
    let mut forged = paid.clone();
    forged.insert("vnp_Amount".into(), "100".into());
    assert_eq!(ipn(&app, &forged).await, "97");
    let mut cheap = request.clone();
    cheap.insert("vnp_Amount".into(), "100000".into());
    assert_eq!(
        ipn(&app, &notice(&app, &cheap, Outcome::Success, "14000002")).await,
        "04"
    );
    let mut unknown = request.clone();
    unknown.insert("vnp_TxnRef".into(), "NOSUCHREF".into());
    assert_eq!(
        ipn(&app, &notice(&app, &unknown, Outcome::Success, "14000003")).await,
        "01"
    );
    let mut usd = request.clone();
    usd.insert("vnp_CurrCode".into(), "USD".into());
    assert_eq!(
        ipn(&app, &notice(&app, &usd, Outcome::Success, "14000004")).await,
        "04"
    );
    let (_, f) = send(
        &app,
        "GET",
        &format!("/api/v1/dossiers/{code}/payments"),
        &an,
        None,
    )
    .await;
    assert_eq!(
        (f["settled"].as_bool(), f["payments"][0]["status"].as_str()),
        (Some(false), Some("pending"))
    );

    // The confirmation: paid, with receipt 0000001, and the dossier settled.
    assert_eq!(ipn(&app, &paid).await, "00");
    // Replayed, or a stale failure after it: already confirmed, nothing changes.
    assert_eq!(ipn(&app, &paid).await, "02");
    assert_eq!(
        ipn(&app, &notice(&app, &request, Outcome::Failed, "14000001")).await,
        "02"
    );
    assert_eq!(
        ipn(&app, &notice(&app, &request, Outcome::Success, "14000009")).await,
        "02"
    );
    let (_, f) = send(
        &app,
        "GET",
        &format!("/api/v1/dossiers/{code}/payments"),
        &an,
        None,
    )
    .await;
    assert_eq!(f["settled"], true, "{f}");
    assert_eq!(f["payments"].as_array().map(Vec::len), Some(1));
    let p = &f["payments"][0];
    assert_eq!(
        (
            p["status"].as_str(),
            p["gateway_txn"].as_str(),
            p["bank_code"].as_str()
        ),
        (Some("paid"), Some("14000001"), Some("NCB"))
    );
    assert_eq!(
        (
            p["receipt"]["series"].as_str(),
            p["receipt"]["number"].as_str()
        ),
        (Some("BL26E"), Some("0000002"))
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM receipts r JOIN payments p ON p.id = r.payment_id WHERE p.dossier_code = $1", &code).await, 1);
    let verdicts: Vec<String> = kernel::on_db!(&app.state.db, pool => sqlx::query_scalar(
        "SELECT verdict FROM payment_messages ORDER BY received_at, id"
    ).fetch_all(pool).await)
    .unwrap_or_default();
    for v in [
        "bad_signature",
        "amount_mismatch",
        "unknown_reference",
        "paid",
        "replay",
        "stale",
        "second_success_refused",
    ] {
        assert!(verdicts.iter().any(|x| x == v), "{v} in {verdicts:?}");
    }
    let (_, list) = send(&app, "GET", "/api/v1/dossiers", &desk, None).await;
    assert_eq!(unpaid(&list), Some(Value::Null), "{list}");
    // Paying again is refused.
    let (st, _) = start(
        &app,
        &code,
        &an,
        json!({"provider": "sandbox", "choice": {"cases": [1]}}),
    )
    .await;
    assert_eq!(st, 409);
    // The return after the confirmation shows it paid.
    let r = app.get(&ret).await.unwrap_or_else(|e| panic!("{e:#}"));
    assert!(r.text().await.unwrap_or_default().contains("return-paid"));
    // The dossier shows it, and the desk can receive it now.
    let (_, d) = send(&app, "GET", &format!("/api/v1/dossiers/{code}"), &an, None).await;
    assert!(d["fee"]["settled_at"].is_string(), "{d}");
    assert!(
        d["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["action"] == "fee_paid")),
        "{d}"
    );
    let (st, d) = send(
        &app,
        "POST",
        &format!("/api/v1/dossiers/{code}/actions/receive"),
        &desk,
        None,
    )
    .await;
    assert_eq!(st, 200, "{d}");

    // The receipt: a PDF for the applicant and the agency, not found for anyone else.
    let id = p["id"].as_str().unwrap_or_default();
    let r = app
        .client
        .get(app.url(&format!("/api/v1/payments/{id}/receipt")))
        .bearer_auth(&an)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    assert!(r.bytes().await.unwrap_or_default().starts_with(b"%PDF"));
    let stranger = token(&app, "0100109106").await;
    assert_eq!(
        send(
            &app,
            "GET",
            &format!("/api/v1/payments/{id}/receipt"),
            &stranger,
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        send(
            &app,
            "GET",
            &format!("/api/v1/dossiers/{code}/payments"),
            &stranger,
            None
        )
        .await
        .0,
        404
    );
    assert!(kernel::audit::verify(&app.state.db).await.is_ok());
    let audited = kernel::on_db!(&app.state.db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'payment.paid' AND subject = $1"
    ).bind(format!("payment/{id}")).fetch_one(pool).await)
    .unwrap_or(-1);
    assert_eq!(audited, 1, "paid once, in the audit chain once");
}

fn serde_urlencoded(p: &BTreeMap<String, String>) -> String {
    p.iter()
        .map(|(k, v)| format!("{}={}", testkit::enc(k), testkit::enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn a_late_success_is_kept_and_money_is_never_taken_twice(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let an = token(&app, "001095012345").await;
    let ketoan = official(&app, "ketoan.ca", identity::Role::Accountant).await;

    // Timed out, then the money arrives after all: kept, as a late payment.
    let first = file(&app, &an).await;
    let (_, s) = start(
        &app,
        &first,
        &an,
        json!({"provider": "sandbox", "choice": {"cases": [1]}}),
    )
    .await;
    let request = request_of(s["pay_url"].as_str().unwrap_or_default());
    assert_eq!(
        ipn(&app, &notice(&app, &request, Outcome::TimedOut, "")).await,
        "00"
    );
    let (_, f) = send(
        &app,
        "GET",
        &format!("/api/v1/dossiers/{first}/payments"),
        &an,
        None,
    )
    .await;
    assert_eq!(f["payments"][0]["status"], "expired");
    assert_eq!(
        ipn(&app, &notice(&app, &request, Outcome::Success, "15000001")).await,
        "00"
    );
    let (_, f) = send(
        &app,
        "GET",
        &format!("/api/v1/dossiers/{first}/payments"),
        &an,
        None,
    )
    .await;
    assert_eq!(
        (
            f["settled"].as_bool(),
            f["payments"][0]["status"].as_str(),
            f["payments"][0]["late"].as_bool()
        ),
        (Some(true), Some("paid"), Some(true)),
        "{f}"
    );

    // The first attempt runs out; a second is paid; then the first's money arrives late.
    let second = file(&app, &an).await;
    let (_, a) = start(
        &app,
        &second,
        &an,
        json!({"provider": "sandbox", "choice": {"cases": [1]}}),
    )
    .await;
    let request_a = request_of(a["pay_url"].as_str().unwrap_or_default());
    app.clock.advance(chrono::Duration::minutes(20));
    let (_, bb) = start(
        &app,
        &second,
        &an,
        json!({"provider": "sandbox", "choice": {"cases": [1]}}),
    )
    .await;
    assert_ne!(
        a["payment"]["id"], bb["payment"]["id"],
        "an expired attempt is not reused"
    );
    let request_b = request_of(bb["pay_url"].as_str().unwrap_or_default());
    assert_eq!(
        ipn(
            &app,
            &notice(&app, &request_b, Outcome::Success, "15000002")
        )
        .await,
        "00"
    );
    assert_eq!(
        ipn(
            &app,
            &notice(&app, &request_a, Outcome::Success, "15000003")
        )
        .await,
        "00"
    );
    let (_, f) = send(
        &app,
        "GET",
        &format!("/api/v1/dossiers/{second}/payments"),
        &an,
        None,
    )
    .await;
    let statuses: Vec<&str> = f["payments"]
        .as_array()
        .map(|v| v.iter().filter_map(|p| p["status"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(statuses, ["duplicate", "paid"], "{f}");
    let dup = &f["payments"][0];
    assert_eq!(
        (
            dup["refunds"][0]["amount"].as_i64(),
            dup["refunds"][0]["status"].as_str()
        ),
        (Some(10_000), Some("done"))
    );
    assert!(dup["receipt"].is_null(), "a duplicate gets no receipt");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM payments WHERE dossier_code = $1 AND settles = TRUE",
            &second
        )
        .await,
        1
    );

    // Two tabs at once on a third dossier: one payment between them.
    let third = file(&app, &an).await;
    let body = json!({"provider": "sandbox", "choice": {"cases": [1]}});
    let (x, y) = tokio::join!(
        start(&app, &third, &an, body.clone()),
        start(&app, &third, &an, body.clone())
    );
    assert_eq!((x.0, y.0), (201, 201));
    assert_eq!(x.1["payment"]["txn_ref"], y.1["payment"]["txn_ref"]);
    // Nobody comes back and the gateway says nothing: past its window it is expired.
    assert_eq!(app.state.payments.expire_overdue().await.unwrap_or(99), 0);
    app.clock.advance(chrono::Duration::minutes(18));
    assert_eq!(app.state.payments.expire_overdue().await.unwrap_or(99), 1);
    let (_, f) = send(
        &app,
        "GET",
        &format!("/api/v1/dossiers/{third}/payments"),
        &an,
        None,
    )
    .await;
    assert_eq!(f["payments"][0]["status"], "expired", "{f}");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM payments WHERE dossier_code = $1",
            &third
        )
        .await,
        1
    );

    // Receipts of the agency are numbered without gaps: the demo's 1, then 2 and 3 (the
    // duplicate has none).
    let numbers: Vec<i64> = kernel::on_db!(&app.state.db, pool => sqlx::query_scalar(
        "SELECT number FROM receipts WHERE agency_code = $1 ORDER BY number"
    ).bind(AGENCY).fetch_all(pool).await)
    .unwrap_or_default();
    assert_eq!(numbers, [1, 2, 3]);

    // Figures for reports.
    let (st, sum) = send(
        &app,
        "GET",
        &format!("/api/v1/payment-summary?agency={AGENCY}"),
        &ketoan,
        None,
    )
    .await;
    assert_eq!(st, 200, "{sum}");
    assert_eq!(
        (
            sum["paid_count"].as_i64(),
            sum["paid_amount"].as_i64(),
            sum["duplicate_count"].as_i64(),
            sum["refunded_amount"].as_i64()
        ),
        (Some(3), Some(30_000), Some(1), Some(10_000)),
        "{sum}"
    );
    assert_eq!(
        send(
            &app,
            "GET",
            &format!("/api/v1/payment-summary?agency={AGENCY}"),
            &an,
            None
        )
        .await
        .0,
        403
    );
}

async fn the_desk_collects_exemptions_settle_and_the_accountant_reconciles(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let an = token(&app, "001095012345").await;
    let desk = official(&app, "tiepnhan.ca", identity::Role::Reception).await;
    let ketoan = official(&app, "ketoan.ca", identity::Role::Accountant).await;

    // A walk-in applicant pays at the counter: paid at once, with its receipt.
    let (st, d) = send(
        &app,
        "POST",
        "/api/v1/dossiers",
        &desk,
        Some(json!({
            "procedure": PROCEDURE, "agency": AGENCY, "form": form(),
            "applicant": {"name": "Nguyễn Văn An", "cccd": "001095012345", "phone": "0912345678"}
        })),
    )
    .await;
    assert_eq!(st, 201, "{d}");
    let walk_in = d["code"].as_str().unwrap_or_default().to_string();
    let (st, s) = start(
        &app,
        &walk_in,
        &desk,
        json!({"provider": "desk", "choice": {"cases": [0]}}),
    )
    .await;
    assert_eq!(st, 201, "{s}");
    assert!(s["pay_url"].is_null());
    assert_eq!(
        (
            s["payment"]["status"].as_str(),
            s["payment"]["amount"].as_i64(),
            s["payment"]["receipt"]["number"].as_str()
        ),
        (Some("paid"), Some(20_000), Some("0000002"))
    );
    assert_eq!(
        send(
            &app,
            "POST",
            &format!("/api/v1/dossiers/{walk_in}/actions/receive"),
            &desk,
            None
        )
        .await
        .0,
        200
    );
    let cash = s["payment"]["id"].as_str().unwrap_or_default().to_string();

    // A beneficiary's case owes nothing: settled without a gateway, the claim on record.
    let poor = file(&app, &an).await;
    let (st, s) = start(
        &app,
        &poor,
        &an,
        json!({"provider": "sandbox", "choice": {"cases": [2]}}),
    )
    .await;
    assert_eq!(st, 201, "{s}");
    assert_eq!(
        (
            s["payment"]["status"].as_str(),
            s["payment"]["quote"]["claims_reduction"].as_bool()
        ),
        (Some("exempt"), Some(true))
    );
    assert!(s["pay_url"].is_null() && s["payment"]["receipt"].is_null());
    // The desk sees the claim to check on the dossier's fees page, and may receive it.
    let cookie = app
        .session("tiepnhan.ca", identity::demo::PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let page = app
        .get_with(&format!("/ho-so/{poor}/thanh-toan"), &cookie)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap_or_default();
    assert!(html.contains("data-testid=\"claims-reduction\""), "{html}");
    assert!(
        !html.contains("data-testid=\"collect\""),
        "nothing left to collect"
    );
    assert_eq!(
        send(
            &app,
            "POST",
            &format!("/api/v1/dossiers/{poor}/actions/receive"),
            &desk,
            None
        )
        .await
        .0,
        200
    );

    // Refunds: the accountant, up to what is left; nobody else.
    let refund = |who: String, body: Value| {
        let app = &app;
        let path = format!("/api/v1/payments/{cash}/refunds");
        async move { send(app, "POST", &path, &who, Some(body)).await }
    };
    assert_eq!(
        refund(an.clone(), json!({"amount": 5000, "reason": "x"}))
            .await
            .0,
        403
    );
    assert_eq!(
        refund(desk.clone(), json!({"amount": 5000, "reason": "x"}))
            .await
            .0,
        403
    );
    assert_eq!(
        refund(ketoan.clone(), json!({"amount": 5000, "reason": "  "}))
            .await
            .0,
        422
    );
    assert_eq!(
        refund(
            ketoan.clone(),
            json!({"amount": 25000, "reason": "Thu thừa"})
        )
        .await
        .0,
        422
    );
    let (st, p) = refund(
        ketoan.clone(),
        json!({"amount": 5000, "reason": "Thu thừa"}),
    )
    .await;
    assert_eq!(
        (st, p["refunds"][0]["status"].as_str()),
        (201, Some("done")),
        "{p}"
    );
    assert_eq!(
        refund(
            ketoan.clone(),
            json!({"amount": 15001, "reason": "Thu thừa"})
        )
        .await
        .0,
        422
    );
    assert_eq!(
        refund(
            ketoan.clone(),
            json!({"amount": 15000, "reason": "Hoàn nốt"})
        )
        .await
        .0,
        201
    );
    assert_eq!(
        refund(ketoan.clone(), json!({"amount": 1, "reason": "Hết"}))
            .await
            .0,
        422
    );

    // Two online payments today; the gateway's statement has one of them, one with another
    // amount, and one we never saw.
    let mut refs = Vec::new();
    for i in 0..2 {
        let code = file(&app, &an).await;
        let (_, s) = start(
            &app,
            &code,
            &an,
            json!({"provider": "sandbox", "choice": {"cases": [1]}}),
        )
        .await;
        let request = request_of(s["pay_url"].as_str().unwrap_or_default());
        assert_eq!(
            ipn(
                &app,
                &notice(&app, &request, Outcome::Success, &format!("1600000{i}"))
            )
            .await,
            "00"
        );
        refs.push(request["vnp_TxnRef"].clone());
    }
    let csv = format!(
        "txn_ref,amount,transaction_no,bank_code\n{},10000,16000000,NCB\nZZZ999,50000,17000000,VCB\n{},9000,16000001,NCB\n",
        refs[0], refs[1]
    );
    let post = |who: String, body: String, day: &str| {
        let app = &app;
        let url = app.url(&format!(
            "/api/v1/agencies/{AGENCY}/payment-statements?provider=sandbox&day={day}"
        ));
        async move {
            let r = app
                .client
                .post(url)
                .bearer_auth(who)
                .header("content-type", "text/csv")
                .body(body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e:#}"));
            let st = r.status().as_u16();
            (st, r.json::<Value>().await.unwrap_or_default())
        }
    };
    assert_eq!(post(an.clone(), csv.clone(), "2026-03-02").await.0, 403);
    let (st, e) = post(
        ketoan.clone(),
        "txn_ref,amount\nP1,abc\n".into(),
        "2026-03-02",
    )
    .await;
    assert_eq!(st, 422, "{e}");
    assert!(
        e["errors"][0]["en"]
            .as_str()
            .unwrap_or("")
            .contains("Line 2"),
        "{e}"
    );
    assert_eq!(post(ketoan.clone(), csv.clone(), "not-a-day").await.0, 422);
    let (st, r) = post(ketoan.clone(), csv, "2026-03-02").await;
    assert_eq!(st, 201, "{r}");
    let n = |k: &str| r["result"][k].as_array().map(Vec::len).unwrap_or(99);
    assert_eq!(
        (
            n("matched"),
            n("mismatched"),
            n("missing_ours"),
            n("missing_theirs")
        ),
        (1, 1, 1, 1),
        "{r}"
    );
    assert_eq!(r["result"]["missing_ours"][0]["txn_ref"], "ZZZ999");
    // The statement lacks the demo's payment of the same morning; the desk's cash is not the
    // gateway's, so it is in no list.
    assert_eq!(
        r["result"]["missing_theirs"][0]["dossier_code"],
        format!("{AGENCY}-260302-0001")
    );
    let id = r["id"].as_str().unwrap_or_default();
    let (st, again) = send(
        &app,
        "GET",
        &format!("/api/v1/agencies/{AGENCY}/payment-statements/{id}"),
        &ketoan,
        None,
    )
    .await;
    assert_eq!((st, again["result"].clone()), (200, r["result"].clone()));
    assert_eq!(
        send(
            &app,
            "GET",
            &format!("/api/v1/agencies/{AGENCY}/payment-statements/{id}"),
            &desk,
            None
        )
        .await
        .0,
        403
    );
    assert!(kernel::audit::verify(&app.state.db).await.is_ok());
}

/// VNPAY, configured with a merchant code and secret: the pay URL goes to its payment page
/// with its parameters, and its IPN messages, made here by hand the way its documentation
/// describes them (independently of the node's own code), are taken; one signed with another
/// secret, or sent to the other gateway's address, is not.
async fn vnpay_messages_made_by_hand_are_taken(b: Backend) {
    use hmac::{KeyInit, Mac};
    const SECRET: &str = "VNPAYTESTSECRET0123456789ABCDEF";
    let app = spawn_app(
        b,
        Spawn {
            vnpay: Some(("MOTCUA99".into(), SECRET.into())),
            ..Spawn::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let an = token(&app, "001095012345").await;
    let code = file(&app, &an).await;
    let (st, f) = send(
        &app,
        "GET",
        &format!("/api/v1/dossiers/{code}/payments"),
        &an,
        None,
    )
    .await;
    assert_eq!(
        (st, f["gateways"].clone()),
        (200, json!(["sandbox", "vnpay"]))
    );
    let (st, s) = start(
        &app,
        &code,
        &an,
        json!({"provider": "vnpay", "choice": {"cases": [1]}}),
    )
    .await;
    assert_eq!(st, 201, "{s}");
    let pay_url = s["pay_url"].as_str().unwrap_or_default().to_string();
    assert!(
        pay_url.starts_with("https://sandbox.vnpayment.vn/paymentv2/vpcpay.html?"),
        "{pay_url}"
    );
    let request = request_of(&pay_url);
    for (k, v) in [
        ("vnp_Version", "2.1.0"),
        ("vnp_Command", "pay"),
        ("vnp_TmnCode", "MOTCUA99"),
        ("vnp_Amount", "1000000"),
        ("vnp_CurrCode", "VND"),
        ("vnp_Locale", "vn"),
        ("vnp_CreateDate", "20260302090000"),
        ("vnp_ExpireDate", "20260302091500"),
    ] {
        assert_eq!(request.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert_eq!(
        request["vnp_ReturnUrl"],
        app.url("/thanh-toan/ket-qua/vnpay")
    );
    // The hash as the documentation computes it: the other parameters sorted by name, each
    // key=value URL-encoded (spaces as +), joined by &, HMAC-SHA512 under the secret, in hex.
    let sign = |params: &BTreeMap<String, String>, secret: &str| {
        let data = params
            .iter()
            .filter(|(k, v)| !v.is_empty() && !k.starts_with("vnp_SecureHash"))
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    url::form_urlencoded::byte_serialize(k.as_bytes()).collect::<String>(),
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let mut m = <hmac::Hmac<sha2::Sha512> as KeyInit>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        m.update(data.as_bytes());
        hex::encode(m.finalize().into_bytes())
    };
    assert_eq!(
        sign(&request, SECRET),
        request["vnp_SecureHash"],
        "the request is signed as documented"
    );
    let ipn_of = |txn: &str, amount: &str, code: &str, secret: &str| {
        let mut p: BTreeMap<String, String> = [
            ("vnp_Amount", amount),
            ("vnp_BankCode", "NCB"),
            ("vnp_BankTranNo", "VNP14226112"),
            ("vnp_CardType", "ATM"),
            ("vnp_OrderInfo", request["vnp_OrderInfo"].as_str()),
            ("vnp_PayDate", "20260302090512"),
            ("vnp_ResponseCode", code),
            ("vnp_TmnCode", "MOTCUA99"),
            ("vnp_TransactionNo", "14226112"),
            (
                "vnp_TransactionStatus",
                if code == "00" { "00" } else { "02" },
            ),
            ("vnp_TxnRef", txn),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let hash = sign(&p, secret).to_uppercase();
        p.insert("vnp_SecureHashType".into(), "HmacSHA512".into());
        p.insert("vnp_SecureHash".into(), hash);
        p
    };
    let vnpay_ipn = |p: BTreeMap<String, String>, path: &'static str| {
        let app = &app;
        async move {
            let r = app
                .client
                .get(app.url(path))
                .query(&p)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e:#}"));
            let v: Value = r.json().await.unwrap_or_default();
            v["RspCode"].as_str().unwrap_or_default().to_string()
        }
    };
    let txn = request["vnp_TxnRef"].clone();
    let good = ipn_of(&txn, "1000000", "00", SECRET);
    assert_eq!(
        vnpay_ipn(
            ipn_of(&txn, "1000000", "00", "another secret"),
            "/api/v1/payments/ipn/vnpay"
        )
        .await,
        "97"
    );
    assert_eq!(
        vnpay_ipn(good.clone(), "/api/v1/payments/ipn/sandbox").await,
        "97"
    );
    assert_eq!(
        vnpay_ipn(
            ipn_of(&txn, "1000", "00", SECRET),
            "/api/v1/payments/ipn/vnpay"
        )
        .await,
        "04"
    );
    assert_eq!(
        vnpay_ipn(good.clone(), "/api/v1/payments/ipn/vnpay").await,
        "00"
    );
    assert_eq!(vnpay_ipn(good, "/api/v1/payments/ipn/vnpay").await, "02");
    let (_, f) = send(
        &app,
        "GET",
        &format!("/api/v1/dossiers/{code}/payments"),
        &an,
        None,
    )
    .await;
    let p = &f["payments"][0];
    assert_eq!(
        (
            f["settled"].as_bool(),
            p["provider"].as_str(),
            p["gateway_txn"].as_str(),
            p["paid_at"].as_str()
        ),
        (
            Some(true),
            Some("vnpay"),
            Some("14226112"),
            Some("2026-03-02T02:05:12Z")
        ),
        "{f}"
    );
    // The customer cancels at VNPAY (code 24): the attempt is cancelled, nothing owed is settled.
    let other = file(&app, &an).await;
    let (_, s) = start(
        &app,
        &other,
        &an,
        json!({"provider": "vnpay", "choice": {"cases": [1]}}),
    )
    .await;
    let txn = request_of(s["pay_url"].as_str().unwrap_or_default())["vnp_TxnRef"].clone();
    assert_eq!(
        vnpay_ipn(
            ipn_of(&txn, "1000000", "24", SECRET),
            "/api/v1/payments/ipn/vnpay"
        )
        .await,
        "00"
    );
    let (_, f) = send(
        &app,
        "GET",
        &format!("/api/v1/dossiers/{other}/payments"),
        &an,
        None,
    )
    .await;
    assert_eq!(
        (f["settled"].as_bool(), f["payments"][0]["status"].as_str()),
        (Some(false), Some("cancelled"))
    );
    // A refund through VNPAY is recorded as requested: the money goes back through its portal.
    let ketoan = official(&app, "ketoan.vnp", identity::Role::Accountant).await;
    let id = p["id"].as_str().unwrap_or_default();
    let (st, r) = send(
        &app,
        "POST",
        &format!("/api/v1/payments/{id}/refunds"),
        &ketoan,
        Some(json!({"amount": 10000, "reason": "Hồ sơ bị từ chối"})),
    )
    .await;
    assert_eq!(
        (st, r["refunds"][0]["status"].as_str()),
        (201, Some("requested")),
        "{r}"
    );
}

both!(
    vnpay_messages_made_by_hand_are_taken,
    paying_in_the_sandbox_settles_the_dossier_once,
    a_late_success_is_kept_and_money_is_never_taken_twice,
    the_desk_collects_exemptions_settle_and_the_accountant_reconciles,
);
