//! The rules of feedback, without I/O: a report's statuses and what moves it between them,
//! places (distances, the areas communes serve), what the public may read of a report, what is
//! held for review, and deadlines.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use kernel::calendar::Calendar;

/// Days after an answer in which its reporter may reopen a report.
pub const REOPEN_DAYS: i64 = 14;
/// Times one report may be reopened.
pub const MAX_REOPENS: i64 = 3;
/// How near (metres) and how recent (days) another open report of the same kind must be to
/// be offered as the same problem.
pub const DUPLICATE_METRES: f64 = 150.0;
pub const DUPLICATE_DAYS: i64 = 7;

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Đã tiếp nhận: filed and routed, not yet taken up.
    Received,
    /// Đang xử lý.
    InProgress,
    /// Đã trả lời: the agency answered; closed.
    Answered,
    /// Đã gộp: the same problem as another report, followed there; closed.
    Merged,
    /// Không xử lý: abusive, or not a report; closed and never public.
    Rejected,
}

pub const ALL_STATUSES: [Status; 5] = [
    Status::Received,
    Status::InProgress,
    Status::Answered,
    Status::Merged,
    Status::Rejected,
];

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::InProgress => "in_progress",
            Status::Answered => "answered",
            Status::Merged => "merged",
            Status::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        ALL_STATUSES.into_iter().find(|x| x.as_str() == s)
    }
    pub fn is_open(self) -> bool {
        matches!(self, Status::Received | Status::InProgress)
    }
    /// The Open311 status: `open` or `closed`.
    pub fn open311(self) -> open311::Status {
        if self.is_open() {
            open311::Status::Open
        } else {
            open311::Status::Closed
        }
    }
    pub fn label(self, vi: bool) -> &'static str {
        match (self, vi) {
            (Status::Received, true) => "Đã tiếp nhận",
            (Status::InProgress, true) => "Đang xử lý",
            (Status::Answered, true) => "Đã trả lời",
            (Status::Merged, true) => "Đã gộp với phản ánh khác",
            (Status::Rejected, true) => "Không xử lý",
            (Status::Received, false) => "Received",
            (Status::InProgress, false) => "In progress",
            (Status::Answered, false) => "Answered",
            (Status::Merged, false) => "Merged into another report",
            (Status::Rejected, false) => "Not taken up",
        }
    }
}

/// What an official or the reporter does to a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    /// Take it up (received → in progress).
    Start,
    /// A public note of progress; the status stays.
    Note,
    /// The answer: closes the report.
    Answer,
    /// Release a report held for review: it becomes public.
    Approve,
    /// Refuse a report (abusive, or not a report): closed, never public.
    Reject,
    /// The same problem as another open report: closed here, followed there.
    Merge,
    /// Hand it to another agency.
    Transfer,
    /// The reporter finds the answer wanting: open again.
    Reopen,
    /// Hide one photo from the public (a face, a number plate).
    HidePhoto,
}

impl Act {
    pub fn as_str(self) -> &'static str {
        match self {
            Act::Start => "start",
            Act::Note => "note",
            Act::Answer => "answer",
            Act::Approve => "approve",
            Act::Reject => "reject",
            Act::Merge => "merge",
            Act::Transfer => "transfer",
            Act::Reopen => "reopen",
            Act::HidePhoto => "hide_photo",
        }
    }
    pub fn parse(s: &str) -> Option<Act> {
        [
            Act::Start,
            Act::Note,
            Act::Answer,
            Act::Approve,
            Act::Reject,
            Act::Merge,
            Act::Transfer,
            Act::Reopen,
            Act::HidePhoto,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
    /// Whether the reporter (rather than the agency) does it.
    pub fn by_reporter(self) -> bool {
        self == Act::Reopen
    }
}

/// A move refused, with why (Vietnamese, English).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub vi: String,
    pub en: String,
}

fn no(vi: impl Into<String>, en: impl Into<String>) -> Refusal {
    Refusal {
        vi: vi.into(),
        en: en.into(),
    }
}

/// What a report is, for deciding a move.
#[derive(Debug, Clone, Copy)]
pub struct State {
    pub status: Status,
    pub held: bool,
    pub answered_at: Option<DateTime<Utc>>,
    pub reopens: i64,
}

