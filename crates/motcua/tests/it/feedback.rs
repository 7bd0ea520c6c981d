//! Feedback over HTTP, on SQLite and PostgreSQL: the Open311 GeoReport v2 server answers every
//! method in JSON and XML with the standard's fields and errors, stores nothing it refuses,
//! checks and cleans photos (their location read, then removed); officials take reports up,
//! answer them publicly or privately, moderate, merge duplicates; reporters reopen with their
//! token within the window; personal data stays out of every public view; published answers
//! are found however Vietnamese is typed.

use std::collections::BTreeSet;
use std::fmt::Display;

use chrono::Duration;
use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use serde_json::{Value, json};
use testkit::{Backend, Spawn, TestApp, both, enc, spawn_app};

/// Hoàn Kiếm ward, and the People's Committee that handles reports there.
const WARD: &str = "00070";
const AGENCY: &str = "000.00.51.H26";

const DISCOVERY: [&str; 4] = ["changeset", "contact", "key_service", "endpoints"];
const ENDPOINT: [&str; 5] = ["specification", "url", "changeset", "type", "formats"];
const SERVICE: [&str; 7] = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
];
const DEFINITION: [&str; 2] = ["service_code", "attributes"];
const ATTRIBUTE: [&str; 8] = [
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
];
const VALUE: [&str; 2] = ["key", "name"];
const CREATED: [&str; 3] = ["service_request_id", "service_notice", "account_id"];
const CREATED_HELD: [&str; 3] = ["token", "service_notice", "account_id"];
const TOKEN: [&str; 2] = ["service_request_id", "token"];
const REQUEST: [&str; 17] = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];
const UPDATE: [&str; 6] = [
    "update_id",
    "service_request_id",
    "status",
    "updated_datetime",
    "description",
    "media_url",
];
const UPDATE_CREATED: [&str; 2] = ["update_id", "account_id"];
const ERROR: [&str; 2] = ["code", "description"];

const JSON_TYPE: &str = "application/json; charset=utf-8";
const XML_TYPE: &str = "text/xml; charset=utf-8";

fn ok<T, E: Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn list(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}"))
}

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

fn ids(v: &Value) -> BTreeSet<String> {
    list(v)
        .iter()
        .map(|r| s(&r["service_request_id"]))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Answers

/// An answer as received: its status, content type and text.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    async fn of(r: reqwest::Response) -> Answer {
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = ok(r.text().await);
        Answer {
            status,
            content_type,
            body,
        }
    }

    /// The JSON of an answer that must have `status`.
    fn json(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.content_type, JSON_TYPE, "{}", self.body);
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The JSON of an answer of the JSON API (not Open311) that must have `status`.
    fn api(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert!(
            self.content_type.starts_with("application/json"),
            "{}",
            self.content_type
        );
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The XML root of an answer that must have `status`.
    fn xml(&self, status: u16) -> El {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.content_type, XML_TYPE, "{}", self.body);
        parse_xml(&self.body)
    }

    /// An Open311 refusal: `status`, and the standard's list of errors (`code` and
    /// `description`, the code repeating the status) in JSON or XML, one description holding
    /// `needle`.
    fn refused(&self, status: u16, xml: bool, needle: &str) {
        let mut descriptions = Vec::new();
        if xml {
            let root = self.xml(status);
            assert_eq!(root.name, "errors", "{}", self.body);
            assert!(!root.children.is_empty(), "{}", self.body);
            for e in &root.children {
                assert_eq!(e.name, "error");
                assert_eq!(e.names(), ERROR.to_vec());
                assert_eq!(e.text_of("code"), status.to_string(), "{}", self.body);
                descriptions.push(e.text_of("description").to_string());
            }
        } else {
            let v = self.json(status);
            assert!(!list(&v).is_empty(), "{v}");
            for e in list(&v) {
                assert_eq!(keys(e), set(&ERROR), "{v}");
                assert_eq!(e["code"], json!(status), "{v}");
                descriptions.push(s(&e["description"]));
            }
        }
        assert!(
            descriptions.iter().all(|d| !d.trim().is_empty()),
            "{descriptions:?}"
        );
        assert!(
            descriptions.iter().any(|d| d.contains(needle)),
            "“{needle}” not in {descriptions:?}"
        );
    }
}

async fn get(app: &TestApp, path: &str) -> Answer {
    Answer::of(ok(app.client.get(app.url(path)).send().await)).await
}

async fn post_form(app: &TestApp, path: &str, pairs: &[(&str, &str)]) -> Answer {
    Answer::of(ok(app.client.post(app.url(path)).form(pairs).send().await)).await
}

/// A multipart POST: the fields, then each file as a `media` part.
async fn post_multipart(
    app: &TestApp,
    path: &str,
    pairs: &[(&str, &str)],
    media: Vec<(Vec<u8>, &str)>,
) -> Answer {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in pairs {
        form = form.text(k.to_string(), v.to_string());
    }
    for (i, (bytes, mime)) in media.into_iter().enumerate() {
        let part = ok(reqwest::multipart::Part::bytes(bytes)
            .file_name(format!("anh-{}", i + 1))
            .mime_str(mime));
        form = form.part("media", part);
    }
    Answer::of(ok(app
        .client
        .post(app.url(path))
        .multipart(form)
        .send()
        .await))
    .await
}

/// One report of the JSON API as `bearer` or the holder of `token` reads it: the status, the
/// JSON and its text.
async fn view(
    app: &TestApp,
    id: &str,
    bearer: Option<&str>,
    token: Option<&str>,
) -> (u16, Value, String) {
    let mut path = format!("/api/v1/feedback/reports/{id}");
    if let Some(t) = token {
        path.push_str(&format!("?t={}", enc(t)));
    }
    let mut rb = app.client.get(app.url(&path));
    if let Some(b) = bearer {
        rb = rb.bearer_auth(b);
    }
    let r = ok(rb.send().await);
    let status = r.status().as_u16();
    let text = ok(r.text().await);
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

/// Acts on a report as `bearer`, or as the holder of the reporter's `token`, or as nobody.
async fn act(
    app: &TestApp,
    id: &str,
    bearer: Option<&str>,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut path = format!("/api/v1/feedback/reports/{id}/actions");
    if let Some(t) = token {
        path.push_str(&format!("?t={}", enc(t)));
    }
    let mut rb = app.client.post(app.url(&path)).json(&body);
    if let Some(b) = bearer {
        rb = rb.bearer_auth(b);
    }
    let r = ok(rb.send().await);
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn rows(app: &TestApp, table: &str) -> i64 {
    kernel::on_db!(&app.state.db, p => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(p).await)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// What is stored: the public requests Open311 lists, and the rows of reports and photos.
async fn stored(app: &TestApp) -> (usize, i64, i64) {
    let public = list(&get(app, "/open311/v2/requests.json").await.json(200)).len();
    (
        public,
        rows(app, "feedback_reports").await,
        rows(app, "feedback_photos").await,
    )
}

/// A new Open311 API key made by an operator: its id and the key.
async fn new_key(app: &TestApp, operator: &str, name: &str) -> (String, String) {
    let (st, v) = app
        .call(
            "POST",
            "/api/v1/feedback/keys",
            operator,
            Some(json!({"name": name, "contact": "tich.hop@hanoi.gov.vn"})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(keys(&v), set(&["id", "key", "name"]), "{v}");
    assert_eq!(v["name"], name);
    (s(&v["id"]), s(&v["key"]))
}

/// Files over Open311 in JSON with `key`: the one item of the 201 answer.
async fn file(app: &TestApp, key: &str, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("api_key", key)];
    all.extend_from_slice(pairs);
    let v = post_form(app, "/open311/v2/requests.json", &all)
        .await
        .json(201);
    assert_eq!(list(&v).len(), 1, "{v}");
    v[0].clone()
}

/// Files a report that is public at once: its id.
async fn file_id(app: &TestApp, key: &str, pairs: &[(&str, &str)]) -> String {
    let item = file(app, key, pairs).await;
    assert_eq!(keys(&item), set(&CREATED), "{item}");
    let id = s(&item["service_request_id"]);
    assert!(id.starts_with("PA-2026-"), "{id}");
    id
}

/// Files a report held for review (its text has an insult): its token, and its id as the
/// agency's queue of held reports shows it (the line whose text holds `marker`).
async fn file_held(
    app: &TestApp,
    key: &str,
    official: &str,
    marker: &str,
    pairs: &[(&str, &str)],
) -> (String, String) {
    let item = file(app, key, pairs).await;
    assert_eq!(keys(&item), set(&CREATED_HELD), "{item}");
    let token = s(&item["token"]);
    assert!(!token.is_empty());
    let (st, q) = app
        .call(
            "GET",
            &format!("/api/v1/feedback/queue?agency={AGENCY}&show=held"),
            official,
            None,
        )
        .await;
    assert_eq!(st, 200, "{q}");
    let found: Vec<String> = list(&q)
        .iter()
        .filter(|l| {
            l["description_public"]
                .as_str()
                .unwrap_or_default()
                .contains(marker)
        })
        .map(|l| s(&l["id"]))
        .collect();
    assert_eq!(found.len(), 1, "{q}");
    assert!(list(&q).iter().all(|l| l["held"] == true), "{q}");
    (token, found[0].clone())
}

// ---------------------------------------------------------------------------------------------
// XML

/// An XML element read back: its name, its text (for a leaf) and its child elements.
#[derive(Debug, Clone, PartialEq)]
struct El {
    name: String,
    text: String,
    children: Vec<El>,
}

impl El {
    fn new(name: &str) -> El {
        El {
            name: name.to_owned(),
            text: String::new(),
            children: Vec::new(),
        }
    }

    fn child(&self, name: &str) -> &El {
        let found: Vec<&El> = self.children.iter().filter(|c| c.name == name).collect();
        assert_eq!(
            found.len(),
            1,
            "<{}> has {} <{name}>",
            self.name,
            found.len()
        );
        found[0]
    }

    fn names(&self) -> Vec<&str> {
        self.children.iter().map(|c| c.name.as_str()).collect()
    }

    fn text_of(&self, name: &str) -> &str {
        let child = self.child(name);
        assert!(child.children.is_empty(), "<{name}> is not a leaf");
        &child.text
    }

    /// The items of a list element, each checked to be named `item` with `fields` in order.
    fn items(&self, item: &str, fields: &[&str]) -> &[El] {
        for c in &self.children {
            assert_eq!(c.name, item, "in <{}>", self.name);
            assert_eq!(c.names(), fields.to_vec(), "<{item}> in <{}>", self.name);
        }
        &self.children
    }
}

/// Parses an answer with quick-xml, checking the UTF-8 declaration; answers the root.
fn parse_xml(xml: &str) -> El {
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
        "no XML declaration:\n{xml}"
    );
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<El> = Vec::new();
    let mut root: Option<El> = None;
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("invalid XML ({e}):\n{xml}"));
        match event {
            Event::Decl(_) => {}
            Event::Start(start) => stack.push(El::new(start.name().as_ref())),
            Event::Empty(start) => attach(&mut stack, &mut root, El::new(start.name().as_ref())),
            Event::Text(text) => {
                let content = text.xml10_content();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&content),
                    None => assert!(content.trim().is_empty(), "text outside the root"),
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match ok(reference.resolve_char_ref()) {
                    Some(c) => c.to_string(),
                    None => resolve_predefined_entity(&reference)
                        .unwrap_or_else(|| panic!("unknown entity in:\n{xml}"))
                        .to_owned(),
                };
                stack
                    .last_mut()
                    .unwrap_or_else(|| panic!("a reference outside the root"))
                    .text
                    .push_str(&resolved);
            }
            Event::End(end) => {
                let mut element = stack
                    .pop()
                    .unwrap_or_else(|| panic!("an end without a start:\n{xml}"));
                assert_eq!(element.name.as_str(), end.name().as_ref());
                if !element.children.is_empty() {
                    assert!(
                        element.text.trim().is_empty(),
                        "mixed content in {element:?}"
                    );
                    element.text.clear();
                }
                attach(&mut stack, &mut root, element);
            }
            Event::Eof => break,
            other => panic!("unexpected XML event {other:?}"),
        }
    }
    assert!(stack.is_empty());
    root.unwrap_or_else(|| panic!("no root:\n{xml}"))
}

