//! The catalogue's records as the outside world sees them: fields, agencies and procedures,
//! in the shape of the import file, the API and the stored versions. Validation is a pure
//! function over these values ([`validate_procedure`] and friends) that lists every problem
//! rather than stopping at the first.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use kernel::ids::AgencyCode;

/// A field of administration (lĩnh vực), e.g. civil status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: Option<String>,
}

/// Government level of an agency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AgencyLevel {
    Central,
    Provincial,
    Commune,
}

impl AgencyLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AgencyLevel::Central => "central",
            AgencyLevel::Provincial => "provincial",
            AgencyLevel::Commune => "commune",
        }
    }
    pub fn parse(s: &str) -> Option<AgencyLevel> {
        match s {
            "central" => Some(AgencyLevel::Central),
            "provincial" => Some(AgencyLevel::Provincial),
            "commune" => Some(AgencyLevel::Commune),
            _ => None,
        }
    }
    pub fn label(self, vi: bool) -> &'static str {
        match (self, vi) {
            (AgencyLevel::Central, true) => "Trung ương",
            (AgencyLevel::Provincial, true) => "Cấp tỉnh",
            (AgencyLevel::Commune, true) => "Cấp xã",
            (AgencyLevel::Central, false) => "Central",
            (AgencyLevel::Provincial, false) => "Provincial",
            (AgencyLevel::Commune, false) => "Commune",
        }
    }
}

/// An agency as imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgencySpec {
    #[schema(value_type = String, example = "000.00.00.H26")]
    pub code: AgencyCode,
    pub name: String,
    #[serde(default)]
    pub name_en: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub parent: Option<AgencyCode>,
    pub level: AgencyLevel,
    /// 2-digit province or 5-digit commune code of the unit it serves (2025 units); none for
    /// central bodies.
    #[serde(default)]
    pub unit: Option<String>,
    pub address: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    pub hours: String,
}

/// Who a procedure serves.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    Citizen,
    Business,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Citizen => "citizen",
            Audience::Business => "business",
        }
    }
    pub fn parse(s: &str) -> Option<Audience> {
        match s {
            "citizen" => Some(Audience::Citizen),
            "business" => Some(Audience::Business),
            _ => None,
        }
    }
    pub fn label(self, vi: bool) -> &'static str {
        match (self, vi) {
            (Audience::Citizen, true) => "Công dân",
            (Audience::Business, true) => "Doanh nghiệp",
            (Audience::Citizen, false) => "Citizens",
            (Audience::Business, false) => "Businesses",
        }
    }
}

/// Online provision under Decree 42/2022: every step online, part of it, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnlineMode {
    Full,
    Partial,
    None,
}

impl OnlineMode {
    pub fn as_str(self) -> &'static str {
        match self {
            OnlineMode::Full => "full",
            OnlineMode::Partial => "partial",
            OnlineMode::None => "none",
        }
    }
    pub fn parse(s: &str) -> Option<OnlineMode> {
        match s {
            "full" => Some(OnlineMode::Full),
            "partial" => Some(OnlineMode::Partial),
            "none" => Some(OnlineMode::None),
            _ => None,
        }
    }
    pub fn label(self, vi: bool) -> &'static str {
        match (self, vi) {
            (OnlineMode::Full, true) => "Trực tuyến toàn trình",
            (OnlineMode::Partial, true) => "Trực tuyến một phần",
            (OnlineMode::None, true) => "Nộp trực tiếp",
            (OnlineMode::Full, false) => "Fully online",
            (OnlineMode::Partial, false) => "Partly online",
            (OnlineMode::None, false) => "In person",
        }
    }
}

/// A fee or charge; several when it depends on the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    pub label: String,
    /// Whole đồng.
    pub amount: i64,
    /// The case this amount applies to, when it depends on one.
    #[serde(default)]
    pub case: Option<String>,
    /// Charged per copy (or per page): the amount times the number asked for.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_copy: bool,
    /// An exemption or reduction for social-policy beneficiaries: the applicant claims it and
    /// the desk checks the proof.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub beneficiary: bool,
}

