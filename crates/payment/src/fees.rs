//! What a dossier owes: the procedure's fees, the case the applicant chose, the number of
//! copies. Pure: no storage, no clock.
//!
//! A procedure lists its fees and charges (phí, lệ phí) as lines. Lines with the same label are
//! alternatives, one per case (filed online or at the desk; a reduced or waived amount for
//! social-policy beneficiaries); lines with different labels are owed together. A line may be
//! per copy (or per page). A line marked for beneficiaries is an exemption or reduction: the
//! applicant claims it and the desk checks the proof before receiving the dossier.

use catalog::model::Fee;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The most copies one dossier may pay for.
pub const MAX_COPIES: u32 = 100;

/// What the applicant chose.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// Index (from 0, in the procedure's list) of the chosen line of each label that has
    /// several; a label with one line needs none.
    #[serde(default)]
    pub cases: Vec<usize>,
    /// Copies (or pages) for lines charged per copy; 1 when left out.
    #[serde(default)]
    pub copies: Option<u32>,
}

/// One line of a quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Line {
    /// Its index in the procedure's list.
    pub index: usize,
    pub label: String,
    pub case: Option<String>,
    /// Amount of one unit, in đồng.
    pub unit: i64,
    pub quantity: u32,
    pub amount: i64,
    /// An exemption or reduction for beneficiaries, which the desk checks.
    pub beneficiary: bool,
}

/// What is owed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Quote {
    pub lines: Vec<Line>,
    /// Whole đồng.
    pub total: i64,
    /// Whether a beneficiary's exemption or reduction was claimed.
    pub claims_reduction: bool,
}

/// Why a choice does not fit the procedure's fees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfit {
    pub field: &'static str,
    pub vi: String,
    pub en: String,
}

fn unfit(field: &'static str, vi: String, en: String) -> Unfit {
    Unfit { field, vi, en }
}

/// The labels in the order they first appear, each with the indexes of its lines.
pub fn groups(fees: &[Fee]) -> Vec<(&str, Vec<usize>)> {
    let mut out: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, f) in fees.iter().enumerate() {
        match out.iter_mut().find(|(l, _)| *l == f.label) {
            Some((_, ix)) => ix.push(i),
            None => out.push((&f.label, vec![i])),
        }
    }
    out
}

/// The quote for `choice`, or why it does not fit.
pub fn quote(fees: &[Fee], choice: &Choice) -> Result<Quote, Unfit> {
    let copies = choice.copies.unwrap_or(1);
    if copies == 0 || copies > MAX_COPIES {
        return Err(unfit(
            "copies",
            format!("Số bản phải từ 1 đến {MAX_COPIES}"),
            format!("Copies must be between 1 and {MAX_COPIES}"),
        ));
    }
    for &i in &choice.cases {
        if i >= fees.len() {
            return Err(unfit(
                "cases",
                format!("Thủ tục không có mức phí số {}", i + 1),
                format!("The procedure has no fee line {}", i + 1),
            ));
        }
    }
    let mut lines = Vec::new();
    for (label, ix) in groups(fees) {
        let chosen: Vec<usize> = ix
            .iter()
            .copied()
            .filter(|i| choice.cases.contains(i))
            .collect();
        let pick = match (ix.as_slice(), chosen.as_slice()) {
            ([only], []) => *only,
            (_, [one]) => *one,
            (_, []) => {
                return Err(unfit(
                    "cases",
                    format!("Hãy chọn trường hợp áp dụng cho «{label}»"),
                    format!("Choose the case that applies for “{label}”"),
                ));
            }
            _ => {
                return Err(unfit(
                    "cases",
                    format!("Chỉ chọn một trường hợp cho «{label}»"),
                    format!("Choose only one case for “{label}”"),
                ));
            }
        };
        let f = &fees[pick];
        let quantity = if f.per_copy { copies } else { 1 };
        let amount = f.amount.checked_mul(i64::from(quantity)).ok_or_else(|| {
            unfit(
                "copies",
                "Số tiền vượt quá giới hạn".into(),
                "The amount is too large".into(),
            )
        })?;
        lines.push(Line {
            index: pick,
            label: f.label.clone(),
            case: f.case.clone(),
            unit: f.amount,
            quantity,
            amount,
            beneficiary: f.beneficiary,
        });
    }
    let total = lines
        .iter()
        .try_fold(0i64, |acc, l| acc.checked_add(l.amount))
        .ok_or_else(|| {
            unfit(
                "cases",
                "Số tiền vượt quá giới hạn".into(),
                "The amount is too large".into(),
            )
        })?;
    Ok(Quote {
        claims_reduction: lines.iter().any(|l| l.beneficiary),
        lines,
        total,
    })
}

