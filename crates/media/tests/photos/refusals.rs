//! What is refused, and with which error.

use image::{DynamicImage, GrayImage};
use motcua_media::{Limits, MediaError, Unsupported};

use crate::fixtures::*;

#[test]
fn empty_input_is_refused() {
    let e = refusal(&[]);
    assert_eq!(e, MediaError::Empty);
    assert_eq!(e.kind(), "empty");
}

#[test]
fn too_large_is_refused_before_anything_is_decoded() {
    // Eleven MiB that are not an image at all: the size is what is reported.
    let e = refusal(&vec![b'x'; 11 * 1024 * 1024]);
    assert_eq!(
        e,
        MediaError::TooLarge {
            max_bytes: 10 * 1024 * 1024
        }
    );
    assert_eq!(e.status(), 413);
    assert_eq!(e.message_en(), "The photo is too large: at most 10 MB.");
    assert_eq!(e.message_vi(), "Ảnh quá lớn: tối đa 10 MB.");

    // A real photo one byte over a smaller limit; at the limit it passes.
    let photo = jpeg(&marked(16, 16), None);
    let limits = Limits {
        max_bytes: photo.len() - 1,
        ..Limits::default()
    };
    assert_eq!(
        refusal_with(&photo, &limits),
        MediaError::TooLarge {
            max_bytes: photo.len() - 1
        }
    );
    let limits = Limits {
        max_bytes: photo.len(),
        ..Limits::default()
    };
    assert!(motcua_media::inspect(&photo, &limits).is_ok());
}

#[test]
fn a_jpeg_header_followed_by_garbage_is_corrupt() {
    let mut fake = vec![0xFF, 0xD8, 0xFF, 0xE0];
    fake.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let e = refusal(&fake);
    assert_eq!(e, MediaError::Corrupt);
    assert_eq!(e.status(), 422);

    // The real headers and tables, then garbage where the pixels should be.
    let real = jpeg(&marked(64, 64), None);
    let Some(sos) = real.windows(2).position(|w| w == [0xFF, 0xDA]) else {
        panic!("no scan")
    };
    let mut garbled = real[..sos + 14].to_vec();
    garbled.extend(std::iter::repeat_n(0xFFu8, 50));
    garbled.extend_from_slice(&[0xFF, 0xC0, 0x00]);
    assert_eq!(refusal(&garbled), MediaError::Corrupt);
}

#[test]
fn truncated_photos_are_corrupt() {
    let image = marked(64, 48);
    let jpeg = jpeg(&image, None);
    let png = png(&image, None);
    let webp = webp(&image);
    for (name, whole) in [("jpeg", &jpeg), ("png", &png), ("webp", &webp)] {
        for fraction in [0.3, 0.6, 0.9, 0.99] {
            let cut = (whole.len() as f64 * fraction) as usize;
            assert_eq!(
                refusal(&whole[..cut]),
                MediaError::Corrupt,
                "{name} cut at {cut} of {}",
                whole.len()
            );
        }
        assert_eq!(
            refusal(&whole[..whole.len() - 1]),
            MediaError::Corrupt,
            "{name}"
        );
    }
}

#[test]
fn a_png_whose_pixel_data_was_damaged_is_corrupt() {
    let mut png = png(&marked(64, 48), None);
    let Some(idat) = png.windows(4).position(|w| w == b"IDAT") else {
        panic!("no IDAT")
    };
    png[idat + 10] ^= 0x55;
    assert_eq!(refusal(&png), MediaError::Corrupt);
}

#[test]
fn text_and_web_pages_are_not_images_whatever_their_name() {
    // What a file called "o-ga.jpg" may really hold.
    for bytes in [
        &b"Kinh gui UBND phuong: o ga tren duong Tran Hung Dao\n"[..],
        b"<!DOCTYPE html>\n<html><head><title>Photo</title></head><body></body></html>",
        b"{\"photo\": \"pothole.jpg\"}",
        b"PK\x03\x04\x14\0\0\0\x08\0",
        &[0u8; 64],
    ] {
        let e = refusal(bytes);
        assert_eq!(e, MediaError::NotAnImage);
        assert_eq!(e.status(), 415);
        assert_eq!(e.kind(), "not_an_image");
    }
}

