//! Reader watermarks for confidential PDF documents.
//!
//! When a member of a Government meeting opens a confidential agenda document, the platform
//! hands out a copy stamped with that reader's name on every page, so that a leaked copy
//! shows who leaked it. [`stamp`] makes that copy: a new PDF in which every page is the
//! original page, unchanged, with drawn on top of it
//!
//! * the stamp's first line, large, diagonally across the middle of the page, in a light
//!   semi-transparent grey, so that the text below stays readable;
//! * all of the stamp's lines, small, along the foot of the page, at full opacity.
//!
//! Text sizes follow the size of each page, so an A5 page gets smaller text than an A3 one.
//!
//! [`page_count`] runs everything that [`stamp`] does except drawing the stamp, and keeps
//! nothing: it is meant for upload time, to refuse a file that could not be stamped later.
//!
//! # What is kept of the original
//!
//! Each original page is embedded as a form XObject showing exactly the page's visible area:
//! the new page's size is the original's crop box (clipped to its media box, as viewers show
//! it) with the page's `/Rotate` applied, and the original content is placed so that it looks
//! as it did in a viewer. The new page's media box therefore starts at the origin and has no
//! separate crop box or rotation. Only the page content is carried over: annotations (links,
//! comments, form fields and their filled-in values), the outline (bookmarks), the document
//! information, tagged-PDF structure and attachments of the original are not.
//!
//! # Untrusted input
//!
//! The PDF comes from a user's upload. Files that are not PDFs, damaged, truncated,
//! encrypted (also those that open without a password but carry an owner password's
//! restrictions), empty, larger than [`MAX_PDF_BYTES`] or longer than [`MAX_PAGES`] pages are
//! refused with a [`WatermarkError`]. Nothing here unwraps a value that the input can
//! influence. The PDF reader underneath (hayro-syntax 0.7, through krilla) does panic on some
//! malformed files, so the calls into it run under [`std::panic::catch_unwind`]: a panic in it
//! becomes an error for that file instead of bringing down the caller. This needs the default
//! `panic = "unwind"` and krilla built without its `rayon` feature (so that the reading runs
//! on the calling thread); the panic message still goes to the panic hook (standard error).
//!
//! Three weaknesses of that reader are beyond what a caller can check cheaply, and a crafted
//! file of a few kilobytes reaches each of them:
//!
//! * arrays and dictionaries nested some thousands deep, or a page tree some thousands of
//!   levels deep, overflow the stack, which aborts the whole process;
//! * a page tree that lists the same node several times at each level is expanded once per
//!   listing before the page count is known, so seven levels of ten make ten million pages
//!   and tens of gigabytes;
//! * page content is inflated with no size limit.
//!
//! hayro-syntax 0.9 walks the page tree without recursion, visits each node once and limits
//! nesting, but krilla 0.8.2 is tied to 0.7. Until krilla moves on, callers should run
//! [`stamp`] and [`page_count`] in a worker process with memory and time limits, so that such
//! a file only ends that worker.
//!
//! Everything here is pure: bytes in, bytes out, no I/O, no clock, no global state.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use hayro_syntax::LoadPdfError;
use hayro_syntax::PdfVersion as SourceVersion;
use hayro_syntax::object::dict::keys::CONTENTS;
use hayro_syntax::object::{Array, Stream};
use hayro_syntax::page::Page;
use krilla::color::rgb;
use krilla::configure::{ConfigurationBuilder, PdfVersion};
use krilla::error::KrillaError;
use krilla::geom::{Point, Size, Transform};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule};
use krilla::pdf::{Pdf, PdfDocument};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::{Document, SerializeSettings};
use skrifa::MetadataProvider;
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size as FontSize};
use skrifa::metrics::GlyphMetrics;

/// The largest PDF accepted, in bytes (50 MiB).
pub const MAX_PDF_BYTES: usize = 50 * 1024 * 1024;

/// The largest number of pages accepted.
pub const MAX_PAGES: usize = 2000;

/// What is stamped on each page.
///
/// The first line is also drawn large and diagonally across the page, so it should name the
/// reader, e.g. `["MẬT · Nguyễn Văn An (an.nguyen)", "Mở lúc 09:05 02/03/2026 · Phiên họp
/// Chính phủ tháng 3"]`. Control characters and invisible direction marks are replaced by
/// spaces, runs of spaces are collapsed, and blank lines are left out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stamp {
    /// The lines of text, first line first.
    pub lines: Vec<String>,
}

/// Why a PDF could not be stamped (or checked).
///
/// `Display` gives a short English description for logs; [`WatermarkError::message_vi`] and
/// [`WatermarkError::message_en`] give sentences to show to the person concerned.
#[derive(Debug, thiserror::Error)]
pub enum WatermarkError {
    /// The bytes do not start like a PDF file.
    #[error("not a PDF file")]
    NotPdf,
    /// The PDF is encrypted (password-protected, or with restrictions set by an owner
    /// password).
    #[error("the PDF is encrypted")]
    Encrypted,
    /// The file looks like a PDF but cannot be read; the text says what is wrong.
    #[error("the PDF is damaged: {0}")]
    Damaged(String),
    /// The file is larger than [`MAX_PDF_BYTES`].
    #[error("the PDF is larger than {MAX_PDF_BYTES} bytes")]
    TooLarge,
    /// The PDF has more pages than [`MAX_PAGES`]; the number is its page count.
    #[error("the PDF has {0} pages, more than the {MAX_PAGES} allowed")]
    TooManyPages(usize),
    /// The PDF has no pages.
    #[error("the PDF has no pages")]
    Empty,
    /// The stamp has no text once blank lines are left out.
    #[error("the stamp has no text")]
    EmptyStamp,
    /// The font given for the stamp cannot be read or embedded.
    #[error("the stamp font cannot be read")]
    Font,
    /// Writing the stamped PDF failed; the text says why.
    #[error("the stamped PDF cannot be written: {0}")]
    Write(String),
}

