//! What a file is, from its first bytes alone.

use crate::{Kind, MediaError, Unsupported};

/// What the first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    Accepted(Kind),
    Unsupported(Unsupported),
    Unknown,
}

/// The accepted kind of `bytes`, or the error that refuses them.
pub(crate) fn accepted_kind(bytes: &[u8]) -> Result<Kind, MediaError> {
    match sniff(bytes) {
        Sniffed::Accepted(kind) => Ok(kind),
        Sniffed::Unsupported(which) => Err(MediaError::Unsupported(which)),
        Sniffed::Unknown => Err(MediaError::NotAnImage),
    }
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

pub(crate) fn sniff(b: &[u8]) -> Sniffed {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Sniffed::Accepted(Kind::Jpeg);
    }
    if b.starts_with(PNG_SIGNATURE) {
        return Sniffed::Accepted(Kind::Png);
    }
    if b.len() >= 12 && b.starts_with(b"RIFF") {
        match &b[8..12] {
            b"WEBP" => return Sniffed::Accepted(Kind::Webp),
            b"AVI " => return Sniffed::Unsupported(Unsupported::Video),
            _ => {}
        }
    }
    match unsupported(b) {
        Some(which) => Sniffed::Unsupported(which),
        None => Sniffed::Unknown,
    }
}

fn unsupported(b: &[u8]) -> Option<Unsupported> {
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Some(Unsupported::Gif);
    }
    if b.get(4..8) == Some(&b"ftyp"[..]) {
        return Some(iso_media(b));
    }
    // QuickTime files older than `ftyp` start with one of these atoms.
    if matches!(
        b.get(4..8),
        Some(b"moov" | b"mdat" | b"wide" | b"free" | b"skip")
    ) {
        return Some(Unsupported::Video);
    }
    // Matroska and WebM (EBML).
    if b.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some(Unsupported::Video);
    }
    if is_bmp(b) {
        return Some(Unsupported::Bmp);
    }
    const TIFF_AND_RAW: [&[u8]; 8] = [
        b"II*\0",
        b"MM\0*",
        b"II+\0", // BigTIFF
        b"MM\0+",
        b"IIRO", // Olympus ORF
        b"IIRS",
        b"IIU\0",           // Panasonic RW2
        b"FUJIFILMCCD-RAW", // Fujifilm RAF
    ];
    if TIFF_AND_RAW.iter().any(|magic| b.starts_with(magic)) {
        return Some(Unsupported::Tiff);
    }
    if b.starts_with(&[0xFF, 0x0A]) || b.starts_with(b"\0\0\0\x0cJXL \r\n\x87\n") {
        return Some(Unsupported::JpegXl);
    }
    if b.starts_with(b"\0\0\0\x0cjP  \r\n\x87\n") || b.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        return Some(Unsupported::Jpeg2000);
    }
    if b.starts_with(b"8BPS") {
        return Some(Unsupported::Psd);
    }
    if is_ico(b) {
        return Some(Unsupported::Ico);
    }
    // A PDF reader looks for the header in the first 1024 bytes.
    if find(&b[..b.len().min(1024)], b"%PDF-").is_some() {
        return Some(Unsupported::Pdf);
    }
    if is_svg(b) {
        return Some(Unsupported::Svg);
    }
    None
}

/// An ISO base media file (`ftyp` box): HEIF and AVIF photos, or MP4, QuickTime and 3GP video.
fn iso_media(b: &[u8]) -> Unsupported {
    let declared = b
        .get(0..4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize)
        .unwrap_or(0);
    let end = declared.clamp(16, 4096).min(b.len());
    let major = b.get(8..12);
    // The major brand, then the compatible brands after the minor version.
    let brands: Vec<&[u8]> = major
        .into_iter()
        .chain(b.get(16..end).unwrap_or(&[]).chunks_exact(4))
        .collect();
    let any = |set: &[&[u8; 4]]| {
        brands
            .iter()
            .any(|brand| set.iter().any(|s| s.as_slice() == *brand))
    };
    if any(&[b"avif", b"avis"]) {
        Unsupported::Avif
    } else if any(&[
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1",
        b"mif2",
    ]) {
        Unsupported::Heic
    } else if major == Some(&b"crx "[..]) {
        // Canon CR3 raw.
        Unsupported::Tiff
    } else {
        Unsupported::Video
    }
}

fn is_bmp(b: &[u8]) -> bool {
    // "BM", the file size, two reserved zero words, the pixel offset, then a DIB header whose
    // size is one of the known ones: two letters alone would match ordinary text.
    if b.len() < 18 || !b.starts_with(b"BM") || b[6..10] != [0, 0, 0, 0] {
        return false;
    }
    let dib = u32::from_le_bytes([b[14], b[15], b[16], b[17]]);
    matches!(dib, 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124)
}