/// When a procedure's fees are paid through the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeeDue {
    /// With the dossier: the desk receives it once paid.
    Submission,
    /// Before the result is handed over.
    Result,
}

impl FeeDue {
    pub fn as_str(self) -> &'static str {
        match self {
            FeeDue::Submission => "submission",
            FeeDue::Result => "result",
        }
    }
    pub fn parse(s: &str) -> Option<FeeDue> {
        match s {
            "submission" => Some(FeeDue::Submission),
            "result" => Some(FeeDue::Result),
            _ => None,
        }
    }
}

/// A document the applicant brings or uploads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequiredDocument {
    pub name: String,
    pub copies: u8,
    /// Original required (true) or a copy accepted (false).
    pub original: bool,
    /// Name of the form template, when there is one.
    #[serde(default)]
    pub template: Option<String>,
}

/// Type of an application form field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Textarea,
    Date,
    Number,
    Select,
    Cccd,
    TaxCode,
    Email,
    Phone,
    Checkbox,
}

/// One typed field of a procedure's application form, with its validation rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub label_en: Option<String>,
    #[serde(rename = "type")]
    pub kind: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// An administrative procedure as imported; each stored version is one of these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcedureSpec {
    /// National procedure number, e.g. `1.001193`.
    pub code: String,
    pub name: String,
    /// Field code.
    pub field: String,
    /// Handling agencies' codes.
    #[schema(value_type = Vec<String>)]
    pub agencies: Vec<AgencyCode>,
    pub audience: Vec<Audience>,
    /// Online service level 1–4 (Decree 43/2011).
    pub level: u8,
    pub online: OnlineMode,
    /// Legal time limit in working days; 0 for the same day.
    pub time_limit_days: u16,
    #[serde(default)]
    pub time_limit_note: Option<String>,
    #[serde(default)]
    pub fees: Vec<Fee>,
    /// When the fees are paid through the system; none when they are not collected online
    /// (paid at the counter, outside it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_due: Option<FeeDue>,
    #[serde(default)]
    pub documents: Vec<RequiredDocument>,
    #[serde(default)]
    pub steps: Vec<String>,
    #[serde(default)]
    pub legal_basis: Vec<String>,
    pub result: String,
    pub where_to_submit: String,
    #[serde(default)]
    pub description: String,
    /// Identity assurance level required to file online (VNeID level), if any.
    #[serde(default)]
    pub requires_assurance: Option<u8>,
    #[serde(default)]
    pub form: Vec<FormField>,
}

/// Everything an import file can carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    #[serde(default)]
    pub agencies: Vec<AgencySpec>,
    #[serde(default)]
    pub procedures: Vec<ProcedureSpec>,
}

/// A problem with one value, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub vi: String,
    pub en: String,
}

fn bad(vi: impl Into<String>, en: impl Into<String>) -> Invalid {
    Invalid {
        vi: vi.into(),
        en: en.into(),
    }
}

fn check_text(out: &mut Vec<Invalid>, what_vi: &str, what_en: &str, s: &str, max: usize) {
    if s.trim().is_empty() {
        out.push(bad(
            format!("{what_vi} không được để trống"),
            format!("{what_en} must not be empty"),
        ));
    } else if s.chars().count() > max {
        out.push(bad(
            format!("{what_vi} dài quá {max} ký tự"),
            format!("{what_en} is longer than {max} characters"),
        ));
    }
}

/// A code of letters, digits, dots, dashes and underscores, at most 64 long.
pub fn valid_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

pub fn validate_field(f: &FieldSpec) -> Vec<Invalid> {
    let mut out = Vec::new();
    if !valid_code(&f.code) {
        out.push(bad(
            format!(
                "Mã lĩnh vực {:?} chỉ được gồm chữ, số, dấu chấm, gạch (tối đa 64)",
                f.code
            ),
            format!(
                "Field code {:?} may only hold letters, digits, dots and dashes (64 at most)",
                f.code
            ),
        ));
    }
    check_text(&mut out, "Tên lĩnh vực", "Field name", &f.name, 300);
    out
}

