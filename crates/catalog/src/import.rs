//! Reading and writing catalogue files (JSON and CSV).
//!
//! A file is checked whole before anything is written: every bad row is listed with its line
//! and the reason, in both languages, and a file with any bad row is refused, leaving the
//! catalogue as it was.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::value::RawValue;
use unicode_normalization::UnicodeNormalization;

use kernel::ProblemDetail;
use kernel::ids::AgencyCode;

use crate::model::{
    AgencyLevel, CatalogFile, Invalid, ProcedureSpec, validate_agency, validate_field,
    validate_procedure,
};
use crate::store::Lookup;
use crate::units::AdminUnits;

/// File formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl Format {
    /// By file name ending.
    pub fn of_path(p: &std::path::Path) -> Option<Format> {
        match p
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("json") => Some(Format::Json),
            Some("csv") => Some(Format::Csv),
            _ => None,
        }
    }
}

/// A parsed file and the line each record starts on.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub file: CatalogFile,
    pub field_lines: Vec<usize>,
    pub agency_lines: Vec<usize>,
    pub procedure_lines: Vec<usize>,
}

fn problem(at: String, vi: impl Into<String>, en: impl Into<String>) -> ProblemDetail {
    ProblemDetail::new(at, vi, en)
}

fn line_of(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset.min(src.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Turns bytes into NFC text, refusing anything that is not UTF-8.
pub fn decode(bytes: &[u8]) -> Result<String, Vec<ProblemDetail>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.nfc().collect()),
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            Err(vec![problem(
                format!("line {line}"),
                "Tệp không phải mã UTF-8 (hãy lưu lại tệp với mã hóa UTF-8)",
                "The file is not UTF-8 (save it again as UTF-8)",
            )])
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile<'a> {
    #[serde(borrow, default)]
    fields: Vec<&'a RawValue>,
    #[serde(borrow, default)]
    agencies: Vec<&'a RawValue>,
    #[serde(borrow, default)]
    procedures: Vec<&'a RawValue>,
}

