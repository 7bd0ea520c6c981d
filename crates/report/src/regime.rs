//! The periodic reporting regime of Decree 09/2019/NĐ-CP: report templates with typed
//! indicators (some derived by formula), a frequency and a deadline, assigned to agencies;
//! submissions by form or by API, validated, kept in versions, approved or returned by the
//! level above; consolidation up the hierarchy; reminders before the deadline and after it.
//!
//! Periods follow the decree's cut-off dates: a month's figures run from the 15th of the
//! month before to the 14th; a quarter's from the 15th of the month before it to the 14th of
//! its last month; the half-year's from 15 December to 14 June; the year's from 15 December
//! to 14 December. A report is due on the template's deadline day of the month its figures
//! end in.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use kernel::ProblemDetail;
use kernel::audit::{self, Entry, Tx};
use kernel::{on_db, on_tx};

use crate::error::invalid;
use crate::{Metrics, Period, ReportError, Reports, Scope};

type Result<T, E = ReportError> = std::result::Result<T, E>;

/// How often a report is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    Month,
    Quarter,
    /// The first six months (the decree's 6-month report).
    HalfYear,
    Year,
}

/// What an indicator holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A count: a whole number, not negative.
    Integer,
    Decimal,
    /// 0 to 100.
    Percent,
    /// Words: an assessment, a proposal.
    Text,
}

/// How an indicator is consolidated up the hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Consolidate {
    #[default]
    Sum,
    Mean,
    /// Not consolidated (texts; figures that only make sense for one agency).
    None,
}

/// One indicator of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Field {
    /// Lower-case letters, digits and `_`, starting with a letter: formulas name it so.
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    /// The unit shown beside it (`hồ sơ`, `%`, `đồng`...).
    #[serde(default)]
    pub unit: String,
    pub kind: Kind,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Derived: an arithmetic formula over other indicators' codes (`resolved_on_time /
    /// resolved * 100`); nobody enters it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formula: Option<String>,
    #[serde(default)]
    pub consolidate: Consolidate,
    /// A one-stop figure the form starts from, over the period's cut-off dates (one of the
    /// roll-up columns, or `received`, `resolved`, `on_time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A template as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TemplateSpec {
    /// `BC-TTHC-01`: letters, digits, `.`, `-`, `_`.
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    /// The document that sets it.
    #[serde(default)]
    pub basis: String,
    pub frequency: Frequency,
    /// The day of the month the figures end in by which it is due (15 to 28; 20 by default).
    #[serde(default = "default_deadline")]
    pub deadline_day: u32,
    pub fields: Vec<Field>,
}

fn default_deadline() -> u32 {
    20
}

/// A version of a template.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Template {
    #[serde(flatten)]
    pub spec: TemplateSpec,
    pub version: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The agencies that make it.
    pub agencies: Vec<String>,
}

/// The figures a roll-up gives, by name.
fn source_value(m: &Metrics, name: &str) -> Option<f64> {
    let v = match name {
        "received" => m.received(),
        "resolved" => m.resolved(),
        "on_time" => m.resolved_early + m.resolved_on_time,
        other => {
            let i = crate::rollup::COLUMNS.iter().position(|c| *c == other)?;
            m.to_array()[i]
        }
    };
    Some(v as f64)
}

