//! The container walkers: each reads a JPEG, PNG or WebP file piece by piece, checks that the
//! pieces fit together up to the end of the image, keeps those needed to show the image and its
//! colour profile, and drops all the rest. The EXIF block is handed back on the side so its facts
//! can be read; it never reaches the stored copy.
//!
//! Nothing is decoded or re-encoded here: the kept pieces are copied byte for byte.

use crate::Kind;

/// The file without its metadata, and the EXIF block (TIFF-structured) it carried.
#[derive(Debug)]
pub(crate) struct Stripped {
    pub clean: Vec<u8>,
    pub exif: Option<Vec<u8>>,
}

/// The pieces do not fit together: truncated, or not the container its magic number claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

type Walk<T> = Result<T, Malformed>;

pub(crate) fn strip(kind: Kind, bytes: &[u8]) -> Walk<Stripped> {
    match kind {
        Kind::Jpeg => strip_jpeg(bytes),
        Kind::Png => strip_png(bytes),
        Kind::Webp => strip_webp(bytes),
    }
}

/// The EXIF block's prefix in a JPEG APP1 segment (and in some WebP and PNG writers' output).
const EXIF_PREFIX: &[u8] = b"Exif\0\0";

fn be16(b: &[u8], at: usize) -> Walk<u16> {
    match b.get(at..at.checked_add(2).ok_or(Malformed)?) {
        Some(s) => Ok(u16::from_be_bytes([s[0], s[1]])),
        None => Err(Malformed),
    }
}

fn be32(b: &[u8], at: usize) -> Walk<u32> {
    match b.get(at..at.checked_add(4).ok_or(Malformed)?) {
        Some(s) => Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]])),
        None => Err(Malformed),
    }
}

fn le32(b: &[u8], at: usize) -> Walk<u32> {
    match b.get(at..at.checked_add(4).ok_or(Malformed)?) {
        Some(s) => Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]])),
        None => Err(Malformed),
    }
}

fn slice(b: &[u8], start: usize, len: usize) -> Walk<&[u8]> {
    b.get(start..start.checked_add(len).ok_or(Malformed)?)
        .ok_or(Malformed)
}

// ---------------------------------------------------------------------------------------------
// JPEG

mod marker {
    pub const SOI: u8 = 0xD8;
    pub const EOI: u8 = 0xD9;
    pub const SOS: u8 = 0xDA;
    pub const DQT: u8 = 0xDB;
    pub const DNL: u8 = 0xDC;
    pub const DRI: u8 = 0xDD;
    pub const DHP: u8 = 0xDE;
    pub const EXP: u8 = 0xDF;
    pub const DHT: u8 = 0xC4;
    pub const JPG: u8 = 0xC8;
    pub const DAC: u8 = 0xCC;
    pub const APP0: u8 = 0xE0;
    pub const APP1: u8 = 0xE1;
    pub const APP2: u8 = 0xE2;
    pub const APP14: u8 = 0xEE;
    pub const TEM: u8 = 0x01;
}

