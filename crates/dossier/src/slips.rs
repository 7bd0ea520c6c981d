//! Printable slips: A4 PDFs in Vietnamese, made on the server from a dossier and its events.
//!
//! The one-stop forms (Circular 01/2018/TT-VPCP, and from 1 July 2025 Circular 03/2025/TT-VPCP):
//! the receipt and appointment slip, the supplement request, the refusal, the apology with a new
//! date, the notice that stops handling, and the process control slip. A slip exists only when
//! the dossier's history makes it meaningful: there is no refusal slip for a dossier that was
//! not refused. The same layout prints the signed result (see [`crate::signing`]).
//!
//! Layout is done first, into pages of positioned text and filled rectangles, with the fonts'
//! own advance widths for wrapping; krilla then writes the PDF, embedding a subset of DejaVu
//! Sans (which has every Vietnamese glyph).

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use identity::Principal;
use kernel::clock::to_local;
use kernel::on_db;

use crate::{Channel, Dossier, DossierError, Dossiers, Event, Status};

type Result<T, E = DossierError> = std::result::Result<T, E>;

const REGULAR: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

/// A4, in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const LEFT: f32 = 70.0;
const RIGHT: f32 = 50.0;
const TOP: f32 = 50.0;
const BOTTOM: f32 = 60.0;
const WIDTH: f32 = PAGE_W - LEFT - RIGHT;
const BODY: f32 = 10.5;

/// The slips a dossier may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlipKind {
    /// Giấy tiếp nhận hồ sơ và hẹn trả kết quả.
    Receipt,
    /// Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ.
    Supplement,
    /// Phiếu từ chối tiếp nhận giải quyết hồ sơ.
    Refusal,
    /// Phiếu xin lỗi và hẹn lại ngày trả kết quả.
    Apology,
    /// Thông báo dừng giải quyết hồ sơ.
    Stop,
    /// Phiếu kiểm soát quá trình giải quyết hồ sơ.
    Control,
}

impl SlipKind {
    pub const ALL: [SlipKind; 6] = [
        SlipKind::Receipt,
        SlipKind::Supplement,
        SlipKind::Refusal,
        SlipKind::Apology,
        SlipKind::Stop,
        SlipKind::Control,
    ];

    pub fn parse(s: &str) -> Option<SlipKind> {
        SlipKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SlipKind::Receipt => "receipt",
            SlipKind::Supplement => "supplement",
            SlipKind::Refusal => "refusal",
            SlipKind::Apology => "apology",
            SlipKind::Stop => "stop",
            SlipKind::Control => "control",
        }
    }

    /// The slip's title, as printed.
    pub fn title(self) -> &'static str {
        match self {
            SlipKind::Receipt => "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
            SlipKind::Supplement => "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ",
            SlipKind::Refusal => "Phiếu từ chối tiếp nhận giải quyết hồ sơ",
            SlipKind::Apology => "Phiếu xin lỗi và hẹn lại ngày trả kết quả",
            SlipKind::Stop => "Thông báo dừng giải quyết hồ sơ",
            SlipKind::Control => "Phiếu kiểm soát quá trình giải quyết hồ sơ",
        }
    }

    /// The slip's name in English, for pages shown in English.
    pub fn title_en(self) -> &'static str {
        match self {
            SlipKind::Receipt => "Receipt and appointment slip",
            SlipKind::Supplement => "Supplement request",
            SlipKind::Refusal => "Refusal",
            SlipKind::Apology => "Apology with a new date",
            SlipKind::Stop => "Notice stopping the handling",
            SlipKind::Control => "Process control slip",
        }
    }

    /// The last event that issued this slip, if any (the receipt and the control slip exist
    /// from the receipt on).
    fn event(self, d: &Dossier) -> Option<&Event> {
        let action = match self {
            SlipKind::Receipt | SlipKind::Control => "receive",
            SlipKind::Supplement => "request_supplement",
            SlipKind::Refusal => "refuse",
            SlipKind::Apology => "apologize",
            SlipKind::Stop => "stop",
        };
        d.events.iter().rev().find(|e| e.action == action)
    }
}

/// The slips a dossier has, in the order they are listed.
pub fn available(d: &Dossier) -> Vec<SlipKind> {
    SlipKind::ALL
        .into_iter()
        .filter(|k| k.event(d).is_some())
        .collect()
}

// ----- what a sheet says, before layout -----

