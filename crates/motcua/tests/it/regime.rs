//! The periodic reporting regime over HTTP, on SQLite and PostgreSQL: a national operator
//! writes a template with typed and derived indicators and assigns it; an agency's leader
//! submits by API, a machine client of another agency by client credentials; bad reports are
//! refused whole; corrections make versions; the province's People's Committee returns and
//! approves; the province's figures add up; reminders go once before the deadline and once
//! after it; late reports are marked.

use chrono::Duration;
use serde_json::{Value, json};
use testkit::{Backend, Spawn, TestApp, both, spawn_app};

use identity::Role;

const AGENCY: &str = "000.01.01.G01";

fn template() -> Value {
    json!({
        "code": "BC-MC-02",
        "name": "Báo cáo tình hình giải quyết thủ tục hành chính",
        "basis": "Nghị định 09/2019/NĐ-CP",
        "frequency": "month",
        "deadline_day": 20,
        "fields": [
            {"code": "received", "name": "Số hồ sơ tiếp nhận", "unit": "hồ sơ", "kind": "integer", "required": true, "source": "received"},
            {"code": "resolved", "name": "Số hồ sơ đã giải quyết", "unit": "hồ sơ", "kind": "integer", "required": true, "source": "resolved"},
            {"code": "on_time", "name": "Giải quyết đúng hạn", "unit": "hồ sơ", "kind": "integer", "required": true},
            {"code": "on_time_share", "name": "Tỷ lệ đúng hạn", "unit": "%", "kind": "percent", "formula": "on_time / resolved * 100", "consolidate": "none"},
            {"code": "notes", "name": "Đánh giá, kiến nghị", "kind": "text", "consolidate": "none"}
        ]
    })
}

