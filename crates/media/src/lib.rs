//! Photos that citizens send with field reports (a pothole, illegal dumping, a broken street
//! light), made safe to store and to show in public.
//!
//! The crate is pure: bytes in, bytes and facts out. It reads no file, opens no connection and
//! keeps no state. [`inspect`] takes what a phone uploaded and either refuses it with a
//! [`MediaError`] that a citizen can read, in Vietnamese or in English, or returns a [`Photo`]:
//! the facts found in it and the copy that may be stored.
//!
//! # The rules
//!
//! 1. **Size first.** Empty input and input longer than [`Limits::max_bytes`] (10 MiB by default)
//!    are refused before anything else is looked at.
//! 2. **The type comes from the bytes.** The first bytes of the file (its magic number) say what
//!    it is; a file name or a declared content type is never asked for and never believed. JPEG,
//!    PNG and WebP are accepted. GIF, HEIC/HEIF, AVIF, BMP, TIFF and camera RAW, SVG, PDF, JPEG XL,
//!    JPEG 2000, Photoshop, icons and videos are recognised and refused with a message that names
//!    them (a HEIC photo, for one, is answered with how to make the phone take JPEG); anything
//!    else is refused as not an image.
//! 3. **It must really be an image.** The container is walked piece by piece (JPEG segments and
//!    the scan data up to the end-of-image marker, PNG chunks up to `IEND`, the WebP RIFF chunks
//!    within the size the header declares), so a truncated upload or a known header followed by
//!    garbage is refused as corrupt. Then the copy to be stored is decoded in full by the `image`
//!    crate under [`Limits`]: width and height (12,000 px each by default), pixel count (50
//!    megapixels) and memory (512 MiB). The dimensions are read from the header and checked
//!    before any pixel buffer is allocated. Decoding returns errors, never panics, for any input:
//!    the decoders used are written to that contract and are fuzzed, and this crate's own tests
//!    feed arbitrary and mutated bytes to [`inspect`]; so no `catch_unwind` is used.
//! 4. **Facts from EXIF.** The GPS position (latitude and longitude in degrees, minutes and
//!    seconds with their N/S and E/W references, turned into signed decimal degrees), the date
//!    and time the photo was taken (`DateTimeOriginal`) and the orientation. A position whose
//!    reference is missing, whose values do not parse, that falls outside −90..90 / −180..180, or
//!    that is exactly 0, 0 (what a phone without a fix writes) is dropped, not guessed. Broken
//!    EXIF never refuses a photo: it only yields fewer facts.
//! 5. **The stored copy carries no metadata.** Removed: EXIF (with the GPS position and the
//!    embedded thumbnail), XMP, IPTC and other Photoshop (APP13) data, comments, the JFIF
//!    thumbnail, MPF and any data after the end of the image in JPEG; text chunks (`tEXt`,
//!    `zTXt`, `iTXt`), `eXIf`, `tIME` and every other chunk not needed to show the image in PNG;
//!    the `EXIF` and `XMP ` chunks (and their flags) in WebP. Kept: the ICC colour profile, so
//!    colours look the same. This is done on the container, without decoding and re-encoding,
//!    so no quality is lost: only a list of known pieces is kept, everything else is dropped.
//! 6. **Orientation is applied, not lost.** A phone often stores the pixels sideways and an EXIF
//!    orientation that says how to turn them. Removing EXIF would then show the photo sideways,
//!    so when the orientation is not 1 (normal) the pixels are turned as it says and re-encoded:
//!    as JPEG at quality 90, or as PNG when the source is PNG or has transparent pixels. The ICC
//!    profile goes into the new file too when it fits the new file's colours. [`Photo::kind`] and
//!    the dimensions describe the stored copy, as it is displayed.
//!
//! [`thumbnail`] makes the small JPEG that lists on phones show.

mod container;
mod decode;
mod error;
mod facts;
mod sniff;

pub use error::{MediaError, Unsupported};

use chrono::NaiveDateTime;

/// The bounds an upload must stay within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest upload accepted, in bytes.
    pub max_bytes: usize,
    /// The widest image accepted, in pixels (as stored, before orientation).
    pub max_width: u32,
    /// The tallest image accepted, in pixels (as stored, before orientation).
    pub max_height: u32,
    /// The most pixels (width × height) accepted.
    pub max_pixels: u64,
    /// The most memory the decoder may take for one image, in bytes.
    pub max_alloc: u64,
}

impl Default for Limits {
    /// 10 MiB, 12,000 × 12,000 pixels at most, 50 megapixels, 512 MiB of decoder memory (enough
    /// for the largest allowed image at 16 bits per channel with alpha).
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_width: 12_000,
            max_height: 12_000,
            max_pixels: 50_000_000,
            max_alloc: 512 * 1024 * 1024,
        }
    }
}

/// The accepted image types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Jpeg,
    Png,
    Webp,
}