#[test]
fn other_image_types_are_refused_by_name() {
    let gif = b"GIF89a\x01\0\x01\0\x80\0\0\xff\xff\xff\0\0\0!\xf9\x04\x01\0\0\0\0,\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;";
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\x01\0meta\0\0\0\0";
    let heif = b"\0\0\0\x1cftypmif1\0\0\0\0mif1heicmiaf\0\0\x01\0meta";
    let avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf\0\0\x01\0meta";
    let mp4 = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41\0\0\0\x08free";
    let tiff = b"II*\0\x08\0\0\0\x01\0\0\x01\x03\0\x01\0\0\0\x01\0\0\0\0\0\0\0";
    let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n";
    let svg = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><script>alert(1)</script></svg>";
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&58u32.to_le_bytes());
    bmp.extend_from_slice(&[0; 4]);
    bmp.extend_from_slice(&54u32.to_le_bytes());
    bmp.extend_from_slice(&40u32.to_le_bytes());
    bmp.extend_from_slice(&[0; 36]);
    let cases: [(&[u8], Unsupported); 9] = [
        (gif, Unsupported::Gif),
        (heic, Unsupported::Heic),
        (heif, Unsupported::Heic),
        (avif, Unsupported::Avif),
        (mp4, Unsupported::Video),
        (tiff, Unsupported::Tiff),
        (pdf, Unsupported::Pdf),
        (svg, Unsupported::Svg),
        (&bmp, Unsupported::Bmp),
    ];
    for (bytes, which) in cases {
        let e = refusal(bytes);
        assert_eq!(e, MediaError::Unsupported(which));
        assert_eq!(e.status(), 415);
        assert_eq!(e.kind(), "unsupported_type");
    }
    let heic = refusal(heic);
    assert_eq!(
        heic.message_en(),
        "HEIC photos are not accepted: set the phone's camera to 'Most Compatible' \
         (Settings → Camera → Formats) or send JPEG."
    );
    assert!(
        heic.message_vi()
            .starts_with("Ảnh HEIC không được chấp nhận")
    );
    assert!(
        refusal(gif)
            .message_en()
            .starts_with("GIF images are not accepted")
    );
}

#[test]
fn photos_too_wide_or_with_too_many_pixels_are_refused() {
    // 12,001 pixels wide: one more than allowed, though tiny in bytes.
    let wide = png(&DynamicImage::ImageLuma8(GrayImage::new(12_001, 1)), None);
    let e = refusal(&wide);
    assert_eq!(
        e,
        MediaError::DimensionsTooLarge {
            width: 12_001,
            height: 1,
            max_width: 12_000,
            max_height: 12_000
        }
    );
    assert_eq!(e.status(), 422);
    assert!(e.message_en().contains("12,001 × 1 pixels"));

    let tall = jpeg(&DynamicImage::ImageLuma8(GrayImage::new(8, 12_001)), None);
    assert!(matches!(
        refusal(&tall),
        MediaError::DimensionsTooLarge { height: 12_001, .. }
    ));

    let photo = jpeg(&marked(20, 20), None);
    let limits = Limits {
        max_pixels: 399,
        ..Limits::default()
    };
    let e = refusal_with(&photo, &limits);
    assert_eq!(
        e,
        MediaError::TooManyPixels {
            width: 20,
            height: 20,
            max_pixels: 399
        }
    );
    assert_eq!(e.status(), 422);
    assert_eq!(e.kind(), "too_many_pixels");
    let limits = Limits {
        max_pixels: 400,
        ..Limits::default()
    };
    assert!(motcua_media::inspect(&photo, &limits).is_ok());

    // A decoder that would need more memory than allowed.
    let limits = Limits {
        max_alloc: 1_000,
        ..Limits::default()
    };
    assert!(matches!(
        refusal_with(&photo, &limits),
        MediaError::TooManyPixels { .. }
    ));
}
