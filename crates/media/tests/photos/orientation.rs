//! A photo stored sideways with an EXIF orientation is turned, so that it still shows the right
//! way up once the EXIF is gone.

use motcua_media::Kind;

use crate::fixtures::*;

fn oriented(orientation: u16) -> Exif {
    Exif {
        orientation: Some(orientation),
        ..phone_exif()
    }
}

fn jpeg_oriented(orientation: u16) -> Vec<u8> {
    with_segments(
        &jpeg(&marked(64, 32), Some(icc_profile())),
        &[exif_segment(&oriented(orientation))],
    )
}

#[test]
fn orientation_6_turns_the_photo_a_quarter_clockwise() {
    let photo = inspect(&jpeg_oriented(6));
    // Stored 64 wide and 32 high; shown 32 wide and 64 high.
    assert_eq!((photo.width, photo.height), (32, 64));
    assert_eq!(photo.kind, Kind::Jpeg);
    let decoded = decode(&photo.clean);
    assert_eq!((decoded.width(), decoded.height()), (32, 64));
    // The stored top-left corner is shown at the top right.
    assert_eq!(red_corner(&photo.clean), "top-right");
    // No EXIF, so nothing turns it a second time.
    assert!(!contains(&photo.clean, b"Exif\0\0"));
    assert!(!contains(&photo.clean, TAKEN.as_bytes()));
    let again = inspect(&photo.clean);
    assert_eq!((again.width, again.height), (32, 64));
    assert_eq!(again.location, None);
    // The facts were read all the same, and the colour profile went along.
    assert!(photo.location.is_some() && photo.taken_at.is_some());
    assert_eq!(icc_of(&photo.clean), Some(icc_profile()));
}

#[test]
fn every_orientation_puts_the_corner_where_the_camera_meant() {
    let cases = [
        (1, "top-left", (64, 32)),
        (2, "top-right", (64, 32)),
        (3, "bottom-right", (64, 32)),
        (4, "bottom-left", (64, 32)),
        (5, "top-left", (32, 64)),
        (6, "top-right", (32, 64)),
        (7, "bottom-right", (32, 64)),
        (8, "bottom-left", (32, 64)),
    ];
    for (orientation, corner, size) in cases {
        let photo = inspect(&jpeg_oriented(orientation));
        assert_eq!(
            (photo.width, photo.height),
            size,
            "orientation {orientation}"
        );
        assert_eq!(
            red_corner(&photo.clean),
            corner,
            "orientation {orientation}"
        );
        assert!(!contains(&photo.clean, b"Exif\0\0"));
    }
}

#[test]
fn an_unknown_orientation_is_taken_as_normal() {
    let bytes = jpeg_oriented(9);
    let plain = jpeg(&marked(64, 32), Some(icc_profile()));
    let photo = inspect(&bytes);
    assert_eq!((photo.width, photo.height), (64, 32));
    assert_eq!(photo.clean, plain, "not re-encoded");
}

#[test]
fn a_turned_png_stays_png_and_a_turned_webp_becomes_jpeg() {
    let png = with_chunks(
        &png(&marked(64, 32), None),
        &[png_chunk(b"eXIf", &oriented(8).tiff())],
    );
    let photo = inspect(&png);
    assert_eq!(photo.kind, Kind::Png);
    assert_eq!((photo.width, photo.height), (32, 64));
    assert_eq!(red_corner(&photo.clean), "bottom-left");
    assert!(!contains(&photo.clean, b"eXIf"));

    let webp = extended_webp(
        &webp(&marked(64, 32)),
        64,
        32,
        None,
        Some(&oriented(6)),
        false,
    );
    let photo = inspect(&webp);
    assert_eq!(photo.kind, Kind::Jpeg);
    assert!(photo.clean.starts_with(&[0xFF, 0xD8, 0xFF]));
    assert_eq!((photo.width, photo.height), (32, 64));
    assert_eq!(red_corner(&photo.clean), "top-right");
}

#[test]
fn a_turned_photo_with_transparency_becomes_png() {
    let image = half_transparent(64, 32);
    let simple = webp(&image);
    let webp = extended_webp(&simple, 64, 32, None, Some(&oriented(3)), false);
    let photo = inspect(&webp);
    assert_eq!(photo.kind, Kind::Png);
    assert_eq!((photo.width, photo.height), (64, 32));
    let decoded = decode(&photo.clean).to_rgba8();
    // Turned half way: the transparent half is now on the right.
    assert_eq!(decoded.get_pixel(60, 16).0[3], 0);
    assert_eq!(decoded.get_pixel(4, 16).0[3], 255);
}