/// The status after `act`, or why it cannot be done now.
pub fn next(state: State, act: Act, now: DateTime<Utc>) -> Result<Status, Refusal> {
    let s = state.status;
    let closed = || {
        no(
            format!("Phản ánh đã đóng ({})", s.label(true)),
            format!("The report is closed ({})", s.label(false)),
        )
    };
    match act {
        Act::Start => match s {
            Status::Received if state.held => Err(no(
                "Phản ánh đang chờ kiểm duyệt: hãy duyệt hoặc từ chối trước",
                "The report is held for review: approve or reject it first",
            )),
            Status::Received => Ok(Status::InProgress),
            Status::InProgress => Err(no(
                "Phản ánh đang được xử lý",
                "The report is already in progress",
            )),
            _ => Err(closed()),
        },
        // A photo may be hidden whatever the status; a note or a hand-over needs it open.
        Act::HidePhoto => Ok(s),
        Act::Note | Act::Transfer => {
            if s.is_open() {
                Ok(s)
            } else {
                Err(closed())
            }
        }
        Act::Answer | Act::Merge => {
            if !s.is_open() {
                Err(closed())
            } else if state.held {
                Err(no(
                    "Phản ánh đang chờ kiểm duyệt: hãy duyệt hoặc từ chối trước",
                    "The report is held for review: approve or reject it first",
                ))
            } else if act == Act::Answer {
                Ok(Status::Answered)
            } else {
                Ok(Status::Merged)
            }
        }
        Act::Approve => {
            if state.held && s.is_open() {
                Ok(s)
            } else {
                Err(no(
                    "Phản ánh không ở trạng thái chờ kiểm duyệt",
                    "The report is not held for review",
                ))
            }
        }
        Act::Reject => {
            if s.is_open() {
                Ok(Status::Rejected)
            } else {
                Err(closed())
            }
        }
        Act::Reopen => {
            if s != Status::Answered {
                return Err(no(
                    "Chỉ mở lại được phản ánh đã được trả lời",
                    "Only an answered report can be reopened",
                ));
            }
            if state.reopens >= MAX_REOPENS {
                return Err(no(
                    format!("Phản ánh đã được mở lại {MAX_REOPENS} lần, không mở lại được nữa"),
                    format!("The report was reopened {MAX_REOPENS} times already"),
                ));
            }
            match state.answered_at {
                Some(a) if now - a <= chrono::Duration::days(REOPEN_DAYS) => Ok(Status::InProgress),
                _ => Err(no(
                    format!("Đã quá {REOPEN_DAYS} ngày kể từ khi trả lời: hãy gửi phản ánh mới"),
                    format!(
                        "More than {REOPEN_DAYS} days passed since the answer: file a new report"
                    ),
                )),
            }
        }
    }
}

/// A place, in WGS 84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
}

impl Point {
    /// A point if both numbers are finite and in range.
    pub fn new(lat: f64, lon: f64) -> Option<Point> {
        (lat.is_finite()
            && lon.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lon))
        .then_some(Point { lat, lon })
    }
}