fn attach(stack: &mut [El], root: &mut Option<El>, element: El) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => {
            assert!(root.is_none(), "two roots");
            *root = Some(element);
        }
    }
}

/// Whether the XML answer says what the JSON answer says, as the standard maps one onto the
/// other: an object's fields are elements, a list's items are elements, `null` is an empty
/// element.
fn same_tree(j: &Value, x: &El) {
    match j {
        Value::Object(map) => {
            let names: BTreeSet<String> = x.children.iter().map(|c| c.name.clone()).collect();
            assert_eq!(
                names.len(),
                x.children.len(),
                "repeated fields in <{}>",
                x.name
            );
            assert_eq!(
                names,
                map.keys().cloned().collect::<BTreeSet<_>>(),
                "<{}>",
                x.name
            );
            for (k, v) in map {
                same_tree(v, x.child(k));
            }
        }
        Value::Array(items) => {
            assert_eq!(items.len(), x.children.len(), "items of <{}>", x.name);
            assert!(x.text.is_empty(), "<{}>", x.name);
            for (v, c) in items.iter().zip(&x.children) {
                same_tree(v, c);
            }
        }
        Value::Null => assert!(
            x.children.is_empty() && x.text.is_empty(),
            "<{}> should be empty: {x:?}",
            x.name
        ),
        Value::String(t) => {
            assert!(x.children.is_empty(), "<{}>", x.name);
            assert_eq!(&x.text, t, "<{}>", x.name);
        }
        Value::Number(n) => {
            let a = n.as_f64().unwrap_or(f64::NAN);
            let b: f64 = x
                .text
                .parse()
                .unwrap_or_else(|e| panic!("<{}> {}: {e}", x.name, x.text));
            assert_eq!(a, b, "<{}>", x.name);
        }
        Value::Bool(b) => assert_eq!(x.text, b.to_string(), "<{}>", x.name),
    }
}

// ---------------------------------------------------------------------------------------------
// Photos

/// A `width`×`height` JPEG.
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 120])
    });
    let mut out = Vec::new();
    ok(image::DynamicImage::ImageRgb8(img).write_with_encoder(
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90),
    ));
    out
}

/// 21° 1' 42.5" N, 105° 51' 15.25" E: by Hoàn Kiếm lake, as a camera stores it.
const PHOTO_LAT: [(u32, u32); 3] = [(21, 1), (1, 1), (425, 10)];
const PHOTO_LON: [(u32, u32); 3] = [(105, 1), (51, 1), (1525, 100)];
const PHOTO_LAT_DEG: f64 = 21.0 + 1.0 / 60.0 + 42.5 / 3600.0;
const PHOTO_LON_DEG: f64 = 105.0 + 51.0 / 60.0 + 15.25 / 3600.0;

/// An APP1 `Exif\0\0` segment holding a big-endian TIFF whose IFD0 points at a GPS IFD with
/// the version, both references and both positions.
fn exif_gps_segment(lat: [(u32, u32); 3], lon: [(u32, u32); 3]) -> Vec<u8> {
    fn entry(out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
        out.extend(tag.to_be_bytes());
        out.extend(kind.to_be_bytes());
        out.extend(count.to_be_bytes());
        out.extend(value);
    }
    const GPS_AT: u32 = 8 + 2 + 12 + 4;
    const DATA_AT: u32 = GPS_AT + 2 + 5 * 12 + 4;
    let mut tiff = b"MM\0*".to_vec();
    tiff.extend(8u32.to_be_bytes());
    // IFD0: one entry, where the GPS IFD is.
    tiff.extend(1u16.to_be_bytes());
    entry(&mut tiff, 0x8825, 4, 1, GPS_AT.to_be_bytes());
    tiff.extend(0u32.to_be_bytes());
    // The GPS IFD, then its two triples of rationals.
    tiff.extend(5u16.to_be_bytes());
    entry(&mut tiff, 0x0000, 1, 4, [2, 3, 0, 0]);
    entry(&mut tiff, 0x0001, 2, 2, [b'N', 0, 0, 0]);
    entry(&mut tiff, 0x0002, 5, 3, DATA_AT.to_be_bytes());
    entry(&mut tiff, 0x0003, 2, 2, [b'E', 0, 0, 0]);
    entry(&mut tiff, 0x0004, 5, 3, (DATA_AT + 24).to_be_bytes());
    tiff.extend(0u32.to_be_bytes());
    for (n, d) in lat.iter().chain(lon.iter()) {
        tiff.extend(n.to_be_bytes());
        tiff.extend(d.to_be_bytes());
    }
    let payload = [b"Exif\0\0".as_slice(), &tiff].concat();
    let mut segment = vec![0xFF, 0xE1];
    segment.extend(u16::try_from(payload.len() + 2).unwrap_or(0).to_be_bytes());
    segment.extend(payload);
    segment
}

/// `jpeg` with `segment` right after its start marker.
fn with_segment(jpeg: &[u8], segment: &[u8]) -> Vec<u8> {
    [&jpeg[..2], segment, &jpeg[2..]].concat()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A public photo of a report: its content type and bytes.
async fn photo_bytes(app: &TestApp, url: &str) -> (u16, String, Vec<u8>) {
    let r = ok(app.client.get(url).send().await);
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, kind, ok(r.bytes().await).to_vec())
}

// ---------------------------------------------------------------------------------------------
// 1. Every Open311 method in both formats