fn code_ok(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= 32
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

type Tree = evalexpr::Node<evalexpr::DefaultNumericTypes>;

/// The longest formula, and how deep its brackets may go (the parser recurses).
const FORMULA_CHARS: usize = 500;
const FORMULA_DEPTH: usize = 16;

fn parse_formula(f: &str) -> std::result::Result<Tree, String> {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    for ch in f.chars() {
        match ch {
            '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if f.chars().count() > FORMULA_CHARS || deepest > FORMULA_DEPTH {
        return Err(format!(
            "at most {FORMULA_CHARS} characters and {FORMULA_DEPTH} levels of brackets"
        ));
    }
    evalexpr::build_operator_tree::<evalexpr::DefaultNumericTypes>(f).map_err(|e| e.to_string())
}

impl TemplateSpec {
    /// Every problem with the template, listed.
    pub fn problems(&self) -> Vec<ProblemDetail> {
        let mut out = Vec::new();
        let code_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        if self.code.is_empty() || self.code.len() > 40 || !self.code.chars().all(code_chars) {
            out.push(ProblemDetail::new(
                "code",
                "Mã mẫu báo cáo gồm 1–40 chữ cái không dấu, chữ số, “.”, “-”, “_”",
                "A template code is 1–40 ASCII letters, digits, “.”, “-”, “_”",
            ));
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 300 {
            out.push(ProblemDetail::new(
                "name",
                "Hãy nhập tên mẫu báo cáo (tối đa 300 ký tự)",
                "The template needs a name (up to 300 characters)",
            ));
        }
        if self.basis.chars().count() > 500 || self.name_en.chars().count() > 300 {
            out.push(ProblemDetail::new(
                "basis",
                "Căn cứ tối đa 500 ký tự, tên tiếng Anh tối đa 300",
                "The basis is up to 500 characters, the English name up to 300",
            ));
        }
        if !(15..=28).contains(&self.deadline_day) {
            out.push(ProblemDetail::new(
                "deadline_day",
                "Hạn nộp là một ngày từ 15 đến 28 của tháng chốt số liệu",
                "The deadline is a day from 15 to 28 of the month the figures end in",
            ));
        }
        if self.fields.is_empty() || self.fields.len() > 200 {
            out.push(ProblemDetail::new(
                "fields",
                "Mẫu báo cáo cần từ 1 đến 200 chỉ tiêu",
                "A template needs 1 to 200 indicators",
            ));
        }
        let mut seen = BTreeSet::new();
        let numeric: BTreeSet<&str> = self
            .fields
            .iter()
            .filter(|f| f.kind != Kind::Text)
            .map(|f| f.code.as_str())
            .collect();
        for (i, f) in self.fields.iter().enumerate() {
            let at = |x: &str| format!("fields[{i}].{x}");
            if !code_ok(&f.code) || !seen.insert(f.code.as_str()) {
                out.push(ProblemDetail::new(
                    at("code"),
                    format!(
                        "Mã chỉ tiêu \u{201c}{}\u{201d} trống, trùng hoặc sai dạng (chữ thường, số, “_”)",
                        f.code
                    ),
                    format!(
                        "Indicator code \u{201c}{}\u{201d} is empty, repeated or malformed (lower-case letters, digits, “_”)",
                        f.code
                    ),
                ));
            }
            if f.name.trim().is_empty()
                || f.name.chars().count() > 300
                || f.name_en.chars().count() > 300
                || f.unit.chars().count() > 40
            {
                out.push(ProblemDetail::new(
                    at("name"),
                    "Hãy nhập tên chỉ tiêu (tối đa 300 ký tự; đơn vị tối đa 40)",
                    "The indicator needs a name (up to 300 characters; a unit up to 40)",
                ));
            }
            if let (Some(a), Some(b)) = (f.min, f.max)
                && a > b
            {
                out.push(ProblemDetail::new(
                    at("min"),
                    "Giá trị nhỏ nhất lớn hơn giá trị lớn nhất",
                    "The minimum is above the maximum",
                ));
            }
            if f.kind == Kind::Percent && f.consolidate == Consolidate::Sum {
                out.push(ProblemDetail::new(
                    at("consolidate"),
                    "Tỷ lệ không cộng dồn được: chọn trung bình, không tổng hợp, hoặc tính bằng công thức",
                    "Percentages do not add up: choose mean, none, or a formula",
                ));
            }
            if f.kind == Kind::Text && f.consolidate != Consolidate::None {
                out.push(ProblemDetail::new(
                    at("consolidate"),
                    "Chỉ tiêu dạng chữ không tổng hợp được",
                    "A text indicator cannot be consolidated",
                ));
            }
            if let Some(s) = &f.source
                && (f.kind == Kind::Text
                    || source_value(&Metrics::default(), s).is_none()
                    || f.formula.is_some())
            {
                out.push(ProblemDetail::new(
                    at("source"),
                    format!("Không có số liệu một cửa \u{201c}{s}\u{201d} cho chỉ tiêu này"),
                    format!("No one-stop figure \u{201c}{s}\u{201d} for this indicator"),
                ));
            }
            if let Some(formula) = &f.formula {
                if f.kind == Kind::Text {
                    out.push(ProblemDetail::new(
                        at("formula"),
                        "Chỉ tiêu dạng chữ không có công thức",
                        "A text indicator has no formula",
                    ));
                }
                match parse_formula(formula) {
                    Err(e) => out.push(ProblemDetail::new(
                        at("formula"),
                        format!("Công thức không đọc được: {e}"),
                        format!("The formula cannot be read: {e}"),
                    )),
                    Ok(tree) => {
                        let unknown: Vec<&str> = tree
                            .iter_variable_identifiers()
                            .filter(|v| !numeric.contains(v))
                            .collect();
                        if !unknown.is_empty() {
                            out.push(ProblemDetail::new(
                                at("formula"),
                                format!("Công thức dùng chỉ tiêu không có: {}", unknown.join(", ")),
                                format!(
                                    "The formula names indicators not in the template: {}",
                                    unknown.join(", ")
                                ),
                            ));
                        }
                        if tree.iter_function_identifiers().next().is_some() {
                            out.push(ProblemDetail::new(
                                at("formula"),
                                "Công thức chỉ gồm + − × ÷, ngoặc, số và mã chỉ tiêu",
                                "A formula holds only + − × ÷, brackets, numbers and indicator codes",
                            ));
                        }
                    }
                }
            }
        }
        if out.is_empty() && self.order().is_none() {
            out.push(ProblemDetail::new(
                "fields",
                "Các công thức dẫn vòng tròn về nhau",
                "The formulas refer to each other in a circle",
            ));
        }
        out
    }

    /// The derived indicators in an order each can be computed in; none when they form a
    /// circle.
    fn order(&self) -> Option<Vec<(&Field, Tree)>> {
        let mut pending: Vec<(&Field, Tree, BTreeSet<String>)> = Vec::new();
        for f in &self.fields {
            if let Some(formula) = &f.formula {
                let tree = parse_formula(formula).ok()?;
                let deps = tree
                    .iter_variable_identifiers()
                    .map(str::to_string)
                    .collect();
                pending.push((f, tree, deps));
            }
        }
        let derived: BTreeSet<String> = pending.iter().map(|p| p.0.code.clone()).collect();
        let mut done: BTreeSet<String> = BTreeSet::new();
        let mut out = Vec::new();
        while !pending.is_empty() {
            let ready = pending.iter().position(|(_, _, deps)| {
                deps.iter()
                    .all(|d| !derived.contains(d) || done.contains(d))
            })?;
            let (f, tree, _) = pending.remove(ready);
            done.insert(f.code.clone());
            out.push((f, tree));
        }
        Some(out)
    }

    /// Computes the derived indicators into `values` (a division by zero leaves one empty).
    pub fn derive(&self, values: &mut BTreeMap<String, Value>) {
        use evalexpr::ContextWithMutableVariables;
        let Some(order) = self.order() else { return };
        for (f, tree) in order {
            let mut ctx = evalexpr::HashMapContext::<evalexpr::DefaultNumericTypes>::new();
            let mut missing = false;
            for v in tree.iter_variable_identifiers() {
                match values.get(v).and_then(Value::as_f64) {
                    Some(x) => {
                        if ctx
                            .set_value(v.to_string(), evalexpr::Value::from_float(x))
                            .is_err()
                        {
                            missing = true;
                        }
                    }
                    None => missing = true,
                }
            }
            let result = if missing {
                None
            } else {
                tree.eval_number_with_context(&ctx)
                    .ok()
                    .filter(|x| x.is_finite())
                    .map(|x| (x * 10000.0).round() / 10000.0)
            };
            values.insert(
                f.code.clone(),
                result.map(|x| json!(x)).unwrap_or(Value::Null),
            );
        }
    }

    /// Checks what was entered and adds what is derived: every problem is listed.
    pub fn check_values(
        &self,
        given: &BTreeMap<String, Value>,
    ) -> std::result::Result<BTreeMap<String, Value>, Vec<ProblemDetail>> {
        if given.len() > self.fields.len() + 20 {
            return Err(vec![ProblemDetail::new(
                "values",
                format!("Mẫu báo cáo chỉ có {} chỉ tiêu", self.fields.len()),
                format!("The template has only {} indicators", self.fields.len()),
            )]);
        }
        let mut problems = Vec::new();
        let by_code: HashMap<&str, &Field> =
            self.fields.iter().map(|f| (f.code.as_str(), f)).collect();
        for code in given.keys() {
            match by_code.get(code.as_str()) {
                None => problems.push(ProblemDetail::new(
                    format!("values.{code}"),
                    format!("Mẫu báo cáo không có chỉ tiêu \u{201c}{code}\u{201d}"),
                    format!("The template has no indicator \u{201c}{code}\u{201d}"),
                )),
                Some(f) if f.formula.is_some() && !given[code].is_null() => {
                    problems.push(ProblemDetail::new(
                        format!("values.{code}"),
                        "Chỉ tiêu này tính tự động theo công thức, không nhập",
                        "This indicator is computed by its formula, not entered",
                    ))
                }
                _ => {}
            }
        }
        let mut values = BTreeMap::new();
        for f in self.fields.iter().filter(|f| f.formula.is_none()) {
            let at = format!("values.{}", f.code);
            let v = given.get(&f.code).cloned().unwrap_or(Value::Null);
            let blank = v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty());
            if blank {
                if f.required {
                    problems.push(ProblemDetail::new(
                        at,
                        format!("Chưa nhập \u{201c}{}\u{201d}", f.name),
                        format!("\u{201c}{}\u{201d} is required", f.name),
                    ));
                }
                values.insert(f.code.clone(), Value::Null);
                continue;
            }
            if f.kind == Kind::Text {
                match v.as_str() {
                    Some(s) if s.chars().count() <= 4000 => {
                        values.insert(f.code.clone(), json!(s.trim()));
                    }
                    _ => problems.push(ProblemDetail::new(
                        at,
                        "Nội dung là chữ, tối đa 4.000 ký tự",
                        "Text, up to 4,000 characters",
                    )),
                }
                continue;
            }
            // Numbers may come as JSON numbers or as typed text ("12,5").
            let n = match &v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().replace(',', ".").parse::<f64>().ok(),
                _ => None,
            };
            let Some(n) = n.filter(|x| x.is_finite()) else {
                problems.push(ProblemDetail::new(
                    at,
                    format!("\u{201c}{}\u{201d} phải là số", f.name),
                    format!("\u{201c}{}\u{201d} must be a number", f.name),
                ));
                continue;
            };
            let (lo, hi) = match f.kind {
                Kind::Integer => (f.min.unwrap_or(0.0), f.max.unwrap_or(1e15)),
                Kind::Percent => (f.min.unwrap_or(0.0), f.max.unwrap_or(100.0)),
                _ => (f.min.unwrap_or(-1e15), f.max.unwrap_or(1e15)),
            };
            if f.kind == Kind::Integer && n.fract() != 0.0 {
                problems.push(ProblemDetail::new(
                    at,
                    format!("\u{201c}{}\u{201d} là số nguyên", f.name),
                    format!("\u{201c}{}\u{201d} is a whole number", f.name),
                ));
                continue;
            }
            if n < lo || n > hi {
                problems.push(ProblemDetail::new(
                    at,
                    format!("\u{201c}{}\u{201d} phải từ {lo} đến {hi}", f.name),
                    format!("\u{201c}{}\u{201d} must be from {lo} to {hi}", f.name),
                ));
                continue;
            }
            values.insert(
                f.code.clone(),
                if f.kind == Kind::Integer {
                    json!(n as i64)
                } else {
                    json!(n)
                },
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        self.derive(&mut values);
        Ok(values)
    }
}

/// A reporting period: its key (`2026-03`, `2026-Q1`, `2026-H1`, `2026`), its cut-off dates
/// and its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReportPeriod {
    pub key: String,
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub deadline: NaiveDate,
}

fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

/// The 15th of the month before `(y, m)`.
fn fifteenth_before(y: i32, m: u32) -> Option<NaiveDate> {
    if m == 1 {
        ymd(y - 1, 12, 15)
    } else {
        ymd(y, m - 1, 15)
    }
}

impl ReportPeriod {
    /// The period `key` names, for templates of `frequency` due on `deadline_day`.
    pub fn parse(key: &str, frequency: Frequency, deadline_day: u32) -> Result<ReportPeriod> {
        let key = key.trim();
        let bad = || {
            let form = match frequency {
                Frequency::Month => "YYYY-MM",
                Frequency::Quarter => "YYYY-Qn",
                Frequency::HalfYear => "YYYY-H1",
                Frequency::Year => "YYYY",
            };
            invalid(
                "period",
                format!("Kỳ báo cáo \u{201c}{key}\u{201d} không hợp lệ (dạng {form})"),
                format!("Not a reporting period: \u{201c}{key}\u{201d} ({form})"),
            )
        };
        let year: i32 = key
            .get(0..4)
            .and_then(|s| s.parse().ok())
            .filter(|y| (2000..=2100).contains(y))
            .ok_or_else(bad)?;
        let rest = key.get(4..).unwrap_or("");
        let (first_month, last_month) = match (frequency, rest) {
            (Frequency::Month, r) if r.len() == 3 && r.starts_with('-') => {
                let m: u32 = r[1..].parse().map_err(|_| bad())?;
                if !(1..=12).contains(&m) {
                    return Err(bad());
                }
                (m, m)
            }
            (Frequency::Quarter, "-Q1") => (1, 3),
            (Frequency::Quarter, "-Q2") => (4, 6),
            (Frequency::Quarter, "-Q3") => (7, 9),
            (Frequency::Quarter, "-Q4") => (10, 12),
            (Frequency::HalfYear, "-H1") => (1, 6),
            (Frequency::Year, "") => (1, 12),
            _ => return Err(bad()),
        };
        let from = fifteenth_before(year, first_month).ok_or_else(bad)?;
        let to = ymd(year, last_month, 14).ok_or_else(bad)?;
        let deadline = ymd(year, last_month, deadline_day).ok_or_else(bad)?;
        Ok(ReportPeriod {
            key: key.to_string(),
            from,
            to,
            deadline,
        })
    }

    /// The period whose figures take in `day`.
    pub fn containing(day: NaiveDate, frequency: Frequency, deadline_day: u32) -> Result<Self> {
        // Figures from the 15th on belong to the next month's report.
        let (y, m) = if day.day() >= 15 {
            if day.month() == 12 {
                (day.year() + 1, 1)
            } else {
                (day.year(), day.month() + 1)
            }
        } else {
            (day.year(), day.month())
        };
        let key = match frequency {
            Frequency::Month => format!("{y}-{m:02}"),
            Frequency::Quarter => format!("{y}-Q{}", (m - 1) / 3 + 1),
            Frequency::HalfYear => {
                if m <= 6 {
                    format!("{y}-H1")
                } else {
                    // The second half has no report of its own: the year's covers it.
                    format!("{}-H1", y + 1)
                }
            }
            Frequency::Year => format!("{y}"),
        };
        ReportPeriod::parse(&key, frequency, deadline_day)
    }

    /// The period before this one.
    pub fn previous(&self, frequency: Frequency, deadline_day: u32) -> Result<Self> {
        match frequency {
            // The half-year's figures start in December: the day before is still in a
            // second half, which has no report; the one before is last year's.
            Frequency::HalfYear => ReportPeriod::parse(
                &format!("{}-H1", self.to.year() - 1),
                frequency,
                deadline_day,
            ),
            _ => ReportPeriod::containing(self.from - Duration::days(1), frequency, deadline_day),
        }
    }
}

/// A submission of a report: one version.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Submission {
    pub id: String,
    pub template: String,
    pub template_version: i64,
    pub agency: String,
    pub period: String,
    /// 1 for the first, then one more for each correction or resubmission.
    pub version: i64,
    /// `submitted`, `approved`, `returned`, or `superseded` by a later version.
    pub status: String,
    pub values: BTreeMap<String, Value>,
    pub submitted_by: String,
    pub submitted_at: DateTime<Utc>,
    /// Submitted after the deadline.
    pub late: bool,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub comment: Option<String>,
}

/// A report to submit.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewSubmission {
    pub template: String,
    pub agency: String,
    pub period: String,
    /// Values by indicator code: numbers (or typed text for them), texts; derived ones are
    /// computed.
    pub values: BTreeMap<String, Value>,
}

