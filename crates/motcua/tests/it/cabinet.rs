//! e-Cabinet over HTTP, on SQLite and PostgreSQL: a ballot opened, voted with signed votes,
//! a vote changed before the deadline, closed, counted and published with a signed summary,
//! every signature checked by `openssl`; a vote altered in the database found and the close
//! stopped; secret votes unseen before the close; a meeting prepared, called, held and
//! concluded with a signed notice; guests kept from members' papers; confidential papers
//! stamped with the reader's name and every opening in the audit chain; each cabinet route
//! answering each kind of caller as the table says.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use chrono::Duration;
use serde_json::{Value, json};
use testkit::{Backend, Spawn, TestApp, both, spawn_app};

const BODY: &str = "000.00.00.H26";
const ADMIN: [&str; 2] = ["cabinet", "cabinet:admin"];
const MEMBER: [&str; 1] = ["cabinet"];

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

fn list(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}"))
}

/// GET with a bearer token: status, headers and bytes.
async fn fetch(
    app: &TestApp,
    path: &str,
    bearer: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = ok(app
        .client
        .get(app.url(path))
        .bearer_auth(bearer)
        .send()
        .await);
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, ok(r.bytes().await).to_vec())
}

/// A multipart upload with a bearer token: status and JSON answer.
async fn upload(
    app: &TestApp,
    path: &str,
    bearer: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, Vec<u8>)>,
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    if let Some((name, bytes)) = file {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
        );
    }
    let r = ok(app
        .client
        .post(app.url(path))
        .bearer_auth(bearer)
        .multipart(form)
        .send()
        .await);
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Whether `openssl cms -verify` accepts `sig` over `content` with the authority `ca`.
fn openssl_verifies(dir: &Path, content: &[u8], sig: &[u8], ca: &[u8]) -> bool {
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        ok(std::fs::write(&p, bytes));
        p
    };
    let (c, s, a) = (
        write("content", content),
        write("sig.p7s", sig),
        write("ca.pem", ca),
    );
    let out = ok(Command::new("openssl")
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
        .output());
    out.status.success()
}

/// A small valid PDF, made by the node's own slip printer.
fn pdf(title: &str) -> Vec<u8> {
    use dossier::slips::{Block, Sheet};
    let now = chrono::Utc::now();
    ok(dossier::slips::render(&Sheet {
        parent: None,
        agency: "UBND".into(),
        date: now.date_naive(),
        title: title.into(),
        subtitle: None,
        blocks: vec![Block::Para("Nội dung".into())],
        signatures: Vec::new(),
        footer: String::new(),
        meta_title: title.into(),
        keywords: Vec::new(),
        created: now,
    }))
}

async fn account_id(app: &TestApp, login: &str) -> String {
    ok(app.state.identity.principal_by_login(login).await)
        .unwrap_or_else(|| panic!("no account {login}"))
        .id
}

async fn audit_actions(app: &TestApp, subject: &str) -> Vec<(String, String)> {
    ok(kernel::audit::for_subject(&app.state.db, subject, 500).await)
        .into_iter()
        .map(|(_, _, actor, action)| (actor, action))
        .collect()
}

fn answers(v: &[(u32, &str, &str)]) -> Value {
    json!({"answers": v.iter().map(|(q, c, o)| json!({"question": q, "choice": c, "opinion": o})).collect::<Vec<_>>()})
}

// ---------------------------------------------------------------------------------------------

