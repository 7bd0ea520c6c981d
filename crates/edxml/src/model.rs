//! The content of an edXML package.
//!
//! Strings are kept as they were written (an absent element reads as an empty string);
//! dates are dates and numbers are numbers. Field names follow the standard's elements.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone};
use serde::{Deserialize, Serialize};

/// An agency (cơ quan, tổ chức): the sender (`From`), a recipient (`To`) or the author of a
/// status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// The agency's code on the hub (mã định danh), e.g. `000.00.01.H26`.
    pub organ_id: String,
    /// The agency in charge of it (đơn vị chủ quản), as some hubs fill it.
    #[serde(default)]
    pub organization_in_charge: String,
    /// Its name.
    #[serde(default)]
    pub organ_name: String,
    /// Its address.
    #[serde(default)]
    pub organ_add: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub telephone: String,
    #[serde(default)]
    pub fax: String,
    #[serde(default)]
    pub website: String,
}

/// The number and notation of a document (số, ký hiệu): `12` and `UBND-VP` for `12/UBND-VP`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Code {
    pub code_number: String,
    #[serde(default)]
    pub code_notation: String,
}

impl Code {
    /// `number/notation`, or the number alone when there is no notation.
    pub fn display(&self) -> String {
        if self.code_notation.is_empty() {
            self.code_number.clone()
        } else {
            format!("{}/{}", self.code_number, self.code_notation)
        }
    }
}

/// Where and when the document was issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromulgationInfo {
    /// The place of issue, e.g. `Hà Nội`.
    #[serde(default)]
    pub place: String,
    /// The date of issue (written `YYYY/MM/DD`).
    pub promulgation_date: NaiveDate,
}

/// The kind of document: the hub's numeric code, a detail code and the name (e.g. Công văn).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentType {
    /// `Type`: the code of the kind in the hub's list.
    pub type_code: u16,
    /// `TypeDetail`: a finer code, 0 when unused.
    #[serde(default)]
    pub type_detail: u16,
    /// `TypeName`: the kind's name.
    #[serde(default)]
    pub type_name: String,
}

/// Who signed the document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerInfo {
    /// The authority under which it was signed (thẩm quyền: TM., KT., TL., Q. …).
    #[serde(default)]
    pub competence: String,
    /// The signer's position.
    #[serde(default)]
    pub position: String,
    /// The signer's full name.
    #[serde(default)]
    pub full_name: String,
}

/// Other information about the document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherInfo {
    /// Urgency: 0 normal (thường), 1 urgent (khẩn), 2 very urgent (thượng khẩn), 3 express
    /// (hoả tốc), 4 express at a set time (hoả tốc hẹn giờ).
    #[serde(default)]
    pub priority: u8,
    /// Where it may circulate (phạm vi lưu hành).
    #[serde(default)]
    pub sphere_of_promulgation: String,
    /// The notation of the drafting unit or person (ký hiệu người đánh máy / đơn vị soạn thảo).
    #[serde(default)]
    pub typer_notation: String,
    /// How many copies were issued.
    #[serde(default)]
    pub promulgation_amount: u32,
    /// How many pages.
    #[serde(default)]
    pub page_amount: u32,
    /// The names of the appendices.
    #[serde(default)]
    pub appendixes: Vec<String>,
}

/// The document a package or a status answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseFor {
    /// The agency that issued the answered document.
    pub organ_id: String,
    /// Its number and notation as one string, e.g. `12/UBND-VP`.
    #[serde(default)]
    pub code: String,
    /// Its date of issue.
    #[serde(default)]
    pub promulgation_date: Option<NaiveDate>,
    /// Its DocumentId.
    #[serde(default)]
    pub document_id: String,
}

/// The header of a document package (MessageHeader).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageHeader {
    pub from: Organization,
    /// The recipients: at least one.
    pub to: Vec<Organization>,
    pub code: Code,
    pub promulgation_info: PromulgationInfo,
    pub document_type: DocumentType,
    /// The summary (trích yếu): never empty.
    pub subject: String,
    /// A short account of the content.
    #[serde(default)]
    pub content: String,
    pub signer_info: SignerInfo,
    /// The deadline for handling, if any.
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    /// Other places that receive it for information (nơi nhận), beyond the recipients.
    #[serde(default)]
    pub to_places: Vec<String>,
    pub other_info: OtherInfo,
    /// The documents this one answers.
    #[serde(default)]
    pub response_for: Vec<ResponseFor>,
    /// Steering type (loại chỉ đạo), as the hub codes it.
    #[serde(default)]
    pub steering_type: u8,
    /// `<OrganId>,<YYYY/MM/DD>,<CodeNumber/CodeNotation>`, which must then agree with the
    /// header; an opaque id without commas (a UUID, as the national hub's test packages carry)
    /// is taken as it is. See [`Package::document_id`].
    #[serde(default)]
    pub document_id: Option<String>,
}

