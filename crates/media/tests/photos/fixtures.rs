//! Test photos made in memory: images encoded by the `image` crate, and the metadata a phone
//! would add to them (EXIF with a GPS IFD and a thumbnail, XMP, IPTC, comments, PNG text chunks,
//! WebP metadata chunks), written here by hand.

use std::fmt::Display;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{
    DynamicImage, ImageDecoder, ImageEncoder, ImageReader, Rgb, RgbImage, Rgba, RgbaImage,
};
use motcua_media::{Limits, MediaError, Photo};

pub fn ok<T, E: Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

pub fn inspect(bytes: &[u8]) -> Photo {
    ok(motcua_media::inspect(bytes, &Limits::default()))
}

pub fn refusal(bytes: &[u8]) -> MediaError {
    refusal_with(bytes, &Limits::default())
}

pub fn refusal_with(bytes: &[u8], limits: &Limits) -> MediaError {
    match motcua_media::inspect(bytes, limits) {
        Ok(photo) => panic!(
            "accepted as {:?} {}x{}",
            photo.kind, photo.width, photo.height
        ),
        Err(e) => e,
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub const RED: [u8; 3] = [230, 20, 20];
pub const BLUE: [u8; 3] = [20, 20, 230];

/// A `width`×`height` image, blue with its top-left quarter red: which way up it is can be
/// told after any turn or flip.
pub fn marked(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        if x < width / 2 && y < height / 2 {
            Rgb(RED)
        } else {
            Rgb(BLUE)
        }
    }))
}

/// A `width`×`height` image whose left half is fully transparent.
pub fn half_transparent(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(width, height, |x, _| {
        if x < width / 2 {
            Rgba([0, 0, 0, 0])
        } else {
            Rgba([20, 20, 230, 255])
        }
    }))
}

/// Whether the pixel at (x, y) is near `colour` (JPEG moves colours a little).
pub fn near(image: &DynamicImage, x: u32, y: u32, colour: [u8; 3]) -> bool {
    let rgb = image.to_rgb8();
    let p = rgb.get_pixel(x, y).0;
    p.iter()
        .zip(colour)
        .all(|(a, b)| (i16::from(*a) - i16::from(b)).abs() < 40)
}

/// Which corner of a decoded [`marked`] image is red.
pub fn red_corner(bytes: &[u8]) -> &'static str {
    let image = decode(bytes);
    let (w, h) = (image.width(), image.height());
    let corners = [
        ("top-left", w / 8, h / 8),
        ("top-right", w - 1 - w / 8, h / 8),
        ("bottom-left", w / 8, h - 1 - h / 8),
        ("bottom-right", w - 1 - w / 8, h - 1 - h / 8),
    ];
    let red: Vec<&'static str> = corners
        .iter()
        .filter(|(_, x, y)| near(&image, *x, *y, RED))
        .map(|(name, _, _)| *name)
        .collect();
    assert_eq!(red.len(), 1, "exactly one red corner: {red:?}");
    red[0]
}

pub fn decode(bytes: &[u8]) -> DynamicImage {
    ok(ok(ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format()).decode())
}

/// The ICC profile that the `image` crate's decoder finds in `bytes`.
pub fn icc_of(bytes: &[u8]) -> Option<Vec<u8>> {
    let reader = ok(ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format());
    let mut decoder = ok(reader.into_decoder());
    ok(decoder.icc_profile())
}

/// A small but well-formed RGB display profile header (no tags are needed for the tests).
pub fn icc_profile() -> Vec<u8> {
    let mut p = vec![0u8; 132];
    p[0..4].copy_from_slice(&132u32.to_be_bytes());
    p[4..8].copy_from_slice(b"test");
    p[8..12].copy_from_slice(&[4, 0x30, 0, 0]);
    p[12..16].copy_from_slice(b"mntr");
    p[16..20].copy_from_slice(b"RGB ");
    p[20..24].copy_from_slice(b"XYZ ");
    p[36..40].copy_from_slice(b"acsp");
    p
}

pub fn jpeg(image: &DynamicImage, icc: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, 95);
    if let Some(profile) = icc {
        ok(encoder.set_icc_profile(profile));
    }
    ok(image.write_with_encoder(encoder));
    out
}

