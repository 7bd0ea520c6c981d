//! The electronic receipt (biên lai điện tử thu phí, lệ phí) of a payment, as an A4 PDF.

use chrono::{DateTime, Utc};
use dossier::slips::{Block, Sheet, render as render_sheet};
use kernel::clock::to_local;

use crate::{Payment, PaymentError, ReceiptNo};

/// What a receipt shows.
pub struct Data<'a> {
    pub agency: String,
    pub parent: Option<String>,
    pub payment: &'a Payment,
    pub receipt: &'a ReceiptNo,
    pub procedure: &'a str,
    pub payer: &'a str,
    /// The payer's identification number, or the business's tax code.
    pub payer_id: Option<&'a str>,
}

/// `1234567` as `1.234.567`.
pub fn dong(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

const DIGITS: [&str; 10] = [
    "không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín",
];

/// Reads a group of three digits; `full` when a higher group came before it.
fn triple(n: u64, full: bool) -> Vec<&'static str> {
    let (h, t, u) = (
        (n / 100) as usize,
        ((n / 10) % 10) as usize,
        (n % 10) as usize,
    );
    let mut w = Vec::new();
    if full || h > 0 {
        w.push(DIGITS[h]);
        w.push("trăm");
    }
    match t {
        0 if u > 0 && (full || h > 0) => w.push("linh"),
        0 => {}
        1 => w.push("mười"),
        _ => {
            w.push(DIGITS[t]);
            w.push("mươi");
        }
    }
    match u {
        0 => {}
        1 if t > 1 => w.push("mốt"),
        4 if t > 1 => w.push("tư"),
        5 if t > 0 => w.push("lăm"),
        _ => w.push(DIGITS[u]),
    }
    w
}

