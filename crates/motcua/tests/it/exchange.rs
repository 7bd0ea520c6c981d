//! The document exchange hub over HTTP, on SQLite and PostgreSQL: two agencies' systems
//! exchange a document end to end, with every status reaching the sender; signatures made by
//! `openssl` verify in motcua and those made by motcua (packages, receipts) verify with
//! `openssl`; bad packages are refused with nothing stored; a revoked certificate signs
//! nothing more and is listed in the CRL; pushes reach an agency's endpoint after failures.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine;
use chrono::Duration;
use serde_json::{Value, json};
use testkit::{Backend, Spawn, TestApp, both, spawn_app};

use crate::{cli, path};

use exchange::edxml::{self, StatusCode};

/// The People's Committee of Hà Nội: its system holds its own key, certified by the node.
const A: &str = "000.00.00.H26";
/// The service centre: its certificate comes from an outside CA.
const B: &str = "000.00.02.H26";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Runs openssl; panics with its output when it fails and `must` is set.
fn openssl(args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// An agency's system outside motcua: its key and certificate as files, and openssl to sign.
struct System {
    dir: PathBuf,
    name: &'static str,
}

impl System {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{}-{name}", self.name))
    }
    /// A new RSA key; answers the public key PEM.
    fn new_key(&self) -> String {
        let key = self.file("key.pem");
        let (ok, out) = openssl(
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                key.to_str().unwrap_or_default(),
            ],
            &self.dir,
        );
        assert!(ok, "{out}");
        let pubkey = self.file("pub.pem");
        let (ok, out) = openssl(
            &[
                "pkey",
                "-in",
                key.to_str().unwrap_or_default(),
                "-pubout",
                "-out",
                pubkey.to_str().unwrap_or_default(),
            ],
            &self.dir,
        );
        assert!(ok, "{out}");
        std::fs::read_to_string(pubkey).unwrap_or_else(|e| panic!("{e}"))
    }
    /// A new key with a self-signed certificate, as an outside CA would give; answers its PEM.
    fn self_signed(&self, cn: &str) -> String {
        let (key, cert) = (self.file("key.pem"), self.file("cert.pem"));
        let (ok, out) = openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "3650",
                "-subj",
                &format!("/C=VN/O=Outside CA test/CN={cn}"),
                "-keyout",
                key.to_str().unwrap_or_default(),
                "-out",
                cert.to_str().unwrap_or_default(),
            ],
            &self.dir,
        );
        assert!(ok, "{out}");
        std::fs::read_to_string(cert).unwrap_or_else(|e| panic!("{e}"))
    }
    fn set_certificate(&self, pem: &str) {
        std::fs::write(self.file("cert.pem"), pem).unwrap_or_else(|e| panic!("{e}"));
    }
    /// `openssl cms -sign` over `bytes`: a detached DER signature.
    fn sign(&self, bytes: &[u8]) -> Vec<u8> {
        let (input, sig) = (self.file("in.xml"), self.file("in.p7s"));
        std::fs::write(&input, bytes).unwrap_or_else(|e| panic!("{e}"));
        let (ok, out) = openssl(
            &[
                "cms",
                "-sign",
                "-binary",
                "-in",
                input.to_str().unwrap_or_default(),
                "-signer",
                self.file("cert.pem").to_str().unwrap_or_default(),
                "-inkey",
                self.file("key.pem").to_str().unwrap_or_default(),
                "-outform",
                "DER",
                "-out",
                sig.to_str().unwrap_or_default(),
            ],
            &self.dir,
        );
        assert!(ok, "{out}");
        std::fs::read(sig).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Whether `openssl cms -verify` accepts `sig` over `content` with `ca` as the trust anchor.
fn openssl_verifies(dir: &Path, content: &[u8], sig: &[u8], ca: &str) -> bool {
    let (c, s, a) = (
        dir.join("v.content"),
        dir.join("v.p7s"),
        dir.join("v-ca.pem"),
    );
    std::fs::write(&c, content).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&s, sig).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&a, ca).unwrap_or_else(|e| panic!("{e}"));
    let (ok, _) = openssl(
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-purpose",
            "any",
            "-in",
            s.to_str().unwrap_or_default(),
            "-content",
            c.to_str().unwrap_or_default(),
            "-CAfile",
            a.to_str().unwrap_or_default(),
            "-out",
            "/dev/null",
        ],
        dir,
    );
    ok
}