pub fn validate_agency(a: &AgencySpec) -> Vec<Invalid> {
    let mut out = Vec::new();
    check_text(&mut out, "Tên cơ quan", "Agency name", &a.name, 300);
    check_text(&mut out, "Địa chỉ", "Address", &a.address, 500);
    check_text(&mut out, "Giờ làm việc", "Office hours", &a.hours, 300);
    match (a.level, &a.unit) {
        (AgencyLevel::Central, Some(_)) => out.push(bad(
            "Cơ quan trung ương không gắn với đơn vị hành chính",
            "A central agency has no administrative unit",
        )),
        (AgencyLevel::Provincial, u) if u.as_ref().is_none_or(|u| u.len() != 2) => out.push(bad(
            "Cơ quan cấp tỉnh cần mã tỉnh 2 chữ số",
            "A provincial agency needs a 2-digit province code",
        )),
        (AgencyLevel::Commune, u) if u.as_ref().is_none_or(|u| u.len() != 5) => out.push(bad(
            "Cơ quan cấp xã cần mã xã 5 chữ số",
            "A commune agency needs a 5-digit commune code",
        )),
        _ => {}
    }
    if a.parent.as_ref() == Some(&a.code) {
        out.push(bad(
            "Cơ quan không thể là cơ quan cấp trên của chính nó",
            "An agency cannot be its own parent",
        ));
    }
    out
}

/// Checks one procedure on its own (references to fields and agencies are checked by the
/// importer, which knows what exists).
pub fn validate_procedure(p: &ProcedureSpec) -> Vec<Invalid> {
    let mut out = Vec::new();
    if !valid_code(&p.code) {
        out.push(bad(
            format!(
                "Mã thủ tục {:?} chỉ được gồm chữ, số, dấu chấm, gạch (tối đa 64)",
                p.code
            ),
            format!(
                "Procedure code {:?} may only hold letters, digits, dots and dashes (64 at most)",
                p.code
            ),
        ));
    }
    check_text(&mut out, "Tên thủ tục", "Procedure name", &p.name, 500);
    check_text(&mut out, "Kết quả", "Result", &p.result, 500);
    check_text(
        &mut out,
        "Nơi nộp hồ sơ",
        "Where to submit",
        &p.where_to_submit,
        1000,
    );
    if p.description.chars().count() > 5000 {
        out.push(bad(
            "Mô tả dài quá 5000 ký tự",
            "Description is longer than 5000 characters",
        ));
    }
    if p.agencies.is_empty() {
        out.push(bad(
            "Thủ tục cần ít nhất một cơ quan giải quyết",
            "A procedure needs at least one handling agency",
        ));
    }
    if p.audience.is_empty() {
        out.push(bad(
            "Thủ tục cần nêu đối tượng thực hiện",
            "A procedure must name its audience",
        ));
    }
    if !(1..=4).contains(&p.level) {
        out.push(bad(
            format!("Mức độ dịch vụ công {} không hợp lệ (1 đến 4)", p.level),
            format!("Online service level {} is not valid (1 to 4)", p.level),
        ));
    } else {
        let consistent = match p.online {
            OnlineMode::Full => p.level == 4,
            OnlineMode::Partial => p.level == 3,
            OnlineMode::None => p.level <= 2,
        };
        if !consistent {
            out.push(bad(
                format!(
                    "Mức độ {} không khớp với hình thức trực tuyến «{}»",
                    p.level,
                    p.online.label(true)
                ),
                format!(
                    "Level {} does not match online mode `{}`",
                    p.level,
                    p.online.as_str()
                ),
            ));
        }
    }
    if p.time_limit_days > 3650 {
        out.push(bad(
            "Thời hạn giải quyết quá 3650 ngày làm việc",
            "Time limit exceeds 3650 working days",
        ));
    }
    if let Some(a) = p.requires_assurance
        && !(1..=2).contains(&a)
    {
        out.push(bad(
            "Mức độ định danh yêu cầu phải là 1 hoặc 2",
            "Required assurance level must be 1 or 2",
        ));
    }
    for (i, f) in p.fees.iter().enumerate() {
        if f.amount < 0 || f.amount > 1_000_000_000_000 {
            out.push(bad(
                format!("Phí thứ {}: số tiền {} không hợp lệ", i + 1, f.amount),
                format!("Fee {}: amount {} is not valid", i + 1, f.amount),
            ));
        }
        check_text(&mut out, "Tên khoản phí", "Fee label", &f.label, 300);
    }
    for (i, d) in p.documents.iter().enumerate() {
        check_text(
            &mut out,
            "Tên thành phần hồ sơ",
            "Document name",
            &d.name,
            500,
        );
        if d.copies == 0 || d.copies > 20 {
            out.push(bad(
                format!(
                    "Thành phần hồ sơ thứ {}: số bản {} không hợp lệ (1 đến 20)",
                    i + 1,
                    d.copies
                ),
                format!(
                    "Document {}: {} copies is not valid (1 to 20)",
                    i + 1,
                    d.copies
                ),
            ));
        }
    }
    for s in &p.steps {
        check_text(&mut out, "Bước thực hiện", "Step", s, 2000);
    }
    let mut names = std::collections::HashSet::new();
    for f in &p.form {
        out.extend(validate_form_field(f));
        if !names.insert(f.name.as_str()) {
            out.push(bad(
                format!("Trường biểu mẫu {:?} bị trùng tên", f.name),
                format!("Form field {:?} appears twice", f.name),
            ));
        }
    }
    out
}