pub fn png(image: &DynamicImage, icc: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = PngEncoder::new(&mut out);
    if let Some(profile) = icc {
        ok(encoder.set_icc_profile(profile));
    }
    ok(image.write_with_encoder(encoder));
    out
}

/// A simple (one `VP8L` chunk) lossless WebP.
pub fn webp(image: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    ok(image.write_with_encoder(WebPEncoder::new_lossless(&mut out)));
    out
}

// ---------------------------------------------------------------------------------------------
// EXIF

/// A GPS position as a camera writes it: references and degrees, minutes, seconds as rationals.
#[derive(Clone, Copy)]
pub struct Gps {
    pub lat_ref: &'static str,
    pub lat: [(u32, u32); 3],
    pub lon_ref: &'static str,
    pub lon: [(u32, u32); 3],
}

/// 21° 1' 42.5" N, 105° 51' 15.25" E: Hoàn Kiếm, Hà Nội.
pub const HANOI: Gps = Gps {
    lat_ref: "N",
    lat: [(21, 1), (1, 1), (425, 10)],
    lon_ref: "E",
    lon: [(105, 1), (51, 1), (1525, 100)],
};
pub const HANOI_LAT: f64 = 21.0 + 1.0 / 60.0 + 42.5 / 3600.0;
pub const HANOI_LON: f64 = 105.0 + 51.0 / 60.0 + 15.25 / 3600.0;

/// The seconds of [`HANOI`]'s longitude as stored: 8 bytes to look for in a file.
pub fn hanoi_lon_seconds_bytes(little_endian: bool) -> Vec<u8> {
    let (n, d) = HANOI.lon[2];
    if little_endian {
        [n.to_le_bytes(), d.to_le_bytes()].concat()
    } else {
        [n.to_be_bytes(), d.to_be_bytes()].concat()
    }
}

pub const TAKEN: &str = "2024:05:17 08:30:12";
pub const THUMBNAIL_MARK: &[u8] = b"EMBEDDED-THUMBNAIL-PIXELS";

#[derive(Clone, Default)]
pub struct Exif {
    pub little_endian: bool,
    pub orientation: Option<u16>,
    pub gps: Option<Gps>,
    pub taken: Option<&'static str>,
    pub subsec: Option<&'static str>,
    pub thumbnail: Option<Vec<u8>>,
}

enum V {
    Bytes(Vec<u8>),
    Ascii(String),
    Short(u16),
    Long(u32),
    Rationals(Vec<(u32, u32)>),
}

struct Writer {
    le: bool,
}

