//! The federation: a local node registers with the national node, waits for an operator, then
//! pushes every change of its dossiers, each applied once and in order; calls that are forged,
//! replayed, stale, or from a node not approved are refused; events after a gap wait.

use std::time::Duration;

use federation::NodeKey;
use federation::rules::{self, H_DATE, H_NODE, H_NONCE, H_SIGNATURE};
use kernel::clock::Clock;
use kernel::config::{FederationConfig, NodeRole};
use serde_json::{Value, json};
use testkit::{Backend, Spawn, TestApp, both, spawn_app};

both!(
    a_local_node_syncs_its_dossiers_once_and_in_order,
    procedures_are_published_down_and_up_between_nodes,
    forged_replayed_and_unapproved_calls_are_refused_and_gaps_wait,
);

fn national() -> FederationConfig {
    FederationConfig {
        role: NodeRole::National,
        ..FederationConfig::default()
    }
}

/// The local node of Hà Nội, answering for its agencies, under `nat`.
fn ha_noi(nat: &TestApp) -> FederationConfig {
    FederationConfig {
        role: NodeRole::Local,
        node_id: "ha-noi".into(),
        national_url: nat.base.clone(),
        agencies: vec!["*.H26".into()],
        retry_max_seconds: 1,
        ..FederationConfig::default()
    }
}