/// One hop of the package: the agency or hub it passed and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceHeader {
    pub organ_id: String,
    pub timestamp: DateTime<FixedOffset>,
}

/// What the package does to the document (BussinessDocType).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusinessType {
    /// 0: a new document (văn bản mới).
    #[default]
    New,
    /// 1: recalls a document sent before (thu hồi).
    Revoke,
    /// 2: updates a document sent before (cập nhật).
    Update,
    /// 3: replaces a document sent before (thay thế).
    Replace,
}

impl BusinessType {
    /// Every business type, by code.
    pub const ALL: [BusinessType; 4] = [
        BusinessType::New,
        BusinessType::Revoke,
        BusinessType::Update,
        BusinessType::Replace,
    ];

    /// The code written in `BussinessDocType`.
    pub fn code(self) -> u8 {
        match self {
            BusinessType::New => 0,
            BusinessType::Revoke => 1,
            BusinessType::Update => 2,
            BusinessType::Replace => 3,
        }
    }

    /// The type of a code, if it is one.
    pub fn from_code(code: u8) -> Option<BusinessType> {
        BusinessType::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            BusinessType::New => "Văn bản mới",
            BusinessType::Revoke => "Thu hồi văn bản",
            BusinessType::Update => "Cập nhật văn bản",
            BusinessType::Replace => "Thay thế văn bản",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            BusinessType::New => "New document",
            BusinessType::Revoke => "Recall of a document",
            BusinessType::Update => "Update of a document",
            BusinessType::Replace => "Replacement of a document",
        }
    }
}

/// How a recipient changes in an update (ReceiverType).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiverType {
    /// 0: the agency is taken off the recipients.
    #[default]
    Removed,
    /// 1: the agency is added to the recipients.
    Added,
}

impl ReceiverType {
    pub fn code(self) -> u8 {
        match self {
            ReceiverType::Removed => 0,
            ReceiverType::Added => 1,
        }
    }

    pub fn from_code(code: u8) -> Option<ReceiverType> {
        match code {
            0 => Some(ReceiverType::Removed),
            1 => Some(ReceiverType::Added),
            _ => None,
        }
    }
}

/// A change of recipients in an update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receiver {
    pub receiver_type: ReceiverType,
    pub organ_id: String,
}

/// What an update changes (BussinessDocumentInfo).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessDocumentInfo {
    /// `DocumentInfo`: the hub's flag that the document's details changed, kept as written.
    #[serde(default)]
    pub document_info: String,
    /// `DocumentReceiver`: the hub's flag that the recipients changed, kept as written.
    #[serde(default)]
    pub document_receiver: String,
    /// `ReceiverList`: the recipients added or removed.
    #[serde(default)]
    pub receivers: Vec<Receiver>,
}

/// A document replaced, and the agencies it had been sent to (ReplacementInfo).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplacementInfo {
    pub document_id: String,
    #[serde(default)]
    pub organ_ids: Vec<String>,
}

/// The person who handled a package or a status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffInfo {
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub staff: String,
    #[serde(default)]
    pub mobile: String,
    #[serde(default)]
    pub email: String,
}

/// What the package does (the `Bussiness` element of TraceHeaderList, spelled so in the
/// standard).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Business {
    pub business_doc_type: BusinessType,
    /// The reason for a recall, update or replacement.
    #[serde(default)]
    pub business_doc_reason: String,
    /// The DocumentId of the document recalled, updated or replaced.
    #[serde(default)]
    pub document_id: Option<String>,
    /// What an update changes.
    #[serde(default)]
    pub document_info: Option<BusinessDocumentInfo>,
    /// Who handled it.
    #[serde(default)]
    pub staff_info: Option<StaffInfo>,
    /// `Paper`: 1 when a paper copy follows, 0 when not.
    #[serde(default)]
    pub paper: u8,
    /// The documents replaced.
    #[serde(default)]
    pub replacement_info: Vec<ReplacementInfo>,
}

/// A file of the package. Its bytes are base64 in the XML (`ContentTransferEncoded`) and in
/// JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The content id that ties the manifest's reference to the data (without `cid:`).
    pub content_id: String,
    /// The file name (AttachmentName).
    pub name: String,
    /// The media type, e.g. `application/pdf`.
    #[serde(default)]
    pub content_type: String,
    #[serde(default)]
    pub description: String,
    /// The bytes.
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
}

/// A document package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub header: MessageHeader,
    /// The hops, oldest first.
    #[serde(default)]
    pub trace: Vec<TraceHeader>,
    #[serde(default)]
    pub business: Business,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