impl WatermarkError {
    /// A sentence in Vietnamese for the person who uploaded or opened the file.
    pub fn message_vi(&self) -> String {
        match self {
            Self::NotPdf => "Tệp không phải PDF.".to_owned(),
            Self::Encrypted => "Tệp PDF đã được đặt mật khẩu hoặc mã hóa. Vui lòng gỡ mật khẩu \
                                rồi tải lên lại."
                .to_owned(),
            Self::Damaged(_) => "Tệp PDF bị hỏng hoặc không đầy đủ nên không đọc được. Vui lòng \
                                 kiểm tra lại tệp rồi tải lên lại."
                .to_owned(),
            Self::TooLarge => format!(
                "Tệp PDF quá lớn: dung lượng tối đa là {} MB.",
                MAX_PDF_BYTES / (1024 * 1024)
            ),
            Self::TooManyPages(pages) => {
                format!("Tệp PDF có {pages} trang, vượt quá giới hạn {MAX_PAGES} trang.")
            }
            Self::Empty => "Tệp PDF không có trang nào.".to_owned(),
            Self::EmptyStamp => "Không có thông tin người đọc để đóng dấu lên tài liệu. Vui lòng \
                                 báo cho quản trị hệ thống."
                .to_owned(),
            Self::Font => "Không đọc được phông chữ dùng để đóng dấu lên tài liệu. Vui lòng báo \
                           cho quản trị hệ thống."
                .to_owned(),
            Self::Write(_) => "Không tạo được bản tài liệu có đóng dấu tên người đọc. Vui lòng \
                               thử lại hoặc báo cho quản trị hệ thống."
                .to_owned(),
        }
    }

    /// A sentence in English for the person who uploaded or opened the file.
    pub fn message_en(&self) -> String {
        match self {
            Self::NotPdf => "The file is not a PDF.".to_owned(),
            Self::Encrypted => "The PDF is password-protected or encrypted. Please remove the \
                                password and upload it again."
                .to_owned(),
            Self::Damaged(_) => "The PDF is damaged or incomplete and cannot be read. Please \
                                 check the file and upload it again."
                .to_owned(),
            Self::TooLarge => format!(
                "The PDF is too large: the limit is {} MB.",
                MAX_PDF_BYTES / (1024 * 1024)
            ),
            Self::TooManyPages(pages) => {
                format!("The PDF has {pages} pages, more than the limit of {MAX_PAGES} pages.")
            }
            Self::Empty => "The PDF has no pages.".to_owned(),
            Self::EmptyStamp => "There is no reader information to stamp on the document. \
                                 Please tell the system administrator."
                .to_owned(),
            Self::Font => "The font used to stamp the document cannot be read. Please tell the \
                           system administrator."
                .to_owned(),
            Self::Write(_) => "The copy of the document stamped with the reader's name could \
                               not be produced. Please try again or tell the system administrator."
                .to_owned(),
        }
    }
}

/// Stamps every page of `pdf` with `stamp`, drawn in the TrueType or OpenType font `font`.
///
/// Returns a new PDF with the same pages, in the same order and of the same visible size,
/// each with the stamp drawn over it (see the [module documentation](self) for the layout
/// and for what of the original is kept). The font must have glyphs for the stamp's
/// characters; a character it lacks shows as an empty box.
pub fn stamp(pdf: &[u8], stamp: &Stamp, font: &'static [u8]) -> Result<Vec<u8>, WatermarkError> {
    stamp_within(pdf, stamp, font, Limits::STANDARD)
}

/// Checks that `pdf` can be stamped and returns its number of pages.
///
/// Runs every check of [`stamp`] on the file (a PDF, readable, not truncated, not encrypted,
/// at most [`MAX_PDF_BYTES`] bytes and [`MAX_PAGES`] pages, at least one page, every page's
/// content decodable), without writing anything.
pub fn page_count(pdf: &[u8]) -> Result<usize, WatermarkError> {
    page_count_within(pdf, Limits::STANDARD)
}

/// The size limits applied to an input file.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_bytes: usize,
    max_pages: usize,
}

impl Limits {
    const STANDARD: Limits = Limits {
        max_bytes: MAX_PDF_BYTES,
        max_pages: MAX_PAGES,
    };
}

fn stamp_within(
    pdf: &[u8],
    stamp: &Stamp,
    font: &'static [u8],
    limits: Limits,
) -> Result<Vec<u8>, WatermarkError> {
    let lines = clean_lines(stamp);
    if lines.is_empty() {
        return Err(WatermarkError::EmptyStamp);
    }
    let face = Face::load(font)?;
    let overlay = Overlay::new(&lines, &face);
    let source = open(pdf, limits)?;
    write_copy(&source, Some(&overlay))
}

fn page_count_within(pdf: &[u8], limits: Limits) -> Result<usize, WatermarkError> {
    let source = open(pdf, limits)?;
    // The reader reads parts of a page (its resources, fonts, images) only when the page is
    // copied, so a copy without a stamp is made and dropped: whatever would stop `stamp`
    // later stops this check now.
    write_copy(&source, None)?;
    Ok(source.page_sizes.len())
}

// ----- reading the original -----

/// A readable, unencrypted PDF with its pages' visible sizes.
struct Source {
    document: PdfDocument,
    /// Width and height of each page as a viewer shows it (crop box, rotation applied).
    page_sizes: Vec<Size>,
    version: PdfVersion,
}

/// Acrobat's rule, from the PDF reference's implementation notes: the header must start
/// within the first 1024 bytes and the end-of-file marker must lie within the last 1024.
const MARKER_WINDOW: usize = 1024;

/// A password that no real document uses: opening an encrypted document with it fails even
/// where the empty password (that of a file restricted only by an owner password) succeeds.
const PROBE_PASSWORD: &str = "\u{1}watermark-probe: not the password of any document\u{1}";

fn open(bytes: &[u8], limits: Limits) -> Result<Source, WatermarkError> {
    if bytes.len() > limits.max_bytes {
        return Err(WatermarkError::TooLarge);
    }
    let head = &bytes[..bytes.len().min(MARKER_WINDOW)];
    if !contains(head, b"%PDF-") {
        return Err(WatermarkError::NotPdf);
    }
    // The reader would rebuild a cut-off file from whatever objects survived, silently
    // dropping pages or content; a file without its end marker is refused instead.
    let tail = &bytes[bytes.len().saturating_sub(MARKER_WINDOW)..];
    if !contains(tail, b"%%EOF") {
        return Err(WatermarkError::Damaged(
            "the end-of-file marker is missing: the file is truncated".to_owned(),
        ));
    }
    let data = Arc::new(bytes.to_vec());
    guarded(
        || read(data, limits),
        || WatermarkError::Damaged("the PDF reader stopped on malformed data".to_owned()),
    )
}

