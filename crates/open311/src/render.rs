//! The answers, written in either format from one tree per answer.
//!
//! Each answer is first built as a [`Node`] tree that mirrors the specification's XML; the
//! XML writer names every element after it, and the JSON writer maps it as the specification
//! does (a list is an array without its item names, an object keeps its field order, an
//! absent value is `null`).

use chrono::{DateTime, Utc};
use quick_xml::escape::escape;

use crate::model::{
    Created, Discovery, Receipt, RequestUpdate, Service, ServiceDefinition, ServiceRequest,
    TokenAnswer, UpdateCreated,
};
use crate::{Error, Format, format_datetime};

/// The XML declaration that starts every XML answer.
const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

/// A value of an answer's tree.
enum Node {
    /// Absent: `null`, or an empty element.
    Null,
    /// Text.
    Text(String),
    /// A decimal number (coordinates); a non-finite one is written as absent.
    Number(f64),
    /// A whole number (codes, order).
    Integer(u64),
    /// `true` or `false`.
    Bool(bool),
    /// Named fields, in the specification's order.
    Object(Vec<(&'static str, Node)>),
    /// A list whose items are elements of the given name in XML.
    List(&'static str, Vec<Node>),
}

fn text(value: &str) -> Node {
    Node::Text(value.to_owned())
}

fn opt_text(value: Option<&str>) -> Node {
    value.map_or(Node::Null, text)
}

fn date(at: &DateTime<Utc>) -> Node {
    Node::Text(format_datetime(at))
}

fn opt_date(at: Option<&DateTime<Utc>>) -> Node {
    at.map_or(Node::Null, date)
}

fn opt_number(value: Option<f64>) -> Node {
    value.map_or(Node::Null, Node::Number)
}

/// Writes a tree as a whole answer; `root` names the XML root element.
fn render(root: &'static str, node: &Node, format: Format) -> String {
    match format {
        Format::Json => {
            let mut out = String::new();
            write_json(&mut out, node);
            out
        }
        Format::Xml => {
            let mut out = String::from(XML_DECLARATION);
            write_xml(&mut out, root, node, 0);
            out
        }
    }
}

/// GET discovery: a `discovery` object with its `endpoints` and their `formats`.
pub fn render_discovery(discovery: &Discovery, format: Format) -> String {
    let endpoints = discovery
        .endpoints
        .iter()
        .map(|endpoint| {
            let formats = endpoint.formats.iter().map(|f| text(f.mime())).collect();
            Node::Object(vec![
                ("specification", text(&endpoint.specification)),
                ("url", text(&endpoint.url)),
                ("changeset", date(&endpoint.changeset)),
                ("type", text(endpoint.kind.as_str())),
                ("formats", Node::List("format", formats)),
            ])
        })
        .collect();
    let node = Node::Object(vec![
        ("changeset", date(&discovery.changeset)),
        ("contact", text(&discovery.contact)),
        ("key_service", text(&discovery.key_service)),
        ("endpoints", Node::List("endpoint", endpoints)),
    ]);
    render("discovery", &node, format)
}

/// GET services: the list `services/service`. Keywords are joined with `", "`, as in the
/// specification's example; no keywords is an absent value.
pub fn render_services(services: &[Service], format: Format) -> String {
    let items = services
        .iter()
        .map(|service| {
            let keywords: Vec<&str> = service
                .keywords
                .iter()
                .map(|k| k.trim())
                .filter(|k| !k.is_empty())
                .collect();
            let keywords = if keywords.is_empty() {
                Node::Null
            } else {
                Node::Text(keywords.join(", "))
            };
            Node::Object(vec![
                ("service_code", text(&service.service_code)),
                ("service_name", text(&service.service_name)),
                ("description", opt_text(service.description.as_deref())),
                ("metadata", Node::Bool(service.metadata)),
                ("type", text(service.kind.as_str())),
                ("keywords", keywords),
                ("group", opt_text(service.group.as_deref())),
            ])
        })
        .collect();
    render("services", &Node::List("service", items), format)
}

/// GET services/{code}: the object `service_definition` with `attributes/attribute` and
/// each attribute's `values/value`.
pub fn render_service_definition(definition: &ServiceDefinition, format: Format) -> String {
    let attributes = definition
        .attributes
        .iter()
        .map(|attribute| {
            let values = attribute
                .values
                .iter()
                .map(|value| {
                    Node::Object(vec![("key", text(&value.key)), ("name", text(&value.name))])
                })
                .collect();
            Node::Object(vec![
                ("variable", Node::Bool(attribute.variable)),
                ("code", text(&attribute.code)),
                ("datatype", text(attribute.datatype.as_str())),
                ("required", Node::Bool(attribute.required)),
                (
                    "datatype_description",
                    opt_text(attribute.datatype_description.as_deref()),
                ),
                ("order", Node::Integer(u64::from(attribute.order))),
                ("description", text(&attribute.description)),
                ("values", Node::List("value", values)),
            ])
        })
        .collect();
    let node = Node::Object(vec![
        ("service_code", text(&definition.service_code)),
        ("attributes", Node::List("attribute", attributes)),
    ]);
    render("service_definition", &node, format)
}

/// GET requests and GET requests/{id}: the list `service_requests/request`, every field
/// written, an absent one as `null` or an empty element.
pub fn render_requests(requests: &[ServiceRequest], format: Format) -> String {
    let items = requests
        .iter()
        .map(|request| {
            Node::Object(vec![
                ("service_request_id", text(&request.service_request_id)),
                ("status", text(request.status.as_str())),
                ("status_notes", opt_text(request.status_notes.as_deref())),
                ("service_name", text(&request.service_name)),
                ("service_code", text(&request.service_code)),
                ("description", opt_text(request.description.as_deref())),
                (
                    "agency_responsible",
                    opt_text(request.agency_responsible.as_deref()),
                ),
                (
                    "service_notice",
                    opt_text(request.service_notice.as_deref()),
                ),
                ("requested_datetime", date(&request.requested_datetime)),
                ("updated_datetime", date(&request.updated_datetime)),
                (
                    "expected_datetime",
                    opt_date(request.expected_datetime.as_ref()),
                ),
                ("address", opt_text(request.address.as_deref())),
                ("address_id", opt_text(request.address_id.as_deref())),
                ("zipcode", opt_text(request.zipcode.as_deref())),
                ("lat", opt_number(request.lat)),
                ("long", opt_number(request.long)),
                ("media_url", opt_text(request.media_url.as_deref())),
            ])
        })
        .collect();
    render("service_requests", &Node::List("request", items), format)
}

/// POST requests: the list `service_requests/request` with `service_request_id` or
/// `token` (whichever the [`Receipt`] holds, neither for a blackbox service), then
/// `service_notice` and `account_id`.
pub fn render_created(created: &[Created], format: Format) -> String {
    let items = created
        .iter()
        .map(|item| {
            let mut fields = Vec::with_capacity(3);
            match &item.receipt {
                Receipt::ServiceRequestId(id) => fields.push(("service_request_id", text(id))),
                Receipt::Token(token) => fields.push(("token", text(token))),
                Receipt::Nothing => {}
            }
            fields.push(("service_notice", opt_text(item.service_notice.as_deref())));
            fields.push(("account_id", opt_text(item.account_id.as_deref())));
            Node::Object(fields)
        })
        .collect();
    render("service_requests", &Node::List("request", items), format)
}

/// GET tokens/{token}: the list `service_requests/request` of `service_request_id` (absent
/// while the request is not made yet) and `token`.
pub fn render_tokens(answers: &[TokenAnswer], format: Format) -> String {
    let items = answers
        .iter()
        .map(|answer| {
            Node::Object(vec![
                (
                    "service_request_id",
                    opt_text(answer.service_request_id.as_deref()),
                ),
                ("token", text(&answer.token)),
            ])
        })
        .collect();
    render("service_requests", &Node::List("request", items), format)
}

/// GET servicerequestupdates (extension): the list `service_request_updates/request_update`.
pub fn render_updates(updates: &[RequestUpdate], format: Format) -> String {
    let items = updates
        .iter()
        .map(|update| {
            Node::Object(vec![
                ("update_id", text(&update.update_id)),
                ("service_request_id", text(&update.service_request_id)),
                ("status", text(update.status.as_str())),
                ("updated_datetime", date(&update.updated_datetime)),
                ("description", opt_text(update.description.as_deref())),
                ("media_url", opt_text(update.media_url.as_deref())),
            ])
        })
        .collect();
    render(
        "service_request_updates",
        &Node::List("request_update", items),
        format,
    )
}

/// POST servicerequestupdates (extension): the list `service_request_updates/request_update`
/// of `update_id` and `account_id`.
pub fn render_update_created(created: &[UpdateCreated], format: Format) -> String {
    let items = created
        .iter()
        .map(|item| {
            Node::Object(vec![
                ("update_id", text(&item.update_id)),
                ("account_id", opt_text(item.account_id.as_deref())),
            ])
        })
        .collect();
    render(
        "service_request_updates",
        &Node::List("request_update", items),
        format,
    )
}

/// Any refusal: the list `errors/error` of `code` and `description`. The reason, parameter
/// and Vietnamese text of each [`Error`] are not written.
pub fn render_errors(errors: &[Error], format: Format) -> String {
    let items = errors
        .iter()
        .map(|error| {
            Node::Object(vec![
                ("code", Node::Integer(u64::from(error.code))),
                ("description", text(&error.description)),
            ])
        })
        .collect();
    render("errors", &Node::List("error", items), format)
}

fn write_json(out: &mut String, node: &Node) {
    match node {
        Node::Null => out.push_str("null"),
        Node::Text(value) => write_json_string(out, value),
        Node::Number(value) if value.is_finite() => out.push_str(&value.to_string()),
        Node::Number(_) => out.push_str("null"),
        Node::Integer(value) => out.push_str(&value.to_string()),
        Node::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
        Node::Object(fields) => {
            out.push('{');
            for (i, (name, value)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, name);
                out.push(':');
                write_json(out, value);
            }
            out.push('}');
        }
        Node::List(_, items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
    }
}

/// A JSON string: quotes, backslashes and control characters escaped, everything else as
/// UTF-8 (U+2028 and U+2029 escaped too, so the text is also valid JavaScript).
fn write_json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_xml(out: &mut String, name: &str, node: &Node, depth: usize) {
    indent(out, depth);
    match node {
        Node::Null => empty_element(out, name),
        Node::Text(value) => {
            let value = xml_chars(value);
            if value.is_empty() {
                empty_element(out, name);
            } else {
                leaf(out, name, &escape(value.as_str()));
            }
        }
        Node::Number(value) if value.is_finite() => leaf(out, name, &value.to_string()),
        Node::Number(_) => empty_element(out, name),
        Node::Integer(value) => leaf(out, name, &value.to_string()),
        Node::Bool(value) => leaf(out, name, if *value { "true" } else { "false" }),
        Node::Object(fields) => {
            open(out, name);
            out.push('\n');
            for (field, value) in fields {
                write_xml(out, field, value, depth + 1);
            }
            indent(out, depth);
            close(out, name);
        }
        Node::List(_, items) if items.is_empty() => empty_element(out, name),
        Node::List(item, items) => {
            open(out, name);
            out.push('\n');
            for value in items {
                write_xml(out, item, value, depth + 1);
            }
            indent(out, depth);
            close(out, name);
        }
    }
    out.push('\n');
}

/// The characters that XML 1.0 can carry: control characters other than tab, line feed and
/// carriage return, and U+FFFE and U+FFFF, cannot be written even escaped and are dropped.
fn xml_chars(value: &str) -> String {
    value
        .chars()
        .filter(|c| {
            matches!(c, '\t' | '\n' | '\r') || (*c >= ' ' && *c != '\u{fffe}' && *c != '\u{ffff}')
        })
        .collect()
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn open(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn empty_element(out: &mut String, name: &str) {
    open(out, name);
    close(out, name);
}

fn leaf(out: &mut String, name: &str, escaped: &str) {
    open(out, name);
    out.push_str(escaped);
    close(out, name);
}
