//! Pages as HTML, and every route against the OpenAPI document for an anonymous caller, so a
//! new route cannot slip in unlisted. (`identity.rs` holds the route × caller table.)

use testkit::{Backend, Spawn, both, enc, spawn_app};

async fn pages_render_in_both_languages(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let home = app.get("/").await.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(home.status(), 200);
    assert!(home.headers().get("content-security-policy").is_some());
    let html = home.text().await.unwrap_or_default();
    assert!(html.contains("<html lang=\"vi\">"));
    assert!(html.contains("Tra cứu thủ tục hành chính"));
    assert!(
        !html.contains("http://") || !html.contains("<script src=\"http"),
        "nothing from elsewhere"
    );
    let results = app
        .get(&format!("/thu-tuc?q={}", enc("dang ky khai sinh")))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let html = results.text().await.unwrap_or_default();
    let first = html.find("/thu-tuc/1.001193").unwrap_or(usize::MAX);
    let other = html.find("/thu-tuc/1.000656").unwrap_or(usize::MAX);
    assert!(
        first < other,
        "birth registration is listed before death registration"
    );
    let page = app
        .get("/thu-tuc/1.001193")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(page.contains("<h1 lang=\"vi\">Đăng ký khai sinh</h1>"));
    assert!(page.contains("Thành phần hồ sơ"));
    // English, by query and then by the cookie the switch sets.
    let en = app
        .get("/?lang=en")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(en.contains("<html lang=\"en\">") && en.contains("Find an administrative procedure"));
    let switch = app
        .get("/lang/en?next=/co-quan")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(switch.status(), 303);
    assert_eq!(
        switch
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/co-quan")
    );
    let cookie = switch
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(cookie.starts_with("lang=en"));
    let dir = app
        .client
        .get(app.url("/co-quan"))
        .header("cookie", "lang=en")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        dir.text()
            .await
            .unwrap_or_default()
            .contains("Agency directory")
    );
    // No open redirect.
    let evil = app
        .get("/lang/vi?next=//evil.example/")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        evil.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/")
    );
    // Missing things are 404 pages in the reader's language.
    let missing = app
        .get("/thu-tuc/0.000000")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(missing.status(), 404);
    assert!(
        missing
            .text()
            .await
            .unwrap_or_default()
            .contains("Không có thủ tục hành chính mã 0.000000")
    );
    let missing = app
        .get("/khong-co?lang=en")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(missing.status(), 404);
    assert!(
        missing
            .text()
            .await
            .unwrap_or_default()
            .contains("There is no page at /khong-co")
    );
    let bad = app
        .get("/thu-tuc?level=x")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(bad.status(), 400);
}

