//! edXML packages: the format of the national document exchange hub (Trục liên thông văn bản
//! quốc gia), QCVN 102:2016/BTTTT and its 2022 amendment.
//!
//! A package is one XML document:
//!
//! ```text
//! edXML                                   (root, in the profile's namespace)
//! ├── edXMLEnvelope
//! │   ├── edXMLHeader
//! │   │   ├── MessageHeader               From, To…, Code, PromulgationInfo, DocumentType,
//! │   │   │                               Subject, Content, SignerInfo, DueDate, ToPlaces,
//! │   │   │                               OtherInfo, ResponseFor…, SteeringType, DocumentId
//! │   │   ├── TraceHeaderList             TraceHeader… (one per hop) and Bussiness (sic)
//! │   │   └── Signature                   XML-DSig in other hubs: skipped here
//! │   └── edXMLBody
//! │       └── edXMLManifest               Reference… (ContentId, names and types)
//! └── AttachmentEncoded
//!     └── Attachment…                     ContentId, AttachmentName, ContentType,
//!                                         Description, ContentTransferEncoded (base64)
//! ```
//!
//! A status package answers a document: `edXML > edXMLEnvelope > edXMLHeader > Status` with
//! ResponseFor, From, StatusCode, Description, Timestamp and StaffInfo.
//!
//! This module is pure: [`parse`] and [`parse_status`] read bytes into the model with
//! quick-xml's streaming reader under [`Limits`], refusing any DOCTYPE (so no entity can be
//! declared, hence no XXE and no entity expansion) and anything but UTF-8; [`write`] and
//! [`write_status`] produce UTF-8 with an XML declaration. Writing then parsing gives back the
//! same value. Packages are not signed inside: this project signs the package bytes with a
//! detached CMS signature carried beside them, so an XML-DSig `Signature` found in a header is
//! skipped on parse and never written.
//!
//! Where the element names and codes come from is noted in `crates/edxml/data/edxml.md`.

mod model;
mod read;
mod status;
mod tree;
mod validate;
mod write;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use model::{
    Attachment, Business, BusinessDocumentInfo, BusinessType, Code, DocumentType, MessageHeader,
    Organization, OtherInfo, Package, PromulgationInfo, Receiver, ReceiverType, ReplacementInfo,
    ResponseFor, SignerInfo, StaffInfo, TraceHeader,
};
pub use read::{parse, parse_status};
pub use status::{StatusCode, StatusPackage};
pub use write::{write, write_status};

/// The namespace of QCVN 102:2016/BTTTT.
pub const QCVN_102_2016_NAMESPACE: &str = "http://www.mic.gov.vn/TBT/QCVN_102_2016";

/// The longest agency code (OrganId) taken.
pub const MAX_ORGAN_ID_CHARS: usize = 64;

/// How this node speaks edXML. The default is QCVN 102:2016; another hub's namespace (or
/// prefix, or way of writing times) can be configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    /// The namespace of every edXML element. The root must be `edXML` in this namespace.
    pub namespace: String,
    /// The prefix written on the envelope's elements (`edXML:MessageHeader`), as the hubs of
    /// the ministries write them; empty to write every element unprefixed. Parsing does not
    /// depend on it: elements are matched on namespace and local name.
    pub prefix: String,
    /// How timestamps (TraceHeader, Status) are written.
    pub timestamps: TimestampStyle,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            namespace: QCVN_102_2016_NAMESPACE.to_string(),
            prefix: "edXML".to_string(),
            timestamps: TimestampStyle::Rfc3339,
        }
    }
}

/// How timestamps are written. Parsing takes both forms whatever the profile says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampStyle {
    /// `2024-05-02T08:30:00+07:00`: exact, with the offset (and fractions of a second).
    #[default]
    Rfc3339,
    /// `2024/05/02 08:30:00` in Vietnam time (UTC+7), as several hubs write it. Fractions of
    /// a second are dropped and the offset is not written, so only whole seconds survive a
    /// round trip.
    Hub,
}

/// Bounds on what [`parse`] and [`parse_status`] take. Anything beyond them is refused before
/// it costs memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// The largest input, in bytes.
    pub max_bytes: usize,
    /// The deepest nesting of elements (the root is depth 1).
    pub max_depth: usize,
    /// The most attachments in one package.
    pub max_attachments: usize,
    /// The largest attachment, decoded, in bytes.
    pub max_attachment_bytes: usize,
    /// The longest text of one element (other than an attachment's content), in bytes.
    pub max_text: usize,
    /// The most elements in one input.
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 20 * 1024 * 1024,
            max_depth: 32,
            max_attachments: 50,
            max_attachment_bytes: 15 * 1024 * 1024,
            max_text: 64 * 1024,
            max_elements: 100_000,
        }
    }
}

/// One problem of a package: the field (a path such as `MessageHeader.To[2].OrganId`) and
/// what is wrong, in Vietnamese and in English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub field: String,
    pub vi: String,
    pub en: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, vi: impl Into<String>, en: impl Into<String>) -> Self {
        Problem {
            field: field.into(),
            vi: vi.into(),
            en: en.into(),
        }
    }
}

