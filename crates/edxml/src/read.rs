//! From the tree of a package to the model, gathering every problem on the way.

use std::str::FromStr;

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};

use super::model::{
    Attachment, Business, BusinessDocumentInfo, BusinessType, Code, DocumentType, MessageHeader,
    Organization, OtherInfo, Package, PromulgationInfo, Receiver, ReceiverType, ReplacementInfo,
    ResponseFor, SignerInfo, StaffInfo, TraceHeader, VIETNAM,
};
use super::status::{StatusCode, StatusPackage};
use super::tree::{ENCODED_CONTENT, Node, read_tree};
use super::{EdxmlError, Limits, Problem, Profile, validate};

/// Reads a document package.
///
/// The input must be UTF-8 XML without a DOCTYPE, within `limits`, with the root `edXML` in
/// the profile's namespace (declared as the default namespace or with a prefix). Elements
/// the model does not know are skipped, and so is an XML-DSig `Signature` in the header.
/// A package that is well-formed but wrong is refused with [`EdxmlError::Invalid`], which
/// lists every problem found.
pub fn parse(bytes: &[u8], profile: &Profile, limits: &Limits) -> Result<Package, EdxmlError> {
    let root = read_root(bytes, profile, limits)?;
    let mut problems = Vec::new();
    let package = package_from(&root, limits, &mut problems)?;
    validate::package(&package, &mut problems);
    finish(package, problems)
}

/// Reads a status package (`edXML > edXMLEnvelope > edXMLHeader > Status`), under the same
/// rules as [`parse`].
pub fn parse_status(
    bytes: &[u8],
    profile: &Profile,
    limits: &Limits,
) -> Result<StatusPackage, EdxmlError> {
    let root = read_root(bytes, profile, limits)?;
    let mut problems = Vec::new();
    let status = status_from(&root, &mut problems)?;
    validate::status(&status, &mut problems);
    finish(status, problems)
}

fn read_root(bytes: &[u8], profile: &Profile, limits: &Limits) -> Result<Node, EdxmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(EdxmlError::TooLarge {
            what: "the package".to_string(),
            limit: limits.max_bytes,
        });
    }
    read_tree(bytes, profile, limits)
}

fn finish<T>(value: T, problems: Vec<Problem>) -> Result<T, EdxmlError> {
    if problems.is_empty() {
        Ok(value)
    } else {
        Err(EdxmlError::Invalid(problems))
    }
}

fn missing(field: &str) -> Problem {
    Problem::new(
        field,
        format!("Thiếu phần tử {field}"),
        format!("The element {field} is missing"),
    )
}

/// The child `name` of `node`, or the problem that it is missing.
fn required<'a>(node: &'a Node, name: &str, path: &str) -> Result<&'a Node, EdxmlError> {
    node.child(name)
        .ok_or_else(|| EdxmlError::Invalid(vec![missing(&format!("{path}{name}"))]))
}

/// The envelope's header.
fn header_of(root: &Node) -> Result<(&Node, &Node), EdxmlError> {
    let envelope = required(root, "edXMLEnvelope", "")?;
    let header = required(envelope, "edXMLHeader", "edXMLEnvelope.")?;
    Ok((envelope, header))
}

fn package_from(
    root: &Node,
    limits: &Limits,
    problems: &mut Vec<Problem>,
) -> Result<Package, EdxmlError> {
    let (envelope, header) = header_of(root)?;
    let mh = required(header, "MessageHeader", "edXMLHeader.")?;
    let header_value = message_header(mh, problems);
    let (trace, business) = match header.child("TraceHeaderList") {
        Some(list) => (
            list.all("TraceHeader")
                .enumerate()
                .map(|(i, t)| {
                    trace_header(
                        t,
                        &format!("TraceHeaderList.TraceHeader[{}]", i + 1),
                        problems,
                    )
                })
                .collect(),
            list.child_any(&["Bussiness", "Business"])
                .map(|b| business(b, problems))
                .unwrap_or_default(),
        ),
        None => (Vec::new(), Business::default()),
    };
    let attachments = attachments(root, envelope, limits, problems)?;
    Ok(Package {
        header: header_value,
        trace,
        business,
        attachments,
    })
}