/// The level above's decision on a submission.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Decision {
    /// `approve` or `return`.
    pub decision: String,
    /// Why, for a return.
    #[serde(default)]
    pub comment: String,
}

/// Where one agency stands for a period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AgencyStatus {
    pub agency: String,
    pub name: String,
    /// The latest version, if any.
    pub latest: Option<Submission>,
}

/// A template's reports for a period, consolidated over a province, an agency's tree or the
/// country.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Consolidation {
    pub template: Template,
    pub period: ReportPeriod,
    pub scope: Scope,
    pub assigned: usize,
    pub submitted: usize,
    pub approved: usize,
    pub late: usize,
    pub agencies: Vec<AgencyStatus>,
    /// Over the approved reports: sums and means by the template, derived ones recomputed.
    pub values: BTreeMap<String, Value>,
}

#[derive(sqlx::FromRow)]
struct TemplateRow {
    code: String,
    version: i64,
    spec: String,
    created_by: String,
    created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct SubmissionRow {
    id: String,
    template_code: String,
    template_version: i64,
    agency: String,
    period: String,
    version: i64,
    status: String,
    report_values: String,
    submitted_by: String,
    submitted_at: DateTime<Utc>,
    late: bool,
    decided_by: Option<String>,
    decided_at: Option<DateTime<Utc>>,
    comment: Option<String>,
}

impl SubmissionRow {
    fn into_submission(self) -> Submission {
        Submission {
            values: serde_json::from_str(&self.report_values).unwrap_or_default(),
            id: self.id,
            template: self.template_code,
            template_version: self.template_version,
            agency: self.agency,
            period: self.period,
            version: self.version,
            status: self.status,
            submitted_by: self.submitted_by,
            submitted_at: self.submitted_at,
            late: self.late,
            decided_by: self.decided_by,
            decided_at: self.decided_at,
            comment: self.comment,
        }
    }
}

const SUBMISSION_COLS: &str = "id, template_code, template_version, agency, period, version, status, report_values, submitted_by, submitted_at, late, decided_by, decided_at, comment";

/// The demo's monthly one-stop report.
pub const DEMO_TEMPLATE: &str = include_str!("../data/bc-tthc-01.json");
/// The demo's service centre.
const DEMO_AGENCY: &str = "000.00.02.H26";

/// Days before the deadline the first reminder goes out.
pub const REMIND_DAYS: i64 = 3;

impl Reports {
    fn template_from(&self, r: TemplateRow, agencies: Vec<String>) -> Result<Template> {
        let spec: TemplateSpec = serde_json::from_str(&r.spec).map_err(|e| {
            ReportError::Export(format!(
                "template {} v{} unreadable: {e}",
                r.code, r.version
            ))
        })?;
        Ok(Template {
            spec,
            version: r.version,
            created_by: r.created_by,
            created_at: r.created_at,
            agencies,
        })
    }