async fn open311_answers_every_method_in_json_and_xml_as_the_standard_lists_them(b: Backend) {
    let app = ok(spawn_app(b, Spawn::default()).await);
    let base = app.base.clone();
    let op = app.token("vanhanh", &["feedback:admin"]).await;
    let official = app.token("phuong.hoankiem", &["feedback:handle"]).await;
    let (_, key) = new_key(&app, &op, "Ứng dụng Hà Nội số").await;
    let (_, other_key) = new_key(&app, &op, "Tổng đài 1022").await;

    // Discovery.
    let a = get(&app, "/open311/discovery.json").await;
    let d = a.json(200);
    assert_eq!(keys(&d), set(&DISCOVERY), "{d}");
    assert_eq!(d["key_service"], format!("{base}/api/v1/feedback/keys"));
    assert!(!s(&d["contact"]).is_empty());
    for at in [&d["changeset"], &d["endpoints"][0]["changeset"]] {
        let at = s(at);
        assert!(
            chrono::DateTime::parse_from_rfc3339(&at).is_ok() && at.ends_with("+07:00"),
            "{at}"
        );
    }
    assert_eq!(list(&d["endpoints"]).len(), 1, "{d}");
    let e = &d["endpoints"][0];
    assert_eq!(keys(e), set(&ENDPOINT), "{d}");
    assert_eq!(e["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert_eq!(e["url"], format!("{base}/open311/v2"));
    assert_eq!(e["type"], "production");
    assert_eq!(
        list(&e["formats"]).iter().map(s).collect::<BTreeSet<_>>(),
        set(&["text/xml", "application/json"])
    );
    let x = get(&app, "/open311/discovery.xml").await.xml(200);
    assert_eq!(x.name, "discovery");
    assert_eq!(x.names(), DISCOVERY.to_vec());
    let endpoints = x.child("endpoints").items("endpoint", &ENDPOINT);
    assert_eq!(endpoints.len(), 1);
    let formats = endpoints[0].child("formats");
    assert_eq!(formats.names(), vec!["format", "format"]);
    same_tree(&d, &x);
    // The endpoint it names is the one that answers.
    let named = Answer::of(ok(app
        .client
        .get(format!("{}/services.json", s(&e["url"])))
        .send()
        .await))
    .await;
    assert_eq!(list(&named.json(200)).len(), 10);

    // Services: every kind, with metadata where there are questions.
    let services = get(&app, "/open311/v2/services.json").await.json(200);
    let with_questions = ["HT01", "HT02", "MT01", "KN01", "KN02", "KN03"];
    let mut codes = BTreeSet::new();
    for sv in list(&services) {
        assert_eq!(keys(sv), set(&SERVICE), "{sv}");
        let code = s(&sv["service_code"]);
        assert_eq!(
            sv["metadata"],
            json!(with_questions.contains(&code.as_str())),
            "{sv}"
        );
        assert_eq!(sv["type"], "realtime", "{sv}");
        assert!(!s(&sv["service_name"]).is_empty());
        codes.insert(code);
    }
    assert_eq!(
        codes,
        set(&[
            "HT01", "HT02", "HT03", "MT01", "MT02", "TT01", "TT02", "KN01", "KN02", "KN03"
        ])
    );
    let mt01 = list(&services)
        .iter()
        .find(|sv| sv["service_code"] == "MT01")
        .cloned()
        .unwrap_or_default();
    assert_eq!(mt01["service_name"], "Đổ rác, xả thải trái phép");
    assert_eq!(mt01["group"], "Môi trường");
    assert_eq!(mt01["keywords"], "rác, phế thải, xả thải, đổ trộm");
    assert!(s(&mt01["description"]).starts_with("Rác thải, phế thải xây dựng"));
    let x = get(&app, "/open311/v2/services.xml").await.xml(200);
    assert_eq!(x.name, "services");
    assert_eq!(x.items("service", &SERVICE).len(), 10);
    same_tree(&services, &x);

    // A service definition.
    let def = get(&app, "/open311/v2/services/MT01.json").await.json(200);
    assert_eq!(keys(&def), set(&DEFINITION), "{def}");
    assert_eq!(def["service_code"], "MT01");
    assert_eq!(list(&def["attributes"]).len(), 1, "{def}");
    let q = &def["attributes"][0];
    assert_eq!(keys(q), set(&ATTRIBUTE), "{q}");
    assert_eq!(q["variable"], true);
    assert_eq!(q["code"], "loai_rac");
    assert_eq!(q["datatype"], "singlevaluelist");
    assert_eq!(q["required"], true);
    assert_eq!(q["datatype_description"], Value::Null);
    assert_eq!(q["order"], 1);
    assert_eq!(q["description"], "Loại rác thải");
    for v in list(&q["values"]) {
        assert_eq!(keys(v), set(&VALUE), "{v}");
    }
    assert_eq!(
        list(&q["values"])
            .iter()
            .map(|v| s(&v["key"]))
            .collect::<Vec<_>>(),
        vec!["sinh_hoat", "xay_dung", "nguy_hai", "khac"]
    );
    assert_eq!(q["values"][1]["name"], "Phế thải xây dựng");
    let x = get(&app, "/open311/v2/services/MT01.xml").await.xml(200);
    assert_eq!(x.name, "service_definition");
    assert_eq!(x.names(), DEFINITION.to_vec());
    let attrs = x.child("attributes").items("attribute", &ATTRIBUTE);
    assert_eq!(attrs.len(), 1);
    assert_eq!(attrs[0].child("values").items("value", &VALUE).len(), 4);
    same_tree(&def, &x);
    // Two questions: orders 1 and 2, a string without values.
    let kn02 = get(&app, "/open311/v2/services/KN02.json").await.json(200);
    let orders: Vec<Value> = list(&kn02["attributes"])
        .iter()
        .map(|a| a["order"].clone())
        .collect();
    assert_eq!(orders, vec![json!(1), json!(2)], "{kn02}");
    assert_eq!(kn02["attributes"][0]["datatype"], "string");
    assert_eq!(kn02["attributes"][0]["values"], json!([]));
    // No questions: an empty list, an empty element.
    let ht03 = get(&app, "/open311/v2/services/HT03.json").await.json(200);
    assert_eq!(ht03["attributes"], json!([]));
    let x = get(&app, "/open311/v2/services/HT03.xml").await.xml(200);
    let empty = x.child("attributes");
    assert!(empty.children.is_empty() && empty.text.is_empty(), "{x:?}");
    // An unknown code.
    get(&app, "/open311/v2/services/XX99.json")
        .await
        .refused(404, false, "XX99");
    get(&app, "/open311/v2/services/XX99.xml")
        .await
        .refused(404, true, "XX99");

    // Filing, in JSON: the id at once, the notice, the client's account echoed.
    let created = file(
        &app,
        &key,
        &[
            ("service_code", "MT01"),
            ("lat", "21.0260"),
            ("long", "105.8500"),
            (
                "description",
                "Có người đổ rác sinh hoạt bừa bãi ở đầu ngõ 5 phố Hàng Gai.",
            ),
            ("email", "lan.nt@example.vn"),
            ("first_name", "Lan"),
            ("last_name", "Nguyễn Thị"),
            ("phone", "0901 234 567"),
            ("device_id", "may-01"),
            ("account_id", "app-42"),
            ("attribute[loai_rac]", "sinh_hoat"),
        ],
    )
    .await;
    assert_eq!(keys(&created), set(&CREATED), "{created}");
    assert_eq!(created["account_id"], "app-42");
    assert!(
        s(&created["service_notice"]).contains("sẽ xử lý, hạn "),
        "{created}"
    );
    let mt = s(&created["service_request_id"]);
    // The agency sees what was sent, and who sent it.
    let (st, full, _) = view(&app, &mt, Some(&official), None).await;
    assert_eq!(st, 200, "{full}");
    assert_eq!(full["agency_code"], AGENCY);
    assert_eq!(full["unit_code"], WARD);
    assert_eq!(full["channel"], "open311");
    assert_eq!(full["attributes"], json!({"loai_rac": ["sinh_hoat"]}));
    assert_eq!(full["reporter"]["name"], "Nguyễn Thị Lan");
    assert_eq!(full["reporter"]["email"], "lan.nt@example.vn");
    assert_eq!(full["reporter"]["phone"], "0901 234 567");
    assert_eq!(full["reporter"]["device_id"], "may-01");

    // Filing in XML, two days later.
    app.clock.advance(Duration::days(2));
    let x = post_form(
        &app,
        "/open311/v2/requests.xml",
        &[
            ("api_key", key.as_str()),
            ("service_code", "HT03"),
            ("lat", "21.0330"),
            ("long", "105.8560"),
            (
                "description",
                "Cống thoát nước trước chợ bị tắc, nước ngập nửa bánh xe.",
            ),
        ],
    )
    .await
    .xml(201);
    assert_eq!(x.name, "service_requests");
    let items = x.items("request", &CREATED);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].text_of("account_id"), "");
    let ht = items[0].text_of("service_request_id").to_string();
    assert!(ht.starts_with("PA-2026-") && ht != mt, "{ht}");

    // A report with an insult waits for a moderator: a token, no id.
    let (token, held) = file_held(
        &app,
        &key,
        &official,
        "Hàng Bạc",
        &[
            ("service_code", "TT01"),
            ("lat", "21.0340"),
            ("long", "105.8530"),
            (
                "description",
                "Quán nước lấn hết vỉa hè phố Hàng Bạc, đm người đi bộ phải xuống lòng đường.",
            ),
        ],
    )
    .await;
    let t = get(&app, &format!("/open311/v2/tokens/{token}.json"))
        .await
        .json(200);
    assert_eq!(t, json!([{"service_request_id": null, "token": token}]));
    let x = get(&app, &format!("/open311/v2/tokens/{token}.xml"))
        .await
        .xml(200);
    assert_eq!(x.name, "service_requests");
    let items = x.items("request", &TOKEN);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].text_of("service_request_id"), "");
    assert_eq!(items[0].text_of("token"), token);
    get(&app, "/open311/v2/tokens/khong-co-token-nay.json")
        .await
        .refused(404, false, "Token");
    get(&app, "/open311/v2/tokens/khong-co-token-nay.xml")
        .await
        .refused(404, true, "Token");
    // Held: in no public list, not found by id, without public updates.
    let all = get(&app, "/open311/v2/requests.json").await.json(200);
    assert!(!ids(&all).contains(&held), "{all}");
    get(&app, &format!("/open311/v2/requests/{held}.json"))
        .await
        .refused(404, false, &held);
    let by_id = get(
        &app,
        &format!("/open311/v2/requests.json?service_request_id={held}"),
    )
    .await
    .json(200);
    assert_eq!(by_id, json!([]));
    let updates = get(&app, "/open311/v2/servicerequestupdates.json")
        .await
        .json(200);
    assert!(
        list(&updates)
            .iter()
            .all(|u| u["service_request_id"] != held.as_str()),
        "{updates}"
    );
    // Approved: the token gives the id, the report is public.
    let (st, r) = act(
        &app,
        &held,
        Some(&official),
        None,
        json!({"act": "approve"}),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["held"], false);
    let t = get(&app, &format!("/open311/v2/tokens/{token}.json"))
        .await
        .json(200);
    assert_eq!(t, json!([{"service_request_id": held, "token": token}]));

    // Requests: the demo's three, and the three filed; answered ones closed.
    let all = get(&app, "/open311/v2/requests.json").await.json(200);
    assert_eq!(list(&all).len(), 6, "{all}");
    for r in list(&all) {
        assert_eq!(keys(r), set(&REQUEST), "{r}");
        assert_eq!(r["zipcode"], Value::Null);
        assert_eq!(r["service_notice"], Value::Null);
        assert_eq!(r["address_id"], WARD);
        assert!(!s(&r["agency_responsible"]).is_empty());
        for at in [
            "requested_datetime",
            "updated_datetime",
            "expected_datetime",
        ] {
            assert!(s(&r[at]).ends_with("+07:00"), "{r}");
        }
    }
    let answered: Vec<&Value> = list(&all)
        .iter()
        .filter(|r| r["service_code"] == "HT01")
        .collect();
    assert_eq!(answered.len(), 1, "{all}");
    let answered = answered[0].clone();
    let demo_answered = s(&answered["service_request_id"]);
    assert_eq!(answered["status"], "closed");
    assert!(
        s(&answered["status_notes"]).contains("vá ổ gà"),
        "{answered}"
    );
    assert_eq!(answered["requested_datetime"], "2026-03-02T09:00:00+07:00");
    assert_eq!(answered["lat"], 21.0245);
    assert_eq!(answered["long"], 105.8522);
    assert_eq!(answered["address"], "12 Hàng Bài, phường Hoàn Kiếm");
    assert_eq!(answered["media_url"], Value::Null);
    assert!(s(&answered["description"]).starts_with("Ổ gà sâu khoảng 15 cm"));
    for r in list(&all) {
        if r["service_request_id"] != demo_answered.as_str() {
            assert_eq!(r["status"], "open", "{r}");
        }
    }
    let mine = list(&all)
        .iter()
        .find(|r| r["service_request_id"] == mt.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(mine["service_code"], "MT01");
    assert_eq!(mine["service_name"], "Đổ rác, xả thải trái phép");
    assert_eq!(
        mine["description"],
        "Có người đổ rác sinh hoạt bừa bãi ở đầu ngõ 5 phố Hàng Gai."
    );
    assert_eq!(mine["lat"], 21.026);
    assert_eq!(mine["long"], 105.85);
    assert_eq!(mine["requested_datetime"], "2026-03-02T09:00:00+07:00");
    let ht_item = list(&all)
        .iter()
        .find(|r| r["service_request_id"] == ht.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(ht_item["requested_datetime"], "2026-03-04T09:00:00+07:00");
    let x = get(&app, "/open311/v2/requests.xml").await.xml(200);
    assert_eq!(x.name, "service_requests");
    assert_eq!(x.items("request", &REQUEST).len(), 6);
    same_tree(&all, &x);

    // Filters.
    let demo: Vec<String> = list(
        &get(&app, "/api/v1/feedback/reports?unit=00070")
            .await
            .api(200),
    )
    .iter()
    .map(|l| s(&l["id"]))
    .filter(|id| ![&mt, &ht, &held].contains(&id))
    .collect();
    assert_eq!(demo.len(), 3, "{demo:?}");
    let query = |q: &str| format!("/open311/v2/requests.json?{q}");
    let found = |v: Value| ids(&v);
    let ask = async |q: &str| found(get(&app, &query(q)).await.json(200));
    assert_eq!(
        ask(&format!("service_request_id={mt},{ht}")).await,
        set(&[&mt, &ht])
    );
    // Ids override every other parameter.
    assert_eq!(
        ask(&format!(
            "service_request_id={mt}&status=closed&service_code=HT03&end_date=2026-03-01"
        ))
        .await,
        set(&[&mt])
    );
    let mt_codes = ask("service_code=MT01").await;
    assert_eq!(mt_codes.len(), 2, "{mt_codes:?}");
    assert!(mt_codes.contains(&mt));
    assert_eq!(
        ask("service_code=HT01,HT03").await,
        set(&[&demo_answered, &ht])
    );
    assert_eq!(ask("status=closed").await, set(&[&demo_answered]));
    let open = ask("status=open").await;
    assert_eq!(open.len(), 5, "{open:?}");
    assert!(!open.contains(&demo_answered));
    assert_eq!(ask("status=open,closed").await.len(), 6);
    assert_eq!(
        ask("status=closed&service_code=MT01").await,
        BTreeSet::new()
    );
    assert_eq!(ask("start_date=2026-03-03").await, set(&[&ht, &held]));
    let first_day = ask("end_date=2026-03-02").await;
    assert_eq!(first_day.len(), 4, "{first_day:?}");
    assert!(first_day.contains(&mt) && !first_day.contains(&ht));
    assert_eq!(
        ask(&format!(
            "start_date={}&end_date={}",
            enc("2026-03-02T00:00:00+07:00"),
            enc("2026-03-02T23:59:59+07:00")
        ))
        .await,
        first_day
    );
    assert_eq!(
        ask(&format!(
            "start_date={}&end_date={}",
            enc("2026-03-04T01:59:59Z"),
            enc("2026-03-04T02:00:00Z")
        ))
        .await,
        set(&[&ht, &held])
    );

    // One request: a list of one.
    let one = get(&app, &format!("/open311/v2/requests/{mt}.json"))
        .await
        .json(200);
    assert_eq!(one, json!([mine]));
    let x = get(&app, &format!("/open311/v2/requests/{mt}.xml"))
        .await
        .xml(200);
    assert_eq!(x.name, "service_requests");
    assert_eq!(x.items("request", &REQUEST).len(), 1);
    same_tree(&one, &x);
    get(&app, "/open311/v2/requests/PA-2026-999999.json")
        .await
        .refused(404, false, "PA-2026-999999");
    get(&app, "/open311/v2/requests/PA-2026-999999.xml")
        .await
        .refused(404, true, "PA-2026-999999");

    // Updates: the demo's answer among them; the approved report's receipt now public.
    let updates = get(&app, "/open311/v2/servicerequestupdates.json")
        .await
        .json(200);
    for u in list(&updates) {
        assert_eq!(keys(u), set(&UPDATE), "{u}");
        assert!(s(&u["updated_datetime"]).ends_with("+07:00"));
        assert!(u["media_url"].is_null(), "{u}");
    }
    let update_ids: BTreeSet<String> = list(&updates).iter().map(|u| s(&u["update_id"])).collect();
    assert_eq!(update_ids.len(), list(&updates).len());
    assert!(
        list(&updates)
            .iter()
            .any(|u| u["service_request_id"] == demo_answered.as_str()
                && u["status"] == "closed"
                && s(&u["description"]).contains("vá ổ gà")),
        "{updates}"
    );
    assert!(
        list(&updates)
            .iter()
            .any(|u| u["service_request_id"] == held.as_str()),
        "{updates}"
    );
    let x = get(&app, "/open311/v2/servicerequestupdates.xml")
        .await
        .xml(200);
    assert_eq!(x.name, "service_request_updates");
    assert_eq!(
        x.items("request_update", &UPDATE).len(),
        list(&updates).len()
    );
    same_tree(&updates, &x);

    // A client's comment on a report it filed.
    let comment = "Rác vẫn còn nguyên, chưa ai thu gom.";
    let base_update = [
        ("service_request_id", mt.as_str()),
        ("update_id", "app-upd-1"),
        ("status", "OPEN"),
        ("updated_datetime", "2026-03-04T10:00:00+07:00"),
        ("description", comment),
        ("account_id", "app-42"),
    ];
    let mut pairs = vec![("api_key", key.as_str())];
    pairs.extend_from_slice(&base_update);
    let c = post_form(&app, "/open311/v2/servicerequestupdates.json", &pairs)
        .await
        .json(201);
    assert_eq!(list(&c).len(), 1, "{c}");
    assert_eq!(keys(&c[0]), set(&UPDATE_CREATED), "{c}");
    assert_eq!(c[0]["account_id"], "app-42");
    let update_id = s(&c[0]["update_id"]);
    let updates = get(&app, "/open311/v2/servicerequestupdates.json")
        .await
        .json(200);
    let posted: Vec<&Value> = list(&updates)
        .iter()
        .filter(|u| u["update_id"] == update_id.as_str())
        .collect();
    assert_eq!(posted.len(), 1, "{updates}");
    assert_eq!(posted[0]["service_request_id"], mt.as_str());
    assert_eq!(posted[0]["status"], "open");
    assert_eq!(posted[0]["description"], comment);
    let x = post_form(&app, "/open311/v2/servicerequestupdates.xml", &pairs)
        .await
        .xml(201);
    assert_eq!(x.name, "service_request_updates");
    let items = x.items("request_update", &UPDATE_CREATED);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].text_of("account_id"), "app-42");
    assert_ne!(items[0].text_of("update_id"), update_id);
    // Another key's report, or one filed on the web, is not found for this key.
    let mut pairs = vec![("api_key", other_key.as_str())];
    pairs.extend_from_slice(&base_update);
    let before = rows(&app, "feedback_updates").await;
    for fmt in ["json", "xml"] {
        post_form(
            &app,
            &format!("/open311/v2/servicerequestupdates.{fmt}"),
            &pairs,
        )
        .await
        .refused(404, fmt == "xml", &mt);
    }
    let mut pairs = vec![("api_key", key.as_str())];
    pairs.extend_from_slice(&base_update);
    pairs[1] = ("service_request_id", demo_answered.as_str());
    post_form(&app, "/open311/v2/servicerequestupdates.json", &pairs)
        .await
        .refused(404, false, &demo_answered);
    post_form(&app, "/open311/v2/servicerequestupdates.json", &base_update)
        .await
        .refused(403, false, "api_key");
    assert_eq!(rows(&app, "feedback_updates").await, before);

    // Without dates, the latest 90 days; ids are found whenever they were filed.
    app.clock.advance(Duration::days(91));
    assert_eq!(
        get(&app, "/open311/v2/requests.json").await.json(200),
        json!([])
    );
    assert_eq!(ask("start_date=2026-03-01").await.len(), 6);
    assert_eq!(ask(&format!("service_request_id={mt}")).await, set(&[&mt]));
}