fn message_header(mh: &Node, problems: &mut Vec<Problem>) -> MessageHeader {
    const P: &str = "MessageHeader.";
    let from = match mh.child("From") {
        Some(f) => organization(f),
        None => {
            problems.push(missing("MessageHeader.From"));
            Organization::default()
        }
    };
    let to = mh.all("To").map(organization).collect();
    let code = mh
        .child("Code")
        .map(|c| Code {
            code_number: c.text_of("CodeNumber").to_string(),
            code_notation: c.text_of("CodeNotation").to_string(),
        })
        .unwrap_or_default();
    let promulgation_info = {
        let field = "MessageHeader.PromulgationInfo.PromulgationDate";
        let node = mh.child("PromulgationInfo");
        let date = match node.and_then(|n| n.child("PromulgationDate")) {
            Some(d) => date(&d.text, field, problems),
            None => {
                problems.push(missing(field));
                None
            }
        };
        PromulgationInfo {
            place: node.map(|n| n.text_of("Place")).unwrap_or("").to_string(),
            promulgation_date: date.unwrap_or_default(),
        }
    };
    let document_type = mh
        .child("DocumentType")
        .map(|t| DocumentType {
            type_code: number(t.child("Type"), "MessageHeader.DocumentType.Type", problems),
            type_detail: number(
                t.child("TypeDetail"),
                "MessageHeader.DocumentType.TypeDetail",
                problems,
            ),
            type_name: t.text_of("TypeName").to_string(),
        })
        .unwrap_or_default();
    let signer_info = mh
        .child("SignerInfo")
        .map(|s| SignerInfo {
            competence: s.text_of("Competence").to_string(),
            position: s.text_of("Position").to_string(),
            full_name: s.text_of("FullName").to_string(),
        })
        .unwrap_or_default();
    let due_date = match mh.child("DueDate") {
        Some(d) if !d.text.trim().is_empty() => date(&d.text, "MessageHeader.DueDate", problems),
        _ => None,
    };
    let to_places = mh
        .child("ToPlaces")
        .map(|t| t.all("Place").map(|p| p.text.clone()).collect())
        .unwrap_or_default();
    let other_info = mh
        .child("OtherInfo")
        .map(|o| other_info(o, problems))
        .unwrap_or_default();
    // An empty `<ResponseFor/>`, as some hubs write when a document answers nothing, is no
    // answer.
    let response_for = mh
        .all("ResponseFor")
        .filter(|r| r.children.iter().any(|c| !c.text.trim().is_empty()))
        .enumerate()
        .map(|(i, r)| response_for(r, &format!("{P}ResponseFor[{}]", i + 1), problems))
        .collect();
    MessageHeader {
        from,
        to,
        code,
        promulgation_info,
        document_type,
        subject: mh.text_of("Subject").to_string(),
        content: mh.text_of("Content").to_string(),
        signer_info,
        due_date,
        to_places,
        other_info,
        response_for,
        steering_type: number(
            mh.child("SteeringType"),
            "MessageHeader.SteeringType",
            problems,
        ),
        document_id: non_empty(mh.child("DocumentId")),
    }
}

fn other_info(o: &Node, problems: &mut Vec<Problem>) -> OtherInfo {
    const P: &str = "MessageHeader.OtherInfo.";
    OtherInfo {
        priority: number(o.child("Priority"), &format!("{P}Priority"), problems),
        sphere_of_promulgation: o.text_of("SphereOfPromulgation").to_string(),
        typer_notation: o.text_of("TyperNotation").to_string(),
        promulgation_amount: number(
            o.child("PromulgationAmount"),
            &format!("{P}PromulgationAmount"),
            problems,
        ),
        page_amount: number(o.child("PageAmount"), &format!("{P}PageAmount"), problems),
        appendixes: o
            .child("Appendixes")
            .map(|a| a.all("Appendix").map(|x| x.text.clone()).collect())
            .unwrap_or_default(),
    }
}

fn organization(n: &Node) -> Organization {
    Organization {
        organ_id: n.text_of("OrganId").trim().to_string(),
        organization_in_charge: n.text_of("OrganizationInCharge").to_string(),
        organ_name: n.text_of("OrganName").to_string(),
        organ_add: n.text_of("OrganAdd").to_string(),
        email: n.text_of("Email").to_string(),
        telephone: n.text_of("Telephone").to_string(),
        fax: n.text_of("Fax").to_string(),
        website: n.text_of("Website").to_string(),
    }
}