/// Every route, with a concrete path to call and the answer each caller gets.
/// Callers: anonymous only, until identity exists.
const ROUTES: &[(&str, &str, u16)] = &[
    ("GET", "/", 200),
    ("GET", "/thu-tuc?q=ho%20chieu", 200),
    ("GET", "/thu-tuc/1.001193", 200),
    ("GET", "/co-quan", 200),
    ("GET", "/co-quan/000.00.00.H26", 200),
    ("GET", "/lang/en?next=/", 303),
    ("GET", "/dang-nhap", 200),
    ("GET", "/dang-ky", 200),
    ("GET", "/tai-khoan", 303),
    ("GET", "/tai-khoan/phien", 303),
    ("GET", "/api/v1/me", 401),
    ("GET", "/api/v1/dossiers", 401),
    ("GET", "/api/v1/due-dossiers", 401),
    (
        "GET",
        "/api/v1/tracking/000.00.51.H26-260302-0001?digits=1234",
        404,
    ),
    ("GET", "/tra-cuu-ho-so", 200),
    ("GET", "/ho-so", 303),
    ("GET", "/ho-so/000.00.51.H26-260302-0001", 303),
    ("GET", "/thu-tuc/1.001193/nop", 303),
    ("POST", "/thu-tuc/1.001193/nop", 303),
    ("POST", "/ho-so/000.00.51.H26-260302-0001/thao-tac", 303),
    ("GET", "/api/v1/workflows/000.00.52.H26/1.004873", 401),
    ("PUT", "/api/v1/workflows/000.00.52.H26/1.004873", 401),
    ("POST", "/api/v1/dossiers", 401),
    ("GET", "/api/v1/dossiers/000.00.51.H26-260302-0001", 401),
    (
        "POST",
        "/api/v1/dossiers/000.00.51.H26-260302-0001/actions/receive",
        401,
    ),
    ("POST", "/api/v1/dossier-actions/receive", 401),
    ("POST", "/ho-so/thao-tac-hang-loat", 303),
    (
        "POST",
        "/api/v1/dossiers/000.00.51.H26-260302-0001/documents",
        401,
    ),
    (
        "GET",
        "/api/v1/dossiers/000.00.51.H26-260302-0001/documents/x",
        401,
    ),
    (
        "GET",
        "/api/v1/dossiers/000.00.51.H26-260302-0001/slips/receipt",
        401,
    ),
    (
        "GET",
        "/api/v1/dossiers/000.00.51.H26-260302-0001/result",
        401,
    ),
    (
        "GET",
        "/api/v1/dossiers/000.00.51.H26-260302-0001/result/signature",
        401,
    ),
    ("GET", "/api/v1/agencies/000.00.02.H26/certificate", 200),
    ("GET", "/api/v1/agencies/000.00.00.H26/certificate", 404),
    ("GET", "/ho-so/000.00.51.H26-260302-0001/phieu/receipt", 303),
    ("GET", "/ho-so/000.00.51.H26-260302-0001/ket-qua", 303),
    ("GET", "/ho-so/000.00.51.H26-260302-0001/ket-qua.p7s", 303),
    ("GET", "/.well-known/openid-configuration", 200),
    ("GET", "/oidc/jwks", 200),
    ("GET", "/oidc/authorize?client_id=nobody", 400),
    ("POST", "/oidc/authorize", 422),
    ("POST", "/oidc/token", 400),
    ("GET", "/oidc/userinfo", 401),
    ("POST", "/oidc/userinfo", 401),
    ("GET", "/oidc/logout", 200),
    ("POST", "/oidc/logout", 303),
    ("GET", "/quan-tri/tai-khoan", 303),
    ("POST", "/tai-khoan/dai-dien", 422),
    ("POST", "/quan-tri/tai-khoan/vai-tro", 422),
    ("GET", "/quan-tri/ung-dung", 303),
    ("POST", "/quan-tri/ung-dung", 422),
    ("POST", "/quan-tri/ung-dung/trang-thai", 422),
    ("GET", "/quan-tri/thu-di", 303),
    ("POST", "/quan-tri/thu-di/da-giao", 422),
    ("GET", "/quen-mat-khau", 200),
    ("POST", "/quen-mat-khau", 422),
    ("GET", "/dat-lai-mat-khau", 404),
    ("POST", "/dat-lai-mat-khau", 422),
    (
        "GET",
        "/api/v1/dossiers/000.00.51.H26-260302-0001/payments",
        401,
    ),
    (
        "POST",
        "/api/v1/dossiers/000.00.51.H26-260302-0001/payments",
        401,
    ),
    ("GET", "/api/v1/payments/ipn/sandbox", 200),
    ("GET", "/api/v1/payments/x", 401),
    ("GET", "/api/v1/payments/x/receipt", 401),
    ("POST", "/api/v1/payments/x/refunds", 401),
    (
        "POST",
        "/api/v1/agencies/000.00.02.H26/payment-statements?provider=sandbox&day=2026-03-02",
        401,
    ),
    (
        "GET",
        "/api/v1/agencies/000.00.02.H26/payment-statements/x",
        401,
    ),
    ("GET", "/api/v1/payment-summary", 401),
    ("GET", "/ho-so/000.00.51.H26-260302-0001/thanh-toan", 303),
    ("POST", "/ho-so/000.00.51.H26-260302-0001/thanh-toan", 303),
    ("GET", "/thanh-toan/ket-qua/sandbox", 422),
    ("GET", "/thanh-toan/x/bien-lai", 303),
    ("GET", "/cong-thanh-toan-thu-nghiem", 422),
    ("POST", "/cong-thanh-toan-thu-nghiem", 422),
    ("GET", "/ke-toan", 303),
    ("POST", "/ke-toan/hoan-tien/x", 303),
    ("POST", "/ke-toan/bang-ke", 400),
    ("GET", "/ke-toan/bang-ke/000.00.02.H26/x", 303),
    ("GET", "/api/v1/reports/figures", 401),
    ("GET", "/api/v1/reports/export", 401),
    ("GET", "/api/v1/reports/overdue", 401),
    ("GET", "/api/v1/reports/public", 200),
    ("GET", "/api/v1/reports/check", 401),
    ("GET", "/api/v1/reports/index", 401),
    ("GET", "/api/v1/reports/index/versions", 200),
    ("POST", "/api/v1/reports/index/versions", 401),
    ("GET", "/api/v1/reports/index/inputs", 401),
    ("PUT", "/api/v1/reports/index/inputs", 401),
    ("GET", "/api/v1/report-templates", 401),
    ("POST", "/api/v1/report-templates", 401),
    ("GET", "/api/v1/report-templates/BC-01", 401),
    ("PUT", "/api/v1/report-templates/BC-01/agencies", 401),
    ("GET", "/api/v1/report-submissions", 401),
    ("POST", "/api/v1/report-submissions", 401),
    ("GET", "/api/v1/report-submissions/x", 401),
    ("POST", "/api/v1/report-submissions/x/decision", 401),
    ("GET", "/api/v1/report-consolidations", 401),
    ("GET", "/api/v1/exchange/ca", 200),
    ("GET", "/api/v1/exchange/hub-certificate", 200),
    ("GET", "/api/v1/exchange/crl", 200),
    ("GET", "/api/v1/exchange/agencies", 401),
    ("POST", "/api/v1/exchange/agencies", 401),
    ("GET", "/api/v1/exchange/agencies/000.00.02.H26", 401),
    (
        "POST",
        "/api/v1/exchange/agencies/000.00.02.H26/certificates",
        401,
    ),
    ("POST", "/api/v1/exchange/certificates/x/revoke", 401),
    ("POST", "/api/v1/exchange/documents", 401),
    ("GET", "/api/v1/exchange/documents/x", 401),
    ("GET", "/api/v1/exchange/documents/x/package", 401),
    ("GET", "/api/v1/exchange/documents/x/signature", 401),
    ("GET", "/api/v1/exchange/inbox?agency=000.00.02.H26", 401),
    ("POST", "/api/v1/exchange/statuses", 401),
    (
        "GET",
        "/api/v1/exchange/register?agency=000.00.02.H26&direction=in",
        401,
    ),
    ("GET", "/api/v1/exchange/receipts/x", 401),
    ("GET", "/api/v1/exchange/receipts/x/signature", 401),
    ("GET", "/api/v1/exchange/pushes", 401),
    ("GET", "/van-ban", 303),
    ("GET", "/van-ban/soan", 303),
    ("POST", "/van-ban/soan", 400),
    ("GET", "/van-ban/truc", 303),
    ("POST", "/van-ban/truc/co-quan", 303),
    ("POST", "/van-ban/truc/chung-thu", 303),
    ("POST", "/van-ban/truc/thu-hoi", 303),
    ("GET", "/van-ban/x", 303),
    ("POST", "/van-ban/x/trang-thai", 303),
    ("POST", "/van-ban/x/thu-hoi", 303),
    ("GET", "/van-ban/x/tep/0", 303),
    ("GET", "/api/v1/feedback/services", 200),
    ("PUT", "/api/v1/feedback/services/HT01", 401),
    ("GET", "/api/v1/feedback/areas", 200),
    ("GET", "/api/v1/feedback/areas/00070", 200),
    ("PUT", "/api/v1/feedback/areas/00070", 401),
    ("GET", "/api/v1/feedback/routes", 200),
    ("PUT", "/api/v1/feedback/routes", 401),
    ("GET", "/api/v1/feedback/reports", 200),
    ("GET", "/api/v1/feedback/reports/PA-2026-000001", 200),
    (
        "POST",
        "/api/v1/feedback/reports/PA-2026-000001/actions",
        401,
    ),
    (
        "POST",
        "/api/v1/feedback/reports/PA-2026-000001/followers",
        422,
    ),
    ("GET", "/api/v1/feedback/queue", 401),
    (
        "GET",
        "/api/v1/feedback/nearby?service=HT01&lat=21.0245&lon=105.8522",
        200,
    ),
    ("GET", "/api/v1/feedback/answers?q=o%20ga", 200),
    ("GET", "/api/v1/feedback/keys", 401),
    ("POST", "/api/v1/feedback/keys", 401),
    ("DELETE", "/api/v1/feedback/keys/x", 401),
    ("GET", "/api/v1/cabinet/authority.pem", 200),
    ("GET", "/api/v1/cabinet/bodies/000.00.00.H26/members", 401),
    ("PUT", "/api/v1/cabinet/bodies/000.00.00.H26/members/x", 401),
    (
        "DELETE",
        "/api/v1/cabinet/bodies/000.00.00.H26/members/x",
        401,
    ),
    ("GET", "/api/v1/cabinet/meetings", 401),
    ("POST", "/api/v1/cabinet/meetings", 401),
    ("GET", "/api/v1/cabinet/meetings/x", 401),
    ("PUT", "/api/v1/cabinet/meetings/x", 401),
    ("POST", "/api/v1/cabinet/meetings/x/status", 401),
    ("PUT", "/api/v1/cabinet/meetings/x/participants/y", 401),
    ("DELETE", "/api/v1/cabinet/meetings/x/participants/y", 401),
    ("POST", "/api/v1/cabinet/meetings/x/items", 401),
    ("PUT", "/api/v1/cabinet/meetings/x/conclusion", 401),
    ("POST", "/api/v1/cabinet/meetings/x/notes", 401),
    ("PUT", "/api/v1/cabinet/meetings/x/attendance", 401),
    ("POST", "/api/v1/cabinet/meetings/x/documents", 401),
    (
        "POST",
        "/api/v1/cabinet/meetings/x/documents/from-exchange",
        401,
    ),
    ("POST", "/api/v1/cabinet/meetings/x/notice", 401),
    ("GET", "/api/v1/cabinet/meetings/x/notice.p7s", 401),
    ("GET", "/api/v1/cabinet/documents/x", 401),
    ("GET", "/api/v1/cabinet/ballots", 401),
    ("POST", "/api/v1/cabinet/ballots", 401),
    ("GET", "/api/v1/cabinet/ballots/x", 401),
    ("PUT", "/api/v1/cabinet/ballots/x", 401),
    ("POST", "/api/v1/cabinet/ballots/x/documents", 401),
    ("POST", "/api/v1/cabinet/ballots/x/status", 401),
    ("PUT", "/api/v1/cabinet/ballots/x/vote", 401),
    ("POST", "/api/v1/cabinet/ballots/x/reminders", 401),
    ("GET", "/api/v1/cabinet/ballots/x/verification", 401),
    ("GET", "/api/v1/cabinet/ballots/x/votes/y/document", 401),
    ("GET", "/api/v1/cabinet/ballots/x/votes/y/signature", 401),
    ("GET", "/api/v1/cabinet/ballots/x/archive", 401),
    ("GET", "/api/v1/cabinet/ballots/x/summary.p7s", 401),
    ("POST", "/api/v1/federation/register", 404),
    ("POST", "/api/v1/federation/events", 404),
    ("POST", "/api/v1/federation/sso", 404),
    ("POST", "/api/v1/federation/catalog/changes", 404),
    ("POST", "/api/v1/federation/catalog/publish", 404),
    ("GET", "/dang-nhap/quoc-gia", 503),
    ("GET", "/dang-nhap/quoc-gia/ve", 400),
    ("GET", "/api/v1/federation/nodes", 401),
    ("POST", "/api/v1/federation/nodes/x/decision", 401),
    ("GET", "/api/v1/federation/nodes/x/dossiers", 401),
    ("GET", "/api/v1/federation/sync", 401),
    ("GET", "/api/v1/federation/my-dossiers", 401),
    ("GET", "/ho-so-toan-quoc", 404),
    ("GET", "/ho-so-toan-quoc/cap-nhat.js", 200),
    ("POST", "/api/v1/federation/replay", 401),
    ("GET", "/open311/discovery.json", 200),
    ("GET", "/open311/v2/services.json", 200),
    ("GET", "/open311/v2/services/HT01.json", 200),
    ("POST", "/open311/v2/requests.json", 403),
    ("GET", "/open311/v2/requests.json", 200),
    ("GET", "/open311/v2/requests/PA-2026-000001.json", 200),
    ("GET", "/open311/v2/tokens/x.json", 404),
    ("GET", "/open311/v2/servicerequestupdates.json", 200),
    ("POST", "/open311/v2/servicerequestupdates.json", 403),
    ("GET", "/phan-anh", 200),
    ("GET", "/phan-anh/cua-toi", 303),
    ("GET", "/phan-anh/tra-loi", 200),
    ("GET", "/phan-anh/vi-tri.js", 200),
    ("GET", "/phan-anh/gui", 303),
    ("POST", "/phan-anh/gui", 400),
    ("GET", "/phan-anh/PA-2026-000001", 200),
    ("GET", "/phan-anh/PA-2026-000001/anh/1", 404),
    ("POST", "/phan-anh/PA-2026-000001/theo-doi", 422),
    ("POST", "/phan-anh/x/mo-lai", 404),
    ("GET", "/xu-ly-phan-anh", 303),
    ("GET", "/xu-ly-phan-anh/PA-2026-000001", 303),
    ("POST", "/xu-ly-phan-anh/PA-2026-000001", 303),
    ("GET", "/noi-cac", 303),
    ("GET", "/noi-cac/hop/x", 303),
    ("GET", "/noi-cac/tai-lieu/x", 303),
    ("GET", "/noi-cac/phieu/x", 303),
    ("POST", "/noi-cac/phieu/x", 303),
    ("GET", "/noi-cac/thu-ky", 303),
    ("POST", "/noi-cac/thu-ky", 303),
    ("GET", "/noi-cac/thu-ky/hop/x", 303),
    ("POST", "/noi-cac/thu-ky/hop/x", 303),
    ("POST", "/noi-cac/thu-ky/hop/x/tai-lieu", 303),
    ("GET", "/noi-cac/thu-ky/phieu/x", 303),
    ("POST", "/noi-cac/thu-ky/phieu/x", 303),
    ("POST", "/noi-cac/thu-ky/phieu/x/tai-lieu", 303),
    ("GET", "/dieu-hanh", 303),
    ("GET", "/bao-cao", 303),
    ("GET", "/bao-cao/lap", 303),
    ("POST", "/bao-cao/lap", 303),
    ("GET", "/bao-cao/tong-hop", 303),
    ("POST", "/bao-cao/quyet-dinh", 303),
    ("GET", "/dieu-hanh/chi-so", 303),
    ("GET", "/dieu-hanh/chi-so/nhap", 303),
    ("POST", "/dieu-hanh/chi-so/nhap", 303),
    ("GET", "/dieu-hanh/chi-so/bo-chi-so", 200),
    ("POST", "/dieu-hanh/chi-so/bo-chi-so", 303),
    ("GET", "/cong-khai", 200),
    ("GET", "/assets/app.css", 200),
    ("GET", "/healthz", 200),
    ("GET", "/readyz", 200),
    ("GET", "/metrics", 200),
    ("GET", "/api/v1/openapi.json", 200),
    ("GET", "/api/v1/procedures?q=khai%20sinh", 200),
    ("GET", "/api/v1/procedures/1.001193", 200),
    ("GET", "/api/v1/agencies", 200),
    ("GET", "/api/v1/agencies/000.00.00.H26", 200),
    ("GET", "/api/v1/fields", 200),
    ("GET", "/api/v1/admin-units", 200),
    ("GET", "/api/v1/calendar?year=2026", 200),
    (
        "GET",
        "/api/v1/calendar/deadline?from=2026-03-02&days=5",
        200,
    ),
];