    async fn assigned(&self, code: &str) -> Result<Vec<String>> {
        Ok(on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT agency FROM report_assignments WHERE template_code = $1 ORDER BY agency"
        ).bind(code).fetch_all(c).await)?)
    }

    /// The latest version of every template.
    pub async fn templates(&self) -> Result<Vec<Template>> {
        let rows: Vec<TemplateRow> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT t.code, t.version, t.spec, t.created_by, t.created_at FROM report_templates t \
             WHERE t.version = (SELECT MAX(version) FROM report_templates x WHERE x.code = t.code) ORDER BY t.code"
        ).fetch_all(c).await)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let a = self.assigned(&r.code).await?;
            out.push(self.template_from(r, a)?);
        }
        Ok(out)
    }

    /// A template: its latest version, or the one given.
    pub async fn template(&self, code: &str, version: Option<i64>) -> Result<Template> {
        let row: Option<TemplateRow> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT code, version, spec, created_by, created_at FROM report_templates \
             WHERE code = $1 AND ($2 = 0 OR version = $2) ORDER BY version DESC LIMIT 1"
        ).bind(code).bind(version.unwrap_or(0)).fetch_optional(c).await)?;
        let row =
            row.ok_or_else(|| ReportError::NotFound(format!("mẫu báo cáo/template {code}")))?;
        let a = self.assigned(code).await?;
        self.template_from(row, a)
    }

    /// Writes a template: a new one, or a new version of one (reports already made keep the
    /// version they were made on).
    pub async fn put_template(&self, actor: &str, spec: TemplateSpec) -> Result<Template> {
        let mut spec = spec;
        spec.code = spec.code.trim().to_string();
        for f in &mut spec.fields {
            f.code = f.code.trim().to_string();
        }
        let problems = spec.problems();
        if !problems.is_empty() {
            return Err(ReportError::Invalid(problems));
        }
        let json = serde_json::to_string(&spec).map_err(|e| ReportError::Export(e.to_string()))?;
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        let version: i64 = on_tx!(&mut tx, c => sqlx::query_scalar(
            "INSERT INTO report_templates (code, version, spec, created_by, created_at) \
             SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4 FROM report_templates WHERE code = $1 RETURNING version"
        ).bind(&spec.code).bind(&json).bind(actor).bind(now).fetch_one(&mut *c).await)?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "report.template.put",
                subject: &format!("report/template/{}", spec.code),
                data: json!({"version": version, "frequency": spec.frequency, "fields": spec.fields.len()}),
            },
        )
        .await?;
        tx.commit().await?;
        self.template(&spec.code, Some(version)).await
    }

    /// Sets the agencies that make a template's report (replacing the list).
    pub async fn assign(&self, actor: &str, code: &str, agencies: &[String]) -> Result<Template> {
        let t = self.template(code, None).await?;
        let lookup = self.catalog.lookup();
        let mut list: Vec<String> = agencies.iter().map(|a| a.trim().to_string()).collect();
        list.sort();
        list.dedup();
        let unknown: Vec<ProblemDetail> = list
            .iter()
            .filter(|a| !lookup.agencies.contains_key(a.as_str()))
            .map(|a| {
                ProblemDetail::new(
                    "agencies",
                    format!("Không có cơ quan \u{201c}{a}\u{201d}"),
                    format!("No agency \u{201c}{a}\u{201d}"),
                )
            })
            .collect();
        if !unknown.is_empty() {
            return Err(ReportError::Invalid(unknown));
        }
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query("DELETE FROM report_assignments WHERE template_code = $1")
            .bind(code).execute(&mut *c).await.map(|_| ()))?;
        for a in &list {
            on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO report_assignments (template_code, agency, assigned_by, assigned_at) VALUES ($1, $2, $3, $4)"
            ).bind(code).bind(a).bind(actor).bind(now).execute(&mut *c).await.map(|_| ()))?;
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "report.template.assign",
                subject: &format!("report/template/{code}"),
                data: json!({"agencies": list, "before": t.agencies}),
            },
        )
        .await?;
        tx.commit().await?;
        self.template(code, None).await
    }

    /// Whether `p` may submit `agency`'s reports: its leaders and administrators, national
    /// operators, or a machine client registered for that agency with `reports:write`.
    pub async fn may_submit(&self, p: &identity::Principal, agency: &str) -> Result<bool> {
        if p.kind == identity::AccountKind::Machine {
            if !self.may_write(p, Some(agency)) {
                return Ok(false);
            }
            let client = self.identity.client(&p.login).await?;
            return Ok(client.is_some_and(|c| c.agency.as_deref() == Some(agency)));
        }
        Ok(self.may_write(p, Some(agency)))
    }

    /// Whether `p` decides on `agency`'s reports: national operators for every agency; a
    /// province's People's Committee (its leaders and administrators) for the province's
    /// other agencies.
    pub fn may_decide(&self, p: &identity::Principal, agency: &str) -> bool {
        if p.kind == identity::AccountKind::Machine {
            return false;
        }
        if self.may_write(p, None) {
            return true;
        }
        let Some(province) = self.province_of(agency) else {
            return false;
        };
        match self.province_committee(&province) {
            Some(pc) if pc != agency => self.may_write(p, Some(&pc)),
            _ => false,
        }
    }

    /// Records a refused write and answers it.
    pub async fn refuse_write(&self, p: &identity::Principal, agency: &str) -> Result<()> {
        self.identity
            .record_denial(
                &p.id,
                identity::Action::WriteReports,
                &identity::Resource::Agency(agency),
            )
            .await?;
        Err(ReportError::Forbidden)
    }

    /// The one-stop figures a template's form starts from, for an agency and a period.
    pub async fn prefill(
        &self,
        t: &Template,
        agency: &str,
        period: &ReportPeriod,
    ) -> Result<BTreeMap<String, Value>> {
        let mut out = BTreeMap::new();
        if !t.spec.fields.iter().any(|f| f.source.is_some()) {
            return Ok(out);
        }
        let f = self
            .figures(
                &Scope::Agency {
                    code: agency.to_string(),
                },
                Period {
                    from: period.from,
                    to: period.to,
                },
            )
            .await?;
        for field in &t.spec.fields {
            if let Some(v) = field
                .source
                .as_deref()
                .and_then(|s| source_value(&f.totals, s))
            {
                out.insert(field.code.clone(), json!(v as i64));
            }
        }
        t.spec.derive(&mut out);
        Ok(out)
    }

    /// Submits (or corrects) an agency's report for a period: a new version, validated in
    /// full; the versions before it are superseded.
    pub async fn submit(&self, p: &identity::Principal, new: NewSubmission) -> Result<Submission> {
        let agency = new.agency.trim().to_string();
        self.known(&Scope::Agency {
            code: agency.clone(),
        })?;
        let t = self.template(new.template.trim(), None).await?;
        if !self.may_submit(p, &agency).await? {
            self.refuse_write(p, &agency).await?;
        }
        if !t.agencies.contains(&agency) {
            return Err(invalid(
                "agency",
                format!("Cơ quan {agency} không được giao báo cáo {}", t.spec.code),
                format!("Agency {agency} is not assigned report {}", t.spec.code),
            ));
        }
        let period = ReportPeriod::parse(&new.period, t.spec.frequency, t.spec.deadline_day)?;
        let today = self.today();
        if period.from > today {
            return Err(invalid(
                "period",
                "Kỳ báo cáo chưa bắt đầu",
                "The reporting period has not begun",
            ));
        }
        let values = t
            .spec
            .check_values(&new.values)
            .map_err(ReportError::Invalid)?;
        self.write_submission(&p.id, &t, &agency, &period, &values, self.clock.now())
            .await
    }

    /// Stores a checked report as the next version, superseding the ones before.
    async fn write_submission(
        &self,
        actor: &str,
        t: &Template,
        agency: &str,
        period: &ReportPeriod,
        values: &BTreeMap<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<Submission> {
        let late = kernel::clock::to_local(now).date() > period.deadline;
        let id = uuid::Uuid::now_v7().to_string();
        let json = serde_json::to_string(values).map_err(|e| ReportError::Export(e.to_string()))?;
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "UPDATE report_submissions SET status = 'superseded' WHERE template_code = $1 AND agency = $2 AND period = $3 AND status <> 'superseded'"
        ).bind(&t.spec.code).bind(agency).bind(&period.key).execute(&mut *c).await.map(|_| ()))?;
        let version: i64 = on_tx!(&mut tx, c => sqlx::query_scalar(
            "INSERT INTO report_submissions (id, template_code, template_version, agency, period, version, status, report_values, submitted_by, submitted_at, late) \
             SELECT $1, $2, $3, $4, $5, COALESCE(MAX(version), 0) + 1, 'submitted', $6, $7, $8, $9 FROM report_submissions \
             WHERE template_code = $2 AND agency = $4 AND period = $5 RETURNING version"
        ).bind(&id).bind(&t.spec.code).bind(t.version).bind(agency).bind(&period.key).bind(&json)
        .bind(actor).bind(now).bind(late).fetch_one(&mut *c).await)?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "report.submission.submit",
                subject: &format!("agency/{agency}/report/{}/{}", t.spec.code, period.key),
                data: json!({"id": id, "version": version, "late": late, "template_version": t.version}),
            },
        )
        .await?;
        tx.commit().await?;
        self.submission(&id).await
    }

    /// One version of a report.
    pub async fn submission(&self, id: &str) -> Result<Submission> {
        let sql = format!("SELECT {SUBMISSION_COLS} FROM report_submissions WHERE id = $1");
        let row: Option<SubmissionRow> = on_db!(&self.db, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(c).await)?;
        row.map(SubmissionRow::into_submission)
            .ok_or_else(|| ReportError::NotFound(format!("báo cáo/report {id}")))
    }

    /// Every version of an agency's report for a period, the latest first.
    pub async fn versions_of(
        &self,
        template: &str,
        agency: &str,
        period: &str,
    ) -> Result<Vec<Submission>> {
        let sql = format!(
            "SELECT {SUBMISSION_COLS} FROM report_submissions WHERE template_code = $1 AND agency = $2 AND period = $3 ORDER BY version DESC"
        );
        let rows: Vec<SubmissionRow> = on_db!(&self.db, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(template).bind(agency).bind(period).fetch_all(c).await)?;
        Ok(rows
            .into_iter()
            .map(SubmissionRow::into_submission)
            .collect())
    }

    /// Approves or returns the latest version of a report, once.
    pub async fn decide(
        &self,
        p: &identity::Principal,
        id: &str,
        d: Decision,
    ) -> Result<Submission> {
        let s = self.submission(id).await?;
        if !self.may_decide(p, &s.agency) {
            self.refuse_write(p, &s.agency).await?;
        }
        let (status, action) = match d.decision.trim() {
            "approve" => ("approved", "report.submission.approve"),
            "return" => ("returned", "report.submission.return"),
            other => {
                return Err(invalid(
                    "decision",
                    format!(
                        "Không có quyết định \u{201c}{other}\u{201d}: chọn approve hoặc return"
                    ),
                    format!("No decision \u{201c}{other}\u{201d}: choose approve or return"),
                ));
            }
        };
        let comment = d.comment.trim().to_string();
        if status == "returned" && comment.is_empty() {
            return Err(invalid(
                "comment",
                "Hãy ghi lý do trả lại báo cáo",
                "Say why the report is returned",
            ));
        }
        if comment.chars().count() > 2000 {
            return Err(invalid(
                "comment",
                "Ý kiến dài quá 2.000 ký tự",
                "The comment is longer than 2,000 characters",
            ));
        }
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query(
            "UPDATE report_submissions SET status = $1, decided_by = $2, decided_at = $3, comment = $4 WHERE id = $5 AND status = 'submitted'"
        ).bind(status).bind(&p.id).bind(now).bind(Some(comment.clone()).filter(|c| !c.is_empty()))
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(ReportError::Conflict(
                "Báo cáo này đã được quyết định hoặc đã có phiên bản mới hơn".into(),
                "This report was decided on already, or a newer version replaced it".into(),
            ));
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &p.id,
                action,
                subject: &format!("agency/{}/report/{}/{}", s.agency, s.template, s.period),
                data: json!({"id": id, "version": s.version, "comment": comment}),
            },
        )
        .await?;
        tx.commit().await?;
        self.submission(id).await
    }

    /// The agencies a scope holds, of those assigned a template.
    fn agencies_in(&self, scope: &Scope, assigned: &[String]) -> Vec<String> {
        let lookup = self.catalog.lookup();
        let under = |a: &str, root: &str| {
            // `a` is `root` or below it in the agencies' tree.
            let mut cur = Some(a.to_string());
            let mut steps = 0;
            while let Some(c) = cur {
                if c == root {
                    return true;
                }
                steps += 1;
                if steps > 16 {
                    return false;
                }
                cur = lookup
                    .agencies
                    .get(c.as_str())
                    .and_then(|x| x.spec.parent.as_ref().map(|p| p.to_string()));
            }
            false
        };
        assigned
            .iter()
            .filter(|a| match scope {
                Scope::National => true,
                Scope::Province { code } => self.province_of(a).as_deref() == Some(code.as_str()),
                Scope::Agency { code } | Scope::Procedure { agency: code, .. } => under(a, code),
            })
            .cloned()
            .collect()
    }

    /// A template's reports for a period over a scope: who made them, who is late or missing,
    /// and the approved figures consolidated.
    pub async fn consolidate(
        &self,
        template: &str,
        period: &str,
        scope: &Scope,
    ) -> Result<Consolidation> {
        self.known(scope)?;
        let t = self.template(template, None).await?;
        let period = ReportPeriod::parse(period, t.spec.frequency, t.spec.deadline_day)?;
        let members = self.agencies_in(scope, &t.agencies);
        let sql = format!(
            "SELECT {SUBMISSION_COLS} FROM report_submissions WHERE template_code = $1 AND period = $2 AND status <> 'superseded'"
        );
        let rows: Vec<SubmissionRow> = on_db!(&self.db, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&t.spec.code).bind(&period.key).fetch_all(c).await)?;
        let mut latest: HashMap<String, Submission> = rows
            .into_iter()
            .map(SubmissionRow::into_submission)
            .map(|s| (s.agency.clone(), s))
            .collect();
        let today = self.today();
        let mut agencies = Vec::with_capacity(members.len());
        let (mut submitted, mut approved, mut late) = (0, 0, 0);
        let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for a in &members {
            let s = latest.remove(a);
            match &s {
                Some(s) => {
                    submitted += 1;
                    if s.late {
                        late += 1;
                    }
                    if s.status == "approved" {
                        approved += 1;
                        for f in t.spec.fields.iter().filter(|f| f.formula.is_none()) {
                            if let Some(x) = s.values.get(&f.code).and_then(Value::as_f64) {
                                let e = sums.entry(f.code.clone()).or_default();
                                e.0 += x;
                                e.1 += 1.0;
                            }
                        }
                    }
                }
                None if today > period.deadline => late += 1,
                None => {}
            }
            agencies.push(AgencyStatus {
                name: self.agency_name(a),
                agency: a.clone(),
                latest: s,
            });
        }
        let mut values = BTreeMap::new();
        for f in t.spec.fields.iter().filter(|f| f.formula.is_none()) {
            let v = match (f.consolidate, sums.get(&f.code)) {
                (Consolidate::Sum, Some((s, _))) => json!((s * 10000.0).round() / 10000.0),
                (Consolidate::Mean, Some((s, n))) if *n > 0.0 => {
                    json!(((s / n) * 10000.0).round() / 10000.0)
                }
                _ => Value::Null,
            };
            values.insert(f.code.clone(), v);
        }
        t.spec.derive(&mut values);
        Ok(Consolidation {
            assigned: members.len(),
            template: t,
            period,
            scope: scope.clone(),
            submitted,
            approved,
            late,
            agencies,
            values,
        })
    }

    /// Sends the reminders due today: to the leaders and administrators (with an e-mail
    /// address) of each assigned agency without a report, from [`REMIND_DAYS`] before the
    /// deadline, and once more the day after it. Each goes once; answers how many went.
    pub async fn remind(&self) -> Result<usize> {
        let today = self.today();
        let now = self.clock.now();
        let mut sent = 0;
        for t in self.templates().await? {
            let (f, d) = (t.spec.frequency, t.spec.deadline_day);
            let current = ReportPeriod::containing(today, f, d)?;
            let previous = current.previous(f, d)?;
            for period in [previous, current] {
                let kind = if today > period.deadline {
                    "overdue"
                } else if (period.deadline - today).num_days() <= REMIND_DAYS && today > period.to {
                    "before"
                } else {
                    continue;
                };
                for agency in &t.agencies {
                    let made: Option<String> = on_db!(&self.db, c => sqlx::query_scalar(
                        "SELECT id FROM report_submissions WHERE template_code = $1 AND agency = $2 AND period = $3 LIMIT 1"
                    ).bind(&t.spec.code).bind(agency).bind(&period.key).fetch_optional(c).await)?;
                    if made.is_some() {
                        continue;
                    }
                    let mut tx = Tx::begin(&self.db).await?;
                    let fresh = on_tx!(&mut tx, c => sqlx::query(
                        "INSERT INTO report_reminders (template_code, agency, period, kind, sent_at) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (template_code, agency, period, kind) DO NOTHING"
                    ).bind(&t.spec.code).bind(agency).bind(&period.key).bind(kind).bind(now)
                    .execute(&mut *c).await.map(|r| r.rows_affected()))?;
                    if fresh == 0 {
                        continue;
                    }
                    let people = self
                        .identity
                        .contacts(
                            agency,
                            &[identity::Role::AgencyLeader, identity::Role::AgencyAdmin],
                        )
                        .await?;
                    let (subject, body) = reminder_text(&t, agency, &period, kind);
                    for (account, email) in &people {
                        identity::outbox::enqueue(
                            &mut tx,
                            now,
                            "email",
                            email,
                            Some(account),
                            &subject,
                            &body,
                        )
                        .await?;
                    }
                    audit::append(
                        &mut tx,
                        now,
                        &Entry {
                            actor: "system",
                            action: "report.reminder",
                            subject: &format!(
                                "agency/{agency}/report/{}/{}",
                                t.spec.code, period.key
                            ),
                            data: json!({"kind": kind, "recipients": people.len()}),
                        },
                    )
                    .await?;
                    tx.commit().await?;
                    sent += people.len();
                }
            }
        }
        if sent > 0 {
            self.identity.wake_mailer();
        }
        Ok(sent)
    }

    /// The demo's reporting: the monthly one-stop report, assigned to the demo's service
    /// centre and two more agencies of Hà Nội (those with the most dossiers last period), and
    /// those two's reports of last period, sent on time and waiting for approval (once). Run it
    /// after the demo's history, so that their figures are the generated ones.
    pub async fn seed_demo(&self) -> Result<()> {
        if !self.templates().await?.is_empty() {
            return Ok(());
        }
        let spec: TemplateSpec = serde_json::from_str(DEMO_TEMPLATE)
            .map_err(|e| ReportError::Export(format!("demo template: {e}")))?;
        let t = self.put_template("system", spec).await?;
        let (f, d) = (t.spec.frequency, t.spec.deadline_day);
        let period = ReportPeriod::containing(self.today(), f, d)?.previous(f, d)?;
        let mut others: Vec<String> = self
            .catalog
            .lookup()
            .agencies
            .values()
            .filter(|a| a.province.as_deref() == Some("01") && a.spec.code.as_str() != DEMO_AGENCY)
            .map(|a| a.spec.code.to_string())
            .collect();
        others.sort();
        let mut ranked = Vec::with_capacity(others.len());
        for a in others {
            let v = self.prefill(&t, &a, &period).await?;
            let received = v.get("received").and_then(Value::as_i64).unwrap_or(0);
            ranked.push((std::cmp::Reverse(received), a, v));
        }
        ranked.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        ranked.truncate(2);
        let mut agencies = vec![DEMO_AGENCY.to_string()];
        agencies.extend(ranked.iter().map(|(_, a, _)| a.clone()));
        let t = self.assign("system", &t.spec.code, &agencies).await?;
        // Sent two days before the deadline, in the morning.
        let sent = (period.deadline - Duration::days(2))
            .and_hms_opt(2, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_else(|| self.clock.now());
        for (_, agency, mut given) in ranked {
            given.retain(|k, _| {
                t.spec
                    .fields
                    .iter()
                    .any(|f| &f.code == k && f.formula.is_none())
            });
            given.insert(
                "notes".into(),
                json!("Tiếp nhận và trả kết quả đúng quy trình; đề nghị nâng cấp đường truyền."),
            );
            let values = t.spec.check_values(&given).map_err(ReportError::Invalid)?;
            self.write_submission("system", &t, &agency, &period, &values, sent)
                .await?;
        }
        Ok(())
    }

    /// Sends reminders every hour while the node runs.
    pub async fn remind_loop(this: std::sync::Weak<Self>) {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            let Some(r) = this.upgrade() else { break };
            if on_db!(&r.db, pool => pool.is_closed()) {
                break;
            }
            match r.remind().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(messages = n, "report reminders sent"),
                Err(e) => tracing::warn!(error = %e, "report reminders failed"),
            }
        }
    }
}

