//! Tests of the wire format: every answer read back with a JSON and an XML parser and held to
//! the specification's field lists; every refusal of every parser.

use std::collections::BTreeMap;
use std::fmt::Debug;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use serde_json::Value;

use crate::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn ok<T, E: Debug>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("unexpected error: {e:?}"))
}

fn some<T>(option: Option<T>) -> T {
    option.unwrap_or_else(|| panic!("unexpected None"))
}

fn errs<T: Debug>(result: Result<T, Vec<Error>>) -> Vec<Error> {
    match result {
        Ok(value) => panic!("expected errors, got {value:?}"),
        Err(errors) => errors,
    }
}

fn at(text: &str) -> DateTime<Utc> {
    ok(DateTime::parse_from_rfc3339(text)).to_utc()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{text}"))
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = some(value.as_object()).keys().cloned().collect();
    keys.sort();
    keys
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    names.sort();
    names
}

fn array(value: &Value) -> &Vec<Value> {
    some(value.as_array())
}

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
        let found: Vec<&El> = self.all(name);
        assert_eq!(
            found.len(),
            1,
            "<{}> has {} <{name}>",
            self.name,
            found.len()
        );
        found[0]
    }

    fn all(&self, name: &str) -> Vec<&El> {
        self.children.iter().filter(|c| c.name == name).collect()
    }

    fn names(&self) -> Vec<&str> {
        self.children.iter().map(|c| c.name.as_str()).collect()
    }

    fn text_of(&self, name: &str) -> &str {
        let child = self.child(name);
        assert!(child.children.is_empty(), "<{name}> is not a leaf");
        &child.text
    }
}

