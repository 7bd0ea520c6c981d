//! From the model to edXML bytes: UTF-8, an XML declaration, the envelope's elements with the
//! profile's prefix, text escaped so that reading it back gives the same strings.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::model::{
    Business, MessageHeader, Organization, Package, ResponseFor, StaffInfo, VIETNAM,
};
use super::status::StatusPackage;
use super::tree::{ENCODED_CONTENT, is_xml_char};
use super::{EdxmlError, Problem, Profile, TimestampStyle, validate};

const XLINK_NAMESPACE: &str = "http://www.w3.org/1999/xlink";

/// Writes a document package. The package is checked first (as [`super::parse`] checks it)
/// and refused with every problem if it is not valid, so what is written can be read back.
///
/// The DocumentId is written only when the header has one: set it from
/// [`Package::document_id`] to send the built one.
pub fn write(p: &Package, profile: &Profile) -> Result<Vec<u8>, EdxmlError> {
    let mut problems = Vec::new();
    validate::package(p, &mut problems);
    if !problems.is_empty() {
        return Err(EdxmlError::Invalid(problems));
    }
    let mut out = Out::new(profile);
    out.open_root(!p.attachments.is_empty());
    out.open("edXMLEnvelope");
    out.open("edXMLHeader");
    message_header(&mut out, &p.header);
    out.open("TraceHeaderList");
    for t in &p.trace {
        out.open("TraceHeader");
        out.leaf("OrganId", &t.organ_id);
        let ts = out.timestamp(&t.timestamp);
        out.leaf("Timestamp", &ts);
        out.close();
    }
    business(&mut out, &p.business);
    out.close();
    out.close();

    out.open("edXMLBody");
    let mut manifest = out.start_tag("edXMLManifest");
    manifest.push_attribute(("version", "1.0"));
    if p.attachments.is_empty() {
        out.event(Event::Empty(manifest));
    } else {
        out.open_tag(manifest, "edXMLManifest");
        for a in &p.attachments {
            let mut reference = out.start_tag("Reference");
            reference.push_attribute(("xlink:href", format!("cid:{}", a.content_id).as_str()));
            out.open_tag(reference, "Reference");
            out.leaf("ContentId", &a.content_id);
            out.optional("ContentType", &a.content_type);
            out.optional("Description", &a.description);
            out.leaf("AttachmentName", &a.name);
            out.close();
        }
        out.close();
    }
    out.close();
    out.close();

    if !p.attachments.is_empty() {
        out.envelope = false;
        out.open("AttachmentEncoded");
        for a in &p.attachments {
            out.open("Attachment");
            out.leaf("ContentId", &a.content_id);
            out.leaf("AttachmentName", &a.name);
            out.optional("ContentType", &a.content_type);
            out.optional("Description", &a.description);
            out.leaf(ENCODED_CONTENT, &STANDARD.encode(&a.data));
            out.close();
        }
        out.close();
    }
    out.close();
    out.finish()
}

/// Writes a status package, checked first as [`super::parse_status`] checks it.
pub fn write_status(s: &StatusPackage, profile: &Profile) -> Result<Vec<u8>, EdxmlError> {
    let mut problems = Vec::new();
    validate::status(s, &mut problems);
    if !problems.is_empty() {
        return Err(EdxmlError::Invalid(problems));
    }
    let mut out = Out::new(profile);
    out.open_root(false);
    out.open("edXMLEnvelope");
    out.open("edXMLHeader");
    out.open("Status");
    response_for(&mut out, &s.response_for);
    organization(&mut out, "From", &s.from);
    out.leaf("StatusCode", s.status_code.code());
    out.optional("Description", &s.description);
    let ts = out.timestamp(&s.timestamp);
    out.leaf("Timestamp", &ts);
    staff_info(&mut out, &s.staff_info);
    out.close();
    out.close();
    out.close();
    out.close();
    out.finish()
}