/// Sends a package that must be refused with `status` and the problem `code`.
#[allow(clippy::too_many_arguments)]
async fn refused_with(
    app: &TestApp,
    token: &str,
    path: &str,
    package: &[u8],
    sig: &[u8],
    status: u16,
    code: &str,
) {
    let (st, e) = send(app, token, path, package, sig).await;
    assert_eq!((st, e["code"].as_str()), (status, Some(code)), "{e}");
}

/// Sends a package with its signature; the status and JSON answer.
async fn send(app: &TestApp, token: &str, path: &str, package: &[u8], sig: &[u8]) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/xml")
        .header("x-motcua-signature", b64(sig))
        .body(package.to_vec())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

async fn get_bytes(app: &TestApp, token: &str, path: &str) -> (u16, Vec<u8>, Option<String>) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let st = r.status().as_u16();
    let sig = r
        .headers()
        .get("x-motcua-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (st, r.bytes().await.unwrap_or_default().to_vec(), sig)
}

async fn count(app: &TestApp, table: &str) -> i64 {
    kernel::on_db!(&app.state.db, p => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(p).await)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A package from A to `to`, number `n`, with a PDF attachment.
fn package(to: &[&str], n: u32) -> edxml::Package {
    let mut p = edxml::sample_package(A, to, n);
    p.attachments = vec![edxml::Attachment {
        content_id: "1".into(),
        name: format!("cong-van-{n}.pdf"),
        content_type: "application/pdf".into(),
        description: "Bản đã ký".into(),
        data: exchange::demo::simple_pdf(&format!("Cong van so {n}")),
    }];
    p
}

fn bytes_of(p: &edxml::Package) -> Vec<u8> {
    edxml::write(p, &edxml::Profile::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn status_bytes(answering: &edxml::Package, code: StatusCode, note: &str) -> Vec<u8> {
    let mut s = edxml::sample_status(B, answering, code);
    s.description = note.to_string();
    edxml::write_status(&s, &edxml::Profile::default()).unwrap_or_else(|e| panic!("{e}"))
}

async fn setup(app: &TestApp, dir: &Path) -> (String, String, String, System, System, String) {
    // Certificates made by openssl start now: the node's clock is set to the real time.
    app.clock.set(chrono::Utc::now() + Duration::minutes(2));
    let op = app.token("quantri", &["exchange:admin"]).await;
    for (organ, name) in [
        (A, "Ủy ban nhân dân Thành phố Hà Nội"),
        (B, "Trung tâm Phục vụ hành chính công Thành phố Hà Nội"),
    ] {
        let (st, v) = app
            .call(
                "POST",
                "/api/v1/exchange/agencies",
                &op,
                Some(json!({"organ_id": organ, "name": name})),
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }
    // The hub's registry is for the exchange's users: a token for the profile alone gets 403.
    let profile_only = app.token("quantri", &["profile"]).await;
    for path in [
        "/api/v1/exchange/agencies".to_string(),
        format!("/api/v1/exchange/agencies/{A}"),
    ] {
        let (st, e) = app.call("GET", &path, &profile_only, None).await;
        assert_eq!(
            (st, e["code"].as_str()),
            (403, Some("forbidden")),
            "{path}: {e}"
        );
        let (st, v) = app.call("GET", &path, &op, None).await;
        assert_eq!(st, 200, "{path}: {v}");
    }
    let a = System {
        dir: dir.to_path_buf(),
        name: "a",
    };
    let pubkey = a.new_key();
    let (st, c) = app
        .call(
            "POST",
            &format!("/api/v1/exchange/agencies/{A}/certificates"),
            &op,
            Some(json!({"public_key_pem": pubkey})),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    assert_eq!(c["source"], "issued");
    assert_eq!(c["key_held"], false);
    a.set_certificate(c["certificate_pem"].as_str().unwrap_or_default());
    let b = System {
        dir: dir.to_path_buf(),
        name: "b",
    };
    let pem = b.self_signed(B);
    let (st, c) = app
        .call(
            "POST",
            &format!("/api/v1/exchange/agencies/{B}/certificates"),
            &op,
            Some(json!({"certificate_pem": pem})),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    assert_eq!(c["source"], "imported");
    // The same certificate twice is refused.
    let (st, _) = app
        .call(
            "POST",
            &format!("/api/v1/exchange/agencies/{B}/certificates"),
            &op,
            Some(json!({"certificate_pem": pem})),
        )
        .await;
    assert_eq!(st, 409);
    let ca = app
        .get("/api/v1/exchange/ca")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    let ta = app.token("vanthu.ubnd", &["documents:exchange"]).await;
    let tb = app.token("vanthu", &["documents:exchange"]).await;
    (op, ta, tb, a, b, ca)
}

async fn documents_travel_between_agencies_with_every_status(backend: Backend) {
    let app = spawn_app(backend, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (op, ta, tb, a, b, ca) = setup(&app, dir.path()).await;

    // A's system signs with openssl; the hub takes it.
    let p = package(&[B], 7);
    let bytes = bytes_of(&p);
    let sig = a.sign(&bytes);
    let (st, d) = send(&app, &ta, "/api/v1/exchange/documents", &bytes, &sig).await;
    assert_eq!(st, 201, "{d}");
    let id = d["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(d["sender"], A);
    assert_eq!(d["deliveries"][0]["recipient"], B);
    assert_eq!(d["deliveries"][0]["status"], "sent");
    assert_eq!(d["receipts"][0]["kind"], "accepted");

    // The same bytes again are a replay; the same document as new again is refused too.
    refused_with(
        &app,
        &ta,
        "/api/v1/exchange/documents",
        &bytes,
        &sig,
        409,
        "replayed",
    )
    .await;
    let mut again = p.clone();
    again.header.content.push_str(" (gửi lại)");
    let again = bytes_of(&again);
    refused_with(
        &app,
        &ta,
        "/api/v1/exchange/documents",
        &again,
        &a.sign(&again),
        409,
        "document_exists",
    )
    .await;

    // The recipient's clerk sees it waiting; the sender's may not look at B's inbox.
    let (st, inbox) = app
        .call(
            "GET",
            &format!("/api/v1/exchange/inbox?agency={B}"),
            &tb,
            None,
        )
        .await;
    assert_eq!(st, 200, "{inbox}");
    assert_eq!(inbox[0]["id"], id.as_str());
    let (st, _) = app
        .call(
            "GET",
            &format!("/api/v1/exchange/inbox?agency={B}"),
            &ta,
            None,
        )
        .await;
    assert_eq!(st, 403);

    // Fetching is the hand-over: the same bytes and signature, and a signed receipt.
    let (st, got, got_sig) = get_bytes(
        &app,
        &tb,
        &format!("/api/v1/exchange/documents/{id}/package"),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(got, bytes);
    assert_eq!(got_sig.as_deref(), Some(b64(&sig).as_str()));
    let (_, inbox) = app
        .call(
            "GET",
            &format!("/api/v1/exchange/inbox?agency={B}"),
            &tb,
            None,
        )
        .await;
    assert_eq!(inbox.as_array().map(Vec::len), Some(0), "{inbox}");

    // Each status B's system signs reaches A at once; out of order or replayed is refused.
    let mut last = Vec::new();
    for (code, note) in [
        (StatusCode::Arrived, ""),
        (StatusCode::Accepted, "Vào sổ đến"),
        (
            StatusCode::Assigned,
            "Giao phòng Kiểm soát thủ tục hành chính",
        ),
        (StatusCode::InProgress, ""),
        (StatusCode::Completed, "Đã thực hiện"),
    ] {
        let s = status_bytes(&p, code, note);
        let (st, d) = send(&app, &tb, "/api/v1/exchange/statuses", &s, &b.sign(&s)).await;
        assert_eq!(st, 201, "{code:?}: {d}");
        let (st, seen) = app
            .call(
                "GET",
                &format!("/api/v1/exchange/documents/{id}"),
                &ta,
                None,
            )
            .await;
        assert_eq!(st, 200);
        assert_eq!(seen["deliveries"][0]["status"], code.code(), "{seen}");
        if code == StatusCode::Accepted {
            let (st, e) = send(
                &app,
                &tb,
                "/api/v1/exchange/statuses",
                &last,
                &b.sign(&last),
            )
            .await;
            assert_eq!(st, 409, "a replayed status: {e}");
            let back = status_bytes(&p, StatusCode::Arrived, "lại");
            refused_with(
                &app,
                &tb,
                "/api/v1/exchange/statuses",
                &back,
                &b.sign(&back),
                409,
                "status_out_of_order",
            )
            .await;
        }
        last = s;
    }
    let (_, seen) = app
        .call(
            "GET",
            &format!("/api/v1/exchange/documents/{id}"),
            &ta,
            None,
        )
        .await;
    let history: Vec<&str> = seen["deliveries"][0]["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|x| x["code"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(history, ["01", "03", "04", "05", "06"], "{seen}");
    assert_eq!(seen["deliveries"][0]["register_number"], 1);
    let kinds: Vec<&str> = seen["receipts"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x["kind"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        kinds.iter().filter(|k| **k == "delivered").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "status").count(),
        5,
        "{kinds:?}"
    );

    // The registers: out for A, in for B, searchable without diacritics.
    let (st, out) = app
        .call(
            "GET",
            &format!("/api/v1/exchange/register?agency={A}&direction=out&year=2026"),
            &ta,
            None,
        )
        .await;
    assert_eq!(st, 200, "{out}");
    assert_eq!(out[0]["number"], 1);
    assert_eq!(out[0]["status"], "1/1");
    let (_, inn) = app.call("GET", &format!("/api/v1/exchange/register?agency={B}&direction=in&year=2026&q=trien%20khai%20truc%20tuyen"), &tb, None).await;
    assert_eq!(inn[0]["document"], id.as_str(), "{inn}");
    let (_, none) = app
        .call(
            "GET",
            &format!("/api/v1/exchange/register?agency={B}&direction=in&year=2026&q=dat%20dai"),
            &tb,
            None,
        )
        .await;
    assert_eq!(none.as_array().map(Vec::len), Some(0), "{none}");

    // The hub's receipts verify with openssl against the node's CA; a changed byte fails.
    let receipt = seen["receipts"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (st, body, _) = get_bytes(&app, &ta, &format!("/api/v1/exchange/receipts/{receipt}")).await;
    assert_eq!(st, 200);
    let (_, rsig, _) = get_bytes(
        &app,
        &ta,
        &format!("/api/v1/exchange/receipts/{receipt}/signature"),
    )
    .await;
    assert!(
        openssl_verifies(dir.path(), &body, &rsig, &ca),
        "the receipt verifies"
    );
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    assert!(
        !openssl_verifies(dir.path(), &tampered, &rsig, &ca),
        "a changed receipt fails"
    );
    let r: Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(r["kind"], "accepted");
    assert_eq!(r["facts"]["package_sha256"], d["package_sha256"]);

    // A's signature as the hub keeps it verifies with openssl (with A's certificate, which
    // the node's CA issued); a tampered package fails in openssl and in motcua.
    let (_, kept_sig, _) = get_bytes(
        &app,
        &ta,
        &format!("/api/v1/exchange/documents/{id}/signature"),
    )
    .await;
    assert!(openssl_verifies(dir.path(), &bytes, &kept_sig, &ca));
    let mut bad = bytes.clone();
    let at = bad.len() / 2;
    bad[at] = if bad[at] == b'a' { b'b' } else { b'a' };
    assert!(!openssl_verifies(dir.path(), &bad, &kept_sig, &ca));
    let (st, e) = send(&app, &ta, "/api/v1/exchange/documents", &bad, &sig).await;
    assert!(st == 422 || st == 400, "{st} {e}");

    // A recall names the document it recalls; one naming none the sender sent is refused.
    let mut recall = p.clone();
    recall.business.business_doc_type = edxml::BusinessType::Revoke;
    recall.business.business_doc_reason = "Ban hành nhầm phụ lục".into();
    recall.business.document_id = Some(p.document_id());
    let rb = bytes_of(&recall);
    let (st, r) = send(&app, &ta, "/api/v1/exchange/documents", &rb, &a.sign(&rb)).await;
    assert_eq!(st, 201, "{r}");
    assert_eq!(
        (r["business"].as_str(), r["refers_to"].as_str()),
        (Some("revoke"), Some(id.as_str())),
        "{r}"
    );
    recall.business.document_id = Some("000.00.00.H26,2020/01/01,999/KHONG-CO".into());
    let rb = bytes_of(&recall);
    refused_with(
        &app,
        &ta,
        "/api/v1/exchange/documents",
        &rb,
        &a.sign(&rb),
        422,
        "unknown_document",
    )
    .await;
    let (_, _, _) = get_bytes(
        &app,
        &tb,
        &format!(
            "/api/v1/exchange/documents/{}/package",
            r["id"].as_str().unwrap_or_default()
        ),
    )
    .await;

    // The command line: a package checked against the registry, or offline against a
    // certificate, and one handed to the hub from files.
    let pkg = dir.path().join("cv.xml");
    let p7s = dir.path().join("cv.p7s");
    std::fs::write(&pkg, &bytes).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&p7s, &sig).unwrap_or_else(|e| panic!("{e}"));
    let (ok, out) = cli(
        &app,
        &[
            "exchange",
            "verify",
            "--package",
            path(&pkg),
            "--signature",
            path(&p7s),
        ],
    );
    assert!(ok && out.contains(A), "{out}");
    let cert = dir.path().join("a-cert.pem");
    let (ok, out) = cli(
        &app,
        &[
            "exchange",
            "verify",
            "--package",
            path(&pkg),
            "--signature",
            path(&p7s),
            "--certificate",
            path(&cert),
        ],
    );
    assert!(ok, "{out}");
    let bad_pkg = dir.path().join("bad.xml");
    std::fs::write(&bad_pkg, &bad).unwrap_or_else(|e| panic!("{e}"));
    let (ok, out) = cli(
        &app,
        &[
            "exchange",
            "verify",
            "--package",
            path(&bad_pkg),
            "--signature",
            path(&p7s),
            "--certificate",
            path(&cert),
        ],
    );
    assert!(!ok, "a tampered package fails: {out}");
    let nine = bytes_of(&package(&[B], 9));
    std::fs::write(&pkg, &nine).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&p7s, a.sign(&nine)).unwrap_or_else(|e| panic!("{e}"));
    let (ok, out) = cli(
        &app,
        &[
            "exchange",
            "send",
            "--package",
            path(&pkg),
            "--signature",
            path(&p7s),
        ],
    );
    assert!(ok && out.contains("\"sender\": \"000.00.00.H26\""), "{out}");
    let (_, inbox) = app
        .call(
            "GET",
            &format!("/api/v1/exchange/inbox?agency={B}"),
            &tb,
            None,
        )
        .await;
    assert_eq!(inbox.as_array().map(Vec::len), Some(1), "{inbox}");

    // A package signed by motcua (the key the node keeps for the Department of Justice)
    // verifies with openssl against the node's CA; a changed byte fails.
    const C: &str = "000.00.03.H26";
    let (st, v) = app
        .call(
            "POST",
            "/api/v1/exchange/agencies",
            &op,
            Some(json!({"organ_id": C, "name": "Sở Tư pháp Thành phố Hà Nội"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, c) = app
        .call(
            "POST",
            &format!("/api/v1/exchange/agencies/{C}/certificates"),
            &op,
            Some(json!({})),
        )
        .await;
    assert_eq!((st, c["key_held"].as_bool()), (201, Some(true)), "{c}");
    let mut from_c = edxml::sample_package(C, &[B], 21);
    from_c.header.document_id = None;
    let cb = bytes_of(&from_c);
    let cpkg = dir.path().join("c.xml");
    std::fs::write(&cpkg, &cb).unwrap_or_else(|e| panic!("{e}"));
    let made = dir.path().join("c.p7s");
    let (ok, out) = cli(
        &app,
        &[
            "exchange",
            "send",
            "--package",
            path(&cpkg),
            "--signature-out",
            path(&made),
        ],
    );
    assert!(ok, "{out}");
    let csig = std::fs::read(&made).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        openssl_verifies(dir.path(), &cb, &csig, &ca),
        "motcua's signature verifies with openssl"
    );
    let mut cb2 = cb.clone();
    let at = cb2.len() / 3;
    cb2[at] ^= 0x20;
    assert!(
        !openssl_verifies(dir.path(), &cb2, &csig, &ca),
        "and fails on a changed byte"
    );

    // Revoking A's certificate: nothing more signed with it is taken, and the CRL lists it.
    let serial = d["certificate_serial"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (st, _) = app
        .call(
            "POST",
            &format!("/api/v1/exchange/certificates/{serial}/revoke"),
            &ta,
            Some(json!({"reason": 1})),
        )
        .await;
    assert_eq!(st, 403, "a clerk does not revoke");
    let (st, c) = app
        .call(
            "POST",
            &format!("/api/v1/exchange/certificates/{serial}/revoke"),
            &op,
            Some(json!({"reason": 1})),
        )
        .await;
    assert_eq!(st, 200, "{c}");
    assert!(c["revoked_at"].is_string());
    let next = bytes_of(&package(&[B], 8));
    let before = count(&app, "exchange_documents").await;
    refused_with(
        &app,
        &ta,
        "/api/v1/exchange/documents",
        &next,
        &a.sign(&next),
        422,
        "certificate_revoked",
    )
    .await;
    assert_eq!(count(&app, "exchange_documents").await, before);
    let crl = app
        .get("/api/v1/exchange/crl")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .bytes()
        .await
        .unwrap_or_default();
    std::fs::write(dir.path().join("crl.der"), &crl).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("ca.pem"), &ca).unwrap_or_else(|e| panic!("{e}"));
    let (ok, text) = openssl(
        &[
            "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout", "-text",
        ],
        dir.path(),
    );
    assert!(ok, "{text}");
    assert!(
        text.to_ascii_lowercase().replace(':', "").contains(&serial),
        "{text}"
    );
    let (_, _) = openssl(
        &["crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem"],
        dir.path(),
    );
    let (ok, text) = openssl(
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            "ca.pem",
            "-CRLfile",
            "crl.pem",
            "a-cert.pem",
        ],
        dir.path(),
    );
    assert!(!ok && text.contains("revoked"), "{text}");
    let (ok, out) = cli(
        &app,
        &[
            "exchange",
            "verify",
            "--package",
            path(&pkg),
            "--signature",
            path(&p7s),
        ],
    );
    assert!(!ok && out.contains("revoked"), "{out}");

    // Every change above joined the audit chain, and the chain holds.
    kernel::audit::verify(&app.state.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let actions: Vec<String> = kernel::on_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE action LIKE 'exchange.%' ORDER BY seq"
    ).fetch_all(p).await)
    .unwrap_or_else(|e| panic!("{e}"));
    for a in [
        "exchange.agency.register",
        "exchange.certificate.add",
        "exchange.document.accept",
        "exchange.document.deliver",
        "exchange.document.status",
        "exchange.certificate.revoke",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
    }
    assert_eq!(
        actions
            .iter()
            .filter(|x| *x == "exchange.document.status")
            .count(),
        5
    );
}

async fn bad_packages_are_refused_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (_op, ta, tb, a, b, _ca) = setup(&app, dir.path()).await;
    let good = bytes_of(&package(&[B], 1));
    let head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("malformed", b"<edXML:edXML xmlns:edXML=\"http://www.mic.gov.vn/TBT/QCVN_102_2016\"><edXML:edXMLEnvelope>".to_vec(), 400, "edxml_malformed"),
        ("not XML at all", b"%PDF-1.4 hello".to_vec(), 400, ""),
        ("external entity", format!("{head}<!DOCTYPE edXML [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><edXML xmlns=\"http://www.mic.gov.vn/TBT/QCVN_102_2016\">&x;</edXML>").into_bytes(), 400, "edxml_doctype"),
        ("billion laughs", format!("{head}<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]><edXML>&lol3;</edXML>").into_bytes(), 400, "edxml_doctype"),
        ("another encoding", b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><edXML/>".to_vec(), 400, "edxml_encoding"),
        ("wrong root", format!("{head}<html/>").into_bytes(), 400, "edxml_wrong_root"),
        ("an unknown recipient", bytes_of(&package(&[B, "000.99.99.X99"], 2)), 422, "unknown_recipient"),
        ("an empty body", Vec::new(), 400, "missing_part"),
    ];
    let before = count(&app, "exchange_documents").await;
    for (what, body, status, kind) in cases {
        let sig = if body.is_empty() {
            a.sign(b"x")
        } else {
            a.sign(&body)
        };
        let (st, e) = send(&app, &ta, "/api/v1/exchange/documents", &body, &sig).await;
        assert_eq!(st, status, "{what}: {e}");
        if !kind.is_empty() {
            assert_eq!(e["code"], kind, "{what}: {e}");
        }
        assert!(
            e["title"].is_string() || e["detail"].is_string(),
            "{what}: a problem answer {e}"
        );
    }
    // Oversize: refused with 413 before it is read whole (the client may still be sending
    // when the answer comes and the connection closes; its own client, so that connection
    // serves nothing else).
    let mut huge = good.clone();
    huge.extend(std::iter::repeat_n(b' ', 11 * 1024 * 1024));
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/exchange/documents"))
        .bearer_auth(&ta)
        .header("x-motcua-signature", b64(&a.sign(b"x")))
        .body(huge)
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 413);
    }
    // Signatures: none, garbage, another agency's key, over other bytes.
    let r = app
        .client
        .post(app.url("/api/v1/exchange/documents"))
        .bearer_auth(&ta)
        .body(good.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status().as_u16(), 400);
    refused_with(
        &app,
        &ta,
        "/api/v1/exchange/documents",
        &good,
        b"not a signature",
        422,
        "signature_invalid",
    )
    .await;
    refused_with(
        &app,
        &ta,
        "/api/v1/exchange/documents",
        &good,
        &b.sign(&good),
        422,
        "certificate_unknown",
    )
    .await;
    refused_with(
        &app,
        &ta,
        "/api/v1/exchange/documents",
        &good,
        &a.sign(b"other bytes"),
        422,
        "signature_invalid",
    )
    .await;
    // The wrong user: B's clerk sending A's document.
    let (st, _) = send(
        &app,
        &tb,
        "/api/v1/exchange/documents",
        &good,
        &a.sign(&good),
    )
    .await;
    assert_eq!(st, 403);
    // Anonymous.
    let r = app
        .client
        .post(app.url("/api/v1/exchange/documents"))
        .header("x-motcua-signature", b64(&a.sign(&good)))
        .body(good.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(count(&app, "exchange_documents").await, before);
    assert_eq!(count(&app, "exchange_deliveries").await, 0);
    assert_eq!(count(&app, "exchange_register").await, 0);
    // And after all that, the good one goes through.
    let (st, d) = send(
        &app,
        &ta,
        "/api/v1/exchange/documents",
        &good,
        &a.sign(&good),
    )
    .await;
    assert_eq!(st, 201, "{d}");
}

/// What a test endpoint received.
#[derive(Default)]
struct Received {
    calls: usize,
    bodies: Vec<(Vec<u8>, String, String, String)>,
}

async fn pushes_reach_endpoints_after_failures(backend: Backend) {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode as Http};
    let app = spawn_app(backend, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (op, ta, tb, a, b, _ca) = setup(&app, dir.path()).await;
    // B's endpoint fails twice, then takes what it is sent.
    let got = Arc::new(Mutex::new(Received::default()));
    let seen = got.clone();
    let endpoint = axum::Router::new().route(
        "/edoc",
        axum::routing::post(move |h: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            async move {
                let mut g = seen.lock().unwrap_or_else(|e| e.into_inner());
                g.calls += 1;
                if g.calls <= 2 {
                    return Http::INTERNAL_SERVER_ERROR;
                }
                let header = |n: &str| {
                    h.get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                g.bodies.push((
                    body.to_vec(),
                    header("x-motcua-signature"),
                    header("x-motcua-push-signature"),
                    header("x-motcua-kind"),
                ));
                Http::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let at = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, endpoint).await;
    });
    let secret = "khoa-bi-mat-day-goi-tin-2026";
    let (st, v) = app
        .call("POST", "/api/v1/exchange/agencies", &op, Some(json!({"organ_id": B, "name": "Trung tâm Phục vụ hành chính công Thành phố Hà Nội", "endpoint": format!("http://{at}/edoc"), "push_secret": secret})))
        .await;
    assert_eq!(st, 200, "{v}");
    let bytes = bytes_of(&package(&[B], 3));
    let sig = a.sign(&bytes);
    let (st, d) = send(&app, &ta, "/api/v1/exchange/documents", &bytes, &sig).await;
    assert_eq!(st, 201, "{d}");
    let id = d["id"].as_str().unwrap_or_default().to_string();
    // The first try fails; the next waits 10 s, then 20 s, on the node's clock.
    let mut delivered = false;
    for round in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        if round % 4 == 3 {
            app.clock.advance(Duration::seconds(25));
        }
        let (_, doc) = app
            .call(
                "GET",
                &format!("/api/v1/exchange/documents/{id}"),
                &ta,
                None,
            )
            .await;
        if doc["deliveries"][0]["fetched_at"].is_string() {
            delivered = true;
            break;
        }
    }
    assert!(delivered, "the push went through after retries");
    {
        let g = got.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(g.calls, 3, "two failures, then success");
        let (body, sig_header, mac, kind) = &g.bodies[0];
        assert_eq!(body, &bytes);
        assert_eq!(sig_header, &b64(&sig));
        assert_eq!(mac, &exchange::push::push_signature(secret, &bytes));
        assert_eq!(kind, "document");
    }
    let (st, pushes) = app
        .call("GET", "/api/v1/exchange/pushes?all=true", &op, None)
        .await;
    assert_eq!(st, 200, "{pushes}");
    assert_eq!(pushes[0]["attempts"], 3, "{pushes}");
    assert!(pushes[0]["done_at"].is_string());
    let (st, _) = app.call("GET", "/api/v1/exchange/pushes", &ta, None).await;
    assert_eq!(st, 403);

    // A status B answers reaches A's endpoint too, as B signed it.
    let (st, v) = app
        .call("POST", "/api/v1/exchange/agencies", &op, Some(json!({"organ_id": A, "name": "Ủy ban nhân dân Thành phố Hà Nội", "endpoint": format!("http://{at}/edoc")})))
        .await;
    assert_eq!(st, 200, "{v}");
    let s = status_bytes(&package(&[B], 3), StatusCode::Arrived, "");
    let ssig = b.sign(&s);
    let (st, d) = send(&app, &tb, "/api/v1/exchange/statuses", &s, &ssig).await;
    assert_eq!(st, 201, "{d}");
    let mut pushed = None;
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let g = got.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(x) = g.bodies.iter().find(|x| x.3 == "status") {
            pushed = Some(x.clone());
            break;
        }
    }
    let (body, sig_header, mac, _) =
        pushed.unwrap_or_else(|| panic!("the status was pushed to the sender"));
    assert_eq!(body, s);
    assert_eq!(sig_header, b64(&ssig));
    assert_eq!(mac, "", "A set no push secret");
    let _ = tb;
}

/// Route × caller for the hub: clerks and leaders act for their own agency only, machine
/// clients for the agency they were registered for, the hub's operators read registers and
/// documents; every refusal is in the audit chain.
async fn each_caller_acts_only_for_its_agency(backend: Backend) {
    let app = spawn_app(backend, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (_op, ta, tb, a, _b, _ca) = setup(&app, dir.path()).await;
    let bytes = bytes_of(&package(&[B], 11));
    let (st, d) = send(
        &app,
        &ta,
        "/api/v1/exchange/documents",
        &bytes,
        &a.sign(&bytes),
    )
    .await;
    assert_eq!(st, 201, "{d}");
    let id = d["id"].as_str().unwrap_or_default().to_string();
    let s = ["documents:exchange", "exchange:admin"];
    let callers = [
        ("clerk of B", tb.clone()),
        ("clerk of A", ta.clone()),
        ("leader of B", app.token("lanhdao", &s).await),
        ("reception of B", app.token("tiepnhan", &s).await),
        ("administrator of B", app.token("quantri.coquan", &s).await),
        (
            "machine of B",
            app.machine_token("Phần mềm quản lý văn bản B", B, &["documents:exchange"])
                .await,
        ),
        (
            "machine of A",
            app.machine_token("Phần mềm quản lý văn bản A", A, &["documents:exchange"])
                .await,
        ),
        ("national operator", app.token("vanhanh", &s).await),
        ("citizen", app.token("001095012345", &s).await),
    ];
    let table: [(String, [u16; 9]); 5] = [
        (
            format!("/api/v1/exchange/inbox?agency={B}"),
            [200, 403, 200, 403, 403, 200, 403, 403, 403],
        ),
        (
            format!("/api/v1/exchange/register?agency={A}&direction=out"),
            [403, 200, 403, 403, 403, 403, 200, 200, 403],
        ),
        (
            format!("/api/v1/exchange/register?agency={B}&direction=in"),
            [200, 403, 200, 403, 403, 200, 403, 200, 403],
        ),
        (
            format!("/api/v1/exchange/documents/{id}"),
            [200, 200, 200, 403, 403, 200, 200, 200, 403],
        ),
        (
            "/api/v1/exchange/pushes".to_string(),
            [403, 403, 403, 403, 403, 403, 403, 200, 403],
        ),
    ];
    let denials = || async {
        kernel::on_db!(&app.state.db, p => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'identity.access.deny'"
        ).fetch_one(p).await)
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let before = denials().await;
    for (path, expected) in &table {
        for (i, (who, token)) in callers.iter().enumerate() {
            let (st, v) = app.call("GET", path, token, None).await;
            assert_eq!(st, expected[i], "{path} as {who}: {v}");
        }
    }
    let refused = table
        .iter()
        .flat_map(|(_, e)| e.iter())
        .filter(|s| **s == 403)
        .count();
    assert_eq!(
        usize::try_from(denials().await - before).unwrap_or(0),
        refused
    );
    // Sending: a machine of A sends as A; a machine of B may not send A's document.
    let next = bytes_of(&package(&[B], 12));
    let (st, e) = send(
        &app,
        &callers[5].1,
        "/api/v1/exchange/documents",
        &next,
        &a.sign(&next),
    )
    .await;
    assert_eq!(st, 403, "{e}");
    let (st, e) = send(
        &app,
        &callers[6].1,
        "/api/v1/exchange/documents",
        &next,
        &a.sign(&next),
    )
    .await;
    assert_eq!(st, 201, "{e}");
}

both!(
    each_caller_acts_only_for_its_agency,
    documents_travel_between_agencies_with_every_status,
    bad_packages_are_refused_and_nothing_is_stored,
    pushes_reach_endpoints_after_failures
);