/// Parses an answer with quick-xml, checking the declaration, and returns its root.
fn parse_xml(xml: &str) -> El {
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"),
        "no XML declaration:\n{xml}"
    );
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<El> = Vec::new();
    let mut root: Option<El> = None;
    let mut declared = false;
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("invalid XML ({e}):\n{xml}"));
        match event {
            Event::Decl(decl) => {
                let version = ok(decl.version());
                assert_eq!(version.as_ref(), "1.0");
                let encoding = some(decl.encoding());
                assert_eq!(ok(encoding).as_ref(), "utf-8");
                declared = true;
            }
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
                    None => some(resolve_predefined_entity(&reference)).to_owned(),
                };
                some(stack.last_mut()).text.push_str(&resolved);
            }
            Event::End(end) => {
                let mut element = some(stack.pop());
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
    assert!(declared, "no declaration event");
    assert!(stack.is_empty());
    some(root)
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

fn reasons(errors: &[Error]) -> Vec<(Reason, Option<&str>)> {
    errors
        .iter()
        .map(|e| (e.reason, e.param.as_deref()))
        .collect()
}

fn assert_refused(errors: &[Error], reason: Reason, param: &str) {
    assert!(
        errors
            .iter()
            .any(|e| e.reason == reason && e.param.as_deref() == Some(param)),
        "expected {reason:?} on {param}, got {:?}",
        reasons(errors)
    );
    for error in errors {
        assert_eq!(error.code, 400);
        assert!(!error.description.is_empty());
        assert!(error.description.is_ascii(), "{}", error.description);
        assert!(!some(error.description_vi.as_deref()).is_ascii());
    }
}

const VIETNAMESE: &str = "Ổ gà sâu trước số 12 đường Nguyễn Trãi, phường Thượng Đình — nguy hiểm!";

// ---------------------------------------------------------------------------------------
// Samples
// ---------------------------------------------------------------------------------------

const REQUEST_FIELDS: [&str; 17] = [
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

fn full_request() -> ServiceRequest {
    ServiceRequest {
        service_request_id: "638344".to_owned(),
        status: Status::Closed,
        status_notes: Some("Duplicate request.".to_owned()),
        service_name: "Sidewalk and Curb Issues".to_owned(),
        service_code: "006".to_owned(),
        description: Some(VIETNAMESE.to_owned()),
        agency_responsible: Some("UBND phường Thượng Đình".to_owned()),
        service_notice: Some("Sẽ xử lý trong 24 giờ".to_owned()),
        requested_datetime: at("2010-04-14T06:37:38-08:00"),
        updated_datetime: at("2010-04-14T06:37:38-08:00"),
        expected_datetime: Some(at("2010-04-15T06:37:38-08:00")),
        address: Some("8TH AVE and JUDAH ST".to_owned()),
        address_id: Some("545483".to_owned()),
        zipcode: Some("100000".to_owned()),
        lat: Some(21.002_221_815),
        long: Some(105.815_114_5),
        media_url: Some("https://example.vn/requests/media/638344.jpg".to_owned()),
    }
}

fn bare_request() -> ServiceRequest {
    ServiceRequest {
        service_request_id: "638349".to_owned(),
        status: Status::Open,
        status_notes: None,
        service_name: "Đèn đường hỏng".to_owned(),
        service_code: "den-duong".to_owned(),
        description: None,
        agency_responsible: None,
        service_notice: None,
        requested_datetime: at("2024-03-01T01:30:00Z"),
        updated_datetime: at("2024-03-01T01:30:00Z"),
        expected_datetime: None,
        address: None,
        address_id: None,
        zipcode: None,
        lat: None,
        long: None,
        media_url: None,
    }
}

fn definition() -> ServiceDefinition {
    let value = |key: &str, name: &str| AttributeValue {
        key: key.to_owned(),
        name: name.to_owned(),
    };
    let attribute = |code: &str, datatype: Datatype, required: bool, order: u32| Attribute {
        variable: true,
        code: code.to_owned(),
        datatype,
        required,
        datatype_description: None,
        order,
        description: format!("Question {code}"),
        values: Vec::new(),
    };
    ServiceDefinition {
        service_code: "DMV66".to_owned(),
        attributes: vec![
            Attribute {
                values: vec![value("123", "Ford"), value("124", "Chrysler")],
                datatype_description: Some("Chọn một hãng xe".to_owned()),
                ..attribute("WHISHETN", Datatype::SingleValueList, true, 1)
            },
            Attribute {
                values: vec![value("x", "Xanh"), value("y", "Vàng"), value("z", "Đỏ")],
                ..attribute("COLOURS", Datatype::MultiValueList, false, 3)
            },
            attribute("PLATE", Datatype::String, true, 2),
            attribute("COUNT", Datatype::Number, false, 4),
            attribute("SEEN", Datatype::Datetime, false, 5),
            attribute("NOTE", Datatype::Text, false, 6),
            Attribute {
                variable: false,
                ..attribute("INFO", Datatype::Text, false, 7)
            },
        ],
    }
}

// ---------------------------------------------------------------------------------------
// Format
// ---------------------------------------------------------------------------------------

#[test]
fn split_takes_the_two_suffixes() {
    assert_eq!(
        Format::split("services.json"),
        Some(("services", Format::Json))
    );
    assert_eq!(Format::split("033.xml"), Some(("033", Format::Xml)));
    assert_eq!(
        Format::split("discovery.xml"),
        Some(("discovery", Format::Xml))
    );
    assert_eq!(Format::split("v1.2.json"), Some(("v1.2", Format::Json)));
}

#[test]
fn split_refuses_anything_else() {
    for file in [
        "services",
        "services.html",
        "services.JSON",
        "services.xml.gz",
        ".json",
        "a/b.json",
        "",
        "json",
    ] {
        assert_eq!(Format::split(file), None, "{file}");
    }
}

#[test]
fn media_types_are_the_specifications() {
    assert_eq!(Format::Json.media_type(), "application/json; charset=utf-8");
    assert_eq!(Format::Xml.media_type(), "text/xml; charset=utf-8");
    assert_eq!(Format::Json.mime(), "application/json");
    assert_eq!(Format::Xml.mime(), "text/xml");
    assert_eq!(Format::Json.extension(), "json");
    assert_eq!(Format::Xml.extension(), "xml");
}

// ---------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------

#[test]
fn dates_are_written_in_vietnam_time_to_the_second() {
    assert_eq!(
        format_datetime(&at("2024-03-01T01:30:00.750Z")),
        "2024-03-01T08:30:00+07:00"
    );
    assert_eq!(
        format_datetime(&at("2024-12-31T20:00:00Z")),
        "2025-01-01T03:00:00+07:00"
    );
    assert_eq!(VIETNAM_OFFSET_SECONDS, 25_200);
}

#[test]
fn w3c_datetimes_are_read_in_every_documented_form() {
    let utc = at("2010-01-01T00:00:00Z");
    assert_eq!(parse_datetime("2010-01-01T00:00:00Z"), Some(utc));
    assert_eq!(parse_datetime("2010-01-01T00:00:00z"), Some(utc));
    assert_eq!(parse_datetime("2010-01-01T07:00:00+07:00"), Some(utc));
    assert_eq!(parse_datetime("2009-12-31T19:00:00-05:00"), Some(utc));
    assert_eq!(parse_datetime(" 2010-01-01T07:00:00.000+07:00 "), Some(utc));
    assert_eq!(parse_datetime("2010-01-01T07:00+07:00"), Some(utc));
    assert_eq!(parse_datetime("2010-01-01T00:00Z"), Some(utc));
    // A `+` left unencoded in a query string arrives as a space.
    assert_eq!(parse_datetime("2010-01-01T07:00:00 07:00"), Some(utc));
    // A date alone is the start of that day in Vietnam time.
    assert_eq!(
        parse_datetime("2010-01-01"),
        Some(at("2010-01-01T00:00:00+07:00"))
    );
}

#[test]
fn w3c_datetimes_without_offset_or_malformed_are_refused() {
    for text in [
        "",
        "2010-01-01T00:00:00",
        "2010-01-01 00:00:00",
        "2010-13-01",
        "2010-02-30",
        "2010-1-1",
        "01/02/2010",
        "2010-01-01T25:00:00Z",
        "2010-01-01T00:00:00+25:00",
        "tomorrow",
        "２０１０-01-01",
        "2010-01-01T00:00:00Zjunk",
        "2010",
        "2010-01",
    ] {
        assert_eq!(parse_datetime(text), None, "{text:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Renderers
// ---------------------------------------------------------------------------------------

fn discovery() -> Discovery {
    Discovery {
        changeset: at("2024-03-01T01:00:00Z"),
        contact: "Trung tâm Phục vụ hành chính công, 1022".to_owned(),
        key_service: "Xin khoá API tại https://motcua.example.vn/api-key".to_owned(),
        endpoints: vec![
            Endpoint {
                specification: GEOREPORT_V2.to_owned(),
                url: "https://motcua.example.vn/open311/v2".to_owned(),
                changeset: at("2024-02-01T00:00:00Z"),
                kind: EndpointType::Production,
                formats: vec![Format::Xml, Format::Json],
            },
            Endpoint {
                specification: GEOREPORT_V2.to_owned(),
                url: "https://test.motcua.example.vn/open311/v2".to_owned(),
                changeset: at("2024-02-01T00:00:00Z"),
                kind: EndpointType::Test,
                formats: vec![Format::Xml],
            },
        ],
    }
}

#[test]
fn discovery_json_has_the_specifications_fields() {
    let value = json(&render_discovery(&discovery(), Format::Json));
    assert_eq!(
        keys(&value),
        sorted(&["changeset", "contact", "key_service", "endpoints"])
    );
    assert_eq!(value["changeset"], "2024-03-01T08:00:00+07:00");
    let endpoints = array(&value["endpoints"]);
    assert_eq!(endpoints.len(), 2);
    for endpoint in endpoints {
        assert_eq!(
            keys(endpoint),
            sorted(&["specification", "url", "changeset", "type", "formats"])
        );
        assert_eq!(
            endpoint["specification"],
            "http://wiki.open311.org/GeoReport_v2"
        );
    }
    assert_eq!(endpoints[0]["type"], "production");
    assert_eq!(endpoints[1]["type"], "test");
    assert_eq!(
        endpoints[0]["formats"],
        serde_json::json!(["text/xml", "application/json"])
    );
}

#[test]
fn discovery_xml_has_the_specifications_elements() {
    let root = parse_xml(&render_discovery(&discovery(), Format::Xml));
    assert_eq!(root.name, "discovery");
    assert_eq!(
        root.names(),
        ["changeset", "contact", "key_service", "endpoints"]
    );
    assert_eq!(
        root.text_of("contact"),
        "Trung tâm Phục vụ hành chính công, 1022"
    );
    let endpoints = root.child("endpoints").all("endpoint");
    assert_eq!(endpoints.len(), 2);
    assert_eq!(
        endpoints[0].names(),
        ["specification", "url", "changeset", "type", "formats"]
    );
    assert_eq!(endpoints[0].text_of("type"), "production");
    let formats: Vec<&str> = endpoints[0]
        .child("formats")
        .all("format")
        .iter()
        .map(|f| f.text.as_str())
        .collect();
    assert_eq!(formats, ["text/xml", "application/json"]);
}

fn services() -> Vec<Service> {
    vec![
        Service {
            service_code: "001".to_owned(),
            service_name: "Rác thải bỏ không đúng nơi".to_owned(),
            description: Some("Rác để quá 24 giờ sau giờ thu gom.".to_owned()),
            metadata: true,
            kind: ServiceType::Realtime,
            keywords: vec!["rác".to_owned(), " vệ sinh ".to_owned(), String::new()],
            group: Some("Vệ sinh môi trường".to_owned()),
        },
        Service {
            service_code: "002".to_owned(),
            service_name: "Biển báo hỏng".to_owned(),
            description: None,
            metadata: false,
            kind: ServiceType::Batch,
            keywords: Vec::new(),
            group: None,
        },
    ]
}

const SERVICE_FIELDS: [&str; 7] = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
];

#[test]
fn services_json_is_an_array_of_the_specifications_fields() {
    let value = json(&render_services(&services(), Format::Json));
    let items = array(&value);
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(keys(item), sorted(&SERVICE_FIELDS));
    }
    assert_eq!(items[0]["service_code"], "001");
    assert_eq!(items[0]["metadata"], true);
    assert_eq!(items[0]["type"], "realtime");
    assert_eq!(items[0]["keywords"], "rác, vệ sinh");
    assert_eq!(items[0]["group"], "Vệ sinh môi trường");
    assert_eq!(items[1]["metadata"], false);
    assert_eq!(items[1]["type"], "batch");
    assert!(items[1]["description"].is_null());
    assert!(items[1]["keywords"].is_null());
    assert!(items[1]["group"].is_null());
}

#[test]
fn services_xml_lists_service_elements() {
    let root = parse_xml(&render_services(&services(), Format::Xml));
    assert_eq!(root.name, "services");
    let items = root.all("service");
    assert_eq!(items.len(), 2);
    assert_eq!(root.children.len(), 2);
    for item in &items {
        assert_eq!(item.names(), SERVICE_FIELDS);
    }
    assert_eq!(items[0].text_of("metadata"), "true");
    assert_eq!(items[0].text_of("keywords"), "rác, vệ sinh");
    assert_eq!(items[1].text_of("metadata"), "false");
    assert_eq!(items[1].text_of("description"), "");
    assert_eq!(items[1].text_of("group"), "");
}

#[test]
fn an_empty_list_is_an_empty_array_or_root() {
    assert_eq!(render_services(&[], Format::Json), "[]");
    let root = parse_xml(&render_services(&[], Format::Xml));
    assert_eq!(root.name, "services");
    assert!(root.children.is_empty());
    let root = parse_xml(&render_requests(&[], Format::Xml));
    assert_eq!(root.name, "service_requests");
    assert!(root.children.is_empty());
}

const ATTRIBUTE_FIELDS: [&str; 8] = [
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
];

#[test]
fn service_definition_json_has_the_specifications_fields() {
    let value = json(&render_service_definition(&definition(), Format::Json));
    assert_eq!(keys(&value), sorted(&["service_code", "attributes"]));
    assert_eq!(value["service_code"], "DMV66");
    let attributes = array(&value["attributes"]);
    assert_eq!(attributes.len(), 7);
    for attribute in attributes {
        assert_eq!(keys(attribute), sorted(&ATTRIBUTE_FIELDS));
        for item in array(&attribute["values"]) {
            assert_eq!(keys(item), sorted(&["key", "name"]));
        }
    }
    let first = &attributes[0];
    assert_eq!(first["variable"], true);
    assert_eq!(first["code"], "WHISHETN");
    assert_eq!(first["datatype"], "singlevaluelist");
    assert_eq!(first["required"], true);
    assert_eq!(first["datatype_description"], "Chọn một hãng xe");
    assert_eq!(first["order"], 1);
    assert_eq!(first["values"][1]["key"], "124");
    assert_eq!(first["values"][1]["name"], "Chrysler");
    assert!(attributes[2]["datatype_description"].is_null());
    assert_eq!(attributes[2]["values"], serde_json::json!([]));
    assert_eq!(attributes[6]["variable"], false);
    let datatypes: Vec<&str> = attributes
        .iter()
        .map(|a| some(a["datatype"].as_str()))
        .collect();
    assert_eq!(
        datatypes,
        [
            "singlevaluelist",
            "multivaluelist",
            "string",
            "number",
            "datetime",
            "text",
            "text"
        ]
    );
}

#[test]
fn service_definition_xml_has_the_specifications_elements() {
    let root = parse_xml(&render_service_definition(&definition(), Format::Xml));
    assert_eq!(root.name, "service_definition");
    assert_eq!(root.names(), ["service_code", "attributes"]);
    let attributes = root.child("attributes").all("attribute");
    assert_eq!(attributes.len(), 7);
    for attribute in &attributes {
        assert_eq!(attribute.names(), ATTRIBUTE_FIELDS);
    }
    let values = attributes[0].child("values").all("value");
    assert_eq!(values.len(), 2);
    assert_eq!(values[0].names(), ["key", "name"]);
    assert_eq!(values[0].text_of("key"), "123");
    assert_eq!(values[0].text_of("name"), "Ford");
    assert_eq!(attributes[0].text_of("order"), "1");
    assert_eq!(attributes[0].text_of("required"), "true");
    assert_eq!(attributes[2].text_of("datatype_description"), "");
    assert!(attributes[2].child("values").children.is_empty());
}

#[test]
fn requests_json_has_every_field_with_null_for_absent_ones() {
    let value = json(&render_requests(
        &[full_request(), bare_request()],
        Format::Json,
    ));
    let items = array(&value);
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(keys(item), sorted(&REQUEST_FIELDS));
    }
    let full = &items[0];
    assert_eq!(full["service_request_id"], "638344");
    assert_eq!(full["service_code"], "006");
    assert_eq!(full["status"], "closed");
    assert_eq!(full["requested_datetime"], "2010-04-14T21:37:38+07:00");
    assert_eq!(full["expected_datetime"], "2010-04-15T21:37:38+07:00");
    assert_eq!(full["lat"], 21.002_221_815);
    assert_eq!(full["long"], 105.815_114_5);
    assert_eq!(full["description"], VIETNAMESE);
    let bare = &items[1];
    assert_eq!(bare["status"], "open");
    assert_eq!(bare["updated_datetime"], "2024-03-01T08:30:00+07:00");
    for field in [
        "status_notes",
        "description",
        "agency_responsible",
        "service_notice",
        "expected_datetime",
        "address",
        "address_id",
        "zipcode",
        "lat",
        "long",
        "media_url",
    ] {
        assert!(bare[field].is_null(), "{field}");
    }
}

#[test]
fn requests_xml_has_every_field_with_empty_elements_for_absent_ones() {
    let root = parse_xml(&render_requests(
        &[full_request(), bare_request()],
        Format::Xml,
    ));
    assert_eq!(root.name, "service_requests");
    let items = root.all("request");
    assert_eq!(items.len(), 2);
    for item in &items {
        assert_eq!(item.names(), REQUEST_FIELDS);
    }
    assert_eq!(items[0].text_of("service_code"), "006");
    assert_eq!(items[0].text_of("lat"), "21.002221815");
    assert_eq!(items[0].text_of("long"), "105.8151145");
    assert_eq!(
        items[0].text_of("agency_responsible"),
        "UBND phường Thượng Đình"
    );
    assert_eq!(items[1].text_of("status"), "open");
    assert_eq!(items[1].text_of("lat"), "");
    assert_eq!(items[1].text_of("expected_datetime"), "");
    assert_eq!(items[1].text_of("description"), "");
}

#[test]
fn a_coordinate_that_is_not_finite_is_written_as_absent() {
    let mut request = bare_request();
    request.lat = Some(f64::NAN);
    request.long = Some(f64::INFINITY);
    let value = json(&render_requests(&[request.clone()], Format::Json));
    assert!(value[0]["lat"].is_null());
    assert!(value[0]["long"].is_null());
    let root = parse_xml(&render_requests(&[request], Format::Xml));
    assert_eq!(root.child("request").text_of("lat"), "");
}

fn created() -> Vec<Created> {
    vec![
        Created {
            receipt: Receipt::ServiceRequestId("293944".to_owned()),
            service_notice: Some("Sẽ kiểm tra trong 24 giờ.".to_owned()),
            account_id: None,
        },
        Created {
            receipt: Receipt::Token("12345".to_owned()),
            service_notice: None,
            account_id: Some("acc-7".to_owned()),
        },
        Created {
            receipt: Receipt::Nothing,
            service_notice: None,
            account_id: None,
        },
    ]
}

#[test]
fn created_json_has_the_id_or_the_token_never_both() {
    let value = json(&render_created(&created(), Format::Json));
    let items = array(&value);
    assert_eq!(
        keys(&items[0]),
        sorted(&["service_request_id", "service_notice", "account_id"])
    );
    assert_eq!(items[0]["service_request_id"], "293944");
    assert!(items[0]["account_id"].is_null());
    assert_eq!(
        keys(&items[1]),
        sorted(&["token", "service_notice", "account_id"])
    );
    assert_eq!(items[1]["token"], "12345");
    assert_eq!(items[1]["account_id"], "acc-7");
    assert_eq!(keys(&items[2]), sorted(&["service_notice", "account_id"]));
}

#[test]
fn created_xml_is_service_requests_of_request() {
    let root = parse_xml(&render_created(&created(), Format::Xml));
    assert_eq!(root.name, "service_requests");
    let items = root.all("request");
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[0].names(),
        ["service_request_id", "service_notice", "account_id"]
    );
    assert_eq!(
        items[0].text_of("service_notice"),
        "Sẽ kiểm tra trong 24 giờ."
    );
    assert_eq!(items[0].text_of("account_id"), "");
    assert_eq!(items[1].names(), ["token", "service_notice", "account_id"]);
    assert_eq!(items[2].names(), ["service_notice", "account_id"]);
}

#[test]
fn token_answers_have_the_id_and_the_token() {
    let answers = [
        TokenAnswer {
            service_request_id: Some("638344".to_owned()),
            token: "12345".to_owned(),
        },
        TokenAnswer {
            service_request_id: None,
            token: "12346".to_owned(),
        },
    ];
    let value = json(&render_tokens(&answers, Format::Json));
    for item in array(&value) {
        assert_eq!(keys(item), sorted(&["service_request_id", "token"]));
    }
    assert_eq!(value[0]["service_request_id"], "638344");
    assert!(value[1]["service_request_id"].is_null());
    let root = parse_xml(&render_tokens(&answers, Format::Xml));
    assert_eq!(root.name, "service_requests");
    let items = root.all("request");
    assert_eq!(items[0].names(), ["service_request_id", "token"]);
    assert_eq!(items[0].text_of("token"), "12345");
    assert_eq!(items[1].text_of("service_request_id"), "");
}

fn updates() -> Vec<RequestUpdate> {
    vec![
        RequestUpdate {
            update_id: "20474".to_owned(),
            service_request_id: "2934".to_owned(),
            status: Status::Open,
            updated_datetime: at("2010-04-14T10:37:38-01:00"),
            description: Some("Đã lên lịch kiểm tra".to_owned()),
            media_url: Some("https://example.vn/u/20474.jpg".to_owned()),
        },
        RequestUpdate {
            update_id: "20475".to_owned(),
            service_request_id: "2934".to_owned(),
            status: Status::Closed,
            updated_datetime: at("2010-04-15T00:00:00Z"),
            description: None,
            media_url: None,
        },
    ]
}

const UPDATE_FIELDS: [&str; 6] = [
    "update_id",
    "service_request_id",
    "status",
    "updated_datetime",
    "description",
    "media_url",
];

#[test]
fn updates_json_has_the_extensions_fields() {
    let value = json(&render_updates(&updates(), Format::Json));
    let items = array(&value);
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(keys(item), sorted(&UPDATE_FIELDS));
    }
    assert_eq!(items[0]["updated_datetime"], "2010-04-14T18:37:38+07:00");
    assert_eq!(items[1]["status"], "closed");
    assert!(items[1]["description"].is_null());
    assert!(items[1]["media_url"].is_null());
}