/// One block of a sheet's body.
#[derive(Debug, Clone)]
pub enum Block {
    /// A paragraph, wrapped to the width.
    Para(String),
    /// `Label: value`, the label in bold.
    Field(String, String),
    /// A bold line.
    Heading(String),
    /// An item of a list, with a hanging indent.
    Item(String),
    /// A table with borders: each column's share of the width, the header, the rows.
    Table {
        widths: Vec<f32>,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A QR code of `url`, with a caption beside it.
    Qr { url: String, caption: String },
    /// Some space.
    Gap,
}

/// A printed sheet: the national header, the agency, a title, the body and the signatures.
#[derive(Debug, Clone)]
pub struct Sheet {
    /// The agency above (cơ quan chủ quản), if any.
    pub parent: Option<String>,
    pub agency: String,
    pub date: NaiveDate,
    pub title: String,
    pub subtitle: Option<String>,
    pub blocks: Vec<Block>,
    /// Signature blocks side by side: a heading, a note under it, and the name.
    pub signatures: Vec<(String, String, String)>,
    /// Repeated at the foot of every page.
    pub footer: String,
    /// The PDF's title in its metadata (readers show it; searching tools find it).
    pub meta_title: String,
    pub keywords: Vec<String>,
    pub created: DateTime<Utc>,
}

// ----- layout -----

struct Face {
    pdf: krilla::text::Font,
    metrics: skrifa::metrics::GlyphMetrics<'static>,
    charmap: skrifa::charmap::Charmap<'static>,
}

impl Face {
    fn load(bytes: &'static [u8]) -> Option<Face> {
        use skrifa::MetadataProvider;
        let f = skrifa::FontRef::new(bytes).ok()?;
        Some(Face {
            pdf: krilla::text::Font::new(bytes.into(), 0)?,
            metrics: f.glyph_metrics(
                skrifa::instance::Size::new(1.0),
                skrifa::instance::LocationRef::default(),
            ),
            charmap: f.charmap(),
        })
    }

    /// The width of `s` at `size` points.
    fn width(&self, s: &str, size: f32) -> f32 {
        s.chars()
            .map(|c| {
                self.charmap
                    .map(c)
                    .and_then(|g| self.metrics.advance_width(g))
                    .unwrap_or(0.6)
            })
            .sum::<f32>()
            * size
    }
}

struct Faces {
    regular: Face,
    bold: Face,
}

fn faces() -> Result<&'static Faces> {
    static FACES: OnceLock<Option<Faces>> = OnceLock::new();
    FACES
        .get_or_init(|| {
            Some(Faces {
                regular: Face::load(REGULAR)?,
                bold: Face::load(BOLD)?,
            })
        })
        .as_ref()
        .ok_or_else(|| DossierError::Storage("the embedded fonts cannot be read".into()))
}

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
    },
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
}

/// Breaks `text` into lines: the first at most `first` wide, the others `rest`. A word
/// longer than a line is cut.
fn wrap(face: &Face, size: f32, text: &str, first: f32, rest: f32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let limit = if lines.is_empty() { first } else { rest };
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if face.width(&candidate, size) <= limit {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone: cut it where it overflows.
            let limit = if lines.is_empty() { first } else { rest };
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if face.width(&piece, size) > limit && piece.chars().count() > 1 {
                    piece.pop();
                    lines.push(std::mem::take(&mut piece));
                    piece.push(c);
                }
            }
            line = piece;
        }
        lines.push(line);
    }
    lines
}