/// Keeps: the frame and scan headers with their tables (DQT, DHT, DAC, DRI, DNL, hierarchical
/// markers), the scans' entropy-coded data, a JFIF header without its thumbnail, the ICC profile
/// (APP2 `ICC_PROFILE`) and the Adobe colour-transform flag (APP14 `Adobe`). Drops: every other
/// APPn (EXIF and XMP in APP1, MPF and FlashPix in APP2, IPTC in APP13, …), comments, reserved
/// markers, stray bytes between segments, and anything after the end-of-image marker. Refuses a
/// file that ends before its end-of-image marker, or that has no frame or no scan.
fn strip_jpeg(b: &[u8]) -> Walk<Stripped> {
    if !b.starts_with(&[0xFF, marker::SOI]) {
        return Err(Malformed);
    }
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&[0xFF, marker::SOI]);
    let mut exif = None;
    let (mut frame, mut scan) = (false, false);
    let mut pos = 2;
    loop {
        // Stray bytes between segments are passed over, as decoders do, and not copied.
        pos += b
            .get(pos..)
            .and_then(|rest| rest.iter().position(|&x| x == 0xFF))
            .ok_or(Malformed)?;
        // A marker may be preceded by any number of 0xFF fill bytes.
        while b.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let m = *b.get(pos).ok_or(Malformed)?;
        pos += 1;
        match m {
            marker::EOI => {
                if !(frame && scan) {
                    return Err(Malformed);
                }
                out.extend_from_slice(&[0xFF, marker::EOI]);
                return Ok(Stripped { clean: out, exif });
            }
            0x00 | marker::SOI => return Err(Malformed),
            // Markers without a length: restart markers (harmless outside a scan) and TEM.
            marker::TEM | 0xD0..=0xD7 => {
                out.extend_from_slice(&[0xFF, m]);
                continue;
            }
            _ => {}
        }
        let len = usize::from(be16(b, pos)?);
        if len < 2 {
            return Err(Malformed);
        }
        let payload = slice(b, pos + 2, len - 2)?;
        let end = pos + len;
        match m {
            marker::APP0 => {
                if let Some(jfif) = jfif_without_thumbnail(payload) {
                    push_segment(&mut out, marker::APP0, &jfif);
                }
            }
            marker::APP1 => {
                if exif.is_none()
                    && let Some(tiff) = payload.strip_prefix(EXIF_PREFIX)
                {
                    exif = Some(tiff.to_vec());
                }
            }
            marker::APP2 if payload.starts_with(b"ICC_PROFILE\0") => {
                push_segment(&mut out, m, payload);
            }
            marker::APP14 if payload.starts_with(b"Adobe") => push_segment(&mut out, m, payload),
            marker::DHT
            | marker::DAC
            | marker::DQT
            | marker::DNL
            | marker::DRI
            | marker::DHP
            | marker::EXP => push_segment(&mut out, m, payload),
            // The frame headers (SOF0–SOF15 without DHT, JPG and DAC, matched above).
            0xC0..=0xCF if m != marker::JPG => {
                frame = true;
                push_segment(&mut out, m, payload);
            }
            marker::SOS => {
                scan = true;
                push_segment(&mut out, m, payload);
                let data_end = entropy_coded_end(b, end)?;
                out.extend_from_slice(&b[end..data_end]);
                pos = data_end;
                continue;
            }
            // APPn not kept above, COM, JPGn and reserved markers.
            _ => {}
        }
        pos = end;
    }
}

/// Where a scan's entropy-coded data starting at `from` ends: at the first marker that is not a
/// stuffed zero byte or a restart marker. The data must not run to the end of the file.
fn entropy_coded_end(b: &[u8], from: usize) -> Walk<usize> {
    let mut i = from;
    loop {
        let ff = i + b
            .get(i..)
            .ok_or(Malformed)?
            .iter()
            .position(|&x| x == 0xFF)
            .ok_or(Malformed)?;
        match b.get(ff + 1) {
            None => return Err(Malformed),
            // A stuffed 0xFF data byte, or a restart marker.
            Some(0x00 | 0xD0..=0xD7) => i = ff + 2,
            // A fill byte: the marker follows.
            Some(0xFF) => i = ff + 1,
            Some(_) => return Ok(ff),
        }
    }
}

/// The JFIF header (version, density units and density) with its thumbnail removed, which may
/// show the photo as it was before it was cropped or edited. Other APP0 segments (JFXX
/// thumbnails, …) are not kept.
fn jfif_without_thumbnail(payload: &[u8]) -> Option<Vec<u8>> {
    if !payload.starts_with(b"JFIF\0") || payload.len() < 14 {
        return None;
    }
    let mut jfif = payload[..12].to_vec();
    jfif.extend_from_slice(&[0, 0]);
    Some(jfif)
}