#[test]
fn updates_xml_is_service_request_updates_of_request_update() {
    let root = parse_xml(&render_updates(&updates(), Format::Xml));
    assert_eq!(root.name, "service_request_updates");
    let items = root.all("request_update");
    assert_eq!(items.len(), 2);
    for item in &items {
        assert_eq!(item.names(), UPDATE_FIELDS);
    }
    assert_eq!(items[0].text_of("description"), "Đã lên lịch kiểm tra");
    assert_eq!(items[1].text_of("media_url"), "");
}

#[test]
fn update_created_answers_the_update_id() {
    let created = [UpdateCreated {
        update_id: "2001_2".to_owned(),
        account_id: None,
    }];
    let value = json(&render_update_created(&created, Format::Json));
    assert_eq!(keys(&value[0]), sorted(&["update_id", "account_id"]));
    assert_eq!(value[0]["update_id"], "2001_2");
    let root = parse_xml(&render_update_created(&created, Format::Xml));
    assert_eq!(root.name, "service_request_updates");
    let item = root.child("request_update");
    assert_eq!(item.names(), ["update_id", "account_id"]);
    assert_eq!(item.text_of("update_id"), "2001_2");
}

#[test]
fn errors_write_code_and_description_only() {
    let refused = errs(parse_new_request(&pairs(&[("lat", "1")])));
    let mut errors = vec![Error::api_key()];
    errors.extend(refused);
    let text = render_errors(&errors, Format::Json);
    let value = json(&text);
    let items = array(&value);
    assert_eq!(items.len(), errors.len());
    for (item, error) in items.iter().zip(&errors) {
        assert_eq!(keys(item), sorted(&["code", "description"]));
        assert_eq!(item["code"], u64::from(error.code));
        assert_eq!(item["description"], error.description.as_str());
        assert!(!text.contains(some(error.description_vi.as_deref())));
    }
    assert_eq!(items[0]["code"], 403);

    let xml = render_errors(&errors, Format::Xml);
    let root = parse_xml(&xml);
    assert_eq!(root.name, "errors");
    let items = root.all("error");
    assert_eq!(items.len(), errors.len());
    for (item, error) in items.iter().zip(&errors) {
        assert_eq!(item.names(), ["code", "description"]);
        assert_eq!(item.text_of("code"), error.code.to_string());
        assert_eq!(item.text_of("description"), error.description);
        assert!(!xml.contains(some(error.description_vi.as_deref())));
    }
}