fn is_ico(b: &[u8]) -> bool {
    // Reserved 0, type 1 (icon) or 2 (cursor), a count of at least one, then a 16-byte entry
    // whose reserved byte is 0.
    b.len() >= 22
        && b[0..2] == [0, 0]
        && (b[2..4] == [1, 0] || b[2..4] == [2, 0])
        && u16::from_le_bytes([b[4], b[5]]) > 0
        && b[9] == 0
}

fn is_svg(b: &[u8]) -> bool {
    let head = &b[..b.len().min(4096)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(head.len());
    if head.get(start) != Some(&b'<') {
        return false;
    }
    let lower = head.to_ascii_lowercase();
    // A web page may hold an SVG icon: it is still a web page.
    match (find(&lower, b"<svg"), find(&lower, b"<html")) {
        (Some(svg), Some(html)) => svg < html,
        (svg, _) => svg.is_some(),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(head: &[u8]) -> Vec<u8> {
        let mut v = head.to_vec();
        v.resize(64, 0);
        v
    }

    #[test]
    fn accepted_types_are_found_by_their_magic() {
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Sniffed::Accepted(Kind::Jpeg)
        );
        assert_eq!(sniff(&padded(PNG_SIGNATURE)), Sniffed::Accepted(Kind::Png));
        assert_eq!(
            sniff(b"RIFF\x10\0\0\0WEBPVP8L"),
            Sniffed::Accepted(Kind::Webp)
        );
    }

    #[test]
    fn refused_types_are_named() {
        let cases: [(&[u8], Unsupported); 16] = [
            (b"GIF89a\x01\0\x01\0", Unsupported::Gif),
            (b"GIF87a\x01\0\x01\0", Unsupported::Gif),
            (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", Unsupported::Heic),
            (b"\0\0\0\x18ftypmif1\0\0\0\0mif1heic", Unsupported::Heic),
            (b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf", Unsupported::Avif),
            (b"\0\0\0\x18ftypmif1\0\0\0\0mif1avif", Unsupported::Avif),
            (b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2", Unsupported::Video),
            (b"\0\0\0\x14ftypqt  \0\0\0\0qt  ", Unsupported::Video),
            (b"II*\0\x08\0\0\0", Unsupported::Tiff),
            (b"MM\0*\0\0\0\x08", Unsupported::Tiff),
            (b"%PDF-1.7\n", Unsupported::Pdf),
            (b"8BPS\0\x01", Unsupported::Psd),
            (b"\x1a\x45\xdf\xa3\x9f", Unsupported::Video),
            (b"RIFF\0\0\0\0AVI LIST", Unsupported::Video),
            (b"\xff\x0a\xfa", Unsupported::JpegXl),
            (b"\xff\x4f\xff\x51\0", Unsupported::Jpeg2000),
        ];
        for (bytes, which) in cases {
            assert_eq!(
                sniff(&padded(bytes)),
                Sniffed::Unsupported(which),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn bmp_ico_and_svg_need_more_than_two_letters() {
        let mut bmp = b"BM".to_vec();
        bmp.extend_from_slice(&70u32.to_le_bytes());
        bmp.extend_from_slice(&[0, 0, 0, 0]);
        bmp.extend_from_slice(&54u32.to_le_bytes());
        bmp.extend_from_slice(&40u32.to_le_bytes());
        assert_eq!(sniff(&padded(&bmp)), Sniffed::Unsupported(Unsupported::Bmp));
        assert_eq!(
            sniff(b"BMW is a car brand, not a bitmap."),
            Sniffed::Unknown
        );

        let mut ico = vec![0, 0, 1, 0, 1, 0, 16, 16, 0, 0];
        ico.resize(40, 0);
        assert_eq!(sniff(&ico), Sniffed::Unsupported(Unsupported::Ico));

        let svg =
            b"\xEF\xBB\xBF  <?xml version=\"1.0\"?>\n<SVG xmlns=\"http://www.w3.org/2000/svg\"/>";
        assert_eq!(sniff(svg), Sniffed::Unsupported(Unsupported::Svg));
        assert_eq!(
            sniff(b"<!DOCTYPE html><html><body>svg</body></html>"),
            Sniffed::Unknown
        );
        assert_eq!(sniff(b"plain text mentioning <svg later"), Sniffed::Unknown);
        assert_eq!(
            sniff(b"<!doctype html><HTML><body><svg viewBox=\"0 0 1 1\"></svg></body></HTML>"),
            Sniffed::Unknown
        );
    }

    #[test]
    fn text_and_short_input_are_unknown() {
        assert_eq!(sniff(b"hello"), Sniffed::Unknown);
        assert_eq!(sniff(&[0xFF, 0xD8]), Sniffed::Unknown);
        assert_eq!(sniff(b"RIFF"), Sniffed::Unknown);
        assert_eq!(sniff(&[0]), Sniffed::Unknown);
        assert_eq!(
            sniff(b"\0\0\0\x08ftyp"),
            Sniffed::Unsupported(Unsupported::Video)
        );
    }
}
