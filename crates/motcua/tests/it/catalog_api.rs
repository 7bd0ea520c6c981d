//! The catalogue over HTTP, as citizens and integrators use it, on SQLite and PostgreSQL.

use serde_json::Value;
use testkit::{Backend, Spawn, both, enc, spawn_app};

async fn app(b: Backend) -> testkit::TestApp {
    spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("spawn: {e:#}"))
}

async fn codes(app: &testkit::TestApp, q: &str) -> Vec<String> {
    app.search_codes(&format!("q={}", enc(q)))
        .await
        .unwrap_or_else(|e| panic!("search {q}: {e:#}"))
}

async fn citizen_searches_the_way_people_type(b: Backend) {
    let app = app(b).await;
    // Without diacritics, the exact procedure ranks first.
    assert_eq!(
        codes(&app, "dang ky khai sinh")
            .await
            .first()
            .map(String::as_str),
        Some("1.001193")
    );
    // With diacritics.
    assert_eq!(
        codes(&app, "Đăng ký khai sinh")
            .await
            .first()
            .map(String::as_str),
        Some("1.001193")
    );
    // i for y: "đăng kí kết hôn" finds marriage registration first.
    assert_eq!(
        codes(&app, "đăng kí kết hôn")
            .await
            .first()
            .map(String::as_str),
        Some("1.000894")
    );
    // Driving licences: every result in the top three is a driving-licence procedure.
    let v = app
        .get_json(&format!("/api/v1/procedures?q={}", enc("giay phep lai xe")))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let names: Vec<&str> = v["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(names.len() >= 2, "{names:?}");
    for n in names.iter().take(2) {
        assert!(n.to_lowercase().contains("giấy phép lái xe"), "{names:?}");
    }
    // One typo in a longer word, and a transposition.
    assert_eq!(
        codes(&app, "dang ky khai sinnh")
            .await
            .first()
            .map(String::as_str),
        Some("1.001193")
    );
    assert_eq!(
        codes(&app, "dnag ky ket hon")
            .await
            .first()
            .map(String::as_str),
        Some("1.000894")
    );
    // Decomposed Unicode (NFD) as typed on some phones.
    let nfd = "Đăng ký khai sinh"
        .chars()
        .flat_map(|c| match c {
            'ă' => vec!['a', '\u{306}'],
            'ý' => vec!['y', '\u{301}'],
            other => vec![other],
        })
        .collect::<String>();
    assert_eq!(
        codes(&app, &nfd).await.first().map(String::as_str),
        Some("1.001193")
    );
    // A code finds its procedure.
    assert_eq!(codes(&app, "1.001193").await, vec!["1.001193".to_string()]);
    // Nonsense finds nothing.
    assert!(codes(&app, "xyzzy qwerty").await.is_empty());
}

async fn filters_and_facets_narrow_results(b: Backend) {
    let app = app(b).await;
    let all = app
        .get_json("/api/v1/procedures?page_size=100")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let total = all["total"].as_u64().unwrap_or(0);
    assert!(total >= 40, "demo has at least 40 procedures: {total}");
    // Facet counts by audience add up to at least the total (a procedure may serve both).
    let by_audience: u64 = all["facets"]["audience"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["count"].as_u64()).sum())
        .unwrap_or(0);
    assert!(by_audience >= total);
    // Filtering by a province gives exactly the count its facet promised.
    let prov = &all["facets"]["province"][0];
    let code = prov["value"].as_str().unwrap_or_default();
    let promised = prov["count"].as_u64().unwrap_or(0);
    let filtered = app
        .get_json(&format!("/api/v1/procedures?province={code}&page_size=100"))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(filtered["total"].as_u64(), Some(promised));
    assert!(promised < total);
    // Level and audience filters hold for every item.
    let l4 = app
        .get_json("/api/v1/procedures?level=4&audience=business&page_size=100")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    for item in l4["items"].as_array().into_iter().flatten() {
        assert_eq!(item["level"].as_u64(), Some(4));
        assert!(
            item["audience"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == "business"))
        );
    }
    // Pages do not overlap.
    let p1 = app
        .search_codes("page_size=10&page=1")
        .await
        .unwrap_or_default();
    let p2 = app
        .search_codes("page_size=10&page=2")
        .await
        .unwrap_or_default();
    assert_eq!(p1.len(), 10);
    assert!(p1.iter().all(|c| !p2.contains(c)));
}

