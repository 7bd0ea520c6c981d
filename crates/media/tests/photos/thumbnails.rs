//! Thumbnails for lists on phones.

use image::ImageFormat;
use motcua_media::{MediaError, thumbnail};

use crate::fixtures::*;

fn size_of_thumbnail(bytes: &[u8], max_side: u32) -> (u32, u32) {
    let thumb = ok(thumbnail(bytes, max_side));
    assert_eq!(
        ok(image::guess_format(&thumb)),
        ImageFormat::Jpeg,
        "thumbnails are JPEG"
    );
    let image = decode(&thumb);
    (image.width(), image.height())
}

#[test]
fn the_longest_side_is_brought_to_the_limit_keeping_the_shape() {
    let landscape = jpeg(&marked(400, 200), None);
    assert_eq!(size_of_thumbnail(&landscape, 100), (100, 50));
    let portrait = png(&marked(200, 400), None);
    assert_eq!(size_of_thumbnail(&portrait, 64), (32, 64));
    let square = webp(&marked(300, 300));
    assert_eq!(size_of_thumbnail(&square, 120), (120, 120));
    // A very thin image keeps at least one pixel across.
    let thin = png(&marked(1000, 2), None);
    assert_eq!(size_of_thumbnail(&thin, 10), (10, 1));
}

#[test]
fn small_photos_are_never_enlarged() {
    let small = jpeg(&marked(50, 30), None);
    assert_eq!(size_of_thumbnail(&small, 100), (50, 30));
    assert_eq!(size_of_thumbnail(&small, 50), (50, 30));
}

#[test]
fn the_thumbnail_shows_the_stored_copy_the_right_way_up() {
    let exif = Exif {
        orientation: Some(6),
        ..phone_exif()
    };
    let upload = with_segments(&jpeg(&marked(400, 200), None), &[exif_segment(&exif)]);
    let photo = inspect(&upload);
    let thumb = ok(thumbnail(&photo.clean, 100));
    assert_eq!(size_of_thumbnail(&photo.clean, 100), (50, 100));
    assert_eq!(red_corner(&thumb), "top-right");
    assert!(!contains(&thumb, b"Exif\0\0"));
    // The upload itself gives the same picture.
    assert_eq!(size_of_thumbnail(&upload, 100), (50, 100));
}

#[test]
fn transparency_becomes_white() {
    let thumb = ok(thumbnail(&png(&half_transparent(200, 100), None), 100));
    let image = decode(&thumb);
    assert_eq!((image.width(), image.height()), (100, 50));
    assert!(near(&image, 10, 25, [255, 255, 255]));
    assert!(near(&image, 90, 25, [20, 20, 230]));
}

#[test]
fn what_is_not_a_photo_gets_no_thumbnail() {
    assert_eq!(thumbnail(b"", 100), Err(MediaError::Empty));
    assert_eq!(thumbnail(b"hello", 100), Err(MediaError::NotAnImage));
    let jpeg = jpeg(&marked(64, 64), None);
    assert_eq!(
        thumbnail(&jpeg[..jpeg.len() / 2], 100),
        Err(MediaError::Corrupt)
    );
}