struct Layout<'f> {
    faces: &'f Faces,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl<'f> Layout<'f> {
    fn face(&self, bold: bool) -> &'f Face {
        if bold {
            &self.faces.bold
        } else {
            &self.faces.regular
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Starts a new page when `h` more points do not fit on this one.
    fn room(&mut self, h: f32) {
        if self.y + h > PAGE_H - BOTTOM && self.y > TOP {
            self.pages.push(Vec::new());
            self.y = TOP;
        }
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        if !text.is_empty() {
            self.ops().push(Op::Text {
                x,
                y,
                size,
                bold,
                text: text.to_string(),
            });
        }
    }

    fn fill(&mut self, x: f32, y: f32, w: f32, h: f32) {
        self.ops().push(Op::Fill { x, y, w, h });
    }

    /// Lines centred in the column `[x, x + w]`, from the current height.
    fn centred(&mut self, x: f32, w: f32, size: f32, bold: bool, text: &str) -> f32 {
        let face = self.face(bold);
        let mut y = self.y;
        for line in wrap(face, size, text, w, w) {
            y += size * 1.3;
            let lw = face.width(&line, size);
            self.text(x + (w - lw).max(0.0) / 2.0, y, size, bold, &line);
        }
        y
    }

    /// A paragraph: `lead` (bold, may be empty) then `text`, wrapped; later lines start at
    /// `indent` from the margin.
    fn para(&mut self, lead: &str, text: &str, indent: f32, size: f32) {
        let line_h = size * 1.45;
        let lead_w = if lead.is_empty() {
            0.0
        } else {
            self.faces.bold.width(&format!("{lead} "), size)
        };
        let lines = wrap(
            &self.faces.regular,
            size,
            text,
            (WIDTH - lead_w).max(40.0),
            WIDTH - indent,
        );
        for (i, line) in lines.iter().enumerate() {
            self.room(line_h);
            self.y += line_h;
            let y = self.y;
            if i == 0 {
                if !lead.is_empty() {
                    self.text(LEFT, y, size, true, lead);
                }
                self.text(LEFT + lead_w, y, size, false, line);
            } else {
                self.text(LEFT + indent, y, size, false, line);
            }
        }
    }

    fn table(&mut self, widths: &[f32], header: &[String], rows: &[Vec<String>]) {
        const SIZE: f32 = 8.5;
        const PAD: f32 = 3.0;
        let total: f32 = widths.iter().sum::<f32>().max(f32::EPSILON);
        let cols: Vec<f32> = widths.iter().map(|w| w / total * WIDTH).collect();
        let line_h = SIZE * 1.35;
        let draw_row = |l: &mut Layout<'_>, cells: &[String], bold: bool| {
            let face = l.face(bold);
            let wrapped: Vec<Vec<String>> = cols
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let t = cells.get(i).map(String::as_str).unwrap_or("");
                    wrap(face, SIZE, t, w - 2.0 * PAD, w - 2.0 * PAD)
                })
                .collect();
            let n = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
            let h = n as f32 * line_h + 2.0 * PAD;
            l.room(h);
            let top = l.y;
            let mut x = LEFT;
            for (i, lines) in wrapped.iter().enumerate() {
                for (j, line) in lines.iter().enumerate() {
                    l.text(
                        x + PAD,
                        top + PAD + (j as f32 + 1.0) * line_h - 2.0,
                        SIZE,
                        bold,
                        line,
                    );
                }
                l.fill(x, top, 0.5, h);
                x += cols[i];
            }
            l.fill(x, top, 0.5, h);
            l.fill(LEFT, top, WIDTH, 0.5);
            l.fill(LEFT, top + h, WIDTH, 0.5);
            l.y = top + h;
        };
        draw_row(self, header, true);
        for r in rows {
            draw_row(self, r, false);
        }
    }

    fn qr(&mut self, url: &str, caption: &str) -> Result<()> {
        let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
            .map_err(|e| DossierError::Storage(format!("QR code: {e}")))?;
        let n = code.width();
        let size = 96.0;
        let quiet = 4.0;
        let module = size / (n as f32 + 2.0 * quiet);
        self.room(size + 6.0);
        let top = self.y + 6.0;
        let colors = code.to_colors();
        for row in 0..n {
            let mut col = 0;
            while col < n {
                if colors[row * n + col] == qrcode::Color::Dark {
                    let start = col;
                    while col < n && colors[row * n + col] == qrcode::Color::Dark {
                        col += 1;
                    }
                    self.fill(
                        LEFT + (quiet + start as f32) * module,
                        top + (quiet + row as f32) * module,
                        (col - start) as f32 * module + 0.05,
                        module + 0.05,
                    );
                } else {
                    col += 1;
                }
            }
        }
        let x = LEFT + size + 10.0;
        let w = WIDTH - size - 10.0;
        let mut y = top + 20.0;
        for line in wrap(&self.faces.regular, 9.0, caption, w, w) {
            self.text(x, y, 9.0, false, &line);
            y += 12.5;
        }
        self.y = top + size;
        Ok(())
    }

    fn signatures(&mut self, blocks: &[(String, String, String)]) {
        if blocks.is_empty() {
            return;
        }
        self.room(110.0);
        self.y += 16.0;
        let start = self.y;
        let n = blocks.len() as f32;
        let col = WIDTH / n;
        let mut bottom = start;
        for (i, (heading, note, name)) in blocks.iter().enumerate() {
            // With one block, it stands on the right, where signatures go.
            let x = if blocks.len() == 1 {
                LEFT + WIDTH / 2.0
            } else {
                LEFT + i as f32 * col
            };
            let w = if blocks.len() == 1 { WIDTH / 2.0 } else { col };
            self.y = start;
            self.y = self.centred(x, w, BODY, true, heading);
            self.y = self.centred(x, w, 8.5, false, note);
            self.y += 42.0;
            self.y = self.centred(x, w, BODY, true, name);
            bottom = bottom.max(self.y);
        }
        self.y = bottom;
    }
}