/// Great-circle distance in metres.
pub fn distance_m(a: Point, b: Point) -> f64 {
    const R: f64 = 6_371_008.8;
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dp = p2 - p1;
    let dl = (b.lon - a.lon).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

/// The degrees of latitude and longitude around `p` that hold every point within `metres`.
pub fn box_around(p: Point, metres: f64) -> (f64, f64, f64, f64) {
    let dlat = metres / 111_320.0;
    let dlon = metres / (111_320.0 * p.lat.to_radians().cos().abs().max(0.01));
    (p.lat - dlat, p.lat + dlat, p.lon - dlon, p.lon + dlon)
}

/// An area as GeoJSON MultiPolygon coordinates: polygons, each a list of rings (the outer
/// ring, then holes), each ring a list of `[longitude, latitude]`.
pub type Polygons = Vec<Vec<Vec<[f64; 2]>>>;

/// Reads a GeoJSON geometry (`Polygon` or `MultiPolygon`, or a `Feature` holding one) into
/// polygons, checking every position and ring.
pub fn parse_geometry(v: &serde_json::Value) -> Result<Polygons, Refusal> {
    let v = if v.get("type").and_then(|t| t.as_str()) == Some("Feature") {
        v.get("geometry").unwrap_or(&serde_json::Value::Null)
    } else {
        v
    };
    let kind = v.get("type").and_then(|t| t.as_str()).unwrap_or("");
    let coords = v
        .get("coordinates")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    let polys: Polygons = match kind {
        "Polygon" => {
            vec![serde_json::from_value(coords).map_err(|e| bad_geometry(&e.to_string()))?]
        }
        "MultiPolygon" => {
            serde_json::from_value(coords).map_err(|e| bad_geometry(&e.to_string()))?
        }
        _ => {
            return Err(no(
                "Vùng phải là hình học GeoJSON kiểu Polygon hoặc MultiPolygon",
                "The area must be a GeoJSON Polygon or MultiPolygon geometry",
            ));
        }
    };
    if polys.is_empty() || polys.len() > 500 {
        return Err(bad_geometry("1 to 500 polygons"));
    }
    let mut points = 0usize;
    for poly in &polys {
        if poly.is_empty() {
            return Err(bad_geometry("a polygon without rings"));
        }
        for ring in poly {
            if ring.len() < 4 {
                return Err(bad_geometry("a ring needs at least 4 positions"));
            }
            if ring.first() != ring.last() {
                return Err(bad_geometry("a ring must end where it starts"));
            }
            points += ring.len();
            if ring.iter().any(|[x, y]| Point::new(*y, *x).is_none()) {
                return Err(bad_geometry(
                    "a position is outside longitude −180..180 / latitude −90..90",
                ));
            }
        }
    }
    if points > 200_000 {
        return Err(bad_geometry("at most 200,000 positions"));
    }
    Ok(polys)
}

fn bad_geometry(why: &str) -> Refusal {
    no(
        format!("Hình học của vùng không hợp lệ: {why}"),
        format!("The area's geometry is invalid: {why}"),
    )
}

/// The bounding box of polygons: (min lat, max lat, min lon, max lon).
pub fn bounds(polys: &Polygons) -> (f64, f64, f64, f64) {
    let mut b = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for [x, y] in polys.iter().flat_map(|p| p.iter()).flat_map(|r| r.iter()) {
        b.0 = b.0.min(*y);
        b.1 = b.1.max(*y);
        b.2 = b.2.min(*x);
        b.3 = b.3.max(*x);
    }
    b
}

/// Whether `p` lies inside any polygon (even–odd over a polygon's rings, so holes are out).
pub fn contains(polys: &Polygons, p: Point) -> bool {
    polys.iter().any(|poly| {
        let mut inside = false;
        for ring in poly {
            for w in ring.windows(2) {
                let ([x1, y1], [x2, y2]) = (w[0], w[1]);
                if (y1 > p.lat) != (y2 > p.lat) {
                    let x = x1 + (p.lat - y1) * (x2 - x1) / (y2 - y1);
                    if p.lon < x {
                        inside = !inside;
                    }
                }
            }
        }
        inside
    })
}

const HIDDEN: &str = "[đã ẩn]";

static PERSONAL: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // E-mail addresses.
        r"(?i)[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}",
        // Phone numbers: 0 or +84 then 8 to 10 digits, spaces, dots or dashes between.
        r"(?:\+84|\b0)(?:[ .-]?\d){8,10}\b",
        // Identity card numbers: 12 digits (CCCD) or 9 (old CMND).
        r"\b\d{12}\b",
        r"\b\d{9}\b",
    ]
    .iter()
    .filter_map(|p| Regex::new(p).ok())
    .collect()
});

/// The public text of a report: e-mail addresses, phone and identity numbers, and the
/// reporter's own name replaced by “[đã ẩn]”.
pub fn mask_personal(text: &str, names: &[&str]) -> String {
    let mut out = text.to_string();
    for re in PERSONAL.iter() {
        out = re.replace_all(&out, HIDDEN).into_owned();
    }
    for name in names {
        let name = name.trim();
        if name.chars().count() < 5 {
            continue;
        }
        if let Ok(re) = Regex::new(&format!("(?i){}", regex::escape(name))) {
            out = re.replace_all(&out, HIDDEN).into_owned();
        }
    }
    out
}

/// Words that hold a report for review when written (lower case, with their marks): insults
/// and their common abbreviations.
const ABUSIVE: &[&str] = &[
    "địt", "đụ", "lồn", "cặc", "buồi", "đéo", "đĩ", "đm", "đmm", "đcm", "dcm", "dm", "dmm", "vcl",
    "vkl", "vl", "clgt", "cmm", "cmn", "fuck", "shit",
];