async fn start(b: Backend, f: FederationConfig) -> TestApp {
    spawn_app(
        b,
        Spawn {
            federation: Some(f),
            ..Spawn::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"))
}

/// Polls `check` every 100 ms for up to 20 s; fails with `what` if it never holds.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never: {what}");
}

async fn node(app: &TestApp, op: &str, id: &str) -> Value {
    let (st, v) = app.call("GET", "/api/v1/federation/nodes", op, None).await;
    assert_eq!(st, 200, "{v}");
    v.as_array()
        .and_then(|a| a.iter().find(|n| n["id"] == id).cloned())
        .unwrap_or(Value::Null)
}

/// An operator's decision on a node: the status and the answer.
async fn decide(app: &TestApp, op: &str, node: &str, action: &str) -> (u16, Value) {
    app.call(
        "POST",
        &format!("/api/v1/federation/nodes/{node}/decision"),
        op,
        Some(json!({ "action": action })),
    )
    .await
}

/// Each dossier's (id, status, last event number) on a local node.
async fn local_view(app: &TestApp) -> Vec<(String, String, i64)> {
    kernel::on_db!(&app.state.db, c => sqlx::query_as(
        "SELECT id, status, sync_seq FROM dossiers WHERE sync_seq > 0 ORDER BY id"
    ).fetch_all(c).await)
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The same as the national node holds it for `node`.
async fn national_view(app: &TestApp, op: &str, node: &str) -> Vec<(String, String, i64)> {
    let (st, v) = app
        .call(
            "GET",
            &format!("/api/v1/federation/nodes/{node}/dossiers?limit=1000"),
            op,
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let mut out: Vec<(String, String, i64)> = v
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| {
                    (
                        d["dossier_id"].as_str().unwrap_or_default().to_string(),
                        d["status"].as_str().unwrap_or_default().to_string(),
                        d["applied_seq"].as_i64().unwrap_or(-1),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn filing(i: usize) -> Value {
    json!({
        "procedure": "2.001610", "agency": "000.00.02.H26",
        "form": {
            "ten_doanh_nghiep": format!("Công ty Liên thông {i}"), "dia_chi_tru_so": "Hà Nội",
            "von_dieu_le": 100, "nganh_nghe": "Thương mại", "loai_chu_so_huu": "Cá nhân",
            "nguoi_dai_dien": "Nguyễn Văn An", "so_dinh_danh_nguoi_dai_dien": "001095012345",
            "dien_thoai": "0912345678", "email": "an@example.vn"
        },
        "applicant": {"name": "Nguyễn Văn An", "phone": "0912345678", "cccd": if i == 0 { Some("001095012345") } else { None }}
    })
}

async fn a_local_node_syncs_its_dossiers_once_and_in_order(b: Backend) {
    let nat = start(b, national()).await;
    let local = start(b, ha_noi(&nat)).await;
    let op = nat.token("vanhanh", &["federation:admin"]).await;
    let local_admin = local.token("quantri", &["federation:admin"]).await;
    let desk = local
        .token(
            "tiepnhan",
            &["dossiers:write", "dossiers:read", "dossiers:handle"],
        )
        .await;

    // The local node registers by itself and waits for an operator.
    until("the local node registers", || async {
        node(&nat, &op, "ha-noi").await["status"] == "pending"
    })
    .await;
    let mut codes = Vec::new();
    for i in 0..5 {
        let (st, d) = local
            .call("POST", "/api/v1/dossiers", &desk, Some(filing(i)))
            .await;
        assert_eq!(st, 201, "{d}");
        codes.push(d["code"].as_str().unwrap_or_default().to_string());
    }
    for code in &codes[..3] {
        let (st, d) = local
            .call(
                "POST",
                &format!("/api/v1/dossiers/{code}/actions/receive"),
                &desk,
                None,
            )
            .await;
        assert_eq!(st, 200, "{d}");
    }
    let (st, s) = local
        .call("GET", "/api/v1/federation/sync", &local_admin, None)
        .await;
    assert_eq!(st, 200, "{s}");
    let written = s["backlog"]["written"].as_i64().unwrap_or(0);
    assert!(written >= 8, "{s}");
    assert_eq!(s["backlog"]["pending"].as_i64(), Some(written), "{s}");
    assert_eq!(s["registration"], "pending", "{s}");
    assert_eq!(node(&nat, &op, "ha-noi").await["events_received"], 0);

    // The national reports before: the agency's figures as the national node has them.
    let analyst = nat.token("vanhanh", &["reports:read"]).await;
    let agency_figures = || async {
        let (st, f) = nat
            .call(
                "GET",
                "/api/v1/reports/figures?agency=000.00.02.H26",
                &analyst,
                None,
            )
            .await;
        assert_eq!(st, 200, "{f}");
        f
    };
    let figures = || async {
        let f = agency_figures().await;
        (
            f["totals"]["received_online"].as_i64().unwrap_or(-1)
                + f["totals"]["received_desk"].as_i64().unwrap_or(-1),
            f["open"]["in_progress"].as_i64().unwrap_or(-1),
        )
    };
    let (received_before, open_before) = figures().await;

    // Approved, it catches up: the national view is the local one.
    let (st, v) = decide(&nat, &op, "ha-noi", "approve").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "active");
    let (st, v) = decide(&nat, &op, "ha-noi", "approve").await;
    assert_eq!(st, 409, "{v}");
    let mine = local_view(&local).await;
    assert_eq!(mine.len(), 5);
    assert!(mine.iter().filter(|d| d.2 >= 2).count() >= 3, "{mine:?}");
    until("the national node has every dossier as it is", || async {
        national_view(&nat, &op, "ha-noi").await == mine
    })
    .await;
    // The three dossiers received on the local node count in the national reports, in the
    // same transaction as their status.
    assert_eq!(figures().await, (received_before + 3, open_before + 3));
    let n = node(&nat, &op, "ha-noi").await;
    assert_eq!(n["events_received"].as_i64(), Some(written), "{n}");
    assert_eq!(n["events_applied"].as_i64(), Some(written), "{n}");
    assert_eq!(n["events_held"], 0, "{n}");
    assert_eq!(n["dossiers"], 5, "{n}");
    until("the local backlog empties", || async {
        let (_, s) = local
            .call("GET", "/api/v1/federation/sync", &local_admin, None)
            .await;
        s["backlog"]["pending"] == 0
    })
    .await;

    // A replay from the start sends everything again; nothing changes on the national node.
    let (st, r) = local
        .call(
            "POST",
            "/api/v1/federation/replay",
            &local_admin,
            Some(json!({"since": "2000-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["events"].as_i64(), Some(written));
    until("the replay is sent", || async {
        let (_, s) = local
            .call("GET", "/api/v1/federation/sync", &local_admin, None)
            .await;
        s["backlog"]["pending"] == 0
    })
    .await;
    let n = node(&nat, &op, "ha-noi").await;
    assert_eq!(n["events_received"].as_i64(), Some(written), "{n}");
    assert_eq!(national_view(&nat, &op, "ha-noi").await, mine);
    // A replay counts nothing twice.
    assert_eq!(figures().await, (received_before + 3, open_before + 3));

    // The citizen sees on the national node the dossier filed for them on the local node.
    let citizen = nat.token("001095012345", &["profile"]).await;
    let (st, mine_there) = nat
        .call("GET", "/api/v1/federation/my-dossiers", &citizen, None)
        .await;
    assert_eq!(st, 200, "{mine_there}");
    let listed: Vec<&str> = mine_there
        .as_array()
        .map(|a| a.iter().filter_map(|d| d["code"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(listed, vec![codes[0].as_str()], "{mine_there}");
    assert_eq!(mine_there[0]["node_id"], "ha-noi");
    assert_eq!(mine_there[0]["status"], "received");
    let (st, none) = nat
        .call(
            "GET",
            "/api/v1/federation/my-dossiers",
            &nat.token("tiepnhan", &["profile"]).await,
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(none, json!([]));
    let (st, _) = nat
        .call(
            "GET",
            "/api/v1/federation/my-dossiers",
            &nat.token("001095012345", &["dossiers:read"]).await,
            None,
        )
        .await;
    assert_eq!(st, 403);
    // And on a page, with its procedure, agency and node, linked to the node's tracking page.
    let cookie = nat
        .session("001095012345", identity::demo::PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let page = nat
        .get_with("/ho-so-toan-quoc", &cookie)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap_or_default();
    assert!(
        html.contains(&format!("/tra-cuu-ho-so?ma={}", codes[0])),
        "{html}"
    );
    assert!(html.contains("Đã tiếp nhận"), "{html}");
    assert!(html.contains("Đăng ký thành lập công ty"), "{html}");
    assert!(!html.contains(&codes[1]), "only the citizen's own");
    let r = nat
        .get_with("/ho-so-toan-quoc", "")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 303);
    // The local node has no such page.
    let r = local
        .get_with("/ho-so-toan-quoc", "")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 404);

    // Suspended, its changes wait; resumed, they arrive.
    let (st, _) = decide(&nat, &op, "ha-noi", "suspend").await;
    assert_eq!(st, 200);
    let (st, d) = local
        .call(
            "POST",
            &format!("/api/v1/dossiers/{}/actions/receive", codes[3]),
            &desk,
            None,
        )
        .await;
    assert_eq!(st, 200, "{d}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let n = node(&nat, &op, "ha-noi").await;
    assert_eq!(n["events_received"].as_i64(), Some(written), "{n}");
    let (_, s) = local
        .call("GET", "/api/v1/federation/sync", &local_admin, None)
        .await;
    assert_eq!(s["backlog"]["pending"], 1, "{s}");
    assert!(s["last_error"].as_str().is_some(), "{s}");
    let (st, _) = decide(&nat, &op, "ha-noi", "resume").await;
    assert_eq!(st, 200);
    let mine = local_view(&local).await;
    until("the change made while suspended arrives", || async {
        national_view(&nat, &op, "ha-noi").await == mine
    })
    .await;
    assert_eq!(figures().await, (received_before + 4, open_before + 4));

    // A supplement asked for on the local node is counted on the national one.
    let supplements = || async {
        agency_figures().await["totals"]["supplements"]
            .as_i64()
            .unwrap_or(-1)
    };
    let supplements_before = supplements().await;
    let (st, d) = local
        .call(
            "POST",
            &format!("/api/v1/dossiers/{}/actions/request_supplement", codes[4]),
            &desk,
            Some(json!({"reasons": ["Thiếu bản sao giấy khai sinh"]})),
        )
        .await;
    assert_eq!(st, 200, "{d}");
    let mine = local_view(&local).await;
    until("the supplement arrives", || async {
        national_view(&nat, &op, "ha-noi").await == mine
    })
    .await;
    assert_eq!(supplements().await, supplements_before + 1);

    // The national roll-ups agree with their recomputation, which counts the local node's
    // dossiers from the events held; a rebuild gives the same figures.
    let reviewer = nat.token("vanhanh", &["reports:read"]).await;
    let check = || async {
        let (st, c) = nat
            .call("GET", "/api/v1/reports/check", &reviewer, None)
            .await;
        assert_eq!(st, 200, "{c}");
        c
    };
    let c = check().await;
    assert_eq!(c["agrees"], true, "{c}");
    let kept = (figures().await, supplements().await);
    nat.state
        .reports
        .rebuild()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((figures().await, supplements().await), kept);
    let c = check().await;
    assert_eq!(c["agrees"], true, "{c}");

    // Every decision is in the national audit chain; the local node's replay in its own.
    let decisions: i64 = kernel::on_db!(&nat.state.db, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE subject = 'node/ha-noi' AND action IN ('federation.node.register', 'federation.node.approve', 'federation.node.suspend', 'federation.node.resume')"
    ).fetch_one(c).await)
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(decisions, 4);
    let replays: i64 = kernel::on_db!(&local.state.db, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'federation.replay'"
    ).fetch_one(c).await)
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(replays, 1);
    // A citizen or a desk official does not run the federation.
    let (st, _) = nat
        .call(
            "GET",
            "/api/v1/federation/nodes",
            &nat.token("tiepnhan", &["federation:admin"]).await,
            None,
        )
        .await;
    assert_eq!(st, 403);
}

/// When and with which nonce a call is signed.
struct Signed {
    date: i64,
    nonce: String,
}

impl Signed {
    fn now(app: &TestApp) -> Signed {
        Signed {
            date: app.clock.now().timestamp(),
            nonce: uuid::Uuid::new_v4().simple().to_string(),
        }
    }
}

async fn send(
    app: &TestApp,
    key: &NodeKey,
    node: &str,
    path: &str,
    body: &[u8],
    s: &Signed,
) -> (u16, Value) {
    let message = rules::canonical("POST", path, node, s.date, &s.nonce, body);
    let r = app
        .client
        .post(app.url(path))
        .header(H_NODE, node)
        .header(H_DATE, s.date.to_string())
        .header(H_NONCE, &s.nonce)
        .header(H_SIGNATURE, key.sign(&message))
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn event(dossier: &str, seq: i64, to: &str, agency: &str) -> Value {
    json!({
        "dossier_id": dossier, "seq": seq, "event_id": format!("{dossier}-{seq}"),
        "code": format!("{agency}-260302-0001"), "agency_code": agency, "procedure_code": "2.001610",
        "applicant_cccd": "001095012345", "applicant_name": "Nguyễn Văn An",
        "submitted_at": "2026-03-02T02:00:00Z", "appointment_date": "2026-03-09",
        "written_at": "2026-03-02T02:00:00Z", "at": "2026-03-02T02:00:00Z",
        "action": "act", "from_status": "submitted", "to_status": to, "national_status": null,
        "comment": "", "data": {}
    })
}

fn batch(events: Vec<Value>) -> Vec<u8> {
    json!({ "events": events }).to_string().into_bytes()
}

async fn forged_replayed_and_unapproved_calls_are_refused_and_gaps_wait(b: Backend) {
    let nat = start(b, national()).await;
    let op = nat.token("vanhanh", &["federation:admin"]).await;
    let key = NodeKey::generate().unwrap_or_else(|e| panic!("{e}"));
    let other = NodeKey::generate().unwrap_or_else(|e| panic!("{e}"));
    let reg = |k: &NodeKey| {
        json!({"node": "bo-tu-phap", "name": "Bộ Tư pháp", "url": "http://127.0.0.1:9",
               "public_key": k.public(), "agencies": ["000.00.00.G06"]})
        .to_string()
        .into_bytes()
    };
    const REG: &str = "/api/v1/federation/register";
    const EVENTS: &str = "/api/v1/federation/events";

    // Registering with a key the call is not signed with is refused.
    let (st, v) = send(
        &nat,
        &other,
        "bo-tu-phap",
        REG,
        &reg(&key),
        &Signed::now(&nat),
    )
    .await;
    assert_eq!(st, 401, "{v}");
    assert_eq!(v["code"], "node_signature_invalid");
    assert!(v["detail_vi"].as_str().is_some_and(|s| !s.is_empty()));
    let (st, v) = send(
        &nat,
        &key,
        "bo-tu-phap",
        REG,
        &reg(&key),
        &Signed::now(&nat),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "pending");
    // The same node under another key is a conflict, not a takeover.
    let (st, v) = send(
        &nat,
        &other,
        "bo-tu-phap",
        REG,
        &reg(&other),
        &Signed::now(&nat),
    )
    .await;
    assert_eq!(st, 401, "{v}");

    // Not approved yet: its events are refused.
    let one = batch(vec![event("d1", 1, "received", "000.00.00.G06")]);
    let (st, v) = send(&nat, &key, "bo-tu-phap", EVENTS, &one, &Signed::now(&nat)).await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(v["code"], "node_not_active");
    let (st, _) = decide(&nat, &op, "bo-tu-phap", "approve").await;
    assert_eq!(st, 200);

    // Event 2 before event 1: it waits.
    let two = batch(vec![event("d1", 2, "processing", "000.00.00.G06")]);
    let s = Signed::now(&nat);
    let (st, v) = send(&nat, &key, "bo-tu-phap", EVENTS, &two, &s).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (
            v["stored"].as_u64(),
            v["applied"].as_u64(),
            v["held"].as_u64()
        ),
        (Some(1), Some(0), Some(1)),
        "{v}"
    );
    assert!(national_view(&nat, &op, "bo-tu-phap").await.is_empty());
    // The same call again is a replay.
    let (st, v) = send(&nat, &key, "bo-tu-phap", EVENTS, &two, &s).await;
    assert_eq!(st, 401, "{v}");
    // Forged: another key; the body changed under the signature; signed an hour ago.
    let (st, _) = send(&nat, &other, "bo-tu-phap", EVENTS, &one, &Signed::now(&nat)).await;
    assert_eq!(st, 401);
    let s = Signed::now(&nat);
    let message = rules::canonical("POST", EVENTS, "bo-tu-phap", s.date, &s.nonce, &one);
    let r = nat
        .client
        .post(nat.url(EVENTS))
        .header(H_NODE, "bo-tu-phap")
        .header(H_DATE, s.date.to_string())
        .header(H_NONCE, &s.nonce)
        .header(H_SIGNATURE, key.sign(&message))
        .header("content-type", "application/json")
        .body(batch(vec![event("d1", 1, "returned", "000.00.00.G06")]))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401);
    let stale = Signed {
        date: nat.clock.now().timestamp() - 3600,
        nonce: uuid::Uuid::new_v4().simple().to_string(),
    };
    let (st, _) = send(&nat, &key, "bo-tu-phap", EVENTS, &one, &stale).await;
    assert_eq!(st, 401);
    let (st, _) = send(&nat, &key, "khong-co", EVENTS, &one, &Signed::now(&nat)).await;
    assert_eq!(st, 401);
    let r = nat
        .client
        .post(nat.url(EVENTS))
        .header("content-type", "application/json")
        .body(one.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401);
    assert!(national_view(&nat, &op, "bo-tu-phap").await.is_empty());

    // Event 1 fills the gap: both apply, the status is event 2's. A repeat and another
    // province's agency are answered, not stored.
    let mixed = batch(vec![
        event("d1", 1, "received", "000.00.00.G06"),
        event("d1", 2, "processing", "000.00.00.G06"),
        event("d2", 1, "received", "000.00.02.H26"),
    ]);
    let (st, v) = send(&nat, &key, "bo-tu-phap", EVENTS, &mixed, &Signed::now(&nat)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (
            v["stored"].as_u64(),
            v["duplicates"].as_u64(),
            v["applied"].as_u64(),
            v["held"].as_u64()
        ),
        (Some(1), Some(1), Some(2), Some(0)),
        "{v}"
    );
    assert_eq!(v["refused"][0]["reason"], "agency_not_yours", "{v}");
    assert_eq!(
        national_view(&nat, &op, "bo-tu-phap").await,
        vec![("d1".to_string(), "processing".to_string(), 2)]
    );
    // Another event under a number already taken is refused as a conflict.
    let mut clash = event("d1", 2, "returned", "000.00.00.G06");
    clash["event_id"] = json!("another");
    let (st, v) = send(
        &nat,
        &key,
        "bo-tu-phap",
        EVENTS,
        &batch(vec![clash]),
        &Signed::now(&nat),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["refused"][0]["reason"], "conflict", "{v}");
    // Malformed JSON, signed: 422.
    let (st, v) = send(
        &nat,
        &key,
        "bo-tu-phap",
        EVENTS,
        b"{not json",
        &Signed::now(&nat),
    )
    .await;
    assert_eq!(st, 422, "{v}");

    // The catalogue: a page after a number; a negative number, a page in another node's
    // name, a procedure of agencies it does not answer for, or no signature are refused.
    const CHANGES: &str = "/api/v1/federation/catalog/changes";
    const PUBLISH: &str = "/api/v1/federation/catalog/publish";
    let pull = |after: i64| json!({"after": after, "limit": 5}).to_string().into_bytes();
    let (st, v) = send(
        &nat,
        &key,
        "bo-tu-phap",
        CHANGES,
        &pull(0),
        &Signed::now(&nat),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["last"].as_i64(), v["more"].as_bool()),
        (Some(5), Some(true)),
        "{v}"
    );
    assert_eq!(v["publisher"], "national");
    let (st, v) = send(
        &nat,
        &key,
        "bo-tu-phap",
        CHANGES,
        &pull(-1),
        &Signed::now(&nat),
    )
    .await;
    assert_eq!(st, 422, "{v}");
    let r = nat
        .client
        .post(nat.url(CHANGES))
        .header("content-type", "application/json")
        .body(pull(0))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401);
    let spec = nat
        .state
        .catalog
        .procedure("2.001610", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .spec;
    let page = |publisher: &str| {
        json!({"publisher": publisher, "after": 0, "last": 1, "more": false,
               "procedures": [{"version": 1, "spec": spec}]})
        .to_string()
        .into_bytes()
    };
    let (st, v) = send(
        &nat,
        &key,
        "bo-tu-phap",
        PUBLISH,
        &page("bo-tu-phap"),
        &Signed::now(&nat),
    )
    .await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(v["code"], "agency_not_yours");
    let (st, v) = send(
        &nat,
        &key,
        "bo-tu-phap",
        PUBLISH,
        &page("ha-noi"),
        &Signed::now(&nat),
    )
    .await;
    assert_eq!(st, 422, "{v}");

    // Suspended, it is refused again.
    let (st, _) = decide(&nat, &op, "bo-tu-phap", "suspend").await;
    assert_eq!(st, 200);
    let (st, _) = send(&nat, &key, "bo-tu-phap", EVENTS, &one, &Signed::now(&nat)).await;
    assert_eq!(st, 403);
    let (st, _) = send(
        &nat,
        &key,
        "bo-tu-phap",
        CHANGES,
        &pull(0),
        &Signed::now(&nat),
    )
    .await;
    assert_eq!(st, 403);
    let n = node(&nat, &op, "bo-tu-phap").await;
    assert_eq!(
        (n["events_received"].as_i64(), n["events_applied"].as_i64()),
        (Some(2), Some(2)),
        "{n}"
    );
}

/// Imports `procedures` on `app`'s catalogue, as its administrator would.
async fn import(
    app: &TestApp,
    procedures: Vec<catalog::model::ProcedureSpec>,
) -> Result<catalog::store::ImportReport, catalog::CatalogError> {
    let parsed = catalog::import::Parsed {
        file: catalog::model::CatalogFile {
            procedures,
            ..Default::default()
        },
        ..Default::default()
    };
    app.state
        .catalog
        .import(&parsed, "account/test", &|_| {})
        .await
}

/// An anonymous GET.
async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app
        .client
        .get(app.url(path))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

async fn procedure(app: &TestApp, code: &str) -> (u16, Value) {
    get(app, &format!("/api/v1/procedures/{code}")).await
}

async fn spec(app: &TestApp, code: &str) -> catalog::model::ProcedureSpec {
    app.state
        .catalog
        .procedure(code, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .spec
}

async fn procedures_are_published_down_and_up_between_nodes(b: Backend) {
    let nat = start(b, national()).await;
    let local = start(b, ha_noi(&nat)).await;
    let op = nat.token("vanhanh", &["federation:admin"]).await;
    let local_admin = local.token("quantri", &["federation:admin"]).await;
    until("the local node registers", || async {
        node(&nat, &op, "ha-noi").await["status"] == "pending"
    })
    .await;
    // Pending, it takes nothing: the procedures it has are its own.
    assert_eq!(procedure(&local, "2.001610").await.1["origin"], Value::Null);
    let (st, _) = decide(&nat, &op, "ha-noi", "approve").await;
    assert_eq!(st, 200);
    let sync = || async {
        let (st, s) = local
            .call("GET", "/api/v1/federation/sync", &local_admin, None)
            .await;
        assert_eq!(st, 200, "{s}");
        s
    };
    let newest = catalog::feed::last_seq(&nat.state.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(newest > 51, "{newest}");
    until("the local node takes the national catalogue", || async {
        sync().await["catalog"]["pulled"].as_i64() == Some(newest)
    })
    .await;
    // The same demo catalogue on both sides: nothing written, every national procedure
    // passes to the national node, none is in conflict.
    let (_, p) = procedure(&local, "2.001610").await;
    assert_eq!(
        (p["origin"].as_str(), p["version"].as_i64()),
        (Some("national"), Some(1)),
        "{p}"
    );
    assert_eq!(sync().await["catalog"]["conflicts"], json!([]));

    // The national node revises a procedure: the local node takes version 2, finds it by its
    // new name, and cannot change it itself.
    let mut revised = spec(&nat, "2.001610").await;
    revised.name = "Đăng ký thành lập doanh nghiệp tư nhân (bản sửa đổi liên thông)".into();
    let r = import(&nat, vec![revised.clone()])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.procedures_revised, 1);
    until("the revision reaches the local node", || async {
        procedure(&local, "2.001610").await.1["version"] == 2
    })
    .await;
    let (_, p) = procedure(&local, "2.001610").await;
    assert_eq!(p["name"].as_str(), Some(revised.name.as_str()), "{p}");
    assert_eq!(p["origin"], "national");
    // The search index follows (its reader reopens a moment after the write).
    until("the local search finds the new name", || async {
        let (st, found) = get(
            &local,
            "/api/v1/procedures?q=s%E1%BB%ADa%20%C4%91%E1%BB%95i%20li%C3%AAn%20th%C3%B4ng",
        )
        .await;
        st == 200 && found.to_string().contains("2.001610")
    })
    .await;
    let mut mine = revised.clone();
    mine.name = "Bản sửa riêng của Hà Nội".into();
    match import(&local, vec![mine]).await {
        Err(catalog::CatalogError::Rejected(list)) => {
            assert!(
                list[0].en.contains("published by node national"),
                "{list:?}"
            );
            assert!(list[0].vi.contains("national"), "{list:?}");
        }
        other => panic!("a national procedure changed on a local node: {other:?}"),
    }
    assert_eq!(procedure(&local, "2.001610").await.1["version"], 2);

    // A procedure of its own agency, made on the local node, goes up with its versions; one
    // for an agency it does not answer for stays local.
    let mut own = spec(&local, "2.001610").await;
    own.code = "2.999001".into();
    own.name = "Cấp phép biển quảng cáo trên phố đi bộ Hồ Gươm".into();
    own.agencies =
        vec![kernel::ids::AgencyCode::parse("000.00.02.H26").unwrap_or_else(|e| panic!("{e}"))];
    let mut foreign = own.clone();
    foreign.code = "2.999002".into();
    foreign.agencies =
        vec![kernel::ids::AgencyCode::parse("000.00.00.G06").unwrap_or_else(|e| panic!("{e}"))];
    import(&local, vec![own.clone(), foreign])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    own.name = "Cấp phép biển quảng cáo trên phố đi bộ quanh Hồ Gươm".into();
    import(&local, vec![own.clone()])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    until("the local procedure reaches the national node", || async {
        procedure(&nat, "2.999001").await.1["version"] == 2
    })
    .await;
    let (_, p) = procedure(&nat, "2.999001").await;
    assert_eq!(p["origin"], "ha-noi", "{p}");
    assert_eq!(p["name"].as_str(), Some(own.name.as_str()));
    let versions: i64 = kernel::on_db!(&nat.state.db, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM procedure_versions WHERE code = '2.999001'"
    ).fetch_one(c).await)
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(versions, 2);
    let newest_local = catalog::feed::last_seq(&local.state.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    until(
        "the local node has gone through its own changes",
        || async { sync().await["catalog"]["published"].as_i64() >= Some(newest_local) },
    )
    .await;
    assert_eq!(procedure(&nat, "2.999002").await.0, 404);
    // The national node does not change what a local node publishes; the local node keeps
    // its own (it is not echoed back as someone else's).
    let mut theirs = spec(&nat, "2.999001").await;
    theirs.name = "Sửa ở quốc gia".into();
    assert!(matches!(
        import(&nat, vec![theirs]).await,
        Err(catalog::CatalogError::Rejected(_))
    ));
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(procedure(&local, "2.999001").await.1["origin"], Value::Null);

    // Every version taken is in the receiving node's audit chain.
    let taken: i64 = kernel::on_db!(&nat.state.db, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'catalog.procedure.receive' AND subject = 'procedure/2.999001'"
    ).fetch_one(c).await)
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(taken, 2);
    let taken: i64 = kernel::on_db!(&local.state.db, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'catalog.procedure.receive' AND subject = 'procedure/2.001610'"
    ).fetch_one(c).await)
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(taken, 1);
    assert_eq!(sync().await["catalog"]["conflicts"], json!([]));
}
