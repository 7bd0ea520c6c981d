//! The kinds of report a citizen may file (Open311's services): field reports by category and
//! petitions by subject, each with its questions and the working days its handling is
//! expected to take. A node starts with `data/services.json`; operators change them later.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use kernel::on_db;

use crate::error::invalid;
use crate::{Feedback, FeedbackError, Result};

/// The kinds shipped with a new node.
const SHIPPED: &str = include_str!("../data/services.json");

/// One answer of a list question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Choice {
    pub key: String,
    pub name: String,
}

/// A question a report of this kind answers (Open311's attribute).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Question {
    pub code: String,
    pub description: String,
    /// string, number, datetime, text, singlevaluelist or multivaluelist.
    pub datatype: String,
    pub required: bool,
    #[serde(default)]
    pub values: Vec<Choice>,
}

/// A kind of report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Service {
    pub code: String,
    /// `field` (a problem at a place) or `petition` (about a regulation, a procedure or an
    /// agency's handling).
    pub kind: String,
    pub group: String,
    pub name_vi: String,
    pub name_en: String,
    pub description: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Working days the handling is expected to take.
    pub expected_days: u16,
    #[serde(default)]
    pub attributes: Vec<Question>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl Service {
    pub fn is_field(&self) -> bool {
        self.kind == "field"
    }
    pub fn name(&self, vi: bool) -> &str {
        if vi { &self.name_vi } else { &self.name_en }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    code: String,
    kind: String,
    name_vi: String,
    name_en: String,
    description: String,
    group_name: String,
    keywords: String,
    attributes: String,
    expected_days: i64,
    active: bool,
}

impl From<Row> for Service {
    fn from(r: Row) -> Service {
        Service {
            code: r.code,
            kind: r.kind,
            group: r.group_name,
            name_vi: r.name_vi,
            name_en: r.name_en,
            description: r.description,
            keywords: r
                .keywords
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect(),
            expected_days: u16::try_from(r.expected_days.clamp(0, 365)).unwrap_or(10),
            attributes: serde_json::from_str(&r.attributes).unwrap_or_default(),
            active: r.active,
        }
    }
}

const DATATYPES: [&str; 6] = [
    "string",
    "number",
    "datetime",
    "text",
    "singlevaluelist",
    "multivaluelist",
];

/// Checks a kind of report an operator writes; every problem is listed.
pub fn check(s: &Service) -> Result<()> {
    let mut problems = Vec::new();
    let code_ok = !s.code.is_empty()
        && s.code.len() <= 32
        && s.code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !code_ok {
        problems.push(kernel::ProblemDetail::new(
            "code",
            "Mã loại phản ánh gồm 1–32 chữ cái Latin, chữ số, '_' hoặc '-'",
            "The code is 1–32 Latin letters, digits, '_' or '-'",
        ));
    }
    if s.kind != "field" && s.kind != "petition" {
        problems.push(kernel::ProblemDetail::new(
            "kind",
            "Loại là field (phản ánh hiện trường) hoặc petition (phản ánh, kiến nghị)",
            "The kind is field or petition",
        ));
    }
    for (field, v) in [
        ("name_vi", &s.name_vi),
        ("name_en", &s.name_en),
        ("group", &s.group),
    ] {
        if v.trim().is_empty() || v.chars().count() > 200 {
            problems.push(kernel::ProblemDetail::new(
                field,
                "Cần có, tối đa 200 ký tự",
                "Required, at most 200 characters",
            ));
        }
    }
    if s.expected_days == 0 || s.expected_days > 90 {
        problems.push(kernel::ProblemDetail::new(
            "expected_days",
            "Thời hạn xử lý từ 1 đến 90 ngày làm việc",
            "The expected handling time is 1 to 90 working days",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, q) in s.attributes.iter().enumerate() {
        let at = format!("attributes/{i}");
        if q.code.is_empty() || q.code.len() > 64 || !seen.insert(q.code.clone()) {
            problems.push(kernel::ProblemDetail::new(
                &at,
                "Mã câu hỏi trống, quá dài hoặc trùng",
                "The question's code is empty, too long or repeated",
            ));
        }
        if !DATATYPES.contains(&q.datatype.as_str()) {
            problems.push(kernel::ProblemDetail::new(
                &at,
                format!("Kiểu dữ liệu không hỗ trợ: {}", q.datatype),
                format!("Unknown datatype: {}", q.datatype),
            ));
        }
        if q.datatype.ends_with("valuelist") && q.values.is_empty() {
            problems.push(kernel::ProblemDetail::new(
                &at,
                "Câu hỏi chọn từ danh sách cần có các lựa chọn",
                "A list question needs its choices",
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(FeedbackError::Invalid(problems))
    }
}

/// Writes a kind of report inside `tx`.
async fn upsert(tx: &mut kernel::audit::Tx<'_>, s: &Service, sort: i64) -> Result<()> {
    let attributes = serde_json::to_string(&s.attributes).unwrap_or_else(|_| "[]".into());
    kernel::on_tx!(tx, c => sqlx::query(
        "INSERT INTO feedback_services (code, kind, name_vi, name_en, description, group_name, keywords, attributes, expected_days, active, sort) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (code) DO UPDATE SET kind = excluded.kind, name_vi = excluded.name_vi, name_en = excluded.name_en, \
         description = excluded.description, group_name = excluded.group_name, keywords = excluded.keywords, \
         attributes = excluded.attributes, expected_days = excluded.expected_days, active = excluded.active"
    ).bind(&s.code).bind(&s.kind).bind(s.name_vi.trim()).bind(s.name_en.trim()).bind(s.description.trim())
    .bind(s.group.trim()).bind(s.keywords.join(", ")).bind(&attributes).bind(i64::from(s.expected_days))
    .bind(s.active).bind(sort).execute(c).await.map(|_| ()))?;
    Ok(())
}

impl Feedback {
    /// Writes the shipped kinds of report when the node has none.
    pub async fn ensure_services(&self) -> Result<usize> {
        let (n,): (i64,) = on_db!(&self.db, c => sqlx::query_as("SELECT COUNT(*) FROM feedback_services").fetch_one(c).await)?;
        if n > 0 {
            return Ok(0);
        }
        let shipped: Vec<Service> = serde_json::from_str(SHIPPED).map_err(|e| {
            invalid(
                "services.json",
                format!("Danh mục loại phản ánh đi kèm bị hỏng: {e}"),
                format!("The shipped kinds of report are broken: {e}"),
            )
        })?;
        for (i, s) in shipped.iter().enumerate() {
            self.write_service(s, i64::try_from(i).unwrap_or(0)).await?;
        }
        Ok(shipped.len())
    }

    async fn write_service(&self, s: &Service, sort: i64) -> Result<()> {
        check(s)?;
        let mut tx = kernel::audit::Tx::begin(&self.db).await?;
        upsert(&mut tx, s, sort).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds or changes a kind of report (operators), audited.
    pub async fn put_service(&self, p: &identity::Principal, s: &Service) -> Result<Service> {
        self.allow_manage(p).await?;
        check(s)?;
        let sort: (i64,) = on_db!(&self.db, c => sqlx::query_as(
            "SELECT COALESCE((SELECT sort FROM feedback_services WHERE code = $1), (SELECT COALESCE(MAX(sort), 0) + 1 FROM feedback_services))"
        ).bind(&s.code).fetch_one(c).await)?;
        let now = self.clock.now();
        let mut tx = kernel::audit::Tx::begin(&self.db).await?;
        upsert(&mut tx, s, sort.0).await?;
        kernel::audit::append(
            &mut tx,
            now,
            &kernel::audit::Entry {
                actor: &crate::actor_of(p),
                action: "feedback.service.put",
                subject: &format!("feedback_service/{}", s.code),
                data: serde_json::to_value(s).unwrap_or_default(),
            },
        )
        .await?;
        tx.commit().await?;
        self.service(&s.code)
            .await?
            .ok_or_else(|| FeedbackError::NotFound(s.code.clone()))
    }

    /// Every kind of report, in order (with the inactive ones when `all`).
    pub async fn services(&self, all: bool) -> Result<Vec<Service>> {
        let rows: Vec<Row> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT code, kind, name_vi, name_en, description, group_name, keywords, attributes, expected_days, active FROM feedback_services ORDER BY sort, code"
        ).fetch_all(c).await)?;
        Ok(rows
            .into_iter()
            .map(Service::from)
            .filter(|s| all || s.active)
            .collect())
    }

    /// One kind of report by its code.
    pub async fn service(&self, code: &str) -> Result<Option<Service>> {
        let row: Option<Row> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT code, kind, name_vi, name_en, description, group_name, keywords, attributes, expected_days, active FROM feedback_services WHERE code = $1"
        ).bind(code).fetch_optional(c).await)?;
        Ok(row.map(Service::from))
    }
}
