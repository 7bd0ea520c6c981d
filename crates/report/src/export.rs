//! A dashboard's figures as CSV (the lines under it and their total) and as an XLSX workbook
//! (the summary, the lines, the series), with headings in Vietnamese or English.

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use crate::{Figures, Line, Metrics, OpenFigures, Rates};

fn headings(vi: bool) -> Vec<&'static str> {
    if vi {
        vec![
            "Mã",
            "Tên",
            "Xếp hạng",
            "Tiếp nhận trực tuyến",
            "Tiếp nhận trực tiếp",
            "Giải quyết trước hạn",
            "Giải quyết đúng hạn",
            "Giải quyết quá hạn",
            "Trả lại",
            "Yêu cầu bổ sung",
            "Thanh toán trực tuyến",
            "Số tiền thanh toán trực tuyến (đồng)",
            "Rất hài lòng",
            "Hài lòng",
            "Không hài lòng",
            "Thanh toán trực tiếp",
            "Đang giải quyết",
            "Đang giải quyết quá hạn",
            "Tỷ lệ đúng hạn (%)",
            "Tỷ lệ trực tuyến (%)",
            "Tỷ lệ hài lòng (%)",
            "Tỷ lệ thanh toán trực tuyến (%)",
        ]
    } else {
        vec![
            "Code",
            "Name",
            "Rank",
            "Received online",
            "Received at the desk",
            "Resolved early",
            "Resolved on time",
            "Resolved late",
            "Sent back",
            "Supplement requests",
            "Paid online",
            "Amount paid online (VND)",
            "Very satisfied",
            "Satisfied",
            "Not satisfied",
            "Paid at the desk",
            "In progress",
            "In progress, overdue",
            "On-time share (%)",
            "Online share (%)",
            "Satisfaction (%)",
            "Paid online share (%)",
        ]
    }
}

fn rate(r: Option<f64>) -> String {
    r.map(|x| format!("{x:.2}")).unwrap_or_default()
}

fn cells(
    code: &str,
    name: &str,
    rank: Option<usize>,
    m: &Metrics,
    o: &OpenFigures,
    r: &Rates,
) -> Vec<String> {
    let mut v = vec![
        code.to_string(),
        name.to_string(),
        rank.map(|x| x.to_string()).unwrap_or_default(),
    ];
    v.extend(m.to_array().iter().map(i64::to_string));
    v.push(o.in_progress.to_string());
    v.push(o.overdue.to_string());
    v.push(rate(r.on_time));
    v.push(rate(r.online));
    v.push(rate(r.satisfied));
    v.push(rate(r.paid_online));
    v
}

fn total_label(vi: bool) -> &'static str {
    if vi { "Tổng cộng" } else { "Total" }
}

/// The lines under the dashboard and their total, as CSV (UTF-8 with a byte order mark, so
/// that spreadsheet programs read the Vietnamese right).
pub fn csv(f: &Figures, vi: bool) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    w.write_record(headings(vi))?;
    for l in &f.children {
        w.write_record(cells(
            &l.code, &l.name, l.rank, &l.metrics, &l.open, &l.rates,
        ))?;
    }
    w.write_record(cells(
        "",
        total_label(vi),
        None,
        &f.totals,
        &f.open,
        &f.rates,
    ))?;
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

fn write_line(
    sheet: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    cells: &[String],
    bold: Option<&Format>,
) -> Result<(), XlsxError> {
    for (c, v) in cells.iter().enumerate() {
        let col = u16::try_from(c).unwrap_or(u16::MAX);
        // Codes and names stay text; figures go in as numbers.
        match (c >= 2, v.parse::<f64>()) {
            (true, Ok(n)) => {
                sheet.write_number(row, col, n)?;
            }
            _ => {
                sheet.write_string(row, col, v)?;
            }
        }
        if let Some(b) = bold {
            sheet.set_cell_format(row, col, b)?;
        }
    }
    Ok(())
}

/// The figures as a workbook: the summary, the lines under the dashboard, the series.
pub fn xlsx(f: &Figures, vi: bool) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let heads = headings(vi);
    {
        let sheet = book.add_worksheet();
        sheet.set_name(if vi { "Tong hop" } else { "Summary" })?;
        sheet.write_string_with_format(0, 0, &f.title, &bold)?;
        sheet.write_string(
            1,
            0,
            format!(
                "{} {} – {}",
                if vi { "Kỳ:" } else { "Period:" },
                f.period.from.format("%d/%m/%Y"),
                f.period.to.format("%d/%m/%Y")
            ),
        )?;
        let total = cells("", total_label(vi), None, &f.totals, &f.open, &f.rates);
        for (i, (h, v)) in heads.iter().zip(total.iter()).enumerate().skip(3) {
            let row = u32::try_from(i).unwrap_or(u32::MAX);
            sheet.write_string(row, 0, *h)?;
            match v.parse::<f64>() {
                Ok(n) => sheet.write_number(row, 1, n)?,
                Err(_) => sheet.write_string(row, 1, v)?,
            };
        }
        sheet.set_column_width(0, 36)?;
    }
    {
        let sheet = book.add_worksheet();
        sheet.set_name(match (f.children_kind.as_deref(), vi) {
            (Some("province"), true) => "Tinh",
            (Some("province"), false) => "Provinces",
            (Some("agency"), true) => "Co quan",
            (Some("agency"), false) => "Agencies",
            (_, true) => "Thu tuc",
            (_, false) => "Procedures",
        })?;
        let heads: Vec<String> = heads.iter().map(|s| s.to_string()).collect();
        write_line(sheet, 0, &heads, Some(&bold))?;
        let mut row = 1;
        for l in &f.children {
            let Line {
                code,
                name,
                rank,
                metrics,
                open,
                rates,
            } = l;
            write_line(
                sheet,
                row,
                &cells(code, name, *rank, metrics, open, rates),
                None,
            )?;
            row += 1;
        }
        write_line(
            sheet,
            row,
            &cells("", total_label(vi), None, &f.totals, &f.open, &f.rates),
            Some(&bold),
        )?;
        sheet.set_column_width(1, 48)?;
        sheet.set_freeze_panes(1, 2)?;
    }
    {
        let sheet = book.add_worksheet();
        sheet.set_name(if vi { "Theo thoi gian" } else { "Series" })?;
        let mut heads: Vec<String> = vec![if vi { "Từ ngày" } else { "From" }.to_string()];
        heads.extend(
            headings(vi)[3..3 + crate::rollup::COLUMNS.len()]
                .iter()
                .map(|s| s.to_string()),
        );
        write_line(sheet, 0, &heads, Some(&bold))?;
        for (i, b) in f.series.iter().enumerate() {
            let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
            sheet.write_string(row, 0, b.start.format("%Y-%m-%d").to_string())?;
            for (c, v) in b.metrics.to_array().iter().enumerate() {
                sheet.write_number(row, u16::try_from(c + 1).unwrap_or(u16::MAX), *v as f64)?;
            }
        }
        sheet.set_column_width(0, 12)?;
    }
    book.save_to_buffer()
}