/// Whether the fees can come to more than nothing, whatever the case.
pub fn may_cost(fees: &[Fee]) -> bool {
    fees.iter().any(|f| f.amount > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fee(label: &str, amount: i64, case: Option<&str>, per_copy: bool, beneficiary: bool) -> Fee {
        Fee {
            label: label.into(),
            amount,
            case: case.map(Into::into),
            per_copy,
            beneficiary,
        }
    }

    fn residence() -> Vec<Fee> {
        vec![
            fee(
                "Lệ phí đăng ký thường trú",
                20_000,
                Some("Trực tiếp"),
                false,
                false,
            ),
            fee(
                "Lệ phí đăng ký thường trú",
                10_000,
                Some("Trực tuyến"),
                false,
                false,
            ),
            fee(
                "Lệ phí đăng ký thường trú",
                0,
                Some("Hộ nghèo"),
                false,
                true,
            ),
            fee("Phí cấp thêm bản sao", 5_000, None, true, false),
        ]
    }

    #[test]
    fn alternatives_need_a_case_and_other_labels_add_up() {
        let fees = residence();
        let e = quote(&fees, &Choice::default())
            .err()
            .unwrap_or_else(|| panic!("expected an error"));
        assert_eq!(e.field, "cases");
        assert!(e.vi.contains("Lệ phí đăng ký thường trú"), "{}", e.vi);
        let q = quote(
            &fees,
            &Choice {
                cases: vec![1],
                copies: Some(3),
            },
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(q.total, 10_000 + 3 * 5_000);
        assert_eq!(q.lines.len(), 2);
        assert_eq!(q.lines[1].quantity, 3);
        assert!(!q.claims_reduction);
    }

    #[test]
    fn a_beneficiary_case_is_marked_as_a_claim() {
        let q = quote(
            &residence(),
            &Choice {
                cases: vec![2],
                copies: None,
            },
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(q.total, 5_000);
        assert!(q.claims_reduction);
    }

    #[test]
    fn two_cases_of_one_label_unknown_lines_and_bad_copies_are_refused() {
        let fees = residence();
        for (choice, field) in [
            (
                Choice {
                    cases: vec![0, 1],
                    copies: None,
                },
                "cases",
            ),
            (
                Choice {
                    cases: vec![9],
                    copies: None,
                },
                "cases",
            ),
            (
                Choice {
                    cases: vec![0],
                    copies: Some(0),
                },
                "copies",
            ),
            (
                Choice {
                    cases: vec![0],
                    copies: Some(MAX_COPIES + 1),
                },
                "copies",
            ),
        ] {
            assert_eq!(
                quote(&fees, &choice)
                    .err()
                    .unwrap_or_else(|| panic!("expected an error"))
                    .field,
                field,
                "{choice:?}"
            );
        }
    }

    #[test]
    fn no_fees_cost_nothing() {
        let q = quote(&[], &Choice::default()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(q.total, 0);
        assert!(!may_cost(&[]));
        assert!(may_cost(&residence()));
    }

    proptest! {
        #[test]
        fn the_total_is_the_sum_of_the_lines(a in 0i64..10_000_000, b in 0i64..10_000_000, copies in 1u32..=MAX_COPIES) {
            let fees = vec![fee("A", a, None, false, false), fee("B", b, None, true, false)];
            let q = quote(&fees, &Choice { cases: vec![], copies: Some(copies) }).unwrap_or_else(|e| panic!("{e:?}"));
            prop_assert_eq!(q.total, a + b * i64::from(copies));
            prop_assert_eq!(q.total, q.lines.iter().map(|l| l.amount).sum::<i64>());
        }
    }
}