async fn bad_parameters_get_bilingual_problems(b: Backend) {
    let app = app(b).await;
    for (path, param) in [
        ("/api/v1/procedures?level=9", "level"),
        ("/api/v1/procedures?level=abc", "level"),
        ("/api/v1/procedures?page=0", "page"),
        ("/api/v1/procedures?audience=alien", "audience"),
        ("/api/v1/admin-units?date=2025-13-40", "date"),
        ("/api/v1/calendar/deadline?from=2025-01-24&days=-1", "days"),
    ] {
        let r = app.get(path).await.unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(r.status(), 400, "{path}");
        assert_eq!(
            r.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        let v: Value = r.json().await.unwrap_or_default();
        assert!(
            v["detail"].as_str().is_some_and(|d| d.contains(param)),
            "{path}: {v}"
        );
        assert!(
            v["detail_vi"]
                .as_str()
                .is_some_and(|d| d.contains("không hợp lệ")),
            "{path}: {v}"
        );
    }
    // A path that is not UTF-8 gets the same kind of answer, API and page alike.
    let r = app
        .get("/api/v1/procedures/%FF")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap_or_default();
    assert_eq!(v["code"], "bad_parameter");
    assert!(v["detail_vi"].as_str().is_some_and(|d| d.contains("UTF-8")));
    assert_eq!(
        app.get("/thu-tuc/%FF")
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0),
        400
    );
    // A query string that is not UTF-8 once decoded: refused on every route, not read as
    // some other text (it used to list the whole catalogue).
    for path in [
        "/api/v1/procedures?q=%FF%FE",
        "/api/v1/procedures?q=dang&agency=%C4",
        "/api/v1/agencies?q=%E1%BB",
        "/thu-tuc?q=%FF",
    ] {
        let r = app.get(path).await.unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(r.status(), 400, "{path}");
        let v: Value = r.json().await.unwrap_or_default();
        assert_eq!(v["code"], "bad_parameter", "{path}");
        assert!(
            v["detail_vi"].as_str().is_some_and(|d| d.contains("UTF-8")),
            "{path}: {v}"
        );
        assert!(
            v["detail"].as_str().is_some_and(|d| d.contains("UTF-8")),
            "{path}: {v}"
        );
    }
    let long = "a".repeat(201);
    assert_eq!(
        app.get(&format!("/api/v1/procedures?q={long}"))
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0),
        400
    );
    let r = app
        .get("/api/v1/procedures/0.000000")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap_or_default();
    assert_eq!(v["code"], "procedure_not_found");
    assert!(
        v["detail_vi"]
            .as_str()
            .is_some_and(|d| d.contains("0.000000"))
    );
    assert_eq!(
        app.get("/api/v1/no-such-thing")
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0),
        404
    );
}

async fn procedure_page_data_is_complete(b: Backend) {
    let app = app(b).await;
    let v = app
        .get_json("/api/v1/procedures/1.001193")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(v["name"], "Đăng ký khai sinh");
    assert_eq!(v["version"], 1);
    assert_eq!(v["field_name"], "Hộ tịch");
    assert!(v["documents"].as_array().is_some_and(|d| !d.is_empty()));
    assert!(v["form"].as_array().is_some_and(|d| !d.is_empty()));
    let agencies = v["agency_details"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        agencies.len(),
        v["agencies"].as_array().map(|a| a.len()).unwrap_or(0)
    );
    assert!(
        agencies
            .iter()
            .all(|a| a["address"].as_str().is_some_and(|s| !s.is_empty()))
    );
}