// ---------------------------------------------------------------------------------------------
// 2. Refusals

async fn open311_refuses_as_the_standard_says_and_stores_nothing(b: Backend) {
    let app = ok(spawn_app(b, Spawn::default()).await);
    let op = app.token("vanhanh", &["feedback:admin"]).await;
    let (_, key) = new_key(&app, &op, "Ứng dụng phản ánh").await;
    let good: Vec<(&str, &str)> = vec![
        ("service_code", "MT01"),
        ("lat", "21.0260"),
        ("long", "105.8500"),
        (
            "description",
            "Bãi rác tự phát ven đường, bốc mùi cả khu phố.",
        ),
        ("attribute[loai_rac]", "sinh_hoat"),
    ];
    let before = stored(&app).await;
    assert_eq!(before.0, 3, "{before:?}");

    // Sends `pairs` (with `key` first when given) in both formats: each answered with
    // `status` and an error holding `needle`, nothing stored.
    let refused = async |key: Option<&str>, pairs: &[(&str, &str)], status: u16, needle: &str| {
        let mut all: Vec<(&str, &str)> = key.map(|k| vec![("api_key", k)]).unwrap_or_default();
        all.extend_from_slice(pairs);
        for fmt in ["json", "xml"] {
            post_form(&app, &format!("/open311/v2/requests.{fmt}"), &all)
                .await
                .refused(status, fmt == "xml", needle);
        }
        assert_eq!(stored(&app).await, before, "after {pairs:?}");
    };
    let with = |changes: &[(&'static str, &'static str)], drop: &[&str]| {
        let mut p: Vec<(&str, &str)> = good
            .iter()
            .copied()
            .filter(|(k, _)| !drop.contains(k) && !changes.iter().any(|(c, _)| c == k))
            .collect();
        p.extend_from_slice(changes);
        p
    };

    // The key first: without a good one, nothing else is looked at.
    refused(None, &good, 403, "api_key").await;
    refused(Some(""), &good, 403, "api_key").await;
    refused(Some("o311_khong-phai-khoa"), &good, 403, "api_key").await;
    refused(None, &with(&[], &["service_code"]), 403, "api_key").await;

    // Then the request: what is changed or left out, the status, what the error names. An
    // unknown service code is the standard's 404.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], u16, &'a str);
    let cases: &[Case] = &[
        (&[], &["service_code"], 400, "service_code"),
        (&[("service_code", "XX99")], &[], 404, "XX99"),
        (&[("lat", "95")], &[], 400, "lat"),
        (&[("long", "NaN")], &[], 400, "long"),
        (&[], &["long"], 400, "lat and long must be sent together"),
        (&[], &["lat", "long"], 400, "A location is required"),
        (
            &[("lat", "10.0"), ("long", "100.0")],
            &[],
            400,
            "not inside any commune",
        ),
        (&[], &["attribute[loai_rac]"], 400, "attribute[loai_rac]"),
        (
            &[("attribute[loai_rac]", "khong_co")],
            &[],
            400,
            "attribute[loai_rac]",
        ),
        (
            &[("attribute[mau_sac]", "do")],
            &[],
            400,
            "attribute[mau_sac]",
        ),
        (&[("description", "Rác")], &[], 400, "description"),
        (&[("email", "khong-phai-thu")], &[], 400, "email"),
    ];
    for (changes, drop, status, needle) in cases {
        refused(Some(&key), &with(changes, drop), *status, needle).await;
    }
    // Percent-escapes that are not UTF-8 (Latin-1 “é”), in a form and in a query.
    let raw = format!(
        "api_key={key}&service_code=HT01&lat=21.03&long=105.85&description=H%E9%20h%E9%20h%E9%20h%E9%20h%E9"
    );
    let r = ok(app
        .client
        .post(app.url("/open311/v2/requests.json"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(raw)
        .send()
        .await);
    Answer::of(r).await.refused(400, false, "UTF-8");
    get(&app, "/open311/v2/requests.xml?service_code=%C0%80")
        .await
        .refused(400, true, "UTF-8");
    // An unknown suffix: not found.
    let a = post_form(&app, "/open311/v2/requests.csv", &good).await;
    a.refused(404, false, "Resource");
    assert_eq!(stored(&app).await, before);

    // The same request with the key is taken.
    let mut all = vec![("api_key", key.as_str())];
    all.extend_from_slice(&good);
    let item = post_form(&app, "/open311/v2/requests.json", &all)
        .await
        .json(201);
    assert_eq!(keys(&item[0]), set(&CREATED), "{item}");
    let after = stored(&app).await;
    assert_eq!((after.0, after.1), (before.0 + 1, before.1 + 1));

    // A revoked key files no more.
    let (kid, revoked) = new_key(&app, &op, "Hệ thống cũ").await;
    let mut all = vec![("api_key", revoked.as_str())];
    all.extend_from_slice(&good);
    post_form(&app, "/open311/v2/requests.json", &all)
        .await
        .json(201);
    let (st, k) = app
        .call("DELETE", &format!("/api/v1/feedback/keys/{kid}"), &op, None)
        .await;
    assert_eq!(st, 200, "{k}");
    assert!(k["revoked_at"].is_string(), "{k}");
    let (st, _) = app
        .call("DELETE", &format!("/api/v1/feedback/keys/{kid}"), &op, None)
        .await;
    assert_eq!(st, 404);
    let before = stored(&app).await;
    for fmt in ["json", "xml"] {
        post_form(&app, &format!("/open311/v2/requests.{fmt}"), &all)
            .await
            .refused(403, fmt == "xml", "api_key");
    }
    assert_eq!(stored(&app).await, before);
    // Only operators make and revoke keys.
    let official = app.token("phuong.hoankiem", &["feedback:admin"]).await;
    let (st, _) = app
        .call(
            "POST",
            "/api/v1/feedback/keys",
            &official,
            Some(json!({"name": "x", "contact": "y"})),
        )
        .await;
    assert_eq!(st, 403);

    // Reading: bad dates and statuses, unknown resources and suffixes.
    for fmt in ["json", "xml"] {
        let xml = fmt == "xml";
        get(
            &app,
            &format!("/open311/v2/requests.{fmt}?start_date=hom-qua"),
        )
        .await
        .refused(400, xml, "start_date");
        get(
            &app,
            &format!(
                "/open311/v2/requests.{fmt}?start_date={}",
                enc("2026-03-01T08:00:00")
            ),
        )
        .await
        .refused(400, xml, "start_date");
        get(
            &app,
            &format!("/open311/v2/requests.{fmt}?start_date=2026-03-05&end_date=2026-03-01"),
        )
        .await
        .refused(400, xml, "end_date");
        get(&app, &format!("/open311/v2/requests.{fmt}?status=fixed"))
            .await
            .refused(400, xml, "status");
        get(
            &app,
            &format!("/open311/v2/servicerequestupdates.{fmt}?end_date=mai"),
        )
        .await
        .refused(400, xml, "end_date");
        get(&app, &format!("/open311/v2/khong-co.{fmt}"))
            .await
            .refused(404, xml, "Resource");
    }
    for path in [
        "/open311/v2/services.csv",
        "/open311/v2/services",
        "/open311/v2/requests.JSON",
        "/open311/discovery.csv",
        "/open311/v2/services/MT01.csv",
    ] {
        get(&app, path).await.refused(404, false, "suffix");
    }
    assert_eq!(stored(&app).await, before);
}

// ---------------------------------------------------------------------------------------------
// 3. Photos

async fn photos_over_open311_are_checked_cleaned_and_placed(b: Backend) {
    let app = ok(spawn_app(b, Spawn::default()).await);
    let op = app.token("vanhanh", &["feedback:admin"]).await;
    let official = app.token("phuong.hoankiem", &["feedback:handle"]).await;
    let (_, key) = new_key(&app, &op, "Ứng dụng có ảnh").await;
    let fields = |extra: &[(&'static str, &'static str)]| {
        let mut p: Vec<(&str, &str)> = vec![
            ("api_key", key.as_str()),
            ("service_code", "MT02"),
            (
                "description",
                "Cành cây lớn gãy đè lên vỉa hè, người đi bộ phải vòng ra lòng đường.",
            ),
        ];
        p.extend_from_slice(extra);
        p
    };
    let at = [("lat", "21.0290"), ("long", "105.8510")];

    // A photo: stored, linked from the request, served as a JPEG.
    let photo = jpeg(64, 48);
    let v = post_multipart(
        &app,
        "/open311/v2/requests.json",
        &fields(&at),
        vec![(photo.clone(), "image/jpeg")],
    )
    .await
    .json(201);
    assert_eq!(keys(&v[0]), set(&CREATED), "{v}");
    let id = s(&v[0]["service_request_id"]);
    let r = get(&app, &format!("/open311/v2/requests/{id}.json"))
        .await
        .json(200);
    let url = s(&r[0]["media_url"]);
    assert_eq!(url, format!("{}/phan-anh/{id}/anh/1", app.base));
    let (st, kind, bytes) = photo_bytes(&app, &url).await;
    assert_eq!((st, kind.as_str()), (200, "image/jpeg"));
    let seen = ok(image::load_from_memory(&bytes));
    assert_eq!((seen.width(), seen.height()), (64, 48));
    let (st, kind, _) = photo_bytes(&app, &format!("{url}?nho=1")).await;
    assert_eq!((st, kind.as_str()), (200, "image/jpeg"));
    let (st, full, _) = view(&app, &id, Some(&official), None).await;
    assert_eq!(st, 200, "{full}");
    assert_eq!(list(&full["photos"]).len(), 1, "{full}");
    assert_eq!(full["photos"][0]["width"], 64);
    assert_eq!(full["photos"][0]["height"], 48);
    assert_eq!(full["photos"][0]["had_location"], false);
    let (st, _, _) = photo_bytes(&app, &app.url(&format!("/phan-anh/{id}/anh/2"))).await;
    assert_eq!(st, 404);

    // Refused photos: nothing stored.
    let before = stored(&app).await;
    let text = b"Day la mot tep van ban, khong phai anh chup.\n".to_vec();
    for fmt in ["json", "xml"] {
        post_multipart(
            &app,
            &format!("/open311/v2/requests.{fmt}"),
            &fields(&at),
            vec![(text.clone(), "text/plain")],
        )
        .await
        .refused(415, fmt == "xml", "Photo 1");
    }
    let mut garbage = vec![0xFF, 0xD8, 0xFF, 0xE0];
    let mut n: u32 = 12_345;
    for _ in 0..4000 {
        n = n.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        garbage.push((n >> 16) as u8);
    }
    // An image that cannot be used is a general error of the request (the standard's 400).
    post_multipart(
        &app,
        "/open311/v2/requests.json",
        &fields(&at),
        vec![(garbage, "image/jpeg")],
    )
    .await
    .refused(400, false, "Photo 1");
    let mut big = photo.clone();
    big.resize(feedback::MAX_PHOTO_BYTES + 1, 0);
    post_multipart(
        &app,
        "/open311/v2/requests.json",
        &fields(&at),
        vec![(photo.clone(), "image/jpeg"), (big, "image/jpeg")],
    )
    .await
    .refused(413, false, "Photo 2");
    // Without coordinates, a photo without a location gives no place.
    post_multipart(
        &app,
        "/open311/v2/requests.json",
        &fields(&[("address_string", "Phố Đinh Tiên Hoàng")]),
        vec![(photo.clone(), "image/jpeg")],
    )
    .await
    .refused(400, false, "location");
    assert_eq!(stored(&app).await, before);

    // A photo with a location places a report sent without coordinates; the copy kept has
    // no EXIF left.
    let segment = exif_gps_segment(PHOTO_LAT, PHOTO_LON);
    let located = with_segment(&photo, &segment);
    assert!(contains(&located, b"Exif\0\0"));
    let v = post_multipart(
        &app,
        "/open311/v2/requests.json",
        &fields(&[("address_string", "Phố Đinh Tiên Hoàng")]),
        vec![(located, "image/jpeg")],
    )
    .await
    .json(201);
    let id = s(&v[0]["service_request_id"]);
    let r = get(&app, &format!("/open311/v2/requests/{id}.json"))
        .await
        .json(200);
    let lat = r[0]["lat"].as_f64().unwrap_or_default();
    let long = r[0]["long"].as_f64().unwrap_or_default();
    assert!((lat - PHOTO_LAT_DEG).abs() < 1e-6, "{lat}");
    assert!((long - PHOTO_LON_DEG).abs() < 1e-6, "{long}");
    assert_eq!(r[0]["address_id"], WARD);
    assert_eq!(r[0]["address"], "Phố Đinh Tiên Hoàng");
    let (_, full, _) = view(&app, &id, Some(&official), None).await;
    assert_eq!(full["agency_code"], AGENCY);
    assert_eq!(full["photos"][0]["had_location"], true);
    let (st, kind, bytes) = photo_bytes(&app, &s(&r[0]["media_url"])).await;
    assert_eq!((st, kind.as_str()), (200, "image/jpeg"));
    assert!(!contains(&bytes, b"Exif\0\0"));
    assert!(!contains(&bytes, &[0, 0, 0x05, 0xF5, 0, 0, 0, 100]));
    let seen = ok(image::load_from_memory(&bytes));
    assert_eq!((seen.width(), seen.height()), (64, 48));
}

// ---------------------------------------------------------------------------------------------
// 4. Handling, answers, reopening

async fn officials_answer_reporters_reopen_and_strangers_are_refused(b: Backend) {
    let app = ok(spawn_app(b, Spawn::default()).await);
    let op = app.token("vanhanh", &["feedback:admin"]).await;
    let official = app.token("phuong.hoankiem", &["feedback:handle"]).await;
    let (_, key) = new_key(&app, &op, "Ứng dụng Hà Nội số").await;

    let (token, id) = file_held(
        &app,
        &key,
        &official,
        "Tràng Thi",
        &[
            ("service_code", "HT01"),
            ("lat", "21.0255"),
            ("long", "105.8470"),
            (
                "description",
                "Ổ gà to giữa đường Tràng Thi, đm xe máy sập bánh liên tục.",
            ),
            ("email", "minh.lv@example.vn"),
            ("first_name", "Minh"),
            ("last_name", "Lê Văn"),
        ],
    )
    .await;
    // Held: the public does not find it; its reporter does, with the token.
    let (st, _, _) = view(&app, &id, None, None).await;
    assert_eq!(st, 404);
    let (st, mine, _) = view(&app, &id, None, Some(&token)).await;
    assert_eq!(st, 200, "{mine}");
    assert_eq!(mine["held"], true);
    let public = get(&app, "/api/v1/feedback/reports").await.api(200);
    assert!(list(&public).iter().all(|l| l["id"] != id.as_str()));
    let (st, r) = act(&app, &id, Some(&official), None, json!({"act": "start"})).await;
    assert_eq!(st, 409, "{r}");
    let (st, r) = act(&app, &id, Some(&official), None, json!({"act": "approve"})).await;
    assert_eq!(st, 200, "{r}");
    let (st, r, _) = view(&app, &id, None, None).await;
    assert_eq!((st, &r["status"]), (200, &json!("received")), "{r}");

    // Strangers may not act.
    let citizen = app.token("001095012345", &["feedback:handle"]).await;
    let elsewhere = app.token("chuyenvien", &["feedback:handle"]).await;
    for (who, status) in [
        (Some(citizen.as_str()), 403),
        (Some(elsewhere.as_str()), 403),
        (None, 401),
    ] {
        let (st, r) = act(&app, &id, who, None, json!({"act": "start"})).await;
        assert_eq!(st, status, "{r}");
        let (st, r) = act(
            &app,
            &id,
            who,
            None,
            json!({"act": "answer", "note": "Đã xử lý xong."}),
        )
        .await;
        assert_eq!(st, status, "{r}");
    }
    let (st, r) = act(
        &app,
        &id,
        None,
        Some("khong-phai-token"),
        json!({"act": "reopen", "note": "Chưa sửa xong."}),
    )
    .await;
    assert_eq!(st, 401, "{r}");
    let (_, r, _) = view(&app, &id, Some(&official), None).await;
    assert_eq!(r["status"], "received", "{r}");

    // The official takes it up and answers publicly.
    let (st, r) = act(&app, &id, Some(&official), None, json!({"act": "start"})).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["status"], "in_progress");
    let answer = "Đội duy tu đã vá ổ gà bằng nhựa đường nóng, mặt đường đã phẳng.";
    let (st, r) = act(
        &app,
        &id,
        Some(&official),
        None,
        json!({"act": "answer", "note": answer}),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["status"], "answered");
    let (st, r, text) = view(&app, &id, None, None).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["status"], "answered");
    assert_eq!(r["answer"], answer);
    assert_eq!(r["answer_public"], true);
    assert!(r["answered_at"].is_string());
    assert_eq!(r["reporter"], Value::Null);
    assert!(!text.contains("minh.lv@example.vn") && !text.contains("Lê Văn Minh"));
    let o = get(&app, &format!("/open311/v2/requests/{id}.json"))
        .await
        .json(200);
    assert_eq!(o[0]["status"], "closed");
    assert_eq!(o[0]["status_notes"], answer);

    // Published answers are found typed without marks; only published ones.
    let hits = |v: Value| -> Vec<String> { list(&v).iter().map(|h| s(&h["id"])).collect() };
    let found = hits(
        get(&app, "/api/v1/feedback/answers?q=va%20o%20ga")
            .await
            .api(200),
    );
    assert!(found.contains(&id), "{found:?}");
    assert_eq!(found.len(), 2, "{found:?}");
    let found = hits(
        get(
            &app,
            &format!(
                "/api/v1/feedback/answers?q={}",
                enc("va o ga nhua duong nong")
            ),
        )
        .await
        .api(200),
    );
    assert_eq!(found, vec![id.clone()]);
    let found = hits(
        get(
            &app,
            &format!("/api/v1/feedback/answers?q={}", enc("vá ổ gà nhựa đường")),
        )
        .await
        .api(200),
    );
    assert_eq!(found, vec![id.clone()]);

    // The reporter reopens within the window, with a reason.
    app.clock.advance(Duration::days(13));
    let (st, r) = act(
        &app,
        &id,
        None,
        Some(&token),
        json!({"act": "reopen", "note": ""}),
    )
    .await;
    assert_eq!(st, 422, "{r}");
    let (st, r) = act(
        &app,
        &id,
        None,
        Some(&token),
        json!({"act": "reopen", "note": "Ổ gà lại xuất hiện sau trận mưa tối qua."}),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["status"], "in_progress");
    assert_eq!(r["reopens"], 1);
    let (_, r, _) = view(&app, &id, None, None).await;
    assert_eq!(r["status"], "in_progress");
    let o = get(&app, &format!("/open311/v2/requests/{id}.json"))
        .await
        .json(200);
    assert_eq!(o[0]["status"], "open");

    // A private answer: its reporter reads it, the public does not.
    let private = "Cơ quan sẽ gọi điện hẹn lịch khảo sát hiện trường cùng gia đình.";
    let (st, r) = act(
        &app,
        &id,
        Some(&official),
        None,
        json!({"act": "answer", "note": private, "public": false}),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["status"], "answered");
    let (_, r, text) = view(&app, &id, None, None).await;
    assert_eq!(r["status"], "answered");
    assert_eq!(r["answer"], Value::Null);
    assert_eq!(r["answer_public"], false);
    assert!(!text.contains("khảo sát"), "{text}");
    let (_, r, _) = view(&app, &id, None, Some(&token)).await;
    assert_eq!(r["answer"], private);
    assert_eq!(r["reporter"]["email"], "minh.lv@example.vn");
    let (_, r, _) = view(&app, &id, Some(&official), None).await;
    assert_eq!(r["answer"], private);
    for path in [
        format!("/open311/v2/requests/{id}.json"),
        format!("/open311/v2/requests/{id}.xml"),
        "/open311/v2/servicerequestupdates.json".to_string(),
        "/open311/v2/servicerequestupdates.xml".to_string(),
        "/api/v1/feedback/reports".to_string(),
    ] {
        let a = get(&app, &path).await;
        assert_eq!(a.status, 200, "{path}");
        assert!(!a.body.contains("khảo sát"), "{path}: {}", a.body);
    }
    assert_eq!(
        get(
            &app,
            &format!("/api/v1/feedback/answers?q={}", enc("hen lich khao sat"))
        )
        .await
        .api(200),
        json!([])
    );

    // Past the window, reopening is refused.
    app.clock.advance(Duration::days(15));
    let (st, r) = act(
        &app,
        &id,
        None,
        Some(&token),
        json!({"act": "reopen", "note": "Vẫn chưa ai đến khảo sát."}),
    )
    .await;
    assert_eq!(st, 409, "{r}");
    assert_eq!(r["code"], "wrong_status");
    let (_, r, _) = view(&app, &id, None, Some(&token)).await;
    assert_eq!(r["status"], "answered");
    assert_eq!(r["reopens"], 1);
}