fn read(data: Arc<Vec<u8>>, limits: Limits) -> Result<Source, WatermarkError> {
    let pdf = Pdf::new(Arc::clone(&data)).map_err(|error| match error {
        LoadPdfError::Decryption(_) => WatermarkError::Encrypted,
        LoadPdfError::Invalid => {
            WatermarkError::Damaged("the document structure cannot be read".to_owned())
        }
    })?;
    // A file encrypted with an empty user password (only an owner password restricting
    // printing or copying) opens without a password; the reader does not say it was
    // encrypted. The password is only used by encrypted files, so a file that opened with
    // the empty password but not with another one is encrypted.
    if Pdf::new_with_password(data, PROBE_PASSWORD).is_err() {
        return Err(WatermarkError::Encrypted);
    }

    let pages = pdf.pages();
    if pages.is_empty() {
        return Err(WatermarkError::Empty);
    }
    if pages.len() > limits.max_pages {
        return Err(WatermarkError::TooManyPages(pages.len()));
    }
    let mut page_sizes = Vec::with_capacity(pages.len());
    for (index, page) in pages.iter().enumerate() {
        let (width, height) = page.render_dimensions();
        let size = Size::from_wh(width, height)
            .filter(|s| s.width().is_finite() && s.height().is_finite())
            .ok_or_else(|| {
                WatermarkError::Damaged(format!("page {} has an invalid size", index + 1))
            })?;
        if content_is_lost(page) {
            return Err(WatermarkError::Damaged(format!(
                "the content of page {} cannot be decoded",
                index + 1
            )));
        }
        page_sizes.push(size);
    }
    let version = match pdf.version() {
        SourceVersion::Pdf20 => PdfVersion::Pdf20,
        _ => PdfVersion::Pdf17,
    };
    Ok(Source {
        document: PdfDocument::new(Arc::new(pdf)),
        page_sizes,
        version,
    })
}

/// Whether `page` has content that does not decode, so that it would come out blank.
///
/// Decoding here costs nothing extra: the reader keeps the decoded content for the writer.
/// The reader turns a stream that does not decode into nothing, so a page whose content
/// decodes to nothing (or to white space) while its stored content is longer than the
/// compressed form of an empty page counts as lost.
fn content_is_lost(page: &Page<'_>) -> bool {
    /// Longer than any compressed empty or white-space-only content.
    const EMPTY_CONTENT_MAX: usize = 24;
    if !page.raw().contains_key(CONTENTS) {
        return false;
    }
    let Some(decoded) = page.page_stream() else {
        return true;
    };
    if !decoded.iter().all(u8::is_ascii_whitespace) {
        return false;
    }
    let raw = page.raw();
    let stored: usize = if let Some(stream) = raw.get::<Stream<'_>>(CONTENTS) {
        stream.raw_data().len()
    } else if let Some(streams) = raw.get::<Array<'_>>(CONTENTS) {
        streams
            .iter::<Stream<'_>>()
            .map(|stream| stream.raw_data().len())
            .sum()
    } else {
        0
    };
    stored > EMPTY_CONTENT_MAX
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Runs `work`, turning a panic inside it into the error made by `on_panic`.
///
/// Used around the PDF reader and writer, which process untrusted data: hayro-syntax 0.7.2
/// panics on some malformed files (an `unwrap` in its array iterator and another in its
/// dictionary reader, found by the property test below), and proving the rest of it
/// panic-free is out of reach. Nothing that `work` touches is used again after a panic (the
/// partly read or written document is dropped), so observing broken invariants is not a
/// concern.
fn guarded<T>(
    work: impl FnOnce() -> Result<T, WatermarkError>,
    on_panic: impl FnOnce() -> WatermarkError,
) -> Result<T, WatermarkError> {
    panic::catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| Err(on_panic()))
}

// ----- the stamp's text -----

/// The stamp's lines, cleaned: no control characters or invisible direction marks, single
/// spaces, no blank lines.
fn clean_lines(stamp: &Stamp) -> Vec<String> {
    stamp
        .lines
        .iter()
        .map(|line| {
            let visible: String = line
                .chars()
                .map(|c| if is_invisible(c) { ' ' } else { c })
                .collect();
            visible.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .filter(|line| !line.is_empty())
        .collect()
}

/// Control characters, and the format characters that could reorder or hide the text.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}'
        )
}

/// The stamp font, with the metrics needed to lay out its lines.
struct Face {
    font: Font,
    charmap: Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    /// Height of the capitals, in ems.
    cap_height: f32,
}

impl Face {
    fn load(bytes: &'static [u8]) -> Result<Face, WatermarkError> {
        let parsed = skrifa::FontRef::new(bytes).map_err(|_| WatermarkError::Font)?;
        let font = Font::new(bytes.into(), 0).ok_or(WatermarkError::Font)?;
        let unit = FontSize::new(1.0);
        let cap_height = parsed
            .metrics(unit, LocationRef::default())
            .cap_height
            .filter(|h| h.is_finite() && *h > 0.0 && *h < 2.0)
            .unwrap_or(0.7);
        Ok(Face {
            font,
            charmap: parsed.charmap(),
            metrics: parsed.glyph_metrics(unit, LocationRef::default()),
            cap_height,
        })
    }

    /// The width of `text` set at 1 pt, in points (kerning aside).
    fn width(&self, text: &str) -> f32 {
        text.chars()
            .map(|c| {
                self.charmap
                    .map(c)
                    .and_then(|glyph| self.metrics.advance_width(glyph))
                    .filter(|w| w.is_finite() && *w >= 0.0)
                    .unwrap_or(0.6)
            })
            .sum()
    }
}

// ----- writing the stamped copy -----