#[test]
fn server_errors_carry_their_reason() {
    let error = Error::not_found("service_code 033", "loại yêu cầu 033");
    assert_eq!(error.code, 404);
    assert_eq!(error.reason, Reason::NotFound);
    assert_eq!(error.description, "service_code 033 was not found.");
    assert_eq!(
        error.description_vi.as_deref(),
        Some("Không tìm thấy loại yêu cầu 033.")
    );
    let error = Error::new(400, "CRM is down").with_vi("Hệ thống đang bận");
    assert_eq!(error.reason, Reason::General);
    assert_eq!(error.reason.key(), "general");
    assert_eq!(error.to_string(), "400 CRM is down");
    assert_eq!(Error::api_key().reason.key(), "api_key");
}

#[test]
fn special_characters_are_escaped_and_come_back() {
    let tricky = "a <b> & \"c\" 'd' </description><x>\r\nline two";
    let mut request = bare_request();
    request.description = Some(tricky.to_owned());
    request.address = Some("&amp; stays literal".to_owned());

    let xml = render_requests(&[request.clone()], Format::Xml);
    assert!(xml.contains("&lt;b&gt; &amp; &quot;c&quot;"), "{xml}");
    assert!(!xml.contains("<b>"));
    assert!(xml.contains("&amp;amp; stays literal"));
    let item = parse_xml(&xml);
    let item = item.child("request");
    assert_eq!(item.text_of("description"), tricky);
    assert_eq!(item.text_of("address"), "&amp; stays literal");

    let value = json(&render_requests(&[request], Format::Json));
    assert_eq!(value[0]["description"], tricky);
    assert_eq!(value[0]["address"], "&amp; stays literal");
}

#[test]
fn vietnamese_text_survives_both_formats() {
    let mut service = services().remove(0);
    service.description = Some(VIETNAMESE.to_owned());
    let xml = render_services(&[service.clone()], Format::Xml);
    assert!(
        xml.contains(VIETNAMESE),
        "written as UTF-8, not as references"
    );
    let root = parse_xml(&xml);
    assert_eq!(root.child("service").text_of("description"), VIETNAMESE);
    assert_eq!(
        root.child("service").text_of("service_name"),
        "Rác thải bỏ không đúng nơi"
    );
    let text = render_services(&[service], Format::Json);
    assert!(text.contains(VIETNAMESE));
    assert_eq!(json(&text)[0]["description"], VIETNAMESE);
}

#[test]
fn characters_that_xml_cannot_carry_are_dropped_there_only() {
    let mut request = bare_request();
    request.description = Some("a\u{1}b\u{b}c\u{fffe}d\te\u{2028}f".to_owned());
    let root = parse_xml(&render_requests(&[request.clone()], Format::Xml));
    assert_eq!(
        root.child("request").text_of("description"),
        "abcd\te\u{2028}f"
    );
    let text = render_requests(&[request], Format::Json);
    assert!(text.contains("\\u0001") && text.contains("\\u2028"));
    assert_eq!(
        json(&text)[0]["description"],
        "a\u{1}b\u{b}c\u{fffe}d\te\u{2028}f"
    );
}

// ---------------------------------------------------------------------------------------
// POST requests
// ---------------------------------------------------------------------------------------

/// The specification's example request, moved to Hà Nội.
fn example_post() -> Vec<(String, String)> {
    pairs(&[
        ("api_key", "xyz"),
        ("jurisdiction_id", "hanoi.gov.vn"),
        ("service_code", "001"),
        ("lat", "21.0285"),
        ("long", "105.8542"),
        (
            "address_string",
            "12 Nguyễn Trãi, Thượng Đình, Thanh Xuân, Hà Nội",
        ),
        ("email", "smit333@example.edu.vn"),
        ("device_id", "tt222111"),
        ("account_id", "123456"),
        ("first_name", "Văn A"),
        ("last_name", "Nguyễn"),
        ("phone", "+84 912 345 678"),
        ("description", "Hố sụt lớn\ngiữa đường"),
        (
            "media_url",
            "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg",
        ),
        ("attribute[WHISPAWN]", "123456"),
        ("attribute[WHISDORN]", "COISL001"),
        ("unknown_parameter", "ignored"),
    ])
}

fn with(base: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    let mut list: Vec<(String, String)> = base.into_iter().filter(|(n, _)| n != name).collect();
    list.push((name.to_owned(), value.to_owned()));
    list
}

fn without(base: Vec<(String, String)>, names: &[&str]) -> Vec<(String, String)> {
    base.into_iter()
        .filter(|(n, _)| !names.contains(&n.as_str()))
        .collect()
}