/// Parses a JSON catalogue file, one error per unreadable record.
pub fn parse_json(src: &str) -> Result<Parsed, Vec<ProblemDetail>> {
    let raw: RawFile = serde_json::from_str(src).map_err(|e| {
        vec![problem(
            format!("line {}", e.line()),
            format!("Tệp JSON không đọc được: {e}"),
            format!("The JSON file cannot be read: {e}"),
        )]
    })?;
    let mut errors = Vec::new();
    let mut out = Parsed::default();
    let base = src.as_ptr() as usize;
    fn each<T: serde::de::DeserializeOwned>(
        src: &str,
        base: usize,
        items: &[&RawValue],
        what: &str,
        errors: &mut Vec<ProblemDetail>,
        into: &mut Vec<T>,
        lines: &mut Vec<usize>,
    ) {
        for (i, r) in items.iter().enumerate() {
            let line = line_of(src, (r.get().as_ptr() as usize).saturating_sub(base));
            match serde_json::from_str::<T>(r.get()) {
                Ok(v) => {
                    into.push(v);
                    lines.push(line);
                }
                Err(e) => errors.push(problem(
                    format!("line {} ({what}[{i}])", line + e.line().saturating_sub(1)),
                    format!("Bản ghi không hợp lệ: {e}"),
                    format!("Invalid record: {e}"),
                )),
            }
        }
    }
    each(
        src,
        base,
        &raw.fields,
        "fields",
        &mut errors,
        &mut out.file.fields,
        &mut out.field_lines,
    );
    each(
        src,
        base,
        &raw.agencies,
        "agencies",
        &mut errors,
        &mut out.file.agencies,
        &mut out.agency_lines,
    );
    each(
        src,
        base,
        &raw.procedures,
        "procedures",
        &mut errors,
        &mut out.file.procedures,
        &mut out.procedure_lines,
    );
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Columns of the CSV format (procedures only; fields and agencies must exist).
pub const CSV_COLUMNS: &[&str] = &[
    "code",
    "name",
    "field",
    "agencies",
    "audience",
    "level",
    "online",
    "time_limit_days",
    "time_limit_note",
    "fees",
    "fee_due",
    "documents",
    "steps",
    "legal_basis",
    "result",
    "where_to_submit",
    "description",
    "requires_assurance",
    "form",
];

/// Parses a CSV file of procedures. Lists are `;`-separated (agencies, audience); nested
/// parts (fees, documents, steps, legal basis, form) are JSON arrays in their cells.
pub fn parse_csv(src: &str) -> Result<Parsed, Vec<ProblemDetail>> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(src.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| {
            vec![problem(
                "line 1".into(),
                format!("Không đọc được dòng tiêu đề: {e}"),
                format!("Cannot read the header line: {e}"),
            )]
        })?
        .clone();
    let idx: HashMap<&str, usize> = headers.iter().enumerate().map(|(i, h)| (h, i)).collect();
    let mut errors = Vec::new();
    for h in headers.iter() {
        if !CSV_COLUMNS.contains(&h) {
            errors.push(problem(
                "line 1".into(),
                format!("Cột không xác định {h:?}"),
                format!("Unknown column {h:?}"),
            ));
        }
    }
    for must in [
        "code",
        "name",
        "field",
        "agencies",
        "audience",
        "level",
        "online",
        "time_limit_days",
        "result",
        "where_to_submit",
    ] {
        if !idx.contains_key(must) {
            errors.push(problem(
                "line 1".into(),
                format!("Thiếu cột bắt buộc {must:?}"),
                format!("Missing required column {must:?}"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut out = Parsed::default();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                errors.push(problem(
                    format!("line {line}"),
                    format!("Dòng không đọc được: {e}"),
                    format!("Unreadable row: {e}"),
                ));
                continue;
            }
        };
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        let cell = |name: &str| {
            idx.get(name)
                .and_then(|i| rec.get(*i))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let mut row_errors: Vec<(String, String)> = Vec::new();
        let mut json_cell = |name: &str| -> serde_json::Value {
            let c = cell(name);
            if c.is_empty() {
                return serde_json::Value::Array(vec![]);
            }
            match serde_json::from_str::<serde_json::Value>(&c) {
                Ok(v) => v,
                Err(e) => {
                    row_errors.push((
                        format!("Cột {name}: không phải mảng JSON hợp lệ ({e})"),
                        format!("Column {name}: not a valid JSON array ({e})"),
                    ));
                    serde_json::Value::Array(vec![])
                }
            }
        };
        let fees = json_cell("fees");
        let documents = json_cell("documents");
        let steps = json_cell("steps");
        let legal_basis = json_cell("legal_basis");
        let form = json_cell("form");
        let list = |s: String| -> Vec<String> {
            s.split(';')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        };
        let number = |s: String| -> serde_json::Value {
            s.parse::<i64>()
                .map(serde_json::Value::from)
                .unwrap_or(serde_json::Value::String(s))
        };
        let opt = |s: String| {
            if s.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::Value::String(s)
            }
        };
        let assurance = {
            let r = cell("requires_assurance");
            if r.is_empty() {
                serde_json::Value::Null
            } else {
                number(r)
            }
        };
        let obj = serde_json::json!({
            "code": cell("code"), "name": cell("name"), "field": cell("field"),
            "agencies": list(cell("agencies")), "audience": list(cell("audience")),
            "level": number(cell("level")), "online": cell("online"),
            "time_limit_days": number(cell("time_limit_days")), "time_limit_note": opt(cell("time_limit_note")),
            "fees": fees, "fee_due": opt(cell("fee_due")), "documents": documents, "steps": steps, "legal_basis": legal_basis,
            "result": cell("result"), "where_to_submit": cell("where_to_submit"), "description": cell("description"),
            "requires_assurance": assurance,
            "form": form,
        });
        if !row_errors.is_empty() {
            for (vi, en) in row_errors {
                errors.push(problem(format!("line {line}"), vi, en));
            }
            continue;
        }
        match serde_json::from_value::<ProcedureSpec>(obj) {
            Ok(p) => {
                out.file.procedures.push(p);
                out.procedure_lines.push(line);
            }
            Err(e) => errors.push(problem(
                format!("line {line}"),
                format!("Dòng không hợp lệ: {e}"),
                format!("Invalid row: {e}"),
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Parses bytes in a format.
pub fn parse(bytes: &[u8], format: Format) -> Result<Parsed, Vec<ProblemDetail>> {
    let text = decode(bytes)?;
    let parsed = match format {
        Format::Json => parse_json(&text)?,
        Format::Csv => parse_csv(&text)?,
    };
    if parsed.file.fields.is_empty()
        && parsed.file.agencies.is_empty()
        && parsed.file.procedures.is_empty()
    {
        return Err(vec![problem(
            "line 1".into(),
            "Tệp không có bản ghi nào",
            "The file holds no records",
        )]);
    }
    Ok(parsed)
}

/// Checks a parsed file against itself and what is stored; on success returns, for each
/// agency unit code, the unit's id and province code.
pub fn check(
    parsed: &Parsed,
    stored: &Lookup,
    units: &AdminUnits,
    today: NaiveDate,
) -> Result<BTreeMap<String, (i64, String)>, Vec<ProblemDetail>> {
    let mut errors = Vec::new();
    let mut push = |at: String, list: Vec<Invalid>| {
        for i in list {
            errors.push(problem(at.clone(), i.vi, i.en));
        }
    };
    let f = &parsed.file;
    let at = |lines: &[usize], what: &str, i: usize| {
        format!("line {} ({what}[{i}])", lines.get(i).copied().unwrap_or(0))
    };
    let mut field_codes: HashSet<&str> = stored.fields.keys().map(String::as_str).collect();
    let mut seen = HashSet::new();
    for (i, x) in f.fields.iter().enumerate() {
        let mut v = validate_field(x);
        if !seen.insert(x.code.as_str()) {
            v.push(Invalid {
                vi: format!("Mã lĩnh vực {} bị trùng trong tệp", x.code),
                en: format!("Field code {} appears twice in the file", x.code),
            });
        }
        field_codes.insert(&x.code);
        push(at(&parsed.field_lines, "fields", i), v);
    }
    let mut agency_codes: HashSet<&str> = stored.agencies.keys().map(String::as_str).collect();
    for a in &f.agencies {
        agency_codes.insert(a.code.as_str());
    }
    let mut unit_ids = BTreeMap::new();
    let mut seen = HashSet::new();
    for (i, a) in f.agencies.iter().enumerate() {
        let mut v = validate_agency(a);
        if !seen.insert(a.code.as_str()) {
            v.push(Invalid {
                vi: format!("Mã cơ quan {} bị trùng trong tệp", a.code),
                en: format!("Agency code {} appears twice in the file", a.code),
            });
        }
        if let Some(p) = &a.parent
            && !agency_codes.contains(p.as_str())
        {
            v.push(Invalid {
                vi: format!("Cơ quan cấp trên {p} không tồn tại"),
                en: format!("Parent agency {p} does not exist"),
            });
        }
        if let Some(u) = &a.unit {
            let level = if a.level == AgencyLevel::Provincial {
                1
            } else {
                2
            };
            match units.resolve(u, level, today) {
                Some(unit) => {
                    let prov = units
                        .province_of(unit.id)
                        .map(|p| p.code.clone())
                        .unwrap_or_default();
                    unit_ids.insert(u.clone(), (unit.id, prov));
                }
                None => v.push(Invalid {
                    vi: format!("Đơn vị hành chính {u} không tồn tại hoặc không còn hiệu lực"),
                    en: format!("Administrative unit {u} does not exist or is no longer in force"),
                }),
            }
        }
        push(at(&parsed.agency_lines, "agencies", i), v);
    }
    let mut seen = HashSet::new();
    for (i, p) in f.procedures.iter().enumerate() {
        let mut v = validate_procedure(p);
        if !seen.insert(p.code.as_str()) {
            v.push(Invalid {
                vi: format!("Mã thủ tục {} bị trùng trong tệp", p.code),
                en: format!("Procedure code {} appears twice in the file", p.code),
            });
        }
        if !field_codes.contains(p.field.as_str()) {
            v.push(Invalid {
                vi: format!("Lĩnh vực {} không tồn tại", p.field),
                en: format!("Field {} does not exist", p.field),
            });
        }
        for a in &p.agencies {
            if !agency_codes.contains(a.as_str()) {
                v.push(Invalid {
                    vi: format!("Cơ quan {a} không tồn tại"),
                    en: format!("Agency {a} does not exist"),
                });
            }
        }
        push(at(&parsed.procedure_lines, "procedures", i), v);
    }
    if errors.is_empty() {
        Ok(unit_ids)
    } else {
        Err(errors)
    }
}

/// Writes procedures as CSV in the format [`parse_csv`] reads.
pub fn to_csv(procedures: &[ProcedureSpec]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_COLUMNS)?;
    let j = |v: &dyn erased::Json| v.json();
    for p in procedures {
        let agencies = p
            .agencies
            .iter()
            .map(AgencyCode::as_str)
            .collect::<Vec<_>>()
            .join(";");
        let audience = p
            .audience
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(";");
        w.write_record([
            p.code.as_str(),
            &p.name,
            &p.field,
            &agencies,
            &audience,
            &p.level.to_string(),
            p.online.as_str(),
            &p.time_limit_days.to_string(),
            p.time_limit_note.as_deref().unwrap_or(""),
            &j(&p.fees),
            p.fee_due.map(|d| d.as_str()).unwrap_or(""),
            &j(&p.documents),
            &j(&p.steps),
            &j(&p.legal_basis),
            &p.result,
            &p.where_to_submit,
            &p.description,
            &p.requires_assurance
                .map(|a| a.to_string())
                .unwrap_or_default(),
            &j(&p.form),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

mod erased {
    /// Any serialisable list, as a JSON string.
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for Vec<T> {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_else(|_| "[]".into())
        }
    }
}
