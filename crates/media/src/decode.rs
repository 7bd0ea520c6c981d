//! Decoding under limits, and the two encodings this crate makes: the re-encoded stored copy of
//! a photo whose orientation had to be applied, and the thumbnail.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageError, ImageReader};

use crate::{Kind, Limits, MediaError};

/// The quality of a stored copy that had to be re-encoded as JPEG.
const STORED_JPEG_QUALITY: u8 = 90;
/// The quality of thumbnails.
const THUMBNAIL_JPEG_QUALITY: u8 = 80;

pub(crate) struct Decoded {
    pub image: DynamicImage,
    pub icc: Option<Vec<u8>>,
}

/// Decodes all of `bytes` as `kind`. The dimensions are read from the header and checked against
/// `limits` before the pixel buffer is allocated; the decoder itself is held to the same width,
/// height and memory limits.
pub(crate) fn decode(kind: Kind, bytes: &[u8], limits: &Limits) -> Result<Decoded, MediaError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), kind.format());
    // Reading the header needs no dimension limit yet: the dimensions are checked just below,
    // with an error that names them.
    let mut header_limits = image::Limits::default();
    header_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(header_limits);
    let mut decoder = reader.into_decoder().map_err(|_| MediaError::Corrupt)?;

    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(MediaError::Corrupt);
    }
    if width > limits.max_width || height > limits.max_height {
        return Err(MediaError::DimensionsTooLarge {
            width,
            height,
            max_width: limits.max_width,
            max_height: limits.max_height,
        });
    }
    let too_many_pixels = MediaError::TooManyPixels {
        width,
        height,
        max_pixels: limits.max_pixels,
    };
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(too_many_pixels);
    }

    let icc = decoder.icc_profile().ok().flatten();

    let mut decode_limits = image::Limits::default();
    decode_limits.max_image_width = Some(limits.max_width);
    decode_limits.max_image_height = Some(limits.max_height);
    decode_limits.max_alloc = Some(limits.max_alloc);
    // The output buffer counts against the memory limit, as the rest of the decoder's needs do.
    decode_limits
        .reserve(decoder.total_bytes())
        .map_err(|_| too_many_pixels.clone())?;
    decoder
        .set_limits(decode_limits)
        .map_err(|e| decode_error(e, &too_many_pixels))?;
    let image =
        DynamicImage::from_decoder(decoder).map_err(|e| decode_error(e, &too_many_pixels))?;
    Ok(Decoded { image, icc })
}

/// A limit reached while decoding means the image needs too much memory for its size: that is
/// told as too many pixels. Any other failure (bad data, a truncated stream, a feature of the
/// format the decoder does not handle) as a corrupt image.
fn decode_error(e: ImageError, too_many_pixels: &MediaError) -> MediaError {
    match e {
        ImageError::Limits(_) => too_many_pixels.clone(),
        _ => MediaError::Corrupt,
    }
}

/// The stored copy of a photo whose pixels were turned: PNG when the source was PNG or the
/// image has transparent pixels, JPEG at quality 90 otherwise. The ICC profile goes along when
/// its colour space fits the new file's.
pub(crate) fn reencode(
    image: &DynamicImage,
    source: Kind,
    icc: Option<&[u8]>,
) -> Result<(Vec<u8>, Kind), MediaError> {
    let mut out = Vec::new();
    let grey = !image.color().has_color();
    let icc = icc.filter(|profile| fits(profile, grey));
    if source == Kind::Png || has_transparency(image) {
        let mut encoder = PngEncoder::new(&mut out);
        if let Some(profile) = icc {
            // Not every encoder takes a profile; the image is still right without it.
            let _ = encoder.set_icc_profile(profile.to_vec());
        }
        image
            .write_with_encoder(encoder)
            .map_err(|_| MediaError::Corrupt)?;
        Ok((out, Kind::Png))
    } else {
        // JPEG takes 8-bit grey or RGB; anything else is converted (alpha, all opaque, goes).
        let converted = match image {
            DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => None,
            _ if grey => Some(DynamicImage::ImageLuma8(image.to_luma8())),
            _ => Some(DynamicImage::ImageRgb8(image.to_rgb8())),
        };
        write_jpeg(
            converted.as_ref().unwrap_or(image),
            STORED_JPEG_QUALITY,
            icc,
            &mut out,
        )?;
        Ok((out, Kind::Jpeg))
    }
}