fn staff_info(n: &Node) -> StaffInfo {
    StaffInfo {
        department: n.text_of("Department").to_string(),
        staff: n.text_of("Staff").to_string(),
        mobile: n.text_of("Mobile").to_string(),
        email: n.text_of("Email").to_string(),
    }
}

fn response_for(n: &Node, path: &str, problems: &mut Vec<Problem>) -> ResponseFor {
    let promulgation_date = match n.child("PromulgationDate") {
        Some(d) if !d.text.trim().is_empty() => {
            date(&d.text, &format!("{path}.PromulgationDate"), problems)
        }
        _ => None,
    };
    ResponseFor {
        organ_id: n.text_of("OrganId").trim().to_string(),
        code: n.text_of("Code").to_string(),
        promulgation_date,
        document_id: n.text_of("DocumentId").to_string(),
    }
}

fn trace_header(n: &Node, path: &str, problems: &mut Vec<Problem>) -> TraceHeader {
    let field = format!("{path}.Timestamp");
    let timestamp = match n.child_any(&["Timestamp", "TimeStamp"]) {
        Some(t) => timestamp(&t.text, &field, problems),
        None => {
            problems.push(missing(&field));
            None
        }
    };
    TraceHeader {
        organ_id: n.text_of("OrganId").trim().to_string(),
        timestamp: timestamp.unwrap_or_default(),
    }
}