fn message_header(out: &mut Out, h: &MessageHeader) {
    out.open("MessageHeader");
    organization(out, "From", &h.from);
    for to in &h.to {
        organization(out, "To", to);
    }
    out.open("Code");
    out.leaf("CodeNumber", &h.code.code_number);
    out.optional("CodeNotation", &h.code.code_notation);
    out.close();
    out.open("PromulgationInfo");
    out.optional("Place", &h.promulgation_info.place);
    out.leaf(
        "PromulgationDate",
        &date(h.promulgation_info.promulgation_date),
    );
    out.close();
    out.open("DocumentType");
    out.leaf("Type", &h.document_type.type_code.to_string());
    out.leaf("TypeDetail", &h.document_type.type_detail.to_string());
    out.optional("TypeName", &h.document_type.type_name);
    out.close();
    out.leaf("Subject", &h.subject);
    out.optional("Content", &h.content);
    out.open("SignerInfo");
    out.optional("Competence", &h.signer_info.competence);
    out.optional("Position", &h.signer_info.position);
    out.optional("FullName", &h.signer_info.full_name);
    out.close();
    if let Some(d) = h.due_date {
        out.leaf("DueDate", &date(d));
    }
    if !h.to_places.is_empty() {
        out.open("ToPlaces");
        for place in &h.to_places {
            out.leaf("Place", place);
        }
        out.close();
    }
    let o = &h.other_info;
    out.open("OtherInfo");
    out.leaf("Priority", &o.priority.to_string());
    out.optional("SphereOfPromulgation", &o.sphere_of_promulgation);
    out.optional("TyperNotation", &o.typer_notation);
    out.leaf("PromulgationAmount", &o.promulgation_amount.to_string());
    out.leaf("PageAmount", &o.page_amount.to_string());
    if !o.appendixes.is_empty() {
        out.open("Appendixes");
        for a in &o.appendixes {
            out.leaf("Appendix", a);
        }
        out.close();
    }
    out.close();
    for r in &h.response_for {
        response_for(out, r);
    }
    out.leaf("SteeringType", &h.steering_type.to_string());
    if let Some(id) = &h.document_id {
        out.leaf("DocumentId", id);
    }
    out.close();
}

fn organization(out: &mut Out, tag: &str, o: &Organization) {
    out.open(tag);
    out.leaf("OrganId", &o.organ_id);
    out.optional("OrganizationInCharge", &o.organization_in_charge);
    out.optional("OrganName", &o.organ_name);
    out.optional("OrganAdd", &o.organ_add);
    out.optional("Email", &o.email);
    out.optional("Telephone", &o.telephone);
    out.optional("Fax", &o.fax);
    out.optional("Website", &o.website);
    out.close();
}

fn response_for(out: &mut Out, r: &ResponseFor) {
    out.open("ResponseFor");
    out.leaf("OrganId", &r.organ_id);
    out.optional("Code", &r.code);
    if let Some(d) = r.promulgation_date {
        out.leaf("PromulgationDate", &date(d));
    }
    out.optional("DocumentId", &r.document_id);
    out.close();
}

fn staff_info(out: &mut Out, s: &StaffInfo) {
    out.open("StaffInfo");
    out.optional("Department", &s.department);
    out.optional("Staff", &s.staff);
    out.optional("Mobile", &s.mobile);
    out.optional("Email", &s.email);
    out.close();
}

/// The `Bussiness` element, spelled as the standard spells it.
fn business(out: &mut Out, b: &Business) {
    out.open("Bussiness");
    out.leaf("BussinessDocType", &b.business_doc_type.code().to_string());
    out.optional("BussinessDocReason", &b.business_doc_reason);
    if let Some(info) = &b.document_info {
        out.open("BussinessDocumentInfo");
        out.optional("DocumentInfo", &info.document_info);
        out.optional("DocumentReceiver", &info.document_receiver);
        if !info.receivers.is_empty() {
            out.open("ReceiverList");
            for r in &info.receivers {
                out.open("Receiver");
                out.leaf("ReceiverType", &r.receiver_type.code().to_string());
                out.leaf("OrganId", &r.organ_id);
                out.close();
            }
            out.close();
        }
        out.close();
    }
    if let Some(id) = &b.document_id {
        out.leaf("DocumentId", id);
    }
    if let Some(s) = &b.staff_info {
        staff_info(out, s);
    }
    out.leaf("Paper", &b.paper.to_string());
    if !b.replacement_info.is_empty() {
        out.open("ReplacementInfoList");
        for r in &b.replacement_info {
            out.open("ReplacementInfo");
            out.optional("DocumentId", &r.document_id);
            if !r.organ_ids.is_empty() {
                out.open("OrganIdList");
                for id in &r.organ_ids {
                    out.leaf("OrganId", id);
                }
                out.close();
            }
            out.close();
        }
        out.close();
    }
    out.close();
}

fn date(d: NaiveDate) -> String {
    d.format("%Y/%m/%d").to_string()
}

/// The writer and what it found wrong on the way.
struct Out<'p> {
    writer: Writer<Vec<u8>>,
    profile: &'p Profile,
    /// Inside the envelope, names take the profile's prefix.
    envelope: bool,
    /// The names of the open elements: the qualified one to close it, the local one for
    /// problems.
    open: Vec<(String, String)>,
    problems: Vec<Problem>,
}

