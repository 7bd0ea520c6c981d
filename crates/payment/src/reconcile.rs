//! Reconciliation (đối soát): a gateway's daily statement against the payments recorded here.
//! Pure: the statement's lines and our payments go in, the four lists come out.
//!
//! A statement is CSV with a header row. Columns are found by name, in any order:
//! `txn_ref` (or `vnp_TxnRef`, `ma_giao_dich`), `amount` (or `so_tien`, whole đồng), and
//! optionally `transaction_no` (`vnp_TransactionNo`, `ma_gd_cong`), `pay_date`
//! (`vnp_PayDate`, `ngay_thanh_toan`, `yyyyMMddHHmmss` or RFC 3339) and `bank_code`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::gateway::parse_stamp;

/// The most lines one statement may have.
pub const MAX_LINES: usize = 100_000;

/// One transaction as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatementLine {
    pub txn_ref: String,
    pub amount: i64,
    pub gateway_txn: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub bank_code: Option<String>,
}

/// A payment as recorded here, for matching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Recorded {
    pub txn_ref: String,
    pub dossier_code: String,
    pub amount: i64,
    /// `paid` or `duplicate` (money taken twice, to be refunded).
    pub status: String,
    pub paid_at: Option<DateTime<Utc>>,
}

/// A line whose amount differs from ours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Mismatch {
    pub line: StatementLine,
    pub ours: Recorded,
}

/// What matched and what did not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reconciliation {
    pub matched: Vec<Recorded>,
    /// In the statement, but not a paid payment here.
    pub missing_ours: Vec<StatementLine>,
    /// Paid here, but not in the statement.
    pub missing_theirs: Vec<Recorded>,
    pub mismatched: Vec<Mismatch>,
    /// Lines the statement repeats.
    pub repeated: Vec<StatementLine>,
}

/// Why a statement was not read: the line (from 1, the header is line 1) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadStatement {
    pub line: usize,
    pub vi: String,
    pub en: String,
}

fn bad(line: usize, vi: impl Into<String>, en: impl Into<String>) -> BadStatement {
    BadStatement {
        line,
        vi: vi.into(),
        en: en.into(),
    }
}

fn column(headers: &csv::StringRecord, names: &[&str]) -> Option<usize> {
    headers.iter().position(|h| {
        let h = h.trim().trim_start_matches('\u{feff}').to_lowercase();
        names.iter().any(|n| n.to_lowercase() == h)
    })
}

/// Reads a statement.
pub fn parse(bytes: &[u8]) -> Result<Vec<StatementLine>, BadStatement> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        bad(
            0,
            format!("Tệp không phải văn bản UTF-8 (byte {})", e.valid_up_to()),
            format!("The file is not UTF-8 text (byte {})", e.valid_up_to()),
        )
    })?;
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = r
        .headers()
        .map_err(|e| {
            bad(
                1,
                format!("Dòng tiêu đề không đọc được: {e}"),
                format!("The header row cannot be read: {e}"),
            )
        })?
        .clone();
    let txn = column(&headers, &["txn_ref", "vnp_TxnRef", "ma_giao_dich"])
        .ok_or_else(|| bad(1, "Thiếu cột txn_ref", "The txn_ref column is missing"))?;
    let amount = column(&headers, &["amount", "so_tien", "vnp_Amount_vnd"])
        .ok_or_else(|| bad(1, "Thiếu cột amount", "The amount column is missing"))?;
    let gw = column(
        &headers,
        &["transaction_no", "vnp_TransactionNo", "ma_gd_cong"],
    );
    let date = column(&headers, &["pay_date", "vnp_PayDate", "ngay_thanh_toan"]);
    let bank = column(&headers, &["bank_code", "vnp_BankCode", "ngan_hang"]);
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| {
            bad(
                line,
                format!("Dòng {line} không đọc được: {e}"),
                format!("Line {line} cannot be read: {e}"),
            )
        })?;
        if rec.iter().all(|c| c.is_empty()) {
            continue;
        }
        if out.len() >= MAX_LINES {
            return Err(bad(
                line,
                format!("Bảng kê quá {MAX_LINES} dòng"),
                format!("The statement has more than {MAX_LINES} lines"),
            ));
        }
        let cell = |c: Option<usize>| c.and_then(|c| rec.get(c)).filter(|v| !v.is_empty());
        let txn_ref = cell(Some(txn)).ok_or_else(|| {
            bad(
                line,
                format!("Dòng {line}: thiếu mã giao dịch"),
                format!("Line {line}: the transaction reference is missing"),
            )
        })?;
        if txn_ref.len() > 100 {
            return Err(bad(
                line,
                format!("Dòng {line}: mã giao dịch quá dài"),
                format!("Line {line}: the transaction reference is too long"),
            ));
        }
        let amount: i64 = cell(Some(amount))
            .map(|a| a.replace(['.', ',', ' '], ""))
            .and_then(|a| a.parse().ok())
            .filter(|a: &i64| *a >= 0)
            .ok_or_else(|| {
                bad(
                    line,
                    format!("Dòng {line}: số tiền không hợp lệ"),
                    format!("Line {line}: the amount is not valid"),
                )
            })?;
        let paid_at = match cell(date) {
            Some(d) => Some(
                parse_stamp(d)
                    .or_else(|| {
                        DateTime::parse_from_rfc3339(d)
                            .ok()
                            .map(|t| t.with_timezone(&Utc))
                    })
                    .ok_or_else(|| {
                        bad(
                            line,
                            format!("Dòng {line}: ngày thanh toán không hợp lệ"),
                            format!("Line {line}: the payment date is not valid"),
                        )
                    })?,
            ),
            None => None,
        };
        out.push(StatementLine {
            txn_ref: txn_ref.to_string(),
            amount,
            gateway_txn: cell(gw).map(str::to_string),
            paid_at,
            bank_code: cell(bank).map(str::to_string),
        });
    }
    Ok(out)
}