fn validate_form_field(f: &FormField) -> Vec<Invalid> {
    let mut out = Vec::new();
    let name_ok = f.name.len() <= 64
        && f.name.starts_with(|c: char| c.is_ascii_lowercase())
        && f.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok {
        out.push(bad(
            format!(
                "Tên trường biểu mẫu {:?} phải gồm chữ thường không dấu, số, gạch dưới",
                f.name
            ),
            format!(
                "Form field name {:?} must be lower-case ASCII letters, digits and underscores",
                f.name
            ),
        ));
    }
    check_text(
        &mut out,
        "Nhãn trường biểu mẫu",
        "Form field label",
        &f.label,
        300,
    );
    let is_text = matches!(
        f.kind,
        FieldType::Text | FieldType::Textarea | FieldType::Email | FieldType::Phone
    );
    if f.max_length.is_some() && !is_text {
        out.push(bad(
            format!(
                "Trường {:?}: chỉ trường văn bản mới có độ dài tối đa",
                f.name
            ),
            format!("Field {:?}: only text fields have a maximum length", f.name),
        ));
    }
    if (f.min.is_some() || f.max.is_some()) && f.kind != FieldType::Number {
        out.push(bad(
            format!(
                "Trường {:?}: chỉ trường số mới có giá trị nhỏ nhất/lớn nhất",
                f.name
            ),
            format!("Field {:?}: only number fields have min/max", f.name),
        ));
    }
    if let (Some(a), Some(b)) = (f.min, f.max)
        && a > b
    {
        out.push(bad(
            format!("Trường {:?}: min lớn hơn max", f.name),
            format!("Field {:?}: min exceeds max", f.name),
        ));
    }
    match (f.kind, f.options.is_empty()) {
        (FieldType::Select, true) => out.push(bad(
            format!("Trường chọn {:?} cần danh sách lựa chọn", f.name),
            format!("Select field {:?} needs options", f.name),
        )),
        (k, false) if k != FieldType::Select => out.push(bad(
            format!(
                "Trường {:?}: chỉ trường chọn mới có danh sách lựa chọn",
                f.name
            ),
            format!("Field {:?}: only select fields have options", f.name),
        )),
        _ => {}
    }
    if let Some(p) = &f.pattern {
        if f.kind != FieldType::Text {
            out.push(bad(
                format!(
                    "Trường {:?}: chỉ trường văn bản một dòng mới có mẫu kiểm tra",
                    f.name
                ),
                format!("Field {:?}: only text fields have a pattern", f.name),
            ));
        } else if p.len() > 500 || regex::Regex::new(p).is_err() {
            out.push(bad(
                format!("Trường {:?}: mẫu kiểm tra không hợp lệ", f.name),
                format!(
                    "Field {:?}: the pattern is not a valid regular expression",
                    f.name
                ),
            ));
        }
    }
    out
}