/// Opacity of the large diagonal line.
const DIAGONAL_OPACITY: f32 = 0.25;
/// Colour of the large diagonal line.
const DIAGONAL_GREY: (u8, u8, u8) = (0x60, 0x60, 0x60);
/// Share of the page's width and height that the large line's box may take.
const DIAGONAL_FILL: f32 = 0.85;
/// Height of the large line's box, in ems: room for Vietnamese capitals with two marks.
const DIAGONAL_LINE_HEIGHT: f32 = 1.3;
/// Largest size of the large line, as a share of the page's shorter side.
const DIAGONAL_MAX_SIZE: f32 = 0.12;
/// Colour of the lines at the foot of the page: a dark red, as for classification marks.
const FOOTER_RED: (u8, u8, u8) = (0xA0, 0x00, 0x00);
/// Size of the lines at the foot, as a share of the page's shorter side (9.5 pt on A4).
const FOOTER_SIZE: f32 = 0.016;
/// Smallest size of the lines at the foot, unless a line is too long to fit at that size.
const FOOTER_MIN_SIZE: f32 = 6.0;

/// What is drawn over each page: the stamp's lines in its font.
struct Overlay<'a> {
    lines: Vec<Line<'a>>,
    face: &'a Face,
}

/// A stamp line with its width at 1 pt.
struct Line<'a> {
    text: &'a str,
    width: f32,
}

impl<'a> Overlay<'a> {
    fn new(lines: &'a [String], face: &'a Face) -> Overlay<'a> {
        let lines = lines
            .iter()
            .map(|text| Line {
                text,
                width: face.width(text),
            })
            .collect();
        Overlay { lines, face }
    }
}

/// Writes a new PDF with every page of `source`, and `overlay` (if any) drawn over each.
fn write_copy(source: &Source, overlay: Option<&Overlay<'_>>) -> Result<Vec<u8>, WatermarkError> {
    // The reader parses most of a page (resources, fonts, images) only now, while the
    // writer copies it: a panic here comes from malformed input, like one while opening.
    guarded(
        || write_pages(source, overlay),
        || WatermarkError::Damaged("the PDF reader stopped on malformed page data".to_owned()),
    )
}