/// Why a text should wait for a moderator before it is public, if it should.
pub fn hold_reason(text: &str) -> Option<Refusal> {
    let words = kernel::text::words(text);
    if let Some(w) = words.iter().find(|w| ABUSIVE.contains(&w.exact.as_str())) {
        return Some(no(
            format!("Có từ ngữ thiếu văn hóa (“{}”)", w.exact),
            format!("Contains abusive language (“{}”)", w.exact),
        ));
    }
    let links = text.matches("http://").count() + text.matches("https://").count();
    if links > 2 {
        return Some(no(
            format!("Có {links} đường liên kết"),
            format!("Contains {links} links"),
        ));
    }
    None
}

/// The folded words of texts, space-separated with a space at each end, so that a word is
/// found with `LIKE '% word %'`.
pub fn search_fold(texts: &[&str]) -> String {
    let mut out = String::from(" ");
    for t in texts {
        for w in kernel::text::words(t) {
            out.push_str(&w.folded);
            out.push(' ');
        }
    }
    out
}

/// The words of a query, folded as [`search_fold`] folds texts (at most eight, no
/// duplicates).
pub fn query_words(q: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in kernel::text::words(q) {
        if !out.contains(&w.folded) && out.len() < 8 {
            out.push(w.folded);
        }
    }
    out
}