async fn every_route_answers_as_the_table_says(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    for (method, path, expected) in ROUTES {
        let r = app
            .client
            .request(method.parse().unwrap_or_default(), app.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(r.status().as_u16(), *expected, "{method} {path}");
    }
    // The API has no write routes yet: a POST is refused, not accepted.
    for path in [
        "/api/v1/procedures",
        "/api/v1/procedures/1.001193",
        "/api/v1/agencies",
    ] {
        let r = app
            .client
            .post(app.url(path))
            .body("{}")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(r.status().as_u16(), 405, "POST {path}");
    }
}

async fn the_openapi_document_lists_every_api_route(b: Backend) {
    let app = spawn_app(
        b,
        Spawn {
            demo: false,
            ..Spawn::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let doc = app
        .get_json("/api/v1/openapi.json")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "motcua API");
    let paths: Vec<String> = doc["paths"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    // Every API route of the table is documented, and every documented path is in the table.
    let table: Vec<String> = ROUTES
        .iter()
        .map(|(_, p, _)| p.split('?').next().unwrap_or(p).to_string())
        .filter(|p| {
            p.starts_with("/api/v1/") && p != "/api/v1/openapi.json"
                || p.starts_with("/open311/")
                || p.starts_with("/oidc/")
                || p.starts_with("/.well-known/")
                || p == "/healthz"
                || p == "/readyz"
        })
        .map(|p| match p.as_str() {
            "/api/v1/procedures/1.001193" => "/api/v1/procedures/{code}".to_string(),
            "/api/v1/agencies/000.00.00.H26" => "/api/v1/agencies/{code}".to_string(),
            "/api/v1/dossiers/000.00.51.H26-260302-0001" => "/api/v1/dossiers/{code}".to_string(),
            "/api/v1/tracking/000.00.51.H26-260302-0001" => "/api/v1/tracking/{code}".to_string(),
            "/api/v1/workflows/000.00.52.H26/1.004873" => {
                "/api/v1/workflows/{agency}/{procedure}".to_string()
            }
            "/api/v1/dossiers/000.00.51.H26-260302-0001/actions/receive" => {
                "/api/v1/dossiers/{code}/actions/{action}".to_string()
            }
            "/api/v1/dossier-actions/receive" => "/api/v1/dossier-actions/{action}".to_string(),
            "/api/v1/dossiers/000.00.51.H26-260302-0001/documents" => {
                "/api/v1/dossiers/{code}/documents".to_string()
            }
            "/api/v1/dossiers/000.00.51.H26-260302-0001/documents/x" => {
                "/api/v1/dossiers/{code}/documents/{id}".to_string()
            }
            "/api/v1/dossiers/000.00.51.H26-260302-0001/slips/receipt" => {
                "/api/v1/dossiers/{code}/slips/{kind}".to_string()
            }
            "/api/v1/dossiers/000.00.51.H26-260302-0001/result" => {
                "/api/v1/dossiers/{code}/result".to_string()
            }
            "/api/v1/dossiers/000.00.51.H26-260302-0001/result/signature" => {
                "/api/v1/dossiers/{code}/result/signature".to_string()
            }
            "/api/v1/dossiers/000.00.51.H26-260302-0001/payments" => {
                "/api/v1/dossiers/{code}/payments".to_string()
            }
            "/api/v1/payments/ipn/sandbox" => "/api/v1/payments/ipn/{provider}".to_string(),
            "/api/v1/payments/x" => "/api/v1/payments/{id}".to_string(),
            "/api/v1/payments/x/receipt" => "/api/v1/payments/{id}/receipt".to_string(),
            "/api/v1/payments/x/refunds" => "/api/v1/payments/{id}/refunds".to_string(),
            "/api/v1/agencies/000.00.02.H26/payment-statements" => {
                "/api/v1/agencies/{agency}/payment-statements".to_string()
            }
            "/api/v1/agencies/000.00.02.H26/payment-statements/x" => {
                "/api/v1/agencies/{agency}/payment-statements/{id}".to_string()
            }
            "/api/v1/agencies/000.00.02.H26/certificate"
            | "/api/v1/agencies/000.00.00.H26/certificate" => {
                "/api/v1/agencies/{code}/certificate".to_string()
            }
            "/api/v1/report-templates/BC-01" => "/api/v1/report-templates/{code}".to_string(),
            "/api/v1/report-templates/BC-01/agencies" => {
                "/api/v1/report-templates/{code}/agencies".to_string()
            }
            "/api/v1/report-submissions/x" => "/api/v1/report-submissions/{id}".to_string(),
            "/api/v1/report-submissions/x/decision" => {
                "/api/v1/report-submissions/{id}/decision".to_string()
            }
            "/api/v1/exchange/agencies/000.00.02.H26" => {
                "/api/v1/exchange/agencies/{organ_id}".to_string()
            }
            "/api/v1/exchange/agencies/000.00.02.H26/certificates" => {
                "/api/v1/exchange/agencies/{organ_id}/certificates".to_string()
            }
            "/api/v1/exchange/certificates/x/revoke" => {
                "/api/v1/exchange/certificates/{serial}/revoke".to_string()
            }
            "/api/v1/exchange/documents/x" => "/api/v1/exchange/documents/{id}".to_string(),
            "/api/v1/exchange/documents/x/package" => {
                "/api/v1/exchange/documents/{id}/package".to_string()
            }
            "/api/v1/exchange/documents/x/signature" => {
                "/api/v1/exchange/documents/{id}/signature".to_string()
            }
            "/api/v1/exchange/receipts/x" => "/api/v1/exchange/receipts/{id}".to_string(),
            "/api/v1/exchange/receipts/x/signature" => {
                "/api/v1/exchange/receipts/{id}/signature".to_string()
            }
            "/api/v1/feedback/services/HT01" => "/api/v1/feedback/services/{code}".to_string(),
            "/api/v1/feedback/areas/00070" => "/api/v1/feedback/areas/{unit_code}".to_string(),
            "/api/v1/feedback/reports/PA-2026-000001" => {
                "/api/v1/feedback/reports/{id}".to_string()
            }
            "/api/v1/feedback/reports/PA-2026-000001/actions" => {
                "/api/v1/feedback/reports/{id}/actions".to_string()
            }
            "/api/v1/feedback/reports/PA-2026-000001/followers" => {
                "/api/v1/feedback/reports/{id}/followers".to_string()
            }
            "/api/v1/feedback/keys/x" => "/api/v1/feedback/keys/{id}".to_string(),
            "/api/v1/cabinet/bodies/000.00.00.H26/members" => {
                "/api/v1/cabinet/bodies/{body}/members".to_string()
            }
            "/api/v1/cabinet/bodies/000.00.00.H26/members/x" => {
                "/api/v1/cabinet/bodies/{body}/members/{login}".to_string()
            }
            "/api/v1/cabinet/meetings/x/participants/y" => {
                "/api/v1/cabinet/meetings/{id}/participants/{login}".to_string()
            }
            "/api/v1/cabinet/ballots/x/votes/y/document" => {
                "/api/v1/cabinet/ballots/{id}/votes/{login}/document".to_string()
            }
            "/api/v1/cabinet/ballots/x/votes/y/signature" => {
                "/api/v1/cabinet/ballots/{id}/votes/{login}/signature".to_string()
            }
            x if x.starts_with("/api/v1/cabinet/meetings/x") => {
                x.replacen("/meetings/x", "/meetings/{id}", 1)
            }
            x if x.starts_with("/api/v1/cabinet/ballots/x") => {
                x.replacen("/ballots/x", "/ballots/{id}", 1)
            }
            "/api/v1/cabinet/documents/x" => "/api/v1/cabinet/documents/{id}".to_string(),
            x if x.starts_with("/api/v1/federation/nodes/x") => {
                x.replacen("/nodes/x", "/nodes/{node}", 1)
            }
            "/open311/discovery.json" => "/open311/discovery.{format}".to_string(),
            "/open311/v2/services.json" => "/open311/v2/services.{format}".to_string(),
            "/open311/v2/services/HT01.json" => {
                "/open311/v2/services/{service_code}.{format}".to_string()
            }
            "/open311/v2/requests.json" => "/open311/v2/requests.{format}".to_string(),
            "/open311/v2/requests/PA-2026-000001.json" => {
                "/open311/v2/requests/{service_request_id}.{format}".to_string()
            }
            "/open311/v2/tokens/x.json" => "/open311/v2/tokens/{token}.{format}".to_string(),
            "/open311/v2/servicerequestupdates.json" => {
                "/open311/v2/servicerequestupdates.{format}".to_string()
            }
            _ => p,
        })
        .collect();
    for p in &table {
        assert!(paths.contains(p), "{p} is not documented: {paths:?}");
    }
    for p in &paths {
        assert!(
            table.contains(p),
            "{p} is documented but not in the route table"
        );
    }
    assert!(doc["components"]["schemas"]["SearchResults"].is_object());
}

both!(
    pages_render_in_both_languages,
    every_route_answers_as_the_table_says,
    the_openapi_document_lists_every_api_route
);