impl Package {
    /// The package's DocumentId: the one written, or else
    /// `<From.OrganId>,<YYYY/MM/DD>,<CodeNumber/CodeNotation>`.
    pub fn document_id(&self) -> String {
        match &self.header.document_id {
            Some(id) => id.clone(),
            None => built_document_id(&self.header),
        }
    }

    /// What this package's status answers refer to.
    pub fn response_for(&self) -> ResponseFor {
        ResponseFor {
            organ_id: self.header.from.organ_id.clone(),
            code: self.header.code.display(),
            promulgation_date: Some(self.header.promulgation_info.promulgation_date),
            document_id: self.document_id(),
        }
    }
}

/// The DocumentId the standard builds from the sender, the date and the number.
pub(super) fn built_document_id(h: &MessageHeader) -> String {
    format!(
        "{},{},{}",
        h.from.organ_id,
        h.promulgation_info.promulgation_date.format("%Y/%m/%d"),
        h.code.display()
    )
}

mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// Vietnam's offset, UTC+7.
pub(super) const VIETNAM: FixedOffset = match FixedOffset::east_opt(7 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+7 is a valid offset"),
};

/// The sample date: 2 May 2024.
const SAMPLE_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2024, 5, 2) {
    Some(date) => date,
    None => panic!("2 May 2024 is a date"),
};

/// A moment on the sample date plus `days`, at `hour:minute` Vietnam time.
pub(super) fn sample_moment(days: u64, hour: u32, minute: u32) -> DateTime<FixedOffset> {
    let date = SAMPLE_DATE + chrono::Days::new(days);
    let time = NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default();
    let naive = date.and_time(time);
    VIETNAM
        .from_local_datetime(&naive)
        .single()
        .unwrap_or_else(|| naive.and_utc().fixed_offset())
}

fn organization(id: &str) -> Organization {
    Organization {
        organ_id: id.to_string(),
        organization_in_charge: String::new(),
        organ_name: format!("Cơ quan {id}"),
        organ_add: "Số 1 đường Lê Lợi, Hà Nội".to_string(),
        email: format!("vanthu@{}.gov.vn", id.to_lowercase().replace('.', "-")),
        telephone: "024 3825 0000".to_string(),
        fax: String::new(),
        website: String::new(),
    }
}

pub(super) fn sample_package(from: &str, to: &[&str], number: u32) -> Package {
    let date = SAMPLE_DATE;
    let mut header = MessageHeader {
        from: organization(from),
        to: to.iter().map(|t| organization(t)).collect(),
        code: Code {
            code_number: number.to_string(),
            code_notation: "UBND-VP".to_string(),
        },
        promulgation_info: PromulgationInfo {
            place: "Hà Nội".to_string(),
            promulgation_date: date,
        },
        document_type: DocumentType {
            type_code: 1,
            type_detail: 0,
            type_name: "Công văn".to_string(),
        },
        subject: format!(
            "Về việc triển khai tiếp nhận hồ sơ trực tuyến toàn trình (văn bản số {number})"
        ),
        content: "Đề nghị các cơ quan phối hợp thực hiện & báo cáo kết quả trước ngày 15/5."
            .to_string(),
        signer_info: SignerInfo {
            competence: "KT. CHỦ TỊCH".to_string(),
            position: "Phó Chủ tịch".to_string(),
            full_name: "Nguyễn Văn An".to_string(),
        },
        due_date: Some(date + chrono::Days::new(13)),
        to_places: vec!["Như trên".to_string(), "Lưu: VT".to_string()],
        other_info: OtherInfo {
            priority: 1,
            sphere_of_promulgation: "Lưu hành nội bộ".to_string(),
            typer_notation: "VP".to_string(),
            promulgation_amount: 5,
            page_amount: 2,
            appendixes: vec!["Phụ lục I: Danh mục thủ tục".to_string()],
        },
        response_for: Vec::new(),
        steering_type: 0,
        document_id: None,
    };
    header.document_id = Some(built_document_id(&header));
    Package {
        header,
        trace: vec![TraceHeader {
            organ_id: from.to_string(),
            timestamp: sample_moment(0, 9, 15),
        }],
        business: Business {
            business_doc_type: BusinessType::New,
            business_doc_reason: String::new(),
            document_id: None,
            document_info: None,
            staff_info: Some(StaffInfo {
                department: "Văn phòng".to_string(),
                staff: "Trần Thị Bình".to_string(),
                mobile: "0912 345 678".to_string(),
                email: String::new(),
            }),
            paper: 0,
            replacement_info: Vec::new(),
        },
        attachments: vec![Attachment {
            content_id: format!("{number}-1@{}", from.to_lowercase()),
            name: format!("cong-van-{number}.pdf"),
            content_type: "application/pdf".to_string(),
            description: "Văn bản ký số".to_string(),
            data: format!("%PDF-1.4\n% văn bản số {number}\n%%EOF\n").into_bytes(),
        }],
    }
}