#[test]
fn the_specifications_example_request_is_read_whole() {
    let request = ok(parse_new_request(&example_post()));
    assert_eq!(request.api_key.as_deref(), Some("xyz"));
    assert_eq!(request.jurisdiction_id.as_deref(), Some("hanoi.gov.vn"));
    assert_eq!(request.service_code, "001");
    assert_eq!(
        request.lat_long,
        Some(LatLong {
            lat: 21.0285,
            long: 105.8542
        })
    );
    assert_eq!(
        request.address_string.as_deref(),
        Some("12 Nguyễn Trãi, Thượng Đình, Thanh Xuân, Hà Nội")
    );
    assert_eq!(request.address_id, None);
    assert_eq!(request.email.as_deref(), Some("smit333@example.edu.vn"));
    assert_eq!(request.device_id.as_deref(), Some("tt222111"));
    assert_eq!(request.account_id.as_deref(), Some("123456"));
    assert_eq!(request.first_name.as_deref(), Some("Văn A"));
    assert_eq!(request.last_name.as_deref(), Some("Nguyễn"));
    assert_eq!(request.phone.as_deref(), Some("+84 912 345 678"));
    assert_eq!(
        request.description.as_deref(),
        Some("Hố sụt lớn\ngiữa đường")
    );
    assert_eq!(
        request.media_url.as_deref(),
        Some("http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg")
    );
    let expected: BTreeMap<String, Vec<String>> = [
        ("WHISDORN".to_owned(), vec!["COISL001".to_owned()]),
        ("WHISPAWN".to_owned(), vec!["123456".to_owned()]),
    ]
    .into();
    assert_eq!(request.attributes, expected);
}

#[test]
fn empty_parameters_are_as_if_not_sent() {
    let request = ok(parse_new_request(&pairs(&[
        ("service_code", " 001 "),
        ("address_id", "545483"),
        ("email", ""),
        ("description", "   "),
        ("media_url", ""),
        ("lat", ""),
        ("long", ""),
        ("attribute[X]", ""),
    ])));
    assert_eq!(request.service_code, "001");
    assert_eq!(request.address_id.as_deref(), Some("545483"));
    assert_eq!(request.lat_long, None);
    assert_eq!(request.email, None);
    assert_eq!(request.description, None);
    assert_eq!(request.media_url, None);
    assert!(request.attributes.is_empty());
    assert_eq!(request.api_key, None, "the server checks the key");
}

#[test]
fn a_missing_service_code_is_refused() {
    let errors = errs(parse_new_request(&without(
        example_post(),
        &["service_code"],
    )));
    assert_eq!(reasons(&errors), [(Reason::Missing, Some("service_code"))]);
    assert_refused(&errors, Reason::Missing, "service_code");
    let errors = errs(parse_new_request(&with(
        example_post(),
        "service_code",
        " ",
    )));
    assert_refused(&errors, Reason::Missing, "service_code");
}

#[test]
fn a_location_is_required_in_one_of_three_forms() {
    let errors = errs(parse_new_request(&without(
        example_post(),
        &["lat", "long", "address_string"],
    )));
    assert_eq!(reasons(&errors), [(Reason::NoLocation, Some("lat"))]);
    assert_refused(&errors, Reason::NoLocation, "lat");

    let only_address = without(example_post(), &["lat", "long"]);
    assert!(ok(parse_new_request(&only_address)).lat_long.is_none());
    let only_id = with(
        without(example_post(), &["lat", "long", "address_string"]),
        "address_id",
        "545483",
    );
    assert_eq!(
        ok(parse_new_request(&only_id)).address_id.as_deref(),
        Some("545483")
    );
    let only_position = without(example_post(), &["address_string"]);
    assert!(ok(parse_new_request(&only_position)).lat_long.is_some());
}

#[test]
fn lat_and_long_go_together() {
    let errors = errs(parse_new_request(&without(example_post(), &["long"])));
    assert_eq!(
        reasons(&errors),
        [(Reason::LatLongIncomplete, Some("long"))]
    );
    assert_refused(&errors, Reason::LatLongIncomplete, "long");
    let errors = errs(parse_new_request(&without(example_post(), &["lat"])));
    assert_refused(&errors, Reason::LatLongIncomplete, "lat");
    let errors = errs(parse_new_request(&with(example_post(), "long", "")));
    assert_refused(&errors, Reason::LatLongIncomplete, "long");
}

#[test]
fn coordinates_must_be_finite_and_in_range() {
    for (name, value) in [
        ("lat", "90.0001"),
        ("lat", "-91"),
        ("long", "180.5"),
        ("long", "-1e3"),
    ] {
        let errors = errs(parse_new_request(&with(example_post(), name, value)));
        assert_eq!(
            reasons(&errors),
            [(Reason::CoordinateOutOfRange, Some(name))],
            "{name}={value}"
        );
        assert_refused(&errors, Reason::CoordinateOutOfRange, name);
    }
    for (name, value) in [
        ("lat", "abc"),
        ("lat", "NaN"),
        ("long", "inf"),
        ("long", "-infinity"),
        ("lat", "21,03"),
        ("long", "105.8 E"),
    ] {
        let errors = errs(parse_new_request(&with(example_post(), name, value)));
        assert_eq!(
            reasons(&errors),
            [(Reason::CoordinateInvalid, Some(name))],
            "{name}={value}"
        );
        assert_refused(&errors, Reason::CoordinateInvalid, name);
    }
    let edge = with(with(example_post(), "lat", "-90"), "long", "180");
    assert_eq!(
        ok(parse_new_request(&edge)).lat_long,
        Some(LatLong {
            lat: -90.0,
            long: 180.0
        })
    );
}

#[test]
fn over_long_fields_are_refused() {
    let cases = [
        ("description", limits::DESCRIPTION),
        ("first_name", limits::NAME),
        ("last_name", limits::NAME),
        ("phone", limits::PHONE),
        ("address_string", limits::ADDRESS),
        ("device_id", limits::IDENTIFIER),
        ("account_id", limits::IDENTIFIER),
        ("service_code", limits::IDENTIFIER),
    ];
    for (name, max) in cases {
        // Counted in characters: a full-length Vietnamese value passes.
        let fits = "ệ".repeat(max);
        assert!(
            !ok(parse_new_request(&with(example_post(), name, &fits)))
                .service_code
                .is_empty()
        );
        let errors = errs(parse_new_request(&with(
            example_post(),
            name,
            &"ệ".repeat(max + 1),
        )));
        assert_eq!(reasons(&errors), [(Reason::TooLong, Some(name))], "{name}");
        assert_refused(&errors, Reason::TooLong, name);
    }
    let long_email = format!("{}@example.vn", "a".repeat(limits::EMAIL));
    let errors = errs(parse_new_request(&with(
        example_post(),
        "email",
        &long_email,
    )));
    assert_refused(&errors, Reason::TooLong, "email");
    let long_url = format!("https://example.vn/{}", "a".repeat(limits::MEDIA_URL));
    let errors = errs(parse_new_request(&with(
        example_post(),
        "media_url",
        &long_url,
    )));
    assert_refused(&errors, Reason::TooLong, "media_url");
}

#[test]
fn emails_must_be_shaped_like_one() {
    for good in [
        "nguyen.van.a@example.gov.vn",
        "a+tag@sub.example.vn",
        "người.dùng@ví-dụ.việtnam",
    ] {
        let request = ok(parse_new_request(&with(example_post(), "email", good)));
        assert_eq!(request.email.as_deref(), Some(good));
    }
    for bad in [
        "abc",
        "a@b",
        "a b@example.vn",
        "a@@example.vn",
        "@example.vn",
        "a@example..vn",
        "a@-example.vn",
        ".a@example.vn",
        "a..b@example.vn",
        "a@example.vn.",
        "<a@example.vn>",
        "a@exa mple.vn",
    ] {
        let errors = errs(parse_new_request(&with(example_post(), "email", bad)));
        assert_eq!(
            reasons(&errors),
            [(Reason::EmailInvalid, Some("email"))],
            "{bad}"
        );
        assert_refused(&errors, Reason::EmailInvalid, "email");
    }
}

#[test]
fn media_urls_must_be_http_or_https() {
    for good in ["https://example.vn/a.jpg", "http://203.0.113.7:8080/x?y=1"] {
        let request = ok(parse_new_request(&with(example_post(), "media_url", good)));
        assert_eq!(request.media_url.as_deref(), Some(good));
    }
    for bad in [
        "ftp://example.vn/a.jpg",
        "javascript:alert(1)",
        "not a url",
        "example.vn/a.jpg",
        "http://",
        "https://exa mple.vn/a.jpg",
        "file:///etc/passwd",
        "data:image/png;base64,AAAA",
    ] {
        let errors = errs(parse_new_request(&with(example_post(), "media_url", bad)));
        assert_eq!(
            reasons(&errors),
            [(Reason::MediaUrlInvalid, Some("media_url"))],
            "{bad}"
        );
        assert_refused(&errors, Reason::MediaUrlInvalid, "media_url");
    }
}