fn fields_of(e: &Value) -> Vec<String> {
    e["errors"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|d| d["at"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn submissions(app: &TestApp, who: &str, agency: &str, period: &str) -> Vec<Value> {
    let (st, v) = app
        .call(
            "GET",
            &format!(
                "/api/v1/report-submissions?template=BC-MC-02&agency={agency}&period={period}"
            ),
            who,
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    v.as_array().cloned().unwrap_or_default()
}

/// Submits a report of the test's template.
async fn submit(
    app: &TestApp,
    who: &str,
    agency: &str,
    period: &str,
    values: Value,
) -> (u16, Value) {
    app.call(
        "POST",
        "/api/v1/report-submissions",
        who,
        Some(json!({"template": "BC-MC-02", "agency": agency, "period": period, "values": values})),
    )
    .await
}

async fn periodic_reports_are_submitted_checked_approved_and_added_up(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let scopes = ["reports:read", "reports:write"];
    let op = app.token("vanhanh", &scopes).await;
    let pc = app
        .state
        .reports
        .province_committee("01")
        .unwrap_or_else(|| panic!("Hà Nội has a People's Committee"));
    let other = app
        .state
        .catalog
        .lookup()
        .agencies
        .values()
        .find(|a| {
            a.province.as_deref() == Some("01")
                && a.spec.code.as_str() != AGENCY
                && a.spec.code.as_str() != pc
        })
        .map(|a| a.spec.code.to_string())
        .unwrap_or_else(|| panic!("a second agency in Hà Nội"));
    for (login, role, agency) in [
        ("bc.lanhdao", Role::AgencyLeader, AGENCY),
        ("bc.quantri", Role::AgencyAdmin, AGENCY),
        ("bc.ubnd", Role::AgencyLeader, pc.as_str()),
        ("bc.khac", Role::AgencyLeader, other.as_str()),
    ] {
        app.add_official(login, role, agency)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        kernel::on_db!(&app.state.db, c => sqlx::query("UPDATE accounts SET email = $1 WHERE login = $2")
            .bind(format!("{login}@example.gov.vn")).bind(login).execute(c).await.map(|_| ()))
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let leader = app.token("bc.lanhdao", &scopes).await;
    let province = app.token("bc.ubnd", &scopes).await;
    // Templates are for reports' readers and writers: a token for the profile alone gets 403.
    let profile_only = app.token("bc.lanhdao", &["profile"]).await;
    for path in ["/api/v1/report-templates", "/api/v1/report-templates/none"] {
        let (st, e) = app.call("GET", path, &profile_only, None).await;
        assert_eq!(
            (st, e["code"].as_str()),
            (403, Some("forbidden")),
            "{path}: {e}"
        );
    }
    let (st, list) = app
        .call("GET", "/api/v1/report-templates", &leader, None)
        .await;
    assert_eq!(st, 200, "{list}");

    // The template: refused whole when wrong, refused to an agency's leader.
    let mut bad = template();
    bad["fields"][3]["formula"] = json!("on_time / handled * 100");
    bad["fields"][0]["kind"] = json!("number");
    let (st, e) = app
        .call("POST", "/api/v1/report-templates", &op, Some(bad))
        .await;
    assert_eq!(st, 422, "{e}");
    let mut bad = template();
    bad["fields"][3]["formula"] = json!("on_time / handled * 100");
    bad["fields"][3]["consolidate"] = json!("sum");
    bad["deadline_day"] = json!(30);
    let (st, e) = app
        .call("POST", "/api/v1/report-templates", &op, Some(bad))
        .await;
    assert_eq!(st, 422, "{e}");
    let at = fields_of(&e);
    for f in ["fields[3].formula", "fields[3].consolidate", "deadline_day"] {
        assert!(at.iter().any(|a| a == f), "{f}: {e}");
    }
    let (st, _) = app
        .call(
            "POST",
            "/api/v1/report-templates",
            &leader,
            Some(template()),
        )
        .await;
    assert_eq!(st, 403);
    let (st, t) = app
        .call("POST", "/api/v1/report-templates", &op, Some(template()))
        .await;
    assert_eq!(st, 201, "{t}");
    assert_eq!(t["version"], 1);
    let (st, e) = app
        .call(
            "PUT",
            "/api/v1/report-templates/BC-MC-02/agencies",
            &op,
            Some(json!({"agencies": [AGENCY, "000.99.99.X99"]})),
        )
        .await;
    assert_eq!(st, 422, "{e}");
    let (st, t) = app
        .call(
            "PUT",
            "/api/v1/report-templates/BC-MC-02/agencies",
            &op,
            Some(json!({"agencies": [AGENCY, other.clone()]})),
        )
        .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["agencies"].as_array().map(Vec::len), Some(2));

    // Bad reports are refused whole, every problem listed; nothing is stored.
    let (st, e) = submit(
        &app,
        &leader,
        AGENCY,
        "2026-03",
        json!({"resolved": 2.5, "on_time": "chín", "on_time_share": 90, "extra": 1}),
    )
    .await;
    assert_eq!(st, 422, "{e}");
    let at = fields_of(&e);
    for f in [
        "values.received",
        "values.resolved",
        "values.on_time",
        "values.on_time_share",
        "values.extra",
    ] {
        assert!(at.iter().any(|a| a == f), "{f}: {e}");
    }
    assert!(e["errors"][0]["vi"].as_str().is_some_and(|s| !s.is_empty()));
    for (period, field) in [("2026-05", "period"), ("2026-Q1", "period")] {
        let (st, e) = submit(
            &app,
            &leader,
            AGENCY,
            period,
            json!({"received": 12, "resolved": 10, "on_time": 9}),
        )
        .await;
        assert_eq!(st, 422, "{e}");
        assert_eq!(fields_of(&e), [field]);
    }
    assert!(
        submissions(&app, &leader, AGENCY, "2026-03")
            .await
            .is_empty()
    );
    // Not for another agency.
    let (st, _) = submit(
        &app,
        &leader,
        &other,
        "2026-03",
        json!({"received": 1, "resolved": 1, "on_time": 1}),
    )
    .await;
    assert_eq!(st, 403);

    // The leader submits; the share is computed.
    let (st, s1) = submit(
        &app,
        &leader,
        AGENCY,
        "2026-03",
        json!({"received": 12, "resolved": 10, "on_time": "9", "notes": "Đúng tiến độ"}),
    )
    .await;
    assert_eq!(st, 201, "{s1}");
    assert_eq!(
        (&s1["version"], &s1["status"], &s1["late"]),
        (&json!(1), &json!("submitted"), &json!(false))
    );
    assert_eq!(s1["values"]["on_time_share"], 90.0);
    // A correction is a new version; the first is superseded and cannot be decided on.
    let (st, s2) = submit(
        &app,
        &leader,
        AGENCY,
        "2026-03",
        json!({"received": 12, "resolved": 10, "on_time": 8}),
    )
    .await;
    assert_eq!(st, 201, "{s2}");
    assert_eq!(s2["version"], 2);
    let versions = submissions(&app, &leader, AGENCY, "2026-03").await;
    let statuses: Vec<&str> = versions
        .iter()
        .filter_map(|v| v["status"].as_str())
        .collect();
    assert_eq!(statuses, ["submitted", "superseded"]);

    // The other agency's software submits by client credentials, for its agency only.
    let machine = app
        .machine_token(
            "Phần mềm báo cáo của sở",
            &other,
            &["reports:write", "reports:read"],
        )
        .await;
    let (st, _) = submit(
        &app,
        &machine,
        AGENCY,
        "2026-03",
        json!({"received": 1, "resolved": 1, "on_time": 1}),
    )
    .await;
    assert_eq!(st, 403);
    let (st, m1) = submit(
        &app,
        &machine,
        &other,
        "2026-03",
        json!({"received": 30, "resolved": 20, "on_time": 20}),
    )
    .await;
    assert_eq!(st, 201, "{m1}");

    // The People's Committee decides: not the agency itself; a return needs its reason;
    // each version once.
    let id = |v: &Value| v["id"].as_str().unwrap_or_default().to_string();
    let decision = |s: &Value| format!("/api/v1/report-submissions/{}/decision", id(s));
    let (st, _) = app
        .call(
            "POST",
            &decision(&s2),
            &leader,
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(st, 403);
    let (st, e) = app
        .call(
            "POST",
            &decision(&m1),
            &province,
            Some(json!({"decision": "return"})),
        )
        .await;
    assert_eq!(
        (st, fields_of(&e)),
        (422, vec!["comment".to_string()]),
        "{e}"
    );
    let (st, r) = app
        .call(
            "POST",
            &decision(&m1),
            &province,
            Some(json!({"decision": "return", "comment": "Số đúng hạn lớn hơn thực tế"})),
        )
        .await;
    assert_eq!((st, &r["status"]), (200, &json!("returned")), "{r}");
    let (st, a) = app
        .call(
            "POST",
            &decision(&s2),
            &province,
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!((st, &a["status"]), (200, &json!("approved")), "{a}");
    let (st, _) = app
        .call(
            "POST",
            &decision(&s2),
            &province,
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(st, 409);
    let (st, _) = app
        .call(
            "POST",
            &decision(&s1),
            &op,
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(st, 409);

    // The province adds up what was approved: one report so far.
    let consolidated = |who: String| {
        let app = &app;
        async move {
            let (st, c) = app
                .call(
                    "GET",
                    "/api/v1/report-consolidations?template=BC-MC-02&period=2026-03&province=01",
                    &who,
                    None,
                )
                .await;
            assert_eq!(st, 200, "{c}");
            c
        }
    };
    let c = consolidated(province.clone()).await;
    assert_eq!(
        (&c["assigned"], &c["submitted"], &c["approved"]),
        (&json!(2), &json!(2), &json!(1)),
        "{c}"
    );
    assert_eq!(c["values"]["received"], 12.0);
    assert_eq!(c["values"]["on_time_share"], 80.0);
    // Resubmitted and approved, the two add up and the share is recomputed from the sums.
    let (st, m2) = submit(
        &app,
        &machine,
        &other,
        "2026-03",
        json!({"received": 30, "resolved": 20, "on_time": 17}),
    )
    .await;
    assert_eq!((st, &m2["version"]), (201, &json!(2)), "{m2}");
    let (st, _) = app
        .call(
            "POST",
            &decision(&m2),
            &province,
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(st, 200);
    let c = consolidated(op.clone()).await;
    assert_eq!(c["approved"], 2, "{c}");
    assert_eq!(c["values"]["received"], 42.0);
    assert_eq!(c["values"]["on_time"], 25.0);
    assert_eq!(c["values"]["on_time_share"], 83.3333);
    let (st, _) = app
        .call(
            "GET",
            "/api/v1/report-consolidations?template=BC-MC-02&period=2026-03&province=01",
            &leader,
            None,
        )
        .await;
    assert_eq!(st, 403);

    // Reminders: three days before April's deadline, once, to each agency's leaders and
    // administrators with an address; once more the day after it.
    let outbox = |app: &TestApp| {
        let db = app.state.db.clone();
        async move {
            let n: i64 = kernel::on_db!(&db, c => sqlx::query_scalar(
                "SELECT COUNT(*) FROM outbox WHERE subject LIKE '%BC-MC-02%'"
            ).fetch_one(c).await)
            .unwrap_or_else(|e| panic!("{e}"));
            n
        }
    };
    app.clock.advance(Duration::days(44)); // 15 April: still five days to go.
    assert_eq!(app.state.reports.remind().await.unwrap_or(99), 0);
    app.clock.advance(Duration::days(2)); // 17 April.
    let contacts = |agency: String| {
        let id = app.state.identity.clone();
        async move {
            id.contacts(&agency, &[Role::AgencyLeader, Role::AgencyAdmin])
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .len()
        }
    };
    let here = contacts(AGENCY.to_string()).await;
    let there = contacts(other.clone()).await;
    assert!(here >= 2 && there >= 1);
    // (The demo's own template reminds its agencies too.)
    let sent = app.state.reports.remind().await.unwrap_or(0);
    assert!(sent >= here + there, "{sent}");
    assert_eq!(outbox(&app).await, i64::try_from(here + there).unwrap_or(0));
    assert_eq!(app.state.reports.remind().await.unwrap_or(99), 0);
    let (st, late) = submit(
        &app,
        &leader,
        AGENCY,
        "2026-04",
        json!({"received": 5, "resolved": 5, "on_time": 5}),
    )
    .await;
    assert_eq!((st, &late["late"]), (201, &json!(false)), "{late}");
    app.clock.advance(Duration::days(4)); // 21 April: past the deadline.
    assert!(app.state.reports.remind().await.unwrap_or(0) >= there);
    assert_eq!(
        outbox(&app).await,
        i64::try_from(here + 2 * there).unwrap_or(0)
    );
    // The access token of March is long expired: the software asks for another.
    let machine = app
        .machine_token(
            "Phần mềm báo cáo của sở",
            &other,
            &["reports:write", "reports:read"],
        )
        .await;
    let (st, late) = submit(
        &app,
        &machine,
        &other,
        "2026-04",
        json!({"received": 5, "resolved": 5, "on_time": 5}),
    )
    .await;
    assert_eq!((st, &late["late"]), (201, &json!(true)), "{late}");

    // Every step is in the audit chain.
    let actions: Vec<String> = kernel::on_db!(&app.state.db, c => sqlx::query_scalar(
        "SELECT DISTINCT action FROM audit_log WHERE action LIKE 'report.%' ORDER BY action"
    ).fetch_all(c).await)
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        actions,
        [
            "report.reminder",
            "report.submission.approve",
            "report.submission.return",
            "report.submission.submit",
            "report.template.assign",
            "report.template.put",
        ]
    );
}

both!(periodic_reports_are_submitted_checked_approved_and_added_up);
