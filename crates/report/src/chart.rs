//! Charts drawn on the server as SVG: nothing to load in the browser, nothing from outside.

use plotters::prelude::*;

use crate::{Bucket, Line};

const RECEIVED: RGBColor = RGBColor(0x1d, 0x4e, 0x89);
const RESOLVED: RGBColor = RGBColor(0x2e, 0x7d, 0x32);
const LATE: RGBColor = RGBColor(0xc6, 0x28, 0x28);
const GRID: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);

/// The SVG element alone, without the XML declaration (it goes inside a page).
fn element(svg: String) -> String {
    match svg.find("<svg") {
        Some(i) => svg[i..].to_string(),
        None => svg,
    }
}

/// Received, resolved and resolved late per bucket, as lines.
pub fn series(buckets: &[Bucket], daily: bool, vi: bool) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 280)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let n = buckets.len().max(1);
        let top = buckets
            .iter()
            .map(|b| b.metrics.received().max(b.metrics.resolved()))
            .max()
            .unwrap_or(0)
            .max(1);
        let top = top + top / 10 + 1;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(0..n, 0..top)
            .map_err(|e| e.to_string())?;
        let label = |i: &usize| {
            buckets
                .get(*i)
                .map(|b| {
                    if daily {
                        b.start.format("%d/%m").to_string()
                    } else {
                        b.start.format("%m/%Y").to_string()
                    }
                })
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .light_line_style(GRID)
            .x_labels(n.min(12))
            .x_label_formatter(&label)
            .y_labels(6)
            .draw()
            .map_err(|e| e.to_string())?;
        let (r, s, l) = if vi {
            ("Tiếp nhận", "Đã giải quyết", "Giải quyết quá hạn")
        } else {
            ("Received", "Resolved", "Resolved late")
        };
        type Figure = fn(&Bucket) -> i64;
        let lines: [(&str, RGBColor, Figure); 3] = [
            (r, RECEIVED, |b| b.metrics.received()),
            (s, RESOLVED, |b| b.metrics.resolved()),
            (l, LATE, |b| b.metrics.resolved_late),
        ];
        for (name, color, value) in lines {
            chart
                .draw_series(LineSeries::new(
                    buckets.iter().enumerate().map(|(i, b)| (i, value(b))),
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(GRID)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(element(svg))
}

/// On-time share of each line, best first, as bars (at most 40).
pub fn ranking(lines: &[Line]) -> Result<String, String> {
    let shown: Vec<&Line> = lines
        .iter()
        .filter(|l| l.rates.on_time.is_some())
        .take(40)
        .collect();
    let n = shown.len().max(1);
    let height = (40 + 22 * n) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(220)
            .build_cartesian_2d(0.0..100.0, (0..n).into_segmented())
            .map_err(|e| e.to_string())?;
        let names: Vec<String> = shown
            .iter()
            .map(|l| {
                let mut s: String = l.name.chars().take(34).collect();
                if l.name.chars().count() > 34 {
                    s.push('…');
                }
                s
            })
            .collect();
        chart
            .configure_mesh()
            .light_line_style(GRID)
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v: &SegmentValue<usize>| match v {
                // The first line at the top.
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names
                    .get(n.saturating_sub(1).saturating_sub(*i))
                    .cloned()
                    .unwrap_or_default(),
                SegmentValue::Last => String::new(),
            })
            .x_label_formatter(&|x: &f64| format!("{x:.0}%"))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(shown.iter().enumerate().map(|(k, l)| {
                let i = n - 1 - k;
                let v = l.rates.on_time.unwrap_or(0.0);
                let color = if v >= 90.0 { RESOLVED } else { LATE };
                Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(i)),
                        (v, SegmentValue::Exact(i + 1)),
                    ],
                    color.filled(),
                )
            }))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(element(svg))
}

/// The index month by month: the scaled score (out of `max`) and the points earned.
pub fn index_history(
    points: &[crate::index::HistoryPoint],
    max: f64,
    vi: bool,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 240)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let n = points.len().max(1);
        let top = if max.is_finite() && max > 0.0 {
            max
        } else {
            100.0
        };
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(40)
            .build_cartesian_2d(0..n, 0.0..top)
            .map_err(|e| e.to_string())?;
        let label = |i: &usize| {
            points
                .get(*i)
                .map(|p| p.month.format("%m/%Y").to_string())
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .light_line_style(GRID)
            .x_labels(n.min(12))
            .x_label_formatter(&label)
            .y_labels(6)
            .draw()
            .map_err(|e| e.to_string())?;
        let (a, b) = if vi {
            ("Điểm quy đổi", "Điểm đạt")
        } else {
            ("Scaled score", "Points earned")
        };
        type Value = fn(&crate::index::HistoryPoint) -> Option<f64>;
        let lines: [(&str, RGBColor, Value); 2] = [
            (a, RECEIVED, |p| p.scaled),
            (b, RESOLVED, |p| Some(p.points)),
        ];
        for (name, color, value) in lines {
            chart
                .draw_series(LineSeries::new(
                    points
                        .iter()
                        .enumerate()
                        .filter_map(|(i, p)| value(p).map(|v| (i, v))),
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(GRID)
            .position(SeriesLabelPosition::LowerLeft)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(element(svg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Metrics, OpenFigures, Rates};
    use chrono::NaiveDate;

    #[test]
    fn series_draws_a_line_per_figure_with_its_legend() {
        let b = |d: u32, r: i64| Bucket {
            start: NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or(NaiveDate::MIN),
            metrics: Metrics {
                received_online: r,
                resolved_on_time: r / 2,
                ..Metrics::default()
            },
        };
        let svg =
            series(&[b(1, 4), b(2, 10), b(3, 0)], true, true).unwrap_or_else(|e| panic!("{e}"));
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("Tiếp nhận"));
        assert!(svg.contains("02/11"));
        // Each figure is a line of its colour, and its mark in the legend.
        for colour in ["#1D4E89", "#2E7D32", "#C62828"] {
            assert_eq!(
                svg.matches(&format!("stroke=\"{colour}\"")).count(),
                2,
                "{colour}: {svg}"
            );
        }
    }

    #[test]
    fn ranking_draws_a_bar_per_ranked_line() {
        let line = |name: &str, share: Option<f64>| Line {
            code: name.into(),
            name: name.into(),
            metrics: Metrics::default(),
            open: OpenFigures::default(),
            rates: Rates {
                on_time: share,
                ..Rates::default()
            },
            rank: None,
        };
        let svg = ranking(&[
            line("Lạng Sơn", Some(99.82)),
            line("X", Some(50.0)),
            line("Y", None),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(svg.contains("Lạng Sơn"));
        assert!(!svg.contains(">Y<"));
    }
}