fn write_pages(source: &Source, overlay: Option<&Overlay<'_>>) -> Result<Vec<u8>, WatermarkError> {
    let configuration = ConfigurationBuilder::new()
        .with_version(source.version)
        .finish()
        .map_err(|error| WatermarkError::Write(format!("{error:?}")))?;
    let settings = SerializeSettings {
        configuration,
        ..SerializeSettings::default()
    };
    let mut document = Document::new_with(settings);
    for (index, &size) in source.page_sizes.iter().enumerate() {
        let mut page = document.start_page_with(PageSettings::new(size));
        let mut surface = page.surface();
        surface.draw_pdf_page(&source.document, size, index);
        if let Some(overlay) = overlay {
            draw_diagonal(&mut surface, overlay, size);
            draw_footer(&mut surface, overlay, size);
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|error| match error {
        KrillaError::Font(..) => WatermarkError::Font,
        other => WatermarkError::Write(other.to_string()),
    })
}

/// Draws the first line large, centred on the diagonal from the lower left to the upper
/// right corner.
fn draw_diagonal(surface: &mut Surface<'_>, overlay: &Overlay<'_>, page: Size) {
    let Some(first) = overlay.lines.first() else {
        return;
    };
    let (width, height) = (page.width(), page.height());
    let diagonal = width.hypot(height);
    let (cos, sin) = (width / diagonal, height / diagonal);
    // The line's box, `first.width` by `DIAGONAL_LINE_HEIGHT` ems turned along the diagonal,
    // must fit in the page: its extent across is w·cos + h·sin, and up w·sin + h·cos.
    let across = first.width * cos + DIAGONAL_LINE_HEIGHT * sin;
    let up = first.width * sin + DIAGONAL_LINE_HEIGHT * cos;
    let size = (DIAGONAL_MAX_SIZE * width.min(height))
        .min(DIAGONAL_FILL * width / across)
        .min(DIAGONAL_FILL * height / up);
    // The surface's y axis points down: a negative angle turns the text up to the right.
    let angle = -sin.atan2(cos).to_degrees();

    surface.set_fill(Some(Fill {
        paint: rgb::Color::new(DIAGONAL_GREY.0, DIAGONAL_GREY.1, DIAGONAL_GREY.2).into(),
        opacity: NormalizedF32::new(DIAGONAL_OPACITY).unwrap_or(NormalizedF32::ZERO),
        rule: FillRule::default(),
    }));
    surface.push_transform(&Transform::from_translate(width / 2.0, height / 2.0));
    surface.push_transform(&Transform::from_rotate(angle));
    surface.draw_text(
        Point::from_xy(
            -first.width * size / 2.0,
            overlay.face.cap_height * size / 2.0,
        ),
        overlay.face.font.clone(),
        size,
        first.text,
        false,
        TextDirection::Auto,
    );
    surface.pop();
    surface.pop();
}

/// Draws all lines small and centred along the foot of the page, shrunk if needed so the
/// widest fits between the side margins.
fn draw_footer(surface: &mut Surface<'_>, overlay: &Overlay<'_>, page: Size) {
    let (lines, face) = (&overlay.lines, overlay.face);
    let (width, height) = (page.width(), page.height());
    let margin = 0.04 * width;
    let widest = lines.iter().map(|line| line.width).fold(0.0, f32::max);
    let mut size = (FOOTER_SIZE * width.min(height)).max(FOOTER_MIN_SIZE);
    if widest > 0.0 {
        size = size.min((width - 2.0 * margin) / widest);
    }
    let leading = 1.3 * size;
    let bottom = (0.02 * height).max(size);

    surface.set_fill(Some(Fill {
        paint: rgb::Color::new(FOOTER_RED.0, FOOTER_RED.1, FOOTER_RED.2).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::default(),
    }));
    for (index, line) in lines.iter().enumerate() {
        let below = (lines.len() - 1 - index) as f32;
        let baseline = height - bottom - below * leading;
        surface.draw_text(
            Point::from_xy((width - line.width * size) / 2.0, baseline),
            face.font.clone(),
            size,
            line.text,
            false,
            TextDirection::Auto,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::BTreeSet;
    use std::error::Error;

    use hayro_syntax::object::Object;
    use krilla::geom::PathBuilder;
    use proptest::prelude::*;

    type TestResult = Result<(), Box<dyn Error>>;

    const FONT: &[u8] = include_bytes!("../../dossier/assets/fonts/DejaVuSans.ttf");
    const A4: (f32, f32) = (595.28, 841.89);
    const A4_LANDSCAPE: (f32, f32) = (841.89, 595.28);
    const A5: (f32, f32) = (419.53, 595.28);
    const READER: &str = "MẬT · Nguyễn Văn An (an.nguyen)";
    const OPENED: &str = "Mở lúc 09:05 02/03/2026 · Phiên họp Chính phủ tháng 3";
    const ORIGINAL_TEXT: &str = "Báo cáo tình hình kinh tế quý I";

    fn sample_stamp() -> Stamp {
        Stamp {
            lines: vec![READER.to_owned(), OPENED.to_owned()],
        }
    }

    /// A PDF made with krilla: one page per size, each with a framed box, and `text` on the
    /// first page.
    fn fixture_with(
        pages: &[(f32, f32)],
        text: Option<&str>,
        version: PdfVersion,
    ) -> Result<Vec<u8>, Box<dyn Error>> {
        let configuration = ConfigurationBuilder::new()
            .with_version(version)
            .finish()
            .map_err(|e| format!("{e:?}"))?;
        let mut document = Document::new_with(SerializeSettings {
            configuration,
            ..SerializeSettings::default()
        });
        let font = Font::new(FONT.into(), 0).ok_or("font")?;
        for (index, &(width, height)) in pages.iter().enumerate() {
            let settings = PageSettings::from_wh(width, height).ok_or("page size")?;
            let mut page = document.start_page_with(settings);
            let mut surface = page.surface();
            let mut path = PathBuilder::new();
            let frame = krilla::geom::Rect::from_xywh(36.0, 36.0, width - 72.0, height - 72.0)
                .ok_or("frame")?;
            path.push_rect(frame);
            surface.set_fill(Some(Fill {
                paint: rgb::Color::new(0xDD, 0xEE, 0xFF).into(),
                ..Fill::default()
            }));
            surface.draw_path(&path.finish().ok_or("path")?);
            if let (0, Some(text)) = (index, text) {
                surface.set_fill(Some(Fill::default()));
                surface.draw_text(
                    Point::from_xy(60.0, 120.0),
                    font.clone(),
                    20.0,
                    text,
                    false,
                    TextDirection::Auto,
                );
            }
            surface.finish();
            page.finish();
        }
        document.finish().map_err(|e| e.to_string().into())
    }

    fn fixture(pages: &[(f32, f32)], text: Option<&str>) -> Result<Vec<u8>, Box<dyn Error>> {
        fixture_with(pages, text, PdfVersion::Pdf17)
    }

    /// A hand-written PDF: the objects numbered from 1 (object 1 the catalog), with a
    /// correct cross-reference table and `trailer_extra` added to the trailer dictionary.
    fn raw_pdf(objects: &[&str], trailer_extra: &str) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n".to_vec();
        let mut offsets = Vec::new();
        for (index, object) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", index + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for offset in offsets {
            out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R {trailer_extra} >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    /// A one-page hand-written PDF whose page dictionary has `page_extra` added.
    fn raw_single_page(page_extra: &str) -> Vec<u8> {
        raw_pdf(
            &[
                "<< /Type /Catalog /Pages 2 0 R >>",
                "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                &format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R {page_extra} >>"
                ),
                "<< /Length 34 >>\nstream\n0.2 g 100 100 300 300 re f\nQ q Q\nendstream",
            ],
            "",
        )
    }

    fn read_back(pdf: &[u8]) -> Result<Pdf, Box<dyn Error>> {
        Pdf::new(pdf.to_vec()).map_err(|e| format!("output not readable: {e:?}").into())
    }

    fn media_boxes(pdf: &Pdf) -> Vec<(f64, f64, f64, f64)> {
        pdf.pages()
            .iter()
            .map(|page| {
                let b = page.media_box();
                (b.x0, b.y0, b.x1, b.y1)
            })
            .collect()
    }

    fn assert_sizes(pdf: &Pdf, sizes: &[(f32, f32)]) {
        let boxes = media_boxes(pdf);
        assert_eq!(boxes.len(), sizes.len());
        for (found, &(width, height)) in boxes.iter().zip(sizes) {
            assert!(found.0.abs() < 0.01 && found.1.abs() < 0.01, "{found:?}");
            assert!(
                (found.2 - f64::from(width)).abs() < 0.01,
                "{found:?} vs {width}"
            );
            assert!(
                (found.3 - f64::from(height)).abs() < 0.01,
                "{found:?} vs {height}"
            );
        }
    }

    /// Every character that a ToUnicode map in `pdf` maps some glyph to.
    fn mapped_characters(pdf: &Pdf) -> BTreeSet<char> {
        let mut chars = BTreeSet::new();
        for object in pdf.objects() {
            let Object::Stream(stream) = object else {
                continue;
            };
            let Ok(data) = stream.decoded() else {
                continue;
            };
            let text = String::from_utf8_lossy(&data);
            if !text.contains("begincmap") {
                continue;
            }
            for section in text.split("beginbfchar").skip(1) {
                let body = section.split("endbfchar").next().unwrap_or_default();
                let hexes: Vec<&str> = body
                    .split(['<', '>'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                for pair in hexes.chunks(2) {
                    if let [_, target] = pair {
                        chars.extend(decode_utf16_hex(target));
                    }
                }
            }
        }
        chars
    }

    fn decode_utf16_hex(hex: &str) -> Vec<char> {
        let units: Vec<u16> = hex
            .as_bytes()
            .chunks(4)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .filter_map(|c| u16::from_str_radix(c, 16).ok())
            .collect();
        char::decode_utf16(units).filter_map(Result::ok).collect()
    }

    fn within(pdf: &[u8], limits: Limits) -> Result<Vec<u8>, WatermarkError> {
        stamp_within(pdf, &sample_stamp(), FONT, limits)
    }

    #[test]
    fn stamps_a_single_a4_page() -> TestResult {
        let original = fixture(&[A4], None)?;
        let stamped = stamp(&original, &sample_stamp(), FONT)?;
        let pdf = read_back(&stamped)?;
        assert_sizes(&pdf, &[A4]);
        let page = pdf.pages().first().ok_or("no page")?;
        assert!(!page.resources().fonts.is_empty(), "no font on the page");
        assert!(
            !page.resources().x_objects.is_empty(),
            "original not embedded"
        );
        assert!(!page.resources().ext_g_states.is_empty(), "no transparency");
        assert_eq!(page_count(&stamped)?, 1);
        Ok(())
    }

    #[test]
    fn keeps_the_size_of_every_page() -> TestResult {
        let sizes = [A4, A4_LANDSCAPE, A5];
        let original = fixture(&sizes, Some(ORIGINAL_TEXT))?;
        assert_eq!(page_count(&original)?, 3);
        let stamped = stamp(&original, &sample_stamp(), FONT)?;
        let pdf = read_back(&stamped)?;
        assert_sizes(&pdf, &sizes);
        for page in pdf.pages().iter() {
            assert!(!page.resources().fonts.is_empty());
            assert!(!page.resources().x_objects.is_empty());
        }
        assert_eq!(page_count(&stamped)?, 3);
        Ok(())
    }

    /// What a stamped page's own content stream does, in order.
    #[derive(Default)]
    struct PageOps {
        /// Index of the first `Do` (drawing the embedded original) and of the first `BT`.
        original_at: Option<usize>,
        first_text_at: Option<usize>,
        /// `(a, b)` of each `cm` that rotates.
        rotations: Vec<(f64, f64)>,
        /// The size of each `Tf`.
        font_sizes: Vec<f64>,
        /// The fill opacity (`ca`) of each graphics state set with `gs`.
        fill_opacities: Vec<f64>,
    }

    fn page_ops(page: &Page<'_>) -> PageOps {
        use hayro_syntax::content::ops::TypedInstruction as Op;
        let mut found = PageOps::default();
        let mut ops = page.typed_operations();
        let mut at = 0;
        while let Some(op) = ops.next() {
            match op {
                Op::XObject(_) => {
                    found.original_at.get_or_insert(at);
                }
                Op::BeginText(_) => {
                    found.first_text_at.get_or_insert(at);
                }
                Op::Transform(t) if t.1.as_f64().abs() > 1e-6 => {
                    found.rotations.push((t.0.as_f64(), t.1.as_f64()));
                }
                Op::TextFont(font) => found.font_sizes.push(font.1.as_f64()),
                Op::SetGraphicsState(name) => {
                    let opacity = page
                        .resources()
                        .ext_g_states
                        .get::<hayro_syntax::object::Dict<'_>>(name.0.as_ref())
                        .and_then(|state| state.get::<f64>(b"ca"))
                        .unwrap_or(1.0);
                    found.fill_opacities.push(opacity);
                }
                _ => {}
            }
            at += 1;
        }
        found
    }

    #[test]
    fn draws_a_faint_diagonal_and_a_small_footer_over_the_original() -> TestResult {
        let sizes = [A4, A4_LANDSCAPE, A5];
        let stamped = stamp(&fixture(&sizes, None)?, &sample_stamp(), FONT)?;
        let pdf = read_back(&stamped)?;
        let mut footer_sizes = Vec::new();
        for (page, &(width, height)) in pdf.pages().iter().zip(&sizes) {
            let ops = page_ops(page);
            let (original, text) = (ops.original_at, ops.first_text_at);
            assert!(
                matches!((original, text), (Some(o), Some(t)) if o < t),
                "the original must be drawn before the stamp: {original:?} {text:?}"
            );
            // One rotation, along the diagonal from the lower left to the upper right.
            let [(cos, sin)] = ops.rotations[..] else {
                return Err(format!("rotations: {:?}", ops.rotations).into());
            };
            let diagonal = f64::from(width).hypot(f64::from(height));
            assert!((cos - f64::from(width) / diagonal).abs() < 1e-3, "{cos}");
            assert!((sin - f64::from(height) / diagonal).abs() < 1e-3, "{sin}");
            // The large line, then the two lines at the foot in one small size.
            let [large, small, also_small] = ops.font_sizes[..] else {
                return Err(format!("font sizes: {:?}", ops.font_sizes).into());
            };
            assert!(large > 3.0 * small, "{large} vs {small}");
            assert!((small - also_small).abs() < 1e-6);
            footer_sizes.push(small);
            // The large line is faint; nothing else is made transparent.
            let [opacity] = ops.fill_opacities[..] else {
                return Err(format!("opacities: {:?}", ops.fill_opacities).into());
            };
            assert!((0.2..=0.3).contains(&opacity), "{opacity}");
        }
        // Sizes follow the page: same on both A4 pages, smaller on A5.
        assert!((footer_sizes[0] - footer_sizes[1]).abs() < 1e-6);
        assert!(footer_sizes[2] < footer_sizes[0] - 1.0, "{footer_sizes:?}");
        Ok(())
    }

    #[test]
    fn the_stamp_text_is_in_the_font_and_its_unicode_map() -> TestResult {
        let original = fixture(&[A4], Some(ORIGINAL_TEXT))?;
        let without = mapped_characters(&read_back(&original)?);
        let stamped = stamp(&original, &sample_stamp(), FONT)?;
        let with = mapped_characters(&read_back(&stamped)?);
        for c in READER.chars().chain(OPENED.chars()).filter(|c| *c != ' ') {
            assert!(with.contains(&c), "{c:?} is not mapped in the stamped PDF");
        }
        // The reader's name brings characters that the original did not have.
        assert!(!without.contains(&'ễ') && with.contains(&'ễ'));
        Ok(())
    }

    #[test]
    fn text_extraction_finds_the_reader_and_the_original() -> TestResult {
        let Some(text) = pdftotext(&stamp(
            &fixture(&[A4, A5], Some(ORIGINAL_TEXT))?,
            &sample_stamp(),
            FONT,
        )?)?
        else {
            eprintln!("note: pdftotext (poppler-utils) is not installed; test skipped");
            return Ok(());
        };
        assert!(text.contains(READER), "reader line missing in:\n{text}");
        assert!(text.contains(OPENED), "second line missing in:\n{text}");
        assert!(
            text.contains(ORIGINAL_TEXT),
            "original text missing in:\n{text}"
        );
        // Once per page at the foot, plus the diagonal line.
        assert!(text.matches("Nguyễn Văn An").count() >= 2, "{text}");
        Ok(())
    }

    /// The text of `pdf` as extracted by poppler, or `None` if poppler is not installed.
    fn pdftotext(pdf: &[u8]) -> Result<Option<String>, Box<dyn Error>> {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let child = Command::new("pdftotext")
            .args(["-enc", "UTF-8", "-", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = child else {
            return Ok(None);
        };
        child.stdin.take().ok_or("stdin")?.write_all(pdf)?;
        let output = child.wait_with_output()?;
        if !output.status.success() {
            return Err(format!("pdftotext failed: {:?}", output.status).into());
        }
        Ok(Some(String::from_utf8(output.stdout)?))
    }

    #[test]
    fn a_rotated_page_keeps_its_orientation() -> TestResult {
        let stamped = stamp(&raw_single_page("/Rotate 90"), &sample_stamp(), FONT)?;
        assert_sizes(&read_back(&stamped)?, &[(842.0, 595.0)]);
        Ok(())
    }

    #[test]
    fn a_cropped_page_keeps_its_visible_area() -> TestResult {
        let stamped = stamp(
            &raw_single_page("/CropBox [50 60 450 760]"),
            &sample_stamp(),
            FONT,
        )?;
        assert_sizes(&read_back(&stamped)?, &[(400.0, 700.0)]);
        let cropped_and_rotated = stamp(
            &raw_single_page("/CropBox [50 60 450 760] /Rotate 270"),
            &sample_stamp(),
            FONT,
        )?;
        assert_sizes(&read_back(&cropped_and_rotated)?, &[(700.0, 400.0)]);
        Ok(())
    }

    #[test]
    fn a_pdf_2_document_is_stamped() -> TestResult {
        let original = fixture_with(&[A4], None, PdfVersion::Pdf20)?;
        let stamped = stamp(&original, &sample_stamp(), FONT)?;
        assert!(stamped.starts_with(b"%PDF-2.0"));
        assert_eq!(page_count(&stamped)?, 1);
        Ok(())
    }

    #[test]
    fn refuses_what_is_not_a_pdf() {
        assert!(matches!(page_count(b""), Err(WatermarkError::NotPdf)));
        assert!(matches!(page_count(b"hello"), Err(WatermarkError::NotPdf)));
        assert!(matches!(
            stamp(b"hello", &sample_stamp(), FONT),
            Err(WatermarkError::NotPdf)
        ));
        assert!(matches!(
            page_count(b"PK\x03\x04 a zip file, not a PDF"),
            Err(WatermarkError::NotPdf)
        ));
    }

    #[test]
    fn refuses_a_header_followed_by_garbage() {
        let mut garbage = b"%PDF-1.7\n".to_vec();
        garbage.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        assert!(matches!(
            page_count(&garbage),
            Err(WatermarkError::Damaged(_))
        ));
        // With an end marker the reader itself has to give up.
        garbage.extend_from_slice(b"\n%%EOF\n");
        assert!(matches!(
            page_count(&garbage),
            Err(WatermarkError::Damaged(_))
        ));
        assert!(matches!(
            stamp(&garbage, &sample_stamp(), FONT),
            Err(WatermarkError::Damaged(_))
        ));
    }

    #[test]
    fn refuses_a_truncated_pdf() -> TestResult {
        let original = fixture(&[A4, A5], Some(ORIGINAL_TEXT))?;
        for keep in [original.len() / 3, original.len() / 2, original.len() - 10] {
            let cut = &original[..keep];
            assert!(
                matches!(page_count(cut), Err(WatermarkError::Damaged(_))),
                "cut at {keep}"
            );
            assert!(matches!(
                stamp(cut, &sample_stamp(), FONT),
                Err(WatermarkError::Damaged(_))
            ));
        }
        Ok(())
    }

    #[test]
    fn refuses_an_encrypted_pdf() {
        let encrypted = raw_pdf(
            &[
                "<< /Type /Catalog /Pages 2 0 R >>",
                "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
                "<< /Filter /Standard /V 1 /R 2 /P -44 \
                 /O <6F776E65722070617373776F7264206861736820676F6573206865726521> \
                 /U <75736572207061737377 6F72642068617368206973206E6F74206D61746368> >>",
            ],
            "/Encrypt 4 0 R /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>]",
        );
        assert!(matches!(
            page_count(&encrypted),
            Err(WatermarkError::Encrypted)
        ));
        assert!(matches!(
            stamp(&encrypted, &sample_stamp(), FONT),
            Err(WatermarkError::Encrypted)
        ));
    }

    #[test]
    fn refuses_real_encryption_even_without_a_user_password() -> TestResult {
        let original = fixture(&[A4], Some(ORIGINAL_TEXT))?;
        // An empty user password opens the file without asking (only an owner password
        // restricts it); the reader then decrypts silently, so this is the case to catch.
        for user_password in ["", "mật-khẩu"] {
            let Some(encrypted) = qpdf_encrypt(&original, user_password)? else {
                eprintln!("note: qpdf is not installed; test skipped");
                return Ok(());
            };
            assert!(
                matches!(page_count(&encrypted), Err(WatermarkError::Encrypted)),
                "user password {user_password:?}"
            );
            assert!(matches!(
                stamp(&encrypted, &sample_stamp(), FONT),
                Err(WatermarkError::Encrypted)
            ));
        }
        Ok(())
    }

    /// `pdf` encrypted by qpdf (AES-256) with the given user password, or `None` if qpdf
    /// is not installed.
    fn qpdf_encrypt(pdf: &[u8], user_password: &str) -> Result<Option<Vec<u8>>, Box<dyn Error>> {
        use std::process::Command;
        let input = std::env::temp_dir().join(format!(
            "watermark-test-{}-{}.pdf",
            std::process::id(),
            user_password.len()
        ));
        std::fs::write(&input, pdf)?;
        let output = Command::new("qpdf")
            .arg("--encrypt")
            .arg(user_password)
            .args(["owner-password", "256", "--"])
            .arg(&input)
            .arg("-")
            .output();
        std::fs::remove_file(&input)?;
        let Ok(output) = output else {
            return Ok(None);
        };
        if !output.status.success() {
            return Err(format!("qpdf failed: {:?}", output.status).into());
        }
        Ok(Some(output.stdout))
    }

    #[test]
    fn refuses_a_pdf_without_pages() {
        let empty = raw_pdf(
            &[
                "<< /Type /Catalog /Pages 2 0 R >>",
                "<< /Type /Pages /Kids [] /Count 0 >>",
            ],
            "",
        );
        assert!(matches!(page_count(&empty), Err(WatermarkError::Empty)));
    }

    #[test]
    fn refuses_files_over_the_limits() -> TestResult {
        let original = fixture(&[A4, A4_LANDSCAPE, A5], None)?;
        let small = Limits {
            max_bytes: original.len() - 1,
            max_pages: MAX_PAGES,
        };
        assert!(matches!(
            within(&original, small),
            Err(WatermarkError::TooLarge)
        ));
        assert!(matches!(
            page_count_within(&original, small),
            Err(WatermarkError::TooLarge)
        ));
        let exact = Limits {
            max_bytes: original.len(),
            max_pages: 3,
        };
        assert_eq!(page_count_within(&original, exact)?, 3);
        let short = Limits {
            max_bytes: MAX_PDF_BYTES,
            max_pages: 2,
        };
        assert!(matches!(
            within(&original, short),
            Err(WatermarkError::TooManyPages(3))
        ));
        Ok(())
    }

    #[test]
    fn refuses_a_page_whose_content_cannot_be_decoded() {
        let broken = raw_pdf(
            &[
                "<< /Type /Catalog /Pages 2 0 R >>",
                "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
                "<< /Length 43 /Filter /FlateDecode >>\nstream\nthis text was never compressed with deflate\nendstream",
            ],
            "",
        );
        assert!(matches!(
            page_count(&broken),
            Err(WatermarkError::Damaged(_))
        ));
    }

    #[test]
    fn refuses_an_empty_stamp_and_a_bad_font() -> TestResult {
        let original = fixture(&[A4], None)?;
        let blank = Stamp {
            lines: vec![String::new(), " \n\t ".to_owned()],
        };
        assert!(matches!(
            stamp(&original, &blank, FONT),
            Err(WatermarkError::EmptyStamp)
        ));
        assert!(matches!(
            stamp(&original, &sample_stamp(), b"not a font"),
            Err(WatermarkError::Font)
        ));
        Ok(())
    }

    #[test]
    fn cleans_the_stamp_lines() {
        let stamp = Stamp {
            lines: vec![
                "  MẬT\u{202E} · Nguyễn\tVăn\nAn  ".to_owned(),
                "\u{200B}".to_owned(),
                "Phiên họp".to_owned(),
            ],
        };
        assert_eq!(clean_lines(&stamp), ["MẬT · Nguyễn Văn An", "Phiên họp"]);
    }

    #[test]
    fn a_one_line_stamp_works() -> TestResult {
        let original = fixture(&[A5], None)?;
        let stamp_one = Stamp {
            lines: vec!["Nguyễn Thị Ánh Tuyết".to_owned()],
        };
        let stamped = stamp(&original, &stamp_one, FONT)?;
        assert_eq!(page_count(&stamped)?, 1);
        Ok(())
    }

    #[test]
    fn every_error_has_messages_in_both_languages() {
        let all = [
            WatermarkError::NotPdf,
            WatermarkError::Encrypted,
            WatermarkError::Damaged("x".to_owned()),
            WatermarkError::TooLarge,
            WatermarkError::TooManyPages(2500),
            WatermarkError::Empty,
            WatermarkError::EmptyStamp,
            WatermarkError::Font,
            WatermarkError::Write("x".to_owned()),
        ];
        let vi: BTreeSet<String> = all.iter().map(WatermarkError::message_vi).collect();
        let en: BTreeSet<String> = all.iter().map(WatermarkError::message_en).collect();
        assert_eq!(vi.len(), all.len(), "Vietnamese messages are not distinct");
        assert_eq!(en.len(), all.len(), "English messages are not distinct");
        for message in vi.iter().chain(&en) {
            assert!(message.ends_with('.'), "{message}");
            assert!(!message.contains("  "), "{message}");
        }
        assert_eq!(WatermarkError::NotPdf.message_vi(), "Tệp không phải PDF.");
        assert_eq!(
            WatermarkError::NotPdf.message_en(),
            "The file is not a PDF."
        );
        assert!(
            WatermarkError::TooManyPages(2500)
                .message_vi()
                .contains("2500")
        );
        assert!(
            WatermarkError::TooManyPages(2500)
                .message_en()
                .contains("2500")
        );
        assert!(WatermarkError::TooLarge.message_vi().contains("50 MB"));
    }

    fn mutated(original: &[u8], edits: &[(usize, u8)], keep: usize, end_marker: bool) -> Vec<u8> {
        let mut bytes = original.to_vec();
        for &(at, byte) in edits {
            if let Some(b) = bytes.get_mut(at % original.len().max(1)) {
                *b = byte;
            }
        }
        bytes.truncate(keep);
        if end_marker {
            bytes.extend_from_slice(b"\n%%EOF\n");
        }
        bytes
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn damaged_input_never_panics(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..12),
            keep_share in prop_oneof![Just(1.0f64), 0.0f64..1.0],
            end_marker in any::<bool>(),
        ) {
            static ORIGINAL: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            let original = ORIGINAL.get_or_init(|| {
                fixture(&[A4, A5], Some(ORIGINAL_TEXT)).unwrap_or_default()
            });
            prop_assert!(!original.is_empty());
            let keep = ((original.len() as f64) * keep_share) as usize;
            let input = mutated(original, &edits, keep, end_marker);
            // Either outcome is fine; returning at all (no panic, no abort) is the test.
            let counted = page_count(&input);
            let stamped = stamp(&input, &sample_stamp(), FONT);
            prop_assert_eq!(counted.is_ok(), stamped.is_ok());
            if let Ok(stamped) = stamped {
                prop_assert_eq!(page_count(&stamped).ok(), counted.ok());
            }
        }
    }
}