#[test]
fn attributes_are_read_in_both_forms() {
    let mut list = example_post();
    list.extend(pairs(&[
        ("attribute[COLOURS][]", "x"),
        ("attribute[COLOURS][]", "z"),
        ("attribute[COLOURS][]", ""),
        ("attribute[MANY]", "1"),
        ("attribute[MANY]", "2"),
        ("attribute[TÊN]", "Giá trị"),
    ]));
    let request = ok(parse_new_request(&list));
    assert_eq!(request.attributes["COLOURS"], ["x", "z"]);
    assert_eq!(request.attributes["MANY"], ["1", "2"]);
    assert_eq!(request.attributes["TÊN"], ["Giá trị"]);
    assert_eq!(request.attributes.len(), 5);
}

#[test]
fn malformed_attribute_names_are_refused() {
    for name in [
        "attribute[]",
        "attribute[X",
        "attribute[X]junk",
        "attribute[X][0]",
        "attribute[X][][]",
        "attribute[[X]]",
        "attribute[ ]",
    ] {
        let errors = errs(parse_new_request(&with(example_post(), name, "1")));
        assert_eq!(
            reasons(&errors),
            [(Reason::AttributeMalformed, Some(name))],
            "{name}"
        );
        assert_refused(&errors, Reason::AttributeMalformed, name);
    }
    let long_code = format!("attribute[{}]", "C".repeat(limits::IDENTIFIER + 1));
    let errors = errs(parse_new_request(&with(example_post(), &long_code, "1")));
    assert_refused(&errors, Reason::TooLong, &long_code);
    let long_value = "v".repeat(limits::ATTRIBUTE_VALUE + 1);
    let errors = errs(parse_new_request(&with(
        example_post(),
        "attribute[X]",
        &long_value,
    )));
    assert_refused(&errors, Reason::TooLong, "attribute[X]");
}

#[test]
fn a_parameter_sent_twice_must_agree() {
    let mut list = example_post();
    list.push(("service_code".to_owned(), "002".to_owned()));
    let errors = errs(parse_new_request(&list));
    assert_eq!(reasons(&errors), [(Reason::Repeated, Some("service_code"))]);
    assert_refused(&errors, Reason::Repeated, "service_code");
    let mut list = example_post();
    list.push(("service_code".to_owned(), "001".to_owned()));
    assert_eq!(ok(parse_new_request(&list)).service_code, "001");
}