fn lay_out(sheet: &Sheet) -> Result<Vec<Vec<Op>>> {
    let faces = faces()?;
    let mut l = Layout {
        faces,
        pages: vec![Vec::new()],
        y: TOP,
    };
    // The header: the agency on the left, the national motto on the right, each underlined.
    let left_w = WIDTH * 0.42;
    let right_x = LEFT + WIDTH * 0.42;
    let right_w = WIDTH * 0.58;
    if let Some(p) = &sheet.parent {
        l.y = l.centred(LEFT, left_w, 9.5, false, &p.to_uppercase());
    }
    let y_left = l.centred(LEFT, left_w, 9.5, true, &sheet.agency.to_uppercase());
    l.fill(LEFT + left_w * 0.3, y_left + 4.0, left_w * 0.4, 0.6);
    l.y = TOP;
    let motto = "Độc lập - Tự do - Hạnh phúc";
    let mut y_right = l.centred(
        right_x,
        right_w,
        9.5,
        true,
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    );
    l.y = y_right;
    y_right = l.centred(right_x, right_w, 10.0, true, motto);
    let mw = faces.bold.width(motto, 10.0);
    l.fill(right_x + (right_w - mw) / 2.0, y_right + 4.0, mw, 0.6);
    l.y = y_left.max(y_right) + 14.0;
    let date = format!(
        "Ngày {} tháng {} năm {}",
        sheet.date.format("%d"),
        sheet.date.format("%m"),
        sheet.date.format("%Y")
    );
    l.y += BODY * 1.4;
    let dw = faces.regular.width(&date, BODY);
    let y = l.y;
    l.text(LEFT + WIDTH - dw, y, BODY, false, &date);
    l.y += 16.0;
    l.y = l.centred(LEFT, WIDTH, 13.0, true, &sheet.title.to_uppercase());
    if let Some(s) = &sheet.subtitle {
        l.y += 2.0;
        l.y = l.centred(LEFT, WIDTH, BODY, false, s);
    }
    l.y += 12.0;
    for b in &sheet.blocks {
        match b {
            Block::Para(t) => l.para("", t, 0.0, BODY),
            Block::Field(label, value) => l.para(&format!("{label}:"), value, 14.0, BODY),
            Block::Heading(t) => {
                l.y += 4.0;
                l.room(BODY * 3.0);
                l.para(t, "", 0.0, BODY);
            }
            Block::Item(t) => {
                let lead_w = faces.regular.width("–  ", BODY);
                let lines = wrap(&faces.regular, BODY, t, WIDTH - lead_w, WIDTH - lead_w);
                for (i, line) in lines.iter().enumerate() {
                    l.room(BODY * 1.45);
                    l.y += BODY * 1.45;
                    let y = l.y;
                    if i == 0 {
                        l.text(LEFT + 4.0, y, BODY, false, "–");
                    }
                    l.text(LEFT + lead_w, y, BODY, false, line);
                }
            }
            Block::Table {
                widths,
                header,
                rows,
            } => {
                l.y += 6.0;
                l.table(widths, header, rows);
                l.y += 6.0;
            }
            Block::Qr { url, caption } => l.qr(url, caption)?,
            Block::Gap => l.y += BODY,
        }
    }
    l.signatures(&sheet.signatures);
    // Every page's foot: what it is and where it stands.
    let n = l.pages.len();
    for (i, page) in l.pages.iter_mut().enumerate() {
        let foot = format!("{} — Trang {}/{}", sheet.footer, i + 1, n);
        let w = faces.regular.width(&foot, 8.0);
        page.push(Op::Fill {
            x: LEFT,
            y: PAGE_H - BOTTOM + 18.0,
            w: WIDTH,
            h: 0.4,
        });
        page.push(Op::Text {
            x: LEFT + (WIDTH - w) / 2.0,
            y: PAGE_H - BOTTOM + 30.0,
            size: 8.0,
            bold: false,
            text: foot,
        });
    }
    Ok(l.pages)
}

/// Writes a sheet as a PDF.
pub fn render(sheet: &Sheet) -> Result<Vec<u8>> {
    use chrono::{Datelike, Timelike};
    use krilla::geom::{PathBuilder, Point, Rect};
    use krilla::metadata::{DateTime as PdfDate, Metadata};
    use krilla::page::PageSettings;
    use krilla::paint::Fill;
    use krilla::text::TextDirection;

    let pages = lay_out(sheet)?;
    let faces = faces()?;
    let mut doc = krilla::Document::new();
    let c = to_local(sheet.created);
    let created = PdfDate::new(u16::try_from(c.year()).unwrap_or(2026))
        .month(u8::try_from(c.month()).unwrap_or(1))
        .day(u8::try_from(c.day()).unwrap_or(1))
        .hour(u8::try_from(c.hour()).unwrap_or(0))
        .minute(u8::try_from(c.minute()).unwrap_or(0))
        .second(u8::try_from(c.second()).unwrap_or(0))
        .utc_offset_hour(7)
        .utc_offset_minute(0);
    doc.set_metadata(
        Metadata::new()
            .title(sheet.meta_title.clone())
            .language("vi".into())
            .creator("motcua".into())
            .producer("motcua".into())
            .authors(vec![sheet.agency.clone()])
            .keywords(sheet.keywords.clone())
            .creation_date(created),
    );
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
        .ok_or_else(|| DossierError::Storage("page size".into()))?;
    for ops in pages {
        let mut page = doc.start_page_with(settings.clone());
        let mut s = page.surface();
        s.set_fill(Some(Fill::default()));
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    bold,
                    text,
                } => {
                    let face = if bold { &faces.bold } else { &faces.regular };
                    s.draw_text(
                        Point::from_xy(x, y),
                        face.pdf.clone(),
                        size,
                        &text,
                        false,
                        TextDirection::Auto,
                    );
                }
                Op::Fill { x, y, w, h } => {
                    if let Some(r) = Rect::from_xywh(x, y, w, h) {
                        let mut pb = PathBuilder::new();
                        pb.push_rect(r);
                        if let Some(path) = pb.finish() {
                            s.draw_path(&path);
                        }
                    }
                }
            }
        }
        s.finish();
        page.finish();
    }
    doc.finish()
        .map_err(|e| DossierError::Storage(format!("PDF: {e:?}")))
}

// ----- the slips -----

/// What a slip needs besides the dossier.
pub(crate) struct Context<'a> {
    pub d: &'a Dossier,
    /// The agency the sheet speaks for, and its names.
    pub agency_code: &'a str,
    pub agency: String,
    pub parent: Option<String>,
    pub address: String,
    /// Officials' names, by actor (`account/<id>`).
    pub names: HashMap<String, String>,
    /// The node's public address, for the tracking link.
    pub public_url: &'a str,
    pub now: DateTime<Utc>,
}

