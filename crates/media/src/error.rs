//! Why an upload was refused, in words for the citizen who sent it and in a status for HTTP.

/// A recognised file type that is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unsupported {
    Gif,
    /// HEIC and other HEIF photos (what iPhones take by default).
    Heic,
    Avif,
    Bmp,
    /// TIFF and the camera RAW formats built on it.
    Tiff,
    Svg,
    Pdf,
    JpegXl,
    Jpeg2000,
    /// A Photoshop document.
    Psd,
    /// A Windows icon or cursor.
    Ico,
    /// An MP4, QuickTime, 3GP, WebM, Matroska or AVI video.
    Video,
}

impl Unsupported {
    /// A stable snake_case key for the type.
    pub fn key(self) -> &'static str {
        match self {
            Unsupported::Gif => "gif",
            Unsupported::Heic => "heic",
            Unsupported::Avif => "avif",
            Unsupported::Bmp => "bmp",
            Unsupported::Tiff => "tiff",
            Unsupported::Svg => "svg",
            Unsupported::Pdf => "pdf",
            Unsupported::JpegXl => "jpeg_xl",
            Unsupported::Jpeg2000 => "jpeg_2000",
            Unsupported::Psd => "psd",
            Unsupported::Ico => "ico",
            Unsupported::Video => "video",
        }
    }

    /// The type's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Unsupported::Gif => "GIF",
            Unsupported::Heic => "HEIC",
            Unsupported::Avif => "AVIF",
            Unsupported::Bmp => "BMP",
            Unsupported::Tiff => "TIFF",
            Unsupported::Svg => "SVG",
            Unsupported::Pdf => "PDF",
            Unsupported::JpegXl => "JPEG XL",
            Unsupported::Jpeg2000 => "JPEG 2000",
            Unsupported::Psd => "Photoshop",
            Unsupported::Ico => "ICO",
            Unsupported::Video => "video",
        }
    }
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an upload was refused.
///
/// `Display` gives a short English text for logs; [`MediaError::message_vi`] and
/// [`MediaError::message_en`] give the sentences to show the citizen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("the upload is empty")]
    Empty,
    #[error("the upload is longer than {max_bytes} bytes")]
    TooLarge { max_bytes: usize },
    #[error("the upload is not an image of a known type")]
    NotAnImage,
    #[error("{0} files are not accepted")]
    Unsupported(Unsupported),
    #[error("the image is corrupt or truncated")]
    Corrupt,
    #[error("the image has {width}x{height} pixels, more than {max_pixels}")]
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    #[error("the image is {width}x{height} pixels, more than {max_width}x{max_height}")]
    DimensionsTooLarge {
        width: u32,
        height: u32,
        max_width: u32,
        max_height: u32,
    },
}

const ACCEPTED_EN: &str = "please send a JPEG, PNG or WebP photo";
const ACCEPTED_VI: &str = "hãy gửi ảnh JPEG, PNG hoặc WebP";