impl Kind {
    /// The media type to serve the file with.
    pub fn media_type(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
            Kind::Webp => "image/webp",
        }
    }

    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpg",
            Kind::Png => "png",
            Kind::Webp => "webp",
        }
    }

    fn format(self) -> image::ImageFormat {
        match self {
            Kind::Jpeg => image::ImageFormat::Jpeg,
            Kind::Png => image::ImageFormat::Png,
            Kind::Webp => image::ImageFormat::WebP,
        }
    }
}

/// A point on the Earth in decimal degrees (WGS 84, as GPS receivers give it): south and west
/// are negative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
}

/// An accepted photo: what was found in it and the copy to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Photo {
    /// The type of [`Photo::clean`] (a re-encoded copy may differ from the upload's type).
    pub kind: Kind,
    /// The width as displayed, after the orientation was applied.
    pub width: u32,
    /// The height as displayed, after the orientation was applied.
    pub height: u32,
    /// Where the photo was taken, from EXIF GPS, when present and valid.
    pub location: Option<GeoPoint>,
    /// When the photo was taken (EXIF `DateTimeOriginal`, the camera's local time, no zone).
    pub taken_at: Option<NaiveDateTime>,
    /// The copy to store and show: the same image without any metadata but its colour profile.
    pub clean: Vec<u8>,
}

/// Checks an upload against `limits`, reads its facts and makes the copy to store.
///
/// See the [crate documentation](crate) for the rules.
pub fn inspect(bytes: &[u8], limits: &Limits) -> Result<Photo, MediaError> {
    check_size(bytes, limits)?;
    let kind = sniff::accepted_kind(bytes)?;
    let stripped = container::strip(kind, bytes).map_err(|_| MediaError::Corrupt)?;
    let facts = stripped
        .exif
        .as_deref()
        .map(facts::read)
        .unwrap_or_default();
    let decoded = decode::decode(kind, &stripped.clean, limits)?;

    match facts.orientation() {
        Some(orientation) => {
            let mut image = decoded.image;
            image.apply_orientation(orientation);
            let (clean, kind) = decode::reencode(&image, kind, decoded.icc.as_deref())?;
            Ok(Photo {
                kind,
                width: image.width(),
                height: image.height(),
                location: facts.location,
                taken_at: facts.taken_at,
                clean,
            })
        }
        None => Ok(Photo {
            kind,
            width: decoded.image.width(),
            height: decoded.image.height(),
            location: facts.location,
            taken_at: facts.taken_at,
            clean: stripped.clean,
        }),
    }
}

/// A JPEG of the photo no larger than `max_side` pixels on its longest side, for lists on
/// phones.
///
/// Meant for [`Photo::clean`]; any accepted upload works too (its orientation is applied). The
/// aspect ratio is kept and a smaller photo is never enlarged. Transparent parts become white.
/// The type, structure and pixel limits of [`Limits::default`] apply, but not its byte limit: a
/// stored copy re-encoded at quality 90 may be a little longer than the upload was. A
/// `max_side` of 0 is taken as 1.
pub fn thumbnail(photo_clean_bytes: &[u8], max_side: u32) -> Result<Vec<u8>, MediaError> {
    let limits = Limits {
        max_bytes: usize::MAX,
        ..Limits::default()
    };
    check_size(photo_clean_bytes, &limits)?;
    let kind = sniff::accepted_kind(photo_clean_bytes)?;
    let stripped = container::strip(kind, photo_clean_bytes).map_err(|_| MediaError::Corrupt)?;
    let facts = stripped
        .exif
        .as_deref()
        .map(facts::read)
        .unwrap_or_default();
    let decoded = decode::decode(kind, &stripped.clean, &limits)?;
    let mut image = decoded.image;
    if let Some(orientation) = facts.orientation() {
        image.apply_orientation(orientation);
    }
    decode::thumbnail_jpeg(&image, max_side.max(1), decoded.icc.as_deref())
}

fn check_size(bytes: &[u8], limits: &Limits) -> Result<(), MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(MediaError::TooLarge {
            max_bytes: limits.max_bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_name_their_media_type_and_extension() {
        assert_eq!(Kind::Jpeg.media_type(), "image/jpeg");
        assert_eq!(Kind::Png.media_type(), "image/png");
        assert_eq!(Kind::Webp.media_type(), "image/webp");
        assert_eq!(Kind::Jpeg.extension(), "jpg");
        assert_eq!(Kind::Png.extension(), "png");
        assert_eq!(Kind::Webp.extension(), "webp");
    }

    #[test]
    fn default_limits_are_the_documented_ones() {
        let limits = Limits::default();
        assert_eq!(limits.max_bytes, 10_485_760);
        assert_eq!((limits.max_width, limits.max_height), (12_000, 12_000));
        assert_eq!(limits.max_pixels, 50_000_000);
    }
}