async fn admin_units_resolve_old_codes(b: Backend) {
    let app = app(b).await;
    let provinces = app
        .get_json("/api/v1/admin-units")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(provinces.as_array().map(|a| a.len()), Some(34));
    let hanoi = app
        .get_json("/api/v1/admin-units?parent=01")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(hanoi.as_array().map(|a| a.len()), Some(126));
    let before = app
        .get_json("/api/v1/admin-units?date=2025-06-30")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(before.as_array().map(|a| a.len()), Some(63));
    // Old Phường Ngọc Hà (00016) is now split between two wards.
    let old = app
        .get_json("/api/v1/admin-units?code=00016")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let old_unit = old
        .as_array()
        .and_then(|a| a.iter().find(|u| u["valid_to"] == "2025-06-30"))
        .cloned()
        .unwrap_or_default();
    let now: Vec<&str> = old_unit["now_part_of"]
        .as_array()
        .map(|a| a.iter().filter_map(|u| u["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(now, vec!["Phường Ba Đình", "Phường Ngọc Hà"]);
    let found = app
        .get_json(&format!("/api/v1/admin-units?q={}", enc("ba dinh")))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        found
            .as_array()
            .is_some_and(|a| a.iter().any(|u| u["name"] == "Phường Ba Đình"))
    );
}

async fn agency_directory_filters(b: Backend) {
    let app = app(b).await;
    let all = app
        .get_json("/api/v1/agencies")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let n = all.as_array().map(|a| a.len()).unwrap_or(0);
    let hanoi = app
        .get_json("/api/v1/agencies?province=01")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let hanoi = hanoi.as_array().cloned().unwrap_or_default();
    assert!(!hanoi.is_empty() && hanoi.len() < n);
    assert!(hanoi.iter().all(|a| a["province"] == "01"));
    let central = app
        .get_json("/api/v1/agencies?level=central")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(central.as_array().is_some_and(|a| {
        !a.is_empty()
            && a.iter()
                .all(|x| x["level"] == "central" && x["province"].is_null())
    }));
    let code = hanoi[0]["code"].as_str().unwrap_or_default();
    let one = app
        .get_json(&format!("/api/v1/agencies/{code}"))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(one["code"], code);
    assert_eq!(
        app.get("/api/v1/agencies/000.00.00.Z99")
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0),
        404
    );
}

async fn calendar_counts_working_days(b: Backend) {
    let app = app(b).await;
    let d = app
        .get_json("/api/v1/calendar/deadline?from=2025-01-24&days=1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(d["due"], "2025-02-03", "Tết 2025 is skipped");
    let d = app
        .get_json("/api/v1/calendar/deadline?from=2025-04-25&days=1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(d["due"], "2025-04-26", "swapped Saturday is worked");
    let y = app
        .get_json("/api/v1/calendar?year=2025")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(y["days"].as_array().is_some_and(|a| {
        a.iter()
            .any(|d| d["date"] == "2025-09-02" && d["kind"] == "holiday")
    }));
    assert_eq!(y["office_hours"][0], "07:00–11:30");
}

async fn health_readiness_and_metrics(b: Backend) {
    let app = app(b).await;
    let h = app
        .get_json("/healthz")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(h["status"], "ok");
    let r = app
        .get_json("/readyz")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r["status"], "ready");
    assert_eq!(
        r["database"],
        if b == Backend::Sqlite {
            "sqlite"
        } else {
            "postgres"
        }
    );
    assert!(r["search_documents"].as_u64().unwrap_or(0) >= 40);
    let resp = app
        .get("/healthz")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        resp.headers().get("x-request-id").is_some(),
        "every answer carries a request id"
    );
    let m = app
        .get("/metrics")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(m.contains("motcua_http_requests_total"), "{m}");
}

both!(
    citizen_searches_the_way_people_type,
    filters_and_facets_narrow_results,
    bad_parameters_get_bilingual_problems,
    procedure_page_data_is_complete,
    admin_units_resolve_old_codes,
    agency_directory_filters,
    calendar_counts_working_days,
    health_readiness_and_metrics,
);