async fn a_ballot_is_voted_signed_changed_closed_counted_and_published(b: Backend) {
    let app = ok(spawn_app(b, Spawn::default()).await);
    let sec = app.token("thuky.ubnd", &ADMIN).await;
    let chair = app.token("chutich.ubnd", &MEMBER).await;
    let vice = app.token("phochutich.ubnd", &MEMBER).await;
    let member = app.token("uyvien.ubnd", &MEMBER).await;
    let guest = app.token("lanhdao", &MEMBER).await;
    let now = app.clock_now();

    // A draft: bad ones refused, nothing stored.
    let spec = json!({
        "body": BODY, "title": "Lấy ý kiến về đề án số hóa hồ sơ", "description": "Đề án kèm theo.",
        "questions": ["Thông qua đề án?", "Áp dụng từ quý sau?"],
        "deadline": now + Duration::days(2), "secret": true,
    });
    for (bad, field) in [
        (json!({"title": ""}), "title"),
        (json!({"questions": ["  "]}), "questions"),
        (json!({"deadline": now - Duration::hours(1)}), "deadline"),
    ] {
        let mut x = spec.clone();
        for (k, v) in ok(bad.as_object().ok_or("object")) {
            x[k] = v.clone();
        }
        let (st, body) = app
            .call("POST", "/api/v1/cabinet/ballots", &sec, Some(x))
            .await;
        assert_eq!(st, 422, "{field}: {body}");
        assert!(body["errors"].to_string().contains(field), "{body}");
        assert!(!s(&body["detail_vi"]).is_empty());
    }
    let (st, _) = app
        .call(
            "POST",
            "/api/v1/cabinet/ballots",
            &chair,
            Some(spec.clone()),
        )
        .await;
    assert_eq!(st, 403, "only the secretariat writes ballots");
    let (st, ballot) = app
        .call("POST", "/api/v1/cabinet/ballots", &sec, Some(spec.clone()))
        .await;
    assert_eq!(st, 201, "{ballot}");
    let id = s(&ballot["id"]);
    assert_eq!(ballot["status"], "draft");
    let path = format!("/api/v1/cabinet/ballots/{id}");

    // Voters do not see a draft.
    assert_eq!(app.call("GET", &path, &chair, None).await.0, 403);
    let (st, opened) = app
        .call(
            "POST",
            &format!("{path}/status"),
            &sec,
            Some(json!({"move": "open"})),
        )
        .await;
    assert_eq!(st, 200, "{opened}");
    assert_eq!(opened["status"], "open");
    assert_eq!(s(&opened["digest"]).len(), 64);

    // The chair votes, then changes the vote; bad votes are refused and change nothing.
    let vote = format!("{path}/vote");
    let (st, v1) = app
        .call(
            "PUT",
            &vote,
            &chair,
            Some(answers(&[(1, "agree", ""), (2, "other", "Từ năm sau")])),
        )
        .await;
    assert_eq!(st, 200, "{v1}");
    assert_eq!(v1["document"]["revision"], 1);
    for (bad, status) in [
        (answers(&[(1, "agree", ""), (2, "other", "  ")]), 422),
        (answers(&[(1, "agree", "")]), 422),
        (
            answers(&[(1, "agree", ""), (2, "agree", ""), (3, "agree", "")]),
            422,
        ),
        (
            json!({"answers": [{"question": 1, "choice": "maybe"}]}),
            422,
        ),
    ] {
        let (st, body) = app.call("PUT", &vote, &chair, Some(bad.clone())).await;
        assert_eq!(st, status, "{bad}: {body}");
    }
    let (st, v2) = app
        .call(
            "PUT",
            &vote,
            &chair,
            Some(answers(&[
                (1, "disagree", "Chưa đủ kinh phí"),
                (2, "other", "Từ năm sau"),
            ])),
        )
        .await;
    assert_eq!(st, 200, "{v2}");
    assert_eq!(
        v2["document"]["revision"], 2,
        "the bad votes were not stored"
    );
    // A guest of nothing, and the secretariat, do not vote.
    assert_eq!(
        app.call(
            "PUT",
            &vote,
            &guest,
            Some(answers(&[(1, "agree", ""), (2, "agree", "")]))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        app.call(
            "PUT",
            &vote,
            &sec,
            Some(answers(&[(1, "agree", ""), (2, "agree", "")]))
        )
        .await
        .0,
        403
    );
    let (st, _) = app
        .call(
            "PUT",
            &vote,
            &vice,
            Some(answers(&[(1, "agree", ""), (2, "agree", "")])),
        )
        .await;
    assert_eq!(st, 200);

    // Secret until the close: nobody sees how anyone voted, the secretariat sees who did.
    let (_, seen) = app.call("GET", &path, &vice, None).await;
    assert!(
        seen["tally"].is_null() && list(&seen["voters"]).is_empty(),
        "{seen}"
    );
    assert_eq!(seen["my_vote"]["document"]["answers"][0]["choice"], "agree");
    let (_, seen) = app.call("GET", &path, &sec, None).await;
    assert!(seen["tally"].is_null(), "secret: no running tally: {seen}");
    let voted: Vec<(String, Value)> = list(&seen["voters"])
        .iter()
        .map(|v| (s(&v["login"]), v["revision"].clone()))
        .collect();
    assert!(
        voted.contains(&("chutich.ubnd".into(), json!(2))),
        "{voted:?}"
    );
    assert!(
        voted.contains(&("uyvien.ubnd".into(), Value::Null)),
        "{voted:?}"
    );
    assert!(
        !seen.to_string().contains("Chưa đủ kinh phí"),
        "no opinion leaks: {seen}"
    );
    for who in [&sec, &vice] {
        let (st, _, _) = fetch(&app, &format!("{path}/votes/chutich.ubnd/document"), who).await;
        assert_eq!(st, 403, "another's vote before the close");
    }
    let (st, _, own) = fetch(&app, &format!("{path}/votes/chutich.ubnd/document"), &chair).await;
    assert_eq!(st, 200);
    assert!(String::from_utf8_lossy(&own).contains("Chưa đủ kinh phí"));
    // The audit chain has every vote, never its answers.
    let subject = format!("cabinet/ballot/{id}");
    let votes_logged = audit_actions(&app, &subject)
        .await
        .into_iter()
        .filter(|x| x.1 == "cabinet.vote")
        .count();
    assert_eq!(votes_logged, 3);
    let data: Vec<String> = ok(kernel::on_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT data FROM audit_log WHERE subject = $1 AND action = 'cabinet.vote'"
    ).bind(&subject).fetch_all(p).await));
    assert!(
        data.iter()
            .all(|d| !d.contains("disagree") && !d.contains("kinh phí")),
        "{data:?}"
    );

    // Not due, not everyone voted: no close.
    let close = json!({"move": "close"});
    let (st, body) = app
        .call("POST", &format!("{path}/status"), &sec, Some(close.clone()))
        .await;
    assert_eq!((st, s(&body["code"])), (409, "ballot_not_due".into()));
    // After the deadline no vote is taken, and the ballot closes.
    app.clock.advance(Duration::days(3));
    let (st, body) = app
        .call(
            "PUT",
            &vote,
            &member,
            Some(answers(&[(1, "agree", ""), (2, "agree", "")])),
        )
        .await;
    assert_eq!(
        (st, s(&body["code"])),
        (409, "ballot_deadline_passed".into())
    );
    let (st, closed) = app
        .call("POST", &format!("{path}/status"), &sec, Some(close.clone()))
        .await;
    assert_eq!(st, 200, "{closed}");
    let (_, view) = app.call("GET", &path, &member, None).await;
    let t = &view["tally"];
    assert_eq!(
        (t["voters"].clone(), t["voted"].clone()),
        (json!(3), json!(2)),
        "{t}"
    );
    assert_eq!(t["not_voted"], json!(["Phạm Đức Long"]));
    let q1 = &t["questions"][0];
    assert_eq!(
        (
            q1["agree"].clone(),
            q1["disagree"].clone(),
            q1["other"].clone()
        ),
        (json!(1), json!(1), json!(0)),
        "{q1}"
    );
    let q2 = &t["questions"][1];
    assert_eq!(
        (q2["agree"].clone(), q2["other"].clone()),
        (json!(1), json!(1)),
        "{q2}"
    );
    assert_eq!(q2["opinions"][0]["text"], "Từ năm sau");
    assert_eq!(q2["opinions"][0]["name"], "Nguyễn Quang Minh");

    // Every vote's signature checks with openssl against the authority's certificate; a
    // changed byte does not.
    let dir = ok(tempfile::tempdir());
    let (st, _, ca) = fetch(&app, "/api/v1/cabinet/authority.pem", "").await;
    assert_eq!(st, 200);
    for login in ["chutich.ubnd", "phochutich.ubnd"] {
        let (st, _, doc) = fetch(&app, &format!("{path}/votes/{login}/document"), &member).await;
        assert_eq!(
            st, 200,
            "anyone who sees the ballot reads the votes once closed"
        );
        let (st, _, sig) = fetch(&app, &format!("{path}/votes/{login}/signature"), &member).await;
        assert_eq!(st, 200);
        assert!(
            openssl_verifies(dir.path(), &doc, &sig, &ca),
            "{login}'s vote verifies"
        );
        let mut forged = doc.clone();
        let text = String::from_utf8_lossy(&forged).replace("\"disagree\"", "\"agree\"\u{20}");
        forged = text.into_bytes();
        if forged != doc {
            assert!(
                !openssl_verifies(dir.path(), &forged, &sig, &ca),
                "an altered vote fails"
            );
        }
    }
    // The revision counted is the latest.
    let (_, _, doc) = fetch(
        &app,
        &format!("{path}/votes/chutich.ubnd/document"),
        &member,
    )
    .await;
    let doc: Value = ok(serde_json::from_slice(&doc));
    assert_eq!(doc["revision"], 2);
    assert_eq!(doc["ballot_digest"], opened["digest"]);

    // Published: the summary PDF, signed by the secretariat; the archive carries it all.
    assert_eq!(
        app.call(
            "POST",
            &format!("{path}/status"),
            &chair,
            Some(json!({"move": "publish"}))
        )
        .await
        .0,
        403
    );
    let (st, published) = app
        .call(
            "POST",
            &format!("{path}/status"),
            &sec,
            Some(json!({"move": "publish"})),
        )
        .await;
    assert_eq!(st, 200, "{published}");
    let (st, archive) = app
        .call("GET", &format!("{path}/archive"), &vice, None)
        .await;
    assert_eq!(st, 200, "{archive}");
    assert_eq!(list(&archive["votes"]).len(), 2);
    let summary = s(&published["summary_document"]);
    let (st, _, summary_pdf) =
        fetch(&app, &format!("/api/v1/cabinet/documents/{summary}"), &vice).await;
    assert_eq!(st, 200);
    assert!(summary_pdf.starts_with(b"%PDF-"));
    let (st, _, summary_sig) = fetch(&app, &format!("{path}/summary.p7s"), &vice).await;
    assert_eq!(st, 200);
    assert!(
        openssl_verifies(dir.path(), &summary_pdf, &summary_sig, &ca),
        "the summary verifies"
    );
    let archived =
        ok(base64::engine::general_purpose::STANDARD.decode(s(&archive["summary_signature"])));
    assert_eq!(archived, summary_sig);
    for v in list(&archive["votes"]) {
        let sig = ok(base64::engine::general_purpose::STANDARD.decode(s(&v["signature"])));
        assert!(openssl_verifies(
            dir.path(),
            s(&v["document_text"]).as_bytes(),
            &sig,
            archive["authority_pem"]
                .as_str()
                .unwrap_or_default()
                .as_bytes()
        ));
    }
    let actions: Vec<String> = audit_actions(&app, &subject)
        .await
        .into_iter()
        .map(|x| x.1)
        .collect();
    for a in [
        "cabinet.ballot.create",
        "cabinet.ballot.open",
        "cabinet.ballot.close",
        "cabinet.ballot.publish",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    assert!(ok(kernel::audit::verify(&app.state.db).await) > 0);
}