/// The end of the working day `days` working days after `from` (local time, office close).
pub fn due(calendar: &Calendar, from: DateTime<Utc>, days: u16) -> DateTime<Utc> {
    let local = kernel::clock::to_local(from);
    let day = calendar.add_working_days(local.date(), days);
    let close = calendar
        .hours()
        .sessions()
        .last()
        .map(|(_, end)| *end)
        .unwrap_or_else(|| NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default());
    kernel::clock::from_local(day.and_time(close))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn state(status: Status) -> State {
        State {
            status,
            held: false,
            answered_at: None,
            reopens: 0,
        }
    }

    #[test]
    fn the_lifecycle_moves_forward_only() {
        let now = Utc
            .with_ymd_and_hms(2026, 3, 2, 2, 0, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(
            next(state(Status::Received), Act::Start, now),
            Ok(Status::InProgress)
        );
        assert!(next(state(Status::InProgress), Act::Start, now).is_err());
        assert_eq!(
            next(state(Status::InProgress), Act::Answer, now),
            Ok(Status::Answered)
        );
        assert_eq!(
            next(state(Status::Received), Act::Answer, now),
            Ok(Status::Answered)
        );
        assert!(next(state(Status::Answered), Act::Answer, now).is_err());
        assert!(next(state(Status::Merged), Act::Note, now).is_err());
        assert!(next(state(Status::Rejected), Act::Reopen, now).is_err());
        assert_eq!(
            next(state(Status::Received), Act::Merge, now),
            Ok(Status::Merged)
        );
        assert_eq!(
            next(state(Status::InProgress), Act::Reject, now),
            Ok(Status::Rejected)
        );
    }

    #[test]
    fn a_held_report_must_be_reviewed_first() {
        let now = Utc::now();
        let held = State {
            held: true,
            ..state(Status::Received)
        };
        assert!(next(held, Act::Start, now).is_err());
        assert!(next(held, Act::Answer, now).is_err());
        assert_eq!(next(held, Act::Approve, now), Ok(Status::Received));
        assert_eq!(next(held, Act::Reject, now), Ok(Status::Rejected));
        assert!(next(state(Status::Received), Act::Approve, now).is_err());
    }

    #[test]
    fn reopening_has_a_window_and_a_limit() {
        let answered = Utc
            .with_ymd_and_hms(2026, 3, 2, 2, 0, 0)
            .single()
            .unwrap_or_default();
        let s = State {
            answered_at: Some(answered),
            ..state(Status::Answered)
        };
        assert_eq!(
            next(s, Act::Reopen, answered + chrono::Duration::days(3)),
            Ok(Status::InProgress)
        );
        assert!(
            next(
                s,
                Act::Reopen,
                answered + chrono::Duration::days(REOPEN_DAYS + 1)
            )
            .is_err()
        );
        let worn = State {
            reopens: MAX_REOPENS,
            ..s
        };
        assert!(next(worn, Act::Reopen, answered).is_err());
    }

    #[test]
    fn distances_are_in_metres() {
        let hue = Point {
            lat: 16.4637,
            lon: 107.5909,
        };
        let near = Point {
            lat: 16.4646,
            lon: 107.5909,
        };
        let d = distance_m(hue, near);
        assert!((d - 100.0).abs() < 2.0, "{d}");
        let hanoi = Point {
            lat: 21.0285,
            lon: 105.8542,
        };
        let d = distance_m(hue, hanoi) / 1000.0;
        assert!((530.0..550.0).contains(&d), "{d}");
        let (a, b, c, e) = box_around(hue, 150.0);
        for (lat, lon) in [(a, hue.lon), (b, hue.lon), (hue.lat, c), (hue.lat, e)] {
            let d = distance_m(hue, Point { lat, lon });
            assert!((d - 150.0).abs() < 1.0, "{d}");
        }
    }

    #[test]
    fn coordinates_out_of_range_are_not_points() {
        assert!(Point::new(91.0, 0.0).is_none());
        assert!(Point::new(0.0, -180.5).is_none());
        assert!(Point::new(f64::NAN, 0.0).is_none());
        assert!(Point::new(16.46, 107.59).is_some());
    }

    #[test]
    fn areas_hold_their_inside_and_not_their_holes() {
        let geo = serde_json::json!({"type": "Polygon", "coordinates": [
            [[107.0, 16.0], [108.0, 16.0], [108.0, 17.0], [107.0, 17.0], [107.0, 16.0]],
            [[107.4, 16.4], [107.6, 16.4], [107.6, 16.6], [107.4, 16.6], [107.4, 16.4]]
        ]});
        let p = parse_geometry(&geo).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(contains(
            &p,
            Point {
                lat: 16.2,
                lon: 107.2
            }
        ));
        assert!(!contains(
            &p,
            Point {
                lat: 16.5,
                lon: 107.5
            }
        ));
        assert!(!contains(
            &p,
            Point {
                lat: 18.0,
                lon: 107.5
            }
        ));
        assert_eq!(bounds(&p), (16.0, 17.0, 107.0, 108.0));
        for bad in [
            serde_json::json!({"type": "Point", "coordinates": [1, 2]}),
            serde_json::json!({"type": "Polygon", "coordinates": [[[1, 2], [3, 4], [1, 2]]]}),
            serde_json::json!({"type": "Polygon", "coordinates": [[[1, 2], [3, 4], [5, 6], [7, 8]]]}),
            serde_json::json!({"type": "Polygon", "coordinates": [[[1, 200], [3, 4], [5, 6], [1, 200]]]}),
            serde_json::json!({"type": "Polygon", "coordinates": "x"}),
        ] {
            assert!(parse_geometry(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn personal_data_is_hidden_from_the_public() {
        let t = "Tôi là Nguyễn Văn An, gọi 0912 345 678 hoặc +84912345678, email an.nv@example.vn, CCCD 001099012345. Ổ gà sâu 20cm ở số 12.";
        let m = mask_personal(t, &["Nguyễn Văn An"]);
        for gone in ["0912", "+8491", "an.nv@", "001099012345", "Nguyễn Văn An"] {
            assert!(!m.contains(gone), "{gone} in {m}");
        }
        assert!(m.contains("Ổ gà sâu 20cm ở số 12"), "{m}");
        assert!(m.contains(HIDDEN));
    }

    #[test]
    fn abusive_words_and_link_spam_are_held() {
        assert!(hold_reason("Đường hỏng lâu rồi đm không ai sửa").is_some());
        assert!(hold_reason("Đường hỏng lâu rồi, đề nghị sửa gấp").is_none());
        // Folding would make "lớn" an insult; the list is matched with its marks.
        assert!(hold_reason("Ổ gà lớn giữa đường").is_none());
        assert!(hold_reason("xem https://a.vn https://b.vn https://c.vn").is_some());
    }

    #[test]
    fn folded_search_words_meet() {
        let f = search_fold(&["Đăng ký khai sinh", "Ổ gà"]);
        for w in query_words("dang ki o ga") {
            assert!(f.contains(&format!(" {w} ")), "{w} in {f}");
        }
        assert_eq!(query_words("a a b").len(), 2);
    }

    #[test]
    fn deadlines_skip_weekends_and_end_at_closing_time() {
        let cal = Calendar::weekdays_only();
        // Friday 2026-03-06 10:00 in Vietnam.
        let from = Utc
            .with_ymd_and_hms(2026, 3, 6, 3, 0, 0)
            .single()
            .unwrap_or_default();
        let d = kernel::clock::to_local(due(&cal, from, 1));
        assert_eq!(
            d.date(),
            chrono::NaiveDate::from_ymd_opt(2026, 3, 9).unwrap_or_default()
        );
    }
}