// ---------------------------------------------------------------------------------------------
// 5. Duplicates and personal data

async fn duplicates_merge_and_personal_data_stays_private(b: Backend) {
    let app = ok(spawn_app(b, Spawn::default()).await);
    let op = app.token("vanhanh", &["feedback:admin"]).await;
    let official = app.token("phuong.hoankiem", &["feedback:handle"]).await;
    let (_, key) = new_key(&app, &op, "Ứng dụng Hà Nội số").await;

    // Two reports of one pothole, 30 m apart.
    let first = file_id(
        &app,
        &key,
        &[
            ("service_code", "HT01"),
            ("lat", "21.0200"),
            ("long", "105.8450"),
            (
                "description",
                "Ổ gà sâu trước cổng trường tiểu học, học sinh dễ ngã.",
            ),
            ("email", "hung.dv@example.vn"),
        ],
    )
    .await;
    let nearby = get(
        &app,
        "/api/v1/feedback/nearby?service=HT01&lat=21.02027&lon=105.8450",
    )
    .await
    .api(200);
    let hit: Vec<&Value> = list(&nearby)
        .iter()
        .filter(|n| n["id"] == first.as_str())
        .collect();
    assert_eq!(hit.len(), 1, "{nearby}");
    let d = hit[0]["distance_m"].as_f64().unwrap_or_default();
    assert!((25.0..35.0).contains(&d), "{d}");
    for other in [
        "/api/v1/feedback/nearby?service=HT02&lat=21.02027&lon=105.8450",
        "/api/v1/feedback/nearby?service=HT01&lat=21.0300&lon=105.8450",
    ] {
        let v = get(&app, other).await.api(200);
        assert!(list(&v).iter().all(|n| n["id"] != first.as_str()), "{v}");
    }
    let second = file_id(
        &app,
        &key,
        &[
            ("service_code", "HT01"),
            ("lat", "21.02027"),
            ("long", "105.8450"),
            (
                "description",
                "Mặt đường lún thành ổ gà lớn gần cổng trường học.",
            ),
        ],
    )
    .await;
    let (_, f0, _) = view(&app, &first, Some(&official), None).await;
    let supporters = f0["supporters"].as_i64().unwrap_or(-1);
    assert!(supporters >= 0, "{f0}");

    // Merged: the second closed, pointing at the first, which gains a supporter.
    let (st, r) = act(
        &app,
        &second,
        Some(&official),
        None,
        json!({"act": "merge", "into": first}),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["status"], "merged");
    assert_eq!(r["duplicate_of"], first.as_str());
    let (_, f1, _) = view(&app, &first, Some(&official), None).await;
    assert_eq!(f1["supporters"], json!(supporters + 1), "{f1}");
    assert_eq!(f1["status"], "received");
    let o = get(&app, &format!("/open311/v2/requests/{second}.json"))
        .await
        .json(200);
    assert_eq!(o[0]["status"], "closed");
    let nearby = get(
        &app,
        "/api/v1/feedback/nearby?service=HT01&lat=21.02027&lon=105.8450",
    )
    .await
    .api(200);
    let listed: Vec<String> = list(&nearby).iter().map(|n| s(&n["id"])).collect();
    assert_eq!(listed, vec![first.clone()]);

    // Not into another kind, nor into a closed report.
    let lights = get(&app, "/api/v1/feedback/reports?service=HT02")
        .await
        .api(200);
    assert_eq!(list(&lights).len(), 1, "{lights}");
    let light = s(&lights[0]["id"]);
    assert_eq!(lights[0]["agency_code"], AGENCY);
    let (st, r) = act(
        &app,
        &first,
        Some(&official),
        None,
        json!({"act": "merge", "into": light}),
    )
    .await;
    assert_eq!(st, 409, "{r}");
    assert_eq!(r["code"], "merge_refused");
    assert!(s(&r["detail"]).contains("same kind"), "{r}");
    let (st, r) = act(
        &app,
        &first,
        Some(&official),
        None,
        json!({"act": "merge", "into": second}),
    )
    .await;
    assert_eq!(st, 409, "{r}");
    let (_, f2, _) = view(&app, &first, Some(&official), None).await;
    assert_eq!(f2["status"], "received");
    assert_eq!(f2["duplicate_of"], Value::Null);
    assert_eq!(f2["supporters"], f1["supporters"]);

    // Personal data in the text: hidden from every public view, shown to the agency.
    let description = "Cây sấu gãy cành chắn lối đi trước nhà. Tôi là Phạm Thu Trang, \
        gọi 0912 345 678 hoặc viết trang.pham@example.com nếu cần.";
    let id = file_id(
        &app,
        &key,
        &[
            ("service_code", "MT02"),
            ("lat", "21.0280"),
            ("long", "105.8480"),
            ("description", description),
            ("first_name", "Thu Trang"),
            ("last_name", "Phạm"),
            ("email", "trang.pt@example.vn"),
            ("phone", "0987 654 321"),
        ],
    )
    .await;
    let private = [
        "0912",
        "345 678",
        "trang.pham@",
        "Phạm Thu Trang",
        "trang.pt@example.vn",
        "0987 654 321",
    ];
    let (st, r, text) = view(&app, &id, None, None).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["reporter"], Value::Null);
    assert!(s(&r["description"]).contains("[đã ẩn]"), "{r}");
    assert!(s(&r["description"]).starts_with("Cây sấu gãy cành chắn lối đi"));
    let o = get(&app, &format!("/open311/v2/requests/{id}.json"))
        .await
        .json(200);
    assert_eq!(o[0]["description"], r["description"]);
    let mut public_texts = vec![text];
    for path in [
        format!("/open311/v2/requests/{id}.json"),
        format!("/open311/v2/requests/{id}.xml"),
        "/open311/v2/requests.json".to_string(),
        "/open311/v2/requests.xml".to_string(),
        "/open311/v2/servicerequestupdates.json".to_string(),
        "/api/v1/feedback/reports".to_string(),
        "/api/v1/feedback/nearby?service=MT02&lat=21.0280&lon=105.8480".to_string(),
    ] {
        let a = get(&app, &path).await;
        assert_eq!(a.status, 200, "{path}");
        public_texts.push(a.body);
    }
    for text in &public_texts {
        for p in private {
            assert!(!text.contains(p), "{p} in {text}");
        }
    }
    let (st, r, _) = view(&app, &id, Some(&official), None).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["description"], description);
    assert_eq!(r["reporter"]["name"], "Phạm Thu Trang");
    assert_eq!(r["reporter"]["email"], "trang.pt@example.vn");
    assert_eq!(r["reporter"]["phone"], "0987 654 321");
}