async fn a_vote_altered_in_the_database_is_found_and_stops_the_close(b: Backend) {
    let app = ok(spawn_app(b, Spawn::default()).await);
    let sec = app.token("thuky.ubnd", &ADMIN).await;
    let chair = app.token("chutich.ubnd", &MEMBER).await;
    let vice = app.token("phochutich.ubnd", &MEMBER).await;
    let member = app.token("uyvien.ubnd", &MEMBER).await;
    // The demo's open ballot (not secret): the secretariat sees the running count.
    let (st, mine) = app
        .call("GET", "/api/v1/cabinet/ballots", &chair, None)
        .await;
    assert_eq!(st, 200);
    let open = list(&mine)
        .iter()
        .find(|l| l["ballot"]["status"] == "open" && l["votes"] == true && l["voted"] == false)
        .unwrap_or_else(|| panic!("the demo has an open ballot: {mine}"));
    let id = s(&open["ballot"]["id"]);
    let path = format!("/api/v1/cabinet/ballots/{id}");
    for (t, c) in [(&chair, "agree"), (&vice, "agree"), (&member, "disagree")] {
        let (st, body) = app
            .call(
                "PUT",
                &format!("{path}/vote"),
                t,
                Some(answers(&[(1, c, ""), (2, "agree", "")])),
            )
            .await;
        assert_eq!(st, 200, "{body}");
    }
    let (_, view) = app.call("GET", &path, &sec, None).await;
    assert_eq!(
        view["tally"]["questions"][0]["agree"], 2,
        "running count when not secret"
    );
    let (st, checks) = app
        .call("GET", &format!("{path}/verification"), &sec, None)
        .await;
    assert_eq!(st, 200);
    assert!(list(&checks).iter().all(|c| c["valid"] == true), "{checks}");
    assert_eq!(
        app.call("GET", &format!("{path}/verification"), &chair, None)
            .await
            .0,
        403
    );

    // Someone with the database turns the member's "disagree" into "agree".
    let member_id = account_id(&app, "uyvien.ubnd").await;
    let n = ok(kernel::on_db!(&app.state.db, p => sqlx::query(
        "UPDATE cabinet_votes SET document = REPLACE(document, '\"disagree\"', '\"agree\"') WHERE ballot_id = $1 AND account_id = $2"
    ).bind(&id).bind(&member_id).execute(p).await.map(|r| r.rows_affected())));
    assert_eq!(n, 1);
    let (_, checks) = app
        .call("GET", &format!("{path}/verification"), &sec, None)
        .await;
    let bad: Vec<&Value> = list(&checks)
        .iter()
        .filter(|c| c["valid"] == false)
        .collect();
    assert_eq!(bad.len(), 1, "{checks}");
    assert_eq!(bad[0]["account_id"], member_id.as_str());
    assert!(!s(&bad[0]["problem_vi"]).is_empty());
    // The forged vote is not counted, and the ballot does not close.
    let (_, view) = app.call("GET", &path, &sec, None).await;
    assert_eq!(
        view["tally"]["questions"][0]["agree"], 2,
        "{}",
        view["tally"]
    );
    app.clock.advance(Duration::days(4));
    let (st, body) = app
        .call(
            "POST",
            &format!("{path}/status"),
            &sec,
            Some(json!({"move": "close"})),
        )
        .await;
    assert_eq!(
        (st, s(&body["code"])),
        (409, "vote_tampered".into()),
        "{body}"
    );
    assert!(s(&body["detail_vi"]).contains("Phạm Đức Long"), "{body}");
    let (_, view) = app.call("GET", &path, &sec, None).await;
    assert_eq!(view["ballot"]["status"], "open");

    // A whole vote swapped for another member's signed one is found too.
    let vice_id = account_id(&app, "phochutich.ubnd").await;
    ok(kernel::on_db!(&app.state.db, p => sqlx::query(
        "UPDATE cabinet_votes SET document = (SELECT document FROM cabinet_votes WHERE ballot_id = $1 AND account_id = $2), \
         signature = (SELECT signature FROM cabinet_votes WHERE ballot_id = $1 AND account_id = $2), \
         certificate_serial = (SELECT certificate_serial FROM cabinet_votes WHERE ballot_id = $1 AND account_id = $2) \
         WHERE ballot_id = $1 AND account_id = $3"
    ).bind(&id).bind(&vice_id).bind(&member_id).execute(p).await.map(|r| r.rows_affected())));
    let (_, checks) = app
        .call("GET", &format!("{path}/verification"), &sec, None)
        .await;
    let bad: Vec<&Value> = list(&checks)
        .iter()
        .filter(|c| c["valid"] == false)
        .collect();
    assert_eq!(bad.len(), 1, "{checks}");
    assert_eq!(bad[0]["account_id"], member_id.as_str());
}