pub(crate) fn day(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

pub(crate) fn when(t: DateTime<Utc>) -> String {
    to_local(t).format("%d/%m/%Y %H:%M").to_string()
}

fn reasons_of(e: &Event) -> Vec<String> {
    e.data
        .0
        .get("reasons")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn date_of(v: Option<&Value>) -> Option<NaiveDate> {
    v.and_then(Value::as_str)
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
}

fn time_of(v: Option<&Value>) -> Option<DateTime<Utc>> {
    v.and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

impl Context<'_> {
    fn code(&self) -> String {
        self.d.code.clone().unwrap_or_else(|| self.d.id.clone())
    }

    fn name_of(&self, actor: &str) -> String {
        self.names
            .get(actor)
            .cloned()
            .unwrap_or_else(|| actor.trim_start_matches("account/").to_string())
    }

    fn step_name(&self, id: Option<&str>) -> String {
        let Some(id) = id else {
            return String::new();
        };
        self.d
            .workflow
            .as_ref()
            .and_then(|w| w.step(id))
            .map(|s| s.name.clone())
            .unwrap_or_else(|| id.to_string())
    }

    /// The applicant, as the forms address them.
    fn applicant(&self) -> String {
        match &self.d.on_behalf_of {
            Some(t) => format!(
                "{} (cho doanh nghiệp mã số thuế {t})",
                self.d.applicant_name
            ),
            None => self.d.applicant_name.clone(),
        }
    }

    pub(crate) fn sheet(&self, title: &str, blocks: Vec<Block>) -> Sheet {
        let code = self.code();
        Sheet {
            parent: self.parent.clone(),
            agency: self.agency.clone(),
            date: to_local(self.now).date(),
            title: title.to_string(),
            subtitle: Some(format!("Mã hồ sơ: {code}")),
            blocks,
            signatures: Vec::new(),
            footer: format!("Hồ sơ {code}"),
            meta_title: format!("{title} — {code}"),
            keywords: vec![code],
            created: self.now,
        }
    }

    fn intro(&self) -> Vec<Block> {
        let mut b = vec![Block::Field("Người nộp hồ sơ".into(), self.applicant())];
        if let Some(c) = &self.d.applicant_cccd {
            b.push(Block::Field("Số định danh cá nhân".into(), c.clone()));
        }
        b.push(Block::Field(
            "Thủ tục hành chính".into(),
            format!("{} (mã {})", self.d.procedure_name, self.d.procedure_code),
        ));
        b
    }

    fn signer(&self, e: Option<&Event>, heading: &str) -> (String, String, String) {
        (
            heading.to_string(),
            "(Ký, ghi rõ họ tên)".to_string(),
            e.map(|e| self.name_of(&e.actor)).unwrap_or_default(),
        )
    }

    /// The slip of `kind`, or none when the dossier's history has no such slip.
    pub(crate) fn slip(&self, kind: SlipKind) -> Option<Sheet> {
        let e = kind.event(self.d)?;
        let d = self.d;
        let mut blocks = Vec::new();
        let mut signatures = Vec::new();
        match kind {
            SlipKind::Receipt => {
                blocks.push(Block::Para(format!(
                    "{} đã tiếp nhận hồ sơ của:",
                    self.agency
                )));
                blocks.extend(self.intro());
                blocks.push(Block::Field(
                    "Cách nộp".into(),
                    match d.channel {
                        Channel::Online => "Trực tuyến".into(),
                        Channel::Desk => "Trực tiếp tại Bộ phận một cửa".into(),
                    },
                ));
                blocks.push(Block::Heading("Thành phần hồ sơ đã nhận:".into()));
                if d.documents.is_empty() {
                    blocks.push(Block::Item("Không có giấy tờ kèm theo".into()));
                }
                for (i, doc) in d.documents.iter().enumerate() {
                    blocks.push(Block::Item(format!("{}. {}", i + 1, doc.name)));
                }
                blocks.push(Block::Field("Số lượng hồ sơ".into(), "01 bộ".into()));
                blocks.push(Block::Field(
                    "Thời hạn giải quyết theo quy định".into(),
                    format!("{} ngày làm việc", d.time_limit_days),
                ));
                blocks.push(Block::Field(
                    "Thời gian tiếp nhận".into(),
                    d.received_at.map(when).unwrap_or_else(|| when(e.at)),
                ));
                let due = date_of(e.data.0.get("appointment_date")).or(d.appointment_date);
                blocks.push(Block::Field(
                    "Thời gian hẹn trả kết quả".into(),
                    due.map(day).unwrap_or_default(),
                ));
                if !self.address.is_empty() {
                    blocks.push(Block::Field(
                        "Nơi trả kết quả".into(),
                        format!("Bộ phận một cửa, {}", self.address),
                    ));
                }
                let url = format!("{}/tra-cuu-ho-so?ma={}", self.public_url, self.code());
                blocks.push(Block::Gap);
                blocks.push(Block::Qr {
                    caption: format!(
                        "Tra cứu tình trạng hồ sơ bằng mã hồ sơ và 4 số cuối điện thoại (hoặc số định danh): quét mã QR hoặc truy cập {url}"
                    ),
                    url,
                });
                signatures.push((
                    "NGƯỜI NỘP HỒ SƠ".to_string(),
                    "(Ký, ghi rõ họ tên)".to_string(),
                    d.applicant_name.clone(),
                ));
                signatures.push(self.signer(Some(e), "NGƯỜI TIẾP NHẬN HỒ SƠ"));
            }
            SlipKind::Supplement => {
                blocks.push(Block::Para(format!(
                    "Ngày {}, {} đã tiếp nhận hồ sơ đề nghị giải quyết thủ tục hành chính của Ông/Bà {}.",
                    d.submitted_at.map(|t| day(to_local(t).date())).unwrap_or_default(),
                    self.agency,
                    self.applicant(),
                )));
                blocks.extend(self.intro());
                blocks.push(Block::Heading(
                    "Hồ sơ cần bổ sung, hoàn thiện những nội dung sau:".into(),
                ));
                for r in reasons_of(e) {
                    blocks.push(Block::Item(r));
                }
                if !e.comment.is_empty() {
                    blocks.push(Block::Field("Ghi chú".into(), e.comment.clone()));
                }
                let paused = e.from_status != Status::Submitted.as_str();
                blocks.push(Block::Para(if paused {
                    "Đề nghị Ông/Bà bổ sung, hoàn thiện hồ sơ theo các nội dung trên. Thời gian bổ sung, hoàn thiện hồ sơ không tính vào thời hạn giải quyết.".into()
                } else {
                    "Đề nghị Ông/Bà bổ sung, hoàn thiện hồ sơ theo các nội dung trên để được tiếp nhận, giải quyết. Hồ sơ chỉ được yêu cầu bổ sung một lần.".into()
                }));
                blocks.push(Block::Para(format!(
                    "Mọi vướng mắc, đề nghị liên hệ {} để được hướng dẫn.",
                    self.agency
                )));
                blocks.push(Block::Field("Thời gian lập phiếu".into(), when(e.at)));
                signatures.push(self.signer(Some(e), "NGƯỜI HƯỚNG DẪN"));
            }
            SlipKind::Refusal => {
                blocks.push(Block::Para(format!(
                    "{} đã nhận hồ sơ đề nghị giải quyết thủ tục hành chính của Ông/Bà {}.",
                    self.agency,
                    self.applicant()
                )));
                blocks.extend(self.intro());
                blocks.push(Block::Heading(
                    "Qua xem xét, cơ quan từ chối tiếp nhận, giải quyết hồ sơ với lý do cụ thể như sau:"
                        .into(),
                ));
                for r in reasons_of(e) {
                    blocks.push(Block::Item(r));
                }
                blocks.push(Block::Para(
                    "Xin thông báo để Ông/Bà được biết và thực hiện.".into(),
                ));
                blocks.push(Block::Field("Thời gian lập phiếu".into(), when(e.at)));
                signatures.push(self.signer(Some(e), "NGƯỜI TIẾP NHẬN HỒ SƠ"));
            }
            SlipKind::Apology => {
                let old = date_of(e.data.0.get("from")).or(d.extended_from);
                let new = date_of(e.data.0.get("to")).or(d.appointment_date);
                blocks.push(Block::Para(format!(
                    "Ngày {}, {} tiếp nhận giải quyết hồ sơ của Ông/Bà {}, hẹn trả kết quả ngày {}.",
                    d.received_at.map(|t| day(to_local(t).date())).unwrap_or_default(),
                    self.agency,
                    self.applicant(),
                    old.map(day).unwrap_or_default(),
                )));
                blocks.extend(self.intro());
                blocks.push(Block::Heading(
                    "Hồ sơ chưa được giải quyết đúng hạn. Lý do:".into(),
                ));
                for r in reasons_of(e) {
                    blocks.push(Block::Item(r));
                }
                blocks.push(Block::Para(format!(
                    "Sự chậm trễ này đã gây phiền hà cho Ông/Bà. {} thành thật xin lỗi Ông/Bà và hẹn lại ngày trả kết quả.",
                    self.agency
                )));
                blocks.push(Block::Field(
                    "Ngày hẹn trả kết quả trước đây".into(),
                    old.map(day).unwrap_or_default(),
                ));
                blocks.push(Block::Field(
                    "Ngày hẹn trả kết quả mới".into(),
                    new.map(day).unwrap_or_default(),
                ));
                blocks.push(Block::Para(
                    "Xin trân trọng cảm ơn sự hợp tác của Ông/Bà.".into(),
                ));
                signatures.push(self.signer(Some(e), "THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ"));
            }
            SlipKind::Stop => {
                blocks.push(Block::Para(format!(
                    "{} thông báo dừng giải quyết hồ sơ của Ông/Bà {}.",
                    self.agency,
                    self.applicant()
                )));
                blocks.extend(self.intro());
                blocks.push(Block::Field(
                    "Thời gian tiếp nhận".into(),
                    d.received_at.map(when).unwrap_or_default(),
                ));
                let step = e.data.0.get("step").and_then(Value::as_str);
                if step.is_some() {
                    blocks.push(Block::Field(
                        "Bước xử lý khi dừng".into(),
                        self.step_name(step),
                    ));
                }
                blocks.push(Block::Heading("Lý do dừng giải quyết:".into()));
                for r in reasons_of(e) {
                    blocks.push(Block::Item(r));
                }
                blocks.push(Block::Field("Thời gian dừng".into(), when(e.at)));
                blocks.push(Block::Para("Xin thông báo để Ông/Bà được biết.".into()));
                signatures.push(self.signer(Some(e), "THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ"));
            }
            SlipKind::Control => {
                blocks.extend(self.intro());
                blocks.push(Block::Field(
                    "Thời gian nhận hồ sơ".into(),
                    d.received_at.map(when).unwrap_or_else(|| when(e.at)),
                ));
                let mut due_line = d.appointment_date.map(day).unwrap_or_default();
                if let Some(old) = d.extended_from {
                    due_line = format!("{due_line} (hẹn lần đầu {})", day(old));
                }
                blocks.push(Block::Field("Thời gian hẹn trả kết quả".into(), due_line));
                blocks.push(Block::Heading("Quá trình giải quyết hồ sơ:".into()));
                blocks.push(Block::Table {
                    widths: vec![5.0, 27.0, 20.0, 16.0, 16.0, 16.0],
                    header: [
                        "TT",
                        "Bước: giao → nhận",
                        "Người giao",
                        "Thời gian giao",
                        "Hạn của bước",
                        "Kết quả",
                    ]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                    rows: self.control_rows(),
                });
                blocks.push(Block::Para(format!(
                    "Tình trạng hiện nay: {}.",
                    d.status.label(true)
                )));
                if let Some(o) = &d.outcome {
                    blocks.push(Block::Field(
                        "Kết quả trả so với ngày hẹn".into(),
                        match o.as_str() {
                            "early" => "Trước hạn".into(),
                            "on_time" => "Đúng hạn".into(),
                            "late" => "Quá hạn".into(),
                            other => other.to_string(),
                        },
                    ));
                }
            }
        }
        let mut sheet = self.sheet(kind.title(), blocks);
        sheet.signatures = signatures;
        // The form of the rules the dossier was received under (or, before receipt, of those
        // in force when the slip was issued).
        let rules = d
            .rules
            .as_deref()
            .and_then(crate::rules::by_id)
            .unwrap_or_else(|| {
                crate::rules::in_force(to_local(d.received_at.unwrap_or(e.at)).date())
            });
        if let Some(form) = rules.form_label(kind.as_str()) {
            sheet.footer = format!("{} · {form}", sheet.footer);
        }
        sheet.keywords.push(rules.id.clone());
        Some(sheet)
    }

    /// The process control slip's rows: every hand-over after the receipt, each with the step
    /// it left and the one it went to, who handed it over and when, the step's due time and
    /// whether it was on time. Pauses, apologies and stops are rows too.
    fn control_rows(&self) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut due: Option<DateTime<Utc>> = None;
        let mut step: Option<String> = None;
        let on_time = |e: &Event| match e.data.0.get("on_time").and_then(Value::as_bool) {
            Some(true) => "Đúng hạn".to_string(),
            Some(false) => "Quá hạn".to_string(),
            None => String::new(),
        };
        for e in &self.d.events {
            let data = &e.data.0;
            let (what, result) = match e.action.as_str() {
                "receive" => {
                    step = data.get("step").and_then(Value::as_str).map(str::to_string);
                    (
                        format!("Tiếp nhận → {}", self.step_name(step.as_deref())),
                        "Đã tiếp nhận".to_string(),
                    )
                }
                "forward" | "send_back" | "approve" | "reject" => {
                    let from = data.get("from_step").and_then(Value::as_str);
                    let to = data.get("to_step").and_then(Value::as_str);
                    let verb = match e.action.as_str() {
                        "send_back" => " (trả lại)",
                        "approve" => " (phê duyệt)",
                        "reject" => " (không giải quyết)",
                        _ => "",
                    };
                    (
                        format!("{} → {}{verb}", self.step_name(from), self.step_name(to)),
                        on_time(e),
                    )
                }
                "transfer" => {
                    let from = data.get("from_step").and_then(Value::as_str);
                    let to = data.get("to_step").and_then(Value::as_str);
                    let agency = data.get("to_agency").and_then(Value::as_str).unwrap_or("");
                    (
                        format!(
                            "{} → {} ({}) (chuyển liên thông)",
                            self.step_name(from),
                            self.step_name(to),
                            agency
                        ),
                        on_time(e),
                    )
                }
                "return" => (
                    format!(
                        "{} → Người nộp ({})",
                        self.step_name(step.as_deref()),
                        match data.get("method").and_then(Value::as_str) {
                            Some("post") => "bưu chính",
                            Some("online") => "trực tuyến",
                            _ => "tại quầy",
                        }
                    ),
                    on_time(e),
                ),
                "request_supplement" if e.from_status != Status::Submitted.as_str() => (
                    format!(
                        "{}: yêu cầu bổ sung, tạm dừng",
                        self.step_name(step.as_deref())
                    ),
                    "Tạm dừng".to_string(),
                ),
                "supplement" if data.get("paused_minutes").is_some() => (
                    format!("Người nộp bổ sung → {}", self.step_name(step.as_deref())),
                    "Tiếp tục".to_string(),
                ),
                "apologize" => (
                    format!(
                        "Xin lỗi, hẹn lại ngày trả: {}",
                        date_of(data.get("to")).map(day).unwrap_or_default()
                    ),
                    "Gia hạn".to_string(),
                ),
                "stop" => (
                    format!("{}: dừng giải quyết", self.step_name(step.as_deref())),
                    "Dừng".to_string(),
                ),
                _ => continue,
            };
            let step_due = due.map(when).unwrap_or_default();
            rows.push(vec![
                (rows.len() + 1).to_string(),
                what,
                self.name_of(&e.actor),
                when(e.at),
                if e.action == "receive" {
                    String::new()
                } else {
                    step_due
                },
                result,
            ]);
            if let Some(t) = data.get("to_step").and_then(Value::as_str) {
                step = Some(t.to_string());
            }
            if data.get("step_due_at").is_some() {
                due = time_of(data.get("step_due_at"));
            }
        }
        rows
    }
}

impl Dossiers {
    /// The names of the agency of `code` and of the agency above it, and its address.
    pub(crate) fn agency_names(&self, code: &str) -> (String, Option<String>, String) {
        let lookup = self.catalog.lookup();
        match lookup.agencies.get(code) {
            Some(a) => (
                a.spec.name.clone(),
                a.spec
                    .parent
                    .as_ref()
                    .and_then(|p| lookup.agencies.get(&p.to_string()))
                    .map(|p| p.spec.name.clone()),
                a.spec.address.clone(),
            ),
            None => (code.to_string(), None, String::new()),
        }
    }

    /// Full names of the accounts behind `actor`s (`account/<id>`).
    pub(crate) async fn names_of(&self, events: &[Event]) -> Result<HashMap<String, String>> {
        let mut out = HashMap::new();
        for e in events {
            if out.contains_key(&e.actor) {
                continue;
            }
            let Some(id) = e.actor.strip_prefix("account/") else {
                continue;
            };
            let name: Option<String> = on_db!(&self.db, c => sqlx::query_scalar(
                "SELECT full_name FROM accounts WHERE id = $1"
            ).bind(id).fetch_optional(c).await)?;
            if let Some(n) = name {
                out.insert(e.actor.clone(), n);
            }
        }
        Ok(out)
    }

    pub(crate) async fn context<'a>(&'a self, d: &'a Dossier) -> Result<Context<'a>> {
        let (agency, parent, address) = self.agency_names(&d.agency_code);
        Ok(Context {
            d,
            agency_code: &d.agency_code,
            agency,
            parent,
            address,
            names: self.names_of(&d.events).await?,
            public_url: self.identity.issuer(),
            now: self.clock.now(),
        })
    }

    /// A slip of a dossier as a PDF, for whoever may read the dossier (an official's reading
    /// is audited). A slip the dossier's history does not have is not found.
    pub async fn slip(
        &self,
        reference: &str,
        p: &Principal,
        kind: SlipKind,
    ) -> Result<(String, Vec<u8>)> {
        let d = self.get(reference, p).await?;
        let cx = self.context(&d).await?;
        let code = cx.code();
        let sheet = cx.slip(kind).ok_or_else(|| DossierError::NotIssued {
            vi: format!("Hồ sơ {code} không có {}", kind.title().to_lowercase()),
            en: format!("Dossier {code} has no {}", kind.title_en().to_lowercase()),
        })?;
        let bytes = self.rendering(move || render(&sheet)).await?;
        Ok((format!("{}-{}.pdf", file_stem(&code), kind.as_str()), bytes))
    }
}

/// A code as a file name: letters, digits, dots and dashes.
pub(crate) fn file_stem(code: &str) -> String {
    code.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_wraps_within_the_width_and_breaks_pages() {
        let Ok(f) = faces() else { panic!("fonts") };
        let text = "Giấy chứng nhận quyền sử dụng đất, quyền sở hữu nhà ở và tài sản khác gắn liền với đất ".repeat(6);
        let lines = wrap(&f.regular, BODY, &text, WIDTH, WIDTH);
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| f.regular.width(l, BODY) <= WIDTH));
        let sheet = Sheet {
            parent: Some("Ủy ban nhân dân Thành phố Hà Nội".into()),
            agency: "Trung tâm Phục vụ hành chính công".into(),
            date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default(),
            title: "Phiếu kiểm soát quá trình giải quyết hồ sơ".into(),
            subtitle: None,
            blocks: (0..80)
                .map(|i| Block::Item(format!("Mục {i}: {text}")))
                .collect(),
            signatures: vec![("NGƯỜI KÝ".into(), String::new(), "Nguyễn Văn An".into())],
            footer: "Hồ sơ X".into(),
            meta_title: "X".into(),
            keywords: vec![],
            created: Utc::now(),
        };
        let pages = lay_out(&sheet).unwrap_or_default();
        assert!(pages.len() > 5, "{}", pages.len());
        for page in &pages {
            for op in page {
                if let Op::Text { y, .. } = op {
                    assert!(*y <= PAGE_H - BOTTOM + 31.0 && *y >= TOP);
                }
            }
        }
        let pdf = render(&sheet).unwrap_or_default();
        assert!(pdf.starts_with(b"%PDF-"));
    }
}