/// The outbox's messages to an address: (subject, body).
async fn mail_to(app: &TestApp, to: &str) -> Vec<(String, String)> {
    kernel::on_db!(&app.state.db, p => sqlx::query_as::<_, (String, String)>(
        "SELECT subject, body FROM outbox WHERE recipient = $1 ORDER BY created_at, id"
    ).bind(to).fetch_all(p).await)
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn petitions_go_to_the_agency_and_every_update_is_told(b: Backend) {
    let app = ok(spawn_app(b, Spawn::default()).await);
    let operator = app.token("vanhanh", &["feedback:admin"]).await;
    let (_, key) = new_key(&app, &operator, "Cổng dịch vụ công tỉnh").await;
    // About a procedure: routed to the agency the catalogue gives it (birth registration is
    // done by the wards' People's Committees of the demo).
    let item = file(
        &app,
        &key,
        &[
            ("service_code", "KN02"),
            ("address_string", "Hà Nội"),
            ("attribute[thu_tuc]", "1.001193"),
            ("description", "Bộ phận một cửa yêu cầu nộp thêm bản sao giấy tờ không có trong quy định của thủ tục."),
            ("email", "minh.tq@example.vn"),
            ("first_name", "Minh"),
            ("last_name", "Trần Quang"),
        ],
    )
    .await;
    let id = s(&item["service_request_id"]);
    let (st, public, _) = view(&app, &id, None, None).await;
    assert_eq!(st, 200, "{public}");
    assert_eq!(public["kind"], "petition");
    let procedure = ok(app.get_json("/api/v1/procedures/1.001193").await);
    let agencies: Vec<String> = procedure["agencies"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        agencies.contains(&s(&public["agency_code"])),
        "{} not among {agencies:?}",
        public["agency_code"]
    );
    // Ten working days from a Monday: the Friday of the next week but one, at closing time.
    let due = s(&public["due_at"]);
    assert!(due.starts_with("2026-03-16"), "{due}");
    // Addressed to an agency by its code; an agency not in the catalogue is refused and
    // nothing is kept.
    let before = rows(&app, "feedback_reports").await;
    post_form(
        &app,
        "/open311/v2/requests.json",
        &[
            ("api_key", key.as_str()),
            ("service_code", "KN01"),
            ("address_string", "Hà Nội"),
            ("attribute[co_quan]", "000.00.99.H99"),
            (
                "description",
                "Quy định về thời gian tiếp nhận hồ sơ buổi chiều không thống nhất giữa các nơi.",
            ),
        ],
    )
    .await
    .refused(400, false, "000.00.99.H99");
    assert_eq!(rows(&app, "feedback_reports").await, before);
    let to_justice = file_id(
        &app,
        &key,
        &[
            ("service_code", "KN01"),
            ("address_string", "Hà Nội"),
            ("attribute[co_quan]", "000.00.03.H26"),
            (
                "description",
                "Quy định về thời gian tiếp nhận hồ sơ buổi chiều không thống nhất giữa các nơi.",
            ),
        ],
    )
    .await;
    let (_, v, _) = view(&app, &to_justice, None, None).await;
    assert_eq!(v["agency_code"], "000.00.03.H26");

    // The reporter heard of the filing, and hears of every public update and the answer; a
    // follower hears of the public ones.
    let first = mail_to(&app, "minh.tq@example.vn").await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].0.contains(&id), "{first:?}");
    let agency = s(&public["agency_code"]);
    app.add_official("xuly.kn", identity::Role::Specialist, &agency)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let official = app.token("xuly.kn", &["feedback:handle"]).await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/feedback/reports/{id}/followers")))
        .json(&json!({"email": "lan.pt@example.vn"}))
        .send()
        .await;
    assert_eq!(ok(r).status(), 200);
    let (st, v) = act(
        &app,
        &id,
        Some(&official),
        None,
        json!({"act": "start", "note": "Đã giao phòng nghiệp vụ kiểm tra."}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = act(
        &app,
        &id,
        Some(&official),
        None,
        json!({"act": "answer", "note": "Đã chấn chỉnh bộ phận một cửa; bạn không phải nộp bản sao đó.", "public": false}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let reporter = mail_to(&app, "minh.tq@example.vn").await;
    assert_eq!(reporter.len(), 3, "{reporter:?}");
    assert!(
        reporter[2].1.contains("không phải nộp bản sao"),
        "{reporter:?}"
    );
    assert!(
        reporter[2].1.contains("?t="),
        "the reporter's link carries the token"
    );
    let follower = mail_to(&app, "lan.pt@example.vn").await;
    // The follower hears that it is in progress, not the private answer.
    assert_eq!(follower.len(), 1, "{follower:?}");
    assert!(
        !follower[0].1.contains("không phải nộp bản sao"),
        "{follower:?}"
    );
    assert!(!follower[0].1.contains("?t="), "{follower:?}");
    // The private answer is not on the public view nor in the published answers.
    let (_, public, _) = view(&app, &id, None, None).await;
    assert!(public["answer"].is_null(), "{public}");
    let hits = ok(app.get_json("/api/v1/feedback/answers?q=ban%20sao").await);
    assert!(!hits.to_string().contains(&id), "{hits}");
    // Every change is in the audit chain.
    let audited: i64 = kernel::on_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE subject = $1 AND action IN ('feedback.file', 'feedback.follow', 'feedback.start', 'feedback.answer')"
    ).bind(format!("feedback/{id}")).fetch_one(p).await)
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(audited, 4);
}

async fn the_command_line_sets_areas_and_makes_keys(b: Backend) {
    let app = ok(spawn_app(b, Spawn::default()).await);
    let dir = ok(tempfile::tempdir());
    // A key made on the command line files over Open311.
    let (done, out) = crate::cli(
        &app,
        &[
            "feedback",
            "key",
            "--name",
            "Ứng dụng Huế-S",
            "--contact",
            "it@hue.gov.vn",
        ],
    );
    assert!(done, "{out}");
    // What it printed first is the JSON of the key (the log follows it).
    let made: Value = serde_json::Deserializer::from_str(&out)
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("no JSON in: {out}"));
    let key = s(&made["key"]);
    assert!(key.starts_with("o311_"), "{out}");
    let (done, out) = crate::cli(&app, &["feedback", "keys"]);
    assert!(
        done && out.contains("Ứng dụng Huế-S") && !out.contains(&key),
        "{out}"
    );
    // A new outline for Thuận Hóa ward, handled by the city's People's Committee: a place
    // inside it that the demo's outline left out now goes there.
    let file = dir.path().join("thuan-hoa.geojson");
    ok(std::fs::write(
        &file,
        r#"{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[107.50, 16.40], [107.65, 16.40], [107.65, 16.50], [107.50, 16.50], [107.50, 16.40]]]}}"#,
    ));
    let place = [
        ("service_code", "HT03"),
        ("lat", "16.4200"),
        ("long", "107.5300"),
        (
            "description",
            "Cống thoát nước trước chợ bị tắc, mưa là ngập cả đoạn đường.",
        ),
    ];
    let mut pairs = vec![("api_key", key.as_str())];
    pairs.extend_from_slice(&place);
    post_form(&app, "/open311/v2/requests.json", &pairs)
        .await
        .refused(400, false, "16.42000");
    let (done, out) = crate::cli(
        &app,
        &[
            "feedback",
            "area",
            "--unit",
            "19789",
            "--agency",
            "000.00.00.H57",
            "--file",
            crate::path(&file),
        ],
    );
    assert!(done, "{out}");
    assert!(out.contains("\"agency_code\": \"000.00.00.H57\""), "{out}");
    let id = file_id(&app, &key, &place).await;
    let (_, v, _) = view(&app, &id, None, None).await;
    assert_eq!(v["agency_code"], "000.00.00.H57");
    assert_eq!(v["unit_code"], "19789");
    // A file that is not GeoJSON, or a commune that does not exist: refused, nothing changed.
    ok(std::fs::write(&file, "không phải JSON"));
    let (done, out) = crate::cli(
        &app,
        &[
            "feedback",
            "area",
            "--unit",
            "19789",
            "--agency",
            "000.00.51.H57",
            "--file",
            crate::path(&file),
        ],
    );
    assert!(!done && out.contains("not JSON"), "{out}");
    ok(std::fs::write(
        &file,
        r#"{"type": "Point", "coordinates": [107.5, 16.4]}"#,
    ));
    let (done, out) = crate::cli(
        &app,
        &[
            "feedback",
            "area",
            "--unit",
            "19789",
            "--agency",
            "000.00.51.H57",
            "--file",
            crate::path(&file),
        ],
    );
    assert!(!done && out.contains("Polygon"), "{out}");
    let areas = ok(app.get_json("/api/v1/feedback/areas").await);
    let hue = areas
        .as_array()
        .and_then(|a| a.iter().find(|x| x["unit_code"] == "19789"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(hue["agency_code"], "000.00.00.H57", "{areas}");
}

async fn a_reporter_with_only_a_phone_gets_text_messages(b: Backend) {
    // Text messages on (to a gateway that is not there: they stay in the outbox).
    let app = ok(spawn_app(
        b,
        Spawn {
            sms_url: Some("http://127.0.0.1:9/send".into()),
            ..Spawn::default()
        },
    )
    .await);
    let operator = app.token("vanhanh", &["feedback:admin"]).await;
    let (_, key) = new_key(&app, &operator, "Tổng đài 1022").await;
    let id = file_id(
        &app,
        &key,
        &[
            ("service_code", "HT02"),
            ("lat", "21.0335"),
            ("long", "105.8450"),
            (
                "description",
                "Đèn đường trước số 5 Hàng Bông tắt cả tuần nay, tối rất tối.",
            ),
            ("phone", "0912 345 678"),
        ],
    )
    .await;
    let official = app.token("phuong.hoankiem", &["feedback:handle"]).await;
    let (st, v) = act(&app, &id, Some(&official), None, json!({"act": "start"})).await;
    assert_eq!(st, 200, "{v}");
    let sms: Vec<(String, String)> = kernel::on_db!(&app.state.db, p => sqlx::query_as(
        "SELECT channel, body FROM outbox WHERE recipient = $1 ORDER BY created_at, id"
    ).bind("0912 345 678").fetch_all(p).await)
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sms.len(), 2, "{sms:?}");
    assert!(
        sms.iter()
            .all(|(c, body)| c == "sms" && body.contains(&id) && body.contains("?t=")),
        "{sms:?}"
    );
    assert!(sms[1].1.contains("dang xu ly"), "{sms:?}");
}

both!(
    a_reporter_with_only_a_phone_gets_text_messages,
    the_command_line_sets_areas_and_makes_keys,
    petitions_go_to_the_agency_and_every_update_is_told,
    open311_answers_every_method_in_json_and_xml_as_the_standard_lists_them,
    open311_refuses_as_the_standard_says_and_stores_nothing,
    photos_over_open311_are_checked_cleaned_and_placed,
    officials_answer_reporters_reopen_and_strangers_are_refused,
    duplicates_merge_and_personal_data_stays_private,
);