/// Matches a statement's lines with the payments recorded here for the same day and gateway.
/// `known` are every payment here with a reference in the statement, whatever its day, so a
/// payment recorded on another day still matches.
pub fn reconcile(lines: &[StatementLine], day: &[Recorded], known: &[Recorded]) -> Reconciliation {
    let mut out = Reconciliation::default();
    let ours: HashMap<&str, &Recorded> = day
        .iter()
        .chain(known.iter())
        .filter(|r| r.status == "paid" || r.status == "duplicate")
        .map(|r| (r.txn_ref.as_str(), r))
        .collect();
    let mut seen: HashSet<&str> = HashSet::new();
    for l in lines {
        if !seen.insert(l.txn_ref.as_str()) {
            out.repeated.push(l.clone());
            continue;
        }
        match ours.get(l.txn_ref.as_str()) {
            Some(r) if r.amount == l.amount => out.matched.push((*r).clone()),
            Some(r) => out.mismatched.push(Mismatch {
                line: l.clone(),
                ours: (*r).clone(),
            }),
            None => out.missing_ours.push(l.clone()),
        }
    }
    for r in day {
        if (r.status == "paid" || r.status == "duplicate") && !seen.contains(r.txn_ref.as_str()) {
            out.missing_theirs.push(r.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(txn: &str, amount: i64, status: &str) -> Recorded {
        Recorded {
            txn_ref: txn.into(),
            dossier_code: format!("D-{txn}"),
            amount,
            status: status.into(),
            paid_at: None,
        }
    }

    #[test]
    fn a_statement_reads_by_column_name_in_any_order() {
        let csv = "\u{feff}bank_code,Amount,txn_ref,pay_date\nNCB,\"15,000\",P1,20261201100500\n,,,\nVCB,20000,P2,2026-12-01T03:06:00Z\n";
        let l = parse(csv.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(l.len(), 2);
        assert_eq!(
            (
                l[0].txn_ref.as_str(),
                l[0].amount,
                l[0].bank_code.as_deref()
            ),
            ("P1", 15_000, Some("NCB"))
        );
        assert_eq!(l[0].paid_at, parse_stamp("20261201100500"));
        assert_eq!(
            l[1].paid_at.map(|t| t.to_rfc3339()),
            Some("2026-12-01T03:06:00+00:00".into())
        );
    }

    #[test]
    fn bad_statements_say_which_line() {
        assert_eq!(
            parse(b"amount\n1\n")
                .err()
                .unwrap_or_else(|| panic!("expected an error"))
                .line,
            1
        );
        let e = parse(b"txn_ref,amount\nP1,abc\n")
            .err()
            .unwrap_or_else(|| panic!("expected an error"));
        assert_eq!(e.line, 2);
        assert!(e.en.contains("amount"), "{}", e.en);
        assert_eq!(
            parse(b"txn_ref,amount\n,5\n")
                .err()
                .unwrap_or_else(|| panic!("expected an error"))
                .line,
            2
        );
        assert_eq!(
            parse(b"txn_ref,amount\nP1,-5\n")
                .err()
                .unwrap_or_else(|| panic!("expected an error"))
                .line,
            2
        );
        assert_eq!(
            parse(&[0x74, 0xff, 0xfe])
                .err()
                .unwrap_or_else(|| panic!("expected an error"))
                .line,
            0
        );
        assert_eq!(
            parse(b"txn_ref,amount,pay_date\nP1,5,yesterday\n")
                .err()
                .unwrap_or_else(|| panic!("expected an error"))
                .line,
            2
        );
    }

    #[test]
    fn four_lists_come_out() {
        let lines = parse(b"txn_ref,amount\nP1,15000\nP2,9000\nP9,5000\nP1,15000\nP4,7000\n")
            .unwrap_or_else(|e| panic!("{e:?}"));
        let day = vec![
            rec("P1", 15_000, "paid"),
            rec("P2", 10_000, "paid"),
            rec("P3", 5_000, "paid"),
            rec("P5", 5_000, "failed"),
        ];
        let known = vec![rec("P4", 7_000, "duplicate")];
        let r = reconcile(&lines, &day, &known);
        let refs = |v: &[Recorded]| v.iter().map(|r| r.txn_ref.clone()).collect::<Vec<_>>();
        assert_eq!(refs(&r.matched), ["P1", "P4"]);
        assert_eq!(r.mismatched.len(), 1);
        assert_eq!(r.mismatched[0].ours.txn_ref, "P2");
        assert_eq!(
            r.missing_ours
                .iter()
                .map(|l| l.txn_ref.as_str())
                .collect::<Vec<_>>(),
            ["P9"]
        );
        assert_eq!(refs(&r.missing_theirs), ["P3"]);
        assert_eq!(r.repeated.len(), 1);
    }
}
