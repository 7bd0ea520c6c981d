//! Checking an application form's values against the procedure version's form definition.

use serde_json::{Map, Value};

use catalog::model::{FieldType, FormField};
use kernel::ProblemDetail;
use kernel::ids::{Cccd, TaxCode};

/// Longest text accepted in a field without a `max_length` of its own.
pub const DEFAULT_MAX_LENGTH: usize = 2000;

fn detail(field: &FormField, vi: &str, en: &str) -> ProblemDetail {
    let en_label = field.label_en.as_deref().unwrap_or(&field.label);
    ProblemDetail::new(
        format!("form.{}", field.name),
        format!("{}: {vi}", field.label),
        format!("{en_label}: {en}"),
    )
}

/// Checks `values` against `fields`; returns the values normalised (trimmed text, numbers as
/// numbers) or every problem found. Fields the form does not define are refused.
pub fn check(
    fields: &[FormField],
    values: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<ProblemDetail>> {
    let mut out = Map::new();
    let mut problems = Vec::new();
    for name in values.keys() {
        if !fields.iter().any(|f| &f.name == name) {
            problems.push(ProblemDetail::new(
                format!("form.{name}"),
                format!("Biểu mẫu không có trường {name}"),
                format!("The form has no field {name}"),
            ));
        }
    }
    for f in fields {
        let v = values.get(&f.name).filter(|v| match v {
            Value::Null => false,
            Value::String(s) => !s.trim().is_empty(),
            _ => true,
        });
        let Some(v) = v else {
            if f.required && f.kind != FieldType::Checkbox {
                problems.push(detail(f, "bắt buộc phải điền", "is required"));
            }
            continue;
        };
        match check_one(f, v) {
            Ok(nv) => {
                out.insert(f.name.clone(), nv);
            }
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn check_one(f: &FormField, v: &Value) -> Result<Value, ProblemDetail> {
    if f.kind == FieldType::Checkbox {
        return match v {
            Value::Bool(b) => {
                if f.required && !b {
                    Err(detail(f, "cần được đánh dấu", "must be ticked"))
                } else {
                    Ok(Value::Bool(*b))
                }
            }
            Value::String(s) if s == "true" || s == "on" => Ok(Value::Bool(true)),
            Value::String(s) if s == "false" => Ok(Value::Bool(false)),
            _ => Err(detail(f, "chỉ nhận có hoặc không", "takes yes or no")),
        };
    }
    let Some(text) = as_text(v) else {
        return Err(detail(f, "giá trị không hợp lệ", "is not a valid value"));
    };
    let max = f
        .max_length
        .map(|m| m as usize)
        .unwrap_or(DEFAULT_MAX_LENGTH);
    if text.chars().count() > max {
        return Err(detail(
            f,
            &format!("dài quá {max} ký tự"),
            &format!("is longer than {max} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(detail(
            f,
            "có ký tự điều khiển",
            "contains control characters",
        ));
    }
    let value = match f.kind {
        FieldType::Text | FieldType::Textarea => {
            if f.kind == FieldType::Text && text.contains('\n') {
                return Err(detail(f, "chỉ được một dòng", "must be one line"));
            }
            Value::String(text.clone())
        }
        FieldType::Date => match chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(d) => Value::String(d.format("%Y-%m-%d").to_string()),
            Err(_) => {
                return Err(detail(
                    f,
                    "cần ngày dạng YYYY-MM-DD",
                    "needs a date as YYYY-MM-DD",
                ));
            }
        },
        FieldType::Number => {
            let Ok(n) = text.parse::<i64>() else {
                return Err(detail(f, "cần một số nguyên", "needs a whole number"));
            };
            if f.min.is_some_and(|m| n < m) || f.max.is_some_and(|m| n > m) {
                return Err(detail(
                    f,
                    &format!(
                        "cần trong khoảng {} đến {}",
                        f.min.unwrap_or(i64::MIN),
                        f.max.unwrap_or(i64::MAX)
                    ),
                    &format!(
                        "must be from {} to {}",
                        f.min.unwrap_or(i64::MIN),
                        f.max.unwrap_or(i64::MAX)
                    ),
                ));
            }
            Value::from(n)
        }
        FieldType::Select => {
            if !f.options.iter().any(|o| o == &text) {
                return Err(detail(
                    f,
                    &format!("chọn một trong: {}", f.options.join(", ")),
                    &format!("choose one of: {}", f.options.join(", ")),
                ));
            }
            Value::String(text.clone())
        }
        FieldType::Cccd => match Cccd::parse(&text) {
            Ok(c) => Value::String(c.to_string()),
            Err(e) => return Err(detail(f, &e.vi, &e.en)),
        },
        FieldType::TaxCode => match TaxCode::parse(&text) {
            Ok(t) => Value::String(t.to_string()),
            Err(e) => return Err(detail(f, &e.vi, &e.en)),
        },
        FieldType::Email => {
            let ok = text.len() <= 254
                && text
                    .split_once('@')
                    .is_some_and(|(a, b)| !a.is_empty() && b.contains('.'))
                && !text.contains(' ');
            if !ok {
                return Err(detail(
                    f,
                    "địa chỉ thư không hợp lệ",
                    "is not a valid e-mail address",
                ));
            }
            Value::String(text.clone())
        }
        FieldType::Phone => {
            let digits = text.trim_start_matches('+');
            if !(9..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(detail(
                    f,
                    "số điện thoại không hợp lệ",
                    "is not a valid phone number",
                ));
            }
            Value::String(text.clone())
        }
        FieldType::Checkbox => Value::Bool(true),
    };
    if let Some(p) = &f.pattern
        && let Ok(re) = regex::Regex::new(&format!("^(?:{p})$"))
        && !re.is_match(&text)
    {
        return Err(detail(
            f,
            "không đúng định dạng",
            "does not have the expected form",
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str, kind: FieldType, required: bool) -> FormField {
        FormField {
            name: name.into(),
            label: name.into(),
            label_en: None,
            kind,
            required,
            max_length: None,
            min: None,
            max: None,
            options: vec![],
            pattern: None,
        }
    }

    #[test]
    fn every_problem_is_listed_and_good_values_normalised() {
        let mut n = field("so_con", FieldType::Number, true);
        n.min = Some(0);
        n.max = Some(20);
        let mut s = field("gioi_tinh", FieldType::Select, true);
        s.options = vec!["Nam".into(), "Nữ".into()];
        let fields = vec![
            field("ho_ten", FieldType::Text, true),
            field("ngay_sinh", FieldType::Date, true),
            n,
            s,
            field("cccd", FieldType::Cccd, false),
        ];
        let bad = json!({"ho_ten": "  ", "ngay_sinh": "31/12/2020", "so_con": 30, "gioi_tinh": "Khác", "cccd": "123", "la": 1});
        let errs = check(&fields, bad.as_object().unwrap_or(&Map::new()))
            .err()
            .unwrap_or_default();
        let at: Vec<&str> = errs.iter().map(|e| e.at.as_str()).collect();
        assert_eq!(
            at,
            [
                "form.la",
                "form.ho_ten",
                "form.ngay_sinh",
                "form.so_con",
                "form.gioi_tinh",
                "form.cccd"
            ]
        );
        let good = json!({"ho_ten": " Trần Văn Bình ", "ngay_sinh": "2020-12-31", "so_con": "2", "gioi_tinh": "Nữ"});
        let v = check(&fields, good.as_object().unwrap_or(&Map::new())).unwrap_or_default();
        assert_eq!(v["ho_ten"], "Trần Văn Bình");
        assert_eq!(v["so_con"], 2);
    }
}