impl<'p> Out<'p> {
    fn new(profile: &'p Profile) -> Self {
        let mut out = Out {
            writer: Writer::new_with_indent(Vec::new(), b' ', 2),
            profile,
            envelope: true,
            open: Vec::new(),
            problems: Vec::new(),
        };
        if !valid_prefix(&profile.prefix) {
            out.problems.push(Problem::new(
                "Profile.prefix",
                format!(
                    "Tiền tố \"{}\" không phải là tên XML hợp lệ",
                    profile.prefix
                ),
                format!("The prefix \"{}\" is not a valid XML name", profile.prefix),
            ));
        }
        if profile.namespace.is_empty() || !profile.namespace.chars().all(is_xml_char) {
            out.problems.push(Problem::new(
                "Profile.namespace",
                "Không gian tên không hợp lệ",
                "The namespace is invalid",
            ));
        }
        out.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        out
    }

    fn open_root(&mut self, with_xlink: bool) {
        let mut root = BytesStart::new("edXML");
        root.push_attribute(("xmlns", self.profile.namespace.as_str()));
        if !self.profile.prefix.is_empty() {
            let attr = format!("xmlns:{}", self.profile.prefix);
            root.push_attribute((attr.as_str(), self.profile.namespace.as_str()));
        }
        if with_xlink {
            root.push_attribute(("xmlns:xlink", XLINK_NAMESPACE));
        }
        self.event(Event::Start(root));
        self.open.push(("edXML".to_string(), "edXML".to_string()));
        // The root itself is unprefixed (default namespace); its envelope is prefixed.
        self.envelope = true;
    }

    fn qualified(&self, local: &str) -> String {
        if self.envelope && !self.profile.prefix.is_empty() {
            format!("{}:{local}", self.profile.prefix)
        } else {
            local.to_string()
        }
    }

    fn start_tag(&self, local: &str) -> BytesStart<'static> {
        BytesStart::new(self.qualified(local))
    }

    fn open(&mut self, local: &str) {
        let tag = self.start_tag(local);
        self.open_tag(tag, local);
    }

    fn open_tag(&mut self, tag: BytesStart<'static>, local: &str) {
        let name = tag.name().into_inner().to_string();
        self.event(Event::Start(tag));
        self.open.push((name, local.to_string()));
    }

    fn close(&mut self) {
        if let Some((name, _)) = self.open.pop() {
            self.event(Event::End(BytesEnd::new(name)));
        }
    }

    /// An element with text, empty or not.
    fn leaf(&mut self, local: &str, text: &str) {
        let name = self.qualified(local);
        if text.is_empty() {
            self.event(Event::Empty(BytesStart::new(name)));
            return;
        }
        if let Some(bad) = text.chars().find(|c| !is_xml_char(*c)) {
            let field = self
                .open
                .iter()
                .skip(1)
                .map(|(_, l)| l.as_str())
                .chain([local])
                .collect::<Vec<_>>()
                .join(".");
            self.problems.push(Problem::new(
                field,
                format!("Ký tự U+{:04X} không được phép trong XML", bad as u32),
                format!("The character U+{:04X} is not allowed in XML", bad as u32),
            ));
            return;
        }
        self.event(Event::Start(BytesStart::new(name.clone())));
        self.event(Event::Text(BytesText::from_escaped(escape(text))));
        self.event(Event::End(BytesEnd::new(name)));
    }

    /// An element with text, left out when the text is empty.
    fn optional(&mut self, local: &str, text: &str) {
        if !text.is_empty() {
            self.leaf(local, text);
        }
    }

    fn timestamp(&self, t: &DateTime<FixedOffset>) -> String {
        match self.profile.timestamps {
            TimestampStyle::Rfc3339 => t.to_rfc3339_opts(SecondsFormat::AutoSi, false),
            TimestampStyle::Hub => t
                .with_timezone(&VIETNAM)
                .format("%Y/%m/%d %H:%M:%S")
                .to_string(),
        }
    }

    fn event(&mut self, e: Event<'_>) {
        if let Err(err) = self.writer.write_event(e) {
            self.problems.push(Problem::new(
                "edXML",
                format!("Không ghi được gói tin: {err}"),
                format!("The package could not be written: {err}"),
            ));
        }
    }

    fn finish(self) -> Result<Vec<u8>, EdxmlError> {
        if !self.problems.is_empty() {
            return Err(EdxmlError::Invalid(self.problems));
        }
        let mut bytes = self.writer.into_inner();
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// Escapes text content: `&`, `<` and `>`, and carriage returns as `&#xD;` so that a reader's
/// line-end normalisation keeps them.
fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '\r']) {
        return Cow::Borrowed(text);
    }
    let mut s = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '\r' => s.push_str("&#xD;"),
            other => s.push(other),
        }
    }
    Cow::Owned(s)
}

/// A prefix: empty (none) or an XML name without a colon that does not start with `xml`.
fn valid_prefix(p: &str) -> bool {
    if p.is_empty() {
        return true;
    }
    let mut chars = p.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !p.get(..3).is_some_and(|s| s.eq_ignore_ascii_case("xml"))
}