#[test]
fn every_error_is_reported_at_once() {
    let errors = errs(parse_new_request(&pairs(&[
        ("email", "not-an-email"),
        ("phone", &"9".repeat(limits::PHONE + 1)),
        ("media_url", "ftp://x.vn/a"),
    ])));
    assert_eq!(
        reasons(&errors),
        [
            (Reason::Missing, Some("service_code")),
            (Reason::NoLocation, Some("lat")),
            (Reason::EmailInvalid, Some("email")),
            (Reason::TooLong, Some("phone")),
            (Reason::MediaUrlInvalid, Some("media_url")),
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Attributes against a definition
// ---------------------------------------------------------------------------------------

fn given(list: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    list.iter()
        .map(|(code, values)| {
            (
                (*code).to_owned(),
                values.iter().map(|v| (*v).to_owned()).collect(),
            )
        })
        .collect()
}

#[test]
fn valid_attributes_are_kept_in_definition_order() {
    let kept = ok(check_attributes(
        &definition(),
        &given(&[
            ("NOTE", &["dòng một\ndòng hai"]),
            ("WHISHETN", &["124"]),
            ("PLATE", &[" 29A-123.45 "]),
            ("COLOURS", &["z", "x", "z"]),
            ("COUNT", &["-12.5"]),
            ("SEEN", &["2024-03-01T08:00:00+07:00"]),
        ]),
    ));
    let expected: Vec<(String, Vec<String>)> = [
        ("WHISHETN", vec!["124"]),
        ("PLATE", vec!["29A-123.45"]),
        ("COLOURS", vec!["z", "x"]),
        ("COUNT", vec!["-12.5"]),
        ("SEEN", vec!["2024-03-01T08:00:00+07:00"]),
        ("NOTE", vec!["dòng một\ndòng hai"]),
    ]
    .iter()
    .map(|(code, values)| {
        (
            (*code).to_owned(),
            values.iter().map(|v| (*v).to_owned()).collect(),
        )
    })
    .collect();
    assert_eq!(kept, expected);
}

#[test]
fn required_attributes_must_be_given() {
    let errors = errs(check_attributes(
        &definition(),
        &given(&[("PLATE", &["29A"]), ("WHISHETN", &[" "])]),
    ));
    assert_eq!(
        reasons(&errors),
        [(Reason::AttributeRequired, Some("attribute[WHISHETN]"))]
    );
    assert_refused(&errors, Reason::AttributeRequired, "attribute[WHISHETN]");
    let errors = errs(check_attributes(&definition(), &BTreeMap::new()));
    assert_eq!(
        reasons(&errors),
        [
            (Reason::AttributeRequired, Some("attribute[WHISHETN]")),
            (Reason::AttributeRequired, Some("attribute[PLATE]")),
        ]
    );
}

/// Checks the definition with its required attributes given and `code` set to `values`.
fn check_one(code: &str, values: &[&str]) -> Vec<Error> {
    let mut map = given(&[("WHISHETN", &["123"]), ("PLATE", &["29A"])]);
    map.insert(
        code.to_owned(),
        values.iter().map(|v| (*v).to_owned()).collect(),
    );
    errs(check_attributes(&definition(), &map))
}

#[test]
fn unknown_and_informational_codes_are_refused() {
    let errors = check_one("NOPE", &["1"]);
    assert_eq!(
        reasons(&errors),
        [(Reason::AttributeUnknown, Some("attribute[NOPE]"))]
    );
    assert_refused(&errors, Reason::AttributeUnknown, "attribute[NOPE]");
    let errors = check_one("INFO", &["1"]);
    assert_refused(&errors, Reason::AttributeUnknown, "attribute[INFO]");
}

#[test]
fn attribute_values_must_fit_their_datatype() {
    let cases: [(&'static str, &'static [&'static str], Reason); 10] = [
        ("COUNT", &["mười"], Reason::AttributeNotNumber),
        ("COUNT", &["NaN"], Reason::AttributeNotNumber),
        ("COUNT", &["1", "2"], Reason::AttributeSingleValue),
        ("SEEN", &["hôm qua"], Reason::AttributeNotDatetime),
        (
            "SEEN",
            &["2024-03-01T08:00:00"],
            Reason::AttributeNotDatetime,
        ),
        ("WHISHETN", &["125"], Reason::AttributeValueUnknown),
        ("WHISHETN", &["123", "124"], Reason::AttributeSingleValue),
        ("COLOURS", &["x", "w"], Reason::AttributeValueUnknown),
        ("PLATE", &["29A\n123"], Reason::AttributeLineBreak),
        ("NOTE", &["a", "b"], Reason::AttributeSingleValue),
    ];
    for (code, values, reason) in cases {
        let param = format!("attribute[{code}]");
        let errors = check_one(code, values);
        assert_eq!(
            reasons(&errors),
            [(reason, Some(param.as_str()))],
            "{code}={values:?}"
        );
        assert_refused(&errors, reason, &param);
    }
    let long = "v".repeat(limits::ATTRIBUTE_VALUE + 1);
    let errors = check_one("NOTE", &[long.as_str()]);
    assert_refused(&errors, Reason::TooLong, "attribute[NOTE]");
}

// ---------------------------------------------------------------------------------------
// GET requests and servicerequestupdates
// ---------------------------------------------------------------------------------------

#[test]
fn a_request_query_is_read_whole() {
    let query = ok(parse_request_query(&pairs(&[
        ("jurisdiction_id", "hanoi.gov.vn"),
        ("service_request_id", "638344, 638349,,638344"),
        ("service_code", "001,006"),
        ("service_code", "007"),
        ("start_date", "2010-05-24T00:00:00Z"),
        ("end_date", "2010-06-24T00:00:00Z"),
        ("status", "open, CLOSED,open"),
        ("page", "3"),
        ("page_size", "50"),
    ])));
    assert_eq!(query.jurisdiction_id.as_deref(), Some("hanoi.gov.vn"));
    assert_eq!(query.service_request_ids, ["638344", "638349"]);
    assert!(query.by_id());
    assert_eq!(query.service_codes, ["001", "006", "007"]);
    assert_eq!(query.start_date, Some(at("2010-05-24T00:00:00Z")));
    assert_eq!(query.end_date, Some(at("2010-06-24T00:00:00Z")));
    assert_eq!(query.statuses, [Status::Open, Status::Closed]);
    assert_eq!((query.page, query.page_size), (Some(3), Some(50)));
    assert_eq!((query.offset(), query.limit()), (100, 50));
    assert_eq!(
        query.window(at("2030-01-01T00:00:00Z")),
        (at("2010-05-24T00:00:00Z"), at("2010-06-24T00:00:00Z"))
    );
}

#[test]
fn an_empty_request_query_takes_the_defaults() {
    let query = ok(parse_request_query(&[]));
    assert_eq!(query, RequestQuery::default());
    assert!(!query.by_id());
    assert_eq!((query.offset(), query.limit()), (0, MAX_RESULTS));
    let now = at("2024-04-01T00:00:00Z");
    assert_eq!(query.window(now), (at("2024-01-02T00:00:00Z"), now));
    assert_eq!(DEFAULT_WINDOW_DAYS, 90);
    assert_eq!(MAX_RESULTS, 1000);

    let start_only = ok(parse_request_query(&pairs(&[("start_date", "2024-01-01")])));
    assert_eq!(
        start_only.window(now),
        (
            at("2024-01-01T00:00:00+07:00"),
            at("2024-03-31T00:00:00+07:00")
        )
    );
    let end_only = ok(parse_request_query(&pairs(&[("end_date", "2024-03-31")])));
    assert_eq!(
        end_only.window(now),
        (
            at("2024-01-01T23:59:59+07:00"),
            at("2024-03-31T23:59:59+07:00")
        )
    );
}

#[test]
fn a_date_alone_covers_its_whole_day() {
    let query = ok(parse_request_query(&pairs(&[
        ("start_date", "2024-03-01"),
        ("end_date", "2024-03-01"),
    ])));
    assert_eq!(query.start_date, Some(at("2024-03-01T00:00:00+07:00")));
    assert_eq!(query.end_date, Some(at("2024-03-01T23:59:59+07:00")));
}

#[test]
fn bad_dates_and_reversed_ranges_are_refused() {
    let errors = errs(parse_request_query(&pairs(&[
        ("start_date", "24/05/2010"),
        ("end_date", "2010-06-24T00:00:00"),
    ])));
    assert_eq!(
        reasons(&errors),
        [
            (Reason::DateInvalid, Some("start_date")),
            (Reason::DateInvalid, Some("end_date")),
        ]
    );
    assert_refused(&errors, Reason::DateInvalid, "start_date");
    let errors = errs(parse_request_query(&pairs(&[
        ("start_date", "2010-06-24T00:00:00Z"),
        ("end_date", "2010-05-24T00:00:00Z"),
    ])));
    assert_eq!(reasons(&errors), [(Reason::DateRange, Some("end_date"))]);
    assert_refused(&errors, Reason::DateRange, "end_date");
    let errors = errs(parse_request_query(&pairs(&[
        ("start_date", "2010-01-01T00:00:00Z"),
        ("start_date", "2010-02-01T00:00:00Z"),
    ])));
    assert_refused(&errors, Reason::Repeated, "start_date");
}

#[test]
fn unknown_statuses_are_refused() {
    let errors = errs(parse_request_query(&pairs(&[("status", "open,pending")])));
    assert_eq!(reasons(&errors), [(Reason::StatusInvalid, Some("status"))]);
    assert_refused(&errors, Reason::StatusInvalid, "status");
    assert!(errors[0].description.contains("pending"));
}

#[test]
fn pages_must_be_in_range() {
    for (name, value) in [
        ("page", "0"),
        ("page", "-1"),
        ("page", "x"),
        ("page", "1.5"),
        ("page_size", "0"),
        ("page_size", "1001"),
        ("page_size", "99999999999"),
    ] {
        let errors = errs(parse_request_query(&pairs(&[(name, value)])));
        assert_eq!(
            reasons(&errors),
            [(Reason::PageInvalid, Some(name))],
            "{name}={value}"
        );
        assert_refused(&errors, Reason::PageInvalid, name);
    }
    let query = ok(parse_request_query(&pairs(&[("page_size", "1000")])));
    assert_eq!(query.limit(), 1000);
}

#[test]
fn over_long_lists_are_refused() {
    let ids: Vec<String> = (0..=MAX_RESULTS).map(|i| i.to_string()).collect();
    let errors = errs(parse_request_query(&pairs(&[(
        "service_request_id",
        &ids.join(","),
    )])));
    assert_eq!(
        reasons(&errors),
        [(Reason::TooMany, Some("service_request_id"))]
    );
    assert_refused(&errors, Reason::TooMany, "service_request_id");
    let long = "c".repeat(limits::IDENTIFIER + 1);
    let errors = errs(parse_request_query(&pairs(&[("service_code", &long)])));
    assert_refused(&errors, Reason::TooLong, "service_code");
}

#[test]
fn an_update_query_reads_its_window() {
    let query = ok(parse_update_query(&pairs(&[
        ("jurisdiction_id", "hanoi.gov.vn"),
        ("start_date", "2010-05-24T00:00:00Z"),
        ("end_date", "2010-06-24"),
        ("api_key", "ignored"),
    ])));
    assert_eq!(query.jurisdiction_id.as_deref(), Some("hanoi.gov.vn"));
    assert_eq!(query.start_date, Some(at("2010-05-24T00:00:00Z")));
    assert_eq!(query.end_date, Some(at("2010-06-24T23:59:59+07:00")));
    assert_eq!(ok(parse_update_query(&[])), UpdateQuery::default());
    let errors = errs(parse_update_query(&pairs(&[("start_date", "hôm qua")])));
    assert_refused(&errors, Reason::DateInvalid, "start_date");
    let errors = errs(parse_update_query(&pairs(&[
        ("start_date", "2010-06-24"),
        ("end_date", "2010-06-23"),
    ])));
    assert_refused(&errors, Reason::DateRange, "end_date");
}

fn example_update() -> Vec<(String, String)> {
    pairs(&[
        ("api_key", "test"),
        ("service_request_id", "1001"),
        ("update_id", "123"),
        ("first_name", "Bob"),
        ("last_name", "Mould"),
        ("title", "Mr"),
        ("email", "bob@example.org"),
        ("description", "Update here"),
        ("status", "OPEN"),
        ("updated_datetime", "2016-09-01T15:00:00Z"),
        ("media_url", "http://example.org/1.jpg"),
        ("media_url", "http://example.org/2.jpg"),
    ])
}

#[test]
fn a_posted_update_is_read_whole() {
    let update = ok(parse_new_update(&example_update()));
    assert_eq!(update.api_key.as_deref(), Some("test"));
    assert_eq!(update.service_request_id, "1001");
    assert_eq!(update.update_id, "123");
    assert_eq!(update.status, Status::Open);
    assert_eq!(update.updated_datetime, at("2016-09-01T15:00:00Z"));
    assert_eq!(update.description, "Update here");
    assert_eq!(update.first_name.as_deref(), Some("Bob"));
    assert_eq!(update.title.as_deref(), Some("Mr"));
    assert_eq!(update.email.as_deref(), Some("bob@example.org"));
    assert_eq!(
        update.media_urls,
        ["http://example.org/1.jpg", "http://example.org/2.jpg"]
    );
    let silent = ok(parse_new_update(&with(example_update(), "description", "")));
    assert_eq!(silent.description, "");
    let closed = ok(parse_new_update(&with(
        example_update(),
        "status",
        "closed",
    )));
    assert_eq!(closed.status, Status::Closed);
}

#[test]
fn a_posted_update_needs_its_fields() {
    let errors = errs(parse_new_update(&pairs(&[("api_key", "test")])));
    assert_eq!(
        reasons(&errors),
        [
            (Reason::Missing, Some("service_request_id")),
            (Reason::Missing, Some("update_id")),
            (Reason::Missing, Some("status")),
            (Reason::Missing, Some("updated_datetime")),
            (Reason::Missing, Some("description")),
        ]
    );
    assert_refused(&errors, Reason::Missing, "update_id");
    let errors = errs(parse_new_update(&with(example_update(), "status", "FIXED")));
    assert_refused(&errors, Reason::StatusInvalid, "status");
    let errors = errs(parse_new_update(&with(
        example_update(),
        "updated_datetime",
        "2016-09-01T99",
    )));
    assert_refused(&errors, Reason::DateInvalid, "updated_datetime");
    let errors = errs(parse_new_update(&with(example_update(), "email", "bob")));
    assert_refused(&errors, Reason::EmailInvalid, "email");
    let mut list = example_update();
    list.push(("media_url".to_owned(), "ftp://example.org/3.jpg".to_owned()));
    let errors = errs(parse_new_update(&list));
    assert_refused(&errors, Reason::MediaUrlInvalid, "media_url");
}

#[test]
fn status_reads_and_writes_the_two_values() {
    assert_eq!(Status::parse("open"), Some(Status::Open));
    assert_eq!(Status::parse("CLOSED"), Some(Status::Closed));
    assert_eq!(Status::parse(" Open "), Some(Status::Open));
    assert_eq!(Status::parse("in_progress"), None);
    assert_eq!(Status::parse(""), None);
    assert_eq!(Status::Open.as_str(), "open");
    assert_eq!(Status::Closed.as_str(), "closed");
    for datatype in [
        Datatype::String,
        Datatype::Number,
        Datatype::Datetime,
        Datatype::Text,
        Datatype::SingleValueList,
        Datatype::MultiValueList,
    ] {
        assert_eq!(Datatype::parse(datatype.as_str()), Some(datatype));
    }
    assert_eq!(Datatype::parse("STRING"), None);
}

// ---------------------------------------------------------------------------------------
// Round trip
// ---------------------------------------------------------------------------------------

fn opt_text(el: &El, name: &str) -> Option<String> {
    let text = el.text_of(name);
    (!text.is_empty()).then(|| text.to_owned())
}

fn opt_date(el: &El, name: &str) -> Option<DateTime<Utc>> {
    opt_text(el, name).map(|text| some(parse_datetime(&text)))
}

fn opt_number(el: &El, name: &str) -> Option<f64> {
    opt_text(el, name).map(|text| ok(text.parse::<f64>()))
}

fn request_from_xml(el: &El) -> ServiceRequest {
    assert_eq!(el.name, "request");
    assert_eq!(el.names(), REQUEST_FIELDS);
    ServiceRequest {
        service_request_id: el.text_of("service_request_id").to_owned(),
        status: some(Status::parse(el.text_of("status"))),
        status_notes: opt_text(el, "status_notes"),
        service_name: el.text_of("service_name").to_owned(),
        service_code: el.text_of("service_code").to_owned(),
        description: opt_text(el, "description"),
        agency_responsible: opt_text(el, "agency_responsible"),
        service_notice: opt_text(el, "service_notice"),
        requested_datetime: some(opt_date(el, "requested_datetime")),
        updated_datetime: some(opt_date(el, "updated_datetime")),
        expected_datetime: opt_date(el, "expected_datetime"),
        address: opt_text(el, "address"),
        address_id: opt_text(el, "address_id"),
        zipcode: opt_text(el, "zipcode"),
        lat: opt_number(el, "lat"),
        long: opt_number(el, "long"),
        media_url: opt_text(el, "media_url"),
    }
}

fn json_text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

fn request_from_json(value: &Value) -> ServiceRequest {
    assert_eq!(keys(value), sorted(&REQUEST_FIELDS));
    let date = |name: &str| json_text(&value[name]).map(|text| some(parse_datetime(&text)));
    ServiceRequest {
        service_request_id: some(json_text(&value["service_request_id"])),
        status: some(Status::parse(some(value["status"].as_str()))),
        status_notes: json_text(&value["status_notes"]),
        service_name: some(json_text(&value["service_name"])),
        service_code: some(json_text(&value["service_code"])),
        description: json_text(&value["description"]),
        agency_responsible: json_text(&value["agency_responsible"]),
        service_notice: json_text(&value["service_notice"]),
        requested_datetime: some(date("requested_datetime")),
        updated_datetime: some(date("updated_datetime")),
        expected_datetime: date("expected_datetime"),
        address: json_text(&value["address"]),
        address_id: json_text(&value["address_id"]),
        zipcode: json_text(&value["zipcode"]),
        lat: value["lat"].as_f64(),
        long: value["long"].as_f64(),
        media_url: json_text(&value["media_url"]),
    }
}

/// Text that both formats carry: anything but control and format characters, or a mix of
/// the characters that need escaping and line breaks.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof!["[^\\p{C}]{1,24}", "[a-zà-ỹ<>&\"' \\n\\r\\t]{1,24}"]
}

fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_102_444_800).prop_map(|seconds| some(DateTime::from_timestamp(seconds, 0)))
}

prop_compose! {
    fn any_request()(
        ids in ("[0-9A-Za-z_-]{1,12}", "[0-9A-Za-z_.-]{1,12}", any::<bool>()),
        status_notes in proptest::option::of(any_text()),
        service_name in any_text(),
        description in proptest::option::of(any_text()),
        agency_responsible in proptest::option::of(any_text()),
        service_notice in proptest::option::of(any_text()),
        dates in (any_instant(), any_instant(), proptest::option::of(any_instant())),
        address in proptest::option::of(any_text()),
        address_id in proptest::option::of("[0-9]{1,9}"),
        zipcode in proptest::option::of("[0-9]{5,6}"),
        lat in proptest::option::of(-90.0f64..=90.0),
        long in proptest::option::of(-180.0f64..=180.0),
        media_url in proptest::option::of("https://[a-z]{1,10}\\.vn/[a-z0-9]{1,10}\\.jpg"),
    ) -> ServiceRequest {
        ServiceRequest {
            service_request_id: ids.0,
            status: if ids.2 { Status::Open } else { Status::Closed },
            status_notes,
            service_name,
            service_code: ids.1,
            description,
            agency_responsible,
            service_notice,
            requested_datetime: dates.0,
            updated_datetime: dates.1,
            expected_datetime: dates.2,
            address,
            address_id,
            zipcode,
            lat,
            long,
            media_url,
        }
    }
}

proptest! {
    #[test]
    fn requests_rendered_as_xml_read_back_the_same(
        requests in proptest::collection::vec(any_request(), 0..5)
    ) {
        let root = parse_xml(&render_requests(&requests, Format::Xml));
        prop_assert_eq!(root.name.as_str(), "service_requests");
        prop_assert_eq!(root.children.len(), requests.len());
        let back: Vec<ServiceRequest> = root.children.iter().map(request_from_xml).collect();
        prop_assert_eq!(back, requests);
    }

    #[test]
    fn requests_rendered_as_json_read_back_the_same(
        requests in proptest::collection::vec(any_request(), 0..5)
    ) {
        let value = json(&render_requests(&requests, Format::Json));
        let mut back: Vec<ServiceRequest> =
            array(&value).iter().map(request_from_json).collect();
        prop_assert_eq!(back.len(), requests.len());
        // serde_json reads decimals to within one unit in the last place; the text written
        // is exact, as the XML round trip shows.
        for (read, written) in back.iter_mut().zip(&requests) {
            for (r, w) in [(&mut read.lat, written.lat), (&mut read.long, written.long)] {
                if let (Some(r), Some(w)) = (r.as_mut(), w) {
                    prop_assert!((*r - w).abs() <= w.abs() * 1e-15);
                    *r = w;
                }
            }
        }
        prop_assert_eq!(back, requests);
    }

    #[test]
    fn rendered_dates_parse_back_to_the_second(instant in any_instant()) {
        let text = format_datetime(&instant);
        prop_assert!(text.ends_with("+07:00"));
        prop_assert_eq!(parse_datetime(&text), Some(instant));
    }
}