/// Why a package was not read or not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EdxmlError {
    /// A `<!DOCTYPE …>` was found. None is taken: no entity can be declared, so external
    /// entities and entity expansion cannot happen.
    #[error("DOCTYPE declarations are not accepted")]
    Doctype,
    /// The input is not UTF-8, or its XML declaration names another encoding.
    #[error("not UTF-8: {detail}")]
    Encoding { detail: String },
    /// Something is larger than [`Limits`] allow.
    #[error("{what} is larger than the limit of {limit}")]
    TooLarge { what: String, limit: usize },
    /// Elements are nested deeper than [`Limits::max_depth`].
    #[error("elements are nested deeper than {limit}")]
    TooDeep { limit: usize },
    /// The input is not well-formed XML (or uses an undeclared prefix or entity).
    #[error("malformed XML at line {line} (byte {offset}): {detail}")]
    Malformed {
        line: usize,
        offset: u64,
        detail: String,
    },
    /// The root is not `edXML` in the profile's namespace.
    #[error("the root element is {found}, not edXML in {expected}")]
    WrongRoot { found: String, expected: String },
    /// The package is well-formed but its content is not valid: every problem found.
    #[error("invalid package: {}", summary(.0))]
    Invalid(Vec<Problem>),
}

fn summary(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.en))
        .collect::<Vec<_>>()
        .join("; ")
}

impl EdxmlError {
    /// A stable snake_case kind.
    pub fn kind(&self) -> &'static str {
        match self {
            EdxmlError::Doctype => "edxml_doctype",
            EdxmlError::Encoding { .. } => "edxml_encoding",
            EdxmlError::TooLarge { .. } => "edxml_too_large",
            EdxmlError::TooDeep { .. } => "edxml_too_deep",
            EdxmlError::Malformed { .. } => "edxml_malformed",
            EdxmlError::WrongRoot { .. } => "edxml_wrong_root",
            EdxmlError::Invalid(_) => "edxml_invalid",
        }
    }

    /// The problems, when the package is invalid.
    pub fn problems(&self) -> &[Problem] {
        match self {
            EdxmlError::Invalid(p) => p,
            _ => &[],
        }
    }

    /// The message in Vietnamese.
    pub fn message_vi(&self) -> String {
        match self {
            EdxmlError::Doctype => {
                "Gói tin edXML không được chứa khai báo DOCTYPE (không chấp nhận khai báo thực thể)"
                    .to_string()
            }
            EdxmlError::Encoding { detail } => {
                format!("Gói tin edXML phải được mã hoá UTF-8: {detail}")
            }
            EdxmlError::TooLarge { what, limit } => {
                format!("Gói tin edXML quá lớn: {what} vượt giới hạn {limit}")
            }
            EdxmlError::TooDeep { limit } => {
                format!("Gói tin edXML lồng các thẻ quá {limit} cấp")
            }
            EdxmlError::Malformed { line, detail, .. } => {
                format!("Gói tin edXML sai cú pháp XML ở dòng {line}: {detail}")
            }
            EdxmlError::WrongRoot { found, expected } => {
                format!("Phần tử gốc là {found}, không phải edXML thuộc không gian tên {expected}")
            }
            EdxmlError::Invalid(problems) => format!(
                "Gói tin edXML không hợp lệ: {}",
                problems
                    .iter()
                    .map(|p| format!("{}: {}", p.field, p.vi))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }
    }

    /// The message in English.
    pub fn message_en(&self) -> String {
        match self {
            EdxmlError::Doctype => {
                "An edXML package may not contain a DOCTYPE (entity declarations are refused)"
                    .to_string()
            }
            EdxmlError::Encoding { detail } => {
                format!("An edXML package must be encoded in UTF-8: {detail}")
            }
            EdxmlError::TooLarge { what, limit } => {
                format!("The edXML package is too large: {what} exceeds the limit of {limit}")
            }
            EdxmlError::TooDeep { limit } => {
                format!("The edXML package nests elements deeper than {limit}")
            }
            EdxmlError::Malformed { line, detail, .. } => {
                format!("The edXML package is not well-formed XML at line {line}: {detail}")
            }
            EdxmlError::WrongRoot { found, expected } => {
                format!("The root element is {found}, not edXML in the namespace {expected}")
            }
            EdxmlError::Invalid(problems) => {
                format!("The edXML package is invalid: {}", summary(problems))
            }
        }
    }
}

/// A package from `from` to the agencies `to`, numbered `number`: a dispatch (công văn) with
/// a short PDF attached, dated 2 May 2024, every field filled. Used by the tests, the demo and
/// the benchmark; always the same for the same arguments.
pub fn sample_package(from: &str, to: &[&str], number: u32) -> Package {
    model::sample_package(from, to, number)
}

/// The status `code` sent by the agency `from` about the package `answering`, the day after
/// it was issued. Used by the tests, the demo and the benchmark.
pub fn sample_status(from: &str, answering: &Package, code: StatusCode) -> StatusPackage {
    status::sample_status(from, answering, code)
}