fn reminder_text(t: &Template, agency: &str, p: &ReportPeriod, kind: &str) -> (String, String) {
    let due = p.deadline.format("%d/%m/%Y");
    if kind == "overdue" {
        (
            format!("Quá hạn nộp báo cáo {} kỳ {}", t.spec.code, p.key),
            format!(
                "Báo cáo \u{201c}{}\u{201d} kỳ {} của cơ quan {agency} đã quá hạn nộp ({due}). \
                 Đề nghị lập và gửi báo cáo tại mục Báo cáo định kỳ.\n\n\
                 Report {} for {} of agency {agency} was due on {due} and has not been submitted.",
                t.spec.name, p.key, t.spec.code, p.key
            ),
        )
    } else {
        (
            format!("Sắp đến hạn nộp báo cáo {} kỳ {}", t.spec.code, p.key),
            format!(
                "Báo cáo \u{201c}{}\u{201d} kỳ {} (số liệu từ {} đến {}) của cơ quan {agency} cần gửi trước ngày {due}.\n\n\
                 Report {} for {} of agency {agency} is due on {due}.",
                t.spec.name,
                p.key,
                p.from.format("%d/%m/%Y"),
                p.to.format("%d/%m/%Y"),
                t.spec.code,
                p.key
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or(NaiveDate::MIN)
    }

    fn field(code: &str, kind: Kind) -> Field {
        Field {
            code: code.into(),
            name: code.into(),
            name_en: String::new(),
            unit: String::new(),
            kind,
            required: false,
            min: None,
            max: None,
            formula: None,
            consolidate: if kind == Kind::Integer {
                Consolidate::Sum
            } else {
                Consolidate::None
            },
            source: None,
        }
    }

    fn spec() -> TemplateSpec {
        let mut share = field("on_time_share", Kind::Percent);
        share.formula = Some("on_time / resolved * 100".into());
        let mut resolved = field("resolved", Kind::Integer);
        resolved.required = true;
        resolved.source = Some("resolved".into());
        TemplateSpec {
            code: "BC-01".into(),
            name: "Tình hình giải quyết TTHC".into(),
            name_en: String::new(),
            basis: String::new(),
            frequency: Frequency::Month,
            deadline_day: 20,
            fields: vec![
                resolved,
                field("on_time", Kind::Integer),
                share,
                field("notes", Kind::Text),
            ],
        }
    }

    #[test]
    fn periods_follow_the_decrees_cut_off_dates() {
        let m =
            ReportPeriod::parse("2026-03", Frequency::Month, 20).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (m.from, m.to, m.deadline),
            (d(2026, 2, 15), d(2026, 3, 14), d(2026, 3, 20))
        );
        let j =
            ReportPeriod::parse("2026-01", Frequency::Month, 20).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(j.from, d(2025, 12, 15));
        let q = ReportPeriod::parse("2026-Q2", Frequency::Quarter, 18)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (q.from, q.to, q.deadline),
            (d(2026, 3, 15), d(2026, 6, 14), d(2026, 6, 18))
        );
        let h = ReportPeriod::parse("2026-H1", Frequency::HalfYear, 20)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((h.from, h.to), (d(2025, 12, 15), d(2026, 6, 14)));
        let y = ReportPeriod::parse("2026", Frequency::Year, 20).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((y.from, y.to), (d(2025, 12, 15), d(2026, 12, 14)));
        for bad in ["2026-13", "2026-3", "26-03", "2026-Q1", "", "２０２６-03"] {
            assert!(
                ReportPeriod::parse(bad, Frequency::Month, 20).is_err(),
                "{bad}"
            );
        }
        assert!(ReportPeriod::parse("2026-H2", Frequency::HalfYear, 20).is_err());
        let c = ReportPeriod::containing(d(2026, 3, 15), Frequency::Month, 20)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.key, "2026-04");
        let c = ReportPeriod::containing(d(2026, 12, 20), Frequency::Year, 20)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.key, "2027");
        let prev = c
            .previous(Frequency::Year, 20)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(prev.key, "2026");
        // After June, the half-year report due is this year's, and the one before last year's.
        let h = ReportPeriod::containing(d(2026, 8, 1), Frequency::HalfYear, 20)
            .and_then(|c| c.previous(Frequency::HalfYear, 20))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.key, "2026-H1");
        let h = h
            .previous(Frequency::HalfYear, 20)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.key, "2025-H1");
        let q = ReportPeriod::parse("2026-Q1", Frequency::Quarter, 20)
            .and_then(|q| q.previous(Frequency::Quarter, 20))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.key, "2025-Q4");
    }

    #[test]
    fn a_template_is_checked_whole() {
        assert!(spec().problems().is_empty(), "{:?}", spec().problems());
        let mut s = spec();
        s.fields[2].formula = Some("on_time / nothing * 100".into());
        s.fields[1].code = "On time".into();
        s.fields[3].consolidate = Consolidate::Sum;
        s.deadline_day = 31;
        let at: Vec<String> = s.problems().into_iter().map(|p| p.at).collect();
        for f in [
            "fields[2].formula",
            "fields[1].code",
            "fields[3].consolidate",
            "deadline_day",
        ] {
            assert!(at.iter().any(|a| a == f), "{f}: {at:?}");
        }
        let mut circle = spec();
        circle.fields[1].formula = Some("on_time_share + 1".into());
        circle.fields[1].kind = Kind::Decimal;
        circle.fields[1].consolidate = Consolidate::None;
        assert!(
            circle.problems().iter().any(|p| p.at == "fields"),
            "{:?}",
            circle.problems()
        );
        let mut call = spec();
        call.fields[2].formula = Some("math::sqrt(on_time)".into());
        assert!(!call.problems().is_empty());
        // Deep brackets are refused before the parser sees them.
        let mut deep = spec();
        deep.fields[2].formula = Some(format!("{}on_time{}", "(".repeat(5000), ")".repeat(5000)));
        assert!(deep.problems().iter().any(|p| p.at == "fields[2].formula"));
    }

    #[test]
    fn values_are_checked_and_formulas_computed() {
        let s = spec();
        let mut given = BTreeMap::new();
        given.insert("resolved".to_string(), json!(40));
        given.insert("on_time".to_string(), json!("30"));
        given.insert("notes".to_string(), json!("  Tốt  "));
        let v = s.check_values(&given).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(v["on_time_share"], json!(75.0));
        assert_eq!(v["on_time"], json!(30));
        assert_eq!(v["notes"], json!("Tốt"));
        given.insert("resolved".to_string(), json!(0));
        let v = s.check_values(&given).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            v["on_time_share"],
            Value::Null,
            "a division by zero leaves it empty"
        );
        let mut bad = BTreeMap::new();
        bad.insert("on_time".to_string(), json!(2.5));
        bad.insert("on_time_share".to_string(), json!(50));
        bad.insert("nope".to_string(), json!(1));
        let e = s.check_values(&bad).err().unwrap_or_default();
        let at: Vec<&str> = e.iter().map(|p| p.at.as_str()).collect();
        for f in [
            "values.on_time",
            "values.on_time_share",
            "values.nope",
            "values.resolved",
        ] {
            assert!(at.contains(&f), "{f}: {at:?}");
        }
        let mut neg = BTreeMap::new();
        neg.insert("resolved".to_string(), json!(-1));
        assert!(s.check_values(&neg).is_err());
    }
}