fn business(b: &Node, problems: &mut Vec<Problem>) -> Business {
    const P: &str = "TraceHeaderList.Bussiness.";
    let kind_field = format!("{P}BussinessDocType");
    let code: u8 = number(
        b.child_any(&["BussinessDocType", "BusinessDocType"]),
        &kind_field,
        problems,
    );
    let business_doc_type = BusinessType::from_code(code).unwrap_or_else(|| {
        problems.push(Problem::new(
            &kind_field,
            format!("Loại nghiệp vụ {code} không có trong quy chuẩn (0 mới, 1 thu hồi, 2 cập nhật, 3 thay thế)"),
            format!("Business type {code} is not in the standard (0 new, 1 recall, 2 update, 3 replace)"),
        ));
        BusinessType::New
    });
    let document_info = b
        .child_any(&["BussinessDocumentInfo", "BusinessDocumentInfo"])
        .map(|d| BusinessDocumentInfo {
            document_info: d.text_of("DocumentInfo").to_string(),
            document_receiver: d.text_of("DocumentReceiver").to_string(),
            receivers: d
                .child("ReceiverList")
                .map(|l| {
                    l.all("Receiver")
                        .enumerate()
                        .map(|(i, r)| receiver(r, i, problems))
                        .collect()
                })
                .unwrap_or_default(),
        });
    let replacement_info = b
        .child("ReplacementInfoList")
        .map(|l| {
            l.all("ReplacementInfo")
                .map(|r| ReplacementInfo {
                    document_id: r.text_of("DocumentId").to_string(),
                    organ_ids: r
                        .child("OrganIdList")
                        .map(|o| {
                            o.all("OrganId")
                                .map(|x| x.text.trim().to_string())
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    Business {
        business_doc_type,
        business_doc_reason: b
            .child_any(&["BussinessDocReason", "BusinessDocReason"])
            .map(|r| r.text.clone())
            .unwrap_or_default(),
        document_id: non_empty(b.child("DocumentId")),
        document_info,
        staff_info: b.child("StaffInfo").map(staff_info),
        paper: number(b.child("Paper"), &format!("{P}Paper"), problems),
        replacement_info,
    }
}

fn receiver(r: &Node, i: usize, problems: &mut Vec<Problem>) -> Receiver {
    let field = format!(
        "TraceHeaderList.Bussiness.BussinessDocumentInfo.ReceiverList.Receiver[{}].ReceiverType",
        i + 1
    );
    let code: u8 = number(r.child("ReceiverType"), &field, problems);
    let receiver_type = ReceiverType::from_code(code).unwrap_or_else(|| {
        problems.push(Problem::new(
            &field,
            format!("Loại cập nhật đơn vị nhận {code} không hợp lệ (0 bỏ khỏi, 1 thêm vào)"),
            format!("Receiver change {code} is invalid (0 removed, 1 added)"),
        ));
        ReceiverType::Removed
    });
    Receiver {
        receiver_type,
        organ_id: r.text_of("OrganId").trim().to_string(),
    }
}

/// The manifest's description of one attachment.
struct Reference<'a> {
    content_id: String,
    name: &'a str,
    content_type: &'a str,
    description: &'a str,
}

fn attachments(
    root: &Node,
    envelope: &Node,
    limits: &Limits,
    problems: &mut Vec<Problem>,
) -> Result<Vec<Attachment>, EdxmlError> {
    let references: Vec<Reference<'_>> = envelope
        .child("edXMLBody")
        .and_then(|b| b.child("edXMLManifest"))
        .map(|m| {
            m.all("Reference")
                .map(|r| Reference {
                    content_id: content_id(r.text_of("ContentId")),
                    name: r.text_of("AttachmentName"),
                    content_type: r.text_of("ContentType"),
                    description: r.text_of("Description"),
                })
                .collect()
        })
        .unwrap_or_default();
    let encoded: Vec<&Node> = root
        .all("AttachmentEncoded")
        .flat_map(|e| e.all("Attachment"))
        .collect();
    if encoded.len() > limits.max_attachments {
        return Err(EdxmlError::TooLarge {
            what: "the number of attachments".to_string(),
            limit: limits.max_attachments,
        });
    }
    let mut out = Vec::with_capacity(encoded.len());
    for (i, a) in encoded.iter().enumerate() {
        let path = format!("AttachmentEncoded.Attachment[{}]", i + 1);
        let id = content_id(a.text_of("ContentId"));
        let reference = references.iter().find(|r| r.content_id == id);
        let pick = |from_manifest: Option<&str>, own: &str| -> String {
            match from_manifest {
                Some(v) if !v.is_empty() => v.to_string(),
                _ => own.to_string(),
            }
        };
        let data = decode(a.text_of(ENCODED_CONTENT), &path, limits, problems)?;
        out.push(Attachment {
            name: pick(reference.map(|r| r.name), a.text_of("AttachmentName")),
            content_type: pick(reference.map(|r| r.content_type), a.text_of("ContentType")),
            description: pick(reference.map(|r| r.description), a.text_of("Description")),
            content_id: id,
            data,
        });
    }
    for (i, r) in references.iter().enumerate() {
        if !out.iter().any(|a| a.content_id == r.content_id) {
            problems.push(Problem::new(
                format!("edXMLManifest.Reference[{}]", i + 1),
                format!(
                    "Tệp đính kèm \"{}\" được khai báo nhưng không có nội dung (ContentId {})",
                    r.name, r.content_id
                ),
                format!(
                    "The attachment \"{}\" is listed but has no content (ContentId {})",
                    r.name, r.content_id
                ),
            ));
        }
    }
    Ok(out)
}

/// A content id without its `cid:` scheme.
fn content_id(text: &str) -> String {
    let t = text.trim();
    match t.get(..4) {
        Some(scheme) if scheme.eq_ignore_ascii_case("cid:") => t[4..].to_string(),
        _ => t.to_string(),
    }
}

/// Base64 with or without padding; line breaks and spaces are ignored.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn decode(
    text: &str,
    path: &str,
    limits: &Limits,
    problems: &mut Vec<Problem>,
) -> Result<Vec<u8>, EdxmlError> {
    let compact: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .collect();
    let too_large = || EdxmlError::TooLarge {
        what: format!("{path} (decoded)"),
        limit: limits.max_attachment_bytes,
    };
    // What it decodes to at most, known before decoding.
    let padding = compact
        .iter()
        .rev()
        .take_while(|b| **b == b'=')
        .count()
        .min(2);
    let estimate = (compact.len() / 4 * 3 + compact.len() % 4 * 3 / 4).saturating_sub(padding);
    if estimate > limits.max_attachment_bytes {
        return Err(too_large());
    }
    match BASE64.decode(&compact) {
        Ok(data) if data.len() > limits.max_attachment_bytes => Err(too_large()),
        Ok(data) => Ok(data),
        Err(e) => {
            problems.push(Problem::new(
                format!("{path}.{ENCODED_CONTENT}"),
                format!("Nội dung tệp đính kèm không phải base64 hợp lệ: {e}"),
                format!("The attachment's content is not valid base64: {e}"),
            ));
            Ok(Vec::new())
        }
    }
}

fn status_from(root: &Node, problems: &mut Vec<Problem>) -> Result<StatusPackage, EdxmlError> {
    let (_, header) = header_of(root)?;
    let s = required(header, "Status", "edXMLHeader.")?;
    let response_for = match s.child("ResponseFor") {
        Some(r) => response_for(r, "Status.ResponseFor", problems),
        None => {
            problems.push(missing("Status.ResponseFor"));
            ResponseFor::default()
        }
    };
    let from = match s.child("From") {
        Some(f) => organization(f),
        None => {
            problems.push(missing("Status.From"));
            Organization::default()
        }
    };
    let code_text = s.text_of("StatusCode");
    let status_code = StatusCode::parse(code_text).unwrap_or_else(|| {
        problems.push(Problem::new(
            "Status.StatusCode",
            format!("Mã trạng thái \"{code_text}\" không có trong quy chuẩn (01–06, 13, 15, 16)"),
            format!("The status code \"{code_text}\" is not in the standard (01–06, 13, 15, 16)"),
        ));
        StatusCode::Arrived
    });
    let timestamp = match s.child_any(&["Timestamp", "TimeStamp"]) {
        Some(t) => timestamp(&t.text, "Status.Timestamp", problems),
        None => {
            problems.push(missing("Status.Timestamp"));
            None
        }
    };
    Ok(StatusPackage {
        response_for,
        from,
        status_code,
        description: s.text_of("Description").to_string(),
        timestamp: timestamp.unwrap_or_default(),
        staff_info: s.child("StaffInfo").map(staff_info).unwrap_or_default(),
    })
}

/// The text of `node`, unless it is absent or blank.
fn non_empty(node: Option<&Node>) -> Option<String> {
    node.filter(|n| !n.text.trim().is_empty())
        .map(|n| n.text.clone())
}

/// A whole number; an absent or blank element reads as 0.
fn number<T: FromStr + Default>(
    node: Option<&Node>,
    field: &str,
    problems: &mut Vec<Problem>,
) -> T {
    let Some(n) = node else {
        return T::default();
    };
    let t = n.text.trim();
    if t.is_empty() {
        return T::default();
    }
    t.parse().unwrap_or_else(|_| {
        problems.push(Problem::new(
            field,
            format!("\"{t}\" không phải là số nguyên hợp lệ"),
            format!("\"{t}\" is not a valid whole number"),
        ));
        T::default()
    })
}

/// A date written `YYYY/MM/DD` (also `YYYY-MM-DD` or `DD/MM/YYYY`, with a time after it that
/// is ignored).
fn date(text: &str, field: &str, problems: &mut Vec<Problem>) -> Option<NaiveDate> {
    let parsed = parse_date(text);
    if parsed.is_none() {
        problems.push(Problem::new(
            field,
            format!(
                "\"{}\" không phải là ngày hợp lệ (định dạng YYYY/MM/DD)",
                text.trim()
            ),
            format!(
                "\"{}\" is not a valid date (format YYYY/MM/DD)",
                text.trim()
            ),
        ));
    }
    parsed
}

pub(super) fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    let day = t.split([' ', 'T']).next().unwrap_or("");
    ["%Y/%m/%d", "%Y-%m-%d", "%d/%m/%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(day, f).ok())
        .filter(|d| (1..=9999).contains(&d.year()))
}

fn timestamp(
    text: &str,
    field: &str,
    problems: &mut Vec<Problem>,
) -> Option<DateTime<FixedOffset>> {
    let parsed = parse_timestamp(text);
    if parsed.is_none() {
        problems.push(Problem::new(
            field,
            format!("\"{}\" không phải là thời điểm hợp lệ", text.trim()),
            format!("\"{}\" is not a valid timestamp", text.trim()),
        ));
    }
    parsed
}

/// A timestamp in RFC 3339, or `YYYY/MM/DD HH:MM:SS` (also `YYYY-MM-DD`, `DD/MM/YYYY`, with
/// fractions of a second) taken as Vietnam time.
pub(super) fn parse_timestamp(text: &str) -> Option<DateTime<FixedOffset>> {
    let t = text.trim();
    let in_range = |dt: &DateTime<FixedOffset>| {
        (1..=9999).contains(&dt.year()) && (1..=9999).contains(&dt.naive_utc().year())
    };
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt).filter(in_range);
    }
    [
        "%Y/%m/%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%d/%m/%Y %H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .and_then(|naive| VIETNAM.from_local_datetime(&naive).single())
    .filter(in_range)
}