/// A JPEG no larger than `max_side` on its longest side; never enlarged; transparent parts on
/// white.
pub(crate) fn thumbnail_jpeg(
    image: &DynamicImage,
    max_side: u32,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>, MediaError> {
    let (width, height) = (image.width(), image.height());
    let longest = width.max(height);
    let small = if longest > max_side {
        let scale = |side: u32| -> u32 {
            let scaled = u64::from(side) * u64::from(max_side) / u64::from(longest);
            u32::try_from(scaled).unwrap_or(max_side).max(1)
        };
        image.thumbnail_exact(scale(width), scale(height))
    } else {
        image.clone()
    };
    let rgb = on_white(&small);
    let mut out = Vec::new();
    let icc = icc.filter(|profile| fits(profile, false));
    write_jpeg(&rgb, THUMBNAIL_JPEG_QUALITY, icc, &mut out)?;
    Ok(out)
}

fn write_jpeg(
    image: &DynamicImage,
    quality: u8,
    icc: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    let mut encoder = JpegEncoder::new_with_quality(out, quality);
    if let Some(profile) = icc {
        // Not every encoder takes a profile; the image is still right without it.
        let _ = encoder.set_icc_profile(profile.to_vec());
    }
    image
        .write_with_encoder(encoder)
        .map_err(|_| MediaError::Corrupt)
}

/// Whether an ICC profile describes the colours of an RGB image (or a grey one): a CMYK JPEG is
/// decoded to RGB, and its CMYK profile would then be wrong.
fn fits(profile: &[u8], grey: bool) -> bool {
    let space = profile.get(16..20);
    let signature = profile.get(36..40);
    signature == Some(&b"acsp"[..]) && space == Some(if grey { &b"GRAY"[..] } else { &b"RGB "[..] })
}

fn has_transparency(image: &DynamicImage) -> bool {
    match image {
        DynamicImage::ImageLumaA8(b) => b.pixels().any(|p| p.0[1] < u8::MAX),
        DynamicImage::ImageRgba8(b) => b.pixels().any(|p| p.0[3] < u8::MAX),
        DynamicImage::ImageLumaA16(b) => b.pixels().any(|p| p.0[1] < u16::MAX),
        DynamicImage::ImageRgba16(b) => b.pixels().any(|p| p.0[3] < u16::MAX),
        DynamicImage::ImageRgba32F(b) => b.pixels().any(|p| p.0[3] < 1.0),
        _ => false,
    }
}

/// The image as 8-bit RGB, with any transparency laid over white.
fn on_white(image: &DynamicImage) -> DynamicImage {
    if !has_transparency(image) {
        return DynamicImage::ImageRgb8(image.to_rgb8());
    }
    let rgba = image.to_rgba8();
    let rgb = image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over = |c: u8| -> u8 {
            let (c, a) = (u16::from(c), u16::from(a));
            // c·a + 255·(255 − a), over 255, rounded: at most 255.
            u8::try_from((c * a + 255 * (255 - a) + 127) / 255).unwrap_or(u8::MAX)
        };
        image::Rgb([over(r), over(g), over(b)])
    });
    DynamicImage::ImageRgb8(rgb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icc_profiles_must_match_the_colours() {
        let mut rgb = vec![0u8; 128];
        rgb[16..20].copy_from_slice(b"RGB ");
        rgb[36..40].copy_from_slice(b"acsp");
        let mut cmyk = rgb.clone();
        cmyk[16..20].copy_from_slice(b"CMYK");
        let mut gray = rgb.clone();
        gray[16..20].copy_from_slice(b"GRAY");
        assert!(fits(&rgb, false));
        assert!(!fits(&rgb, true));
        assert!(!fits(&cmyk, false));
        assert!(fits(&gray, true));
        assert!(!fits(&rgb[..30], false));
    }

    #[test]
    fn transparency_is_laid_over_white() {
        let mut img = image::RgbaImage::new(2, 1);
        img.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
        img.put_pixel(1, 0, image::Rgba([10, 20, 30, 255]));
        let flat = on_white(&DynamicImage::ImageRgba8(img)).to_rgb8();
        assert_eq!(flat.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(flat.get_pixel(1, 0).0, [10, 20, 30]);
    }
}