/// An amount in Vietnamese words, as receipts write it: `15000` → "Mười lăm nghìn đồng".
pub fn in_words(n: i64) -> String {
    if n == 0 {
        return "Không đồng".into();
    }
    let mut n = n.unsigned_abs();
    let mut groups = Vec::new();
    while n > 0 {
        groups.push(n % 1000);
        n /= 1000;
    }
    const UNITS: [&str; 4] = ["", "nghìn", "triệu", "tỷ"];
    let mut words: Vec<&str> = Vec::new();
    let top = groups.len() - 1;
    for (i, g) in groups.iter().enumerate().rev() {
        if *g == 0 {
            // A zero group is silent, except a whole "tỷ" step that must still be said.
            if i % 3 == 0 && i > 0 && i != top {
                words.push("tỷ");
            }
            continue;
        }
        words.extend(triple(*g, i != top));
        let unit = if i == 0 {
            ""
        } else if i % 3 == 0 {
            "tỷ"
        } else {
            UNITS[i % 3]
        };
        if !unit.is_empty() {
            words.push(unit);
        }
    }
    let mut s = words.join(" ");
    s.push_str(" đồng");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

fn when(t: DateTime<Utc>) -> String {
    to_local(t).format("%H:%M ngày %d/%m/%Y").to_string()
}

/// The receipt's sheet.
pub fn sheet(d: &Data<'_>) -> Sheet {
    let p = d.payment;
    let no = d.receipt;
    let mut blocks = vec![
        Block::Field("Ký hiệu".into(), no.series.clone()),
        Block::Field("Số".into(), no.number.clone()),
        Block::Gap,
        Block::Field("Người nộp".into(), d.payer.to_string()),
    ];
    if let Some(id) = d.payer_id {
        blocks.push(Block::Field(
            "Số định danh / mã số thuế".into(),
            id.to_string(),
        ));
    }
    blocks.push(Block::Field(
        "Hồ sơ".into(),
        format!("{} — {}", p.dossier_code, d.procedure),
    ));
    let rows = p
        .quote
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            vec![
                (i + 1).to_string(),
                match &l.case {
                    Some(c) => format!("{} ({c})", l.label),
                    None => l.label.clone(),
                },
                l.quantity.to_string(),
                dong(l.unit),
                dong(l.amount),
            ]
        })
        .collect();
    blocks.push(Block::Table {
        widths: vec![0.07, 0.53, 0.1, 0.15, 0.15],
        header: ["STT", "Khoản thu", "Số lượng", "Đơn giá", "Thành tiền"]
            .map(String::from)
            .to_vec(),
        rows,
    });
    blocks.push(Block::Field(
        "Tổng cộng".into(),
        format!("{} đồng", dong(p.amount)),
    ));
    blocks.push(Block::Field("Bằng chữ".into(), in_words(p.amount)));
    let how = match p.provider.as_str() {
        "desk" => "Nộp tại bộ phận tiếp nhận và trả kết quả".to_string(),
        other => {
            let name = crate::Provider::parse(other)
                .map(|x| x.label(true))
                .unwrap_or(other);
            match (&p.gateway_txn, &p.bank_code) {
                (Some(t), Some(b)) => {
                    format!("Trực tuyến qua {name}, mã giao dịch {t}, ngân hàng {b}")
                }
                (Some(t), None) => format!("Trực tuyến qua {name}, mã giao dịch {t}"),
                _ => format!("Trực tuyến qua {name}"),
            }
        }
    };
    blocks.push(Block::Field("Hình thức thanh toán".into(), how));
    blocks.push(Block::Field("Mã tham chiếu".into(), p.txn_ref.clone()));
    if let Some(t) = p.paid_at {
        blocks.push(Block::Field("Thời điểm thanh toán".into(), when(t)));
    }
    if p.quote.claims_reduction {
        blocks.push(Block::Para(
            "Người nộp kê khai thuộc đối tượng được miễn, giảm; giấy tờ chứng minh được kiểm tra khi tiếp nhận hồ sơ.".into(),
        ));
    }
    blocks.push(Block::Gap);
    blocks.push(Block::Para(format!(
        "Biên lai điện tử lập lúc {}. Tra cứu hồ sơ bằng mã {} trên Cổng dịch vụ công.",
        when(no.issued_at),
        p.dossier_code
    )));
    Sheet {
        parent: d.parent.clone(),
        agency: d.agency.clone(),
        date: to_local(no.issued_at).date(),
        title: "BIÊN LAI THU PHÍ, LỆ PHÍ".into(),
        subtitle: Some("(Biên lai điện tử)".into()),
        blocks,
        signatures: vec![
            ("Người nộp tiền".into(), String::new(), d.payer.to_string()),
            (
                "Đơn vị thu".into(),
                "(Đã ký điện tử)".into(),
                d.agency.clone(),
            ),
        ],
        footer: format!("Biên lai {} số {}", no.series, no.number),
        meta_title: format!(
            "Biên lai {} số {} — {}",
            no.series, no.number, p.dossier_code
        ),
        keywords: vec![p.dossier_code.clone(), p.txn_ref.clone()],
        created: no.issued_at,
    }
}

/// The receipt as PDF bytes.
pub fn render(d: &Data<'_>) -> Result<Vec<u8>, PaymentError> {
    Ok(render_sheet(&sheet(d))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_in_vietnamese() {
        for (n, w) in [
            (0, "Không đồng"),
            (5, "Năm đồng"),
            (15, "Mười lăm đồng"),
            (21, "Hai mươi mốt đồng"),
            (105, "Một trăm linh năm đồng"),
            (1_000, "Một nghìn đồng"),
            (15_000, "Mười lăm nghìn đồng"),
            (24_000, "Hai mươi tư nghìn đồng"),
            (200_000, "Hai trăm nghìn đồng"),
            (1_005_000, "Một triệu không trăm linh năm nghìn đồng"),
            (1_000_000_000, "Một tỷ đồng"),
            (20_000_000, "Hai mươi triệu đồng"),
            (135_500, "Một trăm ba mươi lăm nghìn năm trăm đồng"),
        ] {
            assert_eq!(in_words(n), w, "{n}");
        }
    }

    #[test]
    fn thousands_are_dotted() {
        assert_eq!(dong(0), "0");
        assert_eq!(dong(15_000), "15.000");
        assert_eq!(dong(1_234_567), "1.234.567");
    }
}