impl Writer {
    fn u16(&self, v: u16) -> [u8; 2] {
        if self.le {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    }

    fn u32(&self, v: u32) -> [u8; 4] {
        if self.le {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    }

    /// The type, the count and the value's bytes.
    fn encode(&self, v: &V) -> (u16, u32, Vec<u8>) {
        match v {
            V::Bytes(b) => (1, b.len() as u32, b.clone()),
            V::Ascii(s) => {
                let mut b = s.as_bytes().to_vec();
                b.push(0);
                (2, b.len() as u32, b)
            }
            V::Short(n) => (3, 1, self.u16(*n).to_vec()),
            V::Long(n) => (4, 1, self.u32(*n).to_vec()),
            V::Rationals(r) => {
                let mut b = Vec::new();
                for (n, d) in r {
                    b.extend(self.u32(*n));
                    b.extend(self.u32(*d));
                }
                (5, r.len() as u32, b)
            }
        }
    }

    fn ifd_len(&self, entries: &[(u16, V)]) -> usize {
        let data: usize = entries
            .iter()
            .map(|(_, v)| self.encode(v).2.len())
            .filter(|len| *len > 4)
            .map(|len| len + len % 2)
            .sum();
        2 + 12 * entries.len() + 4 + data
    }

    /// The IFD as placed at `at`, its out-of-line values right after it.
    fn ifd(&self, entries: &[(u16, V)], at: usize, next: u32) -> Vec<u8> {
        let mut head = self.u16(entries.len() as u16).to_vec();
        let mut data = Vec::new();
        let data_at = at + 2 + 12 * entries.len() + 4;
        for (tag, v) in entries {
            let (kind, count, bytes) = self.encode(v);
            head.extend(self.u16(*tag));
            head.extend(self.u16(kind));
            head.extend(self.u32(count));
            if bytes.len() <= 4 {
                let mut inline = bytes.clone();
                inline.resize(4, 0);
                head.extend(inline);
            } else {
                head.extend(self.u32((data_at + data.len()) as u32));
                data.extend(&bytes);
                if bytes.len() % 2 == 1 {
                    data.push(0);
                }
            }
        }
        head.extend(self.u32(next));
        head.extend(data);
        head
    }
}

impl Exif {
    /// The TIFF-structured EXIF block: IFD0, the Exif IFD, the GPS IFD, IFD1 and its thumbnail.
    pub fn tiff(&self) -> Vec<u8> {
        let w = Writer {
            le: self.little_endian,
        };
        let exif_ifd: Vec<(u16, V)> = self
            .taken
            .map(|t| {
                let mut e = vec![(0x9003, V::Ascii(t.to_string()))];
                if let Some(s) = self.subsec {
                    e.push((0x9291, V::Ascii(s.to_string())));
                }
                e
            })
            .unwrap_or_default();
        let gps_ifd: Vec<(u16, V)> = self
            .gps
            .map(|g| {
                vec![
                    (0x0000, V::Bytes(vec![2, 3, 0, 0])),
                    (0x0001, V::Ascii(g.lat_ref.to_string())),
                    (0x0002, V::Rationals(g.lat.to_vec())),
                    (0x0003, V::Ascii(g.lon_ref.to_string())),
                    (0x0004, V::Rationals(g.lon.to_vec())),
                ]
            })
            .unwrap_or_default();
        let thumb = self.thumbnail.clone().unwrap_or_default();

        // Sizes first (pointers are inline LONGs, so they do not change them), then offsets.
        let ifd0_shape = self.ifd0(0, 0);
        let ifd1_shape = Self::ifd1(0, 0);
        let ifd0_at = 8;
        let exif_at = ifd0_at + w.ifd_len(&ifd0_shape);
        let gps_at = exif_at
            + if exif_ifd.is_empty() {
                0
            } else {
                w.ifd_len(&exif_ifd)
            };
        let ifd1_at = gps_at
            + if gps_ifd.is_empty() {
                0
            } else {
                w.ifd_len(&gps_ifd)
            };
        let thumb_at = ifd1_at + w.ifd_len(&ifd1_shape);

        let mut out = Vec::new();
        out.extend(if w.le { *b"II*\0" } else { *b"MM\0*" });
        out.extend(w.u32(ifd0_at as u32));
        let next = if thumb.is_empty() { 0 } else { ifd1_at as u32 };
        out.extend(w.ifd(&self.ifd0(exif_at as u32, gps_at as u32), ifd0_at, next));
        if !exif_ifd.is_empty() {
            out.extend(w.ifd(&exif_ifd, exif_at, 0));
        }
        if !gps_ifd.is_empty() {
            out.extend(w.ifd(&gps_ifd, gps_at, 0));
        }
        if !thumb.is_empty() {
            let ifd1 = Self::ifd1(thumb_at as u32, thumb.len() as u32);
            out.extend(w.ifd(&ifd1, ifd1_at, 0));
            out.extend(&thumb);
        }
        out
    }

    fn ifd0(&self, exif_at: u32, gps_at: u32) -> Vec<(u16, V)> {
        let mut e = Vec::new();
        if let Some(o) = self.orientation {
            e.push((0x0112, V::Short(o)));
        }
        if self.taken.is_some() {
            e.push((0x8769, V::Long(exif_at)));
        }
        if self.gps.is_some() {
            e.push((0x8825, V::Long(gps_at)));
        }
        e
    }

    fn ifd1(thumb_at: u32, thumb_len: u32) -> Vec<(u16, V)> {
        vec![
            (0x0103, V::Short(6)),
            (0x0201, V::Long(thumb_at)),
            (0x0202, V::Long(thumb_len)),
        ]
    }
}

/// A phone's EXIF: the Hà Nội position, the date, and a thumbnail.
pub fn phone_exif() -> Exif {
    let mut thumbnail = vec![0xFF, 0xD8];
    thumbnail.extend_from_slice(THUMBNAIL_MARK);
    thumbnail.extend_from_slice(&[0xFF, 0xD9]);
    Exif {
        gps: Some(HANOI),
        taken: Some(TAKEN),
        thumbnail: Some(thumbnail),
        ..Exif::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Putting metadata into files

pub fn jpeg_segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0xFF, marker];
    v.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

pub fn exif_segment(exif: &Exif) -> Vec<u8> {
    jpeg_segment(0xE1, &[b"Exif\0\0".as_slice(), &exif.tiff()].concat())
}

pub const XMP: &[u8] = b"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF \
    xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description \
    xmlns:photoshop=\"http://ns.adobe.com/photoshop/1.0/\" photoshop:City=\"Ha Noi\"/>\
    </rdf:RDF></x:xmpmeta>";

pub fn xmp_segment() -> Vec<u8> {
    jpeg_segment(
        0xE1,
        &[b"http://ns.adobe.com/xap/1.0/\0".as_slice(), XMP].concat(),
    )
}

pub const IPTC_MARK: &[u8] = b"IPTC-BYLINE-NGUYEN-VAN-A";

pub fn iptc_segment() -> Vec<u8> {
    let mut payload = b"Photoshop 3.0\08BIM\x04\x04\0\0".to_vec();
    payload.extend_from_slice(&(IPTC_MARK.len() as u32 + 5).to_be_bytes());
    payload.extend_from_slice(&[0x1C, 0x02, 0x50]);
    payload.extend_from_slice(&(IPTC_MARK.len() as u16).to_be_bytes());
    payload.extend_from_slice(IPTC_MARK);
    jpeg_segment(0xED, &payload)
}

pub const COMMENT: &[u8] = b"taken by the phone of Tran Thi B";

/// `jpeg` with `segments` put right after its start marker.
pub fn with_segments(jpeg: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
    let mut v = jpeg[..2].to_vec();
    for s in segments {
        v.extend_from_slice(s);
    }
    v.extend_from_slice(&jpeg[2..]);
    v
}

pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(data);
    v.extend_from_slice(&crc32(&[kind.as_slice(), data].concat()).to_be_bytes());
    v
}

/// `png` with `chunks` put right after its `IHDR` chunk.
pub fn with_chunks(png: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    let after_ihdr = 8 + 12 + 13;
    let mut v = png[..after_ihdr].to_vec();
    for c in chunks {
        v.extend_from_slice(c);
    }
    v.extend_from_slice(&png[after_ihdr..]);
    v
}

pub fn riff_chunk(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = fourcc.to_vec();
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    if data.len() % 2 == 1 {
        v.push(0);
    }
    v
}

pub const VP8X_ICC: u8 = 0x20;
pub const VP8X_ALPHA: u8 = 0x10;
pub const VP8X_EXIF: u8 = 0x08;
pub const VP8X_XMP: u8 = 0x04;

/// An extended WebP made from a simple one: `VP8X`, then `ICCP` if given, the image chunk, then
/// `EXIF` and `XMP ` if given, with the matching flags set.
pub fn extended_webp(
    simple: &[u8],
    width: u32,
    height: u32,
    icc: Option<&[u8]>,
    exif: Option<&Exif>,
    xmp: bool,
) -> Vec<u8> {
    let image_chunk = &simple[12..];
    let mut flags = 0;
    let mut body = Vec::new();
    if let Some(profile) = icc {
        flags |= VP8X_ICC;
        body.extend(riff_chunk(b"ICCP", profile));
    }
    if &image_chunk[..4] == b"VP8L" {
        // The alpha-is-used bit of the lossless header.
        if image_chunk.len() > 12 && image_chunk[12] & 0x10 != 0 {
            flags |= VP8X_ALPHA;
        }
    }
    body.extend_from_slice(image_chunk);
    if let Some(e) = exif {
        flags |= VP8X_EXIF;
        body.extend(riff_chunk(b"EXIF", &e.tiff()));
    }
    if xmp {
        flags |= VP8X_XMP;
        body.extend(riff_chunk(b"XMP ", XMP));
    }
    let mut vp8x = vec![flags, 0, 0, 0];
    vp8x.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    let mut v = b"RIFF".to_vec();
    let chunks = [riff_chunk(b"VP8X", &vp8x), body].concat();
    v.extend_from_slice(&((chunks.len() + 4) as u32).to_le_bytes());
    v.extend_from_slice(b"WEBP");
    v.extend(chunks);
    v
}