impl MediaError {
    /// A stable snake_case key, for APIs and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            MediaError::Empty => "empty",
            MediaError::TooLarge { .. } => "too_large",
            MediaError::NotAnImage => "not_an_image",
            MediaError::Unsupported(_) => "unsupported_type",
            MediaError::Corrupt => "corrupt",
            MediaError::TooManyPixels { .. } => "too_many_pixels",
            MediaError::DimensionsTooLarge { .. } => "dimensions_too_large",
        }
    }

    /// The HTTP status to answer with: 413 for too large, 415 for a file that is not an accepted
    /// image, 422 for an image that cannot be used, 400 for an empty upload.
    pub fn status(&self) -> u16 {
        match self {
            MediaError::Empty => 400,
            MediaError::TooLarge { .. } => 413,
            MediaError::NotAnImage | MediaError::Unsupported(_) => 415,
            MediaError::Corrupt
            | MediaError::TooManyPixels { .. }
            | MediaError::DimensionsTooLarge { .. } => 422,
        }
    }

    /// The reason in Vietnamese, for the citizen.
    pub fn message_vi(&self) -> String {
        match self {
            MediaError::Empty => "Tệp ảnh trống: hãy chọn lại ảnh rồi gửi lại.".to_string(),
            MediaError::TooLarge { max_bytes } => {
                format!("Ảnh quá lớn: tối đa {}.", size_text(*max_bytes, ','))
            }
            MediaError::NotAnImage => {
                format!("Tệp đã gửi không phải là ảnh: {ACCEPTED_VI}.")
            }
            MediaError::Unsupported(which) => unsupported_vi(*which),
            MediaError::Corrupt => {
                "Ảnh bị hỏng hoặc chưa được tải lên hết: hãy chụp lại hoặc gửi lại ảnh.".to_string()
            }
            MediaError::TooManyPixels {
                width,
                height,
                max_pixels,
            } => format!(
                "Ảnh có quá nhiều điểm ảnh ({} × {}): tối đa {} triệu điểm ảnh. \
                 Hãy gửi ảnh nhỏ hơn.",
                group(u64::from(*width), '.'),
                group(u64::from(*height), '.'),
                megapixels(*max_pixels, ','),
            ),
            MediaError::DimensionsTooLarge {
                width,
                height,
                max_width,
                max_height,
            } => format!(
                "Ảnh quá rộng hoặc quá cao ({} × {} điểm ảnh): tối đa {} × {}. \
                 Hãy gửi ảnh nhỏ hơn.",
                group(u64::from(*width), '.'),
                group(u64::from(*height), '.'),
                group(u64::from(*max_width), '.'),
                group(u64::from(*max_height), '.'),
            ),
        }
    }

    /// The reason in English, for the citizen.
    pub fn message_en(&self) -> String {
        match self {
            MediaError::Empty => {
                "The photo file is empty: please choose the photo again and resend it.".to_string()
            }
            MediaError::TooLarge { max_bytes } => {
                format!(
                    "The photo is too large: at most {}.",
                    size_text(*max_bytes, '.')
                )
            }
            MediaError::NotAnImage => format!("The file is not a photo: {ACCEPTED_EN}."),
            MediaError::Unsupported(which) => unsupported_en(*which),
            MediaError::Corrupt => "The photo is damaged or was not uploaded completely: \
                 please take it again or send it again."
                .to_string(),
            MediaError::TooManyPixels {
                width,
                height,
                max_pixels,
            } => format!(
                "The photo has too many pixels ({} × {}): at most {} megapixels. \
                 Please send a smaller photo.",
                group(u64::from(*width), ','),
                group(u64::from(*height), ','),
                megapixels(*max_pixels, '.'),
            ),
            MediaError::DimensionsTooLarge {
                width,
                height,
                max_width,
                max_height,
            } => format!(
                "The photo is too wide or too tall ({} × {} pixels): at most {} × {}. \
                 Please send a smaller photo.",
                group(u64::from(*width), ','),
                group(u64::from(*height), ','),
                group(u64::from(*max_width), ','),
                group(u64::from(*max_height), ','),
            ),
        }
    }
}

fn unsupported_vi(which: Unsupported) -> String {
    match which {
        Unsupported::Heic => "Ảnh HEIC không được chấp nhận: hãy đặt camera của điện thoại ở \
             chế độ “Tương thích nhất” (Cài đặt → Camera → Định dạng) hoặc gửi ảnh JPEG."
            .to_string(),
        Unsupported::Tiff => {
            format!("Ảnh TIFF và ảnh RAW của máy ảnh không được chấp nhận: {ACCEPTED_VI}.")
        }
        Unsupported::Pdf => format!("Tệp PDF không được chấp nhận: {ACCEPTED_VI}."),
        Unsupported::Video => format!("Video không được chấp nhận: {ACCEPTED_VI}."),
        Unsupported::Psd => format!("Tệp Photoshop không được chấp nhận: {ACCEPTED_VI}."),
        Unsupported::Ico => format!("Tệp biểu tượng (ICO) không được chấp nhận: {ACCEPTED_VI}."),
        other => format!("Ảnh {} không được chấp nhận: {ACCEPTED_VI}.", other.name()),
    }
}

fn unsupported_en(which: Unsupported) -> String {
    match which {
        Unsupported::Heic => "HEIC photos are not accepted: set the phone's camera to \
             'Most Compatible' (Settings → Camera → Formats) or send JPEG."
            .to_string(),
        Unsupported::Tiff => {
            format!("TIFF and camera RAW files are not accepted: {ACCEPTED_EN}.")
        }
        Unsupported::Pdf => format!("PDF files are not accepted: {ACCEPTED_EN}."),
        Unsupported::Video => format!("Videos are not accepted: {ACCEPTED_EN}."),
        Unsupported::Psd => format!("Photoshop files are not accepted: {ACCEPTED_EN}."),
        Unsupported::Ico => format!("Icon (ICO) files are not accepted: {ACCEPTED_EN}."),
        other => format!("{} images are not accepted: {ACCEPTED_EN}.", other.name()),
    }
}