fn push_segment(out: &mut Vec<u8>, m: u8, payload: &[u8]) {
    // The payload came out of a segment of the same marker, so its length fits.
    let len = u16::try_from(payload.len() + 2).unwrap_or(u16::MAX);
    out.extend_from_slice(&[0xFF, m]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
}

// ---------------------------------------------------------------------------------------------
// PNG

/// The chunks needed to show a still PNG as it was meant: the critical ones, transparency, and
/// the colour information (gamma, chromaticities, sRGB intent, ICC profile, significant bits,
/// coding-independent code points and HDR mastering data). Everything else is dropped: text
/// (`tEXt`, `zTXt`, `iTXt`, which carry XMP and IPTC too), `eXIf`, `tIME`, `pHYs`, `bKGD`, the
/// animation chunks (the default image is kept) and private chunks.
const PNG_KEPT: [&[u8; 4]; 13] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB",
    b"cICP", b"mDCV", b"cLLI",
];

/// Walks the chunks from `IHDR` to `IEND` (whose CRCs the decoder checks on the copy), and
/// refuses a file without them, with a chunk running past its end, or with a critical chunk this
/// walker does not know (a decoder could not show it either). Bytes after `IEND` are dropped.
fn strip_png(b: &[u8]) -> Walk<Stripped> {
    const SIGNATURE: usize = 8;
    if !b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(Malformed);
    }
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..SIGNATURE]);
    let mut exif = None;
    let mut pos = SIGNATURE;
    loop {
        let len = be32(b, pos)?;
        if len > 0x7FFF_FFFF {
            return Err(Malformed);
        }
        let len = len as usize;
        let kind = slice(b, pos + 4, 4)?;
        // Length, type, data and CRC.
        let chunk = slice(b, pos, len + 12)?;
        if pos == SIGNATURE && kind != b"IHDR" {
            return Err(Malformed);
        }
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(Malformed);
        }
        let critical = kind[0].is_ascii_uppercase();
        if PNG_KEPT.iter().any(|k| k.as_slice() == kind) {
            out.extend_from_slice(chunk);
        } else if critical {
            return Err(Malformed);
        } else if kind == b"eXIf" && exif.is_none() {
            let data = &chunk[8..8 + len];
            exif = Some(data.strip_prefix(EXIF_PREFIX).unwrap_or(data).to_vec());
        }
        pos += chunk.len();
        if kind == b"IEND" {
            return Ok(Stripped { clean: out, exif });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// WebP

const VP8X_EXIF: u8 = 0x08;
const VP8X_XMP: u8 = 0x04;

/// Walks the RIFF chunks within the size the header declares (bytes after it are dropped) and
/// refuses a file whose chunks run past it. A simple file (one `VP8 ` or `VP8L` chunk) keeps only
/// that chunk. An extended file (`VP8X` first) keeps `VP8X` with its EXIF and XMP flags cleared,
/// `ICCP`, `ANIM`, `ANMF`, `ALPH`, `VP8 ` and `VP8L`, and drops `EXIF`, `XMP ` and unknown chunks.
fn strip_webp(b: &[u8]) -> Walk<Stripped> {
    if b.len() < 12 || &b[..4] != b"RIFF" || &b[8..12] != b"WEBP" {
        return Err(Malformed);
    }
    let riff_len = le32(b, 4)? as usize;
    if riff_len < 4 {
        return Err(Malformed);
    }
    let body = slice(b, 12, riff_len - 4)?;

    let mut chunks = Vec::with_capacity(body.len());
    let mut exif = None;
    let mut pos = 0;
    let mut extended = false;
    while pos < body.len() {
        let fourcc = slice(body, pos, 4)?;
        let len = le32(body, pos + 4)? as usize;
        let padded = len.checked_add(len & 1).ok_or(Malformed)?;
        let payload = slice(body, pos + 8, len)?;
        let whole = slice(body, pos, padded.checked_add(8).ok_or(Malformed)?)?;
        let first = pos == 0;
        pos += whole.len();
        match fourcc {
            b"VP8 " | b"VP8L" if first => {
                chunks.extend_from_slice(whole);
                break;
            }
            b"VP8X" if first => {
                if len < 10 {
                    return Err(Malformed);
                }
                extended = true;
                let mut header = whole.to_vec();
                header[8] &= !(VP8X_EXIF | VP8X_XMP);
                chunks.extend_from_slice(&header);
            }
            _ if first => return Err(Malformed),
            b"ICCP" | b"ANIM" | b"ANMF" | b"ALPH" | b"VP8 " | b"VP8L" if extended => {
                chunks.extend_from_slice(whole);
            }
            b"EXIF" if exif.is_none() => {
                exif = Some(
                    payload
                        .strip_prefix(EXIF_PREFIX)
                        .unwrap_or(payload)
                        .to_vec(),
                );
            }
            _ => {}
        }
    }
    if chunks.is_empty() {
        return Err(Malformed);
    }

    let riff_len = u32::try_from(chunks.len() + 4).map_err(|_| Malformed)?;
    let mut out = Vec::with_capacity(chunks.len() + 12);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&riff_len.to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&chunks);
    Ok(Stripped { clean: out, exif })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(m: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        push_segment(&mut v, m, payload);
        v
    }

    /// A JPEG skeleton: the walker does not decode, so the tables may be empty.
    fn jpeg(extra: &[Vec<u8>], scan: &[u8], tail: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        for s in extra {
            v.extend_from_slice(s);
        }
        v.extend(segment(0xDB, &[0; 65]));
        v.extend(segment(0xC0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]));
        v.extend(segment(0xDA, &[1, 1, 0, 0, 63, 0]));
        v.extend_from_slice(scan);
        v.extend_from_slice(&[0xFF, 0xD9]);
        v.extend_from_slice(tail);
        v
    }

    #[test]
    fn jpeg_metadata_segments_go_and_image_segments_stay() {
        let exif = segment(0xE1, b"Exif\0\0MM\0*\0\0\0\x08");
        let xmp = segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>");
        let icc = segment(0xE2, b"ICC_PROFILE\0\x01\x01profile");
        let mpf = segment(0xE2, b"MPF\0data");
        let iptc = segment(0xED, b"Photoshop 3.0\08BIM");
        let comment = segment(0xFE, b"secret comment");
        let adobe = segment(0xEE, b"Adobe\0\x64\0\0\0\0\x01");
        let mut jfif = b"JFIF\0\x01\x02\x01\0\x48\0\x48\x01\x01".to_vec();
        jfif.extend_from_slice(&[9, 9, 9]);
        let jfif = segment(0xE0, &jfif);
        let scan = [
            0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xFF, 0xD1, 0x78,
        ];
        let file = jpeg(
            &[
                jfif,
                exif,
                xmp,
                icc.clone(),
                mpf,
                iptc,
                comment,
                adobe.clone(),
            ],
            &scan,
            b"trailing data after the end",
        );
        let Ok(stripped) = strip_jpeg(&file) else {
            panic!("the skeleton walks")
        };
        let expected = jpeg(
            &[
                segment(0xE0, b"JFIF\0\x01\x02\x01\0\x48\0\x48\0\0"),
                icc,
                adobe,
            ],
            &scan,
            b"",
        );
        assert_eq!(stripped.clean, expected);
        assert_eq!(stripped.exif.as_deref(), Some(&b"MM\0*\0\0\0\x08"[..]));
    }

    #[test]
    fn truncated_or_incomplete_jpegs_are_malformed() {
        let good = jpeg(&[], &[1, 2, 3], b"");
        assert!(strip_jpeg(&good).is_ok());
        for cut in 0..good.len() {
            assert_eq!(
                strip_jpeg(&good[..cut]).err(),
                Some(Malformed),
                "cut at {cut}"
            );
        }
        // No frame, or no scan, before the end.
        assert!(strip_jpeg(&[0xFF, 0xD8, 0xFF, 0xD9]).is_err());
        // A segment length smaller than its own length field.
        assert!(strip_jpeg(&[0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01, 0xFF, 0xD9]).is_err());
        // Garbage after the start marker.
        assert!(strip_jpeg(b"\xFF\xD8\xFF\xE0 this is not a jpeg at all").is_err());
    }

    #[test]
    fn stray_bytes_between_jpeg_segments_are_passed_over() {
        let clean = jpeg(&[], &[1, 2, 3], b"");
        let mut stray = clean[..2].to_vec();
        stray.extend_from_slice(b"\0\0stray");
        stray.extend_from_slice(&clean[2..]);
        let Ok(stripped) = strip_jpeg(&stray) else {
            panic!("stray bytes are tolerated")
        };
        assert_eq!(stripped.clean, clean);
    }

    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut v = (data.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(data);
        v.extend_from_slice(&[0, 0, 0, 0]);
        v
    }

    #[test]
    fn png_keeps_only_the_listed_chunks() {
        let mut file = b"\x89PNG\r\n\x1a\n".to_vec();
        let ihdr = png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
        let iccp = png_chunk(b"iCCP", b"icc\0\0zz");
        let idat = png_chunk(b"IDAT", &[1, 2, 3]);
        let iend = png_chunk(b"IEND", &[]);
        file.extend(&ihdr);
        file.extend(png_chunk(b"tEXt", b"Author\0someone"));
        file.extend(png_chunk(b"eXIf", b"MM\0*\0\0\0\x08"));
        file.extend(&iccp);
        file.extend(png_chunk(b"zTXt", b"k\0\0zz"));
        file.extend(&idat);
        file.extend(png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<x/>"));
        file.extend(png_chunk(b"tIME", &[7, 0xE8, 1, 1, 0, 0, 0]));
        file.extend(&iend);
        file.extend_from_slice(b"after the end");
        let Ok(stripped) = strip_png(&file) else {
            panic!("the chunks walk")
        };
        let mut expected = b"\x89PNG\r\n\x1a\n".to_vec();
        for c in [ihdr, iccp, idat, iend] {
            expected.extend(c);
        }
        assert_eq!(stripped.clean, expected);
        assert_eq!(stripped.exif.as_deref(), Some(&b"MM\0*\0\0\0\x08"[..]));
        for cut in 8..expected.len() {
            assert!(strip_png(&expected[..cut]).is_err(), "cut at {cut}");
        }
        // An unknown critical chunk.
        let mut odd = b"\x89PNG\r\n\x1a\n".to_vec();
        odd.extend(png_chunk(b"IHDR", &[0; 13]));
        odd.extend(png_chunk(b"ABCD", &[]));
        odd.extend(png_chunk(b"IEND", &[]));
        assert!(strip_png(&odd).is_err());
    }

    fn riff_chunk(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut v = fourcc.to_vec();
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        if data.len() % 2 == 1 {
            v.push(0);
        }
        v
    }

    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut v = b"RIFF".to_vec();
        v.extend_from_slice(&((body.len() + 4) as u32).to_le_bytes());
        v.extend_from_slice(b"WEBP");
        v.extend(body);
        v
    }

    #[test]
    fn webp_drops_exif_and_xmp_and_clears_their_flags() {
        let vp8x = riff_chunk(b"VP8X", &[0x20 | 0x08 | 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let iccp = riff_chunk(b"ICCP", b"profile");
        let vp8l = riff_chunk(b"VP8L", &[0x2F, 1, 2, 3, 4]);
        let exif = riff_chunk(b"EXIF", b"Exif\0\0MM\0*\0\0\0\x08");
        let xmp = riff_chunk(b"XMP ", b"<x:xmpmeta/>");
        let file = riff(&[vp8x, iccp.clone(), vp8l.clone(), exif, xmp]);
        let Ok(stripped) = strip_webp(&file) else {
            panic!("the chunks walk")
        };
        let cleared = riff_chunk(b"VP8X", &[0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(stripped.clean, riff(&[cleared, iccp, vp8l.clone()]));
        assert_eq!(stripped.exif.as_deref(), Some(&b"MM\0*\0\0\0\x08"[..]));

        // A simple file keeps its one image chunk, and the bytes past the RIFF size go.
        let mut simple = riff(&[vp8l.clone(), riff_chunk(b"JUNK", b"x")]);
        simple.extend_from_slice(b"appended");
        let Ok(stripped) = strip_webp(&simple) else {
            panic!("the chunks walk")
        };
        assert_eq!(stripped.clean, riff(&[vp8l]));

        for cut in 0..file.len() {
            assert!(strip_webp(&file[..cut]).is_err(), "cut at {cut}");
        }
        assert!(strip_webp(&riff(&[riff_chunk(b"JUNK", b"x")])).is_err());
        assert!(strip_webp(&riff(&[])).is_err());
    }
}