async fn a_meeting_is_prepared_called_held_and_concluded(b: Backend) {
    let app = ok(spawn_app(b, Spawn::default()).await);
    let sec = app.token("thuky.ubnd", &ADMIN).await;
    let chair = app.token("chutich.ubnd", &MEMBER).await;
    let guest = app.token("lanhdao", &MEMBER).await;
    let now = app.clock_now();
    let spec = json!({"body": BODY, "title": "Họp chuyên đề chuyển đổi số", "starts_at": now + Duration::days(2),
        "ends_at": now + Duration::days(2) + Duration::hours(2), "place": "Phòng họp số 1", "online_url": ""});
    for (bad, field) in [
        (json!({"ends_at": now + Duration::days(1)}), "ends_at"),
        (json!({"place": "", "online_url": ""}), "place"),
        (json!({"online_url": "javascript:alert(1)"}), "online_url"),
        (json!({"body": "000.00.00.X99"}), "body"),
    ] {
        let mut x = spec.clone();
        for (k, v) in ok(bad.as_object().ok_or("object")) {
            x[k] = v.clone();
        }
        let (st, body) = app
            .call("POST", "/api/v1/cabinet/meetings", &sec, Some(x))
            .await;
        if field == "body" {
            assert_eq!(st, 403, "another body's secretariat it is not: {body}");
        } else {
            assert_eq!(st, 422, "{field}: {body}");
            assert!(body["errors"].to_string().contains(field), "{body}");
        }
    }
    let (st, m) = app
        .call("POST", "/api/v1/cabinet/meetings", &sec, Some(spec.clone()))
        .await;
    assert_eq!(st, 201, "{m}");
    let id = s(&m["id"]);
    let path = format!("/api/v1/cabinet/meetings/{id}");
    // A draft is the secretariat's alone.
    assert_eq!(app.call("GET", &path, &chair, None).await.0, 403);
    let (st, item) = app
        .call(
            "POST",
            &format!("{path}/items"),
            &sec,
            Some(json!({"title": "Kế hoạch chuyển đổi số", "presenter": "Sở KH&CN"})),
        )
        .await;
    assert_eq!((st, item["position"].clone()), (201, json!(1)));
    assert_eq!(
        app.call(
            "PUT",
            &format!("{path}/participants/lanhdao"),
            &sec,
            Some(json!({"role": "guest"}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.call(
            "PUT",
            &format!("{path}/participants/khong-co-ai"),
            &sec,
            Some(json!({"role": "guest"}))
        )
        .await
        .0,
        422
    );

    // Papers: refused when empty, not a known type, a broken PDF, or confidential and not PDF.
    let docs = format!("{path}/documents");
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("rong.pdf", "participants", Vec::new(), 422, "invalid_input"),
        (
            "virus.exe",
            "participants",
            b"MZ\x90\x00".to_vec(),
            415,
            "document_type",
        ),
        (
            "hong.pdf",
            "participants",
            b"%PDF-1.7\ngarbage".to_vec(),
            422,
            "document_unreadable",
        ),
        (
            "bang.txt",
            "confidential",
            "Bảng số liệu".as_bytes().to_vec(),
            422,
            "confidential_not_pdf",
        ),
    ];
    for (name, access, bytes, status, code) in cases {
        let (st, body) = upload(
            &app,
            &docs,
            &sec,
            &[("title", "Tài liệu"), ("access", access)],
            Some((name, bytes)),
        )
        .await;
        assert_eq!(
            (st, s(&body["code"])),
            (status, code.to_string()),
            "{name}: {body}"
        );
    }
    let (st, _) = upload(&app, &docs, &sec, &[("title", "Không tệp")], None).await;
    assert_eq!(st, 422);
    let (st, public) = upload(
        &app,
        &docs,
        &sec,
        &[
            ("title", "Tờ trình"),
            ("access", "participants"),
            ("item", "1"),
        ],
        Some(("to-trinh.pdf", pdf("TỜ TRÌNH"))),
    )
    .await;
    assert_eq!(st, 201, "{public}");
    assert_eq!(public["pages"], 1);
    let (st, members_only) = upload(
        &app,
        &docs,
        &sec,
        &[("title", "Báo cáo nội bộ"), ("access", "members")],
        Some(("noi-bo.txt", "Chỉ thành viên".as_bytes().to_vec())),
    )
    .await;
    assert_eq!(st, 201, "{members_only}");
    let (st, secret) = upload(
        &app,
        &docs,
        &sec,
        &[
            ("title", "Dự thảo mật"),
            ("access", "confidential"),
            ("item", "1"),
        ],
        Some(("mat.pdf", pdf("DỰ THẢO"))),
    )
    .await;
    assert_eq!(st, 201, "{secret}");
    assert_eq!(
        upload(
            &app,
            &docs,
            &chair,
            &[("title", "x")],
            Some(("x.pdf", pdf("X")))
        )
        .await
        .0,
        403
    );

    // Called: the participants are told (those with an address).
    let chair_id = account_id(&app, "chutich.ubnd").await;
    ok(kernel::on_db!(&app.state.db, p => sqlx::query(
        "UPDATE accounts SET email = 'chutich@hanoi.gov.vn' WHERE id = $1"
    ).bind(&chair_id).execute(p).await.map(|r| r.rows_affected())));
    let (st, called) = app
        .call(
            "POST",
            &format!("{path}/status"),
            &sec,
            Some(json!({"move": "call"})),
        )
        .await;
    assert_eq!(
        (st, called["status"].clone()),
        (200, json!("scheduled")),
        "{called}"
    );
    let invited: Vec<String> = ok(kernel::on_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT subject FROM outbox WHERE recipient = 'chutich@hanoi.gov.vn'"
    ).fetch_all(p).await));
    assert!(
        invited
            .iter()
            .any(|x| x.starts_with("Giấy mời họp") && x.contains("chuyển đổi số")),
        "{invited:?}"
    );

    // The guest sees only what is for every participant; the chair sees all.
    let (st, gv) = app.call("GET", &path, &guest, None).await;
    assert_eq!(st, 200, "{gv}");
    assert_eq!(gv["my_role"], "guest");
    let seen = gv.to_string();
    assert!(seen.contains(&s(&public["id"])));
    assert!(
        !seen.contains(&s(&members_only["id"])) && !seen.contains(&s(&secret["id"])),
        "{gv}"
    );
    assert!(list(&gv["notes"]).is_empty());
    for d in [&members_only, &secret] {
        let (st, _, body) = fetch(
            &app,
            &format!("/api/v1/cabinet/documents/{}", s(&d["id"])),
            &guest,
        )
        .await;
        assert_eq!(st, 403, "{}", String::from_utf8_lossy(&body));
    }
    let denied = audit_actions(&app, &format!("cabinet/meeting/{id}")).await;
    assert!(
        denied
            .iter()
            .filter(|x| x.1 == "cabinet.document.denied")
            .count()
            >= 2,
        "{denied:?}"
    );
    let (st, _, bytes) = fetch(
        &app,
        &format!("/api/v1/cabinet/documents/{}", s(&public["id"])),
        &guest,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(bytes, pdf_bytes_of(&app, &public).await);
    // A confidential paper comes stamped with its reader; each opening is in the chain.
    let (st, headers, stamped) = fetch(
        &app,
        &format!("/api/v1/cabinet/documents/{}", s(&secret["id"])),
        &chair,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        headers
            .get("x-motcua-stamped")
            .and_then(|v| v.to_str().ok()),
        Some("reader")
    );
    assert!(stamped.starts_with(b"%PDF-"));
    assert_ne!(
        stamped,
        pdf_bytes_of(&app, &secret).await,
        "not the stored bytes"
    );
    assert_eq!(ok(cabinet::watermark::page_count(&stamped)), 1);
    let _ = fetch(
        &app,
        &format!("/api/v1/cabinet/documents/{}", s(&secret["id"])),
        &chair,
    )
    .await;
    let chair_id = account_id(&app, "chutich.ubnd").await;
    let views = audit_actions(&app, &format!("cabinet/meeting/{id}")).await;
    let chair_views = views
        .iter()
        .filter(|x| x.1 == "cabinet.document.view" && x.0 == format!("account/{chair_id}"))
        .count();
    assert_eq!(chair_views, 2, "{views:?}");
    // Someone not called is refused the meeting.
    let stranger = app.token("tiepnhan", &MEMBER).await;
    assert_eq!(app.call("GET", &path, &stranger, None).await.0, 403);
    // The chair's list shows what is unread.
    let (_, mine) = app
        .call(
            "GET",
            &format!("/api/v1/cabinet/meetings?from={}", enc_time(now)),
            &chair,
            None,
        )
        .await;
    let line = list(&mine)
        .iter()
        .find(|l| l["meeting"]["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{mine}"));
    assert_eq!(line["unread"], 2, "three papers, one opened: {line}");

    // Held: attendance, the minutes, conclusions, then the signed notice.
    assert_eq!(
        app.call("POST", &format!("{path}/notice"), &sec, None)
            .await
            .0,
        409,
        "not ended yet"
    );
    let (st, body) = app
        .call(
            "PUT",
            &format!("{path}/attendance"),
            &sec,
            Some(json!({"login": "chutich.ubnd", "attendance": "present"})),
        )
        .await;
    assert_eq!(st, 204, "{body}");
    assert_eq!(
        app.call(
            "PUT",
            &format!("{path}/attendance"),
            &sec,
            Some(json!({"login": "chutich.ubnd", "attendance": "maybe"}))
        )
        .await
        .0,
        422
    );
    assert_eq!(
        app.call(
            "POST",
            &format!("{path}/status"),
            &sec,
            Some(json!({"move": "end"}))
        )
        .await
        .0,
        200
    );
    let (st, note) = app
        .call(
            "POST",
            &format!("{path}/notes"),
            &sec,
            Some(json!({"item": 1, "text": "Các thành viên thống nhất."})),
        )
        .await;
    assert_eq!(st, 201, "{note}");
    assert_eq!(
        app.call(
            "POST",
            &format!("{path}/notes"),
            &sec,
            Some(json!({"item": 9, "text": "x"}))
        )
        .await
        .0,
        422
    );
    assert_eq!(
        app.call("POST", &format!("{path}/notice"), &sec, None)
            .await
            .0,
        422,
        "no conclusion yet"
    );
    assert_eq!(
        app.call(
            "PUT",
            &format!("{path}/conclusion"),
            &sec,
            Some(json!({"item": 1, "conclusion": "Giao Sở KH&CN hoàn thiện kế hoạch."}))
        )
        .await
        .0,
        204
    );
    assert_eq!(
        app.call(
            "PUT",
            &format!("{path}/conclusion"),
            &chair,
            Some(json!({"conclusion": "x"}))
        )
        .await
        .0,
        403
    );
    let (st, concluded) = app
        .call("POST", &format!("{path}/notice"), &sec, None)
        .await;
    assert_eq!(
        (st, concluded["status"].clone()),
        (200, json!("concluded")),
        "{concluded}"
    );
    let notice = s(&concluded["notice_document"]);
    let (_, gv) = app.call("GET", &path, &guest, None).await;
    assert!(
        gv.to_string().contains(&notice),
        "the notice is for every participant"
    );
    let (_, cv) = app.call("GET", &path, &chair, None).await;
    assert_eq!(list(&cv["notes"]).len(), 1, "members read the minutes");
    let (_, _, notice_pdf) =
        fetch(&app, &format!("/api/v1/cabinet/documents/{notice}"), &guest).await;
    let (st, _, sig) = fetch(&app, &format!("{path}/notice.p7s"), &guest).await;
    assert_eq!(st, 200);
    let (_, _, ca) = fetch(&app, "/api/v1/cabinet/authority.pem", "").await;
    let dir = ok(tempfile::tempdir());
    assert!(
        openssl_verifies(dir.path(), &notice_pdf, &sig, &ca),
        "the notice verifies"
    );
    assert!(!openssl_verifies(dir.path(), &pdf("KHÁC"), &sig, &ca));
    // Concluded: the list of participants no longer changes.
    assert_eq!(
        app.call(
            "PUT",
            &format!("{path}/participants/vanthu"),
            &sec,
            Some(json!({"role": "guest"}))
        )
        .await
        .0,
        409
    );
}

fn enc_time(t: chrono::DateTime<chrono::Utc>) -> String {
    testkit::enc(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

async fn pdf_bytes_of(app: &TestApp, d: &Value) -> Vec<u8> {
    let id = ok(kernel::blob::BlobId::parse(&s(&d["sha256"])));
    ok(app.state.blobs.get(&id))
}

async fn papers_come_from_the_exchange_hub(b: Backend) {
    let app = ok(spawn_app(b, Spawn::default()).await);
    let sec = app.token("thuky.ubnd", &ADMIN).await;
    let now = app.clock_now();
    let (_, m) = app
        .call("POST", "/api/v1/cabinet/meetings", &sec, Some(json!({"body": BODY, "title": "Họp giao ban",
            "starts_at": now + Duration::days(1), "ends_at": now + Duration::days(1) + Duration::hours(1), "place": "Phòng 2"})))
        .await;
    let id = s(&m["id"]);
    ok(motcua::app::seed_demo_exchange(&app.state).await);
    // A document the People's Committee sent through the hub.
    let hub: Option<String> = ok(kernel::on_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT id FROM exchange_documents WHERE sender = $1 AND attachments > 0 ORDER BY id LIMIT 1"
    ).bind(BODY).fetch_optional(p).await));
    let hub = hub.unwrap_or_else(|| panic!("the demo hub has a document for {BODY}"));
    let import = json!({"hub_id": hub, "attachment": 0, "access": "members"});
    let path = format!("/api/v1/cabinet/meetings/{id}/documents/from-exchange");
    // The secretary is not the People's Committee's clerk: the hub refuses to show it.
    let (st, body) = app.call("POST", &path, &sec, Some(import.clone())).await;
    assert_eq!(st, 403, "{body}");
    ok(app
        .state
        .identity
        .grant("thuky.ubnd", identity::Role::Clerk, Some(BODY), "test")
        .await);
    let sec = app
        .token(
            "thuky.ubnd",
            &["cabinet", "cabinet:admin", "documents:exchange"],
        )
        .await;
    let (st, d) = app.call("POST", &path, &sec, Some(import.clone())).await;
    assert_eq!(st, 201, "{d}");
    assert!(s(&d["source"]).starts_with("exchange:"));
    let (st, _) = app
        .call(
            "POST",
            &path,
            &sec,
            Some(json!({"hub_id": hub, "attachment": 99, "access": "members"})),
        )
        .await;
    assert_eq!(st, 404);
    // The secretary's page offers the committee's documents on the hub and takes one in.
    let page = format!("/noi-cac/thu-ky/hop/{id}");
    let (st, _, html) = fetch(&app, &page, &sec).await;
    assert_eq!(st, 200);
    let html = String::from_utf8_lossy(&html);
    assert!(
        html.contains("data-testid=\"import\"") && html.contains(&hub),
        "the hub's document is offered"
    );
    let r = ok(app
        .client
        .post(app.url(&page))
        .bearer_auth(&sec)
        .form(&[
            ("act", "import"),
            ("hub", hub.as_str()),
            ("attachment", "1"),
            ("access", "participants"),
        ])
        .send()
        .await);
    assert_eq!(r.status().as_u16(), 303);
    let r = ok(app
        .client
        .post(app.url(&page))
        .bearer_auth(&sec)
        .form(&[
            ("act", "import"),
            ("hub", hub.as_str()),
            ("attachment", "0"),
            ("access", "participants"),
        ])
        .send()
        .await);
    assert_eq!(r.status().as_u16(), 422, "attachments count from 1");
    let (_, v) = app
        .call("GET", &format!("/api/v1/cabinet/meetings/{id}"), &sec, None)
        .await;
    let from_hub = list(&v["documents"])
        .iter()
        .filter(|d| s(&d["source"]) == format!("exchange:{hub}"))
        .count();
    assert_eq!(from_hub, 2, "once from the API, once from the page: {v}");
}

/// PDFs are read and stamped by the node's own binary in a process of its own: a crafted file
/// that overflows the reader's stack ends that process, not the server.
async fn a_pdf_that_crashes_the_reader_only_ends_the_worker(b: Backend) {
    let app = ok(spawn_app(
        b,
        Spawn {
            pdf_worker: Some(env!("CARGO_BIN_EXE_motcua").into()),
            ..Spawn::default()
        },
    )
    .await);
    let sec = app.token("thuky.ubnd", &ADMIN).await;
    let chair = app.token("chutich.ubnd", &MEMBER).await;
    let (_, meetings) = app
        .call("GET", "/api/v1/cabinet/meetings", &sec, None)
        .await;
    let id = s(&list(&meetings)[0]["meeting"]["id"]);
    let docs = format!("/api/v1/cabinet/meetings/{id}/documents");
    let mut deep = b"%PDF-1.7\n1 0 obj\n".to_vec();
    deep.extend(std::iter::repeat_n(b'[', 200_000));
    deep.extend(std::iter::repeat_n(b']', 200_000));
    deep.extend_from_slice(b"\nendobj\ntrailer\n<</Root 1 0 R>>\n%%EOF\n");
    let (st, body) = upload(
        &app,
        &docs,
        &sec,
        &[("title", "Bẫy"), ("access", "confidential")],
        Some(("bay.pdf", deep)),
    )
    .await;
    assert_eq!(
        (st, s(&body["code"])),
        (422, "document_unreadable".to_string()),
        "{body}"
    );
    assert_eq!(
        ok(app.get("/healthz").await).status().as_u16(),
        200,
        "the server goes on"
    );
    // A good one is checked and stamped by the worker.
    let (st, d) = upload(
        &app,
        &docs,
        &sec,
        &[("title", "Mật"), ("access", "confidential")],
        Some(("mat.pdf", pdf("MẬT"))),
    )
    .await;
    assert_eq!(st, 201, "{d}");
    let (st, headers, stamped) = fetch(
        &app,
        &format!("/api/v1/cabinet/documents/{}", s(&d["id"])),
        &chair,
    )
    .await;
    assert_eq!(st, 200);
    assert!(headers.get("x-motcua-stamped").is_some());
    assert_ne!(stamped, pdf_bytes_of(&app, &d).await);
    assert_eq!(ok(cabinet::watermark::page_count(&stamped)), 1);
}

/// Each cabinet route, for each kind of caller: anonymous, a citizen, an official called to
/// nothing, the demo meeting's guest, a member, the chair, the secretariat.
async fn cabinet_routes_answer_each_caller_as_the_table_says(b: Backend) {
    let app = ok(spawn_app(b, Spawn::default()).await);
    assert!(ok(cabinet::demo::seed_published(&app.state.cabinet).await));
    let sec = app.token("thuky.ubnd", &ADMIN).await;
    let (_, meetings) = app
        .call("GET", "/api/v1/cabinet/meetings", &sec, None)
        .await;
    let meeting = s(&list(&meetings)[0]["meeting"]["id"]);
    let (_, ballots) = app.call("GET", "/api/v1/cabinet/ballots", &sec, None).await;
    let open = list(&ballots)
        .iter()
        .find(|l| l["ballot"]["status"] == "open")
        .map(|l| s(&l["ballot"]["id"]))
        .unwrap_or_default();
    let published = list(&ballots)
        .iter()
        .find(|l| l["ballot"]["status"] == "published")
        .map(|l| s(&l["ballot"]["id"]))
        .unwrap_or_default();
    let (_, mv) = app
        .call(
            "GET",
            &format!("/api/v1/cabinet/meetings/{meeting}"),
            &sec,
            None,
        )
        .await;
    let docs: Vec<Value> = list(&mv["items"])
        .iter()
        .flat_map(|i| list(&i["documents"]).clone())
        .collect();
    let doc_of = |access: &str| {
        docs.iter()
            .find(|d| d["access"] == access)
            .map(|d| s(&d["id"]))
            .unwrap_or_default()
    };
    let (public_doc, secret_doc) = (doc_of("participants"), doc_of("confidential"));
    let mut callers = vec![String::new()];
    for (login, scopes) in [
        ("001095012345", &MEMBER[..]),
        ("tiepnhan", &MEMBER[..]),
        ("lanhdao", &MEMBER[..]),
        ("uyvien.ubnd", &MEMBER[..]),
        ("chutich.ubnd", &MEMBER[..]),
        ("thuky.ubnd", &ADMIN[..]),
    ] {
        callers.push(app.token(login, scopes).await);
    }
    // A token without the cabinet scope is refused whoever holds it.
    callers.push(app.token("chutich.ubnd", &["profile"]).await);
    let table: Vec<(&str, String, Option<Value>, [u16; 8])> = vec![
        (
            "GET",
            "/api/v1/cabinet/authority.pem".into(),
            None,
            [200; 8],
        ),
        (
            "GET",
            "/api/v1/cabinet/meetings".into(),
            None,
            [401, 403, 200, 200, 200, 200, 200, 403],
        ),
        (
            "GET",
            format!("/api/v1/cabinet/meetings/{meeting}"),
            None,
            [401, 403, 403, 200, 200, 200, 200, 403],
        ),
        (
            "GET",
            format!("/api/v1/cabinet/documents/{public_doc}"),
            None,
            [401, 403, 403, 200, 200, 200, 200, 403],
        ),
        (
            "GET",
            format!("/api/v1/cabinet/documents/{secret_doc}"),
            None,
            [401, 403, 403, 403, 200, 200, 200, 403],
        ),
        (
            "GET",
            format!("/api/v1/cabinet/meetings/{meeting}/notice.p7s"),
            None,
            [401, 403, 403, 404, 404, 404, 404, 403],
        ),
        (
            "GET",
            format!("/api/v1/cabinet/bodies/{BODY}/members"),
            None,
            [401, 403, 403, 403, 403, 403, 200, 403],
        ),
        (
            "PUT",
            format!("/api/v1/cabinet/bodies/{BODY}/members/tiepnhan"),
            Some(json!({"position": "chief"})),
            [401, 422, 422, 422, 422, 422, 422, 422],
        ),
        (
            "PUT",
            format!("/api/v1/cabinet/bodies/{BODY}/members/khong-co"),
            Some(json!({"position": "member"})),
            [401, 403, 403, 403, 403, 403, 422, 403],
        ),
        (
            "DELETE",
            format!("/api/v1/cabinet/bodies/{BODY}/members/khong-co"),
            None,
            [401, 403, 403, 403, 403, 403, 422, 403],
        ),
        (
            "POST",
            "/api/v1/cabinet/meetings".into(),
            Some(
                json!({"body": BODY, "title": "", "starts_at": "2026-03-10T01:00:00Z", "ends_at": "2026-03-10T02:00:00Z", "place": "x"}),
            ),
            [401, 403, 403, 403, 403, 403, 422, 403],
        ),
        (
            "PUT",
            format!("/api/v1/cabinet/meetings/{meeting}"),
            Some(
                json!({"body": BODY, "title": "", "starts_at": "2026-03-10T01:00:00Z", "ends_at": "2026-03-10T02:00:00Z", "place": "x"}),
            ),
            [401, 403, 403, 403, 403, 403, 422, 403],
        ),
        (
            "POST",
            format!("/api/v1/cabinet/meetings/{meeting}/status"),
            Some(json!({"move": "call"})),
            [401, 403, 403, 403, 403, 403, 409, 403],
        ),
        (
            "PUT",
            format!("/api/v1/cabinet/meetings/{meeting}/participants/khong-co"),
            Some(json!({"role": "guest"})),
            [401, 403, 403, 403, 403, 403, 422, 403],
        ),
        (
            "DELETE",
            format!("/api/v1/cabinet/meetings/{meeting}/participants/khong-co"),
            None,
            [401, 403, 403, 403, 403, 403, 422, 403],
        ),
        (
            "POST",
            format!("/api/v1/cabinet/meetings/{meeting}/items"),
            Some(json!({"title": ""})),
            [401, 403, 403, 403, 403, 403, 422, 403],
        ),
        (
            "PUT",
            format!("/api/v1/cabinet/meetings/{meeting}/conclusion"),
            Some(json!({"item": 99, "conclusion": "x"})),
            [401, 403, 403, 403, 403, 403, 404, 403],
        ),
        (
            "POST",
            format!("/api/v1/cabinet/meetings/{meeting}/notes"),
            Some(json!({"text": ""})),
            [401, 403, 403, 403, 403, 403, 422, 403],
        ),
        (
            "PUT",
            format!("/api/v1/cabinet/meetings/{meeting}/attendance"),
            Some(json!({"login": "x", "attendance": "maybe"})),
            [401, 403, 403, 403, 403, 403, 422, 403],
        ),
        (
            "POST",
            format!("/api/v1/cabinet/meetings/{meeting}/documents/from-exchange"),
            Some(json!({"hub_id": "x", "access": "members"})),
            [401, 403, 403, 403, 403, 403, 404, 403],
        ),
        (
            "POST",
            format!("/api/v1/cabinet/meetings/{meeting}/notice"),
            None,
            [401, 403, 403, 403, 403, 403, 409, 403],
        ),
        (
            "GET",
            "/api/v1/cabinet/ballots".into(),
            None,
            [401, 403, 200, 200, 200, 200, 200, 403],
        ),
        (
            "POST",
            "/api/v1/cabinet/ballots".into(),
            Some(
                json!({"body": BODY, "title": "", "questions": [], "deadline": "2030-01-01T00:00:00Z"}),
            ),
            [401, 403, 403, 403, 403, 403, 422, 403],
        ),
        (
            "GET",
            format!("/api/v1/cabinet/ballots/{open}"),
            None,
            [401, 403, 403, 403, 200, 200, 200, 403],
        ),
        (
            "PUT",
            format!("/api/v1/cabinet/ballots/{open}"),
            Some(
                json!({"body": BODY, "title": "x", "questions": ["q"], "deadline": "2030-01-01T00:00:00Z"}),
            ),
            [401, 403, 403, 403, 403, 403, 409, 403],
        ),
        (
            "PUT",
            format!("/api/v1/cabinet/ballots/{open}/vote"),
            Some(json!({"answers": []})),
            [401, 403, 403, 403, 422, 422, 403, 403],
        ),
        (
            "POST",
            format!("/api/v1/cabinet/ballots/{open}/status"),
            Some(json!({"move": "publish"})),
            [401, 403, 403, 403, 403, 403, 409, 403],
        ),
        (
            "POST",
            format!("/api/v1/cabinet/ballots/{open}/reminders"),
            None,
            [401, 403, 403, 403, 403, 403, 200, 403],
        ),
        (
            "GET",
            format!("/api/v1/cabinet/ballots/{open}/verification"),
            None,
            [401, 403, 403, 403, 403, 403, 200, 403],
        ),
        (
            "GET",
            format!("/api/v1/cabinet/ballots/{open}/votes/chutich.ubnd/document"),
            None,
            [401, 403, 403, 403, 403, 404, 403, 403],
        ),
        (
            "GET",
            format!("/api/v1/cabinet/ballots/{open}/votes/chutich.ubnd/signature"),
            None,
            [401, 403, 403, 403, 403, 404, 403, 403],
        ),
        (
            "GET",
            format!("/api/v1/cabinet/ballots/{open}/archive"),
            None,
            [401, 403, 403, 403, 409, 409, 409, 403],
        ),
        (
            "GET",
            format!("/api/v1/cabinet/ballots/{published}/archive"),
            None,
            [401, 403, 403, 403, 200, 200, 200, 403],
        ),
        (
            "GET",
            format!("/api/v1/cabinet/ballots/{published}/summary.p7s"),
            None,
            [401, 403, 403, 403, 200, 200, 200, 403],
        ),
        (
            "GET",
            format!("/api/v1/cabinet/ballots/{published}/votes/chutich.ubnd/document"),
            None,
            [401, 403, 403, 403, 200, 200, 200, 403],
        ),
    ];
    for (method, path, body, expected) in &table {
        for (i, t) in callers.iter().enumerate() {
            let mut rb = app
                .client
                .request(method.parse().unwrap_or_default(), app.url(path));
            if !t.is_empty() {
                rb = rb.bearer_auth(t);
            }
            if let Some(b) = body {
                rb = rb.json(b);
            }
            let r = ok(rb.send().await);
            let st = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            assert_eq!(st, expected[i], "{method} {path} as caller {i}: {text}");
        }
    }
    // The pages, for the same callers (bearer tokens stand for a session here).
    let doc_page = format!("/noi-cac/tai-lieu/{secret_doc}");
    for (path, expected) in [
        (
            "/noi-cac".to_string(),
            [303u16, 403, 200, 200, 200, 200, 200, 403],
        ),
        (
            format!("/noi-cac/hop/{meeting}"),
            [303, 403, 403, 200, 200, 200, 200, 403],
        ),
        (doc_page, [303, 403, 403, 403, 200, 200, 200, 403]),
        (
            format!("/noi-cac/phieu/{open}"),
            [303, 403, 403, 403, 200, 200, 200, 403],
        ),
        (
            "/noi-cac/thu-ky".to_string(),
            [303, 403, 403, 403, 403, 403, 200, 403],
        ),
        (
            format!("/noi-cac/thu-ky/hop/{meeting}"),
            [303, 403, 403, 403, 403, 403, 200, 403],
        ),
        (
            format!("/noi-cac/thu-ky/phieu/{open}"),
            [303, 403, 403, 403, 403, 403, 200, 403],
        ),
    ] {
        for (i, t) in callers.iter().enumerate() {
            let mut rb = app.client.get(app.url(&path));
            if !t.is_empty() {
                rb = rb.bearer_auth(t);
            }
            let st = ok(rb.send().await).status().as_u16();
            assert_eq!(st, expected[i], "GET {path} as caller {i}");
        }
    }
    // Uploads: multipart, the secretariat only.
    for (path, expected) in [
        (
            format!("/api/v1/cabinet/meetings/{meeting}/documents"),
            [401u16, 403, 403, 403, 403, 403, 201, 403],
        ),
        (
            format!("/api/v1/cabinet/ballots/{open}/documents"),
            [401, 403, 403, 403, 403, 403, 409, 403],
        ),
    ] {
        for (i, t) in callers.iter().enumerate() {
            let (st, body) = upload(
                &app,
                &path,
                t,
                &[("title", "Phụ lục"), ("access", "members")],
                Some(("phu-luc.pdf", pdf("PHỤ LỤC"))),
            )
            .await;
            assert_eq!(st, expected[i], "POST {path} as caller {i}: {body}");
        }
    }
}

both!(
    a_ballot_is_voted_signed_changed_closed_counted_and_published,
    a_vote_altered_in_the_database_is_found_and_stops_the_close,
    a_meeting_is_prepared_called_held_and_concluded,
    papers_come_from_the_exchange_hub,
    a_pdf_that_crashes_the_reader_only_ends_the_worker,
    cabinet_routes_answer_each_caller_as_the_table_says,
);