/// `n` with its thousands grouped by `separator`: 12000 → "12,000" or "12.000".
fn group(n: u64, separator: char) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

/// `tenths` / 10 with at most one decimal, written with `decimal` as the decimal mark.
fn tenths_text(tenths: u64, decimal: char) -> String {
    let whole = tenths / 10;
    let fraction = tenths % 10;
    if fraction == 0 {
        whole.to_string()
    } else {
        format!("{whole}{decimal}{fraction}")
    }
}

/// A byte count as people write it: "10 MB", "2.5 MB", "500 KB" (binary units, as phones show
/// file sizes).
fn size_text(bytes: usize, decimal: char) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
    if bytes >= MIB {
        // Rounded down, so the limit shown is never more than the real one.
        let tenths = bytes / (MIB / 10);
        format!("{} MB", tenths_text(tenths, decimal))
    } else if bytes >= KIB {
        format!("{} KB", bytes / KIB)
    } else {
        format!("{bytes} B")
    }
}

/// A pixel count in megapixels (millions), with at most one decimal, rounded down.
fn megapixels(pixels: u64, decimal: char) -> String {
    tenths_text(pixels / 100_000, decimal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_people_read_them() {
        assert_eq!(group(12_000, ','), "12,000");
        assert_eq!(group(12_000, '.'), "12.000");
        assert_eq!(group(999, ','), "999");
        assert_eq!(group(1_234_567, ','), "1,234,567");
        assert_eq!(group(0, ','), "0");
        assert_eq!(size_text(10 * 1024 * 1024, '.'), "10 MB");
        assert_eq!(size_text(5 * 1024 * 1024 / 2, ','), "2,5 MB");
        assert_eq!(size_text(500 * 1024, '.'), "500 KB");
        assert_eq!(size_text(100, '.'), "100 B");
        assert_eq!(megapixels(50_000_000, '.'), "50");
        assert_eq!(megapixels(12_500_000, ','), "12,5");
    }

    #[test]
    fn too_large_reads_well_in_both_languages() {
        let e = MediaError::TooLarge {
            max_bytes: 10 * 1024 * 1024,
        };
        assert_eq!(e.message_vi(), "Ảnh quá lớn: tối đa 10 MB.");
        assert_eq!(e.message_en(), "The photo is too large: at most 10 MB.");
        assert_eq!(e.status(), 413);
        assert_eq!(e.kind(), "too_large");
    }

    #[test]
    fn every_error_has_a_key_a_status_and_two_sentences() {
        let mut all = vec![
            MediaError::Empty,
            MediaError::TooLarge { max_bytes: 1 },
            MediaError::NotAnImage,
            MediaError::Corrupt,
            MediaError::TooManyPixels {
                width: 10_000,
                height: 9_000,
                max_pixels: 50_000_000,
            },
            MediaError::DimensionsTooLarge {
                width: 20_000,
                height: 100,
                max_width: 12_000,
                max_height: 12_000,
            },
        ];
        for which in [
            Unsupported::Gif,
            Unsupported::Heic,
            Unsupported::Avif,
            Unsupported::Bmp,
            Unsupported::Tiff,
            Unsupported::Svg,
            Unsupported::Pdf,
            Unsupported::JpegXl,
            Unsupported::Jpeg2000,
            Unsupported::Psd,
            Unsupported::Ico,
            Unsupported::Video,
        ] {
            all.push(MediaError::Unsupported(which));
        }
        for e in &all {
            let key = e.kind();
            assert!(!key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert!([400, 413, 415, 422].contains(&e.status()));
            let (vi, en) = (e.message_vi(), e.message_en());
            assert!(vi.ends_with('.') && en.ends_with('.'), "{vi} / {en}");
            // Vietnamese with its diacritics, not stripped to ASCII.
            assert!(!vi.is_ascii(), "{vi}");
            assert!(!e.to_string().is_empty());
        }
        let heic = MediaError::Unsupported(Unsupported::Heic);
        assert!(
            heic.message_en()
                .starts_with("HEIC photos are not accepted")
        );
        assert!(heic.message_vi().contains("Tương thích nhất"));
        assert_eq!(heic.status(), 415);
        assert_eq!(heic.kind(), "unsupported_type");
        let pixels = &all[4];
        assert_eq!(pixels.status(), 422);
        assert!(pixels.message_en().contains("10,000 × 9,000"));
        assert!(pixels.message_vi().contains("10.000 × 9.000"));
        assert!(pixels.message_en().contains("at most 50 megapixels"));
    }
}
